//! Splits: by size and by load, at a split point taken from the data,
//! online with concurrent writers, and refusing requests routed by an old
//! map.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use step01_kv::key::KeyValue;
use step01_kv::number::Number;
use step01_kv::value::{AttributeValue, Item};
use step03_partitioning::error::{ConditionalError, TableError};
use step03_partitioning::hash::{KeyHash, partition_hash};
use step03_partitioning::map::PartitionId;
use step03_partitioning::policy::{SplitPolicy, SplitReason};
use step03_partitioning::split::SplitOutcome;
use support::*;

/// The largest partition of the table (by stored bytes).
fn largest(table: &TestTable) -> PartitionId {
    let (_, summaries) = table.partition_summaries().unwrap();
    summaries.iter().max_by_key(|s| s.size_bytes).unwrap().id
}

fn split(table: &TestTable, id: PartitionId) -> [PartitionId; 2] {
    match table.split_partition(id).unwrap() {
        SplitOutcome::Split { children, .. } => [children[0].id, children[1].id],
        other => panic!("expected a split: {other:?}"),
    }
}

#[test]
fn a_split_moves_the_map_to_a_new_epoch_and_keeps_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    let mut model = Model::new();
    // 50 collections of 4 items, all of one size.
    for i in 0..200 {
        let it = item(&format!("user#{:02}", i % 50), 1 + i / 50, "v");
        table.put(it.clone()).unwrap();
        model_insert(&mut model, it);
    }
    let before = table.partition_map().unwrap();
    let parent = before.entries()[0].id;
    let [left, right] = split(&table, parent);
    let after = table.partition_map().unwrap();
    assert_eq!(after.epoch(), before.epoch() + 1);
    assert_eq!(
        after.entries().iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![left, right]
    );
    assert!(matches!(
        table.split_partition(parent),
        Err(TableError::PartitionNotFound(_))
    ));
    let check = table.verify().unwrap();
    assert_eq!((check.partitions, check.item_count), (2, 200));
    let (_, summaries) = table.partition_summaries().unwrap();
    // The median of 50 collections of 4 items: 25 on each side.
    assert_eq!(summaries[0].item_count, 100);
    assert_eq!(summaries[1].item_count, 100);
    assert_eq!(
        scan_all(&table, 1, Some(9))[0],
        model.values().cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        partition_dirs(dir.path()).len(),
        2,
        "the parent's directory is gone"
    );
}

#[test]
fn the_split_point_follows_the_data_not_the_middle_of_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    // Keys whose hashes all lie in the lowest quarter of the ring.
    let quarter = KeyHash::MAX / 4;
    let pks: Vec<String> = (0..)
        .map(|i| format!("k{i}"))
        .filter(|pk| partition_hash(&KeyValue::S(pk.clone())) < quarter)
        .take(64)
        .collect();
    for pk in &pks {
        table.put(item(pk, 0, "v")).unwrap();
    }
    let [left, _] = split(&table, table.partition_map().unwrap().entries()[0].id);
    let map = table.partition_map().unwrap();
    let left_end = map
        .entries()
        .iter()
        .find(|e| e.id == left)
        .unwrap()
        .range
        .end();
    assert!(
        left_end < quarter,
        "a midpoint split would put everything on one side"
    );
    let (_, summaries) = table.partition_summaries().unwrap();
    assert_eq!(summaries[0].item_count, 32);
    assert_eq!(summaries[1].item_count, 32);
}

#[test]
fn one_item_collection_is_never_cut() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    for sk in 0..50 {
        table.put(item("everything", sk, "v")).unwrap();
    }
    let id = table.partition_map().unwrap().entries()[0].id;
    assert_eq!(
        table.split_partition(id).unwrap(),
        SplitOutcome::NotSplittable { partition: id }
    );
    assert_eq!(table.partition_map().unwrap().epoch(), 1);
    assert_eq!(table.verify().unwrap().item_count, 50);
}

#[test]
fn the_size_policy_splits_until_every_partition_fits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut options, _) = options(1);
    options.split_policy.size_bytes_max = 16 * 1024;
    let table = open_table(dir.path(), options);
    for i in 0..400 {
        table
            .put(item(&format!("user#{i}"), 0, &"x".repeat(200)))
            .unwrap();
    }
    let mut reasons = Vec::new();
    for _ in 0..20 {
        let outcomes = table.maybe_split().unwrap();
        if outcomes.is_empty() {
            break;
        }
        for outcome in outcomes {
            match outcome {
                SplitOutcome::Split { reason, .. } => reasons.push(reason),
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(
        reasons
            .iter()
            .all(|r| matches!(r, Some(SplitReason::Size { .. })))
    );
    let (_, summaries) = table.partition_summaries().unwrap();
    assert!(summaries.len() >= 6, "about 90 KB in 16 KB partitions");
    assert!(
        summaries.iter().all(|s| s.size_bytes <= 16 * 1024),
        "{summaries:?}"
    );
    assert_eq!(table.verify().unwrap().item_count, 400);
}

#[test]
fn sustained_load_splits_a_hot_partition_and_the_window_forgets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut options, clock) = options(2);
    options.split_policy = SplitPolicy {
        size_bytes_max: u64::MAX,
        read_units_per_second_max: 20.0,
        write_units_per_second_max: 10.0,
    };
    let table = open_table(dir.path(), options);
    let map = table.partition_map().unwrap();
    // Many collections, all in the first partition.
    let hot: Vec<String> = (0..)
        .map(|i| format!("hot{i}"))
        .filter(|pk| {
            map.entries()[0]
                .range
                .contains(partition_hash(&KeyValue::S(pk.clone())))
        })
        .take(20)
        .collect();
    // 700 writes in one second: 700 units over a 60 s window is 11.7/s.
    for round in 0..35 {
        for pk in &hot {
            table.put(item(pk, round, "v")).unwrap();
        }
    }
    let outcomes = table.maybe_split().unwrap();
    assert_eq!(outcomes.len(), 1, "only the hot partition: {outcomes:?}");
    match &outcomes[0] {
        SplitOutcome::Split { parent, reason, .. } => {
            assert_eq!(*parent, map.entries()[0].id);
            assert!(matches!(reason, Some(SplitReason::WriteLoad { .. })));
        }
        other => panic!("{other:?}"),
    }
    // Reads: 1300 gets in one second on the other partition: 21.7/s.
    let cold = map.entries()[1];
    let pk = (0..)
        .map(|i| format!("cold{i}"))
        .find(|pk| {
            cold.range
                .contains(partition_hash(&KeyValue::S(pk.clone())))
        })
        .unwrap();
    table.put(item(&pk, 0, "v")).unwrap();
    table.put(item(&pk, 1, "v")).unwrap();
    let other = (0..)
        .map(|i| format!("other{i}"))
        .find(|pk| {
            cold.range
                .contains(partition_hash(&KeyValue::S(pk.clone())))
        })
        .unwrap();
    table.put(item(&other, 0, "v")).unwrap();
    clock.advance(Duration::from_secs(61));
    assert!(
        table.maybe_split().unwrap().is_empty(),
        "the write burst left the window"
    );
    for _ in 0..1300 {
        table.get(&key(&pk, 0)).unwrap();
    }
    let outcomes = table.maybe_split().unwrap();
    assert!(
        matches!(&outcomes[..], [SplitOutcome::Split { reason: Some(SplitReason::ReadLoad { .. }), parent, .. }] if *parent == cold.id),
        "{outcomes:?}"
    );
    clock.advance(Duration::from_secs(61));
    assert!(table.maybe_split().unwrap().is_empty());
    assert_eq!(table.verify().unwrap().item_count, 20 * 35 + 3);
}

#[test]
fn a_stale_route_is_refused_and_the_new_route_lands_in_a_child() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(2).0);
    for i in 0..100 {
        table.put(item(&format!("user#{i}"), 0, "old")).unwrap();
    }
    let target = key("user#7", 0);
    let stale = table.route(&target).unwrap();
    let untouched = table
        .partition_map()
        .unwrap()
        .entries()
        .iter()
        .find(|e| e.id != stale.partition)
        .copied()
        .unwrap();
    let [left, right] = split(&table, stale.partition);

    // Routed with the old map: refused, retriable, and nothing applied.
    let read = table.get_routed(&stale, &target).unwrap_err();
    assert!(read.is_retriable(), "{read}");
    let write = table
        .put_routed(&stale, item("user#7", 0, "new"))
        .unwrap_err();
    match write {
        TableError::WrongPartition {
            partition,
            route_epoch,
            current_epoch,
        } => {
            assert_eq!(partition, stale.partition);
            assert_eq!(route_epoch, stale.epoch);
            assert_eq!(current_epoch, stale.epoch + 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(value_of(&table.get(&target).unwrap().unwrap()), "old");

    // Routed again: the child that owns the hash takes it.
    let fresh = table.route(&target).unwrap();
    assert_eq!(fresh.epoch, stale.epoch + 1);
    assert!(fresh.partition == left || fresh.partition == right);
    let map = table.partition_map().unwrap();
    assert_eq!(map.partition_for(fresh.hash).id, fresh.partition);
    table.put_routed(&fresh, item("user#7", 0, "new")).unwrap();
    assert_eq!(
        value_of(&table.get_routed(&fresh, &target).unwrap().unwrap()),
        "new"
    );

    // A route naming a partition that does not own the key is refused too.
    let wrong = step03_partitioning::table::Route {
        partition: if fresh.partition == left { right } else { left },
        ..fresh
    };
    assert!(
        table
            .put_routed(&wrong, item("user#7", 0, "bad"))
            .unwrap_err()
            .is_retriable()
    );

    // The other partition was not split: an old-epoch route to it is still
    // right, and accepted.
    let pk = (0..)
        .map(|i| format!("user#{i}"))
        .find(|pk| {
            untouched
                .range
                .contains(partition_hash(&KeyValue::S(pk.clone())))
        })
        .unwrap();
    let old_route = step03_partitioning::table::Route {
        epoch: stale.epoch,
        partition: untouched.id,
        hash: partition_hash(&KeyValue::S(pk.clone())),
    };
    assert!(
        table
            .get_routed(&old_route, &key(&pk, 0))
            .unwrap()
            .is_some()
    );
    assert_eq!(table.verify().unwrap().item_count, 100);
}

#[test]
fn concurrent_writers_during_splits_lose_nothing() {
    const WRITERS: usize = 4;
    const WRITES_MIN: i64 = 200;
    const WRITES_MAX: i64 = 50_000;
    const SPLITS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    // Enough collections that every partition stays splittable.
    for i in 0..200 {
        table.put(item(&format!("seed{i}"), 0, "seed")).unwrap();
    }
    // Writers keep going until every split is done, so each split runs
    // while they write.
    let splits_done = AtomicBool::new(false);
    let final_values: Vec<BTreeMap<(String, i64), String>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (table, splits_done) = (&table, &splits_done);
                scope.spawn(move || {
                    let mut last = BTreeMap::new();
                    for i in 0..WRITES_MAX {
                        if i >= WRITES_MIN && splits_done.load(Ordering::Acquire) {
                            break;
                        }
                        // Overwrites and deletes as well as new keys.
                        let pk = format!("w{writer}-{}", i % 37);
                        let sk = i % 5;
                        if i % 11 == 0 {
                            table.delete(&key(&pk, sk)).unwrap();
                            last.remove(&(pk, sk));
                        } else {
                            let value = format!("{writer}/{i}");
                            table.put(item(&pk, sk, &value)).unwrap();
                            last.insert((pk, sk), value);
                        }
                    }
                    last
                })
            })
            .collect();
        let mut splits = 0;
        for _ in 0..100 {
            if let SplitOutcome::Split { .. } = table.split_partition(largest(&table)).unwrap() {
                splits += 1;
            }
            if splits == SPLITS {
                break;
            }
        }
        splits_done.store(true, Ordering::Release);
        assert_eq!(splits, SPLITS);
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut expected = 200;
    for finals in &final_values {
        for ((pk, sk), value) in finals {
            let stored = table
                .get(&key(pk, *sk))
                .unwrap()
                .expect("an acknowledged write is there");
            assert_eq!(&value_of(&stored), value);
        }
        expected += finals.len() as u64;
    }
    assert_eq!(table.partition_map().unwrap().len(), 1 + SPLITS);
    assert_eq!(table.verify().unwrap().item_count, expected);
    let scanned: usize = scan_all(&table, 4, Some(50)).iter().map(Vec::len).sum();
    assert_eq!(scanned as u64, expected);
}

#[test]
fn conditional_increments_stay_atomic_across_splits() {
    const THREADS: usize = 4;
    const INCREMENTS_MIN: u64 = 50;
    const INCREMENTS_MAX: u64 = 20_000;
    const COUNTERS: usize = 3;
    const SPLITS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    for i in 0..100 {
        table.put(item(&format!("filler{i}"), 0, "f")).unwrap();
    }
    let counter = |n: u64, c: usize| -> Item {
        let mut it = item(&format!("counter{c}"), 0, "c");
        it.insert("n".to_string(), AttributeValue::N(Number::from(n)));
        it
    };
    let read = |it: &Item| -> u64 {
        match it.get("n") {
            Some(AttributeValue::N(n)) => n.to_string().parse().unwrap(),
            _ => 0,
        }
    };
    for c in 0..COUNTERS {
        table.put(counter(0, c)).unwrap();
    }
    let splits_done = AtomicBool::new(false);
    let conflicts = AtomicU64::new(0);
    let increments: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (table, conflicts, splits_done) = (&table, &conflicts, &splits_done);
                scope.spawn(move || {
                    let mut done = 0;
                    for i in 0..INCREMENTS_MAX {
                        if i >= INCREMENTS_MIN && splits_done.load(Ordering::Acquire) {
                            break;
                        }
                        let c = (thread + i as usize) % COUNTERS;
                        let k = key(&format!("counter{c}"), 0);
                        for attempt in 0.. {
                            assert!(attempt < 10_000, "livelock");
                            let seen = read(&table.get(&k).unwrap().unwrap());
                            let unchanged = |old: Option<&Item>| {
                                if old.map(read) == Some(seen) {
                                    Ok(())
                                } else {
                                    Err("changed")
                                }
                            };
                            match table.put_if(counter(seen + 1, c), unchanged) {
                                Ok(_) => break,
                                Err(ConditionalError::Condition(_)) => {
                                    conflicts.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(ConditionalError::Table(error)) => panic!("{error}"),
                            }
                        }
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        for _ in 0..SPLITS {
            table.split_partition(largest(&table)).unwrap();
        }
        splits_done.store(true, Ordering::Release);
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    let total: u64 = (0..COUNTERS)
        .map(|c| read(&table.get(&key(&format!("counter{c}"), 0)).unwrap().unwrap()))
        .sum();
    assert_eq!(total, increments, "no increment lost or doubled");
    assert_eq!(table.partition_map().unwrap().len(), 1 + SPLITS);
}
