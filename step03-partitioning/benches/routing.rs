//! The cost of routing: the same put / get / query workload through a
//! partitioned [`Table`] and directly on one storage engine, in the same run.
//!
//! The engine side does the minimum the table cannot avoid either: it builds
//! the same storage keys (MD5 included) and encodes and decodes the same
//! items. So the difference is what this step adds — validation, the
//! routing lookup, the partition's gate and key stripe, the old-item read
//! that conditional writes need, statistics — and the ratio says what that
//! costs per request. Both sides use step 2's LSM engine without fsync, so
//! the disk does not drown the difference.
//!
//! Run: `cargo bench -p step03-partitioning --bench routing`. Environment:
//! `MINIDYNAMO_BENCH_ITEMS` (default 20000), `MINIDYNAMO_BENCH_DIR` (where
//! the temporary directories go, default the system temp dir).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use step01_kv::codec::{decode_item, encode_item};
use step01_kv::engine::{ScanDirection, StorageEngine};
use step01_kv::key::{KeyAttribute, KeySchema, KeyType, KeyValue, PrimaryKey};
use step01_kv::number::Number;
use step01_kv::value::{AttributeValue, Item};
use step01_kv::wal::FsyncPolicy;
use step02_lsm::lsm::{Lsm, LsmOptions};
use step03_partitioning::clock::SystemClock;
use step03_partitioning::layout::{SortCondition, item_key, query_range};
use step03_partitioning::page::QueryRequest;
use step03_partitioning::policy::SplitPolicy;
use step03_partitioning::table::{Table, TableOptions};

const ITEMS_DEFAULT: usize = 20_000;
const ITEMS_PER_COLLECTION: usize = 10;
const VALUE_BYTES: usize = 100;
const PARTITIONS: u32 = 4;

fn lsm(dir: &Path) -> step01_kv::engine::Result<Lsm> {
    Lsm::open(dir, LsmOptions::default().with_fsync(FsyncPolicy::Never))
}

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

fn key(i: usize, collections: usize) -> PrimaryKey {
    PrimaryKey {
        partition: KeyValue::S(format!("user#{:06}", i % collections)),
        sort: Some(KeyValue::N(Number::from((i / collections) as u64))),
    }
}

fn item(key: &PrimaryKey) -> Item {
    let mut item = Item::new();
    item.insert("pk".to_string(), key.partition.clone().into());
    if let Some(sort) = &key.sort {
        item.insert("sk".to_string(), sort.clone().into());
    }
    item.insert("v".to_string(), AttributeValue::S("x".repeat(VALUE_BYTES)));
    item
}

/// Seconds per phase for one side: put, get, query.
#[derive(Clone, Copy, Debug, Default)]
struct Timings {
    put: Duration,
    get: Duration,
    query: Duration,
}

fn through_table(base: &Path, items: usize) -> Timings {
    let dir = tempfile::tempdir_in(base).unwrap();
    let options = TableOptions {
        initial_partitions: PARTITIONS,
        split_policy: SplitPolicy {
            size_bytes_max: u64::MAX,
            read_units_per_second_max: f64::INFINITY,
            write_units_per_second_max: f64::INFINITY,
        },
        clock: Arc::new(SystemClock::new()),
    };
    let table = Table::open(dir.path(), schema(), options, lsm).unwrap();
    let collections = items / ITEMS_PER_COLLECTION;
    let keys: Vec<PrimaryKey> = (0..items).map(|i| key(i, collections)).collect();
    let mut timings = Timings::default();

    let start = Instant::now();
    for key in &keys {
        table.put(item(key)).unwrap();
    }
    timings.put = start.elapsed();

    let start = Instant::now();
    for key in &keys {
        assert!(table.get(key).unwrap().is_some());
    }
    timings.get = start.elapsed();

    let start = Instant::now();
    for key in &keys[..collections] {
        let page = table
            .query(&QueryRequest::new(key.partition.clone()))
            .unwrap();
        assert_eq!(page.items.len(), ITEMS_PER_COLLECTION);
    }
    timings.query = start.elapsed();
    timings
}

fn on_one_engine(base: &Path, items: usize) -> Timings {
    let dir = tempfile::tempdir_in(base).unwrap();
    let engine = lsm(dir.path()).unwrap();
    let collections = items / ITEMS_PER_COLLECTION;
    let keys: Vec<PrimaryKey> = (0..items).map(|i| key(i, collections)).collect();
    let mut timings = Timings::default();

    let start = Instant::now();
    for key in &keys {
        engine
            .put(&item_key(key), &encode_item(&item(key)))
            .unwrap();
    }
    timings.put = start.elapsed();

    let start = Instant::now();
    for key in &keys {
        let value = engine.get(&item_key(key)).unwrap().unwrap();
        decode_item(&value).unwrap();
    }
    timings.get = start.elapsed();

    let start = Instant::now();
    for key in &keys[..collections] {
        let range = query_range(&key.partition, &SortCondition::All);
        let entries = engine
            .scan(&range, ScanDirection::Forward, usize::MAX)
            .unwrap();
        for (_, value) in &entries {
            decode_item(value).unwrap();
        }
        assert_eq!(entries.len(), ITEMS_PER_COLLECTION);
    }
    timings.query = start.elapsed();
    timings
}

fn main() {
    let items: usize = std::env::var("MINIDYNAMO_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ITEMS_DEFAULT)
        .max(ITEMS_PER_COLLECTION);
    let base = std::env::var("MINIDYNAMO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let collections = items / ITEMS_PER_COLLECTION;
    println!(
        "routing: {items} items of ~{VALUE_BYTES} B in {collections} collections; table of {PARTITIONS} partitions vs one engine (both step 2's LSM, no fsync)"
    );
    // Warm up both sides once, then keep the better of two runs each.
    let _ = (
        on_one_engine(&base, items / 10),
        through_table(&base, items / 10),
    );
    let best = |a: Timings, b: Timings| Timings {
        put: a.put.min(b.put),
        get: a.get.min(b.get),
        query: a.query.min(b.query),
    };
    let engine = best(on_one_engine(&base, items), on_one_engine(&base, items));
    let table = best(through_table(&base, items), through_table(&base, items));
    println!(
        "{:<6} {:>14} {:>14} {:>22}",
        "op", "table ops/s", "engine ops/s", "time: table / engine"
    );
    for (name, ops, table_time, engine_time) in [
        ("put", items, table.put, engine.put),
        ("get", items, table.get, engine.get),
        ("query", collections, table.query, engine.query),
    ] {
        let rate = |time: Duration| ops as f64 / time.as_secs_f64();
        println!(
            "{name:<6} {:>14.0} {:>14.0} {:>21.2}x",
            rate(table_time),
            rate(engine_time),
            table_time.as_secs_f64() / engine_time.as_secs_f64()
        );
    }
}
