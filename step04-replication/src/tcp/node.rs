//! A replica on real sockets: the same [`Replica`](crate::replica::Replica),
//! driven by a [`Host`] with a [`FileStorage`] and a TCP transport on tokio.
//!
//! ```text
//!  peer reader tasks ─┐                                ┌─▶ peer link tasks ─▶ peers
//!  client reader tasks ┼─▶ inbox (bounded) ─▶ replica thread ┤
//!  tick task ──────────┘   host.handle, then one sync per batch └─▶ client writer tasks ─▶ clients
//! ```
//!
//! The network runs on a small tokio runtime owned by the node: one task
//! per connection direction, one per peer link, one per listener, and one
//! that turns the clock into `Tick` events. The replica itself runs on one
//! dedicated thread, because everything it does blocks — above all the
//! fsync of its log — and a blocked runtime worker would stall every
//! socket. That thread takes a batch of events from the inbox, feeds them
//! to the host, then calls [`Host::sync`] once for the whole batch — one
//! fsync covers every write in it (group commit) — and routes the replies.
//! The simulator drives the very same `Replica` with virtual time and a
//! virtual network; only the host's surroundings differ.
//!
//! Every queue is bounded. The inbox makes its producers wait when full
//! (backpressure on the sockets); the replica thread never waits on a full
//! outgoing queue: it drops the message (the protocol retransmits) or the
//! reply (the client times out). Every address must be on the loopback
//! interface.

use crate::codec::{decode_message, decode_request, encode_message, encode_reply};
use crate::file_storage::FileStorage;
use crate::host::{Host, HostError, Transport};
use crate::message::Message;
use crate::replica::{Input, Options, Reply, Request, Role};
use crate::state_machine::KvMachine;
use crate::storage::{Storage, StorageError};
use crate::tcp::frame::{AsyncFrameReader, AsyncFrameWriter};
use crate::types::{Config, NodeId, RequestId, Snapshot};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{self, Receiver, Sender};
use tokio::time::{Instant, MissedTickBehavior, timeout};

/// Events waiting for the replica thread.
pub const INBOX_EVENTS_MAX: usize = 4096;
/// Messages waiting to go to one peer.
pub const OUTBOX_MESSAGES_MAX: usize = 1024;
/// Replies waiting to go to one client connection.
pub const CLIENT_REPLIES_MAX: usize = 1024;
pub const CLIENT_CONNECTIONS_MAX: usize = 256;
/// Incoming peer connections (each peer opens one; more means old ones
/// are still closing, or someone misbehaves).
pub const PEER_CONNECTIONS_MAX: usize = 64;
/// Client requests the replica is working on, over all connections.
pub const PENDING_REQUESTS_MAX: usize = 8192;
/// Events the replica thread takes before it syncs and replies.
pub const EVENTS_PER_BATCH_MAX: usize = 1024;
/// The nominal length of a tick on real clocks.
pub const TICK_DEFAULT: Duration = Duration::from_millis(crate::timing::TICK_NOMINAL_MS);
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// After a failed connection attempt, messages to that peer are dropped
/// for this long before the next attempt.
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
pub const PEER_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// The pause after a failed `accept`.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);
/// Worker threads of the node's runtime: the network only moves bytes.
pub const IO_THREADS: usize = 2;
/// How long stopping a node waits for its network tasks to end.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// How a node is started.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub id: NodeId,
    /// Every replica of the group and its peer address, this one included.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    pub data_dir: PathBuf,
    pub client_addr: SocketAddr,
    pub tick: Duration,
    pub options: Options,
    /// Start empty, to be added to an existing group as a learner, instead
    /// of founding a group of `peers`.
    pub join: bool,
    /// Print role changes ("Leader in term 3") on stderr.
    pub log_roles: bool,
}

#[derive(Debug)]
pub enum NodeError {
    Config(String),
    Io(io::Error),
    Host(HostError),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Config(message) => write!(f, "bad configuration: {message}"),
            NodeError::Io(e) => write!(f, "I/O error: {e}"),
            NodeError::Host(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for NodeError {}

impl From<io::Error> for NodeError {
    fn from(e: io::Error) -> Self {
        NodeError::Io(e)
    }
}

impl From<HostError> for NodeError {
    fn from(e: HostError) -> Self {
        NodeError::Host(e)
    }
}

impl From<StorageError> for NodeError {
    fn from(e: StorageError) -> Self {
        NodeError::Host(HostError::Storage(e))
    }
}

enum Event {
    Tick,
    Peer(Message),
    ClientConnected {
        conn: u64,
        replies: Sender<Vec<u8>>,
    },
    Client {
        conn: u64,
        id: RequestId,
        request: Request,
    },
    ClientGone(u64),
}

/// Sends messages through one link task per peer; never blocks.
#[derive(Debug)]
struct TcpTransport {
    links: BTreeMap<NodeId, Sender<Message>>,
}

impl Transport for TcpTransport {
    fn send(&mut self, message: Message) {
        if let Some(link) = self.links.get(&message.to) {
            match link.try_send(message) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {}
            }
        }
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    stop: Arc<AtomicBool>,
    main: JoinHandle<Result<(), NodeError>>,
    runtime: Runtime,
}

impl Node {
    /// Opens the storage, binds the listeners (so that the node is
    /// reachable when this returns) and starts the replica thread and the
    /// network tasks.
    pub fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let own = *config
            .peers
            .get(&config.id)
            .ok_or_else(|| NodeError::Config(format!("--peers does not name {}", config.id)))?;
        for addr in config.peers.values().chain([&config.client_addr]) {
            if !addr.ip().is_loopback() {
                return Err(NodeError::Config(format!(
                    "{addr} is not a loopback address: nodes serve 127.0.0.1 only"
                )));
            }
        }
        let mut storage = FileStorage::open(&config.data_dir)?;
        if storage.is_empty() && !config.join {
            storage.save_snapshot(&Snapshot {
                config: Config::with_voters(config.peers.keys().copied()),
                ..Snapshot::default()
            })?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name(format!("node-{}-io", config.id))
            .enable_all()
            .build()?;
        let (peer_listener, client_listener) = {
            let _context = runtime.enter();
            (bind(own)?, bind(config.client_addr)?)
        };

        // Open the replica before any task starts, so that a damaged state
        // fails here and leaves nothing running.
        let mut links = BTreeMap::new();
        let mut outboxes = Vec::new();
        for (&peer, &addr) in config.peers.iter().filter(|(id, _)| **id != config.id) {
            let (link, outbox) = mpsc::channel(OUTBOX_MESSAGES_MAX);
            links.insert(peer, link);
            outboxes.push((addr, outbox));
        }
        let seed = config.id ^ u64::from(std::process::id());
        let host = Host::open(
            config.id,
            storage,
            TcpTransport { links },
            KvMachine::new(),
            config.options,
            seed,
        )?;

        let (inbox, events) = mpsc::channel(INBOX_EVENTS_MAX);
        runtime.spawn(accept_peers(peer_listener, inbox.clone()));
        runtime.spawn(accept_clients(client_listener, inbox.clone()));
        for (addr, outbox) in outboxes {
            runtime.spawn(link(addr, outbox));
        }
        runtime.spawn(clock(config.tick, inbox));
        let stop = Arc::new(AtomicBool::new(false));
        let main_stop = Arc::clone(&stop);
        let log_roles = config.log_roles;
        let main = thread::Builder::new()
            .name(format!("node-{}", config.id))
            .spawn(move || main_loop(host, events, log_roles, &main_stop))?;
        Ok(Node {
            stop,
            main,
            runtime,
        })
    }

    /// Asks the node to stop; [`Node::wait`] returns once it has.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Waits until the replica thread stops (after [`Node::stop`], or on
    /// an error), then ends the network tasks, closing every connection.
    pub fn wait(self) -> Result<(), NodeError> {
        let result = self
            .main
            .join()
            .unwrap_or_else(|_| Err(NodeError::Config("the node's main thread panicked".into())));
        self.runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        result
    }
}

/// Binds a listener on a loopback address (inside the runtime's context).
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

fn main_loop(
    mut host: Host<KvMachine, FileStorage, TcpTransport>,
    mut events: Receiver<Event>,
    log_roles: bool,
    stop: &AtomicBool,
) -> Result<(), NodeError> {
    let id = host.replica().id();
    let mut clients: BTreeMap<u64, Sender<Vec<u8>>> = BTreeMap::new();
    // Our request id -> (connection, the client's request id).
    let mut pending: BTreeMap<u64, (u64, RequestId)> = BTreeMap::new();
    let mut next_request = 0u64;
    let mut last_role = (Role::Follower, 0);
    // The clock task sends a tick at least every tick length, so the stop
    // flag is looked at that often.
    while !stop.load(Ordering::SeqCst) {
        let mut replies = Vec::new();
        let Some(first) = events.blocking_recv() else {
            break; // The runtime is gone.
        };
        let batch = std::iter::once(first)
            .chain(std::iter::from_fn(|| events.try_recv().ok()))
            .take(EVENTS_PER_BATCH_MAX);
        for event in batch {
            match event {
                Event::Tick => replies.extend(host.handle(Input::Tick)?),
                Event::Peer(message) => replies.extend(host.handle(Input::Message(message))?),
                Event::ClientConnected { conn, replies } => {
                    clients.insert(conn, replies);
                }
                Event::ClientGone(conn) => {
                    clients.remove(&conn);
                    pending.retain(|_, (c, _)| *c != conn);
                }
                Event::Client {
                    conn,
                    id: client_id,
                    request,
                } => {
                    if pending.len() >= PENDING_REQUESTS_MAX {
                        send_reply(&clients, conn, client_id, &Reply::Busy);
                        continue;
                    }
                    next_request += 1;
                    pending.insert(next_request, (conn, client_id));
                    let input = Input::Request {
                        id: RequestId(next_request),
                        request,
                    };
                    replies.extend(host.handle(input)?);
                }
            }
        }
        // One sync for the whole batch: group commit.
        replies.extend(host.sync()?);
        for (request, reply) in replies {
            if let Some((conn, client_id)) = pending.remove(&request.0) {
                send_reply(&clients, conn, client_id, &reply);
            }
        }
        let role = (host.replica().role(), host.replica().term());
        if role != last_role && log_roles {
            eprintln!("node {id}: {:?} in term {}", role.0, role.1);
            last_role = role;
        }
    }
    Ok(())
}

fn send_reply(clients: &BTreeMap<u64, Sender<Vec<u8>>>, conn: u64, id: RequestId, reply: &Reply) {
    if let Some(writer) = clients.get(&conn) {
        // A full queue means the client does not read: it will time out.
        let _ = writer.try_send(encode_reply(id, reply));
    }
}

/// Turns the clock into `Tick` events. A tick that comes late is not made
/// up for with a burst: the replica's clock just runs slow for a moment,
/// which the lease margin allows for (`timing.rs`).
async fn clock(tick: Duration, inbox: Sender<Event>) {
    let mut interval = tokio::time::interval_at(Instant::now() + tick, tick);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if inbox.send(Event::Tick).await.is_err() {
            return; // The replica thread stopped.
        }
    }
}

async fn accept_peers(listener: TcpListener, inbox: Sender<Event>) {
    let slots = Arc::new(Semaphore::new(PEER_CONNECTIONS_MAX));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, say: let some close before trying again.
            tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            continue;
        };
        // Too many: dropping the stream closes it.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let inbox = inbox.clone();
        tokio::spawn(async move {
            read_peer(stream, &inbox).await;
            drop(slot);
        });
    }
}

/// Reads messages from one peer connection until it closes or misbehaves.
async fn read_peer(stream: TcpStream, inbox: &Sender<Event>) {
    let mut reader = AsyncFrameReader::new(stream);
    while let Ok(Some(payload)) = reader.read_frame().await {
        let Ok(message) = decode_message(&payload) else {
            return; // A peer that sends garbage is cut off.
        };
        if inbox.send(Event::Peer(message)).await.is_err() {
            return;
        }
    }
}

async fn accept_clients(listener: TcpListener, inbox: Sender<Event>) {
    let slots = Arc::new(Semaphore::new(CLIENT_CONNECTIONS_MAX));
    let next_conn = AtomicU64::new(1);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, say: let some close before trying again.
            tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue; // Too many clients: dropping the stream closes it.
        };
        let _ = stream.set_nodelay(true);
        let conn = next_conn.fetch_add(1, Ordering::Relaxed);
        let (replies, outgoing) = mpsc::channel(CLIENT_REPLIES_MAX);
        if inbox
            .send(Event::ClientConnected { conn, replies })
            .await
            .is_err()
        {
            return;
        }
        let (read_half, write_half) = stream.into_split();
        tokio::spawn(write_client(write_half, outgoing));
        let inbox = inbox.clone();
        tokio::spawn(async move {
            read_client(read_half, conn, &inbox).await;
            let _ = inbox.send(Event::ClientGone(conn)).await;
            drop(slot);
        });
    }
}

async fn read_client(stream: tokio::net::tcp::OwnedReadHalf, conn: u64, inbox: &Sender<Event>) {
    let mut reader = AsyncFrameReader::new(stream);
    while let Ok(Some(payload)) = reader.read_frame().await {
        let Ok((id, request)) = decode_request(&payload) else {
            return;
        };
        if inbox
            .send(Event::Client { conn, id, request })
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn write_client(stream: tokio::net::tcp::OwnedWriteHalf, mut outgoing: Receiver<Vec<u8>>) {
    let mut writer = AsyncFrameWriter::new(stream);
    // Ends when the replica thread drops the sender (the client left).
    while let Some(frame) = outgoing.recv().await {
        if writer.write_frame(&frame).await.is_err() {
            return;
        }
    }
}

/// One task per peer: connects lazily, reconnects after failures, and
/// drops what it cannot send.
async fn link(addr: SocketAddr, mut outbox: Receiver<Message>) {
    let mut writer: Option<AsyncFrameWriter<TcpStream>> = None;
    let mut retry_at = Instant::now();
    // Ends when the replica thread drops the sender.
    while let Some(message) = outbox.recv().await {
        if writer.is_none() && Instant::now() >= retry_at {
            writer = connect(addr).await;
            if writer.is_none() {
                retry_at = Instant::now() + RECONNECT_BACKOFF;
            }
        }
        if let Some(w) = &mut writer {
            let frame = encode_message(&message);
            match timeout(PEER_WRITE_TIMEOUT, w.write_frame(&frame)).await {
                Ok(Ok(())) => {}
                // A frame cut by the timeout leaves the stream unusable.
                Ok(Err(_)) | Err(_) => writer = None,
            }
        }
    }
}

async fn connect(addr: SocketAddr) -> Option<AsyncFrameWriter<TcpStream>> {
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    stream.set_nodelay(true).ok()?;
    Some(AsyncFrameWriter::new(stream))
}
