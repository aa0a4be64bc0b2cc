//! Damaged tables: flip every bit of a small table (and a sample of bits of
//! a larger one), truncate it, extend it, change its version — every read
//! either returns the right data or a corruption error naming the file and
//! an offset at or before the damage. Never wrong data, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod table_support;

use proptest::prelude::*;
use std::path::Path;
use step01_kv::engine::{KeyRange, Result, ScanDirection, StorageError};
use step02_lsm::cache::BlockCache;
use step02_lsm::sstable::{FOOTER_BYTES, FORMAT_VERSION, InternalEntry, Table, TableOptions};
use table_support::{Model, model_get, model_iter, small_blocks, versioned_model, write_model};

/// Asserts that `error` is a corruption report for `path` at or before the
/// damaged byte `position`.
fn assert_corruption(error: &StorageError, path: &Path, position: u64, context: &str) {
    match error {
        StorageError::Corruption { file, offset, .. } => {
            assert_eq!(file, path, "{context}: the error names the file");
            assert!(
                *offset <= position,
                "{context}: reported at {offset}, damage at {position}"
            );
        }
        other => panic!("{context}: expected a corruption error, got {other:?}"),
    }
}

/// Reads everything a damaged table offers and checks each answer. Returns
/// true if the damage was detected.
fn check_damaged(path: &Path, model: &Model, position: u64, context: &str) -> bool {
    let table = match Table::open(path, 1, BlockCache::new(1 << 20)) {
        Ok(table) => table,
        Err(error) => {
            assert_corruption(&error, path, position, context);
            return true;
        }
    };
    let mut detected = false;
    let mut keys: Vec<Vec<u8>> = model.keys().map(|(key, _)| key.clone()).collect();
    keys.dedup();
    keys.extend([b"".to_vec(), b"key-00004x".to_vec(), b"zzz".to_vec()]);
    for key in &keys {
        for snapshot in [u64::MAX, 50] {
            match table.get(key, snapshot) {
                Ok(entry) => assert_eq!(
                    entry,
                    model_get(model, key, snapshot),
                    "{context}: get {key:?}"
                ),
                Err(error) => {
                    assert_corruption(&error, path, position, context);
                    detected = true;
                }
            }
        }
    }
    for direction in [ScanDirection::Forward, ScanDirection::Reverse] {
        let expected = model_iter(model, &KeyRange::all(), direction);
        let scanned: Vec<Result<InternalEntry>> = table.iter(KeyRange::all(), direction).collect();
        for (i, item) in scanned.iter().enumerate() {
            match item {
                Ok(entry) => assert_eq!(
                    Some(entry),
                    expected.get(i),
                    "{context}: entry {i} of a {direction:?} scan"
                ),
                Err(error) => {
                    assert_corruption(error, path, position, context);
                    assert_eq!(i + 1, scanned.len(), "{context}: an error ends the scan");
                    detected = true;
                }
            }
        }
        if scanned.iter().all(Result::is_ok) {
            assert_eq!(
                scanned.len(),
                expected.len(),
                "{context}: a scan without errors is complete"
            );
        }
    }
    detected
}

#[test]
fn every_bit_flip_of_a_small_table_is_detected_and_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let original_path = dir.path().join("original.sst");
    let model = versioned_model(12, 2);
    write_model(&original_path, &model, small_blocks());
    let original = std::fs::read(&original_path).unwrap();
    assert!(
        original.len() > 400,
        "a table with several blocks: {} bytes",
        original.len()
    );
    let path = dir.path().join("damaged.sst");
    for position in 0..original.len() {
        for bit in 0..8 {
            let mut damaged = original.clone();
            damaged[position] ^= 1 << bit;
            std::fs::write(&path, &damaged).unwrap();
            let context = format!("bit {bit} of byte {position}");
            assert!(
                check_damaged(&path, &model, position as u64, &context),
                "{context}: every byte is covered by a checksum, so the damage must be seen"
            );
        }
    }
}

#[test]
fn sampled_bit_flips_of_a_larger_table_are_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let original_path = dir.path().join("original.sst");
    let model = versioned_model(300, 2);
    write_model(
        &original_path,
        &model,
        TableOptions {
            block_size_bytes: 1024,
            ..TableOptions::default()
        },
    );
    let original = std::fs::read(&original_path).unwrap();
    let path = dir.path().join("damaged.sst");
    // A fixed stride walks the whole file, touching every kind of block.
    let stride = original.len() / 150;
    for (i, position) in (0..original.len()).step_by(stride).enumerate() {
        let mut damaged = original.clone();
        damaged[position] ^= 1 << (i % 8);
        std::fs::write(&path, &damaged).unwrap();
        let context = format!("bit {} of byte {position}", i % 8);
        assert!(
            check_damaged(&path, &model, position as u64, &context),
            "{context}"
        );
    }
}

#[test]
fn truncated_and_extended_files_are_rejected_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let original_path = dir.path().join("original.sst");
    write_model(&original_path, &versioned_model(12, 2), small_blocks());
    let original = std::fs::read(&original_path).unwrap();
    let path = dir.path().join("damaged.sst");
    for length in 0..original.len() {
        std::fs::write(&path, &original[..length]).unwrap();
        let error = Table::open(&path, 1, BlockCache::new(0)).unwrap_err();
        assert_corruption(
            &error,
            &path,
            length as u64,
            &format!("truncated to {length}"),
        );
    }
    for extra in [1, 7, FOOTER_BYTES, 4096] {
        let mut extended = original.clone();
        extended.extend(std::iter::repeat_n(0u8, extra));
        std::fs::write(&path, &extended).unwrap();
        let error = Table::open(&path, 1, BlockCache::new(0)).unwrap_err();
        assert!(
            matches!(error, StorageError::Corruption { .. }),
            "{extra} bytes appended: {error:?}"
        );
    }
}

#[test]
fn files_that_are_not_tables_or_from_another_version_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    std::fs::write(&path, vec![b'x'; 1000]).unwrap();
    match Table::open(&path, 1, BlockCache::new(0)) {
        Err(StorageError::Corruption { reason, offset, .. }) => {
            assert!(reason.contains("magic"), "{reason}");
            assert_eq!(offset, 1000 - FOOTER_BYTES as u64, "the footer's offset");
        }
        other => panic!("{other:?}"),
    }

    write_model(&path, &versioned_model(5, 1), TableOptions::default());
    let mut bytes = std::fs::read(&path).unwrap();
    let footer = bytes.len() - FOOTER_BYTES;
    let version_at = footer + 36;
    assert_eq!(
        bytes[version_at..version_at + 4],
        FORMAT_VERSION.to_le_bytes()
    );
    bytes[version_at..version_at + 4].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let checksum = crc32c::crc32c(&bytes[footer..footer + 40]);
    bytes[footer + 40..footer + 44].copy_from_slice(&checksum.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    match Table::open(&path, 1, BlockCache::new(0)) {
        Err(StorageError::Corruption { reason, .. }) => {
            assert!(reason.contains("version"), "{reason}")
        }
        other => panic!("a future version must be refused: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Several bytes overwritten at once, anywhere: still never wrong data.
    #[test]
    fn random_damage_is_never_served(
        writes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sst");
        let model = versioned_model(12, 2);
        write_model(&path, &model, small_blocks());
        let mut bytes = std::fs::read(&path).unwrap();
        // Errors are reported at or before the last damaged byte.
        let mut last_changed = None;
        for (index, byte) in writes {
            let position = index.index(bytes.len());
            if bytes[position] != byte {
                last_changed = last_changed.max(Some(position as u64));
            }
            bytes[position] = byte;
        }
        std::fs::write(&path, &bytes).unwrap();
        let bound = last_changed.unwrap_or(u64::MAX);
        let detected = check_damaged(&path, &model, bound, "random damage");
        prop_assert_eq!(detected, last_changed.is_some(), "damage is detected exactly when there is some");
    }
}
