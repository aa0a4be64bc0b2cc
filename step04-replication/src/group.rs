//! A partition as a replication group, in one process: the storage engine
//! step 3's tables use, replicated three ways.
//!
//! [`ReplicationGroup`] implements step 1's [`StorageEngine`], so a step 3
//! `Table` runs on replication groups
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
//!   answered by any replica that has caught up with the group's *read
//!   floor*, in turn, from what it has applied; by the leader if none has
//!   (below).
//! * [`StorageEngine::sync`] has nothing to do: an acknowledged write is
//!   already in the fsynced logs of a majority.
//!
//! # Eventual reads that never miss an acknowledged write
//!
//! DynamoDB lets an eventually consistent read go to any replica, and it
//! may be stale. A group in one process can do better at no cost, because
//! every answer it gives passes through its handles. It keeps a *read
//! floor*: the highest log index whose effects it has shown any caller —
//! the index of every write it acknowledged, and the index of the state
//! every read returned, strong or eventual. The floor only grows.
//!
//! An eventual read loads the floor, then asks the next replica in turn
//! among those whose published applied index is at least the floor. The
//! reply carries the index its state was read at, and is used only if that
//! is at least the floor too: the published index only steers the choice,
//! the reply's is what the guarantee rests on. Otherwise — no replica has
//! caught up, or the chosen one is stopped, busy, slower than
//! [`EVENTUAL_ATTEMPT_TIMEOUT_MS`], failed or behind after all — the read
//! becomes a strong read at the leader. Just after the group is opened the
//! floor is 0, "unknown", and eventual reads take the strong path: the
//! first write or strong read answers with an index past everything
//! committed before, by an earlier process too.
//!
//! Why an index is enough: a replica applies only committed entries, in
//! log order, and a committed entry is the same on every replica. A state
//! at index `i` therefore holds every write with an index up to `i`, on
//! whichever replica it was read. Monotonic reads per replica (its applied
//! index only grows while it runs) would not be enough on their own, since
//! successive reads go to different replicas; comparing every reply with
//! the one floor is what makes the replica irrelevant. That needs a reply's
//! index to be its state's, and one case would break it: a replica
//! restarted in place comes back at its snapshot index while its engine may
//! already hold more. The driver publishes such a replica as not servable
//! until its replay has passed its engine's applied record.
//!
//! What holds, for the callers of this group in this process:
//!
//! * **Read your acknowledged writes** — anyone's: a read that starts
//!   after a write was acknowledged sees it, or a later write of the key.
//! * **Never older than what any caller was told is written**: a read that
//!   starts after another one returned shows a state at least as new,
//!   whichever replicas served the two — including writes acknowledged
//!   before the group was reopened. With writes ordered by the log, every
//!   call can be placed at its index in one order that respects real time.
//!
//! What does not hold:
//!
//! * A read concurrent with a write may see it or not, and a write whose
//!   outcome was unknown (a timeout) is promised nothing until some read
//!   shows it.
//! * Across processes, nothing is gained: the floor lives in this
//!   process. A group served by several request routers, as DynamoDB's
//!   partitions are, would need each router to pass its floor along; without
//!   that an eventual read is as stale as DynamoDB allows.
//! * A scan that step 3 reads in chunks is not one snapshot: each chunk
//!   may come from another replica, at an index at least the previous
//!   chunk's (a scan at the leader is no snapshot either).
//! * [`ReplicationGroup::get_at`] reads the replica it is given, floor or
//!   not: it is a test hook.
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
//! [`ReplicationGroup::pause_replica`], [`ReplicationGroup::get_at`],
//! [`ReplicationGroup::status`], [`ReplicationGroup::eventual_reads`] —
//! exist for tests and experiments: they crash, stall and revive replicas
//! the way a simulator would, but on real threads and disks.

mod driver;
mod hooks;
pub mod machine;
mod options;
mod probe;
pub mod query;
pub mod staging;

pub use driver::{EngineOpener, INBOX_EVENTS_MAX, PENDING_REQUESTS_MAX, STOP_DEADLINE_MS};
pub use machine::{APPLIED_INDEX_KEY, PARTITION_SNAPSHOT_BYTES_MAX, PartitionMachine};
pub use options::{
    ATTEMPT_TIMEOUT_MS, ENGINE_FSYNC_INTERVAL_MS, EVENTUAL_ATTEMPT_TIMEOUT_MS,
    GROUP_SNAPSHOT_INTERVAL_ENTRIES_DEFAULT, GroupOptions, READ_DEADLINE_MS, REPLICAS_DEFAULT,
    REPLICAS_MAX, RETRY_PAUSE_MS, WRITE_DEADLINE_MS, WRITE_PAYLOAD_BYTES_MAX,
};
pub use probe::GroupProbe;

use crate::replica::{Options, Reply, Request, Role, Status};
use crate::types::{LogIndex, NodeId};
use driver::{Event, ReplicaSetup, ReplicaThread, Switchboard, start_replica};
use query::{
    decode_get_reply, decode_scan_reply, decode_write_reply, get_query, is_ok_reply, scan_query,
};
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
use step02_lsm::lsm::Lsm;

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
    /// The read floor: the highest log index whose state any caller has
    /// been shown (0: unknown, no leader has answered yet). Only grows.
    floor: AtomicU64,
    /// Per replica (by position in `ids`): the applied index its thread
    /// last published as servable, 0 when stopped or not servable.
    applied: Vec<Arc<AtomicU64>>,
    /// Per replica (by position in `ids`): eventual reads it answered.
    served: Vec<AtomicU64>,
    /// Eventual reads that went to the leader's strong path instead.
    fallbacks: AtomicU64,
}

/// Who answered a group's eventually consistent reads, since it opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventualReads {
    /// Reads each replica answered from its own state, by replica id.
    pub served: BTreeMap<NodeId, u64>,
    /// Reads no caught-up replica answered, served by the leader as strong
    /// reads.
    pub fallbacks: u64,
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
                floor: AtomicU64::new(0),
                applied: ids.iter().map(|_| Arc::new(AtomicU64::new(0))).collect(),
                served: ids.iter().map(|_| AtomicU64::new(0)).collect(),
                fallbacks: AtomicU64::new(0),
            }),
        };
        // On an error, dropping `group` stops the replicas already started.
        // No replica of this group runs anywhere yet (the directory is this
        // process's), so none holds a lease: they may vote at once, and
        // the last one started — when every other already listens —
        // campaigns on its first tick.
        for &id in &ids {
            let fast_start = Options {
                no_lease_outstanding: true,
                campaign_at_start: Some(&id) == ids.last(),
                ..group.inner.options.raft
            };
            group.start_replica(id, fast_start)?;
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

    /// The read floor: the highest log index whose state this group has
    /// shown a caller (0 until a leader has answered). Every eventually
    /// consistent read returns a state at least this new.
    pub fn read_floor(&self) -> LogIndex {
        self.inner.floor.load(Ordering::SeqCst)
    }

    /// Who answered the eventually consistent reads so far.
    pub fn eventual_reads(&self) -> EventualReads {
        EventualReads {
            served: self
                .inner
                .ids
                .iter()
                .zip(&self.inner.served)
                .map(|(&id, count)| (id, count.load(Ordering::Relaxed)))
                .collect(),
            fallbacks: self.inner.fallbacks.load(Ordering::Relaxed),
        }
    }

    /// The position of replica `id` in `ids` (and in the per-replica
    /// vectors).
    fn slot(&self, id: NodeId) -> Option<usize> {
        self.inner.ids.iter().position(|&other| other == id)
    }

    /// Raises the read floor to `index`, a committed index some caller is
    /// about to be shown.
    fn observe(&self, index: LogIndex) {
        self.inner.floor.fetch_max(index, Ordering::SeqCst);
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
        if let Some(slot) = self.slot(id) {
            self.inner.applied[slot].store(0, Ordering::SeqCst);
        }
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
        self.start_replica(id, self.inner.options.raft)
    }

    fn start_replica(&self, id: NodeId, options: Options) -> Result<()> {
        if !self.inner.ids.contains(&id) {
            return Err(StorageError::Failed {
                reason: format!("no replica {id} in this group"),
            });
        }
        self.stop_replica(id)?;
        let dir = replica_dir(&self.inner.dir, id);
        let applied = self.slot(id).map(|slot| &self.inner.applied[slot]);
        let Some(applied) = applied else {
            return Err(StorageError::Failed {
                reason: format!("no replica {id} in this group"),
            });
        };
        let thread = start_replica(ReplicaSetup {
            id,
            voters: &self.inner.ids,
            dir: &dir,
            opener: self.inner.options.engine.as_ref(),
            options,
            tick: self.inner.options.tick,
            board: &self.inner.board,
            applied,
        })?;
        self.replicas().insert(id, Some(thread));
        Ok(())
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

    // ANCHOR: eventual_read
    /// An eventually consistent read: at the next replica in turn that has
    /// caught up with the read floor, or else a strong read at the leader.
    /// Never returns a state older than the floor was when it began.
    fn read_eventual(&self, query: Vec<u8>, deadline: Instant) -> Result<Vec<u8>> {
        let floor = self.inner.floor.load(Ordering::SeqCst);
        // 0: no leader has answered since the group opened, so the floor
        // says nothing about writes acknowledged before.
        if floor > 0
            && let Some(slot) = self.pick_reader(floor)
        {
            let id = self.inner.ids[slot];
            let wait = Instant::now() + Duration::from_millis(EVENTUAL_ATTEMPT_TIMEOUT_MS);
            let request = Request::EventualRead(query.clone());
            if let Ok(Reply::Read {
                value,
                applied_index,
            }) = self.attempt(id, request, deadline.min(wait))
                && applied_index >= floor
                && is_ok_reply(&value)
            {
                self.observe(applied_index);
                self.inner.served[slot].fetch_add(1, Ordering::Relaxed);
                return Ok(value);
            }
        }
        self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.read_strong(query, deadline)
    }
    // ANCHOR_END: eventual_read

    /// The position of the next replica in turn whose published applied
    /// index is at least `floor`, if any.
    fn pick_reader(&self, floor: LogIndex) -> Option<usize> {
        let count = self.inner.ids.len();
        let turn = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % count as u64;
        (0..count)
            .map(|step| (turn as usize + step) % count)
            .find(|&slot| self.inner.applied[slot].load(Ordering::SeqCst) >= floor)
    }

    /// A strongly consistent read at the leader; what it shows raises the
    /// floor.
    fn read_strong(&self, query: Vec<u8>, deadline: Instant) -> Result<Vec<u8>> {
        match self.call_leader(&Request::StrongRead(query), deadline)? {
            Reply::Read {
                value,
                applied_index,
            } => {
                self.observe(applied_index);
                Ok(value)
            }
            other => Err(unexpected(&other)),
        }
    }

    fn read(&self, query: Vec<u8>, consistency: ReadConsistency) -> Result<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_millis(READ_DEADLINE_MS);
        match consistency {
            ReadConsistency::Eventual => self.read_eventual(query, deadline),
            ReadConsistency::Strong => self.read_strong(query, deadline),
        }
    }

    fn unavailable(&self, what: &str) -> StorageError {
        StorageError::io(
            &self.inner.dir,
            io::Error::new(io::ErrorKind::TimedOut, what.to_string()),
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
                // Committed either way (a refused batch changes nothing):
                // every later read must show at least this state.
                self.observe(index);
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
