//! The single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.
//!
//! Each follows the same path, in DynamoDB's order of checks:
//!
//! 1. **validate** the members (types, then constraints, then cross-member
//!    rules) — before the table is even looked up;
//! 2. **look up** the table (`ResourceNotFoundException`);
//! 3. **check the key** against the table's schema;
//! 4. **route** the key to its partition and ask the throttle to
//!    **admit** the request;
//! 5. **apply**, with any condition checked atomically with the write;
//! 6. **meter** the real cost and **respond** with the requested images.
//!
//! UpdateItem is a read-modify-write: read the item, compute the new one,
//! and write it only if the item is still the one that was read (step 3's
//! `put_if` compares them under the partition's key lock). A key-stripe
//! lock here makes concurrent updates of one key take turns instead of
//! retrying, so no update is lost and none spins.

use serde_json::{Map, Value as Json};
use step01_kv::engine::ReadConsistency;
use step01_kv::size::{ITEM_SIZE_BYTES_MAX, item_size};
use step01_kv::value::Item;
use step03_partitioning::error::ConditionalError;

use super::expressions::{ExpressionMembers, apply_update, compile};
use super::shared::{
    ReturnValues, item_collection_metrics, item_json, item_key, item_member, key_item, primary_key,
    return_old_on_failure, table_name,
};
use crate::capacity::{
    self, Demand, ReturnConsumedCapacity, consumed_capacity, read_units, write_units,
};
use crate::decode::{Checks, Members};
use crate::error::ApiError;
use crate::expr;
use crate::registry::{Reply, RequestContext};

/// How often an UpdateItem re-reads after losing a race with a PutItem or
/// DeleteItem of the same key. Updates of one key never race each other
/// (they hold the key's stripe lock), so each retry means another writer
/// made progress.
pub const UPDATE_ATTEMPTS_MAX: usize = 16;

/// Why a conditional write did not happen.
enum Refused {
    /// The condition was false; the item it was checked against.
    Condition(Option<Item>),
    /// Evaluating the condition failed.
    Error(ApiError),
    /// UpdateItem only: the item changed since it was read.
    Changed,
}

/// Runs `condition` (if any) on the item a write would replace.
fn check(condition: Option<&expr::Condition>, current: Option<&Item>) -> Result<(), Refused> {
    let Some(condition) = condition else {
        return Ok(());
    };
    match condition.evaluate(current) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refused::Condition(current.cloned())),
        Err(error) => Err(Refused::Error(error.into())),
    }
}

/// The error of a failed condition, with the item when asked for.
fn condition_failed(item: Option<Item>, return_old: bool) -> Result<ApiError, ApiError> {
    let error = ApiError::conditional_check_failed();
    Ok(match item {
        Some(item) if return_old => error.with_member("Item", item_json(&item)?),
        _ => error,
    })
}

/// Assembles a response: `Attributes`/`Item` and `ConsumedCapacity`, each
/// only when present.
fn reply(
    image_member: &str,
    image: Option<&Item>,
    capacity: Option<Json>,
) -> Result<Reply, ApiError> {
    let mut body = Map::new();
    if let Some(image) = image {
        body.insert(image_member.to_string(), item_json(image)?);
    }
    if let Some(capacity) = capacity {
        body.insert("ConsumedCapacity".to_string(), capacity);
    }
    Ok(Reply::Json(Json::Object(body)))
}

// ANCHOR: put_item
pub fn put_item(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    // 1. Validate.
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let table_name = table_name(&mut input, &mut checks)?;
    let item = item_member(&mut input, &mut checks, "Item", "item")?;
    let return_values = ReturnValues::decode(&mut input, &mut checks)?;
    let capacity_mode = ReturnConsumedCapacity::decode(&mut input, &mut checks)?;
    item_collection_metrics(&mut input, &mut checks)?;
    let return_old = return_old_on_failure(&mut input, &mut checks)?;
    let expressions = ExpressionMembers::decode(&mut input, &mut checks)?;
    checks.finish()?;
    let (Some(table_name), Some(item)) = (table_name, item) else {
        return Err(ApiError::internal("checks passed without required members"));
    };
    let return_values = return_values.only_old()?;
    let condition = compile(expressions, &["ConditionExpression"])?.condition;
    // 2. The table, 3. the key and the size.
    let table = ctx.backend.data_table(&table_name)?;
    let key = item_key(&table.meta()?.key_schema(), &item)?;
    let new_size = item_size(&item);
    if new_size > ITEM_SIZE_BYTES_MAX {
        return Err(step01_kv::error::ValidationError::ItemTooLarge.into());
    }
    // 4. Route and admit.
    let route = table.table.route(&key)?;
    capacity::admit(
        ctx,
        &table,
        &route,
        Demand::Write(write_units(None, Some(new_size))),
    )?;
    // 5. Apply, the condition checked against the item being replaced.
    let written = table
        .table
        .put_if(item, |current| check(condition.as_ref(), current));
    // 6. Meter and respond.
    let old = match written {
        Ok(outcome) => outcome.old_item,
        Err(ConditionalError::Table(error)) => return Err(error.into()),
        Err(ConditionalError::Condition(refused)) => {
            // Sized by the new item if one exists, 1 unit if none does.
            let charged = match &refused {
                Refused::Condition(None) => None,
                _ => Some(new_size),
            };
            return Err(refuse(ctx, &table, &route, refused, charged, return_old)?);
        }
    };
    let used = Demand::Write(write_units(old.as_ref().map(item_size), Some(new_size)));
    capacity::settle(ctx, &table, &route, used);
    let image = (return_values == ReturnValues::AllOld)
        .then_some(old.as_ref())
        .flatten();
    reply(
        "Attributes",
        image,
        consumed_capacity(capacity_mode, &table_name, used),
    )
}
// ANCHOR_END: put_item

/// Charges a refused write and turns it into the error to answer. A
/// failed condition costs the size of the new item, or 1 unit without one.
fn refuse(
    ctx: &RequestContext,
    table: &crate::catalog::TableHandle,
    route: &step03_partitioning::table::Route,
    refused: Refused,
    new_size: Option<usize>,
    return_old: bool,
) -> Result<ApiError, ApiError> {
    capacity::settle(
        ctx,
        table,
        route,
        Demand::Write(write_units(None, new_size)),
    );
    match refused {
        Refused::Condition(item) => condition_failed(item, return_old),
        Refused::Error(error) => Ok(error),
        Refused::Changed => Ok(ApiError::internal("a write raced an update")),
    }
}

pub fn get_item(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let table_name = table_name(&mut input, &mut checks)?;
    let key = item_member(&mut input, &mut checks, "Key", "key")?;
    let consistent = input.boolean("ConsistentRead")?.unwrap_or(false);
    let capacity_mode = ReturnConsumedCapacity::decode(&mut input, &mut checks)?;
    let expressions = ExpressionMembers::decode(&mut input, &mut checks)?;
    checks.finish()?;
    let (Some(table_name), Some(key)) = (table_name, key) else {
        return Err(ApiError::internal("checks passed without required members"));
    };
    let projection = compile(expressions, &[])?.projection;

    let table = ctx.backend.data_table(&table_name)?;
    let key = primary_key(&table.meta()?.key_schema(), &key)?;
    let route = table.table.route(&key)?;
    capacity::admit(ctx, &table, &route, Demand::Read(read_units(0, consistent)))?;
    // An eventually consistent read may be served by a replica that is
    // behind (step 4), and is charged half.
    let consistency = if consistent {
        ReadConsistency::Strong
    } else {
        ReadConsistency::Eventual
    };
    let item = table.table.get_with(&key, consistency)?;
    let used = Demand::Read(read_units(item.as_ref().map_or(0, item_size), consistent));
    capacity::settle(ctx, &table, &route, used);
    // Projection never reduces the charge: the whole item was read.
    let item = match (item, projection) {
        (Some(item), Some(paths)) => Some(expr::project(&item, &paths)),
        (item, _) => item,
    };
    reply(
        "Item",
        item.as_ref(),
        consumed_capacity(capacity_mode, &table_name, used),
    )
}

pub fn delete_item(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let table_name = table_name(&mut input, &mut checks)?;
    let key = item_member(&mut input, &mut checks, "Key", "key")?;
    let return_values = ReturnValues::decode(&mut input, &mut checks)?;
    let capacity_mode = ReturnConsumedCapacity::decode(&mut input, &mut checks)?;
    item_collection_metrics(&mut input, &mut checks)?;
    let return_old = return_old_on_failure(&mut input, &mut checks)?;
    let expressions = ExpressionMembers::decode(&mut input, &mut checks)?;
    checks.finish()?;
    let (Some(table_name), Some(key)) = (table_name, key) else {
        return Err(ApiError::internal("checks passed without required members"));
    };
    let return_values = return_values.only_old()?;
    let condition = compile(expressions, &["ConditionExpression"])?.condition;

    let table = ctx.backend.data_table(&table_name)?;
    let key = primary_key(&table.meta()?.key_schema(), &key)?;
    let route = table.table.route(&key)?;
    capacity::admit(ctx, &table, &route, Demand::Write(write_units(None, None)))?;
    let deleted = table
        .table
        .delete_if(&key, |current| check(condition.as_ref(), current));
    let old = match deleted {
        Ok(outcome) => outcome.old_item,
        Err(ConditionalError::Table(error)) => return Err(error.into()),
        Err(ConditionalError::Condition(refused)) => {
            // A failed delete condition is charged like a delete of the
            // item it was checked against.
            let size = match &refused {
                Refused::Condition(item) => item.as_ref().map(item_size),
                _ => None,
            };
            return Err(refuse(ctx, &table, &route, refused, size, return_old)?);
        }
    };
    let used = Demand::Write(write_units(old.as_ref().map(item_size), None));
    capacity::settle(ctx, &table, &route, used);
    let image = (return_values == ReturnValues::AllOld)
        .then_some(old.as_ref())
        .flatten();
    reply(
        "Attributes",
        image,
        consumed_capacity(capacity_mode, &table_name, used),
    )
}

// ANCHOR: update_item
pub fn update_item(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let table_name = table_name(&mut input, &mut checks)?;
    let key = item_member(&mut input, &mut checks, "Key", "key")?;
    let return_values = ReturnValues::decode(&mut input, &mut checks)?;
    let capacity_mode = ReturnConsumedCapacity::decode(&mut input, &mut checks)?;
    item_collection_metrics(&mut input, &mut checks)?;
    let return_old = return_old_on_failure(&mut input, &mut checks)?;
    let expressions = ExpressionMembers::decode(&mut input, &mut checks)?;
    checks.finish()?;
    let (Some(table_name), Some(key)) = (table_name, key) else {
        return Err(ApiError::internal("checks passed without required members"));
    };
    let compiled = compile(expressions, &["UpdateExpression", "ConditionExpression"])?;

    let table = ctx.backend.data_table(&table_name)?;
    let schema = table.meta()?.key_schema();
    let primary = primary_key(&schema, &key)?;
    let key = key_item(&schema, &key);
    // An update of a key attribute is refused before the item is read,
    // so a false condition cannot hide it.
    if let Some(update) = &compiled.update {
        update.check_key_targets(&key)?;
    }
    let route = table.table.route(&primary)?;
    capacity::admit(ctx, &table, &route, Demand::Write(write_units(None, None)))?;

    // Read (strongly), compute, write if unchanged: under the key's
    // stripe lock.
    let _stripe = table.lock_stripe(&primary.encode())?;
    for _ in 0..UPDATE_ATTEMPTS_MAX {
        let old = table.table.get(&primary)?;
        if let Err(refused) = check(compiled.condition.as_ref(), old.as_ref()) {
            let new_size = old.as_ref().map(item_size);
            return Err(refuse(ctx, &table, &route, refused, new_size, return_old)?);
        }
        // The update checks key attributes, types and the 400 KB limit.
        let updated = apply_update(compiled.update.as_ref(), old.as_ref(), &key)?;
        let new_size = updated.item.as_ref().map(item_size);
        if let Some(new_item) = &updated.item {
            let written = table.table.put_if(new_item.clone(), |current| {
                if current == old.as_ref() {
                    Ok(())
                } else {
                    Err(Refused::Changed)
                }
            });
            match written {
                Ok(_) => {}
                Err(ConditionalError::Condition(_)) => continue,
                Err(ConditionalError::Table(error)) => return Err(error.into()),
            }
        }
        let used = Demand::Write(write_units(old.as_ref().map(item_size), new_size));
        capacity::settle(ctx, &table, &route, used);
        let image = match return_values {
            ReturnValues::None => None,
            ReturnValues::AllOld => old.as_ref(),
            ReturnValues::AllNew => updated.item.as_ref(),
            ReturnValues::UpdatedOld => Some(&updated.updated_old).filter(|i| !i.is_empty()),
            ReturnValues::UpdatedNew => Some(&updated.updated_new).filter(|i| !i.is_empty()),
        };
        return reply(
            "Attributes",
            image,
            consumed_capacity(capacity_mode, &table_name, used),
        );
    }
    Err(ApiError::internal(format!(
        "an update lost {UPDATE_ATTEMPTS_MAX} races in a row"
    )))
}
// ANCHOR_END: update_item
