//! The replica on real sockets: frames, a node, a client.
//!
//! The simulator exercises the protocol against faults too rare for a
//! real network; this module proves the same code runs on one. A node is
//! a process (`src/bin/node.rs`) or a value in a test or benchmark
//! ([`node::Node`]); nodes talk over TCP on the loopback interface with
//! length-prefixed, checksummed frames ([`frame`]), and store their state
//! in step 1's write-ahead log (`file_storage.rs`).
//!
//! The node's transport runs on tokio: tasks read and write the sockets,
//! and one dedicated thread owns the replica, which blocks on fsyncs. The
//! client ([`client`]) is a small blocking one, for tests, benchmarks and
//! scripts.

pub mod client;
pub mod frame;
pub mod node;
