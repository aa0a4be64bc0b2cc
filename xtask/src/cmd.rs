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

/// The bytes of every file under `dir`, found by walking it (0 if it does
/// not exist). Symbolic links are not followed.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
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

    /// Reads pytest's closing line: `3 failed, 95 passed, 4 skipped in 1.20s`,
    /// with or without the `=` rule around it. Errors (a fixture that failed)
    /// count as failures; skips count as neither.
    pub fn from_pytest_line(line: &str) -> Option<TestCounts> {
        let line = line.trim().trim_matches('=').trim();
        let (counts, time) = line.rsplit_once(" in ")?;
        let seconds = time.split_whitespace().next()?.strip_suffix('s')?;
        seconds.parse::<f64>().ok()?;
        let mut found = TestCounts::default();
        for part in counts.split(", ") {
            let (number, word) = part.trim().split_once(' ')?;
            let number: u64 = number.parse().ok()?;
            match word {
                "passed" => found.passed += number,
                "failed" | "error" | "errors" => found.failed += number,
                "skipped" | "deselected" | "xfailed" | "xpassed" | "warning" | "warnings"
                | "rerun" => {}
                _ => return None,
            }
        }
        Some(found)
    }
}

/// Lower-case hex, for digests (the RustCrypto digests print no `{:x}`).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Runs a command, echoing its stdout line by line while adding up the
/// libtest summaries in it. Stderr goes straight through.
pub fn run_counting_tests(command: &mut Command) -> Result<(ExitStatus, TestCounts)> {
    run_counting(command, TestCounts::from_libtest_line)
}

/// Runs a command, echoing its stdout line by line while adding up every
/// summary line `parse` recognises. Stderr goes straight through.
pub fn run_counting(
    command: &mut Command,
    parse: fn(&str) -> Option<TestCounts>,
) -> Result<(ExitStatus, TestCounts)> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", display(command)))?;
    let mut counts = TestCounts::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading test output: {e}"))?;
            println!("{line}");
            if let Some(found) = parse(&line) {
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

    #[test]
    fn reads_pytest_summaries() {
        let counts = |passed, failed| Some(TestCounts { passed, failed });
        assert_eq!(
            TestCounts::from_pytest_line("165 passed, 48 skipped in 19.06s"),
            counts(165, 0)
        );
        assert_eq!(
            TestCounts::from_pytest_line(
                "===== 2 failed, 10 passed, 1 error, 3 warnings in 1.50s ====="
            ),
            counts(10, 3)
        );
        assert_eq!(
            TestCounts::from_pytest_line("1 error in 0.12s"),
            counts(0, 1)
        );
        assert_eq!(
            TestCounts::from_pytest_line("5 passed in 61.20s (0:01:01)"),
            counts(5, 0)
        );
        assert_eq!(TestCounts::from_pytest_line("no tests ran in 0.01s"), None);
        assert_eq!(
            TestCounts::from_pytest_line("ok 3 - scan pages in order"),
            None
        );
        assert_eq!(
            TestCounts::from_pytest_line("test_a.py ....s.. [ 40%]"),
            None
        );
    }

    #[test]
    fn hex_is_lower_case_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
