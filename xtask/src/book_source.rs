//! The book's sources as text: its chapters, and the `{{#include}}`
//! directives in them. Shared by the checks that read chapters.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::Result;

/// Every `.md` file below `dir`, sorted.
pub fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", dir.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The arguments of every `{{#include ...}}` and `{{#rustdoc_include ...}}` on a line.
pub fn includes(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{#") {
        let escaped = rest[..start].ends_with('\\');
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        let directive = after[..end].trim();
        rest = &after[end + 2..];
        if escaped {
            continue;
        }
        for keyword in ["include ", "rustdoc_include "] {
            if let Some(argument) = directive.strip_prefix(keyword) {
                found.push(argument.trim().to_string());
            }
        }
    }
    found
}
