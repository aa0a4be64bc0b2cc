//! Blocks: sorted key-value entries packed into a few KiB, with shared key
//! prefixes stored once and restart points for binary search.
//!
//! A table is read a block at a time: one block is the unit of I/O, of
//! checksumming and of caching. Inside a block, keys are sorted, so
//! neighbouring keys tend to share a prefix (`user#0041/`, `user#0042/`...).
//! *Prefix compression* stores each key as the length of the prefix it
//! shares with the previous key plus the bytes that differ.
//!
//! Prefix compression has a cost: a key can only be rebuilt from the key
//! before it, so finding a key would mean decoding the block from the start.
//! Every [`restart_interval`](BlockBuilder::new)-th entry is therefore a
//! *restart point* that stores its key whole, and the block ends with the
//! offsets of all restart points. A seek binary-searches the restart points,
//! then decodes at most one interval of entries.
//!
//! # Encoding
//!
//! ```text
//! +---------+---------+---------+-----+--------------------+-------------+
//! | entry 0 | entry 1 | entry 2 | ... | restarts: u32 x R  | R: u32      |
//! +---------+---------+---------+-----+--------------------+-------------+
//!
//! entry: | shared: varint | unshared: varint | value_len: varint |
//!        | key[shared..]: unshared bytes | value: value_len bytes |
//! ```
//!
//! Integers are little-endian; varints are LEB128 (7 bits per byte, low
//! bits first); lengths fit in 32 bits. A restart entry has `shared = 0`.
//!
//! Invariants, checked when building and again when decoding:
//!
//! * keys are non-decreasing (equal keys are allowed: a table stores several
//!   versions of a key as neighbouring entries);
//! * the first entry is a restart point and restart offsets increase;
//! * every length stays inside the block.
//!
//! Blocks carry no checksum of their own: the table wraps each one with a
//! CRC32C. The decoder still trusts nothing, because a checksum only says the
//! bytes are the ones that were written, not that the writer was right.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use step01_kv::engine::KeyValue;

/// Bytes of one restart offset, and of the restart count at the block's end.
const U32_BYTES: usize = 4;
/// The most bytes a varint of 64 bits takes.
const VARINT64_BYTES_MAX: usize = 10;

/// Why a block's bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockError {
    /// Where in the block the problem was found.
    pub offset: usize,
    pub reason: String,
}

impl BlockError {
    fn new(offset: usize, reason: impl Into<String>) -> Self {
        Self {
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for BlockError {}

/// Appends `value` as a LEB128 varint.
pub fn put_varint(buffer: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buffer.push((value as u8) | 0x80);
        value >>= 7;
    }
    buffer.push(value as u8);
}

/// Reads a varint of at most 64 bits at `*offset` of `bytes`, moving
/// `*offset` past it. Rejects varints that run off the end or overflow.
pub fn get_varint64(bytes: &[u8], offset: &mut usize) -> Result<u64, BlockError> {
    let start = *offset;
    let mut value: u64 = 0;
    for i in 0..VARINT64_BYTES_MAX {
        let Some(&byte) = bytes.get(start + i) else {
            return Err(BlockError::new(start, "varint runs off the end"));
        };
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        // The tenth byte may only carry the one bit left of a u64.
        if shift == 63 && bits > 1 {
            return Err(BlockError::new(start, "varint overflows 64 bits"));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            *offset = start + i + 1;
            return Ok(value);
        }
    }
    Err(BlockError::new(start, "varint longer than 10 bytes"))
}

/// Reads a varint of at most 32 bits, like [`get_varint64`].
pub fn get_varint32(bytes: &[u8], offset: &mut usize) -> Result<u32, BlockError> {
    let start = *offset;
    let value = get_varint64(bytes, offset)?;
    u32::try_from(value).map_err(|_| BlockError::new(start, "varint overflows 32 bits"))
}

/// Reads a little-endian `u32` at `offset`.
fn get_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset.checked_add(U32_BYTES)?)?;
    Some(u32::from_le_bytes(word.try_into().ok()?))
}

/// The length of the longest common prefix of `a` and `b`.
fn shared_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Builds one block, entry by entry, in key order.
#[derive(Debug)]
pub struct BlockBuilder {
    buffer: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    /// Entries added since the last restart point.
    since_restart: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// A builder that makes every `restart_interval`-th entry a restart point.
    pub fn new(restart_interval: usize) -> Self {
        assert!(restart_interval >= 1, "the restart interval is at least 1");
        Self {
            buffer: Vec::new(),
            restarts: Vec::new(),
            restart_interval,
            since_restart: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    // ANCHOR: block_add
    /// Appends an entry. Keys must not decrease; the block must stay below
    /// 4 GiB (restart offsets are `u32`s).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        assert!(
            self.entries == 0 || key >= self.last_key.as_slice(),
            "block keys must not decrease"
        );
        assert!(
            self.buffer.len() + key.len() + value.len() < u32::MAX as usize / 2,
            "a block stays far below 4 GiB"
        );
        // EXERCISE(02.1): store the key as (shared prefix, rest), starting a restart point every restart_interval entries
        let shared = if self.since_restart < self.restart_interval && self.entries > 0 {
            shared_prefix_len(&self.last_key, key)
        } else {
            self.restarts.push(self.buffer.len() as u32);
            self.since_restart = 0;
            0
        };
        let unshared = &key[shared..];
        put_varint(&mut self.buffer, shared as u64);
        put_varint(&mut self.buffer, unshared.len() as u64);
        put_varint(&mut self.buffer, value.len() as u64);
        self.buffer.extend_from_slice(unshared);
        self.buffer.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(unshared);
        self.since_restart += 1;
        self.entries += 1;
        // END EXERCISE
    }
    // ANCHOR_END: block_add

    /// The number of entries added.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The last key added (empty if none).
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// The size of the block if it were finished now.
    pub fn estimated_bytes(&self) -> usize {
        self.buffer.len() + (self.restarts.len() + 1) * U32_BYTES
    }

    /// Appends the restart array and returns the encoded block.
    pub fn finish(mut self) -> Vec<u8> {
        assert_eq!(
            self.restarts.len(),
            self.entries.div_ceil(self.restart_interval),
            "one restart point per interval"
        );
        for restart in &self.restarts {
            self.buffer.extend_from_slice(&restart.to_le_bytes());
        }
        self.buffer
            .extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.buffer
    }
}

/// A decoded block: its bytes, with the restart array located and checked.
///
/// Entries are decoded on demand by a [`BlockIter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    bytes: Vec<u8>,
    /// Where the entries end and the restart array begins.
    restarts_offset: usize,
    restart_count: usize,
}

impl Block {
    /// Checks the restart array of an encoded block. Entries are checked as
    /// they are decoded.
    pub fn decode(bytes: Vec<u8>) -> Result<Block, BlockError> {
        let Some(count_offset) = bytes.len().checked_sub(U32_BYTES) else {
            return Err(BlockError::new(0, "block shorter than its restart count"));
        };
        let count = get_u32(&bytes, count_offset)
            .ok_or_else(|| BlockError::new(count_offset, "no restart count"))?
            as usize;
        let restarts_offset = count
            .checked_mul(U32_BYTES)
            .and_then(|array_bytes| count_offset.checked_sub(array_bytes))
            .ok_or_else(|| BlockError::new(count_offset, format!("{count} restarts do not fit")))?;
        let block = Block {
            bytes,
            restarts_offset,
            restart_count: count,
        };
        if count == 0 && restarts_offset != 0 {
            return Err(BlockError::new(count_offset, "entries without restarts"));
        }
        let mut previous = None;
        for i in 0..count {
            let restart = block.restart(i)?;
            let in_order = match previous {
                None => restart == 0,
                Some(previous) => restart > previous,
            };
            if !in_order || restart >= restarts_offset {
                return Err(BlockError::new(
                    restarts_offset + i * U32_BYTES,
                    format!("restart point {i} at {restart} is out of place"),
                ));
            }
            previous = Some(restart);
        }
        Ok(block)
    }

    /// The number of restart points.
    pub fn restart_count(&self) -> usize {
        self.restart_count
    }

    /// The encoded size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.restarts_offset == 0
    }

    /// The offset of restart point `i`.
    fn restart(&self, i: usize) -> Result<usize, BlockError> {
        let offset = self.restarts_offset + i * U32_BYTES;
        get_u32(&self.bytes, offset)
            .map(|restart| restart as usize)
            .ok_or_else(|| BlockError::new(offset, "restart offset out of bounds"))
    }

    /// Every entry, in order. Convenient for tests and reverse scans, which
    /// cannot walk prefix-compressed entries backwards.
    pub fn entries(self: &Arc<Self>) -> Result<Vec<KeyValue>, BlockError> {
        let mut iter = BlockIter::new(Arc::clone(self));
        iter.seek_to_first()?;
        let mut entries = Vec::new();
        while iter.is_valid() {
            entries.push((iter.key().to_vec(), iter.value().to_vec()));
            iter.advance()?;
        }
        Ok(entries)
    }
}

/// A cursor over a block's entries.
///
/// It is either positioned on an entry ([`is_valid`](Self::is_valid)) or
/// past the end. Any decoding error leaves it past the end.
#[derive(Debug)]
pub struct BlockIter {
    block: Arc<Block>,
    /// The current entry's key, rebuilt from the shared prefix.
    key: Vec<u8>,
    value: Range<usize>,
    /// Where the next entry starts; `restarts_offset` at the last entry.
    next_offset: usize,
    valid: bool,
}

impl BlockIter {
    /// A cursor not yet positioned: call a seek first.
    pub fn new(block: Arc<Block>) -> Self {
        Self {
            block,
            key: Vec::new(),
            value: 0..0,
            next_offset: 0,
            valid: false,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// The current key (empty if not valid).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current value (empty if not valid).
    pub fn value(&self) -> &[u8] {
        self.block.bytes.get(self.value.clone()).unwrap_or_default()
    }

    /// Moves to the first entry.
    pub fn seek_to_first(&mut self) -> Result<(), BlockError> {
        self.start_at(0);
        self.advance()
    }

    /// Moves to the first entry whose key is `>= target`, or past the end.
    pub fn seek(&mut self, target: &[u8]) -> Result<(), BlockError> {
        // Binary search for the last restart point whose key is < target:
        // every entry before it is < target too. With equal keys allowed,
        // "<" (not "<=") makes sure the first of several equal keys is found.
        let (mut low, mut high) = (0, self.block.restart_count);
        while low < high {
            let middle = low + (high - low) / 2;
            let restart = self.block.restart(middle)?;
            self.start_at(restart);
            self.advance()?;
            if self.valid && self.key.as_slice() < target {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        // `low` restarts have keys < target; start at the last of them.
        let restart = match low.checked_sub(1) {
            Some(i) => self.block.restart(i)?,
            None => 0,
        };
        self.start_at(restart);
        self.advance()?;
        while self.valid && self.key.as_slice() < target {
            self.advance()?;
        }
        Ok(())
    }

    /// Moves to the next entry, or past the end.
    pub fn advance(&mut self) -> Result<(), BlockError> {
        let result = self.decode_next();
        if result.is_err() {
            self.valid = false;
        }
        result
    }

    fn start_at(&mut self, offset: usize) {
        self.key.clear();
        self.next_offset = offset;
        self.valid = false;
    }

    fn decode_next(&mut self) -> Result<(), BlockError> {
        let end = self.block.restarts_offset;
        let offset = self.next_offset;
        if offset >= end {
            self.valid = false;
            return Ok(());
        }
        let bytes = self.block.bytes.get(..end).unwrap_or_default();
        let mut cursor = offset;
        let shared = get_varint32(bytes, &mut cursor)? as usize;
        let unshared = get_varint32(bytes, &mut cursor)? as usize;
        let value_len = get_varint32(bytes, &mut cursor)? as usize;
        // After a seek to a restart point the key is empty, so a restart
        // entry that claims a shared prefix is caught here.
        let Some(previous_tail) = self.key.get(shared..) else {
            return Err(BlockError::new(
                offset,
                format!(
                    "entry shares {shared} bytes with a key of {}",
                    self.key.len()
                ),
            ));
        };
        let key_end = cursor + unshared;
        let value_end = key_end + value_len;
        let (Some(suffix), true) = (bytes.get(cursor..key_end), value_end <= end) else {
            return Err(BlockError::new(offset, "entry runs past the entries"));
        };
        // The new key is key[..shared] + suffix, the previous one
        // key[..shared] + previous_tail: comparing the tails compares the keys.
        if self.valid && suffix < previous_tail {
            return Err(BlockError::new(offset, "keys out of order"));
        }
        self.key.truncate(shared);
        self.key.extend_from_slice(suffix);
        self.value = key_end..value_end;
        self.next_offset = value_end;
        self.valid = true;
        Ok(())
    }
}
