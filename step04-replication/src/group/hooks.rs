//! Test hooks of a replication group: freezing a replica, and reading at
//! one replica only. Tests stop and restart replicas with
//! [`ReplicationGroup::stop_replica`] and
//! [`ReplicationGroup::restart_replica`].

use super::ReplicationGroup;
use super::options::READ_DEADLINE_MS;
use super::query::{decode_get_reply, get_query};
use super::unexpected;
use crate::replica::{Reply, Request};
use crate::types::NodeId;
use std::time::{Duration, Instant};
use step01_kv::engine::{Result, StorageEngine};

impl<E: StorageEngine + 'static> ReplicationGroup<E> {
    /// For tests: freezes replica `id` (it keeps its state and handles
    /// nothing, as a process stalled on a disk would) until
    /// [`ReplicationGroup::resume_replica`]. Messages to it pile up in its
    /// inbox and are dropped when it is full; the protocol resends them.
    /// Returns whether the replica runs.
    pub fn pause_replica(&self, id: NodeId) -> bool {
        self.set_paused(id, true)
    }

    /// For tests: lets a paused replica go on. Returns whether it runs.
    pub fn resume_replica(&self, id: NodeId) -> bool {
        self.set_paused(id, false)
    }

    fn set_paused(&self, id: NodeId, paused: bool) -> bool {
        match self.replicas().get(&id).and_then(Option::as_ref) {
            Some(thread) => {
                thread.set_paused(paused);
                true
            }
            None => false,
        }
    }

    /// For tests: an eventually consistent read at replica `id` only,
    /// whatever the read floor (see the module documentation).
    pub fn get_at(&self, id: NodeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + Duration::from_millis(READ_DEADLINE_MS);
        let request = Request::EventualRead(get_query(key));
        match self.attempt(id, request, deadline) {
            Ok(Reply::Read { value, .. }) => decode_get_reply(&value),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(self.unavailable(&format!("replica {id}: {e:?}"))),
        }
    }
}
