//! The partition map on disk: one small checksummed file, replaced
//! atomically.
//!
//! The map file is the *commit point* of a split. Everything else a split
//! writes (the children's directories) is invisible until the map that
//! names them is durable, and everything it removes (the parent's
//! directory) is removed only after. So the whole crash story of a split
//! rests on one property of this file: **after a crash it holds the old map
//! or the new one, whole, never a mix.** That is the classic recipe:
//!
//! 1. write the new map to a temporary file and fsync it (its bytes are on
//!    disk);
//! 2. rename it over the map file (atomic: a reader sees the old file or the
//!    new one);
//! 3. fsync the directory (the rename itself is on disk).
//!
//! A crash before step 2 leaves the old map and a temporary file, which
//! [`remove_temp`] deletes at the next open. The checksum catches what the
//! recipe cannot: a disk that returns damaged bytes. A damaged map is
//! reported as corruption and the table refuses to open — guessing which
//! partition owns what would serve wrong answers.
//!
//! Format (integers big-endian, so a hex dump shows hashes as they print):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `MDPARMAP` |
//! | 1 | format version, `1` |
//! | 8 | epoch |
//! | 8 | next partition id |
//! | 4 | partition count `n` |
//! | 40 × n | per partition: id (8), range start (16), range end (16) |
//! | 4 | CRC32C of everything before it |

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use step01_kv::engine::StorageError;

use crate::map::{PARTITIONS_MAX, PartitionEntry, PartitionId, PartitionMap};
use crate::range::HashRange;

/// The map file's name in a table's directory.
pub const MAP_FILE_NAME: &str = "PARTITION_MAP";
/// Where a new map is written before it is renamed into place.
pub const MAP_TEMP_FILE_NAME: &str = "PARTITION_MAP.tmp";

const MAGIC: &[u8; 8] = b"MDPARMAP";
const FORMAT_VERSION: u8 = 1;
const HEADER_BYTES: usize = 8 + 1 + 8 + 8 + 4;
const ENTRY_BYTES: usize = 8 + 16 + 16;
const CHECKSUM_BYTES: usize = 4;
/// The largest valid map file: anything longer is refused before parsing.
pub const MAP_FILE_BYTES_MAX: usize = HEADER_BYTES + PARTITIONS_MAX * ENTRY_BYTES + CHECKSUM_BYTES;

// ANCHOR: map_format
/// The map's bytes, checksum included.
pub fn encode_map(map: &PartitionMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + map.len() * ENTRY_BYTES + CHECKSUM_BYTES);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&map.epoch().to_be_bytes());
    out.extend_from_slice(&map.next_id().to_be_bytes());
    // At most PARTITIONS_MAX entries, so the count fits in a u32.
    out.extend_from_slice(&(map.len() as u32).to_be_bytes());
    for entry in map.entries() {
        out.extend_from_slice(&entry.id.0.to_be_bytes());
        out.extend_from_slice(&entry.range.start().to_be_bytes());
        out.extend_from_slice(&entry.range.end().to_be_bytes());
    }
    let checksum = crc32c::crc32c(&out);
    out.extend_from_slice(&checksum.to_be_bytes());
    out
}

/// Reads a map back, trusting nothing: length, checksum, magic, version and
/// every invariant of [`PartitionMap::check`].
pub fn decode_map(bytes: &[u8]) -> Result<PartitionMap, String> {
    if bytes.len() < HEADER_BYTES + CHECKSUM_BYTES || bytes.len() > MAP_FILE_BYTES_MAX {
        return Err(format!("a map file of {} bytes is impossible", bytes.len()));
    }
    let (body, stored) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    let mut reader = Reader { bytes: stored };
    if reader.u32()? != crc32c::crc32c(body) {
        return Err("checksum mismatch".to_string());
    }
    let mut reader = Reader { bytes: body };
    if reader.take(MAGIC.len())? != MAGIC {
        return Err("not a partition map (bad magic)".to_string());
    }
    let version = reader.take(1)?[0];
    if version != FORMAT_VERSION {
        return Err(format!("unknown map format version {version}"));
    }
    let epoch = reader.u64()?;
    let next_id = reader.u64()?;
    let count = reader.u32()? as usize;
    if reader.bytes.len() != count.saturating_mul(ENTRY_BYTES) {
        return Err(format!("{count} partitions do not fit the file's length"));
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let id = PartitionId(reader.u64()?);
        let start = reader.u128()?;
        let end = reader.u128()?;
        let range = HashRange::new(start, end)
            .ok_or_else(|| format!("partition {id} has an empty range"))?;
        entries.push(PartitionEntry { id, range });
    }
    PartitionMap::from_parts(epoch, next_id, entries)
}
// ANCHOR_END: map_format

/// A bounds-checked cursor over the map's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.bytes.len() {
            return Err("truncated map file".to_string());
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn u128(&mut self) -> Result<u128, String> {
        Ok(u128::from_be_bytes(self.array()?))
    }
}

/// The table's map, or `None` if the table has never written one.
pub fn load(dir: &Path) -> Result<Option<PartitionMap>, StorageError> {
    let path = dir.join(MAP_FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(StorageError::io(&path, error)),
    };
    decode_map(&bytes)
        .map(Some)
        .map_err(|reason| StorageError::Corruption {
            file: path,
            offset: 0,
            reason,
        })
}

/// Step 1 of the recipe: the new map in the temporary file, fsynced.
pub fn write_temp(dir: &Path, map: &PartitionMap) -> Result<(), StorageError> {
    let path = dir.join(MAP_TEMP_FILE_NAME);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    file.write_all(&encode_map(map))
        .and_then(|()| file.sync_all())
        .map_err(|e| StorageError::io(&path, e))
}

// ANCHOR: map_commit
/// Steps 2 and 3: rename the temporary file over the map, fsync the
/// directory. When this returns, the new map is the durable one.
pub fn commit_temp(dir: &Path) -> Result<(), StorageError> {
    let temp = dir.join(MAP_TEMP_FILE_NAME);
    fs::rename(&temp, dir.join(MAP_FILE_NAME)).map_err(|e| StorageError::io(&temp, e))?;
    sync_dir(dir)
}
// ANCHOR_END: map_commit

/// Writes `map` durably and atomically: [`write_temp`], then [`commit_temp`].
pub fn store(dir: &Path, map: &PartitionMap) -> Result<(), StorageError> {
    write_temp(dir, map)?;
    commit_temp(dir)
}

/// Deletes a temporary map left by a crash before its rename. It was never
/// committed, so it is not the table's map.
pub fn remove_temp(dir: &Path) -> Result<(), StorageError> {
    let path = dir.join(MAP_TEMP_FILE_NAME);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(dir),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
        Err(error) => Err(StorageError::io(&path, error)),
    }
}

/// Makes the directory's entries (creations, renames, removals) durable.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// The path of the map file in `dir`.
pub fn map_path(dir: &Path) -> PathBuf {
    dir.join(MAP_FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_map() -> PartitionMap {
        let map = PartitionMap::new(3).unwrap();
        let first = map.entries()[1];
        map.with_split(first.id, first.range.start() + 12345)
            .unwrap()
            .0
    }

    #[test]
    fn maps_round_trip() {
        for map in [PartitionMap::new(1).unwrap(), split_map()] {
            assert_eq!(decode_map(&encode_map(&map)), Ok(map));
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode_map(&split_map());
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_map(&damaged).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn truncations_and_extensions_are_refused() {
        let bytes = encode_map(&split_map());
        for len in 0..bytes.len() {
            assert!(decode_map(&bytes[..len]).is_err(), "length {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_map(&longer).is_err());
    }

    #[test]
    fn a_valid_checksum_over_an_invalid_map_is_still_refused() {
        // A map whose ranges leave a gap, with a correct checksum.
        let mut bytes = encode_map(&PartitionMap::new(2).unwrap());
        bytes.truncate(bytes.len() - CHECKSUM_BYTES);
        let second_start = HEADER_BYTES + ENTRY_BYTES + 8;
        bytes[second_start + 15] ^= 1;
        let checksum = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&checksum.to_be_bytes());
        let error = decode_map(&bytes).unwrap_err();
        assert!(error.contains("does not start"), "{error}");
    }

    #[test]
    fn store_load_and_leftover_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let first = PartitionMap::new(2).unwrap();
        store(dir.path(), &first).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(first.clone()));

        // A crash between the temporary write and the rename: the old map
        // stays, and the leftover is removed at the next open.
        write_temp(dir.path(), &split_map()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(first.clone()));
        remove_temp(dir.path()).unwrap();
        assert!(!dir.path().join(MAP_TEMP_FILE_NAME).exists());
        remove_temp(dir.path()).unwrap();

        fs::write(map_path(dir.path()), b"garbage").unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(StorageError::Corruption { .. })
        ));
    }
}
