//! The simulated clients, and the history they record.
//!
//! A few clients loop: think, then write a key, read it strongly, or read
//! it eventually, sending each request to the replica they believe leads
//! (or, now and then, to a random one — which is how a client reaches a
//! deposed leader). Each client has one request outstanding; it gives up
//! after [`CLIENT_TIMEOUT_TICKS`] and records the outcome as unknown.
//!
//! Every write writes its own operation id as the value, so values are
//! unique and a read's value names the write it saw.

use super::{Sim, TICK_MICROS, Time, Wake};
use crate::check::history::{OpKind, Operation, Outcome};
use crate::codec::Reader;
use crate::replica::{Reply, Request};
use crate::rng::Rng;
use crate::state_machine::{KvMachine, decode_value};
use crate::types::NodeId;
use std::collections::BTreeMap;

pub const CLIENTS: usize = 3;
/// Keys the clients use, unless a run says otherwise.
pub const KEYS_DEFAULT: u64 = 3;
/// A client waits this long for a reply, then records "unknown".
pub const CLIENT_TIMEOUT_TICKS: u64 = 40;
/// A client thinks this long between operations.
pub const THINK_MICROS_MIN: Time = 200;
pub const THINK_MICROS_MAX: Time = 4_000;
/// The most operations one run records.
pub const OPERATIONS_MAX: usize = 100_000;

/// The key a client names `key`.
pub fn key_bytes(key: u64) -> Vec<u8> {
    format!("k{key}").into_bytes()
}

/// The write command of operation `id` on `key`.
pub fn write_payload(key: u64, id: u64) -> Vec<u8> {
    KvMachine::put(&key_bytes(key), &id.to_le_bytes())
}

/// The operation id a write command carries, if it is one of ours.
pub fn write_id(payload: &[u8]) -> Option<u64> {
    let mut r = Reader::new(payload);
    let _tag = r.u8().ok()?;
    let _key = r.bytes().ok()?;
    let value: [u8; 8] = r.bytes().ok()?.try_into().ok()?;
    r.finish().ok()?;
    Some(u64::from_le_bytes(value))
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    /// `None` for a probe issued by the run itself.
    client: Option<usize>,
    node: NodeId,
}

#[derive(Clone, Copy, Debug, Default)]
struct Client {
    leader_guess: Option<NodeId>,
}

/// The clients of a run and everything they saw.
#[derive(Debug)]
pub struct Workload {
    rng: Rng,
    keys: u64,
    /// Per mille of operations sent to a random replica instead of the
    /// believed leader.
    wander_per_mille: u64,
    clients: Vec<Client>,
    /// Operation `id` is at `history[id - 1]`.
    history: Vec<Operation>,
    pending: BTreeMap<u64, Pending>,
    running: bool,
    violations: Vec<String>,
}

impl Workload {
    /// Clients for a run of `seed` that write and read `keys` keys.
    pub fn new(seed: u64, keys: u64, wander_per_mille: u64) -> Workload {
        Workload {
            rng: Rng::derive(seed, 0xc1),
            keys: keys.max(1),
            wander_per_mille,
            clients: vec![Client::default(); CLIENTS],
            history: Vec::new(),
            pending: BTreeMap::new(),
            running: false,
            violations: Vec::new(),
        }
    }

    /// Starts every client.
    pub fn start(&mut self, sim: &mut Sim) {
        self.running = true;
        for client in 0..self.clients.len() {
            let at = sim.now() + self.think();
            sim.wake_at(at, Wake::Client(client));
        }
    }

    /// Clients finish what they sent but send nothing new.
    pub fn stop(&mut self) {
        self.running = false;
    }

    pub fn history(&self) -> &[Operation] {
        &self.history
    }

    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    pub fn keys(&self) -> u64 {
        self.keys
    }

    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// True while operation `op` waits for its reply.
    pub fn is_pending(&self, op: u64) -> bool {
        self.pending.contains_key(&op)
    }

    pub fn outcome(&self, op: u64) -> Option<&Outcome> {
        let index = usize::try_from(op.checked_sub(1)?).ok()?;
        self.history.get(index).map(|o| &o.outcome)
    }

    fn think(&mut self) -> Time {
        self.rng.range(THINK_MICROS_MIN, THINK_MICROS_MAX + 1)
    }

    /// A client's turn: send its next operation.
    pub fn on_client(&mut self, sim: &mut Sim, client: usize) {
        if !self.running || self.history.len() >= OPERATIONS_MAX {
            return;
        }
        let nodes = sim.node_ids();
        let guess = self.clients.get(client).and_then(|c| c.leader_guess);
        let node = match guess {
            Some(leader) if !self.rng.chance(self.wander_per_mille) => leader,
            _ => *self.rng.pick(&nodes).unwrap_or(&1),
        };
        let kind = match self.rng.below(100) {
            0..=49 => OpKind::Write,
            50..=84 => OpKind::StrongRead,
            _ => OpKind::EventualRead,
        };
        let key = self.rng.below(self.keys);
        self.issue(sim, Some(client), node, kind, key);
    }

    /// Sends one operation to `node` and records its invocation.
    pub fn issue(
        &mut self,
        sim: &mut Sim,
        client: Option<usize>,
        node: NodeId,
        kind: OpKind,
        key: u64,
    ) -> u64 {
        let id = self.history.len() as u64 + 1;
        let request = match kind {
            OpKind::Write => Request::Write(write_payload(key, id)),
            OpKind::StrongRead => Request::StrongRead(key_bytes(key)),
            OpKind::EventualRead => Request::EventualRead(key_bytes(key)),
        };
        self.history.push(Operation {
            id,
            client: client.map_or(u64::MAX, |c| c as u64),
            key,
            kind,
            invoked_at: sim.now(),
            outcome: Outcome::Indeterminate,
        });
        self.pending.insert(id, Pending { client, node });
        sim.submit(node, id, request);
        sim.wake_at(
            sim.now() + CLIENT_TIMEOUT_TICKS * TICK_MICROS,
            Wake::ClientTimeout(id),
        );
        id
    }

    /// A client gives up on an operation: its outcome stays unknown.
    pub fn on_timeout(&mut self, sim: &mut Sim, op: u64) {
        if let Some(pending) = self.pending.remove(&op)
            && let Some(client) = pending.client
        {
            if let Some(c) = self.clients.get_mut(client) {
                c.leader_guess = None;
            }
            self.next_turn(sim, client);
        }
    }

    fn next_turn(&mut self, sim: &mut Sim, client: usize) {
        let at = sim.now() + self.think();
        sim.wake_at(at, Wake::Client(client));
    }

    pub fn on_reply(&mut self, sim: &mut Sim, op: u64, reply: Reply) {
        let Some(pending) = self.pending.remove(&op) else {
            return; // It timed out earlier: the client no longer listens.
        };
        let now = sim.now();
        let Some(index) = op.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
            return;
        };
        let Some(operation) = self.history.get_mut(index) else {
            return;
        };
        let mut guess = None;
        operation.outcome = match (&operation.kind, reply) {
            (OpKind::Write, Reply::Written { index, .. }) => {
                guess = Some(pending.node);
                Outcome::Written {
                    completed_at: now,
                    index,
                }
            }
            (OpKind::StrongRead | OpKind::EventualRead, Reply::Read { value, .. }) => {
                if operation.kind == OpKind::StrongRead {
                    guess = Some(pending.node);
                }
                match decode_value(&value) {
                    Ok(None) => Outcome::Read {
                        completed_at: now,
                        value: None,
                    },
                    Ok(Some(bytes)) if bytes.len() == 8 => {
                        let mut id = [0; 8];
                        id.copy_from_slice(&bytes);
                        Outcome::Read {
                            completed_at: now,
                            value: Some(u64::from_le_bytes(id)),
                        }
                    }
                    _ => {
                        self.violations
                            .push(format!("operation {op} read a garbled value {value:?}"));
                        Outcome::Indeterminate
                    }
                }
            }
            (_, Reply::NotLeader { leader }) => {
                guess = leader;
                Outcome::Failed { completed_at: now }
            }
            (_, Reply::Busy | Reply::Rejected(_)) => Outcome::Failed { completed_at: now },
            (_, Reply::Unknown) => Outcome::Indeterminate,
            (kind, reply) => {
                self.violations.push(format!(
                    "operation {op} ({kind:?}) got the wrong reply {reply:?}"
                ));
                Outcome::Indeterminate
            }
        };
        if let Some(client) = pending.client {
            if let Some(c) = self.clients.get_mut(client) {
                c.leader_guess = guess;
            }
            self.next_turn(sim, client);
        }
    }
}
