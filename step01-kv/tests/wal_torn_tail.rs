//! Torn and damaged logs: a crash can cut the last record anywhere, and bits
//! can rot anywhere. Recovery must keep every whole record before a torn
//! tail, cut the tail off, and refuse to open a log damaged anywhere else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use step01_kv::engine::StorageError;
use step01_kv::wal::{FsyncPolicy, RECORD_HEADER_BYTES, Wal, WalOptions, list_segments};

/// Payload sizes of the records each test writes: empty, tiny, and larger
/// than a header, so that cuts land in headers and in payloads.
const PAYLOAD_LENS: [usize; 7] = [0, 1, 17, 100, 3, 250, 40];

fn options(segment_bytes: u64) -> WalOptions {
    WalOptions {
        fsync: FsyncPolicy::Never,
        segment_bytes,
    }
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
}

/// Records as recovery replayed them: sequence number and payload.
type Replayed = Vec<(u64, Vec<u8>)>;

fn open_collect(dir: &Path, options: WalOptions) -> Result<(Wal, Replayed), StorageError> {
    let mut records = Vec::new();
    let wal = Wal::open(dir, options, |record| {
        records.push((record.seq, record.payload.to_vec()));
        Ok(())
    })?;
    Ok((wal, records))
}

/// A record of the pristine log: where it lives and what it holds.
#[derive(Clone, Debug)]
struct Placed {
    seq: u64,
    payload: Vec<u8>,
    /// The file name of its segment.
    segment: String,
    start: usize,
    end: usize,
}

/// A segment's file name and pristine contents.
type Segment = (String, Vec<u8>);

/// Writes the test records and returns them with their places, and the
/// pristine contents of every segment.
fn write_log(segment_bytes: u64) -> (Vec<Placed>, Vec<Segment>) {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), options(segment_bytes)).unwrap();
    for (i, len) in PAYLOAD_LENS.iter().enumerate() {
        assert_eq!(
            wal.append(&payload(i as u64 + 1, *len)).unwrap(),
            i as u64 + 1
        );
    }
    drop(wal);
    let segments: Vec<Segment> = list_segments(dir.path())
        .unwrap()
        .into_iter()
        .map(|(_, path)| {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    let mut placed = Vec::new();
    let mut seq = 1;
    for (name, bytes) in &segments {
        let mut start = 0;
        while start < bytes.len() {
            let len = PAYLOAD_LENS[seq as usize - 1];
            let end = start + RECORD_HEADER_BYTES + len;
            placed.push(Placed {
                seq,
                payload: payload(seq, len),
                segment: name.clone(),
                start,
                end,
            });
            start = end;
            seq += 1;
        }
        assert_eq!(start, bytes.len());
    }
    assert_eq!(placed.len(), PAYLOAD_LENS.len());
    (placed, segments)
}

/// A fresh directory holding the segments, with `changed` replacing the
/// contents of the segment of that name. (Fresh files, not rewritten ones:
/// rewriting a file in place makes some file systems flush it on close.)
fn log_dir(segments: &[Segment], changed: (&str, &[u8])) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut changed_path = PathBuf::new();
    for (name, bytes) in segments {
        let path = dir.path().join(name);
        if name == changed.0 {
            fs::write(&path, changed.1).unwrap();
            changed_path = path;
        } else {
            fs::write(&path, bytes).unwrap();
        }
    }
    (dir, changed_path)
}

fn expected(records: &[Placed]) -> Vec<(u64, Vec<u8>)> {
    records.iter().map(|r| (r.seq, r.payload.clone())).collect()
}

/// Cuts the last segment at every offset within its last three records.
fn cut_everywhere_in_the_tail(segment_bytes: u64) {
    let (placed, segments) = write_log(segment_bytes);
    let (last_name, last_bytes) = segments.last().unwrap().clone();
    let in_last: Vec<&Placed> = placed.iter().filter(|r| r.segment == last_name).collect();
    let first_cut = in_last[in_last.len().saturating_sub(3)].start;
    for cut in first_cut..=last_bytes.len() {
        let (dir, last_path) = log_dir(&segments, (&last_name, &last_bytes[..cut]));

        let (wal, replayed) = open_collect(dir.path(), options(segment_bytes)).unwrap();
        let survivors: Vec<Placed> = placed
            .iter()
            .filter(|r| r.segment != last_name || r.end <= cut)
            .cloned()
            .collect();
        assert_eq!(replayed, expected(&survivors), "cut at byte {cut}");
        let kept_len = survivors
            .iter()
            .filter(|r| r.segment == last_name)
            .map(|r| r.end)
            .max()
            .unwrap_or(0);
        assert_eq!(
            fs::metadata(&last_path).unwrap().len(),
            kept_len as u64,
            "torn bytes are cut off (cut {cut})"
        );

        let next = survivors.len() as u64 + 1;
        assert_eq!(
            wal.append(b"after the crash").unwrap(),
            next,
            "appending continues (cut {cut})"
        );
        drop(wal);
        let (_, replayed) = open_collect(dir.path(), options(segment_bytes)).unwrap();
        let mut want = expected(&survivors);
        want.push((next, b"after the crash".to_vec()));
        assert_eq!(
            replayed, want,
            "the new record follows the survivors (cut {cut})"
        );
    }
}

#[test]
fn wal_every_cut_in_the_tail_keeps_the_whole_records_before_it() {
    cut_everywhere_in_the_tail(1 << 20);
}

#[test]
fn wal_every_cut_in_the_tail_of_the_last_of_several_segments() {
    cut_everywhere_in_the_tail(200);
}

/// Flips every bit of every segment, one at a time.
fn flip_every_bit(segment_bytes: u64) {
    let (placed, segments) = write_log(segment_bytes);
    let last = placed.last().unwrap().clone();
    let mut truncations = 0;
    let mut corruptions = 0;
    for (name, bytes) in &segments {
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let (dir, path) = log_dir(&segments, (name, &damaged));
            let damaged_record = placed
                .iter()
                .find(|r| r.segment == *name && (r.start..r.end).contains(&(bit / 8)))
                .unwrap();
            let result = open_collect(dir.path(), options(segment_bytes));
            if damaged_record.seq == last.seq {
                // The tail: indistinguishable from a torn write, so cut off.
                let (_, replayed) =
                    result.unwrap_or_else(|e| panic!("bit {bit} of the last record: {e}"));
                assert_eq!(
                    replayed,
                    expected(&placed[..placed.len() - 1]),
                    "bit {bit} of the last record"
                );
                truncations += 1;
            } else {
                match result {
                    Err(StorageError::Corruption { file, offset, .. }) => {
                        assert_eq!(file, path, "bit {bit}");
                        assert_eq!(
                            offset, damaged_record.start as u64,
                            "bit {bit}: reported where the damage is"
                        );
                    }
                    Err(other) => panic!(
                        "bit {bit} of record {}: wrong error {other}",
                        damaged_record.seq
                    ),
                    Ok((_, replayed)) => panic!(
                        "bit {bit} of record {} went unnoticed; replayed {} records",
                        damaged_record.seq,
                        replayed.len()
                    ),
                }
                corruptions += 1;
            }
        }
    }
    assert_eq!(truncations, (last.end - last.start) * 8);
    assert!(corruptions > 0);
}

#[test]
fn wal_bit_flips_in_one_segment_are_truncated_at_the_tail_and_reported_before_it() {
    flip_every_bit(1 << 20);
}

#[test]
fn wal_bit_flips_in_older_segments_are_reported() {
    flip_every_bit(200);
}

#[test]
fn wal_zeros_or_garbage_after_the_last_record_are_a_torn_tail() {
    let (placed, segments) = write_log(1 << 20);
    let (name, bytes) = segments.last().unwrap().clone();
    let mut garbage_seed = 0x9e37_79b9_u32;
    let tails: Vec<Vec<u8>> = vec![
        vec![0; 4096],
        (0..3000)
            .map(|_| {
                garbage_seed ^= garbage_seed << 13;
                garbage_seed ^= garbage_seed >> 17;
                garbage_seed ^= garbage_seed << 5;
                garbage_seed as u8
            })
            .collect(),
    ];
    for tail in tails {
        let mut log = bytes.clone();
        log.extend_from_slice(&tail);
        let (dir, path) = log_dir(&segments, (&name, &log));
        let (_, replayed) = open_collect(dir.path(), options(1 << 20)).unwrap();
        assert_eq!(replayed, expected(&placed));
        assert_eq!(fs::read(&path).unwrap(), bytes, "the tail is gone");
    }
}

#[test]
fn wal_a_torn_record_followed_by_a_valid_one_is_corruption_not_a_tail() {
    let (placed, segments) = write_log(1 << 20);
    let (name, bytes) = segments.last().unwrap().clone();
    // Cut record 4 in half, then glue the rest of the log back on.
    let torn = &placed[3];
    let mut log = bytes[..torn.start + RECORD_HEADER_BYTES / 2].to_vec();
    log.extend_from_slice(&bytes[torn.end..]);
    let (dir, _) = log_dir(&segments, (&name, &log));
    let result = open_collect(dir.path(), options(1 << 20));
    assert!(
        matches!(result, Err(StorageError::Corruption { offset, .. }) if offset == torn.start as u64),
        "{result:?}"
    );
}
