//! The workspace as `cargo metadata` describes it: its packages, their
//! targets and their declared dependencies. Read once per check.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cmd::{self, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub id: String,
    pub name: String,
    /// The directory holding the package's Cargo.toml.
    pub dir: PathBuf,
    pub targets: Vec<Target>,
    pub dependencies: Vec<Dependency>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    /// `lib`, `bin`, `test`, `bench`, `example`, `custom-build`, …
    pub kinds: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The package depended on.
    pub package: String,
    /// The name the dependent's code uses for it (`rename`, or the package
    /// name with dashes as underscores).
    pub crate_name: String,
    pub kind: DependencyKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyKind {
    Normal,
    Dev,
    Build,
}

/// The workspace's own packages (`cargo metadata --no-deps`).
pub fn workspace(root: &Path) -> Result<Vec<Package>> {
    let mut command = cmd::cargo();
    command
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"]);
    let output = command
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", cmd::display(&command)))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed ({}): {}",
            cmd::display(&command),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let json: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata's output: {e}"))?;
    parse(&json)
}

/// Reads the `packages` of `cargo metadata`'s JSON.
pub fn parse(json: &Value) -> Result<Vec<Package>> {
    let packages = json["packages"]
        .as_array()
        .ok_or("cargo metadata: no `packages`")?;
    packages.iter().map(package).collect()
}

fn text(value: &Value, field: &str) -> Result<String> {
    value[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("cargo metadata: no `{field}` in {value}"))
}

fn package(value: &Value) -> Result<Package> {
    let manifest = PathBuf::from(text(value, "manifest_path")?);
    let targets = value["targets"]
        .as_array()
        .map(|targets| targets.iter().map(target).collect::<Result<Vec<_>>>())
        .transpose()?
        .unwrap_or_default();
    let dependencies = value["dependencies"]
        .as_array()
        .map(|deps| deps.iter().map(dependency).collect::<Result<Vec<_>>>())
        .transpose()?
        .unwrap_or_default();
    Ok(Package {
        id: text(value, "id")?,
        name: text(value, "name")?,
        dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
        targets,
        dependencies,
    })
}

fn target(value: &Value) -> Result<Target> {
    let kinds = value["kind"]
        .as_array()
        .map(|kinds| {
            kinds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Target {
        name: text(value, "name")?,
        kinds,
    })
}

fn dependency(value: &Value) -> Result<Dependency> {
    let package = text(value, "name")?;
    let crate_name = value["rename"]
        .as_str()
        .map_or_else(|| package.replace('-', "_"), str::to_string);
    let kind = match value["kind"].as_str() {
        None => DependencyKind::Normal,
        Some("dev") => DependencyKind::Dev,
        Some("build") => DependencyKind::Build,
        Some(other) => return Err(format!("cargo metadata: dependency kind `{other}`")),
    };
    Ok(Dependency {
        package,
        crate_name,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_packages_targets_and_dependencies() {
        let json: Value = serde_json::from_str(
            r#"{"packages": [{
                "id": "path+file:///w/b#b@0.1.0", "name": "b", "manifest_path": "/w/b/Cargo.toml",
                "targets": [{"name": "b", "kind": ["lib"]}, {"name": "api", "kind": ["test"]}],
                "dependencies": [
                    {"name": "step01-kv", "kind": null, "rename": null},
                    {"name": "tempfile", "kind": "dev", "rename": null},
                    {"name": "serde_json", "kind": null, "rename": "json"}
                ]
            }]}"#,
        )
        .unwrap();
        let packages = parse(&json).unwrap();
        assert_eq!(packages.len(), 1);
        let b = &packages[0];
        assert_eq!(b.dir, PathBuf::from("/w/b"));
        assert_eq!(b.targets[1].kinds, vec!["test".to_string()]);
        let names: Vec<(&str, DependencyKind)> = b
            .dependencies
            .iter()
            .map(|d| (d.crate_name.as_str(), d.kind))
            .collect();
        assert_eq!(
            names,
            vec![
                ("step01_kv", DependencyKind::Normal),
                ("tempfile", DependencyKind::Dev),
                ("json", DependencyKind::Normal),
            ]
        );
    }
}
