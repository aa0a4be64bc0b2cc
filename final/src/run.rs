//! The server process: options in, a running server, a graceful stop.
//!
//! ```text
//! flags ─▶ ServerConfig ─▶ bind (open every table) ─▶ banner ─▶ … ─▶ SIGINT/SIGTERM
//!       ─▶ stop accepting ─▶ finish requests in flight ─▶ close tables ─▶ exit 0
//! ```
//!
//! A second signal during the drain exits at once with [`EXIT_INTERRUPTED`]:
//! nothing acknowledged is lost by that either (every acknowledged write
//! is already durable), only the requests still running are cut off.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use step05_api::auth::{AuthMode, CredentialStore};
use step05_api::{Server, ServerConfig, Storage};

use crate::banner::banner;
use crate::cli::{EXIT_FAILURE, EXIT_USAGE, Options, UsageError};

/// The exit code after a second signal cut the drain short (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;
/// How long the runtime waits for stray blocking threads at exit.
pub const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// A credentials file larger than this is refused before it is read.
pub const CREDENTIALS_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

// ANCHOR: config
/// The router's configuration for these options: storage, replicas,
/// credentials (read from the file now, so a bad file is a usage error).
pub fn server_config(options: &Options) -> Result<ServerConfig, UsageError> {
    let storage = if options.in_memory {
        Storage::InMemory
    } else {
        Storage::Dir(options.data_dir.clone())
    };
    let credentials = match &options.credentials {
        Some(path) => read_credentials(path, options.auth_mode)?,
        None => CredentialStore::new(options.auth_mode),
    };
    Ok(ServerConfig {
        bind: options.address(),
        storage,
        region: options.region.clone(),
        account_id: credentials.account_id().to_string(),
        replicas: options.replicas,
        engine: None,
        credentials: Arc::new(credentials),
        throttling: options.throttling,
    })
}
// ANCHOR_END: config

fn read_credentials(path: &Path, mode: AuthMode) -> Result<CredentialStore, UsageError> {
    let problem = |what: String| UsageError(format!("--credentials {}: {what}", path.display()));
    let size = std::fs::metadata(path)
        .map_err(|e| problem(e.to_string()))?
        .len();
    if size > CREDENTIALS_FILE_BYTES_MAX {
        return Err(problem(format!(
            "larger than {CREDENTIALS_FILE_BYTES_MAX} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    CredentialStore::from_json(mode, &text).map_err(|e| problem(e.to_string()))
}

/// Serves until SIGINT or SIGTERM, then stops gracefully. Returns the
/// process's exit code.
pub fn serve(options: &Options) -> ExitCode {
    let config = match server_config(options) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("minidynamo: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("minidynamo-worker")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("minidynamo: cannot start the runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(run(config, options));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("minidynamo: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

// ANCHOR: run
async fn run(config: ServerConfig, options: &Options) -> Result<(), String> {
    let started = std::time::Instant::now();
    // Listen for signals before the banner says "ready": a SIGTERM sent
    // right after it must stop the server gracefully, not kill it.
    let mut signals = Signals::install().map_err(|e| format!("cannot watch signals: {e}"))?;
    let (addr, handle) = Server::bind(config).await.map_err(|e| e.to_string())?;
    println!("{}", banner(addr, options));
    tracing::info!(
        %addr,
        replicas = options.replicas,
        millis = started.elapsed().as_millis() as u64,
        "ready"
    );
    let signal = signals.recv().await;
    tracing::info!(
        signal,
        "stopping: no new connections; finishing requests in flight"
    );
    tokio::spawn(async move {
        let signal = signals.recv().await;
        eprintln!("minidynamo: {signal} again: exiting without waiting");
        std::process::exit(EXIT_INTERRUPTED);
    });
    handle.shutdown().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped: every table closed");
    Ok(())
}
// ANCHOR_END: run

/// SIGINT (Ctrl-C) and SIGTERM, caught from the moment they are installed.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next signal and names it.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
