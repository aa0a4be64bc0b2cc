//! Model-based test: random writes and reads against `Lsm` and a
//! `BTreeMap`, interleaved with forced flushes and compactions, clean
//! reopens and crashes, must always agree.
//!
//! A crash drops the engine without waiting for its background work (a
//! flush or compaction in progress is abandoned mid-way), then adds what a
//! crash at a bad moment leaves on disk: half a table file nobody
//! references, and torn, unacknowledged tails on the manifest and the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::ops::Bound;
use std::path::Path;
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine, WriteBatch};
use step01_kv::wal::{FsyncPolicy, list_segments};
use step02_lsm::lsm::{Lsm, LsmOptions, WAL_DIR_NAME, table_path};
use step02_lsm::manifest::MANIFEST_FILE_NAME;

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// `None` deletes.
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Get(Vec<u8>),
    Scan {
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
        direction: ScanDirection,
        limit: usize,
    },
    Flush,
    Compact,
    Reopen,
    /// Drop without waiting, then leave crash debris: `garbage` bytes of a
    /// torn write on the manifest and the log.
    Crash {
        garbage: Vec<u8>,
    },
}

/// Few distinct bytes and short keys: keys collide, and many are prefixes
/// of others.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(0u8), Just(1), Just(b'a'), Just(0xff)],
        0..4,
    )
}

/// Mostly small values, some large enough to fill a tiny memtable fast.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        1 => prop::collection::vec(any::<u8>(), 300..900),
    ]
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        3 => key().prop_map(Op::Delete),
        3 => prop::collection::vec((key(), prop::option::of(value())), 1..6).prop_map(Op::Batch),
        3 => key().prop_map(Op::Get),
        3 => (bound(), bound(), any::<bool>(), 0usize..8).prop_map(|(start, end, reverse, limit)| Op::Scan {
            start,
            end,
            direction: if reverse { ScanDirection::Reverse } else { ScanDirection::Forward },
            limit,
        }),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => prop::collection::vec(any::<u8>(), 1..40).prop_map(|garbage| Op::Crash { garbage }),
    ]
}

fn options() -> LsmOptions {
    LsmOptions {
        memtable_bytes: 1024,
        ..LsmOptions::tiny().with_fsync(FsyncPolicy::Never)
    }
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

/// What a crash at a bad moment leaves behind, besides abandoned work.
fn leave_crash_debris(dir: &Path, garbage: &[u8]) {
    std::fs::write(table_path(dir, 1 << 40), garbage).unwrap();
    append(&dir.join(MANIFEST_FILE_NAME), garbage);
    if let Some((_, segment)) = list_segments(&dir.join(WAL_DIR_NAME)).unwrap().pop() {
        append(&segment, garbage);
    }
}

fn check_all(lsm: &Lsm, model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), TestCaseError> {
    let all = lsm
        .scan(&KeyRange::all(), ScanDirection::Forward, usize::MAX)
        .unwrap();
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    prop_assert_eq!(all, expected);
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut lsm = Lsm::open(dir.path(), options()).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Put(key, value) => {
                lsm.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            Op::Delete(key) => {
                lsm.delete(&key).unwrap();
                model.remove(&key);
            }
            Op::Batch(ops) => {
                let mut batch = WriteBatch::new();
                for (key, value) in &ops {
                    match value {
                        Some(value) => batch.put(key.clone(), value.clone()),
                        None => batch.delete(key.clone()),
                    };
                }
                lsm.write(batch).unwrap();
                for (key, value) in ops {
                    match value {
                        Some(value) => model.insert(key, value),
                        None => model.remove(&key),
                    };
                }
            }
            Op::Get(key) => {
                prop_assert_eq!(
                    lsm.get(&key).unwrap(),
                    model.get(&key).cloned(),
                    "get {:?}",
                    key
                );
            }
            Op::Scan {
                start,
                end,
                direction,
                limit,
            } => {
                let range = KeyRange::new(start, end);
                let mut expected: Vec<(Vec<u8>, Vec<u8>)> = model
                    .iter()
                    .filter(|(k, _)| range.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if direction == ScanDirection::Reverse {
                    expected.reverse();
                }
                expected.truncate(limit);
                prop_assert_eq!(
                    lsm.scan(&range, direction, limit).unwrap(),
                    expected,
                    "scan {:?}",
                    range
                );
            }
            Op::Flush => {
                lsm.flush().unwrap();
                prop_assert_eq!(lsm.stats().unwrap().immutable_memtables, 0);
            }
            Op::Compact => {
                lsm.compact_all().unwrap();
                check_all(&lsm, &model)?;
            }
            Op::Reopen => {
                lsm.flush().unwrap();
                drop(lsm);
                lsm = Lsm::open(dir.path(), options()).unwrap();
                check_all(&lsm, &model)?;
            }
            Op::Crash { garbage } => {
                drop(lsm);
                leave_crash_debris(dir.path(), &garbage);
                lsm = Lsm::open(dir.path(), options()).unwrap();
                prop_assert!(lsm.stats().unwrap().orphans_deleted_at_open >= 1);
                check_all(&lsm, &model)?;
            }
        }
    }
    check_all(&lsm, &model)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn lsm_matches_a_btreemap_through_flushes_compactions_and_crashes(
        ops in prop::collection::vec(op(), 1..120)
    ) {
        run(ops)?;
    }
}

/// A fixed sequence that exercises every op at least once, so a change
/// that breaks one shows up even if the random cases happen to miss it.
#[test]
fn every_operation_once() {
    let big = vec![9u8; 800];
    let ops = vec![
        Op::Put(b"a".to_vec(), big.clone()),
        Op::Put(b"b".to_vec(), big.clone()),
        Op::Flush,
        Op::Delete(b"a".to_vec()),
        Op::Batch(vec![
            (b"c".to_vec(), Some(big.clone())),
            (b"b".to_vec(), None),
        ]),
        Op::Compact,
        Op::Get(b"a".to_vec()),
        Op::Crash {
            garbage: vec![1, 2, 3],
        },
        Op::Put(b"d".to_vec(), big),
        Op::Reopen,
        Op::Scan {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            direction: ScanDirection::Reverse,
            limit: 10,
        },
    ];
    run(ops).unwrap();
}
