//! The table against a model: any sequence of puts, deletes, splits and
//! restarts keeps every item exactly once, and paging through Query (both
//! directions) and Scan (every segment) with small limits returns exactly
//! the model's items, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use proptest::prelude::*;
use step01_kv::engine::ScanDirection;
use step03_partitioning::layout::SortCondition;
use step03_partitioning::split::SplitOutcome;
use support::*;

const PARTITION_KEYS: usize = 6;
const SORT_KEYS: i64 = 8;

#[derive(Clone, Debug)]
enum Op {
    Put {
        pk: usize,
        sk: i64,
        len: usize,
    },
    Delete {
        pk: usize,
        sk: i64,
    },
    /// Split the partition at this index of the map (modulo its length).
    Split {
        index: usize,
    },
    /// Let the policy split whatever is over the (small) size limit.
    AutoSplit,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..PARTITION_KEYS, 0..SORT_KEYS, prop_oneof![0..20usize, 300..900usize])
            .prop_map(|(pk, sk, len)| Op::Put { pk, sk, len }),
        2 => (0..PARTITION_KEYS, 0..SORT_KEYS).prop_map(|(pk, sk)| Op::Delete { pk, sk }),
        2 => (0..16usize).prop_map(|index| Op::Split { index }),
        1 => Just(Op::AutoSplit),
        1 => Just(Op::Restart),
    ]
}

fn pk_name(pk: usize) -> String {
    format!("pk{pk}")
}

/// Checks every read path against the model.
fn check(table: &TestTable, model: &Model, limit: usize) {
    // Stored exactly once, with exact statistics.
    assert_eq!(table.verify().unwrap().item_count, model.len() as u64);
    let want: Vec<_> = model.values().cloned().collect();
    // Scan: every segment, paged, together is the model in global order.
    for total in [1, 3] {
        let all: Vec<_> = scan_all(table, total, Some(limit))
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(all, want, "scan of {total} segments, limit {limit}");
    }
    // Query: each collection, both directions, paged.
    for pk in 0..PARTITION_KEYS {
        let name = pk_name(pk);
        let collection: Vec<_> = model
            .values()
            .filter(|it| value_of_pk(it) == name)
            .cloned()
            .collect();
        let forward = query_all(
            table,
            &name,
            SortCondition::All,
            ScanDirection::Forward,
            Some(limit),
        );
        assert_eq!(forward, collection, "query {name} forward, limit {limit}");
        let reverse = query_all(
            table,
            &name,
            SortCondition::All,
            ScanDirection::Reverse,
            Some(limit),
        );
        let mut backwards = collection.clone();
        backwards.reverse();
        assert_eq!(reverse, backwards, "query {name} reverse, limit {limit}");
        let between = query_all(
            table,
            &name,
            SortCondition::Between(num(2), num(5)),
            ScanDirection::Reverse,
            Some(limit),
        );
        let wanted: Vec<_> = backwards
            .into_iter()
            .filter(|it| {
                let sk = schema().key_of(it).unwrap().sort.unwrap();
                (num(2)..=num(5)).contains(&sk)
            })
            .collect();
        assert_eq!(between, wanted, "query {name} between 2 and 5");
    }
}

fn value_of_pk(item: &step01_kv::value::Item) -> String {
    match item.get("pk") {
        Some(step01_kv::value::AttributeValue::S(text)) => text.clone(),
        other => panic!("{other:?}"),
    }
}

fn run(ops: Vec<Op>, limit: usize) {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let (mut options, _) = options(2);
        options.split_policy.size_bytes_max = 3 * 1024;
        open_table(dir.path(), options)
    };
    let mut table = open();
    let mut model = Model::new();
    let mut epoch = table.partition_map().unwrap().epoch();
    for op in ops {
        match op {
            Op::Put { pk, sk, len } => {
                let it = item(&pk_name(pk), sk, &"x".repeat(len));
                table.put(it.clone()).unwrap();
                model_insert(&mut model, it);
            }
            Op::Delete { pk, sk } => {
                let k = key(&pk_name(pk), sk);
                table.delete(&k).unwrap();
                model.remove(&step03_partitioning::layout::item_key(&k));
            }
            Op::Split { index } => {
                let map = table.partition_map().unwrap();
                let id = map.entries()[index % map.len()].id;
                match table.split_partition(id).unwrap() {
                    SplitOutcome::Split { epoch: next, .. } => {
                        assert_eq!(next, epoch + 1);
                        epoch = next;
                    }
                    SplitOutcome::NotSplittable { .. } => {}
                    other => panic!("{other:?}"),
                }
                assert_eq!(table.verify().unwrap().item_count, model.len() as u64);
            }
            Op::AutoSplit => {
                for outcome in table.maybe_split().unwrap() {
                    if let SplitOutcome::Split { epoch: next, .. } = outcome {
                        epoch = next;
                    }
                }
            }
            Op::Restart => {
                let map = table.partition_map().unwrap();
                drop(table);
                table = open();
                assert_eq!(table.partition_map().unwrap(), map, "the map survives");
            }
        }
    }
    check(&table, &model, limit);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn writes_splits_and_restarts_keep_every_item_once_and_pages_exact(
        ops in prop::collection::vec(op(), 1..60),
        limit in 1usize..5,
    ) {
        run(ops, limit);
    }
}
