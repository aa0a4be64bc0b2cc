//! [`Lsm`]: the log-structured merge tree — step 1's log and memtable, plus
//! tables on disk, a manifest, and compaction in the background.
//!
//! ```text
//!  write ─▶ WAL ─▶ active memtable ──full──▶ immutable memtables ──flush──▶ L0 tables
//!                                                                            │ compaction
//!  get/scan: memtables (newest first) ─▶ L0 (newest first) ─▶ L1 ─▶ … ─▶ L6 ◀┘
//! ```
//!
//! # Writes
//!
//! A write is validated, throttled if the background is behind (see
//! *Backpressure*), appended to the log (group commit, no engine lock held),
//! applied to the memtable that owns its sequence number, and *published*:
//! it becomes visible once every earlier write is applied too
//! ([`sequencer`]). Then it is acknowledged.
//!
//! When the active memtable is full it is *frozen*: under the state lock it
//! becomes immutable, owning the sequence numbers up to the log's last one,
//! and the log is asked to start a new segment at the next record
//! ([`Wal::rotate`]). Writers that already hold a number of the frozen
//! memtable still apply to it; the flush waits for them.
//!
//! # Snapshots
//!
//! A reader takes, under the state lock, the visible sequence number and
//! `Arc`s of the memtables and the current [`Version`] (the table set). It
//! reads only through those and only versions at or below its snapshot:
//! memtables are multi-version ([`memtable`]) and append-only, and tables
//! in a pinned version never change. So a scan sees every batch whole or
//! not at all, however long it runs and whatever flushes and compactions
//! finish meanwhile. Flushes and compactions keep only the newest version
//! of each key: any reader that can see their output took its snapshot
//! after everything in it.
//!
//! # Background work
//!
//! Two threads (module `background`): the *flusher* writes the oldest
//! immutable memtable to a level-0 table, records it in the manifest with
//! the new flushed watermark, installs a new version, and only then deletes
//! the log segments the table made redundant. The *compactor* asks
//! the pure policy ([`crate::compaction`]) what to merge, merges it,
//! records the edit, and marks the inputs obsolete: their files go when the
//! last reader lets go of them.
//!
//! # Backpressure
//!
//! Memory and read cost must not grow without bound when writes outpace
//! the disk. With [`LsmOptions::immutable_memtables_slowdown`] immutable
//! memtables or [`LsmOptions::l0_slowdown_files`] level-0 tables, each write
//! first sleeps [`WRITE_SLOWDOWN`]; at the *stall* limits writers wait
//! until the background catches up.
//!
//! # On disk
//!
//! ```text
//! LOCK                       one open engine per directory
//! MANIFEST                   live tables and watermarks (see `manifest`)
//! wal/<first seq>.wal        step 1's log segments
//! tables/<id>.sst            tables (see `sstable`)
//! ```
//!
//! # Invariants
//!
//! 1. **Durable before acknowledged**, as in step 1: the log has the write.
//! 2. **Log segments outlive their data's flush.** A segment is deleted
//!    only after a table holding all its writes and the manifest edit
//!    naming that table (and the flushed watermark) are durable.
//! 3. **Newest first.** Memtables are newer than level 0, level 0 tables
//!    are ordered newest first, and each level is newer than the next.
//!    Reads stop at the first version they find.
//! 4. **Snapshots are prefixes.** A reader's snapshot `s` covers exactly the
//!    writes `1..=s`, each applied whole.
//! 5. **No orphans after open.** Table files the manifest does not name
//!    (left by a crash mid-flush or mid-compaction) are deleted on open.
//! 6. **No lock across I/O** except the manifest's own: readers and writers
//!    never wait for a flush, a compaction or an fsync other than their own
//!    write's (group commit) — unless backpressure says they must.

mod background;
pub mod memtable;
pub mod sequencer;
pub mod version;

use crate::cache::{BlockCache, CacheStats};
use crate::compaction::CompactionOptions;
use crate::manifest::{LEVELS_MAX, Manifest, ManifestOptions, TableMeta, sync_dir};
use crate::merge::{ConcatIter, EntryIter, LazySource, MergingIter, Tombstones, collect_live};
use crate::sstable::TableOptions;
use memtable::Memtable;
use sequencer::Sequencer;
use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use step01_kv::engine::{
    KeyRange, KeyValue, Result, ScanDirection, SequenceNumber, StorageEngine, StorageError,
    WriteBatch,
};
use step01_kv::memtable::Entry;
use step01_kv::store::{decode_batch, encode_batch, lock_directory};
use step01_kv::wal::{self, FsyncPolicy, Wal, WalOptions, WalStats, list_segments};
use version::{TableHandle, Version};

/// The subdirectory holding the log's segments.
pub const WAL_DIR_NAME: &str = "wal";
/// The subdirectory holding the tables.
pub const TABLES_DIR_NAME: &str = "tables";
const TABLE_SUFFIX: &str = ".sst";
/// Digits of the zero-padded table id in a table's file name.
const TABLE_NAME_DIGITS: usize = 20;
/// How long a write sleeps when the background is falling behind.
pub const WRITE_SLOWDOWN: Duration = Duration::from_millis(1);
/// A stalled writer re-checks at least this often.
const STALL_RECHECK: Duration = Duration::from_millis(50);

/// How an [`Lsm`] is configured. The defaults are small, to suit a course
/// and a laptop; the comments give what a production engine would use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsmOptions {
    /// The log's fsync policy and segment size (step 1).
    pub wal: WalOptions,
    /// A memtable is frozen and flushed once it holds this much.
    /// Default 4 MiB (production: 64 MiB).
    pub memtable_bytes: usize,
    /// Writes slow down with this many immutable memtables waiting.
    /// Default 2 (production: 2-4).
    pub immutable_memtables_slowdown: usize,
    /// Writes wait with this many immutable memtables waiting.
    /// Default 4 (production: 4-8).
    pub immutable_memtables_stall: usize,
    /// Level 0 is compacted at this many tables. Default 4 (production: 4).
    pub l0_compaction_trigger_files: usize,
    /// Writes slow down at this many level-0 tables.
    /// Default 8 (production: 20).
    pub l0_slowdown_files: usize,
    /// Writes wait at this many level-0 tables. Default 12 (production: 36).
    pub l0_stall_files: usize,
    /// Each level below 1 holds this many times the bytes of the one above.
    /// Default 10 (production: 10).
    pub level_size_ratio: u64,
    /// Level 1's target size. Default 16 MiB (production: 256 MiB).
    pub l1_target_bytes: u64,
    /// Compaction starts a new output table at this size.
    /// Default 4 MiB (production: 64 MiB).
    pub table_target_bytes: u64,
    /// Block size, restart interval and bloom bits of new tables.
    pub table: TableOptions,
    /// Memory for decoded blocks shared by all tables.
    /// Default 8 MiB (production: a good share of RAM, often GiBs).
    pub block_cache_bytes: usize,
    /// The manifest is rewritten as one snapshot past this size.
    /// Default 4 MiB (production: 64 MiB).
    pub manifest_rewrite_bytes: u64,
}

impl Default for LsmOptions {
    fn default() -> Self {
        Self {
            wal: WalOptions::default(),
            memtable_bytes: 4 * 1024 * 1024,
            immutable_memtables_slowdown: 2,
            immutable_memtables_stall: 4,
            l0_compaction_trigger_files: 4,
            l0_slowdown_files: 8,
            l0_stall_files: 12,
            level_size_ratio: 10,
            l1_target_bytes: 16 * 1024 * 1024,
            table_target_bytes: 4 * 1024 * 1024,
            table: TableOptions::default(),
            block_cache_bytes: 8 * 1024 * 1024,
            manifest_rewrite_bytes: 4 * 1024 * 1024,
        }
    }
}

impl LsmOptions {
    /// Tiny sizes, so that a few kilobytes of writes flush and compact all
    /// the time: for tests, crash tests and experiments.
    pub fn tiny() -> Self {
        Self {
            wal: WalOptions {
                segment_bytes: 16 * 1024,
                ..WalOptions::default()
            },
            memtable_bytes: 2 * 1024,
            immutable_memtables_slowdown: 2,
            immutable_memtables_stall: 3,
            l0_compaction_trigger_files: 2,
            l0_slowdown_files: 4,
            l0_stall_files: 6,
            level_size_ratio: 4,
            l1_target_bytes: 8 * 1024,
            table_target_bytes: 4 * 1024,
            table: TableOptions {
                block_size_bytes: 512,
                ..TableOptions::default()
            },
            block_cache_bytes: 256 * 1024,
            manifest_rewrite_bytes: 16 * 1024,
        }
    }

    /// These options with another fsync policy.
    pub fn with_fsync(self, fsync: FsyncPolicy) -> Self {
        Self {
            wal: WalOptions { fsync, ..self.wal },
            ..self
        }
    }

    /// The compaction policy's share of the options.
    pub fn compaction(&self) -> CompactionOptions {
        CompactionOptions {
            l0_trigger_files: self.l0_compaction_trigger_files,
            level_size_ratio: self.level_size_ratio,
            l1_target_bytes: self.l1_target_bytes,
        }
    }

    /// Panics on options that contradict each other: they come from code,
    /// not from clients.
    fn check(&self) {
        assert!(self.memtable_bytes > 0, "memtables need room");
        assert!(
            1 <= self.immutable_memtables_slowdown
                && self.immutable_memtables_slowdown <= self.immutable_memtables_stall,
            "immutable memtables: 1 <= slowdown <= stall"
        );
        assert!(
            1 <= self.l0_compaction_trigger_files
                && self.l0_compaction_trigger_files <= self.l0_slowdown_files
                && self.l0_slowdown_files <= self.l0_stall_files,
            "level 0: 1 <= trigger <= slowdown <= stall"
        );
        assert!(self.level_size_ratio >= 2, "levels must grow");
        assert!(
            self.l1_target_bytes > 0 && self.table_target_bytes > 0,
            "tables need room"
        );
    }

    /// Whether the engine fsyncs at all (tables, manifest, directories).
    fn durable(&self) -> bool {
        self.wal.fsync != FsyncPolicy::Never
    }
}

/// Counters for tests, benchmarks and the curious.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LsmStats {
    pub flushes: u64,
    pub compactions: u64,
    /// Bytes of tables written by compactions.
    pub compaction_bytes_written: u64,
    /// Tables a `get` read from (key range and bloom filter said "maybe").
    pub tables_probed: u64,
    /// Tables a `get` skipped because their bloom filter said "no".
    pub bloom_skips: u64,
    pub write_slowdowns: u64,
    pub write_stalls: u64,
    /// Unreferenced table files deleted when the engine was opened.
    pub orphans_deleted_at_open: u64,
    pub immutable_memtables: usize,
    pub tables_per_level: Vec<usize>,
    pub wal: WalStats,
    pub cache: CacheStats,
}

#[derive(Debug, Default)]
struct Counters {
    flushes: AtomicU64,
    compactions: AtomicU64,
    compaction_bytes_written: AtomicU64,
    tables_probed: AtomicU64,
    bloom_skips: AtomicU64,
    write_slowdowns: AtomicU64,
    write_stalls: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A frozen memtable: the owner of the writes `first_seq + 1 ..= last_seq`.
#[derive(Clone, Debug)]
struct Frozen {
    memtable: Arc<Memtable>,
    first_seq: SequenceNumber,
    last_seq: SequenceNumber,
}

/// What readers pin and writers route through; swapped under one lock.
#[derive(Debug)]
struct State {
    /// Owns the writes after `active_first`.
    active: Arc<Memtable>,
    active_first: SequenceNumber,
    /// Oldest first: the flusher takes the front.
    immutables: VecDeque<Frozen>,
    version: Arc<Version>,
}

impl State {
    /// The memtables own consecutive ranges of writes, oldest first, and
    /// the active one owns everything after them.
    fn check_invariants(&self) {
        let mut next_first = self.immutables.front().map(|f| f.first_seq);
        for frozen in &self.immutables {
            assert_eq!(Some(frozen.first_seq), next_first, "memtable ranges touch");
            assert!(
                frozen.first_seq < frozen.last_seq,
                "a frozen memtable owns writes"
            );
            next_first = Some(frozen.last_seq);
        }
        if let Some(last) = next_first {
            assert_eq!(last, self.active_first, "the active memtable comes last");
        }
    }
}

/// Signals between writers, callers and the background threads.
#[derive(Debug, Default)]
struct Signals {
    closing: bool,
    failure: Option<String>,
    /// The compactor should look for work.
    compaction_wanted: bool,
    /// Full compactions asked for and finished ([`Lsm::compact_all`]).
    manual_requested: u64,
    manual_done: u64,
    /// Every write up to this one is in a table.
    flushed_seq: SequenceNumber,
}

/// Everything the engine's threads share.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    options: LsmOptions,
    wal: Wal,
    cache: Arc<BlockCache>,
    state: RwLock<State>,
    sequencer: Sequencer,
    /// One manifest writer at a time; held across its fsync (only the
    /// background threads take it).
    manifest: Mutex<Manifest>,
    next_table_id: AtomicU64,
    signals: Mutex<Signals>,
    /// Wakes the flusher: a memtable was frozen, or closing.
    flush_wanted: Condvar,
    /// Wakes the compactor: a table was flushed, a full compaction was
    /// asked for, or closing.
    compact_wanted: Condvar,
    /// Wakes writers and callers waiting for the background: a flush or a
    /// compaction finished, or something failed.
    progress: Condvar,
    counters: Counters,
    orphans_deleted_at_open: u64,
}

/// A log-structured merge tree. See the module documentation.
#[derive(Debug)]
pub struct Lsm {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Held (and locked) for as long as the engine is open; dropped last.
    _lock: File,
}

/// A reader's pinned view: its snapshot and everything it reads through.
#[derive(Debug)]
struct ReadView {
    snapshot: SequenceNumber,
    /// Newest first: the active memtable, then the immutable ones.
    memtables: Vec<Arc<Memtable>>,
    version: Arc<Version>,
}

impl Lsm {
    // ANCHOR: open
    /// Opens the engine in `dir`, creating it if needed: recovers the
    /// manifest, opens and checks every live table, deletes orphans, and
    /// replays the log writes that no table holds yet.
    pub fn open(dir: impl AsRef<Path>, options: LsmOptions) -> Result<Lsm> {
        options.check();
        let dir = dir.as_ref();
        let tables_dir = dir.join(TABLES_DIR_NAME);
        let wal_dir = dir.join(WAL_DIR_NAME);
        for path in [dir, &tables_dir, &wal_dir] {
            fs::create_dir_all(path).map_err(|e| StorageError::io(path, e))?;
        }
        let lock = lock_directory(dir)?;
        let durable = options.durable();
        let mut manifest = Manifest::open(
            dir,
            ManifestOptions {
                sync: durable,
                rewrite_bytes: options.manifest_rewrite_bytes,
            },
        )?;
        let recovered = manifest.state().clone();
        let cache = BlockCache::new(options.block_cache_bytes);
        let mut handles = HashMap::new();
        for (_, meta) in recovered.layout.tables() {
            let path = table_path(dir, meta.id);
            let handle = TableHandle::open(&path, meta.clone(), &cache)?;
            handles.insert(meta.id, Arc::new(handle));
        }
        let version = Version::new(recovered.layout.clone(), &handles);
        // The log must continue where the tables end.
        let flushed = recovered.flushed_seq;
        if let Some((first_seq, path)) = list_segments(&wal_dir)?.into_iter().next()
            && first_seq > flushed + 1
        {
            return Err(StorageError::Corruption {
                file: path,
                offset: 0,
                reason: format!(
                    "the log starts at {first_seq} but tables hold only writes up to {flushed}"
                ),
            });
        }
        // Checked: from here on the recovered state rules. Nothing was
        // changed on disk before this point, so a failed open leaves the
        // evidence as it was.
        manifest.rewrite()?;
        let orphans = delete_orphan_tables(&tables_dir, &handles, durable)?;
        // Segments whose writes are all in tables go before the replay, so
        // that one whose deletion a crash undid cannot leave a gap.
        wal::delete_segments_through(&wal_dir, flushed, durable)?;
        let memtable = Arc::new(Memtable::new());
        let wal = Wal::open(&wal_dir, options.wal, |record| {
            if record.seq <= flushed {
                return Ok(()); // Already in a table.
            }
            let batch = decode_batch(record.payload).map_err(|reason| record.corruption(reason))?;
            memtable.apply_batch(record.seq, batch)
        })?;
        let last_seq = wal.last_seq()?;
        if last_seq < flushed {
            return Err(StorageError::Corruption {
                file: wal_dir,
                offset: 0,
                reason: format!("the log ends at {last_seq}, before the flushed write {flushed}"),
            });
        }

        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            options,
            wal,
            cache,
            state: RwLock::new(State {
                active: memtable,
                active_first: flushed,
                immutables: VecDeque::new(),
                version: Arc::new(version),
            }),
            sequencer: Sequencer::new(last_seq),
            next_table_id: AtomicU64::new(recovered.next_table_id.max(1)),
            manifest: Mutex::new(manifest),
            signals: Mutex::new(Signals {
                compaction_wanted: true,
                flushed_seq: flushed,
                ..Signals::default()
            }),
            flush_wanted: Condvar::new(),
            compact_wanted: Condvar::new(),
            progress: Condvar::new(),
            counters: Counters::default(),
            orphans_deleted_at_open: orphans,
        });
        let mut lsm = Lsm {
            threads: Vec::new(),
            shared: Arc::clone(&shared),
            _lock: lock,
        };
        lsm.threads = background::spawn(&shared)?;
        shared.freeze_if_full()?;
        Ok(lsm)
    }
    // ANCHOR_END: open

    /// Freezes the active memtable and waits until every memtable frozen so
    /// far is in a table. Afterwards the log holds nothing a table lacks.
    pub fn flush(&self) -> Result<()> {
        let target = match self.shared.freeze()? {
            Some(last_seq) => last_seq,
            // Nothing new to freeze: wait for what is frozen already.
            None => self.shared.read_state()?.active_first,
        };
        let mut signals = self.shared.lock_signals()?;
        // Each wake-up follows a flush or a failure.
        while signals.flushed_seq < target {
            check_signals(&signals)?;
            signals = self.shared.wait(&self.shared.progress, signals)?;
        }
        Ok(())
    }

    /// Compacts every table down into the deepest level that holds data,
    /// dropping shadowed versions and tombstones, and waits for it.
    /// Tables flushed meanwhile may stay in level 0.
    pub fn compact_all(&self) -> Result<()> {
        let mut signals = self.shared.lock_signals()?;
        signals.manual_requested += 1;
        let target = signals.manual_requested;
        self.shared.compact_wanted.notify_all();
        // Each wake-up follows a compaction or a failure.
        while signals.manual_done < target {
            check_signals(&signals)?;
            signals = self.shared.wait(&self.shared.progress, signals)?;
        }
        Ok(())
    }

    /// The live tables of every level, 0 first (level 0 newest first).
    pub fn levels(&self) -> Result<Vec<Vec<TableMeta>>> {
        Ok(self.shared.read_state()?.version.layout().levels().to_vec())
    }

    pub fn stats(&self) -> Result<LsmStats> {
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let state = self.shared.read_state()?;
        Ok(LsmStats {
            flushes: load(&counters.flushes),
            compactions: load(&counters.compactions),
            compaction_bytes_written: load(&counters.compaction_bytes_written),
            tables_probed: load(&counters.tables_probed),
            bloom_skips: load(&counters.bloom_skips),
            write_slowdowns: load(&counters.write_slowdowns),
            write_stalls: load(&counters.write_stalls),
            orphans_deleted_at_open: self.shared.orphans_deleted_at_open,
            immutable_memtables: state.immutables.len(),
            tables_per_level: (0..LEVELS_MAX)
                .map(|l| state.version.level(l).len())
                .collect(),
            wal: self.shared.wal.stats()?,
            cache: self.shared.cache.stats(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Pins a snapshot: the visible sequence number and everything to read
    /// at it, taken together under the state lock (see the module doc).
    fn read_view(&self) -> Result<ReadView> {
        let state = self.shared.read_state()?;
        let snapshot = self.shared.sequencer.visible()?;
        let mut memtables = vec![Arc::clone(&state.active)];
        memtables.extend(
            state
                .immutables
                .iter()
                .rev()
                .map(|f| Arc::clone(&f.memtable)),
        );
        Ok(ReadView {
            snapshot,
            memtables,
            version: Arc::clone(&state.version),
        })
    }
}

impl Drop for Lsm {
    /// Stops the background threads at their next checkpoint — work in
    /// progress is abandoned, and the next open cleans up after it — then
    /// closes the log.
    fn drop(&mut self) {
        if let Ok(mut signals) = self.shared.signals.lock() {
            signals.closing = true;
        }
        self.shared.flush_wanted.notify_all();
        self.shared.compact_wanted.notify_all();
        self.shared.progress.notify_all();
        for thread in self.threads.drain(..) {
            // A thread that panicked has already marked the engine failed.
            let _ = thread.join();
        }
    }
}

impl StorageEngine for Lsm {
    // ANCHOR: read_path
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let view = self.read_view()?;
        for memtable in &view.memtables {
            if let Some(entry) = memtable.get(key, view.snapshot)? {
                return Ok(entry.value); // A tombstone stops the search too.
            }
        }
        let entry = get_from_tables(&view.version, key, view.snapshot, &self.shared.counters)?;
        Ok(entry.and_then(|entry| entry.value))
    }
    // ANCHOR_END: read_path

    // ANCHOR: write_path
    fn write(&self, batch: WriteBatch) -> Result<SequenceNumber> {
        batch.validate()?;
        self.shared.throttle()?;
        let payload = encode_batch(&batch);
        // Durable (per the policy) when this returns; no engine lock held.
        let seq = match self.shared.wal.append(&payload) {
            Ok(seq) => seq,
            Err(error @ StorageError::InvalidBatch { .. }) => return Err(error),
            Err(error) => return Err(self.shared.fail(error)),
        };
        let applied = self
            .shared
            .memtable_for(seq)
            .and_then(|memtable| memtable.apply_batch(seq, batch))
            .and_then(|()| self.shared.sequencer.publish(seq));
        if let Err(error) = applied {
            // The number is taken but will never be applied: nothing after
            // it may become visible.
            return Err(self.shared.fail(error));
        }
        self.shared.sequencer.wait_visible(seq)?;
        self.shared.freeze_if_full()?;
        Ok(seq)
    }
    // ANCHOR_END: write_path

    fn scan(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
    ) -> Result<Vec<KeyValue>> {
        if limit == 0 || range.is_empty() {
            return Ok(Vec::new());
        }
        let view = self.read_view()?;
        let sources = scan_sources(&view, range, direction);
        let merged = MergingIter::new(sources, direction, view.snapshot, Tombstones::Hide);
        collect_live(merged, limit)
    }

    /// Makes every write so far durable, whatever the fsync policy: the
    /// log holds every write not yet in a table, and tables are always
    /// fsynced before the manifest names them.
    fn sync(&self) -> Result<()> {
        self.shared.wal.sync()
    }
}

// ANCHOR: get_from_tables
/// The newest version of `key` at or below `snapshot` in the tables of
/// `version`, tombstones included.
fn get_from_tables(
    version: &Version,
    key: &[u8],
    snapshot: SequenceNumber,
    counters: &Counters,
) -> Result<Option<Entry>> {
    // EXERCISE(02.6): search level 0 newest first, then one table per deeper level, skipping tables by key range and bloom filter and counting skips and probes
    let level_0 = version.level(0).iter();
    let deeper = (1..LEVELS_MAX).filter_map(|level| {
        let tables = version.level(level);
        // Disjoint and sorted: the first table ending at or after the key.
        let index = tables.partition_point(|table| table.meta.largest_key.as_slice() < key);
        tables.get(index)
    });
    for table in level_0.chain(deeper) {
        if !table.covers(key) {
            continue;
        }
        if !table.table.may_contain(key) {
            bump(&counters.bloom_skips);
            continue;
        }
        bump(&counters.tables_probed);
        if let Some(entry) = table.table.get(key, snapshot)? {
            return Ok(Some(entry)); // The newest version: stop here.
        }
    }
    Ok(None)
    // END EXERCISE
}
// ANCHOR_END: get_from_tables

/// One source per memtable and level-0 table, one per deeper level, all
/// restricted to `range` and sorted for `direction`.
fn scan_sources(
    view: &ReadView,
    range: &KeyRange,
    direction: ScanDirection,
) -> Vec<EntryIter<'static>> {
    let mut sources: Vec<EntryIter<'static>> = Vec::new();
    for memtable in &view.memtables {
        sources.push(Box::new(memtable.iter(
            range.clone(),
            direction,
            view.snapshot,
        )));
    }
    for table in view.version.level(0).iter().filter(|t| t.overlaps(range)) {
        sources.push(Box::new(table.table.iter(range.clone(), direction)));
    }
    for level in 1..LEVELS_MAX {
        let mut tables: Vec<LazySource<'static>> = view
            .version
            .level(level)
            .iter()
            .filter(|table| table.overlaps(range))
            .map(|table| {
                let (table, range) = (Arc::clone(&table.table), range.clone());
                Box::new(move || Box::new(table.iter(range, direction)) as EntryIter<'static>)
                    as LazySource<'static>
            })
            .collect();
        if tables.is_empty() {
            continue;
        }
        if direction == ScanDirection::Reverse {
            tables.reverse();
        }
        sources.push(Box::new(ConcatIter::new(tables)));
    }
    sources
}

impl Shared {
    fn read_state(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.state.read().map_err(|_| poisoned("state"))
    }

    fn write_state(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.state.write().map_err(|_| poisoned("state"))
    }

    fn lock_signals(&self) -> Result<MutexGuard<'_, Signals>> {
        self.signals.lock().map_err(|_| poisoned("signals"))
    }

    fn lock_manifest(&self) -> Result<MutexGuard<'_, Manifest>> {
        self.manifest.lock().map_err(|_| poisoned("manifest"))
    }

    fn wait<'a>(
        &self,
        condvar: &Condvar,
        signals: MutexGuard<'a, Signals>,
    ) -> Result<MutexGuard<'a, Signals>> {
        condvar.wait(signals).map_err(|_| poisoned("signals"))
    }

    /// Records the first failure, wakes everyone, and returns `error` for
    /// the caller to pass on. Writes are refused from now on; reads go on.
    fn fail(&self, error: StorageError) -> StorageError {
        let reason = error.to_string();
        self.sequencer.fail(&reason);
        if let Ok(mut signals) = self.signals.lock()
            && signals.failure.is_none()
        {
            signals.failure = Some(reason);
        }
        self.flush_wanted.notify_all();
        self.compact_wanted.notify_all();
        self.progress.notify_all();
        error
    }

    /// The memtable that owns write `seq`: the active one, or the frozen
    /// one whose range holds it (it cannot have been flushed yet: a flush
    /// waits until its writes are visible, and `seq` is not).
    fn memtable_for(&self, seq: SequenceNumber) -> Result<Arc<Memtable>> {
        let state = self.read_state()?;
        if seq > state.active_first {
            return Ok(Arc::clone(&state.active));
        }
        state
            .immutables
            .iter()
            .find(|frozen| frozen.first_seq < seq && seq <= frozen.last_seq)
            .map(|frozen| Arc::clone(&frozen.memtable))
            .ok_or_else(|| StorageError::Failed {
                reason: format!("no memtable owns write {seq}"),
            })
    }

    fn freeze_if_full(&self) -> Result<()> {
        let full = self.read_state()?.active.size_bytes() >= self.options.memtable_bytes;
        if full {
            self.freeze_when(|state| state.active.size_bytes() >= self.options.memtable_bytes)?;
        }
        Ok(())
    }

    /// Freezes the active memtable if anything was written to it.
    fn freeze(&self) -> Result<Option<SequenceNumber>> {
        self.freeze_when(|_| true)
    }

    // ANCHOR: freeze
    /// Under the state lock: if `condition` still holds and writes have
    /// arrived since the last freeze, makes the active memtable immutable,
    /// owning every write numbered up to now, and starts a new one. Returns
    /// the last write of the frozen memtable.
    fn freeze_when(&self, condition: impl Fn(&State) -> bool) -> Result<Option<SequenceNumber>> {
        let mut state = self.write_state()?;
        if !condition(&state) || self.wal.last_seq()? == state.active_first {
            return Ok(None);
        }
        // Writes numbered up to `last_seq` belong to the frozen memtable,
        // later ones to the new one: writers route by number under this
        // lock, so none can see the old boundary with a newer number. The
        // log starts a new segment with the next record, so that the old
        // segments can be deleted once this memtable is flushed.
        let last_seq = self.wal.rotate()?;
        let frozen = Frozen {
            memtable: std::mem::replace(&mut state.active, Arc::new(Memtable::new())),
            first_seq: state.active_first,
            last_seq,
        };
        state.active_first = last_seq;
        state.immutables.push_back(frozen);
        state.check_invariants();
        drop(state);
        let _signals = self.lock_signals()?;
        self.flush_wanted.notify_all();
        Ok(Some(last_seq))
    }
    // ANCHOR_END: freeze

    // ANCHOR: backpressure
    /// Slows a write down, or makes it wait, while the background is behind.
    fn throttle(&self) -> Result<()> {
        let options = &self.options;
        let mut signals = self.lock_signals()?;
        let mut slowed = false;
        let mut stalled = false;
        // Each pass sleeps once or waits for progress; it ends when the
        // pressure drops or the engine fails.
        loop {
            check_signals(&signals)?;
            let (immutables, level_0) = {
                let state = self.read_state()?;
                (state.immutables.len(), state.version.level(0).len())
            };
            if immutables >= options.immutable_memtables_stall || level_0 >= options.l0_stall_files
            {
                if !stalled {
                    stalled = true;
                    bump(&self.counters.write_stalls);
                }
                signals = self
                    .progress
                    .wait_timeout(signals, STALL_RECHECK)
                    .map_err(|_| poisoned("signals"))?
                    .0;
                continue;
            }
            let slow = immutables >= options.immutable_memtables_slowdown
                || level_0 >= options.l0_slowdown_files;
            if slow && !slowed && !stalled {
                slowed = true;
                bump(&self.counters.write_slowdowns);
                drop(signals);
                std::thread::sleep(WRITE_SLOWDOWN);
                signals = self.lock_signals()?;
                continue;
            }
            return Ok(());
        }
    }
    // ANCHOR_END: backpressure

    fn closing(&self) -> bool {
        self.signals.lock().map_or(true, |signals| signals.closing)
    }

    fn allocate_table_id(&self) -> u64 {
        self.next_table_id.fetch_add(1, Ordering::Relaxed)
    }
}

fn check_signals(signals: &Signals) -> Result<()> {
    if let Some(reason) = &signals.failure {
        return Err(StorageError::Failed {
            reason: reason.clone(),
        });
    }
    if signals.closing {
        return Err(StorageError::Failed {
            reason: "the engine is closing".to_string(),
        });
    }
    Ok(())
}

fn poisoned(what: &str) -> StorageError {
    StorageError::Failed {
        reason: format!("a thread panicked while holding the {what} lock"),
    }
}

/// The path of table `id`.
pub fn table_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(TABLES_DIR_NAME).join(format!(
        "{id:0width$}{TABLE_SUFFIX}",
        width = TABLE_NAME_DIGITS
    ))
}

/// The table id a file name stands for, if it is a table's name.
fn table_id(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(TABLE_SUFFIX)?;
    if digits.len() != TABLE_NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Deletes every file in the tables directory that is not a live table: a
/// table written by a flush or compaction that crashed before its manifest
/// edit, or an obsolete table whose deletion did not happen. Returns how
/// many it deleted.
fn delete_orphan_tables(
    tables_dir: &Path,
    live: &HashMap<u64, Arc<TableHandle>>,
    durable: bool,
) -> Result<u64> {
    let mut deleted = 0;
    let entries = fs::read_dir(tables_dir).map_err(|e| StorageError::io(tables_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io(tables_dir, e))?;
        let name = entry.file_name();
        let is_live = name
            .to_str()
            .and_then(table_id)
            .is_some_and(|id| live.contains_key(&id));
        if !is_live {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
            deleted += 1;
        }
    }
    if durable && deleted > 0 {
        sync_dir(tables_dir)?;
    }
    Ok(deleted)
}
