//! A replica's durable state on disk, in step 1's write-ahead log.
//!
//! Step 1's [`Wal`] already does the hard part: checksummed records (CRC32C),
//! fsync, segments, and recovery that cuts off a torn tail but reports any
//! other damage as corruption. A replica's state is a sequence of changes,
//! so each change is one record:
//!
//! ```text
//! record payload = version (1) | kind | body
//!   kind 1  hard state   term, vote
//!   kind 2  entries      entries; the first one's index cuts the log there
//!   kind 3  snapshot     index, term, membership, state machine data
//! ```
//!
//! Replaying the records in order rebuilds the state. After a snapshot the
//! log is *compacted*: the log starts a new segment, writes the snapshot,
//! the hard state and the entries after the snapshot, syncs, and deletes
//! the older segments. A crash anywhere in between leaves either the old
//! segments (still complete) or both (replaying the old ones first and the
//! new ones after gives the same state).
//!
//! The log runs with [`FsyncPolicy::Never`]: appends are written but synced
//! only when the host calls [`Storage::sync`] (once per batch of events —
//! group commit) or at a barrier (hard state, snapshot).
//!
//! Invariants: every record decodes, or the open fails (corruption is
//! reported, never served); the recovered entries follow the snapshot
//! contiguously; the directory is locked while open.

use crate::codec::{
    DecodeError, ENTRIES_MAX, Reader, Writer, read_entries, read_hard_state, read_snapshot,
    write_entries, write_hard_state, write_snapshot,
};
use crate::log::entries_are_well_formed;
use crate::storage::{Result, Storage, StorageError, apply_append, apply_snapshot};
use crate::types::{DurableState, Entry, HardState, LogIndex, Snapshot, Term};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use step01_kv::store::lock_directory;
use step01_kv::wal::{FsyncPolicy, RECORD_PAYLOAD_BYTES_MAX, Wal, WalOptions};

/// The first byte of every record this storage writes.
pub const RECORD_FORMAT_VERSION: u8 = 1;
const KIND_HARD_STATE: u8 = 1;
const KIND_ENTRIES: u8 = 2;
const KIND_SNAPSHOT: u8 = 3;
/// The subdirectory holding the log.
pub const WAL_DIR_NAME: &str = "wal";

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    HardState(HardState),
    Entries(Vec<Entry>),
    Snapshot(Snapshot),
}

fn encode(change: &Change) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(RECORD_FORMAT_VERSION);
    match change {
        Change::HardState(hard_state) => {
            w.u8(KIND_HARD_STATE);
            write_hard_state(&mut w, hard_state);
        }
        Change::Entries(entries) => {
            w.u8(KIND_ENTRIES);
            write_entries(&mut w, entries);
        }
        Change::Snapshot(snapshot) => {
            w.u8(KIND_SNAPSHOT);
            write_snapshot(&mut w, snapshot);
        }
    }
    w.into_bytes()
}

fn decode(payload: &[u8]) -> std::result::Result<Change, DecodeError> {
    let mut r = Reader::new(payload);
    let version = r.u8()?;
    if version != RECORD_FORMAT_VERSION {
        return Err(DecodeError(format!("unknown record version {version}")));
    }
    let change = match r.u8()? {
        KIND_HARD_STATE => Change::HardState(read_hard_state(&mut r)?),
        KIND_ENTRIES => Change::Entries(read_entries(&mut r)?),
        KIND_SNAPSHOT => Change::Snapshot(read_snapshot(&mut r)?),
        kind => return Err(DecodeError(format!("unknown record kind {kind}"))),
    };
    r.finish()?;
    Ok(change)
}

/// Applies a replayed change, refusing one that does not fit the state
/// (bytes that passed their checksum can still be wrong, if a bug wrote
/// them): recovery must report it, not panic on it.
fn replay(state: &mut DurableState, change: Change) -> std::result::Result<(), String> {
    match change {
        Change::HardState(hard_state) => {
            if hard_state.term < state.hard_state.term {
                return Err("the term went backwards".to_string());
            }
            state.hard_state = hard_state;
        }
        Change::Entries(entries) => {
            let Some(first) = entries.first() else {
                return Ok(());
            };
            let last = state
                .entries
                .last()
                .map_or(state.snapshot.index, |e| e.index);
            let prev_term = state
                .entries
                .iter()
                .rev()
                .find(|e| e.index < first.index)
                .map_or(0, |e| e.term);
            if first.index == 0
                || first.index > last + 1
                || !entries_are_well_formed(first.index - 1, prev_term, u64::MAX, &entries)
            {
                return Err(format!(
                    "entries from {} do not follow the log",
                    first.index
                ));
            }
            apply_append(state, &entries);
        }
        Change::Snapshot(snapshot) => {
            if snapshot.index < state.snapshot.index {
                return Err("a snapshot older than the previous one".to_string());
            }
            apply_snapshot(state, &snapshot);
        }
    }
    Ok(())
}

/// A replica's durable state in a directory.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    wal: Wal,
    /// What the records written so far add up to: answers `load` and
    /// `sync` without reading the disk.
    state: DurableState,
    unsynced: bool,
    _lock: File,
}

impl FileStorage {
    /// Opens (or creates) the storage in `dir`, recovering its state.
    pub fn open(dir: &Path) -> Result<FileStorage> {
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let lock = lock_directory(dir)?;
        let mut state = DurableState::default();
        let options = WalOptions {
            fsync: FsyncPolicy::Never,
            ..WalOptions::default()
        };
        let wal = Wal::open(&dir.join(WAL_DIR_NAME), options, |record| {
            let change = decode(record.payload).map_err(|e| record.corruption(e.to_string()))?;
            replay(&mut state, change).map_err(|reason| record.corruption(reason))
        })?;
        // What was replayed may sit in the page cache only (the previous
        // process died before syncing). The replica will treat it as
        // durable, so make it so.
        wal.sync()?;
        Ok(FileStorage {
            dir: dir.to_path_buf(),
            wal,
            state,
            unsynced: false,
            _lock: lock,
        })
    }

    /// True if nothing was ever stored (a brand-new replica).
    pub fn is_empty(&self) -> bool {
        self.state == DurableState::default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&mut self, change: &Change) -> Result<()> {
        let payload = encode(change);
        self.wal.append(&payload)?;
        self.unsynced = true;
        Ok(())
    }

    /// Writes entries as one or more records, each within the log's
    /// record size limit.
    fn write_entries(&mut self, entries: &[Entry]) -> Result<()> {
        let mut chunk: Vec<Entry> = Vec::new();
        let mut chunk_bytes = 0;
        for entry in entries {
            let bytes = encode(&Change::Entries(vec![entry.clone()])).len();
            if bytes > RECORD_PAYLOAD_BYTES_MAX {
                return Err(StorageError::InvalidBatch {
                    reason: format!("a log entry of {bytes} bytes does not fit in a record"),
                });
            }
            if chunk.len() == ENTRIES_MAX || chunk_bytes + bytes > RECORD_PAYLOAD_BYTES_MAX {
                self.write(&Change::Entries(std::mem::take(&mut chunk)))?;
                chunk_bytes = 0;
            }
            chunk_bytes += bytes;
            chunk.push(entry.clone());
        }
        if !chunk.is_empty() {
            self.write(&Change::Entries(chunk))?;
        }
        Ok(())
    }

    fn sync_now(&mut self) -> Result<()> {
        self.wal.sync()?;
        self.unsynced = false;
        Ok(())
    }
}

impl Storage for FileStorage {
    fn load(&mut self) -> Result<DurableState> {
        Ok(self.state.clone())
    }

    fn save_hard_state(&mut self, hard_state: &HardState) -> Result<()> {
        self.write(&Change::HardState(*hard_state))?;
        self.state.hard_state = *hard_state;
        self.sync_now()
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        self.write_entries(entries)?;
        apply_append(&mut self.state, entries);
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<()> {
        let before = self.wal.rotate()?;
        apply_snapshot(&mut self.state, snapshot);
        self.write(&Change::Snapshot(snapshot.clone()))?;
        self.write(&Change::HardState(self.state.hard_state))?;
        let entries = self.state.entries.clone();
        self.write_entries(&entries)?;
        self.sync_now()?;
        self.wal.delete_segments_through(before)?;
        Ok(())
    }

    fn sync(&mut self) -> Result<(LogIndex, Term)> {
        self.sync_now()?;
        Ok(self
            .state
            .entries
            .last()
            .map_or((self.state.snapshot.index, self.state.snapshot.term), |e| {
                (e.index, e.term)
            }))
    }

    fn has_unsynced(&self) -> bool {
        self.unsynced
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Config, EntryKind};

    fn entry(index: LogIndex, term: Term) -> Entry {
        Entry {
            index,
            term,
            kind: EntryKind::Write(vec![index as u8; 10]),
        }
    }

    #[test]
    fn records_round_trip() {
        let changes = [
            Change::HardState(HardState {
                term: 3,
                voted_for: Some(2),
            }),
            Change::Entries(vec![entry(1, 1), entry(2, 3)]),
            Change::Snapshot(Snapshot {
                index: 2,
                term: 3,
                config: Config::with_voters([1, 2, 3]),
                data: vec![9; 5],
            }),
        ];
        for change in changes {
            assert_eq!(decode(&encode(&change)).unwrap(), change);
        }
        assert!(decode(&[2, KIND_HARD_STATE]).is_err(), "unknown version");
    }

    #[test]
    fn entries_that_do_not_follow_the_log_are_refused_on_replay() {
        let mut state = DurableState::default();
        assert!(
            replay(&mut state, Change::Entries(vec![entry(2, 1)])).is_err(),
            "a gap"
        );
        replay(&mut state, Change::Entries(vec![entry(1, 2)])).unwrap();
        assert!(
            replay(&mut state, Change::Entries(vec![entry(2, 1)])).is_err(),
            "term down"
        );
        replay(&mut state, Change::Entries(vec![entry(1, 3)])).unwrap();
        assert_eq!(state.entries, vec![entry(1, 3)]);
    }
}
