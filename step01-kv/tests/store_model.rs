//! Model-based test: random operations against `KvStore` and a `BTreeMap`,
//! with reopens in between, must always agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine, WriteBatch};
use step01_kv::store::{KvOptions, KvStore};
use step01_kv::wal::{FsyncPolicy, WalOptions};

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
    Reopen,
}

/// Few distinct bytes and short keys: keys collide, and many are prefixes
/// of others.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(0u8), Just(1), Just(b'a'), Just(0xff)],
        0..4,
    )
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        1 => prop::collection::vec(any::<u8>(), 200..600),
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
        6 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        3 => key().prop_map(Op::Delete),
        2 => prop::collection::vec((key(), prop::option::of(value())), 1..6).prop_map(Op::Batch),
        3 => key().prop_map(Op::Get),
        3 => (bound(), bound(), any::<bool>(), 0usize..6).prop_map(|(start, end, reverse, limit)| Op::Scan {
            start,
            end,
            direction: if reverse { ScanDirection::Reverse } else { ScanDirection::Forward },
            limit,
        }),
        1 => Just(Op::Reopen),
    ]
}

fn options() -> KvOptions {
    // Small segments, so that reopening also replays across segment files.
    KvOptions {
        wal: WalOptions {
            fsync: FsyncPolicy::Never,
            segment_bytes: 1024,
        },
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = KvStore::open(dir.path(), options()).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut last_seq = 0;
    for op in ops {
        match op {
            Op::Put(key, value) => {
                last_seq = store.put(&key, &value).unwrap().max(last_seq);
                model.insert(key, value);
            }
            Op::Delete(key) => {
                last_seq = store.delete(&key).unwrap().max(last_seq);
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
                let seq = store.write(batch).unwrap();
                prop_assert!(seq > last_seq, "sequence numbers increase");
                last_seq = seq;
                for (key, value) in ops {
                    match value {
                        Some(value) => model.insert(key, value),
                        None => model.remove(&key),
                    };
                }
            }
            Op::Get(key) => {
                prop_assert_eq!(
                    store.get(&key).unwrap(),
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
                let matching = model
                    .iter()
                    .filter(|(k, _)| range.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()));
                let expected: Vec<_> = match direction {
                    ScanDirection::Forward => matching.take(limit).collect(),
                    ScanDirection::Reverse => matching.rev().take(limit).collect(),
                };
                prop_assert_eq!(
                    store.scan(&range, direction, limit).unwrap(),
                    expected,
                    "scan {:?}",
                    range
                );
            }
            Op::Reopen => {
                drop(store);
                store = KvStore::open(dir.path(), options()).unwrap();
            }
        }
    }
    // Everything, once more, after a final reopen.
    drop(store);
    let store = KvStore::open(dir.path(), options()).unwrap();
    let all = store
        .scan(&KeyRange::all(), ScanDirection::Forward, usize::MAX)
        .unwrap();
    let expected: Vec<_> = model.into_iter().collect();
    prop_assert_eq!(all, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_a_btreemap_across_reopens(ops in prop::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
