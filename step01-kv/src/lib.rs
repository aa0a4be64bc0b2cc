//! Step 1 of minidynamo: DynamoDB's item model and the smallest store that
//! never loses an acknowledged write.
//!
//! Two halves, read in this order:
//!
//! * **The data model** — [`number`], [`value`], [`size`], [`key`], [`codec`]
//!   and [`error`]: DynamoDB's attribute values, its decimal numbers, item
//!   size rules, the order-preserving key encoding and the binary item format.
//! * **The store** — [`wal`], [`memtable`], [`engine`] and [`store`]: a
//!   checksummed write-ahead log with group commit, an ordered memtable, and
//!   [`store::KvStore`], the first implementation of the [`engine::StorageEngine`]
//!   trait that every later step builds on.
//!
//! [`crash`] holds what every crash test with real processes shares (the kill
//! plan, a seeded generator, self-checking values), as [`engine::conformance`]
//! holds the behaviour every engine shares.

pub mod codec;
pub mod crash;
pub mod engine;
pub mod error;
pub mod key;
pub mod memtable;
pub mod number;
pub mod size;
pub mod store;
pub mod value;
pub mod wal;
