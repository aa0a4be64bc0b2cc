//! BatchWriteItem: up to 25 puts and deletes, over any tables, in one
//! request.
//!
//! Each put or delete is atomic on its own; the batch is not. What the
//! batch does promise is all-or-nothing *validation*: the request is
//! refused whole, before any write, when it has more than 25 requests
//! ([`WRITE_REQUESTS_MAX`]), names a missing table, has an item over
//! 400 KB or a key that does not fit its schema, or touches one item
//! twice. That last rule is what makes a batch safe to replay: with every
//! key distinct, the order of its writes cannot matter.
//!
//! Writes the throttle refuses come back in `UnprocessedItems` — always
//! present, `{}` when everything was written — shaped like `RequestItems`
//! so the client resends them as they are. Only when the throttle refused
//! every write is the batch an error.

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json, json};
use step01_kv::error::ValidationError;
use step01_kv::key::PrimaryKey;
use step01_kv::size::{ITEM_SIZE_BYTES_MAX, item_size};
use step01_kv::value::Item;

use super::batch_get::{check_table_key, is_throttling};
use super::paging::render_json;
use super::shared::{item_collection_metrics, item_key, parse_item, primary_key};
use crate::capacity::{self, Demand, ReturnConsumedCapacity, consumed_capacity, write_units};
use crate::decode::{Checks, Members, ModelType, type_error};
use crate::error::ApiError;
use crate::registry::{Reply, RequestContext};

/// At most 25 put and delete requests per batch, over all its tables.
pub const WRITE_REQUESTS_MAX: usize = 25;

/// What one write request does.
#[derive(Clone, Debug)]
enum Write {
    Put(Item),
    Delete(Item),
}

/// One write request: as sent (for `UnprocessedItems`) and decoded
/// (`None` when it did not decode; the error waits in the checks).
struct WriteRequest {
    sent: Json,
    write: Option<Write>,
}

fn decode_request(sent: Json, at: &str, checks: &mut Checks) -> Result<WriteRequest, ApiError> {
    let mut request = Members::from_json(sent.clone())?;
    let put = request.structure("PutRequest")?;
    let delete = request.structure("DeleteRequest")?;
    let write = match (put, delete) {
        (Some(mut put), None) => {
            let path = format!("{at}.putRequest.item");
            match checks.required(&path, put.map("Item")?) {
                Some(map) => checks
                    .deferred(parse_item(map).and_then(|item| {
                        if item_size(&item) > ITEM_SIZE_BYTES_MAX {
                            Err(ValidationError::ItemTooLarge.into())
                        } else {
                            Ok(item)
                        }
                    }))?
                    .map(Write::Put),
                None => None,
            }
        }
        (None, Some(mut delete)) => {
            let path = format!("{at}.deleteRequest.key");
            match checks.required(&path, delete.map("Key")?) {
                Some(map) => checks.deferred(parse_item(map))?.map(Write::Delete),
                None => None,
            }
        }
        _ => {
            checks.defer(ApiError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
            None
        }
    };
    Ok(WriteRequest { sent, write })
}

// ANCHOR: duplicates
/// Whether two of one table's requests touch the same item. Keys are
/// compared by their storage encoding, so numbers compare by value
/// (`1` and `1.0` are one key).
pub fn has_duplicate_keys(keys: &[PrimaryKey]) -> bool {
    // EXERCISE(05.31): report whether any two keys are the same item, comparing keys by their encoding
    let mut seen = BTreeSet::new();
    keys.iter().any(|key| !seen.insert(key.encode()))
    // END EXERCISE
}
// ANCHOR_END: duplicates

/// The key a write touches, checked against the table's schema. A put's
/// missing or mistyped key attribute reads, in a batch, as a key that
/// does not match the schema.
fn write_key(schema: &step01_kv::key::KeySchema, write: &Write) -> Result<PrimaryKey, ApiError> {
    match write {
        Write::Delete(key) => primary_key(schema, key),
        Write::Put(item) => item_key(schema, item).map_err(|error| {
            let message = error.message.as_deref().unwrap_or_default();
            if message.contains("Missing the key") || message.contains("Type mismatch for key") {
                ApiError::validation("The provided key element does not match the schema")
            } else {
                error
            }
        }),
    }
}

// ANCHOR: batch_write_item
pub fn batch_write_item(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    // 1. Validate the whole request.
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let request_items = checks.required("requestItems", input.map("RequestItems")?);
    let capacity_mode = ReturnConsumedCapacity::decode(&mut input, &mut checks)?;
    item_collection_metrics(&mut input, &mut checks)?;
    let mut tables: Vec<(String, Vec<WriteRequest>)> = Vec::new();
    let mut total = 0usize;
    if let Some(request_items) = request_items {
        if request_items.is_empty() {
            checks.violation(
                Some("{}"),
                "requestItems",
                "Member must have length greater than or equal to 1",
            );
        }
        for (requested, list) in request_items {
            check_table_key(&mut checks, &requested);
            let list = match list {
                Json::Array(list) => list,
                other => return Err(type_error(&other, ModelType::List)),
            };
            if list.is_empty() || list.len() > WRITE_REQUESTS_MAX {
                checks.violation(
                    Some(&render_json(&json!({ requested.clone(): list }))),
                    "requestItems",
                    &format!(
                        "Map value must satisfy constraint: [Member must have length less than or equal to {WRITE_REQUESTS_MAX}, Member must have length greater than or equal to 1]"
                    ),
                );
            }
            total += list.len();
            let mut requests = Vec::with_capacity(list.len());
            for (index, sent) in list.into_iter().enumerate() {
                let at = format!("requestItems.{requested}.member.{}.member", index + 1);
                requests.push(decode_request(sent, &at, &mut checks)?);
            }
            tables.push((requested, requests));
        }
    }
    checks.finish()?;
    if total > WRITE_REQUESTS_MAX {
        return Err(ApiError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }

    // 2. Every table exists, 3. every key fits, no item is touched twice.
    let mut plans = Vec::with_capacity(tables.len());
    for (requested, requests) in &tables {
        let handle = ctx.backend.data_table(requested)?;
        let schema = handle.meta()?.key_schema();
        let mut keys = Vec::with_capacity(requests.len());
        for request in requests {
            let Some(write) = &request.write else {
                return Err(ApiError::internal("checks passed with an undecoded write"));
            };
            keys.push(write_key(&schema, write)?);
        }
        if has_duplicate_keys(&keys) {
            return Err(ApiError::validation(
                "Provided list of item keys contains duplicates",
            ));
        }
        plans.push((handle, keys));
    }

    // 4. Write one by one; the throttle may leave some unprocessed.
    let mut throttled = 0usize;
    let mut first_throttle = None;
    let mut unprocessed = Map::new();
    let mut consumed = Vec::new();
    for ((requested, requests), (handle, keys)) in tables.into_iter().zip(plans) {
        let mut units = 0.0;
        let mut left = Vec::new();
        for (request, key) in requests.into_iter().zip(keys) {
            let route = handle.table.route(&key)?;
            let estimate = Demand::Write(write_units(None, None));
            match capacity::admit(ctx, &handle, &route, estimate) {
                Ok(()) => {}
                Err(error) if is_throttling(&error) => {
                    throttled += 1;
                    first_throttle.get_or_insert(error);
                    left.push(request.sent);
                    continue;
                }
                Err(error) => return Err(error),
            }
            let (old, new_size) = match request.write {
                Some(Write::Put(item)) => {
                    let size = item_size(&item);
                    (handle.table.put(item)?.old_item, Some(size))
                }
                Some(Write::Delete(_)) => (handle.table.delete(&key)?.old_item, None),
                None => return Err(ApiError::internal("a write vanished")),
            };
            let used = write_units(old.as_ref().map(item_size), new_size);
            capacity::settle(ctx, &handle, &route, Demand::Write(used));
            units += used;
        }
        if !left.is_empty() {
            unprocessed.insert(requested.clone(), Json::Array(left));
        }
        consumed.extend(consumed_capacity(
            capacity_mode,
            &requested,
            Demand::Write(units),
        ));
    }
    if total > 0 && throttled == total {
        return Err(first_throttle.unwrap_or_else(ApiError::throughput_exceeded));
    }

    // 5. Answer.
    let mut body = Map::new();
    body.insert("UnprocessedItems".into(), Json::Object(unprocessed));
    if capacity_mode != ReturnConsumedCapacity::None {
        body.insert("ConsumedCapacity".into(), json!(consumed));
    }
    Ok(Reply::Json(Json::Object(body)))
}
// ANCHOR_END: batch_write_item

#[cfg(test)]
mod tests {
    use super::*;
    use step01_kv::key::KeyValue;
    use step01_kv::number::Number;

    fn key(pk: &str, sk: &str) -> PrimaryKey {
        PrimaryKey {
            partition: KeyValue::S(pk.into()),
            sort: Some(KeyValue::N(sk.parse::<Number>().unwrap())),
        }
    }

    #[test]
    fn ex05_31_distinct_keys_are_not_duplicates() {
        assert!(!has_duplicate_keys(&[]));
        assert!(!has_duplicate_keys(&[key("a", "1")]));
        assert!(!has_duplicate_keys(&[
            key("a", "1"),
            key("a", "2"),
            key("b", "1")
        ]));
    }

    #[test]
    fn ex05_31_the_same_item_twice_is_a_duplicate() {
        assert!(has_duplicate_keys(&[
            key("a", "1"),
            key("b", "2"),
            key("a", "1")
        ]));
        // Numbers compare by value.
        assert!(has_duplicate_keys(&[key("a", "1"), key("a", "1.0")]));
        assert!(has_duplicate_keys(&[key("a", "100"), key("a", "1e2")]));
    }
}
