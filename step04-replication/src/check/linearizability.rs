//! Are the strongly consistent reads linearizable?
//!
//! A history of one key is *linearizable* if every operation can be given a
//! single instant between its invocation and its completion such that, in
//! the order of those instants, every read returns the value of the latest
//! write before it. An operation that never completed may be placed
//! anywhere after its invocation, or dropped.
//!
//! In general this is a search over orders (Wing and Gong's algorithm,
//! exponential in the worst case; [`brute_force`] implements it for small
//! histories, as a test oracle). For a *register with unique written
//! values* there is a fast, exact test, due to Gibbons and Korach and
//! described again by Golab, Li and Shah (2011) as "zones":
//!
//! * Group each write with the reads that returned its value: a *cluster*.
//!   (The initial "never written" value is a write that completed at time 0.)
//! * A cluster's *zone* runs from the earliest completion in it to the
//!   latest invocation in it. If the earliest completion comes first, the
//!   zone is *forward*: the value must have been current for that whole
//!   interval, because some operation of the cluster had finished before
//!   another one of it began. Otherwise it is *backward*: all its
//!   operations overlap, and the value could have been current for a
//!   single instant anywhere in the zone.
//! * The history is linearizable exactly when (1) no read returns a value
//!   that was never written, or one written only after the read
//!   completed; (2) no two forward zones overlap — two values cannot both
//!   be current over a common interval; and (3) no backward zone lies
//!   strictly inside a forward zone — that value would have to be current
//!   for an instant in the middle of the other's interval.
//!
//! A stale read shows up as (3) — the read extends its old value's zone
//! over the newer write's — and a read that goes back in time after another
//! read saw a newer value shows up as (2).

use super::history::Time;
use std::collections::BTreeMap;
use std::fmt;

/// One operation on a register, for the checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterOp {
    pub invoked_at: Time,
    /// `None`: never completed (it may have taken effect).
    pub completed_at: Option<Time>,
    pub action: Action,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Writes a value no other operation writes.
    Write(u64),
    /// Returned this value (`None`: the initial value).
    Read(Option<u64>),
}

/// Why a register history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A read returned a value no write wrote.
    NeverWritten { read: RegisterOp },
    /// A read completed before the write of its value was even invoked.
    ReadFromTheFuture { read: RegisterOp, write: RegisterOp },
    /// Two values' zones conflict: at least one read returned a value that
    /// was not current at any instant it could have taken effect.
    Conflict { first: Zone, second: Zone },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NeverWritten { read } => {
                write!(f, "read {read:?} returned a value never written")
            }
            Violation::ReadFromTheFuture { read, write } => {
                write!(
                    f,
                    "read {read:?} completed before its write {write:?} began"
                )
            }
            Violation::Conflict { first, second } => write!(
                f,
                "value {:?} (zone {}..{}, {}) and value {:?} (zone {}..{}, {}) cannot both be right: a read is stale or went back in time",
                first.value,
                first.low,
                first.high,
                if first.forward { "forward" } else { "backward" },
                second.value,
                second.low,
                second.high,
                if second.forward {
                    "forward"
                } else {
                    "backward"
                },
            ),
        }
    }
}

/// The interval in which a value must have been (forward) or may have
/// been (backward) the register's current value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone {
    /// The value (`None`: the initial value).
    pub value: Option<u64>,
    pub low: Time,
    pub high: Time,
    pub forward: bool,
}

/// "Never completed" sorts after every time.
const NEVER: Time = Time::MAX;

/// Checks one register's history; `Ok` if it is linearizable.
pub fn check_register(ops: &[RegisterOp]) -> Result<(), Violation> {
    // Clusters: each written value with the operations that wrote or read it.
    let mut writes: BTreeMap<u64, RegisterOp> = BTreeMap::new();
    for op in ops {
        if let Action::Write(value) = op.action {
            writes.insert(value, *op);
        }
    }
    // value -> (earliest completion, latest invocation)
    let mut clusters: BTreeMap<Option<u64>, (Time, Time)> = BTreeMap::new();
    clusters.insert(None, (0, 0));
    for op in ops {
        let Action::Read(value) = op.action else {
            continue;
        };
        let Some(completed_at) = op.completed_at else {
            continue; // A read without an answer tells nothing.
        };
        if let Some(written) = value {
            let Some(write) = writes.get(&written) else {
                return Err(Violation::NeverWritten { read: *op });
            };
            if completed_at < write.invoked_at {
                return Err(Violation::ReadFromTheFuture {
                    read: *op,
                    write: *write,
                });
            }
            let write_done = write.completed_at.unwrap_or(NEVER);
            let cluster = clusters
                .entry(value)
                .or_insert((write_done, write.invoked_at));
            *cluster = (cluster.0.min(completed_at), cluster.1.max(op.invoked_at));
        } else if let Some(cluster) = clusters.get_mut(&None) {
            *cluster = (cluster.0.min(completed_at), cluster.1.max(op.invoked_at));
        }
    }
    // Completed writes nobody read still occupy an instant of the order.
    for (value, write) in &writes {
        if let Some(done) = write.completed_at {
            clusters
                .entry(Some(*value))
                .or_insert((done, write.invoked_at));
        }
    }
    let zones: Vec<Zone> = clusters
        .into_iter()
        .map(|(value, (first_completion, last_invocation))| {
            if first_completion < last_invocation {
                Zone {
                    value,
                    low: first_completion,
                    high: last_invocation,
                    forward: true,
                }
            } else {
                Zone {
                    value,
                    low: last_invocation,
                    high: first_completion,
                    forward: false,
                }
            }
        })
        .collect();
    match find_conflict(&zones) {
        Some((a, b)) => Err(Violation::Conflict {
            first: zones[a],
            second: zones[b],
        }),
        None => Ok(()),
    }
}

// ANCHOR: checker
/// Finds two zones that cannot both hold: two forward zones that overlap,
/// or a backward zone strictly inside a forward one. Returns their
/// positions in `zones`.
///
/// Times are compared strictly: operations that touch at an instant are
/// concurrent, and concurrent operations may be ordered either way.
fn find_conflict(zones: &[Zone]) -> Option<(usize, usize)> {
    // EXERCISE(04.5): find two forward zones that overlap, or a backward zone strictly inside a forward one
    for (i, a) in zones.iter().enumerate() {
        for (j, b) in zones.iter().enumerate() {
            if i == j || !a.forward {
                continue;
            }
            let conflict = if b.forward {
                i < j && a.low < b.high && b.low < a.high
            } else {
                a.low < b.low && b.high < a.high
            };
            if conflict {
                return Some((i, j));
            }
        }
    }
    None
    // END EXERCISE
}
// ANCHOR_END: checker

/// Wing and Gong's search, for small histories: tries every order that
/// respects real time. Exponential; a test oracle for [`check_register`].
/// Operations that never completed may be left out.
pub fn brute_force(ops: &[RegisterOp]) -> bool {
    assert!(ops.len() <= 16, "the brute force is for small histories");
    let mut memo = std::collections::BTreeSet::new();
    search(ops, 0, None, &mut memo)
}

fn search(
    ops: &[RegisterOp],
    done: u32,
    current: Option<u64>,
    dead_ends: &mut std::collections::BTreeSet<(u32, Option<u64>)>,
) -> bool {
    let remaining_completed =
        (0..ops.len()).any(|i| done & (1 << i) == 0 && ops[i].completed_at.is_some());
    if !remaining_completed {
        return true; // Only never-completed operations left: drop them.
    }
    if dead_ends.contains(&(done, current)) {
        return false;
    }
    // The earliest completion among the remaining operations: an operation
    // may go next only if it was invoked before that.
    let horizon = (0..ops.len())
        .filter(|&i| done & (1 << i) == 0)
        .filter_map(|i| ops[i].completed_at)
        .min()
        .unwrap_or(NEVER);
    for (i, op) in ops.iter().enumerate() {
        if done & (1 << i) != 0 || op.invoked_at > horizon {
            continue;
        }
        let next = match op.action {
            Action::Write(value) => Some(value),
            Action::Read(value) if value == current => current,
            Action::Read(_) => continue,
        };
        if op.completed_at.is_none() && matches!(op.action, Action::Read(_)) {
            continue;
        }
        if search(ops, done | (1 << i), next, dead_ends) {
            return true;
        }
    }
    dead_ends.insert((done, current));
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn write(value: u64, invoked_at: Time, completed_at: Time) -> RegisterOp {
        RegisterOp {
            invoked_at,
            completed_at: Some(completed_at),
            action: Action::Write(value),
        }
    }

    fn read(value: Option<u64>, invoked_at: Time, completed_at: Time) -> RegisterOp {
        RegisterOp {
            invoked_at,
            completed_at: Some(completed_at),
            action: Action::Read(value),
        }
    }

    #[test]
    fn ex04_5_a_stale_read_is_caught() {
        // w1 finished, then w2 finished, then a read returned w1's value.
        let history = [write(1, 1, 2), write(2, 3, 4), read(Some(1), 5, 6)];
        assert!(matches!(
            check_register(&history),
            Err(Violation::Conflict { .. })
        ));
        assert!(!brute_force(&history));
    }

    #[test]
    fn ex04_5_reads_that_go_back_in_time_are_caught() {
        // Concurrent writes; a read sees 2, a later read sees 1 again.
        let history = [
            write(1, 1, 4),
            write(2, 1, 4),
            read(Some(2), 5, 6),
            read(Some(1), 7, 8),
        ];
        assert!(check_register(&history).is_err());
        assert!(!brute_force(&history));
        // A read of the initial value after a read of a written one, too.
        let history = [write(1, 1, 2), read(Some(1), 3, 4), read(None, 5, 6)];
        assert!(check_register(&history).is_err());
    }

    #[test]
    fn ex04_5_reads_concurrent_with_a_write_may_see_either_value() {
        let history = [
            write(1, 1, 2),
            write(2, 3, 10),
            read(Some(1), 4, 5),
            read(Some(2), 6, 7),
            read(Some(2), 8, 9),
        ];
        assert_eq!(check_register(&history), Ok(()));
        assert!(brute_force(&history));
        // ...but once a read saw the new value, no later read sees the old.
        let history = [
            write(1, 1, 2),
            write(2, 3, 10),
            read(Some(2), 4, 5),
            read(Some(1), 6, 7),
        ];
        assert!(check_register(&history).is_err());
    }

    #[test]
    fn ex04_5_an_unacknowledged_write_may_or_may_not_have_happened() {
        let pending = RegisterOp {
            invoked_at: 3,
            completed_at: None,
            action: Action::Write(2),
        };
        assert_eq!(
            check_register(&[write(1, 1, 2), pending, read(Some(2), 10, 11)]),
            Ok(())
        );
        assert_eq!(
            check_register(&[write(1, 1, 2), pending, read(Some(1), 10, 11)]),
            Ok(())
        );
        assert!(matches!(
            check_register(&[write(1, 1, 2), pending, read(Some(2), 1, 2)]),
            Err(Violation::ReadFromTheFuture { .. })
        ));
        assert!(matches!(
            check_register(&[read(Some(9), 1, 2)]),
            Err(Violation::NeverWritten { .. })
        ));
    }

    /// Random small histories of a register that really exists (so many are
    /// linearizable), with some reads corrupted (so many are not): the zone
    /// check must agree with the exhaustive search on every one.
    #[test]
    fn the_zone_check_agrees_with_the_brute_force() {
        let mut rng = Rng::new(2024);
        let (mut good, mut bad) = (0, 0);
        for _ in 0..3000 {
            let n = rng.range(2, 8) as usize;
            let mut ops = Vec::new();
            let mut value_at: Vec<(Time, Option<u64>)> = vec![(0, None)];
            for i in 0..n {
                let invoked_at = rng.range(1, 30);
                let completed_at = invoked_at + rng.range(0, 10);
                let effect = rng.range(invoked_at, completed_at + 1);
                if rng.chance(400) {
                    let value = i as u64 + 1;
                    value_at.push((effect, Some(value)));
                    let completed = if rng.chance(100) {
                        None
                    } else {
                        Some(completed_at)
                    };
                    ops.push(RegisterOp {
                        invoked_at,
                        completed_at: completed,
                        action: Action::Write(value),
                    });
                } else {
                    ops.push(RegisterOp {
                        invoked_at,
                        completed_at: Some(completed_at),
                        action: Action::Read(Some(effect)), // placeholder: resolved below
                    });
                }
            }
            value_at.sort();
            for op in &mut ops {
                if let Action::Read(Some(effect)) = op.action {
                    let mut value = value_at
                        .iter()
                        .rev()
                        .find(|(t, _)| *t <= effect)
                        .and_then(|(_, v)| *v);
                    if rng.chance(150) {
                        value = rng.pick(&value_at).and_then(|(_, v)| *v);
                    }
                    op.action = Action::Read(value);
                }
            }
            let expected = brute_force(&ops);
            let actual = check_register(&ops).is_ok();
            assert_eq!(actual, expected, "{ops:?}");
            if expected {
                good += 1;
            } else {
                bad += 1;
            }
        }
        assert!(good > 500 && bad > 100, "{good} linearizable, {bad} not");
    }
}
