//! No new module cycles: within a crate, the modules that name each other
//! through `crate::…` and `super::…` paths form no cycle, apart from the
//! ones listed in [`ALLOWED_CYCLES`], each of which is to be cut.
//!
//! A cycle means neither module can be read, tested or moved without the
//! other, usually because one item sits in the wrong file. Edges are read
//! from the code of `src/` (comments, strings and `#[cfg(test)]` modules
//! left out) and lifted to the level where the two modules are siblings: a
//! use of `catalog::file` from `capacity` is an edge `capacity → catalog`.
//! A module and its own parent or children never count as a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::cmd::Result;
use crate::metadata::{self, Package};
use crate::rust_text::{self, Token};

/// The cycles that exist today, by crate, as the set of modules in each.
/// Every one is to be cut where the misplaced item belongs; the check fails
/// on any cycle not inside one of these, and on an entry no cycle needs any
/// more (so the list only shrinks).
pub const ALLOWED_CYCLES: &[(&str, &[&str])] = &[
    // `CrashPoint`, a fault-injection type, sits in the production error
    // enum (`error.rs`), so the error module depends on `split`, which
    // depends on `partition` and `table`, which depend on `error`.
    (
        "step03-partitioning",
        &["error", "partition", "split", "table"],
    ),
    // Byte primitives and the protocol schema share `codec.rs`, which then
    // needs `replica`'s messages while `replica` and `state_machine` need its
    // readers.
    ("step04-replication", &["codec", "replica", "state_machine"]),
    // `catalog` reaches for `capacity::throttle_now`, and `config` for
    // `backend::LOCAL_ACCOUNT_ID` (duplicated as `auth/credentials.rs`'
    // `DEFAULT_ACCOUNT_ID`): seven modules in one loop.
    (
        "step05-api",
        &[
            "access",
            "backend",
            "capacity",
            "catalog",
            "config",
            "registry",
            "replication",
        ],
    ),
    // `Principal` is defined in `credentials` and used by `sigv4`, which
    // `credentials` uses.
    ("step05-api", &["auth::credentials", "auth::sigv4"]),
];

/// A module's path inside its crate: `[]` is the crate root.
type ModulePath = Vec<String>;

/// `a → b` with the file and line of one use that makes it.
type Edges = BTreeMap<(ModulePath, ModulePath), String>;

pub fn run(root: &Path) -> Result<()> {
    let packages = metadata::workspace(root)?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut found_cycles: Vec<(String, BTreeSet<String>)> = Vec::new();
    for package in &packages {
        let edges = module_edges(package, root)?;
        for cycle in cycles(&edges) {
            let names: BTreeSet<String> = cycle.iter().map(|m| show(m)).collect();
            let report = describe(&package.name, &cycle, &edges);
            if allowed(&package.name, &names) {
                warnings.push(report);
            } else {
                problems.push(report);
            }
            found_cycles.push((package.name.clone(), names));
        }
    }
    problems.extend(stale_entries(&found_cycles));
    for warning in &warnings {
        println!("warning: allowed module cycle, to be cut: {warning}");
    }
    if !problems.is_empty() {
        return Err(format!(
            "{} module cycle problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    println!(
        "modules: no new module cycle ({} allowed, listed above)",
        warnings.len()
    );
    Ok(())
}

fn allowed(package: &str, cycle: &BTreeSet<String>) -> bool {
    ALLOWED_CYCLES.iter().any(|(name, modules)| {
        *name == package && cycle.iter().all(|m| modules.contains(&m.as_str()))
    })
}

fn stale_entries(found: &[(String, BTreeSet<String>)]) -> Vec<String> {
    ALLOWED_CYCLES
        .iter()
        .filter(|(name, modules)| {
            !found.iter().any(|(package, cycle)| {
                package == name && cycle.iter().all(|m| modules.contains(&m.as_str()))
            })
        })
        .map(|(name, modules)| {
            format!(
                "{name}: the allowed cycle {{{}}} is gone: remove it from ALLOWED_CYCLES",
                modules.join(", ")
            )
        })
        .collect()
}

fn show(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

fn describe(package: &str, cycle: &[ModulePath], edges: &Edges) -> String {
    let members: BTreeSet<&ModulePath> = cycle.iter().collect();
    let uses: Vec<String> = edges
        .iter()
        .filter(|((a, b), _)| members.contains(a) && members.contains(b))
        .map(|((a, b), at)| format!("{} → {} ({at})", show(a), show(b)))
        .collect();
    let names: Vec<String> = cycle.iter().map(|m| show(m)).collect();
    format!("{package}: {{{}}}: {}", names.join(", "), uses.join("; "))
}

/// The crate's file modules: each `.rs` under `src/` (not `src/bin/`, and
/// not `main.rs` beside a `lib.rs`), with its module path.
fn file_modules(src: &Path) -> Result<Vec<(std::path::PathBuf, ModulePath)>> {
    let has_lib = src.join("lib.rs").is_file();
    let mut modules = Vec::new();
    for file in rust_text::rust_sources(src)? {
        let Ok(relative) = file.strip_prefix(src) else {
            continue;
        };
        let mut parts: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.first().is_some_and(|p| p == "bin") || (has_lib && parts == ["main"]) {
            continue;
        }
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        modules.push((file, parts));
    }
    Ok(modules)
}

fn module_edges(package: &Package, root: &Path) -> Result<Edges> {
    let modules = file_modules(&package.dir.join("src"))?;
    let mut tokens_of = BTreeMap::new();
    let mut test_modules: BTreeSet<ModulePath> = BTreeSet::new();
    for (file, module) in &modules {
        let text =
            fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let (tokens, tests) =
            without_test_modules(&rust_text::tokens(&rust_text::code_only(&text)));
        for name in tests {
            let mut child = module.clone();
            child.push(name);
            test_modules.insert(child);
        }
        tokens_of.insert(module.clone(), (file.clone(), tokens));
    }
    let known: BTreeSet<ModulePath> = tokens_of
        .keys()
        .filter(|m| !test_modules.iter().any(|t| m.starts_with(t)))
        .cloned()
        .collect();
    let mut edges = Edges::new();
    for module in &known {
        let Some((file, tokens)) = tokens_of.get(module) else {
            continue;
        };
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for (path, line) in paths(tokens, module) {
            let Some(target) = resolve(&path, &known) else {
                continue;
            };
            if let Some(edge) = lift(module, &target) {
                edges
                    .entry(edge)
                    .or_insert_with(|| format!("{shown}:{line}"));
            }
        }
    }
    Ok(edges)
}

/// The tokens without `#[cfg(test)] mod name { … }` bodies, and the names of
/// `#[cfg(test)] mod name;` files.
fn without_test_modules(tokens: &[Token]) -> (Vec<Token>, Vec<String>) {
    let mut kept = Vec::new();
    let mut test_files = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some(after) = cfg_test_at(tokens, i) else {
            kept.push(tokens[i].clone());
            i += 1;
            continue;
        };
        let mut k = after;
        while matches!(&tokens.get(k), Some(Token::Word(w, _)) if w == "pub" || w == "crate")
            || matches!(tokens.get(k), Some(Token::Punct('(' | ')')))
        {
            k += 1;
        }
        match (tokens.get(k), tokens.get(k + 1), tokens.get(k + 2)) {
            (Some(Token::Word(m, _)), Some(Token::Word(name, _)), Some(Token::Punct(';')))
                if m == "mod" =>
            {
                test_files.push(name.clone());
                i = k + 3;
            }
            (Some(Token::Word(m, _)), Some(Token::Word(_, _)), Some(Token::Punct('{')))
                if m == "mod" =>
            {
                i = matching_brace(tokens, k + 2);
            }
            _ => i = after,
        }
    }
    (kept, test_files)
}

/// If `#[cfg(test)]` starts at `i`, the index after it.
fn cfg_test_at(tokens: &[Token], i: usize) -> Option<usize> {
    let word = |k: usize, w: &str| matches!(tokens.get(i + k), Some(Token::Word(x, _)) if x == w);
    let punct = |k: usize, c: char| tokens.get(i + k) == Some(&Token::Punct(c));
    (punct(0, '#')
        && punct(1, '[')
        && word(2, "cfg")
        && punct(3, '(')
        && word(4, "test")
        && punct(5, ')')
        && punct(6, ']'))
    .then_some(i + 7)
}

/// The index after the `}` matching the `{` at `open`.
fn matching_brace(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Every absolute module path named from `module` through `crate::` or
/// `super::`, with its line; `use` groups are expanded.
fn paths(tokens: &[Token], module: &[String]) -> Vec<(Vec<String>, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (Some(Token::Word(word, line)), Some(Token::PathSep)) =
            (tokens.get(i), tokens.get(i + 1))
        else {
            i += 1;
            continue;
        };
        let previous_is_sep = i > 0 && tokens.get(i - 1) == Some(&Token::PathSep);
        if previous_is_sep || (word != "crate" && word != "super") {
            i += 1;
            continue;
        }
        let mut base: Vec<String> = if word == "crate" {
            Vec::new()
        } else {
            module.to_vec()
        };
        let mut k = i;
        while matches!(&tokens.get(k), Some(Token::Word(w, _)) if w == "super")
            && tokens.get(k + 1) == Some(&Token::PathSep)
        {
            base.pop();
            k += 2;
        }
        if word == "crate" {
            k = i + 2;
        }
        let (expanded, next) = use_tree(tokens, k, &base);
        found.extend(expanded.into_iter().map(|path| (path, *line)));
        i = next.max(i + 1);
    }
    found
}

/// Reads a path or use tree starting at `i` under `prefix`: `a::b`,
/// `a::{b, c::d}`, `{self, x}`. Returns the full paths and the index after.
fn use_tree(tokens: &[Token], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(i) {
            Some(Token::Word(word, _)) => {
                if word != "self" {
                    path.push(word.clone());
                }
                i += 1;
                if tokens.get(i) == Some(&Token::PathSep) {
                    i += 1;
                    continue;
                }
                return (vec![path], i);
            }
            Some(Token::Punct('{')) => {
                let mut all = Vec::new();
                i += 1;
                while i < tokens.len() && tokens.get(i) != Some(&Token::Punct('}')) {
                    let (inner, next) = use_tree(tokens, i, &path);
                    all.extend(inner);
                    i = next;
                    // Skip `as name`, `*` and the separating comma.
                    while i < tokens.len()
                        && !matches!(tokens.get(i), Some(Token::Punct(',' | '}')))
                    {
                        i += 1;
                    }
                    if tokens.get(i) == Some(&Token::Punct(',')) {
                        i += 1;
                    }
                }
                return (all, i + 1);
            }
            _ => return (vec![path], i),
        }
    }
}

/// The longest prefix of `path` that is a module of the crate.
fn resolve(path: &[String], known: &BTreeSet<ModulePath>) -> Option<ModulePath> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains(prefix))
}

/// `from → to` between the two siblings under their common parent; `None`
/// if one contains the other.
fn lift(from: &[String], to: &[String]) -> Option<(ModulePath, ModulePath)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    Some((from[..=common].to_vec(), to[..=common].to_vec()))
}

/// The strongly connected components of more than one module, each sorted.
fn cycles(edges: &Edges) -> Vec<Vec<ModulePath>> {
    let mut graph: BTreeMap<&ModulePath, Vec<&ModulePath>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        graph.entry(a).or_default().push(b);
        graph.entry(b).or_default();
    }
    let reaches = |from: &ModulePath| -> BTreeSet<ModulePath> {
        let mut seen = BTreeSet::new();
        let mut pending = vec![from];
        while let Some(node) = pending.pop() {
            for &next in graph.get(node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    pending.push(next);
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&ModulePath, BTreeSet<ModulePath>> =
        graph.keys().map(|&node| (node, reaches(node))).collect();
    let mut components: BTreeSet<Vec<ModulePath>> = BTreeSet::new();
    for (&node, reachable) in &reach {
        if !reachable.contains(node) {
            continue;
        }
        let component: Vec<ModulePath> = reachable
            .iter()
            .filter(|other| reach.get(other).is_some_and(|back| back.contains(node)))
            .cloned()
            .collect();
        components.insert(component);
    }
    components.into_iter().filter(|c| c.len() > 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(path: &str) -> ModulePath {
        path.split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn named(code: &str, module: &str) -> Vec<String> {
        let tokens = rust_text::tokens(&rust_text::code_only(code));
        let (tokens, _) = without_test_modules(&tokens);
        paths(&tokens, &m(module))
            .into_iter()
            .map(|(p, _)| p.join("::"))
            .collect()
    }

    #[test]
    fn reads_crate_and_super_paths_with_groups() {
        let code = "use crate::{a::X, b::{c::Y, self}};\nuse super::super::d;\nfn f() { crate::e::g(); x::crate_like(); }\n// use crate::comment;\n#[cfg(test)]\nmod tests { use crate::hidden; }\n";
        assert_eq!(
            named(code, "p::q"),
            vec!["a::X", "b::c::Y", "b", "d", "e::g"]
        );
    }

    #[test]
    fn lifts_edges_to_siblings() {
        assert_eq!(
            lift(&m("capacity"), &m("catalog::file")),
            Some((m("capacity"), m("catalog")))
        );
        assert_eq!(
            lift(&m("auth::credentials"), &m("auth::sigv4")),
            Some((m("auth::credentials"), m("auth::sigv4")))
        );
        assert_eq!(lift(&m("replica::election"), &m("replica")), None);
        assert_eq!(lift(&m("replica"), &m("replica::reads")), None);
    }

    #[test]
    fn finds_cycles_but_not_chains() {
        let mut edges = Edges::new();
        for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("x", "y")] {
            edges.insert((m(a), m(b)), String::new());
        }
        assert_eq!(cycles(&edges), vec![vec![m("a"), m("b"), m("c")]]);
    }

    #[test]
    fn a_test_module_file_is_not_a_module_of_the_graph() {
        let tokens = rust_text::tokens("#[cfg(test)]\nmod tests;\nmod real;\n");
        let (_, test_files) = without_test_modules(&tokens);
        assert_eq!(test_files, vec!["tests".to_string()]);
    }

    #[test]
    fn a_cycle_is_allowed_only_inside_a_listed_one() {
        let cycle: BTreeSet<String> = ["x".to_string(), "y".to_string()].into();
        assert!(!allowed("nowhere", &cycle));
        assert_eq!(stale_entries(&[]).len(), ALLOWED_CYCLES.len());
    }
}
