//! The `minidynamo` server: DynamoDB's API on this machine, every partition
//! replicated three ways, for the AWS SDKs, the AWS CLI and boto3 through
//! `--endpoint-url`.
//!
//! This crate only assembles: the router is step 5's, the replication
//! groups step 4's, the partitions step 3's, the storage steps 1 and 2's.
//! What it adds is the process around them:
//!
//! * [`cli`] — the flags, their environment variables, `--help`;
//! * [`logging`] — `tracing` output on standard error, by level;
//! * [`banner`] — what is printed once the server is ready;
//! * [`run`] — the configuration, the runtime, signals and a graceful stop.
//!
//! # Invariants
//!
//! 1. **A bad invocation changes nothing.** Flags, their variables and the
//!    credentials file are checked before anything is opened; a mistake
//!    exits with code 2 and a message naming it.
//! 2. **The banner means ready.** It is printed after the socket is bound
//!    and every table is open.
//! 3. **A stop loses nothing acknowledged.** SIGINT and SIGTERM stop
//!    accepting, finish requests in flight and close every table; SIGKILL
//!    loses only unacknowledged requests, because an acknowledged write is
//!    durable before it is acknowledged.

pub mod banner;
pub mod cli;
pub mod logging;
pub mod run;

use std::process::ExitCode;

use cli::{Command, EXIT_USAGE};

/// The whole program, for `main`: parse, then help, version or serve.
pub fn main_with(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> ExitCode {
    match cli::parse(args, env) {
        Err(error) => {
            eprintln!("minidynamo: {error}");
            ExitCode::from(EXIT_USAGE)
        }
        Ok(Command::Help) => {
            print!("{}", cli::help());
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("minidynamo {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Serve(options)) => {
            logging::init(options.log_level);
            run::serve(&options)
        }
    }
}
