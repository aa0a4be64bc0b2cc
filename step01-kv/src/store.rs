//! [`KvStore`]: a write-ahead log plus a memtable — the smallest storage
//! engine that never loses an acknowledged write.
//!
//! A write travels: validate the batch → encode it as *one* log record →
//! append and wait for the fsync (shared with concurrent writers) → apply it
//! to the memtable → acknowledge. Reads only look at the memtable. Opening
//! the store replays the log into a fresh memtable.
//!
//! Invariants:
//!
//! 1. **Durable before acknowledged.** `write` returns `Ok(seq)` only after
//!    the batch's record is durable per the fsync policy *and* applied to the
//!    memtable.
//! 2. **Log first, memtable second.** The memtable holds only batches the log
//!    has accepted, so under [`FsyncPolicy::EveryWrite`] no reader ever sees a
//!    write that a crash could take back.
//! 3. **One batch, one record, one lock.** A batch is a single log record (all
//!    of it survives a crash or none does) and is applied under a single
//!    memtable write lock (readers see all of it or none).
//! 4. **Newest wins, in any apply order.** Concurrent writers apply to the
//!    memtable in whatever order their fsyncs return; the memtable keeps the
//!    highest sequence number per key, which is exactly what replaying the
//!    log in order produces.
//! 5. **No lock across I/O.** The memtable lock is never held while the log
//!    writes or fsyncs, so readers never wait for the disk and many writers
//!    can share one fsync (group commit).
//!
//! On disk, a store directory holds a `LOCK` file (one open store per
//! directory) and the log's segments in `wal/`.

use crate::engine::{
    BatchOp, KEY_BYTES_MAX, KeyRange, KeyValue, Result, ScanDirection, SequenceNumber,
    StorageEngine, StorageError, WriteBatch,
};
use crate::memtable::Memtable;
use crate::wal::{FsyncPolicy, RECORD_PAYLOAD_BYTES_MAX, Wal, WalOptions, WalStats};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The file whose lock marks a directory as in use by an open store.
pub const LOCK_FILE_NAME: &str = "LOCK";
/// The subdirectory holding the write-ahead log.
pub const WAL_DIR_NAME: &str = "wal";

/// How a [`KvStore`] is configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvOptions {
    pub wal: WalOptions,
}

impl KvOptions {
    /// The default options with another fsync policy.
    pub fn with_fsync(fsync: FsyncPolicy) -> Self {
        Self {
            wal: WalOptions {
                fsync,
                ..WalOptions::default()
            },
        }
    }
}

/// A durable, ordered key-value store: a [`Wal`] and a [`Memtable`].
#[derive(Debug)]
pub struct KvStore {
    dir: PathBuf,
    wal: Wal,
    memtable: RwLock<Memtable>,
    /// Held (and locked) for as long as the store is open.
    _lock: File,
}

impl KvStore {
    // ANCHOR: open
    /// Opens the store in `dir`, creating it if needed, and replays the log
    /// into the memtable.
    pub fn open(dir: impl AsRef<Path>, options: KvOptions) -> Result<KvStore> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let lock = lock_directory(dir)?;
        let mut memtable = Memtable::new();
        let wal = Wal::open(&dir.join(WAL_DIR_NAME), options.wal, |record| {
            let batch = decode_batch(record.payload).map_err(|reason| record.corruption(reason))?;
            apply(&mut memtable, record.seq, batch);
            Ok(())
        })?;
        assert_eq!(
            memtable.max_seq(),
            wal.last_seq()?,
            "every log record is in the memtable"
        );
        Ok(KvStore {
            dir: dir.to_path_buf(),
            wal,
            memtable: RwLock::new(memtable),
            _lock: lock,
        })
    }
    // ANCHOR_END: open

    /// The log's counters: records appended and fsyncs since opening.
    pub fn wal_stats(&self) -> Result<WalStats> {
        self.wal.stats()
    }

    /// The approximate memory held by the memtable.
    pub fn memtable_size_bytes(&self) -> Result<usize> {
        Ok(self.read_memtable()?.size_bytes())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read_memtable(&self) -> Result<RwLockReadGuard<'_, Memtable>> {
        self.memtable.read().map_err(|_| memtable_poisoned())
    }

    fn write_memtable(&self) -> Result<RwLockWriteGuard<'_, Memtable>> {
        self.memtable.write().map_err(|_| memtable_poisoned())
    }
}

impl StorageEngine for KvStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.read_memtable()?.get(key).map(<[u8]>::to_vec))
    }

    // ANCHOR: write
    fn write(&self, batch: WriteBatch) -> Result<SequenceNumber> {
        batch.validate()?;
        let payload = encode_batch(&batch);
        // Durable (per the policy) when this returns; no memtable lock held.
        let seq = self.wal.append(&payload)?;
        let mut memtable = self.write_memtable()?;
        apply(&mut memtable, seq, batch);
        assert!(memtable.max_seq() >= seq, "acknowledged writes are visible");
        Ok(seq)
    }
    // ANCHOR_END: write

    fn scan(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
    ) -> Result<Vec<KeyValue>> {
        Ok(self.read_memtable()?.scan(range, direction, limit))
    }

    /// Makes every write so far durable, whatever the fsync policy.
    fn sync(&self) -> Result<()> {
        self.wal.sync()
    }
}

fn memtable_poisoned() -> StorageError {
    StorageError::Failed {
        reason: "a thread panicked while holding the memtable lock".to_string(),
    }
}

/// Applies every operation of the batch with sequence number `seq`, in order.
fn apply(memtable: &mut Memtable, seq: SequenceNumber, batch: WriteBatch) {
    for op in batch.into_ops() {
        match op {
            BatchOp::Put { key, value } => memtable.apply(key, seq, Some(value)),
            BatchOp::Delete { key } => memtable.apply(key, seq, None),
        }
    }
}

/// Takes the directory's lock file, so that two stores never append to one
/// log. The operating system releases it when the process dies. Public so
/// that later engines (step 2's LSM tree) lock their directories the same
/// way.
pub fn lock_directory(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StorageError::DirectoryLocked {
            path: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(StorageError::io(&path, e)),
    }
}

// ANCHOR: batch_format
/// The version byte that starts every encoded batch.
pub const BATCH_FORMAT_VERSION: u8 = 1;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
/// The smallest encoded operation: kind and key length.
const OP_BYTES_MIN: usize = 1 + 4;

/// Encodes a batch as one log record payload:
///
/// ```text
/// version u8 | op count u32 | op ...
/// op = kind u8 (1 put, 2 delete) | key length u32 | key | (put only) value length u32 | value
/// ```
///
/// Integers are little-endian. The record's checksum protects these bytes;
/// [`decode_batch`] still checks every length, because a checksum only
/// proves the bytes are the ones written, not that the writer was right.
pub fn encode_batch(batch: &WriteBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_batch_len(batch));
    out.push(BATCH_FORMAT_VERSION);
    out.extend_from_slice(&(batch.len() as u32).to_le_bytes());
    for op in batch.ops() {
        match op {
            BatchOp::Put { key, value } => {
                out.push(OP_PUT);
                put_bytes(&mut out, key);
                put_bytes(&mut out, value);
            }
            BatchOp::Delete { key } => {
                out.push(OP_DELETE);
                put_bytes(&mut out, key);
            }
        }
    }
    out
}
// ANCHOR_END: batch_format

/// The length of [`encode_batch`]'s output, computed without encoding.
pub fn encoded_batch_len(batch: &WriteBatch) -> usize {
    let ops: usize = batch
        .ops()
        .iter()
        .map(|op| match op {
            BatchOp::Put { key, value } => 1 + 4 + key.len() + 4 + value.len(),
            BatchOp::Delete { key } => 1 + 4 + key.len(),
        })
        .sum();
    1 + 4 + ops
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Lengths fit in u32: validated batches are smaller than one record.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Decodes a payload written by [`encode_batch`], checking every length
/// against the bytes present and the engine's limits.
pub fn decode_batch(payload: &[u8]) -> std::result::Result<WriteBatch, String> {
    let mut reader = Reader { rest: payload };
    let version = reader.u8()?;
    if version != BATCH_FORMAT_VERSION {
        return Err(format!("unknown batch format version {version}"));
    }
    let count = reader.u32()? as usize;
    if count == 0 {
        return Err("empty batch".to_string());
    }
    if count > reader.rest.len() / OP_BYTES_MIN {
        return Err(format!(
            "{count} operations cannot fit in {} bytes",
            reader.rest.len()
        ));
    }
    let mut batch = WriteBatch::new();
    for _ in 0..count {
        let kind = reader.u8()?;
        let key = reader.bytes(KEY_BYTES_MAX)?;
        match kind {
            OP_PUT => batch.put(key, reader.bytes(RECORD_PAYLOAD_BYTES_MAX)?),
            OP_DELETE => batch.delete(key),
            other => return Err(format!("unknown operation kind {other}")),
        };
    }
    if !reader.rest.is_empty() {
        return Err(format!(
            "{} stray bytes after the last operation",
            reader.rest.len()
        ));
    }
    Ok(batch)
}

/// A cursor over untrusted bytes: every read is bounds-checked.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> std::result::Result<&'a [u8], String> {
        if len > self.rest.len() {
            return Err(format!(
                "needs {len} bytes, only {} remain",
                self.rest.len()
            ));
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> std::result::Result<u8, String> {
        let (&byte, rest) = self.rest.split_first().ok_or("needs 1 byte, none remain")?;
        self.rest = rest;
        Ok(byte)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let (bytes, rest) = self
            .rest
            .split_first_chunk::<4>()
            .ok_or_else(|| format!("needs 4 bytes, only {} remain", self.rest.len()))?;
        self.rest = rest;
        Ok(u32::from_le_bytes(*bytes))
    }

    /// A length-prefixed byte string of at most `len_max` bytes.
    fn bytes(&mut self, len_max: usize) -> std::result::Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        if len > len_max {
            return Err(format!("length {len} exceeds the limit of {len_max} bytes"));
        }
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ReadConsistency;
    use crate::wal::{encode_record, list_segments};

    fn never() -> KvOptions {
        KvOptions::with_fsync(FsyncPolicy::Never)
    }

    fn sample_batch() -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch
            .put(b"key", b"value")
            .delete(b"gone")
            .put(b"", b"")
            .put(vec![0xff; 300], vec![7; 5000]);
        batch
    }

    #[test]
    fn a_single_copy_reads_the_same_at_every_consistency() {
        let dir = tempfile::tempdir().unwrap();
        let store = KvStore::open(dir.path(), never()).unwrap();
        store.put(b"k", b"v").unwrap();
        for consistency in [ReadConsistency::Strong, ReadConsistency::Eventual] {
            assert_eq!(
                store.get_with(b"k", consistency).unwrap(),
                Some(b"v".to_vec())
            );
            let all = store
                .scan_with(&KeyRange::all(), ScanDirection::Forward, 10, consistency)
                .unwrap();
            assert_eq!(all, vec![(b"k".to_vec(), b"v".to_vec())]);
        }
    }

    #[test]
    fn batches_round_trip_through_their_encoding() {
        let batch = sample_batch();
        let encoded = encode_batch(&batch);
        assert_eq!(encoded.len(), encoded_batch_len(&batch));
        assert_eq!(decode_batch(&encoded), Ok(batch));
    }

    #[test]
    fn batch_encoding_is_stable() {
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v").delete(b"d");
        assert_eq!(
            encode_batch(&batch),
            [
                1, 2, 0, 0, 0, 1, 1, 0, 0, 0, b'k', 1, 0, 0, 0, b'v', 2, 1, 0, 0, 0, b'd'
            ]
        );
    }

    #[test]
    fn decoding_rejects_every_truncation_and_malformed_field() {
        let encoded = encode_batch(&sample_batch());
        for len in 0..encoded.len() {
            assert!(
                decode_batch(&encoded[..len]).is_err(),
                "accepted a batch cut at {len}"
            );
        }
        let mut stray = encoded.clone();
        stray.push(0);
        assert!(decode_batch(&stray).is_err(), "stray trailing byte");
        let mut version = encoded.clone();
        version[0] = 9;
        assert!(decode_batch(&version).is_err(), "unknown version");
        let mut kind = encoded.clone();
        kind[5] = 3;
        assert!(decode_batch(&kind).is_err(), "unknown op kind");
        assert!(decode_batch(&[1, 0, 0, 0, 0]).is_err(), "zero operations");
        assert!(
            decode_batch(&[1, 0xff, 0xff, 0xff, 0xff, 2]).is_err(),
            "absurd op count"
        );
        let mut long_key = vec![1, 1, 0, 0, 0, OP_DELETE];
        long_key.extend(((KEY_BYTES_MAX + 1) as u32).to_le_bytes());
        long_key.extend(vec![0; KEY_BYTES_MAX + 1]);
        assert!(decode_batch(&long_key).is_err(), "key over the limit");
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = KvStore::open(dir.path(), never()).unwrap();
        let second = KvStore::open(dir.path(), never());
        assert!(
            matches!(second, Err(StorageError::DirectoryLocked { .. })),
            "{second:?}"
        );
        drop(store);
        KvStore::open(dir.path(), never()).unwrap();
    }

    #[test]
    fn an_intact_record_with_an_unreadable_batch_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = KvStore::open(dir.path(), never()).unwrap();
        store.put(b"a", b"1").unwrap();
        drop(store);
        let wal_dir = dir.path().join(WAL_DIR_NAME);
        let (_, segment) = list_segments(&wal_dir).unwrap().pop().unwrap();
        let mut log = fs::read(&segment).unwrap();
        let good_len = log.len() as u64;
        log.extend(encode_record(2, b"\x01not a batch"));
        log.extend(encode_record(3, &encode_batch(&sample_batch())));
        fs::write(&segment, &log).unwrap();
        match KvStore::open(dir.path(), never()) {
            Err(StorageError::Corruption { file, offset, .. }) => {
                assert_eq!(file, segment);
                assert_eq!(offset, good_len);
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn writes_are_acknowledged_after_an_fsync_under_the_default_policy() {
        let dir = tempfile::tempdir().unwrap();
        let store = KvStore::open(dir.path(), KvOptions::default()).unwrap();
        assert_eq!(store.wal_stats().unwrap().syncs, 0);
        store.put(b"k", b"v").unwrap();
        let stats = store.wal_stats().unwrap();
        assert_eq!((stats.records, stats.syncs), (1, 1));
    }

    #[test]
    fn the_memtable_size_grows_with_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = KvStore::open(dir.path(), never()).unwrap();
        assert_eq!(store.memtable_size_bytes().unwrap(), 0);
        store.put(b"key", &[0; 1000]).unwrap();
        assert!(store.memtable_size_bytes().unwrap() > 1000);
    }

    #[test]
    fn batches_too_large_for_one_record_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = KvStore::open(dir.path(), never()).unwrap();
        let mut batch = WriteBatch::new();
        batch
            .put(b"a", vec![0; RECORD_PAYLOAD_BYTES_MAX / 2])
            .put(b"b", vec![0; RECORD_PAYLOAD_BYTES_MAX / 2]);
        assert!(matches!(
            store.write(batch),
            Err(StorageError::InvalidBatch { .. })
        ));
        assert_eq!(store.get(b"a").unwrap(), None);
        store.put(b"c", b"fine").unwrap();
    }
}
