//! A small blocking client for the node's client port, and a group client
//! that finds the leader.
//!
//! The client protocol is one frame per request (`codec::encode_request`:
//! the client's request id, then the request) and one frame per reply
//! (`codec::encode_reply`, echoing the id). A connection may carry many
//! requests at once; replies come back as they are ready, in any order.

use crate::codec::{decode_reply, encode_request};
use crate::replica::{Reply, Request};
use crate::tcp::frame::{FrameReader, FrameWriter};
use crate::types::{NodeId, RequestId};
use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Replies to other requests a `call` skips before it gives up (they were
/// sent by earlier calls that timed out).
pub const STALE_REPLIES_MAX: usize = 1024;

/// One connection to one node. After any error, drop it and connect anew:
/// a timeout may have cut a frame in half.
#[derive(Debug)]
pub struct Client {
    reader: FrameReader<TcpStream>,
    writer: FrameWriter<TcpStream>,
    next_id: u64,
}

impl Client {
    /// Connects; `timeout` also bounds every later wait for a reply.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            reader: FrameReader::new(stream.try_clone()?),
            writer: FrameWriter::new(stream),
            next_id: 0,
        })
    }

    /// Sends a request without waiting; returns its id.
    pub fn send(&mut self, request: &Request) -> io::Result<RequestId> {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        self.writer.write_frame(&encode_request(id, request))?;
        Ok(id)
    }

    /// The next reply, whichever request it answers.
    pub fn receive(&mut self) -> io::Result<(RequestId, Reply)> {
        let frame = self
            .reader
            .read_frame()?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        decode_reply(&frame).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Sends a request and waits for its reply.
    pub fn call(&mut self, request: &Request) -> io::Result<Reply> {
        let id = self.send(request)?;
        for _ in 0..STALE_REPLIES_MAX {
            let (reply_id, reply) = self.receive()?;
            if reply_id == id {
                return Ok(reply);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "too many replies to other requests",
        ))
    }
}

/// Talks to a replication group: sends leader-only requests to the
/// leader, following `NotLeader` hints and trying the next node after a
/// failure, until a deadline.
#[derive(Debug)]
pub struct GroupClient {
    addrs: BTreeMap<NodeId, SocketAddr>,
    clients: BTreeMap<NodeId, Client>,
    leader: Option<NodeId>,
    timeout: Duration,
}

/// Pause before retrying when no node knows the leader.
pub const RETRY_PAUSE: Duration = Duration::from_millis(20);

impl GroupClient {
    /// `addrs`: each node's client address. `timeout` bounds each call.
    pub fn new(addrs: BTreeMap<NodeId, SocketAddr>, timeout: Duration) -> GroupClient {
        GroupClient {
            addrs,
            clients: BTreeMap::new(),
            leader: None,
            timeout,
        }
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// Sends `request` to one node and waits for the reply.
    pub fn call_node(&mut self, node: NodeId, request: &Request) -> io::Result<Reply> {
        let client = match self.clients.entry(node) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                let addr = self
                    .addrs
                    .get(&node)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown node"))?;
                entry.insert(Client::connect(*addr, self.timeout)?)
            }
        };
        let result = client.call(request);
        if result.is_err() {
            self.clients.remove(&node);
        }
        result
    }

    /// Sends `request` to the leader, retrying until `deadline`. Returns
    /// the node that answered and its reply — which may still be
    /// `Unknown` (the outcome of a write is then unknown) or `Rejected`.
    pub fn call_leader(
        &mut self,
        request: &Request,
        deadline: Instant,
    ) -> io::Result<(NodeId, Reply)> {
        let nodes: Vec<NodeId> = self.addrs.keys().copied().collect();
        let mut next = 0usize;
        while Instant::now() < deadline {
            let node = self.leader.unwrap_or_else(|| {
                next += 1;
                nodes[next % nodes.len().max(1)]
            });
            match self.call_node(node, request) {
                Ok(Reply::NotLeader { leader }) => {
                    self.leader = leader.filter(|&l| l != node);
                    if self.leader.is_none() {
                        std::thread::sleep(RETRY_PAUSE);
                    }
                }
                Ok(Reply::Busy) => std::thread::sleep(RETRY_PAUSE),
                Ok(reply) => {
                    self.leader = Some(node);
                    return Ok((node, reply));
                }
                Err(_) => {
                    self.leader = None;
                    std::thread::sleep(RETRY_PAUSE);
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no leader answered in time",
        ))
    }
}
