//! The layering rule, checked: a step may use earlier steps, never a later
//! one, and a normal dependency on a step is one the step's code uses.
//!
//! The course's promise is that step N can be read, built and tested with
//! steps 1 to N only. `cargo metadata` gives the declared edges; an edge to
//! the same or a later step (step01 < … < step06 < minidynamo), or from xtask
//! to any step, breaks that promise. A normal dependency on a step that
//! `src/` never names in a path (`step0N_…::` or `use step0N_…`) is a
//! test-only dependency in the wrong table: it belongs in
//! `[dev-dependencies]`, where it does not make the library look more
//! coupled than it is.

use std::fs;
use std::path::Path;

use crate::cmd::Result;
use crate::metadata::{self, DependencyKind, Package};
use crate::rust_text::{self, Token};

/// Where a package stands in the chain: `Some(n)` for step n (minidynamo is
/// 7), `None` for xtask, which depends on no step.
fn rank(package: &str) -> std::result::Result<Option<u32>, String> {
    if package == "xtask" {
        return Ok(None);
    }
    if package == "minidynamo" {
        return Ok(Some(7));
    }
    package
        .strip_prefix("step")
        .and_then(|rest| rest.get(..2))
        .and_then(|digits| digits.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            format!("`{package}` is not in the layer chain (stepNN-…, minidynamo, xtask)")
        })
}

fn is_layer(package: &str) -> bool {
    matches!(rank(package), Ok(Some(_)))
}

/// Checks the workspace at `root`.
pub fn run(root: &Path) -> Result<()> {
    let packages = metadata::workspace(root)?;
    let mut problems = edge_problems(&packages);
    for package in &packages {
        problems.extend(unused_dependencies(package)?);
    }
    if !problems.is_empty() {
        return Err(format!(
            "the layering rule is broken {} time(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    println!("layering: every step uses only earlier steps, and uses what it depends on");
    Ok(())
}

/// Rule (a): no edge to the same or a later step, none from xtask to a step.
pub fn edge_problems(packages: &[Package]) -> Vec<String> {
    let mut problems = Vec::new();
    for package in packages {
        let from = match rank(&package.name) {
            Ok(from) => from,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        for dependency in package.dependencies.iter().filter(|d| is_layer(&d.package)) {
            let Ok(Some(to)) = rank(&dependency.package) else {
                continue;
            };
            match from {
                None => problems.push(format!(
                    "{} depends on the step crate {}: xtask depends on no step",
                    package.name, dependency.package
                )),
                Some(from) if to >= from => problems.push(format!(
                    "{} depends on {}, which is not an earlier step",
                    package.name, dependency.package
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

/// Rule (b): a normal dependency on a step that the package's `src/` never names.
fn unused_dependencies(package: &Package) -> Result<Vec<String>> {
    let normal: Vec<_> = package
        .dependencies
        .iter()
        .filter(|d| d.kind == DependencyKind::Normal && is_layer(&d.package))
        .collect();
    if normal.is_empty() {
        return Ok(Vec::new());
    }
    let mut code = String::new();
    for file in rust_text::rust_sources(&package.dir.join("src"))? {
        let text =
            fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        code.push_str(&rust_text::code_only(&text));
        code.push('\n');
    }
    let tokens = rust_text::tokens(&code);
    Ok(normal
        .into_iter()
        .filter(|d| !names_crate(&tokens, &d.crate_name))
        .map(|d| {
            format!(
                "{} declares {} in [dependencies] but its src/ never uses `{}`: move it to [dev-dependencies], or remove it",
                package.name, d.package, d.crate_name
            )
        })
        .collect())
}

/// Whether code names `crate_name` as a path: `crate_name::…`, `use
/// crate_name` or `extern crate crate_name`.
pub fn names_crate(tokens: &[Token], crate_name: &str) -> bool {
    tokens.iter().enumerate().any(|(i, token)| {
        let Token::Word(word, _) = token else {
            return false;
        };
        if word != crate_name {
            return false;
        }
        let next_is_path = tokens.get(i + 1) == Some(&Token::PathSep);
        let previous = i
            .checked_sub(1)
            .and_then(|p| tokens.get(p))
            .and_then(|t| match t {
                Token::Word(w, _) => Some(w.as_str()),
                _ => None,
            });
        next_is_path || matches!(previous, Some("use" | "crate"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Dependency;

    fn package(name: &str, deps: &[(&str, DependencyKind)]) -> Package {
        Package {
            id: name.to_string(),
            name: name.to_string(),
            dir: "/nowhere".into(),
            targets: Vec::new(),
            dependencies: deps
                .iter()
                .map(|(dep, kind)| Dependency {
                    package: dep.to_string(),
                    crate_name: dep.replace('-', "_"),
                    kind: *kind,
                })
                .collect(),
        }
    }

    #[test]
    fn earlier_steps_only() {
        use DependencyKind::*;
        let packages = vec![
            package("step01-kv", &[("serde", Normal)]),
            package(
                "step03-partitioning",
                &[("step01-kv", Normal), ("step02-lsm", Dev)],
            ),
            package(
                "step02-lsm",
                &[("step01-kv", Normal), ("step03-partitioning", Dev)],
            ),
            package("minidynamo", &[("step05-api", Normal)]),
            package("xtask", &[("step01-kv", Dev)]),
            package("helper", &[]),
        ];
        let problems = edge_problems(&packages);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("step02-lsm depends on step03-partitioning"));
        assert!(problems[1].contains("xtask depends on no step"));
        assert!(problems[2].contains("`helper` is not in the layer chain"));
    }

    #[test]
    fn a_crate_is_used_only_through_code() {
        let tokens = |text: &str| rust_text::tokens(&rust_text::code_only(text));
        assert!(names_crate(&tokens("use step01_kv::Item;"), "step01_kv"));
        assert!(names_crate(
            &tokens("fn f(x: step01_kv::Item) {}"),
            "step01_kv"
        ));
        assert!(names_crate(&tokens("use step01_kv as kv;"), "step01_kv"));
        assert!(!names_crate(
            &tokens("//! see [`T`](step03_partitioning::T)\nfn g() {}"),
            "step03_partitioning"
        ));
        assert!(!names_crate(
            &tokens("const TARGETS: &[&str] = &[\"step02_lsm\"];"),
            "step02_lsm"
        ));
        assert!(!names_crate(
            &tokens("let step01_kv_count = 1;"),
            "step01_kv"
        ));
    }
}
