//! A process for crash tests to kill: it writes to a `KvStore` from several
//! threads with the default fsync policy, and prints each write to stdout the
//! moment it is acknowledged, until it is killed (or runs out of work).
//!
//! Usage: `kv-crash-writer DIR ROUND THREADS`
//!
//! Keys are `r<round>/t<thread>/<counter>`; every value is its key repeated,
//! so a reader can check a value without knowing how it was written. Every
//! fourth write is a batch of two keys, `<key>/a` and `<key>/b`, printed on
//! one line: after a crash both must exist or neither.
//!
//! Output: one line per acknowledged write, `ack KEY` or `ack KEY_A KEY_B`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;
use step01_kv::crash;
use step01_kv::engine::{StorageEngine, WriteBatch};
use step01_kv::store::{KvOptions, KvStore};

/// Writes per thread before the process gives up waiting to be killed.
/// Values are their key repeated up to this many times (see `step01_kv::crash`).
const REPEATS_MAX: usize = 41;

const WRITES_PER_THREAD_MAX: u32 = 1_000_000;
const THREADS_MAX: u32 = 64;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(Ok(round)), Some(Ok(threads))) = (
        args.get(1),
        args.get(2).map(|a| a.parse::<u32>()),
        args.get(3).map(|a| a.parse::<u32>()),
    ) else {
        eprintln!("usage: kv-crash-writer DIR ROUND THREADS");
        return ExitCode::from(2);
    };
    let threads = threads.clamp(1, THREADS_MAX);
    let store = match KvStore::open(dir, KvOptions::default()) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("open failed: {error}");
            return ExitCode::from(1);
        }
    };
    let stdout = Mutex::new(std::io::stdout());
    let failed = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (store, stdout) = (&store, &stdout);
                scope.spawn(move || write_until_killed(store, stdout, round, thread))
            })
            .collect();
        workers
            .into_iter()
            .any(|worker| !matches!(worker.join(), Ok(Ok(()))))
    });
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn write_until_killed(
    store: &KvStore,
    stdout: &Mutex<std::io::Stdout>,
    round: u32,
    thread: u32,
) -> Result<(), String> {
    for counter in 0..WRITES_PER_THREAD_MAX {
        let key = format!("r{round:04}/t{thread:02}/{counter:08}");
        let line = if counter % 4 == 3 {
            let (a, b) = (format!("{key}/a"), format!("{key}/b"));
            let mut batch = WriteBatch::new();
            batch
                .put(a.as_bytes(), crash::value_for(&a, counter, REPEATS_MAX))
                .put(b.as_bytes(), crash::value_for(&b, counter, REPEATS_MAX));
            store.write(batch).map_err(|e| e.to_string())?;
            format!("ack {a} {b}\n")
        } else {
            store
                .put(
                    key.as_bytes(),
                    &crash::value_for(&key, counter, REPEATS_MAX),
                )
                .map_err(|e| e.to_string())?;
            format!("ack {key}\n")
        };
        // Printed only after `write` returned: the parent may trust it.
        let mut out = stdout
            .lock()
            .map_err(|_| "stdout lock poisoned".to_string())?;
        out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}
