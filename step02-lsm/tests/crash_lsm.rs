//! Crash test with real processes: a child writes to an LSM tree with tiny
//! memtables and tables — so that it is nearly always flushing or
//! compacting — and prints every acknowledged write; we SIGKILL it at a
//! random moment, reopen, and check that:
//!
//! * every acknowledged write is there, intact, and every acknowledged
//!   delete stays deleted;
//! * no batch survived in part;
//! * no orphan table remains: the table files are exactly the live tables,
//!   and every one of them opened cleanly (the open checks each against the
//!   manifest).
//!
//! `MINIDYNAMO_CRASH_KILLS` sets the number of kills (default 10),
//! `MINIDYNAMO_CRASH_SEED` replays a run (the seed is printed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;
use step01_kv::crash::{CrashPlan, CrashRng, check_intact, complete_lines, run_and_kill};
use step01_kv::engine::{KeyRange, ScanDirection, StorageEngine};
use step02_lsm::lsm::{Lsm, LsmOptions, TABLES_DIR_NAME, table_path};

const KILLS_DEFAULT: u64 = 10;
const WRITER_THREADS: u32 = 4;
/// The child runs at least this long, so that it gets past its open.
const RUN_MS_MIN: u64 = 40;
/// And at most this long before it is killed.
const RUN_MS_MAX: u64 = 400;

/// The child's options, but with no background work of its own: the
/// checks below look at the files exactly as recovery left them.
fn quiet() -> LsmOptions {
    LsmOptions {
        memtable_bytes: 1 << 30,
        l0_compaction_trigger_files: 1000,
        l0_slowdown_files: 1000,
        l0_stall_files: 1000,
        l1_target_bytes: 1 << 40,
        ..LsmOptions::tiny()
    }
}

/// What the child reported before it died.
#[derive(Default)]
struct Report {
    acked: Vec<String>,
    deleted: Vec<String>,
    /// Keys whose delete was announced; those without a `del` were in flight.
    deleting: Vec<String>,
    flushes: u64,
    compactions: u64,
}

/// A line without its newline was cut by the kill and is not a report we
/// received.
fn parse(output: &[u8]) -> Report {
    let mut report = Report::default();
    for line in complete_lines(output) {
        let mut words = line.split(' ');
        match words.next() {
            Some("ack") => report.acked.extend(words.map(String::from)),
            Some("del") => report.deleted.extend(words.map(String::from)),
            Some("deleting") => report.deleting.extend(words.map(String::from)),
            Some("stats") => {
                let mut numbers = words.map(|w| w.parse::<u64>().unwrap());
                report.flushes = numbers.next().unwrap();
                report.compactions = numbers.next().unwrap();
            }
            other => panic!("unexpected line {other:?}"),
        }
    }
    report
}

#[test]
fn crash_acknowledged_writes_survive_sigkill_during_flushes_and_compactions() {
    let CrashPlan { kills, seed } = CrashPlan::from_env(KILLS_DEFAULT).unwrap();
    println!("crash test: {kills} kills, MINIDYNAMO_CRASH_SEED={seed}");
    let mut rng = CrashRng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    // Across all rounds so far: what must be there, and what must not.
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let (mut flushes, mut compactions, mut orphans) = (0, 0, 0);

    for round in 0..kills {
        let run = Duration::from_millis(RUN_MS_MIN + rng.below(RUN_MS_MAX - RUN_MS_MIN));
        let output = run_and_kill(
            Path::new(env!("CARGO_BIN_EXE_lsm-crash-writer")),
            dir.path(),
            round,
            WRITER_THREADS,
            run,
        )
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let report = parse(&output);
        flushes += report.flushes;
        compactions += report.compactions;

        let lsm = Lsm::open(dir.path(), quiet())
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): recovery failed: {e}"));
        orphans += lsm.stats().unwrap().orphans_deleted_at_open;
        live.extend(report.acked);
        for key in &report.deleting {
            // A delete in flight at the kill: the key may be there or not,
            // now and in every later round.
            if !report.deleted.contains(key) {
                live.remove(key);
            }
        }
        for key in report.deleted {
            live.remove(&key);
            deleted.insert(key);
        }
        for key in &live {
            let value = lsm.get(key.as_bytes()).unwrap().unwrap_or_else(|| {
                panic!("round {round} (seed {seed}): acknowledged {key} is lost")
            });
            check_intact(key.as_bytes(), &value).unwrap();
        }
        for key in &deleted {
            assert_eq!(
                lsm.get(key.as_bytes()).unwrap(),
                None,
                "round {round} (seed {seed}): deleted {key} came back"
            );
        }

        // Whatever else survived (written but not yet acknowledged) must be
        // intact, and batches whole.
        let prefix = format!("r{round:04}/");
        let survivors: BTreeMap<Vec<u8>, Vec<u8>> = lsm
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

        // No orphans: the files are exactly the live tables.
        let files: BTreeSet<_> = std::fs::read_dir(dir.path().join(TABLES_DIR_NAME))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let tables: BTreeSet<_> = lsm
            .levels()
            .unwrap()
            .iter()
            .flatten()
            .map(|t| table_path(dir.path(), t.id))
            .collect();
        assert_eq!(
            files, tables,
            "round {round} (seed {seed}): orphan or missing tables"
        );
        // Stop the engine before the next child opens the directory.
        drop(lsm);
    }
    println!(
        "crash test: {} live and {} deleted keys checked; the writers reported \
         {flushes} flushes and {compactions} compactions; {orphans} orphan tables \
         were cleaned up",
        live.len(),
        deleted.len()
    );
    assert!(
        !live.is_empty(),
        "no write was acknowledged in {kills} rounds"
    );
    assert!(
        flushes > 0 && compactions > 0,
        "the kills must hit a busy engine"
    );
}
