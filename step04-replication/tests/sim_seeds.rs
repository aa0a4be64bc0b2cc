//! The simulator over 1,000 seeds: every run must keep every promise —
//! no acknowledged write lost, linearizable strong reads, convergence after
//! healing. A failing seed prints the command that replays it.
//!
//! The seeds are split over a few tests so that the test harness runs
//! them on all cores. `MINIDYNAMO_SIM_SEEDS` changes the total.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use step04_replication::sim::run::{RunOptions, replay_command, run_seed};

const SEEDS_DEFAULT: u64 = 1000;
const PARTS: u64 = 4;

fn seeds_total() -> u64 {
    std::env::var("MINIDYNAMO_SIM_SEEDS")
        .ok()
        .map(|v| v.parse().expect("MINIDYNAMO_SIM_SEEDS must be a number"))
        .unwrap_or(SEEDS_DEFAULT)
}

/// Runs this part's share of the seeds; panics with every failing seed's
/// replay command.
fn run_part(part: u64) {
    let total = seeds_total();
    let options = RunOptions::default();
    let mut failures = Vec::new();
    for seed in (part..total).step_by(PARTS as usize) {
        match catch_unwind(AssertUnwindSafe(|| run_seed(seed, options))) {
            Ok(report) if report.passed() => {}
            Ok(report) => failures.push(format!(
                "seed {seed}: {}\n  replay: {}",
                report.violations.join("\n    "),
                report.replay_command()
            )),
            Err(_) => failures.push(format!(
                "seed {seed} panicked (see above)\n  replay: {}",
                replay_command(seed, options)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing seeds:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sim_seeds_part_0() {
    run_part(0);
}

#[test]
fn sim_seeds_part_1() {
    run_part(1);
}

#[test]
fn sim_seeds_part_2() {
    run_part(2);
}

#[test]
fn sim_seeds_part_3() {
    run_part(3);
}
