//! BatchGetItem: up to 100 GetItems, over any tables, in one request.
//!
//! A batch is a convenience, not a transaction: each key is read on its
//! own, from its own partition, and the answer may be partial. DynamoDB
//! hands back what it could not serve in `UnprocessedKeys`, shaped exactly
//! like `RequestItems` so the client can send it again as it is:
//!
//! * keys the throttle refused (their partition is over its throughput);
//! * keys beyond the 16 MB response limit ([`RESPONSE_BYTES_MAX`]).
//!
//! Only when *every* key was refused by the throttle is the batch an error
//! (`ProvisionedThroughputExceededException`): a client then backs off
//! instead of spinning on an empty answer.
//!
//! The whole request is validated before any read: the model constraints,
//! then per table the projection members, duplicate keys and the total of
//! keys ([`KEYS_MAX`]), then every table's existence and every key against
//! its table's schema.

use serde_json::{Map, Value as Json, json};
use step01_kv::key::PrimaryKey;
use step01_kv::size::item_size;
use step01_kv::value::Item;

use super::paging::{ATTRIBUTES_TO_GET_NAMES_MAX, read_consistency, render_json, render_list};
use super::shared::{item_json, parse_item, primary_key};
use crate::capacity::{self, Demand, ReturnConsumedCapacity, consumed_capacity, read_units};
use crate::decode::{Checks, Members, TABLE_NAME_CHARS_MAX, TABLE_NAME_CHARS_MIN, type_error};
use crate::decode::{ModelType, is_table_name_pattern};
use crate::error::{ApiError, ErrorKind};
use crate::expr::{ExpressionContext, Path, legacy};
use crate::registry::{Reply, RequestContext};

/// At most 100 keys per batch, over all its tables.
pub const KEYS_MAX: usize = 100;
/// A response carries at most 16 MB of items; the rest is unprocessed.
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The constraint on `RequestItems` keys, as DynamoDB words it.
const TABLE_KEY_CONSTRAINT: &str = "Map keys must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]";

/// Records a violation when a `RequestItems` key is neither a table name
/// nor a table ARN.
pub(crate) fn check_table_key(checks: &mut Checks, requested: &str) {
    if requested.starts_with("arn:") {
        return;
    }
    let chars = requested.chars().count();
    if !is_table_name_pattern(requested)
        || !(TABLE_NAME_CHARS_MIN..=TABLE_NAME_CHARS_MAX).contains(&chars)
    {
        checks.violation(Some(requested), "requestItems", TABLE_KEY_CONSTRAINT);
    }
}

/// Whether an error is the throttle's: the request may be retried as is,
/// so a batch reports its sub-request as unprocessed instead.
pub(crate) fn is_throttling(error: &ApiError) -> bool {
    matches!(
        error.kind,
        ErrorKind::ProvisionedThroughputExceeded
            | ErrorKind::Throttling
            | ErrorKind::RequestLimitExceeded
    )
}

/// One table's entry of `RequestItems`, decoded.
struct TableRequest {
    /// As the client sent it: a name or an ARN.
    requested: String,
    /// The entry as sent, to echo in `UnprocessedKeys`.
    original: Map<String, Json>,
    /// Each key as sent, and as an item (`None` if it did not parse).
    keys: Vec<(Json, Option<Item>)>,
    consistent: bool,
    projection_expression: Option<String>,
    attributes_to_get: Option<Vec<String>>,
    names: Option<Json>,
    context: ExpressionContext,
}

impl TableRequest {
    fn decode(requested: String, entry: Json, checks: &mut Checks) -> Result<Self, ApiError> {
        let original = match &entry {
            Json::Object(map) => map.clone(),
            other => return Err(type_error(other, ModelType::Structure)),
        };
        let mut input = Members::from_json(entry)?;
        let at = format!("requestItems.{requested}.member");
        let keys = checks.required(&format!("{at}.keys"), input.list("Keys")?);
        if let Some(keys) = keys
            .as_ref()
            .filter(|keys| keys.is_empty() || keys.len() > KEYS_MAX)
        {
            checks.list_length(
                &format!("{at}.keys"),
                &render_json(&Json::Array(keys.clone())),
                keys.len(),
                1,
                KEYS_MAX,
            );
        }
        let keys = keys.unwrap_or_default();
        let mut parsed = Vec::with_capacity(keys.len());
        for key in keys {
            let map = match &key {
                Json::Object(map) => map.clone(),
                other => return Err(type_error(other, ModelType::Structure)),
            };
            let item = checks.deferred(parse_item(map))?;
            parsed.push((key, item));
        }
        let attributes_to_get = input.strings("AttributesToGet")?;
        if let Some(names) = &attributes_to_get {
            checks.list_length(
                &format!("{at}.attributesToGet"),
                &render_list(names),
                names.len(),
                1,
                ATTRIBUTES_TO_GET_NAMES_MAX,
            );
        }
        let consistent = input.boolean("ConsistentRead")?.unwrap_or(false);
        let projection_expression = input.string("ProjectionExpression")?;
        let names = input.take("ExpressionAttributeNames");
        let context = checks
            .deferred(ExpressionContext::new(names.as_ref(), None).map_err(ApiError::from))?
            .unwrap_or_default();
        Ok(TableRequest {
            requested,
            original,
            keys: parsed,
            consistent,
            projection_expression,
            attributes_to_get,
            names,
            context,
        })
    }

    /// The projection, after DynamoDB's cross-member checks.
    fn projection(&mut self) -> Result<Option<Vec<Path>>, ApiError> {
        let legacy_members: &[&str] = if self.attributes_to_get.is_some() {
            &["AttributesToGet"]
        } else {
            &[]
        };
        let expression_members: &[&str] = if self.projection_expression.is_some() {
            &["ProjectionExpression"]
        } else {
            &[]
        };
        legacy::check_mixing(legacy_members, expression_members)?;
        if self.names.is_some() && self.projection_expression.is_none() {
            return Err(ApiError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        let mut projection = None;
        if let Some(names) = &self.attributes_to_get {
            let list = Json::Array(names.iter().cloned().map(Json::String).collect());
            projection = Some(legacy::attributes_to_get(&list)?);
        }
        if let Some(text) = &self.projection_expression {
            projection = Some(self.context.parse_projection(text)?);
        }
        self.context.finish(&[])?;
        Ok(projection)
    }

    /// This entry with only `keys` left, for `UnprocessedKeys`.
    fn unprocessed(&self, keys: Vec<Json>) -> Json {
        let mut entry = self.original.clone();
        entry.insert("Keys".to_string(), Json::Array(keys));
        Json::Object(entry)
    }
}

/// The items of one table's part of the answer, and what it cost.
#[derive(Default)]
struct TableResult {
    items: Vec<Json>,
    unprocessed: Vec<Json>,
    units: f64,
}

// ANCHOR: batch_get_item
pub fn batch_get_item(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    // 1. Validate the whole request.
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let request_items = checks.required("requestItems", input.map("RequestItems")?);
    let capacity_mode = ReturnConsumedCapacity::decode(&mut input, &mut checks)?;
    let mut tables = Vec::new();
    if let Some(request_items) = request_items {
        if request_items.is_empty() {
            checks.violation(
                Some("{}"),
                "requestItems",
                "Member must have length greater than or equal to 1",
            );
        }
        for (requested, entry) in request_items {
            check_table_key(&mut checks, &requested);
            tables.push(TableRequest::decode(requested, entry, &mut checks)?);
        }
    }
    checks.finish()?;
    let mut projections = Vec::with_capacity(tables.len());
    let mut total_keys = 0usize;
    for table in &mut tables {
        projections.push(table.projection()?);
        let mut seen: Vec<&Item> = Vec::with_capacity(table.keys.len());
        for (_, key) in &table.keys {
            let Some(key) = key else {
                return Err(ApiError::internal("checks passed with an unparsed key"));
            };
            if seen.contains(&key) {
                return Err(ApiError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            seen.push(key);
            total_keys += 1;
            if total_keys > KEYS_MAX {
                return Err(ApiError::validation(
                    "Too many items requested for the BatchGetItem call",
                ));
            }
        }
    }

    // 2. Every table exists, 3. every key fits its table's schema.
    let mut resolved = Vec::with_capacity(tables.len());
    for table in &tables {
        let handle = ctx.backend.data_table(&table.requested)?;
        let schema = handle.meta()?.key_schema();
        let keys = table
            .keys
            .iter()
            .map(|(_, key)| match key {
                Some(key) => primary_key(&schema, key),
                None => Err(ApiError::internal("checks passed with an unparsed key")),
            })
            .collect::<Result<Vec<PrimaryKey>, ApiError>>()?;
        resolved.push((handle, keys));
    }

    // 4. Read key by key, until the response is full.
    let mut response_bytes = 0usize;
    let mut throttled = 0usize;
    let mut first_throttle = None;
    let mut results = Vec::with_capacity(tables.len());
    for ((table, (handle, keys)), projection) in tables.iter().zip(&resolved).zip(&projections) {
        let mut result = TableResult::default();
        for ((sent, _), key) in table.keys.iter().zip(keys) {
            if response_bytes >= RESPONSE_BYTES_MAX {
                result.unprocessed.push(sent.clone());
                continue;
            }
            let route = handle.table.route(key)?;
            let estimate = Demand::Read(read_units(0, table.consistent));
            match capacity::admit(ctx, handle, &route, estimate) {
                Ok(()) => {}
                Err(error) if is_throttling(&error) => {
                    throttled += 1;
                    first_throttle.get_or_insert(error);
                    result.unprocessed.push(sent.clone());
                    continue;
                }
                Err(error) => return Err(error),
            }
            let item = handle
                .table
                .get_with(key, read_consistency(table.consistent))?;
            let units = read_units(item.as_ref().map_or(0, item_size), table.consistent);
            capacity::settle(ctx, handle, &route, Demand::Read(units));
            result.units += units;
            let Some(item) = item else { continue };
            let item = match projection {
                Some(paths) => crate::expr::project(&item, paths),
                None => item,
            };
            let size = item_size(&item);
            if response_bytes + size > RESPONSE_BYTES_MAX {
                // Read and charged, but it does not fit: the client asks again.
                response_bytes = RESPONSE_BYTES_MAX;
                result.unprocessed.push(sent.clone());
                continue;
            }
            response_bytes += size;
            result.items.push(item_json(&item)?);
        }
        results.push(result);
    }
    if total_keys > 0 && throttled == total_keys {
        return Err(first_throttle.unwrap_or_else(ApiError::throughput_exceeded));
    }

    // 5. Answer: every table in Responses, unprocessed keys as requests.
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut consumed = Vec::new();
    for (table, result) in tables.iter().zip(results) {
        responses.insert(table.requested.clone(), Json::Array(result.items));
        if !result.unprocessed.is_empty() {
            unprocessed.insert(
                table.requested.clone(),
                table.unprocessed(result.unprocessed),
            );
        }
        consumed.extend(consumed_capacity(
            capacity_mode,
            &table.requested,
            Demand::Read(result.units),
        ));
    }
    let mut body = Map::new();
    body.insert("Responses".into(), Json::Object(responses));
    body.insert("UnprocessedKeys".into(), Json::Object(unprocessed));
    if capacity_mode != ReturnConsumedCapacity::None {
        body.insert("ConsumedCapacity".into(), json!(consumed));
    }
    Ok(Reply::Json(Json::Object(body)))
}
// ANCHOR_END: batch_get_item
