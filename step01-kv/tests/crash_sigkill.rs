//! Crash test with real processes: a child writes with the default fsync
//! policy and prints every acknowledged write; we SIGKILL it at a random
//! moment, reopen the store, and check that every acknowledged write is
//! there, intact, and that no batch survived in part.
//!
//! `MINIDYNAMO_CRASH_KILLS` sets the number of kills (default 20),
//! `MINIDYNAMO_CRASH_SEED` replays a run (the seed is printed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use step01_kv::crash::{CrashPlan, CrashRng, check_intact, complete_lines, run_and_kill};
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine};
use step01_kv::store::{KvOptions, KvStore};

const KILLS_DEFAULT: u32 = 20;
const WRITER_THREADS: u32 = 4;
/// The child runs this long at most before it is killed.
const RUN_MS_MAX: u64 = 250;

/// The writer prints `ack KEY...` lines. A line without its newline was cut
/// by the kill and is not an acknowledgement we received.
fn parse_acks(output: &[u8]) -> Vec<Vec<String>> {
    complete_lines(output)
        .map(|line| {
            let keys = line.strip_prefix("ack ").unwrap();
            keys.split(' ').map(String::from).collect()
        })
        .collect()
}

#[test]
fn crash_acknowledged_writes_survive_sigkill() {
    let CrashPlan { kills, seed } = CrashPlan::from_env(u64::from(KILLS_DEFAULT)).unwrap();
    println!("crash test: {kills} kills, MINIDYNAMO_CRASH_SEED={seed}");
    let mut rng = CrashRng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    // Every acknowledged key of every round so far: each must survive every
    // later crash too.
    let mut acknowledged: Vec<String> = Vec::new();

    for round in 0..kills {
        let run = Duration::from_millis(rng.below(RUN_MS_MAX));
        let output = run_and_kill(
            Path::new(env!("CARGO_BIN_EXE_kv-crash-writer")),
            dir.path(),
            round,
            WRITER_THREADS,
            run,
        )
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let acks = parse_acks(&output);

        let store = KvStore::open(dir.path(), KvOptions::default())
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): recovery failed: {e}"));
        acknowledged.extend(acks.into_iter().flatten());
        for key in &acknowledged {
            let value = store.get(key.as_bytes()).unwrap().unwrap_or_else(|| {
                panic!("round {round} (seed {seed}): acknowledged {key} is lost")
            });
            check_intact(key.as_bytes(), &value).unwrap();
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
            check_intact(key, value).unwrap();
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
