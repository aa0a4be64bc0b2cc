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
//! * `restore(snapshot())` gives back an equal state.
//! * `snapshot` may refuse (a state too large for one snapshot, a failed
//!   disk): the replica then keeps its log and asks again later. Refusing
//!   is always safe; compacting the log past a state that is not durable
//!   would not be.

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::LogIndex;
use std::collections::BTreeMap;

/// A deterministic state machine fed by the replicated log.
pub trait StateMachine {
    /// Applies the committed write `payload` at log `index`; the result is
    /// sent to the client that wrote it.
    fn apply(&mut self, index: LogIndex, payload: &[u8]) -> Vec<u8>;
    /// Answers a read from the current state, without changing it.
    fn query(&self, query: &[u8]) -> Vec<u8>;
    /// The whole state, as bytes for a snapshot, or why not now.
    fn snapshot(&self) -> Result<Vec<u8>, SnapshotError>;
    /// Replaces the whole state by a snapshot's.
    fn restore(&mut self, data: &[u8]) -> Result<(), DecodeError>;
}

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

impl StateMachine for KvMachine {
    fn apply(&mut self, index: LogIndex, payload: &[u8]) -> Vec<u8> {
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

    fn snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        let mut w = Writer::new();
        w.u32(self.map.len() as u32);
        for (key, value) in &self.map {
            w.bytes(key).bytes(value);
        }
        Ok(w.into_bytes())
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader::new(data);
        let n = r.count(KV_KEYS_MAX, "keys")?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let key = r.bytes()?;
            let value = r.bytes()?;
            if map.insert(key, value).is_some() {
                return Err(DecodeError("a key appears twice".to_string()));
            }
        }
        r.finish()?;
        self.map = map;
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
            kv.apply(u64::from(i), &KvMachine::put(&[i], &[i, i]));
        }
        let mut copy = KvMachine::new();
        copy.restore(&kv.snapshot().unwrap()).unwrap();
        assert_eq!(copy, kv);
        let snapshot = kv.snapshot().unwrap();
        assert!(copy.restore(&snapshot[..snapshot.len() - 1]).is_err());
        assert_eq!(copy, kv, "a failed restore leaves the state alone");
    }
}
