//! The fault schedule of a run, drawn from its seed.
//!
//! A run has a *chaos window* during which faults strike, then everything
//! heals. Each fault starts at a random moment of the window and, except a
//! permanent loss, ends after a random duration; faults may overlap (two
//! crashed replicas at once leave no majority — the group must then stall,
//! not misbehave).
//!
//! | fault | what it models |
//! |---|---|
//! | isolate the leader | the leader's zone is cut off: a minority partition that still has clients |
//! | isolate a replica | a follower's zone is cut off |
//! | cut one direction | an asymmetric network failure |
//! | crash, process only | the process dies; its unsynced writes are in the page cache and survive |
//! | crash, power loss | the machine dies; a random part of its unsynced writes is lost |
//! | lose a replica for good | its disk is gone: the group must replace it (membership change) |
//!
//! Besides the faults, each run draws its network's behaviour (delay,
//! loss, duplication), its replicas' clock drift (within the lease's
//! margin) and how often replicas snapshot (often, so that catch-up by
//! snapshot happens in most runs).

use super::network::NetworkConfig;
use super::{TICK_MICROS, Time};
use crate::rng::Rng;
use crate::types::NodeId;

/// When faults may start, in ticks from the beginning of the run.
pub const CHAOS_START_TICKS: u64 = 20;
pub const CHAOS_END_TICKS: u64 = 250;
/// How long a fault lasts.
pub const FAULT_TICKS_MIN: u64 = 10;
pub const FAULT_TICKS_MAX: u64 = 80;
/// How long the leader-isolation profile cuts the leader off.
pub const ISOLATION_TICKS: u64 = 60;
/// The most faults one run schedules.
pub const FAULTS_MAX: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Cut the replica that leads when the fault starts off from the others.
    IsolateLeader,
    IsolateReplica(NodeId),
    /// Drop every message from one replica to another.
    CutOneWay {
        from: NodeId,
        to: NodeId,
    },
    /// Crash the replica that leads when the fault starts.
    CrashLeader {
        power_loss: bool,
    },
    CrashReplica {
        node: NodeId,
        power_loss: bool,
    },
    /// Destroy a replica: it never comes back, and the group replaces it.
    LoseReplica(NodeId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledFault {
    pub at: Time,
    /// When the fault ends (ignored for a lost replica).
    pub until: Time,
    pub fault: Fault,
}

/// Which mix of faults to draw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// Everything in the table above.
    #[default]
    Mixed,
    /// Only repeated isolations of the leader, on a reliable network: the
    /// schedule that catches stale reads fastest (the "break it" test).
    LeaderIsolation,
}

/// Everything a seed decides about a run besides the replicas' own choices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    pub network: NetworkConfig,
    pub snapshot_interval_entries: u64,
    /// How many applied entries a leader keeps for followers behind: small
    /// values make lagging followers catch up by snapshot transfers.
    pub log_retained_entries_max: u64,
    /// The chunk size of those transfers: small values make many chunks.
    pub snapshot_chunk_bytes_max: usize,
    /// Start the group as a host that starts every replica at once does:
    /// votes at once, and the first replica campaigning on its first tick.
    pub fast_start: bool,
    pub faults: Vec<ScheduledFault>,
}

// ANCHOR: fault_schedule
/// Draws a run's faults for a group of `voters`.
pub fn random_plan(rng: &mut Rng, voters: &[NodeId], profile: Profile) -> FaultPlan {
    let window = (
        CHAOS_START_TICKS * TICK_MICROS,
        CHAOS_END_TICKS * TICK_MICROS,
    );
    let mut faults = Vec::new();
    let network = match profile {
        Profile::Mixed => NetworkConfig::random(rng),
        Profile::LeaderIsolation => NetworkConfig::reliable(),
    };
    let count = match profile {
        Profile::Mixed => rng.range(0, FAULTS_MAX + 1),
        Profile::LeaderIsolation => 3,
    };
    let mut lost_one = false;
    for i in 0..count {
        let at = match profile {
            Profile::Mixed => rng.range(window.0, window.1),
            // Spread out, so that each isolation meets a settled leader.
            Profile::LeaderIsolation => window.0 + i * (window.1 - window.0) / count,
        };
        let duration = match profile {
            Profile::Mixed => rng.range(FAULT_TICKS_MIN, FAULT_TICKS_MAX + 1),
            // Long enough for the majority to elect a new leader and commit
            // writes while the old one still believes it leads.
            Profile::LeaderIsolation => ISOLATION_TICKS,
        } * TICK_MICROS;
        let fault = match profile {
            Profile::LeaderIsolation => Fault::IsolateLeader,
            Profile::Mixed => {
                let node = *rng.pick(voters).unwrap_or(&1);
                let other = *rng.pick(voters).unwrap_or(&1);
                match rng.below(100) {
                    0..=19 => Fault::IsolateLeader,
                    20..=34 => Fault::IsolateReplica(node),
                    35..=44 if node != other => Fault::CutOneWay {
                        from: node,
                        to: other,
                    },
                    35..=44 => Fault::IsolateReplica(node),
                    45..=64 => Fault::CrashLeader {
                        power_loss: rng.chance(500),
                    },
                    65..=89 => Fault::CrashReplica {
                        node,
                        power_loss: rng.chance(500),
                    },
                    _ if !lost_one => {
                        lost_one = true;
                        Fault::LoseReplica(node)
                    }
                    _ => Fault::CrashReplica {
                        node,
                        power_loss: true,
                    },
                }
            }
        };
        faults.push(ScheduledFault {
            at,
            until: at + duration,
            fault,
        });
    }
    faults.sort_by_key(|f| f.at);
    let snapshot_interval_entries = *rng.pick(&[4, 16, 64, 1024]).unwrap_or(&64);
    let log_retained_entries_max = *rng.pick(&[0, 8, 64, 16 * 1024]).unwrap_or(&64);
    let snapshot_chunk_bytes_max = *rng.pick(&[1, 64, 4096]).unwrap_or(&64);
    let fast_start = *rng.pick(&[false, true]).unwrap_or(&false);
    FaultPlan {
        network,
        snapshot_interval_entries,
        log_retained_entries_max,
        snapshot_chunk_bytes_max,
        fast_start,
        faults,
    }
}
// ANCHOR_END: fault_schedule
