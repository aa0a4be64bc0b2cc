//! Durable writes per second through `KvStore`, against the disk's raw fsync
//! rate measured in the same run on the same file system.
//!
//! A durable write needs an fsync, so one writer can do at most about one
//! write per fsync. Group commit lets concurrent writers share fsyncs; this
//! benchmark shows how far that goes with 1, 8 and 64 writers.
//!
//! Run: `cargo bench -p step01-kv --bench wal`. Environment:
//! `MINIDYNAMO_BENCH_SECONDS` (per phase, default 2), `MINIDYNAMO_BENCH_DIR`
//! (where the temporary directories go; default: the build's temporary
//! directory under `target/`, on the same disk as the build).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use step01_kv::engine::StorageEngine;
use step01_kv::store::{KvOptions, KvStore};
use step01_kv::wal::{Wal, WalOptions};

const PHASE_SECONDS_DEFAULT: f64 = 2.0;
const RAW_WRITE_BYTES: usize = 4096;
const VALUE_BYTES: usize = 100;
const WRITER_COUNTS: [usize; 3] = [1, 8, 64];

/// One 4 KiB append and one fsync, in a loop: the rate a naive log gets.
fn raw_fsync_per_second(base: &Path, duration: Duration) -> f64 {
    let dir = tempfile::tempdir_in(base).unwrap();
    let mut file = File::create(dir.path().join("raw")).unwrap();
    let block = vec![0xa5u8; RAW_WRITE_BYTES];
    let start = Instant::now();
    let mut syncs = 0u64;
    while start.elapsed() < duration {
        file.write_all(&block).unwrap();
        file.sync_data().unwrap();
        syncs += 1;
    }
    syncs as f64 / start.elapsed().as_secs_f64()
}

struct StoreRun {
    writes_per_second: f64,
    writes_per_fsync: f64,
}

/// `writers` threads each putting keys as fast as the store acknowledges
/// them, with the default policy (fsync before every acknowledgement).
fn store_writes_per_second(base: &Path, writers: usize, duration: Duration) -> StoreRun {
    let dir = tempfile::tempdir_in(base).unwrap();
    let store = KvStore::open(dir.path(), KvOptions::default()).unwrap();
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(writers + 1);
    let value = vec![0x5au8; VALUE_BYTES];
    let (writes, elapsed) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|writer| {
                let (store, stop, barrier, value) = (&store, &stop, &barrier, &value);
                scope.spawn(move || {
                    barrier.wait();
                    let mut count = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("writer-{writer:03}/{count:010}");
                        store.put(key.as_bytes(), value).unwrap();
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let writes: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        (writes, start.elapsed())
    });
    let stats = store.wal_stats().unwrap();
    assert_eq!(stats.records, writes);
    StoreRun {
        writes_per_second: writes as f64 / elapsed.as_secs_f64(),
        writes_per_fsync: writes as f64 / stats.syncs.max(1) as f64,
    }
}

/// The same load on the bare log, without the memtable: what the store's
/// own work costs shows as the difference.
fn wal_appends_per_second(base: &Path, writers: usize, duration: Duration) -> StoreRun {
    let dir = tempfile::tempdir_in(base).unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default(), |_| Ok(())).unwrap();
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(writers + 1);
    let payload = vec![0x5au8; VALUE_BYTES + 30];
    let (writes, elapsed) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                let (wal, stop, barrier, payload) = (&wal, &stop, &barrier, &payload);
                scope.spawn(move || {
                    barrier.wait();
                    let mut count = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        wal.append(payload).unwrap();
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let writes: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        (writes, start.elapsed())
    });
    let stats = wal.stats().unwrap();
    StoreRun {
        writes_per_second: writes as f64 / elapsed.as_secs_f64(),
        writes_per_fsync: writes as f64 / stats.syncs.max(1) as f64,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments are not ours either.
    let seconds = std::env::var("MINIDYNAMO_BENCH_SECONDS")
        .ok()
        .map(|s| {
            s.parse::<f64>()
                .expect("MINIDYNAMO_BENCH_SECONDS must be a number")
        })
        .unwrap_or(PHASE_SECONDS_DEFAULT);
    let duration = Duration::from_secs_f64(seconds);
    let base = std::env::var_os("MINIDYNAMO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_TARGET_TMPDIR").into());

    println!(
        "step01-kv WAL benchmark: {seconds} s per phase, files under {}",
        base.display()
    );
    // The disk is measured before and after the store phases; the ratio uses
    // the faster of the two, so noise can only make it look worse.
    let raw_before = raw_fsync_per_second(&base, duration);
    let runs: Vec<(usize, StoreRun)> = WRITER_COUNTS
        .iter()
        .map(|&writers| (writers, store_writes_per_second(&base, writers, duration)))
        .collect();
    let wal_only = wal_appends_per_second(&base, 64, duration);
    let raw_after = raw_fsync_per_second(&base, duration);
    let raw = raw_before.max(raw_after);

    println!();
    println!(
        "{:<36} {:>10} {:>12} {:>13}",
        "phase", "writes/s", "× raw fsync", "writes/fsync"
    );
    for (label, rate) in [
        ("raw: 4 KiB write + fsync (before)", raw_before),
        ("raw: 4 KiB write + fsync (after)", raw_after),
    ] {
        println!(
            "{label:<36} {rate:>10.0} {:>12.2} {:>13.1}",
            rate / raw,
            1.0
        );
    }
    for (writers, run) in runs {
        println!(
            "{:<36} {:>10.0} {:>12.2} {:>13.1}",
            format!("KvStore, {writers} writer(s), EveryWrite"),
            run.writes_per_second,
            run.writes_per_second / raw,
            run.writes_per_fsync
        );
    }
    println!(
        "{:<36} {:>10.0} {:>12.2} {:>13.1}",
        "Wal::append alone, 64 writers",
        wal_only.writes_per_second,
        wal_only.writes_per_second / raw,
        wal_only.writes_per_fsync
    );
}
