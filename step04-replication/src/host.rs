//! The host: the small loop between a sans-IO [`Replica`] and the world.
//!
//! It carries out a replica's outputs in order — persistence through a
//! [`Storage`], messages through a [`Transport`], replies back to its
//! caller — and turns a completed sync into [`Input::Persisted`]. The
//! simulator and the TCP node both drive replicas through a `Host`; they
//! differ only in *when* they call [`Host::sync`] (after a simulated fsync
//! delay; after each batch of events) and in what a transport is.
//!
//! Invariant: a storage error stops the host before it acts on any later
//! output, so nothing that depends on a failed write (a vote reply after a
//! failed vote save, say) ever leaves.

use crate::codec::DecodeError;
use crate::message::Message;
use crate::replica::{Input, Options, Output, Replica, Reply};
use crate::state_machine::StateMachine;
use crate::storage::{Storage, StorageError};
use crate::types::{NodeId, RequestId};
use std::fmt;

/// Sends messages to peers. Fire and forget: a transport may drop a
/// message (the protocol retransmits), but must never alter one.
pub trait Transport {
    fn send(&mut self, message: Message);
}

/// The simplest transport: collect the messages for the caller to deliver.
impl Transport for Vec<Message> {
    fn send(&mut self, message: Message) {
        self.push(message);
    }
}

/// Why a host stopped.
#[derive(Debug)]
pub enum HostError {
    Storage(StorageError),
    /// The durable state does not decode (a snapshot the state machine
    /// rejects).
    Decode(DecodeError),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Storage(e) => write!(f, "storage failed: {e}"),
            HostError::Decode(e) => write!(f, "durable state is damaged: {e}"),
        }
    }
}

impl std::error::Error for HostError {}

impl From<StorageError> for HostError {
    fn from(e: StorageError) -> Self {
        HostError::Storage(e)
    }
}

impl From<DecodeError> for HostError {
    fn from(e: DecodeError) -> Self {
        HostError::Decode(e)
    }
}

/// Replies for clients, by request id.
pub type Replies = Vec<(RequestId, Reply)>;

/// A replica with its storage and transport.
#[derive(Debug)]
pub struct Host<M, S, T> {
    replica: Replica<M>,
    storage: S,
    transport: T,
}

impl<M: StateMachine, S: Storage, T: Transport> Host<M, S, T> {
    /// Starts replica `id` from what `storage` holds.
    pub fn open(
        id: NodeId,
        mut storage: S,
        transport: T,
        machine: M,
        options: Options,
        seed: u64,
    ) -> Result<Self, HostError> {
        let durable = storage.load()?;
        let replica = Replica::new(id, durable, machine, options, seed)?;
        Ok(Host {
            replica,
            storage,
            transport,
        })
    }

    /// Feeds one input and carries out the outputs; returns the replies.
    pub fn handle(&mut self, input: Input) -> Result<Replies, HostError> {
        let outputs = self.replica.step(input);
        let mut replies = Vec::new();
        for output in outputs {
            match output {
                Output::SaveHardState(hard_state) => self.storage.save_hard_state(&hard_state)?,
                Output::AppendEntries(entries) => self.storage.append(&entries)?,
                Output::SaveSnapshot(snapshot) => self.storage.save_snapshot(&snapshot)?,
                Output::Send(message) => self.transport.send(message),
                Output::Reply { id, reply } => replies.push((id, reply)),
            }
        }
        Ok(replies)
    }

    /// Makes every write durable and tells the replica; returns the
    /// replies that follow (a leader may commit).
    pub fn sync(&mut self) -> Result<Replies, HostError> {
        if !self.storage.has_unsynced() {
            return Ok(Vec::new());
        }
        let (index, term) = self.storage.sync()?;
        self.handle(Input::Persisted { index, term })
    }

    pub fn replica(&self) -> &Replica<M> {
        &self.replica
    }

    pub fn replica_mut(&mut self) -> &mut Replica<M> {
        &mut self.replica
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Stops the host, keeping only its storage (what a crash leaves).
    pub fn into_storage(self) -> S {
        self.storage
    }
}
