//! The shared storage-engine conformance suite, run against `KvStore`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use step01_kv::store::{KvOptions, KvStore};
use step01_kv::wal::{FsyncPolicy, WalOptions};

/// The default options: every write is fsynced.
mod default_options {
    use super::*;

    step01_kv::storage_engine_conformance!(|dir: &Path| KvStore::open(dir, KvOptions::default()));
}

/// Tiny segments, so that every check also crosses segment boundaries.
mod small_segments {
    use super::*;

    step01_kv::storage_engine_conformance!(|dir: &Path| {
        KvStore::open(
            dir,
            KvOptions {
                wal: WalOptions {
                    fsync: FsyncPolicy::Never,
                    segment_bytes: 512,
                },
            },
        )
    });
}

#[test]
fn run_all_passes_with_an_untyped_closure() {
    let dir = tempfile::tempdir().unwrap();
    step01_kv::engine::conformance::run_all(dir.path(), &|dir| {
        KvStore::open(
            dir,
            KvOptions::with_fsync(FsyncPolicy::Interval(std::time::Duration::from_millis(2))),
        )
    });
}
