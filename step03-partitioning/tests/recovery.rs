//! The partition map on disk: it survives restarts, a crash at any point of
//! a split leaves the old map or the new one (never a mix), and damage is
//! detected by its checksum.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;

use step01_kv::engine::{StorageEngine, StorageError};
use step01_kv::key::KeyValue;
use step03_partitioning::error::TableError;
use step03_partitioning::hash::partition_hash;
use step03_partitioning::layout::item_key;
use step03_partitioning::map::PartitionMap;
use step03_partitioning::map_file::{MAP_FILE_NAME, MAP_TEMP_FILE_NAME};
use step03_partitioning::split::{CrashPoint, SplitOutcome};
use step03_partitioning::table::partition_dir;
use support::*;

/// A table of 3 partitions and 150 items, one of them split once.
fn populated(dir: &std::path::Path) -> (TestTable, Model) {
    let table = open_table(dir, options(3).0);
    let mut model = Model::new();
    for i in 0..150 {
        let it = item(&format!("user#{}", i % 30), i, &format!("v{i}"));
        table.put(it.clone()).unwrap();
        model_insert(&mut model, it);
    }
    let first = table.partition_map().unwrap().entries()[0].id;
    assert!(matches!(
        table.split_partition(first).unwrap(),
        SplitOutcome::Split { .. }
    ));
    (table, model)
}

/// Everything a reopened table must show: exactly the model's items, a
/// clean directory, and partitions that match the map.
fn assert_whole(dir: &std::path::Path, table: &TestTable, model: &Model, map: &PartitionMap) {
    assert_eq!(&table.partition_map().unwrap(), map);
    assert_eq!(table.verify().unwrap().item_count, model.len() as u64);
    let want: Vec<_> = model.values().cloned().collect();
    assert_eq!(scan_all(table, 1, Some(13))[0], want);
    for it in model.values() {
        let key = schema().key_of(it).unwrap();
        assert_eq!(table.get(&key).unwrap().as_ref(), Some(it));
    }
    let mut expected: Vec<String> = map
        .entries()
        .iter()
        .map(|e| {
            partition_dir(dir, e.id)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    expected.sort();
    assert_eq!(
        partition_dirs(dir),
        expected,
        "no directory the map does not name"
    );
    assert!(!dir.join(MAP_TEMP_FILE_NAME).exists());
}

#[test]
fn the_map_and_the_items_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (table, mut model) = populated(dir.path());
    let map = table.partition_map().unwrap();
    assert_eq!(map.epoch(), 2);
    drop(table);
    let table = open_table(dir.path(), options(1).0);
    assert_whole(dir.path(), &table, &model, &map);
    // Still writable and splittable after the restart.
    let it = item("after", 1, "restart");
    table.put(it.clone()).unwrap();
    model_insert(&mut model, it);
    let last = map.entries().last().unwrap().id;
    table.split_partition(last).unwrap();
    let map = table.partition_map().unwrap();
    assert_eq!(map.epoch(), 3);
    drop(table);
    let table = open_table(dir.path(), options(1).0);
    assert_whole(dir.path(), &table, &model, &map);
}

#[test]
fn a_crash_at_any_point_of_a_split_leaves_the_old_map_or_the_new() {
    let points = [
        (CrashPoint::ChildrenCreated, false),
        (CrashPoint::ChildrenCopied, false),
        (CrashPoint::MapWritten, false),
        (CrashPoint::MapCommitted, true),
    ];
    for (point, committed) in points {
        let dir = tempfile::tempdir().unwrap();
        let (table, mut model) = populated(dir.path());
        // Writes just before the split must survive it either way.
        let it = item("last-write", 1, "before the crash");
        table.put(it.clone()).unwrap();
        model_insert(&mut model, it);
        let old_map = table.partition_map().unwrap();
        let parent = old_map.entries()[1];
        table.split_and_crash(parent.id, point).unwrap();

        // The crash left debris behind: the children's directories, and
        // for MapWritten a temporary map; for MapCommitted the parent.
        let on_disk = partition_dirs(dir.path());
        assert_eq!(on_disk.len(), old_map.len() + 2, "{point:?}: {on_disk:?}");
        assert_eq!(
            dir.path().join(MAP_TEMP_FILE_NAME).exists(),
            point == CrashPoint::MapWritten
        );

        let table = open_table(dir.path(), options(1).0);
        let map = table.partition_map().unwrap();
        if committed {
            let (expected, _) = old_map
                .with_split(parent.id, map.entries()[2].range.start())
                .unwrap();
            assert_eq!(map, expected, "{point:?}: the new map");
        } else {
            assert_eq!(map, old_map, "{point:?}: the old map");
        }
        assert_whole(dir.path(), &table, &model, &map);

        // The table carries on: the interrupted split can run again.
        let again = map.entries()[1].id;
        assert!(matches!(
            table.split_partition(again).unwrap(),
            SplitOutcome::Split { .. }
        ));
        assert_eq!(table.verify().unwrap().item_count, model.len() as u64);
    }
}

#[test]
fn a_damaged_map_file_is_detected_by_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    drop(populated(dir.path()).0);
    let path = dir.path().join(MAP_FILE_NAME);
    let good = fs::read(&path).unwrap();
    for (what, bytes) in [
        ("one flipped bit", {
            let mut b = good.clone();
            b[20] ^= 0x04;
            b
        }),
        ("a torn write", good[..good.len() / 2].to_vec()),
        ("an empty file", Vec::new()),
    ] {
        fs::write(&path, &bytes).unwrap();
        match support::TestTable::open(dir.path(), schema(), options(1).0, open_engine) {
            Err(TableError::Storage(StorageError::Corruption { file, reason, .. })) => {
                assert_eq!(file, path, "{what}");
                assert!(!reason.is_empty());
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    fs::write(&path, &good).unwrap();
    assert!(support::TestTable::open(dir.path(), schema(), options(1).0, open_engine).is_ok());
}

#[test]
fn a_key_stored_in_the_wrong_partition_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (table, _) = populated(dir.path());
    let map = table.partition_map().unwrap();
    drop(table);
    // Plant an item in a partition that does not own its hash.
    let pk = (0..)
        .map(|i| format!("stray{i}"))
        .find(|pk| {
            !map.entries()[0]
                .range
                .contains(partition_hash(&KeyValue::S(pk.clone())))
        })
        .unwrap();
    let stray = item(&pk, 1, "lost");
    let engine = open_engine(&partition_dir(dir.path(), map.entries()[0].id)).unwrap();
    engine
        .put(
            &item_key(&key(&pk, 1)),
            &step01_kv::codec::encode_item(&stray),
        )
        .unwrap();
    drop(engine);
    match support::TestTable::open(dir.path(), schema(), options(1).0, open_engine) {
        Err(TableError::Corrupt { what }) => assert!(what.contains("outside"), "{what}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_table_directory_is_opened_once() {
    let dir = tempfile::tempdir().unwrap();
    let _table = open_table(dir.path(), options(1).0);
    match support::TestTable::open(dir.path(), schema(), options(1).0, open_engine) {
        Err(TableError::Storage(StorageError::DirectoryLocked { .. })) => {}
        other => panic!("{other:?}"),
    }
}
