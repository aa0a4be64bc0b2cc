//! The file-backed storage: what a replica wrote is what it reads after a
//! restart, snapshots compact the log on disk, and damage is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use step04_replication::file_storage::{FileStorage, WAL_DIR_NAME};
use step04_replication::storage::{Storage, StorageError};
use step04_replication::types::{Config, DurableState, Entry, EntryKind, HardState, Snapshot};

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        kind: EntryKind::Write(format!("entry {index}").into_bytes()),
    }
}

#[test]
fn the_state_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let hard_state = HardState {
        term: 4,
        voted_for: Some(2),
    };
    {
        let mut storage = FileStorage::open(dir.path()).unwrap();
        assert!(storage.is_empty());
        storage.save_hard_state(&hard_state).unwrap();
        storage
            .append(&[entry(1, 1), entry(2, 1), entry(3, 1)])
            .unwrap();
        storage.append(&[entry(3, 4), entry(4, 4)]).unwrap();
        assert!(storage.has_unsynced());
        assert_eq!(storage.sync().unwrap(), (4, 4));
        assert!(!storage.has_unsynced());
    }
    let mut storage = FileStorage::open(dir.path()).unwrap();
    let state = storage.load().unwrap();
    assert_eq!(state.hard_state, hard_state);
    assert_eq!(
        state.entries,
        vec![entry(1, 1), entry(2, 1), entry(3, 4), entry(4, 4)]
    );
}

#[test]
fn a_snapshot_compacts_the_log_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Snapshot {
        index: 150,
        term: 2,
        config: Config::with_voters([1, 2, 3]),
        data: b"state".to_vec(),
    };
    {
        let mut storage = FileStorage::open(dir.path()).unwrap();
        storage
            .save_snapshot(&Snapshot {
                config: Config::with_voters([1, 2, 3]),
                ..Snapshot::default()
            })
            .unwrap();
        for i in 1..=200 {
            storage.append(&[entry(i, 2)]).unwrap();
        }
        storage.sync().unwrap();
        storage.save_snapshot(&snapshot).unwrap();
    }
    let wal_bytes: u64 = fs::read_dir(dir.path().join(WAL_DIR_NAME))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        wal_bytes < 5_000,
        "old segments deleted: {wal_bytes} bytes left"
    );
    let mut storage = FileStorage::open(dir.path()).unwrap();
    let state = storage.load().unwrap();
    assert_eq!(state.snapshot, snapshot);
    assert_eq!(state.entries.first().unwrap().index, 151);
    assert_eq!(state.entries.len(), 50);
    assert_eq!(storage.sync().unwrap(), (200, 2));
}

#[test]
fn a_directory_is_opened_once_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FileStorage::open(dir.path()).unwrap();
    assert!(matches!(
        FileStorage::open(dir.path()),
        Err(StorageError::DirectoryLocked { .. })
    ));
}

#[test]
fn damage_before_the_tail_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut storage = FileStorage::open(dir.path()).unwrap();
        for i in 1..=10 {
            storage.append(&[entry(i, 1)]).unwrap();
        }
        storage.sync().unwrap();
    }
    let segment = fs::read_dir(dir.path().join(WAL_DIR_NAME))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "wal"))
        .unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    bytes[20] ^= 0xff;
    fs::write(&segment, &bytes).unwrap();
    assert!(matches!(
        FileStorage::open(dir.path()),
        Err(StorageError::Corruption { .. })
    ));
    let _ = DurableState::default();
}
