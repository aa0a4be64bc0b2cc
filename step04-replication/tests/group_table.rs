//! Step 3's `Table` on replication groups: every partition is a group of
//! three replicas, opened by the engine factory, and the table cannot tell.
//! Items, queries, scans, conditional writes, splits (each child a new
//! group) and reopening the whole table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use step01_kv::engine::{ReadConsistency, ScanDirection};
use step01_kv::key::{KeyAttribute, KeySchema, KeyType, KeyValue, PrimaryKey};
use step01_kv::number::Number;
use step01_kv::value::{AttributeValue, Item};
use step02_lsm::lsm::{Lsm, LsmOptions};
use step03_partitioning::layout::SortCondition;
use step03_partitioning::page::{QueryRequest, ScanRequest};
use step03_partitioning::policy::SplitPolicy;
use step03_partitioning::split::SplitOutcome;
use step03_partitioning::table::{Table, TableOptions};
use step04_replication::group::{GroupOptions, ReplicationGroup};

type GroupTable = Table<ReplicationGroup<Lsm>>;

/// How long anything that must happen eventually may take.
const EVENTUALLY: Duration = Duration::from_secs(20);

fn schema() -> KeySchema {
    KeySchema {
        partition: KeyAttribute {
            name: "pk".to_string(),
            key_type: KeyType::S,
        },
        sort: Some(KeyAttribute {
            name: "sk".to_string(),
            key_type: KeyType::N,
        }),
    }
}

fn key(pk: &str, sk: i64) -> PrimaryKey {
    PrimaryKey {
        partition: KeyValue::S(pk.to_string()),
        sort: Some(KeyValue::N(Number::from(sk))),
    }
}

fn item(pk: &str, sk: i64, v: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".to_string(), AttributeValue::S(pk.to_string()));
    item.insert("sk".to_string(), AttributeValue::N(Number::from(sk)));
    item.insert("v".to_string(), AttributeValue::S(v.to_string()));
    item
}

fn v(item: &Item) -> String {
    match item.get("v") {
        Some(AttributeValue::S(text)) => text.clone(),
        other => panic!("no v: {other:?}"),
    }
}

fn table_options() -> TableOptions {
    TableOptions {
        split_policy: SplitPolicy {
            size_bytes_max: u64::MAX,
            read_units_per_second_max: f64::INFINITY,
            write_units_per_second_max: f64::INFINITY,
        },
        ..TableOptions::default()
    }
}

/// Opens the table on groups, keeping a handle on every group it opens.
fn open(dir: &Path, groups: &Arc<Mutex<Vec<ReplicationGroup<Lsm>>>>) -> GroupTable {
    let factory = GroupOptions::lsm(LsmOptions::tiny()).factory();
    let groups = Arc::clone(groups);
    Table::open(dir, schema(), table_options(), move |path: &Path| {
        let group = factory(path)?;
        groups.lock().unwrap().push(group.clone());
        Ok(group)
    })
    .unwrap()
}

fn scan_everything(table: &GroupTable, consistency: ReadConsistency) -> Vec<Item> {
    let mut request = ScanRequest {
        limit: Some(7),
        consistency,
        ..ScanRequest::default()
    };
    let mut items = Vec::new();
    for _ in 0..10_000 {
        let page = table.scan(&request).unwrap();
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => request.exclusive_start_key = Some(key),
            None => return items,
        }
    }
    panic!("the scan never ended");
}

#[test]
fn items_queries_scans_and_conditional_writes_work_on_groups() {
    let dir = tempfile::tempdir().unwrap();
    let groups = Arc::new(Mutex::new(Vec::new()));
    let table = open(dir.path(), &groups);
    for pk in ["a", "b", "c"] {
        for sk in 0..10 {
            table.put(item(pk, sk, &format!("{pk}{sk}"))).unwrap();
        }
    }
    assert_eq!(v(&table.get(&key("b", 4)).unwrap().unwrap()), "b4");
    assert_eq!(table.get(&key("b", 40)).unwrap(), None);

    let mut query = QueryRequest::new(KeyValue::S("c".to_string()));
    query.sort = SortCondition::Between(
        KeyValue::N(Number::from(3i64)),
        KeyValue::N(Number::from(6i64)),
    );
    query.direction = ScanDirection::Reverse;
    let page = table.query(&query).unwrap();
    let got: Vec<String> = page.items.iter().map(v).collect();
    assert_eq!(got, ["c6", "c5", "c4", "c3"]);
    assert_eq!(scan_everything(&table, ReadConsistency::Strong).len(), 30);

    // put_if: the check sees the current item, and a refusal writes nothing.
    let refused = table.put_if(item("a", 1, "new"), |old| match old {
        Some(old) if v(old) == "wrong" => Ok(()),
        _ => Err("no match"),
    });
    assert!(refused.is_err());
    assert_eq!(v(&table.get(&key("a", 1)).unwrap().unwrap()), "a1");
    let outcome = table
        .put_if(item("a", 1, "new"), |old| match old {
            Some(old) if v(old) == "a1" => Ok(()),
            _ => Err("no match"),
        })
        .unwrap();
    assert_eq!(v(outcome.old_item.as_ref().unwrap()), "a1");
    assert_eq!(v(&table.get(&key("a", 1)).unwrap().unwrap()), "new");
    table
        .delete_if(&key("a", 2), |old| old.map(|_| ()).ok_or("absent"))
        .unwrap();
    assert!(
        table
            .delete_if(&key("a", 2), |old| old.map(|_| ()).ok_or("absent"))
            .is_err()
    );
    assert_eq!(table.get(&key("a", 2)).unwrap(), None);
    assert_eq!(table.verify().unwrap().item_count, 29);
    assert_eq!(groups.lock().unwrap().len(), 1, "one partition, one group");
}

#[test]
fn conditional_increments_from_many_threads_lose_no_update() {
    const THREADS: i64 = 4;
    const INCREMENTS: i64 = 15;
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &Arc::new(Mutex::new(Vec::new())));
    table.put(item("counter", 0, "0")).unwrap();
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..INCREMENTS {
                    // Read, then write only if nobody wrote in between: the
                    // check runs under the stripe lock, after a strong read.
                    let mut conflicts = 0;
                    loop {
                        let seen = v(&table.get(&key("counter", 0)).unwrap().unwrap());
                        let next = (seen.parse::<i64>().unwrap() + 1).to_string();
                        let written = table.put_if(item("counter", 0, &next), |old| {
                            (old.map(v).as_ref() == Some(&seen)).then_some(()).ok_or(())
                        });
                        if written.is_ok() {
                            break;
                        }
                        conflicts += 1;
                        assert!(conflicts < 1000, "too many conflicts");
                    }
                }
            });
        }
    });
    let total = v(&table.get(&key("counter", 0)).unwrap().unwrap());
    assert_eq!(total, (THREADS * INCREMENTS).to_string());
}

#[test]
fn a_table_on_groups_splits_and_reopens_with_everything() {
    const ITEMS: i64 = 120;
    let dir = tempfile::tempdir().unwrap();
    let groups = Arc::new(Mutex::new(Vec::new()));
    {
        let table = open(dir.path(), &groups);
        for i in 0..ITEMS {
            table
                .put(item(&format!("pk{i}"), i, &format!("v{i}")))
                .unwrap();
        }
        let parent = table.partition_map().unwrap().entries()[0].id;
        let outcome = table.split_partition(parent).unwrap();
        let SplitOutcome::Split { children, .. } = outcome else {
            panic!("not split: {outcome:?}");
        };
        for child in children {
            let outcome = table.split_partition(child.id).unwrap();
            assert!(matches!(outcome, SplitOutcome::Split { .. }), "{outcome:?}");
        }
        assert_eq!(table.partition_map().unwrap().len(), 4);
        assert_eq!(groups.lock().unwrap().len(), 1 + 2 + 4, "a group per child");
        let check = table.verify().unwrap();
        assert_eq!((check.partitions, check.item_count), (4, ITEMS as u64));
        for i in 0..ITEMS {
            let found = table.get(&key(&format!("pk{i}"), i)).unwrap().unwrap();
            assert_eq!(v(&found), format!("v{i}"));
        }
        assert_eq!(
            scan_everything(&table, ReadConsistency::Strong).len(),
            ITEMS as usize
        );
        // Writes after the split go to the children's groups.
        table.put(item("late", 1, "late")).unwrap();
    }
    groups.lock().unwrap().clear();

    let table = open(dir.path(), &groups);
    assert_eq!(groups.lock().unwrap().len(), 4, "only the children reopen");
    let check = table.verify().unwrap();
    assert_eq!((check.partitions, check.item_count), (4, ITEMS as u64 + 1));
    for i in 0..ITEMS {
        assert!(table.get(&key(&format!("pk{i}"), i)).unwrap().is_some());
    }
    assert_eq!(v(&table.get(&key("late", 1)).unwrap().unwrap()), "late");
    // The parent's group directory is gone with the parent.
    let partitions = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("partition-")
        })
        .count();
    assert_eq!(partitions, 4);
}

#[test]
fn eventual_table_reads_converge_and_the_leader_dies_without_losing_items() {
    let dir = tempfile::tempdir().unwrap();
    let groups = Arc::new(Mutex::new(Vec::new()));
    let table = open(dir.path(), &groups);
    for sk in 0..20 {
        table.put(item("e", sk, "first")).unwrap();
    }
    let group = groups.lock().unwrap()[0].clone();
    let deadline = Instant::now() + EVENTUALLY;
    // Eventual reads go to each replica in turn: until all have applied,
    // some may answer with an older state, but never with a wrong one.
    loop {
        let items = scan_everything(&table, ReadConsistency::Eventual);
        assert!(items.len() <= 20);
        assert!(items.iter().all(|item| v(item) == "first"));
        if items.len() == 20 {
            break;
        }
        assert!(Instant::now() < deadline, "eventual reads never converged");
        thread::sleep(Duration::from_millis(10));
    }

    let leader = group.leader().unwrap_or(1);
    group.stop_replica(leader).unwrap();
    for sk in 0..20 {
        table.put(item("e", sk, "second")).unwrap();
    }
    for sk in 0..20 {
        let found = table.get(&key("e", sk)).unwrap().unwrap();
        assert_eq!(v(&found), "second", "a strong read after the failover");
    }
    group.restart_replica(leader).unwrap();
    let deadline = Instant::now() + EVENTUALLY;
    loop {
        let found = group.get_at(
            leader,
            &step03_partitioning::layout::item_key(&key("e", 19)),
        );
        if let Ok(Some(bytes)) = found {
            let item = step01_kv::codec::decode_item(&bytes).unwrap();
            if v(&item) == "second" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the old leader never caught up");
        thread::sleep(Duration::from_millis(10));
    }
    let check = table.verify().unwrap();
    assert_eq!(check.item_count, 20);
}
