//! One partition: a hash range, the storage engine that holds its items, and
//! the locks that keep requests and splits from stepping on each other.
//!
//! Three locks, always taken in this order (so they cannot deadlock):
//!
//! 1. **The gate** (`RwLock<Gate>`). Every request holds it *shared* for as
//!    long as it touches the engine; a split holds it *exclusively* for the
//!    short moment it switches the map. A request that gets through the gate
//!    of a retired partition is refused with
//!    [`TableError::WrongPartition`] — the gate is what makes "never applied
//!    to the wrong partition" true, whatever map the request was routed by.
//! 2. **A key stripe** (one of [`LOCK_STRIPES`] mutexes, chosen by hashing
//!    the storage key). A write holds its key's stripe from reading the old
//!    item, through the caller's condition check, to the engine write, so a
//!    conditional write is atomic with respect to every other write of the
//!    same item. Different keys mostly take different stripes and proceed in
//!    parallel.
//! 3. **The counters** (statistics, and the change set of a split in
//!    progress), each held only to update a number or insert a key.
//!
//! While a split copies a partition, every write also records its key in the
//! *change set*; the split copies those keys again before switching, so
//! writes that raced with the copy are not lost.
//!
//! Invariants: every key in the engine hashes into `range` (checked when the
//! partition is opened); once retired, a partition's engine is never written
//! again.

use std::collections::BTreeSet;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use step01_kv::codec::decode_item;
use step01_kv::engine::{
    KeyRange, KeyValue as Entry, ReadConsistency, ScanDirection, StorageEngine, WriteBatch,
};
use step01_kv::value::Item;

use crate::error::{Result, TableError};
use crate::hash::hash_from_bytes;
use crate::layout::decode_item_key;
use crate::map::PartitionId;
use crate::range::HashRange;
use crate::stats::{PartitionLoad, PartitionStats, read_units, write_units};

/// Key stripes per partition: enough that unrelated writers rarely share one.
pub const LOCK_STRIPES: usize = 64;
/// The most entries read from an engine in one call: bounds the memory of
/// every scan, however large the partition.
pub const SCAN_CHUNK_ITEMS: usize = 256;
/// The most keys a split's change set holds before the split gives up and
/// retries later: bounds its memory under a write storm.
pub const CHANGE_SET_KEYS_MAX: usize = 1 << 20;

/// Whether requests may use a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The partition owns its range.
    Open,
    /// A split at this epoch replaced the partition by its children.
    Retired { epoch: u64 },
    /// A split failed after the new map may have reached the disk; which map
    /// is durable is unknown until the table is reopened.
    Failed,
}

/// What a write did: the item it replaced.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub old: Option<Item>,
}

/// A partition of a table.
pub struct Partition<E> {
    id: PartitionId,
    range: HashRange,
    dir: PathBuf,
    engine: E,
    gate: RwLock<Gate>,
    stripes: Vec<Mutex<()>>,
    stats: Mutex<PartitionStats>,
    /// `Some` while a split is copying this partition.
    changes: Mutex<Option<BTreeSet<Vec<u8>>>>,
}

impl<E> fmt::Debug for Partition<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Partition")
            .field("id", &self.id)
            .field("range", &self.range)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl<E: StorageEngine> Partition<E> {
    /// Opens a partition whose engine already holds its items: counts them,
    /// and checks that each one belongs here.
    pub fn open(id: PartitionId, range: HashRange, dir: &Path, engine: E) -> Result<Partition<E>> {
        let partition = Partition::empty(id, range, dir, engine);
        let mut stats = PartitionStats::default();
        partition.for_each_entry(|key, value| {
            let (hash, _) = decode_item_key(key)?;
            if !range.contains(hash) {
                return Err(TableError::corrupt(format!(
                    "partition {id} holds a key with hash {hash:x}, outside {range}"
                )));
            }
            stats.replace(None, Some(stored_bytes(key, value)));
            Ok(())
        })?;
        *partition.lock_stats()? = stats;
        Ok(partition)
    }

    /// A partition over an engine known to be empty (a split's new child).
    pub fn empty(id: PartitionId, range: HashRange, dir: &Path, engine: E) -> Partition<E> {
        Partition {
            id,
            range,
            dir: dir.to_path_buf(),
            engine,
            gate: RwLock::new(Gate::Open),
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            stats: Mutex::new(PartitionStats::default()),
            changes: Mutex::new(None),
        }
    }

    pub fn id(&self) -> PartitionId {
        self.id
    }

    pub fn range(&self) -> HashRange {
        self.range
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The partition's statistics as the split policy sees them at `now`.
    pub fn load(&self, now: Duration) -> Result<PartitionLoad> {
        Ok(self.lock_stats()?.load(now))
    }

    /// The engine, for the split executor's bulk reads and writes.
    pub(crate) fn engine(&self) -> &E {
        &self.engine
    }

    // --- Requests -------------------------------------------------------

    /// Lets a request in: the gate, held shared until the guard is dropped.
    /// Refuses requests to a retired partition, and requests for a hash
    /// outside the range (a route that names the wrong partition).
    fn admit(&self, route_epoch: u64, hash: Option<u128>) -> Result<RwLockReadGuard<'_, Gate>> {
        let gate = self.gate.read().map_err(|_| TableError::poisoned("gate"))?;
        let owned = hash.is_none_or(|hash| self.range.contains(hash));
        match *gate {
            Gate::Open if owned => Ok(gate),
            Gate::Open => Err(TableError::WrongPartition {
                partition: self.id,
                route_epoch,
                current_epoch: route_epoch,
            }),
            Gate::Retired { epoch } => Err(TableError::WrongPartition {
                partition: self.id,
                route_epoch,
                current_epoch: epoch,
            }),
            Gate::Failed => Err(TableError::Failed {
                reason: format!(
                    "partition {} is unavailable after a failed split; reopen the table",
                    self.id
                ),
            }),
        }
    }

    /// The stored value of `key`, read strongly.
    pub fn get(&self, route_epoch: u64, key: &[u8], now: Duration) -> Result<Option<Vec<u8>>> {
        self.get_with(route_epoch, key, ReadConsistency::Strong, now)
    }

    /// The stored value of `key` at a chosen consistency (see
    /// [`ReadConsistency`]: only a replicated engine tells them apart).
    pub fn get_with(
        &self,
        route_epoch: u64,
        key: &[u8],
        consistency: ReadConsistency,
        now: Duration,
    ) -> Result<Option<Vec<u8>>> {
        let _gate = self.admit(route_epoch, Some(key_hash(key)?))?;
        let value = self.engine.get_with(key, consistency)?;
        let bytes = value.as_ref().map_or(0, |v| stored_bytes(key, v));
        self.lock_stats()?.reads.record(now, read_units(bytes));
        Ok(value)
    }

    /// Up to `limit` entries of `range` (which must lie inside this
    /// partition's range) in `direction`, read at `consistency`.
    pub fn read_chunk(
        &self,
        route_epoch: u64,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
        consistency: ReadConsistency,
        now: Duration,
    ) -> Result<Vec<Entry>> {
        let _gate = self.admit(route_epoch, None)?;
        let entries =
            self.engine
                .scan_with(range, direction, limit.min(SCAN_CHUNK_ITEMS), consistency)?;
        let bytes: u64 = entries.iter().map(|(k, v)| stored_bytes(k, v)).sum();
        self.lock_stats()?.reads.record(now, read_units(bytes));
        Ok(entries)
    }

    // ANCHOR: conditional_write
    /// Replaces the item at `key` by `new` (`None` deletes it), if `check`
    /// accepts the current item. The check and the write happen under the
    /// key's stripe lock: no other write of this key can come between them.
    ///
    /// `check` is taken out of its `Option` only once the request is past
    /// the gate, so a refused request can be re-routed with it intact.
    pub fn write<C, F>(
        &self,
        route_epoch: u64,
        key: &[u8],
        new: Option<&[u8]>,
        check: &mut Option<F>,
        now: Duration,
    ) -> Result<std::result::Result<Applied, C>>
    where
        F: FnOnce(Option<&Item>) -> std::result::Result<(), C>,
    {
        let _gate = self.admit(route_epoch, Some(key_hash(key)?))?;
        let _stripe = self.stripes[stripe_of(key)]
            .lock()
            .map_err(|_| TableError::poisoned("key stripe"))?;
        let old_value = self.engine.get(key)?;
        let old = old_value.as_deref().map(decode_item).transpose()?;
        let check = check.take().ok_or_else(|| TableError::Failed {
            reason: "a conditional write ran its check twice".to_string(),
        })?;
        let old_bytes = old_value.as_ref().map(|v| stored_bytes(key, v));
        let new_bytes = new.as_ref().map(|v| stored_bytes(key, v));
        let units = write_units(old_bytes.max(new_bytes).unwrap_or(0));
        if let Err(refused) = check(old.as_ref()) {
            // DynamoDB charges a failed condition too.
            self.lock_stats()?.writes.record(now, units);
            return Ok(Err(refused));
        }
        match new {
            Some(value) => {
                self.engine.put(key, value)?;
            }
            None if old_value.is_some() => {
                self.engine.delete(key)?;
            }
            None => {}
        }
        {
            let mut stats = self.lock_stats()?;
            stats.replace(old_bytes, new_bytes);
            stats.writes.record(now, units);
        }
        self.record_change(key)?;
        Ok(Ok(Applied { old }))
    }
    // ANCHOR_END: conditional_write

    // --- Splits ---------------------------------------------------------

    /// Starts recording the keys of every write, for a split's catch-up.
    pub(crate) fn start_tracking(&self) -> Result<()> {
        *self.lock_changes()? = Some(BTreeSet::new());
        Ok(())
    }

    /// Takes the keys written since the last call (tracking continues).
    pub(crate) fn take_changes(&self) -> Result<BTreeSet<Vec<u8>>> {
        let mut changes = self.lock_changes()?;
        Ok(changes.as_mut().map(std::mem::take).unwrap_or_default())
    }

    pub(crate) fn stop_tracking(&self) -> Result<()> {
        *self.lock_changes()? = None;
        Ok(())
    }

    fn record_change(&self, key: &[u8]) -> Result<()> {
        let mut changes = self.lock_changes()?;
        if let Some(set) = changes.as_mut() {
            if set.len() >= CHANGE_SET_KEYS_MAX {
                // Too much churn to catch up with: abandon this split (the
                // executor sees tracking stopped) rather than grow unbounded.
                *changes = None;
                return Ok(());
            }
            set.insert(key.to_vec());
        }
        Ok(())
    }

    /// True while a split's change tracking is on.
    pub(crate) fn is_tracking(&self) -> Result<bool> {
        Ok(self.lock_changes()?.is_some())
    }

    /// Closes the gate: waits for requests in flight, then keeps new ones
    /// out until the guard is dropped.
    pub(crate) fn freeze(&self) -> Result<RwLockWriteGuard<'_, Gate>> {
        self.gate.write().map_err(|_| TableError::poisoned("gate"))
    }

    /// Sets one key of this partition (a split's child) to the state the
    /// parent has for it, keeping the statistics exact.
    pub(crate) fn copy_in(&self, key: &[u8], value: Option<Vec<u8>>) -> Result<()> {
        let old = self.engine.get(key)?;
        let old_bytes = old.as_ref().map(|v| stored_bytes(key, v));
        let new_bytes = value.as_ref().map(|v| stored_bytes(key, v));
        match value {
            Some(value) => {
                self.engine.put(key, &value)?;
            }
            None if old.is_some() => {
                self.engine.delete(key)?;
            }
            None => return Ok(()),
        }
        self.lock_stats()?.replace(old_bytes, new_bytes);
        Ok(())
    }

    /// Writes a batch of new keys (a split's bulk copy into an empty child).
    pub(crate) fn bulk_insert(&self, entries: Vec<Entry>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        let mut added = PartitionStats::default();
        for (key, value) in entries {
            added.replace(None, Some(stored_bytes(&key, &value)));
            batch.put(key, value);
        }
        self.engine.write(batch)?;
        let mut stats = self.lock_stats()?;
        stats.item_count += added.item_count;
        stats.size_bytes += added.size_bytes;
        Ok(())
    }

    /// Calls `visit` for every entry of the engine, in key order, reading
    /// [`SCAN_CHUNK_ITEMS`] at a time. Bypasses the gate: for opening,
    /// verifying and splitting, never for requests.
    pub(crate) fn for_each_entry(
        &self,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut range = KeyRange::all();
        // Each turn reads a full chunk or ends: bounded by the item count.
        loop {
            let chunk = self
                .engine
                .scan(&range, ScanDirection::Forward, SCAN_CHUNK_ITEMS)?;
            for (key, value) in &chunk {
                visit(key, value)?;
            }
            match chunk.last() {
                Some((last, _)) if chunk.len() == SCAN_CHUNK_ITEMS => {
                    range = KeyRange::new(Bound::Excluded(last.clone()), Bound::Unbounded);
                }
                _ => return Ok(()),
            }
        }
    }

    fn lock_stats(&self) -> Result<MutexGuard<'_, PartitionStats>> {
        self.stats
            .lock()
            .map_err(|_| TableError::poisoned("statistics"))
    }

    fn lock_changes(&self) -> Result<MutexGuard<'_, Option<BTreeSet<Vec<u8>>>>> {
        self.changes
            .lock()
            .map_err(|_| TableError::poisoned("change set"))
    }
}

/// Marks a frozen partition retired at `epoch`, and opens its gate: the
/// requests waiting there are refused and re-routed.
pub(crate) fn retire(mut gate: RwLockWriteGuard<'_, Gate>, epoch: u64) {
    *gate = Gate::Retired { epoch };
}

/// Marks a frozen partition failed, and opens its gate.
pub(crate) fn fail(mut gate: RwLockWriteGuard<'_, Gate>) {
    *gate = Gate::Failed;
}

/// What an entry costs on disk, as the statistics count it.
pub fn stored_bytes(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

fn key_hash(key: &[u8]) -> Result<u128> {
    hash_from_bytes(key).ok_or_else(|| TableError::corrupt("a storage key shorter than its hash"))
}

/// The stripe of a storage key. Any fixed hash works; it only has to spread
/// keys over the stripes.
fn stripe_of(key: &[u8]) -> usize {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % LOCK_STRIPES as u64) as usize
}
