//! Snapshot consistency: scans running while batches are written, memtables
//! flushed and tables compacted always see every batch whole — and never go
//! back in time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine, WriteBatch};
use step01_kv::wal::FsyncPolicy;
use step02_lsm::lsm::{Lsm, LsmOptions};

/// Keys every batch rewrites: more than a memtable iterator copies per
/// lock hold, and many table blocks.
const KEYS: u32 = 300;
const ROUNDS: u64 = 150;
const READERS: usize = 2;
const VALUE_PADDING_BYTES: usize = 8;

fn key(i: u32) -> Vec<u8> {
    format!("group/{i:03}").into_bytes()
}

fn value(round: u64) -> Vec<u8> {
    let mut value = round.to_be_bytes().to_vec();
    value.extend([b'.'; VALUE_PADDING_BYTES]);
    value
}

fn round_of(value: &[u8]) -> u64 {
    u64::from_be_bytes(value[..8].try_into().unwrap())
}

/// Checks one scan: empty (before the first batch) or every key of the
/// range, all from one round, and not older than the last round this
/// reader saw. Returns the round.
fn check_scan(entries: &[(Vec<u8>, Vec<u8>)], expected_len: usize, last_seen: u64) -> u64 {
    if entries.is_empty() {
        assert_eq!(last_seen, 0, "keys vanished after they were seen");
        return 0;
    }
    let round = round_of(&entries[0].1);
    assert_eq!(entries.len(), expected_len, "a scan saw part of a batch");
    assert!(
        entries.iter().all(|(_, v)| round_of(v) == round),
        "a scan mixed batches: {:?}",
        entries.iter().map(|(_, v)| round_of(v)).collect::<Vec<_>>()
    );
    assert!(
        round >= last_seen,
        "went back from round {last_seen} to {round}"
    );
    round
}

#[test]
fn scans_see_whole_batches_through_flushes_and_compactions() {
    let dir = tempfile::tempdir().unwrap();
    let options = LsmOptions {
        memtable_bytes: 48 * 1024, // About two batches.
        ..LsmOptions::tiny().with_fsync(FsyncPolicy::Never)
    };
    let lsm = Lsm::open(dir.path(), options).unwrap();
    let done = AtomicBool::new(false);
    let scans = AtomicU64::new(0);
    std::thread::scope(|scope| {
        // The writer: one batch per round rewrites every key.
        scope.spawn(|| {
            for round in 1..=ROUNDS {
                let mut batch = WriteBatch::new();
                for i in 0..KEYS {
                    batch.put(key(i), value(round));
                }
                lsm.write(batch).unwrap();
                if round % 25 == 0 {
                    lsm.flush().unwrap();
                }
                if round % 60 == 0 {
                    lsm.compact_all().unwrap();
                }
            }
            done.store(true, Ordering::Release);
        });
        for reader in 0..READERS {
            let (lsm, done, scans) = (&lsm, &done, &scans);
            scope.spawn(move || {
                let direction = if reader % 2 == 0 {
                    ScanDirection::Forward
                } else {
                    ScanDirection::Reverse
                };
                let mut last_seen = 0;
                let mut last_partial = 0;
                // Ends with the writer; at most this many scans meanwhile.
                for _ in 0..1_000_000 {
                    let finished = done.load(Ordering::Acquire);
                    let all = lsm.scan(&KeyRange::all(), direction, usize::MAX).unwrap();
                    last_seen = check_scan(&all, KEYS as usize, last_seen);
                    // A bounded scan in the middle of the key space.
                    let range = KeyRange::new(
                        std::ops::Bound::Included(key(100)),
                        std::ops::Bound::Excluded(key(290)),
                    );
                    let part = lsm.scan(&range, direction, 150).unwrap();
                    last_partial = check_scan(&part, 150, last_partial);
                    scans.fetch_add(1, Ordering::Relaxed);
                    if finished {
                        break;
                    }
                }
                assert_eq!(last_seen, ROUNDS, "the last scan sees the last batch");
            });
        }
    });
    let stats = lsm.stats().unwrap();
    assert!(stats.flushes >= 6, "{stats:?}");
    assert!(stats.compactions >= 2, "{stats:?}");
    assert!(
        scans.load(Ordering::Relaxed) >= 10,
        "the readers ran alongside"
    );
}

#[test]
fn a_get_after_a_write_sees_it_through_concurrent_flushes() {
    const THREADS: u32 = 4;
    const WRITES: u32 = 300;
    let dir = tempfile::tempdir().unwrap();
    let lsm = Lsm::open(
        dir.path(),
        LsmOptions::tiny().with_fsync(FsyncPolicy::Never),
    )
    .unwrap();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let lsm = &lsm;
            scope.spawn(move || {
                for i in 0..WRITES {
                    let key = format!("t{t}/{i:05}");
                    lsm.put(key.as_bytes(), &[7; 64]).unwrap();
                    assert_eq!(
                        lsm.get(key.as_bytes()).unwrap(),
                        Some(vec![7; 64]),
                        "read your own write: {key}"
                    );
                    if i % 3 == 0 && i > 0 {
                        let old = format!("t{t}/{:05}", i - 1);
                        lsm.delete(old.as_bytes()).unwrap();
                        assert_eq!(lsm.get(old.as_bytes()).unwrap(), None, "{old} deleted");
                    }
                }
            });
        }
    });
    assert!(lsm.stats().unwrap().flushes >= 10);
}
