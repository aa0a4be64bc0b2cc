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
//! # Checkpoints and snapshots
//!
//! The engine is durable on its own, so a checkpoint (what the replica's
//! log keeps in place of the entries it drops) is only a marker: "the
//! engine held index n, synced". Compaction therefore costs one sync, not
//! a copy of the partition, whatever its size. A follower that needs the
//! state gets it from the leader's engine in chunks, staged in a file
//! beside the engine (`group/staging.rs`) and copied in once complete.
//!
//! # Formats
//!
//! ```text
//! applied record  version u8 (2) | state u8 (0 clean, 1 restoring) | index u64 | consistent_from u64
//!                 (version 1, without consistent_from, is still read)
//! checkpoint      version u8 (2) | applied index u64
//! old snapshot    version u8 (1) | applied index u64 | count u32 | (key, value)*
//! chunk           count u32 | (key, value)*, keys increasing
//! ```
//!
//! Logs written before checkpoints were markers hold whole-partition
//! snapshots (version 1); they are still restored from.
//!
//! Invariants: the engine's applied record equals the index of the last
//! write entry whose batch is in the engine; a checkpoint is returned only
//! after the engine synced; a restore that crashed half way is finished
//! from its complete staging file, or undone, before the engine is used.

use super::query::{
    PAIR_BYTES_MIN, QUERY_GET, QUERY_SCAN, REPLY_FAILED, REPLY_OK, REPLY_REJECTED, read_bound,
    reply_error,
};
use super::staging::{Finished, Staging};
use crate::codec::{DecodeError, Reader, Writer};
use crate::state_machine::{Chunk, SnapshotError, StateMachine, decode_pairs, encode_pairs};
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

/// The largest old-format (whole-partition) snapshot still read, in bytes:
/// one record of the replica's log, less room for its own header.
pub const PARTITION_SNAPSHOT_BYTES_MAX: usize = RECORD_PAYLOAD_BYTES_MAX - 64 * 1024;
/// Entries read from the engine per call while dumping or clearing it.
pub const ENGINE_CHUNK_ITEMS: usize = 256;
/// The largest batch a restore writes at once, in bytes.
pub const RESTORE_BATCH_BYTES_MAX: usize = 1024 * 1024;

const APPLIED_FORMAT_VERSION_1: u8 = 1;
const APPLIED_FORMAT_VERSION: u8 = 2;
/// Whole-partition snapshots, as logs written before checkpoints hold them.
const SNAPSHOT_FORMAT_VERSION: u8 = 1;
const CHECKPOINT_FORMAT_VERSION: u8 = 2;
const STATE_CLEAN: u8 = 0;
const STATE_RESTORING: u8 = 1;

/// A partition replica's state: an engine and the last log index it holds.
#[derive(Debug)]
pub struct PartitionMachine<E> {
    engine: E,
    /// The index of the last write entry whose batch is in the engine.
    applied: LogIndex,
    /// See [`StateMachine::consistent_from`].
    consistent_from: LogIndex,
    /// Set when the engine failed (an I/O error): this replica can no
    /// longer vouch for its state, and its host stops it.
    failure: Option<String>,
    /// The chunks of a snapshot being received.
    staging: Staging,
}

impl<E: StorageEngine> PartitionMachine<E> {
    /// Wraps an engine opened from a replica's directory `dir`, reading its
    /// applied index; finishes or undoes a restore that a crash
    /// interrupted.
    pub fn open(engine: E, dir: &std::path::Path) -> Result<PartitionMachine<E>> {
        let mut machine = PartitionMachine {
            engine,
            applied: 0,
            consistent_from: 0,
            failure: None,
            staging: Staging::new(dir),
        };
        let record = match machine.engine.get(APPLIED_INDEX_KEY)? {
            None => None,
            Some(bytes) => Some(decode_applied(&bytes)?),
        };
        match record {
            Some(Applied {
                state: STATE_RESTORING,
                ..
            }) => match machine.staging.finished()? {
                // The staged snapshot is complete: copy it in again.
                Some(finished) => machine.copy_in(finished)?,
                // An old-style restore died half way: the engine holds a
                // mix of two states. Empty it; the log or a snapshot
                // refills it.
                None => {
                    machine.clear()?;
                    machine.write_applied(STATE_CLEAN, 0)?;
                }
            },
            Some(applied) => {
                machine.applied = applied.index;
                machine.consistent_from = applied.consistent_from;
            }
            None => {}
        }
        // What is left of an unfinished transfer: the leader sends again.
        machine.staging.remove()?;
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
        batch.put(
            APPLIED_INDEX_KEY,
            encode_applied(state, index, self.consistent_from),
        );
        self.engine.write(batch).map(|_| ())
    }

    // ANCHOR: copy_in
    /// Replaces the engine's contents by the complete staged snapshot:
    /// marked "restoring" until the last chunk is in, synced, and only then
    /// is the staging file removed.
    fn copy_in(&mut self, finished: Finished) -> Result<()> {
        self.write_applied(STATE_RESTORING, 0)?;
        self.applied = 0;
        self.clear()?;
        self.staging.for_each_chunk(|data| {
            let pairs = decode_chunk(data).map_err(|e| StorageError::Corruption {
                file: super::staging::STAGING_FILE_NAME.into(),
                offset: 0,
                reason: e.0,
            })?;
            let mut batch = WriteBatch::new();
            for (key, value) in pairs {
                batch.put(key, value);
            }
            if batch.is_empty() {
                return Ok(());
            }
            self.engine.write(batch).map(|_| ())
        })?;
        self.consistent_from = finished.consistent_from;
        self.write_applied(STATE_CLEAN, finished.index)?;
        self.applied = finished.index;
        self.engine.sync()?;
        self.staging.remove()
    }
    // ANCHOR_END: copy_in

    /// Every live entry after `after` (all, for `None`) but the applied
    /// record, in key order, a chunk at a time, until `visit` says stop.
    fn for_each_chunk(
        &self,
        after: Option<&[u8]>,
        mut visit: impl FnMut(Vec<KeyValue>) -> Result<bool>,
    ) -> Result<()> {
        let start = after.map_or(Bound::Unbounded, |key| Bound::Excluded(key.to_vec()));
        let mut range = KeyRange::new(start, Bound::Unbounded);
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
            if !visit(entries)? {
                return Ok(());
            }
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
        self.for_each_chunk(None, |entries| {
            if entries.is_empty() {
                return Ok(true);
            }
            let mut batch = WriteBatch::new();
            for (key, _) in entries {
                batch.delete(key);
            }
            self.engine.write(batch).map(|_| true)
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

    /// Restores from a whole-partition snapshot, as logs written before
    /// checkpoints hold them: kept as it is where the engine is ahead.
    fn restore_old_snapshot(&mut self, mut r: Reader<'_>) -> std::result::Result<(), DecodeError> {
        let index = r.u64()?;
        if index <= self.applied && self.failure.is_none() {
            return Ok(());
        }
        let count = r.count(
            PARTITION_SNAPSHOT_BYTES_MAX / PAIR_BYTES_MIN,
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
        batch.put(
            APPLIED_INDEX_KEY,
            encode_applied(STATE_CLEAN, index, self.consistent_from),
        );
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
        match answer(&self.engine, query) {
            Ok(reply) => reply,
            Err(reason) => reply_error(REPLY_FAILED, &reason),
        }
    }

    fn applied_index(&self) -> LogIndex {
        self.applied
    }

    fn consistent_from(&self) -> LogIndex {
        self.consistent_from
    }

    // ANCHOR: partition_snapshot
    /// Syncs the engine — so the log is never compacted past what the
    /// engine has made durable — and returns a marker of what it holds.
    fn checkpoint(&self) -> std::result::Result<Vec<u8>, SnapshotError> {
        if let Some(reason) = &self.failure {
            return Err(SnapshotError(reason.clone()));
        }
        self.engine
            .sync()
            .map_err(|e| SnapshotError(e.to_string()))?;
        let mut w = Writer::new();
        w.u8(CHECKPOINT_FORMAT_VERSION).u64(self.applied);
        Ok(w.into_bytes())
    }

    /// At a restart: the engine must hold the checkpoint's index or later
    /// (it synced before the checkpoint was written). An old-format
    /// snapshot holds the whole partition, and replaces the engine's
    /// contents where the engine is behind it.
    fn restore(&mut self, data: &[u8]) -> std::result::Result<(), DecodeError> {
        let mut r = Reader::new(data);
        match r.u8()? {
            CHECKPOINT_FORMAT_VERSION => {
                let index = r.u64()?;
                r.finish()?;
                if index > self.applied || self.failure.is_some() {
                    return Err(DecodeError(format!(
                        "the engine holds entries up to {}, but the log was compacted through {index}",
                        self.applied
                    )));
                }
                Ok(())
            }
            SNAPSHOT_FORMAT_VERSION => self.restore_old_snapshot(r),
            version => Err(DecodeError(format!("unknown snapshot version {version}"))),
        }
    }
    // ANCHOR_END: partition_snapshot

    /// The live entries after `after`, in key order, up to about
    /// `bytes_max` bytes (the applied record is never part of a chunk).
    fn read_chunk(
        &self,
        after: Option<&[u8]>,
        bytes_max: usize,
    ) -> std::result::Result<Chunk, SnapshotError> {
        if let Some(reason) = &self.failure {
            return Err(SnapshotError(reason.clone()));
        }
        let (mut pairs, mut bytes): (Vec<KeyValue>, usize) = (Vec::new(), 0);
        // The budget is found spent only at an entry that does not fit:
        // so a chunk is the last one exactly when none was left out.
        let mut budget_spent = false;
        self.for_each_chunk(after, |entries| {
            for (key, value) in entries {
                if !pairs.is_empty() && bytes >= bytes_max {
                    budget_spent = true;
                    return Ok(false);
                }
                bytes += key.len() + value.len();
                pairs.push((key, value));
            }
            Ok(true)
        })
        .map_err(|e| SnapshotError(e.to_string()))?;
        let last_key = pairs.last().map(|(key, _)| key.clone());
        let mut w = Writer::new();
        encode_pairs(
            &mut w,
            pairs.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        );
        Ok(Chunk {
            data: w.into_bytes(),
            last_key,
            done: !budget_spent,
        })
    }

    fn stage_chunk(&mut self, first: bool, data: &[u8]) -> std::result::Result<(), DecodeError> {
        decode_chunk(data)?;
        let staged = if first {
            self.staging.begin()
        } else if self.staging.is_open() {
            Ok(())
        } else {
            return Err(DecodeError("a chunk with no transfer begun".to_string()));
        };
        staged
            .and_then(|()| self.staging.append_chunk(data))
            .map_err(|e| DecodeError(format!("staging a snapshot chunk: {e}")))
    }

    fn install_staged(
        &mut self,
        index: LogIndex,
        consistent_from: LogIndex,
    ) -> std::result::Result<(), DecodeError> {
        let finished = Finished {
            index,
            consistent_from,
        };
        let result = self
            .staging
            .finish(finished)
            .and_then(|()| self.copy_in(finished));
        result.map_err(|e| {
            self.failure = Some(e.to_string());
            DecodeError(format!("the engine failed during a restore: {e}"))
        })
    }
}

/// The applied record, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Applied {
    state: u8,
    index: LogIndex,
    consistent_from: LogIndex,
}

fn encode_applied(state: u8, index: LogIndex, consistent_from: LogIndex) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(APPLIED_FORMAT_VERSION)
        .u8(state)
        .u64(index)
        .u64(consistent_from);
    w.into_bytes()
}

fn decode_applied(bytes: &[u8]) -> Result<Applied> {
    let corrupt = |reason: String| StorageError::Corruption {
        file: APPLIED_INDEX_KEY_NAME.into(),
        offset: 0,
        reason,
    };
    let mut r = Reader::new(bytes);
    let version = r.u8().map_err(|e| corrupt(e.to_string()))?;
    if version != APPLIED_FORMAT_VERSION && version != APPLIED_FORMAT_VERSION_1 {
        return Err(corrupt(format!("unknown applied record version {version}")));
    }
    let state = r.u8().map_err(|e| corrupt(e.to_string()))?;
    let index = r.u64().map_err(|e| corrupt(e.to_string()))?;
    let consistent_from = if version == APPLIED_FORMAT_VERSION {
        r.u64().map_err(|e| corrupt(e.to_string()))?
    } else {
        0
    };
    r.finish().map_err(|e| corrupt(e.to_string()))?;
    if state != STATE_CLEAN && state != STATE_RESTORING {
        return Err(corrupt(format!("unknown applied record state {state}")));
    }
    Ok(Applied {
        state,
        index,
        consistent_from,
    })
}

/// A chunk's pairs, refusing the reserved key.
fn decode_chunk(data: &[u8]) -> std::result::Result<Vec<KeyValue>, DecodeError> {
    let mut r = Reader::new(data);
    let pairs = decode_pairs(&mut r, data.len() / PAIR_BYTES_MIN)?;
    r.finish()?;
    if pairs.iter().any(|(key, _)| key == APPLIED_INDEX_KEY) {
        return Err(DecodeError("a chunk holds the reserved key".into()));
    }
    Ok(pairs)
}

/// How the applied record is named in a corruption report.
const APPLIED_INDEX_KEY_NAME: &str = "the applied-index record";

/// Answers `query` from `engine`, hiding the applied record.
pub(super) fn answer<E: StorageEngine>(
    engine: &E,
    query: &[u8],
) -> std::result::Result<Vec<u8>, String> {
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
                engine.get(&key).map_err(|e| e.to_string())?
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
            let limit = usize::try_from(r.u64().map_err(|e| e.to_string())?).unwrap_or(usize::MAX);
            r.finish().map_err(|e| e.to_string())?;
            let range = KeyRange::new(start, end);
            // One more than asked: the applied record may be among them.
            let mut entries = engine
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

#[cfg(test)]
mod tests {
    use super::super::query::{
        decode_get_reply, decode_scan_reply, decode_write_reply, get_query, scan_query,
    };
    use super::*;
    use step01_kv::store::{KvOptions, KvStore, encode_batch};
    use step01_kv::wal::FsyncPolicy;

    fn open(dir: &std::path::Path) -> PartitionMachine<KvStore> {
        let store = KvStore::open(
            dir.join("engine"),
            KvOptions::with_fsync(FsyncPolicy::Never),
        )
        .unwrap();
        PartitionMachine::open(store, dir).unwrap()
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

    fn all(machine: &PartitionMachine<KvStore>) -> Vec<KeyValue> {
        decode_scan_reply(&machine.query(&scan_query(
            &KeyRange::all(),
            ScanDirection::Forward,
            usize::MAX,
        )))
        .unwrap()
    }

    /// Reads `from` in chunks of about `bytes` and stages them in `to`.
    fn transfer(
        from: &PartitionMachine<KvStore>,
        to: &mut PartitionMachine<KvStore>,
        bytes: usize,
    ) -> usize {
        let (mut after, mut count) = (None, 0);
        loop {
            let chunk = from.read_chunk(after.as_deref(), bytes).unwrap();
            to.stage_chunk(count == 0, &chunk.data).unwrap();
            count += 1;
            after = chunk.last_key;
            if chunk.done {
                return count;
            }
        }
    }

    #[test]
    fn a_state_read_in_chunks_installs_elsewhere_and_replaces_what_was_there() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut leader = open(a.path());
        for i in 1..=300u32 {
            leader.apply(u64::from(i), &put(&i.to_be_bytes(), b"value"));
        }
        let mut follower = open(b.path());
        follower.apply(1, &put(b"stale", b"x"));
        let chunks = transfer(&leader, &mut follower, 1000);
        assert!(chunks > 2, "{chunks} chunks");
        assert_eq!(
            get(&follower, b"stale"),
            Some(b"x".to_vec()),
            "staged aside"
        );
        follower.install_staged(300, 310).unwrap();
        assert_eq!(follower.applied_index(), 300);
        assert_eq!(follower.consistent_from(), 310);
        assert_eq!(get(&follower, b"stale"), None, "the state is replaced");
        assert_eq!(all(&follower), all(&leader));
        assert!(
            !b.path()
                .join(super::super::staging::STAGING_FILE_NAME)
                .exists()
        );
        drop(follower);
        let follower = open(b.path());
        assert_eq!(
            (follower.applied_index(), follower.consistent_from()),
            (300, 310)
        );
        // An empty machine reads as one empty, final chunk.
        let empty = open(tempfile::tempdir().unwrap().path());
        let chunk = empty.read_chunk(None, 1000).unwrap();
        assert!(chunk.done && chunk.last_key.is_none());
    }

    #[test]
    fn a_checkpoint_restores_only_an_engine_that_holds_it() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut machine = open(a.path());
        machine.apply(5, &put(b"k", b"v"));
        let checkpoint = machine.checkpoint().unwrap();
        assert!(checkpoint.len() < 16, "a marker, not the partition");
        machine.restore(&checkpoint).unwrap();
        let mut empty = open(b.path());
        assert!(
            empty.restore(&checkpoint).is_err(),
            "the engine lost what it synced"
        );
        assert!(empty.restore(&[9]).is_err(), "an unknown version");
    }

    #[test]
    fn an_old_whole_partition_snapshot_still_restores() {
        let dir = tempfile::tempdir().unwrap();
        let mut machine = open(dir.path());
        machine.apply(1, &put(b"stale", b"x"));
        let mut w = Writer::new();
        w.u8(SNAPSHOT_FORMAT_VERSION).u64(40).u32(2);
        w.bytes(b"a").bytes(b"1").bytes(b"b").bytes(b"2");
        machine.restore(&w.into_bytes()).unwrap();
        assert_eq!(machine.applied_index(), 40);
        assert_eq!(
            all(&machine),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
    }

    #[test]
    fn a_crash_while_copying_a_complete_snapshot_in_is_finished_on_open() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut leader = open(a.path());
        for i in 1..=50u32 {
            leader.apply(u64::from(i), &put(&i.to_be_bytes(), b"v"));
        }
        {
            let mut follower = open(b.path());
            follower.apply(1, &put(b"old", b"x"));
            transfer(&leader, &mut follower, 100);
            follower
                .staging
                .finish(Finished {
                    index: 50,
                    consistent_from: 50,
                })
                .unwrap();
            // The copy began (the engine is marked) and the process died.
            follower.write_applied(STATE_RESTORING, 0).unwrap();
        }
        let follower = open(b.path());
        assert_eq!(follower.applied_index(), 50);
        assert_eq!(all(&follower), all(&leader));
        // An unfinished transfer is thrown away on open, the engine untouched.
        let mut again = follower;
        transfer(&leader, &mut again, 100);
        drop(again);
        let reopened = open(b.path());
        assert_eq!(all(&reopened), all(&leader));
        assert!(
            !b.path()
                .join(super::super::staging::STAGING_FILE_NAME)
                .exists()
        );
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
