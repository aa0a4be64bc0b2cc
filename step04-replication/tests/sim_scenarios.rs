//! Hand-written failure scenarios, each driven step by step through the
//! simulator: a leader crash, a minority partition, a follower catching up
//! by log and by snapshot, a dead replica replaced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use step04_replication::sim::network::NetworkConfig;
use step04_replication::sim::workload::{key_bytes, write_payload};
use step04_replication::sim::{CLIENT_DELAY_MICROS_MAX, Sim, SimConfig, Step, TICK_MICROS};
use step04_replication::timing::{
    ELECTION_TIMEOUT_TICKS_MAX, ELECTION_TIMEOUT_TICKS_MIN, LEASE_TICKS,
};
use step04_replication::{MembershipChange, NodeId, Options, Reply, Request, Role};

fn sim(seed: u64, snapshot_interval_entries: u64) -> Sim {
    Sim::new(SimConfig {
        seed,
        voters: vec![1, 2, 3],
        options: Options {
            snapshot_interval_entries,
            ..Options::default()
        },
        network: NetworkConfig::reliable(),
        drift: true,
    })
}

/// Runs for `ticks`, collecting client replies.
fn run(sim: &mut Sim, ticks: u64, replies: &mut BTreeMap<u64, Reply>) {
    let until = sim.now() + ticks * TICK_MICROS;
    sim.run_until(until, |_, step| {
        if let Step::Reply { op, reply } = step {
            replies.insert(op, reply);
        }
    });
}

/// Runs until `done` holds, at most `ticks_max` ticks; returns the ticks it took.
fn run_until(sim: &mut Sim, ticks_max: u64, mut done: impl FnMut(&Sim) -> bool) -> Option<u64> {
    let mut replies = BTreeMap::new();
    for tick in 0..=ticks_max {
        if done(sim) {
            return Some(tick);
        }
        run(sim, 1, &mut replies);
    }
    None
}

fn settled_leader(sim: &mut Sim) -> NodeId {
    run_until(sim, 200, |s| s.leader().is_some()).expect("a leader");
    let mut replies = BTreeMap::new();
    run(sim, 10, &mut replies);
    sim.leader().unwrap()
}

/// Writes `count` values through the leader, one at a time; returns how
/// many were acknowledged.
fn write_through(sim: &mut Sim, leader: NodeId, first_op: u64, count: u64) -> u64 {
    let mut replies = BTreeMap::new();
    for op in first_op..first_op + count {
        sim.submit(leader, op, Request::Write(write_payload(op % 3, op)));
        let until = sim.now() + 20 * TICK_MICROS;
        while sim.now() < until && !replies.contains_key(&op) {
            run(sim, 1, &mut replies);
        }
    }
    replies
        .values()
        .filter(|r| matches!(r, Reply::Written { .. }))
        .count() as u64
}

#[test]
fn a_crashed_leader_is_replaced_within_a_few_election_timeouts() {
    // Followers keep their promise to the old leader for a minimum election
    // timeout and time out after at most the maximum; a candidate that
    // asks a replica still keeping its promise, or a split vote, costs
    // another timeout now and then.
    let bound_ticks = ELECTION_TIMEOUT_TICKS_MIN + 3 * ELECTION_TIMEOUT_TICKS_MAX;
    let mut worst = 0;
    for seed in 0..200 {
        let mut sim = sim(seed, 1024);
        let old = settled_leader(&mut sim);
        let old_term = sim.replica(old).unwrap().term();
        sim.crash(old, seed % 2 == 0);
        let took = run_until(&mut sim, bound_ticks, |s| {
            s.leader()
                .is_some_and(|l| l != old && s.replica(l).unwrap().term() > old_term)
        });
        let took =
            took.unwrap_or_else(|| panic!("seed {seed}: no new leader in {bound_ticks} ticks"));
        worst = worst.max(took);
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }
    println!("worst time to a new leader: {worst} ticks (bound {bound_ticks})");
}

#[test]
fn a_minority_side_acknowledges_no_write_and_serves_no_strong_read() {
    for seed in 0..50 {
        let mut sim = sim(seed, 1024);
        let old = settled_leader(&mut sim);
        assert_eq!(write_through(&mut sim, old, 1, 3), 3);
        let all = sim.node_ids();
        sim.network_mut().partition(&[old], &all);
        let isolated_at = sim.now();
        // The lease may still cover reads for LEASE_TICKS of the old
        // leader's clock (which may run slow) plus a client's trip.
        let lease_over =
            isolated_at + (LEASE_TICKS + 1) * TICK_MICROS * 106 / 100 + CLIENT_DELAY_MICROS_MAX;
        let mut replies = BTreeMap::new();
        let mut late_reads = Vec::new();
        for i in 0..60 {
            let op = 1000 + 2 * i;
            sim.submit(old, op, Request::Write(write_payload(0, op)));
            sim.submit(old, op + 1, Request::StrongRead(key_bytes(0)));
            if sim.now() >= lease_over {
                late_reads.push(op + 1);
            }
            run(&mut sim, 1, &mut replies);
        }
        run(&mut sim, 40, &mut replies);
        for (op, reply) in &replies {
            if op % 2 == 0 {
                assert!(
                    !matches!(reply, Reply::Written { .. }),
                    "seed {seed}: the cut-off leader acknowledged write {op}"
                );
            }
        }
        for op in late_reads {
            assert!(
                !matches!(replies.get(&op), Some(Reply::Read { .. })),
                "seed {seed}: the cut-off leader served strong read {op} after its lease"
            );
        }
        // Meanwhile the majority has a new leader that takes writes.
        let new = sim.leader().filter(|&l| l != old).expect("a new leader");
        assert_eq!(write_through(&mut sim, new, 5000, 2), 2, "seed {seed}");
        assert_ne!(
            sim.replica(old).unwrap().role(),
            Role::Leader,
            "it stepped down"
        );
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }
}

fn catch_up(seed: u64, snapshot_interval_entries: u64) -> u64 {
    let mut sim = sim(seed, snapshot_interval_entries);
    let leader = settled_leader(&mut sim);
    let follower = *sim.node_ids().iter().find(|&&n| n != leader).unwrap();
    sim.crash(follower, true);
    assert_eq!(write_through(&mut sim, leader, 1, 40), 40);
    sim.restart(follower);
    let took = run_until(&mut sim, 200, |s| {
        let (l, f) = (s.replica(leader).unwrap(), s.replica(follower).unwrap());
        f.applied_index() == l.commit_index() && f.machine() == l.machine()
    });
    assert!(took.is_some(), "seed {seed}: the follower never caught up");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    sim.replica(follower).unwrap().log().snapshot_index()
}

#[test]
fn a_restarted_follower_catches_up_from_the_log() {
    for seed in 0..20 {
        assert_eq!(catch_up(seed, 1024), 0, "no snapshot needed");
    }
}

#[test]
fn a_follower_behind_the_compacted_log_catches_up_from_a_snapshot() {
    for seed in 0..20 {
        assert!(
            catch_up(seed, 8) > 0,
            "seed {seed}: the follower got a snapshot"
        );
    }
}

#[test]
fn a_dead_replica_is_replaced_by_a_new_one() {
    for seed in 0..20 {
        let mut sim = sim(seed, 16);
        let leader = settled_leader(&mut sim);
        assert_eq!(write_through(&mut sim, leader, 1, 30), 30);
        let dead = *sim.node_ids().iter().find(|&&n| n != leader).unwrap();
        sim.crash(dead, true);
        sim.add_node(4);
        let mut replies = BTreeMap::new();
        let steps = [
            MembershipChange::AddLearner(4),
            MembershipChange::Promote(4),
            MembershipChange::Remove(dead),
        ];
        for (i, change) in steps.into_iter().enumerate() {
            let mut done = false;
            for attempt in 0..30 {
                let op = 100 + 100 * i as u64 + attempt;
                let Some(leader) = sim.leader() else {
                    run(&mut sim, 10, &mut replies);
                    continue;
                };
                sim.submit(leader, op, Request::ChangeMembership(change));
                run(&mut sim, 10, &mut replies);
                if matches!(replies.get(&op), Some(Reply::ConfigChanged { .. })) {
                    done = true;
                    break;
                }
            }
            assert!(
                done,
                "seed {seed}: {change} never went through: {replies:?}"
            );
        }
        let leader = settled_leader(&mut sim);
        let config = sim.replica(leader).unwrap().config().clone();
        assert_eq!(config.voters.iter().copied().collect::<Vec<_>>(), {
            let mut v: Vec<NodeId> = [1, 2, 3, 4].into_iter().filter(|&n| n != dead).collect();
            v.sort();
            v
        });
        // The group works without the dead replica, and the new one has everything.
        assert_eq!(write_through(&mut sim, leader, 1000, 5), 5);
        let converged = run_until(&mut sim, 100, |s| {
            let (l, n) = (s.replica(leader).unwrap(), s.replica(4).unwrap());
            n.applied_index() == l.commit_index() && n.machine() == l.machine()
        });
        assert!(converged.is_some(), "seed {seed}");
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }
}
