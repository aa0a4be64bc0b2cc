//! Step 1's storage-engine conformance suite — the same checks `KvStore`
//! passes — run against `Lsm`: with tiny memtables and tables, so that the
//! checks also cross flushes and compactions, and with the defaults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use step01_kv::wal::FsyncPolicy;
use step02_lsm::lsm::{Lsm, LsmOptions};

/// Tiny sizes and no fsyncs: flushes and compactions all the time.
mod tiny {
    use super::*;

    step01_kv::storage_engine_conformance!(|dir: &Path| {
        Lsm::open(dir, LsmOptions::tiny().with_fsync(FsyncPolicy::Never))
    });
}

/// Tiny sizes with every write fsynced: the durable paths (directory
/// fsyncs, the log sync before a flush commits) run too.
mod tiny_fsynced {
    use super::*;

    step01_kv::storage_engine_conformance!(|dir: &Path| Lsm::open(dir, LsmOptions::tiny()));
}

/// The default options: the data fits in the memtable.
mod default_options {
    use super::*;

    step01_kv::storage_engine_conformance!(|dir: &Path| Lsm::open(dir, LsmOptions::default()));
}

#[test]
fn run_all_passes_under_an_interval_fsync_policy() {
    let dir = tempfile::tempdir().unwrap();
    let interval = FsyncPolicy::Interval(std::time::Duration::from_millis(2));
    step01_kv::engine::conformance::run_all(dir.path(), &|dir| {
        Lsm::open(dir, LsmOptions::tiny().with_fsync(interval))
    });
}
