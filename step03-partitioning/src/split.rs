//! The split executor: turns one partition into two, online.
//!
//! The policy ([`crate::policy`]) decides; this module does the work, while
//! reads and writes keep flowing. A split of parent `P` into children `L`
//! (hashes below the split point) and `R`:
//!
//! 1. **Track.** `P` starts recording the key of every write (its change
//!    set).
//! 2. **Choose.** Scan `P`'s keys for a sample of the hash distribution and
//!    pick the split point from it ([`choose_split_point`]).
//! 3. **Copy.** Create `L` and `R` in new directories (new ids: the map's
//!    next two) and copy `P`'s items into them, in bounded batches.
//!    Requests still go to `P`.
//! 4. **Catch up.** Copy again the keys written meanwhile, a few rounds, so
//!    the last round is small.
//! 5. **Freeze.** Take `P`'s gate exclusively: requests in flight finish,
//!    new ones wait. Copy the last changed keys. `L` and `R` now hold exactly
//!    what `P` holds.
//! 6. **Commit.** Write the new map (next epoch) durably and atomically
//!    ([`crate::map_file`]). This is the moment the split happens.
//! 7. **Switch.** Install the new routing, mark `P` retired, open the gate:
//!    the waiting requests see "retired", answer `WrongPartition`, and are
//!    routed again — to `L` or `R`.
//! 8. **Clean up.** Remove `P`'s directory.
//!
//! Crash safety follows from the order: before step 6 the durable map is
//! the old one and the children's directories are garbage; after it the map
//! is the new one, the children hold everything, and `P`'s directory is
//! garbage. Opening a table removes whatever directories its map does not
//! name, so a crash anywhere leaves the old table or the new one, never a
//! mix. [`Table::split_and_crash`] stops a split at chosen points to test
//! exactly that.
//!
//! The children's writes must be durable before step 6 commits the map,
//! whatever their engines' fsync policy: the commit makes them the only
//! copy. `commit_and_switch` calls [`StorageEngine::sync`] on both first.
//!
//! Invariants: one split at a time per table (the split lock); the parent is
//! removed only after the new map is durable; a request is applied either to
//! `P` before the freeze (and copied) or to a child after the switch.

use std::fs;
use std::mem;
use std::sync::Arc;
use std::sync::RwLockWriteGuard;

use step01_kv::engine::{KeyValue as Entry, StorageEngine};

use crate::error::{Result, TableError};
use crate::hash::hash_from_bytes;
use crate::map::{PARTITIONS_MAX, PartitionEntry, PartitionId, PartitionMap};
use crate::map_file;
use crate::partition::{self, Gate, Partition, SCAN_CHUNK_ITEMS, stored_bytes};
use crate::policy::{KeySample, SplitReason, choose_split_point, decide};
use crate::table::{Routing, Table, partition_dir};

/// The most samples a split keeps of a partition's keys: every n-th key is
/// sampled so that at most this many are held.
pub const SPLIT_SAMPLES_MAX: usize = 4096;
/// Catch-up rounds before the freeze. Each copies the keys written during
/// the one before, so they shrink quickly when the copy outpaces writers.
pub const CATCH_UP_ROUNDS_MAX: usize = 4;
/// The most splits one [`Table::maybe_split`] pass runs.
pub const SPLITS_PER_PASS_MAX: usize = 16;
/// The bulk copy writes batches of at most this many bytes (far below the
/// log's record limit, whatever the item sizes).
pub const COPY_BATCH_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// Where [`Table::split_and_crash`] stops a split, as if the process died.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The children's directories exist, still empty.
    ChildrenCreated,
    /// The children hold a full copy; the map is untouched.
    ChildrenCopied,
    /// The new map is in the temporary file, not yet renamed.
    MapWritten,
    /// The new map is committed; the parent's directory is still there.
    MapCommitted,
}

/// What a split did.
#[derive(Clone, Debug, PartialEq)]
pub enum SplitOutcome {
    /// The parent is gone; the children own its range from `epoch` on.
    Split {
        parent: PartitionId,
        children: [PartitionEntry; 2],
        epoch: u64,
        /// Why the policy asked for it (`None` when asked directly).
        reason: Option<SplitReason>,
    },
    /// Nothing to cut: a single item collection (or none), or the table
    /// has [`PARTITIONS_MAX`] partitions.
    NotSplittable { partition: PartitionId },
    /// Writers changed more keys than a split can track; try again later.
    Abandoned { partition: PartitionId },
}

impl<E: StorageEngine> Table<E> {
    /// Asks the policy about every partition and splits those it picks (at
    /// most [`SPLITS_PER_PASS_MAX`]). Meant to run periodically, in the
    /// background.
    pub fn maybe_split(&self) -> Result<Vec<SplitOutcome>> {
        let routing = self.routing()?;
        let now = self.now();
        let mut wanted = Vec::new();
        for partition in &routing.partitions {
            if let Some(reason) = decide(&partition.load(now)?, self.split_policy()) {
                wanted.push((partition.id(), reason));
            }
        }
        let mut outcomes = Vec::new();
        for (id, reason) in wanted.into_iter().take(SPLITS_PER_PASS_MAX) {
            match self.execute_split(id, None) {
                Ok(SplitOutcome::Split {
                    parent,
                    children,
                    epoch,
                    ..
                }) => outcomes.push(SplitOutcome::Split {
                    parent,
                    children,
                    epoch,
                    reason: Some(reason),
                }),
                Ok(other) => outcomes.push(other),
                // Split by someone else meanwhile.
                Err(TableError::PartitionNotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(outcomes)
    }

    /// Splits partition `id` at the median of its key distribution.
    pub fn split_partition(&self, id: PartitionId) -> Result<SplitOutcome> {
        self.execute_split(id, None)
    }

    /// Fault injection: runs a split of `id` until `at` and stops dead,
    /// leaving the files as they are, then drops the table as a crash
    /// would. Reopen the directory to see what recovery makes of it.
    pub fn split_and_crash(self, id: PartitionId, at: CrashPoint) -> Result<()> {
        match self.execute_split(id, Some(at)) {
            Err(TableError::CrashInjected(_)) => Ok(()),
            Err(error) => Err(error),
            Ok(outcome) => Err(TableError::Failed {
                reason: format!("the split ended ({outcome:?}) before reaching {at:?}"),
            }),
        }
    }

    fn execute_split(&self, id: PartitionId, crash: Option<CrashPoint>) -> Result<SplitOutcome> {
        let _one_split = self.lock_splits()?;
        let routing = self.routing()?;
        let parent = routing.find(id).ok_or(TableError::PartitionNotFound(id))?;
        if routing.map.len() >= PARTITIONS_MAX {
            return Ok(SplitOutcome::NotSplittable { partition: id });
        }
        parent.start_tracking()?;
        let result = self.split_tracked(&routing, &parent, crash);
        let stopped = parent.stop_tracking();
        let outcome = result?;
        stopped?;
        Ok(outcome)
    }

    fn split_tracked(
        &self,
        routing: &Routing<E>,
        parent: &Partition<E>,
        crash: Option<CrashPoint>,
    ) -> Result<SplitOutcome> {
        let id = parent.id();
        let samples = sample_keys(parent)?;
        let Some(at) = choose_split_point(&parent.range(), &samples) else {
            return Ok(SplitOutcome::NotSplittable { partition: id });
        };
        let (next_map, entries) = routing
            .map
            .with_split(id, at)
            .map_err(|reason| TableError::Failed { reason })?;
        let children = self.create_children(&entries)?;
        crash_at(crash, CrashPoint::ChildrenCreated)?;
        let frozen = match copy_and_freeze(parent, &children, crash) {
            Ok(Some(frozen)) => frozen,
            Ok(None) => {
                self.discard(children);
                return Ok(SplitOutcome::Abandoned { partition: id });
            }
            // A crash leaves every file where it is.
            Err(error @ TableError::CrashInjected(_)) => return Err(error),
            Err(error) => {
                self.discard(children);
                return Err(error);
            }
        };
        if let Err(error) = map_file::write_temp(&self.dir, &next_map) {
            drop(frozen);
            self.discard(children);
            return Err(error.into());
        }
        crash_at(crash, CrashPoint::MapWritten)?;
        self.commit_and_switch(routing, parent, children, frozen, next_map, crash)
    }

    // ANCHOR: split_epoch_change
    /// Steps 6 to 8: commit the new map, switch the routing, retire the
    /// parent, remove its directory. Runs with the parent frozen.
    fn commit_and_switch(
        &self,
        routing: &Routing<E>,
        parent: &Partition<E>,
        children: [Arc<Partition<E>>; 2],
        frozen: RwLockWriteGuard<'_, Gate>,
        next_map: PartitionMap,
        crash: Option<CrashPoint>,
    ) -> Result<SplitOutcome> {
        let (index, _) = routing
            .map
            .find(parent.id())
            .ok_or(TableError::PartitionNotFound(parent.id()))?;
        // The children become the only copy of the range: make them durable.
        for child in &children {
            if let Err(error) = child.engine().sync() {
                partition::fail(frozen);
                return Err(error.into());
            }
        }
        if let Err(error) = map_file::commit_temp(&self.dir) {
            // The rename may or may not be durable: until the table is
            // reopened nobody can tell which map holds, so the parent's
            // range stays closed.
            partition::fail(frozen);
            return Err(error.into());
        }
        crash_at(crash, CrashPoint::MapCommitted)?;
        let epoch = next_map.epoch();
        let entries = [children[0].entry(), children[1].entry()];
        {
            let Ok(mut current) = self.routing.write() else {
                partition::fail(frozen);
                return Err(TableError::poisoned("routing"));
            };
            assert_eq!(current.map.epoch() + 1, epoch, "one split at a time");
            let mut partitions = routing.partitions.clone();
            partitions.splice(index..=index, children);
            *current = Arc::new(Routing {
                map: next_map,
                partitions,
            });
        }
        // Requests waiting at the gate now find it retired and re-route.
        partition::retire(frozen, epoch);
        // The new map is durable: the parent's files are garbage. A failure
        // here is harmless, the next open removes the directory.
        if fs::remove_dir_all(parent.dir()).is_ok() {
            let _ = map_file::sync_dir(&self.dir);
        }
        Ok(SplitOutcome::Split {
            parent: parent.id(),
            children: entries,
            epoch,
            reason: None,
        })
    }
    // ANCHOR_END: split_epoch_change

    /// Opens empty engines for the children in fresh directories.
    fn create_children(&self, entries: &[PartitionEntry; 2]) -> Result<[Arc<Partition<E>>; 2]> {
        let mut children = Vec::with_capacity(2);
        for entry in entries {
            let dir = partition_dir(&self.dir, entry.id);
            let opened = remove_if_present(&dir).and_then(|()| Ok((self.factory)(&dir)?));
            match opened {
                Ok(engine) => children.push(Arc::new(Partition::empty(
                    entry.id,
                    entry.range,
                    &dir,
                    engine,
                ))),
                Err(error) => {
                    self.discard(children);
                    return Err(error);
                }
            }
        }
        children.try_into().map_err(|_| TableError::Failed {
            reason: "a split made other than two children".to_string(),
        })
    }

    /// Closes and deletes children of a split that did not commit. Errors
    /// are ignored: the next open removes unmapped directories anyway.
    fn discard(&self, children: impl IntoIterator<Item = Arc<Partition<E>>>) {
        for child in children {
            let dir = child.dir().to_path_buf();
            drop(child);
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl<E: StorageEngine> Partition<E> {
    fn entry(&self) -> PartitionEntry {
        PartitionEntry {
            id: self.id(),
            range: self.range(),
        }
    }
}

/// Steps 3 to 5: bulk copy, catch-up rounds, freeze, last catch-up. Returns
/// the frozen gate, or `None` if the change set overflowed.
fn copy_and_freeze<'p, E: StorageEngine>(
    parent: &'p Partition<E>,
    children: &[Arc<Partition<E>>; 2],
    crash: Option<CrashPoint>,
) -> Result<Option<RwLockWriteGuard<'p, Gate>>> {
    copy_all(parent, children)?;
    for _ in 0..CATCH_UP_ROUNDS_MAX {
        let changed = parent.take_changes()?;
        if changed.is_empty() {
            break;
        }
        copy_keys(parent, children, changed)?;
    }
    crash_at(crash, CrashPoint::ChildrenCopied)?;
    let frozen = parent.freeze()?;
    if !parent.is_tracking()? {
        return Ok(None);
    }
    copy_keys(parent, children, parent.take_changes()?)?;
    Ok(Some(frozen))
}

/// Samples the parent's key distribution: every n-th key's hash, weighted
/// by the bytes of the keys up to the next sample.
fn sample_keys<E: StorageEngine>(parent: &Partition<E>) -> Result<Vec<KeySample>> {
    let items = parent.load(std::time::Duration::ZERO)?.item_count;
    let stride = (items / SPLIT_SAMPLES_MAX as u64).max(1);
    let mut samples: Vec<KeySample> = Vec::new();
    let mut seen = 0u64;
    parent.for_each_entry(|key, value| {
        let hash = hash_from_bytes(key).ok_or_else(|| TableError::corrupt("short storage key"))?;
        let weight = stored_bytes(key, value);
        let full = samples.len() >= SPLIT_SAMPLES_MAX;
        match samples.last_mut() {
            Some(last) if !seen.is_multiple_of(stride) || full => last.weight += weight,
            _ => samples.push(KeySample { hash, weight }),
        }
        seen += 1;
        Ok(())
    })?;
    Ok(samples)
}

/// Copies every item of the parent into the child that owns its hash.
fn copy_all<E: StorageEngine>(
    parent: &Partition<E>,
    children: &[Arc<Partition<E>>; 2],
) -> Result<()> {
    let mut pending: [(Vec<Entry>, u64); 2] = Default::default();
    parent.for_each_entry(|key, value| {
        let side = side_of(children, key)?;
        let (batch, bytes) = &mut pending[side];
        *bytes += stored_bytes(key, value);
        batch.push((key.to_vec(), value.to_vec()));
        if batch.len() >= SCAN_CHUNK_ITEMS || *bytes >= COPY_BATCH_BYTES_MAX {
            *bytes = 0;
            children[side].bulk_insert(mem::take(batch))?;
        }
        Ok(())
    })?;
    for (side, (batch, _)) in pending.into_iter().enumerate() {
        children[side].bulk_insert(batch)?;
    }
    Ok(())
}

/// Copies the parent's current state of each key (a value, or its absence)
/// into the child that owns it.
fn copy_keys<E: StorageEngine>(
    parent: &Partition<E>,
    children: &[Arc<Partition<E>>; 2],
    keys: impl IntoIterator<Item = Vec<u8>>,
) -> Result<()> {
    for key in keys {
        let value = parent.engine().get(&key)?;
        children[side_of(children, &key)?].copy_in(&key, value)?;
    }
    Ok(())
}

/// 0 for the left child, 1 for the right.
fn side_of<E: StorageEngine>(children: &[Arc<Partition<E>>; 2], key: &[u8]) -> Result<usize> {
    let hash = hash_from_bytes(key).ok_or_else(|| TableError::corrupt("short storage key"))?;
    Ok(usize::from(!children[0].range().contains(hash)))
}

fn remove_if_present(dir: &std::path::Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(step01_kv::engine::StorageError::io(dir, error).into()),
    }
}

fn crash_at(crash: Option<CrashPoint>, here: CrashPoint) -> Result<()> {
    match crash {
        Some(point) if point == here => Err(TableError::CrashInjected(point)),
        _ => Ok(()),
    }
}
