//! How a server is set up: [`ServerConfig`].
//!
//! ```ignore
//! // A test: a random port on loopback, data thrown away at shutdown.
//! let (addr, handle) = Server::bind(ServerConfig::in_memory()).await?;
//! // A binary: port 8000, data kept in ./data.
//! let config = ServerConfig::with_data_dir("data").port(8000);
//! ```

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use crate::auth::{AuthMode, CredentialStore};
use crate::backend::LOCAL_ACCOUNT_ID;
use crate::engine::EngineFactory;

/// The port DynamoDB Local and most tools expect.
pub const DEFAULT_PORT: u16 = 8000;
/// The region in ARNs and the health answer unless configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where tables live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Durable, in this directory (created if missing).
    Dir(PathBuf),
    /// "In memory": a scratch directory in the system's temporary
    /// directory, without any fsync, removed when the server stops. Real
    /// files keep one code path for both modes; skipping fsync makes them
    /// as fast as the page cache.
    InMemory,
}

/// Everything a server needs to start.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where to listen. Default `127.0.0.1:8000`; port 0 picks a free one.
    pub bind: SocketAddr,
    pub storage: Storage,
    /// Shown in ARNs and the health check.
    pub region: String,
    /// Shown in ARNs.
    pub account_id: String,
    /// Copies of every partition when `engine` is `None`: 1 is step 2's
    /// LSM tree alone; more makes each partition a step 4 replication
    /// group of that many replicas in this process, each with its own
    /// directory (see [`crate::replication`]). A data directory remembers
    /// the number it was created with and refuses another.
    pub replicas: u64,
    /// A custom engine for every partition, overriding `replicas`.
    pub engine: Option<EngineFactory>,
    /// Access keys and policies. The default is local mode with no keys:
    /// any well-formed signature is accepted, so the server must listen
    /// on loopback (checked at bind).
    pub credentials: Arc<CredentialStore>,
    /// Whether provisioned tables are held to their throughput (the
    /// `throttle` module's token buckets). Off by default, as for a local
    /// DynamoDB: capacity is always accounted, requests never refused.
    pub throttling: bool,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("bind", &self.bind)
            .field("storage", &self.storage)
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("replicas", &self.replicas)
            .field("engine", &self.engine.as_ref().map(|_| "custom"))
            .field("auth_mode", &self.credentials.mode())
            .field("throttling", &self.throttling)
            .finish()
    }
}

impl ServerConfig {
    /// Durable tables in `dir`, on `127.0.0.1:8000`, one copy of each
    /// partition (the binary asks for three).
    pub fn with_data_dir(dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            storage: Storage::Dir(dir.into()),
            region: DEFAULT_REGION.to_string(),
            account_id: LOCAL_ACCOUNT_ID.to_string(),
            replicas: 1,
            engine: None,
            credentials: Arc::new(CredentialStore::new(AuthMode::Local)),
            throttling: false,
        }
    }

    /// Throwaway tables on a free loopback port: what tests want.
    pub fn in_memory() -> ServerConfig {
        ServerConfig {
            storage: Storage::InMemory,
            ..ServerConfig::with_data_dir(PathBuf::new())
        }
        .port(0)
    }

    /// The same, on another port of the same address.
    pub fn port(mut self, port: u16) -> ServerConfig {
        self.bind.set_port(port);
        self
    }
}

/// A directory that exists as long as this value does.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A new, empty directory under the system's temporary directory,
    /// named after the process, the time and a counter.
    pub fn create() -> io::Result<ScratchDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "minidynamo-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a scratch directory");
        }
    }
}
