//! Shared helpers for the integration tests: a table of `pk` (S) and `sk`
//! (N) on step 2's LSM engine, items, and page-by-page readers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use step01_kv::engine::{Result as EngineResult, ScanDirection};
use step01_kv::key::{KeyAttribute, KeySchema, KeyType, KeyValue, PrimaryKey};
use step01_kv::number::Number;
use step01_kv::value::{AttributeValue, Item};
use step01_kv::wal::FsyncPolicy;
use step02_lsm::lsm::{Lsm, LsmOptions};
use step03_partitioning::clock::ManualClock;
use step03_partitioning::layout::{SortCondition, item_key};
use step03_partitioning::page::{QueryRequest, ScanRequest};
use step03_partitioning::policy::SplitPolicy;
use step03_partitioning::table::{Table, TableOptions};

/// The engine every integration test runs on.
pub type Engine = Lsm;
pub type TestTable = Table<Engine>;

/// Step 2's engine, without fsyncs (tests reopen in-process, where the
/// operating system keeps unsynced writes).
pub fn open_engine(dir: &Path) -> EngineResult<Lsm> {
    Lsm::open(dir, LsmOptions::default().with_fsync(FsyncPolicy::Never))
}

pub fn schema() -> KeySchema {
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

pub fn num(n: i64) -> KeyValue {
    KeyValue::N(Number::from(n))
}

pub fn key(pk: &str, sk: i64) -> PrimaryKey {
    PrimaryKey {
        partition: KeyValue::S(pk.to_string()),
        sort: Some(num(sk)),
    }
}

pub fn item(pk: &str, sk: i64, value: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".to_string(), AttributeValue::S(pk.to_string()));
    item.insert("sk".to_string(), AttributeValue::N(Number::from(sk)));
    item.insert("v".to_string(), AttributeValue::S(value.to_string()));
    item
}

/// The `v` attribute of an item.
pub fn value_of(item: &Item) -> String {
    match item.get("v") {
        Some(AttributeValue::S(text)) => text.clone(),
        other => panic!("no string v: {other:?}"),
    }
}

/// Options with a manual clock and a policy that never splits by itself.
pub fn options(initial_partitions: u32) -> (TableOptions, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let options = TableOptions {
        initial_partitions,
        split_policy: SplitPolicy {
            size_bytes_max: u64::MAX,
            read_units_per_second_max: f64::INFINITY,
            write_units_per_second_max: f64::INFINITY,
        },
        clock: clock.clone(),
    };
    (options, clock)
}

pub fn open_table(dir: &Path, options: TableOptions) -> TestTable {
    Table::open(dir, schema(), options, open_engine).unwrap()
}

/// The model of a table: storage key → item, so it iterates in the table's
/// global order.
pub type Model = BTreeMap<Vec<u8>, Item>;

pub fn model_insert(model: &mut Model, item: Item) {
    let key = schema().key_of(&item).unwrap();
    model.insert(item_key(&key), item);
}

/// Every page of every segment of a parallel scan, in segment order.
pub fn scan_all(table: &TestTable, total_segments: u32, limit: Option<usize>) -> Vec<Vec<Item>> {
    (0..total_segments)
        .map(|segment| {
            let mut request = ScanRequest {
                segment,
                total_segments,
                limit,
                exclusive_start_key: None,
                ..ScanRequest::default()
            };
            let mut items = Vec::new();
            for _ in 0..100_000 {
                let page = table.scan(&request).unwrap();
                if let Some(limit) = limit {
                    assert!(page.items.len() <= limit, "page over the limit");
                }
                items.extend(page.items);
                match page.last_evaluated_key {
                    Some(key) => request.exclusive_start_key = Some(key),
                    None => return items,
                }
            }
            panic!("the scan never ended");
        })
        .collect()
}

/// Every page of a query, concatenated.
pub fn query_all(
    table: &TestTable,
    pk: &str,
    sort: SortCondition,
    direction: ScanDirection,
    limit: Option<usize>,
) -> Vec<Item> {
    let mut request = QueryRequest {
        partition_key: KeyValue::S(pk.to_string()),
        sort,
        direction,
        limit,
        exclusive_start_key: None,
        ..QueryRequest::new(KeyValue::S(pk.to_string()))
    };
    let mut items = Vec::new();
    for _ in 0..100_000 {
        let page = table.query(&request).unwrap();
        if let Some(limit) = limit {
            assert!(page.items.len() <= limit, "page over the limit");
        }
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => request.exclusive_start_key = Some(key),
            None => return items,
        }
    }
    panic!("the query never ended");
}

/// The names of the partition directories in a table directory.
pub fn partition_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("partition-"))
        .collect();
    names.sort();
    names
}
