//! The stages of `cargo xtask test`, in order. A stage is one small function;
//! adding a suite means adding one function and one entry to [`all`].

use std::path::Path;
use std::time::Instant;

use crate::cmd::{self, Result, TestCounts};

/// A stage returns the tests it ran, if it runs tests (so the total is honest).
pub type StageFn = fn(&Path) -> Result<TestCounts>;

#[derive(Debug)]
pub struct Stage {
    pub name: &'static str,
    pub what: &'static str,
    pub run: StageFn,
    /// An opt-in stage runs only when asked for: by `--only NAME`, or by this
    /// environment variable set to `1`. Every other run says it skipped it.
    pub opt_in: Option<&'static str>,
}

pub fn all() -> Vec<Stage> {
    vec![
        Stage {
            name: "fmt",
            what: "cargo fmt --all --check",
            run: fmt,
            opt_in: None,
        },
        Stage {
            name: "layering",
            what: "steps use only earlier steps, and use what they depend on",
            run: layering,
            opt_in: None,
        },
        Stage {
            name: "modules",
            what: "no module cycle within a crate beyond the allowed ones",
            run: modules,
            opt_in: None,
        },
        Stage {
            name: "clippy",
            what: "cargo clippy --workspace --all-targets -- -D warnings",
            run: clippy,
            opt_in: None,
        },
        Stage {
            name: "test",
            what: "cargo test --workspace",
            run: test,
            opt_in: None,
        },
        Stage {
            name: "book",
            what: "build the book, checking includes and links",
            run: book,
            opt_in: None,
        },
        Stage {
            name: "book-commands",
            what: "every cargo command in the book parses; each cargo test selects a test",
            run: book_commands,
            opt_in: None,
        },
        Stage {
            name: "workshop",
            what: "strip every step's exercises: compiles, fails; solution passes",
            run: workshop,
            opt_in: None,
        },
        Stage {
            name: "clients",
            what: "boto3 and AWS CLI suites against the minidynamo binary",
            run: clients,
            opt_in: None,
        },
    ]
}

fn fmt(root: &Path) -> Result<TestCounts> {
    cmd::run(
        cmd::cargo()
            .current_dir(root)
            .args(["fmt", "--all", "--check"]),
    )?;
    Ok(TestCounts::default())
}

fn layering(root: &Path) -> Result<TestCounts> {
    crate::layering::run(root)?;
    Ok(TestCounts::default())
}

fn modules(root: &Path) -> Result<TestCounts> {
    crate::modules::run(root)?;
    Ok(TestCounts::default())
}

fn clippy(root: &Path) -> Result<TestCounts> {
    cmd::run(cmd::cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok(TestCounts::default())
}

fn test(root: &Path) -> Result<TestCounts> {
    let mut command = cmd::cargo();
    command.current_dir(root).args(["test", "--workspace"]);
    let (status, counts) = cmd::run_counting_tests(&mut command)?;
    if !status.success() {
        return Err(format!("`cargo test --workspace` failed ({status})"));
    }
    Ok(counts)
}

fn book(root: &Path) -> Result<TestCounts> {
    crate::book::build(&root.join("book"))?;
    println!("book: built into target/book");
    Ok(TestCounts::default())
}

/// After `test`, so the test binaries it lists are already built.
fn book_commands(root: &Path) -> Result<TestCounts> {
    let names: Vec<&str> = all().iter().map(|s| s.name).collect();
    crate::book_lint::run(root, &names)?;
    Ok(TestCounts::default())
}

fn workshop(root: &Path) -> Result<TestCounts> {
    crate::workshop::check(root)?;
    Ok(TestCounts::default())
}

/// The server judged from outside: a Python virtual environment with the
/// pinned boto3, botocore, AWS CLI and pytest (kept under the target
/// directory, rebuilt when `final/tests/python/requirements.txt` changes),
/// then `cargo build -p minidynamo` and pytest, which starts the binary with
/// `--port` and `--data-dir` and also runs the CLI smoke script.
fn clients(root: &Path) -> Result<TestCounts> {
    crate::clients::run(root)
}

/// What one stage cost: wall time, and the target directory's size after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    pub stage: &'static str,
    pub seconds: f64,
    pub target_bytes: u64,
}

/// The per-stage table printed at the end of a run.
pub fn cost_table(costs: &[Cost]) -> String {
    let mut table = String::from(
        "stage           time     target after
",
    );
    for cost in costs {
        let minutes = cost.seconds / 60.0;
        let gib = cost.target_bytes as f64 / f64::from(1u32 << 30);
        table.push_str(&format!(
            "{:<14} {:>6.1} min {:>8.2} GiB\n",
            cost.stage, minutes, gib
        ));
    }
    table
}

/// Runs the stages in order, stopping at the first failure, and closes with
/// the per-stage table of time and disk and one summary line of the tests run.
pub fn run(root: &Path, only: Option<&str>) -> Result<()> {
    let mut costs = Vec::new();
    let result = run_stages(root, only, &mut costs);
    if !costs.is_empty() {
        print!(
            "==> cost per stage ({}):\n{}",
            cmd::target_dir(root).display(),
            cost_table(&costs)
        );
    }
    let counts = result?;
    println!("tests: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}

fn run_stages(root: &Path, only: Option<&str>, costs: &mut Vec<Cost>) -> Result<TestCounts> {
    let stages: Vec<Stage> = all()
        .into_iter()
        .filter(|s| only.is_none_or(|name| s.name == name))
        .collect();
    if stages.is_empty() {
        let names: Vec<&str> = all().iter().map(|s| s.name).collect();
        return Err(format!(
            "no such stage; the stages are: {}",
            names.join(", ")
        ));
    }
    let total = stages.len();
    let started = Instant::now();
    let mut counts = TestCounts::default();
    let mut ran = 0;
    for (index, stage) in stages.iter().enumerate() {
        if let Some(variable) = stage.opt_in
            && only.is_none()
            && std::env::var(variable).as_deref() != Ok("1")
        {
            println!(
                "==> [{}/{total}] {} skipped: opt-in (set {variable}=1, or run `cargo xtask test --only {}`)",
                index + 1,
                stage.name,
                stage.name
            );
            continue;
        }
        println!("==> [{}/{total}] {}: {}", index + 1, stage.name, stage.what);
        let stage_started = Instant::now();
        let result = (stage.run)(root);
        let seconds = stage_started.elapsed().as_secs_f64();
        costs.push(Cost {
            stage: stage.name,
            seconds,
            target_bytes: cmd::dir_bytes(&cmd::target_dir(root)),
        });
        match result {
            Ok(found) => {
                ran += 1;
                counts.add(found);
                println!(
                    "==> [{}/{total}] {} ok ({seconds:.1}s)",
                    index + 1,
                    stage.name
                );
            }
            Err(e) => {
                println!(
                    "==> [{}/{total}] {} FAILED ({seconds:.1}s)",
                    index + 1,
                    stage.name
                );
                return Err(e);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if ran == total {
        println!("==> all {total} stages passed in {seconds:.0}s");
    } else {
        println!(
            "==> {ran} stages passed, {} opt-in skipped, in {seconds:.0}s",
            total - ran
        );
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_table_has_a_row_per_stage() {
        let costs = [
            Cost {
                stage: "fmt",
                seconds: 3.0,
                target_bytes: 0,
            },
            Cost {
                stage: "test",
                seconds: 600.0,
                target_bytes: 3 << 30,
            },
        ];
        let table = cost_table(&costs);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 3, "{table}");
        assert!(
            rows[1].starts_with("fmt") && rows[1].contains("0.1 min"),
            "{table}"
        );
        assert!(
            rows[2].contains("10.0 min") && rows[2].ends_with("3.00 GiB"),
            "{table}"
        );
    }
}
