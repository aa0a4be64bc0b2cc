//! Tables: write then read against a model — point reads at snapshots
//! (exercise 02.3), range iteration both ways, what the writer refuses, and
//! what `finish` reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod table_support;

use proptest::prelude::*;
use std::cmp::Reverse;
use std::ops::Bound;
use std::sync::Arc;
use step01_kv::engine::{KeyRange, ScanDirection, StorageError};
use step01_kv::memtable::Entry;
use step02_lsm::cache::BlockCache;
use step02_lsm::sstable::{Table, TableOptions, TableWriter};
use table_support::{
    Model, collect, model_get, model_iter, small_blocks, table_of, versioned_model, write_model,
};

fn put(model: &mut Model, key: &str, seq: u64, value: Option<&str>) {
    model.insert(
        (key.as_bytes().to_vec(), Reverse(seq)),
        value.map(|v| v.as_bytes().to_vec()),
    );
}

#[test]
fn ex02_3_get_returns_the_newest_version_at_or_below_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let model = versioned_model(60, 4);
    let table = table_of(&dir.path().join("t.sst"), &model, small_blocks());
    assert!(table.block_count() > 10, "the test needs many blocks");
    let max_seq = table.info().max_seq;
    for i in 0..60 {
        let key = format!("key-{i:05}").into_bytes();
        for snapshot in [0, 1, 30, 60, 61, 100, 150, 181, 200, max_seq, u64::MAX] {
            assert_eq!(
                table.get(&key, snapshot).unwrap(),
                model_get(&model, &key, snapshot),
                "key {i} at snapshot {snapshot}"
            );
        }
    }
}

#[test]
fn ex02_3_get_follows_the_versions_of_a_key_into_the_next_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    put(&mut model, "a", 1, Some("first"));
    for seq in 2..40 {
        put(
            &mut model,
            "hot",
            seq,
            Some(&format!("version {seq:02} of a hot key")),
        );
    }
    put(&mut model, "z", 40, Some("last"));
    let table = table_of(&dir.path().join("t.sst"), &model, small_blocks());
    assert!(
        table.block_count() >= 10,
        "the versions of `hot` span blocks"
    );
    for snapshot in 0..=41 {
        assert_eq!(
            table.get(b"hot", snapshot).unwrap(),
            model_get(&model, b"hot", snapshot),
            "snapshot {snapshot}"
        );
    }
    assert_eq!(
        table.get(b"hot", 2).unwrap(),
        Some(Entry {
            seq: 2,
            value: Some(b"version 02 of a hot key".to_vec())
        }),
        "the oldest version is in the last block of the run"
    );
    assert_eq!(table.get(b"a", 0).unwrap(), None);
    assert_eq!(table.get(b"z", 40).unwrap().map(|e| e.seq), Some(40));
}

#[test]
fn ex02_3_absent_keys_read_as_none_and_tombstones_as_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    for (i, key) in ["b", "d", "f", "h", "j", "l", "n"].iter().enumerate() {
        put(
            &mut model,
            key,
            10 + i as u64,
            Some(&format!("value of {key}")),
        );
    }
    put(&mut model, "f", 30, None);
    let table = table_of(&dir.path().join("t.sst"), &model, small_blocks());
    for absent in ["", "a", "c", "e", "fa", "g", "m", "o", "zzz"] {
        assert_eq!(
            table.get(absent.as_bytes(), u64::MAX).unwrap(),
            None,
            "{absent:?}"
        );
    }
    assert_eq!(
        table.get(b"f", u64::MAX).unwrap(),
        Some(Entry {
            seq: 30,
            value: None
        }),
        "a tombstone is an answer"
    );
    assert_eq!(
        table.get(b"f", 29).unwrap(),
        Some(Entry {
            seq: 12,
            value: Some(b"value of f".to_vec())
        }),
        "below the tombstone's snapshot"
    );
    assert_eq!(
        table.get(b"n", 15).unwrap(),
        None,
        "written after the snapshot"
    );
}

#[test]
fn ex02_3_every_key_of_a_large_table_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let model = versioned_model(3_000, 1);
    let table = table_of(&dir.path().join("t.sst"), &model, TableOptions::default());
    for ((key, Reverse(seq)), value) in &model {
        let entry = table.get(key, u64::MAX).unwrap().unwrap();
        assert_eq!((entry.seq, &entry.value), (*seq, value));
    }
}

fn ranges() -> Vec<KeyRange> {
    let inc = |k: &str| Bound::Included(k.as_bytes().to_vec());
    let exc = |k: &str| Bound::Excluded(k.as_bytes().to_vec());
    vec![
        KeyRange::all(),
        KeyRange::new(inc("key-00010"), exc("key-00020")),
        KeyRange::new(exc("key-00010"), inc("key-00020")),
        KeyRange::new(inc("key-00007"), inc("key-00007")),
        KeyRange::new(exc("key-00007"), exc("key-00008")),
        KeyRange::new(inc("key-000075"), Bound::Unbounded),
        KeyRange::new(Bound::Unbounded, exc("key-00003")),
        KeyRange::new(inc("a"), inc("b")),
        KeyRange::new(inc("zzz"), Bound::Unbounded),
        KeyRange::new(Bound::Unbounded, inc("key-00059")),
        KeyRange::new(inc("key-00030"), inc("key-00020")),
        KeyRange::prefix(b"key-0001"),
    ]
}

#[test]
fn iteration_matches_the_model_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let model = versioned_model(60, 3);
    for (name, options) in [
        ("small", small_blocks()),
        ("default", TableOptions::default()),
    ] {
        let table = table_of(&dir.path().join(name), &model, options);
        for range in ranges() {
            for direction in [ScanDirection::Forward, ScanDirection::Reverse] {
                assert_eq!(
                    collect(table.iter(range.clone(), direction)),
                    model_iter(&model, &range, direction),
                    "{name} blocks, {range:?} {direction:?}"
                );
            }
        }
    }
}

#[test]
fn reverse_iteration_keeps_versions_newest_first_across_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    for seq in 1..30 {
        put(
            &mut model,
            "m",
            seq,
            Some("a value long enough to fill blocks"),
        );
    }
    put(&mut model, "a", 30, None);
    put(&mut model, "z", 31, Some("z"));
    let table = table_of(&dir.path().join("t.sst"), &model, small_blocks());
    let reverse = collect(table.iter(KeyRange::all(), ScanDirection::Reverse));
    let order: Vec<(Vec<u8>, u64)> = reverse.iter().map(|e| (e.key.clone(), e.seq)).collect();
    let mut expected = vec![(b"z".to_vec(), 31)];
    expected.extend((1..30).rev().map(|seq| (b"m".to_vec(), seq)));
    expected.push((b"a".to_vec(), 30));
    assert_eq!(order, expected);
}

#[test]
fn iterators_are_lazy_and_independent() {
    let dir = tempfile::tempdir().unwrap();
    let model = versioned_model(500, 1);
    let cache = BlockCache::new(1 << 20);
    let path = dir.path().join("t.sst");
    write_model(&path, &model, TableOptions::default());
    let table = Table::open(&path, 7, Arc::clone(&cache)).unwrap();
    assert_eq!(cache.stats().misses, 0, "opening reads no data block");
    let first: Vec<_> = table
        .iter(KeyRange::all(), ScanDirection::Forward)
        .take(3)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(cache.stats().misses, 1, "three entries need one block");
    let mut forward = table.iter(KeyRange::all(), ScanDirection::Forward);
    let mut reverse = table.iter(KeyRange::all(), ScanDirection::Reverse);
    let (f, r) = (
        forward.next().unwrap().unwrap(),
        reverse.next().unwrap().unwrap(),
    );
    assert_eq!(f.key, b"key-00000");
    assert_eq!(r.key, b"key-00499");
}

#[test]
fn finish_reports_the_table_and_open_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let model = versioned_model(100, 2);
    let info = write_model(&path, &model, small_blocks());
    assert_eq!(info.smallest_key, b"key-00000");
    assert_eq!(info.largest_key, b"key-00099");
    assert_eq!(info.entries, 200);
    assert_eq!((info.min_seq, info.max_seq), (1, 200));
    assert_eq!(info.file_bytes, std::fs::metadata(&path).unwrap().len());
    let table = Table::open(&path, 3, BlockCache::new(0)).unwrap();
    assert_eq!(table.info(), &info);
    assert_eq!(table.id(), 3);
}

#[test]
fn default_blocks_are_about_4_kib_and_the_size_estimate_is_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let options = TableOptions::default();
    assert_eq!(
        (
            options.block_size_bytes,
            options.restart_interval,
            options.bloom_bits_per_key
        ),
        (4096, 16, 10)
    );
    let mut writer = TableWriter::create(&path, options).unwrap();
    for i in 0..20_000u32 {
        writer
            .add(
                format!("key-{i:08}").as_bytes(),
                u64::from(i) + 1,
                Some(&[b'v'; 100]),
            )
            .unwrap();
    }
    let estimate = writer.estimated_file_bytes();
    let info = writer.finish().unwrap();
    let table = Table::open(&path, 1, BlockCache::new(0)).unwrap();
    // A block closes once it reaches 4096 bytes, so it holds 4096 bytes
    // plus less than one entry; filter and index add ~2% to the file.
    let average_block = info.file_bytes as f64 / table.block_count() as f64;
    assert!(
        (4096.0..4096.0 * 1.1).contains(&average_block),
        "{} bytes in {} blocks",
        info.file_bytes,
        table.block_count()
    );
    let error = (estimate as f64 - info.file_bytes as f64).abs() / info.file_bytes as f64;
    assert!(
        error < 0.02,
        "estimate {estimate}, actual {}",
        info.file_bytes
    );
}

#[test]
fn the_writer_refuses_entries_out_of_internal_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer =
        TableWriter::create(&dir.path().join("t.sst"), TableOptions::default()).unwrap();
    writer.add(b"b", 5, Some(b"v")).unwrap();
    writer.add(b"b", 4, None).unwrap();
    for (key, seq) in [(&b"a"[..], 9), (b"b", 4), (b"b", 6), (b"b", 5)] {
        let result = writer.add(key, seq, Some(b"x"));
        assert!(
            matches!(result, Err(StorageError::InvalidBatch { .. })),
            "({key:?}, {seq}): {result:?}"
        );
    }
    writer.add(b"b", 3, Some(b"older")).unwrap();
    writer.add(b"c", 100, Some(b"newer key, any seq")).unwrap();
    let info = writer.finish().unwrap();
    assert_eq!(info.entries, 4, "refused entries are not written");
}

#[test]
fn the_writer_refuses_empty_tables_bad_options_and_oversized_keys() {
    let dir = tempfile::tempdir().unwrap();
    let writer =
        TableWriter::create(&dir.path().join("empty.sst"), TableOptions::default()).unwrap();
    assert!(matches!(
        writer.finish(),
        Err(StorageError::InvalidBatch { .. })
    ));
    for options in [
        TableOptions {
            block_size_bytes: 0,
            ..TableOptions::default()
        },
        TableOptions {
            restart_interval: 0,
            ..TableOptions::default()
        },
        TableOptions {
            bloom_bits_per_key: 0,
            ..TableOptions::default()
        },
        TableOptions {
            bloom_bits_per_key: 65,
            ..TableOptions::default()
        },
    ] {
        assert!(
            TableWriter::create(&dir.path().join("bad.sst"), options).is_err(),
            "{options:?}"
        );
    }
    let mut writer =
        TableWriter::create(&dir.path().join("t.sst"), TableOptions::default()).unwrap();
    let too_long = vec![b'k'; step01_kv::engine::KEY_BYTES_MAX + 1];
    assert!(writer.add(&too_long, 1, None).is_err());
    writer.add(&too_long[1..], 1, None).unwrap();
    writer.finish().unwrap();
}

#[test]
fn opening_a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let result = Table::open(&dir.path().join("missing.sst"), 1, BlockCache::new(0));
    assert!(matches!(result, Err(StorageError::Io { .. })), "{result:?}");
}

#[test]
fn many_threads_read_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let model = versioned_model(2_000, 2);
    let table = table_of(&dir.path().join("t.sst"), &model, TableOptions::default());
    std::thread::scope(|scope| {
        for thread in 0..4u32 {
            let (table, model) = (&table, &model);
            scope.spawn(move || {
                for i in (thread..2_000).step_by(4) {
                    let key = format!("key-{i:05}").into_bytes();
                    assert_eq!(
                        table.get(&key, u64::MAX).unwrap(),
                        model_get(model, &key, u64::MAX)
                    );
                }
            });
        }
    });
}

fn model_strategy() -> impl Strategy<Value = Model> {
    let key = prop::collection::vec(
        prop::sample::select(vec![0u8, b'a', b'b', b'c', 0xff]),
        0..6,
    );
    let value = prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..30));
    prop::collection::btree_map((key, 1u64..60), value, 1..120).prop_map(|map| {
        map.into_iter()
            .map(|((key, seq), value)| ((key, Reverse(seq)), value))
            .collect()
    })
}

fn bound_strategy() -> impl Strategy<Value = Bound<Vec<u8>>> {
    let key = prop::collection::vec(
        prop::sample::select(vec![0u8, b'a', b'b', b'c', 0xff]),
        0..4,
    );
    prop_oneof![
        Just(Bound::Unbounded),
        key.clone().prop_map(Bound::Included),
        key.prop_map(Bound::Excluded),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tables_match_a_model(
        model in model_strategy(),
        block_size_bytes in 16usize..600,
        restart_interval in 1usize..6,
        gets in prop::collection::vec((prop::collection::vec(prop::sample::select(vec![0u8, b'a', b'b', b'c', 0xff]), 0..6), 0u64..70), 20),
        scans in prop::collection::vec((bound_strategy(), bound_strategy()), 6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = TableOptions { block_size_bytes, restart_interval, bloom_bits_per_key: 8 };
        let table = table_of(&dir.path().join("t.sst"), &model, options);
        for (key, snapshot) in gets {
            prop_assert_eq!(table.get(&key, snapshot).unwrap(), model_get(&model, &key, snapshot), "get {:?} at {}", key, snapshot);
        }
        for ((key, _), _) in model.iter().take(10) {
            prop_assert_eq!(table.get(key, u64::MAX).unwrap(), model_get(&model, key, u64::MAX));
        }
        for (start, end) in scans {
            let range = KeyRange::new(start, end);
            for direction in [ScanDirection::Forward, ScanDirection::Reverse] {
                prop_assert_eq!(
                    collect(table.iter(range.clone(), direction)),
                    model_iter(&model, &range, direction),
                    "{:?} {:?}", range, direction
                );
            }
        }
    }
}
