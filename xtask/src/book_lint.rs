//! Every `cargo …` command the book shows works: it is one of the commands
//! the project supports, and a `cargo test` selects at least one test.
//!
//! A reader copies these commands. A test filter that matches nothing makes
//! a promised red run a green run of zero tests, and a command with a stray
//! argument fails before it starts, so both are caught here rather than by
//! a learner. Commands are read from `bash`, `sh`, `shell`, `console` and
//! `text` fences. Test names come from the test binaries that `cargo test
//! --workspace --no-run` builds (the `test` stage built them already), each
//! listed once with `--list`; libtest's filter is a substring match.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::cmd::{self, Result};
use crate::metadata::{self, Package};

const COMMAND_FENCES: &[&str] = &["bash", "sh", "shell", "console", "text"];

/// libtest flags a command may pass after `--` (the ones taking a value
/// are listed with `=`).
const LIBTEST_FLAGS: &[&str] = &[
    "--nocapture",
    "--show-output",
    "--ignored",
    "--include-ignored",
    "--exact",
    "--list",
    "--test-threads=",
];

/// One `cargo test` the book asks the reader to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCommand {
    pub package: String,
    pub lib: bool,
    /// `--test` patterns (cargo accepts `*` globs).
    pub tests: Vec<String>,
    pub filter: Option<String>,
}

/// Checks every command in the book; `root` is the workspace root.
/// `stages` are the names `cargo xtask test --only` accepts.
pub fn run(root: &Path, stages: &[&str]) -> Result<()> {
    let packages = metadata::workspace(root)?;
    let mut problems = Vec::new();
    let mut test_commands = Vec::new();
    for chapter in crate::book_source::markdown_files(&root.join("book").join("src"))? {
        let text = fs::read_to_string(&chapter)
            .map_err(|e| format!("reading {}: {e}", chapter.display()))?;
        let shown = chapter.strip_prefix(root).unwrap_or(&chapter).display();
        for (line, words) in commands(&text) {
            match check_command(&words, &packages, stages) {
                Ok(Some(test)) => test_commands.push((format!("{shown}:{line}"), words, test)),
                Ok(None) => {}
                Err(problem) => {
                    problems.push(format!("{shown}:{line}: `{}`: {problem}", words.join(" ")))
                }
            }
        }
    }
    let listed = list_tests(root, &packages)?;
    let checked = test_commands.len();
    for (place, words, test) in test_commands {
        if selected(&test, &listed) == 0 {
            problems.push(format!("{place}: `{}` selects no test", words.join(" ")));
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{} command(s) in the book do not work:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    println!(
        "book commands: every cargo command parses; {checked} test commands each select a test"
    );
    Ok(())
}

/// The cargo commands in a chapter's command fences, as `(line, words)`;
/// the words start at `cargo`.
pub fn commands(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    let mut fence: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = match fence {
                None => Some(info.trim().to_string()),
                Some(_) => None,
            };
            continue;
        }
        let Some(kind) = fence.as_deref().filter(|k| COMMAND_FENCES.contains(k)) else {
            continue;
        };
        for segment in split_commands(trimmed.trim_start_matches("$ ")) {
            let words = shell_words(&segment);
            // In a shell fence a command is at the start (after variable
            // assignments); a text fence shows output, where one may follow a label.
            let start = if kind == "text" {
                words.iter().position(|w| w == "cargo")
            } else {
                words
                    .iter()
                    .position(|w| !is_assignment(w))
                    .filter(|&at| words[at] == "cargo")
            };
            if let Some(start) = start {
                found.push((index + 1, words[start..].to_vec()));
            }
        }
    }
    found
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// A shell line cut at `&&`, `||`, `;` and `|`, outside quotes.
fn split_commands(line: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, ';' | '|' | '&') => {
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// Words as the shell splits them: quotes removed, a `#` word starts a comment.
fn shell_words(segment: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in segment.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => break,
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Checks one command; a `cargo test` comes back for the selection check.
pub fn check_command(
    words: &[String],
    packages: &[Package],
    stages: &[&str],
) -> Result<Option<TestCommand>> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["cargo", "xtask", rest @ ..] => {
            crate::cli::validate(&crate::cli::parse(rest)?, stages)?;
            Ok(None)
        }
        ["cargo", "test", rest @ ..] => test_command(rest, packages).map(Some),
        ["cargo", "run", rest @ ..] => run_command(rest, packages).map(|()| None),
        ["cargo", "build", rest @ ..] => build_command(rest, packages).map(|()| None),
        ["cargo", "fmt" | "clippy", "--version"] => Ok(None),
        ["cargo", "fmt", rest @ ..] if rest.iter().all(|w| ["--all", "--check"].contains(w)) => {
            Ok(None)
        }
        [
            "cargo",
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ] => Ok(None),
        _ => Err(
            "not a command this project supports (cargo run, test, build, xtask, fmt, clippy)"
                .to_string(),
        ),
    }
}

fn package<'a>(name: &str, packages: &'a [Package]) -> Result<&'a Package> {
    packages
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| format!("no package `{name}` in the workspace"))
}

fn has_target(package: &Package, kind: &str, pattern: &str) -> bool {
    package
        .targets
        .iter()
        .any(|t| t.kinds.iter().any(|k| k == kind) && glob(pattern, &t.name))
}

fn test_command(words: &[&str], packages: &[Package]) -> Result<TestCommand> {
    let (cargo_args, libtest_args) = match words.iter().position(|w| *w == "--") {
        Some(at) => (&words[..at], &words[at + 1..]),
        None => (words, &[][..]),
    };
    check_libtest_args(libtest_args)?;
    let mut test = TestCommand::default();
    let mut rest = cargo_args.iter();
    while let Some(&word) = rest.next() {
        match word {
            "-p" | "--package" => {
                test.package = rest.next().ok_or("-p needs a package")?.to_string()
            }
            "--lib" => test.lib = true,
            "--release" => {}
            "--test" => test
                .tests
                .push(rest.next().ok_or("--test needs a name")?.to_string()),
            flag if flag.starts_with('-') => return Err(format!("unsupported flag `{flag}`")),
            filter if test.filter.is_none() => test.filter = Some(filter.to_string()),
            extra => {
                return Err(format!(
                    "a second test filter `{extra}`: cargo test takes one"
                ));
            }
        }
    }
    if test.package.is_empty() {
        return Err("name the package with -p".to_string());
    }
    let found = package(&test.package, packages)?;
    for pattern in &test.tests {
        if !has_target(found, "test", pattern) {
            return Err(format!("`{}` has no test target `{pattern}`", test.package));
        }
    }
    Ok(test)
}

fn check_libtest_args(args: &[&str]) -> Result<()> {
    let mut rest = args.iter();
    while let Some(&arg) = rest.next() {
        let known = LIBTEST_FLAGS
            .iter()
            .any(|flag| match flag.strip_suffix('=') {
                Some(name) if arg == name => rest.next().is_some(),
                Some(name) => arg.strip_prefix(name).is_some_and(|v| v.starts_with('=')),
                None => arg == *flag,
            });
        if !known {
            return Err(format!("unsupported test-binary argument `{arg}`"));
        }
    }
    Ok(())
}

/// `cargo run [--release] [--quiet] -p PKG [--bin BIN] [-- ARGS]`; the
/// program's own arguments are its business.
fn run_command(words: &[&str], packages: &[Package]) -> Result<()> {
    let cargo_args = match words.iter().position(|w| *w == "--") {
        Some(at) => &words[..at],
        None => words,
    };
    let mut name = None;
    let mut bin = None;
    let mut rest = cargo_args.iter();
    while let Some(&word) = rest.next() {
        match word {
            "-p" | "--package" => name = rest.next().copied(),
            "--bin" => bin = Some(*rest.next().ok_or("--bin needs a name")?),
            "--release" | "--quiet" | "-q" => {}
            other => return Err(format!("unsupported argument `{other}`")),
        }
    }
    let found = package(name.ok_or("name the package with -p")?, packages)?;
    match bin {
        Some(bin) if !has_target(found, "bin", bin) => {
            Err(format!("`{}` has no binary `{bin}`", found.name))
        }
        _ => Ok(()),
    }
}

fn build_command(words: &[&str], packages: &[Package]) -> Result<()> {
    let mut rest = words.iter();
    while let Some(&word) = rest.next() {
        match word {
            "-p" | "--package" => {
                package(rest.next().ok_or("-p needs a package")?, packages)?;
            }
            "--release" | "--workspace" | "--all-targets" => {}
            other => return Err(format!("unsupported argument `{other}`")),
        }
    }
    Ok(())
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len()).any(|at| rest.is_char_boundary(at) && glob(tail, &rest[at..]))
        }
    }
}

/// A test binary's tests, keyed by `(package, kind, target)`.
pub type Listed = BTreeMap<(String, String, String), Vec<String>>;

/// How many listed tests `test` runs.
pub fn selected(test: &TestCommand, listed: &Listed) -> usize {
    listed
        .iter()
        .filter(|((package, kind, target), _)| {
            package == &test.package
                && match (test.lib, test.tests.is_empty()) {
                    (false, true) => true,
                    (lib, _) => {
                        (lib && kind == "lib")
                            || (kind == "test" && test.tests.iter().any(|p| glob(p, target)))
                    }
                }
        })
        .flat_map(|(_, names)| names)
        .filter(|name| test.filter.as_deref().is_none_or(|f| name.contains(f)))
        .count()
}

/// Builds (or finds built) every test binary of the workspace and lists its tests.
fn list_tests(root: &Path, packages: &[Package]) -> Result<Listed> {
    let mut command = cmd::cargo();
    command
        .current_dir(root)
        .args(["test", "--workspace", "--no-run", "--message-format=json"]);
    let output = command
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", cmd::display(&command)))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed ({})",
            cmd::display(&command),
            output.status
        ));
    }
    let mut listed = Listed::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(executable), Some(id)) = (
            message["executable"].as_str(),
            message["package_id"].as_str(),
        ) else {
            continue;
        };
        let Some(package) = packages.iter().find(|p| p.id == id) else {
            continue;
        };
        // A test harness, not the plain binary built for integration tests.
        if message["profile"]["test"].as_bool() != Some(true) {
            continue;
        }
        let kind = message["target"]["kind"][0].as_str().unwrap_or_default();
        // Only libtest harnesses: `--list` on anything else would run it.
        if !["lib", "bin", "test"].contains(&kind) {
            continue;
        }
        let target = message["target"]["name"].as_str().unwrap_or_default();
        let names = list_binary(Path::new(executable), &package.dir)?;
        listed.insert(
            (package.name.clone(), kind.to_string(), target.to_string()),
            names,
        );
    }
    Ok(listed)
}

fn list_binary(executable: &Path, dir: &Path) -> Result<Vec<String>> {
    let output = std::process::Command::new(executable)
        .current_dir(dir)
        .args(["--list", "--format", "terse"])
        .output()
        .map_err(|e| format!("cannot run {} --list: {e}", executable.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} --list failed ({})",
            executable.display(),
            output.status
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Target;

    fn packages() -> Vec<Package> {
        let target = |name: &str, kind: &str| Target {
            name: name.to_string(),
            kinds: vec![kind.to_string()],
        };
        vec![Package {
            id: "id".to_string(),
            name: "step05-api".to_string(),
            dir: "/w/step05-api".into(),
            targets: vec![
                target("step05_api", "lib"),
                target("api_batch", "test"),
                target("auth_sigv4", "test"),
                target("node", "bin"),
            ],
            dependencies: Vec::new(),
        }]
    }

    fn words(line: &str) -> Vec<String> {
        shell_words(line)
    }

    fn listed() -> Listed {
        let key = |kind: &str, target: &str| {
            (
                "step05-api".to_string(),
                kind.to_string(),
                target.to_string(),
            )
        };
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        Listed::from([
            (
                key("lib", "step05_api"),
                names(&["auth::tests::ex05_10_key", "wire::tests::crc"]),
            ),
            (key("test", "api_batch"), names(&["ex05_31_duplicates"])),
            (key("test", "auth_sigv4"), names(&["verifies"])),
        ])
    }

    fn check(line: &str) -> Result<Option<TestCommand>> {
        check_command(&words(line), &packages(), &["test", "clippy"])
    }

    #[test]
    fn finds_commands_in_command_fences_only() {
        let chapter = "Run `cargo test -p x`.\n\n```bash\ncargo test -p a   # comment\ncd ../w && FOO=1 cargo xtask test\necho cargo\n```\n\n```rust,ignore\ncargo test -p no\n```\n\n```text\n  replay: cargo run -p b -- --seed 2\n```\n";
        let found: Vec<(usize, String)> = commands(chapter)
            .into_iter()
            .map(|(l, w)| (l, w.join(" ")))
            .collect();
        assert_eq!(
            found,
            vec![
                (4, "cargo test -p a".to_string()),
                (5, "cargo xtask test".to_string()),
                (14, "cargo run -p b -- --seed 2".to_string()),
            ]
        );
    }

    #[test]
    fn parses_supported_commands() {
        for line in [
            "cargo test -p step05-api ex05_10_",
            "cargo test -p step05-api --lib auth::",
            "cargo test -p step05-api --test 'auth_*' --test api_batch",
            "cargo test -p step05-api ex05_10_key -- --nocapture",
            "cargo run --release -p step05-api --bin node -- --anything",
            "cargo xtask test --only clippy",
            "cargo fmt --version",
            "cargo build --release -p step05-api",
        ] {
            assert!(check(line).is_ok(), "{line}: {:?}", check(line));
        }
    }

    #[test]
    fn rejects_what_cargo_or_xtask_would_refuse() {
        for (line, expected) in [
            (
                "cargo test -p step05-api ex05_30_ ex05_31_",
                "a second test filter",
            ),
            ("cargo test -p nothing", "no package `nothing`"),
            ("cargo test -p step05-api --test 'expr_*'", "no test target"),
            (
                "cargo test -p step05-api x -- --nocaptur",
                "unsupported test-binary argument",
            ),
            ("cargo run -p step05-api --bin sim", "no binary `sim`"),
            ("cargo xtask test --only nothing", "no stage"),
            ("cargo xtask frobnicate", "unknown command"),
            (
                "cargo install minidynamo",
                "not a command this project supports",
            ),
        ] {
            let problem = check(line).unwrap_err();
            assert!(problem.contains(expected), "{line}: {problem}");
        }
    }

    #[test]
    fn counts_the_tests_a_command_selects() {
        let count = |line: &str| selected(&check(line).unwrap().unwrap(), &listed());
        assert_eq!(count("cargo test -p step05-api"), 4);
        assert_eq!(count("cargo test -p step05-api ex05_"), 2);
        assert_eq!(count("cargo test -p step05-api api_"), 0);
        assert_eq!(count("cargo test -p step05-api --lib auth::"), 1);
        assert_eq!(count("cargo test -p step05-api --test 'auth_*'"), 1);
        assert_eq!(
            count("cargo test -p step05-api --lib --test api_batch ex05"),
            2
        );
    }

    #[test]
    fn globs_match_like_cargo() {
        assert!(glob("auth_*", "auth_sigv4"));
        assert!(glob("*_batch", "api_batch"));
        assert!(!glob("auth_*", "api_auth"));
        assert!(glob("api", "api"));
    }
}
