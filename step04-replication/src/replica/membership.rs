//! Healing a replication group: replacing a dead replica.
//!
//! When a replica dies for good (its disk, its host), DynamoDB adds a new
//! one and copies the partition to it. Here that takes three membership
//! changes, each one replica at a time, each an entry in the log:
//!
//! 1. `AddLearner(new)`: the new replica receives the log (or a snapshot)
//!    but does not vote, so it holds up no quorum while it is empty.
//! 2. `Promote(new)`: once it has caught up, it becomes a voter (the group
//!    briefly has four voters, needing three).
//! 3. `Remove(dead)`: back to three voters.
//!
//! A configuration takes effect as soon as it is in a replica's log —
//! committed or not — and a leader allows only one uncommitted change at a
//! time. With single-replica changes, any majority of the old voters and
//! any majority of the new ones overlap, so the group never splits into two
//! majorities that elect two leaders. A leader that removes itself keeps
//! leading until the change commits, not counting itself, then steps down.

use super::{APPEND_ENTRIES_MAX, Progress, Replica, Reply, RoleState};
use crate::codec::MEMBERS_MAX;
use crate::state_machine::StateMachine;
use crate::types::{EntryKind, MembershipChange, NodeId, RequestId};

/// A learner may be promoted once its durable log is within this many
/// entries of the leader's commit index: one `Append` from caught up.
pub const CATCH_UP_SLACK_ENTRIES: u64 = APPEND_ENTRIES_MAX as u64;

impl<M: StateMachine> Replica<M> {
    pub(super) fn change_membership(&mut self, id: RequestId, change: MembershipChange) {
        let RoleState::Leader(leader) = &self.role else {
            let leader = self.leader_hint();
            self.reply(id, Reply::NotLeader { leader });
            return;
        };
        if self.commit_index < leader.term_start_index || self.config_index > self.commit_index {
            // Retry later: our no-op, or the previous change, must commit first.
            self.reply(id, Reply::Busy);
            return;
        }
        let mut config = self.config.clone();
        let verdict = match change {
            MembershipChange::AddLearner(node) if config.contains(node) => {
                Err(format!("replica {node} is already a member"))
            }
            MembershipChange::AddLearner(_) if config.members().count() >= MEMBERS_MAX => {
                Err(format!("a group has at most {MEMBERS_MAX} members"))
            }
            MembershipChange::AddLearner(node) => {
                config.learners.insert(node);
                Ok(())
            }
            MembershipChange::Promote(node) if !config.learners.contains(&node) => {
                Err(format!("replica {node} is not a learner"))
            }
            MembershipChange::Promote(node) => {
                let matched = leader.progress.get(&node).map_or(0, |p| p.match_index);
                if matched + CATCH_UP_SLACK_ENTRIES < self.commit_index {
                    Err(format!(
                        "replica {node} has not caught up ({matched} of {})",
                        self.commit_index
                    ))
                } else {
                    config.learners.remove(&node);
                    config.voters.insert(node);
                    Ok(())
                }
            }
            MembershipChange::Remove(node) if !config.contains(node) => {
                Err(format!("replica {node} is not a member"))
            }
            MembershipChange::Remove(node)
                if config.voters.len() == 1 && config.voters.contains(&node) =>
            {
                Err("the last voter cannot be removed".to_string())
            }
            MembershipChange::Remove(node) => {
                config.voters.remove(&node);
                config.learners.remove(&node);
                Ok(())
            }
        };
        if let Err(reason) = verdict {
            self.reply(id, Reply::Rejected(reason));
            return;
        }
        let index = self.propose(EntryKind::Config(config));
        if let RoleState::Leader(leader) = &mut self.role {
            leader.pending.insert(index, id);
        }
        self.send_to_followers_with_room();
    }

    /// The membership changed (appended, truncated away, or installed from
    /// a snapshot). A leader starts or stops tracking replicas, and drops
    /// its lease: the promises it rests on were counted among other voters.
    pub(super) fn config_changed(&mut self) {
        let next_index = self.log.last_index() + 1;
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let members: Vec<NodeId> = self.config.members().filter(|&m| m != self.id).collect();
        leader.progress.retain(|id, _| members.contains(id));
        for member in members {
            leader.progress.entry(member).or_insert(Progress {
                next_index,
                match_index: 0,
                acked_round: 0,
                acked_sent_at: None,
                transfer: None,
            });
        }
        leader.lease_floor = self.now;
    }

    /// A leader whose removal has committed steps down.
    pub(super) fn leave_if_removed(&mut self) {
        if self.is_leader()
            && !self.config.is_voter(self.id)
            && self.commit_index >= self.config_index
        {
            self.become_follower(self.term, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, ack, last_stamp, replies, step};
    use super::super::{Input, Reply, Request, Role};
    use crate::types::{MembershipChange, RequestId};

    fn change(id: u64, change: MembershipChange) -> Input {
        Input::Request {
            id: RequestId(id),
            request: Request::ChangeMembership(change),
        }
    }

    #[test]
    fn changes_go_one_at_a_time_and_promotion_waits_for_catch_up() {
        let (mut leader, outputs) = testkit::leader_of_three();
        let stamp = last_stamp(&outputs);
        ack(&mut leader, 2, 1, stamp);
        let outputs = step(&mut leader, change(1, MembershipChange::AddLearner(4)));
        assert!(replies(&outputs).is_empty());
        assert!(
            leader.config().learners.contains(&4),
            "in effect once appended"
        );
        let outputs = step(&mut leader, change(2, MembershipChange::Remove(3)));
        assert_eq!(replies(&outputs), vec![(RequestId(2), Reply::Busy)]);
        let outputs = ack(&mut leader, 2, 2, stamp);
        assert!(matches!(
            replies(&outputs)[..],
            [(RequestId(1), Reply::ConfigChanged { index: 2, .. })]
        ));
        for i in 0..100 {
            step(
                &mut leader,
                Input::Request {
                    id: RequestId(100 + i),
                    request: Request::Write(vec![]),
                },
            );
        }
        let last = leader.last_index();
        ack(&mut leader, 2, last, stamp);
        let outputs = step(&mut leader, change(3, MembershipChange::Promote(4)));
        assert!(matches!(
            replies(&outputs)[..],
            [(RequestId(3), Reply::Rejected(_))]
        ));
        ack(&mut leader, 4, last, stamp);
        let outputs = step(&mut leader, change(4, MembershipChange::Promote(4)));
        assert!(replies(&outputs).is_empty());
        assert_eq!(leader.config().voters.len(), 4);
    }

    #[test]
    fn a_leader_that_removes_itself_steps_down_once_the_removal_commits() {
        let (mut leader, outputs) = testkit::leader_of_three();
        let stamp = last_stamp(&outputs);
        ack(&mut leader, 2, 1, stamp);
        step(&mut leader, change(1, MembershipChange::Remove(1)));
        assert_eq!(
            leader.role(),
            Role::Leader,
            "still leading until it commits"
        );
        // The leader's own copy no longer counts: 2 of {2, 3} are needed.
        ack(&mut leader, 2, 2, stamp);
        assert_eq!(leader.role(), Role::Leader);
        let outputs = ack(&mut leader, 3, 2, stamp);
        assert!(matches!(
            replies(&outputs)[..],
            [(RequestId(1), Reply::ConfigChanged { .. })]
        ));
        assert_eq!(leader.role(), Role::Follower);
        for _ in 0..100 {
            step(&mut leader, Input::Tick);
        }
        assert_eq!(
            leader.role(),
            Role::Follower,
            "a removed replica never campaigns"
        );
    }
}
