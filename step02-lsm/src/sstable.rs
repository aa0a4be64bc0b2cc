//! Sorted string tables: immutable files of sorted, versioned entries.
//!
//! When a memtable is full, the engine writes it out as a table and never
//! changes that file again; compaction merges tables into new ones and
//! deletes the old. Immutability is what makes tables simple: no locks for
//! readers, no partial updates, and a checksum that stays valid forever.
//!
//! A table holds *internal entries*: a key, the sequence number of the write,
//! and a value or a tombstone. One key may appear several times, once per
//! version, so a reader at an older snapshot still finds the version it
//! should see. Entries are in *internal order*: key ascending, and for one
//! key, newest (largest sequence number) first.
//!
//! # File format
//!
// ANCHOR: sstable_format
//! ```text
//! +--------------+-----+--------------+--------+------------+-------+--------+
//! | data block 0 | ... | data block n | filter | properties | index | footer |
//! +--------------+-----+--------------+--------+------------+-------+--------+
//!  \______________________ each: contents + crc32c u32 _______________/  52 B
//!
//! data block: a block (see `block.rs`) of internal entries
//!     block key:   the user key (equal for neighbouring versions)
//!     block value: | kind u8: 0 delete, 1 put | seq: varint | value bytes |
//!
//! filter:     a bloom filter over the user keys (see `bloom.rs`)
//!
//! properties: | entries u64 | min_seq u64 | max_seq u64 |
//!             | smallest_len u32 | smallest key | largest_len u32 | largest key |
//!
//! index:      a block with one entry per data block, restart interval 1
//!     key:   the last user key of the data block
//!     value: | offset: varint | length: varint |   (length without the crc)
//!
//! footer, fixed size, at the very end of the file:
//!     | filter handle | properties handle | index handle |  each: offset u64, length u32
//!     | format version u32 | crc32c u32 of the 40 bytes before it | magic u64 |
//! ```
//!
//! All fixed-width integers are little-endian.
// ANCHOR_END: sstable_format
//!
//! # Invariants
//!
//! * **Every byte is checked.** The blocks tile the file: data blocks start at
//!   offset 0 and follow each other without gaps, then filter, properties,
//!   index and footer. Each block carries a CRC32C of its contents and the
//!   footer one of its own. [`Table::open`] checks the footer, the tiling
//!   and the three metadata blocks; data blocks are checked when read. So a
//!   damaged byte anywhere is reported as [`StorageError::Corruption`] before
//!   its contents are used — never returned as data.
//! * **Internal order.** [`TableWriter::add`] rejects an entry that does not
//!   come after the previous one in internal order; readers check that block
//!   keys never decrease.
//! * **No false negatives.** Every key of the table is in its bloom filter.
//! * **Versions may straddle blocks.** Several versions of one key can begin
//!   in one data block and continue in the next, so a reader that reaches the
//!   end of a block while still on its key goes on to the next block.

use crate::block::{Block, BlockBuilder, BlockError, BlockIter, get_varint64, put_varint};
use crate::bloom::{BITS_PER_KEY_MAX, BloomFilter, BloomFilterBuilder};
use crate::cache::{BlockCache, BlockKey};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use step01_kv::engine::{
    KEY_BYTES_MAX, KeyRange, KeyValue, Result, ScanDirection, SequenceNumber, StorageError,
};
use step01_kv::memtable::Entry;

/// The last eight bytes of every table: "not a table" is caught first.
pub const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"mdSSTab1");
/// The version of the format described above. A reader refuses others.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of a block handle in the footer: offset `u64`, length `u32`.
const HANDLE_BYTES: usize = 12;
/// Bytes of the footer.
pub const FOOTER_BYTES: usize = 3 * HANDLE_BYTES + 4 + 4 + 8;
/// Bytes of the checksum after each block's contents.
pub const BLOCK_TRAILER_BYTES: usize = 4;
/// The largest value a table accepts. Step 1's log records are smaller.
pub const VALUE_BYTES_MAX: usize = 64 * 1024 * 1024;

const KIND_DELETE: u8 = 0;
const KIND_PUT: u8 = 1;

/// How tables are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// A data block is closed once it reaches this size.
    pub block_size_bytes: usize,
    /// Every this many entries of a data block, a key is stored whole.
    pub restart_interval: usize,
    /// Bloom filter bits per distinct key (1..=64): 10 gives about 1%
    /// false positives.
    pub bloom_bits_per_key: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            block_size_bytes: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
        }
    }
}

/// One version of one key, as stored in a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalEntry {
    pub key: Vec<u8>,
    pub seq: SequenceNumber,
    /// `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

impl InternalEntry {
    /// The entry without its key, as step 1's memtable returns it.
    pub fn into_entry(self) -> Entry {
        Entry {
            seq: self.seq,
            value: self.value,
        }
    }
}

/// What a finished table holds; kept in the table's properties block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub smallest_key: Vec<u8>,
    pub largest_key: Vec<u8>,
    /// Entries (versions), tombstones included.
    pub entries: u64,
    pub file_bytes: u64,
    pub min_seq: SequenceNumber,
    pub max_seq: SequenceNumber,
}

/// Where a block lives in the file: its contents, without the checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BlockHandle {
    offset: u64,
    length: u64,
}

impl BlockHandle {
    /// The first byte after the block and its checksum.
    fn end(self) -> u64 {
        // Saturating: handles come from disk, and must not overflow.
        self.offset
            .saturating_add(self.length)
            .saturating_add(BLOCK_TRAILER_BYTES as u64)
    }
}

fn invalid(reason: String) -> StorageError {
    StorageError::InvalidBatch { reason }
}

/// Writes a new table file, entry by entry, in internal order.
///
/// If any call fails, the writer refuses further work and the file is
/// incomplete: the caller deletes it. A finished table is fsynced, but its
/// directory entry is not: the caller fsyncs the directory (or records the
/// table in a manifest that it fsyncs) before relying on the file.
#[derive(Debug)]
pub struct TableWriter {
    path: PathBuf,
    file: BufWriter<File>,
    options: TableOptions,
    /// Bytes written to the file so far.
    offset: u64,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    filter: BloomFilterBuilder,
    /// The last entry added, for the order check.
    last_key: Vec<u8>,
    last_seq: SequenceNumber,
    smallest_key: Vec<u8>,
    entries: u64,
    min_seq: SequenceNumber,
    max_seq: SequenceNumber,
    /// The encoded value of the entry being added, reused between entries.
    scratch: Vec<u8>,
    failed: bool,
}

impl TableWriter {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path, options: TableOptions) -> Result<TableWriter> {
        if options.block_size_bytes == 0 || options.restart_interval == 0 {
            return Err(invalid(format!(
                "block size and restart interval must be positive: {options:?}"
            )));
        }
        if !(1..=BITS_PER_KEY_MAX).contains(&options.bloom_bits_per_key) {
            return Err(invalid(format!(
                "bloom bits per key must be in 1..={BITS_PER_KEY_MAX}: {options:?}"
            )));
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        Ok(TableWriter {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            options,
            offset: 0,
            data_block: BlockBuilder::new(options.restart_interval),
            index_block: BlockBuilder::new(1),
            filter: BloomFilterBuilder::new(options.bloom_bits_per_key),
            last_key: Vec::new(),
            last_seq: 0,
            smallest_key: Vec::new(),
            entries: 0,
            min_seq: SequenceNumber::MAX,
            max_seq: 0,
            scratch: Vec::new(),
            failed: false,
        })
    }

    /// Adds one version of `key`. Entries must come in internal order: key
    /// ascending, and for one key sequence number descending.
    pub fn add(&mut self, key: &[u8], seq: SequenceNumber, value: Option<&[u8]>) -> Result<()> {
        self.check_usable()?;
        if key.len() > KEY_BYTES_MAX || value.is_some_and(|v| v.len() > VALUE_BYTES_MAX) {
            return Err(invalid(format!(
                "key of {} bytes or value of {} bytes is too large for a table",
                key.len(),
                value.map_or(0, <[u8]>::len)
            )));
        }
        let in_order = self.entries == 0
            || key > self.last_key.as_slice()
            || (key == self.last_key.as_slice() && seq < self.last_seq);
        if !in_order {
            return Err(invalid(format!(
                "table entries out of order: ({key:?}, {seq}) after ({:?}, {})",
                self.last_key, self.last_seq
            )));
        }
        if self.entries == 0 {
            self.smallest_key = key.to_vec();
        }
        if self.entries == 0 || key != self.last_key.as_slice() {
            self.filter.add_key(key);
        }
        self.scratch.clear();
        self.scratch.push(if value.is_some() {
            KIND_PUT
        } else {
            KIND_DELETE
        });
        put_varint(&mut self.scratch, seq);
        self.scratch.extend_from_slice(value.unwrap_or_default());
        self.data_block.add(key, &self.scratch);

        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.last_seq = seq;
        self.entries += 1;
        self.min_seq = self.min_seq.min(seq);
        self.max_seq = self.max_seq.max(seq);
        if self.data_block.estimated_bytes() >= self.options.block_size_bytes {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// The size of the file if it were finished now, roughly: engines start
    /// a new table when this passes their target size.
    pub fn estimated_file_bytes(&self) -> u64 {
        let pending = self.data_block.estimated_bytes()
            + self.filter.estimated_bytes()
            + self.index_block.estimated_bytes()
            + 2 * self.last_key.len()
            + 3 * BLOCK_TRAILER_BYTES
            + FOOTER_BYTES;
        self.offset + pending as u64
    }

    /// Writes the last data block, the filter, properties and index blocks
    /// and the footer, then fsyncs the file. A table needs an entry.
    pub fn finish(mut self) -> Result<TableInfo> {
        self.check_usable()?;
        if self.entries == 0 {
            return Err(invalid("a table needs at least one entry".to_string()));
        }
        if !self.data_block.is_empty() {
            self.flush_data_block()?;
        }
        let filter = std::mem::replace(&mut self.filter, BloomFilterBuilder::new(1)).finish();
        let filter = self.write_block(&filter)?;
        let properties = encode_properties(
            self.entries,
            self.min_seq,
            self.max_seq,
            &self.smallest_key,
            &self.last_key,
        );
        let properties = self.write_block(&properties)?;
        let index = std::mem::replace(&mut self.index_block, BlockBuilder::new(1)).finish();
        let index = self.write_block(&index)?;
        let footer = encode_footer(filter, properties, index);
        self.write_bytes(&footer)?;
        let path = self.path.clone();
        let file = self
            .file
            .into_inner()
            .map_err(|e| StorageError::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| StorageError::io(&path, e))?;
        Ok(TableInfo {
            smallest_key: self.smallest_key,
            largest_key: self.last_key,
            entries: self.entries,
            file_bytes: self.offset,
            min_seq: self.min_seq,
            max_seq: self.max_seq,
        })
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(StorageError::Failed {
                reason: format!("an earlier write to {} failed", self.path.display()),
            });
        }
        Ok(())
    }

    fn flush_data_block(&mut self) -> Result<()> {
        let builder = std::mem::replace(
            &mut self.data_block,
            BlockBuilder::new(self.options.restart_interval),
        );
        let last_key = builder.last_key().to_vec();
        let handle = self.write_block(&builder.finish())?;
        let mut encoded = Vec::with_capacity(20);
        put_varint(&mut encoded, handle.offset);
        put_varint(&mut encoded, handle.length);
        self.index_block.add(&last_key, &encoded);
        Ok(())
    }

    /// Writes a block's contents and their checksum.
    fn write_block(&mut self, contents: &[u8]) -> Result<BlockHandle> {
        assert!(
            u32::try_from(contents.len()).is_ok(),
            "block lengths fit the footer's u32"
        );
        let handle = BlockHandle {
            offset: self.offset,
            length: contents.len() as u64,
        };
        self.write_bytes(contents)?;
        self.write_bytes(&crc32c::crc32c(contents).to_le_bytes())?;
        assert_eq!(self.offset, handle.end());
        Ok(handle)
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.file.write_all(bytes) {
            self.failed = true;
            return Err(StorageError::io(&self.path, e));
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

fn encode_properties(
    entries: u64,
    min_seq: SequenceNumber,
    max_seq: SequenceNumber,
    smallest_key: &[u8],
    largest_key: &[u8],
) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(32 + smallest_key.len() + largest_key.len());
    encoded.extend_from_slice(&entries.to_le_bytes());
    encoded.extend_from_slice(&min_seq.to_le_bytes());
    encoded.extend_from_slice(&max_seq.to_le_bytes());
    for key in [smallest_key, largest_key] {
        encoded.extend_from_slice(&(key.len() as u32).to_le_bytes());
        encoded.extend_from_slice(key);
    }
    encoded
}

fn encode_footer(filter: BlockHandle, properties: BlockHandle, index: BlockHandle) -> Vec<u8> {
    let mut footer = Vec::with_capacity(FOOTER_BYTES);
    for handle in [filter, properties, index] {
        footer.extend_from_slice(&handle.offset.to_le_bytes());
        footer.extend_from_slice(&(handle.length as u32).to_le_bytes());
    }
    footer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    footer.extend_from_slice(&crc32c::crc32c(&footer).to_le_bytes());
    footer.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
    assert_eq!(footer.len(), FOOTER_BYTES);
    footer
}

/// Reads fixed-width little-endian integers and length-prefixed byte
/// strings from a buffer, failing instead of reading past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    fn take(&mut self, count: usize) -> std::result::Result<&'a [u8], String> {
        let taken = self
            .offset
            .checked_add(count)
            .and_then(|end| self.bytes.get(self.offset..end))
            .ok_or_else(|| format!("{count} bytes needed at {}, past the end", self.offset))?;
        self.offset += count;
        Ok(taken)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes(bytes.try_into().map_err(|_| "u32")?))
    }

    fn u64(&mut self) -> std::result::Result<u64, String> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| "u64")?))
    }

    fn handle(&mut self) -> std::result::Result<BlockHandle, String> {
        let offset = self.u64()?;
        let length = u64::from(self.u32()?);
        Ok(BlockHandle { offset, length })
    }

    fn is_at_end(&self) -> bool {
        self.offset == self.bytes.len()
    }
}

/// One entry of the index: the last key of a data block, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IndexEntry {
    last_key: Vec<u8>,
    handle: BlockHandle,
}

/// An open, immutable table. Share it with `Arc`: reads take `&self` and
/// use positioned reads, so any number of threads can read at once.
#[derive(Debug)]
pub struct Table {
    id: u64,
    path: PathBuf,
    file: File,
    info: TableInfo,
    /// One entry per data block, in order; never empty.
    index: Vec<IndexEntry>,
    filter: BloomFilter,
    cache: Arc<BlockCache>,
}

impl Table {
    /// Opens the table at `path`, checking its footer, its layout and its
    /// filter, properties and index blocks. `table_id` must be unique among
    /// the tables sharing `cache`.
    pub fn open(path: &Path, table_id: u64, cache: Arc<BlockCache>) -> Result<Arc<Table>> {
        let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
        let file_bytes = file
            .metadata()
            .map_err(|e| StorageError::io(path, e))?
            .len();
        let corruption = |offset: u64, reason: String| StorageError::Corruption {
            file: path.to_path_buf(),
            offset,
            reason,
        };
        let Some(footer_offset) = file_bytes.checked_sub(FOOTER_BYTES as u64) else {
            return Err(corruption(
                0,
                format!("a file of {file_bytes} bytes is too short for a table"),
            ));
        };
        let footer = read_at(&file, path, footer_offset, FOOTER_BYTES)?;
        let (filter_handle, properties_handle, index_handle) =
            decode_footer(&footer).map_err(|reason| corruption(footer_offset, reason))?;

        // The blocks must tile the file: filter, properties, index, footer.
        let tiled = properties_handle.offset == filter_handle.end()
            && index_handle.offset == properties_handle.end()
            && index_handle.end() == footer_offset;
        if !tiled {
            return Err(corruption(
                footer_offset,
                format!(
                    "metadata blocks do not tile the file: \
                     {filter_handle:?} {properties_handle:?} {index_handle:?}"
                ),
            ));
        }
        let filter = BloomFilter::decode(&read_block(&file, path, filter_handle)?)
            .map_err(|reason| corruption(filter_handle.offset, reason))?;
        let info = decode_properties(&read_block(&file, path, properties_handle)?, file_bytes)
            .map_err(|reason| corruption(properties_handle.offset, reason))?;
        let index = decode_index(read_block(&file, path, index_handle)?)
            .map_err(|(offset, reason)| corruption(index_handle.offset + offset as u64, reason))?;
        check_layout(&index, &info, filter_handle.offset)
            .map_err(|reason| corruption(index_handle.offset, reason))?;
        Ok(Arc::new(Table {
            id: table_id,
            path: path.to_path_buf(),
            file,
            info,
            index,
            filter,
            cache,
        }))
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &TableInfo {
        &self.info
    }

    /// The number of data blocks.
    pub fn block_count(&self) -> usize {
        self.index.len()
    }

    /// False if `key` is certainly not in the table (the bloom filter said
    /// so); true if it may be.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.filter.may_contain(key)
    }

    // ANCHOR: table_get
    /// The index of the first data block whose last key is `>= key`: every
    /// block before it ends before `key`, so this is the only block that can
    /// hold the newest version of `key`. (Older versions may continue in
    /// the blocks after it.)
    fn seek_block(&self, key: &[u8]) -> usize {
        self.index
            .partition_point(|entry| entry.last_key.as_slice() < key)
    }

    /// The newest version of `key` whose sequence number is at most
    /// `snapshot`, tombstones included; `None` if the table has none.
    pub fn get(&self, key: &[u8], snapshot: SequenceNumber) -> Result<Option<Entry>> {
        if key < self.info.smallest_key.as_slice() || key > self.info.largest_key.as_slice() {
            return Ok(None);
        }
        if !self.may_contain(key) {
            return Ok(None);
        }
        // EXERCISE(02.3): from the block the index points to, return the newest version of `key` with seq <= snapshot (its versions may continue in the next blocks)
        let mut block_no = self.seek_block(key);
        while block_no < self.index.len() {
            let mut iter = self.block_iter(block_no)?;
            iter.seek(key)
                .map_err(|e| self.block_corruption(block_no, e))?;
            while iter.is_valid() {
                if iter.key() != key {
                    return Ok(None);
                }
                let (seq, value) = self.decode_value(block_no, iter.value())?;
                if seq <= snapshot {
                    let value = value.map(<[u8]>::to_vec);
                    return Ok(Some(Entry { seq, value }));
                }
                iter.advance()
                    .map_err(|e| self.block_corruption(block_no, e))?;
            }
            block_no += 1;
        }
        Ok(None)
        // END EXERCISE
    }
    // ANCHOR_END: table_get

    /// Every version in `range`, lazily, in internal order for `Forward`
    /// (key ascending, newest first) and key descending, newest first, for
    /// `Reverse`. After an error the iterator ends.
    pub fn iter(self: &Arc<Self>, range: KeyRange, direction: ScanDirection) -> TableIter {
        let done = range.is_empty();
        TableIter {
            table: Arc::clone(self),
            range,
            direction,
            cursor: Cursor::Unstarted,
            group: Vec::new(),
            lookahead: None,
            done,
        }
    }

    /// A cursor over data block `block_no` (which must exist), read through
    /// the cache.
    fn block_iter(&self, block_no: usize) -> Result<BlockIter> {
        Ok(BlockIter::new(self.data_block(block_no)?))
    }

    fn data_block(&self, block_no: usize) -> Result<Arc<Block>> {
        let Some(entry) = self.index.get(block_no) else {
            return Err(self.corruption(0, format!("no data block {block_no}")));
        };
        let key = BlockKey {
            table_id: self.id,
            offset: entry.handle.offset,
        };
        if let Some(block) = self.cache.get(key) {
            return Ok(block);
        }
        let contents = read_block(&self.file, &self.path, entry.handle)?;
        let block = Block::decode(contents).map_err(|e| self.block_corruption(block_no, e))?;
        let block = Arc::new(block);
        self.cache.insert(key, Arc::clone(&block));
        Ok(block)
    }

    /// Decodes a data block entry's value into its sequence number and
    /// value (`None`: a tombstone).
    fn decode_value<'v>(
        &self,
        block_no: usize,
        encoded: &'v [u8],
    ) -> Result<(SequenceNumber, Option<&'v [u8]>)> {
        decode_version(encoded).map_err(|reason| {
            let offset = self.index.get(block_no).map_or(0, |e| e.handle.offset);
            self.corruption(offset, format!("data block {block_no}: {reason}"))
        })
    }

    fn decode_entry(&self, block_no: usize, key: &[u8], encoded: &[u8]) -> Result<InternalEntry> {
        let (seq, value) = self.decode_value(block_no, encoded)?;
        Ok(InternalEntry {
            key: key.to_vec(),
            seq,
            value: value.map(<[u8]>::to_vec),
        })
    }

    fn block_corruption(&self, block_no: usize, error: BlockError) -> StorageError {
        let offset = self.index.get(block_no).map_or(0, |e| e.handle.offset);
        self.corruption(
            offset + error.offset as u64,
            format!("data block {block_no}: {}", error.reason),
        )
    }

    fn corruption(&self, offset: u64, reason: String) -> StorageError {
        StorageError::Corruption {
            file: self.path.clone(),
            offset,
            reason,
        }
    }
}

/// Reads `length` bytes at `offset`.
fn read_at(file: &File, path: &Path, offset: u64, length: usize) -> Result<Vec<u8>> {
    let mut buffer = vec![0u8; length];
    read_exact_at(file, &mut buffer, offset).map_err(|e| StorageError::io(path, e))?;
    Ok(buffer)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        match file.seek_read(buffer, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            read => {
                buffer = &mut buffer[read..];
                offset += read as u64;
            }
        }
    }
    Ok(())
}

/// Reads a block and verifies its checksum; returns its contents.
fn read_block(file: &File, path: &Path, handle: BlockHandle) -> Result<Vec<u8>> {
    let length = usize::try_from(handle.length).map_err(|_| StorageError::Corruption {
        file: path.to_path_buf(),
        offset: handle.offset,
        reason: "block too large for memory".to_string(),
    })?;
    let mut contents = read_at(file, path, handle.offset, length + BLOCK_TRAILER_BYTES)?;
    let stored = contents.split_off(length);
    let computed = crc32c::crc32c(&contents);
    if stored != computed.to_le_bytes() {
        return Err(StorageError::Corruption {
            file: path.to_path_buf(),
            offset: handle.offset,
            reason: format!(
                "block checksum mismatch: stored {stored:02x?}, computed {computed:#010x}"
            ),
        });
    }
    Ok(contents)
}

fn decode_footer(
    footer: &[u8],
) -> std::result::Result<(BlockHandle, BlockHandle, BlockHandle), String> {
    let mut reader = Reader::new(footer);
    let filter = reader.handle()?;
    let properties = reader.handle()?;
    let index = reader.handle()?;
    let checked_bytes = reader.offset;
    let version = reader.u32()?;
    let stored = reader.u32()?;
    let magic = reader.u64()?;
    if magic != TABLE_MAGIC {
        return Err(format!("bad magic number {magic:#018x}: not a table"));
    }
    let computed = crc32c::crc32c(footer.get(..checked_bytes + 4).unwrap_or_default());
    if stored != computed {
        return Err(format!(
            "footer checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
        ));
    }
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this reader knows {FORMAT_VERSION}"
        ));
    }
    Ok((filter, properties, index))
}

fn decode_properties(bytes: &[u8], file_bytes: u64) -> std::result::Result<TableInfo, String> {
    let mut reader = Reader::new(bytes);
    let entries = reader.u64()?;
    let min_seq = reader.u64()?;
    let max_seq = reader.u64()?;
    let smallest_len = reader.u32()? as usize;
    let smallest_key = reader.take(smallest_len)?.to_vec();
    let largest_len = reader.u32()? as usize;
    let largest_key = reader.take(largest_len)?.to_vec();
    if !reader.is_at_end() {
        return Err("properties block has trailing bytes".to_string());
    }
    if entries == 0 || min_seq > max_seq || smallest_key > largest_key {
        return Err(format!(
            "inconsistent properties: {entries} entries, seqs {min_seq}..={max_seq}"
        ));
    }
    Ok(TableInfo {
        smallest_key,
        largest_key,
        entries,
        file_bytes,
        min_seq,
        max_seq,
    })
}

/// Decodes the index block; returns errors with their offset in the block.
fn decode_index(bytes: Vec<u8>) -> std::result::Result<Vec<IndexEntry>, (usize, String)> {
    let block = Arc::new(Block::decode(bytes).map_err(|e| (e.offset, e.reason))?);
    let mut entries = Vec::new();
    for (last_key, value) in block.entries().map_err(|e| (e.offset, e.reason))? {
        let mut offset = 0;
        let handle = get_varint64(&value, &mut offset)
            .and_then(|block_offset| {
                let length = get_varint64(&value, &mut offset)?;
                Ok(BlockHandle {
                    offset: block_offset,
                    length,
                })
            })
            .map_err(|e| (0, format!("index entry: {}", e.reason)))?;
        if offset != value.len() {
            return Err((0, "index entry has trailing bytes".to_string()));
        }
        entries.push(IndexEntry { last_key, handle });
    }
    Ok(entries)
}

/// Checks that the data blocks tile the file from offset 0 up to the filter
/// block, and that the index agrees with the properties.
fn check_layout(
    index: &[IndexEntry],
    info: &TableInfo,
    filter_offset: u64,
) -> std::result::Result<(), String> {
    let Some(last) = index.last() else {
        return Err("a table without data blocks".to_string());
    };
    let mut expected_offset = 0;
    for (block_no, entry) in index.iter().enumerate() {
        if entry.handle.offset != expected_offset {
            return Err(format!(
                "data block {block_no} at {} instead of {expected_offset}",
                entry.handle.offset
            ));
        }
        expected_offset = entry.handle.end();
    }
    if expected_offset != filter_offset {
        return Err(format!(
            "data blocks end at {expected_offset}, the filter starts at {filter_offset}"
        ));
    }
    if last.last_key != info.largest_key || (index.len() as u64) > info.entries {
        return Err("the index disagrees with the properties".to_string());
    }
    Ok(())
}

/// Decodes a data block entry's value: kind, sequence number, value.
fn decode_version(encoded: &[u8]) -> std::result::Result<(SequenceNumber, Option<&[u8]>), String> {
    let Some((&kind, rest)) = encoded.split_first() else {
        return Err("empty entry".to_string());
    };
    let mut offset = 0;
    let seq = get_varint64(rest, &mut offset).map_err(|e| e.reason)?;
    let payload = rest.get(offset..).unwrap_or_default();
    match kind {
        KIND_PUT => Ok((seq, Some(payload))),
        KIND_DELETE if payload.is_empty() => Ok((seq, None)),
        KIND_DELETE => Err("a tombstone with a value".to_string()),
        other => Err(format!("unknown entry kind {other}")),
    }
}

/// Where a [`TableIter`] is.
#[derive(Debug)]
enum Cursor {
    /// Not positioned yet: the first `next` seeks.
    Unstarted,
    /// Walking data block `block_no` forward.
    Forward {
        block_no: usize,
        iter: BlockIter,
    },
    /// Walking data block `block_no` backward: its entries, decoded whole
    /// (prefix compression only decodes forward), of which the first
    /// `remaining` are still to come.
    Reverse {
        block_no: usize,
        entries: Vec<KeyValue>,
        remaining: usize,
    },
    Finished,
}

/// The versions of a table in a key range, read block by block through the
/// cache. Yields `Result`s; ends after the first error.
#[derive(Debug)]
pub struct TableIter {
    table: Arc<Table>,
    range: KeyRange,
    direction: ScanDirection,
    cursor: Cursor,
    /// Reverse scans: the versions of one key, oldest first, handed out
    /// newest first by popping.
    group: Vec<InternalEntry>,
    /// Reverse scans: the entry that ended the last group (a smaller key).
    lookahead: Option<InternalEntry>,
    done: bool,
}

impl TableIter {
    fn before_start(&self, key: &[u8]) -> bool {
        match &self.range.start {
            Bound::Included(start) => key < start.as_slice(),
            Bound::Excluded(start) => key <= start.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn after_end(&self, key: &[u8]) -> bool {
        match &self.range.end {
            Bound::Included(end) => key > end.as_slice(),
            Bound::Excluded(end) => key >= end.as_slice(),
            Bound::Unbounded => false,
        }
    }

    /// The next entry in block order, skipping keys before the range.
    fn next_forward(&mut self) -> Result<Option<InternalEntry>> {
        loop {
            match &mut self.cursor {
                Cursor::Unstarted => {
                    let (block_no, target) = match &self.range.start {
                        Bound::Included(key) | Bound::Excluded(key) => {
                            (self.table.seek_block(key), Some(key.clone()))
                        }
                        Bound::Unbounded => (0, None),
                    };
                    self.cursor = self.forward_cursor(block_no, target.as_deref())?;
                }
                Cursor::Forward { block_no, iter } if !iter.is_valid() => {
                    let next = *block_no + 1;
                    self.cursor = self.forward_cursor(next, None)?;
                }
                Cursor::Forward { block_no, iter } => {
                    let entry = self
                        .table
                        .decode_entry(*block_no, iter.key(), iter.value())?;
                    let block_no = *block_no;
                    iter.advance()
                        .map_err(|e| self.table.block_corruption(block_no, e))?;
                    if self.before_start(&entry.key) {
                        continue;
                    }
                    if self.after_end(&entry.key) {
                        self.cursor = Cursor::Finished;
                        return Ok(None);
                    }
                    return Ok(Some(entry));
                }
                Cursor::Reverse { .. } | Cursor::Finished => return Ok(None),
            }
        }
    }

    /// A forward cursor at the start of block `block_no` (or at `target`).
    fn forward_cursor(&self, block_no: usize, target: Option<&[u8]>) -> Result<Cursor> {
        if block_no >= self.table.index.len() {
            return Ok(Cursor::Finished);
        }
        let mut iter = self.table.block_iter(block_no)?;
        let positioned = match target {
            Some(target) => iter.seek(target),
            None => iter.seek_to_first(),
        };
        positioned.map_err(|e| self.table.block_corruption(block_no, e))?;
        Ok(Cursor::Forward { block_no, iter })
    }

    /// The previous entry in block order (key descending, oldest version
    /// first), skipping keys after the range.
    fn next_backward(&mut self) -> Result<Option<InternalEntry>> {
        loop {
            match &mut self.cursor {
                Cursor::Unstarted => {
                    let Some(last) = self.table.index.len().checked_sub(1) else {
                        self.cursor = Cursor::Finished;
                        continue;
                    };
                    // The last block that can hold keys in range: blocks
                    // after the first one ending beyond the range start
                    // beyond it. (Versions of the end key may straddle.)
                    let index = &self.table.index;
                    let block_no = match &self.range.end {
                        Bound::Included(end) => {
                            index.partition_point(|e| e.last_key.as_slice() <= end.as_slice())
                        }
                        Bound::Excluded(end) => {
                            index.partition_point(|e| e.last_key.as_slice() < end.as_slice())
                        }
                        Bound::Unbounded => last,
                    };
                    let block_no = block_no.min(last);
                    self.cursor = self.reverse_cursor(block_no)?;
                }
                Cursor::Reverse {
                    block_no,
                    remaining: 0,
                    ..
                } => match block_no.checked_sub(1) {
                    Some(previous) => self.cursor = self.reverse_cursor(previous)?,
                    None => self.cursor = Cursor::Finished,
                },
                Cursor::Reverse {
                    block_no,
                    entries,
                    remaining,
                } => {
                    *remaining -= 1;
                    let (key, value) = entries
                        .get_mut(*remaining)
                        .map(std::mem::take)
                        .unwrap_or_default();
                    let entry = self.table.decode_entry(*block_no, &key, &value)?;
                    if self.before_start(&entry.key) {
                        self.cursor = Cursor::Finished;
                        return Ok(None);
                    }
                    return Ok(Some(entry));
                }
                Cursor::Forward { .. } | Cursor::Finished => return Ok(None),
            }
        }
    }

    /// A reverse cursor after the last in-range entry of block `block_no`.
    fn reverse_cursor(&self, block_no: usize) -> Result<Cursor> {
        let block = self.table.data_block(block_no)?;
        let entries = block
            .entries()
            .map_err(|e| self.table.block_corruption(block_no, e))?;
        let remaining = entries.partition_point(|(key, _)| !self.after_end(key));
        Ok(Cursor::Reverse {
            block_no,
            entries,
            remaining,
        })
    }

    /// The next entry of a reverse scan: keys descending, and the versions
    /// of one key newest first, although blocks store them the other way.
    fn next_reverse(&mut self) -> Result<Option<InternalEntry>> {
        if let Some(entry) = self.group.pop() {
            return Ok(Some(entry));
        }
        let first = match self.lookahead.take() {
            Some(entry) => entry,
            None => match self.next_backward()? {
                Some(entry) => entry,
                None => return Ok(None),
            },
        };
        self.group.push(first);
        while let Some(entry) = self.next_backward()? {
            if self
                .group
                .first()
                .is_some_and(|first| first.key == entry.key)
            {
                self.group.push(entry);
            } else {
                self.lookahead = Some(entry);
                break;
            }
        }
        Ok(self.group.pop())
    }
}

impl Iterator for TableIter {
    type Item = Result<InternalEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match self.direction {
            ScanDirection::Forward => self.next_forward(),
            ScanDirection::Reverse => self.next_reverse(),
        };
        match next {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}
