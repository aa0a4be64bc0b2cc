//! Long runs that are not part of `cargo xtask test`: benchmarks and the
//! heavier crash and simulation schedules. Each names the package and target
//! it runs, so adding one is one table row.

use std::path::Path;

use crate::cmd::{self, Result};

/// `cargo xtask bench NAME`: a benchmark target run in release mode.
#[derive(Debug)]
pub struct Bench {
    pub name: &'static str,
    pub package: &'static str,
    pub target: &'static str,
    /// Cargo features the benchmark needs (its peer is often one).
    pub features: &'static str,
    pub what: &'static str,
}

pub const BENCHES: &[Bench] = &[
    Bench {
        name: "wal",
        package: "step01-kv",
        target: "wal",
        features: "",
        what: "durable writes/s with 1, 8 and 64 writers beside the raw fsync rate",
    },
    Bench {
        name: "lsm",
        package: "step02-lsm",
        target: "lsm",
        features: "bench-fjall",
        what: "fill, point reads, absent reads, scans and durable writes against fjall",
    },
    Bench {
        name: "routing",
        package: "step03-partitioning",
        target: "routing",
        features: "",
        what: "put, get and query through a partitioned table against one engine",
    },
    Bench {
        name: "replication",
        package: "step04-replication",
        target: "replication",
        features: "",
        what: "3-replica writes over loopback TCP against single-copy KvStore writes",
    },
];

/// Crash tests that read `MINIDYNAMO_CRASH_KILLS` for their number of kills.
pub const CRASH_TESTS: &[(&str, &str)] = &[
    ("step01-kv", "crash_sigkill"),
    ("step02-lsm", "crash_lsm"),
    ("step04-replication", "crash_group"),
];

pub fn bench(root: &Path, name: &str, extra: &[&str]) -> Result<()> {
    let Some(bench) = BENCHES.iter().find(|b| b.name == name) else {
        let names: Vec<String> = BENCHES
            .iter()
            .map(|b| format!("{} ({})", b.name, b.what))
            .collect();
        return Err(format!(
            "no benchmark `{name}`; the benchmarks are:\n  {}\n  server (the server under HTTP load: \
             cargo xtask bench server --help)",
            names.join("\n  ")
        ));
    };
    println!("bench {}: {}", bench.name, bench.what);
    let mut command = cmd::cargo();
    command
        .current_dir(root)
        .args(["bench", "-p", bench.package, "--bench", bench.target]);
    if !bench.features.is_empty() {
        command.args(["--features", bench.features]);
    }
    cmd::run(command.arg("--").args(extra))
}

/// Runs every crash test with `kills` kills each, in release mode.
pub fn crash(root: &Path, kills: u64) -> Result<()> {
    for (package, test) in CRASH_TESTS {
        println!("crash: {package} {test} with {kills} kills");
        cmd::run(
            cmd::cargo()
                .current_dir(root)
                .env("MINIDYNAMO_CRASH_KILLS", kills.to_string())
                .args([
                    "test",
                    "--release",
                    "-p",
                    package,
                    "--test",
                    test,
                    "--",
                    "--nocapture",
                ]),
        )?;
    }
    Ok(())
}

/// `cargo xtask sim`: the replication simulator over many seeds, or one seed
/// replayed (`--seed S`), in release mode.
pub fn sim(root: &Path, args: &[&str]) -> Result<()> {
    cmd::run(
        cmd::cargo()
            .current_dir(root)
            .args([
                "run",
                "--release",
                "-p",
                "step04-replication",
                "--bin",
                "sim",
                "--",
            ])
            .args(args),
    )
}
