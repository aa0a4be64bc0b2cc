//! The LSM engine's own behaviour, through its public API: flushes,
//! the read path across levels, compaction, backpressure, and what opening
//! does with leftovers of a crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine, StorageError, WriteBatch};
use step01_kv::wal::{FsyncPolicy, list_segments};
use step02_lsm::lsm::{Lsm, LsmOptions, TABLES_DIR_NAME, WAL_DIR_NAME, table_path};

/// Tiny tables, no fsyncs, and compaction only when asked: every flush
/// stays a level-0 table until the test compacts.
fn manual() -> LsmOptions {
    LsmOptions {
        l0_compaction_trigger_files: 100,
        l0_slowdown_files: 100,
        l0_stall_files: 100,
        memtable_bytes: 1 << 20,
        ..LsmOptions::tiny().with_fsync(FsyncPolicy::Never)
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

fn table_files(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir.join(TABLES_DIR_NAME))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn live_table_files(lsm: &Lsm) -> BTreeSet<String> {
    lsm.levels()
        .unwrap()
        .iter()
        .flatten()
        .map(|t| {
            table_path(lsm.dir(), t.id)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn level_sizes(lsm: &Lsm) -> Vec<usize> {
    lsm.levels().unwrap().iter().map(Vec::len).collect()
}

#[test]
fn a_flush_writes_a_level_0_table_and_deletes_the_log_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    for i in 0..200 {
        lsm.put(&key(i), b"value").unwrap();
    }
    lsm.flush().unwrap();
    assert_eq!(level_sizes(&lsm)[0], 1);
    lsm.flush().unwrap(); // Nothing new: no empty table.
    assert_eq!(level_sizes(&lsm)[0], 1);
    // The segment holding writes 1..=200 is deleted once the log has moved
    // on to a new segment, by the flush after that.
    lsm.put(b"after", b"flush").unwrap();
    lsm.flush().unwrap();
    let segments = list_segments(&dir.path().join(WAL_DIR_NAME)).unwrap();
    assert_eq!(segments.len(), 1, "the flushed segments are gone");
    assert!(
        segments[0].0 > 200,
        "only writes after the flush remain in the log"
    );
    drop(lsm);

    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    assert_eq!(lsm.get(&key(7)).unwrap(), Some(b"value".to_vec()));
    assert_eq!(lsm.get(b"after").unwrap(), Some(b"flush".to_vec()));
    assert_eq!(lsm.stats().unwrap().flushes, 0, "reopening flushes nothing");
    assert_eq!(lsm.levels().unwrap()[0].len(), 2);
    assert_eq!(
        lsm.put(b"next", b"x").unwrap(),
        202,
        "sequence numbers continue"
    );
}

#[test]
fn ex02_6_newer_levels_shadow_older_ones() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    for (k, v) in [("a", "old"), ("b", "old"), ("c", "old"), ("d", "old")] {
        lsm.put(k.as_bytes(), v.as_bytes()).unwrap();
    }
    lsm.flush().unwrap();
    lsm.compact_all().unwrap();
    assert_eq!(
        level_sizes(&lsm)[..2],
        [0, 1],
        "the old versions are in level 1"
    );

    lsm.put(b"a", b"l0-first").unwrap();
    lsm.delete(b"b").unwrap();
    lsm.flush().unwrap();
    lsm.put(b"a", b"l0-second").unwrap();
    lsm.put(b"c", b"l0-second").unwrap();
    lsm.flush().unwrap();
    assert_eq!(level_sizes(&lsm)[..2], [2, 1]);
    lsm.put(b"c", b"memtable").unwrap();

    let get = |k: &str| {
        lsm.get(k.as_bytes())
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(
        get("a").as_deref(),
        Some("l0-second"),
        "the newest level-0 table wins"
    );
    assert_eq!(get("b"), None, "a level-0 tombstone hides level 1");
    assert_eq!(get("c").as_deref(), Some("memtable"));
    assert_eq!(get("d").as_deref(), Some("old"), "found in level 1");
    assert_eq!(get("e"), None);

    drop(lsm);
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    assert_eq!(lsm.get(b"a").unwrap(), Some(b"l0-second".to_vec()));
    assert_eq!(lsm.get(b"b").unwrap(), None);
    assert_eq!(lsm.get(b"c").unwrap(), Some(b"memtable".to_vec()));
}

#[test]
fn ex02_6_gets_read_one_table_and_skip_the_rest_by_range_and_bloom_filter() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    // Five level-0 tables over the same key range: table t holds the keys
    // i with i % 5 == t.
    for t in 0..5 {
        for i in (t..500).step_by(5) {
            lsm.put(&key(i), format!("t{t}").as_bytes()).unwrap();
        }
        lsm.flush().unwrap();
    }
    assert_eq!(level_sizes(&lsm)[0], 5);
    let before = lsm.stats().unwrap();
    for i in 0..500 {
        let expected = format!("t{}", i % 5).into_bytes();
        assert_eq!(lsm.get(&key(i)).unwrap(), Some(expected));
    }
    let after = lsm.stats().unwrap();
    let probed = after.tables_probed - before.tables_probed;
    let skipped = after.bloom_skips - before.bloom_skips;
    // Each key is in exactly one table; without filters a get would read
    // up to five. With ~1% false positives, nearly every get reads one.
    assert!((500..=540).contains(&probed), "tables read: {probed}");
    assert!(skipped >= 900, "bloom filter skips: {skipped}");

    // Keys outside every table's range never reach a filter.
    let before = lsm.stats().unwrap();
    assert_eq!(lsm.get(b"zzz").unwrap(), None);
    assert_eq!(lsm.get(b"a").unwrap(), None);
    let after = lsm.stats().unwrap();
    assert_eq!(after.tables_probed, before.tables_probed);
    assert_eq!(after.bloom_skips, before.bloom_skips);

    // In level 1 and deeper, one table per level is considered.
    lsm.compact_all().unwrap();
    let levels = lsm.levels().unwrap();
    let deep_tables = levels.iter().skip(1).map(Vec::len).sum::<usize>();
    assert!(deep_tables >= 2, "the compaction split its output");
    let before = lsm.stats().unwrap();
    assert_eq!(lsm.get(&key(123)).unwrap(), Some(b"t3".to_vec()));
    let after = lsm.stats().unwrap();
    assert_eq!(after.tables_probed - before.tables_probed, 1);
    assert_eq!(after.bloom_skips, before.bloom_skips);
}

#[test]
fn full_compaction_drops_shadowed_versions_and_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    for round in 0..3 {
        for i in 0..100 {
            lsm.put(&key(i), format!("round-{round}").as_bytes())
                .unwrap();
        }
        lsm.flush().unwrap();
    }
    for i in 0..50 {
        lsm.delete(&key(i)).unwrap();
    }
    lsm.flush().unwrap();
    let entries = |lsm: &Lsm| -> u64 {
        lsm.levels()
            .unwrap()
            .iter()
            .flatten()
            .map(|t| t.entries)
            .sum()
    };
    assert_eq!(entries(&lsm), 350);
    lsm.compact_all().unwrap();
    assert_eq!(level_sizes(&lsm)[0], 0);
    assert_eq!(
        entries(&lsm),
        50,
        "one version of each live key, no tombstones"
    );
    let all = lsm
        .scan(&KeyRange::all(), ScanDirection::Forward, usize::MAX)
        .unwrap();
    assert_eq!(all.len(), 50);
    assert!(all.iter().all(|(_, v)| v == b"round-2"));
    assert_eq!(
        table_files(dir.path()),
        live_table_files(&lsm),
        "inputs deleted"
    );
    assert!(lsm.stats().unwrap().compactions >= 1);
}

#[test]
fn a_delete_survives_compaction_into_the_bottom_level_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    lsm.put(b"k", b"old").unwrap();
    lsm.put(b"other", b"x").unwrap();
    lsm.flush().unwrap();
    lsm.compact_all().unwrap(); // Level 1 now holds the old value.
    lsm.delete(b"k").unwrap();
    lsm.flush().unwrap();
    assert_eq!(
        lsm.get(b"k").unwrap(),
        None,
        "the level-0 tombstone hides it"
    );
    lsm.compact_all().unwrap(); // Merges tombstone and value, drops both.
    assert_eq!(lsm.get(b"k").unwrap(), None);
    let entries: u64 = lsm
        .levels()
        .unwrap()
        .iter()
        .flatten()
        .map(|t| t.entries)
        .sum();
    assert_eq!(entries, 1, "only \"other\" is left");
    drop(lsm);
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    assert_eq!(
        lsm.get(b"k").unwrap(),
        None,
        "the old value never comes back"
    );
    assert_eq!(lsm.get(b"other").unwrap(), Some(b"x".to_vec()));
}

/// Waits until the background compactions have moved every table into the
/// last level (see `cascading`).
fn wait_for_the_last_level(lsm: &Lsm) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let sizes = level_sizes(lsm);
        if sizes[..sizes.len() - 1].iter().all(|&n| n == 0) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "stuck at {sizes:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Every level is over its target as soon as it holds a table, so each
/// flush cascades down to the last level, one compaction per level.
fn cascading() -> LsmOptions {
    LsmOptions {
        l0_compaction_trigger_files: 1,
        level_size_ratio: 2,
        l1_target_bytes: 1,
        memtable_bytes: 1 << 20,
        ..LsmOptions::tiny().with_fsync(FsyncPolicy::Never)
    }
}

#[test]
fn a_tombstone_travels_down_until_nothing_older_lies_below() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), cascading()).unwrap();
    lsm.put(b"k", b"old").unwrap();
    lsm.put(b"z", b"z").unwrap();
    lsm.flush().unwrap();
    wait_for_the_last_level(&lsm);
    // The delete passes levels 1 to 5 on its way; in each, the old value
    // still lies below, so the tombstone must stay.
    lsm.delete(b"k").unwrap();
    lsm.put(b"a", b"a").unwrap();
    lsm.flush().unwrap();
    wait_for_the_last_level(&lsm);
    assert!(lsm.stats().unwrap().compactions >= 12, "two cascades");
    assert_eq!(lsm.get(b"k").unwrap(), None, "the old value came back");
    let keys: Vec<Vec<u8>> = lsm
        .scan(&KeyRange::all(), ScanDirection::Forward, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec![b"a".to_vec(), b"z".to_vec()]);
    let entries: u64 = lsm
        .levels()
        .unwrap()
        .iter()
        .flatten()
        .map(|t| t.entries)
        .sum();
    assert_eq!(
        entries, 2,
        "at the bottom, the tombstone and the value are gone"
    );
}

#[test]
fn background_compaction_keeps_level_0_small_and_data_intact() {
    let dir = tempfile::tempdir().unwrap();
    let options = LsmOptions::tiny().with_fsync(FsyncPolicy::Never);
    let lsm = Lsm::open(dir.path(), options).unwrap();
    for i in 0..3000u32 {
        lsm.put(&key(i % 700), &i.to_le_bytes()).unwrap();
    }
    lsm.flush().unwrap();
    let stats = lsm.stats().unwrap();
    assert!(stats.flushes >= 10, "{stats:?}");
    assert!(stats.compactions >= 2, "{stats:?}");
    assert!(
        stats.tables_per_level[0] <= options.l0_stall_files,
        "{stats:?}"
    );
    assert!(
        stats.tables_per_level[1..].iter().sum::<usize>() > 0,
        "data moved below level 0"
    );
    for i in 2300..3000u32 {
        assert_eq!(
            lsm.get(&key(i % 700)).unwrap(),
            Some(i.to_le_bytes().to_vec())
        );
    }
}

#[test]
fn backpressure_bounds_memtables_and_level_0_under_a_write_flood() {
    const THREADS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let options = LsmOptions::tiny().with_fsync(FsyncPolicy::Never);
    let lsm = Lsm::open(dir.path(), options).unwrap();
    let value = vec![7u8; 200];
    let peak = std::sync::Mutex::new((0usize, 0usize));
    std::thread::scope(|scope| {
        for t in 0..THREADS as u32 {
            let (lsm, value, peak) = (&lsm, &value, &peak);
            scope.spawn(move || {
                for i in 0..400u32 {
                    lsm.put(&key(t * 100_000 + i), value).unwrap();
                    let stats = lsm.stats().unwrap();
                    let mut peak = peak.lock().unwrap();
                    peak.0 = peak.0.max(stats.immutable_memtables);
                    peak.1 = peak.1.max(stats.tables_per_level[0]);
                }
            });
        }
    });
    let (immutables, level_0) = *peak.lock().unwrap();
    let stats = lsm.stats().unwrap();
    // A writer that passed the check may still freeze one more memtable.
    assert!(
        immutables <= options.immutable_memtables_stall + THREADS,
        "{immutables} immutable memtables"
    );
    assert!(
        level_0 <= options.l0_stall_files + options.immutable_memtables_stall + THREADS,
        "{level_0} level-0 tables"
    );
    assert!(
        stats.write_slowdowns + stats.write_stalls > 0,
        "writes outpaced the disk without being held back: {stats:?}"
    );
}

#[test]
fn opening_deletes_orphan_tables_and_keeps_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    lsm.put(b"k", b"v").unwrap();
    lsm.flush().unwrap();
    let live = live_table_files(&lsm);
    drop(lsm);
    // What a crash mid-flush or mid-compaction leaves behind.
    fs::write(table_path(dir.path(), 999_999), b"half a table").unwrap();
    fs::write(dir.path().join(TABLES_DIR_NAME).join("junk.tmp"), b"x").unwrap();

    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    assert_eq!(lsm.stats().unwrap().orphans_deleted_at_open, 2);
    assert_eq!(table_files(dir.path()), live);
    assert_eq!(lsm.get(b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn a_missing_table_or_log_segment_is_corruption_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    lsm.put(b"k", b"v").unwrap();
    lsm.flush().unwrap();
    let table = lsm.levels().unwrap()[0][0].id;
    drop(lsm);

    let path = table_path(dir.path(), table);
    let saved = fs::read(&path).unwrap();
    fs::remove_file(&path).unwrap();
    let result = Lsm::open(dir.path(), manual());
    assert!(
        matches!(result, Err(StorageError::Corruption { .. })),
        "{result:?}"
    );
    fs::write(&path, &saved).unwrap();
    assert_eq!(
        Lsm::open(dir.path(), manual()).unwrap().get(b"k").unwrap(),
        Some(b"v".to_vec()),
        "the failed open changed nothing"
    );

    // The log must start right after the flushed writes: a gap means lost
    // writes.
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    for i in 0..5 {
        lsm.put(&key(i), b"unflushed").unwrap();
    }
    drop(lsm);
    let wal_dir = dir.path().join(WAL_DIR_NAME);
    let (_, segment) = list_segments(&wal_dir).unwrap().remove(0);
    let bytes = fs::read(&segment).unwrap();
    fs::remove_file(&segment).unwrap();
    // A later segment (as if the lost one were followed by more writes).
    fs::write(wal_dir.join(step01_kv::wal::segment_file_name(50)), b"").unwrap();
    let result = Lsm::open(dir.path(), manual());
    assert!(
        matches!(result, Err(StorageError::Corruption { .. })),
        "{result:?}"
    );
    fs::remove_file(wal_dir.join(step01_kv::wal::segment_file_name(50))).unwrap();
    fs::write(&segment, bytes).unwrap();
    assert_eq!(
        Lsm::open(dir.path(), manual())
            .unwrap()
            .get(&key(3))
            .unwrap(),
        Some(b"unflushed".to_vec())
    );
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    let second = Lsm::open(dir.path(), manual());
    assert!(
        matches!(second, Err(StorageError::DirectoryLocked { .. })),
        "{second:?}"
    );
    drop(lsm);
    Lsm::open(dir.path(), manual()).unwrap();
}

#[test]
fn scans_merge_every_level_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(dir.path(), manual()).unwrap();
    let mut model = std::collections::BTreeMap::new();
    for round in 0..4u32 {
        for i in (round..400).step_by(3) {
            let value = format!("{round}-{i}").into_bytes();
            lsm.put(&key(i), &value).unwrap();
            model.insert(key(i), value);
        }
        let mut batch = WriteBatch::new();
        for i in (round * 7..400).step_by(11) {
            batch.delete(key(i));
            model.remove(&key(i));
        }
        lsm.write(batch).unwrap();
        lsm.flush().unwrap();
        if round == 1 {
            lsm.compact_all().unwrap();
        }
    }
    let range = KeyRange::new(
        std::ops::Bound::Included(key(50)),
        std::ops::Bound::Excluded(key(350)),
    );
    let expected: Vec<_> = model
        .range(key(50)..key(350))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        lsm.scan(&range, ScanDirection::Forward, usize::MAX)
            .unwrap(),
        expected
    );
    let reverse: Vec<_> = expected.iter().rev().take(17).cloned().collect();
    assert_eq!(
        lsm.scan(&range, ScanDirection::Reverse, 17).unwrap(),
        reverse
    );
}
