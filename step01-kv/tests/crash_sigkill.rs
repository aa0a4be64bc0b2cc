//! Crash test with real processes: a child writes with the default fsync
//! policy and prints every acknowledged write; we SIGKILL it at a random
//! moment, reopen the store, and check that every acknowledged write is
//! there, intact, and that no batch survived in part.
//!
//! `MINIDYNAMO_CRASH_KILLS` sets the number of kills (default 20),
//! `MINIDYNAMO_CRASH_SEED` replays a run (the seed is printed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine};
use step01_kv::store::{KvOptions, KvStore};

const KILLS_DEFAULT: u32 = 20;
const WRITER_THREADS: u32 = 4;
/// The child runs this long at most before it is killed.
const RUN_MS_MAX: u64 = 250;

/// xorshift64*: a seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

/// The writer prints `ack KEY...` lines. A line without its newline was cut
/// by the kill and is not an acknowledgement we received.
fn parse_acks(output: &[u8]) -> Vec<Vec<String>> {
    let mut acks = Vec::new();
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).unwrap() > 0 {
        if line.last() == Some(&b'\n') {
            let text = std::str::from_utf8(&line).unwrap().trim_end();
            let keys: Vec<String> = text
                .strip_prefix("ack ")
                .unwrap()
                .split(' ')
                .map(String::from)
                .collect();
            acks.push(keys);
        }
        line.clear();
    }
    acks
}

/// Every value is its key repeated at least once.
fn assert_intact(key: &[u8], value: &[u8]) {
    assert!(
        !value.is_empty()
            && value.len().is_multiple_of(key.len())
            && value.chunks(key.len()).all(|chunk| chunk == key),
        "value of {} is damaged ({} bytes)",
        String::from_utf8_lossy(key),
        value.len()
    );
}

#[test]
fn crash_acknowledged_writes_survive_sigkill() {
    let kills = env_u64("MINIDYNAMO_CRASH_KILLS").unwrap_or(u64::from(KILLS_DEFAULT));
    let seed = env_u64("MINIDYNAMO_CRASH_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    println!("crash test: {kills} kills, MINIDYNAMO_CRASH_SEED={seed}");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    // Every acknowledged key of every round so far: each must survive every
    // later crash too.
    let mut acknowledged: Vec<String> = Vec::new();

    for round in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kv-crash-writer"))
            .arg(dir.path())
            .arg(round.to_string())
            .arg(WRITER_THREADS.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut output = Vec::new();
            stdout.read_to_end(&mut output).unwrap();
            output
        });

        std::thread::sleep(Duration::from_millis(rng.below(RUN_MS_MAX)));
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("round {round}: the writer exited by itself ({status}): {stderr}");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acks = parse_acks(&reader.join().unwrap());

        let store = KvStore::open(dir.path(), KvOptions::default())
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): recovery failed: {e}"));
        acknowledged.extend(acks.into_iter().flatten());
        for key in &acknowledged {
            let value = store.get(key.as_bytes()).unwrap().unwrap_or_else(|| {
                panic!("round {round} (seed {seed}): acknowledged {key} is lost")
            });
            assert_intact(key.as_bytes(), &value);
        }

        // Whatever else survived (written but not yet acknowledged) must be
        // intact, and batches whole.
        let prefix = format!("r{round:04}/");
        let survivors: BTreeMap<Vec<u8>, Vec<u8>> = store
            .scan(
                &KeyRange::prefix(prefix.as_bytes()),
                ScanDirection::Forward,
                usize::MAX,
            )
            .unwrap()
            .into_iter()
            .collect();
        for (key, value) in &survivors {
            assert_intact(key, value);
            let partner = match key.strip_suffix(b"/a") {
                Some(stem) => Some([stem, b"/b"].concat()),
                None => key.strip_suffix(b"/b").map(|stem| [stem, b"/a"].concat()),
            };
            if let Some(partner) = partner {
                assert!(
                    survivors.contains_key(&partner),
                    "round {round} (seed {seed}): half a batch survived: {}",
                    String::from_utf8_lossy(key)
                );
            }
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "no write was acknowledged in {kills} rounds"
    );
    println!(
        "crash test: {} acknowledged keys survived",
        acknowledged.len()
    );
}
