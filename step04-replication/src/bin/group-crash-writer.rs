//! A process for crash tests to kill: it writes to a three-replica
//! replication group whose logs compact every few entries, while one
//! follower is stopped and restarted over and over, so that the leader
//! keeps sending it snapshots in chunks. It prints each write the moment
//! the group acknowledged it, until it is killed.
//!
//! Usage: `group-crash-writer DIR ROUND THREADS`
//!
//! Keys are `r<round>/t<thread>/<counter>`; every value is its key
//! repeated (see `step01_kv::crash`), so a reader can check it alone.
//!
//! Output: `ack KEY` per acknowledged write, and after each restart of the
//! follower `stats COMPACTIONS INSTALLED CHUNKS`, summed over the replicas.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use step01_kv::crash;
use step01_kv::engine::StorageEngine;
use step02_lsm::lsm::LsmOptions;
use step04_replication::group::{GroupOptions, ReplicationGroup};

const REPEATS_MAX: usize = 23;
const WRITES_PER_THREAD_MAX: u32 = 1_000_000;
const THREADS_MAX: u32 = 16;
const FOLLOWER_CYCLES_MAX: u32 = 100_000;
/// How long the follower stays down: long enough to fall past the
/// leader's retention bound, so that it needs a snapshot.
const FOLLOWER_DOWN: Duration = Duration::from_millis(60);
/// How long the restarted follower gets to catch up before it is stopped
/// again (it is stopped as soon as it has).
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

fn key_for(round: u32, thread: u32, counter: u32) -> String {
    format!("r{round:04}/t{thread:02}/{counter:08}")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(Ok(round)), Some(Ok(threads))) = (
        args.get(1),
        args.get(2).map(|a| a.parse::<u32>()),
        args.get(3).map(|a| a.parse::<u32>()),
    ) else {
        eprintln!("usage: group-crash-writer DIR ROUND THREADS");
        return ExitCode::from(2);
    };
    let mut options = GroupOptions::lsm(LsmOptions::tiny());
    options.raft.snapshot_interval_entries = 16;
    options.raft.log_retained_entries_max = 8;
    options.raft.snapshot_chunk_bytes_max = 16 * 1024;
    let group = match ReplicationGroup::open(std::path::Path::new(dir), options) {
        Ok(group) => group,
        Err(error) => {
            eprintln!("open failed: {error}");
            return ExitCode::from(1);
        }
    };
    let stdout = Mutex::new(std::io::stdout());
    let threads = threads.clamp(1, THREADS_MAX);
    let failed = std::thread::scope(|scope| {
        let (group, stdout) = (&group, &stdout);
        scope.spawn(move || cycle_a_follower(group, stdout));
        let writers: Vec<_> = (0..threads)
            .map(|thread| scope.spawn(move || write_until_killed(group, stdout, round, thread)))
            .collect();
        writers
            .into_iter()
            .any(|writer| !matches!(writer.join(), Ok(Ok(()))))
    });
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn write_until_killed(
    group: &ReplicationGroup,
    stdout: &Mutex<std::io::Stdout>,
    round: u32,
    thread: u32,
) -> Result<(), String> {
    for counter in 0..WRITES_PER_THREAD_MAX {
        let key = key_for(round, thread, counter);
        let value = crash::value_for(&key, counter, REPEATS_MAX);
        match group.put(key.as_bytes(), &value) {
            Ok(_) => {
                let mut out = stdout.lock().map_err(|_| "stdout lock poisoned")?;
                writeln!(out, "ack {key}").map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
            }
            // A write that timed out (the group was busy catching a
            // replica up) is simply not acknowledged.
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    Ok(())
}

/// Stops a follower, lets the others write past the retention bound,
/// restarts it (it catches up by snapshot), and reports the counters.
fn cycle_a_follower(group: &ReplicationGroup, stdout: &Mutex<std::io::Stdout>) {
    for _ in 0..FOLLOWER_CYCLES_MAX {
        let leader = group.leader();
        let Some(&follower) = group.replica_ids().iter().find(|&&id| Some(id) != leader) else {
            std::thread::sleep(POLL);
            continue;
        };
        if group.stop_replica(follower).is_err() {
            continue;
        }
        std::thread::sleep(FOLLOWER_DOWN);
        let _ = group.restart_replica(follower);
        let target = group
            .replica_ids()
            .iter()
            .filter_map(|&id| group.status(id))
            .map(|status| status.commit_index)
            .max()
            .unwrap_or(0);
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        while Instant::now() < deadline
            && group
                .status(follower)
                .is_none_or(|status| status.applied_index < target)
        {
            std::thread::sleep(POLL);
        }
        let (mut compactions, mut installed, mut chunks) = (0, 0, 0);
        for &id in group.replica_ids() {
            if let Some(status) = group.status(id) {
                compactions += status.compactions;
                installed += status.snapshots_installed;
                chunks += status.snapshot_chunks_sent;
            }
        }
        if let Ok(mut out) = stdout.lock() {
            let _ = writeln!(out, "stats {compactions} {installed} {chunks}");
            let _ = out.flush();
        }
    }
}
