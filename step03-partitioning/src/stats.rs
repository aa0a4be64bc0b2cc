//! What a partition knows about itself: how big it is and how busy.
//!
//! Two kinds of numbers drive splits:
//!
//! * **Size**: the item count and the bytes stored (storage key plus encoded
//!   item, per item). Kept exact: every write adjusts them by the difference
//!   between the old and the new item, and opening a partition counts them
//!   afresh.
//! * **Load**: capacity units consumed, in DynamoDB's units — a read unit is
//!   up to 4 KB read, a write unit up to 1 KB written, each rounded up per
//!   item. Load is a *rate*, so it is kept in a [`LoadWindow`]: one bucket per
//!   second over the last [`LOAD_WINDOW_SECONDS`], a ring of fixed size (the
//!   memory is bounded however long the partition lives). Time comes from
//!   the injected [`crate::clock::Clock`].
//!
//! Load is not persisted: after a restart a partition starts cold, which is
//! what its recent load honestly is.
//!
//! Invariants: a window never holds units older than its width; the size
//! counters never go below zero (an underflow would mean a write was
//! counted twice, and is caught in debug builds).

use std::time::Duration;

/// A read capacity unit covers up to 4 KB.
pub const READ_UNIT_BYTES: u64 = 4096;
/// A write capacity unit covers up to 1 KB.
pub const WRITE_UNIT_BYTES: u64 = 1024;
/// How far back the load window looks.
pub const LOAD_WINDOW_SECONDS: u64 = 60;

/// Strongly consistent read units for reading `bytes` (at least one: even a
/// miss is charged).
pub fn read_units(bytes: u64) -> u64 {
    bytes.div_ceil(READ_UNIT_BYTES).max(1)
}

/// Write units for writing `bytes` (at least one).
pub fn write_units(bytes: u64) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1)
}

/// Units consumed per second over the last [`LOAD_WINDOW_SECONDS`].
#[derive(Clone, Debug)]
pub struct LoadWindow {
    /// `(second, units)`, the bucket of second `s` at index
    /// `s % LOAD_WINDOW_SECONDS`. A bucket whose second is too old is stale
    /// and counts as zero.
    buckets: [(u64, u64); LOAD_WINDOW_SECONDS as usize],
}

impl Default for LoadWindow {
    fn default() -> Self {
        LoadWindow {
            buckets: [(0, 0); LOAD_WINDOW_SECONDS as usize],
        }
    }
}

impl LoadWindow {
    /// Adds `units` consumed at time `now`.
    pub fn record(&mut self, now: Duration, units: u64) {
        let second = now.as_secs();
        let bucket = &mut self.buckets[(second % LOAD_WINDOW_SECONDS) as usize];
        if bucket.0 != second {
            *bucket = (second, 0);
        }
        bucket.1 = bucket.1.saturating_add(units);
    }

    /// The units consumed in the window ending at `now`.
    pub fn total(&self, now: Duration) -> u64 {
        let second = now.as_secs();
        let oldest = second.saturating_sub(LOAD_WINDOW_SECONDS - 1);
        self.buckets
            .iter()
            .filter(|(at, _)| (oldest..=second).contains(at))
            .map(|(_, units)| units)
            .fold(0, |sum: u64, units| sum.saturating_add(*units))
    }

    /// The average rate over the whole window, in units per second. A
    /// burst shorter than the window counts for less: this is *sustained*
    /// load.
    pub fn per_second(&self, now: Duration) -> f64 {
        self.total(now) as f64 / LOAD_WINDOW_SECONDS as f64
    }
}

/// A partition's size and load counters.
#[derive(Clone, Debug, Default)]
pub struct PartitionStats {
    pub item_count: u64,
    pub size_bytes: u64,
    pub reads: LoadWindow,
    pub writes: LoadWindow,
}

/// A snapshot of a partition's statistics at one moment: the pure input of
/// the split policy.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PartitionLoad {
    pub item_count: u64,
    pub size_bytes: u64,
    pub read_units_per_second: f64,
    pub write_units_per_second: f64,
}

impl PartitionStats {
    /// Accounts for an item of `old` stored bytes being replaced by one of
    /// `new` bytes (`None`: absent before, or deleted).
    pub fn replace(&mut self, old: Option<u64>, new: Option<u64>) {
        if let Some(old) = old {
            debug_assert!(
                self.item_count >= 1 && self.size_bytes >= old,
                "stats underflow"
            );
            self.item_count = self.item_count.saturating_sub(1);
            self.size_bytes = self.size_bytes.saturating_sub(old);
        }
        if let Some(new) = new {
            self.item_count += 1;
            self.size_bytes += new;
        }
    }

    /// The snapshot at `now`.
    pub fn load(&self, now: Duration) -> PartitionLoad {
        PartitionLoad {
            item_count: self.item_count,
            size_bytes: self.size_bytes,
            read_units_per_second: self.reads.per_second(now),
            write_units_per_second: self.writes.per_second(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn units_round_up_per_item_and_never_drop_to_zero() {
        assert_eq!(read_units(0), 1);
        assert_eq!(read_units(4096), 1);
        assert_eq!(read_units(4097), 2);
        assert_eq!(write_units(1), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(2500), 3);
    }

    #[test]
    fn the_window_forgets_what_is_older_than_its_width() {
        let mut window = LoadWindow::default();
        window.record(secs(10), 30);
        window.record(secs(10), 30);
        window.record(secs(40), 60);
        assert_eq!(window.total(secs(40)), 120);
        assert_eq!(window.per_second(secs(40)), 2.0);
        // Second 10 leaves the window at second 70; second 40 at 100.
        assert_eq!(window.total(secs(69)), 120);
        assert_eq!(window.total(secs(70)), 60);
        assert_eq!(window.total(secs(100)), 0);
        // A bucket is reused for a later second: the old units are gone.
        window.record(secs(100), 5);
        assert_eq!(window.total(secs(100)), 5);
    }

    #[test]
    fn size_counters_follow_replacements() {
        let mut stats = PartitionStats::default();
        stats.replace(None, Some(100));
        stats.replace(None, Some(50));
        stats.replace(Some(100), Some(70));
        assert_eq!((stats.item_count, stats.size_bytes), (2, 120));
        stats.replace(Some(50), None);
        assert_eq!((stats.item_count, stats.size_bytes), (1, 70));
        let load = stats.load(secs(0));
        assert_eq!(load.item_count, 1);
        assert_eq!(load.size_bytes, 70);
    }
}
