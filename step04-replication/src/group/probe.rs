//! A weak, read-only view of a group's replicas, for metrics: it never
//! keeps a group alive.

use super::GroupInner;
use super::driver::ReplicaThread;
use crate::replica::Status;
use std::fmt;
use std::sync::PoisonError;
use step02_lsm::lsm::Lsm;

/// A weak, read-only handle on a group's progress: every running
/// replica's [`Status`] (commit and applied indexes, role, term), for
/// metrics such as replication lag. It never keeps the group alive; once
/// the last [`ReplicationGroup`] handle is gone it reports nothing.
pub struct GroupProbe<E = Lsm> {
    pub(super) inner: std::sync::Weak<GroupInner<E>>,
}

impl<E> Clone for GroupProbe<E> {
    fn clone(&self) -> Self {
        GroupProbe {
            inner: std::sync::Weak::clone(&self.inner),
        }
    }
}

impl<E> fmt::Debug for GroupProbe<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupProbe")
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl<E> GroupProbe<E> {
    /// Whether the group still runs.
    pub fn is_alive(&self) -> bool {
        self.inner.strong_count() > 0
    }

    /// The status of every running replica, in id order; `None` once the
    /// group has stopped. Holds the group only while it copies them.
    pub fn statuses(&self) -> Option<Vec<Status>> {
        let inner = self.inner.upgrade()?;
        let replicas = inner
            .replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(
            replicas
                .values()
                .filter_map(Option::as_ref)
                .filter(|thread| thread.is_running())
                .map(ReplicaThread::status)
                .collect(),
        )
    }
}
