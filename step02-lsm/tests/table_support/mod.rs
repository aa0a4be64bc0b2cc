//! Shared helpers for the table tests: a model of a table's contents (a
//! `BTreeMap` in internal order), a writer that fills a table from it, and
//! the model's answers to `get` and range iteration.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use step01_kv::engine::{KeyRange, ScanDirection, SequenceNumber};
use step01_kv::memtable::Entry;
use step02_lsm::cache::BlockCache;
use step02_lsm::sstable::{InternalEntry, Table, TableInfo, TableOptions, TableWriter};

/// Every version in a table, in internal order: key ascending, then
/// sequence number descending (`Reverse`). `None` is a tombstone.
pub type Model = BTreeMap<(Vec<u8>, Reverse<SequenceNumber>), Option<Vec<u8>>>;

/// Small blocks, so that even a few entries span several blocks and the
/// versions of one key straddle block boundaries.
pub fn small_blocks() -> TableOptions {
    TableOptions {
        block_size_bytes: 64,
        restart_interval: 3,
        bloom_bits_per_key: 10,
    }
}

/// Writes `model` as a table at `path` and returns what `finish` reported.
pub fn write_model(path: &Path, model: &Model, options: TableOptions) -> TableInfo {
    let mut writer = TableWriter::create(path, options).unwrap();
    for ((key, Reverse(seq)), value) in model {
        writer.add(key, *seq, value.as_deref()).unwrap();
    }
    writer.finish().unwrap()
}

/// Writes `model` at `path` and opens it with a fresh cache.
pub fn table_of(path: &Path, model: &Model, options: TableOptions) -> Arc<Table> {
    write_model(path, model, options);
    Table::open(path, 1, BlockCache::new(1 << 20)).unwrap()
}

/// What `Table::get` must return.
pub fn model_get(model: &Model, key: &[u8], snapshot: SequenceNumber) -> Option<Entry> {
    model
        .range((key.to_vec(), Reverse(snapshot))..)
        .next()
        .filter(|((k, _), _)| k.as_slice() == key)
        .map(|((_, Reverse(seq)), value)| Entry {
            seq: *seq,
            value: value.clone(),
        })
}

/// What `Table::iter` must yield.
pub fn model_iter(model: &Model, range: &KeyRange, direction: ScanDirection) -> Vec<InternalEntry> {
    let entries: Vec<InternalEntry> = model
        .iter()
        .filter(|((key, _), _)| range.contains(key))
        .map(|((key, Reverse(seq)), value)| InternalEntry {
            key: key.clone(),
            seq: *seq,
            value: value.clone(),
        })
        .collect();
    match direction {
        ScanDirection::Forward => entries,
        ScanDirection::Reverse => {
            // Keys descending, but the versions of a key still newest first.
            let mut groups: Vec<Vec<InternalEntry>> = Vec::new();
            for entry in entries {
                match groups.last_mut() {
                    Some(group) if group[0].key == entry.key => group.push(entry),
                    _ => groups.push(vec![entry]),
                }
            }
            groups.into_iter().rev().flatten().collect()
        }
    }
}

/// Collects an iterator, failing the test on an error.
pub fn collect(
    iter: impl Iterator<Item = step01_kv::engine::Result<InternalEntry>>,
) -> Vec<InternalEntry> {
    iter.collect::<Result<Vec<_>, _>>().unwrap()
}

/// A model with `keys` keys `key-00000`…, each with `versions` versions
/// (sequence numbers interleaved across keys), every third newest version a
/// tombstone.
pub fn versioned_model(keys: u32, versions: u32) -> Model {
    let mut model = Model::new();
    let mut seq = 0;
    for version in 0..versions {
        for i in 0..keys {
            seq += 1;
            let key = format!("key-{i:05}").into_bytes();
            let value = if version + 1 == versions && i % 3 == 0 {
                None
            } else {
                Some(format!("value-{i}-{version}").into_bytes())
            };
            model.insert((key, Reverse(seq)), value);
        }
    }
    model
}
