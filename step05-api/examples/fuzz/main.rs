//! Bounded-time fuzzing of the request path: hostile expression texts to
//! every expression parser, and hostile requests to an in-process server.
//!
//! ```text
//! cargo run --release -p step05-api --example fuzz -- [--seconds N] [--seed S]
//!     [--cases N] [--target expr|http|all] [--quiet]
//! ```
//!
//! (`cargo xtask fuzz` builds and runs this.) Each case is generated from
//! its own seed; a finding prints that seed, and `--seed <it> --cases 1`
//! with the same target replays it. The exit status is 0 when nothing was
//! found, 1 on findings, 2 on bad arguments, 3 when a case hangs.
//!
//! An example rather than a test: it runs for a chosen time, prints a
//! report of its own, and is built in release mode on demand, none of
//! which a `cargo test` run wants. `tests/fuzz_smoke.rs` runs the same
//! generators for a few hundred fixed cases in every test run.
//!
//! The generators are hand-written over one seeded [`rng::Rng`] rather
//! than proptest strategies: a case replays from a single number printed
//! in the finding, and generating a case costs far less than running it.

mod expr_target;
mod harness;
mod http_target;
mod legacy;
mod requests;
mod rng;
mod text;
mod values;

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::{Options, Target};

const USAGE: &str =
    "usage: fuzz [--seconds N] [--seed S] [--cases N] [--target expr|http|all] [--quiet]";
/// The default time budget, shared by the targets.
const DEFAULT_SECONDS: u64 = 60;
/// The default case cap per target: high enough that the budget decides.
const DEFAULT_CASES: u64 = 100_000_000;

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        budget: Duration::from_secs(DEFAULT_SECONDS),
        cases: DEFAULT_CASES,
        targets: vec![Target::Expr, Target::Http],
        verbose: true,
    };
    let mut args = args.iter();
    // Bounded: each turn consumes at least one argument.
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let number = |text: &String| {
            text.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {text}\n{USAGE}"))
        };
        match flag.as_str() {
            "--seconds" => options.budget = Duration::from_secs(number(value()?)?),
            "--seed" => options.seed = number(value()?)?,
            "--cases" => options.cases = number(value()?)?,
            "--target" => {
                options.targets = match value()?.as_str() {
                    "expr" => vec![Target::Expr],
                    "http" => vec![Target::Http],
                    "all" => vec![Target::Expr, Target::Http],
                    other => return Err(format!("unknown target {other}\n{USAGE}")),
                }
            }
            "--quiet" => options.verbose = false,
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let targets: Vec<&str> = options.targets.iter().map(|t| t.name()).collect();
    println!(
        "fuzzing {} for {} s (at most {} cases each), seed {}",
        targets.join(" and "),
        options.budget.as_secs(),
        options.cases,
        options.seed
    );
    let report = match harness::run(&options) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("fuzz: {message}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", report.summary());
    if report.found_anything() {
        // Verbose runs printed each finding as it was found.
        if !options.verbose {
            for finding in &report.findings {
                println!("\n{}", finding.render());
            }
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
