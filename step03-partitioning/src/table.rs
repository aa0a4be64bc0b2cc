//! A table: many partitions behind one API. Put, get and delete an item,
//! with or without a condition; route a key; open and check a table on disk.
//!
//! Every single-item request travels the same way:
//!
//! 1. **Validate** the item or key against the key schema (DynamoDB's
//!    errors, step 1's rules).
//! 2. **Hash** the partition key and build the storage key ([`crate::layout`]).
//! 3. **Route**: take the current routing (map + partition handles, swapped
//!    as a whole by splits) and binary-search the owner of the hash.
//! 4. **Apply** at the partition, behind its gate. If a split retired the
//!    partition in between, the partition refuses with
//!    [`TableError::WrongPartition`], nothing is applied, and the request is
//!    routed again — at most [`ROUTING_ATTEMPTS_MAX`] times.
//!
//! [`Table::route`] and the `*_routed` methods expose steps 3 and 4
//! separately, for layers that route in one place and apply in another
//! (step 4 sends the request to a replica group).
//!
//! On disk, a table is a directory:
//!
//! ```text
//! LOCK                   held while the table is open
//! PARTITION_MAP          the committed map (see map_file)
//! partition-00000003/    one directory per partition, owned by its engine
//! partition-00000004/
//! ```
//!
//! Opening a table loads the map, deletes a leftover temporary map, removes
//! every partition directory the map does not name (children of a split
//! that never committed, or a parent whose split did), and opens one engine
//! per partition with the factory the caller chose.
//!
//! Invariants: the routing's partitions are exactly the map's entries, in
//! order; a stored item's key attributes equal the key it is stored under
//! (checked on every read).

use std::convert::Infallible;
use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use step01_kv::codec::{decode_item, encode_item};
use step01_kv::engine::{ReadConsistency, Result as EngineResult, StorageEngine};
use step01_kv::error::ValidationError;
use step01_kv::key::{KeyAttribute, KeySchema, KeyValue, PrimaryKey};
use step01_kv::size::{KEY_PARTITION_BYTES_MAX, KEY_SORT_BYTES_MAX, check_item_size, item_size};
use step01_kv::store::lock_directory;
use step01_kv::value::{Item, validate_item};

use crate::clock::{Clock, SystemClock};
use crate::error::{ConditionalError, Result, TableError};
use crate::hash::{KeyHash, partition_hash};
use crate::layout::{decode_item_key, item_key};
use crate::map::{PartitionId, PartitionMap};
use crate::map_file;
use crate::partition::Partition;
use crate::policy::SplitPolicy;
use crate::range::HashRange;
use crate::stats::write_units;

/// How often one request is routed before the table gives up: each retry
/// means a split retired the partition in between, so a few are plenty.
pub const ROUTING_ATTEMPTS_MAX: u32 = 8;

/// Partition directories are named `partition-` and the id in 8 digits.
pub const PARTITION_DIR_PREFIX: &str = "partition-";

/// Opens (or creates) a storage engine in a directory.
pub type EngineFactory<E> = dyn Fn(&Path) -> EngineResult<E> + Send + Sync;

/// How a table is set up.
#[derive(Clone, Debug)]
pub struct TableOptions {
    /// Partitions of a new table (ignored when the table exists).
    pub initial_partitions: u32,
    pub split_policy: SplitPolicy,
    pub clock: Arc<dyn Clock>,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            initial_partitions: 1,
            split_policy: SplitPolicy::default(),
            clock: Arc::new(SystemClock::new()),
        }
    }
}

/// Where a request goes: the map's epoch, the owning partition, the hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub epoch: u64,
    pub partition: PartitionId,
    pub hash: KeyHash,
}

/// What a put or delete did.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOutcome {
    /// The item before the write (for `ReturnValues: ALL_OLD`).
    pub old_item: Option<Item>,
    /// DynamoDB's charge: the larger of the old and new item, in 1 KB units.
    pub write_units: u64,
}

/// One partition as the console and the picture show it.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionSummary {
    pub id: PartitionId,
    pub range: HashRange,
    pub item_count: u64,
    pub size_bytes: u64,
    pub read_units_per_second: f64,
    pub write_units_per_second: f64,
}

/// The totals [`Table::verify`] counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableCheck {
    pub partitions: usize,
    pub item_count: u64,
    pub size_bytes: u64,
}

/// The current map and a handle on each of its partitions, in map order.
/// Replaced as a whole (never edited) when a split commits.
pub(crate) struct Routing<E> {
    pub(crate) map: PartitionMap,
    pub(crate) partitions: Vec<Arc<Partition<E>>>,
}

impl<E> Routing<E> {
    pub(crate) fn partition_for(&self, hash: KeyHash) -> Arc<Partition<E>> {
        Arc::clone(&self.partitions[self.map.index_for(hash)])
    }

    pub(crate) fn find(&self, id: PartitionId) -> Option<Arc<Partition<E>>> {
        self.map
            .find(id)
            .map(|(index, _)| Arc::clone(&self.partitions[index]))
    }
}

/// A DynamoDB table cut into hash-range partitions.
pub struct Table<E> {
    pub(crate) dir: PathBuf,
    schema: KeySchema,
    pub(crate) options: TableOptions,
    pub(crate) factory: Box<EngineFactory<E>>,
    pub(crate) routing: RwLock<Arc<Routing<E>>>,
    /// Held by a split from start to finish: one split at a time.
    pub(crate) split_lock: Mutex<()>,
    _lock: File,
}

impl<E> fmt::Debug for Table<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("dir", &self.dir)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl<E: StorageEngine> Table<E> {
    // ANCHOR: open
    /// Opens the table in `dir`, creating it with `options.initial_partitions`
    /// partitions if it does not exist. `factory` opens each partition's
    /// engine in its directory.
    pub fn open<F>(
        dir: impl AsRef<Path>,
        schema: KeySchema,
        options: TableOptions,
        factory: F,
    ) -> Result<Table<E>>
    where
        F: Fn(&Path) -> EngineResult<E> + Send + Sync + 'static,
    {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| step01_kv::engine::StorageError::io(&dir, e))?;
        let lock = lock_directory(&dir)?;
        map_file::remove_temp(&dir)?;
        let map = match map_file::load(&dir)? {
            Some(map) => map,
            None => {
                let map = PartitionMap::new(options.initial_partitions)
                    .map_err(TableError::InvalidRequest)?;
                map_file::store(&dir, &map)?;
                map
            }
        };
        remove_unmapped_partitions(&dir, &map)?;
        let mut partitions = Vec::with_capacity(map.len());
        for entry in map.entries() {
            let path = partition_dir(&dir, entry.id);
            let engine = factory(&path)?;
            partitions.push(Arc::new(Partition::open(
                entry.id,
                entry.range,
                &path,
                engine,
            )?));
        }
        Ok(Table {
            dir,
            schema,
            options,
            factory: Box::new(factory),
            routing: RwLock::new(Arc::new(Routing { map, partitions })),
            split_lock: Mutex::new(()),
            _lock: lock,
        })
    }
    // ANCHOR_END: open

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn schema(&self) -> &KeySchema {
        &self.schema
    }

    pub fn split_policy(&self) -> &SplitPolicy {
        &self.options.split_policy
    }

    /// The current partition map (a copy: it may be replaced right after).
    pub fn partition_map(&self) -> Result<PartitionMap> {
        Ok(self.routing()?.map.clone())
    }

    /// Each partition's size and load, in map order, with the map's epoch.
    pub fn partition_summaries(&self) -> Result<(u64, Vec<PartitionSummary>)> {
        let routing = self.routing()?;
        let now = self.now();
        let mut summaries = Vec::with_capacity(routing.partitions.len());
        for partition in &routing.partitions {
            let load = partition.load(now)?;
            summaries.push(PartitionSummary {
                id: partition.id(),
                range: partition.range(),
                item_count: load.item_count,
                size_bytes: load.size_bytes,
                read_units_per_second: load.read_units_per_second,
                write_units_per_second: load.write_units_per_second,
            });
        }
        Ok((routing.map.epoch(), summaries))
    }

    // --- Routing ----------------------------------------------------------

    pub(crate) fn routing(&self) -> Result<Arc<Routing<E>>> {
        let routing = self
            .routing
            .read()
            .map_err(|_| TableError::poisoned("routing"))?;
        Ok(Arc::clone(&routing))
    }

    pub(crate) fn now(&self) -> Duration {
        self.options.clock.now()
    }

    /// Where `key` goes under the current map.
    pub fn route(&self, key: &PrimaryKey) -> Result<Route> {
        self.check_key(key)?;
        let hash = partition_hash(&key.partition);
        let routing = self.routing()?;
        Ok(Route {
            epoch: routing.map.epoch(),
            partition: routing.map.partition_for(hash).id,
            hash,
        })
    }

    /// The partition a route names, or `WrongPartition` if the current map
    /// no longer has it.
    fn resolve(&self, route: &Route) -> Result<Arc<Partition<E>>> {
        let routing = self.routing()?;
        routing
            .find(route.partition)
            .ok_or(TableError::WrongPartition {
                partition: route.partition,
                route_epoch: route.epoch,
                current_epoch: routing.map.epoch(),
            })
    }

    // ANCHOR: retry
    /// Runs `attempt` at the partition that owns `hash`, routing again
    /// whenever the partition turns out to have been split meanwhile.
    pub(crate) fn at_owner<T>(
        &self,
        hash: KeyHash,
        mut attempt: impl FnMut(&Partition<E>, u64) -> Result<T>,
    ) -> Result<T> {
        for _ in 0..ROUTING_ATTEMPTS_MAX {
            let routing = self.routing()?;
            let partition = routing.partition_for(hash);
            match attempt(&partition, routing.map.epoch()) {
                Err(error) if error.is_retriable() => continue,
                result => return result,
            }
        }
        Err(TableError::RoutingRetriesExhausted {
            attempts: ROUTING_ATTEMPTS_MAX,
        })
    }
    // ANCHOR_END: retry

    // --- Items ------------------------------------------------------------

    /// The item with this key, if any, read strongly.
    pub fn get(&self, key: &PrimaryKey) -> Result<Option<Item>> {
        self.get_with(key, ReadConsistency::Strong)
    }

    /// The item with this key at a chosen consistency: DynamoDB's
    /// `GetItem` with `ConsistentRead` true (`Strong`) or false
    /// (`Eventual`, DynamoDB's default). Over a single-copy engine both
    /// read the same state; over a replication group (step 4) an eventual
    /// read may be answered by a replica that is behind.
    pub fn get_with(&self, key: &PrimaryKey, consistency: ReadConsistency) -> Result<Option<Item>> {
        self.check_key(key)?;
        let storage_key = item_key(key);
        let now = self.now();
        let value = self.at_owner(partition_hash(&key.partition), |partition, epoch| {
            partition.get_with(epoch, &storage_key, consistency, now)
        })?;
        self.decode_found(&storage_key, value)
    }

    /// [`Table::get`] at the partition `route` names, once: a stale route is
    /// refused with [`TableError::WrongPartition`].
    pub fn get_routed(&self, route: &Route, key: &PrimaryKey) -> Result<Option<Item>> {
        self.check_key(key)?;
        let storage_key = item_key(key);
        let value = self
            .resolve(route)?
            .get(route.epoch, &storage_key, self.now())?;
        self.decode_found(&storage_key, value)
    }

    /// Stores `item`, replacing any item with the same key.
    pub fn put(&self, item: Item) -> Result<WriteOutcome> {
        unconditional(self.put_if(item, accept))
    }

    /// Stores `item` if `check` accepts the item it would replace. The check
    /// runs atomically with the write: no other write of this key comes
    /// between them.
    pub fn put_if<C>(
        &self,
        item: Item,
        check: impl FnOnce(Option<&Item>) -> std::result::Result<(), C>,
    ) -> std::result::Result<WriteOutcome, ConditionalError<C>> {
        let (key, value, new_size) = self.prepare_put(&item)?;
        let storage_key = item_key(&key);
        let mut check = Some(check);
        let now = self.now();
        let applied = self.at_owner(partition_hash(&key.partition), |partition, epoch| {
            partition.write(epoch, &storage_key, Some(&value), &mut check, now)
        })?;
        let applied = applied.map_err(ConditionalError::Condition)?;
        Ok(self.outcome(&storage_key, applied.old, Some(new_size))?)
    }

    /// [`Table::put`] at the partition `route` names, once: a stale route is
    /// refused with [`TableError::WrongPartition`] and nothing is written.
    pub fn put_routed(&self, route: &Route, item: Item) -> Result<WriteOutcome> {
        let (key, value, new_size) = self.prepare_put(&item)?;
        let storage_key = item_key(&key);
        let mut check = Some(accept);
        let applied = self.resolve(route)?.write(
            route.epoch,
            &storage_key,
            Some(&value),
            &mut check,
            self.now(),
        )?;
        let Ok(applied) = applied;
        self.outcome(&storage_key, applied.old, Some(new_size))
    }

    /// Deletes the item with this key (deleting a missing item succeeds).
    pub fn delete(&self, key: &PrimaryKey) -> Result<WriteOutcome> {
        unconditional(self.delete_if(key, accept))
    }

    /// Deletes the item if `check` accepts it (or its absence), atomically
    /// with the delete.
    pub fn delete_if<C>(
        &self,
        key: &PrimaryKey,
        check: impl FnOnce(Option<&Item>) -> std::result::Result<(), C>,
    ) -> std::result::Result<WriteOutcome, ConditionalError<C>> {
        self.check_key(key)?;
        let storage_key = item_key(key);
        let mut check = Some(check);
        let now = self.now();
        let applied = self.at_owner(partition_hash(&key.partition), |partition, epoch| {
            partition.write(epoch, &storage_key, None, &mut check, now)
        })?;
        let applied = applied.map_err(ConditionalError::Condition)?;
        Ok(self.outcome(&storage_key, applied.old, None)?)
    }

    /// Checks every partition: each stored key decodes, hashes into its
    /// partition's range, matches the item stored under it, and the
    /// statistics count exactly what is there. Each partition is frozen
    /// (requests wait) while it is counted, and no split runs meanwhile.
    pub fn verify(&self) -> Result<TableCheck> {
        let _no_split = self.lock_splits()?;
        let routing = self.routing()?;
        let mut check = TableCheck {
            partitions: routing.partitions.len(),
            item_count: 0,
            size_bytes: 0,
        };
        for partition in &routing.partitions {
            let _frozen = partition.freeze()?;
            let (mut items, mut bytes) = (0u64, 0u64);
            partition.for_each_entry(|key, value| {
                let (hash, _, _) = self.decode_stored(key, value)?;
                if !partition.range().contains(hash) {
                    return Err(TableError::corrupt(format!(
                        "a key of hash {hash:x} is stored in {}",
                        partition.id()
                    )));
                }
                items += 1;
                bytes += crate::partition::stored_bytes(key, value);
                Ok(())
            })?;
            let load = partition.load(self.now())?;
            if (load.item_count, load.size_bytes) != (items, bytes) {
                return Err(TableError::corrupt(format!(
                    "{} counts {} items and {} bytes but holds {items} and {bytes}",
                    partition.id(),
                    load.item_count,
                    load.size_bytes
                )));
            }
            check.item_count += items;
            check.size_bytes += bytes;
        }
        Ok(check)
    }

    // --- Helpers ------------------------------------------------------------

    pub(crate) fn lock_splits(&self) -> Result<MutexGuard<'_, ()>> {
        self.split_lock
            .lock()
            .map_err(|_| TableError::poisoned("split"))
    }

    /// Validates an item for a put: attributes, size, key.
    fn prepare_put(&self, item: &Item) -> Result<(PrimaryKey, Vec<u8>, usize)> {
        validate_item(item)?;
        let size = check_item_size(item)?;
        let key = self.schema.key_of(item)?;
        Ok((key, encode_item(item), size))
    }

    /// Checks a partition key value against the schema.
    pub(crate) fn check_partition_key(&self, value: &KeyValue) -> Result<()> {
        check_key_value(&self.schema.partition, value, KEY_PARTITION_BYTES_MAX)
    }

    /// Checks a key against the schema: the right attributes, types and
    /// sizes, and no empty strings or binaries.
    pub(crate) fn check_key(&self, key: &PrimaryKey) -> Result<()> {
        check_key_value(
            &self.schema.partition,
            &key.partition,
            KEY_PARTITION_BYTES_MAX,
        )?;
        match (&self.schema.sort, &key.sort) {
            (Some(attribute), Some(value)) => check_key_value(attribute, value, KEY_SORT_BYTES_MAX),
            (None, None) => Ok(()),
            _ => Err(TableError::InvalidRequest(
                "The provided key element does not match the schema".to_string(),
            )),
        }
    }

    /// Decodes a stored entry, checking on read that the item's key
    /// attributes are the key it is stored under.
    pub(crate) fn decode_stored(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<(KeyHash, PrimaryKey, Item)> {
        let (hash, primary) = decode_item_key(key)?;
        let item = decode_item(value)?;
        let stored = self
            .schema
            .key_of(&item)
            .map_err(|e| TableError::corrupt(format!("a stored item has no valid key: {e}")))?;
        if stored != primary {
            return Err(TableError::corrupt(
                "a stored item's key differs from its storage key",
            ));
        }
        Ok((hash, primary, item))
    }

    fn decode_found(&self, key: &[u8], value: Option<Vec<u8>>) -> Result<Option<Item>> {
        value
            .map(|value| self.decode_stored(key, &value).map(|(_, _, item)| item))
            .transpose()
    }

    fn outcome(
        &self,
        key: &[u8],
        old: Option<Item>,
        new_size: Option<usize>,
    ) -> Result<WriteOutcome> {
        if let Some(old) = &old {
            let stored = self
                .schema
                .key_of(old)
                .map_err(|e| TableError::corrupt(format!("a stored item has no valid key: {e}")))?;
            if item_key(&stored) != key {
                return Err(TableError::corrupt(
                    "a stored item's key differs from its storage key",
                ));
            }
        }
        let old_size = old.as_ref().map(item_size);
        let charged = old_size.max(new_size).unwrap_or(0) as u64;
        Ok(WriteOutcome {
            old_item: old,
            write_units: write_units(charged),
        })
    }
}

/// The check of an unconditional write.
fn accept(_: Option<&Item>) -> std::result::Result<(), Infallible> {
    Ok(())
}

fn unconditional<T>(result: std::result::Result<T, ConditionalError<Infallible>>) -> Result<T> {
    result.map_err(|error| match error {
        ConditionalError::Table(error) => error,
        ConditionalError::Condition(never) => match never {},
    })
}

/// One key value against its attribute's declared type and size limit.
fn check_key_value(attribute: &KeyAttribute, value: &KeyValue, bytes_max: usize) -> Result<()> {
    let name = &attribute.name;
    if attribute.key_type != value.key_type() {
        return Err(ValidationError::KeyTypeMismatch {
            name: name.clone(),
            expected: attribute.key_type.name(),
            actual: value.key_type().name(),
        }
        .into());
    }
    match value {
        KeyValue::S(text) if text.is_empty() => {
            return Err(ValidationError::KeyStringEmpty { name: name.clone() }.into());
        }
        KeyValue::B(bytes) if bytes.is_empty() => {
            return Err(ValidationError::KeyBinaryEmpty { name: name.clone() }.into());
        }
        _ => {}
    }
    if value.limited_size() > bytes_max {
        return Err(if bytes_max == KEY_PARTITION_BYTES_MAX {
            ValidationError::PartitionKeyTooLarge
        } else {
            ValidationError::SortKeyTooLarge
        }
        .into());
    }
    Ok(())
}

/// The directory of partition `id` in the table directory `dir`.
pub fn partition_dir(dir: &Path, id: PartitionId) -> PathBuf {
    dir.join(format!("{PARTITION_DIR_PREFIX}{:08}", id.0))
}

/// Removes the directories of partitions the map does not name: children
/// of a split that never committed, or a parent whose split did.
fn remove_unmapped_partitions(dir: &Path, map: &PartitionMap) -> Result<()> {
    let io = |e| step01_kv::engine::StorageError::io(dir, e);
    let mut removed = false;
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|name| name.strip_prefix(PARTITION_DIR_PREFIX))
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            continue;
        };
        if map.find(PartitionId(id)).is_none() {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(|e| step01_kv::engine::StorageError::io(&path, e))?;
            removed = true;
        }
    }
    if removed {
        map_file::sync_dir(dir)?;
    }
    Ok(())
}
