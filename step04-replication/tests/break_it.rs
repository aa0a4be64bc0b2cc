//! "Break it": remove the lease check and watch the checker catch the
//! stale reads that follow. A checker that never fails proves nothing; this
//! test proves ours can.
//!
//! With `skip_lease_check`, a leader serves strong reads as soon as it
//! *believes* it leads. Cut it off from its group: the majority elects a
//! new leader and acknowledges new writes, while clients that still reach
//! the old leader read old values from it — until it notices (after
//! `CHECK_QUORUM_TICKS`) and steps down. The linearizability checker must
//! flag those reads; with the lease check in place, the same seeds pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use step04_replication::sim::faults::Profile;
use step04_replication::sim::run::{RunOptions, run_seed};

const SEEDS: u64 = 40;

#[test]
fn without_the_lease_check_the_checker_catches_stale_reads() {
    let broken = RunOptions {
        skip_lease_check: true,
        profile: Profile::LeaderIsolation,
        trace: false,
    };
    let caught: Vec<u64> = (0..SEEDS)
        .filter(|&seed| {
            run_seed(seed, broken)
                .violations
                .iter()
                .any(|v| v.contains("not linearizable"))
        })
        .collect();
    assert!(
        !caught.is_empty(),
        "no stale read caught in {SEEDS} seeds: is the checker blind?"
    );
    let sound = RunOptions {
        skip_lease_check: false,
        ..broken
    };
    for seed in caught {
        let report = run_seed(seed, sound);
        assert!(
            report.passed(),
            "seed {seed} fails even with the lease check: {:?}\n  replay: {}",
            report.violations,
            report.replay_command()
        );
    }
}

#[test]
fn with_the_lease_check_leader_isolation_is_harmless() {
    let options = RunOptions {
        profile: Profile::LeaderIsolation,
        ..RunOptions::default()
    };
    for seed in 0..200 {
        let report = run_seed(seed, options);
        assert!(
            report.passed(),
            "seed {seed}: {:?}\n  replay: {}",
            report.violations,
            report.replay_command()
        );
    }
}
