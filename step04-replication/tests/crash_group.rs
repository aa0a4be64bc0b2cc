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
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use step01_kv::crash::{CrashPlan, CrashRng, check_intact};
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

/// A line without its newline was cut by the kill and does not count.
fn parse(output: &[u8]) -> Report {
    let mut report = Report::default();
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).unwrap() > 0 {
        if line.last() == Some(&b'\n') {
            let text = std::str::from_utf8(&line).unwrap().trim_end();
            let mut words = text.split(' ');
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
        line.clear();
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_group-crash-writer"))
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
        let run_ms = RUN_MS_MIN + rng.below(RUN_MS_MAX - RUN_MS_MIN);
        std::thread::sleep(Duration::from_millis(run_ms));
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
        let report = parse(&reader.join().unwrap());
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
