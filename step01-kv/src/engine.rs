//! The storage engine contract: what every engine in minidynamo promises.
//!
//! A storage engine maps opaque byte keys to opaque byte values, in byte
//! order. It knows nothing about items, attributes or tables: the layers
//! above encode those into keys and values whose byte order is DynamoDB's
//! order. Step 1's [`KvStore`](crate::store::KvStore) is the first engine;
//! step 2's LSM tree is the second, and the partitions of step 3 hold either
//! one behind this trait.
//!
//! The contract, which the [`conformance`] suite checks for any engine:
//!
//! * **Atomic batches.** [`StorageEngine::write`] applies every operation of a
//!   [`WriteBatch`] or none of them — to readers, and after a crash.
//! * **Durable acknowledgements.** When `write` returns `Ok`, the batch is as
//!   durable as the engine's fsync policy says (by default: fsynced).
//! * **Newest wins.** Each successful write gets a sequence number larger than
//!   every earlier one; the value of a key is the one written by the
//!   operation with the largest sequence number (a delete writes "nothing").
//! * **Byte order.** Scans return keys in unsigned lexicographic byte order,
//!   forward or reverse, within a [`KeyRange`], at most `limit` of them.
//! * **Corruption is reported, never served.** Damaged bytes on disk become a
//!   [`StorageError::Corruption`], not a wrong answer.

use std::fmt;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;

/// The position of a write in the engine's history: it increases by one with
/// every successful [`StorageEngine::write`]. The first write is number 1.
pub type SequenceNumber = u64;

/// A key and its value, as returned by scans.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The longest key an engine accepts, in bytes.
///
/// DynamoDB keys are at most 2048 bytes of partition key plus 1024 bytes of
/// sort key; an order-preserving encoding can at most double them. This bound
/// leaves room for that and lets later formats store key lengths in a `u16`.
pub const KEY_BYTES_MAX: usize = 16 * 1024;

/// The result of every storage operation.
pub type Result<T> = std::result::Result<T, StorageError>;

/// Everything that can go wrong below the data model.
#[derive(Debug)]
pub enum StorageError {
    /// The operating system refused an operation on `path`.
    Io { path: PathBuf, source: io::Error },
    /// Bytes on disk failed a check (checksum, length, sequence). The engine
    /// refuses to open rather than guess: a human decides what to do.
    Corruption {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The caller asked for something the engine never does (an empty batch,
    /// a key longer than [`KEY_BYTES_MAX`], a batch too large for one record).
    InvalidBatch { reason: String },
    /// Another open engine holds the directory.
    DirectoryLocked { path: PathBuf },
    /// An earlier failure (a failed write or fsync, a panicked thread) left
    /// the engine in a state it cannot vouch for. Reopen it: recovery
    /// restores a consistent state from the log.
    Failed { reason: String },
}

impl StorageError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { path, source } => {
                write!(f, "I/O error on {}: {source}", path.display())
            }
            StorageError::Corruption {
                file,
                offset,
                reason,
            } => write!(
                f,
                "corruption in {} at byte {offset}: {reason}",
                file.display()
            ),
            StorageError::InvalidBatch { reason } => write!(f, "invalid write batch: {reason}"),
            StorageError::DirectoryLocked { path } => {
                write!(f, "{} is already open in another engine", path.display())
            }
            StorageError::Failed { reason } => write!(f, "storage engine failed earlier: {reason}"),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

impl BatchOp {
    /// The key this operation writes.
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } => key,
        }
    }
}

/// Puts and deletes that are applied together or not at all.
///
/// Operations apply in the order they were added, so if a batch writes the
/// same key twice, the later operation wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds "set `key` to `value`".
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds "remove `key`" (a no-op for readers if the key is absent).
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete { key: key.into() });
        self
    }

    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks the rules every engine enforces before it writes anything:
    /// at least one operation, and no key longer than [`KEY_BYTES_MAX`].
    pub fn validate(&self) -> Result<()> {
        if self.ops.is_empty() {
            return Err(StorageError::InvalidBatch {
                reason: "a batch needs at least one operation".to_string(),
            });
        }
        for op in &self.ops {
            if op.key().len() > KEY_BYTES_MAX {
                return Err(StorageError::InvalidBatch {
                    reason: format!(
                        "key of {} bytes is longer than {KEY_BYTES_MAX} bytes",
                        op.key().len()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Which way a scan walks the key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanDirection {
    /// Smallest key first.
    Forward,
    /// Largest key first.
    Reverse,
}

/// A range of keys, each end included, excluded or open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    pub fn new(start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Self {
        Self { start, end }
    }

    /// Every key.
    pub fn all() -> Self {
        Self::new(Bound::Unbounded, Bound::Unbounded)
    }

    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        // The first key after the prefix range: drop trailing 0xFF bytes and
        // increment the last remaining byte ("ab\xff" -> "ac"). A prefix of
        // only 0xFF bytes has no successor, so the range is open-ended.
        let mut end = prefix.to_vec();
        while end.last() == Some(&u8::MAX) {
            end.pop();
        }
        let end = match end.pop() {
            Some(last) => {
                end.push(last + 1);
                Bound::Excluded(end)
            }
            None => Bound::Unbounded,
        };
        Self::new(Bound::Included(prefix.to_vec()), end)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        RangeBounds::<[u8]>::contains(self, key)
    }

    /// True if no key can lie in the range (for example, start after end).
    /// Engines return nothing for such a range instead of failing.
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
            (Bound::Included(start), Bound::Included(end)) => start > end,
            (Bound::Included(start) | Bound::Excluded(start), Bound::Excluded(end))
            | (Bound::Excluded(start), Bound::Included(end)) => start >= end,
        }
    }
}

impl RangeBounds<[u8]> for KeyRange {
    fn start_bound(&self) -> Bound<&[u8]> {
        match &self.start {
            Bound::Included(key) => Bound::Included(key.as_slice()),
            Bound::Excluded(key) => Bound::Excluded(key.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        }
    }

    fn end_bound(&self) -> Bound<&[u8]> {
        match &self.end {
            Bound::Included(key) => Bound::Included(key.as_slice()),
            Bound::Excluded(key) => Bound::Excluded(key.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        }
    }
}

/// How fresh a read must be. A hook for replicated engines (step 4), where
/// one partition lives on several replicas that may lag behind each other.
///
/// A single-copy engine has one state, so both levels read the same thing:
/// the trait's default `*_with` methods ignore the level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Sees every write acknowledged before the read started.
    #[default]
    Strong,
    /// May miss recent writes (a replica that is behind answers), in
    /// exchange for being servable anywhere. DynamoDB's default for reads.
    Eventual,
}

// ANCHOR: storage_engine
/// An ordered, durable map from byte keys to byte values.
///
/// Implementations are shared between threads (`Send + Sync`) and take
/// `&self` everywhere: each engine does its own locking, so that it can let
/// many writers share one fsync.
pub trait StorageEngine: Send + Sync {
    /// The newest value of `key`, or `None` if it was never written or its
    /// newest operation is a delete.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Applies every operation of `batch`, or none. Returns the batch's
    /// sequence number once the batch is durable per the fsync policy.
    fn write(&self, batch: WriteBatch) -> Result<SequenceNumber>;

    /// Up to `limit` live keys of `range` with their values, in byte order
    /// (`Forward`) or reverse byte order (`Reverse`). A scan sees each batch
    /// entirely or not at all.
    fn scan(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
    ) -> Result<Vec<KeyValue>>;

    /// Makes every write acknowledged so far durable, whatever the fsync
    /// policy. A caller that is about to make this engine's data the only
    /// copy (step 3's partition split, before it commits the new partition
    /// map and deletes the parent) calls it first.
    fn sync(&self) -> Result<()>;

    /// [`StorageEngine::get`] at a chosen [`ReadConsistency`]. An engine
    /// with one copy has nothing weaker to offer: the default reads strongly.
    fn get_with(&self, key: &[u8], consistency: ReadConsistency) -> Result<Option<Vec<u8>>> {
        let _ = consistency;
        self.get(key)
    }

    /// [`StorageEngine::scan`] at a chosen [`ReadConsistency`]; the default
    /// reads strongly.
    fn scan_with(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
        consistency: ReadConsistency,
    ) -> Result<Vec<KeyValue>> {
        let _ = consistency;
        self.scan(range, direction, limit)
    }

    /// Writes one key: a batch of a single put.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<SequenceNumber> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.write(batch)
    }

    /// Deletes one key: a batch of a single delete.
    fn delete(&self, key: &[u8]) -> Result<SequenceNumber> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write(batch)
    }
}
// ANCHOR_END: storage_engine

/// Generates one `#[test]` per [`conformance`] check for an engine.
///
/// The argument is a factory `Fn(&Path) -> Result<E>` that opens (or reopens)
/// the engine stored in a directory. The generated tests create their
/// directories with the `tempfile` crate, so the calling crate needs it as a
/// dev-dependency.
///
/// ```ignore
/// step01_kv::storage_engine_conformance!(|dir: &std::path::Path| {
///     step01_kv::store::KvStore::open(dir, step01_kv::store::KvOptions::default())
/// });
/// ```
#[macro_export]
macro_rules! storage_engine_conformance {
    ($open:expr) => {
        $crate::storage_engine_conformance!(@tests $open;
            get_put_overwrite,
            delete_hides_value,
            batch_applies_every_op_in_order,
            invalid_batches_change_nothing,
            sequence_numbers_increase,
            scan_bounds_directions_and_limits,
            batches_are_atomic_to_scans,
            concurrent_writers_all_land,
            reopen_keeps_everything,
        );
    };
    (@tests $open:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let dir = ::tempfile::tempdir().unwrap();
                $crate::engine::conformance::$check(dir.path(), &$open);
            }
        )*
    };
}

/// The behaviour every [`StorageEngine`] must show, as plain functions.
///
/// Each check takes a scratch directory (it uses subdirectories of it) and a
/// factory that opens the engine stored in a directory; it panics with a
/// description when the engine misbehaves. The factory is called again on the
/// same directory to test reopening, after the previous engine was dropped.
///
/// Use [`storage_engine_conformance!`](crate::storage_engine_conformance) to
/// turn them into tests, or [`run_all`](conformance::run_all).
pub mod conformance {
    use super::{
        BatchOp, KEY_BYTES_MAX, KeyRange, KeyValue, Result, ScanDirection, SequenceNumber,
        StorageEngine, StorageError, WriteBatch,
    };
    use std::collections::{BTreeMap, HashSet};
    use std::ops::Bound;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Opens an engine in a directory.
    pub type Open<'a, E> = &'a dyn Fn(&Path) -> Result<E>;

    /// Runs every check, each in its own subdirectory of `dir`.
    pub fn run_all<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        get_put_overwrite(dir, open);
        delete_hides_value(dir, open);
        batch_applies_every_op_in_order(dir, open);
        invalid_batches_change_nothing(dir, open);
        sequence_numbers_increase(dir, open);
        scan_bounds_directions_and_limits(dir, open);
        batches_are_atomic_to_scans(dir, open);
        concurrent_writers_all_land(dir, open);
        reopen_keeps_everything(dir, open);
    }

    /// Unwraps an engine result, or fails the check with what was being done.
    fn must<T>(result: Result<T>, doing: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{doing}: {error}"),
        }
    }

    fn open_in<E: StorageEngine>(dir: &Path, name: &str, open: Open<'_, E>) -> E {
        must(open(&dir.join(name)), "opening the engine")
    }

    fn all_entries<E: StorageEngine>(engine: &E) -> Vec<KeyValue> {
        must(
            engine.scan(&KeyRange::all(), ScanDirection::Forward, usize::MAX),
            "scanning everything",
        )
    }

    fn model_entries(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<KeyValue> {
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// A missing key reads as `None`; a put is visible; an overwrite replaces
    /// it; an empty value is a value, not a delete; keys are raw bytes.
    pub fn get_put_overwrite<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        let engine = open_in(dir, "get_put_overwrite", open);
        assert_eq!(must(engine.get(b"missing"), "get"), None);
        assert_eq!(all_entries(&engine), vec![], "a new engine is empty");

        must(engine.put(b"a", b"1"), "put");
        assert_eq!(must(engine.get(b"a"), "get"), Some(b"1".to_vec()));
        must(engine.put(b"a", b"2"), "overwrite");
        assert_eq!(
            must(engine.get(b"a"), "get"),
            Some(b"2".to_vec()),
            "overwrite wins"
        );

        must(engine.put(b"empty", b""), "put empty value");
        assert_eq!(
            must(engine.get(b"empty"), "get"),
            Some(Vec::new()),
            "empty value is not a delete"
        );

        let binary_keys: [&[u8]; 4] = [b"", b"\x00", b"\x00\x00", b"\xff\xff"];
        for (i, key) in binary_keys.iter().enumerate() {
            must(engine.put(key, &[i as u8]), "put binary key");
        }
        for (i, key) in binary_keys.iter().enumerate() {
            assert_eq!(
                must(engine.get(key), "get binary key"),
                Some(vec![i as u8]),
                "key {key:?}"
            );
        }
        assert_eq!(
            must(engine.get(b"a\x00"), "get"),
            None,
            "a longer key is a different key"
        );
    }

    /// A delete hides the value from gets and scans; deleting a missing key
    /// is harmless; a put after a delete is visible again.
    pub fn delete_hides_value<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        let engine = open_in(dir, "delete_hides_value", open);
        must(engine.put(b"k", b"v"), "put");
        must(engine.put(b"other", b"o"), "put");
        must(engine.delete(b"k"), "delete");
        assert_eq!(must(engine.get(b"k"), "get"), None, "deleted key is gone");
        assert_eq!(
            all_entries(&engine),
            vec![(b"other".to_vec(), b"o".to_vec())]
        );

        must(engine.delete(b"never-written"), "delete a missing key");
        assert_eq!(must(engine.get(b"never-written"), "get"), None);

        must(engine.put(b"k", b"again"), "put after delete");
        assert_eq!(must(engine.get(b"k"), "get"), Some(b"again".to_vec()));
    }

    /// All operations of a batch apply, in order: a later op on the same key
    /// wins over an earlier one.
    pub fn batch_applies_every_op_in_order<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        let engine = open_in(dir, "batch_applies_every_op_in_order", open);
        must(engine.put(b"c", b"old"), "put");

        let mut batch = WriteBatch::new();
        batch
            .put(b"a", b"1")
            .put(b"b", b"1")
            .delete(b"c")
            .put(b"a", b"2");
        must(engine.write(batch), "write batch");
        assert_eq!(
            all_entries(&engine),
            vec![
                (b"a".to_vec(), b"2".to_vec()),
                (b"b".to_vec(), b"1".to_vec())
            ],
            "every op applied, the last op on a key wins"
        );

        let mut batch = WriteBatch::new();
        batch
            .put(b"x", b"1")
            .delete(b"x")
            .delete(b"b")
            .put(b"b", b"back");
        must(engine.write(batch), "write batch");
        assert_eq!(
            must(engine.get(b"x"), "get"),
            None,
            "put then delete in one batch"
        );
        assert_eq!(
            must(engine.get(b"b"), "get"),
            Some(b"back".to_vec()),
            "delete then put in one batch"
        );
    }

    /// An empty batch and a batch with an oversized key are rejected, and a
    /// rejected batch applies none of its operations.
    pub fn invalid_batches_change_nothing<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        let engine = open_in(dir, "invalid_batches_change_nothing", open);
        let result = engine.write(WriteBatch::new());
        assert!(
            matches!(result, Err(StorageError::InvalidBatch { .. })),
            "empty batch: {result:?}"
        );

        let mut batch = WriteBatch::new();
        batch
            .put(b"fine", b"1")
            .put(vec![b'k'; KEY_BYTES_MAX + 1], b"too long");
        let result = engine.write(batch);
        assert!(
            matches!(result, Err(StorageError::InvalidBatch { .. })),
            "oversized key: {result:?}"
        );
        assert_eq!(
            all_entries(&engine),
            vec![],
            "a rejected batch applies nothing"
        );

        let longest = vec![b'k'; KEY_BYTES_MAX];
        must(
            engine.put(&longest, b"ok"),
            "a key of exactly KEY_BYTES_MAX bytes",
        );
        assert_eq!(must(engine.get(&longest), "get"), Some(b"ok".to_vec()));
    }

    /// Every write gets a larger sequence number than the one before, also
    /// across a reopen.
    pub fn sequence_numbers_increase<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        let path = dir.join("sequence_numbers_increase");
        let mut last: SequenceNumber = 0;
        for round in 0..3 {
            let engine = must(open(&path), "opening the engine");
            for i in 0..5u8 {
                let seq = must(engine.put(&[round, i], b"v"), "put");
                assert!(seq > last, "sequence {seq} after {last}");
                last = seq;
            }
        }
    }

    /// Scans honour bounds (included, excluded, open, prefix), direction and
    /// limit, skip deleted keys, and return nothing for an empty range or a
    /// limit of zero.
    pub fn scan_bounds_directions_and_limits<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        let engine = open_in(dir, "scan_bounds_directions_and_limits", open);
        let mut model = BTreeMap::new();
        // Keys that test byte order: prefixes, 0x00 and 0xFF bytes.
        let keys: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\x00".to_vec(),
            b"a".to_vec(),
            b"a\x00".to_vec(),
            b"a\xff".to_vec(),
            b"ab".to_vec(),
            b"abc".to_vec(),
            b"b".to_vec(),
            b"ba".to_vec(),
            b"c".to_vec(),
            b"\xff".to_vec(),
            b"\xff\xff".to_vec(),
        ];
        for (i, key) in keys.iter().enumerate() {
            let value = format!("value-{i}").into_bytes();
            must(engine.put(key, &value), "put");
            model.insert(key.clone(), value);
        }
        for deleted in [b"ab".as_slice(), b"c".as_slice()] {
            must(engine.delete(deleted), "delete");
            model.remove(deleted);
        }

        let inc = |k: &[u8]| Bound::Included(k.to_vec());
        let exc = |k: &[u8]| Bound::Excluded(k.to_vec());
        let ranges = vec![
            KeyRange::all(),
            KeyRange::new(inc(b"a"), exc(b"b")),
            KeyRange::new(exc(b"a"), inc(b"b")),
            KeyRange::new(inc(b"a"), inc(b"a")),
            KeyRange::new(exc(b"a"), exc(b"a\x00")),
            KeyRange::new(inc(b"aa"), Bound::Unbounded),
            KeyRange::new(Bound::Unbounded, exc(b"a")),
            KeyRange::new(inc(b"c"), inc(b"c")),
            KeyRange::new(inc(b"b"), inc(b"a")),
            KeyRange::new(exc(b"b"), exc(b"b")),
            KeyRange::prefix(b"a"),
            KeyRange::prefix(b"\xff"),
            KeyRange::prefix(b""),
        ];
        for range in &ranges {
            let expected: Vec<KeyValue> = model_entries(&model)
                .into_iter()
                .filter(|(key, _)| range.contains(key))
                .collect();
            for limit in [0, 1, 2, 3, usize::MAX] {
                let forward = must(
                    engine.scan(range, ScanDirection::Forward, limit),
                    "forward scan",
                );
                let want: Vec<KeyValue> = expected.iter().take(limit).cloned().collect();
                assert_eq!(forward, want, "forward scan of {range:?}, limit {limit}");

                let reverse = must(
                    engine.scan(range, ScanDirection::Reverse, limit),
                    "reverse scan",
                );
                let want: Vec<KeyValue> = expected.iter().rev().take(limit).cloned().collect();
                assert_eq!(reverse, want, "reverse scan of {range:?}, limit {limit}");
            }
        }
    }

    /// A scan running while batches are written sees each batch whole: both
    /// keys of a pair always carry the same round number.
    pub fn batches_are_atomic_to_scans<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        const ROUNDS_MAX: u32 = 200;
        const SCANS_MAX: u32 = 100_000;
        let engine = open_in(dir, "batches_are_atomic_to_scans", open);
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for round in 0..ROUNDS_MAX {
                    let value = round.to_be_bytes();
                    let mut batch = WriteBatch::new();
                    batch
                        .put(b"pair/1", value)
                        .put(b"pair/2", value)
                        .put(b"pair/3", value);
                    must(engine.write(batch), "write pair");
                }
                done.store(true, Ordering::Release);
            });
            let range = KeyRange::prefix(b"pair/");
            for _ in 0..SCANS_MAX {
                let finished = done.load(Ordering::Acquire);
                let entries = must(
                    engine.scan(&range, ScanDirection::Forward, usize::MAX),
                    "scan",
                );
                assert!(
                    entries.is_empty()
                        || (entries.len() == 3 && entries.iter().all(|(_, v)| *v == entries[0].1)),
                    "a scan saw part of a batch: {entries:?}"
                );
                if finished {
                    break;
                }
            }
        });
        let entries = all_entries(&engine);
        let last = (ROUNDS_MAX - 1).to_be_bytes().to_vec();
        assert_eq!(entries.len(), 3);
        assert!(
            entries.iter().all(|(_, v)| *v == last),
            "the last batch wins"
        );
    }

    /// Writers on many threads: every write lands, and no two writes share a
    /// sequence number.
    pub fn concurrent_writers_all_land<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        const THREADS: u8 = 8;
        const WRITES_PER_THREAD: u8 = 40;
        let engine = open_in(dir, "concurrent_writers_all_land", open);
        let sequences: Vec<Vec<SequenceNumber>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let engine = &engine;
                    scope.spawn(move || {
                        (0..WRITES_PER_THREAD)
                            .map(|i| must(engine.put(&[thread, i], &[i, thread]), "concurrent put"))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| match handle.join() {
                    Ok(seqs) => seqs,
                    Err(_) => panic!("a writer thread panicked"),
                })
                .collect()
        });
        let unique: HashSet<SequenceNumber> = sequences.iter().flatten().copied().collect();
        assert_eq!(
            unique.len(),
            usize::from(THREADS) * usize::from(WRITES_PER_THREAD),
            "sequence numbers are unique"
        );
        for thread in 0..THREADS {
            for i in 0..WRITES_PER_THREAD {
                assert_eq!(must(engine.get(&[thread, i]), "get"), Some(vec![i, thread]));
            }
        }
    }

    /// Dropping and reopening the engine keeps every put, overwrite, delete
    /// and batch, including large values; writes after a reopen work.
    pub fn reopen_keeps_everything<E: StorageEngine>(dir: &Path, open: Open<'_, E>) {
        let path = dir.join("reopen_keeps_everything");
        let mut model = BTreeMap::new();
        {
            let engine = must(open(&path), "opening the engine");
            for i in 0..100u32 {
                let key = format!("key-{:03}", i % 60).into_bytes();
                let value = format!("value-{i}").into_bytes();
                must(engine.put(&key, &value), "put");
                model.insert(key, value);
            }
            for i in (0..60u32).step_by(7) {
                let key = format!("key-{i:03}").into_bytes();
                must(engine.delete(&key), "delete");
                model.remove(&key);
            }
            let big = (0..400 * 1024)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>();
            let mut batch = WriteBatch::new();
            batch
                .put(b"big", big.clone())
                .delete(b"key-001")
                .put(b"key-new", b"n");
            must(engine.write(batch.clone()), "write batch");
            for op in batch.into_ops() {
                match op {
                    BatchOp::Put { key, value } => model.insert(key, value),
                    BatchOp::Delete { key } => model.remove(&key),
                };
            }
        }
        for round in 0..2u8 {
            let engine = must(open(&path), "reopening the engine");
            assert_eq!(
                all_entries(&engine),
                model_entries(&model),
                "state after reopen {round}"
            );
            assert_eq!(
                must(engine.get(b"key-007"), "get"),
                None,
                "a delete survives reopen"
            );
            let key = vec![b'r', round];
            must(engine.put(&key, b"after reopen"), "put after reopen");
            model.insert(key, b"after reopen".to_vec());
        }
        let engine = must(open(&path), "reopening the engine");
        assert_eq!(
            all_entries(&engine),
            model_entries(&model),
            "state after the last reopen"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_range_ends_at_the_next_prefix() {
        assert_eq!(KeyRange::prefix(b"ab").end, Bound::Excluded(b"ac".to_vec()));
        assert_eq!(
            KeyRange::prefix(b"a\xff\xff").end,
            Bound::Excluded(b"b".to_vec())
        );
        assert_eq!(KeyRange::prefix(b"\xff").end, Bound::Unbounded);
        assert_eq!(KeyRange::prefix(b"").end, Bound::Unbounded);
        let range = KeyRange::prefix(b"a\xff");
        assert!(range.contains(b"a\xff"));
        assert!(range.contains(b"a\xff\xff\x00"));
        assert!(!range.contains(b"b"));
        assert!(!range.contains(b"a"));
    }

    #[test]
    fn empty_ranges_are_recognised() {
        let k = |s: &[u8]| s.to_vec();
        assert!(KeyRange::new(Bound::Included(k(b"b")), Bound::Included(k(b"a"))).is_empty());
        assert!(KeyRange::new(Bound::Included(k(b"a")), Bound::Excluded(k(b"a"))).is_empty());
        assert!(KeyRange::new(Bound::Excluded(k(b"a")), Bound::Excluded(k(b"a"))).is_empty());
        assert!(!KeyRange::new(Bound::Included(k(b"a")), Bound::Included(k(b"a"))).is_empty());
        assert!(!KeyRange::new(Bound::Excluded(k(b"a")), Bound::Unbounded).is_empty());
        assert!(!KeyRange::all().is_empty());
    }

    #[test]
    fn validate_rejects_empty_batches_and_long_keys() {
        assert!(matches!(
            WriteBatch::new().validate(),
            Err(StorageError::InvalidBatch { .. })
        ));
        let mut batch = WriteBatch::new();
        batch.put(vec![0; KEY_BYTES_MAX], b"v");
        assert!(batch.validate().is_ok());
        batch.delete(vec![0; KEY_BYTES_MAX + 1]);
        assert!(matches!(
            batch.validate(),
            Err(StorageError::InvalidBatch { .. })
        ));
    }
}
