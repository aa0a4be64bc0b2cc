//! Crash test with real processes: a child writes to a replication group
//! whose logs compact every few entries while one follower is stopped and
//! restarted again and again, so the leader keeps truncating its log and
//! sending that follower snapshots in chunks. We SIGKILL the child at a
//! random moment — during a truncation, a transfer or a copy-in, as it
//! falls — reopen the group, and check that every acknowledged write is
//! there, intact, and that every replica comes back to the same state.
//!
//! `MINIDYNAMO_CRASH_KILLS` sets the number of kills (default 4),
//! `MINIDYNAMO_CRASH_SEED` replays a run (the seed is printed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};
use step01_kv::crash::{CrashPlan, CrashRng, check_intact, complete_lines, run_and_kill};
use step01_kv::engine::StorageEngine;
use step02_lsm::lsm::LsmOptions;
use step04_replication::group::{GroupOptions, ReplicationGroup};

const KILLS_DEFAULT: u64 = 4;
const WRITER_THREADS: u32 = 4;
/// The child runs at least this long (past its open and a first follower
/// cycle), and at most this long before it is killed.
const RUN_MS_MIN: u64 = 300;
const RUN_MS_MAX: u64 = 1500;
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Report {
    acked: Vec<String>,
    installed: u64,
    chunks: u64,
    compactions: u64,
}

fn parse(output: &[u8]) -> Report {
    let mut report = Report::default();
    for line in complete_lines(output) {
        let mut words = line.split(' ');
        match words.next() {
            Some("ack") => report.acked.extend(words.map(String::from)),
            Some("stats") => {
                let mut numbers = words.map(|w| w.parse::<u64>().unwrap());
                report.compactions = numbers.next().unwrap();
                report.installed = numbers.next().unwrap();
                report.chunks = numbers.next().unwrap();
            }
            other => panic!("unexpected line {other:?}"),
        }
    }
    report
}

#[test]
fn crash_acknowledged_writes_survive_sigkill_during_log_truncation_and_snapshot_transfers() {
    let CrashPlan { kills, seed } = CrashPlan::from_env(KILLS_DEFAULT).unwrap();
    println!("crash test: {kills} kills, MINIDYNAMO_CRASH_SEED={seed}");
    let mut rng = CrashRng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut live: BTreeSet<String> = BTreeSet::new();
    let (mut installed, mut chunks, mut compactions) = (0, 0, 0);
    for round in 0..kills {
        let run = Duration::from_millis(RUN_MS_MIN + rng.below(RUN_MS_MAX - RUN_MS_MIN));
        let output = run_and_kill(
            Path::new(env!("CARGO_BIN_EXE_group-crash-writer")),
            dir.path(),
            round,
            WRITER_THREADS,
            run,
        )
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let report = parse(&output);
        installed += report.installed;
        chunks += report.chunks;
        compactions += report.compactions;
        live.extend(report.acked);

        let group = ReplicationGroup::open(dir.path(), GroupOptions::lsm(LsmOptions::tiny()))
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): recovery failed: {e}"));
        for key in &live {
            let value = group.get(key.as_bytes()).unwrap().unwrap_or_else(|| {
                panic!("round {round} (seed {seed}): acknowledged {key} is lost")
            });
            check_intact(key.as_bytes(), &value).unwrap();
        }
        // Every replica converges on the same state, the one that restarted
        // in the middle of a transfer included.
        let last = live.iter().next_back().cloned();
        if let Some(last) = last {
            for &id in group.replica_ids() {
                let deadline = Instant::now() + CONVERGE_TIMEOUT;
                while group.get_at(id, last.as_bytes()).ok().flatten().is_none() {
                    assert!(
                        Instant::now() < deadline,
                        "round {round} (seed {seed}): replica {id} never caught up"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
    println!(
        "{} acknowledged writes survived {kills} kills; \
         {compactions} compactions, {installed} snapshots installed, {chunks} chunks sent \
         (as last reported before each kill)",
        live.len()
    );
    assert!(!live.is_empty(), "no write was acknowledged");
    assert!(
        installed > 0,
        "no snapshot transfer completed: the test did not exercise one"
    );
}
