//! The simulator's command line: run many seeds, or replay one.
//!
//! ```text
//! cargo run --release -p step04-replication --bin sim -- --seeds 10000
//! cargo run --release -p step04-replication --bin sim -- --seed 42
//! cargo run --release -p step04-replication --bin sim -- --seeds 200 --break-lease --profile leader-isolation
//! ```
//!
//! `--seeds N` runs seeds `FIRST..FIRST+N` (`--first FIRST`, default 0) and
//! prints a summary and every failing seed's replay command; `--seed S` runs
//! one seed and prints its fault plan, statistics and violations. The exit
//! status is non-zero if any run failed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;
use step04_replication::sim::faults::Profile;
use step04_replication::sim::run::{RunOptions, RunReport, run_seed};

const USAGE: &str = "usage: sim (--seeds N [--first S] | --seed S) [--break-lease] [--trace] [--profile mixed|leader-isolation]";

#[derive(Debug)]
struct Args {
    first: u64,
    count: u64,
    single: bool,
    options: RunOptions,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        first: 0,
        count: 1000,
        single: false,
        options: RunOptions::default(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seeds" => parsed.count = value("--seeds")?,
            "--first" => parsed.first = value("--first")?,
            "--seed" => {
                parsed.first = value("--seed")?;
                parsed.count = 1;
                parsed.single = true;
            }
            "--break-lease" => parsed.options.skip_lease_check = true,
            "--trace" => parsed.options.trace = true,
            "--profile" => {
                parsed.options.profile = match it.next().map(String::as_str) {
                    Some("mixed") => Profile::Mixed,
                    Some("leader-isolation") => Profile::LeaderIsolation,
                    other => return Err(format!("unknown profile {other:?}")),
                }
            }
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(parsed)
}

fn describe_single(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "seed {}: {:?}", report.seed, report.options);
    let _ = writeln!(out, "network: {:?}", report.plan.network);
    let _ = writeln!(
        out,
        "snapshot every {} entries",
        report.plan.snapshot_interval_entries
    );
    for fault in &report.plan.faults {
        let _ = writeln!(
            out,
            "  fault at tick {:>3} until {:>3}: {:?}",
            fault.at / 1000,
            fault.until / 1000,
            fault.fault
        );
    }
    let _ = writeln!(out, "{:#?}", report.stats);
    for violation in &report.violations {
        let _ = writeln!(out, "VIOLATION: {violation}");
    }
    let _ = writeln!(out, "{}", if report.passed() { "passed" } else { "FAILED" });
    out
}

/// Writes to stdout, stopping quietly when the reader has gone away (say,
/// `sim --seed 7 | head`): a closed pipe is not an error of the simulation.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let mut failures = 0u64;
    let mut totals = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for seed in args.first..args.first.saturating_add(args.count) {
        let report = run_seed(seed, args.options);
        if args.single {
            emit(&describe_single(&report));
        }
        let s = &report.stats;
        totals.0 += s.operations;
        totals.1 += s.writes_acknowledged;
        totals.2 += s.strong_reads;
        totals.3 += s.sim.crashes;
        totals.4 += u64::from(s.replaced_a_replica);
        totals.5 += u64::from(s.sim.snapshots_sent > 0);
        totals.6 += u64::from(s.faults > 0);
        if !report.passed() {
            failures += 1;
            emit(&format!(
                "seed {seed} FAILED: {}\n  replay: {}\n",
                report.violations.first().map_or("", String::as_str),
                report.replay_command()
            ));
        }
    }
    emit(&format!(
        "{} runs, {failures} failed, in {:.1?}: {} operations, {} acknowledged writes, {} strong reads, {} crashes; runs with faults {}, with a replica replaced {}, with a catch-up by snapshot {}\n",
        args.count,
        started.elapsed(),
        totals.0,
        totals.1,
        totals.2,
        totals.3,
        totals.6,
        totals.4,
        totals.5
    ));
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
