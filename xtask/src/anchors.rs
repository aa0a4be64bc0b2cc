//! Anchors both ways: every `// ANCHOR: name` in the workspace's Rust
//! sources is included by some chapter.
//!
//! [`crate::book`] already fails on an include that resolves to nothing. The
//! reverse matters too: an anchor no chapter includes is a marked region the
//! reader never sees, usually a chapter that lost its include in a rewrite, or
//! a marker left behind when the text moved on. Only real marker comments
//! count (a line whose code is `// ANCHOR: name`), so strings that merely
//! mention anchors, as this crate's tests do, are not anchors; the workshop
//! fixture (a workspace of its own under `xtask/fixtures/`) is not searched.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::Result;

/// A marker comment's anchor name, if `line` is one.
pub fn declared(line: &str) -> Option<&str> {
    let name = line.trim_start().strip_prefix("// ANCHOR:")?;
    name.split_whitespace().next()
}

/// Every `(file, line, name)` of an anchor in the workspace's Rust sources.
pub fn all_anchors(root: &Path) -> Result<Vec<(PathBuf, usize, String)>> {
    let mut found = Vec::new();
    for file in crate::rust_text::rust_sources(root)? {
        let text =
            fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        for (index, line) in text.lines().enumerate() {
            if let Some(name) = declared(line) {
                found.push((file.clone(), index + 1, name.to_string()));
            }
        }
    }
    Ok(found)
}

/// Every `(file, anchor)` the book's chapters include, files canonicalised.
pub fn included(book_src: &Path) -> Result<BTreeSet<(PathBuf, String)>> {
    let mut used = BTreeSet::new();
    for chapter in crate::book_source::markdown_files(book_src)? {
        let text = fs::read_to_string(&chapter)
            .map_err(|e| format!("reading {}: {e}", chapter.display()))?;
        let dir = chapter.parent().unwrap_or(book_src);
        for argument in text.lines().flat_map(crate::book_source::includes) {
            let Some((path, selector)) = argument.split_once(':') else {
                continue;
            };
            let is_anchor = !selector.starts_with(|c: char| c.is_ascii_digit() || c == ':');
            if let (true, Ok(file)) = (is_anchor, fs::canonicalize(dir.join(path))) {
                used.insert((file, selector.to_string()));
            }
        }
    }
    Ok(used)
}

/// Every anchor no chapter includes, as `file:line: what`, paths relative to `root`.
pub fn unused(root: &Path, book_src: &Path) -> Result<Vec<String>> {
    let used = included(book_src)?;
    let mut problems = Vec::new();
    for (file, line, name) in all_anchors(root)? {
        let canonical = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if !used.contains(&(canonical, name.clone())) {
            let shown = file.strip_prefix(root).unwrap_or(&file);
            problems.push(format!(
                "{}:{line}: `ANCHOR: {name}` is included by no chapter (include it, or remove the marker)",
                shown.display()
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marker_comments_declare_anchors() {
        assert_eq!(declared("// ANCHOR: wal_append"), Some("wal_append"));
        assert_eq!(declared("    // ANCHOR: inner extra words"), Some("inner"));
        assert_eq!(declared("// ANCHOR_END: wal_append"), None);
        assert_eq!(declared("\"// ANCHOR: in_a_string\\n\""), None);
        assert_eq!(declared("let s = \"// ANCHOR: x\";"), None);
        assert_eq!(declared("//! a `// ANCHOR:` in prose"), None);
    }

    fn workspace(chapter: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("crate/src")).unwrap();
        fs::create_dir_all(root.join("book/src")).unwrap();
        fs::create_dir_all(root.join("xtask/fixtures/ws/src")).unwrap();
        fs::write(
            root.join("crate/src/lib.rs"),
            "// ANCHOR: shown\nfn a() {}\n// ANCHOR_END: shown\n// ANCHOR: hidden\nfn b() {}\n// ANCHOR_END: hidden\n",
        )
        .unwrap();
        fs::write(
            root.join("xtask/fixtures/ws/src/lib.rs"),
            "// ANCHOR: fixture\nfn c() {}\n// ANCHOR_END: fixture\n",
        )
        .unwrap();
        fs::write(root.join("book/src/chapter.md"), chapter).unwrap();
        dir
    }

    #[test]
    fn reports_an_anchor_no_chapter_includes() {
        let dir = workspace("```rust,ignore\n{{#include ../../crate/src/lib.rs:shown}}\n```\n");
        let found = unused(dir.path(), &dir.path().join("book/src")).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("crate/src/lib.rs:4: `ANCHOR: hidden`"),
            "{found:?}"
        );
    }

    #[test]
    fn passes_when_every_anchor_is_included() {
        let dir = workspace(
            "{{#include ../../crate/src/lib.rs:shown}}\n{{#include ../../crate/src/lib.rs:hidden}}\n",
        );
        let found = unused(dir.path(), &dir.path().join("book/src")).unwrap();
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn an_escaped_include_uses_nothing() {
        let dir = workspace(
            "{{#include ../../crate/src/lib.rs:shown}}\n\\{{#include ../../crate/src/lib.rs:hidden}}\n",
        );
        let found = unused(dir.path(), &dir.path().join("book/src")).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
