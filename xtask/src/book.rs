//! `cargo xtask book`: check the book's includes and links, then build it.
//!
//! mdBook quietly includes nothing for an anchor that does not exist, so a
//! renamed `// ANCHOR:` would leave a chapter with an empty code block. The
//! checks here make every `{{#include}}` resolve to non-empty text and every
//! relative link point at a file (and heading) that exists; every anchor in
//! the code is included somewhere ([`crate::anchors`]); and, once built, every
//! page links only to pages, ids and images that exist ([`crate::built_book`]).

use std::fs;
use std::path::Path;

use crate::cmd::Result;

/// Builds the book at `book_root` (the directory holding book.toml).
pub fn build(book_root: &Path) -> Result<()> {
    let mut problems = check(book_root)?;
    let root = book_root.parent().unwrap_or(book_root);
    problems.extend(crate::anchors::unused(root, &book_root.join("src"))?);
    fail_on("broken include(s), link(s) or unused anchor(s)", &problems)?;
    let book =
        mdbook_driver::MDBook::load(book_root).map_err(|e| format!("loading the book: {e:#}"))?;
    book.build()
        .map_err(|e| format!("building the book: {e:#}"))?;
    let built = crate::built_book::check(&book.build_dir_for("html"))?;
    fail_on("problem(s) in the built pages", &built)
}

fn fail_on(what: &str, problems: &[String]) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the book has {} {what}:\n  {}",
        problems.len(),
        problems.join("\n  ")
    ))
}

/// Every problem in the book's sources, as `file:line: what`.
pub fn check(book_root: &Path) -> Result<Vec<String>> {
    let src = book_root.join("src");
    let mut problems = Vec::new();
    for file in crate::book_source::markdown_files(&src)? {
        let text =
            fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let shown = file.strip_prefix(book_root).unwrap_or(&file).to_path_buf();
        let dir = file.parent().unwrap_or(&src).to_path_buf();
        for (line, problem) in check_chapter(&text, &dir) {
            problems.push(format!("{}:{line}: {problem}", shown.display()));
        }
    }
    Ok(problems)
}

/// Checks one chapter; `dir` is the chapter's directory, against which its
/// includes and links resolve. Returns `(line, problem)` pairs.
pub fn check_chapter(text: &str, dir: &Path) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    let mut in_fence = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        for include in crate::book_source::includes(line) {
            if let Err(problem) = check_include(&include, dir) {
                problems.push((number, problem));
            }
        }
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for link in links(line) {
            if let Err(problem) = check_link(&link, dir) {
                problems.push((number, problem));
            }
        }
    }
    problems
}

fn check_include(argument: &str, dir: &Path) -> std::result::Result<(), String> {
    let mut parts = argument.splitn(2, ':');
    let path = parts.next().unwrap_or_default();
    let selector = parts.next();
    let file = dir.join(path);
    let text = fs::read_to_string(&file)
        .map_err(|e| format!("include `{argument}`: cannot read {path}: {e}"))?;
    let included = match selector {
        None => text.clone(),
        Some(selector) if selector.starts_with(|c: char| c.is_ascii_digit() || c == ':') => {
            line_range(&text, selector)
                .ok_or_else(|| format!("include `{argument}`: bad line range `{selector}`"))?
        }
        Some(anchor) => anchored(&text, anchor).ok_or_else(|| {
            format!(
                "include `{argument}`: no `ANCHOR: {anchor}` … `ANCHOR_END: {anchor}` in {path}"
            )
        })?,
    };
    if included.trim().is_empty() {
        return Err(format!("include `{argument}` resolves to no text"));
    }
    Ok(())
}

/// The text between `ANCHOR: name` and `ANCHOR_END: name`, without marker lines.
fn anchored(text: &str, anchor: &str) -> Option<String> {
    let names = |line: &str, marker: &str| -> bool {
        line.split(marker)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|name| name == anchor)
    };
    // `None` until the start marker is seen; then the text collected so far.
    let mut body: Option<String> = None;
    for line in text.lines() {
        match body.as_mut() {
            None if names(line, "ANCHOR:") => body = Some(String::new()),
            None => {}
            Some(_) if names(line, "ANCHOR_END:") => return body,
            // Other anchors' marker lines are not part of the text, as in mdBook.
            Some(_) if line.contains("ANCHOR:") || line.contains("ANCHOR_END:") => {}
            Some(collected) => {
                collected.push_str(line);
                collected.push('\n');
            }
        }
    }
    None
}

/// Lines `a:b`, `a:`, `:b` or `a` (1-based, inclusive) as mdBook reads them.
fn line_range(text: &str, selector: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let parse = |s: &str| -> Option<Option<usize>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let (start, end) = match selector.split_once(':') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let line = parse(selector)?;
            (line, line)
        }
    };
    let start = start.unwrap_or(1).max(1);
    let end = end.unwrap_or(lines.len()).min(lines.len());
    if start > end {
        return Some(String::new());
    }
    Some(lines[start - 1..end].join("\n"))
}

/// The targets of the markdown links and images on a line: `[text](target)`.
fn links(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let target = after[..end].split_whitespace().next().unwrap_or_default();
        found.push(target.to_string());
        rest = &after[end..];
    }
    // Inline code spans can hold text that looks like a link; ignore those.
    let code_spans = line.matches('`').count();
    if code_spans >= 2 {
        found.retain(|target| !line.contains(&format!("({target})`")));
    }
    found
}

fn check_link(target: &str, dir: &Path) -> std::result::Result<(), String> {
    let external = ["http://", "https://", "mailto:"];
    if target.is_empty()
        || target.starts_with('#')
        || external.iter().any(|p| target.starts_with(p))
    {
        return Ok(());
    }
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (target, None),
    };
    let file = dir.join(path);
    if !file.exists() {
        return Err(format!("link to `{target}`: {path} does not exist"));
    }
    if let (Some(fragment), true) = (fragment, path.ends_with(".md")) {
        let text = fs::read_to_string(&file).map_err(|e| format!("reading {path}: {e}"))?;
        let known = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix('#'))
            .map(|h| heading_id(h.trim_start_matches('#')))
            .any(|id| id == fragment);
        if !known {
            return Err(format!(
                "link to `{target}`: {path} has no heading `#{fragment}`"
            ));
        }
    }
    Ok(())
}

/// The id mdBook gives a heading: lower case, spaces to dashes, punctuation dropped.
fn heading_id(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("code.rs"),
            "fn a() {}\n// ANCHOR: good\nfn b() {}\n// ANCHOR_END: good\n// ANCHOR: empty\n// ANCHOR_END: empty\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("other.md"),
            "# Other page\n\n## The Part, Two\n",
        )
        .unwrap();
        dir
    }

    fn problems(chapter: &str) -> Vec<String> {
        let dir = fixture();
        check_chapter(chapter, dir.path())
            .into_iter()
            .map(|(line, p)| format!("{line}: {p}"))
            .collect()
    }

    #[test]
    fn accepts_good_includes_and_links() {
        let chapter = "# T\n\n```rust\n{{#include code.rs:good}}\n```\n\n{{#include code.rs:2:3}}\n\nSee [other](other.md#the-part-two), [web](https://example.com), [here](#t), ![pic](other.md).\n";
        assert_eq!(problems(chapter), Vec::<String>::new());
    }

    #[test]
    fn rejects_a_missing_file() {
        let found = problems("text\n{{#include missing.rs}}\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("2: include `missing.rs`"), "{found:?}");
    }

    #[test]
    fn rejects_a_missing_anchor() {
        let found = problems("{{#include code.rs:nope}}\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("no `ANCHOR: nope`"), "{found:?}");
    }

    #[test]
    fn rejects_an_anchor_with_no_text() {
        let found = problems("{{#rustdoc_include code.rs:empty}}\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("resolves to no text"), "{found:?}");
    }

    #[test]
    fn rejects_broken_links_and_fragments() {
        let found = problems("[a](nowhere.md)\n[b](other.md#no-such-heading)\n");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("1: link to `nowhere.md`"));
        assert!(found[1].starts_with("2: link to `other.md#no-such-heading`"));
    }

    #[test]
    fn ignores_escaped_includes_and_code() {
        let chapter =
            "\\{{#include missing.rs}}\n\n```text\n[a](nowhere.md)\n```\n`[b](nowhere.md)`\n";
        assert_eq!(problems(chapter), Vec::<String>::new());
    }

    #[test]
    fn heading_ids_follow_mdbook() {
        assert_eq!(
            heading_id(" Task 01.2: Encode numbers "),
            "task-012-encode-numbers"
        );
        assert_eq!(heading_id("The `Wal` type"), "the-wal-type");
    }
}
