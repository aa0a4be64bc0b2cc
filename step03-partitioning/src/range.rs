//! Hash ranges: contiguous stretches of the ring, and the scan segments cut
//! from it.
//!
//! A [`HashRange`] is a closed interval `start..=end` of hashes. Closed on
//! both ends because the ring's last hash, `u128::MAX`, has no successor: an
//! exclusive end could not express "up to and including the top".
//!
//! Two things are cut from the ring into ranges, for two different reasons:
//!
//! * **Partitions** — the partition map's ranges, chosen by splits, so they
//!   follow the data.
//! * **Parallel-scan segments** — `TotalSegments` equal ranges, chosen by the
//!   client, independent of the partitions. A segment is a range of *hashes*,
//!   not of partitions, so segments stay disjoint and complete while
//!   partitions split underneath a scan.
//!
//! Invariant: `start <= end` for every range (the constructor refuses
//! anything else).

use std::fmt;

use crate::hash::{KeyHash, to_short_hex};

/// The number of hashes on the ring, as a float, for drawing and shares.
pub const RING_SIZE_F64: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;

/// DynamoDB's upper bound on `TotalSegments`.
pub const SCAN_SEGMENTS_MAX: u32 = 1_000_000;

/// The hashes `start..=end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashRange {
    start: KeyHash,
    end: KeyHash,
}

impl HashRange {
    /// The whole ring.
    pub const FULL: HashRange = HashRange {
        start: 0,
        end: KeyHash::MAX,
    };

    /// `start..=end`, or `None` if `start > end`.
    pub fn new(start: KeyHash, end: KeyHash) -> Option<HashRange> {
        (start <= end).then_some(HashRange { start, end })
    }

    pub fn start(&self) -> KeyHash {
        self.start
    }

    /// The last hash in the range (inclusive).
    pub fn end(&self) -> KeyHash {
        self.end
    }

    pub fn contains(&self, hash: KeyHash) -> bool {
        self.start <= hash && hash <= self.end
    }

    /// Cuts the range before `at`: `start..=at-1` and `at..=end`. `None`
    /// unless both halves are non-empty (`start < at <= end`).
    pub fn split_at(&self, at: KeyHash) -> Option<(HashRange, HashRange)> {
        if at <= self.start || at > self.end {
            return None;
        }
        Some((
            HashRange {
                start: self.start,
                end: at - 1,
            },
            HashRange {
                start: at,
                end: self.end,
            },
        ))
    }

    /// The share of the ring this range covers, in `(0, 1]`.
    pub fn ring_fraction(&self) -> f64 {
        ((self.end - self.start) as f64 + 1.0) / RING_SIZE_F64
    }

    /// The `index`-th of `count` equal ranges (the last one absorbs the
    /// rounding, at most `count - 1` extra hashes). `None` unless
    /// `index < count`.
    pub fn nth_of(index: u32, count: u32) -> Option<HashRange> {
        if index >= count {
            return None;
        }
        let width = KeyHash::MAX / KeyHash::from(count);
        let start = width * KeyHash::from(index);
        let end = if index + 1 == count {
            KeyHash::MAX
        } else {
            width * KeyHash::from(index + 1) - 1
        };
        HashRange::new(start, end)
    }

    /// The hash range of parallel-scan segment `segment` of `total_segments`,
    /// with DynamoDB's validation messages for bad parameters.
    pub fn segment(segment: u32, total_segments: u32) -> Result<HashRange, String> {
        if total_segments == 0 || total_segments > SCAN_SEGMENTS_MAX {
            return Err(format!(
                "1 validation error detected: Value '{total_segments}' at 'totalSegments' failed to satisfy constraint: Member must have value between 1 and {SCAN_SEGMENTS_MAX}"
            ));
        }
        HashRange::nth_of(segment, total_segments).ok_or_else(|| {
            format!(
                "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total_segments}"
            )
        })
    }
}

impl fmt::Display for HashRange {
    /// `[0a1b2c3d.., 7f000000..]`: the first 8 hex digits of each end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}.., {}..]",
            to_short_hex(self.start),
            to_short_hex(self.end)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_at_needs_two_non_empty_halves() {
        let range = HashRange::new(10, 20).unwrap();
        assert_eq!(range.split_at(10), None);
        assert_eq!(range.split_at(21), None);
        let (left, right) = range.split_at(11).unwrap();
        assert_eq!((left.start(), left.end()), (10, 10));
        assert_eq!((right.start(), right.end()), (11, 20));
        let (left, right) = HashRange::FULL.split_at(KeyHash::MAX).unwrap();
        assert_eq!(left.end(), KeyHash::MAX - 1);
        assert_eq!(right.start(), KeyHash::MAX);
        assert_eq!(HashRange::new(2, 1), None);
    }

    #[test]
    fn equal_ranges_are_contiguous_and_cover_the_ring() {
        for count in [1, 2, 3, 7, 1000, SCAN_SEGMENTS_MAX] {
            let first = HashRange::nth_of(0, count).unwrap();
            let last = HashRange::nth_of(count - 1, count).unwrap();
            assert_eq!(first.start(), 0);
            assert_eq!(last.end(), KeyHash::MAX);
            for index in [0, count / 2, count.saturating_sub(2)] {
                if index + 1 < count {
                    let a = HashRange::nth_of(index, count).unwrap();
                    let b = HashRange::nth_of(index + 1, count).unwrap();
                    assert_eq!(a.end() + 1, b.start(), "count {count}, index {index}");
                }
            }
            assert_eq!(HashRange::nth_of(count, count), None);
        }
        let fractions: f64 = (0..4)
            .map(|i| HashRange::nth_of(i, 4).unwrap().ring_fraction())
            .sum();
        assert!((fractions - 1.0).abs() < 1e-12);
    }

    #[test]
    fn segment_parameters_are_validated_with_dynamodb_messages() {
        assert_eq!(HashRange::segment(0, 1), Ok(HashRange::FULL));
        let error = HashRange::segment(3, 3).unwrap_err();
        assert!(error.contains("Segment: 3 is not less than TotalSegments: 3"));
        assert!(HashRange::segment(0, 0).is_err());
        assert!(HashRange::segment(0, SCAN_SEGMENTS_MAX + 1).is_err());
    }
}
