//! What the replicated log drives: a deterministic state machine.
//!
//! Every replica applies the same committed entries in the same order to
//! its own copy of the state machine; if `apply` is deterministic, every
//! copy goes through the same states. That is *state machine replication*,
//! and it is why the log only has to agree on opaque bytes.
//!
//! In this chapter the state machine is [`KvMachine`], a map from keys to
//! values. A later chapter plugs in a partition's storage engine instead:
//! the [`StateMachine`] trait is the extension point.
//!
//! Rules for implementations:
//! * `apply` must be deterministic and must not fail: a payload it cannot
//!   understand gets a deterministic error *reply*, so that all replicas
//!   still agree on the state.
//! * A machine remembers the last index it applied, and `apply` at or below
//!   it changes nothing: replaying log entries the state already holds is
//!   harmless. That is what lets the log be compacted at any index up to
//!   the applied one, and what makes a *fuzzy* snapshot correct (below).
//! * `checkpoint` makes the state durable through the applied index, and
//!   returns what the log keeps in place of the entries it drops: the whole
//!   state for a machine without a disk of its own ([`KvMachine`]), or a
//!   small marker for one that keeps its own durable copy (a partition's
//!   storage engine). `restore(checkpoint())` gives back an equal state.
//!   It may refuse (a failed disk): the replica keeps its log and asks
//!   again later. Refusing is always safe; compacting the log past a state
//!   that is not durable would not be.
//!
//! # Snapshots travel in chunks, and may be fuzzy
//!
//! A follower that needs entries the leader has dropped gets the state
//! instead, in chunks of at most [`SNAPSHOT_CHUNK_BYTES_MAX`], in key order
//! (`read_chunk`). The leader keeps applying writes while it sends, so
//! chunk *k* shows the state at some index `read_at(k)`, each at least the
//! index the transfer began at. The follower stages the chunks aside
//! (`stage_chunk`) and swaps them in at once (`install_staged`) as the state
//! at the transfer's first index, then applies the log from there. Because
//! entries are plain puts and deletes, replaying one whose effect a chunk
//! already shows is harmless: once the follower has applied up to the
//! largest `read_at`, its state is exactly the leader's at that index. Until
//! then it is *fuzzy* (`consistent_from`) and serves no reads.

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::LogIndex;
use std::collections::BTreeMap;
use std::ops::Bound;

// ANCHOR: state_machine
/// A deterministic state machine fed by the replicated log.
pub trait StateMachine {
    /// Applies the committed write `payload` at log `index`; the result is
    /// sent to the client that wrote it. At or below
    /// [`applied_index`](StateMachine::applied_index) it changes nothing.
    fn apply(&mut self, index: LogIndex, payload: &[u8]) -> Vec<u8>;
    /// Answers a read from the current state, without changing it.
    fn query(&self, query: &[u8]) -> Vec<u8>;
    /// The last log index whose write the state holds (0: none).
    fn applied_index(&self) -> LogIndex;
    /// The state is one the log produced only once the machine has applied
    /// up to here; above 0 only after a fuzzy snapshot was installed.
    fn consistent_from(&self) -> LogIndex;
    /// Makes the state durable through the applied index; returns what the
    /// log keeps instead of the entries it drops, or why not now.
    fn checkpoint(&self) -> Result<Vec<u8>, SnapshotError>;
    /// At a restart: the state as of the log's last checkpoint (or later).
    fn restore(&mut self, checkpoint: &[u8]) -> Result<(), DecodeError>;
    /// The current state's next chunk in key order, after the key `after`,
    /// of about `bytes_max` bytes (at least one entry).
    fn read_chunk(&self, after: Option<&[u8]>, bytes_max: usize) -> Result<Chunk, SnapshotError>;
    /// Stages a chunk of an incoming snapshot aside; `first` drops whatever
    /// an earlier, unfinished transfer staged.
    fn stage_chunk(&mut self, first: bool, data: &[u8]) -> Result<(), DecodeError>;
    /// Replaces the state by the staged chunks, as the state at `index`,
    /// fuzzy until `consistent_from` is applied.
    fn install_staged(
        &mut self,
        index: LogIndex,
        consistent_from: LogIndex,
    ) -> Result<(), DecodeError>;
}

/// One chunk of a snapshot transfer, as [`StateMachine::read_chunk`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The machine's own encoding of a run of its state.
    pub data: Vec<u8>,
    /// The last key the chunk holds: where the next one starts.
    pub last_key: Option<Vec<u8>>,
    /// No key follows this chunk.
    pub done: bool,
}
// ANCHOR_END: state_machine

/// The most bytes of state one snapshot chunk carries (one more entry may
/// push a chunk past it by at most that entry's size).
pub const SNAPSHOT_CHUNK_BYTES_MAX: usize = 256 * 1024;

/// Why a state machine cannot take a snapshot right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotError(pub String);

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no snapshot: {}", self.0)
    }
}

impl std::error::Error for SnapshotError {}

/// The largest key [`KvMachine`] stores, in bytes.
pub const KV_KEY_BYTES_MAX: usize = 1024;
/// The most keys one [`KvMachine`] snapshot may hold.
pub const KV_KEYS_MAX: usize = 1 << 20;
/// The most applied entries [`KvMachine`]'s journal keeps before the oldest
/// are dropped (see [`KvMachine::with_journal`]).
pub const KV_JOURNAL_ENTRIES_MAX: usize = 1 << 16;

const PUT: u8 = 1;
const DELETE: u8 = 2;

/// A map from keys to values: the state machine of this chapter's tests,
/// simulator and TCP nodes.
///
/// Writes are [`KvMachine::put`] and [`KvMachine::delete`] commands; their
/// reply is the previous value (like DynamoDB's `ReturnValues: ALL_OLD`).
/// A query is a key; its reply the value. Values are returned encoded by
/// [`encode_value`]: `0` for none, `1` and the bytes for some.
#[derive(Clone, Debug, Default)]
pub struct KvMachine {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// What was applied, for an observer (the simulator checks that every
    /// replica applies the same payload at each index). Not part of the
    /// state: snapshots and equality ignore it.
    journal: Option<Vec<(LogIndex, Vec<u8>)>>,
    /// The last index applied; `apply` at or below it changes nothing.
    applied: LogIndex,
    /// See [`StateMachine::consistent_from`].
    consistent_from: LogIndex,
    /// The chunks of a snapshot being received.
    staged: Option<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl PartialEq for KvMachine {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl Eq for KvMachine {}

impl KvMachine {
    pub fn new() -> KvMachine {
        KvMachine::default()
    }

    /// A machine that records every applied `(index, payload)` until
    /// [`KvMachine::take_journal`] collects them.
    pub fn with_journal() -> KvMachine {
        KvMachine {
            journal: Some(Vec::new()),
            ..KvMachine::default()
        }
    }

    /// The applied entries recorded since the last call.
    pub fn take_journal(&mut self) -> Vec<(LogIndex, Vec<u8>)> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The command "set `key` to `value`".
    pub fn put(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(PUT).bytes(key).bytes(value);
        w.into_bytes()
    }

    /// The command "remove `key`".
    pub fn delete(key: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(DELETE).bytes(key);
        w.into_bytes()
    }

    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.map
    }

    fn execute(&mut self, payload: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
        let mut r = Reader::new(payload);
        let tag = r.u8()?;
        let key = r.bytes()?;
        if key.len() > KV_KEY_BYTES_MAX {
            return Err(DecodeError(format!("key of {} bytes", key.len())));
        }
        match tag {
            PUT => {
                let value = r.bytes()?;
                r.finish()?;
                Ok(self.map.insert(key, value))
            }
            DELETE => {
                r.finish()?;
                Ok(self.map.remove(&key))
            }
            other => Err(DecodeError(format!("unknown command {other}"))),
        }
    }
}

/// `0` for no value, `1` followed by the bytes for a value.
pub fn encode_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![0],
        Some(bytes) => {
            let mut out = Vec::with_capacity(bytes.len() + 1);
            out.push(1);
            out.extend_from_slice(bytes);
            out
        }
    }
}

/// The inverse of [`encode_value`]; `Err` for anything else (such as the
/// error reply of a malformed command).
pub fn decode_value(bytes: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
    match bytes.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, rest)) => Ok(Some(rest.to_vec())),
        _ => Err(DecodeError("not an encoded value".to_string())),
    }
}

/// The reply to a command that does not decode: `2` and the reason.
fn error_reply(error: &DecodeError) -> Vec<u8> {
    let mut out = vec![2];
    out.extend_from_slice(error.0.as_bytes());
    out
}

/// A key and its value, as a snapshot chunk carries them.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Encodes a run of `(key, value)` pairs: `count u32 | (key, value)*`, the
/// format of snapshot chunks and of [`KvMachine`]'s checkpoints.
pub fn encode_pairs<'a>(
    w: &mut Writer,
    pairs: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
) {
    w.u32(pairs.len() as u32);
    for (key, value) in pairs {
        w.bytes(key).bytes(value);
    }
}

/// The inverse of [`encode_pairs`]: at most `count_max` pairs, keys strictly
/// increasing (a chunk is a run of the state in key order).
pub fn decode_pairs(r: &mut Reader<'_>, count_max: usize) -> Result<Vec<Pair>, DecodeError> {
    let count = r.count(count_max, "pairs")?;
    let mut pairs: Vec<Pair> = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let key = r.bytes()?;
        let value = r.bytes()?;
        if pairs.last().is_some_and(|(last, _)| *last >= key) {
            return Err(DecodeError("pairs out of key order".to_string()));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

impl StateMachine for KvMachine {
    fn apply(&mut self, index: LogIndex, payload: &[u8]) -> Vec<u8> {
        if index <= self.applied {
            return encode_value(None); // Replayed: the state already holds it.
        }
        self.applied = index;
        if let Some(journal) = &mut self.journal {
            if journal.len() >= KV_JOURNAL_ENTRIES_MAX {
                journal.remove(0);
            }
            journal.push((index, payload.to_vec()));
        }
        match self.execute(payload) {
            Ok(old) => encode_value(old.as_deref()),
            Err(error) => error_reply(&error),
        }
    }

    fn query(&self, key: &[u8]) -> Vec<u8> {
        encode_value(self.get(key))
    }

    fn applied_index(&self) -> LogIndex {
        self.applied
    }

    fn consistent_from(&self) -> LogIndex {
        self.consistent_from
    }

    /// The whole state: this machine has no disk of its own.
    fn checkpoint(&self) -> Result<Vec<u8>, SnapshotError> {
        let mut w = Writer::new();
        w.u64(self.applied).u64(self.consistent_from);
        encode_pairs(
            &mut w,
            self.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        );
        Ok(w.into_bytes())
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader::new(data);
        let applied = r.u64()?;
        let consistent_from = r.u64()?;
        let map = decode_pairs(&mut r, KV_KEYS_MAX)?.into_iter().collect();
        r.finish()?;
        self.map = map;
        self.applied = applied;
        self.consistent_from = consistent_from;
        Ok(())
    }

    fn read_chunk(&self, after: Option<&[u8]>, bytes_max: usize) -> Result<Chunk, SnapshotError> {
        let start = after.map_or(Bound::Unbounded, |key| Bound::Excluded(key.to_vec()));
        let mut run = self.map.range((start, Bound::Unbounded)).peekable();
        let (mut pairs, mut bytes) = (Vec::new(), 0);
        while let Some((key, value)) = run.next_if(|_| pairs.is_empty() || bytes < bytes_max) {
            bytes += key.len() + value.len();
            pairs.push((key.as_slice(), value.as_slice()));
        }
        let mut w = Writer::new();
        let last_key = pairs.last().map(|(key, _)| key.to_vec());
        encode_pairs(&mut w, pairs.into_iter());
        Ok(Chunk {
            data: w.into_bytes(),
            last_key,
            done: run.peek().is_none(),
        })
    }

    fn stage_chunk(&mut self, first: bool, data: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader::new(data);
        let pairs = decode_pairs(&mut r, KV_KEYS_MAX)?;
        r.finish()?;
        if first {
            self.staged = Some(BTreeMap::new());
        }
        let Some(staged) = &mut self.staged else {
            return Err(DecodeError("a chunk with no transfer begun".to_string()));
        };
        staged.extend(pairs);
        Ok(())
    }

    fn install_staged(
        &mut self,
        index: LogIndex,
        consistent_from: LogIndex,
    ) -> Result<(), DecodeError> {
        let Some(staged) = self.staged.take() else {
            return Err(DecodeError("no staged snapshot".to_string()));
        };
        self.map = staged;
        self.applied = index;
        self.consistent_from = consistent_from;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_and_deletes_reply_with_the_old_value() {
        let mut kv = KvMachine::with_journal();
        assert_eq!(kv.apply(1, &KvMachine::put(b"k", b"v1")), vec![0]);
        assert_eq!(
            kv.apply(2, &KvMachine::put(b"k", b"v2")),
            encode_value(Some(b"v1"))
        );
        assert_eq!(kv.query(b"k"), encode_value(Some(b"v2")));
        assert_eq!(
            kv.apply(3, &KvMachine::delete(b"k")),
            encode_value(Some(b"v2"))
        );
        assert_eq!(decode_value(&kv.query(b"k")).unwrap(), None);
        assert_eq!(kv.take_journal().len(), 3);
        assert!(kv.take_journal().is_empty());
    }

    #[test]
    fn a_malformed_command_gets_an_error_reply_and_changes_nothing() {
        let mut kv = KvMachine::new();
        let reply = kv.apply(1, b"\x09garbage");
        assert_eq!(reply[0], 2);
        assert!(decode_value(&reply).is_err());
        assert!(kv.is_empty());
    }

    #[test]
    fn snapshots_restore_an_equal_state() {
        let mut kv = KvMachine::new();
        for i in 0..20u8 {
            kv.apply(u64::from(i) + 1, &KvMachine::put(&[i], &[i, i]));
        }
        let mut copy = KvMachine::new();
        copy.restore(&kv.checkpoint().unwrap()).unwrap();
        assert_eq!(copy, kv);
        assert_eq!(copy.applied_index(), 20);
        let snapshot = kv.checkpoint().unwrap();
        assert!(copy.restore(&snapshot[..snapshot.len() - 1]).is_err());
        assert_eq!(copy, kv, "a failed restore leaves the state alone");
    }

    #[test]
    fn replayed_entries_change_nothing() {
        let mut kv = KvMachine::new();
        kv.apply(1, &KvMachine::put(b"k", b"v1"));
        kv.apply(2, &KvMachine::put(b"k", b"v2"));
        kv.apply(1, &KvMachine::put(b"k", b"v1"));
        assert_eq!(kv.get(b"k"), Some(&b"v2"[..]));
        assert_eq!(kv.applied_index(), 2);
    }

    #[test]
    fn a_state_read_in_chunks_installs_as_an_equal_state() {
        let mut kv = KvMachine::new();
        for i in 0..200u32 {
            kv.apply(
                u64::from(i) + 1,
                &KvMachine::put(&i.to_be_bytes(), &[7; 100]),
            );
        }
        let mut copy = KvMachine::new();
        copy.apply(1, &KvMachine::put(b"stale", b"x"));
        let (mut after, mut chunks) = (None, 0);
        loop {
            let chunk = kv.read_chunk(after.as_deref(), 1000).unwrap();
            copy.stage_chunk(chunks == 0, &chunk.data).unwrap();
            chunks += 1;
            after = chunk.last_key;
            if chunk.done {
                break;
            }
        }
        assert!(chunks > 10, "1000-byte chunks of 20 KB: {chunks}");
        assert_eq!(copy.get(b"stale"), Some(&b"x"[..]), "staged aside");
        copy.install_staged(200, 210).unwrap();
        assert_eq!(copy, kv);
        assert_eq!((copy.applied_index(), copy.consistent_from()), (200, 210));
        assert!(copy.install_staged(200, 210).is_err(), "nothing staged");
        assert!(copy.stage_chunk(false, b"\xff").is_err(), "a damaged chunk");
    }
}
