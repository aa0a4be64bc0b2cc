//! The LSM tree's memtable: every version of every key written since the
//! last flush, readable at any snapshot.
//!
//! Step 1's [`Memtable`](step01_kv::memtable::Memtable) keeps only the
//! newest version of a key, which is all a store that never flushes needs.
//! Here a reader pins a *snapshot* — a sequence number — and must see the
//! tree as it was then, while writers go on applying newer batches to the
//! same memtable. So each key keeps all its versions, newest first, and a
//! read picks the newest one at or below its snapshot. Old versions go away
//! when the memtable is flushed: the table keeps only the newest.
//!
//! Invariants:
//!
//! * **Versions newest first.** A key's versions are sorted by sequence
//!   number, descending, without duplicates; an equal number replaces (the
//!   later of two operations on one key in one batch wins).
//! * **Append-only.** Versions are never removed, so an iterator that reads
//!   the memtable in chunks, releasing the lock in between, sees the same
//!   versions at or below its snapshot on every chunk.
//! * **Size is tracked.** `size_bytes` is the sum of step 1's
//!   [`entry_size_bytes`] over all versions.

use crate::sstable::InternalEntry;
use std::collections::{BTreeMap, VecDeque};
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use step01_kv::engine::{
    BatchOp, KeyRange, Result, ScanDirection, SequenceNumber, StorageError, WriteBatch,
};
use step01_kv::memtable::{Entry, entry_size_bytes};

/// Keys an iterator copies out of the memtable per lock hold: bounds both
/// the time a writer may wait for the lock and the iterator's buffer.
pub const ITER_CHUNK_KEYS: usize = 128;

/// The versions of one key: `(seq, value)`, newest first; `None` deletes.
type Versions = Vec<(SequenceNumber, Option<Vec<u8>>)>;

/// A multi-version, thread-safe memtable.
#[derive(Debug, Default)]
pub struct Memtable {
    map: RwLock<BTreeMap<Vec<u8>, Versions>>,
    /// Kept outside the lock so writers can check for "full" cheaply.
    size_bytes: AtomicUsize,
}

impl Memtable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies every operation of batch `seq`, in order, under one lock
    /// hold.
    pub fn apply_batch(&self, seq: SequenceNumber, batch: WriteBatch) -> Result<()> {
        assert!(seq > 0, "sequence numbers start at 1");
        let mut map = self.map.write().map_err(|_| poisoned())?;
        let (mut added, mut removed) = (0, 0);
        for op in batch.into_ops() {
            let (key, value) = match op {
                BatchOp::Put { key, value } => (key, Some(value)),
                BatchOp::Delete { key } => (key, None),
            };
            added += entry_size_bytes(&key, value.as_deref());
            if let Some(versions) = map.get_mut(key.as_slice()) {
                let position = versions.partition_point(|(existing, _)| *existing > seq);
                match versions.get_mut(position) {
                    Some((existing, old)) if *existing == seq => {
                        removed += entry_size_bytes(&key, old.as_deref());
                        *old = value;
                    }
                    _ => versions.insert(position, (seq, value)),
                }
                debug_assert!(versions.windows(2).all(|pair| pair[0].0 > pair[1].0));
            } else {
                map.insert(key, vec![(seq, value)]);
            }
        }
        self.size_bytes.fetch_add(added, Ordering::Relaxed);
        self.size_bytes.fetch_sub(removed, Ordering::Relaxed);
        Ok(())
    }

    /// The newest version of `key` at or below `snapshot`, tombstones
    /// included: a tombstone means "stop looking, it is deleted".
    pub fn get(&self, key: &[u8], snapshot: SequenceNumber) -> Result<Option<Entry>> {
        let map = self.map.read().map_err(|_| poisoned())?;
        Ok(map
            .get(key)
            .and_then(|versions| newest_visible(versions, snapshot)))
    }

    /// The approximate memory held by all versions.
    pub fn size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.map.read().map_err(|_| poisoned())?.is_empty())
    }

    /// The newest version at or below `snapshot` of every key in `range`,
    /// tombstones included, in `direction`. Reads the memtable in chunks of
    /// [`ITER_CHUNK_KEYS`] keys, so writers are never held up for long.
    pub fn iter(
        self: &Arc<Self>,
        range: KeyRange,
        direction: ScanDirection,
        snapshot: SequenceNumber,
    ) -> MemtableIter {
        MemtableIter {
            memtable: Arc::clone(self),
            exhausted: range.is_empty(),
            range,
            direction,
            snapshot,
            buffer: VecDeque::new(),
        }
    }
}

fn newest_visible(versions: &Versions, snapshot: SequenceNumber) -> Option<Entry> {
    versions
        .iter()
        .find(|(seq, _)| *seq <= snapshot)
        .map(|(seq, value)| Entry {
            seq: *seq,
            value: value.clone(),
        })
}

fn poisoned() -> StorageError {
    StorageError::Failed {
        reason: "a thread panicked while holding a memtable lock".to_string(),
    }
}

/// See [`Memtable::iter`]. Yields one entry per key, so its output is in
/// the internal order [`crate::merge`] expects.
#[derive(Debug)]
pub struct MemtableIter {
    memtable: Arc<Memtable>,
    /// What is left to read: the bound behind us moves past each chunk.
    range: KeyRange,
    direction: ScanDirection,
    snapshot: SequenceNumber,
    buffer: VecDeque<InternalEntry>,
    exhausted: bool,
}

impl MemtableIter {
    /// Copies the next chunk of keys into the buffer.
    fn refill(&mut self) -> Result<()> {
        let map = self.memtable.map.read().map_err(|_| poisoned())?;
        let bounds = (self.range.start_bound(), self.range.end_bound());
        let keys: Box<dyn Iterator<Item = (&Vec<u8>, &Versions)>> = match self.direction {
            ScanDirection::Forward => Box::new(map.range::<[u8], _>(bounds)),
            ScanDirection::Reverse => Box::new(map.range::<[u8], _>(bounds).rev()),
        };
        let mut seen = 0;
        let mut last_key = None;
        for (key, versions) in keys.take(ITER_CHUNK_KEYS) {
            seen += 1;
            if let Some(entry) = newest_visible(versions, self.snapshot) {
                self.buffer.push_back(InternalEntry {
                    key: key.clone(),
                    seq: entry.seq,
                    value: entry.value,
                });
            }
            last_key = Some(key.clone());
        }
        if seen < ITER_CHUNK_KEYS {
            self.exhausted = true;
        }
        if let Some(last_key) = last_key {
            match self.direction {
                ScanDirection::Forward => self.range.start = Bound::Excluded(last_key),
                ScanDirection::Reverse => self.range.end = Bound::Excluded(last_key),
            }
            if self.range.is_empty() {
                self.exhausted = true;
            }
        }
        Ok(())
    }
}

impl Iterator for MemtableIter {
    type Item = Result<InternalEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        // Each pass yields, ends, or reads a chunk that moves the range on.
        loop {
            if let Some(entry) = self.buffer.pop_front() {
                return Some(Ok(entry));
            }
            if self.exhausted {
                return None;
            }
            if let Err(error) = self.refill() {
                self.exhausted = true;
                return Some(Err(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(ops: &[(&str, Option<&str>)]) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for (key, value) in ops {
            match value {
                Some(value) => batch.put(key.as_bytes(), value.as_bytes()),
                None => batch.delete(key.as_bytes()),
            };
        }
        batch
    }

    fn keys(iter: MemtableIter) -> Vec<(String, SequenceNumber)> {
        iter.map(|e| {
            let e = e.unwrap();
            (String::from_utf8(e.key).unwrap(), e.seq)
        })
        .collect()
    }

    #[test]
    fn reads_see_the_newest_version_at_their_snapshot_in_any_apply_order() {
        let memtable = Memtable::new();
        memtable
            .apply_batch(7, batch(&[("k", Some("seven"))]))
            .unwrap();
        memtable
            .apply_batch(3, batch(&[("k", Some("three"))]))
            .unwrap();
        memtable.apply_batch(5, batch(&[("k", None)])).unwrap();
        let get = |snapshot| memtable.get(b"k", snapshot).unwrap();
        assert_eq!(get(2), None);
        assert_eq!(get(3).unwrap().value, Some(b"three".to_vec()));
        assert_eq!(
            get(6).unwrap(),
            Entry {
                seq: 5,
                value: None
            }
        );
        assert_eq!(get(100).unwrap().value, Some(b"seven".to_vec()));
    }

    #[test]
    fn the_later_op_on_a_key_in_one_batch_wins_and_size_is_exact() {
        let memtable = Memtable::new();
        memtable
            .apply_batch(1, batch(&[("k", Some("a-long-value")), ("k", Some("b"))]))
            .unwrap();
        assert_eq!(
            memtable.get(b"k", 1).unwrap().unwrap().value,
            Some(b"b".to_vec())
        );
        assert_eq!(memtable.size_bytes(), entry_size_bytes(b"k", Some(b"b")));
        memtable
            .apply_batch(2, batch(&[("k", None), ("j", Some("x"))]))
            .unwrap();
        assert_eq!(
            memtable.size_bytes(),
            entry_size_bytes(b"k", Some(b"b"))
                + entry_size_bytes(b"k", None)
                + entry_size_bytes(b"j", Some(b"x"))
        );
    }

    #[test]
    fn iterators_walk_chunks_in_both_directions_at_a_snapshot() {
        let memtable = Arc::new(Memtable::new());
        let count = ITER_CHUNK_KEYS * 2 + 5;
        for i in 0..count {
            let key = format!("{i:05}");
            memtable
                .apply_batch(i as u64 + 1, batch(&[(&key, Some("v"))]))
                .unwrap();
        }
        let forward = keys(memtable.iter(KeyRange::all(), ScanDirection::Forward, u64::MAX));
        assert_eq!(forward.len(), count);
        assert!(forward.windows(2).all(|pair| pair[0] < pair[1]));
        let reverse = keys(memtable.iter(KeyRange::all(), ScanDirection::Reverse, u64::MAX));
        assert_eq!(reverse, forward.iter().rev().cloned().collect::<Vec<_>>());

        let at_10 = keys(memtable.iter(KeyRange::all(), ScanDirection::Forward, 10));
        assert_eq!(at_10.len(), 10, "later keys do not exist yet");

        let range = KeyRange::new(
            Bound::Excluded(b"00003".to_vec()),
            Bound::Included(b"00006".to_vec()),
        );
        let ranged = keys(memtable.iter(range, ScanDirection::Reverse, u64::MAX));
        let names: Vec<&str> = ranged.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, vec!["00006", "00005", "00004"]);
    }

    #[test]
    fn an_iterator_ignores_versions_written_after_it_started() {
        let memtable = Arc::new(Memtable::new());
        for i in 0..ITER_CHUNK_KEYS * 2 {
            let key = format!("{i:05}");
            memtable
                .apply_batch(i as u64 + 1, batch(&[(&key, Some("old"))]))
                .unwrap();
        }
        let snapshot = (ITER_CHUNK_KEYS * 2) as u64;
        let mut iter = memtable.iter(KeyRange::all(), ScanDirection::Forward, snapshot);
        let first = iter.next().unwrap().unwrap();
        assert_eq!(first.value, Some(b"old".to_vec()));
        // Overwrite everything and add keys between the chunks.
        for i in 0..ITER_CHUNK_KEYS * 2 {
            let key = format!("{i:05}");
            let seq = snapshot + i as u64 + 1;
            memtable
                .apply_batch(
                    seq,
                    batch(&[(&key, Some("new")), (&format!("{key}x"), Some("new"))]),
                )
                .unwrap();
        }
        let rest: Vec<InternalEntry> = iter.map(|e| e.unwrap()).collect();
        assert_eq!(rest.len(), ITER_CHUNK_KEYS * 2 - 1);
        assert!(
            rest.iter()
                .all(|e| e.value == Some(b"old".to_vec()) && e.seq <= snapshot)
        );
    }

    #[test]
    fn an_empty_range_yields_nothing() {
        let memtable = Arc::new(Memtable::new());
        memtable.apply_batch(1, batch(&[("b", Some("v"))])).unwrap();
        let inverted = KeyRange::new(
            Bound::Included(b"c".to_vec()),
            Bound::Included(b"a".to_vec()),
        );
        assert_eq!(
            memtable.iter(inverted, ScanDirection::Forward, 9).count(),
            0
        );
        assert!(!memtable.is_empty().unwrap());
    }
}
