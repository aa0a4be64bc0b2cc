//! Draws the partition map of a small table after a few splits, and writes
//! it to the book: `book/src/images/step03-partition-map.svg`.
//!
//! The table starts with one partition and a 48 KiB size limit. Items go
//! in — many small item collections plus a few large ones — and the split
//! policy runs until every partition fits, cutting each at the median of
//! its bytes. Then one item collection is read hard and another written
//! hard (time comes from a manual clock), so two partitions glow.
//!
//! Run: `cargo run -p step03-partitioning --example partition_map_svg`
//! (an optional argument names another output file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use step01_kv::key::{KeyAttribute, KeySchema, KeyType, KeyValue, PrimaryKey};
use step01_kv::number::Number;
use step01_kv::value::{AttributeValue, Item};
use step01_kv::wal::FsyncPolicy;
use step02_lsm::lsm::{Lsm, LsmOptions};
use step03_partitioning::clock::ManualClock;
use step03_partitioning::policy::SplitPolicy;
use step03_partitioning::svg::{format_bytes, heat, render_partition_map};
use step03_partitioning::table::{Table, TableOptions};

const SPLIT_PASSES_MAX: usize = 32;

fn item(pk: &str, sk: u64, value_bytes: usize) -> Item {
    let mut item = Item::new();
    item.insert("pk".to_string(), AttributeValue::S(pk.to_string()));
    item.insert("sk".to_string(), AttributeValue::N(Number::from(sk)));
    item.insert("v".to_string(), AttributeValue::S("x".repeat(value_bytes)));
    item
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            workspace.join("book/src/images/step03-partition-map.svg")
        });
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new());
    let policy = SplitPolicy {
        size_bytes_max: 48 * 1024,
        read_units_per_second_max: 50.0,
        write_units_per_second_max: 20.0,
    };
    let options = TableOptions {
        initial_partitions: 1,
        split_policy: policy,
        clock: clock.clone(),
    };
    let schema = KeySchema {
        partition: KeyAttribute {
            name: "pk".to_string(),
            key_type: KeyType::S,
        },
        sort: Some(KeyAttribute {
            name: "sk".to_string(),
            key_type: KeyType::N,
        }),
    };
    let table = Table::open(dir.path(), schema, options, |path: &Path| {
        Lsm::open(path, LsmOptions::default().with_fsync(FsyncPolicy::Never))
    })
    .unwrap();

    // 600 small collections, and three large ones of 40 items of 1 KiB.
    for i in 0..600u64 {
        table.put(item(&format!("user#{i}"), 0, 120)).unwrap();
    }
    for big in ["orders#eu", "orders#us", "orders#ap"] {
        for sk in 0..40 {
            table.put(item(big, sk, 1024)).unwrap();
        }
    }
    for _ in 0..SPLIT_PASSES_MAX {
        // The load of the writes above is not what this picture is about.
        clock.advance(std::time::Duration::from_secs(120));
        if table.maybe_split().unwrap().is_empty() {
            break;
        }
    }

    // One hot reader and one busy writer, within a minute.
    let hot = PrimaryKey {
        partition: KeyValue::S("orders#eu".to_string()),
        sort: Some(KeyValue::N(Number::from(7u64))),
    };
    for _ in 0..2400 {
        table.get(&hot).unwrap();
    }
    for round in 0..600 {
        table.put(item("user#17", round % 4, 60)).unwrap();
    }

    let (epoch, summaries) = table.partition_summaries().unwrap();
    let svg = render_partition_map(epoch, &summaries, &policy);
    std::fs::write(&out, &svg).unwrap();
    println!(
        "partition map at epoch {epoch}, {} partitions:",
        summaries.len()
    );
    for summary in &summaries {
        println!(
            "  {:<5} {}  {:>10}  {:>4} items  heat {:.2}",
            summary.id.to_string(),
            summary.range,
            format_bytes(summary.size_bytes),
            summary.item_count,
            heat(summary, &policy)
        );
    }
    println!("wrote {}", out.display());
}
