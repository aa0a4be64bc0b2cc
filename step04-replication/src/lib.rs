//! Step 4 of minidynamo: three-replica groups with leader election, quorum writes and consistent reads.
//!
//! This chapter has not been written yet. The crate compiles so that the
//! workspace and the layer chain exist from the start; it deliberately
//! contains no functionality until its chapter lands.
