//! The state machine of a partition's replica: a real storage engine that
//! remembers which log entry it applied last.
//!
//! Every replica of a replication group owns one engine (step 2's LSM tree,
//! or any [`StorageEngine`]). The replicated log carries encoded step 1
//! [`WriteBatch`]es; applying entry `n` writes its batch to the engine
//! *together with* an internal record "applied index = n", in the same
//! atomic batch. So whatever the engine recovers after a crash, it knows
//! exactly which entries it holds:
//!
//! ```text
//! Raft log:  … 41 42 43 44 45 46      (durable: the record of what happened)
//! engine:    state after 1..=44, plus APPLIED_INDEX_KEY = 44
//! restart:   entries ≤ 44 are skipped, 45 and 46 are applied again
//! ```
//!
//! That is why the engine may run without an fsync per write: the Raft log
//! is the durable record, and the engine is a cache of its prefix that is
//! never wrong about *which* prefix it holds. A snapshot is taken only after
//! the engine is synced, so the log is never compacted past what the engine
//! has made durable.
//!
//! # The reserved key
//!
//! The record lives inside the engine's own key space, under
//! [`APPLIED_INDEX_KEY`]: sixteen `0xFF` bytes (the largest MD5 a step 3
//! storage key can start with) and a name. The replicated engine refuses
//! writes to it and hides it from reads. (A separate key space — a prefix
//! byte on every user key — would be tidier, but would make a key of
//! exactly [`KEY_BYTES_MAX`](step01_kv::engine::KEY_BYTES_MAX) bytes one
//! byte too long for the engine below.)
//!
//! # Formats
//!
//! ```text
//! applied record  version u8 | state u8 (0 clean, 1 restoring) | index u64
//! snapshot        version u8 | applied index u64 | count u32 | (key, value)*
//! ```
//!
//! A snapshot holds the whole partition, so it must fit in one record of
//! the replica's log: [`PARTITION_SNAPSHOT_BYTES_MAX`]. A larger partition
//! refuses to snapshot (the log is then kept, not compacted) — step 3
//! splits partitions at 8 MiB by default, well below the limit.
//!
//! Invariants: the engine's applied record equals the index of the last
//! write entry whose batch is in the engine; a restore that crashed half
//! way is detected (state "restoring") and undone before the engine is
//! used.

use crate::codec::{DecodeError, Reader, Writer};
use crate::state_machine::{SnapshotError, StateMachine};
use crate::types::LogIndex;
use std::ops::Bound;
use step01_kv::engine::{
    KeyRange, KeyValue, Result, ScanDirection, StorageEngine, StorageError, WriteBatch,
};
use step01_kv::store::decode_batch;
use step01_kv::wal::RECORD_PAYLOAD_BYTES_MAX;

/// Where the engine keeps its applied index. Reserved: the replicated
/// engine refuses writes to it and never returns it.
pub const APPLIED_INDEX_KEY: &[u8] =
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffminidynamo/applied-index";

/// The largest snapshot of one partition, in bytes: one record of the
/// replica's log, less room for the snapshot's own header.
pub const PARTITION_SNAPSHOT_BYTES_MAX: usize = RECORD_PAYLOAD_BYTES_MAX - 64 * 1024;
/// Entries read from the engine per call while dumping or clearing it.
pub const ENGINE_CHUNK_ITEMS: usize = 256;
/// The largest batch a restore writes at once, in bytes.
pub const RESTORE_BATCH_BYTES_MAX: usize = 1024 * 1024;

const APPLIED_FORMAT_VERSION: u8 = 1;
const SNAPSHOT_FORMAT_VERSION: u8 = 1;
const STATE_CLEAN: u8 = 0;
const STATE_RESTORING: u8 = 1;
/// The fewest bytes one snapshot entry takes (two empty byte strings).
const SNAPSHOT_ENTRY_BYTES_MIN: usize = 8;

const QUERY_GET: u8 = 1;
const QUERY_SCAN: u8 = 2;
const REPLY_OK: u8 = 0;
const REPLY_REJECTED: u8 = 1;
const REPLY_FAILED: u8 = 2;

/// A partition replica's state: an engine and the last log index it holds.
#[derive(Debug)]
pub struct PartitionMachine<E> {
    engine: E,
    /// The index of the last write entry whose batch is in the engine.
    applied: LogIndex,
    /// Set when the engine failed (an I/O error): this replica can no
    /// longer vouch for its state, and its host stops it.
    failure: Option<String>,
}

impl<E: StorageEngine> PartitionMachine<E> {
    /// Wraps an engine opened from a replica's directory, reading its
    /// applied index; undoes a restore that a crash interrupted.
    pub fn open(engine: E) -> Result<PartitionMachine<E>> {
        let mut machine = PartitionMachine {
            engine,
            applied: 0,
            failure: None,
        };
        match machine.engine.get(APPLIED_INDEX_KEY)? {
            None => {}
            Some(bytes) => match decode_applied(&bytes)? {
                (STATE_CLEAN, index) => machine.applied = index,
                _ => {
                    // A restore died half way: the engine holds a mix of
                    // two states. Empty it; the log or a snapshot refills it.
                    machine.clear()?;
                    machine.write_applied(STATE_CLEAN, 0)?;
                }
            },
        }
        Ok(machine)
    }

    /// The index of the last write entry the engine holds.
    pub fn applied_index(&self) -> LogIndex {
        self.applied
    }

    /// Why the engine failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    fn write_applied(&self, state: u8, index: LogIndex) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(APPLIED_INDEX_KEY, encode_applied(state, index));
        self.engine.write(batch).map(|_| ())
    }

    /// Every live entry but the applied record, a chunk at a time.
    fn for_each_chunk(&self, mut visit: impl FnMut(Vec<KeyValue>) -> Result<()>) -> Result<()> {
        let mut range = KeyRange::all();
        // Each turn visits a full chunk or ends: bounded by the entry count.
        loop {
            let chunk = self
                .engine
                .scan(&range, ScanDirection::Forward, ENGINE_CHUNK_ITEMS)?;
            let full = chunk.len() == ENGINE_CHUNK_ITEMS;
            let next = chunk.last().map(|(key, _)| key.clone());
            let entries: Vec<KeyValue> = chunk
                .into_iter()
                .filter(|(key, _)| key != APPLIED_INDEX_KEY)
                .collect();
            visit(entries)?;
            match next {
                Some(last) if full => {
                    range = KeyRange::new(Bound::Excluded(last), Bound::Unbounded)
                }
                _ => return Ok(()),
            }
        }
    }

    /// Deletes every entry but the applied record.
    fn clear(&self) -> Result<()> {
        // Deleting while scanning forward from the last key seen is safe:
        // deleted keys lie behind the cursor.
        self.for_each_chunk(|entries| {
            if entries.is_empty() {
                return Ok(());
            }
            let mut batch = WriteBatch::new();
            for (key, _) in entries {
                batch.delete(key);
            }
            self.engine.write(batch).map(|_| ())
        })
    }

    /// Replaces the engine's contents by `entries` as of write `index`,
    /// marking the engine "restoring" until the last batch is in.
    fn replace(&mut self, index: LogIndex, entries: Vec<KeyValue>) -> Result<()> {
        self.write_applied(STATE_RESTORING, 0)?;
        self.applied = 0;
        self.clear()?;
        let mut batch = WriteBatch::new();
        let mut bytes = 0;
        for (key, value) in entries {
            bytes += key.len() + value.len();
            batch.put(key, value);
            if bytes >= RESTORE_BATCH_BYTES_MAX {
                self.engine.write(std::mem::take(&mut batch))?;
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.engine.write(batch)?;
        }
        self.write_applied(STATE_CLEAN, index)?;
        self.applied = index;
        Ok(())
    }

    /// Moves the applied record past an entry that wrote nothing (a
    /// payload every replica rejects the same way).
    fn skip(&mut self, index: LogIndex) {
        match self.write_applied(STATE_CLEAN, index) {
            Ok(()) => self.applied = index,
            Err(e) => self.failure = Some(e.to_string()),
        }
    }

    fn answer(&self, query: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut r = Reader::new(query);
        let mut w = Writer::new();
        w.u8(REPLY_OK);
        match r.u8().map_err(|e| e.to_string())? {
            QUERY_GET => {
                let key = r.bytes().map_err(|e| e.to_string())?;
                r.finish().map_err(|e| e.to_string())?;
                let value = if key == APPLIED_INDEX_KEY {
                    None
                } else {
                    self.engine.get(&key).map_err(|e| e.to_string())?
                };
                match value {
                    None => w.u8(0),
                    Some(value) => w.u8(1).bytes(&value),
                };
            }
            QUERY_SCAN => {
                let start = read_bound(&mut r)?;
                let end = read_bound(&mut r)?;
                let direction = match r.u8().map_err(|e| e.to_string())? {
                    0 => ScanDirection::Forward,
                    _ => ScanDirection::Reverse,
                };
                let limit =
                    usize::try_from(r.u64().map_err(|e| e.to_string())?).unwrap_or(usize::MAX);
                r.finish().map_err(|e| e.to_string())?;
                let range = KeyRange::new(start, end);
                // One more than asked: the applied record may be among them.
                let mut entries = self
                    .engine
                    .scan(&range, direction, limit.saturating_add(1))
                    .map_err(|e| e.to_string())?;
                entries.retain(|(key, _)| key != APPLIED_INDEX_KEY);
                entries.truncate(limit);
                w.u32(entries.len() as u32);
                for (key, value) in &entries {
                    w.bytes(key).bytes(value);
                }
            }
            other => return Err(format!("unknown query {other}")),
        }
        Ok(w.into_bytes())
    }
}

impl<E: StorageEngine> StateMachine for PartitionMachine<E> {
    // ANCHOR: partition_apply
    /// Writes entry `index`'s batch and the applied record in one atomic
    /// batch; skips entries the engine already holds (a replay after a
    /// restart).
    fn apply(&mut self, index: LogIndex, payload: &[u8]) -> Vec<u8> {
        if let Some(reason) = &self.failure {
            return reply_error(REPLY_FAILED, reason);
        }
        // EXERCISE(04.6): skip what the engine already holds; otherwise write the batch and the applied record in one atomic batch
        if index <= self.applied {
            return vec![REPLY_OK]; // Applied before a restart: idempotent replay.
        }
        let mut batch = match decode_batch(payload) {
            Ok(batch) if !batch.ops().iter().any(|op| op.key() == APPLIED_INDEX_KEY) => batch,
            Ok(_) => {
                self.skip(index);
                return reply_error(REPLY_REJECTED, "the batch writes a reserved key");
            }
            Err(reason) => {
                self.skip(index);
                return reply_error(REPLY_REJECTED, &reason);
            }
        };
        batch.put(APPLIED_INDEX_KEY, encode_applied(STATE_CLEAN, index));
        match self.engine.write(batch) {
            Ok(_) => {
                self.applied = index;
                vec![REPLY_OK]
            }
            // The same batch is refused the same way on every replica.
            Err(StorageError::InvalidBatch { reason }) => {
                self.skip(index);
                reply_error(REPLY_REJECTED, &reason)
            }
            Err(e) => {
                self.failure = Some(e.to_string());
                reply_error(REPLY_FAILED, &e.to_string())
            }
        }
        // END EXERCISE
    }
    // ANCHOR_END: partition_apply

    fn query(&self, query: &[u8]) -> Vec<u8> {
        if let Some(reason) = &self.failure {
            return reply_error(REPLY_FAILED, reason);
        }
        match self.answer(query) {
            Ok(reply) => reply,
            Err(reason) => reply_error(REPLY_FAILED, &reason),
        }
    }

    // ANCHOR: partition_snapshot
    /// Syncs the engine — so the log is never compacted past what the
    /// engine has made durable — then dumps it.
    fn snapshot(&self) -> std::result::Result<Vec<u8>, SnapshotError> {
        if let Some(reason) = &self.failure {
            return Err(SnapshotError(reason.clone()));
        }
        self.engine
            .sync()
            .map_err(|e| SnapshotError(e.to_string()))?;
        let mut entries = Vec::new();
        let mut bytes = 0;
        self.for_each_chunk(|chunk| {
            for (key, value) in chunk {
                bytes += SNAPSHOT_ENTRY_BYTES_MIN + key.len() + value.len();
                if bytes > PARTITION_SNAPSHOT_BYTES_MAX {
                    return Err(StorageError::InvalidBatch {
                        reason: format!(
                            "the partition exceeds {PARTITION_SNAPSHOT_BYTES_MAX} bytes"
                        ),
                    });
                }
                entries.push((key, value));
            }
            Ok(())
        })
        .map_err(|e| SnapshotError(e.to_string()))?;
        let mut w = Writer::new();
        w.u8(SNAPSHOT_FORMAT_VERSION)
            .u64(self.applied)
            .u32(entries.len() as u32);
        for (key, value) in &entries {
            w.bytes(key).bytes(value);
        }
        Ok(w.into_bytes())
    }

    /// Keeps the engine if it already holds the snapshot's index or later
    /// (a restart: the engine is ahead of the log's snapshot); otherwise
    /// replaces its contents.
    fn restore(&mut self, data: &[u8]) -> std::result::Result<(), DecodeError> {
        let mut r = Reader::new(data);
        let version = r.u8()?;
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(DecodeError(format!("unknown snapshot version {version}")));
        }
        let index = r.u64()?;
        if index <= self.applied && self.failure.is_none() {
            return Ok(());
        }
        let count = r.count(
            PARTITION_SNAPSHOT_BYTES_MAX / SNAPSHOT_ENTRY_BYTES_MIN,
            "snapshot entries",
        )?;
        let mut entries = Vec::with_capacity(count.min(ENGINE_CHUNK_ITEMS));
        for _ in 0..count {
            let key = r.bytes()?;
            let value = r.bytes()?;
            if key == APPLIED_INDEX_KEY {
                return Err(DecodeError("a snapshot holds the reserved key".into()));
            }
            entries.push((key, value));
        }
        r.finish()?;
        self.replace(index, entries).map_err(|e| {
            self.failure = Some(e.to_string());
            DecodeError(format!("the engine failed during a restore: {e}"))
        })
    }
    // ANCHOR_END: partition_snapshot
}

fn encode_applied(state: u8, index: LogIndex) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(APPLIED_FORMAT_VERSION).u8(state).u64(index);
    w.into_bytes()
}

fn decode_applied(bytes: &[u8]) -> Result<(u8, LogIndex)> {
    let corrupt = |reason: String| StorageError::Corruption {
        file: APPLIED_INDEX_KEY_NAME.into(),
        offset: 0,
        reason,
    };
    let mut r = Reader::new(bytes);
    let version = r.u8().map_err(|e| corrupt(e.to_string()))?;
    if version != APPLIED_FORMAT_VERSION {
        return Err(corrupt(format!("unknown applied record version {version}")));
    }
    let state = r.u8().map_err(|e| corrupt(e.to_string()))?;
    let index = r.u64().map_err(|e| corrupt(e.to_string()))?;
    r.finish().map_err(|e| corrupt(e.to_string()))?;
    if state != STATE_CLEAN && state != STATE_RESTORING {
        return Err(corrupt(format!("unknown applied record state {state}")));
    }
    Ok((state, index))
}

/// How the applied record is named in a corruption report.
const APPLIED_INDEX_KEY_NAME: &str = "the applied-index record";

fn reply_error(kind: u8, reason: &str) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(reason.as_bytes());
    out
}

fn write_bound(w: &mut Writer, bound: &Bound<Vec<u8>>) {
    match bound {
        Bound::Unbounded => w.u8(0),
        Bound::Included(key) => w.u8(1).bytes(key),
        Bound::Excluded(key) => w.u8(2).bytes(key),
    };
}

fn read_bound(r: &mut Reader<'_>) -> std::result::Result<Bound<Vec<u8>>, String> {
    match r.u8().map_err(|e| e.to_string())? {
        0 => Ok(Bound::Unbounded),
        1 => Ok(Bound::Included(r.bytes().map_err(|e| e.to_string())?)),
        2 => Ok(Bound::Excluded(r.bytes().map_err(|e| e.to_string())?)),
        other => Err(format!("unknown bound {other}")),
    }
}

/// The query "the value of `key`".
pub fn get_query(key: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(QUERY_GET).bytes(key);
    w.into_bytes()
}

/// The query "up to `limit` entries of `range` in `direction`".
pub fn scan_query(range: &KeyRange, direction: ScanDirection, limit: usize) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(QUERY_SCAN);
    write_bound(&mut w, &range.start);
    write_bound(&mut w, &range.end);
    w.u8(match direction {
        ScanDirection::Forward => 0,
        ScanDirection::Reverse => 1,
    })
    .u64(limit as u64);
    w.into_bytes()
}

/// The error a non-OK reply stands for.
fn reply_failure(reply: &[u8]) -> StorageError {
    let reason = String::from_utf8_lossy(reply.get(1..).unwrap_or_default()).into_owned();
    match reply.first() {
        Some(&REPLY_REJECTED) => StorageError::InvalidBatch { reason },
        _ => StorageError::Failed {
            reason: format!("a replica's engine failed: {reason}"),
        },
    }
}

fn garbled(what: &str, e: DecodeError) -> StorageError {
    StorageError::Failed {
        reason: format!("a garbled {what} reply from a replica: {e}"),
    }
}

/// The result of applying a write, from its reply.
pub fn decode_write_reply(reply: &[u8]) -> Result<()> {
    match reply {
        [REPLY_OK] => Ok(()),
        _ => Err(reply_failure(reply)),
    }
}

/// The answer to a [`get_query`].
pub fn decode_get_reply(reply: &[u8]) -> Result<Option<Vec<u8>>> {
    if reply.first() != Some(&REPLY_OK) {
        return Err(reply_failure(reply));
    }
    let mut r = Reader::new(reply.get(1..).unwrap_or_default());
    let value = match r.u8().map_err(|e| garbled("get", e))? {
        0 => None,
        _ => Some(r.bytes().map_err(|e| garbled("get", e))?),
    };
    r.finish().map_err(|e| garbled("get", e))?;
    Ok(value)
}

/// Whether a query's answer is a success (not a failed engine's or a
/// refused query's error), without decoding it.
pub fn is_ok_reply(reply: &[u8]) -> bool {
    reply.first() == Some(&REPLY_OK)
}

/// The answer to a [`scan_query`].
pub fn decode_scan_reply(reply: &[u8]) -> Result<Vec<KeyValue>> {
    if reply.first() != Some(&REPLY_OK) {
        return Err(reply_failure(reply));
    }
    let mut r = Reader::new(reply.get(1..).unwrap_or_default());
    let count = r
        .count(reply.len() / SNAPSHOT_ENTRY_BYTES_MIN, "scan entries")
        .map_err(|e| garbled("scan", e))?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let key = r.bytes().map_err(|e| garbled("scan", e))?;
        let value = r.bytes().map_err(|e| garbled("scan", e))?;
        entries.push((key, value));
    }
    r.finish().map_err(|e| garbled("scan", e))?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use step01_kv::store::{KvOptions, KvStore, encode_batch};
    use step01_kv::wal::FsyncPolicy;

    fn open(dir: &std::path::Path) -> PartitionMachine<KvStore> {
        let store = KvStore::open(dir, KvOptions::with_fsync(FsyncPolicy::Never)).unwrap();
        PartitionMachine::open(store).unwrap()
    }

    fn put(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        encode_batch(&batch)
    }

    fn get(machine: &PartitionMachine<KvStore>, key: &[u8]) -> Option<Vec<u8>> {
        decode_get_reply(&machine.query(&get_query(key))).unwrap()
    }

    #[test]
    fn ex04_6_the_engine_remembers_its_applied_index_and_skips_replays() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut machine = open(dir.path());
            assert_eq!(machine.apply(3, &put(b"k", b"v3")), vec![REPLY_OK]);
            assert_eq!(machine.apply(5, &put(b"k", b"v5")), vec![REPLY_OK]);
            assert_eq!(machine.applied_index(), 5);
        }
        let mut machine = open(dir.path());
        assert_eq!(machine.applied_index(), 5, "recovered from the engine");
        // A replay of entry 3 must not bring back its older value.
        assert_eq!(machine.apply(3, &put(b"k", b"v3")), vec![REPLY_OK]);
        assert_eq!(get(&machine, b"k"), Some(b"v5".to_vec()));
        machine.apply(6, &put(b"k", b"v6"));
        assert_eq!(get(&machine, b"k"), Some(b"v6".to_vec()));
        assert_eq!(machine.applied_index(), 6);
    }

    #[test]
    fn ex04_6_a_rejected_payload_still_moves_the_applied_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut machine = open(dir.path());
        let reply = machine.apply(1, b"not a batch");
        assert!(matches!(
            decode_write_reply(&reply),
            Err(StorageError::InvalidBatch { .. })
        ));
        assert_eq!(machine.applied_index(), 1);
        let reserved = put(APPLIED_INDEX_KEY, b"x");
        assert!(decode_write_reply(&machine.apply(2, &reserved)).is_err());
        assert_eq!(machine.applied_index(), 2);
        assert!(machine.failure().is_none());
    }

    #[test]
    fn the_applied_record_is_hidden_from_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut machine = open(dir.path());
        machine.apply(1, &put(b"\xff", b"1"));
        assert_eq!(get(&machine, APPLIED_INDEX_KEY), None);
        for direction in [ScanDirection::Forward, ScanDirection::Reverse] {
            for limit in [1, 2, usize::MAX] {
                let reply = machine.query(&scan_query(&KeyRange::all(), direction, limit));
                assert_eq!(
                    decode_scan_reply(&reply).unwrap(),
                    vec![(b"\xff".to_vec(), b"1".to_vec())]
                );
            }
        }
    }

    #[test]
    fn snapshots_restore_elsewhere_and_are_skipped_where_the_engine_is_ahead() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut leader = open(a.path());
        for i in 1..=300u32 {
            leader.apply(u64::from(i), &put(&i.to_be_bytes(), b"v"));
        }
        let snapshot = leader.snapshot().unwrap();
        let mut follower = open(b.path());
        follower.apply(1, &put(b"stale", b"x"));
        follower.restore(&snapshot).unwrap();
        assert_eq!(follower.applied_index(), 300);
        assert_eq!(get(&follower, b"stale"), None, "restore replaces the state");
        let all = decode_scan_reply(&follower.query(&scan_query(
            &KeyRange::all(),
            ScanDirection::Forward,
            usize::MAX,
        )))
        .unwrap();
        assert_eq!(all.len(), 300);
        // Ahead of the snapshot: kept as it is.
        follower.apply(301, &put(b"new", b"n"));
        follower.restore(&snapshot).unwrap();
        assert_eq!(get(&follower, b"new"), Some(b"n".to_vec()));
        let mut truncated = snapshot.clone();
        truncated[1..9].copy_from_slice(&1000u64.to_le_bytes());
        truncated.pop();
        assert!(follower.restore(&truncated).is_err(), "a damaged snapshot");
    }

    #[test]
    fn a_restore_interrupted_by_a_crash_is_undone_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut machine = open(dir.path());
            machine.apply(7, &put(b"k", b"v"));
            machine.write_applied(STATE_RESTORING, 0).unwrap();
        }
        let machine = open(dir.path());
        assert_eq!(machine.applied_index(), 0);
        assert_eq!(
            get(&machine, b"k"),
            None,
            "a half-restored engine is emptied"
        );
    }
}
