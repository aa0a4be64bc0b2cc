//! The workshop generator: turns the reference solution into exercises.
//!
//! * [`list`] prints every exercise with the tests that check it.
//! * [`start`] writes a copy of the workspace with one step's exercise regions
//!   replaced by `todo!()`, for a learner to fill in.
//! * [`check`] proves, for every step with exercises, that the stripped copy
//!   compiles, that each exercise's tests fail in it, and that they pass in
//!   the original. All copies share one target directory of their own, so
//!   the registry dependencies are built once for all of them.
//!
//! The naming key: exercise `02.3` is marked `// EXERCISE(02.3): task` in
//! `step02-*`, is "Task 02.3" in its chapter, and is checked by the tests
//! whose names start with `ex02_3_`.

pub mod markers;
pub mod tree;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::cmd::{self, Result, TestCounts};
use markers::{Exercise, MarkerError, Stripped};

/// A step crate: `step02-lsm` in directory `step02-lsm/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub number: u8,
    pub package: String,
    pub dir: PathBuf,
}

/// Every exercise of a workspace, with the names of the tests that check it.
#[derive(Debug)]
pub struct Catalogue {
    pub root: PathBuf,
    pub steps: Vec<Step>,
    pub exercises: Vec<(Exercise, Vec<String>)>,
}

impl Catalogue {
    /// Reads and validates every marker in every step crate under `root`.
    pub fn load(root: &Path) -> Result<Catalogue> {
        let steps = find_steps(root)?;
        let mut exercises = Vec::new();
        let mut errors: Vec<MarkerError> = Vec::new();
        let mut sources: Vec<(u8, PathBuf, String)> = Vec::new();
        for step in &steps {
            for file in tree::rust_files(&root.join(&step.dir))? {
                let text = fs::read_to_string(&file)
                    .map_err(|e| format!("reading {}: {e}", file.display()))?;
                let relative = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
                match markers::parse_markers(&relative, &text, step.number) {
                    Ok(found) => exercises.extend(found),
                    Err(found) => errors.extend(found),
                }
                sources.push((step.number, relative, text));
            }
        }
        errors.extend(markers::check_unique(&exercises));
        exercises.sort_by_key(|e| e.id);
        let mut catalogue = Vec::new();
        for exercise in exercises {
            let prefix = exercise.id.test_prefix();
            let tests: Vec<String> = sources
                .iter()
                .filter(|(step, _, _)| *step == exercise.id.step)
                .flat_map(|(_, _, text)| test_names(text, &prefix))
                .collect();
            if tests.is_empty() {
                errors.push(MarkerError {
                    file: exercise.file.clone(),
                    line: exercise.start_line,
                    message: format!(
                        "exercise {} has no test: name at least one test `{prefix}...` in its crate",
                        exercise.id
                    ),
                });
            }
            catalogue.push((exercise, tests));
        }
        if !errors.is_empty() {
            errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(format!(
                "malformed exercise markers:\n  {}",
                lines.join("\n  ")
            ));
        }
        Ok(Catalogue {
            root: root.to_path_buf(),
            steps,
            exercises: catalogue,
        })
    }

    fn step_exercises(&self, step: &Step) -> Vec<&Exercise> {
        self.exercises
            .iter()
            .map(|(exercise, _)| exercise)
            .filter(|e| e.id.step == step.number)
            .collect()
    }

    /// Finds a step by `step02`, `step02-lsm`, `02` or `2`.
    pub fn step(&self, name: &str) -> Result<&Step> {
        let wanted = name.trim_start_matches("step");
        let number: Option<u8> = wanted.get(..2).unwrap_or(wanted).parse().ok();
        self.steps
            .iter()
            .find(|s| s.package == name || Some(s.number) == number)
            .ok_or_else(|| {
                let known: Vec<&str> = self.steps.iter().map(|s| s.package.as_str()).collect();
                format!("no step `{name}`; the steps are: {}", known.join(", "))
            })
    }
}

/// Step crates are the root's directories named `stepNN-...` with a Cargo.toml.
fn find_steps(root: &Path) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let entries = fs::read_dir(root).map_err(|e| format!("reading {}: {e}", root.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading {}: {e}", root.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(number) = name
            .strip_prefix("step")
            .and_then(|rest| rest.get(..2))
            .and_then(|digits| digits.parse().ok())
        else {
            continue;
        };
        if entry.path().join("Cargo.toml").is_file() {
            steps.push(Step {
                number,
                package: name.clone(),
                dir: PathBuf::from(name),
            });
        }
    }
    steps.sort_by_key(|s| s.number);
    Ok(steps)
}

/// Names of the functions in `source` that start with `prefix` (`ex02_3_`).
fn test_names(source: &str, prefix: &str) -> Vec<String> {
    let needle = format!("fn {prefix}");
    let mut names = Vec::new();
    for (start, _) in source.match_indices(&needle) {
        let name: String = source[start + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.push(name);
    }
    names
}

// ---------------------------------------------------------------- list

pub fn list(root: &Path) -> Result<()> {
    let catalogue = Catalogue::load(root)?;
    if catalogue.exercises.is_empty() {
        println!("No exercises are marked yet.");
        return Ok(());
    }
    for step in &catalogue.steps {
        let exercises: Vec<_> = catalogue
            .exercises
            .iter()
            .filter(|(e, _)| e.id.step == step.number)
            .collect();
        if exercises.is_empty() {
            continue;
        }
        println!("{}", step.package);
        for (exercise, tests) in exercises {
            println!("  {}  {}", exercise.id, exercise.task);
            println!(
                "        in {}:{}",
                exercise.file.display(),
                exercise.start_line
            );
            println!(
                "        check: cargo test -p {} {}   ({})",
                step.package,
                exercise.id.test_prefix(),
                tests.join(", ")
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- start

/// Copies the workspace at `root` into `into`, stripping one step's exercises.
/// Returns the stripped files with their line maps.
fn write_stripped_copy(
    catalogue: &Catalogue,
    step: &Step,
    into: &Path,
) -> Result<BTreeMap<PathBuf, Stripped>> {
    tree::copy_workspace(&catalogue.root, into)?;
    let mut by_file: BTreeMap<PathBuf, Vec<Exercise>> = BTreeMap::new();
    for exercise in catalogue.step_exercises(step) {
        by_file
            .entry(exercise.file.clone())
            .or_default()
            .push(exercise.clone());
    }
    let mut stripped_files = BTreeMap::new();
    for (file, exercises) in by_file {
        let original = fs::read_to_string(catalogue.root.join(&file))
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        let stripped = markers::strip(&original, &exercises);
        fs::write(into.join(&file), &stripped.text)
            .map_err(|e| format!("writing {}: {e}", into.join(&file).display()))?;
        stripped_files.insert(file, stripped);
    }
    Ok(stripped_files)
}

pub fn start(root: &Path, step_name: &str, into: &Path) -> Result<()> {
    let catalogue = Catalogue::load(root)?;
    let step = catalogue.step(step_name)?.clone();
    let exercises = catalogue.step_exercises(&step);
    if exercises.is_empty() {
        return Err(format!(
            "{} has no exercises yet; `cargo xtask workshop list` shows the steps that do",
            step.package
        ));
    }
    if into.exists()
        && fs::read_dir(into)
            .map_err(|e| format!("reading {}: {e}", into.display()))?
            .next()
            .is_some()
    {
        // Starting the same step again resumes it: the copy is left exactly
        // as the learner left it. Anything else is never written over.
        if is_workshop_of(into, &step) {
            println!(
                "{} is already the {} workshop: nothing was written, your work is as you left it.",
                into.display(),
                step.package
            );
            println!(
                "Carry on: cd {} && cargo test -p {}",
                into.display(),
                step.package
            );
            return Ok(());
        }
        return Err(format!(
            "{} exists and is not empty, and it is not a {} workshop: choose a new directory, such as {}-{}",
            into.display(),
            step.package,
            into.display(),
            step_label(&step)
        ));
    }
    write_stripped_copy(&catalogue, &step, into)?;
    let readme = workshop_readme(&catalogue, &step);
    fs::write(into.join("WORKSHOP.md"), readme).map_err(|e| format!("writing WORKSHOP.md: {e}"))?;
    println!(
        "Wrote the {} workshop to {} ({} exercises).",
        step.package,
        into.display(),
        exercises.len()
    );
    println!(
        "Next: cd {} && cargo test -p {}",
        into.display(),
        step.package
    );
    println!("The first run is red on purpose; WORKSHOP.md there says what to do.");
    Ok(())
}

/// `step05` for `step05-api`: the short name `workshop start` accepts.
fn step_label(step: &Step) -> String {
    format!("step{:02}", step.number)
}

/// Whether `dir` is a copy `start` wrote for `step`: its WORKSHOP.md opens
/// with the heading [`workshop_readme`] writes.
fn is_workshop_of(dir: &Path, step: &Step) -> bool {
    fs::read_to_string(dir.join("WORKSHOP.md"))
        .ok()
        .and_then(|text| text.lines().next().map(str::to_string))
        .is_some_and(|first| first == readme_heading(step))
}

fn readme_heading(step: &Step) -> String {
    format!("# Workshop: {}", step.package)
}

fn workshop_readme(catalogue: &Catalogue, step: &Step) -> String {
    let mut text = format!(
        "{heading}\n\n\
         This is a copy of minidynamo in which the exercises of `{package}` are\n\
         replaced by `todo!()`. Every earlier step is solved, so you build on\n\
         working code.\n\n\
         1. Run the step's tests. **The first run is red, as expected**: each\n   \
         `todo!()` panics.\n\n\
         ```bash\n\
         cargo test -p {package}\n\
         ```\n\n\
         2. Pick an exercise below, read its task in the book's chapter, and\n   \
         replace the `todo!()` with your code.\n\
         3. Run just that exercise's tests until they are green, then move on.\n\n\
         | exercise | task | where | its tests |\n\
         |---|---|---|---|\n",
        heading = readme_heading(step),
        package = step.package
    );
    for (exercise, tests) in &catalogue.exercises {
        if exercise.id.step != step.number {
            continue;
        }
        text.push_str(&format!(
            "| {} | {} | `{}:{}` | `cargo test -p {} {}` ({}) |\n",
            exercise.id,
            exercise.task,
            exercise.file.display(),
            exercise.start_line,
            step.package,
            exercise.id.test_prefix(),
            tests.len()
        ));
    }
    text.push_str("\nWhen every exercise is done, `cargo test -p ");
    text.push_str(&step.package);
    text.push_str(" ` passes in full. Stuck? The reference solution is the\nsame file in the minidynamo repository.\n");
    text
}

// ---------------------------------------------------------------- check

/// The outcome of one `cargo test` run with a filter.
struct FilteredRun {
    success: bool,
    counts: TestCounts,
    output: String,
}

fn run_filtered_tests(
    workspace: &Path,
    target: &Path,
    package: &str,
    filter: &str,
) -> Result<FilteredRun> {
    let mut command = cmd::cargo();
    command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target)
        .args(["test", "--quiet", "-p", package, "--tests", "--", filter])
        .stdin(Stdio::null());
    let output = command
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", cmd::display(&command)))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut counts = TestCounts::default();
    for line in stdout.lines() {
        if let Some(found) = TestCounts::from_libtest_line(line) {
            counts.add(found);
        }
    }
    Ok(FilteredRun {
        success: output.status.success(),
        counts,
        output: format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
    })
}

/// Compiles the stripped copy's tests; on failure, names the exercise region
/// at fault by mapping the compiler's line numbers back to the original.
fn compile_stripped(
    copy: &Path,
    target: &Path,
    step: &Step,
    stripped: &BTreeMap<PathBuf, Stripped>,
    exercises: &[&Exercise],
) -> Result<()> {
    let mut command = cmd::cargo();
    command
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", target)
        .args([
            "test",
            "--quiet",
            "-p",
            &step.package,
            "--tests",
            "--no-run",
            "--message-format",
            "json",
        ])
        .stdin(Stdio::null());
    let output = command
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", cmd::display(&command)))?;
    if output.status.success() {
        return Ok(());
    }
    let mut problems = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-message" || message["message"]["level"] != "error" {
            continue;
        }
        let text = message["message"]["message"].as_str().unwrap_or("error");
        let span = message["message"]["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find(|s| s["is_primary"] == true));
        let Some(span) = span else {
            problems.push(format!("{}: {text}", step.package));
            continue;
        };
        let file = PathBuf::from(span["file_name"].as_str().unwrap_or(""));
        let file = file.strip_prefix(copy).unwrap_or(&file).to_path_buf();
        let line = span["line_start"].as_u64().unwrap_or(0) as usize;
        problems.push(describe_compile_error(
            &file, line, text, stripped, exercises,
        ));
    }
    if problems.is_empty() {
        problems.push(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Err(format!(
        "{}: the stripped copy does not compile. An exercise region must be the whole tail of a function body, so that `todo!()` can stand in for it.\n  {}",
        step.package,
        problems.join("\n  ")
    ))
}

fn describe_compile_error(
    file: &Path,
    line: usize,
    text: &str,
    stripped: &BTreeMap<PathBuf, Stripped>,
    exercises: &[&Exercise],
) -> String {
    let original_line = stripped
        .get(file)
        .and_then(|s| s.original_line.get(line.wrapping_sub(1)))
        .copied()
        .unwrap_or(line);
    // The culprit is the region the error is in, or else the nearest one.
    let distance = |e: &Exercise| {
        if original_line < e.start_line {
            e.start_line - original_line
        } else {
            original_line.saturating_sub(e.end_line)
        }
    };
    let culprit = exercises
        .iter()
        .filter(|e| e.file == file)
        .min_by_key(|e| distance(e));
    match culprit {
        Some(e) => format!(
            "{}:{}: exercise {} (region at line {}): {text}",
            file.display(),
            original_line,
            e.id,
            e.start_line
        ),
        None => format!("{}:{}: {text}", file.display(), original_line),
    }
}

/// [`check_in`] with the workspace's own target directory.
pub fn check(root: &Path) -> Result<()> {
    check_in(root, &cmd::target_dir(root))
}

/// Checks every step's exercises. The original builds in `target`; the
/// stripped copies are written under it, one at a time in one place, and
/// share a target directory of their own, so the registry dependencies are
/// built once for all of them.
pub fn check_in(root: &Path, target: &Path) -> Result<()> {
    let catalogue = Catalogue::load(root)?;
    let target = target.to_path_buf();
    let mut failures = Vec::new();
    let mut checked = 0;
    for step in &catalogue.steps {
        let exercises = catalogue.step_exercises(step);
        if exercises.is_empty() {
            continue;
        }
        println!("workshop: {} ({} exercises)", step.package, exercises.len());
        // 1. Each exercise's tests pass in the original and at least one runs.
        for exercise in &exercises {
            let filter = exercise.id.test_prefix();
            let run = run_filtered_tests(root, &target, &step.package, &filter)?;
            if !run.success || run.counts.passed == 0 {
                failures.push(format!(
                    "exercise {}: `cargo test -p {} {filter}` must pass with the solution and run at least one test (passed {}, failed {})\n{}",
                    exercise.id, step.package, run.counts.passed, run.counts.failed, tail(&run.output)
                ));
            }
        }
        // 2. The stripped copy compiles. Every copy is written to the same
        // place and built in a target directory of its own: cargo keys the
        // artifacts of workspace crates by their path *within* the
        // workspace, so a copy sharing the original's target directory
        // could leave its stripped build where the original's should be.
        let copy = target.join("workshop-check").join("workspace");
        let copy_target = target.join("workshop-check").join("target");
        if copy.exists() {
            fs::remove_dir_all(&copy).map_err(|e| format!("removing {}: {e}", copy.display()))?;
        }
        let stripped = write_stripped_copy(&catalogue, step, &copy)?;
        if let Err(problem) = compile_stripped(&copy, &copy_target, step, &stripped, &exercises) {
            failures.push(problem);
            continue;
        }
        // 3. Without the solution, each exercise's tests fail.
        for exercise in &exercises {
            let filter = exercise.id.test_prefix();
            let run = run_filtered_tests(&copy, &copy_target, &step.package, &filter)?;
            if run.success {
                failures.push(format!(
                    "exercise {} ({}:{}): its tests pass without the solution, so they do not check it",
                    exercise.id,
                    exercise.file.display(),
                    exercise.start_line
                ));
            }
            checked += 1;
        }
    }
    if failures.is_empty() {
        println!(
            "workshop: {checked} exercises checked: each fails when stripped and passes when solved"
        );
        Ok(())
    } else {
        Err(format!(
            "workshop check failed:\n- {}",
            failures.join("\n- ")
        ))
    }
}

/// The last lines of a long output, enough to see why something failed.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.len().saturating_sub(30);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_names_by_prefix() {
        let source =
            "#[test]\nfn ex01_2_sums() {}\nfn ex01_20_other() {}\nfn ex01_2_more_things() {}";
        assert_eq!(
            test_names(source, "ex01_2_"),
            vec!["ex01_2_sums", "ex01_2_more_things"]
        );
    }
}
