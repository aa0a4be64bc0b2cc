//! A replica on real sockets: the same [`Replica`](crate::replica::Replica),
//! driven by a [`Host`] with a [`FileStorage`] and a TCP transport.
//!
//! ```text
//!  peer readers ─┐                              ┌─▶ peer link threads ─▶ peers
//!  client readers ┼─▶ inbox (bounded) ─▶ main loop ┤
//!  clock (recv timeout) ┘     host.handle, then one sync per batch └─▶ client writers ─▶ clients
//! ```
//!
//! One main thread owns the host and does everything that touches the
//! replica; other threads only move bytes. The main loop takes a batch of
//! events, feeds them to the host, then calls [`Host::sync`] once for the
//! whole batch — one fsync covers every write in it (group commit) — and
//! routes the replies.
//!
//! Every queue is bounded. The inbox blocks its producers when full
//! (backpressure on the sockets); the main loop never blocks on a full
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
use crate::tcp::frame::{FrameReader, FrameWriter};
use crate::types::{Config, NodeId, RequestId, Snapshot};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Events waiting for the main loop.
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
/// Events the main loop takes before it syncs and replies.
pub const EVENTS_PER_BATCH_MAX: usize = 1024;
/// The nominal length of a tick on real clocks.
pub const TICK_DEFAULT: Duration = Duration::from_millis(crate::timing::TICK_NOMINAL_MS);
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// After a failed connection attempt, messages to that peer are dropped
/// for this long before the next attempt.
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
pub const PEER_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often idle threads look at the stop flag.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

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
    Peer(Message),
    ClientConnected {
        conn: u64,
        replies: SyncSender<Vec<u8>>,
    },
    Client {
        conn: u64,
        id: RequestId,
        request: Request,
    },
    ClientGone(u64),
}

/// Sends messages through one link thread per peer; never blocks.
#[derive(Debug)]
struct TcpTransport {
    links: BTreeMap<NodeId, SyncSender<Message>>,
}

impl Transport for TcpTransport {
    fn send(&mut self, message: Message) {
        if let Some(link) = self.links.get(&message.to) {
            match link.try_send(message) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

/// The open incoming connections, so that stopping the node can shut them
/// down (ending their reader threads), and so that their number is bounded.
#[derive(Debug)]
struct Connections {
    open: Mutex<BTreeMap<u64, TcpStream>>,
    next_id: std::sync::atomic::AtomicU64,
    max: usize,
}

impl Connections {
    fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            open: Mutex::new(BTreeMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            max,
        })
    }

    /// Registers a connection; `None` if there are too many already.
    fn register(&self, stream: &TcpStream) -> Option<u64> {
        let clone = stream.try_clone().ok()?;
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= self.max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        open.insert(id, clone);
        Some(id)
    }

    fn forget(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    fn shut_down_all(&self) {
        for stream in self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    stop: Arc<AtomicBool>,
    main: JoinHandle<Result<(), NodeError>>,
}

impl Node {
    /// Opens the storage, binds the listeners (so that the node is
    /// reachable when this returns) and starts the node's threads.
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
        let peer_listener = TcpListener::bind(own)?;
        let client_listener = TcpListener::bind(config.client_addr)?;
        peer_listener.set_nonblocking(true)?;
        client_listener.set_nonblocking(true)?;

        // Open the replica before any thread starts, so that a damaged
        // state fails here and leaves nothing running.
        let mut links = BTreeMap::new();
        let mut outboxes = Vec::new();
        for (&peer, &addr) in config.peers.iter().filter(|(id, _)| **id != config.id) {
            let (link, outbox) = mpsc::sync_channel(OUTBOX_MESSAGES_MAX);
            links.insert(peer, link);
            outboxes.push((peer, addr, outbox));
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

        let stop = Arc::new(AtomicBool::new(false));
        let peer_connections = Connections::new(PEER_CONNECTIONS_MAX);
        let client_connections = Connections::new(CLIENT_CONNECTIONS_MAX);
        let (inbox, events) = mpsc::sync_channel(INBOX_EVENTS_MAX);
        let spawned = (|| -> io::Result<JoinHandle<Result<(), NodeError>>> {
            spawn_peer_acceptor(
                peer_listener,
                inbox.clone(),
                stop.clone(),
                peer_connections.clone(),
            )?;
            spawn_client_acceptor(
                client_listener,
                inbox,
                stop.clone(),
                client_connections.clone(),
            )?;
            for (peer, addr, outbox) in outboxes {
                spawn_link(peer, addr, outbox, stop.clone())?;
            }
            let main_stop = stop.clone();
            let (tick, log_roles) = (config.tick, config.log_roles);
            thread::Builder::new()
                .name(format!("node-{}", config.id))
                .spawn(move || {
                    let result = main_loop(host, events, tick, log_roles, &main_stop);
                    main_stop.store(true, Ordering::SeqCst);
                    peer_connections.shut_down_all();
                    client_connections.shut_down_all();
                    result
                })
        })();
        let main = match spawned {
            Ok(main) => main,
            Err(e) => {
                stop.store(true, Ordering::SeqCst); // Ends the threads already started.
                return Err(e.into());
            }
        };
        Ok(Node { stop, main })
    }

    /// Asks the node to stop; [`Node::wait`] returns once it has.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Waits until the node stops (after [`Node::stop`], or on an error).
    pub fn wait(self) -> Result<(), NodeError> {
        self.main
            .join()
            .unwrap_or_else(|_| Err(NodeError::Config("the node's main thread panicked".into())))
    }
}

fn main_loop(
    mut host: Host<KvMachine, FileStorage, TcpTransport>,
    events: Receiver<Event>,
    tick: Duration,
    log_roles: bool,
    stop: &AtomicBool,
) -> Result<(), NodeError> {
    let id = host.replica().id();
    let mut clients: BTreeMap<u64, SyncSender<Vec<u8>>> = BTreeMap::new();
    // Our request id -> (connection, the client's request id).
    let mut pending: BTreeMap<u64, (u64, RequestId)> = BTreeMap::new();
    let mut next_request = 0u64;
    let mut next_tick = Instant::now() + tick;
    let mut last_role = (Role::Follower, 0);
    while !stop.load(Ordering::SeqCst) {
        let mut replies = Vec::new();
        let wait = next_tick.saturating_duration_since(Instant::now());
        let first = match events.recv_timeout(wait.min(POLL_INTERVAL)) {
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
        let now = Instant::now();
        if now >= next_tick {
            replies.extend(host.handle(Input::Tick)?);
            next_tick += tick;
            if next_tick < now {
                next_tick = now + tick; // We fell behind: skip, don't burst.
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

fn send_reply(
    clients: &BTreeMap<u64, SyncSender<Vec<u8>>>,
    conn: u64,
    id: RequestId,
    reply: &Reply,
) {
    if let Some(writer) = clients.get(&conn) {
        // A full queue means the client does not read: it will time out.
        let _ = writer.try_send(encode_reply(id, reply));
    }
}

fn spawn_peer_acceptor(
    listener: TcpListener,
    inbox: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    connections: Arc<Connections>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("peer-acceptor".to_string())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if stream.set_nonblocking(false).is_err() {
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        let Some(id) = connections.register(&stream) else {
                            continue; // Dropping the stream closes it.
                        };
                        let inbox = inbox.clone();
                        let connections = connections.clone();
                        let _ = thread::Builder::new()
                            .name("peer-reader".to_string())
                            .spawn(move || {
                                read_peer(stream, inbox);
                                connections.forget(id);
                            });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL_INTERVAL),
                    Err(_) => thread::sleep(POLL_INTERVAL),
                }
            }
        })?;
    Ok(())
}

/// Reads messages from one peer connection until it closes or misbehaves.
fn read_peer(stream: TcpStream, inbox: SyncSender<Event>) {
    let mut reader = FrameReader::new(stream);
    while let Ok(Some(payload)) = reader.read_frame() {
        let Ok(message) = decode_message(&payload) else {
            return; // A peer that sends garbage is cut off.
        };
        if inbox.send(Event::Peer(message)).is_err() {
            return;
        }
    }
}

fn spawn_client_acceptor(
    listener: TcpListener,
    inbox: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    connections: Arc<Connections>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("client-acceptor".to_string())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        thread::sleep(POLL_INTERVAL);
                        continue;
                    }
                };
                if stream.set_nonblocking(false).is_err() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let Ok(write_half) = stream.try_clone() else {
                    continue;
                };
                let Some(conn) = connections.register(&stream) else {
                    continue; // Too many clients: dropping the stream closes it.
                };
                let (replies, outgoing) = mpsc::sync_channel(CLIENT_REPLIES_MAX);
                if inbox
                    .send(Event::ClientConnected { conn, replies })
                    .is_err()
                {
                    return;
                }
                let _ = thread::Builder::new()
                    .name("client-writer".to_string())
                    .spawn(move || write_client(write_half, outgoing));
                let inbox = inbox.clone();
                let connections = connections.clone();
                let _ = thread::Builder::new()
                    .name("client-reader".to_string())
                    .spawn(move || {
                        read_client(stream, conn, &inbox);
                        let _ = inbox.send(Event::ClientGone(conn));
                        connections.forget(conn);
                    });
            }
        })?;
    Ok(())
}

fn read_client(stream: TcpStream, conn: u64, inbox: &SyncSender<Event>) {
    let mut reader = FrameReader::new(stream);
    while let Ok(Some(payload)) = reader.read_frame() {
        let Ok((id, request)) = decode_request(&payload) else {
            return;
        };
        if inbox.send(Event::Client { conn, id, request }).is_err() {
            return;
        }
    }
}

fn write_client(stream: TcpStream, outgoing: Receiver<Vec<u8>>) {
    let mut writer = FrameWriter::new(stream);
    // Ends when the main loop drops the sender (the client left).
    while let Ok(frame) = outgoing.recv() {
        if writer.write_frame(&frame).is_err() {
            return;
        }
    }
}

/// One thread per peer: connects lazily, reconnects after failures, and
/// drops what it cannot send.
fn spawn_link(
    peer: NodeId,
    addr: SocketAddr,
    outbox: Receiver<Message>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    thread::Builder::new()
        .name(format!("link-{peer}"))
        .spawn(move || {
            let mut writer: Option<FrameWriter<TcpStream>> = None;
            let mut retry_at = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                let message = match outbox.recv_timeout(POLL_INTERVAL) {
                    Ok(message) => message,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                if writer.is_none() && Instant::now() >= retry_at {
                    writer = connect(addr);
                    if writer.is_none() {
                        retry_at = Instant::now() + RECONNECT_BACKOFF;
                    }
                }
                if let Some(w) = &mut writer
                    && w.write_frame(&encode_message(&message)).is_err()
                {
                    writer = None;
                }
            }
        })?;
    Ok(())
}

fn connect(addr: SocketAddr) -> Option<FrameWriter<TcpStream>> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok()?;
    stream.set_nodelay(true).ok()?;
    stream.set_write_timeout(Some(PEER_WRITE_TIMEOUT)).ok()?;
    Some(FrameWriter::new(stream))
}
