//! Merging iterators: many sorted streams of versions in, one sorted stream
//! of keys out.
//!
//! An LSM tree keeps the versions of a key in several places — memtables,
//! level-0 tables, one table per deeper level. A scan reads all of them at
//! once: each *source* yields internal entries in order, and
//! [`MergingIter`] repeatedly takes the next key across all sources, keeps
//! the newest version of it that the reader's snapshot may see, and skips
//! the rest. Compaction uses the same iterator to write merged tables.
//!
//! # Invariants
//!
//! * **Sources are sorted.** Each source yields entries in internal order
//!   for the scan's direction: keys ascending (`Forward`) or descending
//!   (`Reverse`), and for one key, newest (largest sequence number) first.
//!   The merge checks it and panics on a violation, which is a bug: tables
//!   verify their own order as they read it.
//! * **One entry per key.** The output has each key at most once, in
//!   direction order, carrying its newest version with `seq <= snapshot`.
//! * **Tombstones hide.** Under [`Tombstones::Hide`] a key whose newest
//!   visible version is a tombstone is left out; under [`Tombstones::Keep`]
//!   (compaction) it is yielded, so it keeps hiding older versions.
//! * **Errors end the stream.** The first error is yielded once; the
//!   iterator is finished after it — never a silently shorter result.
//!
//! Each call to `next` looks at every source's head: linear in the number
//! of sources, which is small (a few memtables, level-0 tables up to the
//! stall limit, one [`ConcatIter`] per deeper level). A binary heap would
//! make it logarithmic; at these counts the plain loop is as fast and far
//! easier to follow.

use crate::sstable::InternalEntry;
use std::cmp::Ordering;
use std::collections::VecDeque;
use step01_kv::engine::{KeyValue, Result, ScanDirection, SequenceNumber};

/// A source of versions in internal order, or errors.
pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<InternalEntry>> + 'a>;

/// What the merge does with a key whose newest visible version is a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tombstones {
    /// Leave the key out: what readers want.
    Hide,
    /// Yield the tombstone: what compaction wants, so that it still hides
    /// older versions in deeper levels.
    Keep,
}

/// True if `a` comes before `b` in the order a source of this direction
/// must follow: by key in the direction, then newest first.
fn comes_before(a: &InternalEntry, b: &InternalEntry, direction: ScanDirection) -> bool {
    let by_key = match direction {
        ScanDirection::Forward => a.key.cmp(&b.key),
        ScanDirection::Reverse => b.key.cmp(&a.key),
    };
    by_key.then(b.seq.cmp(&a.seq)) == Ordering::Less
}

/// One source and the entry at its head.
struct Cursor<'a> {
    iter: EntryIter<'a>,
    head: Option<InternalEntry>,
}

impl Cursor<'_> {
    /// Returns the head and moves to the next entry, checking the order.
    fn take(&mut self, direction: ScanDirection) -> Result<Option<InternalEntry>> {
        let next = self.iter.next().transpose()?;
        if let (Some(head), Some(next)) = (&self.head, &next) {
            assert!(
                comes_before(head, next, direction),
                "a merge source is out of order: {head:?} then {next:?}"
            );
        }
        Ok(std::mem::replace(&mut self.head, next))
    }
}

/// The newest visible version of each key across sources; see the module
/// documentation.
pub struct MergingIter<'a> {
    cursors: Vec<Cursor<'a>>,
    direction: ScanDirection,
    snapshot: SequenceNumber,
    tombstones: Tombstones,
    started: bool,
    finished: bool,
}

impl std::fmt::Debug for MergingIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergingIter")
            .field("sources", &self.cursors.len())
            .field("direction", &self.direction)
            .field("snapshot", &self.snapshot)
            .field("tombstones", &self.tombstones)
            .finish()
    }
}

impl<'a> MergingIter<'a> {
    /// Merges `sources`, each sorted for `direction`, as of `snapshot`.
    pub fn new(
        sources: Vec<EntryIter<'a>>,
        direction: ScanDirection,
        snapshot: SequenceNumber,
        tombstones: Tombstones,
    ) -> Self {
        let cursors = sources
            .into_iter()
            .map(|iter| Cursor { iter, head: None })
            .collect();
        Self {
            cursors,
            direction,
            snapshot,
            tombstones,
            started: false,
            finished: false,
        }
    }

    /// The key the merge emits next: the smallest (`Forward`) or largest
    /// (`Reverse`) key at the head of any source.
    fn next_key(&self) -> Option<Vec<u8>> {
        let heads = self.cursors.iter().filter_map(|c| c.head.as_ref());
        let key = match self.direction {
            ScanDirection::Forward => heads.map(|e| &e.key).min(),
            ScanDirection::Reverse => heads.map(|e| &e.key).max(),
        };
        key.cloned()
    }

    // ANCHOR: merge_next
    fn next_entry(&mut self) -> Result<Option<InternalEntry>> {
        if !self.started {
            self.started = true;
            for cursor in &mut self.cursors {
                cursor.take(self.direction)?; // Loads the first head.
            }
        }
        // EXERCISE(02.4): take the next key from every source, keep its newest version at or below the snapshot, and hide tombstones unless told to keep them
        // Each pass consumes at least one entry, so the loop ends.
        loop {
            let Some(key) = self.next_key() else {
                return Ok(None);
            };
            let mut newest: Option<InternalEntry> = None;
            for cursor in &mut self.cursors {
                while cursor.head.as_ref().is_some_and(|head| head.key == key) {
                    let Some(entry) = cursor.take(self.direction)? else {
                        break;
                    };
                    let visible = entry.seq <= self.snapshot;
                    if visible && newest.as_ref().is_none_or(|n| entry.seq > n.seq) {
                        newest = Some(entry);
                    }
                }
            }
            match newest {
                Some(entry) if entry.value.is_some() || self.tombstones == Tombstones::Keep => {
                    return Ok(Some(entry));
                }
                // Deleted, or every version is newer than the snapshot.
                _ => continue,
            }
        }
        // END EXERCISE
    }
    // ANCHOR_END: merge_next
}

impl Iterator for MergingIter<'_> {
    type Item = Result<InternalEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(error) => {
                self.finished = true;
                Some(Err(error))
            }
        }
    }
}

/// Opens one source when the previous one is exhausted.
pub type LazySource<'a> = Box<dyn FnOnce() -> EntryIter<'a> + 'a>;

/// The sources of one sorted level, one after the other.
///
/// In levels 1 and deeper, tables are disjoint and sorted, so their
/// entries in a range are simply the tables' entries in table order
/// (reversed for a reverse scan). Opening them lazily means a scan with a
/// small limit reads only the first table or two, and the merge sees one
/// source per level instead of one per table.
pub struct ConcatIter<'a> {
    pending: VecDeque<LazySource<'a>>,
    current: Option<EntryIter<'a>>,
}

impl std::fmt::Debug for ConcatIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcatIter")
            .field("pending", &self.pending.len())
            .field("open", &self.current.is_some())
            .finish()
    }
}

impl<'a> ConcatIter<'a> {
    /// `sources` in the order their entries come (already reversed for a
    /// reverse scan).
    pub fn new(sources: Vec<LazySource<'a>>) -> Self {
        Self {
            pending: sources.into(),
            current: None,
        }
    }
}

impl Iterator for ConcatIter<'_> {
    type Item = Result<InternalEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        // Each pass yields an entry or opens one more source.
        loop {
            if let Some(current) = &mut self.current {
                match current.next() {
                    Some(Err(error)) => {
                        self.pending.clear();
                        self.current = None;
                        return Some(Err(error));
                    }
                    Some(entry) => return Some(entry),
                    None => self.current = None,
                }
            }
            let open = self.pending.pop_front()?;
            self.current = Some(open());
        }
    }
}

/// Up to `limit` live keys and values from a merge that hides tombstones.
pub fn collect_live(
    entries: impl Iterator<Item = Result<InternalEntry>>,
    limit: usize,
) -> Result<Vec<KeyValue>> {
    let mut out = Vec::new();
    for entry in entries {
        if out.len() >= limit {
            break;
        }
        let entry = entry?;
        if let Some(value) = entry.value {
            out.push((entry.key, value));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use step01_kv::engine::StorageError;

    fn put(key: &str, seq: SequenceNumber, value: &str) -> InternalEntry {
        InternalEntry {
            key: key.as_bytes().to_vec(),
            seq,
            value: Some(value.as_bytes().to_vec()),
        }
    }

    fn delete(key: &str, seq: SequenceNumber) -> InternalEntry {
        InternalEntry {
            key: key.as_bytes().to_vec(),
            seq,
            value: None,
        }
    }

    /// A source holding `entries`, sorted for `direction`.
    fn source(mut entries: Vec<InternalEntry>, direction: ScanDirection) -> EntryIter<'static> {
        entries.sort_by(|a, b| {
            if comes_before(a, b, direction) {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        });
        Box::new(entries.into_iter().map(Ok))
    }

    fn merge(
        sources: Vec<Vec<InternalEntry>>,
        direction: ScanDirection,
        snapshot: SequenceNumber,
        tombstones: Tombstones,
    ) -> Vec<(String, SequenceNumber, Option<String>)> {
        let sources = sources.into_iter().map(|s| source(s, direction)).collect();
        MergingIter::new(sources, direction, snapshot, tombstones)
            .map(|entry| {
                let entry = entry.unwrap();
                let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
                (text(entry.key), entry.seq, entry.value.map(text))
            })
            .collect()
    }

    fn found(
        key: &str,
        seq: SequenceNumber,
        value: &str,
    ) -> (String, SequenceNumber, Option<String>) {
        (key.to_string(), seq, Some(value.to_string()))
    }

    #[test]
    fn ex02_4_the_newest_version_wins_across_sources() {
        let sources = vec![
            vec![put("b", 9, "b9"), put("d", 4, "d4")],
            vec![put("a", 2, "a2"), put("b", 5, "b5"), put("c", 7, "c7")],
            vec![put("b", 1, "b1"), put("c", 8, "c8"), put("c", 3, "c3")],
        ];
        let forward = merge(
            sources.clone(),
            ScanDirection::Forward,
            100,
            Tombstones::Hide,
        );
        let expected = vec![
            found("a", 2, "a2"),
            found("b", 9, "b9"),
            found("c", 8, "c8"),
            found("d", 4, "d4"),
        ];
        assert_eq!(forward, expected);
        let reverse = merge(sources, ScanDirection::Reverse, 100, Tombstones::Hide);
        assert_eq!(reverse, expected.into_iter().rev().collect::<Vec<_>>());
    }

    #[test]
    fn ex02_4_tombstones_hide_older_values_unless_kept() {
        let sources = vec![
            vec![delete("a", 10), put("c", 11, "c11")],
            vec![put("a", 3, "a3"), put("b", 4, "b4"), delete("c", 5)],
        ];
        for direction in [ScanDirection::Forward, ScanDirection::Reverse] {
            let mut hidden = merge(sources.clone(), direction, 100, Tombstones::Hide);
            hidden.sort();
            assert_eq!(hidden, vec![found("b", 4, "b4"), found("c", 11, "c11")]);
        }
        let kept = merge(sources, ScanDirection::Forward, 100, Tombstones::Keep);
        assert_eq!(
            kept,
            vec![
                ("a".to_string(), 10, None),
                found("b", 4, "b4"),
                found("c", 11, "c11")
            ]
        );
    }

    #[test]
    fn ex02_4_a_snapshot_sees_neither_later_writes_nor_later_deletes() {
        let sources = vec![
            vec![put("a", 20, "a20"), delete("b", 21), put("d", 22, "d22")],
            vec![put("a", 5, "a5"), put("b", 6, "b6"), put("c", 7, "c7")],
        ];
        let at_10 = merge(
            sources.clone(),
            ScanDirection::Forward,
            10,
            Tombstones::Hide,
        );
        assert_eq!(
            at_10,
            vec![
                found("a", 5, "a5"),
                found("b", 6, "b6"),
                found("c", 7, "c7")
            ],
            "d does not exist yet and b is not deleted yet"
        );
        let at_6 = merge(sources.clone(), ScanDirection::Reverse, 6, Tombstones::Hide);
        assert_eq!(at_6, vec![found("b", 6, "b6"), found("a", 5, "a5")]);
        let now = merge(sources, ScanDirection::Forward, 22, Tombstones::Hide);
        assert_eq!(
            now,
            vec![
                found("a", 20, "a20"),
                found("c", 7, "c7"),
                found("d", 22, "d22")
            ]
        );
    }

    #[test]
    fn ex02_4_every_version_of_a_key_is_consumed_from_every_source() {
        let many: Vec<InternalEntry> = (1..=50).map(|seq| put("k", seq, "v")).collect();
        let sources = vec![many.clone(), many, vec![put("l", 1, "l")]];
        let merged = merge(sources, ScanDirection::Forward, 30, Tombstones::Hide);
        assert_eq!(merged, vec![found("k", 30, "v"), found("l", 1, "l")]);
        assert!(
            merge(
                vec![vec![], vec![]],
                ScanDirection::Forward,
                1,
                Tombstones::Hide
            )
            .is_empty()
        );
    }

    #[test]
    fn ex02_4_an_error_is_yielded_once_and_ends_the_merge() {
        let failing: EntryIter<'static> = Box::new(
            vec![
                Ok(put("b", 1, "b")),
                Err(StorageError::Corruption {
                    file: "t.sst".into(),
                    offset: 7,
                    reason: "bad block".to_string(),
                }),
                Ok(put("z", 1, "z")),
            ]
            .into_iter(),
        );
        let healthy = source(
            vec![put("a", 2, "a"), put("c", 3, "c")],
            ScanDirection::Forward,
        );
        let mut merged = MergingIter::new(
            vec![healthy, failing],
            ScanDirection::Forward,
            10,
            Tombstones::Hide,
        );
        assert_eq!(merged.next().unwrap().unwrap().key, b"a");
        assert!(matches!(
            merged.next(),
            Some(Err(StorageError::Corruption { .. }))
        ));
        assert!(merged.next().is_none(), "nothing after an error");
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn an_unsorted_source_is_a_bug() {
        let unsorted: EntryIter<'static> =
            Box::new(vec![Ok(put("b", 1, "b")), Ok(put("a", 1, "a"))].into_iter());
        let _ = MergingIter::new(vec![unsorted], ScanDirection::Forward, 10, Tombstones::Hide)
            .collect::<Vec<_>>();
    }

    #[test]
    fn concat_opens_sources_lazily_in_order() {
        let opened = std::cell::Cell::new(0);
        let lazy = |entries: Vec<InternalEntry>| -> LazySource<'_> {
            Box::new(|| {
                opened.set(opened.get() + 1);
                Box::new(entries.into_iter().map(Ok)) as EntryIter<'_>
            })
        };
        let mut concat = ConcatIter::new(vec![
            lazy(vec![put("a", 1, "a"), put("b", 1, "b")]),
            lazy(vec![]),
            lazy(vec![put("c", 1, "c")]),
        ]);
        assert_eq!(opened.get(), 0);
        assert_eq!(concat.next().unwrap().unwrap().key, b"a");
        assert_eq!(opened.get(), 1, "only the first table is open");
        let rest: Vec<Vec<u8>> = concat.map(|e| e.unwrap().key).collect();
        assert_eq!(rest, vec![b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(opened.get(), 3);
    }

    #[test]
    fn collect_live_stops_at_the_limit() {
        let entries = || {
            vec![
                put("a", 1, "1"),
                delete("b", 2),
                put("c", 1, "3"),
                put("d", 1, "4"),
            ]
        };
        let live = collect_live(entries().into_iter().map(Ok), 2).unwrap();
        assert_eq!(
            live,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        assert_eq!(
            collect_live(entries().into_iter().map(Ok), 0).unwrap(),
            vec![]
        );
    }

    /// `(source, key, seq, value)`; `seq` is unique per version.
    fn versions() -> impl Strategy<Value = Vec<(usize, u8, Option<u8>)>> {
        prop::collection::vec((0usize..4, 0u8..8, prop::option::of(any::<u8>())), 0..40)
    }

    proptest! {
        #[test]
        fn ex02_4_merge_matches_a_model(
            versions in versions(),
            snapshot in 0u64..45,
            reverse in any::<bool>(),
            keep in any::<bool>(),
        ) {
            let direction = if reverse { ScanDirection::Reverse } else { ScanDirection::Forward };
            let tombstones = if keep { Tombstones::Keep } else { Tombstones::Hide };
            let mut sources = vec![Vec::new(); 4];
            let mut model: BTreeMap<Vec<u8>, (SequenceNumber, Option<Vec<u8>>)> = BTreeMap::new();
            for (seq, (source, key, value)) in (1..).zip(versions) {
                let entry = InternalEntry { key: vec![key], seq, value: value.map(|v| vec![v]) };
                if seq <= snapshot {
                    model.insert(entry.key.clone(), (seq, entry.value.clone()));
                }
                sources[source].push(entry);
            }
            let mut expected: Vec<InternalEntry> = model
                .into_iter()
                .filter(|(_, (_, value))| value.is_some() || keep)
                .map(|(key, (seq, value))| InternalEntry { key, seq, value })
                .collect();
            if reverse {
                expected.reverse();
            }
            let sources = sources.into_iter().map(|s| source(s, direction)).collect();
            let merged: Vec<InternalEntry> = MergingIter::new(sources, direction, snapshot, tombstones)
                .collect::<Result<_>>()
                .unwrap();
            prop_assert_eq!(merged, expected);
        }
    }
}
