//! The manifest: the durable record of which tables are live, and at which
//! level.
//!
//! Table files are written once and never changed, so the state of an LSM
//! tree is "which files count". A flush adds a table to level 0; a
//! compaction removes its inputs and adds its outputs. Each such change is a
//! [`VersionEdit`], appended to the `MANIFEST` file and fsynced before anyone
//! acts on it (deletes log segments, deletes input tables). Opening replays
//! the edits to rebuild the [`ManifestState`].
//!
//! # File format
//!
//! `MANIFEST` is a sequence of step 1's log records (CRC32C, length, number,
//! payload — see [`step01_kv::wal::encode_record`]); the record number counts
//! the edits from 1, so a lost or repeated record is noticed. The payload:
//!
//! ```text
//! edit    = version u8 (=1) | flags u8 (bit 0: snapshot)
//!           | flushed_seq u64 | next_table_id u64
//!           | removed count u32 | (level u8 | table id u64) ...
//!           | added count u32   | (level u8 | table) ...
//! table   = id u64 | file_bytes u64 | entries u64 | min_seq u64 | max_seq u64
//!           | smallest length u32 | smallest | largest length u32 | largest
//! ```
//!
//! Integers are little-endian. The first record is a *snapshot*: an edit that
//! adds every live table to an empty state. When the file grows past a limit
//! (and on every open) it is rewritten as one snapshot into `MANIFEST.tmp`,
//! fsynced, and renamed over `MANIFEST` — a rename is atomic, so a crash
//! leaves the old file or the new one, never a mix.
//!
//! # Invariants
//!
//! * **Durable before acted on.** [`Manifest::append`] returns only after
//!   the edit is fsynced (unless fsyncs are off for tests).
//! * **Torn tail only.** A crash can only tear the last edit: it is ignored,
//!   as it was never acknowledged. A damaged record followed by an intact one
//!   is corruption and fails the open, as does an intact record whose edit
//!   does not apply ([`LevelLayout::apply`] checks every edit).
//! * **A valid layout.** Table ids are unique; level 0 lists tables newest
//!   first; every deeper level is sorted by key with no two tables
//!   overlapping. Checked after every edit, on write and on replay.
//! * **Watermarks only grow.** `flushed_seq` (every write up to it is in a
//!   table) and `next_table_id` never decrease.
//!
//! A flipped bit in the last edit looks exactly like a torn write, so it is
//! ignored too. That can never serve wrong data: if the engine had already
//! acted on the edit, the state before it names deleted tables or needs
//! deleted log records, and the engine's open reports the gap; if it had
//! not, the state before the edit holds the same data.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use step01_kv::engine::{Result, SequenceNumber, StorageError};
use step01_kv::wal::{BadRecord, classify_bad_record, decode_record, encode_record};

/// The number of levels: 0 (flushed tables, overlapping) to 6.
pub const LEVELS_MAX: usize = 7;
/// The manifest's file name inside the engine directory.
pub const MANIFEST_FILE_NAME: &str = "MANIFEST";
/// Where a rewrite is prepared before it is renamed over the manifest.
pub const MANIFEST_TEMP_FILE_NAME: &str = "MANIFEST.tmp";
/// The version byte that starts every encoded edit.
pub const EDIT_FORMAT_VERSION: u8 = 1;
/// The largest manifest file accepted on open; a real one is rewritten long
/// before (see [`ManifestOptions::rewrite_bytes`]).
pub const MANIFEST_BYTES_MAX: u64 = 1024 * 1024 * 1024;
const FLAG_SNAPSHOT: u8 = 1;

/// What the manifest knows about one live table: enough to plan compactions
/// and to check the file when it is opened, without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableMeta {
    pub id: u64,
    pub smallest_key: Vec<u8>,
    pub largest_key: Vec<u8>,
    pub entries: u64,
    pub file_bytes: u64,
    pub min_seq: SequenceNumber,
    pub max_seq: SequenceNumber,
}

impl TableMeta {
    /// True if the table may hold keys in `[smallest, largest]`.
    pub fn overlaps(&self, smallest: &[u8], largest: &[u8]) -> bool {
        self.smallest_key.as_slice() <= largest && smallest <= self.largest_key.as_slice()
    }
}

/// The live tables of every level. Always valid: see [`LevelLayout::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelLayout {
    levels: Vec<Vec<TableMeta>>,
}

impl Default for LevelLayout {
    fn default() -> Self {
        Self {
            levels: vec![Vec::new(); LEVELS_MAX],
        }
    }
}

impl LevelLayout {
    /// A layout from tables per level (level 0 in any order), checked.
    pub fn new(levels: Vec<Vec<TableMeta>>) -> std::result::Result<LevelLayout, String> {
        if levels.len() > LEVELS_MAX {
            return Err(format!("{} levels, at most {LEVELS_MAX}", levels.len()));
        }
        let mut layout = LevelLayout::default();
        let added = levels
            .into_iter()
            .enumerate()
            .flat_map(|(level, tables)| tables.into_iter().map(move |table| (level, table)))
            .collect();
        layout.apply_changes(&[], added)?;
        Ok(layout)
    }

    /// The tables of `level`: level 0 newest first, deeper levels by key.
    pub fn level(&self, level: usize) -> &[TableMeta] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// All levels, 0 first.
    pub fn levels(&self) -> &[Vec<TableMeta>] {
        &self.levels
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.level(level).iter().map(|table| table.file_bytes).sum()
    }

    pub fn table_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// Every table with its level.
    pub fn tables(&self) -> impl Iterator<Item = (usize, &TableMeta)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(level, tables)| tables.iter().map(move |table| (level, table)))
    }

    /// Applies an edit's removals and additions, or returns why it cannot.
    /// On error the layout is unchanged.
    pub fn apply(&mut self, edit: &VersionEdit) -> std::result::Result<(), String> {
        self.apply_changes(&edit.removed, edit.added.clone())
    }

    fn apply_changes(
        &mut self,
        removed: &[(usize, u64)],
        added: Vec<(usize, TableMeta)>,
    ) -> std::result::Result<(), String> {
        let mut next = self.clone();
        for &(level, id) in removed {
            let tables = next
                .levels
                .get_mut(level)
                .ok_or_else(|| format!("no level {level}"))?;
            let position = tables
                .iter()
                .position(|table| table.id == id)
                .ok_or_else(|| format!("table {id} is not in level {level}"))?;
            tables.remove(position);
        }
        for (level, table) in added {
            if next.tables().any(|(_, live)| live.id == table.id) {
                return Err(format!("table {} is added twice", table.id));
            }
            next.levels
                .get_mut(level)
                .ok_or_else(|| format!("no level {level}"))?
                .push(table);
        }
        next.sort();
        next.check()?;
        *self = next;
        Ok(())
    }

    fn sort(&mut self) {
        for (level, tables) in self.levels.iter_mut().enumerate() {
            if level == 0 {
                // Newest first: flushes write tables in sequence order.
                tables.sort_by_key(|table| std::cmp::Reverse((table.max_seq, table.id)));
            } else {
                tables.sort_by(|a, b| a.smallest_key.cmp(&b.smallest_key));
            }
        }
    }

    /// The layout invariants: unique ids, sane key and sequence ranges,
    /// level 0 newest first, deeper levels sorted and disjoint.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.levels.len() != LEVELS_MAX {
            return Err(format!(
                "{} levels, expected {LEVELS_MAX}",
                self.levels.len()
            ));
        }
        let mut ids: Vec<u64> = self.tables().map(|(_, table)| table.id).collect();
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!("table {} is live twice", pair[0]));
        }
        for (level, table) in self.tables() {
            if table.smallest_key > table.largest_key || table.min_seq > table.max_seq {
                return Err(format!(
                    "table {} in level {level} has inverted ranges",
                    table.id
                ));
            }
        }
        let l0 = self.level(0);
        if l0
            .windows(2)
            .any(|pair| (pair[0].max_seq, pair[0].id) < (pair[1].max_seq, pair[1].id))
        {
            return Err("level 0 is not ordered newest first".to_string());
        }
        for level in 1..LEVELS_MAX {
            if let Some(pair) = self
                .level(level)
                .windows(2)
                .find(|pair| pair[0].largest_key >= pair[1].smallest_key)
            {
                return Err(format!(
                    "tables {} and {} overlap in level {level}",
                    pair[0].id, pair[1].id
                ));
            }
        }
        Ok(())
    }
}

/// Everything the manifest records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestState {
    pub layout: LevelLayout,
    /// Every write with a sequence number up to this one is in a table: the
    /// log replay on open skips them.
    pub flushed_seq: SequenceNumber,
    /// No table file has this id or a larger one.
    pub next_table_id: u64,
}

impl ManifestState {
    // ANCHOR: manifest_apply
    /// Applies one edit, checking every rule; on error nothing changes.
    pub fn apply(&mut self, edit: &VersionEdit) -> std::result::Result<(), String> {
        if edit.flushed_seq < self.flushed_seq {
            return Err(format!(
                "flushed sequence number goes back from {} to {}",
                self.flushed_seq, edit.flushed_seq
            ));
        }
        if edit.next_table_id < self.next_table_id {
            return Err(format!(
                "next table id goes back from {} to {}",
                self.next_table_id, edit.next_table_id
            ));
        }
        if let Some((_, table)) = edit.added.iter().find(|(_, t)| t.id >= edit.next_table_id) {
            return Err(format!(
                "table {} is not below the next table id {}",
                table.id, edit.next_table_id
            ));
        }
        self.layout.apply(edit)?;
        self.flushed_seq = edit.flushed_seq;
        self.next_table_id = edit.next_table_id;
        Ok(())
    }
    // ANCHOR_END: manifest_apply

    /// The edit that builds this state from nothing.
    pub fn snapshot(&self) -> VersionEdit {
        VersionEdit {
            snapshot: true,
            flushed_seq: self.flushed_seq,
            next_table_id: self.next_table_id,
            removed: Vec::new(),
            added: self
                .layout
                .tables()
                .map(|(level, table)| (level, table.clone()))
                .collect(),
        }
    }
}

// ANCHOR: version_edit
/// One atomic change to the set of live tables.
///
/// Every edit carries the current watermarks, so the last edit alone says how
/// far the log is flushed and where table ids continue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// True for the first record of a manifest, which starts from nothing.
    pub snapshot: bool,
    pub flushed_seq: SequenceNumber,
    pub next_table_id: u64,
    /// `(level, table id)` of tables that stop being live.
    pub removed: Vec<(usize, u64)>,
    /// `(level, table)` of tables that become live.
    pub added: Vec<(usize, TableMeta)>,
}
// ANCHOR_END: version_edit

// ANCHOR: manifest_record
/// Encodes an edit as a manifest record payload (format in the module doc).
pub fn encode_edit(edit: &VersionEdit) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(EDIT_FORMAT_VERSION);
    out.push(if edit.snapshot { FLAG_SNAPSHOT } else { 0 });
    out.extend_from_slice(&edit.flushed_seq.to_le_bytes());
    out.extend_from_slice(&edit.next_table_id.to_le_bytes());
    put_count(&mut out, edit.removed.len());
    for &(level, id) in &edit.removed {
        put_level(&mut out, level);
        out.extend_from_slice(&id.to_le_bytes());
    }
    put_count(&mut out, edit.added.len());
    for (level, table) in &edit.added {
        put_level(&mut out, *level);
        for number in [
            table.id,
            table.file_bytes,
            table.entries,
            table.min_seq,
            table.max_seq,
        ] {
            out.extend_from_slice(&number.to_le_bytes());
        }
        put_bytes(&mut out, &table.smallest_key);
        put_bytes(&mut out, &table.largest_key);
    }
    out
}

/// Decodes [`encode_edit`]'s output, checking every length and field.
pub fn decode_edit(payload: &[u8]) -> std::result::Result<VersionEdit, String> {
    let mut reader = Reader { rest: payload };
    let version = reader.u8()?;
    if version != EDIT_FORMAT_VERSION {
        return Err(format!("unknown edit format version {version}"));
    }
    let flags = reader.u8()?;
    if flags & !FLAG_SNAPSHOT != 0 {
        return Err(format!("unknown edit flags {flags:#04x}"));
    }
    let mut edit = VersionEdit {
        snapshot: flags & FLAG_SNAPSHOT != 0,
        flushed_seq: reader.u64()?,
        next_table_id: reader.u64()?,
        ..VersionEdit::default()
    };
    // Each removal takes 9 bytes, each addition at least 49: a count larger
    // than the bytes left is rejected before anything is allocated.
    let removed = reader.count(1 + 8)?;
    for _ in 0..removed {
        edit.removed.push((reader.level()?, reader.u64()?));
    }
    let added = reader.count(1 + 5 * 8 + 2 * 4)?;
    for _ in 0..added {
        let level = reader.level()?;
        let table = TableMeta {
            id: reader.u64()?,
            file_bytes: reader.u64()?,
            entries: reader.u64()?,
            min_seq: reader.u64()?,
            max_seq: reader.u64()?,
            smallest_key: reader.bytes()?.to_vec(),
            largest_key: reader.bytes()?.to_vec(),
        };
        edit.added.push((level, table));
    }
    if !reader.rest.is_empty() {
        return Err(format!("{} stray bytes after the edit", reader.rest.len()));
    }
    Ok(edit)
}
// ANCHOR_END: manifest_record

fn put_count(out: &mut Vec<u8>, count: usize) {
    out.extend_from_slice(&(count as u32).to_le_bytes());
}

fn put_level(out: &mut Vec<u8>, level: usize) {
    assert!(level < LEVELS_MAX, "level {level} does not exist");
    out.push(level as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over untrusted bytes: every read is bounds-checked.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> std::result::Result<&'a [u8], String> {
        if len > self.rest.len() {
            return Err(format!("needs {len} bytes, {} remain", self.rest.len()));
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        let (bytes, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or_else(|| format!("needs {N} bytes, {} remain", self.rest.len()))?;
        self.rest = rest;
        Ok(*bytes)
    }

    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn level(&mut self) -> std::result::Result<usize, String> {
        let level = usize::from(self.u8()?);
        if level >= LEVELS_MAX {
            return Err(format!("level {level} does not exist"));
        }
        Ok(level)
    }

    /// A count of items that take at least `item_bytes_min` bytes each.
    fn count(&mut self, item_bytes_min: usize) -> std::result::Result<usize, String> {
        let count = self.u32()? as usize;
        if count > self.rest.len() / item_bytes_min {
            return Err(format!(
                "{count} items cannot fit in {} bytes",
                self.rest.len()
            ));
        }
        Ok(count)
    }

    fn bytes(&mut self) -> std::result::Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

/// How a manifest behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestOptions {
    /// fsync edits and rewrites. Off only for tests and throwaway data.
    pub sync: bool,
    /// Rewrite the file as one snapshot once it grows past this.
    pub rewrite_bytes: u64,
}

impl Default for ManifestOptions {
    fn default() -> Self {
        Self {
            sync: true,
            rewrite_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The manifest of an open engine: the current state and the file that
/// records it. One writer at a time (`&mut self`); the engine keeps it
/// behind a mutex.
#[derive(Debug)]
pub struct Manifest {
    dir: PathBuf,
    options: ManifestOptions,
    /// Open for appending once the first rewrite cut off any torn tail.
    file: Option<File>,
    len: u64,
    /// The number the next record gets.
    next_number: u64,
    state: ManifestState,
    /// Set when a write failed: the file may end in a partial record, so
    /// nothing more may be appended to it.
    failed: Option<String>,
}

impl Manifest {
    /// Recovers the manifest in `dir` (an empty state if there is none).
    /// Writes nothing: the caller checks the state against the disk first,
    /// and then calls [`Manifest::rewrite`] — which also cuts off a torn
    /// tail, so appends never land behind garbage. A failed open leaves
    /// every file as it found it, for a human to look at.
    pub fn open(dir: &Path, options: ManifestOptions) -> Result<Manifest> {
        // A leftover `MANIFEST.tmp` is a rewrite that crashed before its
        // rename: the old file rules, and the next rewrite overwrites it.
        let path = dir.join(MANIFEST_FILE_NAME);
        let state = if path.exists() {
            let len = fs::metadata(&path)
                .map_err(|e| StorageError::io(&path, e))?
                .len();
            if len > MANIFEST_BYTES_MAX {
                return Err(StorageError::Corruption {
                    file: path,
                    offset: 0,
                    reason: format!("manifest of {len} bytes exceeds {MANIFEST_BYTES_MAX}"),
                });
            }
            let data = fs::read(&path).map_err(|e| StorageError::io(&path, e))?;
            replay(&data).map_err(|(offset, reason)| StorageError::Corruption {
                file: path.clone(),
                offset: offset as u64,
                reason,
            })?
        } else {
            ManifestState::default()
        };
        Ok(Manifest {
            dir: dir.to_path_buf(),
            options,
            file: None,
            len: 0,
            next_number: 2,
            state,
            failed: None,
        })
    }

    pub fn state(&self) -> &ManifestState {
        &self.state
    }

    /// Bytes in the manifest file.
    pub fn file_bytes(&self) -> u64 {
        self.len
    }

    // ANCHOR: manifest_append
    /// Appends `edit` and makes it durable, then applies it. An edit that
    /// does not apply is a bug in the caller and changes nothing.
    pub fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        if let Some(reason) = &self.failed {
            return Err(StorageError::Failed {
                reason: reason.clone(),
            });
        }
        assert!(!edit.snapshot, "only a rewrite writes a snapshot");
        let mut next = self.state.clone();
        next.apply(edit).map_err(|reason| StorageError::Failed {
            reason: format!("invalid manifest edit: {reason}"),
        })?;
        if self.file.is_none() {
            self.rewrite()?;
        }
        let Some(file) = &mut self.file else {
            return Err(StorageError::Failed {
                reason: "the manifest is not open for appending".to_string(),
            });
        };
        let record = encode_record(self.next_number, &encode_edit(edit));
        let path = self.dir.join(MANIFEST_FILE_NAME);
        let sync = self.options.sync;
        let written = file
            .write_all(&record)
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        if let Err(error) = written {
            self.failed = Some(format!("manifest write failed: {error}"));
            return Err(StorageError::io(path, error));
        }
        self.len += record.len() as u64;
        self.next_number += 1;
        self.state = next;
        if self.len > self.options.rewrite_bytes {
            self.rewrite()?;
        }
        Ok(())
    }
    // ANCHOR_END: manifest_append

    /// Replaces the file by one snapshot of the current state, atomically.
    pub fn rewrite(&mut self) -> Result<()> {
        if let Some(reason) = &self.failed {
            return Err(StorageError::Failed {
                reason: reason.clone(),
            });
        }
        match write_snapshot(&self.dir, &self.state, self.options.sync) {
            Ok((file, len)) => {
                self.file = Some(file);
                self.len = len;
                self.next_number = 2;
                Ok(())
            }
            Err(error) => {
                // The old file is intact (the rename is the commit point),
                // but the handle may not be: stop appending.
                self.failed = Some(format!("manifest rewrite failed: {error}"));
                Err(error)
            }
        }
    }
}

// ANCHOR: manifest_replay
/// Rebuilds the state from a manifest file's bytes. Errors carry the offset
/// of the record at fault.
pub fn replay(data: &[u8]) -> std::result::Result<ManifestState, (usize, String)> {
    let mut state = ManifestState::default();
    let mut offset = 0;
    let mut number: u64 = 1;
    // Each pass consumes one whole record or ends the file.
    while let Some(rest) = data.get(offset..).filter(|rest| !rest.is_empty()) {
        let record = match decode_record(rest) {
            Ok(record) => record,
            Err(error) => match classify_bad_record(data, offset, true, number) {
                BadRecord::TornTail => break,
                BadRecord::Corruption => return Err((offset, error.to_string())),
            },
        };
        if record.seq != number {
            return Err((
                offset,
                format!("record {} where {number} belongs", record.seq),
            ));
        }
        let edit = decode_edit(record.payload).map_err(|reason| (offset, reason))?;
        if edit.snapshot != (number == 1) {
            return Err((
                offset,
                "a snapshot must be the first record, and only it".to_string(),
            ));
        }
        state.apply(&edit).map_err(|reason| (offset, reason))?;
        offset += record.encoded_len();
        number += 1;
    }
    if number == 1 {
        return Err((0, "the manifest holds no intact snapshot".to_string()));
    }
    Ok(state)
}
// ANCHOR_END: manifest_replay

/// Writes `state` as a one-record manifest: into the temporary file, fsync,
/// rename over the manifest, fsync the directory. Returns the new file, open
/// for appending, and its length.
fn write_snapshot(dir: &Path, state: &ManifestState, sync: bool) -> Result<(File, u64)> {
    let temp = dir.join(MANIFEST_TEMP_FILE_NAME);
    let path = dir.join(MANIFEST_FILE_NAME);
    let record = encode_record(1, &encode_edit(&state.snapshot()));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&temp)
        .map_err(|e| StorageError::io(&temp, e))?;
    file.write_all(&record)
        .map_err(|e| StorageError::io(&temp, e))?;
    if sync {
        file.sync_all().map_err(|e| StorageError::io(&temp, e))?;
    }
    drop(file);
    fs::rename(&temp, &path).map_err(|e| StorageError::io(&path, e))?;
    if sync {
        sync_dir(dir)?;
    }
    let file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    Ok((file, record.len() as u64))
}

/// Makes a directory's entries (created, renamed, deleted files) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(id: u64, smallest: &[u8], largest: &[u8], seq: SequenceNumber) -> TableMeta {
        TableMeta {
            id,
            smallest_key: smallest.to_vec(),
            largest_key: largest.to_vec(),
            entries: 3,
            file_bytes: 100 * id,
            min_seq: seq,
            max_seq: seq + 2,
        }
    }

    fn flush(id: u64, seq: SequenceNumber) -> VersionEdit {
        VersionEdit {
            flushed_seq: seq + 2,
            next_table_id: id + 1,
            added: vec![(0, table(id, b"a", b"z", seq))],
            ..VersionEdit::default()
        }
    }

    fn no_sync() -> ManifestOptions {
        ManifestOptions {
            sync: false,
            rewrite_bytes: 1 << 20,
        }
    }

    #[test]
    fn edits_round_trip_through_their_encoding() {
        let edit = VersionEdit {
            snapshot: false,
            flushed_seq: 77,
            next_table_id: 12,
            removed: vec![(0, 3), (1, 9)],
            added: vec![
                (1, table(10, b"", b"\xff\xff", 5)),
                (2, table(11, b"k", b"k", 1)),
            ],
        };
        let encoded = encode_edit(&edit);
        assert_eq!(decode_edit(&encoded), Ok(edit));
        for len in 0..encoded.len() {
            assert!(
                decode_edit(&encoded[..len]).is_err(),
                "accepted a cut at {len}"
            );
        }
        let mut stray = encoded.clone();
        stray.push(0);
        assert!(decode_edit(&stray).is_err());
        let mut level = encoded.clone();
        level[2 + 16 + 4] = LEVELS_MAX as u8; // The first removal's level.
        assert!(decode_edit(&level).is_err());
    }

    #[test]
    fn edit_encoding_is_stable() {
        let edit = VersionEdit {
            snapshot: true,
            flushed_seq: 2,
            next_table_id: 3,
            removed: vec![],
            added: vec![(1, table(1, b"a", b"b", 1))],
        };
        let mut expected = vec![1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
        expected.extend([0, 0, 0, 0, 1, 0, 0, 0, 1]);
        for number in [1u64, 100, 3, 1, 3] {
            expected.extend(number.to_le_bytes());
        }
        expected.extend([1, 0, 0, 0, b'a', 1, 0, 0, 0, b'b']);
        assert_eq!(encode_edit(&edit), expected);
    }

    #[test]
    fn the_layout_orders_levels_and_refuses_overlaps_and_duplicates() {
        let mut state = ManifestState::default();
        state.apply(&flush(1, 1)).unwrap();
        state.apply(&flush(2, 4)).unwrap();
        let ids: Vec<u64> = state.layout.level(0).iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![2, 1], "level 0 is newest first");

        let compaction = VersionEdit {
            flushed_seq: 6,
            next_table_id: 5,
            removed: vec![(0, 1), (0, 2)],
            added: vec![(1, table(4, b"n", b"z", 1)), (1, table(3, b"a", b"m", 1))],
            ..VersionEdit::default()
        };
        state.apply(&compaction).unwrap();
        let ids: Vec<u64> = state.layout.level(1).iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![3, 4], "deeper levels are sorted by key");
        assert!(state.layout.level(0).is_empty());

        let before = state.clone();
        let overlap = VersionEdit {
            flushed_seq: 6,
            next_table_id: 6,
            added: vec![(1, table(5, b"m", b"n", 7))],
            ..VersionEdit::default()
        };
        assert!(state.apply(&overlap).unwrap_err().contains("overlap"));
        let missing = VersionEdit {
            flushed_seq: 6,
            next_table_id: 6,
            removed: vec![(2, 3)],
            ..VersionEdit::default()
        };
        assert!(state.apply(&missing).is_err(), "table 3 is in level 1");
        let duplicate = VersionEdit {
            flushed_seq: 6,
            next_table_id: 6,
            added: vec![(2, table(3, b"a", b"b", 1))],
            ..VersionEdit::default()
        };
        assert!(state.apply(&duplicate).is_err());
        let backwards = VersionEdit {
            flushed_seq: 5,
            next_table_id: 6,
            ..VersionEdit::default()
        };
        assert!(state.apply(&backwards).is_err());
        let id_too_big = VersionEdit {
            flushed_seq: 6,
            next_table_id: 6,
            added: vec![(2, table(6, b"a", b"b", 1))],
            ..VersionEdit::default()
        };
        assert!(state.apply(&id_too_big).is_err());
        assert_eq!(state, before, "failed edits change nothing");
    }

    #[test]
    fn appended_edits_survive_a_reopen_and_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::open(dir.path(), no_sync()).unwrap();
        assert_eq!(manifest.state(), &ManifestState::default());
        assert!(
            !dir.path().join(MANIFEST_FILE_NAME).exists(),
            "opening writes nothing"
        );
        for id in 1..=3 {
            manifest.append(&flush(id, id * 10)).unwrap();
        }
        let expected = manifest.state().clone();
        drop(manifest);
        let manifest = Manifest::open(dir.path(), no_sync()).unwrap();
        assert_eq!(manifest.state(), &expected);
        assert_eq!(expected.flushed_seq, 32);
        assert_eq!(expected.next_table_id, 4);

        let options = ManifestOptions {
            sync: false,
            rewrite_bytes: 300,
        };
        let mut manifest = Manifest::open(dir.path(), options).unwrap();
        let mut rewrites = 0;
        for id in 4..=20 {
            let before = manifest.file_bytes();
            manifest.append(&flush(id, id * 10)).unwrap();
            let snapshot = encode_record(1, &encode_edit(&manifest.state().snapshot())).len();
            if manifest.file_bytes() == snapshot as u64 {
                rewrites += 1;
            } else {
                assert!(manifest.file_bytes() > before, "appended");
                assert!(before <= 300, "rewritten once it grew past the limit");
            }
        }
        assert!(rewrites >= 3, "{rewrites} rewrites");
        let expected = manifest.state().clone();
        drop(manifest);
        assert_eq!(
            Manifest::open(dir.path(), no_sync()).unwrap().state(),
            &expected
        );
    }

    #[test]
    fn a_torn_last_edit_is_ignored_and_earlier_damage_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::open(dir.path(), no_sync()).unwrap();
        manifest.append(&flush(1, 1)).unwrap();
        let after_first = manifest.state().clone();
        manifest.append(&flush(2, 4)).unwrap();
        drop(manifest);
        let path = dir.path().join(MANIFEST_FILE_NAME);
        let whole = fs::read(&path).unwrap();

        for cut in [1, 5, 20] {
            fs::write(&path, &whole[..whole.len() - cut]).unwrap();
            let manifest = Manifest::open(dir.path(), no_sync()).unwrap();
            assert_eq!(manifest.state(), &after_first, "cut {cut}");
        }

        // Damage to the middle record, with an intact one after it.
        let second_record =
            encode_record(1, &encode_edit(&ManifestState::default().snapshot())).len();
        let mut damaged = whole.clone();
        damaged[second_record + 20] ^= 0x04;
        fs::write(&path, &damaged).unwrap();
        let result = Manifest::open(dir.path(), no_sync());
        assert!(
            matches!(result, Err(StorageError::Corruption { offset, .. }) if offset == second_record as u64),
            "{result:?}"
        );
    }

    #[test]
    fn an_intact_record_that_does_not_apply_is_corruption() {
        let mut data = encode_record(1, &encode_edit(&ManifestState::default().snapshot()));
        data.extend(encode_record(2, &encode_edit(&flush(1, 5))));
        assert!(replay(&data).is_ok());
        let mut bad = data.clone();
        bad.extend(encode_record(3, &encode_edit(&flush(1, 9))));
        assert!(replay(&bad).unwrap_err().1.contains("twice"));
        let mut skipped = data.clone();
        skipped.extend(encode_record(4, &encode_edit(&flush(2, 9))));
        assert!(replay(&skipped).is_err(), "record numbers are contiguous");
        let not_snapshot = encode_record(1, &encode_edit(&flush(1, 5)));
        assert!(replay(&not_snapshot).is_err());
        assert!(
            replay(&[]).is_err(),
            "an empty manifest has lost its snapshot"
        );
    }

    #[test]
    fn a_leftover_rewrite_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::open(dir.path(), no_sync()).unwrap();
        manifest.append(&flush(1, 1)).unwrap();
        let expected = manifest.state().clone();
        drop(manifest);
        fs::write(dir.path().join(MANIFEST_TEMP_FILE_NAME), b"half a rewrite").unwrap();
        let mut manifest = Manifest::open(dir.path(), no_sync()).unwrap();
        assert_eq!(manifest.state(), &expected);
        manifest.rewrite().unwrap();
        assert!(!dir.path().join(MANIFEST_TEMP_FILE_NAME).exists());
        drop(manifest);
        assert_eq!(
            Manifest::open(dir.path(), no_sync()).unwrap().state(),
            &expected
        );
    }
}
