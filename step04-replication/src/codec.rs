//! Byte encodings of everything that leaves a replica: messages on the
//! wire, log entries and snapshots on disk, client requests and replies.
//!
//! Hand-written and boring on purpose: little-endian fixed-width integers,
//! byte strings prefixed with a `u32` length, a one-byte tag before each
//! enum variant. The decoder trusts nothing: every length is checked
//! against the bytes that remain and against a limit *before* anything is
//! allocated, every tag must be known, and every buffer must be consumed
//! exactly. (The frames and records that carry these bytes have their own
//! checksums; this layer catches a peer that speaks another version, or a
//! bug, instead of panicking on it.)
//!
//! Invariant: `decode(encode(x)) == x` for every value (tested below).

use crate::message::{AppendResult, Body, Message, Stamp};
use crate::replica::{Reply, Request};
use crate::types::{
    Config, Entry, EntryKind, HardState, MembershipChange, NodeId, RequestId, Snapshot,
    SnapshotChunk,
};
use std::collections::BTreeSet;
use std::fmt;

/// The largest byte string any decoder accepts (a snapshot's data, say).
pub const BYTES_MAX: usize = 64 * 1024 * 1024;
/// The most entries one message or record may carry.
pub const ENTRIES_MAX: usize = 4096;
/// The most replicas one configuration may name.
pub const MEMBERS_MAX: usize = 64;

/// Bytes that do not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed bytes: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

/// Appends encoded values to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// A length (`u32`) and the bytes. Longer than [`BYTES_MAX`] is a bug
    /// of the caller.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        assert!(v.len() <= BYTES_MAX, "byte string too long to encode");
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
        self
    }

    pub fn option_u64(&mut self, v: Option<u64>) -> &mut Self {
        match v {
            None => self.u8(0),
            Some(v) => self.u8(1).u64(v),
        }
    }
}

/// Reads encoded values from a buffer, checking every bound.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(DecodeError(format!(
                "{what}: needs {n} bytes, {} remain",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1, "u8")?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        let bytes = self.take(4, "u32")?;
        let mut array = [0; 4];
        array.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(array))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let bytes = self.take(8, "u64")?;
        let mut array = [0; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    pub fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError(format!("bool: unknown value {other}"))),
        }
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>> {
        let len = self.u32()? as usize;
        if len > BYTES_MAX {
            return Err(DecodeError(format!(
                "byte string of {len} bytes is too long"
            )));
        }
        Ok(self.take(len, "byte string")?.to_vec())
    }

    pub fn option_u64(&mut self) -> Result<Option<u64>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            other => Err(DecodeError(format!("option: unknown tag {other}"))),
        }
    }

    /// A count, checked against `max` before anything is allocated for it.
    pub fn count(&mut self, max: usize, what: &str) -> Result<usize> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(DecodeError(format!("{n} {what} exceed the limit of {max}")));
        }
        Ok(n)
    }

    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError(format!("{} trailing bytes", self.buf.len())))
        }
    }
}

fn write_ids(w: &mut Writer, ids: &BTreeSet<NodeId>) {
    w.u32(ids.len() as u32);
    for id in ids {
        w.u64(*id);
    }
}

fn read_ids(r: &mut Reader<'_>) -> Result<BTreeSet<NodeId>> {
    let n = r.count(MEMBERS_MAX, "members")?;
    let mut ids = BTreeSet::new();
    for _ in 0..n {
        if !ids.insert(r.u64()?) {
            return Err(DecodeError("a member is listed twice".to_string()));
        }
    }
    Ok(ids)
}

pub fn write_config(w: &mut Writer, config: &Config) {
    write_ids(w, &config.voters);
    write_ids(w, &config.learners);
}

pub fn read_config(r: &mut Reader<'_>) -> Result<Config> {
    let config = Config {
        voters: read_ids(r)?,
        learners: read_ids(r)?,
    };
    if !config.is_well_formed() {
        return Err(DecodeError(
            "a replica is both voter and learner".to_string(),
        ));
    }
    Ok(config)
}

pub fn write_entry(w: &mut Writer, entry: &Entry) {
    w.u64(entry.index).u64(entry.term);
    match &entry.kind {
        EntryKind::Noop => {
            w.u8(0);
        }
        EntryKind::Write(payload) => {
            w.u8(1).bytes(payload);
        }
        EntryKind::Config(config) => {
            w.u8(2);
            write_config(w, config);
        }
    }
}

pub fn read_entry(r: &mut Reader<'_>) -> Result<Entry> {
    let index = r.u64()?;
    let term = r.u64()?;
    let kind = match r.u8()? {
        0 => EntryKind::Noop,
        1 => EntryKind::Write(r.bytes()?),
        2 => EntryKind::Config(read_config(r)?),
        tag => return Err(DecodeError(format!("entry: unknown kind {tag}"))),
    };
    Ok(Entry { index, term, kind })
}

pub fn write_entries(w: &mut Writer, entries: &[Entry]) {
    assert!(entries.len() <= ENTRIES_MAX, "too many entries to encode");
    w.u32(entries.len() as u32);
    for entry in entries {
        write_entry(w, entry);
    }
}

pub fn read_entries(r: &mut Reader<'_>) -> Result<Vec<Entry>> {
    let n = r.count(ENTRIES_MAX, "entries")?;
    (0..n).map(|_| read_entry(r)).collect()
}

pub fn write_snapshot(w: &mut Writer, snapshot: &Snapshot) {
    w.u64(snapshot.index).u64(snapshot.term);
    write_config(w, &snapshot.config);
    w.bytes(&snapshot.data);
}

pub fn read_snapshot(r: &mut Reader<'_>) -> Result<Snapshot> {
    Ok(Snapshot {
        index: r.u64()?,
        term: r.u64()?,
        config: read_config(r)?,
        data: r.bytes()?,
    })
}

pub fn write_chunk(w: &mut Writer, chunk: &SnapshotChunk) {
    w.u64(chunk.index).u64(chunk.term);
    write_config(w, &chunk.config);
    w.u32(chunk.seq)
        .u64(chunk.read_at)
        .bytes(&chunk.data)
        .bool(chunk.done);
}

pub fn read_chunk(r: &mut Reader<'_>) -> Result<SnapshotChunk> {
    Ok(SnapshotChunk {
        index: r.u64()?,
        term: r.u64()?,
        config: read_config(r)?,
        seq: r.u32()?,
        read_at: r.u64()?,
        data: r.bytes()?,
        done: r.bool()?,
    })
}

pub fn write_hard_state(w: &mut Writer, hard_state: &HardState) {
    w.u64(hard_state.term).option_u64(hard_state.voted_for);
}

pub fn read_hard_state(r: &mut Reader<'_>) -> Result<HardState> {
    Ok(HardState {
        term: r.u64()?,
        voted_for: r.option_u64()?,
    })
}

fn write_stamp(w: &mut Writer, stamp: &Stamp) {
    w.u64(stamp.round).u64(stamp.sent_at);
}

fn read_stamp(r: &mut Reader<'_>) -> Result<Stamp> {
    Ok(Stamp {
        round: r.u64()?,
        sent_at: r.u64()?,
    })
}

/// A message as it goes on the wire.
pub fn encode_message(message: &Message) -> Vec<u8> {
    let mut w = Writer::new();
    w.u64(message.from).u64(message.to).u64(message.term);
    match &message.body {
        Body::VoteRequest {
            last_log_index,
            last_log_term,
        } => {
            w.u8(1).u64(*last_log_index).u64(*last_log_term);
        }
        Body::VoteReply { granted } => {
            w.u8(2).bool(*granted);
        }
        Body::Append {
            prev_index,
            prev_term,
            entries,
            leader_commit,
            stamp,
        } => {
            w.u8(3).u64(*prev_index).u64(*prev_term);
            write_entries(&mut w, entries);
            w.u64(*leader_commit);
            write_stamp(&mut w, stamp);
        }
        Body::AppendReply { result, stamp } => {
            w.u8(4);
            match result {
                AppendResult::Matched(index) => w.u8(0).u64(*index),
                AppendResult::Rejected { hint } => w.u8(1).u64(*hint),
                AppendResult::Staged { index, seq } => w.u8(2).u64(*index).u32(*seq),
            };
            write_stamp(&mut w, stamp);
        }
        Body::InstallSnapshot { chunk, stamp } => {
            w.u8(6);
            write_chunk(&mut w, chunk);
            write_stamp(&mut w, stamp);
        }
    }
    w.into_bytes()
}

pub fn decode_message(bytes: &[u8]) -> Result<Message> {
    let mut r = Reader::new(bytes);
    let from = r.u64()?;
    let to = r.u64()?;
    let term = r.u64()?;
    let body = match r.u8()? {
        1 => Body::VoteRequest {
            last_log_index: r.u64()?,
            last_log_term: r.u64()?,
        },
        2 => Body::VoteReply { granted: r.bool()? },
        3 => Body::Append {
            prev_index: r.u64()?,
            prev_term: r.u64()?,
            entries: read_entries(&mut r)?,
            leader_commit: r.u64()?,
            stamp: read_stamp(&mut r)?,
        },
        4 => {
            let result = match r.u8()? {
                0 => AppendResult::Matched(r.u64()?),
                1 => AppendResult::Rejected { hint: r.u64()? },
                2 => AppendResult::Staged {
                    index: r.u64()?,
                    seq: r.u32()?,
                },
                tag => return Err(DecodeError(format!("append result: unknown tag {tag}"))),
            };
            Body::AppendReply {
                result,
                stamp: read_stamp(&mut r)?,
            }
        }
        // 5 was a whole snapshot in one message, before snapshots travelled
        // in chunks.
        6 => Body::InstallSnapshot {
            chunk: read_chunk(&mut r)?,
            stamp: read_stamp(&mut r)?,
        },
        tag => return Err(DecodeError(format!("message: unknown kind {tag}"))),
    };
    r.finish()?;
    Ok(Message {
        from,
        to,
        term,
        body,
    })
}

fn write_change(w: &mut Writer, change: &MembershipChange) {
    match change {
        MembershipChange::AddLearner(id) => w.u8(0).u64(*id),
        MembershipChange::Promote(id) => w.u8(1).u64(*id),
        MembershipChange::Remove(id) => w.u8(2).u64(*id),
    };
}

fn read_change(r: &mut Reader<'_>) -> Result<MembershipChange> {
    let tag = r.u8()?;
    let id = r.u64()?;
    match tag {
        0 => Ok(MembershipChange::AddLearner(id)),
        1 => Ok(MembershipChange::Promote(id)),
        2 => Ok(MembershipChange::Remove(id)),
        tag => Err(DecodeError(format!("membership change: unknown tag {tag}"))),
    }
}

/// A client request with the client's id for it.
pub fn encode_request(id: RequestId, request: &Request) -> Vec<u8> {
    let mut w = Writer::new();
    w.u64(id.0);
    match request {
        Request::Write(payload) => w.u8(1).bytes(payload),
        Request::StrongRead(query) => w.u8(2).bytes(query),
        Request::EventualRead(query) => w.u8(3).bytes(query),
        Request::ChangeMembership(change) => {
            w.u8(4);
            write_change(&mut w, change);
            &mut w
        }
    };
    w.into_bytes()
}

pub fn decode_request(bytes: &[u8]) -> Result<(RequestId, Request)> {
    let mut r = Reader::new(bytes);
    let id = RequestId(r.u64()?);
    let request = match r.u8()? {
        1 => Request::Write(r.bytes()?),
        2 => Request::StrongRead(r.bytes()?),
        3 => Request::EventualRead(r.bytes()?),
        4 => Request::ChangeMembership(read_change(&mut r)?),
        tag => return Err(DecodeError(format!("request: unknown kind {tag}"))),
    };
    r.finish()?;
    Ok((id, request))
}

pub fn encode_reply(id: RequestId, reply: &Reply) -> Vec<u8> {
    let mut w = Writer::new();
    w.u64(id.0);
    match reply {
        Reply::Written { index, output } => {
            w.u8(1).u64(*index).bytes(output);
        }
        Reply::Read {
            value,
            applied_index,
        } => {
            w.u8(2).bytes(value).u64(*applied_index);
        }
        Reply::ConfigChanged { index, config } => {
            w.u8(3).u64(*index);
            write_config(&mut w, config);
        }
        Reply::NotLeader { leader } => {
            w.u8(4).option_u64(*leader);
        }
        Reply::Unknown => {
            w.u8(5);
        }
        Reply::Busy => {
            w.u8(6);
        }
        Reply::Rejected(reason) => {
            w.u8(7).bytes(reason.as_bytes());
        }
    }
    w.into_bytes()
}

pub fn decode_reply(bytes: &[u8]) -> Result<(RequestId, Reply)> {
    let mut r = Reader::new(bytes);
    let id = RequestId(r.u64()?);
    let reply = match r.u8()? {
        1 => Reply::Written {
            index: r.u64()?,
            output: r.bytes()?,
        },
        2 => Reply::Read {
            value: r.bytes()?,
            applied_index: r.u64()?,
        },
        3 => Reply::ConfigChanged {
            index: r.u64()?,
            config: read_config(&mut r)?,
        },
        4 => Reply::NotLeader {
            leader: r.option_u64()?,
        },
        5 => Reply::Unknown,
        6 => Reply::Busy,
        7 => Reply::Rejected(String::from_utf8_lossy(&r.bytes()?).into_owned()),
        tag => return Err(DecodeError(format!("reply: unknown kind {tag}"))),
    };
    r.finish()?;
    Ok((id, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                index: 4,
                term: 2,
                kind: EntryKind::Noop,
            },
            Entry {
                index: 5,
                term: 2,
                kind: EntryKind::Write(b"put".to_vec()),
            },
            Entry {
                index: 6,
                term: 3,
                kind: EntryKind::Config(Config {
                    voters: [1, 2, 4].into(),
                    learners: [5].into(),
                }),
            },
        ]
    }

    fn messages() -> Vec<Message> {
        let stamp = Stamp {
            round: 9,
            sent_at: 77,
        };
        let bodies = vec![
            Body::VoteRequest {
                last_log_index: 3,
                last_log_term: 2,
            },
            Body::VoteReply { granted: true },
            Body::Append {
                prev_index: 3,
                prev_term: 2,
                entries: entries(),
                leader_commit: 4,
                stamp,
            },
            Body::AppendReply {
                result: AppendResult::Matched(6),
                stamp,
            },
            Body::AppendReply {
                result: AppendResult::Rejected { hint: 2 },
                stamp,
            },
            Body::AppendReply {
                result: AppendResult::Staged { index: 9, seq: 4 },
                stamp,
            },
            Body::InstallSnapshot {
                chunk: SnapshotChunk {
                    index: 10,
                    term: 3,
                    config: Config::with_voters([1, 2, 3]),
                    seq: 2,
                    read_at: 12,
                    data: vec![1, 2, 3],
                    done: true,
                },
                stamp,
            },
        ];
        bodies
            .into_iter()
            .map(|body| Message {
                from: 1,
                to: 2,
                term: 3,
                body,
            })
            .collect()
    }

    #[test]
    fn messages_round_trip_and_every_truncation_is_an_error() {
        for message in messages() {
            let bytes = encode_message(&message);
            assert_eq!(decode_message(&bytes).unwrap(), message);
            for cut in 0..bytes.len() {
                assert!(decode_message(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_message(&longer).is_err(), "trailing bytes");
        }
    }

    #[test]
    fn requests_and_replies_round_trip() {
        let requests = [
            Request::Write(b"w".to_vec()),
            Request::StrongRead(b"k".to_vec()),
            Request::EventualRead(vec![]),
            Request::ChangeMembership(MembershipChange::Promote(4)),
        ];
        for request in requests {
            let bytes = encode_request(RequestId(5), &request);
            assert_eq!(decode_request(&bytes).unwrap(), (RequestId(5), request));
        }
        let replies = [
            Reply::Written {
                index: 3,
                output: vec![1],
            },
            Reply::Read {
                value: vec![2],
                applied_index: 9,
            },
            Reply::ConfigChanged {
                index: 4,
                config: Config::with_voters([1]),
            },
            Reply::NotLeader { leader: Some(2) },
            Reply::NotLeader { leader: None },
            Reply::Unknown,
            Reply::Busy,
            Reply::Rejected("no".to_string()),
        ];
        for reply in replies {
            let bytes = encode_reply(RequestId(6), &reply);
            assert_eq!(decode_reply(&bytes).unwrap(), (RequestId(6), reply));
        }
    }

    #[test]
    fn lengths_and_counts_are_checked_before_allocating() {
        let mut w = Writer::new();
        w.u32(u32::MAX);
        assert!(Reader::new(&w.into_bytes()).bytes().is_err());
        let mut w = Writer::new();
        w.u32(ENTRIES_MAX as u32 + 1);
        assert!(read_entries(&mut Reader::new(&w.into_bytes())).is_err());
        let mut w = Writer::new();
        w.u32(2).u64(1).u64(1).u32(0);
        assert!(
            read_config(&mut Reader::new(&w.into_bytes())).is_err(),
            "duplicate"
        );
    }
}
