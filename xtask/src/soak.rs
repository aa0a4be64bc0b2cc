//! `cargo xtask soak`: does the default server stay bounded under
//! sustained overwrites?
//!
//! It starts the release server with its defaults (three replicas per
//! partition, fsync), writes a fixed set of [`OVERWRITE_KEYS`] 1 KB items,
//! then overwrites them from 16 connections in rounds. After each round it
//! prints the server's resident memory, the size of its data directory and
//! the writes per second. Live data never grows, so none of the three may
//! grow round over round: the run fails if the last rounds' memory or disk
//! exceed the early rounds' by more than a stated margin, or if the last
//! rounds' median throughput falls more than 10% below the early rounds'.
//!
//! Not part of `cargo xtask test`: it takes minutes, and its numbers depend
//! on the machine. Every loop is bounded by the round count.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::bench_server::load::{self, OVERWRITE_KEYS, Op, Timing, overwrite_body};
use crate::bench_server::targets;
use crate::cmd::{self, Result};

/// Connections writing at once.
const CLIENTS: usize = 16;
/// Memory and disk of the second half may exceed the first half's peak
/// by this factor, plus [`GROWTH_SLACK_BYTES`] (caches and memtables fill
/// up to their limits early; what must not happen is steady growth).
const GROWTH_FACTOR_MAX: f64 = 1.25;
const GROWTH_SLACK_BYTES: u64 = 32 * 1024 * 1024;
/// The late rounds' median rate must be at least this fraction of the
/// early rounds' (the first round, a warm-up, left out).
const THROUGHPUT_FLOOR: f64 = 0.9;
const ROUNDS_MAX: u64 = 1000;

#[derive(Debug)]
pub struct Options {
    rounds: u64,
    round: Duration,
    replicas: Option<String>,
}

pub fn parse(args: &[&str]) -> Result<Options> {
    let mut options = Options {
        rounds: 8,
        round: Duration::from_secs(30),
        replicas: None,
    };
    let mut rest = args.iter();
    while let Some(&flag) = rest.next() {
        let mut value = || {
            rest.next()
                .copied()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--rounds" => {
                options.rounds = value()?
                    .parse()
                    .map_err(|_| "--rounds: a number".to_string())?
            }
            "--round-seconds" => {
                let seconds: u64 = value()?
                    .parse()
                    .map_err(|_| "--round-seconds: a number".to_string())?;
                options.round = Duration::from_secs(seconds.max(1));
            }
            "--replicas" => options.replicas = Some(value()?.to_string()),
            other => {
                return Err(format!(
                    "unknown flag `{other}`; usage: cargo xtask soak [--rounds N] [--round-seconds S] [--replicas 1|3]"
                ));
            }
        }
    }
    if !(2..=ROUNDS_MAX).contains(&options.rounds) {
        return Err(format!("--rounds must be 2..={ROUNDS_MAX}"));
    }
    Ok(options)
}

/// What one round measured.
#[derive(Clone, Copy, Debug)]
struct Round {
    writes_per_second: f64,
    resident_bytes: u64,
    disk_bytes: u64,
}

pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let options = parse(args)?;
    let scratch = cmd::target_dir(root).join("soak");
    fs::create_dir_all(&scratch).map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    let mut launch = targets::minidynamo(root, &scratch)?;
    if let Some(replicas) = &options.replicas {
        launch
            .args
            .extend(["--replicas".to_string(), replicas.clone()]);
    }
    let data_dir = launch.data_dir.clone().unwrap_or_else(|| scratch.clone());
    let server = targets::start(launch, &scratch)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting tokio: {e}"))?;
    runtime.block_on(fill(server.addr))?;
    println!(
        "soak: {OVERWRITE_KEYS} items of 1 KB, {CLIENTS} clients, {} rounds of {:?}",
        options.rounds, options.round
    );
    println!("round  writes/s  resident MB  data dir MB");
    let mut rounds = Vec::new();
    for number in 1..=options.rounds {
        let timing = Timing {
            warmup: Duration::ZERO,
            measure: options.round,
        };
        let cell = runtime.block_on(load::measure(server.addr, Op::Overwrite, CLIENTS, timing))?;
        if cell.ops == 0 {
            return Err(format!(
                "round {number}: no write succeeded ({})",
                cell.first_error.unwrap_or_default()
            ));
        }
        let round = Round {
            writes_per_second: cell.ops_per_second(),
            resident_bytes: resident_bytes(server.pid())?,
            disk_bytes: cmd::dir_bytes(&data_dir),
        };
        println!(
            "{number:>5}  {:>8.0}  {:>11.1}  {:>11.1}",
            round.writes_per_second,
            mb(round.resident_bytes),
            mb(round.disk_bytes)
        );
        rounds.push(round);
    }
    verdict(&rounds)
}

/// Creates the table and writes every key once.
async fn fill(addr: std::net::SocketAddr) -> Result<()> {
    load::prepare(addr).await?;
    let mut connection = load::Connection::open(addr).await?;
    for key in 0..OVERWRITE_KEYS {
        connection.call_ok("PutItem", overwrite_body(key)).await?;
    }
    Ok(())
}

/// Fails if memory or disk kept growing, or throughput decayed.
fn verdict(rounds: &[Round]) -> Result<()> {
    let half = rounds.len() / 2;
    let (early, late) = rounds.split_at(half.max(1));
    let peak = |rs: &[Round], f: fn(&Round) -> u64| rs.iter().map(f).max().unwrap_or(0);
    let bound =
        |early_peak: u64| (early_peak as f64 * GROWTH_FACTOR_MAX) as u64 + GROWTH_SLACK_BYTES;
    let mut failures = Vec::new();
    for (what, f) in [
        (
            "resident memory",
            (|r: &Round| r.resident_bytes) as fn(&Round) -> u64,
        ),
        ("the data directory", |r: &Round| r.disk_bytes),
    ] {
        let (early_peak, late_peak) = (peak(early, f), peak(late, f));
        println!(
            "soak: {what}: early peak {:.1} MB, late peak {:.1} MB (bound {:.1} MB)",
            mb(early_peak),
            mb(late_peak),
            mb(bound(early_peak))
        );
        if late_peak > bound(early_peak) {
            failures.push(format!("{what} kept growing"));
        }
    }
    // The first round warms caches and compactions up; the machine is
    // shared, so compare the medians of the early and the late rounds.
    let first = median(
        early
            .iter()
            .skip(1)
            .chain(early.first().filter(|_| early.len() == 1)),
    );
    let last = median(late.iter());
    println!(
        "soak: throughput: early median {first:.0}/s, late median {last:.0}/s ({:.2}x)",
        last / first.max(1.0)
    );
    if last < first * THROUGHPUT_FLOOR {
        failures.push(format!(
            "throughput fell more than {:.0}%",
            (1.0 - THROUGHPUT_FLOOR) * 100.0
        ));
    }
    if failures.is_empty() {
        println!("soak: bounded");
        Ok(())
    } else {
        Err(format!("soak: {}", failures.join("; ")))
    }
}

fn median<'a>(rounds: impl Iterator<Item = &'a Round>) -> f64 {
    let mut rates: Vec<f64> = rounds.map(|r| r.writes_per_second).collect();
    rates.sort_by(f64::total_cmp);
    match rates.len() {
        0 => 0.0,
        n if n % 2 == 1 => rates[n / 2],
        n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `VmRSS` of a process, from `/proc`.
fn resident_bytes(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading the server's /proc status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmRSS in the server's /proc status".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(writes_per_second: f64, resident_mb: u64, disk_mb: u64) -> Round {
        Round {
            writes_per_second,
            resident_bytes: resident_mb << 20,
            disk_bytes: disk_mb << 20,
        }
    }

    #[test]
    fn a_plateau_passes_and_steady_growth_or_decay_fails() {
        let flat = [100, 110, 105, 108, 107, 109].map(|m| round(1000.0, m, 200));
        assert!(verdict(&flat).is_ok());
        let growing = [100, 200, 300, 400, 500, 600].map(|m| round(1000.0, m, 200));
        assert!(verdict(&growing).is_err());
        let filling = [100, 150, 200, 250, 300, 350].map(|d| round(1000.0, 100, d));
        assert!(verdict(&filling).is_err());
        let mut slowing = flat;
        for round in &mut slowing[3..] {
            round.writes_per_second = 800.0;
        }
        assert!(verdict(&slowing).is_err());
        let mut one_slow_round = flat;
        one_slow_round[5].writes_per_second = 800.0;
        assert!(verdict(&one_slow_round).is_ok(), "noise, not decay");
    }

    #[test]
    fn flags_parse_and_bad_ones_are_refused() {
        let options = parse(&["--rounds", "4", "--round-seconds", "10"]).unwrap();
        assert_eq!(
            (options.rounds, options.round),
            (4, Duration::from_secs(10))
        );
        assert!(parse(&["--rounds", "1"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
