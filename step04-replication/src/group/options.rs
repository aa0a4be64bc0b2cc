//! How a replication group is set up: its options, the engine under each
//! replica, and the limits and deadlines of its calls.

use super::ReplicationGroup;
use super::driver::EngineOpener;
use crate::replica::Options;
use crate::timing::TICK_NOMINAL_MS;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use step01_kv::engine::{Result, StorageEngine};
use step01_kv::wal::{FsyncPolicy, RECORD_PAYLOAD_BYTES_MAX, WalOptions};
use step02_lsm::lsm::{Lsm, LsmOptions};

/// Replicas per group unless [`GroupOptions`] says otherwise: DynamoDB's
/// three, one per availability zone.
pub const REPLICAS_DEFAULT: u64 = 3;
/// The most replicas a group may have.
pub const REPLICAS_MAX: u64 = 7;
/// How long a write keeps trying before it fails, in milliseconds: long
/// enough for several elections (each 100-200 ms).
pub const WRITE_DEADLINE_MS: u64 = 10_000;
/// How long a read keeps trying before it fails, in milliseconds.
pub const READ_DEADLINE_MS: u64 = 10_000;
/// How long one attempt waits for one replica's reply, in milliseconds.
pub const ATTEMPT_TIMEOUT_MS: u64 = 2_000;
/// How long an eventually consistent read waits for the replica it chose
/// before it asks the leader instead, in milliseconds: a stalled replica
/// should cost a read little more than the leader would.
pub const EVENTUAL_ATTEMPT_TIMEOUT_MS: u64 = 500;
/// The pause before retrying when no replica knows a leader, in
/// milliseconds: about one tick.
pub const RETRY_PAUSE_MS: u64 = 10;
/// The largest encoded batch a write may carry, in bytes: it must fit in
/// one record of every replica's log with room for the entry's header.
pub const WRITE_PAYLOAD_BYTES_MAX: usize = RECORD_PAYLOAD_BYTES_MAX - 1024;
/// How often a replica's engine fsyncs its own log in the background, in
/// milliseconds. The engine needs no fsync per write: the Raft log is the
/// durable record, and the engine knows which prefix of it it holds.
pub const ENGINE_FSYNC_INTERVAL_MS: u64 = 200;
/// Entries between log compactions unless [`GroupOptions`] says
/// otherwise. A compaction costs one engine sync and a rewrite of the few
/// entries kept, so it can be frequent: this bounds each replica's log in
/// memory and on disk (see `replica/snapshot.rs` for the other bounds).
pub const GROUP_SNAPSHOT_INTERVAL_ENTRIES_DEFAULT: u64 = 1024;

/// How a replication group is set up.
pub struct GroupOptions<E> {
    /// Voters of a new group (ignored when the group exists).
    pub replicas: u64,
    /// Opens one replica's engine in its directory.
    pub engine: Arc<EngineOpener<E>>,
    /// The replicas' knobs (snapshot interval).
    pub raft: Options,
    /// The length of one tick.
    pub tick: Duration,
}

impl<E> Clone for GroupOptions<E> {
    fn clone(&self) -> Self {
        GroupOptions {
            replicas: self.replicas,
            engine: Arc::clone(&self.engine),
            raft: self.raft,
            tick: self.tick,
        }
    }
}

impl<E> fmt::Debug for GroupOptions<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupOptions")
            .field("replicas", &self.replicas)
            .field("raft", &self.raft)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl GroupOptions<Lsm> {
    /// Three replicas, each on step 2's LSM tree with `lsm`'s sizes and a
    /// background fsync every [`ENGINE_FSYNC_INTERVAL_MS`].
    pub fn lsm(lsm: LsmOptions) -> GroupOptions<Lsm> {
        let lsm = LsmOptions {
            wal: WalOptions {
                fsync: FsyncPolicy::Interval(Duration::from_millis(ENGINE_FSYNC_INTERVAL_MS)),
                ..lsm.wal
            },
            ..lsm
        };
        GroupOptions::with_engine(move |dir: &Path| Lsm::open(dir, lsm))
    }
}

impl Default for GroupOptions<Lsm> {
    fn default() -> Self {
        GroupOptions::lsm(LsmOptions::default())
    }
}

impl<E: StorageEngine + 'static> GroupOptions<E> {
    /// Three replicas on engines that `open` opens.
    pub fn with_engine(
        open: impl Fn(&Path) -> Result<E> + Send + Sync + 'static,
    ) -> GroupOptions<E> {
        GroupOptions {
            replicas: REPLICAS_DEFAULT,
            engine: Arc::new(open),
            raft: Options {
                snapshot_interval_entries: GROUP_SNAPSHOT_INTERVAL_ENTRIES_DEFAULT,
                ..Options::default()
            },
            tick: Duration::from_millis(TICK_NOMINAL_MS),
        }
    }

    // ANCHOR: factory
    /// A step 3 engine factory: each partition directory becomes a group.
    ///
    /// ```ignore
    /// let table = Table::open(dir, schema, TableOptions::default(),
    ///                         GroupOptions::default().factory())?;
    /// ```
    pub fn factory(self) -> impl Fn(&Path) -> Result<ReplicationGroup<E>> + Send + Sync + 'static {
        move |dir: &Path| ReplicationGroup::open(dir, self.clone())
    }
    // ANCHOR_END: factory
}
