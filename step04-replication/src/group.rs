//! A partition as a replication group, in one process: the storage engine
//! step 3's tables use, replicated three ways.
//!
//! [`ReplicationGroup`] implements step 1's [`StorageEngine`], so a step 3
//! [`Table`](step03_partitioning::table::Table) runs on replication groups
//! unchanged — its engine factory simply opens a group in each partition's
//! directory ([`GroupOptions::factory`]):
//!
//! ```text
//! partition-00000003/
//!   replica-1/raft/     the replica's log, term and vote (file_storage.rs)
//!   replica-1/engine/   its copy of the partition (an LSM tree)
//!   replica-2/…
//!   replica-3/…
//! ```
//!
//! Each replica is a [`Host`](crate::host::Host) running on a thread of its
//! own (`group/driver.rs`), whose state machine is a
//! [`PartitionMachine`] over a real engine (`group/machine.rs`: the
//! applied-index record that makes replay idempotent).
//!
//! # The engine contract, replicated
//!
//! * [`StorageEngine::write`] validates the batch, sends it to the leader
//!   and returns once the batch is committed — durable in the logs of a
//!   majority (2 of 3) — and applied to the leader's engine. Its sequence
//!   number is its log index. `NotLeader` redirects, `Busy`, `Unknown`
//!   (leadership lost mid-write), a stopped replica and timeouts are all
//!   retried until [`WRITE_DEADLINE_MS`]: the batch holds absolute puts
//!   and deletes, so applying it twice leaves the same state.
//! * [`StorageEngine::get`] and [`StorageEngine::scan`] are strongly
//!   consistent: the leader answers from its engine under its lease, or
//!   after a round of heartbeats confirms it still leads
//!   (`replica/reads.rs`).
//! * `get_with`/`scan_with` with [`ReadConsistency::Eventual`] are
//!   answered by any replica, in turn, from what it has applied: cheaper,
//!   possibly stale.
//! * [`StorageEngine::sync`] has nothing to do: an acknowledged write is
//!   already in the fsynced logs of a majority.
//!
//! # Conditional writes stay atomic
//!
//! Step 3's `put_if`/`delete_if` read the old item, run the condition and
//! write, all under the partition's key-stripe lock. Over a replication
//! group the read is a strong read at the leader and the write a
//! proposal, two round trips instead of one engine call — and still
//! atomic, because the group has exactly one writer: the one `Table` in
//! this process that owns it. Every write of the key goes through the same
//! stripe, the strong read sees every earlier acknowledged write, and no
//! write of the key can be proposed between the read and the proposal. (A
//! group with writers in several processes would need the check inside
//! the state machine instead, applied at the leader in log order.)
//!
//! Test hooks — [`ReplicationGroup::leader`],
//! [`ReplicationGroup::stop_replica`], [`ReplicationGroup::restart_replica`],
//! [`ReplicationGroup::get_at`], [`ReplicationGroup::status`] — exist for
//! tests and experiments: they crash and revive replicas the way a
//! simulator would, but on real threads and disks.

mod driver;
pub mod machine;

pub use driver::{EngineOpener, INBOX_EVENTS_MAX, PENDING_REQUESTS_MAX, STOP_DEADLINE_MS};
pub use machine::{APPLIED_INDEX_KEY, PARTITION_SNAPSHOT_BYTES_MAX, PartitionMachine};

use crate::replica::{Options, Reply, Request, Role, Status};
use crate::timing::TICK_NOMINAL_MS;
use crate::types::NodeId;
use driver::{Event, ReplicaSetup, ReplicaThread, Switchboard, start_replica};
use machine::{decode_get_reply, decode_scan_reply, decode_write_reply, get_query, scan_query};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use step01_kv::engine::{
    KeyRange, KeyValue, ReadConsistency, Result, ScanDirection, SequenceNumber, StorageEngine,
    StorageError, WriteBatch,
};
use step01_kv::store::encode_batch;
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
/// Entries between snapshots unless [`GroupOptions`] says otherwise. A
/// snapshot dumps the whole partition (up to
/// [`PARTITION_SNAPSHOT_BYTES_MAX`]), so it is taken less often than the
/// small in-memory machine of the simulator.
pub const GROUP_SNAPSHOT_INTERVAL_ENTRIES_DEFAULT: u64 = 8192;

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

/// Why one attempt at one replica got no reply.
#[derive(Debug)]
enum AttemptFailed {
    /// The replica is stopped, or its inbox is full.
    Unreachable,
    TimedOut,
}

/// The shared state behind every handle of a group.
struct GroupInner<E> {
    dir: PathBuf,
    options: GroupOptions<E>,
    ids: Vec<NodeId>,
    board: Arc<Switchboard>,
    replicas: Mutex<BTreeMap<NodeId, Option<ReplicaThread>>>,
    /// The replica believed to lead (0: none known).
    leader_hint: AtomicU64,
    /// Turns eventually consistent reads over the replicas.
    next_reader: AtomicU64,
}

/// A partition replicated on a group of replicas, as a [`StorageEngine`].
///
/// Cloning gives another handle on the same group; the replicas stop when
/// the last handle is dropped.
pub struct ReplicationGroup<E = Lsm> {
    inner: Arc<GroupInner<E>>,
}

impl<E> Clone for ReplicationGroup<E> {
    fn clone(&self) -> Self {
        ReplicationGroup {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<E> fmt::Debug for ReplicationGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationGroup")
            .field("dir", &self.inner.dir)
            .field("ids", &self.inner.ids)
            .finish_non_exhaustive()
    }
}

/// The directory of replica `id` inside a group's directory.
pub fn replica_dir(group_dir: &Path, id: NodeId) -> PathBuf {
    group_dir.join(format!("replica-{id}"))
}

impl<E: StorageEngine + 'static> ReplicationGroup<E> {
    /// Opens (or founds) the group in `dir` and starts every replica.
    pub fn open(dir: &Path, options: GroupOptions<E>) -> Result<ReplicationGroup<E>> {
        if !(1..=REPLICAS_MAX).contains(&options.replicas) {
            return Err(StorageError::Failed {
                reason: format!(
                    "a group has 1 to {REPLICAS_MAX} replicas, not {}",
                    options.replicas
                ),
            });
        }
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let ids: Vec<NodeId> = (1..=options.replicas).collect();
        let group = ReplicationGroup {
            inner: Arc::new(GroupInner {
                dir: dir.to_path_buf(),
                options,
                ids: ids.clone(),
                board: Arc::new(Switchboard::default()),
                replicas: Mutex::new(ids.iter().map(|&id| (id, None)).collect()),
                leader_hint: AtomicU64::new(0),
                next_reader: AtomicU64::new(0),
            }),
        };
        // On an error, dropping `group` stops the replicas already started.
        for &id in &ids {
            group.restart_replica(id)?;
        }
        Ok(group)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The replicas' ids, live or not.
    pub fn replica_ids(&self) -> &[NodeId] {
        &self.inner.ids
    }

    fn replicas(&self) -> MutexGuard<'_, BTreeMap<NodeId, Option<ReplicaThread>>> {
        self.inner
            .replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A read-only view of this group that does not keep it alive: for
    /// metrics, which must not hold a deleted table's replicas running.
    pub fn probe(&self) -> GroupProbe<E> {
        GroupProbe {
            inner: Arc::downgrade(&self.inner),
        }
    }

    // --- Test hooks -------------------------------------------------------

    /// For tests: the status of replica `id`, if its thread runs.
    pub fn status(&self, id: NodeId) -> Option<Status> {
        self.replicas()
            .get(&id)
            .and_then(Option::as_ref)
            .filter(|thread| thread.is_running())
            .map(ReplicaThread::status)
    }

    /// For tests: the running replica that believes it leads, in the
    /// highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.inner
            .ids
            .iter()
            .filter_map(|&id| self.status(id))
            .filter(|status| status.role == Role::Leader)
            .max_by_key(|status| status.term)
            .map(|status| status.id)
    }

    /// For tests: stops replica `id` as a process crash would — its
    /// threads end, its memory is gone, its directory stays (with whatever
    /// it wrote, synced or not). Returns the error that had already
    /// stopped it, if any.
    pub fn stop_replica(&self, id: NodeId) -> Result<()> {
        let thread = self.replicas().get_mut(&id).and_then(Option::take);
        self.inner.board.unregister(id);
        match thread {
            None => Ok(()),
            Some(thread) => thread.stop().map_err(|reason| StorageError::Failed {
                reason: format!("replica {id}: {reason}"),
            }),
        }
    }

    /// For tests (and [`ReplicationGroup::open`]): starts replica `id`
    /// from its directory, stopping it first if it runs. It catches up
    /// from the leader's log, or from a snapshot if the log has moved on.
    pub fn restart_replica(&self, id: NodeId) -> Result<()> {
        if !self.inner.ids.contains(&id) {
            return Err(StorageError::Failed {
                reason: format!("no replica {id} in this group"),
            });
        }
        self.stop_replica(id)?;
        let dir = replica_dir(&self.inner.dir, id);
        let thread = start_replica(ReplicaSetup {
            id,
            voters: &self.inner.ids,
            dir: &dir,
            opener: self.inner.options.engine.as_ref(),
            options: self.inner.options.raft,
            tick: self.inner.options.tick,
            board: &self.inner.board,
        })?;
        self.replicas().insert(id, Some(thread));
        Ok(())
    }

    /// For tests: an eventually consistent read at replica `id` only.
    pub fn get_at(&self, id: NodeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + Duration::from_millis(READ_DEADLINE_MS);
        let request = Request::EventualRead(get_query(key));
        match self.attempt(id, request, deadline) {
            Ok(Reply::Read { value, .. }) => decode_get_reply(&value),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(self.unavailable(&format!("replica {id}: {e:?}"))),
        }
    }

    // --- Talking to replicas ------------------------------------------------

    /// Sends `request` to replica `id` and waits for its reply, until
    /// `deadline` or [`ATTEMPT_TIMEOUT_MS`], whichever is sooner.
    fn attempt(
        &self,
        id: NodeId,
        request: Request,
        deadline: Instant,
    ) -> std::result::Result<Reply, AttemptFailed> {
        let inbox = self
            .inner
            .board
            .inbox(id)
            .ok_or(AttemptFailed::Unreachable)?;
        let (reply, answer) = mpsc::sync_channel(1);
        match inbox.try_send(Event::Request { request, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Ok(Reply::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(AttemptFailed::Unreachable),
        }
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(ATTEMPT_TIMEOUT_MS));
        match answer.recv_timeout(wait) {
            Ok(reply) => Ok(reply),
            Err(RecvTimeoutError::Timeout) => Err(AttemptFailed::TimedOut),
            Err(RecvTimeoutError::Disconnected) => Err(AttemptFailed::Unreachable),
        }
    }

    // ANCHOR: call_leader
    /// Sends a leader-only request to the replica believed to lead,
    /// following `NotLeader` hints and retrying `Busy`, `Unknown` and
    /// silence, until `deadline`. Safe for writes only because they are
    /// idempotent: a write whose outcome was unknown may land twice.
    fn call_leader(&self, request: &Request, deadline: Instant) -> Result<Reply> {
        let ids = &self.inner.ids;
        let mut turn = 0usize;
        // Each turn waits for a reply, a timeout or a pause: bounded by the
        // deadline.
        while Instant::now() < deadline {
            let hint = self.inner.leader_hint.load(Ordering::Relaxed);
            let target = if ids.contains(&hint) {
                hint
            } else {
                turn += 1;
                ids[turn % ids.len()]
            };
            let pause = match self.attempt(target, request.clone(), deadline) {
                Ok(Reply::NotLeader { leader }) => {
                    let next = leader.filter(|&l| l != target).unwrap_or(0);
                    self.inner.leader_hint.store(next, Ordering::Relaxed);
                    next == 0
                }
                Ok(Reply::Busy) => true,
                Ok(Reply::Unknown) | Err(_) => {
                    self.inner.leader_hint.store(0, Ordering::Relaxed);
                    true
                }
                Ok(reply) => {
                    self.inner.leader_hint.store(target, Ordering::Relaxed);
                    return Ok(reply);
                }
            };
            if pause {
                thread::sleep(Duration::from_millis(RETRY_PAUSE_MS));
            }
        }
        Err(self.unavailable("no leader answered before the deadline"))
    }
    // ANCHOR_END: call_leader

    /// An eventually consistent read at the next replica in turn, moving
    /// on to the next one if it does not answer.
    fn call_any(&self, query: Vec<u8>, deadline: Instant) -> Result<Vec<u8>> {
        let ids = &self.inner.ids;
        while Instant::now() < deadline {
            let turn = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
            let id = ids[(turn % ids.len() as u64) as usize];
            match self.attempt(id, Request::EventualRead(query.clone()), deadline) {
                Ok(Reply::Read { value, .. }) => return Ok(value),
                Ok(Reply::Busy) | Err(_) => thread::sleep(Duration::from_millis(RETRY_PAUSE_MS)),
                Ok(other) => return Err(unexpected(&other)),
            }
        }
        Err(self.unavailable("no replica answered before the deadline"))
    }

    fn read(&self, query: Vec<u8>, consistency: ReadConsistency) -> Result<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_millis(READ_DEADLINE_MS);
        match consistency {
            ReadConsistency::Eventual => self.call_any(query, deadline),
            ReadConsistency::Strong => {
                match self.call_leader(&Request::StrongRead(query), deadline)? {
                    Reply::Read { value, .. } => Ok(value),
                    other => Err(unexpected(&other)),
                }
            }
        }
    }

    fn unavailable(&self, what: &str) -> StorageError {
        StorageError::io(
            &self.inner.dir,
            io::Error::new(io::ErrorKind::TimedOut, what.to_string()),
        )
    }
}

/// A weak, read-only handle on a group's progress: every running
/// replica's [`Status`] (commit and applied indexes, role, term), for
/// metrics such as replication lag. It never keeps the group alive; once
/// the last [`ReplicationGroup`] handle is gone it reports nothing.
pub struct GroupProbe<E = Lsm> {
    inner: std::sync::Weak<GroupInner<E>>,
}

impl<E> Clone for GroupProbe<E> {
    fn clone(&self) -> Self {
        GroupProbe {
            inner: std::sync::Weak::clone(&self.inner),
        }
    }
}

impl<E> fmt::Debug for GroupProbe<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupProbe")
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl<E> GroupProbe<E> {
    /// Whether the group still runs.
    pub fn is_alive(&self) -> bool {
        self.inner.strong_count() > 0
    }

    /// The status of every running replica, in id order; `None` once the
    /// group has stopped. Holds the group only while it copies them.
    pub fn statuses(&self) -> Option<Vec<Status>> {
        let inner = self.inner.upgrade()?;
        let replicas = inner
            .replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(
            replicas
                .values()
                .filter_map(Option::as_ref)
                .filter(|thread| thread.is_running())
                .map(ReplicaThread::status)
                .collect(),
        )
    }
}

fn unexpected(reply: &Reply) -> StorageError {
    StorageError::Failed {
        reason: format!("unexpected reply from a replica: {reply:?}"),
    }
}

// ANCHOR: engine
impl<E: StorageEngine + 'static> StorageEngine for ReplicationGroup<E> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, ReadConsistency::Strong)
    }

    /// Commits at a majority, applies at the leader, then returns the
    /// batch's log index.
    fn write(&self, batch: WriteBatch) -> Result<SequenceNumber> {
        batch.validate()?;
        if batch.ops().iter().any(|op| op.key() == APPLIED_INDEX_KEY) {
            return Err(StorageError::InvalidBatch {
                reason: "the batch writes the reserved applied-index key".to_string(),
            });
        }
        let payload = encode_batch(&batch);
        if payload.len() > WRITE_PAYLOAD_BYTES_MAX {
            return Err(StorageError::InvalidBatch {
                reason: format!(
                    "a batch of {} bytes exceeds {WRITE_PAYLOAD_BYTES_MAX} bytes",
                    payload.len()
                ),
            });
        }
        let deadline = Instant::now() + Duration::from_millis(WRITE_DEADLINE_MS);
        match self.call_leader(&Request::Write(payload), deadline)? {
            Reply::Written { index, output } => {
                decode_write_reply(&output)?;
                Ok(index)
            }
            Reply::Rejected(reason) => Err(StorageError::InvalidBatch { reason }),
            other => Err(unexpected(&other)),
        }
    }

    fn scan(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
    ) -> Result<Vec<KeyValue>> {
        self.scan_with(range, direction, limit, ReadConsistency::Strong)
    }

    /// Nothing to do: an acknowledged write is already in the synced logs
    /// of a majority of the replicas.
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn get_with(&self, key: &[u8], consistency: ReadConsistency) -> Result<Option<Vec<u8>>> {
        if key == APPLIED_INDEX_KEY {
            return Ok(None);
        }
        decode_get_reply(&self.read(get_query(key), consistency)?)
    }

    fn scan_with(
        &self,
        range: &KeyRange,
        direction: ScanDirection,
        limit: usize,
        consistency: ReadConsistency,
    ) -> Result<Vec<KeyValue>> {
        if limit == 0 || range.is_empty() {
            return Ok(Vec::new());
        }
        decode_scan_reply(&self.read(scan_query(range, direction, limit), consistency)?)
    }
}
// ANCHOR_END: engine

impl<E> Drop for GroupInner<E> {
    /// Stops every replica; each stop waits at most [`STOP_DEADLINE_MS`].
    fn drop(&mut self) {
        let replicas = std::mem::take(
            self.replicas
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (id, thread) in replicas {
            self.board.unregister(id);
            if let Some(thread) = thread {
                let _ = thread.stop();
            }
        }
    }
}
