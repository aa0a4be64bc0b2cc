//! The workshop generator against a small fixture workspace: list, start and
//! check, and the errors a broken marker must produce.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::workshop::{self, Catalogue};

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/workshop");
    workshop::tree::copy_workspace(&source, &root).unwrap();
    (dir, root)
}

/// Checks the fixture copy with a target directory of its own, whatever
/// CARGO_TARGET_DIR says, so tests running in parallel never share copies.
fn check(root: &Path) -> Result<(), String> {
    workshop::check_in(root, &root.join("target"))
}

fn edit(root: &Path, from: &str, to: &str) {
    let file = root.join("step01-demo/src/lib.rs");
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "fixture lacks {from:?}");
    fs::write(&file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn catalogue_lists_exercises_with_their_tests() {
    let (_dir, root) = fixture();
    let catalogue = Catalogue::load(&root).unwrap();
    let found: Vec<(String, &str, Vec<String>)> = catalogue
        .exercises
        .iter()
        .map(|(e, tests)| (e.id.to_string(), e.task.as_str(), tests.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "01.1".to_string(),
                "add up the numbers",
                vec!["ex01_1_sums".to_string()]
            ),
            (
                "01.2".to_string(),
                "find the largest number",
                vec![
                    "ex01_2_finds_the_largest".to_string(),
                    "ex01_2_none_when_empty".to_string()
                ]
            ),
        ]
    );
}

#[test]
fn check_passes_on_the_fixture_and_start_writes_a_red_workshop() {
    let (dir, root) = fixture();
    check(&root).unwrap();

    let into = dir.path().join("learner");
    workshop::start(&root, "step01", &into).unwrap();
    let lib = fs::read_to_string(into.join("step01-demo/src/lib.rs")).unwrap();
    assert!(lib.contains(r#"todo!("exercise 01.1: add up the numbers")"#));
    assert!(lib.contains(r#"todo!("exercise 01.2: find the largest number")"#));
    assert!(!lib.contains("xs.iter().sum()"));
    assert!(!lib.contains("EXERCISE"));
    // Everything outside the regions is untouched.
    assert!(lib.contains("let mut best: Option<u64> = None;"));
    assert!(
        fs::read_to_string(into.join("WORKSHOP.md"))
            .unwrap()
            .contains("first run is red")
    );

    let status = Command::new(env!("CARGO"))
        .current_dir(&into)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .args(["test", "--quiet", "-p", "step01-demo"])
        .output()
        .unwrap()
        .status;
    assert!(!status.success(), "the learner's first run must be red");

    // Starting the same step again resumes: the learner's work is kept.
    let learner_lib = into.join("step01-demo/src/lib.rs");
    fs::write(&learner_lib, "// my work in progress\n").unwrap();
    workshop::start(&root, "step01", &into).unwrap();
    assert_eq!(
        fs::read_to_string(&learner_lib).unwrap(),
        "// my work in progress\n"
    );

    // A non-empty directory that is not this step's workshop is refused,
    // and nothing in it is touched.
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("notes.txt"), "keep me").unwrap();
    let error = workshop::start(&root, "step01", &other).unwrap_err();
    assert!(error.contains("not a step01-demo workshop"), "{error}");
    assert!(error.contains("-step01"), "{error}");
    assert_eq!(
        fs::read_to_string(other.join("notes.txt")).unwrap(),
        "keep me"
    );
    fs::write(into.join("WORKSHOP.md"), "# Workshop: step02-other\n").unwrap();
    assert!(workshop::start(&root, "step01", &into).is_err());
}

#[test]
fn check_names_the_place_of_an_unterminated_marker() {
    let (_dir, root) = fixture();
    edit(
        &root,
        "    xs.iter().sum()\n    // END EXERCISE\n",
        "    xs.iter().sum()\n",
    );
    let error = check(&root).unwrap_err();
    assert!(
        error.contains("step01-demo/src/lib.rs:12: exercise region nested inside the region opened at line 5 (exercise 01.1): is an `// END EXERCISE` missing?"),
        "{error}"
    );
}

#[test]
fn check_names_a_region_that_does_not_compile_as_todo() {
    let (_dir, root) = fixture();
    // The region now ends before `best` is returned, but `best` is assigned in
    // it: stripped, the function body no longer type-checks.
    edit(
        &root,
        "    best\n    // END EXERCISE\n",
        "    // END EXERCISE\n    best\n",
    );
    let error = check(&root).unwrap_err();
    assert!(error.contains("does not compile"), "{error}");
    assert!(error.contains("step01-demo/src/lib.rs:"), "{error}");
    assert!(error.contains("exercise 01.2"), "{error}");
}

#[test]
fn check_rejects_an_exercise_whose_tests_pass_without_it() {
    let (_dir, root) = fixture();
    edit(
        &root,
        "assert_eq!(sum(&[1, 2, 3]), 6);",
        "assert_eq!(1 + 2 + 3, 6);",
    );
    let error = check(&root).unwrap_err();
    assert!(
        error.contains(
            "exercise 01.1 (step01-demo/src/lib.rs:5): its tests pass without the solution"
        ),
        "{error}"
    );
}

#[test]
fn check_rejects_an_exercise_without_tests() {
    let (_dir, root) = fixture();
    edit(&root, "fn ex01_1_sums()", "fn sums()");
    let error = check(&root).unwrap_err();
    assert!(error.contains("exercise 01.1 has no test"), "{error}");
}
