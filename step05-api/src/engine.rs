//! The storage engine under every table, chosen in one place.
//!
//! A step 3 [`Table<E>`](step03_partitioning::table::Table) is generic over
//! its partitions' engine. The router should not be: which engine a table
//! uses is a deployment decision (an [`Lsm`] on this machine now, step 4's
//! replication group later), so the router holds engines behind one type,
//! [`SharedEngine`], and opens them through one swappable function, the
//! [`EngineFactory`]. Replacing the factory is the whole change needed to
//! put every table on another engine.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use step01_kv::engine::{
    KeyRange, KeyValue, ReadConsistency, Result as EngineResult, ScanDirection, SequenceNumber,
    StorageEngine, WriteBatch,
};
use step01_kv::wal::FsyncPolicy;
use step02_lsm::lsm::{Lsm, LsmOptions};

/// Any storage engine, behind a box. Implements [`StorageEngine`] by
/// delegation, so a step 3 table can own it.
pub struct SharedEngine(Box<dyn StorageEngine>);

impl SharedEngine {
    pub fn new(engine: impl StorageEngine + 'static) -> SharedEngine {
        SharedEngine(Box::new(engine))
    }
}

impl fmt::Debug for SharedEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedEngine")
    }
}

impl StorageEngine for SharedEngine {
    fn get(&self, key: &[u8]) -> EngineResult<Option<Vec<u8>>> {
        self.0.get(key)
    }

    fn write(&self, batch: WriteBatch) -> EngineResult<SequenceNumber> {
        self.0.write(batch)
    }

    fn scan(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
    ) -> EngineResult<Vec<KeyValue>> {
        self.0.scan(range, direction, limit)
    }

    fn sync(&self) -> EngineResult<()> {
        self.0.sync()
    }

    // The consistency-aware reads are delegated too: a replicated engine
    // answers them differently from its defaults.
    fn get_with(&self, key: &[u8], consistency: ReadConsistency) -> EngineResult<Option<Vec<u8>>> {
        self.0.get_with(key, consistency)
    }

    fn scan_with(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
        consistency: ReadConsistency,
    ) -> EngineResult<Vec<KeyValue>> {
        self.0.scan_with(range, direction, limit, consistency)
    }
}

// ANCHOR: factory
/// Opens (or creates) the engine of one partition in its directory.
pub type EngineFactory = Arc<dyn Fn(&Path) -> EngineResult<SharedEngine> + Send + Sync>;

/// The engine of this step: step 2's LSM tree, one per partition.
pub fn lsm_factory(options: LsmOptions) -> EngineFactory {
    Arc::new(move |dir: &Path| Lsm::open(dir, options).map(SharedEngine::new))
}
// ANCHOR_END: factory

/// LSM options for a server: the defaults, with smaller memtables and
/// caches (a server holds one engine per partition of every table), and
/// no fsync at all when the data is thrown away anyway.
pub fn server_lsm_options(durable: bool) -> LsmOptions {
    let options = LsmOptions {
        memtable_bytes: 1024 * 1024,
        block_cache_bytes: 1024 * 1024,
        ..LsmOptions::default()
    };
    if durable {
        options
    } else {
        options.with_fsync(FsyncPolicy::Never)
    }
}
