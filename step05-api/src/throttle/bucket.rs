//! A token bucket: capacity that refills at a steady rate and banks what is
//! not used, up to a limit.
//!
//! A provisioned table promises `rate` capacity units per second. The
//! bucket holds the units the table may still spend: it gains `rate` every
//! second, each admitted request spends its units, and unused units are
//! kept for later, up to `rate × burst_seconds`. DynamoDB keeps up to
//! [`BURST_SECONDS`] (300 s, five minutes) of unused capacity this way, its
//! *burst credit*: a table that idled for five minutes can absorb a spike of
//! five minutes' worth of capacity at once.
//!
//! # Admit, then debit
//!
//! A request is admitted if the balance is **positive**, and then its
//! actual units are taken, which may leave the balance negative. The next
//! requests are throttled until the refill has paid the debt back.
//!
//! The alternative, admitting only when the balance already covers the
//! whole request, sounds stricter but is wrong for DynamoDB: a request's
//! cost is often known only after it ran (a Query's units depend on what
//! it read, a write's on the size of the item it replaced), and a request
//! larger than the bucket could *never* be admitted. A 400 KB item costs
//! 400 write units, more than a 1 WCU table banks in 300 s, yet DynamoDB
//! stores it. The reference names no pre-check; what it does say, a
//! per-second rate with 300 s of banked capacity, is what the balance
//! tracks. Over any stretch of time a bucket admits at most its credit at
//! the start, plus `rate × elapsed`, plus one request's overdraft.
//!
//! # Exact arithmetic
//!
//! The balance is an integer in *pico-units* (10⁻¹² capacity units).
//! Rates are whole milli-units per second and time is whole nanoseconds,
//! and one milli-unit per second for one nanosecond is exactly one
//! pico-unit, so a refill is one exact multiplication: nothing is rounded,
//! and a bucket refilled in a thousand small steps holds exactly what it
//! would after one big one. Everything saturates, so no clock value or
//! request size can overflow.
//!
//! Time comes in as a `Duration` since any fixed origin, as step 3's
//! `Clock::now()` reports it. A time earlier than the last one seen adds
//! nothing (the clock is treated as having stood still).

use std::time::Duration;

/// Seconds of unused capacity a provisioned bucket can bank: DynamoDB's
/// burst credit.
pub const BURST_SECONDS: u64 = 300;

/// Seconds of capacity a new bucket starts with, so a new table can serve
/// its rate from its first second. DynamoDB does not document this; one
/// second is the smallest choice that does not throttle a fresh table's
/// first request.
pub const INITIAL_CREDIT_SECONDS: u64 = 1;

/// Pico-units (the balance's unit) per milli-unit.
const PICO_PER_MILLI: i128 = 1_000_000_000;

/// An amount of read or write capacity, in thousandths of a unit.
///
/// Consumption is a multiple of 0.5 (an eventually consistent read of up to
/// 4 KB), so thousandths represent every DynamoDB charge exactly, and
/// integer arithmetic keeps buckets exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CapacityUnits {
    milli: u64,
}

impl CapacityUnits {
    pub const ZERO: CapacityUnits = CapacityUnits { milli: 0 };

    /// Whole units.
    pub const fn from_units(units: u64) -> CapacityUnits {
        CapacityUnits {
            milli: units.saturating_mul(1_000),
        }
    }

    /// Thousandths of a unit.
    pub const fn from_milli(milli: u64) -> CapacityUnits {
        CapacityUnits { milli }
    }

    /// The `CapacityUnits` double of a `ConsumedCapacity`, rounded up to a
    /// thousandth; NaN and negative amounts are zero.
    pub fn from_f64(units: f64) -> CapacityUnits {
        let milli = (units * 1_000.0).ceil();
        // `as` saturates at the bounds and maps NaN to 0.
        CapacityUnits {
            milli: if milli > 0.0 { milli as u64 } else { 0 },
        }
    }

    pub const fn milli(self) -> u64 {
        self.milli
    }

    /// As the double DynamoDB reports.
    pub fn as_f64(self) -> f64 {
        self.milli as f64 / 1_000.0
    }

    pub const fn saturating_add(self, other: CapacityUnits) -> CapacityUnits {
        CapacityUnits {
            milli: self.milli.saturating_add(other.milli),
        }
    }

    fn pico(self) -> i128 {
        i128::from(self.milli) * PICO_PER_MILLI
    }
}

/// Whether a request may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    Throttled,
}

/// One bucket (see the module documentation).
///
/// Invariant: `balance <= capacity`, where capacity is
/// `rate × burst_seconds`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    /// Units added per second.
    rate: CapacityUnits,
    /// Seconds of `rate` the bucket can hold.
    burst_seconds: u64,
    /// Units available now, in pico-units; negative while in debt.
    balance: i128,
    /// When the balance was last brought up to date.
    updated: Duration,
}

impl TokenBucket {
    /// A bucket refilling at `rate` per second, banking up to
    /// `burst_seconds` of it, holding [`INITIAL_CREDIT_SECONDS`] at `now`.
    pub fn new(rate: CapacityUnits, burst_seconds: u64, now: Duration) -> TokenBucket {
        let mut bucket = TokenBucket {
            rate,
            burst_seconds,
            balance: 0,
            updated: now,
        };
        bucket.balance = bucket.seconds_of_rate(INITIAL_CREDIT_SECONDS.min(burst_seconds));
        bucket
    }

    /// A bucket holding `balance` pico-units (clamped to its capacity) at `now`.
    pub fn with_balance(
        rate: CapacityUnits,
        burst_seconds: u64,
        balance: i128,
        now: Duration,
    ) -> TokenBucket {
        let mut bucket = TokenBucket {
            rate,
            burst_seconds,
            balance: 0,
            updated: now,
        };
        bucket.balance = balance.min(bucket.capacity());
        bucket
    }

    pub fn rate(&self) -> CapacityUnits {
        self.rate
    }

    pub fn burst_seconds(&self) -> u64 {
        self.burst_seconds
    }

    /// The most the bucket can hold, in pico-units.
    pub fn capacity(&self) -> i128 {
        self.seconds_of_rate(self.burst_seconds)
    }

    /// The balance as of the last refill, in pico-units.
    pub fn balance(&self) -> i128 {
        self.balance
    }

    /// The balance as of the last refill, in capacity units.
    pub fn balance_units(&self) -> f64 {
        self.balance as f64 / (PICO_PER_MILLI as f64 * 1_000.0)
    }

    // ANCHOR: refill
    /// Adds what `rate` earned since the last update, up to the capacity.
    pub fn refill(&mut self, now: Duration) {
        // EXERCISE(05.14): refill the bucket: rate × elapsed time, capped at the capacity, never moving time backwards
        let elapsed = now.saturating_sub(self.updated);
        let elapsed_nanos = i128::try_from(elapsed.as_nanos()).unwrap_or(i128::MAX);
        // milli-units per second × nanoseconds = pico-units, exactly.
        let earned = i128::from(self.rate.milli()).saturating_mul(elapsed_nanos);
        self.balance = self.balance.saturating_add(earned).min(self.capacity());
        self.updated = self.updated.max(now);
        // END EXERCISE
    }
    // ANCHOR_END: refill

    // ANCHOR: try_consume
    /// Admits a request costing `units` if the balance is positive, and
    /// debits it in full; otherwise throttles it and takes nothing.
    pub fn try_consume(&mut self, units: CapacityUnits, now: Duration) -> Admission {
        self.refill(now);
        if self.balance > 0 {
            self.balance = self.balance.saturating_sub(units.pico());
            Admission::Admitted
        } else {
            Admission::Throttled
        }
    }
    // ANCHOR_END: try_consume

    /// Charges `units` without asking: for work that already happened and
    /// must be paid for (a write that a condition check failed still costs).
    pub fn debit(&mut self, units: CapacityUnits, now: Duration) {
        self.refill(now);
        self.balance = self.balance.saturating_sub(units.pico());
    }

    /// `seconds` of this bucket's rate, in pico-units.
    fn seconds_of_rate(&self, seconds: u64) -> i128 {
        self.rate.pico().saturating_mul(i128::from(seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIT: i128 = 1_000 * PICO_PER_MILLI;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn ex05_14_refill_adds_rate_times_elapsed() {
        let mut bucket =
            TokenBucket::with_balance(CapacityUnits::from_units(10), BURST_SECONDS, 0, secs(0));
        bucket.refill(ms(250));
        assert_eq!(bucket.balance(), 10 * UNIT / 4);
        bucket.refill(secs(2));
        assert_eq!(bucket.balance(), 20 * UNIT);
    }

    #[test]
    fn ex05_14_refill_is_exact_for_fractional_rates() {
        // 0.5 units per second, refilled every millisecond for a second.
        let mut bucket =
            TokenBucket::with_balance(CapacityUnits::from_milli(500), BURST_SECONDS, 0, secs(0));
        for step in 1..=1_000 {
            bucket.refill(ms(step));
        }
        assert_eq!(bucket.balance(), UNIT / 2);
    }

    #[test]
    fn ex05_14_refill_pays_debt_back() {
        let mut bucket = TokenBucket::with_balance(
            CapacityUnits::from_units(10),
            BURST_SECONDS,
            -35 * UNIT,
            secs(0),
        );
        bucket.refill(secs(3));
        assert_eq!(bucket.balance(), -5 * UNIT);
    }

    #[test]
    fn ex05_14_burst_credit_stops_at_300_seconds() {
        let mut bucket = TokenBucket::new(CapacityUnits::from_units(10), BURST_SECONDS, secs(0));
        bucket.refill(secs(299));
        assert_eq!(bucket.balance(), 3_000 * UNIT);
        bucket.refill(secs(10_000));
        assert_eq!(bucket.balance(), bucket.capacity());
        assert_eq!(bucket.capacity(), 3_000 * UNIT);
    }

    #[test]
    fn ex05_14_time_going_backwards_adds_nothing() {
        let mut bucket =
            TokenBucket::with_balance(CapacityUnits::from_units(10), BURST_SECONDS, 0, secs(10));
        bucket.refill(secs(5));
        assert_eq!(bucket.balance(), 0);
        bucket.refill(secs(11));
        assert_eq!(bucket.balance(), 10 * UNIT);
    }

    #[test]
    fn a_throttled_burst() {
        // 10 WCU, one second of initial credit: ten 1-unit writes pass, then
        // the bucket is empty until time moves.
        let mut bucket = TokenBucket::new(CapacityUnits::from_units(10), BURST_SECONDS, secs(0));
        let one = CapacityUnits::from_units(1);
        let decisions: Vec<Admission> = (0..15).map(|_| bucket.try_consume(one, secs(0))).collect();
        assert_eq!(
            decisions
                .iter()
                .filter(|d| **d == Admission::Admitted)
                .count(),
            10
        );
        assert_eq!(decisions[10..], [Admission::Throttled; 5]);
        assert_eq!(bucket.try_consume(one, ms(100)), Admission::Admitted);
        assert_eq!(bucket.try_consume(one, ms(100)), Admission::Throttled);
    }

    #[test]
    fn a_large_request_is_admitted_into_debt_and_repaid() {
        // 1 WCU, 400 units at once: admitted, then 400 s of throttling.
        let mut bucket = TokenBucket::new(CapacityUnits::from_units(1), BURST_SECONDS, secs(0));
        let item = CapacityUnits::from_units(400);
        assert_eq!(bucket.try_consume(item, secs(0)), Admission::Admitted);
        assert_eq!(bucket.balance(), -399 * UNIT);
        let one = CapacityUnits::from_units(1);
        assert_eq!(bucket.try_consume(one, secs(399)), Admission::Throttled);
        assert_eq!(bucket.try_consume(one, secs(400)), Admission::Admitted);
    }

    #[test]
    fn capacity_units_convert_from_consumed_capacity() {
        assert_eq!(CapacityUnits::from_f64(0.5).milli(), 500);
        assert_eq!(CapacityUnits::from_f64(11.0).milli(), 11_000);
        assert_eq!(CapacityUnits::from_f64(0.0001).milli(), 1);
        assert_eq!(CapacityUnits::from_f64(-3.0).milli(), 0);
        assert_eq!(CapacityUnits::from_f64(f64::NAN).milli(), 0);
        assert_eq!(CapacityUnits::from_f64(f64::INFINITY).milli(), u64::MAX);
        assert_eq!(CapacityUnits::from_units(u64::MAX).milli(), u64::MAX);
        assert_eq!(CapacityUnits::from_milli(1_500).as_f64(), 1.5);
    }

    #[test]
    fn extreme_values_saturate() {
        let mut bucket = TokenBucket::new(
            CapacityUnits::from_milli(u64::MAX),
            u64::MAX,
            Duration::ZERO,
        );
        bucket.refill(Duration::MAX);
        assert!(bucket.balance() <= bucket.capacity());
        for _ in 0..3 {
            bucket.debit(CapacityUnits::from_milli(u64::MAX), Duration::MAX);
        }
        let mut small =
            TokenBucket::new(CapacityUnits::from_units(1), BURST_SECONDS, Duration::ZERO);
        for _ in 0..10 {
            small.debit(CapacityUnits::from_milli(u64::MAX), Duration::ZERO);
        }
        small.refill(Duration::MAX);
        assert_eq!(small.balance(), small.capacity());
    }
}
