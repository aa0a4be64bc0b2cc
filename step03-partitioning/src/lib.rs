//! Step 3 of minidynamo: a table cut into MD5 hash-range partitions, routed by
//! a versioned partition map, and split online when a partition grows too big
//! or too hot.
//!
//! One storage engine holds as much as one disk and serves as many requests as
//! one machine. DynamoDB scales past that by cutting every table into
//! *partitions*: the partition key of an item is hashed with MD5 to a 128-bit
//! position on a ring, the ring is cut into contiguous *hash ranges*, and each
//! range is one partition with its own storage. All items with one partition
//! key (an *item collection*) hash to the same position, so they live together
//! in one partition, sorted by sort key — which is what makes a Query cheap.
//!
//! Read in this order:
//!
//! * **Where an item lives** — [`hash`] (the partition key's MD5),
//!   [`range`] (hash ranges and scan segments), [`layout`] (the storage key
//!   inside a partition's engine).
//! * **Which partition holds it** — [`map`] (the versioned partition map and
//!   routing), [`map_file`] (how the map is made durable).
//! * **When to split** — [`clock`], [`stats`] (size and load per partition),
//!   [`policy`] (the pure split decision and split point).
//! * **Doing it** — [`partition`] (one partition: engine, gate, locks),
//!   [`table`] (put, get, delete and conditional writes), [`page`] (Query and
//!   Scan pages), [`split`] (the online split executor).
//! * **Seeing it** — [`svg`] draws the partition map as a ring.
//!
//! # Invariants
//!
//! 1. **One owner per hash.** A partition map's ranges are sorted, contiguous,
//!    disjoint and cover `0..=u128::MAX` ([`map::PartitionMap::check`]).
//! 2. **Items stay home.** Every key stored in a partition's engine hashes into
//!    that partition's range (checked when a partition is opened and by
//!    [`table::Table::verify`]).
//! 3. **One epoch, one map.** The map changes only by a split, which makes a
//!    new map with the next epoch; the map file on disk is replaced
//!    atomically, so after any crash it is the old map or the new one.
//! 4. **Never the wrong partition.** A request holds its partition's gate
//!    while it runs; a split retires the parent under the gate, so a request
//!    routed by an old map is refused ([`error::TableError::WrongPartition`],
//!    retriable) and never applied to a partition that no longer owns the key.
//! 5. **Order is global.** Storage keys sort by (hash, partition key, sort
//!    key) whatever the partition map, so a page's last evaluated key is a
//!    position that stays exact across partition boundaries and splits.

pub mod clock;
pub mod error;
pub mod hash;
pub mod layout;
pub mod map;
pub mod map_file;
pub mod page;
pub mod partition;
pub mod policy;
pub mod range;
pub mod split;
pub mod stats;
pub mod svg;
pub mod table;
