//! Frames on a TCP stream: step 1's log record format, reused.
//!
//! ```text
//! | crc32c u32 | length u32 | sequence u64 | payload (length bytes) |
//! ```
//!
//! A stream has no record boundaries, so each message travels in a frame:
//! its length first, so the reader knows how much to read, and a checksum,
//! so that it never acts on damaged bytes. That is exactly what step 1's
//! write-ahead log records are, so frames *are* those records
//! ([`encode_record`], [`decode_record`]); the sequence number counts the
//! frames of one connection from 1, and a reader checks it, so a frame lost
//! or repeated by a bug is noticed at once.
//!
//! The length is checked against [`FRAME_PAYLOAD_BYTES_MAX`] before any
//! memory is allocated for the payload.
//!
//! Two flavours share the checks: blocking ([`FrameReader`],
//! [`FrameWriter`], for clients) and async ([`AsyncFrameReader`],
//! [`AsyncFrameWriter`], for the node's tokio transport).

use std::io::{self, Read, Write};
use step01_kv::wal::{RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX, decode_record, encode_record};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload a frame carries.
pub const FRAME_PAYLOAD_BYTES_MAX: usize = RECORD_PAYLOAD_BYTES_MAX;

/// Writes frames with consecutive sequence numbers.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    next_seq: u64,
}

impl<W: Write> FrameWriter<W> {
    pub fn new(inner: W) -> FrameWriter<W> {
        FrameWriter { inner, next_seq: 1 }
    }

    pub fn write_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        if payload.len() > FRAME_PAYLOAD_BYTES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a frame of {} bytes is too large", payload.len()),
            ));
        }
        let frame = encode_record(self.next_seq, payload);
        self.next_seq += 1;
        self.inner.write_all(&frame)?;
        self.inner.flush()
    }
}

/// Reads frames, checking length, checksum and sequence.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    next_seq: u64,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader { inner, next_seq: 1 }
    }

    /// The next frame's payload; `None` if the stream ended cleanly
    /// between frames.
    pub fn read_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut header = [0u8; RECORD_HEADER_BYTES];
        let mut filled = 0;
        while filled < header.len() {
            let n = self.inner.read(&mut header[filled..])?;
            if n == 0 {
                return if filled == 0 {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
            filled += n;
        }
        let mut frame = frame_buffer(&header)?;
        self.inner.read_exact(&mut frame[RECORD_HEADER_BYTES..])?;
        check_frame(&frame, &mut self.next_seq).map(Some)
    }
}

/// A buffer for the whole frame whose header this is, the header copied
/// in: the length is checked before anything is allocated.
fn frame_buffer(header: &[u8; RECORD_HEADER_BYTES]) -> io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    length.copy_from_slice(&header[4..8]);
    let length = u32::from_le_bytes(length) as usize;
    if length > FRAME_PAYLOAD_BYTES_MAX {
        return Err(invalid(format!("a frame of {length} bytes is too large")));
    }
    let mut frame = vec![0u8; RECORD_HEADER_BYTES + length];
    frame[..RECORD_HEADER_BYTES].copy_from_slice(header);
    Ok(frame)
}

/// Checks a whole frame's checksum and sequence number; its payload.
fn check_frame(frame: &[u8], next_seq: &mut u64) -> io::Result<Vec<u8>> {
    let record = decode_record(frame).map_err(|e| invalid(format!("bad frame: {e}")))?;
    if record.seq != *next_seq {
        return Err(invalid(format!(
            "frame {} arrived where {} was expected",
            record.seq, next_seq
        )));
    }
    *next_seq += 1;
    Ok(record.payload.to_vec())
}

/// [`FrameWriter`] for async streams.
#[derive(Debug)]
pub struct AsyncFrameWriter<W> {
    inner: W,
    next_seq: u64,
}

impl<W: AsyncWrite + Unpin> AsyncFrameWriter<W> {
    pub fn new(inner: W) -> AsyncFrameWriter<W> {
        AsyncFrameWriter { inner, next_seq: 1 }
    }

    pub async fn write_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        if payload.len() > FRAME_PAYLOAD_BYTES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a frame of {} bytes is too large", payload.len()),
            ));
        }
        let frame = encode_record(self.next_seq, payload);
        self.next_seq += 1;
        self.inner.write_all(&frame).await?;
        self.inner.flush().await
    }
}

/// [`FrameReader`] for async streams.
#[derive(Debug)]
pub struct AsyncFrameReader<R> {
    inner: R,
    next_seq: u64,
}

impl<R: AsyncRead + Unpin> AsyncFrameReader<R> {
    pub fn new(inner: R) -> AsyncFrameReader<R> {
        AsyncFrameReader { inner, next_seq: 1 }
    }

    /// The next frame's payload; `None` if the stream ended cleanly
    /// between frames.
    pub async fn read_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut header = [0u8; RECORD_HEADER_BYTES];
        let mut filled = 0;
        while filled < header.len() {
            let n = self.inner.read(&mut header[filled..]).await?;
            if n == 0 {
                return if filled == 0 {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
            filled += n;
        }
        let mut frame = frame_buffer(&header)?;
        self.inner
            .read_exact(&mut frame[RECORD_HEADER_BYTES..])
            .await?;
        check_frame(&frame, &mut self.next_seq).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_refused() {
        let mut bytes = Vec::new();
        let mut writer = FrameWriter::new(&mut bytes);
        writer.write_frame(b"one").unwrap();
        writer.write_frame(b"").unwrap();
        writer.write_frame(&[7; 1000]).unwrap();
        let mut reader = FrameReader::new(&bytes[..]);
        assert_eq!(reader.read_frame().unwrap().unwrap(), b"one");
        assert_eq!(reader.read_frame().unwrap().unwrap(), b"");
        assert_eq!(reader.read_frame().unwrap().unwrap(), vec![7; 1000]);
        assert!(reader.read_frame().unwrap().is_none());

        let mut damaged = bytes.clone();
        damaged[RECORD_HEADER_BYTES] ^= 1;
        assert!(FrameReader::new(&damaged[..]).read_frame().is_err());
        let cut = &bytes[..bytes.len() - 1];
        let mut reader = FrameReader::new(cut);
        reader.read_frame().unwrap();
        reader.read_frame().unwrap();
        assert!(reader.read_frame().is_err(), "a frame cut short");
    }

    #[test]
    fn a_skipped_frame_is_noticed() {
        let mut bytes = Vec::new();
        let mut writer = FrameWriter::new(&mut bytes);
        writer.write_frame(b"one").unwrap();
        writer.write_frame(b"two").unwrap();
        let second = &bytes[RECORD_HEADER_BYTES + 3..];
        assert!(FrameReader::new(second).read_frame().is_err());
    }

    #[test]
    fn async_frames_read_what_blocking_frames_wrote_and_back() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut bytes = Vec::new();
            let mut writer = FrameWriter::new(&mut bytes);
            writer.write_frame(b"one").unwrap();
            writer.write_frame(&[9; 300]).unwrap();
            let mut reader = AsyncFrameReader::new(&bytes[..]);
            assert_eq!(reader.read_frame().await.unwrap().unwrap(), b"one");
            assert_eq!(reader.read_frame().await.unwrap().unwrap(), vec![9; 300]);
            assert!(reader.read_frame().await.unwrap().is_none());
            let mut damaged = bytes.clone();
            damaged[RECORD_HEADER_BYTES] ^= 1;
            assert!(
                AsyncFrameReader::new(&damaged[..])
                    .read_frame()
                    .await
                    .is_err()
            );

            let mut written = Vec::new();
            let mut writer = AsyncFrameWriter::new(&mut written);
            writer.write_frame(b"one").await.unwrap();
            writer.write_frame(&[9; 300]).await.unwrap();
            assert_eq!(written, bytes, "the same bytes either way");
        });
    }

    #[test]
    fn an_absurd_length_is_refused_before_allocating() {
        let mut frame = encode_record(1, b"x");
        frame[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(FrameReader::new(&frame[..]).read_frame().is_err());
    }
}
