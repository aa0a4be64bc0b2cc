//! Step 6 of minidynamo: secondary indexes, Streams, transactions, auto-scaling and TTL.
//!
//! This chapter has not been written yet. The crate compiles so that the
//! workspace and the layer chain exist from the start; it deliberately
//! contains no functionality until its chapter lands.
