//! Capacity units: what each request costs, how it is reported, and where
//! throttling decides whether it may run at all.
//!
//! DynamoDB meters work in *capacity units* sized by its item-size rules
//! (step 1's `size` module), not by bytes moved:
//!
//! | request | units |
//! |---|---|
//! | strongly consistent read | ⌈item size / 4 KB⌉, at least 1 (a miss costs 1) |
//! | eventually consistent read | half of that |
//! | write (put, update, delete) | ⌈max(old size, new size) / 1 KB⌉, at least 1 |
//!
//! A write is charged for the larger of the item before and after, because
//! DynamoDB must read the old item to replace it; a delete of a missing item
//! and a failed condition still cost one unit.
//!
//! The client sees the charge only if it asks, with `ReturnConsumedCapacity`:
//! `TOTAL` gives `{"TableName":"T","CapacityUnits":1.0,"ReadCapacityUnits":1.0}`
//! (`WriteCapacityUnits` for a write: the total, and the kind of units it
//! is made of, as DynamoDB's newer responses say), `INDEXES` adds the
//! table's own share, `"Table":{"CapacityUnits":1.0,"ReadCapacityUnits":1.0}`
//! (and, in step 6, one entry per index touched).
//!
//! [`admit`] and [`settle`] are where the `throttle` module's per-partition
//! token buckets hold provisioned tables to their throughput: admit takes
//! what a request is known to cost before it runs, settle charges the rest.
//! Throttling is off unless the server is configured with it; capacity is
//! always computed.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json, json};
use step03_partitioning::table::Route;

use crate::catalog::TableHandle;
use crate::decode::{Checks, Members, enums};
use crate::error::ApiError;
use crate::registry::RequestContext;
use crate::throttle::{CapacityUnits, Kind};

/// A read capacity unit covers up to 4 KB of item.
pub const READ_UNIT_BYTES: usize = 4096;
/// A write capacity unit covers up to 1 KB of item.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// What the client asked to be told about consumption.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReturnConsumedCapacity {
    #[default]
    None,
    Total,
    Indexes,
}

impl ReturnConsumedCapacity {
    /// Reads the `ReturnConsumedCapacity` member.
    pub fn decode(input: &mut Members, checks: &mut Checks) -> Result<Self, ApiError> {
        let Some(text) = input.string("ReturnConsumedCapacity")? else {
            return Ok(ReturnConsumedCapacity::None);
        };
        if !checks.one_of(
            "returnConsumedCapacity",
            &text,
            enums::RETURN_CONSUMED_CAPACITY,
        ) {
            return Ok(ReturnConsumedCapacity::None);
        }
        Ok(match text.as_str() {
            "TOTAL" => ReturnConsumedCapacity::Total,
            "INDEXES" => ReturnConsumedCapacity::Indexes,
            _ => ReturnConsumedCapacity::None,
        })
    }
}

// ANCHOR: units
/// Read units for an item of `item_bytes` (0 for a miss).
pub fn read_units(item_bytes: usize, consistent: bool) -> f64 {
    let units = item_bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units for replacing an item of `old_bytes` (`None`: there was
/// none) by one of `new_bytes` (`None`: a delete).
pub fn write_units(old_bytes: Option<usize>, new_bytes: Option<usize>) -> f64 {
    // EXERCISE(05.2): charge the larger of the old and new item, in whole 1 KB units, at least one unit
    let charged = old_bytes.max(new_bytes).unwrap_or(0);
    charged.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
    // END EXERCISE
}
// ANCHOR_END: units

/// Whether a request reads or writes, for the throttle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Demand {
    Read(f64),
    Write(f64),
}

impl Demand {
    pub fn units(self) -> f64 {
        match self {
            Demand::Read(units) | Demand::Write(units) => units,
        }
    }

    /// The throttle's bucket for this demand.
    pub fn kind(self) -> Kind {
        match self {
            Demand::Read(_) => Kind::Read,
            Demand::Write(_) => Kind::Write,
        }
    }
}

/// The `ConsumedCapacity` member of a single-table response, or `None`
/// when the client did not ask. `table_name` is what the client sent (an
/// ARN stays an ARN).
pub fn consumed_capacity(
    mode: ReturnConsumedCapacity,
    table_name: &str,
    demand: Demand,
) -> Option<Json> {
    let units = demand.units();
    let kind = match demand {
        Demand::Read(_) => "ReadCapacityUnits",
        Demand::Write(_) => "WriteCapacityUnits",
    };
    let mut consumed = Map::new();
    consumed.insert("TableName".into(), json!(table_name));
    consumed.insert("CapacityUnits".into(), json!(units));
    consumed.insert(kind.into(), json!(units));
    match mode {
        ReturnConsumedCapacity::None => return None,
        ReturnConsumedCapacity::Total => {}
        ReturnConsumedCapacity::Indexes => {
            consumed.insert(
                "Table".into(),
                json!({ "CapacityUnits": units, kind: units }),
            );
        }
    }
    Some(Json::Object(consumed))
}

// ANCHOR: throttle_slot
/// Asks the throttle whether a request may run at `route`'s partition,
/// with `estimate` as its expected cost (the real cost of a write is known
/// only after it, from the old item). The partition's token bucket takes
/// the estimate now, or the request is refused with
/// `ProvisionedThroughputExceededException` and nothing runs. With
/// throttling off every request is admitted.
pub fn admit(
    ctx: &RequestContext,
    table: &TableHandle,
    route: &Route,
    estimate: Demand,
) -> Result<(), ApiError> {
    if !ctx.backend.throttling {
        return Ok(());
    }
    let (index, partitions) = partition_position(table, route)?;
    let units = CapacityUnits::from_f64(estimate.units());
    table
        .buckets()?
        .admit(index, partitions, estimate.kind(), units, throttle_now())?;
    ctx.admitted_milli
        .fetch_add(units.milli(), Ordering::Relaxed);
    Ok(())
}

/// Tells the throttle what an admitted request really consumed: the
/// bucket is charged what the estimate did not cover.
pub fn settle(ctx: &RequestContext, table: &TableHandle, route: &Route, used: Demand) {
    let admitted = ctx.admitted_milli.swap(0, Ordering::Relaxed);
    if !ctx.backend.throttling {
        return;
    }
    let kind = used.kind();
    let used = CapacityUnits::from_f64(used.units());
    let extra = CapacityUnits::from_milli(used.milli().saturating_sub(admitted));
    if extra == CapacityUnits::ZERO {
        return;
    }
    let Ok((index, partitions)) = partition_position(table, route) else {
        return;
    };
    if let Ok(mut buckets) = table.buckets() {
        buckets.charge(index, partitions, kind, extra, throttle_now());
    }
}
// ANCHOR_END: throttle_slot

/// The position of `route`'s partition in the current map, and how many
/// partitions there are.
fn partition_position(table: &TableHandle, route: &Route) -> Result<(usize, usize), ApiError> {
    let map = table.table.partition_map()?;
    let index = map.find(route.partition).map_or(0, |(index, _)| index);
    Ok((index, map.len()))
}

/// The throttle's clock: time since the first request of this process.
/// Buckets only compare instants, so any fixed origin will do.
pub fn throttle_now() -> Duration {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_units_round_up_and_halve() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(8 * 1024, false), 1.0);
    }

    #[test]
    fn ex05_2_write_units_charge_the_larger_item() {
        assert_eq!(write_units(None, Some(10)), 1.0);
        assert_eq!(write_units(None, None), 1.0, "a delete of nothing costs 1");
        assert_eq!(write_units(Some(3000), Some(500)), 3.0);
        assert_eq!(write_units(Some(500), Some(3000)), 3.0);
        assert_eq!(write_units(Some(1024), Some(1024)), 1.0);
        assert_eq!(write_units(Some(1025), None), 2.0);
        assert_eq!(write_units(None, Some(400 * 1024)), 400.0);
    }

    #[test]
    fn shapes() {
        assert_eq!(
            consumed_capacity(ReturnConsumedCapacity::None, "T", Demand::Read(1.0)),
            None
        );
        assert_eq!(
            consumed_capacity(ReturnConsumedCapacity::Total, "T", Demand::Read(0.5)).unwrap(),
            json!({"TableName": "T", "CapacityUnits": 0.5, "ReadCapacityUnits": 0.5})
        );
        assert_eq!(
            consumed_capacity(ReturnConsumedCapacity::Indexes, "T", Demand::Write(2.0)).unwrap(),
            json!({
                "TableName": "T", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0,
                "Table": {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}
            })
        );
    }
}
