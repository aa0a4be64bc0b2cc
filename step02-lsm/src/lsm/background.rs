//! The two background threads: the flusher turns immutable memtables into
//! level-0 tables, the compactor merges tables down the levels.
//!
//! Both follow the same protocol, the heart of crash safety:
//!
//! 1. write the new table files and fsync them (and their directory);
//! 2. append the manifest edit and fsync it — the commit point;
//! 3. install the new version for readers;
//! 4. only then delete what the edit made redundant: log segments after a
//!    flush, input tables after a compaction (once no reader pins them).
//!
//! A crash before step 2 leaves orphan files, deleted on the next open; a
//! crash after it leaves redundant ones, deleted on the next open or by
//! the next flush. Either way no acknowledged write is lost and no table is
//! half-live. Closing the engine abandons work at the same checkpoints.

use super::memtable::MemtableIter;
use super::version::TableHandle;
use super::{Frozen, Shared, TABLES_DIR_NAME, bump, table_path};
use crate::compaction::{Compaction, pick_compaction, pick_full_compaction};
use crate::manifest::{LEVELS_MAX, TableMeta, VersionEdit, sync_dir};
use crate::merge::{EntryIter, MergingIter, Tombstones};
use crate::sstable::{TableInfo, TableWriter};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use step01_kv::engine::{KeyRange, Result, ScanDirection, SequenceNumber, StorageError};
use step01_kv::wal::FsyncPolicy;

/// Compactions the compactor runs before it checks for other work again.
const COMPACTIONS_PER_ROUND_MAX: usize = 16;
/// Steps of one full compaction: each moves the shallowest level down, so
/// twice the number of levels covers tables flushed meanwhile too.
const FULL_COMPACTION_STEPS_MAX: usize = 2 * LEVELS_MAX;

/// How a piece of background work ended, when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    /// The engine is closing: stopped at a checkpoint, leaving at most
    /// orphan files for the next open to delete.
    Abandoned,
}

/// Starts the flusher and the compactor.
pub(super) fn spawn(shared: &Arc<Shared>) -> Result<Vec<JoinHandle<()>>> {
    let mut threads = Vec::new();
    for (name, body) in [
        ("lsm-flusher", run_flusher as fn(&Shared) -> Result<()>),
        ("lsm-compactor", run_compactor),
    ] {
        let owned = Arc::clone(shared);
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // Marks the engine failed however the thread ends, even by
                // a panic, so that no writer waits for it forever.
                struct FailOnExit<'a>(&'a Shared, &'static str);
                impl Drop for FailOnExit<'_> {
                    fn drop(&mut self) {
                        if !self.0.closing() {
                            self.0.fail(StorageError::Failed {
                                reason: format!("the {} thread stopped", self.1),
                            });
                        }
                    }
                }
                let _guard = FailOnExit(&owned, name);
                if let Err(error) = body(&owned) {
                    owned.fail(error);
                }
            })
            .map_err(|e| StorageError::io(&shared.dir, e))?;
        threads.push(thread);
    }
    Ok(threads)
}

/// The flusher: flushes the oldest immutable memtable until there is none,
/// then waits for the next freeze.
fn run_flusher(shared: &Shared) -> Result<()> {
    loop {
        let frozen = {
            let mut signals = shared.lock_signals()?;
            // Each wake-up follows a freeze, a failure or the close.
            loop {
                if signals.closing || signals.failure.is_some() {
                    return Ok(());
                }
                if let Some(frozen) = shared.read_state()?.immutables.front() {
                    break frozen.clone();
                }
                signals = shared.wait(&shared.flush_wanted, signals)?;
            }
        };
        if flush(shared, &frozen)? == Outcome::Abandoned {
            return Ok(());
        }
        let mut signals = shared.lock_signals()?;
        signals.flushed_seq = frozen.last_seq;
        signals.compaction_wanted = true;
        shared.compact_wanted.notify_all();
        shared.progress.notify_all();
    }
}

// ANCHOR: flush
/// Writes a frozen memtable to a level-0 table and commits it.
fn flush(shared: &Shared, frozen: &Frozen) -> Result<Outcome> {
    // Writers that took a number of this memtable may still be applying.
    shared.sequencer.wait_visible(frozen.last_seq)?;
    let id = shared.allocate_table_id();
    let path = table_path(&shared.dir, id);
    // The memtable is complete: its newest version of each key is all any
    // reader of the table can need (see the module doc of `lsm`).
    let entries =
        frozen
            .memtable
            .iter(KeyRange::all(), ScanDirection::Forward, SequenceNumber::MAX);
    let Some(info) = write_table(shared, &path, entries)? else {
        return Err(StorageError::Failed {
            reason: format!("memtable up to write {} is empty", frozen.last_seq),
        });
    };
    if shared.closing() {
        return Ok(Outcome::Abandoned); // Before the commit: an orphan.
    }
    if shared.options.durable() {
        sync_dir(&shared.dir.join(TABLES_DIR_NAME))?; // The new file's name.
    }
    if matches!(shared.options.wal.fsync, FsyncPolicy::Interval(_)) {
        // The manifest is about to say "the log is flushed up to here", and
        // the log must never end before that after a crash. Every write of
        // the memtable was acknowledged, so under `EveryWrite` it is
        // already durable; under an interval policy it may not be.
        shared.wal.sync()?;
    }
    let table = Arc::new(TableHandle::open(&path, meta(id, &info), &shared.cache)?);

    let mut manifest = shared.lock_manifest()?;
    let edit = VersionEdit {
        snapshot: false,
        flushed_seq: frozen.last_seq,
        next_table_id: next_table_id(shared, manifest.state().next_table_id),
        removed: Vec::new(),
        added: vec![(0, table.meta.clone())],
    };
    manifest.append(&edit)?; // The commit point.
    let layout = manifest.state().layout.clone();
    {
        let mut state = shared.write_state()?;
        let version = state.version.successor(layout, vec![table]);
        state.version = Arc::new(version);
        let flushed = state.immutables.pop_front();
        assert!(
            flushed.is_some_and(|f| Arc::ptr_eq(&f.memtable, &frozen.memtable)),
            "the flusher flushes the oldest memtable"
        );
        state.check_invariants();
    }
    drop(manifest);
    // The table and the edit are durable: the log's copy can go.
    shared.wal.delete_segments_through(frozen.last_seq)?;
    bump(&shared.counters.flushes);
    Ok(Outcome::Done)
}
// ANCHOR_END: flush

/// The next table id to record: beyond every id handed out so far.
fn next_table_id(shared: &Shared, recorded: u64) -> u64 {
    shared.next_table_id.load(Ordering::Relaxed).max(recorded)
}

fn meta(id: u64, info: &TableInfo) -> TableMeta {
    TableMeta {
        id,
        smallest_key: info.smallest_key.clone(),
        largest_key: info.largest_key.clone(),
        entries: info.entries,
        file_bytes: info.file_bytes,
        min_seq: info.min_seq,
        max_seq: info.max_seq,
    }
}

/// Writes `entries` (one version per key, in key order) as a table at
/// `path`. Returns `None`, writing nothing, if there are no entries.
fn write_table(
    shared: &Shared,
    path: &std::path::Path,
    entries: MemtableIter,
) -> Result<Option<TableInfo>> {
    let mut writer: Option<TableWriter> = None;
    for entry in entries {
        let entry = entry?;
        let writer = match &mut writer {
            Some(writer) => writer,
            None => writer.insert(TableWriter::create(path, shared.options.table)?),
        };
        writer.add(&entry.key, entry.seq, entry.value.as_deref())?;
    }
    writer.map(TableWriter::finish).transpose()
}

/// The compactor: runs what the policy picks, and full compactions on
/// request, then waits for the next flush or request.
fn run_compactor(shared: &Shared) -> Result<()> {
    let policy = shared.options.compaction();
    loop {
        let manual = {
            let mut signals = shared.lock_signals()?;
            // Each wake-up follows a flush, a request, a failure or the close.
            loop {
                if signals.closing || signals.failure.is_some() {
                    return Ok(());
                }
                if signals.manual_requested > signals.manual_done {
                    break Some(signals.manual_requested);
                }
                if signals.compaction_wanted {
                    signals.compaction_wanted = false;
                    break None;
                }
                signals = shared.wait(&shared.compact_wanted, signals)?;
            }
        };
        let (steps_max, full) = match manual {
            Some(_) => (FULL_COMPACTION_STEPS_MAX, true),
            None => (COMPACTIONS_PER_ROUND_MAX, false),
        };
        let mut ran_out_of_steps = true;
        for _ in 0..steps_max {
            let layout = shared.read_state()?.version.layout().clone();
            let picked = if full {
                pick_full_compaction(&layout)
            } else {
                pick_compaction(&layout, &policy)
            };
            let Some(compaction) = picked else {
                ran_out_of_steps = false;
                break;
            };
            if compact(shared, &compaction)? == Outcome::Abandoned {
                return Ok(());
            }
            let _signals = shared.lock_signals()?;
            shared.progress.notify_all(); // Level 0 shrank: stalled writers may go.
        }
        let mut signals = shared.lock_signals()?;
        if signals.closing || signals.failure.is_some() {
            return Ok(());
        }
        match manual {
            Some(target) => {
                signals.manual_done = target;
                signals.compaction_wanted = true; // The policy gets its turn.
            }
            None if ran_out_of_steps => signals.compaction_wanted = true,
            None => {}
        }
        shared.progress.notify_all();
    }
}

// ANCHOR: compact
/// Runs one compaction: merges its inputs into new tables of the output
/// level, commits the edit, and retires the inputs.
fn compact(shared: &Shared, compaction: &Compaction) -> Result<Outcome> {
    let version = Arc::clone(&shared.read_state()?.version);
    let mut inputs = Vec::new();
    for (level, meta) in compaction.inputs() {
        let handle = version
            .handle(meta.id)
            .ok_or_else(|| StorageError::Failed {
                reason: format!("compaction input {} is not live", meta.id),
            })?;
        assert!(version.level(level).iter().any(|h| Arc::ptr_eq(h, handle)));
        inputs.push((level, Arc::clone(handle)));
    }
    // Upper inputs come first and level 0 lists newest first: the merge
    // sees every version and keeps the newest of each key.
    let sources: Vec<EntryIter<'static>> = inputs
        .iter()
        .map(|(_, handle)| {
            Box::new(handle.table.iter(KeyRange::all(), ScanDirection::Forward))
                as EntryIter<'static>
        })
        .collect();
    let merged = MergingIter::new(
        sources,
        ScanDirection::Forward,
        SequenceNumber::MAX,
        Tombstones::Keep,
    );

    let mut outputs: Vec<Arc<TableHandle>> = Vec::new();
    let mut current: Option<(u64, PathBuf, TableWriter)> = None;
    for entry in merged {
        let entry = entry?;
        if entry.value.is_none() && compaction.drop_tombstones {
            continue; // Nothing older is left below to hide.
        }
        let (_, _, writer) = match &mut current {
            Some(current) => current,
            None => {
                if shared.closing() {
                    return Ok(Outcome::Abandoned);
                }
                let id = shared.allocate_table_id();
                let path = table_path(&shared.dir, id);
                let writer = TableWriter::create(&path, shared.options.table)?;
                current.insert((id, path, writer))
            }
        };
        writer.add(&entry.key, entry.seq, entry.value.as_deref())?;
        if writer.estimated_file_bytes() >= shared.options.table_target_bytes
            && let Some(full) = current.take()
        {
            outputs.push(finish_output(shared, full)?);
        }
    }
    if let Some(last) = current.take() {
        outputs.push(finish_output(shared, last)?);
    }
    if shared.closing() {
        return Ok(Outcome::Abandoned); // Before the commit: orphans.
    }
    if shared.options.durable() && !outputs.is_empty() {
        sync_dir(&shared.dir.join(TABLES_DIR_NAME))?;
    }

    let written: u64 = outputs.iter().map(|t| t.meta.file_bytes).sum();
    let mut manifest = shared.lock_manifest()?;
    let edit = VersionEdit {
        snapshot: false,
        flushed_seq: manifest.state().flushed_seq,
        next_table_id: next_table_id(shared, manifest.state().next_table_id),
        removed: inputs
            .iter()
            .map(|(level, h)| (*level, h.meta.id))
            .collect(),
        added: outputs
            .iter()
            .map(|t| (compaction.output_level(), t.meta.clone()))
            .collect(),
    };
    manifest.append(&edit)?; // The commit point.
    let layout = manifest.state().layout.clone();
    {
        let mut state = shared.write_state()?;
        let version = state.version.successor(layout, outputs);
        state.version = Arc::new(version);
    }
    drop(manifest);
    // Durably gone from the manifest: each file goes when its last reader
    // lets go.
    for (_, input) in &inputs {
        input.mark_obsolete();
    }
    bump(&shared.counters.compactions);
    shared
        .counters
        .compaction_bytes_written
        .fetch_add(written, Ordering::Relaxed);
    Ok(Outcome::Done)
}
// ANCHOR_END: compact

fn finish_output(
    shared: &Shared,
    (id, path, writer): (u64, PathBuf, TableWriter),
) -> Result<Arc<TableHandle>> {
    let info = writer.finish()?;
    Ok(Arc::new(TableHandle::open(
        &path,
        meta(id, &info),
        &shared.cache,
    )?))
}
