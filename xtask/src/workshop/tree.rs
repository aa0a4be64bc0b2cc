//! Walking and copying the workspace's files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::Result;

/// Directories that are build output, history or local state, never sources.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    "data",
    "workshop",
    "node_modules",
    ".venv",
];

fn skipped(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| SKIPPED_DIRS.contains(&name))
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths)
}

/// Every `.rs` file below `dir`, in a stable order.
pub fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for path in entries(&dir)? {
            if path.is_dir() {
                if !skipped(&path) {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Copies the workspace's sources (not its build output) from `from` into `into`.
pub fn copy_workspace(from: &Path, into: &Path) -> Result<()> {
    fs::create_dir_all(into).map_err(|e| format!("creating {}: {e}", into.display()))?;
    // A copy made inside the workspace must not copy itself.
    let into_itself = fs::canonicalize(into).map_err(|e| format!("{}: {e}", into.display()))?;
    let mut pending = vec![(from.to_path_buf(), into.to_path_buf())];
    while let Some((source, destination)) = pending.pop() {
        fs::create_dir_all(&destination)
            .map_err(|e| format!("creating {}: {e}", destination.display()))?;
        for path in entries(&source)? {
            let Some(name) = path.file_name() else {
                continue;
            };
            let target = destination.join(name);
            if path.is_dir() {
                let is_copy = fs::canonicalize(&path).is_ok_and(|p| p == into_itself);
                if !skipped(&path) && !is_copy {
                    pending.push((path, target));
                }
            } else if path.is_file() {
                fs::copy(&path, &target).map_err(|e| {
                    format!("copying {} to {}: {e}", path.display(), target.display())
                })?;
            }
        }
    }
    Ok(())
}
