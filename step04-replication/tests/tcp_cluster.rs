//! Three nodes as separate processes on 127.0.0.1: a client writes
//! continuously, the leader is killed with SIGKILL, a new leader takes over,
//! and the killed node restarts and catches up. Every acknowledged write
//! must be readable throughout.
//!
//! `MINIDYNAMO_TCP_VERBOSE=1` shows the nodes' role changes on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use step04_replication::state_machine::{KvMachine, decode_value};
use step04_replication::tcp::client::GroupClient;
use step04_replication::{NodeId, Reply, Request};

const NODES: [NodeId; 3] = [1, 2, 3];
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
const PHASE_DEADLINE: Duration = Duration::from_secs(30);
const WRITES_BEFORE_KILL: usize = 30;
const WRITES_AFTER_KILL: usize = 30;
/// Small, so that the nodes compact their logs and the restarted node
/// catches up from a snapshot.
const SNAPSHOT_ENTRIES: u64 = 16;

struct Cluster {
    dir: tempfile::TempDir,
    peers: BTreeMap<NodeId, SocketAddr>,
    clients: BTreeMap<NodeId, SocketAddr>,
    children: BTreeMap<NodeId, Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Ports the OS says are free right now.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Cluster {
    fn new() -> Cluster {
        let ports = free_ports(2 * NODES.len());
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        Cluster {
            dir: tempfile::tempdir().unwrap(),
            peers: NODES
                .iter()
                .zip(&ports)
                .map(|(&id, &p)| (id, addr(p)))
                .collect(),
            clients: NODES
                .iter()
                .zip(&ports[NODES.len()..])
                .map(|(&id, &p)| (id, addr(p)))
                .collect(),
            children: BTreeMap::new(),
        }
    }

    fn start(&mut self, id: NodeId) {
        let peers: Vec<String> = self
            .peers
            .iter()
            .map(|(id, a)| format!("{id}={a}"))
            .collect();
        let verbose = std::env::var_os("MINIDYNAMO_TCP_VERBOSE").is_some();
        let mut child = Command::new(env!("CARGO_BIN_EXE_node"))
            .args(["--id", &id.to_string()])
            .args(["--peers", &peers.join(",")])
            .arg("--data-dir")
            .arg(self.dir.path().join(id.to_string()))
            .args(["--client-port", &self.clients[&id].port().to_string()])
            .args(["--snapshot-entries", &SNAPSHOT_ENTRIES.to_string()])
            .stdout(Stdio::piped())
            .stderr(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "node {id} did not start");
        self.children.insert(id, child);
    }

    fn kill(&mut self, id: NodeId) {
        let mut child = self.children.remove(&id).unwrap();
        child.kill().unwrap(); // SIGKILL on Unix.
        child.wait().unwrap();
    }

    fn group_client(&self) -> GroupClient {
        GroupClient::new(self.clients.clone(), CALL_TIMEOUT)
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("key{i}").into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    format!("value{i}").into_bytes()
}

/// Writes keys 0, 1, 2, ... until `stop`, recording acknowledged ones and
/// the node that acknowledged the latest.
fn writer(
    mut client: GroupClient,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<u64>>>,
    last_leader: Arc<AtomicU64>,
) {
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let request = Request::Write(KvMachine::put(&key(i), &value(i)));
        let deadline = Instant::now() + Duration::from_secs(5);
        if let Ok((node, Reply::Written { .. })) = client.call_leader(&request, deadline) {
            acked.lock().unwrap().push(i);
            last_leader.store(node, Ordering::SeqCst);
        }
        i += 1;
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PHASE_DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Reads every acknowledged key with a strong read through the leader.
fn check_strong_reads(client: &mut GroupClient, acked: &[u64]) {
    for &i in acked {
        let deadline = Instant::now() + PHASE_DEADLINE;
        let (_, reply) = client
            .call_leader(&Request::StrongRead(key(i)), deadline)
            .unwrap();
        let Reply::Read { value: bytes, .. } = reply else {
            panic!("strong read of key {i}: {reply:?}");
        };
        assert_eq!(decode_value(&bytes).unwrap(), Some(value(i)), "key {i}");
    }
}

#[test]
fn acknowledged_writes_survive_killing_the_leader() {
    let mut cluster = Cluster::new();
    for id in NODES {
        cluster.start(id);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let last_leader = Arc::new(AtomicU64::new(0));
    let writer = {
        let (client, stop, acked, last_leader) = (
            cluster.group_client(),
            stop.clone(),
            acked.clone(),
            last_leader.clone(),
        );
        thread::spawn(move || writer(client, stop, acked, last_leader))
    };

    wait_for("the first writes", || {
        acked.lock().unwrap().len() >= WRITES_BEFORE_KILL
    });
    let old_leader = last_leader.load(Ordering::SeqCst);
    cluster.kill(old_leader);
    let acked_at_kill = acked.lock().unwrap().len();
    wait_for("writes through a new leader", || {
        acked.lock().unwrap().len() >= acked_at_kill + WRITES_AFTER_KILL
    });
    let new_leader = last_leader.load(Ordering::SeqCst);
    assert_ne!(new_leader, old_leader, "a new leader took over");
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();

    // Every acknowledged write is readable at the new leader.
    let mut client = cluster.group_client();
    check_strong_reads(&mut client, &acked);

    // The killed node restarts, catches up, and serves the same data.
    cluster.start(old_leader);
    wait_for("the restarted node to catch up", || {
        acked.iter().all(|&i| {
            matches!(
                client.call_node(old_leader, &Request::EventualRead(key(i))),
                Ok(Reply::Read { value: bytes, .. })
                    if decode_value(&bytes).ok().flatten() == Some(value(i))
            )
        })
    });
    check_strong_reads(&mut client, &acked);
}
