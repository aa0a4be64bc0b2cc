//! One simulation run, from a seed to a verdict.
//!
//! ```text
//!  0 ─ clients start ─ CHAOS_START ── faults strike ── CHAOS_END ── heal ── converged? ── probe reads ── check
//! ```
//!
//! 1. Three replicas start; clients write and read throughout the chaos
//!    window while the faults of the seed's [`FaultPlan`] strike.
//! 2. At the end of the window everything heals: partitions close, the
//!    network stops losing messages, crashed replicas restart (a destroyed
//!    one stays gone — the group must have replaced it).
//! 3. Within [`HEAL_DEADLINE_TICKS`] the group must converge: a leader with
//!    nothing uncommitted, and every member up, with the same applied
//!    index and the same state.
//! 4. One strong read per key, at the leader, must succeed (the group is
//!    available again, and these reads see the final values).
//! 5. The checkers judge the history (`check/`).

use super::faults::{self, CHAOS_END_TICKS, Fault, FaultPlan, Profile};
use super::network::NetworkConfig;
use super::workload::{KEYS_DEFAULT, Workload, write_id};
use super::{Sim, SimConfig, SimStats, Step, TICK_MICROS, Time, Wake};
use crate::check::history::{OpKind, Outcome};
use crate::check::{check_strong_reads, check_writes};
use crate::replica::{Options, Request};
use crate::rng::Rng;
use crate::types::{LogIndex, MembershipChange, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// After healing, the group must converge within this many ticks.
pub const HEAL_DEADLINE_TICKS: u64 = 300;
/// How often convergence is checked.
pub const CHECK_INTERVAL_TICKS: u64 = 5;
/// The final probe reads must be answered within this many ticks.
pub const PROBE_TICKS_MAX: u64 = 100;
/// How often the operator replacing a destroyed replica acts.
pub const OPERATOR_INTERVAL_TICKS: u64 = 10;
/// The most membership requests the operator sends in one run.
pub const OPERATOR_REQUESTS_MAX: u64 = 200;

/// How to run a seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The "break it" switch (see [`Options::skip_lease_check`]).
    pub skip_lease_check: bool,
    pub profile: Profile,
    /// Print every replica's state every [`TRACE_INTERVAL_TICKS`].
    pub trace: bool,
}

/// How often a traced run prints the replicas' states.
pub const TRACE_INTERVAL_TICKS: u64 = 5;

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    pub sim: SimStats,
    pub operations: u64,
    pub writes_acknowledged: u64,
    pub strong_reads: u64,
    pub eventual_reads: u64,
    pub indeterminate: u64,
    pub faults: u64,
    pub replaced_a_replica: bool,
    pub final_commit_index: LogIndex,
    /// Virtual ticks from healing to convergence.
    pub convergence_ticks: Option<u64>,
}

/// The verdict on one seed.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub seed: u64,
    pub options: RunOptions,
    pub plan: FaultPlan,
    pub violations: Vec<String>,
    pub stats: RunStats,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        replay_command(self.seed, self.options)
    }
}

pub fn replay_command(seed: u64, options: RunOptions) -> String {
    let mut command =
        format!("cargo run --release -p step04-replication --bin sim -- --seed {seed}");
    if options.skip_lease_check {
        command.push_str(" --break-lease");
    }
    if options.profile == Profile::LeaderIsolation {
        command.push_str(" --profile leader-isolation");
    }
    command
}

/// What a fault did, so that its end can undo it.
#[derive(Clone, Debug)]
enum Effect {
    Cut(Vec<(NodeId, NodeId)>),
    Crashed(NodeId),
    None,
}

#[derive(Clone, Copy, Debug)]
struct Replacement {
    dead: NodeId,
    new: NodeId,
    requests: u64,
    done: bool,
}

/// The driver of one run: clients, faults, the operator.
#[derive(Debug)]
struct Driver {
    plan: FaultPlan,
    workload: Workload,
    effects: BTreeMap<usize, Effect>,
    dead: BTreeSet<NodeId>,
    replacement: Option<Replacement>,
    healed: bool,
    operator_op: u64,
}

impl Driver {
    fn on_step(&mut self, sim: &mut Sim, step: Step) {
        match step {
            Step::Internal => {}
            Step::Reply { op, reply } => self.workload.on_reply(sim, op, reply),
            Step::Wake(Wake::Client(client)) => self.workload.on_client(sim, client),
            Step::Wake(Wake::ClientTimeout(op)) => self.workload.on_timeout(sim, op),
            Step::Wake(Wake::Fault(i)) => self.start_fault(sim, i),
            Step::Wake(Wake::EndFault(i)) => self.end_fault(sim, i),
            Step::Wake(Wake::Operator) => self.operate(sim),
            Step::Wake(Wake::Check) => {
                println!("{}", sim.status_line());
                sim.wake_at(sim.now() + TRACE_INTERVAL_TICKS * TICK_MICROS, Wake::Check);
            }
        }
    }

    fn start_fault(&mut self, sim: &mut Sim, i: usize) {
        let Some(scheduled) = self.plan.faults.get(i).copied() else {
            return;
        };
        if self.healed {
            return;
        }
        let all = sim.node_ids();
        let leader = sim.leader();
        let effect = match scheduled.fault {
            Fault::IsolateLeader => match leader {
                Some(leader) => Effect::Cut(sim.network_mut().partition(&[leader], &all)),
                None => Effect::None,
            },
            Fault::IsolateReplica(node) => Effect::Cut(sim.network_mut().partition(&[node], &all)),
            Fault::CutOneWay { from, to } => Effect::Cut(sim.network_mut().cut_one_way(from, to)),
            Fault::CrashLeader { power_loss } => match leader {
                Some(leader) if sim.is_up(leader) => {
                    sim.crash(leader, power_loss);
                    Effect::Crashed(leader)
                }
                _ => Effect::None,
            },
            Fault::CrashReplica { node, power_loss } if sim.is_up(node) => {
                sim.crash(node, power_loss);
                Effect::Crashed(node)
            }
            Fault::CrashReplica { .. } => Effect::None,
            Fault::LoseReplica(node) => {
                if self.replacement.is_none() && self.dead.is_empty() {
                    sim.crash(node, true);
                    self.dead.insert(node);
                    let new = all.iter().max().copied().unwrap_or(0) + 1;
                    sim.add_node(new);
                    self.replacement = Some(Replacement {
                        dead: node,
                        new,
                        requests: 0,
                        done: false,
                    });
                    sim.wake_at(
                        sim.now() + OPERATOR_INTERVAL_TICKS * TICK_MICROS,
                        Wake::Operator,
                    );
                }
                Effect::None
            }
        };
        self.effects.insert(i, effect);
        sim.wake_at(scheduled.until, Wake::EndFault(i));
    }

    fn end_fault(&mut self, sim: &mut Sim, i: usize) {
        match self.effects.remove(&i) {
            Some(Effect::Cut(links)) => sim.network_mut().restore(&links),
            Some(Effect::Crashed(node)) if !self.dead.contains(&node) => sim.restart(node),
            _ => {}
        }
    }

    /// The control plane replacing a destroyed replica: it looks at the
    /// leader's membership and asks for the next single-replica change.
    fn operate(&mut self, sim: &mut Sim) {
        let Some(replacement) = &mut self.replacement else {
            return;
        };
        if replacement.done || replacement.requests >= OPERATOR_REQUESTS_MAX {
            return;
        }
        sim.wake_at(
            sim.now() + OPERATOR_INTERVAL_TICKS * TICK_MICROS,
            Wake::Operator,
        );
        let Some(leader) = sim.leader().and_then(|id| sim.replica(id)) else {
            return;
        };
        let config = leader.config();
        let change = if !config.contains(replacement.new) {
            MembershipChange::AddLearner(replacement.new)
        } else if config.learners.contains(&replacement.new) {
            MembershipChange::Promote(replacement.new)
        } else if config.contains(replacement.dead) {
            MembershipChange::Remove(replacement.dead)
        } else {
            replacement.done = leader.config_committed();
            return;
        };
        let leader = leader.id();
        replacement.requests += 1;
        // Operator requests use ids no client uses; their replies are ignored.
        self.operator_op += 1;
        sim.submit(
            leader,
            u64::MAX - self.operator_op,
            Request::ChangeMembership(change),
        );
    }

    /// The end of the chaos: everything heals, except destroyed replicas.
    fn heal(&mut self, sim: &mut Sim) {
        self.healed = true;
        self.workload.stop();
        let network = sim.network_mut();
        network.heal();
        network.config = NetworkConfig {
            loss_per_mille: 0,
            duplicate_per_mille: 0,
            slow_per_mille: 0,
            ..network.config
        };
        self.effects.clear();
        for node in sim.node_ids() {
            if !self.dead.contains(&node) && !sim.is_up(node) {
                sim.restart(node);
            }
        }
    }

    /// `Ok(leader, commit index)` once the group has converged.
    fn converged(&self, sim: &Sim) -> Result<(NodeId, LogIndex), String> {
        if let Some(r) = self.replacement.filter(|r| !r.done) {
            return Err(format!(
                "replica {} was not replaced by {} ({} requests)",
                r.dead, r.new, r.requests
            ));
        }
        let Some(leader_id) = sim.leader() else {
            return Err("no leader".to_string());
        };
        let leader = sim
            .replica(leader_id)
            .ok_or_else(|| "the leader is down".to_string())?;
        if leader.commit_index() != leader.last_index() {
            return Err(format!(
                "leader {leader_id} has entries up to {} but commits only {}",
                leader.last_index(),
                leader.commit_index()
            ));
        }
        for member in leader.config().members() {
            let Some(replica) = sim.replica(member) else {
                return Err(format!("member {member} is down"));
            };
            if replica.applied_index() != leader.commit_index() {
                return Err(format!(
                    "replica {member} applied {} of {}",
                    replica.applied_index(),
                    leader.commit_index()
                ));
            }
            if replica.machine() != leader.machine() {
                return Err(format!(
                    "replica {member}'s state differs from leader {leader_id}'s"
                ));
            }
        }
        Ok((leader_id, leader.commit_index()))
    }
}

/// Runs until the group has converged and no client operation is
/// outstanding, or until `deadline`.
fn settle(
    sim: &mut Sim,
    driver: &mut Driver,
    deadline: Time,
) -> Result<(NodeId, LogIndex), String> {
    loop {
        let converged = driver.converged(sim);
        if converged.is_ok() && driver.workload.outstanding() == 0 || sim.now() >= deadline {
            return converged;
        }
        let next = sim.now() + CHECK_INTERVAL_TICKS * TICK_MICROS;
        sim.run_until(next, |sim, step| driver.on_step(sim, step));
    }
}

/// Runs one seed and checks it.
pub fn run_seed(seed: u64, options: RunOptions) -> RunReport {
    let mut rng = Rng::derive(seed, 0xfa);
    let voters: Vec<NodeId> = vec![1, 2, 3];
    let plan = faults::random_plan(&mut rng, &voters, options.profile);
    // Leader isolation: one key and wandering clients, so that reads at
    // the old leader and writes at the new one collide as often as possible.
    let (keys, wander_per_mille) = match options.profile {
        Profile::Mixed => (KEYS_DEFAULT, 250),
        Profile::LeaderIsolation => (1, 1000),
    };
    let mut sim = Sim::new(SimConfig {
        seed,
        voters,
        options: Options {
            snapshot_interval_entries: plan.snapshot_interval_entries,
            log_retained_entries_max: plan.log_retained_entries_max,
            snapshot_chunk_bytes_max: plan.snapshot_chunk_bytes_max,
            no_lease_outstanding: plan.fast_start,
            campaign_at_start: plan.fast_start,
            skip_lease_check: options.skip_lease_check,
        },
        network: plan.network,
        drift: true,
    });
    let mut driver = Driver {
        plan: plan.clone(),
        workload: Workload::new(seed, keys, wander_per_mille),
        effects: BTreeMap::new(),
        dead: BTreeSet::new(),
        replacement: None,
        healed: false,
        operator_op: 0,
    };
    let mut violations = Vec::new();
    driver.workload.start(&mut sim);
    for (i, fault) in plan.faults.iter().enumerate() {
        sim.wake_at(fault.at, Wake::Fault(i));
    }
    if options.trace {
        sim.wake_at(0, Wake::Check);
    }

    // 1. Chaos.
    let chaos_end: Time = CHAOS_END_TICKS * TICK_MICROS;
    sim.run_until(chaos_end, |sim, step| driver.on_step(sim, step));

    // 2 and 3. Heal, then wait for convergence.
    driver.heal(&mut sim);
    let deadline = chaos_end + HEAL_DEADLINE_TICKS * TICK_MICROS;
    let converged = settle(&mut sim, &mut driver, deadline);
    let convergence_ticks = converged
        .as_ref()
        .ok()
        .map(|_| (sim.now() - chaos_end) / TICK_MICROS);
    let mut final_commit = 0;
    match converged {
        Err(why) => violations.push(format!(
            "the group did not converge within {HEAL_DEADLINE_TICKS} ticks of healing: {why}"
        )),
        Ok((leader, commit)) => {
            final_commit = commit;
            // 4. Probe: the healed group serves a strong read of every key
            // (retried at the current leader: a late election may still move
            // the leadership once).
            let until = sim.now() + PROBE_TICKS_MAX * TICK_MICROS;
            let mut probes: BTreeMap<u64, u64> = (0..keys)
                .map(|key| {
                    let op = driver
                        .workload
                        .issue(&mut sim, None, leader, OpKind::StrongRead, key);
                    (key, op)
                })
                .collect();
            let served = |driver: &Driver, op: u64| {
                matches!(driver.workload.outcome(op), Some(Outcome::Read { .. }))
            };
            while sim.now() < until && !probes.values().all(|&op| served(&driver, op)) {
                let next = sim.now() + CHECK_INTERVAL_TICKS * TICK_MICROS;
                sim.run_until(next, |sim, step| driver.on_step(sim, step));
                for (key, op) in probes.iter_mut() {
                    if !served(&driver, *op) && !driver.workload.is_pending(*op) {
                        let target = sim.leader().unwrap_or(leader);
                        *op =
                            driver
                                .workload
                                .issue(&mut sim, None, target, OpKind::StrongRead, *key);
                    }
                }
            }
            for (key, op) in &probes {
                if !served(&driver, *op) {
                    violations.push(format!(
                        "after healing, no strong read of key {key} was served within {PROBE_TICKS_MAX} ticks: {:?}",
                        driver.workload.outcome(*op)
                    ));
                }
            }
            // Still converged: the final commit index covers every write.
            let deadline = sim.now() + HEAL_DEADLINE_TICKS * TICK_MICROS;
            match settle(&mut sim, &mut driver, deadline) {
                Ok((_, commit)) => final_commit = commit,
                Err(why) => violations.push(format!("the group diverged after the probes: {why}")),
            }
        }
    }

    // 5. Judge.
    violations.extend(sim.violations().iter().cloned());
    violations.extend(driver.workload.violations().iter().cloned());
    let history = driver.workload.history();
    let applied: BTreeMap<LogIndex, u64> = sim
        .applied()
        .iter()
        .filter_map(|(index, payload)| write_id(payload).map(|id| (*index, id)))
        .collect();
    if final_commit > 0 {
        violations.extend(check_writes(history, &applied, final_commit));
    }
    violations.extend(check_strong_reads(history));

    let mut stats = RunStats {
        sim: sim.stats(),
        operations: history.len() as u64,
        faults: plan.faults.len() as u64,
        replaced_a_replica: driver.replacement.is_some_and(|r| r.done),
        final_commit_index: final_commit,
        convergence_ticks,
        ..RunStats::default()
    };
    for op in history {
        match (op.kind, &op.outcome) {
            (OpKind::Write, Outcome::Written { .. }) => stats.writes_acknowledged += 1,
            (OpKind::StrongRead, Outcome::Read { .. }) => stats.strong_reads += 1,
            (OpKind::EventualRead, Outcome::Read { .. }) => stats.eventual_reads += 1,
            (_, Outcome::Indeterminate) => stats.indeterminate += 1,
            _ => {}
        }
    }
    RunReport {
        seed,
        options,
        plan,
        violations,
        stats,
    }
}
