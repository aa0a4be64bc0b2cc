//! Partitions as replication groups: the engine factory a server uses when
//! it keeps more than one copy of each partition, the data directory's
//! record of that number, and what metrics may read of the groups.
//!
//! With `replicas = 3` (the binary's default) every partition of every
//! table is a step 4 [`ReplicationGroup`] of three replicas running in this
//! process, each on its own LSM tree in its own directory:
//!
//! ```text
//! tables/<table-id>/partition-00000003/replica-1/{raft,engine}/
//!                                      replica-2/…
//!                                      replica-3/…
//! ```
//!
//! A write is acknowledged once it is in the fsynced logs of two replicas
//! and applied at the leader, so a replica whose files are damaged or lost
//! is rebuilt from the other two. With `replicas = 1` the partition is one
//! LSM tree: faster (one fsync per group commit instead of a quorum round
//! and two), with nothing to recover from if its files are lost.
//!
//! # Who answers a read
//!
//! A strongly consistent read goes to the group's leader, as in DynamoDB.
//! An eventually consistent one (the API's default) goes to any replica
//! that has applied everything the group has already shown a caller —
//! every write it acknowledged, every state a read returned — and to the
//! leader when none has ([`ReplicationGroup`]'s *read floor*). So a
//! `GetItem` right after a `PutItem` finds the item even with the default
//! consistency, which clients and test suites written against DynamoDB
//! (or DynamoDB Local) commonly count on, and the followers still take
//! their share of the reads. The groups are handed to the tables as they
//! are: no wrapper chooses the consistency for them. Eventually consistent
//! reads are metered at half price whoever serves them: capacity is the
//! API's business, not the engine's.
//!
//! # The data directory remembers its replica count
//!
//! The two layouts cannot read each other: an LSM tree opened in a
//! partition directory that holds `replica-N/` subdirectories would find no
//! data and serve an empty table. So the first server to use a data
//! directory writes the count to [`REPLICAS_FILE_NAME`], and every later
//! one must ask for the same count or refuse to start
//! ([`check_replica_count`]). A directory without the file but with a
//! catalog predates the file and was always single-copy.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use step02_lsm::lsm::LsmOptions;
use step03_partitioning::map_file::sync_dir;
use step04_replication::GroupOptions;
use step04_replication::group::{GroupProbe, ReplicationGroup};
use step04_replication::replica::Status;

use crate::catalog::OpenError;
use crate::catalog::file::CATALOG_FILE_NAME;
use crate::engine::{EngineFactory, SharedEngine};

/// The file in a data directory that records its replica count.
pub const REPLICAS_FILE_NAME: &str = "REPLICAS";
const REPLICAS_TEMP_FILE_NAME: &str = "REPLICAS.tmp";
/// The file is one decimal number and a newline; anything longer is not it.
const REPLICAS_FILE_BYTES_MAX: u64 = 32;

/// Every replication group this server opened, weakly: groups of deleted
/// tables and of partitions retired by a split drop out by themselves.
#[derive(Default)]
pub struct GroupRegistry {
    groups: Mutex<Vec<(PathBuf, GroupProbe)>>,
}

impl fmt::Debug for GroupRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupRegistry").finish_non_exhaustive()
    }
}

/// One group's replicas, as last published by their threads.
#[derive(Clone, Debug)]
pub struct GroupProgress {
    /// The partition directory the group lives in.
    pub dir: PathBuf,
    /// Every running replica's status, in id order.
    pub replicas: Vec<Status>,
}

impl GroupRegistry {
    fn register(&self, dir: &Path, probe: GroupProbe) {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        // Pruning on every registration keeps the list as long as the
        // number of live partitions.
        groups.retain(|(_, probe)| probe.is_alive());
        groups.push((dir.to_path_buf(), probe));
    }

    /// The progress of every live group, in registration order. Copying
    /// the probes first keeps the lock short: a probe may briefly be the
    /// last holder of a group, and dropping a group stops its threads.
    pub fn progress(&self) -> Vec<GroupProgress> {
        let probes: Vec<(PathBuf, GroupProbe)> = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        probes
            .into_iter()
            .filter_map(|(dir, probe)| {
                let replicas = probe.statuses()?;
                Some(GroupProgress { dir, replicas })
            })
            .collect()
    }
}

/// The tick of the server's replicas, in milliseconds. Every replica is
/// driven by the wall clock, and an idle one still wakes once a tick (and a
/// leader heartbeats every few): with hundreds of tables, step 4's 10 ms
/// tick keeps both cores busy doing nothing. The replicas share one
/// process, so fast failure detection buys little: 50 ms ticks make an
/// election timeout 0.5–1 s and a lease 400 ms, at a fifth of the idle cost.
pub const SERVER_TICK_MS: u64 = 50;

// ANCHOR: replicated_factory
/// Opens every partition as a replication group of `replicas` replicas,
/// each an LSM tree with `lsm`'s sizes, and registers it in `registry`.
pub fn replicated_factory(
    replicas: u64,
    lsm: LsmOptions,
    registry: Arc<GroupRegistry>,
) -> EngineFactory {
    let options = GroupOptions {
        replicas,
        tick: Duration::from_millis(SERVER_TICK_MS),
        ..GroupOptions::lsm(lsm)
    };
    Arc::new(move |dir: &Path| {
        let group = ReplicationGroup::open(dir, options.clone())?;
        registry.register(dir, group.probe());
        Ok(SharedEngine::new(group))
    })
}
// ANCHOR_END: replicated_factory

/// Makes sure the data directory `dir` was created with `replicas` copies
/// per partition, recording the count if the directory is new. Called
/// before the catalog opens any table.
pub fn check_replica_count(dir: &Path, replicas: u64, durable: bool) -> Result<(), OpenError> {
    fs::create_dir_all(dir)?;
    let path = dir.join(REPLICAS_FILE_NAME);
    let recorded =
        match fs::metadata(&path) {
            Ok(meta) if meta.len() > REPLICAS_FILE_BYTES_MAX => {
                return Err(format!("{} is not a replica count", path.display()).into());
            }
            Ok(_) => {
                let text = fs::read_to_string(&path)?;
                Some(text.trim().parse::<u64>().map_err(|_| {
                    format!("{} holds {:?}, not a replica count", path.display(), text)
                })?)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                // Tables made before the record existed are single-copy.
                dir.join(CATALOG_FILE_NAME).exists().then_some(1)
            }
            Err(error) => return Err(error.into()),
        };
    match recorded {
        Some(recorded) if recorded != replicas => Err(format!(
            "the data directory {} keeps {recorded} replica(s) of every partition and cannot be \
             opened with {replicas}: use the same count, or another data directory",
            dir.display()
        )
        .into()),
        Some(_) if path.exists() => Ok(()),
        _ => write_replica_count(dir, replicas, durable),
    }
}

/// Writes the record atomically: a temporary file, fsynced, renamed over.
fn write_replica_count(dir: &Path, replicas: u64, durable: bool) -> Result<(), OpenError> {
    let temp = dir.join(REPLICAS_TEMP_FILE_NAME);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)?;
    file.write_all(format!("{replicas}\n").as_bytes())?;
    if durable {
        file.sync_all()?;
    }
    drop(file);
    fs::rename(&temp, dir.join(REPLICAS_FILE_NAME))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_keeps_its_replica_count() {
        let dir = tempfile::tempdir().unwrap();
        check_replica_count(dir.path(), 3, true).unwrap();
        check_replica_count(dir.path(), 3, true).unwrap();
        let error = check_replica_count(dir.path(), 1, true).unwrap_err();
        assert!(error.to_string().contains("keeps 3 replica(s)"), "{error}");
    }

    #[test]
    fn a_catalog_without_a_record_is_single_copy() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CATALOG_FILE_NAME), b"").unwrap();
        assert!(check_replica_count(dir.path(), 3, false).is_err());
        check_replica_count(dir.path(), 1, false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(REPLICAS_FILE_NAME)).unwrap(),
            "1\n"
        );
    }

    #[test]
    fn garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(REPLICAS_FILE_NAME), b"three").unwrap();
        assert!(check_replica_count(dir.path(), 3, false).is_err());
    }
}
