//! The catalog on disk: one checksummed file, replaced atomically.
//!
//! The same recipe as step 3's partition map: write a temporary file and
//! fsync it, rename it over the catalog, fsync the directory. After any
//! crash the file is the old catalog or the new one, whole. The checksum
//! catches a disk that returns damaged bytes; a damaged catalog refuses to
//! open rather than forget tables.
//!
//! Format (integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `MDCATLOG` |
//! | 1 | format version, `1` |
//! | 4 | length `n` of the JSON |
//! | n | the tables, a JSON array of [`TableMeta`] |
//! | 4 | CRC-32 (IEEE) of everything before it |
//!
//! JSON inside a binary frame: the frame gives integrity and versioning,
//! the JSON keeps the file readable with `tail -c +14` and lets fields be
//! added without a new version.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use step01_kv::engine::StorageError;
use step03_partitioning::map_file::sync_dir;

use super::meta::TableMeta;

pub const CATALOG_FILE_NAME: &str = "CATALOG";
pub const CATALOG_TEMP_FILE_NAME: &str = "CATALOG.tmp";
/// A catalog file larger than this is refused before it is read whole
/// (2,500 tables with 50 tags each fit easily).
pub const CATALOG_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

const MAGIC: &[u8; 8] = b"MDCATLOG";
const FORMAT_VERSION: u8 = 1;
const HEADER_BYTES: usize = 8 + 1 + 4;
const CHECKSUM_BYTES: usize = 4;

// ANCHOR: catalog_format
/// The file's bytes for these tables.
pub fn encode(tables: &[TableMeta]) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(tables).map_err(|e| e.to_string())?;
    let length = u32::try_from(json.len()).map_err(|_| "catalog too large".to_string())?;
    let mut out = Vec::with_capacity(HEADER_BYTES + json.len() + CHECKSUM_BYTES);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&json);
    let checksum = crc32fast::hash(&out);
    out.extend_from_slice(&checksum.to_be_bytes());
    Ok(out)
}

/// Reads the tables back, trusting nothing: length, checksum, magic,
/// version, JSON shape.
pub fn decode(bytes: &[u8]) -> Result<Vec<TableMeta>, String> {
    if bytes.len() < HEADER_BYTES + CHECKSUM_BYTES {
        return Err(format!("a catalog of {} bytes is impossible", bytes.len()));
    }
    let (body, stored) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    let stored = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]);
    if stored != crc32fast::hash(body) {
        return Err("checksum mismatch".to_string());
    }
    let (header, json) = body.split_at(HEADER_BYTES);
    if &header[..8] != MAGIC {
        return Err("not a catalog (bad magic)".to_string());
    }
    if header[8] != FORMAT_VERSION {
        return Err(format!("unknown catalog format version {}", header[8]));
    }
    let length = u32::from_be_bytes([header[9], header[10], header[11], header[12]]);
    if usize::try_from(length).ok() != Some(json.len()) {
        return Err("length does not match the file".to_string());
    }
    serde_json::from_slice(json).map_err(|e| format!("bad catalog JSON: {e}"))
}
// ANCHOR_END: catalog_format

/// The catalog in `dir`, or an empty one if none was ever written.
/// A temporary file left by a crash is removed first: it was never
/// committed.
pub fn load(dir: &Path) -> Result<Vec<TableMeta>, StorageError> {
    let temp = dir.join(CATALOG_TEMP_FILE_NAME);
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(StorageError::io(&temp, error)),
    }
    let path = dir.join(CATALOG_FILE_NAME);
    let corrupt = |reason: String| StorageError::Corruption {
        file: path.clone(),
        offset: 0,
        reason,
    };
    match fs::metadata(&path) {
        Ok(meta) if meta.len() > CATALOG_FILE_BYTES_MAX => {
            return Err(corrupt(format!("{} bytes is too large", meta.len())));
        }
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(StorageError::io(&path, error)),
    }
    let bytes = fs::read(&path).map_err(|e| StorageError::io(&path, e))?;
    decode(&bytes).map_err(corrupt)
}

// ANCHOR: catalog_store
/// Replaces the catalog with these tables, atomically. With `durable`
/// the new catalog is on disk when this returns; without, it is only
/// atomic against this process's readers (for throwaway data).
pub fn store(dir: &Path, tables: &[TableMeta], durable: bool) -> Result<(), StorageError> {
    let bytes = encode(tables).map_err(|reason| StorageError::Corruption {
        file: dir.join(CATALOG_FILE_NAME),
        offset: 0,
        reason,
    })?;
    let temp = dir.join(CATALOG_TEMP_FILE_NAME);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&temp)
        .map_err(|e| StorageError::io(&temp, e))?;
    file.write_all(&bytes)
        .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
        .map_err(|e| StorageError::io(&temp, e))?;
    drop(file);
    fs::rename(&temp, dir.join(CATALOG_FILE_NAME)).map_err(|e| StorageError::io(&temp, e))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}
// ANCHOR_END: catalog_store

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::meta::{AttributeDefinition, BillingMode, ScalarType, Throughput};

    fn meta(name: &str) -> TableMeta {
        TableMeta {
            name: name.to_string(),
            id: "0f8fad5b-d9cb-469f-a165-70867728950e".to_string(),
            partition_key: AttributeDefinition {
                name: "pk".to_string(),
                attribute_type: ScalarType::S,
            },
            sort_key: None,
            attribute_definitions: vec![AttributeDefinition {
                name: "pk".to_string(),
                attribute_type: ScalarType::S,
            }],
            billing_mode: BillingMode::PayPerRequest,
            throughput: Throughput::default(),
            pay_per_request_since: Some(1.5),
            created: 1_700_000_000.123,
            tags: [("k".to_string(), "v".to_string())].into(),
            deletion_protection: false,
            table_class: None,
        }
    }

    #[test]
    fn round_trip() {
        let tables = vec![meta("a"), meta("b")];
        assert_eq!(decode(&encode(&tables).unwrap()).unwrap(), tables);
        assert_eq!(decode(&encode(&[]).unwrap()).unwrap(), vec![]);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode(&[meta("a")]).unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&damaged).is_err(), "bit {bit}");
        }
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn store_and_load() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        store(dir.path(), &[meta("a")], true).unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec![meta("a")]);
        // A crash before the rename leaves a temporary file: ignored.
        fs::write(dir.path().join(CATALOG_TEMP_FILE_NAME), b"half").unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec![meta("a")]);
        assert!(!dir.path().join(CATALOG_TEMP_FILE_NAME).exists());
        fs::write(dir.path().join(CATALOG_FILE_NAME), b"garbage").unwrap();
        assert!(load(dir.path()).is_err());
    }
}
