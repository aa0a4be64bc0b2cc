//! Log lines on standard error, through `tracing`.
//!
//! The level applies to minidynamo's own crates; the libraries under them
//! (the HTTP stack) speak only at `warn` and above, so `--log-level debug`
//! shows one line per request, not every socket event. Every line logged
//! while a request is handled carries its `request{id=…}` span: the id the
//! client saw in `x-amzn-RequestId`.
//!
//! Standard output is kept for the banner, so scripts can read it.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::LogLevel;

/// The crates whose lines follow `--log-level`.
pub const OWN_CRATES: [&str; 7] = [
    "minidynamo",
    "step01_kv",
    "step02_lsm",
    "step03_partitioning",
    "step04_replication",
    "step05_api",
    "step06_indexes_streams_txn",
];

fn filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Off => LevelFilter::OFF,
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// Installs the process's subscriber. A second call (a test harness that
/// already installed one) leaves the first in place.
pub fn init(level: LogLevel) {
    let own = filter(level);
    let others = own.min(LevelFilter::WARN);
    let targets = OWN_CRATES
        .iter()
        .fold(Targets::new().with_default(others), |targets, name| {
            targets.with_target(*name, own)
        });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(targets)
        .try_init();
}
