//! Our LSM tree against fjall, a production LSM-tree engine in Rust, on the
//! same workloads in the same run, with the ratio of their throughputs.
//!
//! Workloads (sizes are defaults; see "Environment"):
//!
//! 1. fill: 1,000,000 random 16-byte keys with 100-byte values, one key per
//!    write, no fsync per write;
//! 2. 1,000,000 point reads of present keys, in random order;
//! 3. 100,000 point reads of absent keys;
//! 4. 100,000 scans of 100 consecutive keys from a random present key;
//! 5. durable writes (an fsync before each acknowledgement) from 64 writers.
//!
//! After the fill both engines are left to finish their background flushes
//! and compactions; then the benchmark reports *space amplification* (bytes
//! on disk ÷ logical bytes of keys and values) and *write amplification*
//! (bytes the process handed to `write()` during fill and settling ÷ logical
//! bytes, from `/proc/self/io`, so Linux only).
//!
//! Both engines run uncompressed (fjall is built without its `lz4` feature)
//! with 4 KiB blocks, 10 bloom bits per key at least, and block caches of the
//! same size; otherwise each uses its defaults.
//!
//! Run: `cargo bench -p step02-lsm --bench lsm --features bench-fjall`.
//!
//! Environment: `MINIDYNAMO_BENCH_SCALE` multiplies every count (0.01 for a
//! quick run); `MINIDYNAMO_BENCH_KEYS`, `_READS`, `_ABSENT_READS`, `_SCANS`,
//! `_SCAN_LENGTH`, `_WRITERS`, `_DURABLE_WRITES` (in total) override single
//! sizes; `MINIDYNAMO_BENCH_DIR` is where the temporary directories go
//! (default: the build's temporary directory under `target/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine};

const KEY_BYTES: usize = 16;
const VALUE_BYTES: usize = 100;
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// How long to wait for background work to finish after the fill.
const SETTLE_SECONDS_MAX: u64 = 600;

/// The sizes of the workloads.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    keys: u64,
    reads: u64,
    absent_reads: u64,
    scans: u64,
    scan_length: usize,
    writers: u64,
    durable_writes: u64,
}

impl Sizes {
    fn from_env() -> Sizes {
        let scale: f64 = env_or("MINIDYNAMO_BENCH_SCALE", 1.0);
        let scaled = |name: &str, default: u64| -> u64 {
            env_or(name, ((default as f64 * scale) as u64).max(1))
        };
        Sizes {
            keys: scaled("MINIDYNAMO_BENCH_KEYS", 1_000_000),
            reads: scaled("MINIDYNAMO_BENCH_READS", 1_000_000),
            absent_reads: scaled("MINIDYNAMO_BENCH_ABSENT_READS", 100_000),
            scans: scaled("MINIDYNAMO_BENCH_SCANS", 100_000),
            scan_length: env_or("MINIDYNAMO_BENCH_SCAN_LENGTH", 100),
            writers: env_or("MINIDYNAMO_BENCH_WRITERS", 64),
            durable_writes: scaled("MINIDYNAMO_BENCH_DURABLE_WRITES", 6_400),
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// A deterministic stream of pseudo-random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// The `i`-th key: 16 pseudo-random bytes. Keys `0..keys` are written;
/// keys from `u64::MAX / 2` on are never written.
fn key(i: u64) -> [u8; KEY_BYTES] {
    let mut rng = Rng(i.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut key = [0u8; KEY_BYTES];
    key[..8].copy_from_slice(&rng.next().to_be_bytes());
    key[8..].copy_from_slice(&rng.next().to_be_bytes());
    key
}

fn absent_key(i: u64) -> [u8; KEY_BYTES] {
    key(u64::MAX / 2 + i)
}

fn value(i: u64) -> [u8; VALUE_BYTES] {
    let mut value = [0u8; VALUE_BYTES];
    for (j, byte) in value.iter_mut().enumerate() {
        *byte = (i as usize).wrapping_add(j) as u8;
    }
    value
}

/// What the benchmark needs from an engine.
trait Engine: Sync {
    fn put(&self, key: &[u8], value: &[u8]);
    /// The value's length, if the key is present.
    fn get(&self, key: &[u8]) -> Option<usize>;
    /// Reads up to `count` entries from `start` on; returns how many had a
    /// value of the expected size.
    fn scan(&self, start: &[u8], count: usize) -> usize;
    /// Waits until background flushes and compactions are done.
    fn settle(&self);
}

mod ours {
    use super::*;
    use step01_kv::wal::FsyncPolicy;
    use step02_lsm::compaction::pick_compaction;
    use step02_lsm::lsm::{Lsm, LsmOptions};
    use step02_lsm::manifest::LevelLayout;

    pub struct Ours {
        lsm: Lsm,
        options: LsmOptions,
    }

    pub fn open(dir: &Path, durable: bool) -> Ours {
        let fsync = if durable {
            FsyncPolicy::EveryWrite
        } else {
            FsyncPolicy::Never
        };
        let options = LsmOptions {
            block_cache_bytes: CACHE_BYTES,
            ..LsmOptions::default()
        }
        .with_fsync(fsync);
        let lsm = Lsm::open(dir, options).unwrap();
        Ours { lsm, options }
    }

    impl Engine for Ours {
        fn put(&self, key: &[u8], value: &[u8]) {
            self.lsm.put(key, value).unwrap();
        }

        fn get(&self, key: &[u8]) -> Option<usize> {
            self.lsm.get(key).unwrap().map(|value| value.len())
        }

        fn scan(&self, start: &[u8], count: usize) -> usize {
            let range = KeyRange::new(
                std::ops::Bound::Included(start.to_vec()),
                std::ops::Bound::Unbounded,
            );
            let entries = self
                .lsm
                .scan(&range, ScanDirection::Forward, count)
                .unwrap();
            entries
                .iter()
                .filter(|(_, value)| value.len() == VALUE_BYTES)
                .count()
        }

        /// Waits until no memtable waits for a flush and the compaction
        /// policy has nothing left to pick.
        fn settle(&self) {
            let deadline = Instant::now() + Duration::from_secs(SETTLE_SECONDS_MAX);
            while Instant::now() < deadline {
                let stats = self.lsm.stats().unwrap();
                let layout = LevelLayout::new(self.lsm.levels().unwrap()).unwrap();
                let idle = stats.immutable_memtables == 0
                    && pick_compaction(&layout, &self.options.compaction()).is_none();
                if idle {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

mod peer {
    use super::*;
    use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

    pub struct Fjall {
        db: Database,
        keyspace: Keyspace,
        durable: bool,
    }

    pub fn open(dir: &Path, durable: bool) -> Fjall {
        let db = Database::builder(dir)
            .cache_size(CACHE_BYTES as u64)
            .open()
            .unwrap();
        let keyspace = db
            .keyspace("bench", KeyspaceCreateOptions::default)
            .unwrap();
        Fjall {
            db,
            keyspace,
            durable,
        }
    }

    impl Engine for Fjall {
        fn put(&self, key: &[u8], value: &[u8]) {
            if self.durable {
                let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
                batch.insert(&self.keyspace, key, value);
                batch.commit().unwrap();
            } else {
                self.keyspace.insert(key, value).unwrap();
            }
        }

        fn get(&self, key: &[u8]) -> Option<usize> {
            self.keyspace.get(key).unwrap().map(|value| value.len())
        }

        fn scan(&self, start: &[u8], count: usize) -> usize {
            self.keyspace
                .range(start..)
                .take(count)
                .map(|guard| guard.into_inner().unwrap().1.len())
                .filter(|&length| length == VALUE_BYTES)
                .count()
        }

        fn settle(&self) {
            let deadline = Instant::now() + Duration::from_secs(SETTLE_SECONDS_MAX);
            while (self.db.outstanding_flushes() > 0 || self.db.active_compactions() > 0)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Bytes this process has passed to `write()` so far, if the OS says.
fn bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The total size of the files under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        total += if metadata.is_dir() {
            disk_bytes(&entry.path())
        } else {
            metadata.len()
        };
    }
    total
}

/// One engine's results.
#[derive(Default)]
struct Results {
    ops_per_second: Vec<f64>,
    space_amplification: Option<f64>,
    write_amplification: Option<f64>,
}

const WORKLOADS: [&str; 5] = [
    "fill (random puts, no fsync)",
    "point reads, present keys",
    "point reads, absent keys",
    "scans",
    "durable writes",
];

/// Runs `ops` operations and prints a progress line; returns ops/second.
fn phase(engine: &str, name: &str, ops: u64, run: impl FnOnce()) -> f64 {
    let start = Instant::now();
    run();
    let seconds = start.elapsed().as_secs_f64();
    let rate = ops as f64 / seconds;
    println!("  [{engine}] {name}: {ops} ops in {seconds:.2} s = {rate:.0} ops/s");
    rate
}

fn run_engine<E: Engine>(
    name: &str,
    sizes: Sizes,
    base: &Path,
    open: impl Fn(&Path, bool) -> E,
) -> Results {
    let mut results = Results::default();
    let dir = tempfile::tempdir_in(base).unwrap();
    let written_before = bytes_written();
    let engine = open(dir.path(), false);

    results
        .ops_per_second
        .push(phase(name, WORKLOADS[0], sizes.keys, || {
            for i in 0..sizes.keys {
                engine.put(&key(i), &value(i));
            }
        }));
    let settle_start = Instant::now();
    engine.settle();
    println!(
        "  [{name}] settled background work in {:.2} s",
        settle_start.elapsed().as_secs_f64()
    );
    let logical = (sizes.keys * (KEY_BYTES + VALUE_BYTES) as u64) as f64;
    let written = bytes_written()
        .zip(written_before)
        .map(|(after, before)| after - before);
    results.write_amplification = written.map(|bytes| bytes as f64 / logical);
    results.space_amplification = Some(disk_bytes(dir.path()) as f64 / logical);

    let mut rng = Rng(1);
    results
        .ops_per_second
        .push(phase(name, WORKLOADS[1], sizes.reads, || {
            for _ in 0..sizes.reads {
                let i = rng.below(sizes.keys);
                assert_eq!(engine.get(&key(i)), Some(VALUE_BYTES), "key {i}");
            }
        }));
    results
        .ops_per_second
        .push(phase(name, WORKLOADS[2], sizes.absent_reads, || {
            for i in 0..sizes.absent_reads {
                assert_eq!(engine.get(&absent_key(i)), None);
            }
        }));
    results
        .ops_per_second
        .push(phase(name, WORKLOADS[3], sizes.scans, || {
            let mut entries = 0;
            for _ in 0..sizes.scans {
                let i = rng.below(sizes.keys);
                entries += engine.scan(&key(i), sizes.scan_length);
            }
            assert!(entries > 0);
        }));
    drop(engine);

    let durable_dir = tempfile::tempdir_in(base).unwrap();
    let engine = open(durable_dir.path(), true);
    let per_writer = sizes.durable_writes.div_ceil(sizes.writers);
    let total = per_writer * sizes.writers;
    let barrier = Barrier::new(sizes.writers as usize);
    results
        .ops_per_second
        .push(phase(name, WORKLOADS[4], total, || {
            std::thread::scope(|scope| {
                for writer in 0..sizes.writers {
                    let (engine, barrier) = (&engine, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        for i in 0..per_writer {
                            let n = writer * per_writer + i;
                            engine.put(&key(n), &value(n));
                        }
                    });
                }
            });
        }));
    results
}

fn format_amplification(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| format!("{v:.2}"))
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let sizes = Sizes::from_env();
    let base = std::env::var_os("MINIDYNAMO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_TARGET_TMPDIR").into());
    println!("step02 LSM benchmark: ours against fjall, {sizes:?}");
    println!("ours:");
    let ours = run_engine("ours", sizes, &base, ours::open);
    println!("fjall:");
    let fjall = run_engine("fjall", sizes, &base, peer::open);

    println!();
    println!(
        "{:<32} {:>14} {:>14} {:>18}",
        "workload", "ours ops/s", "fjall ops/s", "ratio ours/fjall"
    );
    for (i, workload) in WORKLOADS.iter().enumerate() {
        let (a, b) = (ours.ops_per_second[i], fjall.ops_per_second[i]);
        println!("{workload:<32} {a:>14.0} {b:>14.0} {:>18.2}", a / b);
    }
    println!();
    println!("{:<32} {:>14} {:>14}", "amplification", "ours", "fjall");
    println!(
        "{:<32} {:>14} {:>14}",
        "space (disk / logical)",
        format_amplification(ours.space_amplification),
        format_amplification(fjall.space_amplification)
    );
    println!(
        "{:<32} {:>14} {:>14}",
        "write (written / logical)",
        format_amplification(ours.write_amplification),
        format_amplification(fjall.write_amplification)
    );
}
