//! The servers measured besides the ceiling, each a child process on
//! 127.0.0.1 and a free port: minidynamo itself and, with `--peers`,
//! dynalite (in memory and on disk) and moto. Peers are installed into the
//! target directory from files committed in `xtask/peers/`; one that cannot
//! be installed or started is skipped with the reason.
//!
//! Every child is held by a [`ChildGuard`], whose `Drop` kills it, so no
//! server outlives the benchmark, whether it ends normally, with an error or
//! with a panic.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::clients;
use crate::cmd::{self, Result};

/// A slow peer (moto imports a lot of Python) gets this long to answer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Kills and reaps its child when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait()
            && let Err(e) = self.child.kill()
        {
            eprintln!("bench: could not stop {}: {e}", self.name);
        }
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped (a server's data directory).
#[derive(Debug)]
pub struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server process under test. Dropping it stops the process, then removes
/// its data directory.
#[derive(Debug)]
pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    _child: ChildGuard,
    _data: Option<DirGuard>,
}

/// How to start one server: `args` may contain `{port}` and `{data}`.
#[derive(Debug)]
pub struct Launch {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub data_dir: Option<PathBuf>,
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// True once something answers `GET /` with any HTTP status line.
fn answers_http(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(PROBE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(PROBE_TIMEOUT));
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut start = [0u8; 5];
    stream.read_exact(&mut start).is_ok() && &start == b"HTTP/"
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl Server {
    /// The server's process id (for its resident memory).
    pub fn pid(&self) -> u32 {
        self._child.child.id()
    }
}

/// Starts a server and waits, bounded, until it answers HTTP.
pub fn start(launch: Launch, logs: &Path) -> Result<Server> {
    let port = free_port()?;
    let data = match &launch.data_dir {
        Some(dir) => {
            let _ = fs::remove_dir_all(dir);
            fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            Some(DirGuard(dir.clone()))
        }
        None => None,
    };
    let data_text = launch
        .data_dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let args: Vec<String> = launch
        .args
        .iter()
        .map(|a| {
            a.replace("{port}", &port.to_string())
                .replace("{data}", &data_text)
        })
        .collect();
    fs::create_dir_all(logs).map_err(|e| format!("creating {}: {e}", logs.display()))?;
    let log_path = logs.join(format!("{}.log", launch.name));
    let log =
        File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
    let child = Command::new(&launch.program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", launch.program.display()))?;
    let mut guard = ChildGuard {
        name: launch.name.to_string(),
        child,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while !answers_http(addr) {
        if let Ok(Some(status)) = guard.child.try_wait() {
            return Err(format!(
                "{} exited ({status}) before serving (its output is in {})\n{}",
                launch.name,
                log_path.display(),
                log_tail(&log_path)
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not answer within {STARTUP_TIMEOUT:?} (its output is in {})\n{}",
                launch.name,
                log_path.display(),
                log_tail(&log_path)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Server {
        name: launch.name,
        addr,
        _child: guard,
        _data: data,
    })
}

/// Builds the server in release mode and says how to start it.
pub fn minidynamo(root: &Path, scratch: &Path) -> Result<Launch> {
    cmd::run(
        cmd::cargo()
            .current_dir(root)
            .args(["build", "--release", "-p", "minidynamo"]),
    )?;
    Ok(Launch {
        name: "minidynamo",
        program: cmd::target_dir(root).join("release").join("minidynamo"),
        args: ["--port", "{port}", "--data-dir", "{data}"]
            .map(String::from)
            .to_vec(),
        data_dir: Some(scratch.join("minidynamo-data")),
    })
}

fn file_sha256(path: &Path) -> Result<String> {
    fs::read(path)
        .map(|bytes| cmd::hex(&Sha256::digest(&bytes)))
        .map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Installs dynalite into `peers/node_modules` with `npm ci` from the
/// committed lockfile (again only when the lockfile changed).
fn install_dynalite(root: &Path, peers: &Path) -> Result<PathBuf> {
    let source = root.join("xtask").join("peers");
    let lock = source.join("package-lock.json");
    let wanted = file_sha256(&lock)?;
    let stamp = peers.join(".package-lock-sha256");
    let cli = peers.join("node_modules").join("dynalite").join("cli.js");
    if cli.exists() && fs::read_to_string(&stamp).unwrap_or_default().trim() == wanted {
        return Ok(cli);
    }
    fs::create_dir_all(peers).map_err(|e| format!("creating {}: {e}", peers.display()))?;
    for file in ["package.json", "package-lock.json"] {
        fs::copy(source.join(file), peers.join(file))
            .map_err(|e| format!("copying {file}: {e}"))?;
    }
    println!("bench: installing dynalite with npm ci");
    cmd::run(Command::new("npm").current_dir(peers).args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]))?;
    fs::write(&stamp, format!("{wanted}\n")).map_err(|e| format!("writing a stamp: {e}"))?;
    Ok(cli)
}

/// dynalite, in memory or (with a data directory) on LevelDB. Tables become
/// ACTIVE at once instead of after dynalite's default 500 ms.
pub fn dynalite(root: &Path, peers: &Path, on_disk: Option<PathBuf>) -> Result<Launch> {
    let cli = install_dynalite(root, peers)?;
    let mut args = vec![
        cli.display().to_string(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        "{port}".into(),
        "--createTableMs".into(),
        "0".into(),
    ];
    if on_disk.is_some() {
        args.extend(["--path".into(), "{data}".into()]);
    }
    Ok(Launch {
        name: if on_disk.is_some() {
            "dynalite-disk"
        } else {
            "dynalite-memory"
        },
        program: PathBuf::from("node"),
        args,
        data_dir: on_disk,
    })
}

/// moto's server (Flask on Werkzeug, threaded), from a virtual environment
/// built from the committed, frozen requirements.
pub fn moto(root: &Path, peers: &Path) -> Result<Launch> {
    let venv = clients::ensure_venv(
        &peers.join("venv"),
        &root
            .join("xtask")
            .join("peers")
            .join("moto-requirements.txt"),
    )?;
    Ok(Launch {
        name: "moto",
        program: venv.bin().join("moto_server"),
        args: ["-H", "127.0.0.1", "-p", "{port}"]
            .map(String::from)
            .to_vec(),
        data_dir: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_exits_is_reported_and_reaped() {
        let logs = tempfile::tempdir().unwrap();
        let launch = Launch {
            name: "quitter",
            program: PathBuf::from("sh"),
            args: vec!["-c".into(), "echo not serving on {port}; exit 3".into()],
            data_dir: None,
        };
        let error = start(launch, logs.path()).unwrap_err();
        assert!(error.contains("quitter exited"), "{error}");
        assert!(error.contains("not serving on"), "{error}");
    }

    #[test]
    fn dropping_a_server_kills_it() {
        let logs = tempfile::tempdir().unwrap();
        let data = logs.path().join("data");
        // A tiny HTTP server in sh would be fragile; python3 is there
        // wherever the client suites run.
        if Command::new("python3").arg("--version").output().is_err() {
            return;
        }
        let launch = Launch {
            name: "http",
            program: PathBuf::from("python3"),
            args: vec![
                "-m".into(),
                "http.server".into(),
                "--bind".into(),
                "127.0.0.1".into(),
                "{port}".into(),
            ],
            data_dir: Some(data.clone()),
        };
        let server = start(launch, logs.path()).unwrap();
        let addr = server.addr;
        assert!(answers_http(addr));
        assert!(data.exists());
        drop(server);
        assert!(!answers_http(addr));
        assert!(!data.exists());
    }
}
