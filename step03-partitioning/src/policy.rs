//! The split policy: *whether* to split a partition and *where*. Pure
//! functions over statistics and key samples; the executor in
//! [`crate::split`] does the work.
//!
//! DynamoDB splits a partition for two reasons:
//!
//! * **Size.** A partition holds about 10 GB ([`DYNAMODB_PARTITION_SIZE_BYTES`]).
//!   Here the limit is a small teaching value ([`SPLIT_SIZE_BYTES_DEFAULT`])
//!   so that splits happen on a laptop within seconds; tests set their own.
//! * **Sustained load.** A partition serves at most 3,000 read units and
//!   1,000 write units per second ([`PARTITION_READ_UNITS_PER_SECOND_MAX`],
//!   [`PARTITION_WRITE_UNITS_PER_SECOND_MAX`]). A partition that keeps
//!   consuming more, averaged over the load window, is split so that each
//!   half gets a full share of capacity ("split for heat").
//!
//! Where to cut: the *middle of the range* is the obvious answer and a poor
//! one. Keys are spread evenly by MD5 only on average; a partition that
//! grew because of a few large item collections has its bytes wherever
//! those collections hash to. So the cut is chosen from the observed key
//! distribution: the hash at which the items before it hold half of the
//! partition's bytes (a weighted median). One item collection is never cut
//! (all its items share one hash), so a partition holding a single
//! collection cannot be split, however big — DynamoDB's item collection
//! limit of 10 GB exists for exactly this reason.
//!
//! Invariant: a split point `at` satisfies `range.start < at <= range.end`
//! and leaves at least one sampled item on each side.

use crate::hash::KeyHash;
use crate::range::HashRange;
use crate::stats::PartitionLoad;

/// DynamoDB's partition size, for comparison: about 10 GB.
pub const DYNAMODB_PARTITION_SIZE_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// The default size at which a partition splits here: 8 MiB, small enough
/// to watch splits happen.
pub const SPLIT_SIZE_BYTES_DEFAULT: u64 = 8 * 1024 * 1024;
/// DynamoDB's per-partition read ceiling.
pub const PARTITION_READ_UNITS_PER_SECOND_MAX: f64 = 3000.0;
/// DynamoDB's per-partition write ceiling.
pub const PARTITION_WRITE_UNITS_PER_SECOND_MAX: f64 = 1000.0;

/// When a partition is split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitPolicy {
    /// Split when the stored bytes exceed this.
    pub size_bytes_max: u64,
    /// Split when sustained reads exceed this many units per second.
    pub read_units_per_second_max: f64,
    /// Split when sustained writes exceed this many units per second.
    pub write_units_per_second_max: f64,
}

impl Default for SplitPolicy {
    fn default() -> Self {
        SplitPolicy {
            size_bytes_max: SPLIT_SIZE_BYTES_DEFAULT,
            read_units_per_second_max: PARTITION_READ_UNITS_PER_SECOND_MAX,
            write_units_per_second_max: PARTITION_WRITE_UNITS_PER_SECOND_MAX,
        }
    }
}

/// Why the policy wants a partition split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitReason {
    Size { size_bytes: u64 },
    WriteLoad { units_per_second: f64 },
    ReadLoad { units_per_second: f64 },
}

// ANCHOR: split_decision
/// Whether a partition with this load should be split, and why. A partition
/// with fewer than two items is never split: there is nothing to divide.
/// Size is checked first, then writes, then reads.
pub fn decide(load: &PartitionLoad, policy: &SplitPolicy) -> Option<SplitReason> {
    // EXERCISE(03.5): decide whether to split: by size, then by sustained write load, then read load (never with fewer than two items)
    if load.item_count < 2 {
        return None;
    }
    if load.size_bytes > policy.size_bytes_max {
        return Some(SplitReason::Size {
            size_bytes: load.size_bytes,
        });
    }
    if load.write_units_per_second > policy.write_units_per_second_max {
        return Some(SplitReason::WriteLoad {
            units_per_second: load.write_units_per_second,
        });
    }
    if load.read_units_per_second > policy.read_units_per_second_max {
        return Some(SplitReason::ReadLoad {
            units_per_second: load.read_units_per_second,
        });
    }
    None
    // END EXERCISE
}
// ANCHOR_END: split_decision

/// One observation of a partition's key distribution: the hash of an item
/// and the stored bytes it stands for (its own, or those of the items since
/// the previous sample when only every n-th item is sampled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySample {
    pub hash: KeyHash,
    pub weight: u64,
}

// ANCHOR: split_point
/// Where to cut `range`, given samples of its items sorted by hash: the first
/// sampled hash at which the samples before it carry at least half of the
/// total weight. The cut must leave a sample on each side, so it is never
/// the first sample's hash; if no hash reaches half (the weight sits in the
/// last collection), the last possible cut is taken. `None` when every
/// sample has the same hash (one item collection) or there are none.
pub fn choose_split_point(range: &HashRange, samples: &[KeySample]) -> Option<KeyHash> {
    // EXERCISE(03.3): choose the split point from the key distribution: the first hash where the weight before it reaches half, with both sides non-empty
    let total: u128 = samples.iter().map(|s| u128::from(s.weight)).sum();
    let mut before: u128 = 0;
    let mut previous: Option<KeyHash> = None;
    let mut last_cut = None;
    for sample in samples {
        let is_new_hash = previous.is_some_and(|hash| hash < sample.hash);
        if is_new_hash && range.split_at(sample.hash).is_some() {
            if 2 * before >= total {
                return Some(sample.hash);
            }
            last_cut = Some(sample.hash);
        }
        before += u128::from(sample.weight);
        previous = Some(sample.hash);
    }
    last_cut
    // END EXERCISE
}
// ANCHOR_END: split_point

#[cfg(test)]
mod tests {
    use super::*;

    fn load(items: u64, bytes: u64, reads: f64, writes: f64) -> PartitionLoad {
        PartitionLoad {
            item_count: items,
            size_bytes: bytes,
            read_units_per_second: reads,
            write_units_per_second: writes,
        }
    }

    fn policy() -> SplitPolicy {
        SplitPolicy {
            size_bytes_max: 1000,
            read_units_per_second_max: 30.0,
            write_units_per_second_max: 10.0,
        }
    }

    fn samples(hashes: &[KeyHash]) -> Vec<KeySample> {
        hashes
            .iter()
            .map(|&hash| KeySample { hash, weight: 1 })
            .collect()
    }

    #[test]
    fn ex03_5_splits_by_size_and_by_sustained_load() {
        let p = policy();
        assert_eq!(
            decide(&load(10, 1000, 30.0, 10.0), &p),
            None,
            "at the limits"
        );
        assert_eq!(
            decide(&load(10, 1001, 0.0, 0.0), &p),
            Some(SplitReason::Size { size_bytes: 1001 })
        );
        assert_eq!(
            decide(&load(10, 10, 0.0, 10.5), &p),
            Some(SplitReason::WriteLoad {
                units_per_second: 10.5
            })
        );
        assert_eq!(
            decide(&load(10, 10, 31.0, 0.0), &p),
            Some(SplitReason::ReadLoad {
                units_per_second: 31.0
            })
        );
    }

    #[test]
    fn ex03_5_size_comes_first_then_writes_and_one_item_never_splits() {
        let p = policy();
        assert!(matches!(
            decide(&load(10, 5000, 99.0, 99.0), &p),
            Some(SplitReason::Size { .. })
        ));
        assert!(matches!(
            decide(&load(10, 10, 99.0, 99.0), &p),
            Some(SplitReason::WriteLoad { .. })
        ));
        assert_eq!(decide(&load(1, 1 << 40, 1e9, 1e9), &p), None);
        assert_eq!(decide(&load(0, 0, 0.0, 0.0), &p), None);
        let defaults = SplitPolicy::default();
        assert!(defaults.size_bytes_max < DYNAMODB_PARTITION_SIZE_BYTES);
        assert_eq!(defaults.write_units_per_second_max, 1000.0);
    }

    #[test]
    fn ex03_3_uniform_samples_split_at_the_median() {
        let hashes: Vec<KeyHash> = (1..=100).map(|i| i << 120).collect();
        let at = choose_split_point(&HashRange::FULL, &samples(&hashes)).unwrap();
        assert_eq!(at, 51 << 120, "50 samples on each side");
    }

    #[test]
    fn ex03_3_follows_the_data_not_the_middle_of_the_range() {
        // Every key in the lowest eighth of the ring: the midpoint of the
        // range would leave the right half empty.
        let hashes: Vec<KeyHash> = (0..64).map(|i| (i << 118) + 7).collect();
        let at = choose_split_point(&HashRange::FULL, &samples(&hashes)).unwrap();
        assert_eq!(at, (32 << 118) + 7);
        assert!(at < KeyHash::MAX / 8);
    }

    #[test]
    fn ex03_3_weights_count_bytes_not_items() {
        let mut weighted = samples(&[10, 20, 30, 40, 50]);
        weighted[0].weight = 100;
        let range = HashRange::new(0, 1000).unwrap();
        assert_eq!(choose_split_point(&range, &weighted), Some(20));
        // The weight in the last collection: cut before it.
        let mut heavy_tail = samples(&[10, 20, 30]);
        heavy_tail[2].weight = 100;
        assert_eq!(choose_split_point(&range, &heavy_tail), Some(30));
    }

    #[test]
    fn ex03_3_one_collection_cannot_be_split() {
        let range = HashRange::new(100, 200).unwrap();
        assert_eq!(choose_split_point(&range, &samples(&[150, 150, 150])), None);
        assert_eq!(choose_split_point(&range, &samples(&[150])), None);
        assert_eq!(choose_split_point(&range, &[]), None);
        // Two collections: the cut is at the second, never at the first.
        assert_eq!(
            choose_split_point(&range, &samples(&[100, 100, 200])),
            Some(200)
        );
    }

    #[test]
    fn ex03_3_cuts_leave_samples_on_both_sides() {
        let range = HashRange::new(1000, 1_000_000).unwrap();
        let mut state: u64 = 12345;
        for round in 0..200 {
            let count = 2 + round % 20;
            let mut drawn: Vec<KeySample> = (0..count)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let hash = 1000 + KeyHash::from(state >> 40) % 999_001;
                    KeySample {
                        hash: hash / 7 * 7,
                        weight: 1 + (state >> 58),
                    }
                })
                .collect();
            drawn.sort_by_key(|s| s.hash);
            let distinct = drawn.windows(2).any(|w| w[0].hash != w[1].hash);
            let Some(at) = choose_split_point(&range, &drawn) else {
                assert!(!distinct, "round {round}: a cut existed");
                continue;
            };
            assert!(range.split_at(at).is_some());
            assert!(
                drawn.iter().any(|s| s.hash < at),
                "round {round}: left empty"
            );
            assert!(
                drawn.iter().any(|s| s.hash >= at),
                "round {round}: right empty"
            );
            let total: u64 = drawn.iter().map(|s| s.weight).sum();
            let left: u64 = drawn.iter().filter(|s| s.hash < at).map(|s| s.weight).sum();
            let last_hash = drawn.last().unwrap().hash;
            assert!(
                2 * left >= total || at == last_hash,
                "round {round}: too far left"
            );
        }
    }
}
