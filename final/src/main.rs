//! `minidynamo`: see the library's documentation, or run `minidynamo --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    minidynamo::main_with(std::env::args().skip(1), |name| std::env::var(name).ok())
}
