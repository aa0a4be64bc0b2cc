//! `cargo xtask <command>`: see `cargo xtask help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::cli::{self, Command, HELP};
use xtask::cmd::{self, Result};

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
    match cli::parse(&words)? {
        Command::Test { only } => xtask::stages::run(&root, only),
        Command::Book { serve, port } => book(&root, serve, port),
        Command::WorkshopList => xtask::workshop::list(&root),
        Command::WorkshopCheck => xtask::workshop::check(&root),
        Command::WorkshopStart { step, into } => {
            xtask::workshop::start(&root, step, &PathBuf::from(into))
        }
        Command::BenchServer(rest) => xtask::bench_server::run(&root, rest),
        Command::Bench { name, extra } => xtask::runs::bench(&root, name, extra),
        Command::Crash { kills } => xtask::runs::crash(&root, kills),
        Command::Sim(rest) => xtask::runs::sim(&root, rest),
        Command::Soak(rest) => xtask::soak::run(&root, rest),
        Command::Fuzz(rest) => xtask::fuzz::run(&root, rest),
        Command::Help => {
            print!("{HELP}");
            Ok(())
        }
    }
}

fn book(root: &Path, serve: bool, port: u16) -> Result<()> {
    xtask::book::build(&root.join("book"))?;
    // book.toml sets the build directory, whatever CARGO_TARGET_DIR says.
    let built = root.join("target").join("book");
    println!("Built the book into {}", built.display());
    if serve {
        xtask::serve::serve(&built, port)?;
    }
    Ok(())
}
