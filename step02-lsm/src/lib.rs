//! Step 2 of minidynamo: an LSM-tree storage engine.
//!
//! Step 1's log and memtable hold everything in memory. This step writes full
//! memtables out as sorted string tables (SSTables) and merges them in the
//! background, so a partition can hold far more than memory and stay fast.
//! [`lsm::Lsm`] implements step 1's [`step01_kv::engine::StorageEngine`], so
//! every layer above uses it unchanged.
//!
//! Read in this order:
//!
//! * **Tables** — [`bloom`], [`block`], [`cache`] and [`sstable`]: the
//!   on-disk format, checksummed block by block.
//! * **The engine** — [`merge`], [`manifest`], [`compaction`] and [`lsm`]:
//!   merging iterators, the durable list of live tables, the leveled
//!   compaction policy, and the engine that ties them to step 1's log.

pub mod block;
pub mod bloom;
pub mod cache;
pub mod compaction;
pub mod lsm;
pub mod manifest;
pub mod merge;
pub mod sstable;
