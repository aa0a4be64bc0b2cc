//! The `expr` target: every expression parser and legacy translator,
//! called directly, and every tree that parses applied to generated items.
//!
//! Each case generates one text (shaped after one language, then damaged)
//! and feeds it to *all* the parsers, because a text shaped for one
//! language is exactly the odd input for another. What parses is then
//! used: conditions are evaluated, updates applied to an item and to no
//! item, projections cut items, key conditions become step 3 key ranges,
//! and every tree is printed and parsed again, which must give the same
//! tree (the printer is what error messages and logs rely on).

use std::collections::BTreeMap;

use serde_json::Value as Json;
use step01_kv::key::{KeyAttribute, KeySchema, KeyType};
use step01_kv::value::Item;
use step03_partitioning::layout::query_range;
use step05_api::expr::parser::EXPRESSION_BYTES_MAX;
use step05_api::expr::{ExpressionContext, ExpressionKind, legacy, project};

use crate::legacy as legacy_json;
use crate::rng::Rng;
use crate::text::{self, Expression, Language};
use crate::values::{self, KeyShape};

/// Key schemas the key-condition parser is checked against.
const SHAPES: [KeyShape; 3] = [
    KeyShape {
        hash: ("pk", "S"),
        range: None,
    },
    KeyShape {
        hash: ("pk", "S"),
        range: Some(("sk", "N")),
    },
    KeyShape {
        hash: ("pk", "B"),
        range: Some(("sk", "S")),
    },
];

/// One generated case: everything needed to print it for a human.
#[derive(Debug)]
pub struct ExprCase {
    pub language: Language,
    pub expression: Expression,
    pub shape: KeyShape,
    pub legacy: LegacyInput,
    pub items: Vec<Item>,
}

/// The legacy parameters of a case.
#[derive(Debug)]
pub struct LegacyInput {
    pub expected: Json,
    pub filter: Json,
    pub key_conditions: Json,
    pub attributes_to_get: Json,
    pub attribute_updates: Json,
    pub conditional_operator: Option<Json>,
}

impl ExprCase {
    /// What a finding prints: the inputs, without the items (they follow
    /// from the seed and are long).
    pub fn describe(&self) -> String {
        let json = |value: &Option<Json>| {
            value
                .as_ref()
                .map_or_else(|| "absent".to_string(), Json::to_string)
        };
        format!(
            "language: {:?}\ntext: {:?}\nExpressionAttributeNames: {}\nExpressionAttributeValues: {}\nkey schema: {:?}\nExpected: {}\nFilter: {}\nKeyConditions: {}\nAttributesToGet: {}\nAttributeUpdates: {}\nConditionalOperator: {}",
            self.language,
            self.expression.text,
            json(&self.expression.names),
            json(&self.expression.values),
            self.shape,
            self.legacy.expected,
            self.legacy.filter,
            self.legacy.key_conditions,
            self.legacy.attributes_to_get,
            self.legacy.attribute_updates,
            json(&self.legacy.conditional_operator),
        )
    }
}

pub fn generate(seed: u64) -> ExprCase {
    let mut rng = Rng::new(seed);
    let language = *rng.pick(&[
        Language::Condition,
        Language::Update,
        Language::Projection,
        Language::KeyCondition,
    ]);
    let expression = text::expression(&mut rng, language);
    let shape = *rng.pick(&SHAPES);
    let legacy = LegacyInput {
        expected: legacy_json::expected(&mut rng),
        filter: legacy_json::filter(&mut rng),
        key_conditions: legacy_json::key_conditions(&mut rng),
        attributes_to_get: legacy_json::attributes_to_get(&mut rng),
        attribute_updates: legacy_json::attribute_updates(&mut rng),
        conditional_operator: legacy_json::conditional_operator(&mut rng),
    };
    let items = (0..3)
        .map(|_| values::stored_item(&mut rng, shape))
        .collect();
    ExprCase {
        language,
        expression,
        shape,
        legacy,
        items,
    }
}

fn schema(shape: KeyShape) -> KeySchema {
    let attribute = |(name, key_type): (&str, &str)| KeyAttribute {
        name: name.to_string(),
        key_type: match key_type {
            "N" => KeyType::N,
            "B" => KeyType::B,
            _ => KeyType::S,
        },
    };
    KeySchema {
        partition: attribute(shape.hash),
        sort: shape.range.map(attribute),
    }
}

/// The key of an item (its key attributes), for updates.
fn key_of(item: &Item, schema: &KeySchema) -> Item {
    let mut key = Item::new();
    let names = std::iter::once(&schema.partition).chain(schema.sort.as_ref());
    for attribute in names {
        if let Some(value) = item.get(&attribute.name) {
            key.insert(attribute.name.clone(), value.clone());
        }
    }
    key
}

/// Runs one case. `Err` is a finding other than a panic (panics are
/// caught by the caller): a tree that does not survive printing.
/// How far cases got, by name: a parser that never accepts anything is
/// not being tested past its first check.
pub type Tally = BTreeMap<String, u64>;

fn count(tally: &mut Tally, what: &str) {
    *tally.entry(what.to_string()).or_insert(0) += 1;
}

pub fn run(case: &ExprCase, tally: &mut Tally) -> Result<(), String> {
    let expression = &case.expression;
    let Ok(base) = ExpressionContext::new(expression.names.as_ref(), expression.values.as_ref())
    else {
        // Bad maps are an error the handler reports; the parsers still
        // get the text, with no placeholders defined.
        count(tally, "placeholder maps refused");
        return run_with(case, &ExpressionContext::default(), tally);
    };
    run_with(case, &base, tally)
}

fn run_with(case: &ExprCase, base: &ExpressionContext, tally: &mut Tally) -> Result<(), String> {
    let text = case.expression.text.as_str();
    let schema = schema(case.shape);
    let items = &case.items;

    for kind in [ExpressionKind::Condition, ExpressionKind::Filter] {
        let mut ctx = base.clone();
        if let Ok(condition) = ctx.parse_condition(text, kind) {
            count(tally, &format!("{kind:?} parsed"));
            let _ = ctx.finish(&[kind.parameter()]);
            for item in items {
                if condition.evaluate(Some(item)) == Ok(true) {
                    count(tally, &format!("{kind:?} held for an item"));
                }
            }
            let _ = condition.evaluate(None);
            let printed = condition.to_string();
            let again = base.clone().parse_condition(&printed, kind);
            // Printing spaces out operators, so a text near the size
            // limit may print past it.
            if printed.len() <= EXPRESSION_BYTES_MAX && again.as_ref() != Ok(&condition) {
                return Err(format!(
                    "a {kind:?} does not survive printing: printed {printed:?}, parsed back {again:?}"
                ));
            }
        }
    }

    let mut ctx = base.clone();
    if let Ok(update) = ctx.parse_update(text) {
        count(tally, "Update parsed");
        let _ = ctx.finish(&["UpdateExpression"]);
        for item in items {
            let key = key_of(item, &schema);
            let _ = update.check_key_targets(&key);
            if update.apply(Some(item), &key).is_ok() {
                count(tally, "Update applied to an item");
            }
            let _ = update.apply(None, &key);
        }
        let printed = update.to_string();
        let again = base.clone().parse_update(&printed);
        if printed.len() <= EXPRESSION_BYTES_MAX && again.as_ref() != Ok(&update) {
            return Err(format!(
                "an update does not survive printing: printed {printed:?}, parsed back {again:?}"
            ));
        }
    }

    let mut ctx = base.clone();
    if let Ok(paths) = ctx.parse_projection(text) {
        count(tally, "Projection parsed");
        let _ = ctx.finish(&[]);
        for item in items {
            let _ = project(item, &paths);
        }
    }

    let mut ctx = base.clone();
    if let Ok(key_condition) = ctx.parse_key_condition(text, &schema) {
        count(tally, "KeyCondition parsed");
        let _ = ctx.finish(&["KeyConditionExpression"]);
        let _ = query_range(&key_condition.partition, &key_condition.sort);
    }

    // Several expressions through one context, as one request has them.
    let mut ctx = base.clone();
    let _ = ctx.parse_condition(text, ExpressionKind::Condition);
    let _ = ctx.parse_update(text);
    let _ = ctx.parse_projection(text);
    let _ = ctx.finish(&["UpdateExpression", "ConditionExpression"]);

    run_legacy(case, &schema, tally);
    Ok(())
}

fn run_legacy(case: &ExprCase, schema: &KeySchema, tally: &mut Tally) {
    let input = &case.legacy;
    let operator = input.conditional_operator.as_ref();
    let mut conditions = Vec::new();
    if let Ok(Some(condition)) = legacy::expected(&input.expected, operator) {
        count(tally, "legacy Expected translated");
        conditions.push(condition);
    }
    for parameter in ["QueryFilter", "ScanFilter"] {
        if let Ok(Some(condition)) = legacy::filter(&input.filter, operator, parameter) {
            count(tally, "legacy filter translated");
            conditions.push(condition);
        }
    }
    for condition in &conditions {
        for item in &case.items {
            let _ = condition.evaluate(Some(item));
        }
        let _ = condition.to_string();
    }
    if let Ok(key_condition) = legacy::key_conditions(&input.key_conditions, schema) {
        count(tally, "legacy KeyConditions translated");
        let _ = query_range(&key_condition.partition, &key_condition.sort);
    }
    if let Ok(paths) = legacy::attributes_to_get(&input.attributes_to_get) {
        for item in &case.items {
            let _ = project(item, &paths);
        }
    }
    if let Ok(update) = legacy::attribute_updates(&input.attribute_updates) {
        count(tally, "legacy AttributeUpdates translated");
        for item in &case.items {
            let key = key_of(item, schema);
            if update.apply(Some(item), &key).is_ok() {
                count(tally, "legacy AttributeUpdates applied");
            }
            let _ = update.apply(None, &key);
        }
        let _ = update.to_string();
    }
}
