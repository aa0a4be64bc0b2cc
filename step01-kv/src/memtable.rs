//! The memtable: the newest version of every key written since the log began,
//! sorted by key.
//!
//! The write-ahead log makes writes durable; the memtable makes them findable.
//! Writers append to the log first and apply to the memtable second, so the
//! memtable only ever holds writes that the log has accepted.
//!
//! Invariants:
//!
//! * **Newest wins.** The entry of a key carries the highest sequence number
//!   applied for it. Concurrent writers may apply in a different order than
//!   their log order (each applies after its own fsync); comparing sequence
//!   numbers makes the result independent of that order, and equal to what a
//!   replay of the log in order produces.
//! * **Deletes are entries.** A delete leaves a *tombstone* (an entry without
//!   a value) instead of removing the key, so that it can shadow an older
//!   value stored elsewhere — step 2 flushes memtables to files, and a
//!   tombstone there hides the value in older files.
//! * **Size is tracked.** `size_bytes` is the sum of [`entry_size_bytes`] over
//!   all entries; step 2 flushes the memtable when it grows too large.

use crate::engine::{KeyRange, KeyValue, ScanDirection, SequenceNumber};
use std::collections::BTreeMap;
use std::ops::RangeBounds;

/// Bytes charged for each entry on top of its key and value: the sequence
/// number, the tombstone flag and the tree's bookkeeping, roughly.
pub const ENTRY_OVERHEAD_BYTES: usize = 48;

/// The newest version of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The sequence number of the write that produced this version.
    pub seq: SequenceNumber,
    /// The value, or `None` for a tombstone (the key was deleted).
    pub value: Option<Vec<u8>>,
}

impl Entry {
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}

/// The approximate memory cost of one entry.
pub fn entry_size_bytes(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD_BYTES
}

/// An ordered map from key to its newest [`Entry`].
#[derive(Debug, Default)]
pub struct Memtable {
    entries: BTreeMap<Vec<u8>, Entry>,
    size_bytes: usize,
    max_seq: SequenceNumber,
}

impl Memtable {
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: memtable_apply
    /// Records that the write with sequence number `seq` set `key` to `value`
    /// (`None`: deleted it). An older write than the one already recorded
    /// for the key is ignored; an equal one replaces it, so the later of two
    /// operations on one key in the same batch wins.
    pub fn apply(&mut self, key: Vec<u8>, seq: SequenceNumber, value: Option<Vec<u8>>) {
        assert!(seq > 0, "sequence numbers start at 1");
        self.max_seq = self.max_seq.max(seq);
        // EXERCISE(01.6): keep the newest version of the key and the size accounting right
        let new_size = entry_size_bytes(&key, value.as_deref());
        match self.entries.get_mut(&key) {
            Some(current) if current.seq > seq => {} // A newer write got here first.
            Some(current) => {
                let old_size = entry_size_bytes(&key, current.value.as_deref());
                *current = Entry { seq, value };
                self.size_bytes = self.size_bytes - old_size + new_size;
            }
            None => {
                self.entries.insert(key, Entry { seq, value });
                self.size_bytes += new_size;
            }
        }
        // END EXERCISE
    }
    // ANCHOR_END: memtable_apply

    // ANCHOR: memtable_get
    /// The newest entry for `key`, tombstone included: a caller that also
    /// looks elsewhere (step 2's files) must stop at a tombstone.
    pub fn entry(&self, key: &[u8]) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// The newest value of `key`; `None` if absent or deleted.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entry(key).and_then(|entry| entry.value.as_deref())
    }
    // ANCHOR_END: memtable_get

    /// Every entry in `range` in the given direction, tombstones included.
    pub fn entries(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
    ) -> Box<dyn Iterator<Item = (&[u8], &Entry)> + '_> {
        if range.is_empty() {
            // `BTreeMap::range` panics on a range that ends before it starts.
            return Box::new(std::iter::empty());
        }
        let entries = self
            .entries
            .range::<[u8], _>((range.start_bound(), range.end_bound()))
            .map(|(key, entry)| (key.as_slice(), entry));
        match direction {
            ScanDirection::Forward => Box::new(entries),
            ScanDirection::Reverse => Box::new(entries.rev()),
        }
    }

    /// Up to `limit` live keys of `range` with their values, in `direction`.
    /// Tombstones are skipped and do not count towards the limit.
    pub fn scan(&self, range: &KeyRange, direction: ScanDirection, limit: usize) -> Vec<KeyValue> {
        self.entries(range, direction)
            .filter_map(|(key, entry)| Some((key.to_vec(), entry.value.clone()?)))
            .take(limit)
            .collect()
    }

    /// Number of entries, tombstones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The approximate memory held by the entries.
    pub fn size_bytes(&self) -> usize {
        self.size_bytes
    }

    /// The largest sequence number applied so far (0 if none).
    pub fn max_seq(&self) -> SequenceNumber {
        self.max_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Bound;

    fn recomputed_size(memtable: &Memtable) -> usize {
        memtable
            .entries(&KeyRange::all(), ScanDirection::Forward)
            .map(|(key, entry)| entry_size_bytes(key, entry.value.as_deref()))
            .sum()
    }

    #[test]
    fn ex01_6_newest_sequence_wins_in_any_apply_order() {
        let mut memtable = Memtable::new();
        memtable.apply(b"k".to_vec(), 7, Some(b"seven".to_vec()));
        memtable.apply(b"k".to_vec(), 5, Some(b"five".to_vec()));
        assert_eq!(
            memtable.get(b"k"),
            Some(b"seven".as_slice()),
            "an older write must not win"
        );
        memtable.apply(b"k".to_vec(), 9, Some(b"nine".to_vec()));
        assert_eq!(memtable.get(b"k"), Some(b"nine".as_slice()));
        assert_eq!(memtable.entry(b"k").map(|e| e.seq), Some(9));
        assert_eq!(memtable.len(), 1);
    }

    #[test]
    fn ex01_6_equal_sequence_replaces_so_the_later_op_in_a_batch_wins() {
        let mut memtable = Memtable::new();
        memtable.apply(b"k".to_vec(), 3, Some(b"first".to_vec()));
        memtable.apply(b"k".to_vec(), 3, Some(b"second".to_vec()));
        assert_eq!(memtable.get(b"k"), Some(b"second".as_slice()));
        memtable.apply(b"k".to_vec(), 3, None);
        assert_eq!(memtable.get(b"k"), None);
    }

    #[test]
    fn ex01_6_tombstones_hide_values_but_stay_as_entries() {
        let mut memtable = Memtable::new();
        memtable.apply(b"a".to_vec(), 1, Some(b"1".to_vec()));
        memtable.apply(b"b".to_vec(), 2, Some(b"2".to_vec()));
        memtable.apply(b"a".to_vec(), 3, None);
        assert_eq!(memtable.get(b"a"), None);
        assert_eq!(memtable.entry(b"a").map(Entry::is_tombstone), Some(true));
        // A late-arriving older put must not resurrect a deleted key.
        memtable.apply(b"a".to_vec(), 2, Some(b"late".to_vec()));
        assert_eq!(memtable.get(b"a"), None);
        assert_eq!(
            memtable.scan(&KeyRange::all(), ScanDirection::Forward, 10),
            vec![(b"b".to_vec(), b"2".to_vec())]
        );
        assert_eq!(memtable.len(), 2, "the tombstone is an entry");
    }

    #[test]
    fn ex01_6_size_tracks_replacements_and_tombstones() {
        let mut memtable = Memtable::new();
        assert_eq!(memtable.size_bytes(), 0);
        memtable.apply(b"key".to_vec(), 1, Some(vec![0; 100]));
        assert_eq!(memtable.size_bytes(), 3 + 100 + ENTRY_OVERHEAD_BYTES);
        memtable.apply(b"key".to_vec(), 2, Some(vec![0; 10]));
        assert_eq!(memtable.size_bytes(), 3 + 10 + ENTRY_OVERHEAD_BYTES);
        memtable.apply(b"key".to_vec(), 1, Some(vec![0; 1000]));
        assert_eq!(
            memtable.size_bytes(),
            3 + 10 + ENTRY_OVERHEAD_BYTES,
            "ignored writes cost nothing"
        );
        memtable.apply(b"key".to_vec(), 3, None);
        memtable.apply(b"other".to_vec(), 4, Some(vec![1; 7]));
        assert_eq!(memtable.size_bytes(), recomputed_size(&memtable));
        assert_eq!(memtable.max_seq(), 4);
    }

    #[test]
    fn scans_walk_ranges_in_both_directions_and_skip_tombstones() {
        let mut memtable = Memtable::new();
        for (seq, key) in (1..).zip([b"a", b"b", b"c", b"d", b"e"]) {
            memtable.apply(key.to_vec(), seq, Some(vec![seq as u8]));
        }
        memtable.apply(b"c".to_vec(), 10, None);
        let range = KeyRange::new(
            Bound::Excluded(b"a".to_vec()),
            Bound::Included(b"e".to_vec()),
        );
        let keys = |entries: Vec<KeyValue>| entries.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(memtable.scan(&range, ScanDirection::Forward, 10)),
            vec![b"b".to_vec(), b"d".to_vec(), b"e".to_vec()]
        );
        assert_eq!(
            keys(memtable.scan(&range, ScanDirection::Reverse, 2)),
            vec![b"e".to_vec(), b"d".to_vec()]
        );
        assert_eq!(
            memtable.entries(&range, ScanDirection::Forward).count(),
            4,
            "entries include the tombstone"
        );
        let inverted = KeyRange::new(
            Bound::Included(b"d".to_vec()),
            Bound::Included(b"b".to_vec()),
        );
        assert!(
            memtable
                .scan(&inverted, ScanDirection::Forward, 10)
                .is_empty()
        );
    }
}
