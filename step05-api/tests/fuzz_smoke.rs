//! The fuzzer's generators and checks for a few hundred fixed cases per
//! target, in every test run: the full fuzzer runs for minutes
//! (`cargo xtask fuzz`), this keeps its generators compiling and working
//! and catches a regression on the inputs it already covers.
//!
//! Fixed seeds, so a failure here is the same failure on every machine;
//! it prints the seed and the input that `cargo xtask fuzz --seed` replays.

#![allow(dead_code)]

#[path = "../examples/fuzz/expr_target.rs"]
mod expr_target;
#[path = "../examples/fuzz/harness.rs"]
mod harness;
#[path = "../examples/fuzz/http_target.rs"]
mod http_target;
#[path = "../examples/fuzz/legacy.rs"]
mod legacy;
#[path = "../examples/fuzz/requests.rs"]
mod requests;
#[path = "../examples/fuzz/rng.rs"]
mod rng;
#[path = "../examples/fuzz/text.rs"]
mod text;
#[path = "../examples/fuzz/values.rs"]
mod values;

use std::time::Duration;

use harness::{Options, Target};

/// Cases per target: about a second of the expression target and a few
/// seconds of the HTTP one in a debug build.
const EXPR_CASES: u64 = 2000;
const HTTP_CASES: u64 = 1000;

/// Both targets in one test: the fuzzer's panic hook is process-wide, and
/// another test's failing assertion must not land among its findings.
#[test]
fn generated_inputs_find_nothing() {
    for (target, seed, cases) in [
        (Target::Expr, 0x5EED_0001, EXPR_CASES),
        (Target::Http, 0x5EED_0002, HTTP_CASES),
    ] {
        let options = Options {
            seed,
            // The case cap ends the run; the budget only guards a slow machine.
            budget: Duration::from_secs(120),
            cases,
            targets: vec![target],
            verbose: false,
        };
        let report = harness::run(&options).unwrap();
        let findings: Vec<String> = report.findings.iter().map(|f| f.render()).collect();
        assert!(
            !report.found_anything(),
            "{}\n\n{}",
            report.summary(),
            findings.join("\n\n")
        );
        assert_eq!(report.targets[0].cases, cases);
    }
}

#[test]
fn raw_numbers_are_spliced_into_bodies() {
    let body = serde_json::json!({ "Limit": requests::raw("1e400"), "X": "plain" }).to_string();
    assert_eq!(
        requests::splice_raw(&body),
        r#"{"Limit":1e400,"X":"plain"}"#
    );
}

#[test]
fn a_case_is_the_same_input_every_time() {
    let one = expr_target::generate(42).describe();
    let two = expr_target::generate(42).describe();
    assert_eq!(one, two);
    assert_eq!(
        rng::case_seed(9, 0),
        9,
        "case 0 replays from the run's seed"
    );
}
