//! The bridge from an item request to the expression languages ([`expr`]).
//!
//! An item operation decodes its expression members into
//! [`ExpressionMembers`] while it validates the request, then calls
//! [`compile`] once, after the model checks. `compile` does DynamoDB's
//! cross-member checks in its order:
//!
//! 1. legacy and expression parameters never mix (`Expected` with
//!    `ConditionExpression`, `AttributesToGet` with `ProjectionExpression`);
//! 2. each expression parses against the request's placeholders, and each
//!    legacy parameter translates onto the same trees;
//! 3. every placeholder given was used, by some expression of the request.
//!
//! The result, [`Compiled`], holds plain trees: a condition to evaluate
//! atomically with the write, an update to apply to the old item, a
//! projection to cut the answer down.
//!
//! [`expr`]: crate::expr

use serde_json::Value as Json;
use step01_kv::value::Item;

use crate::decode::{Checks, Members};
use crate::error::ApiError;
use crate::expr::{self, ExpressionContext, ExpressionKind, legacy};

/// The expression and legacy condition members of one item request.
#[derive(Clone, Debug, Default)]
pub struct ExpressionMembers {
    pub condition_expression: Option<String>,
    pub update_expression: Option<String>,
    pub projection_expression: Option<String>,
    /// The placeholder maps, read (and type-checked) while decoding.
    pub context: ExpressionContext,
    /// Whether `ExpressionAttributeValues` was given.
    pub values_given: bool,
    pub expected: Option<Json>,
    pub conditional_operator: Option<Json>,
    /// `AttributesToGet` (GetItem), `AttributeUpdates` (UpdateItem).
    pub attributes_to_get: Option<Json>,
    pub attribute_updates: Option<Json>,
}

impl ExpressionMembers {
    /// Reads whichever expression members the request has. Placeholder
    /// maps of the wrong JSON type fail at once (`SerializationException`);
    /// other problems with them wait for the model checks.
    pub fn decode(input: &mut Members, checks: &mut Checks) -> Result<Self, ApiError> {
        let condition_expression = input.string("ConditionExpression")?;
        let update_expression = input.string("UpdateExpression")?;
        let projection_expression = input.string("ProjectionExpression")?;
        let names = input.take("ExpressionAttributeNames");
        let values = input.take("ExpressionAttributeValues");
        let context = checks
            .deferred(
                ExpressionContext::new(names.as_ref(), values.as_ref()).map_err(ApiError::from),
            )?
            .unwrap_or_default();
        let conditional_operator = input.take("ConditionalOperator");
        if let Some(Json::String(operator)) = &conditional_operator {
            checks.one_of(
                "conditionalOperator",
                operator,
                crate::decode::enums::CONDITIONAL_OPERATOR,
            );
        }
        Ok(ExpressionMembers {
            condition_expression,
            update_expression,
            projection_expression,
            context,
            values_given: values.is_some(),
            expected: input.take("Expected"),
            conditional_operator,
            attributes_to_get: input.take("AttributesToGet"),
            attribute_updates: input.take("AttributeUpdates"),
        })
    }
}

/// The trees an item operation works with.
#[derive(Clone, Debug, Default)]
pub struct Compiled {
    pub condition: Option<expr::Condition>,
    pub update: Option<expr::Update>,
    pub projection: Option<Vec<expr::Path>>,
}

// ANCHOR: compile
/// Checks and compiles the expressions of a request. `value_parameters`
/// names the operation's expression parameters that may use values
/// (UpdateItem: `UpdateExpression` and `ConditionExpression`), for the
/// message about values given without them.
pub fn compile(
    mut members: ExpressionMembers,
    value_parameters: &[&str],
) -> Result<Compiled, ApiError> {
    let mut legacy_present = Vec::new();
    for (present, name) in [
        (members.attributes_to_get.is_some(), "AttributesToGet"),
        (members.attribute_updates.is_some(), "AttributeUpdates"),
        (members.expected.is_some(), "Expected"),
        (
            members.conditional_operator.is_some(),
            "ConditionalOperator",
        ),
    ] {
        if present {
            legacy_present.push(name);
        }
    }
    let mut expressions = Vec::new();
    for (present, kind) in [
        (
            members.condition_expression.is_some(),
            ExpressionKind::Condition,
        ),
        (members.update_expression.is_some(), ExpressionKind::Update),
        (
            members.projection_expression.is_some(),
            ExpressionKind::Projection,
        ),
    ] {
        if present {
            expressions.push(kind.parameter());
        }
    }
    legacy::check_mixing(&legacy_present, &expressions)?;
    legacy::check_conditional_operator(
        members.expected.as_ref(),
        members.conditional_operator.as_ref(),
    )?;

    let context = &mut members.context;
    let mut compiled = Compiled::default();
    if let Some(text) = &members.condition_expression {
        compiled.condition = Some(context.parse_condition(text, ExpressionKind::Condition)?);
    }
    if let Some(text) = &members.update_expression {
        compiled.update = Some(context.parse_update(text)?);
    }
    if let Some(text) = &members.projection_expression {
        compiled.projection = Some(context.parse_projection(text)?);
    }
    if let Some(expected) = &members.expected {
        compiled.condition = legacy::expected(expected, members.conditional_operator.as_ref())?;
    }
    if let Some(names) = &members.attributes_to_get {
        compiled.projection = Some(legacy::attributes_to_get(names)?);
    }
    if let Some(updates) = &members.attribute_updates {
        compiled.update = Some(legacy::attribute_updates(updates)?);
    }
    if value_parameters.is_empty() && members.values_given {
        // An operation without value-bearing expressions (GetItem).
        return Err(ApiError::validation(
            "ExpressionAttributeValues can only be specified when using expressions",
        ));
    }
    context.finish(value_parameters)?;
    Ok(compiled)
}
// ANCHOR_END: compile

/// An update applied to an item, with the images `ReturnValues` needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Updated {
    /// The item after the update; `None` when no item results (an update
    /// that only removes, on a missing item).
    pub item: Option<Item>,
    /// `UPDATED_OLD`: the old values of the paths the update wrote.
    pub updated_old: Item,
    /// `UPDATED_NEW`: the new values of the paths the update wrote.
    pub updated_new: Item,
}

// ANCHOR: apply_update
/// Applies `update` (no update, or an empty `AttributeUpdates`: a
/// key-only upsert) to `old`, the stored item if any; `key` is the
/// request's key as an item.
pub fn apply_update(
    update: Option<&expr::Update>,
    old: Option<&Item>,
    key: &Item,
) -> Result<Updated, ApiError> {
    let Some(update) = update.filter(|update| !update.is_empty()) else {
        let item = old.cloned().unwrap_or_else(|| key.clone());
        return Ok(Updated {
            item: Some(item),
            ..Updated::default()
        });
    };
    let new = update.apply(old, key)?;
    // Only REMOVE and DELETE actions, on a missing item: nothing results.
    let only_removes = update.set.is_empty() && update.add.is_empty();
    let item = (old.is_some() || !only_removes).then_some(new);
    let targets: Vec<expr::Path> = update.target_paths().into_iter().cloned().collect();
    Ok(Updated {
        updated_old: old.map_or_else(Item::new, |old| expr::project(old, &targets)),
        updated_new: item
            .as_ref()
            .map_or_else(Item::new, |new| expr::project(new, &targets)),
        item,
    })
}
// ANCHOR_END: apply_update

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn members(json: Json) -> Result<ExpressionMembers, ApiError> {
        let mut input = Members::from_json(json)?;
        let mut checks = Checks::default();
        let members = ExpressionMembers::decode(&mut input, &mut checks)?;
        checks.finish()?;
        Ok(members)
    }

    fn item(json: Json) -> Item {
        step01_kv::value::item_from_json(json).unwrap()
    }

    #[test]
    fn legacy_and_expressions_do_not_mix() {
        let m = members(json!({"AttributesToGet": ["a"], "ProjectionExpression": "a"})).unwrap();
        assert_eq!(
            compile(m, &[]).unwrap_err().message.as_deref(),
            Some(
                "Can not use both expression and non-expression parameters in the same request: \
                 Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
            )
        );
    }

    #[test]
    fn placeholders_need_expressions_and_must_be_used() {
        let m = members(json!({"ExpressionAttributeNames": {"#a": "a"}})).unwrap();
        assert_eq!(
            compile(m, &["ConditionExpression"])
                .unwrap_err()
                .message
                .as_deref(),
            Some("ExpressionAttributeNames can only be specified when using expressions")
        );
        let m = members(json!({
            "ConditionExpression": "attribute_exists(#a)",
            "ExpressionAttributeNames": {"#a": "a", "#b": "b"}
        }))
        .unwrap();
        assert!(
            compile(m, &["ConditionExpression"])
                .unwrap_err()
                .message
                .unwrap()
                .contains("unused")
        );
        let bad = members(json!({"ExpressionAttributeNames": 5})).unwrap_err();
        assert_eq!(bad.kind, crate::error::ErrorKind::Serialization);
    }

    #[test]
    fn updates_with_their_images() {
        let m = members(json!({
            "UpdateExpression": "SET a.b = :v REMOVE c",
            "ExpressionAttributeValues": {":v": {"N": "2"}}
        }))
        .unwrap();
        let compiled = compile(m, &["UpdateExpression", "ConditionExpression"]).unwrap();
        let key = item(json!({"pk": {"S": "k"}}));
        let old = item(json!({
            "pk": {"S": "k"}, "a": {"M": {"b": {"N": "1"}, "x": {"N": "0"}}}, "c": {"S": "gone"}
        }));
        let updated = apply_update(compiled.update.as_ref(), Some(&old), &key).unwrap();
        assert_eq!(
            updated.item.unwrap(),
            item(json!({"pk": {"S": "k"}, "a": {"M": {"b": {"N": "2"}, "x": {"N": "0"}}}}))
        );
        assert_eq!(
            updated.updated_old,
            item(json!({"a": {"M": {"b": {"N": "1"}}}, "c": {"S": "gone"}}))
        );
        assert_eq!(
            updated.updated_new,
            item(json!({"a": {"M": {"b": {"N": "2"}}}}))
        );
        // Only removals on a missing item: no item.
        let removed = apply_update(compiled.update.as_ref(), None, &key);
        assert!(removed.is_err() || removed.unwrap().item.is_none());
        let m = members(json!({"UpdateExpression": "REMOVE c"})).unwrap();
        let compiled = compile(m, &["UpdateExpression", "ConditionExpression"]).unwrap();
        assert_eq!(
            apply_update(compiled.update.as_ref(), None, &key)
                .unwrap()
                .item,
            None
        );
        // No update at all: a key-only item.
        assert_eq!(apply_update(None, None, &key).unwrap().item, Some(key));
    }

    #[test]
    fn legacy_attribute_updates_compile() {
        let m = members(json!({
            "AttributeUpdates": {"n": {"Action": "ADD", "Value": {"N": "5"}}}
        }))
        .unwrap();
        let compiled = compile(m, &["UpdateExpression", "ConditionExpression"]).unwrap();
        let key = item(json!({"pk": {"S": "k"}}));
        let updated = apply_update(compiled.update.as_ref(), None, &key).unwrap();
        assert_eq!(
            updated.item.unwrap(),
            item(json!({"pk": {"S": "k"}, "n": {"N": "5"}}))
        );
    }
}
