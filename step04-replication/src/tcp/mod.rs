//! The replica on real sockets: frames, a node, a client.
//!
//! The simulator exercises the protocol against faults too rare for a
//! real network; this module proves the same code runs on one. A node is
//! a process (`src/bin/node.rs`) or a value in a test or benchmark
//! ([`node::Node`]); nodes talk over TCP on the loopback interface with
//! length-prefixed, checksummed frames ([`frame`]), and store their state
//! in step 1's write-ahead log (`file_storage.rs`).
//!
//! The transport uses plain threads and blocking sockets: one main thread
//! per node owns the replica, the others only move bytes through bounded
//! queues. (The rest of minidynamo serves HTTP with tokio; the replica does
//! not care which runtime carries its messages.)

pub mod client;
pub mod frame;
pub mod node;
