//! A process for crash tests to kill: it writes to an `Lsm` with tiny
//! memtables and tables, so that flushes and compactions run all the time,
//! and prints each write the moment it is acknowledged, until it is killed.
//!
//! Usage: `lsm-crash-writer DIR ROUND THREADS`
//!
//! Keys are `r<round>/t<thread>/<counter>`; every value is its key
//! repeated, so a reader can check a value without knowing how it was
//! written. Every fourth write is a batch of two keys, `<key>/a` and
//! `<key>/b`, printed on one line: after a crash both must exist or neither.
//! Every tenth write also deletes the key written ten writes earlier by the
//! same thread (`del KEY`), so tombstones flow through compactions too.
//!
//! Output, one line per acknowledged write: `ack KEY`, `ack KEY_A KEY_B`
//! or `del KEY` (announced before the delete by `deleting KEY`); and every
//! 50 ms `stats FLUSHES COMPACTIONS`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use step01_kv::crash;
use step01_kv::engine::{StorageEngine, WriteBatch};
use step02_lsm::lsm::{Lsm, LsmOptions};

/// Writes per thread before the process gives up waiting to be killed.
/// Values are their key repeated up to this many times (see `step01_kv::crash`).
const REPEATS_MAX: usize = 23;

const WRITES_PER_THREAD_MAX: u32 = 1_000_000;
const THREADS_MAX: u32 = 64;
const STATS_INTERVAL: Duration = Duration::from_millis(50);

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
        eprintln!("usage: lsm-crash-writer DIR ROUND THREADS");
        return ExitCode::from(2);
    };
    let threads = threads.clamp(1, THREADS_MAX);
    let lsm = match Lsm::open(dir, LsmOptions::tiny()) {
        Ok(lsm) => lsm,
        Err(error) => {
            eprintln!("open failed: {error}");
            return ExitCode::from(1);
        }
    };
    let stdout = Mutex::new(std::io::stdout());
    let done = AtomicBool::new(false);
    let failed = std::thread::scope(|scope| {
        let (lsm, stdout, done) = (&lsm, &stdout, &done);
        scope.spawn(move || report_stats(lsm, stdout, done));
        let workers: Vec<_> = (0..threads)
            .map(|thread| scope.spawn(move || write_until_killed(lsm, stdout, round, thread)))
            .collect();
        let failed = workers.into_iter().any(|worker| match worker.join() {
            Ok(Ok(())) => false,
            Ok(Err(error)) => {
                eprintln!("writer failed: {error}");
                true
            }
            Err(_) => true,
        });
        done.store(true, Ordering::Release);
        failed
    });
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print(stdout: &Mutex<std::io::Stdout>, line: &str) -> Result<(), String> {
    let mut out = stdout
        .lock()
        .map_err(|_| "stdout lock poisoned".to_string())?;
    out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

fn report_stats(lsm: &Lsm, stdout: &Mutex<std::io::Stdout>, done: &AtomicBool) {
    while !done.load(Ordering::Acquire) {
        if let Ok(stats) = lsm.stats() {
            let line = format!("stats {} {}\n", stats.flushes, stats.compactions);
            if print(stdout, &line).is_err() {
                return;
            }
        }
        std::thread::sleep(STATS_INTERVAL);
    }
}

fn write_until_killed(
    lsm: &Lsm,
    stdout: &Mutex<std::io::Stdout>,
    round: u32,
    thread: u32,
) -> Result<(), String> {
    for counter in 0..WRITES_PER_THREAD_MAX {
        let key = key_for(round, thread, counter);
        let line = if counter % 4 == 3 {
            let (a, b) = (format!("{key}/a"), format!("{key}/b"));
            let mut batch = WriteBatch::new();
            batch
                .put(a.as_bytes(), crash::value_for(&a, counter, REPEATS_MAX))
                .put(b.as_bytes(), crash::value_for(&b, counter, REPEATS_MAX));
            lsm.write(batch).map_err(|e| e.to_string())?;
            format!("ack {a} {b}\n")
        } else {
            lsm.put(
                key.as_bytes(),
                &crash::value_for(&key, counter, REPEATS_MAX),
            )
            .map_err(|e| e.to_string())?;
            format!("ack {key}\n")
        };
        // Printed only after `write` returned: the parent may trust it.
        print(stdout, &line)?;
        if counter % 10 == 9 {
            // Delete the key of nine writes ago, unless that was a batch.
            let old = counter - 9;
            if old % 4 != 3 {
                let old_key = key_for(round, thread, old);
                // Announced first: a kill between the delete and its `del`
                // line leaves the key either present or gone.
                print(stdout, &format!("deleting {old_key}\n"))?;
                lsm.delete(old_key.as_bytes()).map_err(|e| e.to_string())?;
                print(stdout, &format!("del {old_key}\n"))?;
            }
        }
    }
    Ok(())
}
