//! Exercise markers: finding them, validating them, and stripping them.
//!
//! A marked region in a step crate looks like this:
//!
//! ```text
//! fn sum(xs: &[u64]) -> u64 {
//!     // EXERCISE(01.2): add up the numbers
//!     xs.iter().sum()
//!     // END EXERCISE
//! }
//! ```
//!
//! Stripping replaces the whole region, marker lines included, with one line
//! `todo!("exercise 01.2: add up the numbers")` at the marker's indentation.
//! For that to compile, a region must be the whole tail of a function body;
//! [`super::check`] proves it by compiling the stripped copy.
//!
//! Invariants checked here, each reported with file and line:
//! * every `EXERCISE(` line has a well-formed id `NN.M` and a non-empty task;
//! * regions do not nest, and every region is closed before the file ends;
//! * every `END EXERCISE` closes an open region;
//! * the id's step number `NN` matches the crate the file lives in.

use std::fmt;
use std::path::{Path, PathBuf};

const START: &str = "// EXERCISE(";
const END: &str = "// END EXERCISE";

/// An exercise id such as `02.3`: step 2, task 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExerciseId {
    pub step: u8,
    pub task: u8,
}

impl ExerciseId {
    /// Parses `NN.M` (two-digit step, task of one or two digits, no leading zero).
    pub fn parse(text: &str) -> Option<ExerciseId> {
        let (step, task) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if step.len() != 2 || !digits(step) || !digits(task) || task.len() > 2 {
            return None;
        }
        if task.starts_with('0') {
            return None;
        }
        Some(ExerciseId {
            step: step.parse().ok()?,
            task: task.parse().ok()?,
        })
    }

    /// The prefix every test of this exercise carries: `ex02_3_`.
    pub fn test_prefix(&self) -> String {
        format!("ex{:02}_{}_", self.step, self.task)
    }
}

impl fmt::Display for ExerciseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}.{}", self.step, self.task)
    }
}

/// One marked region in one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exercise {
    pub id: ExerciseId,
    pub task: String,
    /// Path relative to the workspace root.
    pub file: PathBuf,
    /// 1-based line numbers of the `EXERCISE(` and `END EXERCISE` lines.
    pub start_line: usize,
    pub end_line: usize,
    /// The indentation of the start marker, reused for the `todo!()`.
    pub indent: String,
}

impl Exercise {
    /// The single line that replaces the region in a stripped copy.
    pub fn todo_line(&self) -> String {
        let message = format!("exercise {}: {}", self.id, self.task);
        format!("{}todo!({:?})", self.indent, message)
    }
}

/// A malformed marker, reported with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for MarkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Finds every exercise region in `source`. `file` is only used for reports;
/// `expected_step` is the step number of the crate the file belongs to.
pub fn parse_markers(
    file: &Path,
    source: &str,
    expected_step: u8,
) -> Result<Vec<Exercise>, Vec<MarkerError>> {
    let mut exercises = Vec::new();
    let mut errors = Vec::new();
    // The open region: its start line, and the exercise if its marker was valid
    // (an invalid start still opens a region, so its end is not reported twice).
    let mut open: Option<(usize, Option<Exercise>)> = None;
    let error = |line: usize, message: String| MarkerError {
        file: file.to_path_buf(),
        line,
        message,
    };

    for (index, text) in source.lines().enumerate() {
        let line = index + 1;
        let trimmed = text.trim_start();
        if let Some(rest) = trimmed.strip_prefix(START) {
            if let Some((outer_line, outer)) = &open {
                let outer = outer
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (exercise {})", e.id));
                errors.push(error(
                    line,
                    format!("exercise region nested inside the region opened at line {outer_line}{outer}: is an `// END EXERCISE` missing?"),
                ));
                continue;
            }
            let exercise = match parse_start(rest) {
                Ok((id, _)) if id.step != expected_step => {
                    errors.push(error(
                        line,
                        format!("exercise {id} is in the crate of step {expected_step:02}: its id must start with {expected_step:02}."),
                    ));
                    None
                }
                Ok((id, task)) => Some(Exercise {
                    id,
                    task,
                    file: file.to_path_buf(),
                    start_line: line,
                    end_line: 0,
                    indent: text[..text.len() - trimmed.len()].to_string(),
                }),
                Err(message) => {
                    errors.push(error(line, message));
                    None
                }
            };
            open = Some((line, exercise));
        } else if trimmed.trim_end() == END {
            match open.take() {
                Some((_, Some(mut exercise))) => {
                    exercise.end_line = line;
                    exercises.push(exercise);
                }
                Some((_, None)) => {}
                None => errors.push(error(
                    line,
                    "`// END EXERCISE` without an open `// EXERCISE(NN.M): task`".to_string(),
                )),
            }
        } else if trimmed.starts_with("// END EXERCISE") || trimmed.starts_with("// EXERCISE") {
            errors.push(error(
                line,
                "malformed exercise marker: expected `// EXERCISE(NN.M): task` or `// END EXERCISE`"
                    .to_string(),
            ));
            if trimmed.starts_with("// EXERCISE") && open.is_none() {
                open = Some((line, None));
            }
        }
    }
    if let Some((start_line, exercise)) = open {
        let name = exercise.map_or("the exercise".to_string(), |e| format!("exercise {}", e.id));
        errors.push(error(
            start_line,
            format!("{name} is never closed with `// END EXERCISE`"),
        ));
    }
    if errors.is_empty() {
        Ok(exercises)
    } else {
        Err(errors)
    }
}

/// Parses what follows `// EXERCISE(`: `NN.M): task`.
fn parse_start(rest: &str) -> Result<(ExerciseId, String), String> {
    let Some((id_text, after)) = rest.split_once(')') else {
        return Err("malformed exercise marker: missing `)` after the id".to_string());
    };
    let id = ExerciseId::parse(id_text).ok_or_else(|| {
        format!("malformed exercise id `{id_text}`: expected two-digit step, a dot and the task number, like `02.3`")
    })?;
    let Some(task) = after.strip_prefix(':') else {
        return Err(format!(
            "exercise {id}: expected `:` and the task after the id"
        ));
    };
    let task = task.trim();
    if task.is_empty() {
        return Err(format!("exercise {id} has no task description"));
    }
    Ok((id, task.to_string()))
}

/// Rejects an id used by two regions anywhere in the workspace.
pub fn check_unique(exercises: &[Exercise]) -> Vec<MarkerError> {
    let mut errors = Vec::new();
    for (i, exercise) in exercises.iter().enumerate() {
        if let Some(first) = exercises[..i].iter().find(|e| e.id == exercise.id) {
            errors.push(MarkerError {
                file: exercise.file.clone(),
                line: exercise.start_line,
                message: format!(
                    "duplicate exercise id {}: already used at {}:{}",
                    exercise.id,
                    first.file.display(),
                    first.start_line
                ),
            });
        }
    }
    errors
}

/// The result of stripping one file: its new text, and for every line of the
/// new text the 1-based line of the original it came from (so a compiler
/// error in the stripped copy can be reported at the original place).
#[derive(Debug)]
pub struct Stripped {
    pub text: String,
    pub original_line: Vec<usize>,
}

/// Replaces each region of `exercises` (all from this file) by its `todo!()`.
pub fn strip(source: &str, exercises: &[Exercise]) -> Stripped {
    let mut text = String::with_capacity(source.len());
    let mut original_line = Vec::new();
    let mut lines = source.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((line, content)) = lines.next() {
        match exercises.iter().find(|e| e.start_line == line) {
            Some(exercise) => {
                text.push_str(&exercise.todo_line());
                // Skip the solution up to and including the end marker.
                for (skipped, _) in lines.by_ref() {
                    if skipped == exercise.end_line {
                        break;
                    }
                }
            }
            None => text.push_str(content),
        }
        text.push('\n');
        original_line.push(line);
    }
    Stripped {
        text,
        original_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> Result<Vec<Exercise>, Vec<MarkerError>> {
        parse_markers(Path::new("step01-demo/src/lib.rs"), source, 1)
    }

    const GOOD: &str = "fn sum(xs: &[u64]) -> u64 {\n    // EXERCISE(01.2): add up the numbers\n    xs.iter().sum()\n    // END EXERCISE\n}\n";

    #[test]
    fn finds_a_region_with_its_lines_and_indent() {
        let found = parse(GOOD).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, ExerciseId { step: 1, task: 2 });
        assert_eq!(found[0].task, "add up the numbers");
        assert_eq!((found[0].start_line, found[0].end_line), (2, 4));
        assert_eq!(found[0].indent, "    ");
    }

    #[test]
    fn strips_a_region_to_todo_and_maps_lines_back() {
        let found = parse(GOOD).unwrap();
        let stripped = strip(GOOD, &found);
        assert_eq!(
            stripped.text,
            "fn sum(xs: &[u64]) -> u64 {\n    todo!(\"exercise 01.2: add up the numbers\")\n}\n"
        );
        assert_eq!(stripped.original_line, vec![1, 2, 5]);
    }

    #[test]
    fn escapes_quotes_in_the_task() {
        let source = "fn f() {\n// EXERCISE(01.1): say \"hi\"\n// END EXERCISE\n}\n";
        let found = parse(source).unwrap();
        assert!(
            strip(source, &found)
                .text
                .contains(r#"todo!("exercise 01.1: say \"hi\"")"#)
        );
    }

    fn single_error(source: &str) -> MarkerError {
        let errors = parse(source).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn reports_an_unterminated_region_at_its_start() {
        let error = single_error("fn f() {\n    // EXERCISE(01.1): do it\n    1\n}\n");
        assert_eq!(error.line, 2);
        assert!(error.message.contains("never closed"), "{error}");
        assert_eq!(
            error.to_string(),
            "step01-demo/src/lib.rs:2: exercise 01.1 is never closed with `// END EXERCISE`"
        );
    }

    #[test]
    fn reports_a_nested_region() {
        let source = "// EXERCISE(01.1): a\n// EXERCISE(01.2): b\n// END EXERCISE\n";
        let error = single_error(source);
        assert_eq!(error.line, 2);
        assert!(error.message.contains("nested"), "{error}");
    }

    #[test]
    fn reports_an_end_without_a_start() {
        let error = single_error("fn f() {}\n// END EXERCISE\n");
        assert_eq!(error.line, 2);
    }

    #[test]
    fn reports_malformed_ids_and_missing_tasks() {
        for bad in [
            "// EXERCISE(1.1): x",
            "// EXERCISE(01.01): x",
            "// EXERCISE(01): x",
            "// EXERCISE(01.x): x",
            "// EXERCISE(01.1) x",
            "// EXERCISE(01.1):   ",
            "// EXERCISE 01.1: x",
            "// EXERCISE(01.1: x",
        ] {
            let error = single_error(&format!("{bad}\n// END EXERCISE\n"));
            assert_eq!(error.line, 1, "{bad}: {error}");
        }
    }

    #[test]
    fn reports_an_id_from_another_step() {
        let error = single_error("// EXERCISE(02.1): x\n// END EXERCISE\n");
        assert!(error.message.contains("step 01"), "{error}");
    }

    #[test]
    fn reports_duplicate_ids_across_files() {
        let a = parse(GOOD).unwrap();
        let mut b = a.clone();
        b[0].file = PathBuf::from("step01-demo/src/other.rs");
        b[0].start_line = 7;
        let all: Vec<Exercise> = a.into_iter().chain(b).collect();
        let errors = check_unique(&all);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "step01-demo/src/other.rs:7: duplicate exercise id 01.2: already used at step01-demo/src/lib.rs:2"
        );
    }

    #[test]
    fn test_prefix_follows_the_naming_key() {
        assert_eq!(ExerciseId::parse("02.3").unwrap().test_prefix(), "ex02_3_");
        assert_eq!(
            ExerciseId::parse("02.13").unwrap().test_prefix(),
            "ex02_13_"
        );
    }
}
