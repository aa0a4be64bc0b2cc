//! Running other programs, and the small pieces of text parsing that go with it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// Every xtask failure is a message for a human; nothing needs to match on it.
pub type Result<T> = std::result::Result<T, String>;

/// The cargo that runs us (so a toolchain override applies to the stages too).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The workspace root: xtask lives one directory below it.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

/// Where cargo puts build output for the workspace at `root`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Shows a command the way a person would type it.
pub fn display(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    if text.ends_with("cargo") || text.contains("/cargo") {
        text = "cargo".to_string();
    }
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs a command with its output going straight to ours; fails if it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let status = status(command)?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", display(command)))
    }
}

pub fn status(command: &mut Command) -> Result<ExitStatus> {
    command
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", display(command)))
}

/// Test counts read from the closing lines of `cargo test` and pytest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
}

impl TestCounts {
    pub fn add(&mut self, other: TestCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    /// Reads one line of libtest output: `test result: ok. 3 passed; 1 failed; ...`.
    pub fn from_libtest_line(line: &str) -> Option<TestCounts> {
        let rest = line.trim().strip_prefix("test result: ")?;
        let count = |word: &str| -> Option<u64> {
            rest.split(';')
                .map(str::trim)
                .find_map(|part| part.strip_suffix(word))
                .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
        };
        Some(TestCounts {
            passed: count(" passed")?,
            failed: count(" failed")?,
        })
    }
}

/// Runs a command, echoing its stdout line by line while adding up the
/// libtest summaries in it. Stderr goes straight through.
pub fn run_counting_tests(command: &mut Command) -> Result<(ExitStatus, TestCounts)> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", display(command)))?;
    let mut counts = TestCounts::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading test output: {e}"))?;
            println!("{line}");
            if let Some(found) = TestCounts::from_libtest_line(&line) {
                counts.add(found);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{}`: {e}", display(command)))?;
    Ok((status, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libtest_summaries() {
        let line = "test result: FAILED. 12 passed; 3 failed; 1 ignored; 0 measured; 5 filtered out; finished in 0.21s";
        assert_eq!(
            TestCounts::from_libtest_line(line),
            Some(TestCounts {
                passed: 12,
                failed: 3
            })
        );
        assert_eq!(TestCounts::from_libtest_line("running 3 tests"), None);
    }
}
