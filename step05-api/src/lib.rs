//! Step 5 of minidynamo: the request router — DynamoDB's wire protocol, its
//! errors, the table catalog and the table and item operations, served over
//! HTTP so that the AWS SDKs, the AWS CLI and boto3 work unchanged.
//!
//! A request's path, and the module for each stop:
//!
//! ```text
//! HTTP ─▶ server (size, method) ─▶ wire (JSON, target) ─▶ access (authenticate, authorize)
//!      ─▶ registry (which operation) ─▶ ops::* (decode ─▶ validate ─▶ route ─▶ meter ─▶ apply)
//!      ─▶ wire (response: x-amzn-RequestId, x-amz-crc32) ─▶ HTTP
//! ```
//!
//! Read in this order:
//!
//! * **The protocol** — [`wire`] (framing, limits, CRC, request ids),
//!   [`error`] (every error DynamoDB can answer, as `__type`, status and
//!   message), [`decode`] (reading members with DynamoDB's serialization
//!   and validation messages), [`compression`] (gzip and deflate bodies,
//!   both ways).
//! * **The router** — [`server`] (the request path, the blocking-thread
//!   choice, graceful shutdown), [`config`], [`access`] (the authentication
//!   and authorization slots), [`registry`] (operations by name),
//!   [`metrics`] (the Prometheus page).
//! * **The tables** — [`engine`] (the swappable engine factory),
//!   [`replication`] (partitions as step 4's replication groups),
//!   [`catalog`] (table metadata, durable, the table life cycle),
//!   [`backend`] (what handlers share).
//! * **The operations** — [`ops`], metered by [`capacity`]; their
//!   expressions are parsed and evaluated by [`expr`].
//!
//! # Invariants
//!
//! 1. **Every answer is DynamoDB's.** A request gets a 200 with the
//!    operation's output shape, or the error of the *first* failed check in
//!    DynamoDB's order (`server`, then `decode`'s two passes, then the
//!    operation), with DynamoDB's `__type`, status and message.
//! 2. **No input panics, hangs or exhausts the server.** Bodies, JSON depth,
//!    requests in flight and the bytes they hold are bounded; every
//!    decoder returns errors.
//! 3. **The catalog file is the commit point of a table's existence.** A
//!    table's data directory exists whenever the catalog names it.
//! 4. **An acknowledged write is durable**, and an UpdateItem never loses a
//!    concurrent one: its read-modify-write commits only if the item is
//!    unchanged since the read.

pub mod access;
pub mod auth;
pub mod backend;
pub mod capacity;
pub mod catalog;
pub mod compression;
pub mod config;
pub mod decode;
pub mod engine;
pub mod error;
pub mod expr;
pub mod metrics;
pub mod ops;
pub mod registry;
pub mod replication;
pub mod server;
pub mod throttle;
pub mod wire;

pub use config::{ServerConfig, Storage};
pub use server::{Server, ServerHandle, StartError, serve};
