//! Where a follower stages the chunks of a snapshot before it installs them.
//!
//! A snapshot replaces a replica's whole state, and arrives a chunk at a
//! time, so the chunks wait in a file beside the engine until the last one
//! is in. The file is a sequence of step 1 log records (length, sequence
//! number, CRC32C — [`encode_record`]), a chunk each, then one *finish*
//! record naming the index the snapshot installs at:
//!
//! ```text
//! install.staging   chunk 0 | chunk 1 | … | chunk n | finish(index, consistent_from)
//! ```
//!
//! The engine is emptied only once the finish record is durable. If the
//! process dies while the chunks are copied in, the engine is marked
//! "restoring" and the complete file is still there, so the copy is simply
//! done again on the next open. A file without its finish record is an
//! unfinished transfer and is thrown away: the leader sends it again.
//!
//! Invariants: a chunk's bytes are served to the engine only after their
//! checksum matched; the file is read a record at a time, so memory stays
//! within one chunk whatever the partition's size.

use crate::codec::{Reader, Writer};
use crate::types::LogIndex;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use step01_kv::engine::{Result, StorageError};
use step01_kv::wal::{RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX, decode_record, encode_record};

/// The staging file's name, in the replica's directory.
pub const STAGING_FILE_NAME: &str = "install.staging";

const KIND_CHUNK: u8 = 1;
const KIND_FINISH: u8 = 2;

/// What a finish record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    pub index: LogIndex,
    pub consistent_from: LogIndex,
}

/// The staging file of one replica.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    /// Open while a transfer is being staged.
    writer: Option<BufWriter<File>>,
    next_seq: u64,
}

impl Staging {
    pub fn new(dir: &Path) -> Staging {
        Staging {
            path: dir.join(STAGING_FILE_NAME),
            writer: None,
            next_seq: 0,
        }
    }

    /// Starts a new transfer, dropping whatever an earlier one staged.
    pub fn begin(&mut self) -> Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.writer = Some(BufWriter::new(file));
        self.next_seq = 0;
        Ok(())
    }

    pub fn is_open(&self) -> bool {
        self.writer.is_some()
    }

    /// Appends one chunk (already validated by the caller).
    pub fn append_chunk(&mut self, data: &[u8]) -> Result<()> {
        let mut payload = Vec::with_capacity(data.len() + 1);
        payload.push(KIND_CHUNK);
        payload.extend_from_slice(data);
        self.append(&payload)
    }

    /// Appends the finish record and makes the whole file durable.
    pub fn finish(&mut self, finished: Finished) -> Result<()> {
        let mut w = Writer::new();
        w.u8(KIND_FINISH)
            .u64(finished.index)
            .u64(finished.consistent_from);
        self.append(&w.into_bytes())?;
        let Some(writer) = self.writer.take() else {
            return Err(self.failed("no transfer is being staged"));
        };
        let file = writer
            .into_inner()
            .map_err(|e| StorageError::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| StorageError::io(&self.path, e))
    }

    fn append(&mut self, payload: &[u8]) -> Result<()> {
        if payload.len() > RECORD_PAYLOAD_BYTES_MAX {
            return Err(self.failed("a chunk larger than a record"));
        }
        let record = encode_record(self.next_seq, payload);
        let path = self.path.clone();
        let Some(writer) = &mut self.writer else {
            return Err(self.failed("no transfer is being staged"));
        };
        writer
            .write_all(&record)
            .map_err(|e| StorageError::io(&path, e))?;
        self.next_seq += 1;
        Ok(())
    }

    /// The finish record of a complete file, or `None` (no file, or an
    /// unfinished one). Every record's checksum is checked on the way.
    pub fn finished(&self) -> Result<Option<Finished>> {
        let mut finished = None;
        let complete = self.read_records(|payload| {
            finished = match payload.split_first() {
                Some((&KIND_FINISH, rest)) => Some(decode_finish(rest)?),
                Some((&KIND_CHUNK, _)) => None,
                _ => return Err(self.corrupt("unknown record kind")),
            };
            Ok(())
        })?;
        Ok(if complete { finished } else { None })
    }

    /// Visits the chunks of a complete file in order.
    pub fn for_each_chunk(&self, mut visit: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.read_records(|payload| match payload.split_first() {
            Some((&KIND_CHUNK, data)) => visit(data),
            _ => Ok(()),
        })
        .map(|_| ())
    }

    /// Deletes the file (and forgets an open transfer).
    pub fn remove(&mut self) -> Result<()> {
        self.writer = None;
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(&self.path, e)),
        }
    }

    /// Reads the records in order; `Ok(false)` if the file is missing or
    /// ends in a torn record (an unfinished transfer).
    fn read_records(&self, mut visit: impl FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StorageError::io(&self.path, e)),
        };
        let mut record = vec![0; RECORD_HEADER_BYTES];
        // Each turn consumes one record or ends: bounded by the file's size.
        loop {
            record.resize(RECORD_HEADER_BYTES, 0);
            match read_full(&mut file, &mut record) {
                Ok(0) => return Ok(true),
                Ok(n) if n < RECORD_HEADER_BYTES => return Ok(false),
                Ok(_) => {}
                Err(e) => return Err(StorageError::io(&self.path, e)),
            }
            let length = u32::from_le_bytes([record[4], record[5], record[6], record[7]]) as usize;
            if length > RECORD_PAYLOAD_BYTES_MAX {
                return Err(self.corrupt("a record longer than any written"));
            }
            record.resize(RECORD_HEADER_BYTES + length, 0);
            match read_full(&mut file, &mut record[RECORD_HEADER_BYTES..]) {
                Ok(n) if n < length => return Ok(false),
                Ok(_) => {}
                Err(e) => return Err(StorageError::io(&self.path, e)),
            }
            let decoded = decode_record(&record).map_err(|e| self.corrupt(&e.to_string()))?;
            visit(decoded.payload)?;
        }
    }

    fn corrupt(&self, reason: &str) -> StorageError {
        StorageError::Corruption {
            file: self.path.clone(),
            offset: 0,
            reason: reason.to_string(),
        }
    }

    fn failed(&self, reason: &str) -> StorageError {
        StorageError::Failed {
            reason: format!("{}: {reason}", self.path.display()),
        }
    }
}

fn decode_finish(bytes: &[u8]) -> Result<Finished> {
    let mut r = Reader::new(bytes);
    let finished = (|| {
        let finished = Finished {
            index: r.u64()?,
            consistent_from: r.u64()?,
        };
        r.finish()?;
        Ok::<_, crate::codec::DecodeError>(finished)
    })();
    finished.map_err(|e| StorageError::Corruption {
        file: PathBuf::from(STAGING_FILE_NAME),
        offset: 0,
        reason: e.to_string(),
    })
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(staging: &Staging) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        staging
            .for_each_chunk(|data| {
                out.push(data.to_vec());
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn a_finished_file_gives_back_its_chunks_and_an_unfinished_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = Staging::new(dir.path());
        assert_eq!(staging.finished().unwrap(), None, "no file");
        staging.begin().unwrap();
        staging.append_chunk(b"one").unwrap();
        staging.append_chunk(b"two").unwrap();
        staging.writer.as_mut().unwrap().flush().unwrap();
        assert_eq!(staging.finished().unwrap(), None, "no finish record yet");
        let finished = Finished {
            index: 7,
            consistent_from: 9,
        };
        staging.finish(finished).unwrap();
        assert_eq!(staging.finished().unwrap(), Some(finished));
        assert_eq!(chunks(&staging), vec![b"one".to_vec(), b"two".to_vec()]);
        staging.begin().unwrap();
        staging.writer.as_mut().unwrap().flush().unwrap();
        assert_eq!(staging.finished().unwrap(), None, "begin drops the old one");
        staging.remove().unwrap();
        assert!(!dir.path().join(STAGING_FILE_NAME).exists());
    }

    #[test]
    fn a_torn_tail_is_unfinished_and_a_flipped_bit_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = Staging::new(dir.path());
        staging.begin().unwrap();
        staging.append_chunk(&[5; 100]).unwrap();
        staging
            .finish(Finished {
                index: 1,
                consistent_from: 1,
            })
            .unwrap();
        let path = dir.path().join(STAGING_FILE_NAME);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(staging.finished().unwrap(), None, "torn");
        let mut flipped = bytes.clone();
        flipped[RECORD_HEADER_BYTES + 10] ^= 1;
        fs::write(&path, &flipped).unwrap();
        assert!(matches!(
            staging.finished(),
            Err(StorageError::Corruption { .. })
        ));
    }
}
