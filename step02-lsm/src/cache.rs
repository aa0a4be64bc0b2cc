//! The block cache: recently read data blocks, shared by every table, bounded
//! by bytes.
//!
//! Reading a block costs a system call, a checksum and a decode. Point reads
//! hit the same hot blocks again and again, so decoded blocks are kept in
//! memory, keyed by `(table id, block offset)`. Table ids are never reused,
//! so an entry can never describe another file's bytes.
//!
//! The policy is *least recently used*: every lookup stamps the block with a
//! fresh tick, and when the cache holds more than its capacity, the blocks
//! with the oldest ticks go first. A `BTreeMap` from tick to key finds the
//! oldest in `O(log n)`.
//!
//! Invariants, asserted after every change:
//!
//! * `bytes` is the sum of the charged sizes of the cached blocks, and is at
//!   most `capacity_bytes` whenever no call is in progress;
//! * every cached block has exactly one tick in the recency order.
//!
//! One mutex guards the whole cache. That is the simplest correct choice; a
//! cache under heavy concurrent load would split it into shards by key hash.

use crate::block::Block;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes charged per cached block on top of its encoded size: the maps'
/// entries and the block's own bookkeeping, roughly.
pub const BLOCK_OVERHEAD_BYTES: usize = 96;

/// Which block: the table it belongs to and its offset in that table's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockKey {
    pub table_id: u64,
    pub offset: u64,
}

/// Counters, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found their block.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Blocks dropped to stay within the capacity.
    pub evictions: u64,
    /// Bytes charged for the blocks held now.
    pub bytes: usize,
    /// Blocks held now.
    pub blocks: usize,
}

#[derive(Debug)]
struct Cached {
    block: Arc<Block>,
    charge: usize,
    tick: u64,
}

#[derive(Debug, Default)]
struct State {
    blocks: HashMap<BlockKey, Cached>,
    /// Every cached block by the tick of its last use: oldest first.
    recency: BTreeMap<u64, BlockKey>,
    next_tick: u64,
    stats: CacheStats,
}

/// A bounded, shared cache of decoded blocks.
#[derive(Debug)]
pub struct BlockCache {
    capacity_bytes: usize,
    state: Mutex<State>,
}

/// The bytes a block is charged for.
pub fn block_charge(block: &Block) -> usize {
    block.size_bytes() + BLOCK_OVERHEAD_BYTES
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` (0 caches nothing).
    pub fn new(capacity_bytes: usize) -> Arc<BlockCache> {
        Arc::new(BlockCache {
            capacity_bytes,
            state: Mutex::new(State::default()),
        })
    }

    pub fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }

    /// The block under `key`, marking it as the most recently used.
    pub fn get(&self, key: BlockKey) -> Option<Arc<Block>> {
        let mut state = self.lock();
        let tick = state.next_tick;
        let State {
            blocks,
            recency,
            stats,
            ..
        } = &mut *state;
        let Some(cached) = blocks.get_mut(&key) else {
            stats.misses += 1;
            return None;
        };
        stats.hits += 1;
        recency.remove(&cached.tick);
        cached.tick = tick;
        recency.insert(tick, key);
        let block = Arc::clone(&cached.block);
        state.next_tick += 1;
        Some(block)
    }

    /// Caches `block` under `key`, evicting the least recently used blocks
    /// to make room. A block larger than the whole cache is not kept.
    pub fn insert(&self, key: BlockKey, block: Arc<Block>) {
        let charge = block_charge(&block);
        if charge > self.capacity_bytes {
            return;
        }
        let mut state = self.lock();
        state.remove(key);
        let tick = state.next_tick;
        state.next_tick += 1;
        state.recency.insert(tick, key);
        state.blocks.insert(
            key,
            Cached {
                block,
                charge,
                tick,
            },
        );
        state.stats.bytes += charge;
        while state.stats.bytes > self.capacity_bytes {
            let Some((_, oldest)) = state.recency.pop_first() else {
                break;
            };
            if let Some(evicted) = state.blocks.remove(&oldest) {
                state.stats.bytes -= evicted.charge;
                state.stats.evictions += 1;
            }
        }
        state.check(self.capacity_bytes);
    }

    /// Drops every block of a table, for example after the table was deleted
    /// by a compaction. Costs time linear in the number of cached blocks.
    pub fn remove_table(&self, table_id: u64) {
        let mut state = self.lock();
        let keys: Vec<BlockKey> = state
            .blocks
            .keys()
            .filter(|key| key.table_id == table_id)
            .copied()
            .collect();
        for key in keys {
            state.remove(key);
        }
        state.check(self.capacity_bytes);
    }

    pub fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats {
            blocks: state.blocks.len(),
            ..state.stats
        }
    }

    /// The cache holds no invariant across a panic that it could break
    /// halfway (each change is checked before the lock is released), so a
    /// poisoned lock is safe to take over.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn remove(&mut self, key: BlockKey) {
        if let Some(old) = self.blocks.remove(&key) {
            self.recency.remove(&old.tick);
            self.stats.bytes -= old.charge;
        }
    }

    fn check(&self, capacity_bytes: usize) {
        debug_assert_eq!(self.blocks.len(), self.recency.len());
        debug_assert_eq!(
            self.stats.bytes,
            self.blocks
                .values()
                .map(|cached| cached.charge)
                .sum::<usize>()
        );
        assert!(
            self.stats.bytes <= capacity_bytes,
            "the cache stays bounded"
        );
    }
}
