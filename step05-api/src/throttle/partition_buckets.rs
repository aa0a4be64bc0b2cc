//! One table's throttling state: a read bucket and a write bucket per
//! partition, and counters of what was admitted and throttled.
//!
//! DynamoDB enforces throughput per partition: a table's provisioned
//! capacity is spread over its partitions, so a table with ample capacity
//! can still throttle when its traffic piles onto one *hot* partition. Here:
//!
//! * **Provisioned** tables split their read and write capacity evenly: with
//!   `n` partitions each gets `1/n` of the rate (in whole milli-units; the
//!   remainder of the division is not handed out) and banks up to
//!   [`BURST_SECONDS`] of it. DynamoDB also caps every partition at 3,000
//!   RCU and 1,000 WCU, but it creates enough partitions for the provisioned
//!   rate, so the even share never reaches the cap; here the partition count
//!   comes from step 3's split policy instead, and capping the share would
//!   throttle tables DynamoDB would serve. So provisioned shares are not capped.
//! * **On-demand** tables have no provisioned rate; each partition is held
//!   to DynamoDB's per-partition ceilings, [`PARTITION_READ_UNITS_MAX`] and
//!   [`PARTITION_WRITE_UNITS_MAX`] per second, with no banked burst beyond
//!   one second: the ceiling is what one partition can physically serve.
//!
//! # Re-splitting
//!
//! When the partition count changes (a split) or the table's capacity
//! changes (UpdateTable), the buckets are rebuilt. Credit already
//! accumulated is kept: the balances of all old buckets, brought up to date,
//! are pooled, and each new bucket receives an equal share, in proportion
//! to its equal share of the rate, clamped to its new capacity. Debt is
//! pooled the same way, so splitting a partition is never a way to escape
//! throttling, and lowering the capacity clamps the credit to the new limit.
//!
//! Callers pass the partition count of the map they routed with; a count
//! different from the buckets' triggers the re-split first, so a request
//! routed by a newer map is never charged to the wrong bucket.

use std::time::Duration;

use step03_partitioning::map::PARTITIONS_MAX;

use crate::throttle::bucket::{Admission, BURST_SECONDS, CapacityUnits, TokenBucket};

/// Read units per second one partition can serve, in either capacity mode.
pub const PARTITION_READ_UNITS_MAX: u64 = 3_000;

/// Write units per second one partition can serve, in either capacity mode.
pub const PARTITION_WRITE_UNITS_MAX: u64 = 1_000;

/// Seconds of capacity an on-demand partition's bucket holds: no burst
/// above the ceiling.
pub const ON_DEMAND_BURST_SECONDS: u64 = 1;

/// The `__type` namespace of DynamoDB's own errors.
pub const DYNAMODB_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810";

/// How a table pays for throughput.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityMode {
    /// `PROVISIONED`: capacity units per second for the whole table.
    Provisioned {
        read_units_per_second: u64,
        write_units_per_second: u64,
    },
    /// `PAY_PER_REQUEST`.
    OnDemand,
}

/// Which of a table's two throughputs a request draws on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

/// A request refused for lack of capacity, rendered as DynamoDB's
/// `ProvisionedThroughputExceededException` (retried by every SDK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub kind: Kind,
    /// Whether the table is on-demand (the limit hit was a partition's
    /// ceiling) or provisioned (its configured rate).
    pub on_demand: bool,
}

impl Throttled {
    pub fn code(&self) -> &'static str {
        "ProvisionedThroughputExceededException"
    }

    /// The full `__type` of the JSON error body.
    pub fn type_name(&self) -> String {
        format!("{DYNAMODB_NAMESPACE}#{}", self.code())
    }

    pub fn http_status(&self) -> u16 {
        400
    }

    /// AWS's message for each case.
    pub fn message(&self) -> &'static str {
        if self.on_demand {
            "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
        } else {
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
        }
    }

    /// The `reason` of the error's optional `ThrottlingReasons` entry.
    pub fn reason(&self) -> &'static str {
        match (self.kind, self.on_demand) {
            (Kind::Read, false) => "TableReadProvisionedThroughputExceeded",
            (Kind::Write, false) => "TableWriteProvisionedThroughputExceeded",
            (Kind::Read, true) => "TableReadKeyRangeThroughputExceeded",
            (Kind::Write, true) => "TableWriteKeyRangeThroughputExceeded",
        }
    }

    /// What the router needs to render the error: `(__type, status, message)`.
    pub fn to_wire(&self) -> (String, u16, &'static str) {
        (self.type_name(), self.http_status(), self.message())
    }
}

/// Decisions of one kind, since the table's buckets were made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionCounts {
    pub admitted: u64,
    pub throttled: u64,
    /// Units debited for admitted requests.
    pub admitted_units: CapacityUnits,
}

/// A table's counters, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleCounters {
    pub reads: DecisionCounts,
    pub writes: DecisionCounts,
}

/// The buckets of one table's partitions (see the module documentation).
///
/// Invariant: `reads.len() == writes.len()`, between 1 and
/// [`PARTITIONS_MAX`].
#[derive(Clone, Debug)]
pub struct PartitionBuckets {
    mode: CapacityMode,
    reads: Vec<TokenBucket>,
    writes: Vec<TokenBucket>,
    counters: ThrottleCounters,
}

impl PartitionBuckets {
    /// Buckets for a table in `mode` with `partitions` partitions (clamped
    /// to 1..=[`PARTITIONS_MAX`]), each starting with one second of credit.
    pub fn new(mode: CapacityMode, partitions: usize, now: Duration) -> PartitionBuckets {
        let partitions = partitions.clamp(1, PARTITIONS_MAX);
        let make = |kind| {
            let (rate, burst) = partition_rate(mode, kind, partitions);
            (0..partitions)
                .map(|_| TokenBucket::new(rate, burst, now))
                .collect()
        };
        PartitionBuckets {
            mode,
            reads: make(Kind::Read),
            writes: make(Kind::Write),
            counters: ThrottleCounters::default(),
        }
    }

    pub fn mode(&self) -> CapacityMode {
        self.mode
    }

    pub fn partition_count(&self) -> usize {
        self.reads.len()
    }

    pub fn counters(&self) -> ThrottleCounters {
        self.counters
    }

    /// The bucket of `kind` for partition `index`.
    pub fn bucket(&self, index: usize, kind: Kind) -> Option<&TokenBucket> {
        self.buckets(kind).get(index)
    }

    // ANCHOR: admit
    /// Admits or throttles a request costing `units` of `kind` on partition
    /// `index` of a map with `partitions` partitions, and counts the decision.
    pub fn admit(
        &mut self,
        index: usize,
        partitions: usize,
        kind: Kind,
        units: CapacityUnits,
        now: Duration,
    ) -> Result<(), Throttled> {
        if partitions != self.partition_count() {
            self.resplit(self.mode, partitions, now);
        }
        let last = self.partition_count() - 1;
        let bucket = &mut self.buckets_mut(kind)[index.min(last)];
        let admission = bucket.try_consume(units, now);
        let counts = match kind {
            Kind::Read => &mut self.counters.reads,
            Kind::Write => &mut self.counters.writes,
        };
        match admission {
            Admission::Admitted => {
                counts.admitted = counts.admitted.saturating_add(1);
                counts.admitted_units = counts.admitted_units.saturating_add(units);
                Ok(())
            }
            Admission::Throttled => {
                counts.throttled = counts.throttled.saturating_add(1);
                Err(Throttled {
                    kind,
                    on_demand: self.mode == CapacityMode::OnDemand,
                })
            }
        }
    }
    // ANCHOR_END: admit

    /// Charges `units` of `kind` to partition `index` unconditionally: the
    /// part of a request's cost known only after it ran (a Query's items
    /// read, the size of the item a write replaced). The request was
    /// already admitted, so this only debits and counts the units.
    pub fn charge(
        &mut self,
        index: usize,
        partitions: usize,
        kind: Kind,
        units: CapacityUnits,
        now: Duration,
    ) {
        if partitions != self.partition_count() {
            self.resplit(self.mode, partitions, now);
        }
        let last = self.partition_count() - 1;
        self.buckets_mut(kind)[index.min(last)].debit(units, now);
        let counts = match kind {
            Kind::Read => &mut self.counters.reads,
            Kind::Write => &mut self.counters.writes,
        };
        counts.admitted_units = counts.admitted_units.saturating_add(units);
    }

    /// Switches the capacity mode or the provisioned rates (UpdateTable),
    /// keeping accumulated credit (see the module documentation).
    pub fn set_mode(&mut self, mode: CapacityMode, now: Duration) {
        self.resplit(mode, self.partition_count(), now);
    }

    /// Changes the partition count (a split), keeping accumulated credit.
    pub fn set_partition_count(&mut self, partitions: usize, now: Duration) {
        self.resplit(self.mode, partitions, now);
    }

    // ANCHOR: resplit
    fn resplit(&mut self, mode: CapacityMode, partitions: usize, now: Duration) {
        let partitions = partitions.clamp(1, PARTITIONS_MAX);
        for kind in [Kind::Read, Kind::Write] {
            let buckets = self.buckets_mut(kind);
            let pooled = buckets.iter_mut().fold(0_i128, |total, bucket| {
                bucket.refill(now);
                total.saturating_add(bucket.balance())
            });
            // Rounded down, also for debt: a re-split never creates credit.
            let share = pooled.div_euclid(i128::try_from(partitions).unwrap_or(1));
            let (rate, burst) = partition_rate(mode, kind, partitions);
            *buckets = (0..partitions)
                .map(|_| TokenBucket::with_balance(rate, burst, share, now))
                .collect();
        }
        self.mode = mode;
    }
    // ANCHOR_END: resplit

    fn buckets(&self, kind: Kind) -> &[TokenBucket] {
        match kind {
            Kind::Read => &self.reads,
            Kind::Write => &self.writes,
        }
    }

    fn buckets_mut(&mut self, kind: Kind) -> &mut Vec<TokenBucket> {
        match kind {
            Kind::Read => &mut self.reads,
            Kind::Write => &mut self.writes,
        }
    }
}

/// Each partition's rate and burst for `kind` in `mode`.
fn partition_rate(mode: CapacityMode, kind: Kind, partitions: usize) -> (CapacityUnits, u64) {
    match mode {
        CapacityMode::Provisioned {
            read_units_per_second,
            write_units_per_second,
        } => {
            let table = match kind {
                Kind::Read => read_units_per_second,
                Kind::Write => write_units_per_second,
            };
            let partitions = u64::try_from(partitions.max(1)).unwrap_or(u64::MAX);
            let share = CapacityUnits::from_units(table).milli() / partitions;
            (CapacityUnits::from_milli(share), BURST_SECONDS)
        }
        CapacityMode::OnDemand => {
            let ceiling = match kind {
                Kind::Read => PARTITION_READ_UNITS_MAX,
                Kind::Write => PARTITION_WRITE_UNITS_MAX,
            };
            (CapacityUnits::from_units(ceiling), ON_DEMAND_BURST_SECONDS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIT: i128 = 1_000_000_000_000;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn provisioned(read: u64, write: u64) -> CapacityMode {
        CapacityMode::Provisioned {
            read_units_per_second: read,
            write_units_per_second: write,
        }
    }

    fn units(n: u64) -> CapacityUnits {
        CapacityUnits::from_units(n)
    }

    #[test]
    fn provisioned_capacity_is_split_evenly() {
        let table = PartitionBuckets::new(provisioned(300, 40), 4, secs(0));
        assert_eq!(table.partition_count(), 4);
        assert_eq!(table.bucket(0, Kind::Read).unwrap().rate(), units(75));
        assert_eq!(table.bucket(3, Kind::Write).unwrap().rate(), units(10));
        assert_eq!(
            table.bucket(3, Kind::Write).unwrap().burst_seconds(),
            BURST_SECONDS
        );
        let odd = PartitionBuckets::new(provisioned(5, 1), 3, secs(0));
        assert_eq!(
            odd.bucket(0, Kind::Read).unwrap().rate(),
            CapacityUnits::from_milli(1_666)
        );
    }

    #[test]
    fn on_demand_partitions_get_the_ceilings() {
        let table = PartitionBuckets::new(CapacityMode::OnDemand, 2, secs(0));
        let read = table.bucket(1, Kind::Read).unwrap();
        assert_eq!(read.rate(), units(3_000));
        assert_eq!(read.capacity(), 3_000 * UNIT);
        assert_eq!(table.bucket(1, Kind::Write).unwrap().rate(), units(1_000));
    }

    #[test]
    fn a_hot_partition_throttles_while_others_serve() {
        let mut table = PartitionBuckets::new(provisioned(100, 100), 2, secs(0));
        // Partition 0 has 50 units of initial credit: five 10-unit reads pass.
        for _ in 0..5 {
            assert_eq!(table.admit(0, 2, Kind::Read, units(10), secs(0)), Ok(()));
        }
        let throttled = table
            .admit(0, 2, Kind::Read, units(10), secs(0))
            .unwrap_err();
        assert_eq!(throttled.reason(), "TableReadProvisionedThroughputExceeded");
        assert_eq!(
            throttled.to_wire().0,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
        );
        assert_eq!(table.admit(1, 2, Kind::Read, units(10), secs(0)), Ok(()));
        assert_eq!(table.admit(0, 2, Kind::Write, units(10), secs(0)), Ok(()));
        let counters = table.counters();
        assert_eq!(counters.reads.admitted, 6);
        assert_eq!(counters.reads.throttled, 1);
        assert_eq!(counters.reads.admitted_units, units(60));
        assert_eq!(counters.writes.admitted, 1);
    }

    #[test]
    fn a_split_keeps_the_pooled_credit() {
        let mut table = PartitionBuckets::new(provisioned(100, 100), 2, secs(0));
        // After 10 s each partition holds 50 + 500 = 550 units.
        table.set_partition_count(4, secs(10));
        let bucket = table.bucket(3, Kind::Read).unwrap();
        assert_eq!(bucket.rate(), units(25));
        assert_eq!(bucket.balance(), 275 * UNIT);
        // Merging back pools the credit again.
        table.set_partition_count(1, secs(10));
        assert_eq!(table.bucket(0, Kind::Read).unwrap().balance(), 1_100 * UNIT);
    }

    #[test]
    fn a_split_does_not_forgive_debt() {
        let mut table = PartitionBuckets::new(provisioned(10, 10), 1, secs(0));
        assert_eq!(table.admit(0, 1, Kind::Write, units(100), secs(0)), Ok(()));
        // The map now has two partitions: the buckets re-split on the way.
        let throttled = table.admit(1, 2, Kind::Write, units(1), secs(0));
        assert!(throttled.is_err());
        assert_eq!(table.partition_count(), 2);
        assert_eq!(table.bucket(0, Kind::Write).unwrap().balance(), -45 * UNIT);
    }

    #[test]
    fn lowering_capacity_clamps_credit_and_raising_keeps_it() {
        let mut table = PartitionBuckets::new(provisioned(100, 100), 1, secs(0));
        table.set_mode(provisioned(1, 100), secs(1_000));
        assert_eq!(table.bucket(0, Kind::Read).unwrap().balance(), 300 * UNIT);
        table.set_mode(provisioned(1_000, 100), secs(1_000));
        assert_eq!(table.bucket(0, Kind::Read).unwrap().balance(), 300 * UNIT);
        table.set_mode(CapacityMode::OnDemand, secs(1_000));
        assert_eq!(table.bucket(0, Kind::Read).unwrap().balance(), 300 * UNIT);
        assert_eq!(
            table.bucket(0, Kind::Write).unwrap().balance(),
            1_000 * UNIT
        );
        let throttled = Throttled {
            kind: Kind::Write,
            on_demand: true,
        };
        assert_eq!(throttled.reason(), "TableWriteKeyRangeThroughputExceeded");
    }

    #[test]
    fn costs_known_afterwards_are_charged() {
        let mut table = PartitionBuckets::new(provisioned(10, 10), 1, secs(0));
        assert_eq!(
            table.admit(0, 1, Kind::Read, CapacityUnits::from_milli(500), secs(0)),
            Ok(())
        );
        table.charge(0, 1, Kind::Read, units(20), secs(0));
        assert_eq!(
            table.bucket(0, Kind::Read).unwrap().balance(),
            -(10 * UNIT + UNIT / 2)
        );
        assert_eq!(
            table.counters().reads.admitted_units,
            CapacityUnits::from_milli(20_500)
        );
        assert_eq!(table.counters().reads.admitted, 1);
        assert!(table.admit(0, 1, Kind::Read, units(1), secs(1)).is_err());
    }

    #[test]
    fn out_of_range_counts_and_indexes_do_not_panic() {
        let mut table = PartitionBuckets::new(provisioned(10, 10), 0, secs(0));
        assert_eq!(table.partition_count(), 1);
        let _ = table.admit(usize::MAX, 0, Kind::Read, units(1), secs(0));
        let _ = table.admit(7, usize::MAX, Kind::Read, units(1), secs(0));
        assert_eq!(table.partition_count(), PARTITIONS_MAX);
        let _ = table.admit(usize::MAX, PARTITIONS_MAX, Kind::Read, units(1), secs(0));
    }
}
