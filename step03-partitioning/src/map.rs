//! The partition map: which partition owns which hash range, at which epoch.
//!
//! The map is a sorted list of `(partition id, hash range)` entries plus two
//! counters:
//!
//! * the **epoch**, which grows by one with every change of the map. A
//!   request is routed with the map of some epoch; the epoch tells, later,
//!   which map that was.
//! * the **next partition id**. Ids are never reused, so a partition's
//!   directory, statistics and log lines always mean one partition, even
//!   after it has been split away.
//!
//! Routing is a binary search: the entries are sorted by range, and the
//! ranges are contiguous, so the owner of a hash is the first entry whose
//! range ends at or after it.
//!
//! A map is a value: a split does not edit it but makes the next one
//! ([`PartitionMap::with_split`]), and the table swaps the whole map at once.
//! Readers holding the old map keep a consistent (if stale) picture.
//!
//! Invariants, checked by [`PartitionMap::check`] whenever a map is built or
//! decoded:
//! 1. at least one entry and at most [`PARTITIONS_MAX`];
//! 2. the ranges are sorted, contiguous and cover `0..=u128::MAX`;
//! 3. ids are unique and below `next_id`; the epoch is at least 1.

use std::collections::BTreeSet;
use std::fmt;

use crate::hash::KeyHash;
use crate::range::HashRange;

/// The most partitions one table may have. Each is an engine with open
/// files, so this bounds a table's file handles and the map's size.
pub const PARTITIONS_MAX: usize = 4096;

/// A partition's identity: assigned once, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId(pub u64);

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// One entry of the map: a partition and the hashes it owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionEntry {
    pub id: PartitionId,
    pub range: HashRange,
}

/// The partitions of a table and their hash ranges, at one epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMap {
    epoch: u64,
    next_id: u64,
    entries: Vec<PartitionEntry>,
}

impl PartitionMap {
    /// The map of a new table: `count` equal ranges with ids `1..=count`, at
    /// epoch 1.
    pub fn new(count: u32) -> Result<PartitionMap, String> {
        let entries = (0..count)
            .filter_map(|index| HashRange::nth_of(index, count))
            .zip(1..)
            .map(|(range, id)| PartitionEntry {
                id: PartitionId(id),
                range,
            })
            .collect();
        PartitionMap::from_parts(1, u64::from(count) + 1, entries)
    }

    /// A map from its parts, if they satisfy the invariants.
    pub fn from_parts(
        epoch: u64,
        next_id: u64,
        entries: Vec<PartitionEntry>,
    ) -> Result<PartitionMap, String> {
        let map = PartitionMap {
            epoch,
            next_id,
            entries,
        };
        map.check()?;
        Ok(map)
    }

    /// Checks the invariants of the module docs.
    pub fn check(&self) -> Result<(), String> {
        if self.epoch == 0 {
            return Err("the epoch starts at 1".to_string());
        }
        if self.entries.is_empty() || self.entries.len() > PARTITIONS_MAX {
            return Err(format!(
                "a map has 1 to {PARTITIONS_MAX} partitions, not {}",
                self.entries.len()
            ));
        }
        let mut expected_start = Some(0);
        let mut ids = BTreeSet::new();
        for entry in &self.entries {
            if Some(entry.range.start()) != expected_start {
                return Err(format!(
                    "partition {} does not start where the one before ends",
                    entry.id
                ));
            }
            expected_start = entry.range.end().checked_add(1);
            if entry.id.0 >= self.next_id || !ids.insert(entry.id) {
                return Err(format!(
                    "partition id {} is reused or not yet issued",
                    entry.id
                ));
            }
        }
        if expected_start.is_some() {
            return Err("the ranges do not reach the end of the ring".to_string());
        }
        Ok(())
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The id the next new partition gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The entries, sorted by hash range.
    pub fn entries(&self) -> &[PartitionEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true: a map has at least one partition.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    // ANCHOR: routing
    /// The index of the entry whose range holds `hash`.
    pub fn index_for(&self, hash: KeyHash) -> usize {
        // EXERCISE(03.2): binary-search the sorted, contiguous ranges for the entry that holds the hash
        self.entries
            .partition_point(|entry| entry.range.end() < hash)
        // END EXERCISE
    }

    /// The partition that owns `hash`.
    pub fn partition_for(&self, hash: KeyHash) -> PartitionEntry {
        let entry = self.entries[self.index_for(hash)];
        assert!(
            entry.range.contains(hash),
            "routing found the owner of {hash:x}"
        );
        entry
    }
    // ANCHOR_END: routing

    /// The entry of partition `id`, with its index.
    pub fn find(&self, id: PartitionId) -> Option<(usize, PartitionEntry)> {
        self.entries
            .iter()
            .position(|entry| entry.id == id)
            .map(|index| (index, self.entries[index]))
    }

    /// The next map: partition `id` replaced by two children that own
    /// `start..at` and `at..=end`, with fresh ids, at the next epoch.
    pub fn with_split(
        &self,
        id: PartitionId,
        at: KeyHash,
    ) -> Result<(PartitionMap, [PartitionEntry; 2]), String> {
        let (index, parent) = self
            .find(id)
            .ok_or_else(|| format!("partition {id} is not in the map"))?;
        let (left, right) = parent
            .range
            .split_at(at)
            .ok_or_else(|| format!("{at:x} does not split {}", parent.range))?;
        let children = [
            PartitionEntry {
                id: PartitionId(self.next_id),
                range: left,
            },
            PartitionEntry {
                id: PartitionId(self.next_id + 1),
                range: right,
            },
        ];
        let mut entries = self.entries.clone();
        entries.splice(index..=index, children);
        let next = PartitionMap::from_parts(self.epoch + 1, self.next_id + 2, entries)?;
        Ok((next, children))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map with ranges ending at the given hashes (the last must be MAX).
    fn map_with_ends(ends: &[KeyHash]) -> PartitionMap {
        let mut start = 0;
        let mut entries = Vec::new();
        for (i, &end) in ends.iter().enumerate() {
            entries.push(PartitionEntry {
                id: PartitionId(i as u64 + 1),
                range: HashRange::new(start, end).unwrap(),
            });
            start = end.wrapping_add(1);
        }
        PartitionMap::from_parts(1, ends.len() as u64 + 1, entries).unwrap()
    }

    fn linear_search(map: &PartitionMap, hash: KeyHash) -> usize {
        map.entries()
            .iter()
            .position(|entry| entry.range.contains(hash))
            .unwrap()
    }

    #[test]
    fn ex03_2_routes_every_boundary_to_its_owner() {
        let map = map_with_ends(&[9, 10, 1000, KeyHash::MAX / 2, KeyHash::MAX]);
        let cases = [
            (0, 0),
            (9, 0),
            (10, 1),
            (11, 2),
            (1000, 2),
            (1001, 3),
            (KeyHash::MAX / 2, 3),
            (KeyHash::MAX / 2 + 1, 4),
            (KeyHash::MAX, 4),
        ];
        for (hash, index) in cases {
            assert_eq!(map.index_for(hash), index, "hash {hash}");
            assert_eq!(map.partition_for(hash).id, PartitionId(index as u64 + 1));
        }
    }

    #[test]
    fn ex03_2_agrees_with_a_linear_search() {
        let map = PartitionMap::new(37).unwrap();
        let mut hash: KeyHash = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            // A cheap, deterministic spread of hashes over the ring.
            hash = hash
                .wrapping_mul(0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15)
                .wrapping_add(1);
            assert_eq!(map.index_for(hash), linear_search(&map, hash));
        }
        let single = PartitionMap::new(1).unwrap();
        assert_eq!(single.index_for(0), 0);
        assert_eq!(single.index_for(KeyHash::MAX), 0);
    }

    #[test]
    fn new_maps_are_even_and_valid() {
        let map = PartitionMap::new(4).unwrap();
        assert_eq!(map.epoch(), 1);
        assert_eq!(map.next_id(), 5);
        assert_eq!(map.len(), 4);
        assert!(PartitionMap::new(0).is_err());
        assert!(PartitionMap::new(PARTITIONS_MAX as u32 + 1).is_err());
    }

    #[test]
    fn a_split_makes_the_next_epoch_with_fresh_ids() {
        let map = PartitionMap::new(2).unwrap();
        let parent = map.entries()[0];
        let at = parent.range.end() / 4;
        let (next, [left, right]) = map.with_split(parent.id, at).unwrap();
        assert_eq!(next.epoch(), 2);
        assert_eq!((left.id, right.id), (PartitionId(3), PartitionId(4)));
        assert_eq!(next.next_id(), 5);
        assert_eq!(
            next.entries().iter().map(|e| e.id.0).collect::<Vec<_>>(),
            vec![3, 4, 2]
        );
        assert_eq!(left.range.end() + 1, at);
        assert_eq!(next.partition_for(at).id, right.id);
        assert!(next.find(parent.id).is_none());
        assert!(
            map.with_split(parent.id, 0).is_err(),
            "both halves non-empty"
        );
        assert!(
            next.with_split(parent.id, at).is_err(),
            "the parent is gone"
        );
    }

    #[test]
    fn broken_maps_are_refused() {
        let good = PartitionMap::new(2).unwrap();
        let e = good.entries().to_vec();
        assert!(
            PartitionMap::from_parts(0, 3, e.clone()).is_err(),
            "epoch 0"
        );
        assert!(
            PartitionMap::from_parts(1, 2, e.clone()).is_err(),
            "id not issued"
        );
        let twice = vec![
            e[0],
            PartitionEntry {
                id: e[0].id,
                range: e[1].range,
            },
        ];
        assert!(PartitionMap::from_parts(1, 3, twice).is_err(), "id reused");
        let gap = vec![
            e[0],
            PartitionEntry {
                id: e[1].id,
                range: HashRange::new(e[1].range.start() + 1, KeyHash::MAX).unwrap(),
            },
        ];
        assert!(PartitionMap::from_parts(1, 3, gap).is_err(), "gap");
        assert!(PartitionMap::from_parts(1, 3, vec![e[0]]).is_err(), "short");
        assert!(
            PartitionMap::from_parts(1, 3, vec![e[1], e[0]]).is_err(),
            "unsorted"
        );
    }
}
