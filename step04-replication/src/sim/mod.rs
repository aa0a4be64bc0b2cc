//! A deterministic simulator: a whole replication group in one thread, in
//! virtual time, with every fault a seed can schedule.
//!
//! Real clusters fail in ways too rare to meet in a test suite: a leader
//! cut off exactly while a client reads, a power loss between a write and
//! its fsync, a message delivered twice, a minute late. The simulator makes
//! them common and repeatable. Everything runs on one event queue ordered
//! by virtual time; every random choice comes from one seeded [`Rng`]; the
//! replicas are the real [`Replica`] code behind
//! the real [`Host`]. So a seed is a complete description of a run, and a
//! failing seed replays exactly, as often as you need to understand it.
//!
//! What is simulated:
//!
//! * **time** — each replica's clock ticks at its own rate, up to
//!   [`CLOCK_DRIFT_PERCENT_MAX`] percent fast or slow;
//! * **the network** ([`network`]) — delays, loss, duplication, reordering,
//!   partitions;
//! * **disks** — [`MemStorage`]: an fsync takes time, and a crash keeps the
//!   durable state plus all (process crash) or a prefix (power loss) of the
//!   unsynced writes;
//! * **clients** ([`workload`]) and **faults** ([`faults`]); [`run`] puts a
//!   whole run together and checks it.
//!
//! Invariants checked while the simulation runs (reported as violations):
//! at most one leader per term, and every replica applies the same entry at
//! each index. A replica's own assertions (commit index never decreases,
//! applied ≤ committed, no committed entry truncated) panic; the runner
//! reports the panic with the seed.

pub mod faults;
pub mod network;
pub mod run;
pub mod workload;

use crate::host::Host;
use crate::message::{Body, Message};
use crate::replica::{Input, Options, Replica, Reply, Request, Role};
use crate::rng::Rng;
use crate::state_machine::KvMachine;
use crate::storage::{MemStorage, Storage};
use crate::timing::CLOCK_DRIFT_PERCENT_MAX;
use crate::types::{DurableState, LogIndex, NodeId, RequestId, Term};
use network::{Network, NetworkConfig};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Virtual time, in microseconds.
pub type Time = u64;

/// The nominal length of a tick.
pub const TICK_MICROS: Time = 1_000;
/// How long a client's request or reply takes to travel.
pub const CLIENT_DELAY_MICROS_MIN: Time = 50;
pub const CLIENT_DELAY_MICROS_MAX: Time = 500;
/// How long an fsync takes.
pub const FSYNC_MICROS_MIN: Time = 100;
pub const FSYNC_MICROS_MAX: Time = 1_500;
/// Messages in flight beyond this are dropped (the network is full).
pub const MESSAGES_IN_FLIGHT_MAX: usize = 20_000;

/// How a simulation starts.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    /// The initial voters.
    pub voters: Vec<NodeId>,
    pub options: Options,
    pub network: NetworkConfig,
    /// Give each replica's clock a random rate within the drift bound.
    pub drift: bool,
}

/// Something the driver of a simulation asked to be woken for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Client(usize),
    ClientTimeout(u64),
    Fault(usize),
    EndFault(usize),
    Operator,
    Check,
}

/// What [`Sim::step`] saw that its driver cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Something inside the group happened.
    Internal,
    /// A reply reached the client of operation `op`.
    Reply {
        op: u64,
        reply: Reply,
    },
    Wake(Wake),
}

#[derive(Clone, Debug)]
enum Event {
    Tick {
        node: NodeId,
        incarnation: u64,
    },
    Deliver(Message),
    Sync {
        node: NodeId,
        incarnation: u64,
    },
    Request {
        node: NodeId,
        op: u64,
        request: Request,
    },
    Reply {
        op: u64,
        reply: Reply,
    },
    Wake(Wake),
}

#[derive(Debug)]
struct Scheduled {
    at: Time,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

type SimHost = Host<KvMachine, MemStorage, Vec<Message>>;

#[derive(Debug)]
enum NodeState {
    Up(Box<SimHost>),
    Down(MemStorage),
}

#[derive(Debug)]
struct SimNode {
    /// This replica's tick length: its clock's drift.
    tick_micros: Time,
    /// Bumped by every crash, so events of an earlier life are ignored.
    incarnation: u64,
    state: NodeState,
    sync_scheduled: bool,
}

/// Counters for a run's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub events: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub crashes: u64,
    pub highest_term: Term,
    /// `InstallSnapshot` messages sent: followers caught up by snapshot.
    pub snapshots_sent: u64,
}

/// A replication group in a simulated world.
#[derive(Debug)]
pub struct Sim {
    now: Time,
    seed: u64,
    rng: Rng,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    in_flight: usize,
    nodes: BTreeMap<NodeId, SimNode>,
    network: Network,
    options: Options,
    /// Who led each term: election safety is checked against it.
    leaders: BTreeMap<Term, NodeId>,
    /// The payload applied at each index, by whichever replica applied it
    /// first: every other replica must apply the same.
    applied: BTreeMap<LogIndex, Vec<u8>>,
    violations: Vec<String>,
    stats: SimStats,
}

impl Sim {
    pub fn new(config: SimConfig) -> Sim {
        let mut sim = Sim {
            now: 0,
            seed: config.seed,
            rng: Rng::derive(config.seed, 0x51),
            queue: BinaryHeap::new(),
            seq: 0,
            in_flight: 0,
            nodes: BTreeMap::new(),
            network: Network::new(config.network),
            options: config.options,
            leaders: BTreeMap::new(),
            applied: BTreeMap::new(),
            violations: Vec::new(),
            stats: SimStats::default(),
        };
        for &id in &config.voters {
            let storage = MemStorage::new(DurableState::bootstrap(config.voters.iter().copied()));
            sim.start_node(id, storage, config.drift);
        }
        sim
    }

    fn start_node(&mut self, id: NodeId, storage: MemStorage, drift: bool) {
        let drift_per_mille = if drift {
            let bound = CLOCK_DRIFT_PERCENT_MAX * 10;
            self.rng.range(0, 2 * bound + 1) as i64 - bound as i64
        } else {
            0
        };
        // A clock `d` per mille fast ticks (1000 + d) times per 1000 nominal
        // ticks, so each of its ticks is that much shorter.
        let tick_micros = (TICK_MICROS as i64 * 1000 / (1000 + drift_per_mille)) as Time;
        self.nodes.insert(
            id,
            SimNode {
                tick_micros,
                incarnation: 0,
                state: NodeState::Down(storage),
                sync_scheduled: false,
            },
        );
        self.restart(id);
    }

    /// Adds a brand-new, empty replica (to join as a learner).
    pub fn add_node(&mut self, id: NodeId) {
        if !self.nodes.contains_key(&id) {
            self.start_node(id, MemStorage::new(DurableState::default()), true);
        }
    }

    pub fn now(&self) -> Time {
        self.now
    }

    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.network
    }

    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        matches!(
            self.nodes.get(&id).map(|n| &n.state),
            Some(NodeState::Up(_))
        )
    }

    pub fn replica(&self, id: NodeId) -> Option<&Replica<KvMachine>> {
        match &self.nodes.get(&id)?.state {
            NodeState::Up(host) => Some(host.replica()),
            NodeState::Down(_) => None,
        }
    }

    /// The running replica that is leader of the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .keys()
            .filter_map(|&id| self.replica(id))
            .filter(|r| r.role() == Role::Leader)
            .max_by_key(|r| r.term())
            .map(|r| r.id())
    }

    /// One line describing every replica, for traces.
    pub fn status_line(&self) -> String {
        let mut line = format!("tick {:>4}", self.now / TICK_MICROS);
        for (&id, node) in &self.nodes {
            match &node.state {
                NodeState::Down(_) => line.push_str(&format!(" | {id}: down")),
                NodeState::Up(host) => {
                    let r = host.replica();
                    let role = match r.role() {
                        Role::Leader => "L",
                        Role::Candidate => "C",
                        Role::Follower => "F",
                    };
                    line.push_str(&format!(
                        " | {id}: {role} term {} commit {} last {} snap {}",
                        r.term(),
                        r.commit_index(),
                        r.last_index(),
                        r.log().snapshot_index()
                    ));
                }
            }
        }
        if self.network.is_partitioned() {
            line.push_str(" | partitioned");
        }
        line
    }

    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// The payload applied at each log index.
    pub fn applied(&self) -> &BTreeMap<LogIndex, Vec<u8>> {
        &self.applied
    }

    fn schedule(&mut self, at: Time, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            event,
        }));
    }

    fn client_delay(&mut self) -> Time {
        self.rng
            .range(CLIENT_DELAY_MICROS_MIN, CLIENT_DELAY_MICROS_MAX + 1)
    }

    /// A client sends `request` to replica `node`; the reply comes back as
    /// [`Step::Reply`] for `op` (unless the request or reply is lost with
    /// the replica).
    pub fn submit(&mut self, node: NodeId, op: u64, request: Request) {
        let at = self.now + self.client_delay();
        self.schedule(at, Event::Request { node, op, request });
    }

    pub fn wake_at(&mut self, at: Time, wake: Wake) {
        self.schedule(at.max(self.now), Event::Wake(wake));
    }

    /// Crashes a replica. Its durable state survives, plus all of its
    /// unsynced writes (`power_loss` false: only the process died) or a
    /// random prefix of them (a power loss tore the tail).
    pub fn crash(&mut self, id: NodeId, power_loss: bool) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let NodeState::Up(_) = node.state else {
            return;
        };
        let state = std::mem::replace(&mut node.state, NodeState::Down(MemStorage::default()));
        let NodeState::Up(host) = state else {
            return;
        };
        let mut storage = host.into_storage();
        let keep = if power_loss {
            self.rng.below(storage.unsynced_appends() as u64 + 1) as usize
        } else {
            usize::MAX
        };
        storage.crash(keep);
        node.state = NodeState::Down(storage);
        node.incarnation += 1;
        node.sync_scheduled = false;
        self.stats.crashes += 1;
    }

    /// Restarts a crashed replica from its durable state.
    pub fn restart(&mut self, id: NodeId) {
        let seed = self.seed;
        let first_voter = self.nodes.keys().next().copied();
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        // The fast start holds only for the group's very first start: a
        // replica restarted after a crash keeps its lease promise.
        let first_start = node.incarnation == 0;
        let options = Options {
            no_lease_outstanding: self.options.no_lease_outstanding && first_start,
            campaign_at_start: self.options.campaign_at_start
                && first_start
                && Some(id) == first_voter,
            ..self.options
        };
        let NodeState::Down(storage) = &mut node.state else {
            return;
        };
        let storage = std::mem::take(storage);
        let replica_seed = seed ^ node.incarnation.wrapping_mul(0x9e37_79b9);
        match Host::open(
            id,
            storage,
            Vec::new(),
            KvMachine::with_journal(),
            options,
            replica_seed,
        ) {
            Ok(host) => node.state = NodeState::Up(Box::new(host)),
            Err(e) => {
                self.violations.push(format!(
                    "replica {id} cannot restart from its durable state: {e}"
                ));
                return;
            }
        }
        let incarnation = node.incarnation;
        let first_tick = self.rng.range(1, node.tick_micros + 1);
        self.schedule(
            self.now + first_tick,
            Event::Tick {
                node: id,
                incarnation,
            },
        );
    }

    /// Processes the next event. `None` once nothing is scheduled.
    pub fn step(&mut self) -> Option<Step> {
        let Reverse(Scheduled { at, event, .. }) = self.queue.pop()?;
        debug_assert!(at >= self.now, "time never goes backwards");
        self.now = at;
        self.stats.events += 1;
        match event {
            Event::Tick { node, incarnation } => {
                if self.is_current(node, incarnation) {
                    self.input(node, Input::Tick);
                    let tick = self.nodes.get(&node).map_or(TICK_MICROS, |n| n.tick_micros);
                    self.schedule(self.now + tick, Event::Tick { node, incarnation });
                }
            }
            Event::Deliver(message) => {
                self.in_flight -= 1;
                if self.network.connected(message.from, message.to) {
                    self.input(message.to, Input::Message(message));
                } else {
                    self.stats.messages_dropped += 1;
                }
            }
            Event::Sync { node, incarnation } => {
                if self.is_current(node, incarnation) {
                    if let Some(n) = self.nodes.get_mut(&node) {
                        n.sync_scheduled = false;
                    }
                    self.sync(node);
                }
            }
            Event::Request { node, op, request } => {
                self.input(
                    node,
                    Input::Request {
                        id: RequestId(op),
                        request,
                    },
                );
            }
            Event::Reply { op, reply } => return Some(Step::Reply { op, reply }),
            Event::Wake(wake) => return Some(Step::Wake(wake)),
        }
        Some(Step::Internal)
    }

    /// Runs until virtual time `until`, handing the driver's events to `on_step`.
    pub fn run_until(&mut self, until: Time, mut on_step: impl FnMut(&mut Sim, Step)) {
        while self.queue.peek().is_some_and(|Reverse(s)| s.at <= until) {
            if let Some(step) = self.step()
                && step != Step::Internal
            {
                on_step(self, step);
            }
        }
        self.now = self.now.max(until);
    }

    fn is_current(&self, id: NodeId, incarnation: u64) -> bool {
        self.nodes
            .get(&id)
            .is_some_and(|n| n.incarnation == incarnation && matches!(n.state, NodeState::Up(_)))
    }

    fn input(&mut self, id: NodeId, input: Input) {
        let Some(NodeState::Up(host)) = self.nodes.get_mut(&id).map(|n| &mut n.state) else {
            return; // A crashed replica hears nothing.
        };
        match host.handle(input) {
            Ok(replies) => self.after(id, replies),
            Err(e) => self.violations.push(format!("replica {id}: {e}")),
        }
    }

    fn sync(&mut self, id: NodeId) {
        let Some(NodeState::Up(host)) = self.nodes.get_mut(&id).map(|n| &mut n.state) else {
            return;
        };
        match host.sync() {
            Ok(replies) => self.after(id, replies),
            Err(e) => self.violations.push(format!("replica {id}: {e}")),
        }
    }

    /// Routes what a replica produced, and checks what it did.
    fn after(&mut self, id: NodeId, replies: Vec<(RequestId, Reply)>) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let NodeState::Up(host) = &mut node.state else {
            return;
        };
        let messages = std::mem::take(host.transport_mut());
        let journal = host.replica_mut().machine_mut().take_journal();
        let (role, term) = (host.replica().role(), host.replica().term());
        let needs_sync = host.storage().has_unsynced() && !node.sync_scheduled;
        let incarnation = node.incarnation;
        if needs_sync {
            node.sync_scheduled = true;
            let at = self.now + self.rng.range(FSYNC_MICROS_MIN, FSYNC_MICROS_MAX + 1);
            self.schedule(
                at,
                Event::Sync {
                    node: id,
                    incarnation,
                },
            );
        }
        for message in messages {
            self.stats.messages_sent += 1;
            if matches!(message.body, Body::InstallSnapshot { .. }) {
                self.stats.snapshots_sent += 1;
            }
            let delays = self
                .network
                .deliveries(&mut self.rng, message.from, message.to);
            if delays.is_empty() {
                self.stats.messages_dropped += 1;
            }
            for delay in delays {
                if self.in_flight >= MESSAGES_IN_FLIGHT_MAX {
                    self.stats.messages_dropped += 1;
                    continue;
                }
                self.in_flight += 1;
                self.schedule(self.now + delay, Event::Deliver(message.clone()));
            }
        }
        for (request, reply) in replies {
            let at = self.now + self.client_delay();
            self.schedule(
                at,
                Event::Reply {
                    op: request.0,
                    reply,
                },
            );
        }
        for (index, payload) in journal {
            match self.applied.get(&index) {
                Some(existing) if *existing != payload => self.violations.push(format!(
                    "replica {id} applied a different entry at index {index} than another replica"
                )),
                Some(_) => {}
                None => {
                    self.applied.insert(index, payload);
                }
            }
        }
        if role == Role::Leader {
            self.stats.highest_term = self.stats.highest_term.max(term);
            let leader = *self.leaders.entry(term).or_insert(id);
            if leader != id {
                self.violations.push(format!(
                    "two leaders in term {term}: replicas {leader} and {id}"
                ));
            }
        }
    }
}
