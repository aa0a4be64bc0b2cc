//! Step 3 of minidynamo: tables split into MD5 hash-range partitions, routed by a versioned partition map.
//!
//! This chapter has not been written yet. The crate compiles so that the
//! workspace and the layer chain exist from the start; it deliberately
//! contains no functionality until its chapter lands.
