//! `cargo xtask fuzz [--seconds N] [--seed S] [--cases N] [--target T]`:
//! step 5's fuzzer (the `fuzz` example) built in release mode and run for a
//! time budget.
//!
//! The fuzzer prints its own report: cases run per target, cases per
//! second, the outcomes it saw and every finding with the seed that
//! replays it. Here the flags are checked before anything is built, so a
//! typo costs no compilation, and the fuzzer's exit status becomes ours.

use std::path::Path;

use crate::cmd::{self, Result};

/// The time budget when none is given.
pub const DEFAULT_SECONDS: u64 = 60;

const USAGE: &str =
    "usage: cargo xtask fuzz [--seconds N] [--seed S] [--cases N] [--target expr|http|all]";

/// The fuzzer's arguments, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzArgs {
    pub seconds: u64,
    pub seed: Option<u64>,
    pub cases: Option<u64>,
    pub target: Option<String>,
}

/// Reads the flags; each may appear once, in any order.
pub fn parse(args: &[&str]) -> Result<FuzzArgs> {
    let mut parsed = FuzzArgs {
        seconds: DEFAULT_SECONDS,
        seed: None,
        cases: None,
        target: None,
    };
    let number = |flag: &str, value: &str| {
        value
            .parse::<u64>()
            .map_err(|_| format!("{flag}: not a number: `{value}`\n{USAGE}"))
    };
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("`{}` needs a value\n{USAGE}", pair.join(" ")));
        };
        match *flag {
            "--seconds" => parsed.seconds = number(flag, value)?,
            "--seed" => parsed.seed = Some(number(flag, value)?),
            "--cases" => parsed.cases = Some(number(flag, value)?),
            "--target" if ["expr", "http", "all"].contains(value) => {
                parsed.target = Some(value.to_string());
            }
            "--target" => return Err(format!("unknown target `{value}`\n{USAGE}")),
            other => return Err(format!("unknown flag `{other}`\n{USAGE}")),
        }
    }
    Ok(parsed)
}

/// Builds and runs the fuzzer; fails if it reports a finding.
pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let parsed = parse(args)?;
    let mut command = cmd::cargo();
    command.current_dir(root).args([
        "run",
        "--release",
        "-p",
        "step05-api",
        "--example",
        "fuzz",
        "--",
        "--seconds",
        &parsed.seconds.to_string(),
    ]);
    if let Some(seed) = parsed.seed {
        command.args(["--seed", &seed.to_string()]);
    }
    if let Some(cases) = parsed.cases {
        command.args(["--cases", &cases.to_string()]);
    }
    if let Some(target) = &parsed.target {
        command.args(["--target", target]);
    }
    cmd::run(&mut command)
        .map_err(|_| "the fuzzer reported findings (or could not run): see above".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flags_in_any_order() {
        assert_eq!(
            parse(&["--seed", "7", "--seconds", "5", "--target", "expr"]),
            Ok(FuzzArgs {
                seconds: 5,
                seed: Some(7),
                cases: None,
                target: Some("expr".into()),
            })
        );
        assert_eq!(parse(&[]).map(|a| a.seconds), Ok(DEFAULT_SECONDS));
    }

    #[test]
    fn refuses_bad_flags() {
        assert!(parse(&["--seconds"]).is_err());
        assert!(parse(&["--seconds", "x"]).is_err());
        assert!(parse(&["--target", "disk"]).is_err());
        assert!(parse(&["--fast", "1"]).is_err());
    }
}
