//! The write-ahead log: an append-only sequence of checksummed records, split
//! into segment files, that survives a crash at any moment.
//!
//! A write is durable once its record is in the log and the log is fsynced;
//! everything else (the memtable, later the SSTables of step 2) can be rebuilt
//! from the log. So the log has three jobs: frame records so that a reader
//! can tell a whole record from a damaged one, make them durable without
//! paying one fsync per writer, and find the valid prefix again after a crash.
//!
//! # Record format
//!
//! ```text
//! +-----------+-----------+-----------+----------------+
//! | crc32c u32| length u32| seq u64   | payload        |
//! +-----------+-----------+-----------+----------------+
//!   4 bytes     4 bytes     8 bytes     `length` bytes      (little-endian)
//! ```
//!
//! The CRC32C covers everything after itself: length, sequence number and
//! payload. A bit flip anywhere in the record, or a record cut short by a
//! crash, fails the check.
//!
//! # Segments
//!
//! The log is a directory of segment files named after the sequence number of
//! their first record, zero-padded to 20 digits (`00000000000000000001.wal`),
//! so that name order is log order. A new segment starts when the current
//! one would grow beyond [`WalOptions::segment_bytes`]; the old one is fsynced
//! first, and the directory is fsynced after the new file is created.
//!
//! Two hooks serve engines that move the log's contents elsewhere (step 2
//! writes them into tables): [`Wal::rotate`] asks for the next record to
//! start a new segment, and [`Wal::delete_segments_through`] deletes the
//! closed segments whose every record is at or below a sequence number, once
//! those records are safe elsewhere.
//!
//! # Group commit
//!
//! Appenders do not touch the file. [`Wal::append`] encodes the record, puts
//! it in a bounded queue ([`QUEUE_BYTES_MAX`]) and parks its thread. One *log
//! writer* thread takes everything queued, writes it with one `write`,
//! covers it with one fsync, publishes the new `synced_seq`, and has exactly
//! the covered appenders woken (by a small *acker* thread, so that the log
//! writer goes straight back to the disk). While one group is on its way to
//! the disk, the next one gathers in the queue.
//!
//! The fsync policy decides when the log writer fsyncs ([`FsyncPolicy`]);
//! under every policy an append returns only after its record has been
//! written to the file, so a crash of the *process* loses nothing
//! acknowledged; under `EveryWrite`, neither does a crash of the machine.
//!
//! # Invariants
//!
//! * Sequence numbers are contiguous: each record's number is one more than
//!   the previous record's, across segments, and a segment's name is the
//!   number of its first record. Recovery checks this.
//! * `synced_seq <= written_seq <= last_seq`, and the queue holds exactly
//!   the records `written_seq + 1 ..= last_seq` (asserted after every round).
//!   Every record up to `synced_seq` is covered by a completed fsync; under
//!   [`FsyncPolicy::EveryWrite`], [`Wal::append`] returns only when
//!   `synced_seq` reaches the new record.
//! * Only the tail of the last segment can be damaged by a crash: it is the
//!   only place the log writes, and every other segment was fsynced before
//!   the next one was created. Damage anywhere else is corruption.
//! * After any failed write or fsync the log refuses further work
//!   ([`StorageError::Failed`]): the file may hold a partial record, and after
//!   a failed fsync the kernel may have dropped the unsynced pages. Reopening
//!   recovers a consistent log.
//! * Recovery cannot tell a torn write from damage to the very last record,
//!   so both are cut off; with `Never` or `Interval`, a machine crash can
//!   also leave holes in unsynced older records, which recovery reports as
//!   corruption rather than guess.

use crate::engine::{Result, SequenceNumber, StorageError};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Bytes before each payload: checksum, payload length, sequence number.
pub const RECORD_HEADER_BYTES: usize = 16;
/// The largest record (header and payload) the log writes or accepts.
pub const RECORD_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The largest payload of one record.
pub const RECORD_PAYLOAD_BYTES_MAX: usize = RECORD_BYTES_MAX - RECORD_HEADER_BYTES;
/// Segment size at which a new segment is started, unless configured.
pub const SEGMENT_BYTES_DEFAULT: u64 = 32 * 1024 * 1024;
/// Digits of the zero-padded sequence number in a segment's file name.
const SEGMENT_NAME_DIGITS: usize = 20;
const SEGMENT_SUFFIX: &str = ".wal";

/// When the log calls fsync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Before acknowledging each append. Concurrent appends share fsyncs
    /// (group commit), so this is cheaper than it sounds.
    #[default]
    EveryWrite,
    /// In the background, at this interval: appends return before they are
    /// durable, and a crash of the machine loses up to one interval.
    Interval(Duration),
    /// Only when asked ([`Wal::sync`]). For tests and throwaway data.
    Never,
}

/// How a log is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    pub fsync: FsyncPolicy,
    /// A segment is closed and a new one started before it would exceed this.
    pub segment_bytes: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::default(),
            segment_bytes: SEGMENT_BYTES_DEFAULT,
        }
    }
}

/// One decoded record, borrowing its payload from the buffer it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: SequenceNumber,
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Bytes this record occupies in the log.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_BYTES + self.payload.len()
    }
}

/// Why bytes do not form a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The bytes end inside the record.
    Truncated { needed: usize, available: usize },
    /// The length field is larger than any record the log writes.
    TooLong { length: usize },
    /// The stored checksum does not match the bytes.
    ChecksumMismatch { stored: u32, computed: u32 },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Truncated { needed, available } => {
                write!(f, "record needs {needed} bytes, only {available} remain")
            }
            RecordError::TooLong { length } => {
                write!(
                    f,
                    "record length {length} exceeds {RECORD_PAYLOAD_BYTES_MAX} bytes"
                )
            }
            RecordError::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
        }
    }
}

// ANCHOR: record_format
/// Frames `payload` as the record with sequence number `seq`.
pub fn encode_record(seq: SequenceNumber, payload: &[u8]) -> Vec<u8> {
    assert!(
        payload.len() <= RECORD_PAYLOAD_BYTES_MAX,
        "payload too large for a record"
    );
    let length = payload.len() as u32; // Fits: RECORD_PAYLOAD_BYTES_MAX < u32::MAX.
    let mut record = Vec::with_capacity(RECORD_HEADER_BYTES + payload.len());
    record.extend_from_slice(&[0; 4]); // The checksum, filled in last.
    record.extend_from_slice(&length.to_le_bytes());
    record.extend_from_slice(&seq.to_le_bytes());
    record.extend_from_slice(payload);
    let checksum = crc32c::crc32c(&record[4..]);
    record[..4].copy_from_slice(&checksum.to_le_bytes());
    record
}

/// Decodes the record at the start of `buf`, trusting nothing until the
/// length is bounded and the checksum matches.
pub fn decode_record(buf: &[u8]) -> std::result::Result<Record<'_>, RecordError> {
    // EXERCISE(01.4): check the length, verify the checksum and decode one record
    let truncated = RecordError::Truncated {
        needed: RECORD_HEADER_BYTES,
        available: buf.len(),
    };
    let (stored, rest) = buf.split_first_chunk::<4>().ok_or(truncated)?;
    let (length_bytes, rest) = rest.split_first_chunk::<4>().ok_or(truncated)?;
    let (seq_bytes, rest) = rest.split_first_chunk::<8>().ok_or(truncated)?;
    let length = u32::from_le_bytes(*length_bytes) as usize;
    if length > RECORD_PAYLOAD_BYTES_MAX {
        return Err(RecordError::TooLong { length });
    }
    let payload = rest.get(..length).ok_or(RecordError::Truncated {
        needed: RECORD_HEADER_BYTES + length,
        available: buf.len(),
    })?;
    let stored = u32::from_le_bytes(*stored);
    let computed = crc32c::crc32c(length_bytes);
    let computed = crc32c::crc32c_append(computed, seq_bytes);
    let computed = crc32c::crc32c_append(computed, payload);
    if stored != computed {
        return Err(RecordError::ChecksumMismatch { stored, computed });
    }
    Ok(Record {
        seq: u64::from_le_bytes(*seq_bytes),
        payload,
    })
    // END EXERCISE
}
// ANCHOR_END: record_format

/// The file name of the segment whose first record is `first_seq`.
pub fn segment_file_name(first_seq: SequenceNumber) -> String {
    format!(
        "{first_seq:0width$}{SEGMENT_SUFFIX}",
        width = SEGMENT_NAME_DIGITS
    )
}

/// The segments in `dir`, as (first sequence number, path), in log order.
/// Files whose names are not segment names are ignored.
pub fn list_segments(dir: &Path) -> Result<Vec<(SequenceNumber, PathBuf)>> {
    let mut segments = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        let name = entry.file_name();
        let Some(digits) = name.to_str().and_then(|n| n.strip_suffix(SEGMENT_SUFFIX)) else {
            continue;
        };
        if digits.len() != SEGMENT_NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(first_seq) = digits.parse::<SequenceNumber>() {
            segments.push((first_seq, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

/// What recovery does with a record that fails to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRecord {
    /// The end of a write cut short by a crash: cut it off and carry on.
    TornTail,
    /// Damage to records that were once whole: report it, never skip it.
    Corruption,
}

// ANCHOR: classify_bad_record
/// Decides what the bad record at `offset` of `segment` is.
///
/// A crash can only tear the last record(s) written, and nothing valid
/// follows them. So a bad record is a torn tail if it is in the last
/// segment and no intact record with a sequence number of at least
/// `next_seq` (the number the bad record should have had) starts anywhere
/// after it. Anything else — a bad record followed by a good one, or in an
/// older segment — means bytes that were once durable are damaged.
///
/// Looking for a later record byte by byte costs time quadratic in the size
/// of the damaged tail in the worst case; it runs only after a crash.
pub fn classify_bad_record(
    segment: &[u8],
    offset: usize,
    is_last_segment: bool,
    next_seq: SequenceNumber,
) -> BadRecord {
    // EXERCISE(01.5): tell a torn tail (cut it off) from corruption (report it)
    if !is_last_segment {
        return BadRecord::Corruption;
    }
    let intact_record_follows = (offset + 1..segment.len()).any(|start| {
        segment
            .get(start..)
            .is_some_and(|rest| matches!(decode_record(rest), Ok(record) if record.seq >= next_seq))
    });
    if intact_record_follows {
        BadRecord::Corruption
    } else {
        BadRecord::TornTail
    }
    // END EXERCISE
}
// ANCHOR_END: classify_bad_record

/// A record handed to the replay function during recovery, with its place
/// in the log so that a payload the reader cannot parse can be reported.
#[derive(Clone, Copy, Debug)]
pub struct ReplayedRecord<'a> {
    pub seq: SequenceNumber,
    pub payload: &'a [u8],
    pub file: &'a Path,
    pub offset: u64,
}

impl ReplayedRecord<'_> {
    /// A corruption error located at this record.
    pub fn corruption(&self, reason: impl Into<String>) -> StorageError {
        StorageError::Corruption {
            file: self.file.to_path_buf(),
            offset: self.offset,
            reason: reason.into(),
        }
    }
}

/// Counters for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records appended since the log was opened.
    pub records: u64,
    /// Completed fsyncs of segment files since the log was opened.
    pub syncs: u64,
}

/// A write-ahead log open for appending. Share it between threads by
/// reference: every method takes `&self`.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    log_writer: Option<JoinHandle<()>>,
}

/// What appenders and the log writer thread share.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Wakes the log writer: records were queued, a sync was requested, or
    /// the log is closing.
    work: Condvar,
    /// Wakes appenders waiting for room in the queue.
    room: Condvar,
    /// Published copies of `State::written_seq` and `State::synced_seq`, and
    /// whether the log failed. A woken appender checks these without taking
    /// the lock, so waking a whole group costs no lock hand-offs.
    written_seq: AtomicU64,
    synced_seq: AtomicU64,
    failed: AtomicBool,
}

/// A record waiting for the log writer, and the thread to wake when the
/// round that writes it is done.
#[derive(Debug)]
struct Queued {
    record: Vec<u8>,
    waiter: Thread,
}

#[derive(Debug)]
struct State {
    /// Encoded records `written_seq + 1 ..= last_seq`, waiting to be written.
    queue: Vec<Queued>,
    queue_bytes: usize,
    /// The last record appended (queued, maybe not yet written).
    last_seq: SequenceNumber,
    /// The last record written to a segment file (maybe not yet synced).
    written_seq: SequenceNumber,
    /// The last record covered by a completed fsync.
    synced_seq: SequenceNumber,
    /// [`Wal::sync`] wants an fsync covering at least this record.
    sync_requested: SequenceNumber,
    /// Records that must start a new segment ([`Wal::rotate`]), ascending;
    /// all are later than `written_seq`. At most [`ROTATIONS_PENDING_MAX`].
    rotations: Vec<SequenceNumber>,
    /// Threads in [`Wal::sync`], woken after the next round that fsyncs.
    sync_waiters: Vec<Thread>,
    /// Threads waiting for the round being written now.
    in_flight: Vec<Thread>,
    /// Set by the first failed write or fsync; the log refuses work after it.
    failure: Option<String>,
    closing: bool,
    stats: WalStats,
}

impl State {
    fn check_healthy(&self) -> Result<()> {
        match &self.failure {
            Some(reason) => Err(StorageError::Failed {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn check_invariants(&self) {
        assert!(
            self.synced_seq <= self.written_seq,
            "synced records were written"
        );
        assert!(
            self.written_seq <= self.last_seq,
            "written records were appended"
        );
        assert_eq!(
            self.written_seq + self.queue.len() as u64,
            self.last_seq,
            "the queue holds exactly the unwritten records"
        );
        assert!(
            self.rotations
                .first()
                .is_none_or(|&seq| seq > self.written_seq)
                && self.rotations.is_sorted(),
            "pending rotations are ahead of the writer, in order"
        );
    }
}

/// The segment being appended to. Only the log writer thread touches it.
#[derive(Debug)]
struct Segment {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Wal {
    /// Opens the log in `dir` (creating it if needed), passing every intact
    /// record to `replay` in sequence order, cutting off a torn tail, and
    /// failing with [`StorageError::Corruption`] on any other damage.
    pub fn open(
        dir: &Path,
        options: WalOptions,
        replay: impl FnMut(ReplayedRecord<'_>) -> Result<()>,
    ) -> Result<Wal> {
        assert!(
            options.segment_bytes > 0,
            "segments must have room for records"
        );
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let sync = options.fsync != FsyncPolicy::Never;
        let tail = recover(dir, sync, replay)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&tail.path)
            .map_err(|e| StorageError::io(&tail.path, e))?;
        if sync {
            // Replayed records may be in the page cache only (the previous
            // process died before its fsync). They are about to be served,
            // so make them durable first.
            file.sync_data()
                .map_err(|e| StorageError::io(&tail.path, e))?;
        }
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(&tail.path, e))?
            .len();
        let segment = Segment {
            file,
            path: tail.path,
            len,
        };
        let state = State {
            queue: Vec::new(),
            queue_bytes: 0,
            last_seq: tail.last_seq,
            written_seq: tail.last_seq,
            synced_seq: tail.last_seq,
            sync_requested: tail.last_seq,
            rotations: Vec::new(),
            sync_waiters: Vec::new(),
            in_flight: Vec::new(),
            failure: None,
            closing: false,
            stats: WalStats::default(),
        };
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(state),
            work: Condvar::new(),
            room: Condvar::new(),
            written_seq: AtomicU64::new(tail.last_seq),
            synced_seq: AtomicU64::new(tail.last_seq),
            failed: AtomicBool::new(false),
        });
        let log_writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("wal-writer".to_string())
                .spawn(move || shared.run_log_writer(segment))
                .map_err(|e| StorageError::io(dir, e))?
        };
        Ok(Wal {
            shared,
            log_writer: Some(log_writer),
        })
    }

    // ANCHOR: append
    /// Appends one record and returns its sequence number once the record
    /// is written to the segment file — and, under
    /// [`FsyncPolicy::EveryWrite`], once an fsync covers it.
    pub fn append(&self, payload: &[u8]) -> Result<SequenceNumber> {
        if payload.len() > RECORD_PAYLOAD_BYTES_MAX {
            return Err(StorageError::InvalidBatch {
                reason: format!(
                    "record payload of {} bytes exceeds {RECORD_PAYLOAD_BYTES_MAX} bytes",
                    payload.len()
                ),
            });
        }
        let record_len = RECORD_HEADER_BYTES + payload.len();
        let mut state = self.shared.lock()?;
        // Back-pressure: wait for room in the queue. An empty queue takes
        // any record, so a large record cannot wait forever.
        while state.failure.is_none()
            && !state.queue.is_empty()
            && state.queue_bytes + record_len > QUEUE_BYTES_MAX
        {
            state = self.shared.room.wait(state).map_err(|_| poisoned())?;
        }
        state.check_healthy()?;
        let seq = state.last_seq + 1;
        state.queue.push(Queued {
            record: encode_record(seq, payload),
            waiter: std::thread::current(),
        });
        state.queue_bytes += record_len;
        state.last_seq = seq;
        state.stats.records += 1;
        drop(state);
        self.shared.work.notify_one();
        let durable = self.shared.options.fsync == FsyncPolicy::EveryWrite;
        self.shared.wait_for(seq, durable)?;
        Ok(seq)
    }
    // ANCHOR_END: append

    /// Makes every record appended so far durable, whatever the policy.
    pub fn sync(&self) -> Result<()> {
        let mut state = self.shared.lock()?;
        state.check_healthy()?;
        let target = state.last_seq;
        if state.synced_seq >= target {
            return Ok(());
        }
        state.sync_requested = state.sync_requested.max(target);
        state.sync_waiters.push(std::thread::current());
        drop(state);
        self.shared.work.notify_one();
        self.shared.wait_for(target, true)
    }

    /// The sequence number of the last record appended (0 for an empty log).
    pub fn last_seq(&self) -> Result<SequenceNumber> {
        Ok(self.shared.lock()?.last_seq)
    }

    pub fn stats(&self) -> Result<WalStats> {
        Ok(self.shared.lock()?.stats)
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    // ANCHOR: rotate
    /// Asks for the next record to start a new segment, and returns the
    /// sequence number of the last record before it. Returns at once: the
    /// log writer starts the segment when that record arrives, so no caller
    /// waits for the disk here.
    ///
    /// An engine that copies records `..=n` elsewhere (step 2 flushes its
    /// memtable into a table) rotates first, so that those records end up in
    /// segments of their own that [`Wal::delete_segments_through`] can
    /// delete. If [`ROTATIONS_PENDING_MAX`] requests are pending, this one
    /// is dropped: the records then share a segment with later ones, which
    /// only delays its deletion.
    pub fn rotate(&self) -> Result<SequenceNumber> {
        let mut state = self.shared.lock()?;
        state.check_healthy()?;
        let last = state.last_seq;
        if state.rotations.last() != Some(&(last + 1))
            && state.rotations.len() < ROTATIONS_PENDING_MAX
        {
            state.rotations.push(last + 1);
        }
        Ok(last)
    }

    /// Deletes every closed segment whose records all have sequence numbers
    /// of at most `seq`: the caller guarantees that they are durable
    /// elsewhere. The segment being appended to is never deleted. Returns
    /// the number of segments deleted.
    pub fn delete_segments_through(&self, seq: SequenceNumber) -> Result<usize> {
        let sync = self.shared.options.fsync != FsyncPolicy::Never;
        delete_segments_through(&self.shared.dir, seq, sync)
    }
    // ANCHOR_END: rotate
}

/// Deletes, oldest first, the segments of the log in `dir` whose records all
/// have sequence numbers of at most `seq`, keeping at least the last
/// segment. Works on an open log (the last segment is the one being
/// appended to) and on a closed one: an engine calls it before
/// [`Wal::open`], so that a segment whose deletion a crash undid never
/// leaves a gap in the log.
///
/// A segment's records all lie at or below `seq` exactly when the next
/// segment starts at or below `seq + 1`.
pub fn delete_segments_through(dir: &Path, seq: SequenceNumber, sync: bool) -> Result<usize> {
    let segments = list_segments(dir)?;
    let mut deleted = 0;
    for pair in segments.windows(2) {
        let [(_, path), (next_first_seq, _)] = pair else {
            break;
        };
        if *next_first_seq > seq.saturating_add(1) {
            break;
        }
        fs::remove_file(path).map_err(|e| StorageError::io(path, e))?;
        deleted += 1;
    }
    if sync && deleted > 0 {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

impl Drop for Wal {
    /// Lets the log writer write what is queued (and, unless the policy is
    /// [`FsyncPolicy::Never`], fsync it), then stops it.
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.closing = true;
        }
        self.shared.work.notify_one();
        if let Some(log_writer) = self.log_writer.take() {
            // A log writer that panicked has recorded nothing we could use.
            let _ = log_writer.join();
        }
    }
}

/// Bytes of records that may wait in the queue for the log writer; appenders
/// block while it is full.
pub const QUEUE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Rotation requests ([`Wal::rotate`]) that may wait for their record.
pub const ROTATIONS_PENDING_MAX: usize = 64;

fn wake(threads: &mut Vec<Thread>) {
    for thread in threads.drain(..) {
        thread.unpark();
    }
}

/// Batches of threads for the acker thread to wake; bounded, so that a slow
/// acker slows the log writer down instead of piling up batches.
const ACK_BATCHES_MAX: usize = 16;
/// Groups this small are woken by the log writer itself.
const ACK_DIRECT_MAX: usize = 2;

/// The log writer's side of the channel to the acker thread.
struct Acks(Option<mpsc::SyncSender<Vec<Thread>>>);

impl Acks {
    /// Has the threads in `threads` woken, by the acker thread if it runs.
    fn send(&self, threads: &mut Vec<Thread>) {
        if threads.len() <= ACK_DIRECT_MAX {
            wake(threads); // Cheaper than a hand-off to the acker.
            return;
        }
        let batch = std::mem::take(threads);
        let unsent = match &self.0 {
            Some(acks) => acks.send(batch).err().map(|unsent| unsent.0),
            None => Some(batch),
        };
        if let Some(mut batch) = unsent {
            wake(&mut batch); // No acker: wake them here.
        }
    }
}

/// One round of the log writer: records to write and whether to fsync them.
struct Round {
    records: Vec<Vec<u8>>,
    first_seq: SequenceNumber,
    last_seq: SequenceNumber,
    sync: bool,
    /// Records of this round that must start a new segment.
    rotations: Vec<SequenceNumber>,
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| poisoned())
    }

    // ANCHOR: wait_for
    /// Blocks until record `seq` is written (and synced, if `durable`).
    ///
    /// The log writer unparks exactly the threads whose records a round
    /// covered; they check the published sequence numbers without the lock.
    /// `park` may also return spuriously, hence the loop.
    fn wait_for(&self, seq: SequenceNumber, durable: bool) -> Result<()> {
        let published = if durable {
            &self.synced_seq
        } else {
            &self.written_seq
        };
        loop {
            if published.load(Ordering::Acquire) >= seq {
                return Ok(());
            }
            if self.failed.load(Ordering::Acquire) {
                let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let reason = state.failure.clone().unwrap_or_default();
                return Err(StorageError::Failed { reason });
            }
            std::thread::park();
        }
    }
    // ANCHOR_END: wait_for

    /// Records the first failure and wakes every thread that waits for the
    /// log, so that none waits for a round that will never come.
    fn fail(&self, reason: String) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.failure.is_none() {
            state.failure = Some(reason);
        }
        self.failed.store(true, Ordering::Release);
        let mut waiters = std::mem::take(&mut state.in_flight);
        waiters.append(&mut state.sync_waiters);
        waiters.extend(state.queue.drain(..).map(|queued| queued.waiter));
        state.queue_bytes = 0;
        drop(state);
        wake(&mut waiters);
        self.room.notify_all();
    }

    /// The body of the log writer thread.
    fn run_log_writer(&self, mut segment: Segment) {
        /// Fails the log however the thread ends, even by a panic: that
        /// wakes every waiter.
        struct FailOnExit<'a>(&'a Shared);
        impl Drop for FailOnExit<'_> {
            fn drop(&mut self) {
                self.0.fail("the log writer stopped".to_string());
            }
        }
        let _fail_on_exit = FailOnExit(self);
        // Waking a thread is a system call that can cost as much as
        // appending a record; a second thread does it, so that the log
        // writer can go straight back to the disk.
        let (acks, to_ack) = mpsc::sync_channel::<Vec<Thread>>(ACK_BATCHES_MAX);
        let result = std::thread::scope(|scope| {
            let acker = std::thread::Builder::new()
                .name("wal-acker".to_string())
                .spawn_scoped(scope, move || {
                    for mut threads in to_ack {
                        wake(&mut threads);
                    }
                });
            match acker {
                Ok(_) => self.write_rounds(&mut segment, &Acks(Some(acks))),
                Err(error) => {
                    drop(acks);
                    self.write_rounds(&mut segment, &Acks(None))
                        .and(Err(error.to_string()))
                }
            }
        });
        if let Err(reason) = result {
            self.fail(reason);
        }
    }

    // ANCHOR: group_commit
    /// Group commit. Appenders queue records and sleep; this loop takes
    /// *everything* queued, writes it with one `write` and covers it with one
    /// fsync, then wakes exactly those appenders. While it waits for the disk, more
    /// records pile up in the queue — the next round's group. The more
    /// writers, the larger the groups: the fsync rate stays the same while
    /// the write rate grows.
    ///
    /// Publishing a round and taking the next one happen under one lock
    /// hold, and the appenders are woken only after that: the disk starts on
    /// the next group before the woken appenders compete for the lock.
    fn write_rounds(&self, segment: &mut Segment, acks: &Acks) -> std::result::Result<(), String> {
        let mut buffer = Vec::new();
        let mut next_interval_sync = self.interval().map(|interval| Instant::now() + interval);
        let mut to_wake = Vec::new();
        let mut state = self.lock().map_err(|e| e.to_string())?;
        // Ends when the log closes or fails.
        loop {
            let (unlocked, round) =
                self.next_round(state, next_interval_sync, &mut to_wake, acks)?;
            drop(unlocked);
            acks.send(&mut to_wake); // The appenders of the round just published.
            self.room.notify_all();
            let Some(round) = round else {
                return Ok(());
            };

            let mut syncs = self.write_records(segment, &round, &mut buffer)?;
            if round.sync {
                segment
                    .file
                    .sync_data()
                    .map_err(|e| format!("fsync of {} failed: {e}", segment.path.display()))?;
                syncs += 1;
                if let Some(interval) = self.interval() {
                    next_interval_sync = Some(Instant::now() + interval);
                }
            }

            state = self.lock().map_err(|e| e.to_string())?;
            state.written_seq = round.last_seq;
            self.written_seq.store(round.last_seq, Ordering::Release);
            if round.sync {
                state.synced_seq = round.last_seq;
                self.synced_seq.store(round.last_seq, Ordering::Release);
            }
            state.stats.syncs += syncs;
            state.check_invariants();
            to_wake.append(&mut state.in_flight);
            if state.synced_seq >= state.sync_requested {
                // `sync` callers that arrived while this round was in flight
                // are covered by it; no later round may come to wake them.
                to_wake.append(&mut state.sync_waiters);
            }
        }
    }

    /// Waits until there is something to do and takes it from the queue;
    /// `None` once the log is closing and everything is written (and synced,
    /// unless the policy is `Never`), or the log has failed. The threads in
    /// `to_wake` are woken before this sleeps.
    fn next_round<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        next_interval_sync: Option<Instant>,
        to_wake: &mut Vec<Thread>,
        acks: &Acks,
    ) -> std::result::Result<(MutexGuard<'a, State>, Option<Round>), String> {
        loop {
            if state.failure.is_some() {
                return Ok((state, None));
            }
            let unsynced = state.synced_seq < state.last_seq;
            let interval_due =
                unsynced && next_interval_sync.is_some_and(|at| Instant::now() >= at);
            let sync = match self.options.fsync {
                FsyncPolicy::EveryWrite => true,
                FsyncPolicy::Interval(_) => interval_due || state.closing,
                FsyncPolicy::Never => false,
            } || state.sync_requested > state.synced_seq;
            if !state.queue.is_empty() || (sync && unsynced) {
                let queued = std::mem::take(&mut state.queue);
                state.queue_bytes = 0;
                let mut records = Vec::with_capacity(queued.len());
                for Queued { record, waiter } in queued {
                    records.push(record);
                    state.in_flight.push(waiter);
                }
                if sync {
                    let sync_waiters = std::mem::take(&mut state.sync_waiters);
                    state.in_flight.extend(sync_waiters);
                }
                let last_seq = state.last_seq;
                let later = state.rotations.partition_point(|&seq| seq <= last_seq);
                let later = state.rotations.split_off(later);
                let rotations = std::mem::replace(&mut state.rotations, later);
                let round = Round {
                    first_seq: state.written_seq + 1,
                    last_seq,
                    records,
                    sync,
                    rotations,
                };
                return Ok((state, Some(round)));
            }
            if state.closing {
                return Ok((state, None));
            }
            acks.send(to_wake); // Before sleeping, deliver what was published.
            state = match next_interval_sync {
                Some(at) if unsynced => {
                    let timeout = at.saturating_duration_since(Instant::now());
                    self.work
                        .wait_timeout(state, timeout)
                        .map_err(|_| poisoned().to_string())?
                        .0
                }
                _ => self.work.wait(state).map_err(|_| poisoned().to_string())?,
            };
        }
    }
    // ANCHOR_END: group_commit

    fn interval(&self) -> Option<Duration> {
        match self.options.fsync {
            FsyncPolicy::Interval(interval) => Some(interval),
            FsyncPolicy::EveryWrite | FsyncPolicy::Never => None,
        }
    }

    /// Writes a round's records, starting new segments where the current
    /// one would grow past its size. Returns the number of fsyncs done.
    fn write_records(
        &self,
        segment: &mut Segment,
        round: &Round,
        buffer: &mut Vec<u8>,
    ) -> std::result::Result<u64, String> {
        let mut syncs = 0;
        buffer.clear();
        for (seq, record) in (round.first_seq..).zip(&round.records) {
            let len_after = segment.len + buffer.len() as u64 + record.len() as u64;
            let full = len_after > self.options.segment_bytes;
            let requested = round.rotations.contains(&seq);
            if segment.len + (buffer.len() as u64) > 0 && (full || requested) {
                write_buffer(segment, buffer)?;
                syncs += self.rotate(segment, seq)?;
            }
            buffer.extend_from_slice(record);
        }
        write_buffer(segment, buffer)?;
        if buffer.capacity() > QUEUE_BYTES_MAX {
            *buffer = Vec::new(); // Don't keep the memory of one huge round.
        }
        Ok(syncs)
    }

    /// Closes the current segment and starts the one whose first record
    /// will be `first_seq`. The old segment is fsynced first (unless the
    /// policy is `Never`), so that only the last segment can have a torn
    /// tail. Returns the number of fsyncs done.
    fn rotate(
        &self,
        segment: &mut Segment,
        first_seq: SequenceNumber,
    ) -> std::result::Result<u64, String> {
        let sync = self.options.fsync != FsyncPolicy::Never;
        if sync {
            segment
                .file
                .sync_data()
                .map_err(|e| format!("fsync of {} failed: {e}", segment.path.display()))?;
        }
        let (file, path) = create_segment(&self.dir, first_seq, sync).map_err(|e| e.to_string())?;
        *segment = Segment { file, path, len: 0 };
        Ok(u64::from(sync))
    }
}

fn write_buffer(segment: &mut Segment, buffer: &mut Vec<u8>) -> std::result::Result<(), String> {
    segment
        .file
        .write_all(buffer)
        .map_err(|e| format!("write to {} failed: {e}", segment.path.display()))?;
    segment.len += buffer.len() as u64;
    buffer.clear();
    Ok(())
}

fn poisoned() -> StorageError {
    StorageError::Failed {
        reason: "a thread panicked while holding the log lock".to_string(),
    }
}

/// Creates the empty segment file whose first record will be `first_seq`.
fn create_segment(dir: &Path, first_seq: SequenceNumber, sync: bool) -> Result<(File, PathBuf)> {
    let path = dir.join(segment_file_name(first_seq));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    if sync {
        // The file's directory entry is metadata of the directory: without
        // this fsync a crash could lose the whole segment.
        sync_dir(dir)?;
    }
    Ok((file, path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// Where recovery left the log: the segment to append to and the last record.
struct Tail {
    path: PathBuf,
    last_seq: SequenceNumber,
}

// ANCHOR: recovery
/// Replays every segment in order and returns where appending continues.
fn recover(
    dir: &Path,
    sync: bool,
    mut replay: impl FnMut(ReplayedRecord<'_>) -> Result<()>,
) -> Result<Tail> {
    let segments = list_segments(dir)?;
    let (Some((first_seq, _)), Some((_, last_path))) = (segments.first(), segments.last()) else {
        let (_, path) = create_segment(dir, 1, sync)?;
        if sync && let Some(parent) = dir.parent() {
            sync_dir(parent)?; // The log directory itself may be new.
        }
        return Ok(Tail { path, last_seq: 0 });
    };
    // The sequence number the next record must carry.
    let mut next_seq = *first_seq;
    for (index, (segment_seq, path)) in segments.iter().enumerate() {
        let is_last_segment = index + 1 == segments.len();
        let corruption = |offset: usize, reason: String| StorageError::Corruption {
            file: path.clone(),
            offset: offset as u64,
            reason,
        };
        if *segment_seq != next_seq {
            return Err(corruption(
                0,
                format!("segment should start at sequence number {next_seq}"),
            ));
        }
        let data = fs::read(path).map_err(|e| StorageError::io(path, e))?;
        let mut offset = 0;
        // Each pass consumes one whole record or ends the segment.
        while let Some(rest) = data.get(offset..).filter(|rest| !rest.is_empty()) {
            match decode_record(rest) {
                Ok(record) if record.seq == next_seq => {
                    replay(ReplayedRecord {
                        seq: record.seq,
                        payload: record.payload,
                        file: path,
                        offset: offset as u64,
                    })?;
                    next_seq += 1;
                    offset += record.encoded_len();
                }
                Ok(record) => {
                    let reason = format!(
                        "record has sequence number {}, expected {next_seq}",
                        record.seq
                    );
                    return Err(corruption(offset, reason));
                }
                Err(error) => match classify_bad_record(&data, offset, is_last_segment, next_seq) {
                    BadRecord::TornTail => {
                        truncate(path, offset as u64, sync)?;
                        break;
                    }
                    BadRecord::Corruption => return Err(corruption(offset, error.to_string())),
                },
            }
        }
    }
    Ok(Tail {
        path: last_path.clone(),
        last_seq: next_seq - 1,
    })
}
// ANCHOR_END: recovery

/// Cuts a torn tail off the end of a segment, durably: appends that follow
/// must never land behind leftover garbage.
fn truncate(path: &Path, len: u64, sync: bool) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    file.set_len(len).map_err(|e| StorageError::io(path, e))?;
    if sync {
        file.sync_all().map_err(|e| StorageError::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Records as recovery replayed them: sequence number and payload.
    type Replayed = Vec<(SequenceNumber, Vec<u8>)>;

    fn options(segment_bytes: u64) -> WalOptions {
        WalOptions {
            fsync: FsyncPolicy::Never,
            segment_bytes,
        }
    }

    /// Opens the log and collects what recovery replays.
    fn open_collect(dir: &Path, options: WalOptions) -> Result<(Wal, Replayed)> {
        let mut records = Vec::new();
        let wal = Wal::open(dir, options, |record| {
            records.push((record.seq, record.payload.to_vec()));
            Ok(())
        })?;
        Ok((wal, records))
    }

    #[test]
    fn record_layout_is_checksum_length_sequence_payload() {
        let record = encode_record(0x0102_0304_0506_0708, b"hi");
        assert_eq!(record.len(), RECORD_HEADER_BYTES + 2);
        assert_eq!(&record[4..8], &[2, 0, 0, 0]);
        assert_eq!(&record[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&record[16..], b"hi");
        assert_eq!(record[..4], crc32c::crc32c(&record[4..]).to_le_bytes());
    }

    #[test]
    fn ex01_4_decode_returns_what_encode_framed() {
        for payload in [&b""[..], b"x", &[7u8; 1000][..]] {
            let mut bytes = encode_record(42, payload);
            bytes.extend_from_slice(b"next record");
            let record = decode_record(&bytes).unwrap();
            assert_eq!(record.seq, 42);
            assert_eq!(record.payload, payload);
            assert_eq!(record.encoded_len(), RECORD_HEADER_BYTES + payload.len());
        }
    }

    #[test]
    fn ex01_4_decode_reports_short_buffers_as_truncated() {
        let bytes = encode_record(1, b"payload");
        for len in 0..bytes.len() {
            let error = decode_record(&bytes[..len]).unwrap_err();
            assert!(
                matches!(error, RecordError::Truncated { .. }),
                "cut at {len}: {error:?}"
            );
        }
    }

    #[test]
    fn ex01_4_decode_detects_every_single_bit_flip() {
        let bytes = encode_record(9, b"some payload bytes");
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let result = decode_record(&damaged);
            assert!(
                result.is_err(),
                "flipped bit {bit} went unnoticed: {result:?}"
            );
        }
    }

    #[test]
    fn ex01_4_decode_rejects_lengths_beyond_the_limit_before_reading() {
        let mut bytes = encode_record(1, b"");
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_record(&bytes),
            Err(RecordError::TooLong {
                length: u32::MAX as usize
            })
        );
        let mut bytes = encode_record(1, b"abc");
        bytes[0] ^= 0xff;
        assert!(matches!(
            decode_record(&bytes),
            Err(RecordError::ChecksumMismatch { .. })
        ));
    }

    fn three_records() -> (Vec<u8>, Vec<usize>) {
        let mut log = Vec::new();
        let mut offsets = Vec::new();
        for (seq, payload) in [(1, &b"one"[..]), (2, b"two"), (3, b"three")] {
            offsets.push(log.len());
            log.extend(encode_record(seq, payload));
        }
        (log, offsets)
    }

    #[test]
    fn ex01_5_a_damaged_last_record_is_a_torn_tail() {
        let (mut log, offsets) = three_records();
        log[offsets[2] + RECORD_HEADER_BYTES] ^= 1;
        assert_eq!(
            classify_bad_record(&log, offsets[2], true, 3),
            BadRecord::TornTail
        );
        let (log, offsets) = three_records();
        let cut = &log[..log.len() - 1];
        assert_eq!(
            classify_bad_record(cut, offsets[2], true, 3),
            BadRecord::TornTail
        );
        let mut zero_filled = log[..offsets[2]].to_vec();
        zero_filled.extend([0; 100]);
        assert_eq!(
            classify_bad_record(&zero_filled, offsets[2], true, 3),
            BadRecord::TornTail
        );
    }

    #[test]
    fn ex01_5_damage_followed_by_a_valid_record_is_corruption() {
        let (mut log, offsets) = three_records();
        log[offsets[1] + 5] ^= 0x10; // The length field of record 2.
        assert_eq!(
            classify_bad_record(&log, offsets[1], true, 2),
            BadRecord::Corruption
        );
    }

    #[test]
    fn ex01_5_damage_in_an_older_segment_is_corruption() {
        let (log, offsets) = three_records();
        let cut = &log[..log.len() - 1];
        assert_eq!(
            classify_bad_record(cut, offsets[2], false, 3),
            BadRecord::Corruption
        );
    }

    #[test]
    fn ex01_5_recovery_truncates_a_torn_tail_and_reports_earlier_damage() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = open_collect(dir.path(), options(1 << 20)).unwrap();
            for i in 0..3u8 {
                wal.append(&[i; 10]).unwrap();
            }
        }
        let (_, path) = list_segments(dir.path()).unwrap().pop().unwrap();
        let whole = fs::read(&path).unwrap();
        fs::write(&path, &whole[..whole.len() - 3]).unwrap();
        let (wal, records) = open_collect(dir.path(), options(1 << 20)).unwrap();
        assert_eq!(records.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            2 * (RECORD_HEADER_BYTES as u64 + 10)
        );
        assert_eq!(wal.append(b"after").unwrap(), 3);
        drop(wal);

        let mut damaged = fs::read(&path).unwrap();
        damaged[RECORD_HEADER_BYTES + 1] ^= 1; // Payload of record 1.
        fs::write(&path, &damaged).unwrap();
        match open_collect(dir.path(), options(1 << 20)) {
            Err(StorageError::Corruption { file, offset, .. }) => {
                assert_eq!(file, path);
                assert_eq!(offset, 0);
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn appends_number_records_and_recovery_replays_them_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, records) = open_collect(dir.path(), options(1 << 20)).unwrap();
        assert!(records.is_empty());
        assert_eq!(wal.last_seq().unwrap(), 0);
        for i in 1..=5u64 {
            assert_eq!(wal.append(&i.to_le_bytes()).unwrap(), i);
        }
        drop(wal);
        let (wal, records) = open_collect(dir.path(), options(1 << 20)).unwrap();
        let expected: Vec<_> = (1..=5u64).map(|i| (i, i.to_le_bytes().to_vec())).collect();
        assert_eq!(records, expected);
        assert_eq!(wal.append(b"six").unwrap(), 6);
    }

    #[test]
    fn segments_rotate_by_size_and_are_named_by_first_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let record_bytes = RECORD_HEADER_BYTES as u64 + 100;
        let (wal, _) = open_collect(dir.path(), options(3 * record_bytes)).unwrap();
        for _ in 0..7 {
            wal.append(&[1; 100]).unwrap();
        }
        // A record larger than a whole segment gets a segment of its own.
        wal.append(&[2; 1000]).unwrap();
        wal.append(&[3; 100]).unwrap();
        drop(wal);
        let segments = list_segments(dir.path()).unwrap();
        let firsts: Vec<_> = segments.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(firsts, vec![1, 4, 7, 8, 9]);
        let name = segments[1]
            .1
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(name, "00000000000000000004.wal");
        let (_, records) = open_collect(dir.path(), options(3 * record_bytes)).unwrap();
        assert_eq!(
            records.iter().map(|r| r.0).collect::<Vec<_>>(),
            (1..=9).collect::<Vec<_>>()
        );
    }

    #[test]
    fn rotate_starts_a_segment_at_the_next_record_and_old_ones_can_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open_collect(dir.path(), options(1 << 20)).unwrap();
        for _ in 0..3 {
            wal.append(b"abc").unwrap();
        }
        assert_eq!(wal.rotate().unwrap(), 3);
        assert_eq!(
            wal.rotate().unwrap(),
            3,
            "a repeated request is one request"
        );
        wal.append(b"d").unwrap();
        wal.append(b"e").unwrap();
        assert_eq!(wal.rotate().unwrap(), 5);
        wal.append(b"f").unwrap();
        let firsts = |dir: &Path| -> Vec<SequenceNumber> {
            list_segments(dir)
                .unwrap()
                .iter()
                .map(|(seq, _)| *seq)
                .collect()
        };
        assert_eq!(firsts(dir.path()), vec![1, 4, 6]);

        assert_eq!(
            wal.delete_segments_through(2).unwrap(),
            0,
            "segment 1 holds record 3"
        );
        assert_eq!(wal.delete_segments_through(4).unwrap(), 1);
        assert_eq!(firsts(dir.path()), vec![4, 6]);
        assert_eq!(wal.delete_segments_through(100).unwrap(), 1);
        assert_eq!(firsts(dir.path()), vec![6], "the open segment stays");
        drop(wal);
        let (wal, records) = open_collect(dir.path(), options(1 << 20)).unwrap();
        assert_eq!(records, vec![(6, b"f".to_vec())]);
        assert_eq!(wal.append(b"g").unwrap(), 7);
    }

    #[test]
    fn a_rotation_that_no_record_reaches_leaves_the_log_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open_collect(dir.path(), options(1 << 20)).unwrap();
        wal.append(b"a").unwrap();
        assert_eq!(wal.rotate().unwrap(), 1);
        drop(wal);
        assert_eq!(list_segments(dir.path()).unwrap().len(), 1);
        assert_eq!(
            delete_segments_through(dir.path(), 1, false).unwrap(),
            0,
            "the last segment is never deleted"
        );
        let (_, records) = open_collect(dir.path(), options(1 << 20)).unwrap();
        assert_eq!(records, vec![(1, b"a".to_vec())]);
    }

    #[test]
    fn a_missing_segment_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open_collect(dir.path(), options(RECORD_HEADER_BYTES as u64 + 10)).unwrap();
        for _ in 0..4 {
            wal.append(&[0; 10]).unwrap();
        }
        drop(wal);
        fs::remove_file(dir.path().join(segment_file_name(2))).unwrap();
        let result = open_collect(dir.path(), options(1 << 20));
        assert!(
            matches!(result, Err(StorageError::Corruption { offset: 0, .. })),
            "{result:?}"
        );
    }

    #[test]
    fn a_record_with_the_wrong_sequence_number_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_collect(dir.path(), options(1 << 20)).unwrap());
        let path = dir.path().join(segment_file_name(1));
        let mut log = encode_record(1, b"a");
        log.extend(encode_record(3, b"b"));
        fs::write(&path, &log).unwrap();
        let result = open_collect(dir.path(), options(1 << 20));
        assert!(
            matches!(result, Err(StorageError::Corruption { offset: 17, .. })),
            "{result:?}"
        );
    }

    #[test]
    fn oversized_payloads_are_refused_without_harming_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open_collect(dir.path(), options(1 << 20)).unwrap();
        let result = wal.append(&vec![0; RECORD_PAYLOAD_BYTES_MAX + 1]);
        assert!(matches!(result, Err(StorageError::InvalidBatch { .. })));
        assert_eq!(wal.append(b"fine").unwrap(), 1);
    }

    #[test]
    fn every_write_policy_syncs_and_concurrent_writers_share_fsyncs() {
        const THREADS: usize = 16;
        const WRITES_PER_THREAD: usize = 16;
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open_collect(dir.path(), WalOptions::default()).unwrap();
        let barrier = std::sync::Barrier::new(THREADS);
        let seqs: BTreeSet<SequenceNumber> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        (0..WRITES_PER_THREAD)
                            .map(|_| wal.append(b"x").unwrap())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let total = (THREADS * WRITES_PER_THREAD) as u64;
        assert_eq!(
            seqs,
            (1..=total).collect(),
            "every append got its own number"
        );
        let stats = wal.stats().unwrap();
        assert_eq!(stats.records, total);
        assert!(stats.syncs >= 1, "EveryWrite must fsync");
        assert!(
            stats.syncs < total,
            "{} fsyncs for {total} concurrent appends: no group commit",
            stats.syncs
        );
    }

    #[test]
    fn interval_policy_syncs_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let interval = WalOptions {
            fsync: FsyncPolicy::Interval(Duration::from_millis(5)),
            segment_bytes: 1 << 20,
        };
        let (wal, _) = open_collect(dir.path(), interval).unwrap();
        wal.append(b"x").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while wal.stats().unwrap().syncs == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            wal.stats().unwrap().syncs >= 1,
            "the background syncer never ran"
        );
        drop(wal); // Joins the syncer thread.
        let (_, records) = open_collect(dir.path(), interval).unwrap();
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn a_sync_that_arrives_during_a_covering_round_returns() {
        const ROUNDS: u64 = 200;
        let dir = tempfile::tempdir().unwrap();
        let interval = WalOptions {
            fsync: FsyncPolicy::Interval(Duration::from_micros(300)),
            ..WalOptions::default()
        };
        let (wal, _) = open_collect(dir.path(), interval).unwrap();
        let wal = std::sync::Arc::new(wal);
        let (done, finished) = std::sync::mpsc::channel();
        // Detached, so that a hang fails the test instead of blocking it.
        let worker = {
            let wal = std::sync::Arc::clone(&wal);
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    // Sooner or later the sync arrives while the interval's
                    // fsync round, which covers it, is in flight, and no
                    // other record follows.
                    wal.append(b"x").unwrap();
                    std::thread::sleep(Duration::from_micros(round % 11 * 40));
                    wal.sync().unwrap();
                }
                done.send(()).unwrap();
            })
        };
        let result = finished.recv_timeout(Duration::from_secs(20));
        assert!(result.is_ok(), "a sync never returned");
        worker.join().unwrap();
    }

    #[test]
    fn never_policy_does_not_fsync_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open_collect(dir.path(), options(1 << 20)).unwrap();
        wal.append(b"x").unwrap();
        assert_eq!(wal.stats().unwrap().syncs, 0);
        wal.sync().unwrap();
        assert_eq!(wal.stats().unwrap().syncs, 1);
    }

    #[test]
    fn files_that_are_not_segments_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        fs::write(dir.path().join("12.wal"), b"short name").unwrap();
        let (wal, records) = open_collect(dir.path(), options(1 << 20)).unwrap();
        assert!(records.is_empty());
        assert_eq!(wal.append(b"x").unwrap(), 1);
    }

    #[test]
    fn replay_errors_stop_the_open() {
        let dir = tempfile::tempdir().unwrap();
        drop({
            let (wal, _) = open_collect(dir.path(), options(1 << 20)).unwrap();
            wal.append(b"bad payload").unwrap();
            wal
        });
        let result = Wal::open(dir.path(), options(1 << 20), |record| {
            Err(record.corruption("unreadable"))
        });
        match result {
            Err(StorageError::Corruption { offset, reason, .. }) => {
                assert_eq!(offset, 0);
                assert_eq!(reason, "unreadable");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }
}
