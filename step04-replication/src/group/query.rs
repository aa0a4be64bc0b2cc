//! The queries a partition replica answers and the replies it sends: the
//! bytes that travel through the replicated log's `Request`s and `Reply`s,
//! opaque to step 4's core.
//!
//! ```text
//! get query    1 | key
//! scan query   2 | start bound | end bound | direction u8 | limit u64
//! reply        0 (ok) | answer   —   1 (refused) | reason   —   2 (failed) | reason
//! get answer   0 (none) | 1 value
//! scan answer  count u32 | (key, value)*
//! ```
//!
//! `PartitionMachine` answers the queries; the applied record is never
//! part of an answer.

use crate::codec::{DecodeError, Reader, Writer};
use std::ops::Bound;
use step01_kv::engine::{KeyRange, KeyValue, Result, ScanDirection, StorageError};

pub(super) const QUERY_GET: u8 = 1;
pub(super) const QUERY_SCAN: u8 = 2;
/// The fewest bytes one (key, value) pair takes: two empty byte strings.
pub(super) const PAIR_BYTES_MIN: usize = 8;
pub(super) const REPLY_OK: u8 = 0;
pub(super) const REPLY_REJECTED: u8 = 1;
pub(super) const REPLY_FAILED: u8 = 2;

pub(super) fn reply_error(kind: u8, reason: &str) -> Vec<u8> {
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

pub(super) fn read_bound(r: &mut Reader<'_>) -> std::result::Result<Bound<Vec<u8>>, String> {
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
        .count(reply.len() / PAIR_BYTES_MIN, "scan entries")
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
