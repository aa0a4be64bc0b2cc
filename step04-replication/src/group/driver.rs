//! One thread per replica, and the in-process network between them.
//!
//! ```text
//!  callers ──Request──┐                       ┌──▶ switchboard ──▶ peers' inboxes
//!  peers ───Message───┼─▶ inbox (bounded) ─▶ replica thread ┤
//!  clock (recv timeout)┘   host.handle …, one host.sync per batch └──▶ reply channels ─▶ callers
//! ```
//!
//! Each replica runs the same [`Host`] loop as a TCP node: take a batch of
//! events, feed them to the replica, sync the log once for the whole batch
//! (group commit), hand out the replies, and tick every
//! [`TICK_NOMINAL_MS`](crate::timing::TICK_NOMINAL_MS). The transport is a
//! *switchboard*: a map from replica id to that replica's inbox, so a
//! restarted replica is reachable again as soon as it registers its new
//! inbox.
//!
//! Why threads and not tokio tasks: the loop's work is blocking — fsyncs of
//! the log, writes and reads of the engine — and step 1's
//! [`StorageEngine`] is a blocking trait called from blocking threads
//! (step 3's table). On tokio every step would have to move to
//! `spawn_blocking` anyway. A thread per replica, a bounded channel and
//! `recv_timeout` for the clock is the whole runtime needed.
//!
//! Every queue is bounded. A message to a full inbox is dropped (the
//! protocol retransmits); a request to a full inbox, or beyond
//! [`PENDING_REQUESTS_MAX`], is answered `Busy`.
//!
//! After every batch the thread publishes its replica's [`Status`], and
//! its applied index alone in an atomic the group reads without a lock to
//! choose who serves an eventually consistent read (`group.rs`). The
//! published index only steers that choice; the read's reply carries the
//! index its state was read at, and that is what the group checks.

use super::machine::PartitionMachine;
use crate::file_storage::FileStorage;
use crate::host::{Host, Transport};
use crate::message::Message;
use crate::replica::{Input, Options, Reply, Request, Status};
use crate::state_machine::StateMachine;
use crate::storage::Storage;
use crate::types::{Config, LogIndex, NodeId, RequestId, Snapshot};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use step01_kv::engine::{Result, StorageEngine, StorageError};

/// Events waiting in one replica's inbox.
pub const INBOX_EVENTS_MAX: usize = 4096;
/// Events a replica takes before it syncs its log and replies.
pub const EVENTS_PER_BATCH_MAX: usize = 1024;
/// Requests one replica is working on.
pub const PENDING_REQUESTS_MAX: usize = 4096;
/// How long stopping a replica waits for its thread, in milliseconds. A
/// thread that has not stopped by then is left to finish on its own.
pub const STOP_DEADLINE_MS: u64 = 10_000;
/// How often a stopping thread is looked at, in milliseconds.
const STOP_POLL_MS: u64 = 5;
/// How long a paused replica sleeps before it looks at its flags again,
/// in milliseconds.
const PAUSE_POLL_MS: u64 = 5;

/// What reaches a replica's thread.
#[derive(Debug)]
pub(crate) enum Event {
    Message(Message),
    Request {
        request: Request,
        reply: SyncSender<Reply>,
    },
}

/// Who listens where: each live replica's inbox.
#[derive(Debug, Default)]
pub(crate) struct Switchboard {
    inboxes: RwLock<BTreeMap<NodeId, SyncSender<Event>>>,
}

impl Switchboard {
    pub(crate) fn inbox(&self, id: NodeId) -> Option<SyncSender<Event>> {
        self.inboxes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    fn register(&self, id: NodeId, inbox: SyncSender<Event>) {
        self.inboxes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, inbox);
    }

    pub(crate) fn unregister(&self, id: NodeId) {
        self.inboxes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

/// Delivers messages through the switchboard; never blocks.
#[derive(Debug)]
pub(crate) struct InProcessTransport {
    board: Arc<Switchboard>,
}

impl Transport for InProcessTransport {
    fn send(&mut self, message: Message) {
        if let Some(inbox) = self.board.inbox(message.to) {
            match inbox.try_send(Event::Message(message)) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

/// Opens a replica's engine in a directory.
pub type EngineOpener<E> = dyn Fn(&Path) -> Result<E> + Send + Sync;

/// A running replica thread.
#[derive(Debug)]
pub(crate) struct ReplicaThread {
    stop: Arc<AtomicBool>,
    /// A test hook: while set, the thread takes no events and no ticks.
    paused: Arc<AtomicBool>,
    handle: JoinHandle<std::result::Result<(), String>>,
    pub(crate) status: Arc<Mutex<Status>>,
}

impl ReplicaThread {
    /// True while the thread runs (it ends when stopped or on an error).
    pub(crate) fn is_running(&self) -> bool {
        !self.handle.is_finished()
    }

    pub(crate) fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Freezes the replica (it keeps its state and its inbox, but handles
    /// nothing, as a process stalled on a slow disk) or thaws it.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    /// Stops the thread and waits for it, at most [`STOP_DEADLINE_MS`].
    /// Returns the error that ended it, if one did.
    pub(crate) fn stop(self) -> std::result::Result<(), String> {
        self.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_millis(STOP_DEADLINE_MS);
        while !self.handle.is_finished() {
            if Instant::now() >= deadline {
                return Err("the replica thread did not stop in time".to_string());
            }
            thread::sleep(Duration::from_millis(STOP_POLL_MS));
        }
        self.handle
            .join()
            .unwrap_or_else(|_| Err("the replica thread panicked".to_string()))
    }
}

/// Everything a replica needs to start.
pub(crate) struct ReplicaSetup<'a, E> {
    pub(crate) id: NodeId,
    pub(crate) voters: &'a [NodeId],
    pub(crate) dir: &'a Path,
    pub(crate) opener: &'a EngineOpener<E>,
    pub(crate) options: Options,
    pub(crate) tick: Duration,
    pub(crate) board: &'a Arc<Switchboard>,
    /// Where the thread publishes its servable applied index.
    pub(crate) applied: &'a Arc<AtomicU64>,
}

/// Opens replica `id` from its directory (founding the group on first
/// start) and starts its thread. The storage and the engine are opened on
/// the caller's thread, so a damaged replica fails here.
pub(crate) fn start_replica<E: StorageEngine + 'static>(
    setup: ReplicaSetup<'_, E>,
) -> Result<ReplicaThread> {
    let mut storage = FileStorage::open(&setup.dir.join("raft"))?;
    if storage.is_empty() {
        storage.save_snapshot(&Snapshot {
            config: Config::with_voters(setup.voters.iter().copied()),
            ..Snapshot::default()
        })?;
    }
    let engine = (setup.opener)(&setup.dir.join("engine"))?;
    let machine = PartitionMachine::open(engine, setup.dir)?;
    let transport = InProcessTransport {
        board: Arc::clone(setup.board),
    };
    let seed = setup.id ^ seed_from_clock();
    let host =
        Host::open(setup.id, storage, transport, machine, setup.options, seed).map_err(|e| {
            StorageError::Failed {
                reason: format!("replica {} cannot start: {e}", setup.id),
            }
        })?;
    let status = Arc::new(Mutex::new(host.replica().status()));
    let stop = Arc::new(AtomicBool::new(false));
    let paused = Arc::new(AtomicBool::new(false));
    let (inbox, events) = mpsc::sync_channel(INBOX_EVENTS_MAX);
    setup
        .applied
        .store(servable_applied_index(&host), Ordering::SeqCst);
    let handle = {
        let flags = Flags {
            stop: Arc::clone(&stop),
            paused: Arc::clone(&paused),
        };
        let (status, applied, tick) = (Arc::clone(&status), Arc::clone(setup.applied), setup.tick);
        thread::Builder::new()
            .name(format!("replica-{}", setup.id))
            .spawn(move || {
                let outcome = run(host, &events, tick, &flags, &status, &applied);
                // Stopped or failed: nothing more to serve.
                applied.store(0, Ordering::SeqCst);
                outcome
            })
            .map_err(|e| StorageError::io(setup.dir, e))?
    };
    setup.board.register(setup.id, inbox);
    Ok(ReplicaThread {
        stop,
        paused,
        handle,
        status,
    })
}

/// What the group may set on a running replica thread.
struct Flags {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

type GroupHost<E> = Host<PartitionMachine<E>, FileStorage, InProcessTransport>;

/// The applied index this replica may be chosen at for an eventually
/// consistent read, or 0 (never chosen).
///
/// A replica restarted in place can hold more in its engine than its log
/// has replayed: the engine kept entries up to its applied record, while
/// the replica's applied index restarts at its snapshot. Its reads then
/// show state newer than the index they report, and a later read elsewhere
/// at the reported index could go back in time. So it is published as 0
/// until the replay has passed the engine's record, and as 0 once its
/// engine has failed.
fn servable_applied_index<E: StorageEngine>(host: &GroupHost<E>) -> LogIndex {
    let replica = host.replica();
    let machine = replica.machine();
    let applied = replica.applied_index();
    if machine.failure().is_some()
        || applied < machine.applied_index()
        || applied < machine.consistent_from()
    {
        0
    } else {
        applied
    }
}

/// The replica's loop: events in batches, one sync per batch, a tick on
/// time. Ends when asked to stop, or on a storage or engine failure.
fn run<E: StorageEngine>(
    mut host: GroupHost<E>,
    events: &Receiver<Event>,
    tick: Duration,
    flags: &Flags,
    status: &Mutex<Status>,
    applied: &AtomicU64,
) -> std::result::Result<(), String> {
    let mut pending: BTreeMap<u64, SyncSender<Reply>> = BTreeMap::new();
    let mut next_request = 0u64;
    // The first tick comes at once: a replica told to campaign at start
    // does so without waiting a tick's length.
    let mut next_tick = Instant::now();
    while !flags.stop.load(Ordering::SeqCst) {
        if flags.paused.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(PAUSE_POLL_MS));
            continue;
        }
        let mut replies = Vec::new();
        let wait = next_tick.saturating_duration_since(Instant::now());
        let first = match events.recv_timeout(wait) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let batch = first
            .into_iter()
            .chain(std::iter::from_fn(|| events.try_recv().ok()))
            .take(EVENTS_PER_BATCH_MAX);
        for event in batch {
            match event {
                Event::Message(message) => replies.extend(
                    host.handle(Input::Message(message))
                        .map_err(|e| e.to_string())?,
                ),
                Event::Request { request, reply } => {
                    if pending.len() >= PENDING_REQUESTS_MAX {
                        let _ = reply.try_send(Reply::Busy);
                        continue;
                    }
                    next_request += 1;
                    pending.insert(next_request, reply);
                    let input = Input::Request {
                        id: RequestId(next_request),
                        request,
                    };
                    replies.extend(host.handle(input).map_err(|e| e.to_string())?);
                }
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            replies.extend(host.handle(Input::Tick).map_err(|e| e.to_string())?);
            next_tick += tick;
            if next_tick < now {
                next_tick = now + tick; // Fell behind: skip ticks, don't burst.
            }
        }
        // One sync for the whole batch: group commit.
        replies.extend(host.sync().map_err(|e| e.to_string())?);
        // Published before the replies go out: a caller told that a write
        // is applied here finds this replica caught up with it.
        *status.lock().unwrap_or_else(PoisonError::into_inner) = host.replica().status();
        applied.store(servable_applied_index(&host), Ordering::SeqCst);
        for (id, reply) in replies {
            if let Some(caller) = pending.remove(&id.0) {
                // Capacity 1 and one reply per request: never full. A
                // caller that gave up has dropped its end.
                let _ = caller.try_send(reply);
            }
        }
        if let Some(reason) = host.replica().machine().failure() {
            return Err(format!("the engine failed: {reason}"));
        }
    }
    Ok(())
}
