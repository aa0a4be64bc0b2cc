//! The client suites: boto3 and the AWS CLI against the `minidynamo` binary.
//!
//! The suites live in `final/tests/python` (pytest; it also runs the CLI
//! script `final/tests/cli/smoke.sh`). They need Python packages that cargo
//! cannot provide, so this module keeps a virtual environment under the
//! target directory, rebuilt only when `requirements.txt` changes: its
//! SHA-256 is stamped inside the environment.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::cmd::{self, Result, TestCounts};

/// The pytest suite, relative to the workspace root.
pub const SUITE_DIR: &str = "final/tests/python";
/// The file that says which client versions the suite is judged with.
pub const REQUIREMENTS: &str = "final/tests/python/requirements.txt";
/// Inside the environment: the hash of the requirements it was built from.
const STAMP: &str = ".requirements-sha256";

/// A virtual environment: where its interpreter and scripts are.
#[derive(Debug)]
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    pub fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    pub fn python(&self) -> PathBuf {
        self.bin().join("python")
    }

    /// `PATH` with this environment's scripts first (so `aws` is ours).
    pub fn path_env(&self) -> Result<OsString> {
        let mut paths = vec![self.bin()];
        if let Some(existing) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&existing));
        }
        std::env::join_paths(paths).map_err(|e| format!("building PATH: {e}"))
    }
}

/// The interpreter that creates environments: `$PYTHON`, else `python3`.
pub fn system_python() -> OsString {
    std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into())
}

/// Makes sure `dir` is a virtual environment with `requirements` installed,
/// reusing it when the stamp says it was built from the same file.
pub fn ensure_venv(dir: &Path, requirements: &Path) -> Result<Venv> {
    let venv = Venv {
        dir: dir.to_path_buf(),
    };
    let wanted = fs::read(requirements)
        .map(|bytes| cmd::hex(&Sha256::digest(&bytes)))
        .map_err(|e| format!("reading {}: {e}", requirements.display()))?;
    let stamp = dir.join(STAMP);
    let built_from = fs::read_to_string(&stamp).unwrap_or_default();
    if venv.python().exists() && built_from.trim() == wanted {
        println!("clients: reusing the environment in {}", dir.display());
        return Ok(venv);
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    println!(
        "clients: creating {} from {}",
        dir.display(),
        requirements.display()
    );
    cmd::run(Command::new(system_python()).args(["-m", "venv"]).arg(dir)).map_err(|e| {
        format!("{e}\n(on Debian or Ubuntu, `apt-get install python3-venv` provides venv)")
    })?;
    cmd::run(
        Command::new(venv.python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(requirements),
    )?;
    fs::write(&stamp, format!("{wanted}\n"))
        .map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(venv)
}

/// Builds the server, then runs the suite against it; returns pytest's counts.
pub fn run(root: &Path) -> Result<TestCounts> {
    let target = cmd::target_dir(root);
    let venv = ensure_venv(&target.join("venv"), &root.join(REQUIREMENTS))?;
    cmd::run(
        cmd::cargo()
            .current_dir(root)
            .args(["build", "-p", "minidynamo"]),
    )?;
    let binary = target.join("debug").join("minidynamo");
    let mut command = Command::new(venv.python());
    command
        .current_dir(root.join(SUITE_DIR))
        .args(["-m", "pytest", "-q"])
        .env("MINIDYNAMO_BIN", &binary)
        .env("PATH", venv.path_env()?)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // This stage judges the binary: an endpoint or moto mode left in the
        // caller's environment must not redirect it.
        .env_remove("MINIDYNAMO_ENDPOINT")
        .env_remove("MINIDYNAMO_TARGET");
    let (status, counts) = cmd::run_counting(&mut command, TestCounts::from_pytest_line)?;
    if !status.success() {
        return Err(format!(
            "the client suites failed ({status}): {} passed, {} failed",
            counts.passed, counts.failed
        ));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_built_from_the_same_requirements_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let requirements = dir.path().join("requirements.txt");
        fs::write(&requirements, "pytest==9.2.0\n").unwrap();
        let venv = dir.path().join("venv");
        fs::create_dir_all(venv.join("bin")).unwrap();
        fs::write(venv.join("bin").join("python"), "").unwrap();
        let hash = cmd::hex(&Sha256::digest(b"pytest==9.2.0\n"));
        fs::write(venv.join(STAMP), format!("{hash}\n")).unwrap();
        // Nothing is run: a rebuild would fail on the empty `python` above.
        let reused = ensure_venv(&venv, &requirements).unwrap();
        assert_eq!(reused.python(), venv.join("bin").join("python"));
    }

    #[test]
    fn the_environment_goes_first_on_path() {
        let venv = Venv {
            dir: PathBuf::from("/opt/env"),
        };
        let path = venv.path_env().unwrap();
        let first = std::env::split_paths(&path).next().unwrap();
        assert_eq!(first, PathBuf::from("/opt/env/bin"));
    }
}
