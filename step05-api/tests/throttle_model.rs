//! The token bucket against a model that refills one millisecond at a time.
//!
//! The bucket refills lazily with one multiplication per call; the model
//! adds one millisecond's worth at a time and caps after every step, the
//! way the rule is stated ("gains `rate` every second, keeps at most
//! 300 s of it"). Both use integers (the model counts micro-units, and one
//! millisecond of one milli-unit per second is exactly one micro-unit), so
//! they must agree exactly, decision by decision and balance by balance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use proptest::prelude::*;
use step05_api::throttle::bucket::INITIAL_CREDIT_SECONDS;
use step05_api::throttle::partition_buckets::PARTITION_WRITE_UNITS_MAX;
use step05_api::throttle::{
    Admission, BURST_SECONDS, CapacityMode, CapacityUnits, Kind, PartitionBuckets, TokenBucket,
};

/// Pico-units per micro-unit.
const PICO_PER_MICRO: i128 = 1_000_000;

#[derive(Clone, Debug)]
enum Op {
    /// Move the clock forward by this many milliseconds.
    Advance(u64),
    /// Move the clock forward by whole seconds (to reach the burst cap).
    AdvanceSeconds(u64),
    /// A request costing this many milli-units.
    Consume(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0_u64..1_500).prop_map(Op::Advance),
        1 => (1_u64..400).prop_map(Op::AdvanceSeconds),
        6 => prop_oneof![0_u64..5_000, 0_u64..2_000_000].prop_map(Op::Consume),
    ]
}

/// The rule, step by step, in micro-units.
struct Model {
    rate_milli: i128,
    capacity_micro: i128,
    balance_micro: i128,
}

impl Model {
    fn new(rate_milli: u64) -> Model {
        let per_second = i128::from(rate_milli) * 1_000;
        Model {
            rate_milli: i128::from(rate_milli),
            capacity_micro: per_second * i128::from(BURST_SECONDS),
            balance_micro: per_second * i128::from(INITIAL_CREDIT_SECONDS),
        }
    }

    fn tick_millisecond(&mut self) {
        self.balance_micro = (self.balance_micro + self.rate_milli).min(self.capacity_micro);
    }

    fn consume(&mut self, milli: u64) -> Admission {
        if self.balance_micro > 0 {
            self.balance_micro -= i128::from(milli) * 1_000;
            Admission::Admitted
        } else {
            Admission::Throttled
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_bucket_agrees_with_the_model(
        rate_milli in prop_oneof![1_u64..2_000, 1_000_u64..200_000],
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let rate = CapacityUnits::from_milli(rate_milli);
        let mut now = Duration::ZERO;
        let mut bucket = TokenBucket::new(rate, BURST_SECONDS, now);
        let mut model = Model::new(rate_milli);
        for op in ops {
            match op {
                Op::Advance(ms) => {
                    now += Duration::from_millis(ms);
                    for _ in 0..ms {
                        model.tick_millisecond();
                    }
                }
                Op::AdvanceSeconds(seconds) => {
                    now += Duration::from_secs(seconds);
                    for _ in 0..seconds * 1_000 {
                        model.tick_millisecond();
                    }
                }
                Op::Consume(milli) => {
                    let decision = bucket.try_consume(CapacityUnits::from_milli(milli), now);
                    prop_assert_eq!(decision, model.consume(milli));
                }
            }
            bucket.refill(now);
            prop_assert_eq!(bucket.balance(), model.balance_micro * PICO_PER_MICRO);
            prop_assert!(bucket.balance() <= bucket.capacity());
        }
    }

    /// Over any run, a bucket admits at most its starting credit, plus what
    /// the rate earned, plus the overdraft of one request.
    #[test]
    fn admitted_units_are_bounded_by_credit_and_rate(
        rate_units in 1_u64..100,
        requests in prop::collection::vec((0_u64..300, 1_u64..50_000), 1..200),
    ) {
        let rate = CapacityUnits::from_units(rate_units);
        let mut bucket = TokenBucket::new(rate, BURST_SECONDS, Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut admitted_milli: u128 = 0;
        let mut largest_milli: u128 = 0;
        for (gap_ms, cost_milli) in requests {
            now += Duration::from_millis(gap_ms);
            if bucket.try_consume(CapacityUnits::from_milli(cost_milli), now) == Admission::Admitted {
                admitted_milli += u128::from(cost_milli);
                largest_milli = largest_milli.max(u128::from(cost_milli));
            }
        }
        let rate_milli = u128::from(rate.milli());
        let initial = rate_milli * u128::from(INITIAL_CREDIT_SECONDS);
        let earned = rate_milli * now.as_millis() / 1_000;
        prop_assert!(admitted_milli <= initial + earned + largest_milli);
    }

    /// Re-splitting never creates credit, and loses only the remainder of
    /// the division, unless the new buckets are too small to hold it.
    #[test]
    fn resplitting_conserves_credit(
        write_units in 1_u64..5_000,
        before in 1_usize..16,
        after in 1_usize..16,
        idle_seconds in 0_u64..400,
        spend in prop::collection::vec((0_usize..16, 0_u64..5_000), 0..20),
    ) {
        let mode = CapacityMode::Provisioned { read_units_per_second: 1, write_units_per_second: write_units };
        let mut table = PartitionBuckets::new(mode, before, Duration::ZERO);
        let now = Duration::from_secs(idle_seconds);
        for (index, units) in spend {
            let _ = table.admit(index % before, before, Kind::Write, CapacityUnits::from_units(units), now);
        }
        // Every balance brought up to `now`, as the re-split does first.
        let sum = |table: &PartitionBuckets| -> i128 {
            (0..table.partition_count())
                .map(|i| {
                    let mut bucket = table.bucket(i, Kind::Write).unwrap().clone();
                    bucket.refill(now);
                    bucket.balance()
                })
                .sum()
        };
        let pooled = sum(&table);
        table.set_partition_count(after, now);
        let resplit = sum(&table);
        let capacity: i128 = (0..after).map(|i| table.bucket(i, Kind::Write).unwrap().capacity()).sum();
        prop_assert!(resplit <= pooled);
        prop_assert!(resplit >= pooled.min(capacity) - i128::try_from(after).unwrap());
    }
}

#[test]
fn on_demand_writes_stop_at_the_partition_ceiling() {
    let mut table = PartitionBuckets::new(CapacityMode::OnDemand, 1, Duration::ZERO);
    let mut admitted = 0;
    let mut now = Duration::ZERO;
    // 10 seconds of 1-unit writes, 5,000 per second, evenly spaced.
    for _ in 0..50_000 {
        now += Duration::from_micros(200);
        if table
            .admit(0, 1, Kind::Write, CapacityUnits::from_units(1), now)
            .is_ok()
        {
            admitted += 1;
        }
    }
    // The first second's credit plus 1,000 units per second, and no more.
    let ceiling = PARTITION_WRITE_UNITS_MAX * 11;
    assert!(admitted <= ceiling, "{admitted}");
    assert!(admitted >= ceiling - 2, "{admitted}");
    assert_eq!(table.counters().writes.admitted, admitted);
    assert_eq!(table.counters().writes.throttled, 50_000 - admitted);
}
