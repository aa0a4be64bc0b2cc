//! `cargo xtask bench server`: minidynamo under load from outside, beside the
//! HTTP ceiling of this machine and, with `--peers`, beside dynalite and moto.
//!
//! For each server: create a table, preload it, then for each operation and
//! concurrency run one cell (a warm-up, then a timed window) and record
//! ops/s, p50 and p99. The result is one table (also written as JSON under
//! `target/bench/`) where every row carries its ratio to the ceiling, and,
//! with `--write-plot`, the book's SVG chart.
//!
//! The generator and the servers share the machine's cores, so absolute
//! numbers are the machine's; the ratios are the point.

pub mod ceiling;
pub mod histogram;
pub mod load;
pub mod report;
pub mod sigv4;
pub mod targets;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::cmd::{self, Result};
use load::{Op, Timing};
use report::{Outcome, Row};

const USAGE: &str = "\
cargo xtask bench server [OPTIONS]

  --peers               also measure dynalite (memory, disk) and moto
  --seconds N           measured seconds per cell (default 5)
  --warmup N            warm-up seconds before each cell (default 1)
  --concurrency A,B,..  connections per cell (default 1,16,64)
  --extra-ops           also Query (100-item pages) and a filtered Scan
  --servers A,B,..      only these: ceiling, minidynamo, dynalite-memory,
                        dynalite-disk, moto
  --write-plot          write book/src/images/bench-server.svg
";

/// Threads of the generator's runtime: one per core of the reference
/// machine; the servers get their own.
const GENERATOR_THREADS: usize = 2;
/// Bounds on the flags, so a typo cannot start an hour-long run.
const SECONDS_MAX: u64 = 600;
const CONCURRENCY_MAX: usize = 1024;

#[derive(Debug, Clone)]
pub struct Options {
    pub peers: bool,
    pub timing: Timing,
    pub concurrency: Vec<usize>,
    pub ops: Vec<Op>,
    pub servers: Option<Vec<String>>,
    pub write_plot: bool,
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<&str>) -> Result<T> {
    let value = value.ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
    value
        .parse()
        .map_err(|_| format!("{flag}: `{value}` is not a number\n\n{USAGE}"))
}

impl Options {
    pub fn parse(args: &[&str]) -> Result<Options> {
        let mut options = Options {
            peers: false,
            timing: Timing {
                warmup: Duration::from_secs(1),
                measure: Duration::from_secs(5),
            },
            concurrency: vec![1, 16, 64],
            ops: vec![Op::PutItem, Op::GetItem],
            servers: None,
            write_plot: false,
        };
        let mut words = args.iter().filter(|w| **w != "--");
        while let Some(word) = words.next() {
            match *word {
                "--peers" => options.peers = true,
                "--extra-ops" => options.ops.extend([Op::Query, Op::Scan]),
                "--write-plot" => options.write_plot = true,
                "--seconds" => {
                    let seconds: u64 = number(word, words.next().copied())?;
                    if !(1..=SECONDS_MAX).contains(&seconds) {
                        return Err(format!("--seconds must be 1 to {SECONDS_MAX}"));
                    }
                    options.timing.measure = Duration::from_secs(seconds);
                }
                "--warmup" => {
                    let seconds: u64 = number(word, words.next().copied())?;
                    if seconds > SECONDS_MAX {
                        return Err(format!("--warmup must be at most {SECONDS_MAX}"));
                    }
                    options.timing.warmup = Duration::from_secs(seconds);
                }
                "--concurrency" => {
                    let list = words
                        .next()
                        .ok_or_else(|| format!("--concurrency needs a value\n\n{USAGE}"))?;
                    options.concurrency = list
                        .split(',')
                        .map(|n| match n.trim().parse::<usize>() {
                            Ok(n) if (1..=CONCURRENCY_MAX).contains(&n) => Ok(n),
                            _ => Err(format!(
                                "--concurrency: `{n}` is not 1 to {CONCURRENCY_MAX}"
                            )),
                        })
                        .collect::<Result<_>>()?;
                }
                "--servers" => {
                    let list = words
                        .next()
                        .ok_or_else(|| format!("--servers needs a value\n\n{USAGE}"))?;
                    options.servers = Some(list.split(',').map(|s| s.trim().to_string()).collect());
                }
                "--help" | "-h" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
            }
        }
        Ok(options)
    }

    fn wants(&self, server: &str) -> bool {
        self.servers
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == server))
    }
}

/// Prepares the table on a server, then measures every cell.
async fn measure_server(name: &str, addr: SocketAddr, options: &Options) -> Result<Vec<Row>> {
    load::prepare(addr)
        .await
        .map_err(|e| format!("preparing the table: {e}"))?;
    let mut rows = Vec::new();
    for &op in &options.ops {
        for &concurrency in &options.concurrency {
            let cell = load::measure(addr, op, concurrency, options.timing).await?;
            let row = Row::new(name, op, concurrency, &cell);
            println!("  {}", row.line());
            if let Some(error) = &cell.first_error
                && cell.errors > 0
            {
                println!("    {} errors; the first: {error}", cell.errors);
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

fn record(
    outcomes: &mut Vec<Outcome>,
    name: &str,
    runtime: &tokio::runtime::Runtime,
    addr: Result<SocketAddr>,
    options: &Options,
) {
    println!("bench server: {name}");
    let outcome = match addr {
        Ok(addr) => match runtime.block_on(measure_server(name, addr, options)) {
            Ok(rows) => Outcome::Measured(rows),
            Err(e) => Outcome::Skipped(name.to_string(), e),
        },
        Err(e) => Outcome::Skipped(name.to_string(), e),
    };
    if let Outcome::Skipped(_, why) = &outcome {
        println!("  skipped: {}", why.lines().next().unwrap_or(""));
    }
    outcomes.push(outcome);
}

/// Starts a child server (or explains why not), measures it, stops it.
fn child_server(
    outcomes: &mut Vec<Outcome>,
    name: &str,
    runtime: &tokio::runtime::Runtime,
    launch: Result<targets::Launch>,
    logs: &Path,
    options: &Options,
) {
    let server = launch.and_then(|launch| targets::start(launch, logs));
    match server {
        Ok(server) => {
            record(outcomes, name, runtime, Ok(server.addr), options);
            drop(server);
        }
        Err(e) => record(outcomes, name, runtime, Err(e), options),
    }
}

/// Runs the benchmark. A debug build of xtask (what `cargo xtask` runs)
/// hands over to a release build of itself first: an unoptimised generator
/// would measure itself, not the servers.
pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let options = Options::parse(args)?;
    if cfg!(debug_assertions) {
        println!("bench server: building xtask in release mode to generate the load");
        return cmd::run(
            cmd::cargo()
                .current_dir(root)
                .args(["run", "--release", "--quiet", "-p", "xtask", "--"])
                .args(["bench", "server"])
                .args(args),
        );
    }
    let bench_dir = cmd::target_dir(root).join("bench");
    let scratch = bench_dir.join("scratch");
    let logs = bench_dir.join("logs");
    let peers = cmd::target_dir(root).join("peers");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(GENERATOR_THREADS)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the load generator's runtime: {e}"))?;
    println!(
        "bench server: {} s per cell after {} s of warm-up, concurrency {:?}, on {} cores",
        options.timing.measure.as_secs(),
        options.timing.warmup.as_secs(),
        options.concurrency,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut outcomes = Vec::new();
    if options.wants("ceiling") {
        match ceiling::start() {
            Ok(ceiling) => {
                record(
                    &mut outcomes,
                    "ceiling",
                    &runtime,
                    Ok(ceiling.addr),
                    &options,
                );
                drop(ceiling);
            }
            Err(e) => record(&mut outcomes, "ceiling", &runtime, Err(e), &options),
        }
    }
    if options.wants("minidynamo") {
        let launch = targets::minidynamo(root, &scratch);
        child_server(
            &mut outcomes,
            "minidynamo",
            &runtime,
            launch,
            &logs,
            &options,
        );
    }
    if options.peers {
        if options.wants("dynalite-memory") {
            let launch = targets::dynalite(root, &peers, None);
            child_server(
                &mut outcomes,
                "dynalite-memory",
                &runtime,
                launch,
                &logs,
                &options,
            );
        }
        if options.wants("dynalite-disk") {
            let launch = targets::dynalite(root, &peers, Some(scratch.join("dynalite-data")));
            child_server(
                &mut outcomes,
                "dynalite-disk",
                &runtime,
                launch,
                &logs,
                &options,
            );
        }
        if options.wants("moto") {
            let launch = targets::moto(root, &peers);
            child_server(&mut outcomes, "moto", &runtime, launch, &logs, &options);
        }
    }

    println!();
    print!("{}", report::table(&outcomes));
    let json_path = bench_dir.join("server.json");
    report::write_json(&json_path, &outcomes, &options)?;
    println!("bench server: wrote {}", json_path.display());
    if options.write_plot {
        let svg_path = root
            .join("book")
            .join("src")
            .join("images")
            .join("bench-server.svg");
        report::write_svg(&svg_path, &outcomes, &options)?;
        println!("bench server: wrote {}", svg_path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let options = Options::parse(&[
            "--peers",
            "--seconds",
            "2",
            "--concurrency",
            "1,4",
            "--extra-ops",
            "--servers",
            "ceiling,moto",
        ])
        .unwrap();
        assert!(options.peers);
        assert_eq!(options.timing.measure, Duration::from_secs(2));
        assert_eq!(options.concurrency, vec![1, 4]);
        assert_eq!(options.ops.len(), 4);
        assert!(options.wants("moto") && !options.wants("minidynamo"));
        assert!(Options::parse(&["--seconds", "0"]).is_err());
        assert!(Options::parse(&["--concurrency", "1,x"]).is_err());
        assert!(Options::parse(&["--bogus"]).is_err());
        assert!(Options::parse(&["--", "--peers"]).unwrap().peers);
    }
}
