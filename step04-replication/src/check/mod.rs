//! The checkers that judge a simulation run, from the outside.
//!
//! They look only at what clients saw ([`history`]) and at what replicas
//! applied, never at the protocol's internals, so a bug anywhere — in the
//! election, the commit rule, the lease, the storage — shows up as a
//! violated promise:
//!
//! 1. **No acknowledged write is lost**: every write a client saw
//!    acknowledged at log index `i` is the entry applied at `i` (by every
//!    replica that applied `i`), and the group's final commit index covers it.
//! 2. **Strong reads are linearizable** ([`linearizability`]).
//! 3. **No phantom writes**: a write the leader definitely refused never
//!    appears in the log; an eventually consistent read returns a value
//!    some write wrote (maybe an old one), never one from nowhere.
//! 4. **Replicas converge** after the faults heal — checked by the
//!    simulator, which can see the replicas.

pub mod history;
pub mod linearizability;

use history::{OpKind, Operation, Outcome};
use linearizability::{Action, RegisterOp, check_register};
use std::collections::BTreeMap;

use crate::types::LogIndex;

/// Checks (2): the strong reads and the writes, key by key.
pub fn check_strong_reads(history: &[Operation]) -> Vec<String> {
    let mut by_key: BTreeMap<u64, Vec<RegisterOp>> = BTreeMap::new();
    for op in history {
        let action = match (op.kind, &op.outcome) {
            (OpKind::Write, Outcome::Failed { .. }) => continue,
            (OpKind::Write, _) => Action::Write(op.id),
            (OpKind::StrongRead, Outcome::Read { value, .. }) => Action::Read(*value),
            _ => continue,
        };
        by_key.entry(op.key).or_default().push(RegisterOp {
            invoked_at: op.invoked_at,
            completed_at: op.completed_at(),
            action,
        });
    }
    by_key
        .into_iter()
        .filter_map(|(key, ops)| {
            check_register(&ops)
                .err()
                .map(|v| format!("strong reads of key {key} are not linearizable: {v}"))
        })
        .collect()
}

/// Checks (1) and (3) against what the replicas applied: `applied` maps
/// each log index to the id of the write applied there, `committed` is
/// the group's final commit index.
pub fn check_writes(
    history: &[Operation],
    applied: &BTreeMap<LogIndex, u64>,
    committed: LogIndex,
) -> Vec<String> {
    let mut violations = Vec::new();
    let applied_ids: BTreeMap<u64, LogIndex> = applied.iter().map(|(i, id)| (*id, *i)).collect();
    for op in history.iter().filter(|op| op.kind == OpKind::Write) {
        match op.outcome {
            Outcome::Written { index, .. } => {
                if applied.get(&index) != Some(&op.id) {
                    violations.push(format!(
                        "acknowledged write {} at index {index} was lost: the log has {:?} there",
                        op.id,
                        applied.get(&index)
                    ));
                } else if index > committed {
                    violations.push(format!(
                        "acknowledged write {} at index {index} is beyond the final commit index {committed}",
                        op.id
                    ));
                }
            }
            Outcome::Failed { .. } => {
                if let Some(index) = applied_ids.get(&op.id) {
                    violations.push(format!(
                        "write {} was refused but applied at index {index}",
                        op.id
                    ));
                }
            }
            _ => {}
        }
    }
    let writes: BTreeMap<u64, &Operation> = history
        .iter()
        .filter(|op| op.kind == OpKind::Write)
        .map(|op| (op.id, op))
        .collect();
    for op in history.iter().filter(|op| op.kind == OpKind::EventualRead) {
        let Outcome::Read {
            value: Some(value),
            completed_at,
        } = op.outcome
        else {
            continue;
        };
        let from_a_write = writes.get(&value).is_some_and(|w| {
            w.key == op.key
                && w.invoked_at <= completed_at
                && !matches!(w.outcome, Outcome::Failed { .. })
        });
        if !from_a_write {
            violations.push(format!(
                "eventually consistent read {} of key {} returned {value}, which no write of that key wrote before it",
                op.id, op.key
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: u64, kind: OpKind, invoked_at: u64, outcome: Outcome) -> Operation {
        Operation {
            id,
            client: 0,
            key: 7,
            kind,
            invoked_at,
            outcome,
        }
    }

    #[test]
    fn a_lost_acknowledged_write_is_reported() {
        let history = [op(
            1,
            OpKind::Write,
            10,
            Outcome::Written {
                completed_at: 20,
                index: 3,
            },
        )];
        let mut applied = BTreeMap::new();
        assert_eq!(check_writes(&history, &applied, 5).len(), 1);
        applied.insert(3, 2);
        assert_eq!(
            check_writes(&history, &applied, 5).len(),
            1,
            "another write at 3"
        );
        applied.insert(3, 1);
        assert!(check_writes(&history, &applied, 5).is_empty());
        assert_eq!(
            check_writes(&history, &applied, 2).len(),
            1,
            "not committed"
        );
    }

    #[test]
    fn refused_writes_and_made_up_values_are_reported() {
        let history = [
            op(1, OpKind::Write, 10, Outcome::Failed { completed_at: 11 }),
            op(
                2,
                OpKind::EventualRead,
                12,
                Outcome::Read {
                    completed_at: 13,
                    value: Some(1),
                },
            ),
        ];
        let applied = BTreeMap::from([(4, 1)]);
        assert_eq!(check_writes(&history, &applied, 5).len(), 2);
    }

    #[test]
    fn strong_reads_are_checked_per_key() {
        let mut history = vec![
            op(
                1,
                OpKind::Write,
                1,
                Outcome::Written {
                    completed_at: 2,
                    index: 1,
                },
            ),
            op(
                2,
                OpKind::Write,
                3,
                Outcome::Written {
                    completed_at: 4,
                    index: 2,
                },
            ),
            op(
                3,
                OpKind::StrongRead,
                5,
                Outcome::Read {
                    completed_at: 6,
                    value: Some(2),
                },
            ),
        ];
        assert!(check_strong_reads(&history).is_empty());
        history[2].outcome = Outcome::Read {
            completed_at: 6,
            value: Some(1),
        };
        assert_eq!(check_strong_reads(&history).len(), 1);
        history[2].key = 8;
        assert_eq!(
            check_strong_reads(&history).len(),
            1,
            "key 8 never had the value of write 1"
        );
    }
}
