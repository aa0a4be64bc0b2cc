//! What a replica keeps on disk, behind a small trait — and an in-memory
//! implementation that knows the difference between *written* and
//! *durable*.
//!
//! Three things must survive a crash: the hard state (term and vote), the
//! log, and the latest snapshot. The [`Storage`] trait is exactly the
//! host's half of the contract in `replica.rs`: appends may stay unsynced
//! until [`Storage::sync`]; saving the hard state or a snapshot is a
//! barrier that makes it, and everything written before it, durable.
//!
//! [`MemStorage`] is the simulator's disk. Appends go to an *unsynced* list
//! first and reach the durable state only on `sync` or at a barrier — so
//! the simulator can crash a replica and keep only a prefix of the unsynced
//! writes, as a power loss would (a torn tail), or keep them all, as a
//! process crash would (the page cache survives). The file-backed twin is
//! `file_storage.rs`.
//!
//! Invariant (asserted): the durable entries always follow the snapshot
//! contiguously — every implementation applies writes with
//! [`apply_append`] and [`crate::log::compact_entries`], the same rules as
//! the replica's own log.

use crate::log::compact_entries;
use crate::types::{DurableState, Entry, HardState, LogIndex, Snapshot, Term};
pub use step01_kv::engine::StorageError;

pub type Result<T> = std::result::Result<T, StorageError>;

/// A replica's durable state.
pub trait Storage {
    /// Everything durable, to start a replica from.
    fn load(&mut self) -> Result<DurableState>;
    /// Stores the term and vote. A barrier: durable, with every earlier
    /// write, when this returns.
    fn save_hard_state(&mut self, hard_state: &HardState) -> Result<()>;
    /// Writes entries, first removing every entry at or after the first
    /// one's index. May stay unsynced until [`Storage::sync`].
    fn append(&mut self, entries: &[Entry]) -> Result<()>;
    /// Stores a snapshot and compacts the log by
    /// [`compact_entries`]. A barrier, like `save_hard_state`.
    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<()>;
    /// Makes every write durable and returns the log's last entry (index,
    /// term) — the snapshot's if the log is empty.
    fn sync(&mut self) -> Result<(LogIndex, Term)>;
    /// True if some write is not durable yet.
    fn has_unsynced(&self) -> bool;
}

/// Applies an append to a durable state: the rule every storage shares.
pub fn apply_append(state: &mut DurableState, entries: &[Entry]) {
    let Some(first) = entries.first() else {
        return;
    };
    state.entries.retain(|e| e.index < first.index);
    state.entries.extend(
        entries
            .iter()
            .filter(|e| e.index > state.snapshot.index)
            .cloned(),
    );
    assert!(
        follows_snapshot(state),
        "stored entries must follow the snapshot contiguously"
    );
}

/// Applies a snapshot to a durable state.
pub fn apply_snapshot(state: &mut DurableState, snapshot: &Snapshot) {
    compact_entries(&mut state.entries, snapshot.index, snapshot.term);
    state.snapshot = snapshot.clone();
}

/// True if the entries follow the snapshot contiguously.
pub fn follows_snapshot(state: &DurableState) -> bool {
    state
        .entries
        .iter()
        .enumerate()
        .all(|(i, e)| e.index == state.snapshot.index + 1 + i as u64)
}

fn last_position(state: &DurableState) -> (LogIndex, Term) {
    state
        .entries
        .last()
        .map_or((state.snapshot.index, state.snapshot.term), |e| {
            (e.index, e.term)
        })
}

/// The most unsynced appends [`MemStorage`] holds; the simulator syncs long
/// before, so reaching it means a host forgot to.
pub const MEM_UNSYNCED_APPENDS_MAX: usize = 1 << 16;

/// The simulator's disk: durable state plus a list of unsynced appends.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    durable: DurableState,
    unsynced: Vec<Vec<Entry>>,
}

impl MemStorage {
    pub fn new(durable: DurableState) -> MemStorage {
        MemStorage {
            durable,
            unsynced: Vec::new(),
        }
    }

    /// What a crash leaves: the durable state plus the first
    /// `keep_unsynced` unsynced appends (all of them for a process crash,
    /// fewer for a power loss that tore the tail).
    pub fn crash(&mut self, keep_unsynced: usize) {
        let keep = keep_unsynced.min(self.unsynced.len());
        let kept: Vec<Vec<Entry>> = self.unsynced.drain(..keep).collect();
        self.unsynced.clear();
        for entries in kept {
            apply_append(&mut self.durable, &entries);
        }
    }

    pub fn unsynced_appends(&self) -> usize {
        self.unsynced.len()
    }

    pub fn durable(&self) -> &DurableState {
        &self.durable
    }

    fn flush(&mut self) {
        for entries in std::mem::take(&mut self.unsynced) {
            apply_append(&mut self.durable, &entries);
        }
    }
}

impl Storage for MemStorage {
    fn load(&mut self) -> Result<DurableState> {
        Ok(self.durable.clone())
    }

    fn save_hard_state(&mut self, hard_state: &HardState) -> Result<()> {
        self.flush();
        self.durable.hard_state = *hard_state;
        Ok(())
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        assert!(
            self.unsynced.len() < MEM_UNSYNCED_APPENDS_MAX,
            "the host never syncs"
        );
        self.unsynced.push(entries.to_vec());
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<()> {
        self.flush();
        apply_snapshot(&mut self.durable, snapshot);
        Ok(())
    }

    fn sync(&mut self) -> Result<(LogIndex, Term)> {
        self.flush();
        Ok(last_position(&self.durable))
    }

    fn has_unsynced(&self) -> bool {
        !self.unsynced.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::EntryKind;

    fn entry(index: LogIndex, term: Term) -> Entry {
        Entry {
            index,
            term,
            kind: EntryKind::Noop,
        }
    }

    #[test]
    fn unsynced_appends_are_lost_in_a_power_loss_and_kept_in_a_process_crash() {
        let mut storage = MemStorage::default();
        storage.append(&[entry(1, 1)]).unwrap();
        assert_eq!(storage.sync().unwrap(), (1, 1));
        storage.append(&[entry(2, 1)]).unwrap();
        storage.append(&[entry(3, 1)]).unwrap();
        let mut power_loss = storage.clone();
        power_loss.crash(1);
        assert_eq!(power_loss.load().unwrap().entries.len(), 2, "a torn tail");
        storage.crash(usize::MAX);
        assert_eq!(storage.load().unwrap().entries.len(), 3);
    }

    #[test]
    fn a_barrier_makes_earlier_appends_durable() {
        let mut storage = MemStorage::default();
        storage.append(&[entry(1, 1), entry(2, 1)]).unwrap();
        storage
            .save_hard_state(&HardState {
                term: 2,
                voted_for: Some(1),
            })
            .unwrap();
        storage.crash(0);
        let state = storage.load().unwrap();
        assert_eq!(state.entries.len(), 2);
        assert_eq!(state.hard_state.term, 2);
    }

    #[test]
    fn appends_truncate_and_snapshots_compact() {
        let mut storage = MemStorage::default();
        storage
            .append(&[entry(1, 1), entry(2, 1), entry(3, 1)])
            .unwrap();
        storage.append(&[entry(2, 2)]).unwrap();
        assert_eq!(storage.sync().unwrap(), (2, 2));
        storage
            .save_snapshot(&Snapshot {
                index: 1,
                term: 1,
                ..Snapshot::default()
            })
            .unwrap();
        let state = storage.load().unwrap();
        assert_eq!(state.entries, vec![entry(2, 2)]);
        assert_eq!(storage.sync().unwrap(), (2, 2));
    }
}
