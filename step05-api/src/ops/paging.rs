//! What Query and Scan share: the members that shape a page, and the page
//! as the client sees it.
//!
//! Step 3 reads a *page*: it walks storage keys in order and stops after
//! `Limit` items or once the items read reach 1 MB, whichever comes first,
//! and says where it stopped. Everything DynamoDB does on top of that is
//! here, applied in DynamoDB's order:
//!
//! ```text
//! page read (Limit, 1 MB) ─▶ ScannedCount ─▶ filter ─▶ Count ─▶ Select/projection ─▶ Items
//!                        └─▶ bytes read ─▶ read units (rounded up once per page)
//!                        └─▶ last key read ─▶ LastEvaluatedKey
//! ```
//!
//! Two consequences clients rely on: the filter and the projection never
//! make a page cheaper or longer (`Limit` counts items *read*), and a page
//! may hold no items at all yet carry a `LastEvaluatedKey` — the walk is
//! over only when that member is absent.
//!
//! The request side is [`ReadMembers`]: the expression members and their
//! legacy twins, decoded while the request is validated and compiled once
//! the model checks pass, in DynamoDB's order of complaints (mixing, then
//! placeholder maps without expressions, then the legacy parameters, then
//! the expressions, then unused placeholders).

use serde_json::{Map, Value as Json, json};
use step01_kv::engine::ReadConsistency;
use step01_kv::key::{KeySchema, PrimaryKey};
use step01_kv::value::{AttributeValue, Item};
use step03_partitioning::hash::KeyHash;
use step03_partitioning::page::Page;
use step03_partitioning::table::Route;

use super::shared::{item_json, parse_item, primary_key};
use crate::capacity::Demand;
use crate::capacity::{ReturnConsumedCapacity, consumed_capacity, read_units};
use crate::catalog::TableHandle;
use crate::decode::{Checks, Members, enums};
use crate::error::{ApiError, ErrorKind};
use crate::expr::{
    self, Condition, ExpressionContext, ExpressionKind, Function, Operand, Path, legacy,
};
use crate::registry::Reply;

/// `Select`, in the order DynamoDB lists it in messages.
pub const SELECT_VALUES: &[&str] = &[
    "SPECIFIC_ATTRIBUTES",
    "COUNT",
    "ALL_ATTRIBUTES",
    "ALL_PROJECTED_ATTRIBUTES",
];
/// `AttributesToGet` lists 1 to 255 names.
pub const ATTRIBUTES_TO_GET_NAMES_MAX: usize = 255;
/// A rendered value in a constraint message is cut after this many bytes,
/// so a message never echoes a whole request back.
pub const RENDERED_VALUE_BYTES_MAX: usize = 1024;

/// What a page returns of each item it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    AllAttributes,
    AllProjectedAttributes,
    SpecificAttributes,
    /// Only `Count` and `ScannedCount`: no `Items` member at all.
    Count,
}

impl Select {
    /// Reads the `Select` member (`None` when absent or not in the set;
    /// the latter is recorded as a violation).
    pub fn decode(input: &mut Members, checks: &mut Checks) -> Result<Option<Select>, ApiError> {
        let Some(text) = input.string("Select")? else {
            return Ok(None);
        };
        checks.one_of("select", &text, SELECT_VALUES);
        Ok(match text.as_str() {
            "ALL_ATTRIBUTES" => Some(Select::AllAttributes),
            "ALL_PROJECTED_ATTRIBUTES" => Some(Select::AllProjectedAttributes),
            "SPECIFIC_ATTRIBUTES" => Some(Select::SpecificAttributes),
            "COUNT" => Some(Select::Count),
            _ => None,
        })
    }

    fn wording(self) -> &'static str {
        match self {
            Select::AllAttributes => "ALL_ATTRIBUTES",
            Select::AllProjectedAttributes => "ALL_PROJECTED_ATTRIBUTES",
            Select::SpecificAttributes => "SPECIFIC_ATTRIBUTES",
            Select::Count => "only the Count",
        }
    }
}

// ANCHOR: select
/// The `Select` a request really means, after DynamoDB's rules: a
/// projection goes only with `SPECIFIC_ATTRIBUTES` (or no `Select`),
/// `SPECIFIC_ATTRIBUTES` needs a projection, `ALL_PROJECTED_ATTRIBUTES`
/// needs an index. `projection` names the projection member given.
pub fn resolve_select(
    select: Option<Select>,
    projection: Option<&str>,
    index: bool,
) -> Result<Select, ApiError> {
    let refuse = |message: String| {
        Err(ApiError::validation(format!(
            "1 validation error detected: {message}"
        )))
    };
    match (select, projection) {
        (Some(Select::SpecificAttributes), None) => refuse(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
                .to_string(),
        ),
        (Some(select), Some(member)) if select != Select::SpecificAttributes => refuse(format!(
            "Cannot specify the {member} when choosing to get {}",
            select.wording()
        )),
        (Some(Select::AllProjectedAttributes), _) if !index => refuse(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
                .to_string(),
        ),
        (Some(select), _) => Ok(select),
        (None, Some(_)) => Ok(Select::SpecificAttributes),
        (None, None) if index => Ok(Select::AllProjectedAttributes),
        (None, None) => Ok(Select::AllAttributes),
    }
}
// ANCHOR_END: select

/// Query or Scan: the members and messages that differ between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOperation {
    Query,
    Scan,
}

impl ReadOperation {
    /// The legacy filter member: `QueryFilter` or `ScanFilter`.
    pub fn filter_member(self) -> &'static str {
        match self {
            ReadOperation::Query => "QueryFilter",
            ReadOperation::Scan => "ScanFilter",
        }
    }

    /// The expressions that may use `ExpressionAttributeValues`, as
    /// DynamoDB lists them when values come without any.
    pub fn value_parameters(self) -> &'static [&'static str] {
        match self {
            ReadOperation::Query => &["FilterExpression", "KeyConditionExpression"],
            ReadOperation::Scan => &["FilterExpression"],
        }
    }
}

/// The expression members of a Query or Scan and their legacy twins, as
/// decoded (type-checked) but not yet compiled.
#[derive(Clone, Debug, Default)]
pub struct ReadMembers {
    pub key_condition_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub projection_expression: Option<String>,
    pub context: ExpressionContext,
    pub names_given: bool,
    pub values_given: bool,
    pub key_conditions: Option<Json>,
    /// `QueryFilter` or `ScanFilter`.
    pub filter: Option<Json>,
    pub conditional_operator: Option<Json>,
    pub attributes_to_get: Option<Json>,
}

impl ReadMembers {
    /// Reads the members; type errors fail at once, constraint violations
    /// go to `checks`.
    pub fn decode(
        input: &mut Members,
        checks: &mut Checks,
        operation: ReadOperation,
    ) -> Result<ReadMembers, ApiError> {
        let key_condition_expression = match operation {
            ReadOperation::Query => input.string("KeyConditionExpression")?,
            ReadOperation::Scan => None,
        };
        let filter_expression = input.string("FilterExpression")?;
        let projection_expression = input.string("ProjectionExpression")?;
        let key_conditions = match operation {
            ReadOperation::Query => input.map("KeyConditions")?.map(Json::Object),
            ReadOperation::Scan => None,
        };
        let filter = input.map(operation.filter_member())?.map(Json::Object);
        let conditional_operator = input.string("ConditionalOperator")?;
        if let Some(operator) = &conditional_operator {
            checks.one_of("conditionalOperator", operator, enums::CONDITIONAL_OPERATOR);
        }
        let attributes_to_get = attributes_to_get(input, checks)?;
        let names = input.take("ExpressionAttributeNames");
        let values = input.take("ExpressionAttributeValues");
        let context = checks
            .deferred(
                ExpressionContext::new(names.as_ref(), values.as_ref()).map_err(ApiError::from),
            )?
            .unwrap_or_default();
        Ok(ReadMembers {
            key_condition_expression,
            filter_expression,
            projection_expression,
            context,
            names_given: names.is_some(),
            values_given: values.is_some(),
            key_conditions,
            filter,
            conditional_operator: conditional_operator.map(Json::String),
            attributes_to_get,
        })
    }

    /// The projection member given, if any, for the `Select` rules.
    pub fn projection_member(&self) -> Option<&'static str> {
        if self.projection_expression.is_some() {
            Some("ProjectionExpression")
        } else if self.attributes_to_get.is_some() {
            Some("AttributesToGet")
        } else {
            None
        }
    }

    // ANCHOR: compile_read
    /// DynamoDB's cross-member checks, in its order, and the compiled
    /// trees. The key condition is parsed here but checked against the key
    /// schema only once the table is known ([`CompiledRead::key_condition`]).
    pub fn compile(mut self, operation: ReadOperation) -> Result<CompiledRead, ApiError> {
        // 1. Expression and legacy parameters never mix — except that
        //    legacy KeyConditions may go with the other expressions.
        let expressions: Vec<&str> = [
            ("ProjectionExpression", self.projection_expression.is_some()),
            ("FilterExpression", self.filter_expression.is_some()),
            (
                "KeyConditionExpression",
                self.key_condition_expression.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        let key_conditions_count =
            self.key_conditions.is_some() && self.key_condition_expression.is_some();
        let legacy: Vec<&str> = [
            ("AttributesToGet", self.attributes_to_get.is_some()),
            (operation.filter_member(), self.filter.is_some()),
            ("ConditionalOperator", self.conditional_operator.is_some()),
            ("KeyConditions", key_conditions_count),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        legacy::check_mixing(&legacy, &expressions)?;
        // 2. Placeholder maps need expressions that can use them.
        if self.names_given && expressions.is_empty() {
            return Err(ApiError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        let value_parameters = operation.value_parameters();
        let value_bearing =
            self.filter_expression.is_some() || self.key_condition_expression.is_some();
        if self.values_given && !value_bearing {
            let verb = if value_parameters.len() > 1 {
                "are"
            } else {
                "is"
            };
            return Err(ApiError::validation(format!(
                "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
                value_parameters.join(" and ")
            )));
        }
        // 3. The legacy parameters.
        let mut compiled = CompiledRead::default();
        if let Some(filter) = &self.filter {
            compiled.filter = legacy::filter(
                filter,
                self.conditional_operator.as_ref(),
                operation.filter_member(),
            )?;
            compiled.filter_member = Some(operation.filter_member());
        }
        if let Some(names) = &self.attributes_to_get {
            compiled.projection = Some(legacy::attributes_to_get(names)?);
        }
        if operation == ReadOperation::Query
            && self.key_conditions.is_none()
            && self.key_condition_expression.is_none()
        {
            return Err(ApiError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        }
        // 4. The expressions, then the placeholders none of them used.
        let context = &mut self.context;
        if let Some(text) = &self.key_condition_expression {
            let condition = context.parse_condition(text, ExpressionKind::KeyCondition)?;
            compiled.key = Some(KeySource::Expression(Box::new(condition)));
        } else if let Some(conditions) = self.key_conditions.take() {
            compiled.key = Some(KeySource::Legacy(conditions));
        }
        if let Some(text) = &self.filter_expression {
            compiled.filter = Some(context.parse_condition(text, ExpressionKind::Filter)?);
            compiled.filter_member = Some("Filter Expression");
        }
        if let Some(text) = &self.projection_expression {
            compiled.projection = Some(context.parse_projection(text)?);
        }
        context.finish(value_parameters)?;
        Ok(compiled)
    }
    // ANCHOR_END: compile_read
}

/// `AttributesToGet`: a list of 1 to 255 names (duplicates are refused
/// later, with the legacy parameters).
fn attributes_to_get(input: &mut Members, checks: &mut Checks) -> Result<Option<Json>, ApiError> {
    let Some(names) = input.strings("AttributesToGet")? else {
        return Ok(None);
    };
    checks.list_length(
        "attributesToGet",
        &render_list(&names),
        names.len(),
        1,
        ATTRIBUTES_TO_GET_NAMES_MAX,
    );
    Ok(Some(Json::Array(
        names.into_iter().map(Json::String).collect(),
    )))
}

/// A list of strings as a constraint message shows it: `[a, b]`.
pub fn render_list(names: &[String]) -> String {
    bounded(format!("[{}]", names.join(", ")))
}

/// A JSON value as a constraint message shows it, cut to a bound.
pub fn render_json(value: &Json) -> String {
    bounded(value.to_string())
}

fn bounded(mut text: String) -> String {
    if text.len() > RENDERED_VALUE_BYTES_MAX {
        let mut end = RENDERED_VALUE_BYTES_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// Where a Query's key condition came from.
#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    /// `KeyConditionExpression`, parsed.
    Expression(Box<Condition>),
    /// Legacy `KeyConditions`, as sent.
    Legacy(Json),
}

/// The compiled trees of a Query or Scan.
#[derive(Clone, Debug, Default)]
pub struct CompiledRead {
    pub key: Option<KeySource>,
    pub filter: Option<Condition>,
    /// How DynamoDB names the filter in messages: `Filter Expression`,
    /// `QueryFilter` or `ScanFilter`.
    pub filter_member: Option<&'static str>,
    pub projection: Option<Vec<Path>>,
}

impl CompiledRead {
    /// The key condition checked against the table's key schema.
    pub fn key_condition(&self, schema: &KeySchema) -> Result<expr::KeyCondition, ApiError> {
        match &self.key {
            Some(KeySource::Expression(condition)) => {
                Ok(expr::key_condition::key_condition(condition, schema)?)
            }
            Some(KeySource::Legacy(conditions)) => Ok(legacy::key_conditions(conditions, schema)?),
            None => Err(ApiError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            )),
        }
    }

    /// A Query's filter may not name a key attribute of the schema it
    /// reads: the key condition is the place for those.
    pub fn check_filter_keys(&self, schema: &KeySchema) -> Result<(), ApiError> {
        let (Some(filter), Some(member)) = (&self.filter, self.filter_member) else {
            return Ok(());
        };
        let mut names = Vec::new();
        condition_attributes(filter, &mut names);
        for key in std::iter::once(&schema.partition).chain(schema.sort.as_ref()) {
            if names.contains(&key.name.as_str()) {
                return Err(ApiError::validation(format!(
                    "{member} can only contain non-primary key attributes: Primary key attribute: {}",
                    key.name
                )));
            }
        }
        Ok(())
    }
}

/// The top-level attribute names a condition reads. Recursion is bounded
/// by the parser's nesting limit.
fn condition_attributes<'a>(condition: &'a Condition, out: &mut Vec<&'a str>) {
    match condition {
        Condition::Compare { left, right, .. } => {
            operand_attributes(left, out);
            operand_attributes(right, out);
        }
        Condition::Between { operand, low, high } => {
            for operand in [operand, low, high] {
                operand_attributes(operand, out);
            }
        }
        Condition::In { operand, list } => {
            operand_attributes(operand, out);
            for operand in list {
                operand_attributes(operand, out);
            }
        }
        Condition::Function(function) => match function {
            Function::AttributeExists(path)
            | Function::AttributeNotExists(path)
            | Function::AttributeType(path, _) => out.extend(path.top_level()),
            Function::BeginsWith(a, b) | Function::Contains(a, b) => {
                operand_attributes(a, out);
                operand_attributes(b, out);
            }
        },
        Condition::Not(inner) => condition_attributes(inner, out),
        Condition::And(left, right) | Condition::Or(left, right) => {
            condition_attributes(left, out);
            condition_attributes(right, out);
        }
    }
}

fn operand_attributes<'a>(operand: &'a Operand, out: &mut Vec<&'a str>) {
    match operand {
        Operand::Path(path) => out.extend(path.top_level()),
        Operand::Value(_) => {}
        Operand::Size(inner) => operand_attributes(inner, out),
    }
}

/// The optional `ExclusiveStartKey` member as an item; its attribute
/// values are checked like any item's, and a problem is reported as a bad
/// starting key (DynamoDB leaves a few number and set messages bare).
pub fn exclusive_start_item(
    input: &mut Members,
    checks: &mut Checks,
) -> Result<Option<Item>, ApiError> {
    let Some(map) = input.map("ExclusiveStartKey")? else {
        return Ok(None);
    };
    let parsed = parse_item(map).map_err(|error| {
        if error.kind != ErrorKind::Validation {
            return error;
        }
        let message = error.message.unwrap_or_default();
        let bare = [
            "contains duplicates",
            "number set",
            "numeric value",
            "significant digits",
            "number with magnitude",
        ]
        .iter()
        .any(|pattern| message.contains(pattern));
        if bare {
            ApiError::validation(message)
        } else {
            ApiError::validation(format!("The provided starting key is invalid: {message}"))
        }
    });
    checks.deferred(parsed)
}

/// An `ExclusiveStartKey` checked against the table's key schema. A key
/// with the wrong set of attributes is refused with `set_message`
/// (DynamoDB words it differently for Query and Scan); a key with bad
/// values with the reason.
pub fn start_key(
    schema: &KeySchema,
    item: &Item,
    operation: ReadOperation,
) -> Result<PrimaryKey, ApiError> {
    let names: Vec<&str> = std::iter::once(&schema.partition)
        .chain(schema.sort.as_ref())
        .map(|attribute| attribute.name.as_str())
        .collect();
    let same_set = item.len() == names.len() && names.iter().all(|name| item.contains_key(*name));
    if !same_set {
        return Err(ApiError::validation(match operation {
            ReadOperation::Query => "The provided starting key is invalid",
            ReadOperation::Scan => {
                "The provided starting key is invalid: The provided key element does not match the schema"
            }
        }));
    }
    primary_key(schema, item).map_err(|error| {
        ApiError::validation(format!(
            "The provided starting key is invalid: {}",
            error.message.unwrap_or_default()
        ))
    })
}

/// The route of the partition owning `hash` now: where a page starts, for
/// the throttle.
pub fn page_route(table: &TableHandle, hash: KeyHash) -> Result<Route, ApiError> {
    let map = table.table.partition_map()?;
    Ok(Route {
        epoch: map.epoch(),
        partition: map.partition_for(hash).id,
        hash,
    })
}

/// `ConsistentRead` as the storage layer takes it: an eventually
/// consistent read may be served by a replica that is behind.
pub fn read_consistency(consistent: bool) -> ReadConsistency {
    if consistent {
        ReadConsistency::Strong
    } else {
        ReadConsistency::Eventual
    }
}

/// The read units of a page: its bytes read, rounded up to 4 KB *once*
/// for the whole page (not per item), at least one unit, halved for an
/// eventually consistent read.
pub fn page_units(page: &Page, consistent: bool) -> f64 {
    read_units(
        usize::try_from(page.scanned_bytes).unwrap_or(usize::MAX),
        consistent,
    )
}

// ANCHOR: filter_page
/// The items of a page that pass the filter (all of them without one).
/// `ScannedCount` is the page's length before this, `Count` after.
pub fn filter_items(items: Vec<Item>, filter: Option<&Condition>) -> Result<Vec<Item>, ApiError> {
    // EXERCISE(05.30): keep the items the filter accepts (every item when there is no filter); evaluation errors are the request's
    let Some(filter) = filter else {
        return Ok(items);
    };
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        if filter.evaluate(Some(&item))? {
            kept.push(item);
        }
    }
    Ok(kept)
    // END EXERCISE
}
// ANCHOR_END: filter_page

/// The key attributes of a primary key, as an item (`LastEvaluatedKey`).
pub fn key_as_item(schema: &KeySchema, key: &PrimaryKey) -> Item {
    let mut item = Item::new();
    item.insert(
        schema.partition.name.clone(),
        AttributeValue::from(key.partition.clone()),
    );
    if let (Some(attribute), Some(sort)) = (&schema.sort, &key.sort) {
        item.insert(attribute.name.clone(), AttributeValue::from(sort.clone()));
    }
    item
}

/// How a page is turned into a response.
#[derive(Clone, Copy, Debug)]
pub struct PageShape<'a> {
    pub select: Select,
    pub filter: Option<&'a Condition>,
    pub projection: Option<&'a [Path]>,
    pub schema: &'a KeySchema,
    pub consistent: bool,
    pub capacity: ReturnConsumedCapacity,
    /// As the client sent it (an ARN stays an ARN).
    pub table_name: &'a str,
}

// ANCHOR: page_reply
/// The response to one page: `Items` (unless `Select` is `COUNT`),
/// `Count`, `ScannedCount`, `LastEvaluatedKey` when the walk stopped
/// early, and `ConsumedCapacity` when asked for.
pub fn page_reply(page: Page, shape: PageShape<'_>) -> Result<Reply, ApiError> {
    let units = page_units(&page, shape.consistent);
    let scanned = page.items.len();
    let kept = filter_items(page.items, shape.filter)?;
    let mut body = Map::new();
    body.insert("Count".into(), json!(kept.len()));
    body.insert("ScannedCount".into(), json!(scanned));
    if shape.select != Select::Count {
        let items = kept
            .iter()
            .map(|item| match shape.projection {
                Some(paths) if shape.select == Select::SpecificAttributes => {
                    item_json(&expr::project(item, paths))
                }
                _ => item_json(item),
            })
            .collect::<Result<Vec<Json>, ApiError>>()?;
        body.insert("Items".into(), Json::Array(items));
    }
    if let Some(key) = &page.last_evaluated_key {
        body.insert(
            "LastEvaluatedKey".into(),
            item_json(&key_as_item(shape.schema, key))?,
        );
    }
    if let Some(capacity) = consumed_capacity(shape.capacity, shape.table_name, Demand::Read(units))
    {
        body.insert("ConsumedCapacity".into(), capacity);
    }
    Ok(Reply::Json(Json::Object(body)))
}
// ANCHOR_END: page_reply

#[cfg(test)]
mod tests {
    use super::*;
    use step01_kv::value::item_from_json;

    fn item(json: Json) -> Item {
        item_from_json(json).unwrap()
    }

    fn filter(text: &str, values: Json) -> Condition {
        let mut context = ExpressionContext::new(None, Some(&values)).unwrap();
        context
            .parse_condition(text, ExpressionKind::Filter)
            .unwrap()
    }

    #[test]
    fn ex05_30_the_filter_keeps_matching_items_in_order() {
        let items = vec![
            item(json!({"pk": {"S": "a"}, "n": {"N": "1"}})),
            item(json!({"pk": {"S": "b"}, "n": {"N": "5"}})),
            item(json!({"pk": {"S": "c"}})),
            item(json!({"pk": {"S": "d"}, "n": {"N": "7"}})),
        ];
        let condition = filter("n > :v", json!({":v": {"N": "2"}}));
        let kept = filter_items(items.clone(), Some(&condition)).unwrap();
        assert_eq!(kept, vec![items[1].clone(), items[3].clone()]);
        let none = filter("n > :v", json!({":v": {"N": "100"}}));
        assert!(filter_items(items.clone(), Some(&none)).unwrap().is_empty());
    }

    #[test]
    fn ex05_30_no_filter_keeps_every_item() {
        let items = vec![
            item(json!({"pk": {"S": "a"}})),
            item(json!({"pk": {"S": "b"}})),
        ];
        assert_eq!(filter_items(items.clone(), None).unwrap(), items);
        assert!(filter_items(Vec::new(), None).unwrap().is_empty());
    }

    #[test]
    fn select_rules() {
        let message = |result: Result<Select, ApiError>| result.unwrap_err().message.unwrap();
        assert_eq!(
            resolve_select(None, None, false).unwrap(),
            Select::AllAttributes
        );
        assert_eq!(
            resolve_select(None, Some("ProjectionExpression"), false).unwrap(),
            Select::SpecificAttributes
        );
        assert_eq!(
            message(resolve_select(
                Some(Select::Count),
                Some("ProjectionExpression"),
                false
            )),
            "1 validation error detected: Cannot specify the ProjectionExpression when choosing to get only the Count"
        );
        assert_eq!(
            message(resolve_select(
                Some(Select::AllAttributes),
                Some("AttributesToGet"),
                false
            )),
            "1 validation error detected: Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES"
        );
        assert_eq!(
            message(resolve_select(
                Some(Select::SpecificAttributes),
                None,
                false
            )),
            "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        );
        assert_eq!(
            message(resolve_select(
                Some(Select::AllProjectedAttributes),
                None,
                false
            )),
            "1 validation error detected: ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        );
        assert_eq!(
            resolve_select(Some(Select::Count), None, false).unwrap(),
            Select::Count
        );
    }

    #[test]
    fn rendered_values_are_bounded() {
        let long = render_json(&Json::String("é".repeat(2000)));
        assert!(long.len() <= RENDERED_VALUE_BYTES_MAX + 3);
        assert!(long.ends_with("..."));
        assert_eq!(render_list(&["a".into(), "b".into()]), "[a, b]");
    }
}
