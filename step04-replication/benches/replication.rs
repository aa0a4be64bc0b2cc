//! Replicated writes against single-copy writes, in the same run.
//!
//! A replicated write costs more than a local one: the leader appends and
//! fsyncs, two followers receive it over TCP and fsync too, and the write
//! is acknowledged once two of the three copies are durable. This benchmark
//! measures how much more: three in-process nodes on loopback sockets, each
//! with its own write-ahead log on disk, against step 1's `KvStore` (one
//! fsynced copy) on the same disk, with 1 and 16 concurrent writers.
//!
//! A second pair does the same for a partition: a `ReplicationGroup` (three
//! in-process replicas, each an LSM tree under its Raft log) against one
//! LSM tree that fsyncs every write, both through the `StorageEngine` trait.
//!
//! Run: `cargo bench -p step04-replication --bench replication`.
//! Environment: `MINIDYNAMO_BENCH_SECONDS` (per phase, default 2),
//! `MINIDYNAMO_BENCH_DIR` (where the temporary directories go).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::{Duration, Instant};
use step01_kv::engine::{StorageEngine, WriteBatch};
use step01_kv::store::{KvOptions, KvStore};
use step02_lsm::lsm::{Lsm, LsmOptions};
use step04_replication::group::{GroupOptions, ReplicationGroup};
use step04_replication::state_machine::KvMachine;
use step04_replication::tcp::client::GroupClient;
use step04_replication::tcp::node::{Node, NodeConfig, TICK_DEFAULT};
use step04_replication::{NodeId, Options, Reply, Request};

const PHASE_SECONDS_DEFAULT: f64 = 2.0;
const VALUE_BYTES: usize = 100;
const WRITER_COUNTS: [usize; 2] = [1, 16];
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

fn phase() -> Duration {
    let seconds = std::env::var("MINIDYNAMO_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(PHASE_SECONDS_DEFAULT);
    Duration::from_secs_f64(seconds)
}

fn base_dir() -> PathBuf {
    std::env::var_os("MINIDYNAMO_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

struct Run {
    writes: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.writes as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort();
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }
}

/// `writers` threads each run `write(thread, i)` until the phase ends.
fn measure(writers: usize, duration: Duration, write: impl Fn(usize, u64) + Sync) -> Run {
    let barrier = Barrier::new(writers);
    let results: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|thread| {
                let (barrier, write) = (&barrier, &write);
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let mut latencies = Vec::new();
                    let mut i = 0;
                    while start.elapsed() < duration {
                        let t = Instant::now();
                        write(thread, i);
                        latencies.push(t.elapsed());
                        i += 1;
                    }
                    latencies
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let latencies: Vec<Duration> = results.into_iter().flatten().collect();
    Run {
        writes: latencies.len() as u64,
        elapsed: duration,
        latencies,
    }
}

fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners.iter().map(|l| l.local_addr().unwrap()).collect()
}

struct Group {
    nodes: Vec<Node>,
    clients: BTreeMap<NodeId, SocketAddr>,
    _dir: tempfile::TempDir,
}

fn start_group() -> Group {
    let dir = tempfile::tempdir_in(base_dir()).unwrap();
    let addrs = free_addrs(6);
    let peers: BTreeMap<NodeId, SocketAddr> = (1..=3).zip(addrs[..3].iter().copied()).collect();
    let clients: BTreeMap<NodeId, SocketAddr> = (1..=3).zip(addrs[3..].iter().copied()).collect();
    let nodes = (1..=3)
        .map(|id| {
            Node::start(NodeConfig {
                id,
                peers: peers.clone(),
                data_dir: dir.path().join(id.to_string()),
                client_addr: clients[&id],
                tick: TICK_DEFAULT,
                options: Options::default(),
                join: false,
                log_roles: false,
            })
            .unwrap()
        })
        .collect();
    // Wait for a leader: the first write goes through.
    let mut client = GroupClient::new(clients.clone(), CALL_TIMEOUT);
    let deadline = Instant::now() + Duration::from_secs(10);
    let (_, reply) = client
        .call_leader(&Request::Write(KvMachine::put(b"warm", b"up")), deadline)
        .unwrap();
    assert!(matches!(reply, Reply::Written { .. }), "{reply:?}");
    Group {
        nodes,
        clients,
        _dir: dir,
    }
}

fn replicated(group: &Group, writers: usize, duration: Duration) -> Run {
    let clients: Vec<std::sync::Mutex<GroupClient>> = (0..writers)
        .map(|_| std::sync::Mutex::new(GroupClient::new(group.clients.clone(), CALL_TIMEOUT)))
        .collect();
    let value = vec![0x5au8; VALUE_BYTES];
    measure(writers, duration, |thread, i| {
        let key = format!("w{writers}-t{thread}-{i}");
        let request = Request::Write(KvMachine::put(key.as_bytes(), &value));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut client = clients[thread].lock().unwrap();
        let (_, reply) = client.call_leader(&request, deadline).unwrap();
        assert!(matches!(reply, Reply::Written { .. }), "{reply:?}");
    })
}

fn single_copy(writers: usize, duration: Duration) -> Run {
    let dir = tempfile::tempdir_in(base_dir()).unwrap();
    let store = KvStore::open(dir.path(), KvOptions::default()).unwrap();
    let value = vec![0x5au8; VALUE_BYTES];
    measure(writers, duration, |thread, i| {
        let mut batch = WriteBatch::new();
        batch.put(format!("t{thread}-{i}"), value.clone());
        store.write(batch).unwrap();
    })
}

fn partition_group(writers: usize, duration: Duration) -> Run {
    let dir = tempfile::tempdir_in(base_dir()).unwrap();
    let group = ReplicationGroup::open(dir.path(), GroupOptions::default()).unwrap();
    group.put(b"warm", b"up").unwrap();
    let value = vec![0x5au8; VALUE_BYTES];
    measure(writers, duration, |thread, i| {
        group
            .put(format!("t{thread}-{i}").as_bytes(), &value)
            .unwrap();
    })
}

fn single_lsm(writers: usize, duration: Duration) -> Run {
    let dir = tempfile::tempdir_in(base_dir()).unwrap();
    let lsm = Lsm::open(dir.path(), LsmOptions::default()).unwrap();
    let value = vec![0x5au8; VALUE_BYTES];
    measure(writers, duration, |thread, i| {
        lsm.put(format!("t{thread}-{i}").as_bytes(), &value)
            .unwrap();
    })
}

fn main() {
    let duration = phase();
    println!(
        "replicated writes (3 nodes, loopback TCP, 2 of 3 durable) vs single-copy KvStore writes (1 fsync), {VALUE_BYTES}-byte values, {:.1}s per phase",
        duration.as_secs_f64()
    );
    let group = start_group();
    for writers in WRITER_COUNTS {
        let mut replicated = replicated(&group, writers, duration);
        let mut single = single_copy(writers, duration);
        println!(
            "{writers:>2} writers: replicated {:>8.0} writes/s (p50 {:>7.2?}, p99 {:>7.2?}) | single copy {:>8.0} writes/s (p50 {:>7.2?}, p99 {:>7.2?}) | replicated/single = {:.2}",
            replicated.per_second(),
            replicated.percentile(0.5),
            replicated.percentile(0.99),
            single.per_second(),
            single.percentile(0.5),
            single.percentile(0.99),
            replicated.per_second() / single.per_second(),
        );
    }
    println!(
        "partition writes: in-process replication group (3 LSM replicas, 2 of 3 logs durable) vs one LSM tree (1 fsync per write)"
    );
    for writers in WRITER_COUNTS {
        let mut replicated = partition_group(writers, duration);
        let mut single = single_lsm(writers, duration);
        println!(
            "{writers:>2} writers: group      {:>8.0} writes/s (p50 {:>7.2?}, p99 {:>7.2?}) | one LSM     {:>8.0} writes/s (p50 {:>7.2?}, p99 {:>7.2?}) | group/single = {:.2}",
            replicated.per_second(),
            replicated.percentile(0.5),
            replicated.percentile(0.99),
            single.per_second(),
            single.percentile(0.5),
            single.percentile(0.99),
            replicated.per_second() / single.per_second(),
        );
    }
    for node in &group.nodes {
        node.stop();
    }
    for node in group.nodes {
        node.wait().unwrap();
    }
}
