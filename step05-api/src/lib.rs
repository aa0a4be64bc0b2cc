//! Step 5 of minidynamo: the request router: DynamoDB's wire protocol, SigV4, expressions and the operations.
//!
//! This chapter has not been written yet. The crate compiles so that the
//! workspace and the layer chain exist from the start; it deliberately
//! contains no functionality until its chapter lands.
//! The expression languages live in [`expr`]: parser, evaluator, update application.

pub mod expr;
pub mod auth;
pub mod throttle;
