//! The block cache: bounded by bytes, least recently used out first, exact
//! hit and miss counters, and shared by tables without mixing them up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod table_support;

use std::cmp::Reverse;
use std::sync::Arc;
use step02_lsm::block::{Block, BlockBuilder};
use step02_lsm::cache::{BLOCK_OVERHEAD_BYTES, BlockCache, BlockKey, CacheStats, block_charge};
use step02_lsm::sstable::{Table, TableOptions};
use table_support::{Model, versioned_model, write_model};

fn block_of(bytes: usize) -> Arc<Block> {
    let mut builder = BlockBuilder::new(16);
    builder.add(b"k", &vec![0; bytes]);
    Arc::new(Block::decode(builder.finish()).unwrap())
}

fn key(table_id: u64, offset: u64) -> BlockKey {
    BlockKey { table_id, offset }
}

#[test]
fn counts_hits_and_misses_exactly() {
    let cache = BlockCache::new(1 << 20);
    assert_eq!(cache.stats(), CacheStats::default());
    assert!(cache.get(key(1, 0)).is_none());
    cache.insert(key(1, 0), block_of(100));
    assert!(cache.get(key(1, 0)).is_some());
    assert!(cache.get(key(1, 0)).is_some());
    assert!(cache.get(key(2, 0)).is_none(), "another table, same offset");
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.evictions, stats.blocks),
        (2, 2, 0, 1)
    );
    assert_eq!(stats.bytes, block_charge(&block_of(100)));
}

#[test]
fn evicts_the_least_recently_used_block_first() {
    let block = block_of(1000);
    let charge = block_charge(&block);
    let cache = BlockCache::new(2 * charge);
    cache.insert(key(1, 0), Arc::clone(&block));
    cache.insert(key(1, 1), Arc::clone(&block));
    assert!(
        cache.get(key(1, 0)).is_some(),
        "block 0 is now the most recent"
    );
    cache.insert(key(1, 2), Arc::clone(&block));
    assert!(
        cache.get(key(1, 1)).is_none(),
        "block 1 was least recently used"
    );
    assert!(cache.get(key(1, 0)).is_some());
    assert!(cache.get(key(1, 2)).is_some());
    let stats = cache.stats();
    assert_eq!(
        (stats.evictions, stats.blocks, stats.bytes),
        (1, 2, 2 * charge)
    );
}

#[test]
fn never_holds_more_than_its_capacity() {
    let cache = BlockCache::new(10_000);
    for i in 0..200u64 {
        cache.insert(key(i % 3, i), block_of((i as usize * 37) % 3000));
        let stats = cache.stats();
        assert!(stats.bytes <= 10_000, "{stats:?}");
    }
    assert!(cache.stats().evictions > 0);
    cache.insert(key(9, 9), block_of(20_000));
    assert!(
        cache.get(key(9, 9)).is_none(),
        "a block larger than the cache is not kept"
    );
    let nothing = BlockCache::new(0);
    nothing.insert(key(1, 0), block_of(1));
    assert_eq!(nothing.stats().blocks, 0);
}

#[test]
fn reinserting_a_block_does_not_double_count_it() {
    let cache = BlockCache::new(1 << 20);
    cache.insert(key(1, 0), block_of(500));
    cache.insert(key(1, 0), block_of(500));
    assert_eq!(cache.stats().bytes, block_charge(&block_of(500)));
    cache.insert(key(1, 8), block_of(10));
    cache.insert(key(2, 0), block_of(10));
    cache.remove_table(1);
    let stats = cache.stats();
    assert_eq!(
        (stats.blocks, stats.bytes),
        (1, block_charge(&block_of(10)))
    );
}

#[test]
fn table_reads_go_through_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let model = versioned_model(2_000, 1);
    let options = TableOptions {
        block_size_bytes: 1024,
        ..TableOptions::default()
    };
    write_model(&path, &model, options);
    let cache = BlockCache::new(1 << 20);
    let table = Table::open(&path, 1, Arc::clone(&cache)).unwrap();
    assert!(table.block_count() > 10);
    table.get(b"key-00010", u64::MAX).unwrap().unwrap();
    assert_eq!((cache.stats().hits, cache.stats().misses), (0, 1));
    table.get(b"key-00011", u64::MAX).unwrap().unwrap();
    assert_eq!(
        (cache.stats().hits, cache.stats().misses),
        (1, 1),
        "same block"
    );
    table.get(b"key-01900", u64::MAX).unwrap().unwrap();
    assert_eq!(
        (cache.stats().hits, cache.stats().misses),
        (1, 2),
        "another block"
    );
    table.get(b"key-00010x", u64::MAX).unwrap();
    let scanned = table
        .iter(
            step01_kv::engine::KeyRange::all(),
            step01_kv::engine::ScanDirection::Forward,
        )
        .count();
    assert_eq!(scanned, 2_000);
    let stats = cache.stats();
    assert_eq!(
        stats.blocks,
        table.block_count(),
        "a scan caches every block"
    );
    assert_eq!(
        stats.misses,
        table.block_count() as u64,
        "each block was read once"
    );
}

#[test]
fn a_small_cache_bounds_memory_while_reads_stay_correct() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let model = versioned_model(3_000, 1);
    write_model(&path, &model, TableOptions::default());
    let capacity = 3 * (4096 + 200 + BLOCK_OVERHEAD_BYTES);
    let cache = BlockCache::new(capacity);
    let table = Table::open(&path, 1, Arc::clone(&cache)).unwrap();
    for ((key, Reverse(seq)), _) in model.iter().rev() {
        assert_eq!(table.get(key, u64::MAX).unwrap().unwrap().seq, *seq);
        assert!(cache.stats().bytes <= capacity);
    }
    let stats = cache.stats();
    assert!(stats.blocks <= 3 && stats.evictions > 0, "{stats:?}");
}

#[test]
fn tables_sharing_a_cache_never_see_each_others_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let cache = BlockCache::new(1 << 20);
    let mut tables = Vec::new();
    for id in 0..3u64 {
        let mut model = Model::new();
        for i in 0..50u32 {
            let key = format!("key-{i:03}").into_bytes();
            model.insert((key, Reverse(1)), Some(format!("table {id}").into_bytes()));
        }
        let path = dir.path().join(format!("{id}.sst"));
        write_model(&path, &model, TableOptions::default());
        tables.push(Table::open(&path, id, Arc::clone(&cache)).unwrap());
    }
    for _ in 0..2 {
        for (id, table) in tables.iter().enumerate() {
            let entry = table.get(b"key-007", u64::MAX).unwrap().unwrap();
            assert_eq!(entry.value.unwrap(), format!("table {id}").into_bytes());
        }
    }
    assert_eq!((cache.stats().misses, cache.stats().hits), (3, 3));
}
