//! Step 2 of minidynamo: an LSM-tree engine: SSTables, bloom filters, a manifest and leveled compaction.
//!
//! This chapter has not been written yet. The crate compiles so that the
//! workspace and the layer chain exist from the start; it deliberately
//! contains no functionality until its chapter lands.
