//! The replicated log as one replica holds it: a snapshot, then entries.
//!
//! ```text
//!   compacted into the snapshot  |  entries kept in memory (and on disk)
//!   1 ... snapshot_index         |  snapshot_index + 1 ..= last_index
//! ```
//!
//! The log's one rule is **log matching**: if two replicas' logs have an
//! entry with the same index and the same term, the logs are identical up
//! to that index. A leader creates at most one entry per index in its term,
//! and a follower accepts entries only right after an entry it already
//! shares with the leader (`prev_index`, `prev_term`), so by induction the
//! whole prefix matches. [`ReplicatedLog::accept`] is where a follower
//! enforces it.
//!
//! Invariants (asserted on every change):
//! * entries are contiguous and start right after the snapshot;
//! * terms never decrease along the log;
//! * an entry is only ever removed by truncating a conflicting suffix or by
//!   compaction into a snapshot — never from the middle.

use crate::types::{Config, Entry, EntryKind, LogIndex, Snapshot, Term};

/// The in-memory log of one replica. It holds the snapshot's metadata but
/// not its data (the replica keeps that).
#[derive(Clone, Debug, Default)]
pub struct ReplicatedLog {
    snapshot_index: LogIndex,
    snapshot_term: Term,
    snapshot_config: Config,
    entries: Vec<Entry>,
    /// Payload bytes of `entries` ([`entry_bytes`]), kept up to date.
    bytes: u64,
}

/// What [`ReplicatedLog::accept`] did with an `Append`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The log now matches the leader's up to here: `prev_index` plus the
    /// entries of the message.
    pub verified_through: LogIndex,
    /// The entries added to the log, to be persisted. If the first of them
    /// has an index at or below the old last index, a conflicting suffix was
    /// cut off first (`truncated_from`).
    pub new_entries: Vec<Entry>,
    pub truncated_from: Option<LogIndex>,
}

/// Why an `Append` was refused, and where the leader should retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub hint: LogIndex,
}

impl ReplicatedLog {
    /// The log a replica restarts with: its snapshot, then its durable
    /// entries (which must follow the snapshot contiguously).
    pub fn restore(snapshot: &Snapshot, entries: Vec<Entry>) -> ReplicatedLog {
        let mut log = ReplicatedLog {
            snapshot_index: snapshot.index,
            snapshot_term: snapshot.term,
            snapshot_config: snapshot.config.clone(),
            entries: Vec::with_capacity(entries.len()),
            bytes: 0,
        };
        for entry in entries {
            log.push(entry);
        }
        log
    }

    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// Payload bytes of the entries kept in memory.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn last_index(&self) -> LogIndex {
        self.snapshot_index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The term of the entry at `index`: known for the snapshot's last
    /// entry and for the entries kept, unknown (`None`) for compacted ones
    /// and for indexes past the end.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        let offset = index.checked_sub(self.snapshot_index + 1)?;
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// Up to `max` entries starting at `from` (fewer at the end of the log;
    /// none if `from` is compacted or past the end).
    pub fn entries_from(&self, from: LogIndex, max: usize) -> Vec<Entry> {
        let Some(offset) = from.checked_sub(self.snapshot_index + 1) else {
            return Vec::new();
        };
        let Ok(offset) = usize::try_from(offset) else {
            return Vec::new();
        };
        self.entries
            .get(offset..)
            .map_or_else(Vec::new, |rest| rest.iter().take(max).cloned().collect())
    }

    /// Adds `entry` at the end. The caller (the leader, or `accept`)
    /// guarantees the index is next and the term does not go backwards.
    pub fn push(&mut self, entry: Entry) {
        assert_eq!(
            entry.index,
            self.last_index() + 1,
            "log entries are contiguous"
        );
        assert!(entry.term >= self.last_term(), "log terms never decrease");
        self.bytes += entry_bytes(&entry);
        self.entries.push(entry);
    }

    /// Removes the entries at and after `index` (which must be kept, not
    /// compacted).
    fn truncate_from(&mut self, index: LogIndex) {
        assert!(
            index > self.snapshot_index,
            "compacted entries are committed"
        );
        let keep = (index - self.snapshot_index - 1) as usize;
        self.entries.truncate(keep);
        self.bytes = self.entries.iter().map(entry_bytes).sum();
    }

    /// The first index of the run of entries with term `term` that ends at
    /// `index` — where a leader should retry after a conflict at `index`, so
    /// that it skips a whole stale term in one round trip instead of one
    /// entry per round trip.
    fn first_index_of_term_run(&self, term: Term, index: LogIndex) -> LogIndex {
        let mut first = index;
        while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    // ANCHOR: log_matching
    /// A follower's half of log matching: accepts the leader's `entries`
    /// (which follow `prev_index` contiguously) if this log has the leader's
    /// entry at `prev_index`, i.e. one with term `prev_term`.
    ///
    /// * A log too short to have `prev_index`, or with another term there,
    ///   rejects, with a hint where the leader should retry.
    /// * Entries the log already has (same index, same term) are skipped:
    ///   an old, delayed `Append` must never cut off entries a newer one
    ///   added.
    /// * At the first entry whose term differs, the log's suffix from there
    ///   is stale (written by a leader that did not win): cut it off and
    ///   append the leader's entries.
    ///
    /// Indexes at or below the snapshot are committed, and committed entries
    /// are in every later leader's log, so they match by construction.
    pub fn accept(
        &mut self,
        prev_index: LogIndex,
        prev_term: Term,
        entries: &[Entry],
    ) -> Result<Accepted, Rejection> {
        // EXERCISE(04.2): check the entry at prev_index, skip entries already present, cut off a conflicting suffix and append the rest
        if prev_index > self.last_index() {
            return Err(Rejection {
                hint: self.last_index() + 1,
            });
        }
        if prev_index >= self.snapshot_index {
            match self.term_at(prev_index) {
                Some(term) if term == prev_term => {}
                Some(term) => {
                    return Err(Rejection {
                        hint: self.first_index_of_term_run(term, prev_index),
                    });
                }
                None => {
                    return Err(Rejection {
                        hint: self.snapshot_index + 1,
                    });
                }
            }
        }
        let mut new_entries: Vec<Entry> = Vec::new();
        let mut truncated_from = None;
        for entry in entries {
            if entry.index <= self.snapshot_index {
                continue;
            }
            if new_entries.is_empty() {
                match self.term_at(entry.index) {
                    Some(term) if term == entry.term => continue,
                    Some(_) => {
                        self.truncate_from(entry.index);
                        truncated_from = Some(entry.index);
                    }
                    None => {}
                }
            }
            new_entries.push(entry.clone());
        }
        for entry in &new_entries {
            self.push(entry.clone());
        }
        Ok(Accepted {
            verified_through: prev_index + entries.len() as u64,
            new_entries,
            truncated_from,
        })
        // END EXERCISE
    }
    // ANCHOR_END: log_matching

    /// Replaces the prefix up to `snapshot.index` by the snapshot, by the
    /// rule of [`compact_entries`].
    pub fn compact(&mut self, snapshot: &Snapshot) {
        assert!(
            snapshot.index >= self.snapshot_index,
            "snapshots only move forward"
        );
        compact_entries(&mut self.entries, snapshot.index, snapshot.term);
        self.bytes = self.entries.iter().map(entry_bytes).sum();
        self.snapshot_index = snapshot.index;
        self.snapshot_term = snapshot.term;
        self.snapshot_config = snapshot.config.clone();
        if let Some(first) = self.entries.first() {
            assert_eq!(first.index, self.snapshot_index + 1);
        }
    }

    /// The membership in effect: the latest configuration in the log,
    /// committed or not, and the index that set it.
    /// The lowest index `i` such that the entries `i + 1 ..= upto` kept in
    /// the log add up to at most `bytes_max` payload bytes: how far back a
    /// byte budget reaches from `upto`.
    pub fn first_index_within_bytes(&self, upto: LogIndex, bytes_max: u64) -> LogIndex {
        let mut index = upto.min(self.last_index());
        let mut bytes = 0u64;
        while index > self.snapshot_index {
            let size = self.entry(index).map_or(0, entry_bytes);
            if bytes + size > bytes_max {
                break;
            }
            bytes += size;
            index -= 1;
        }
        index
    }

    pub fn latest_config(&self) -> (LogIndex, Config) {
        self.config_at(self.last_index())
    }

    /// The membership as of `index`: the latest configuration entry at or
    /// before it, else the snapshot's.
    pub fn config_at(&self, index: LogIndex) -> (LogIndex, Config) {
        let end = index.min(self.last_index());
        let kept = end.saturating_sub(self.snapshot_index) as usize;
        self.entries
            .get(..kept)
            .unwrap_or(&[])
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EntryKind::Config(config) => Some((e.index, config.clone())),
                _ => None,
            })
            .unwrap_or_else(|| (self.snapshot_index, self.snapshot_config.clone()))
    }

    /// True if some entry in `from..` changes the membership.
    pub fn has_config_from(&self, from: LogIndex) -> bool {
        let skip = from.saturating_sub(self.snapshot_index + 1) as usize;
        self.entries
            .iter()
            .skip(skip)
            .any(|e| matches!(e.kind, EntryKind::Config(_)))
    }
}

/// The compaction rule, shared by the in-memory log and every storage
/// implementation so that they always agree: entries at or below the
/// snapshot's index go; if the log's entry at that index has another term
/// (or is missing), the rest of the log is stale too and goes as well.
/// The payload bytes an entry holds (what retention budgets count).
pub fn entry_bytes(entry: &Entry) -> u64 {
    match &entry.kind {
        EntryKind::Write(payload) => payload.len() as u64,
        EntryKind::Noop | EntryKind::Config(_) => 0,
    }
}

pub fn compact_entries(entries: &mut Vec<Entry>, index: LogIndex, term: Term) {
    let matches = entries.iter().any(|e| e.index == index && e.term == term);
    if matches {
        entries.retain(|e| e.index > index);
    } else {
        entries.clear();
    }
}

/// True if `entries` follow `prev_index` contiguously with terms that never
/// decrease and never exceed `term`: what an honest leader of `term` sends.
pub fn entries_are_well_formed(
    prev_index: LogIndex,
    prev_term: Term,
    term: Term,
    entries: &[Entry],
) -> bool {
    let mut last_term = prev_term;
    for (expected_index, entry) in (prev_index + 1..).zip(entries) {
        if entry.index != expected_index || entry.term < last_term || entry.term > term {
            return false;
        }
        last_term = entry.term;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: LogIndex, term: Term) -> Entry {
        Entry {
            index,
            term,
            kind: EntryKind::Write(vec![index as u8]),
        }
    }

    fn log_with_terms(terms: &[Term]) -> ReplicatedLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, &t)| entry(i as u64 + 1, t))
            .collect();
        ReplicatedLog::restore(&Snapshot::default(), entries)
    }

    fn terms(log: &ReplicatedLog) -> Vec<Term> {
        (1..=log.last_index())
            .map(|i| log.term_at(i).unwrap())
            .collect()
    }

    #[test]
    fn ex04_2_appends_after_a_matching_entry() {
        let mut log = log_with_terms(&[1, 1]);
        let accepted = log.accept(2, 1, &[entry(3, 2), entry(4, 2)]).unwrap();
        assert_eq!(accepted.verified_through, 4);
        assert_eq!(accepted.new_entries.len(), 2);
        assert_eq!(accepted.truncated_from, None);
        assert_eq!(terms(&log), vec![1, 1, 2, 2]);
        // A heartbeat (no entries) verifies up to prev_index.
        let heartbeat = log.accept(4, 2, &[]).unwrap();
        assert_eq!(heartbeat.verified_through, 4);
        assert!(heartbeat.new_entries.is_empty());
    }

    #[test]
    fn ex04_2_rejects_a_gap_or_a_term_mismatch_with_a_useful_hint() {
        let mut log = log_with_terms(&[1, 1, 2, 2]);
        assert_eq!(log.accept(6, 2, &[entry(7, 2)]), Err(Rejection { hint: 5 }));
        // The entry at 4 has term 2, not 3: the whole run of term 2 (from 3) is suspect.
        assert_eq!(log.accept(4, 3, &[entry(5, 3)]), Err(Rejection { hint: 3 }));
        assert_eq!(terms(&log), vec![1, 1, 2, 2], "a rejection changes nothing");
    }

    #[test]
    fn ex04_2_cuts_off_a_conflicting_suffix() {
        let mut log = log_with_terms(&[1, 1, 2, 2, 2]);
        let accepted = log.accept(2, 1, &[entry(3, 3), entry(4, 3)]).unwrap();
        assert_eq!(accepted.truncated_from, Some(3));
        assert_eq!(accepted.verified_through, 4);
        assert_eq!(terms(&log), vec![1, 1, 3, 3]);
    }

    #[test]
    fn ex04_2_a_delayed_old_append_never_truncates_newer_entries() {
        let mut log = log_with_terms(&[1, 1, 1, 1]);
        // An Append carrying entries 2..=3 arrives after 4 was appended.
        let accepted = log.accept(1, 1, &[entry(2, 1), entry(3, 1)]).unwrap();
        assert_eq!(accepted.verified_through, 3);
        assert!(accepted.new_entries.is_empty());
        assert_eq!(accepted.truncated_from, None);
        assert_eq!(log.last_index(), 4, "entry 4 must survive");
    }

    #[test]
    fn ex04_2_entries_below_the_snapshot_count_as_matching() {
        let snapshot = Snapshot {
            index: 5,
            term: 2,
            ..Snapshot::default()
        };
        let mut log = ReplicatedLog::restore(&snapshot, vec![entry(6, 2)]);
        let accepted = log
            .accept(3, 1, &[entry(4, 1), entry(5, 2), entry(6, 2), entry(7, 3)])
            .unwrap();
        assert_eq!(accepted.verified_through, 7);
        assert_eq!(accepted.new_entries, vec![entry(7, 3)]);
        assert_eq!(log.last_index(), 7);
    }

    #[test]
    fn compaction_keeps_a_matching_suffix_and_drops_a_stale_one() {
        let mut log = log_with_terms(&[1, 1, 2, 2]);
        log.compact(&Snapshot {
            index: 3,
            term: 2,
            ..Snapshot::default()
        });
        assert_eq!((log.snapshot_index(), log.last_index()), (3, 4));
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.term_at(2), None, "compacted");
        let mut log = log_with_terms(&[1, 1, 2, 2]);
        log.compact(&Snapshot {
            index: 3,
            term: 5,
            ..Snapshot::default()
        });
        assert_eq!(
            log.last_index(),
            3,
            "a log that disagrees with the snapshot is dropped"
        );
    }

    #[test]
    fn the_latest_configuration_wins_and_truncation_reverts_it() {
        let mut log = log_with_terms(&[1]);
        let config = Config::with_voters([1, 2, 3, 4]);
        log.push(Entry {
            index: 2,
            term: 1,
            kind: EntryKind::Config(config.clone()),
        });
        assert_eq!(log.latest_config(), (2, config));
        assert!(log.has_config_from(2));
        log.accept(1, 1, &[entry(2, 2)]).unwrap();
        assert_eq!(log.latest_config(), (0, Config::default()));
    }

    #[test]
    fn well_formed_entries_are_contiguous_with_sane_terms() {
        assert!(entries_are_well_formed(
            2,
            1,
            3,
            &[entry(3, 1), entry(4, 3)]
        ));
        assert!(!entries_are_well_formed(2, 1, 3, &[entry(4, 1)]));
        assert!(!entries_are_well_formed(2, 2, 3, &[entry(3, 1)]));
        assert!(!entries_are_well_formed(2, 1, 3, &[entry(3, 4)]));
    }
}
