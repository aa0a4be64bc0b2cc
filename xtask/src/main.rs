//! `cargo xtask <command>`: see `cargo xtask help`.

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::cmd::{self, Result};

const HELP: &str = "\
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let root = cmd::workspace_root();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["test"] => xtask::stages::run(&root, None),
        ["test", "--only", stage] => xtask::stages::run(&root, Some(stage)),
        ["book", rest @ ..] => book(&root, rest),
        ["workshop", "list"] => xtask::workshop::list(&root),
        ["workshop", "check"] => xtask::workshop::check(&root),
        ["workshop", "start", step, "--into", dir] | ["workshop", "start", "--into", dir, step] => {
            xtask::workshop::start(&root, step, &PathBuf::from(dir))
        }
        ["bench", "server", rest @ ..] => xtask::bench_server::run(&root, rest),
        ["bench", name] => xtask::runs::bench(&root, name, &[]),
        ["bench", name, "--", extra @ ..] => xtask::runs::bench(&root, name, extra),
        ["crash"] => xtask::runs::crash(&root, 200),
        ["crash", "--kills", n] => xtask::runs::crash(
            &root,
            n.parse().map_err(|_| format!("bad kill count `{n}`"))?,
        ),
        ["sim", rest @ ..] => xtask::runs::sim(&root, rest),
        ["soak", rest @ ..] => xtask::soak::run(&root, rest),
        ["fuzz", rest @ ..] => xtask::fuzz::run(&root, rest),
        [] | ["help"] | ["--help"] | ["-h"] => {
            print!("{HELP}");
            Ok(())
        }
        _ => Err(format!("unknown command `{}`\n\n{HELP}", words.join(" "))),
    }
}

fn book(root: &std::path::Path, args: &[&str]) -> Result<()> {
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
    xtask::book::build(&root.join("book"))?;
    // book.toml sets the build directory, whatever CARGO_TARGET_DIR says.
    let built = root.join("target").join("book");
    println!("Built the book into {}", built.display());
    if serve {
        xtask::serve::serve(&built, port)?;
    }
    Ok(())
}
