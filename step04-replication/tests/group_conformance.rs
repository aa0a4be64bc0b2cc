//! Step 1's storage engine conformance suite, run against a replication
//! group of three replicas on step 2's LSM tree: replicated, the engine
//! keeps every promise of a single-copy one.

use step02_lsm::lsm::LsmOptions;
use step04_replication::group::{GroupOptions, ReplicationGroup};

step01_kv::storage_engine_conformance!(|dir: &std::path::Path| {
    ReplicationGroup::open(dir, GroupOptions::lsm(LsmOptions::tiny()))
});
