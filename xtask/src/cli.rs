//! `cargo xtask`'s command line, parsed without running anything, so that
//! `main` and the book's command lint ([`crate::book_lint`]) agree on what a
//! valid command is.

use crate::cmd::Result;

pub const HELP: &str = "\
cargo xtask <command>

  test [--only STAGE]           every check CI runs: fmt, clippy, tests, book, workshop
  book [--serve] [--port N]     build the book into target/book (and serve it on 127.0.0.1)
  workshop list                 every exercise: id, step, file, task, its tests
  workshop start STEP --into DIR
                                a copy of the workspace with STEP's exercises as todo!()
  workshop check                stripped copies compile, their tests fail; solutions pass
  bench NAME [-- ARGS]          a benchmark against its named peer (bench help lists them)
  bench server [--peers] [...]  the server under HTTP load beside the ceiling, dynalite, moto
  crash [--kills N]             every SIGKILL crash test, N kills each (default 200)
  sim [--seeds N] [--seed S]    the replication simulator: many seeds, or replay one
  soak [--rounds N] [--round-seconds S] [--replicas 1|3]
                                sustained overwrites: memory, disk and throughput per round
  fuzz [--seconds N] [--seed S] step 5's fuzzer for N seconds (default 60), or replay a seed
";

/// One `cargo xtask` command; the argument lists are passed on unparsed to
/// the module that runs them.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Test { only: Option<&'a str> },
    Book { serve: bool, port: u16 },
    WorkshopList,
    WorkshopCheck,
    WorkshopStart { step: &'a str, into: &'a str },
    BenchServer(&'a [&'a str]),
    Bench { name: &'a str, extra: &'a [&'a str] },
    Crash { kills: u64 },
    Sim(&'a [&'a str]),
    Soak(&'a [&'a str]),
    Fuzz(&'a [&'a str]),
    Help,
}

/// Reads the words after `cargo xtask`.
pub fn parse<'a>(words: &'a [&'a str]) -> Result<Command<'a>> {
    Ok(match words {
        ["test"] => Command::Test { only: None },
        ["test", "--only", stage] => Command::Test { only: Some(stage) },
        ["book", rest @ ..] => book(rest)?,
        ["workshop", "list"] => Command::WorkshopList,
        ["workshop", "check"] => Command::WorkshopCheck,
        ["workshop", "start", step, "--into", into]
        | ["workshop", "start", "--into", into, step] => Command::WorkshopStart { step, into },
        ["bench", "server", rest @ ..] => Command::BenchServer(rest),
        ["bench", name] => Command::Bench { name, extra: &[] },
        ["bench", name, "--", extra @ ..] => Command::Bench { name, extra },
        ["crash"] => Command::Crash { kills: 200 },
        ["crash", "--kills", n] => Command::Crash {
            kills: n.parse().map_err(|_| format!("bad kill count `{n}`"))?,
        },
        ["sim", rest @ ..] => Command::Sim(rest),
        ["soak", rest @ ..] => Command::Soak(rest),
        ["fuzz", rest @ ..] => Command::Fuzz(rest),
        [] | ["help"] | ["--help"] | ["-h"] => Command::Help,
        _ => return Err(format!("unknown command `{}`\n\n{HELP}", words.join(" "))),
    })
}

fn book<'a>(args: &[&str]) -> Result<Command<'a>> {
    let (serve, port) = match args {
        [] => (false, 3000),
        ["--serve"] => (true, 3000),
        ["--serve", "--port", port] | ["--port", port, "--serve"] => (
            true,
            port.parse().map_err(|_| format!("bad port `{port}`"))?,
        ),
        _ => {
            return Err(format!(
                "usage: cargo xtask book [--serve] [--port N]\n\n{HELP}"
            ));
        }
    };
    Ok(Command::Book { serve, port })
}

/// Checks what [`parse`] leaves to the modules, where they can check it
/// without running: stage names (`stages`, given by the caller, so this
/// module does not depend on the stages that use it), benchmark names, and
/// the flags of `bench server`, `soak` and `fuzz`. (`sim`'s flags belong to
/// the simulator binary.)
pub fn validate(command: &Command<'_>, stages: &[&str]) -> Result<()> {
    match command {
        Command::Test { only: Some(stage) } => {
            if stages.contains(stage) {
                Ok(())
            } else {
                Err(format!(
                    "no stage `{stage}`; the stages are: {}",
                    stages.join(", ")
                ))
            }
        }
        Command::Bench { name, .. } => {
            if crate::runs::BENCHES.iter().any(|b| b.name == *name) {
                Ok(())
            } else {
                Err(format!("no benchmark `{name}`"))
            }
        }
        Command::BenchServer(args) => crate::bench_server::Options::parse(args).map(drop),
        Command::Soak(args) => crate::soak::parse(args).map(drop),
        Command::Fuzz(args) => crate::fuzz::parse(args).map(drop),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(line: &str) -> Result<()> {
        let words: Vec<&str> = line.split_whitespace().collect();
        validate(&parse(&words)?, &["fmt", "clippy"])
    }

    #[test]
    fn accepts_the_readme_commands() {
        for line in [
            "test",
            "test --only clippy",
            "book --serve",
            "workshop start step01 --into ../my-workshop",
            "bench wal",
            "crash --kills 200",
            "sim --seeds 100000",
            "soak --rounds 8",
            "fuzz --seconds 600",
        ] {
            assert_eq!(checked(line), Ok(()), "{line}");
        }
    }

    #[test]
    fn rejects_unknown_commands_stages_and_flags() {
        for line in [
            "tests",
            "test --only nothing",
            "bench nothing",
            "crash --kills many",
            "soak --nope",
            "book --port 1",
        ] {
            assert!(checked(line).is_err(), "{line}");
        }
    }
}
