//! Damaged bytes on disk: a flipped bit in the manifest is detected — never
//! a silently different set of data — and a damaged table surfaces as an
//! error from the open, a get or a scan, never as wrong data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine, StorageError};
use step01_kv::wal::{FsyncPolicy, decode_record};
use step02_lsm::lsm::{Lsm, LsmOptions, table_path};
use step02_lsm::manifest::MANIFEST_FILE_NAME;

/// No background compaction: the tables stay exactly as the test made them.
fn options() -> LsmOptions {
    LsmOptions {
        l0_compaction_trigger_files: 100,
        l0_slowdown_files: 100,
        l0_stall_files: 100,
        memtable_bytes: 1 << 20,
        ..LsmOptions::tiny().with_fsync(FsyncPolicy::Never)
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:04}").into_bytes()
}

/// An engine directory with a few flushes and a compaction behind it, and
/// the data it holds.
fn build(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    let lsm = Lsm::open(dir, options()).unwrap();
    for round in 0..4u32 {
        for i in (round..120).step_by(2) {
            let value = format!("value-{round}-{i}").into_bytes();
            lsm.put(&key(i), &value).unwrap();
            model.insert(key(i), value);
        }
        lsm.delete(&key(round * 3)).unwrap();
        model.remove(&key(round * 3));
        lsm.flush().unwrap();
        if round == 1 {
            lsm.compact_all().unwrap();
        }
    }
    model
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn restore(pristine: &Path, dir: &Path) {
    fs::remove_dir_all(dir).unwrap();
    copy_dir(pristine, dir);
}

/// The byte offsets at which the manifest's records start.
fn record_offsets(manifest: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut offset = 0;
    while offset < manifest.len() {
        offsets.push(offset);
        offset += decode_record(&manifest[offset..]).unwrap().encoded_len();
    }
    offsets
}

fn everything(lsm: &Lsm) -> step01_kv::engine::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    lsm.scan(&KeyRange::all(), ScanDirection::Forward, usize::MAX)
}

#[test]
fn every_flipped_bit_in_the_manifest_is_detected_or_harmless() {
    let root = tempfile::tempdir().unwrap();
    let (pristine, dir) = (root.path().join("pristine"), root.path().join("engine"));
    let model = build(&pristine);
    copy_dir(&pristine, &dir);
    let manifest_path = dir.join(MANIFEST_FILE_NAME);
    let manifest = fs::read(&manifest_path).unwrap();
    let offsets = record_offsets(&manifest);
    assert!(
        offsets.len() >= 5,
        "a snapshot and several edits: {offsets:?}"
    );
    let last_record = *offsets.last().unwrap();
    let expected: Vec<_> = model.into_iter().collect();

    let (mut detected, mut harmless) = (0, 0);
    for bit in 0..manifest.len() * 8 {
        let mut flipped = manifest.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        fs::write(&manifest_path, &flipped).unwrap();
        match Lsm::open(&dir, options()) {
            Err(StorageError::Corruption { .. }) => {
                detected += 1;
                // A failed open changes nothing on disk.
                assert_eq!(fs::read(&manifest_path).unwrap(), flipped);
            }
            Err(other) => panic!("bit {bit}: expected corruption, got {other}"),
            Ok(lsm) => {
                // Only a flip in the last edit can pass: it looks exactly
                // like a torn write, and the state before it must then hold
                // the same data.
                assert!(
                    bit / 8 >= last_record,
                    "bit {bit}, before the last record at byte {last_record}, went unnoticed"
                );
                assert_eq!(
                    everything(&lsm).unwrap(),
                    expected,
                    "bit {bit}: different data"
                );
                harmless += 1;
                drop(lsm);
                restore(&pristine, &dir);
                continue;
            }
        }
        fs::write(&manifest_path, &manifest).unwrap();
    }
    assert!(
        detected > harmless * 4,
        "detected {detected}, harmless {harmless}"
    );
}

#[test]
fn a_flipped_bit_in_the_last_edit_after_its_effects_is_detected() {
    // The last edit is a compaction whose input tables are already deleted:
    // the state before it names missing tables, and the open must say so.
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), options()).unwrap();
    for round in 0..2 {
        for i in 0..50 {
            lsm.put(&key(i), format!("v{round}").as_bytes()).unwrap();
        }
        lsm.flush().unwrap();
    }
    let inputs: Vec<u64> = lsm.levels().unwrap()[0].iter().map(|t| t.id).collect();
    lsm.compact_all().unwrap();
    assert!(
        inputs
            .iter()
            .all(|&id| !table_path(dir.path(), id).exists()),
        "inputs deleted"
    );
    drop(lsm);
    let path = dir.path().join(MANIFEST_FILE_NAME);
    let manifest = fs::read(&path).unwrap();
    let last = *record_offsets(&manifest).last().unwrap();
    for offset in [last, last + 7, last + 20, manifest.len() - 1] {
        let mut flipped = manifest.clone();
        flipped[offset] ^= 0x10;
        fs::write(&path, &flipped).unwrap();
        let result = Lsm::open(dir.path(), options());
        assert!(
            matches!(result, Err(StorageError::Corruption { .. })),
            "byte {offset}: {result:?}"
        );
    }
    fs::write(&path, &manifest).unwrap();
    let lsm = Lsm::open(dir.path(), options()).unwrap();
    assert_eq!(lsm.get(&key(7)).unwrap(), Some(b"v1".to_vec()));
}

#[test]
fn a_damaged_table_is_an_error_never_wrong_data() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("engine");
    let model = build(&dir);
    let lsm = Lsm::open(&dir, options()).unwrap();
    let tables: Vec<u64> = lsm
        .levels()
        .unwrap()
        .iter()
        .flatten()
        .map(|t| t.id)
        .collect();
    drop(lsm);
    assert!(tables.len() >= 2);
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();

    let (mut at_open, mut at_read) = (0, 0);
    for id in tables {
        let path = table_path(&dir, id);
        let original = fs::read(&path).unwrap();
        // Every byte of small files; a spread of bytes of larger ones.
        let stride = (original.len() / 400).max(1);
        for offset in (0..original.len()).step_by(stride) {
            let mut damaged = original.clone();
            damaged[offset] ^= 1 << (offset % 8);
            fs::write(&path, &damaged).unwrap();
            match Lsm::open(&dir, options()) {
                Err(StorageError::Corruption { .. }) => at_open += 1,
                Err(other) => panic!("table {id} byte {offset}: {other}"),
                Ok(lsm) => {
                    for i in 0..120 {
                        match lsm.get(&key(i)) {
                            Ok(value) => assert_eq!(
                                value.as_ref(),
                                model.get(&key(i)),
                                "table {id} byte {offset}: wrong value for key {i}"
                            ),
                            Err(StorageError::Corruption { .. }) => {}
                            Err(other) => panic!("table {id} byte {offset}: {other}"),
                        }
                    }
                    // A full scan reads every block of every table, so the
                    // damage must surface here.
                    for direction in [ScanDirection::Forward, ScanDirection::Reverse] {
                        let result = lsm.scan(&KeyRange::all(), direction, usize::MAX);
                        assert!(
                            matches!(result, Err(StorageError::Corruption { .. })),
                            "table {id} byte {offset}: {direction:?} scan returned {:?}",
                            result.map(|r| r.len() == expected.len())
                        );
                    }
                    at_read += 1;
                }
            }
        }
        fs::write(&path, &original).unwrap();
    }
    assert!(at_open > 0 && at_read > 0, "open {at_open}, read {at_read}");
    let lsm = Lsm::open(&dir, options()).unwrap();
    assert_eq!(
        everything(&lsm).unwrap(),
        expected,
        "restored tables read fine"
    );
}
