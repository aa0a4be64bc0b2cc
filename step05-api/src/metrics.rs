//! `GET /metrics`: what the server has done, in Prometheus' text format.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `minidynamo_requests_total` | counter | `operation` |
//! | `minidynamo_errors_total` | counter | `operation`, `type` (the `__type` code) |
//! | `minidynamo_request_duration_seconds` | histogram | `operation` |
//! | `minidynamo_throttled_requests_total` | counter | `table`, `kind` (`read`/`write`) |
//! | `minidynamo_tables`, `minidynamo_replicas_per_partition` | gauge | — |
//! | `minidynamo_table_partitions` | gauge | `table` |
//! | `minidynamo_partition_size_bytes`, `minidynamo_partition_items` | gauge | `table`, `partition` |
//! | `minidynamo_replica_applied_index`, `minidynamo_replica_commit_index` | gauge | `table`, `partition`, `replica` |
//! | `minidynamo_replication_lag_entries` | gauge | `table`, `partition`, `replica` |
//! | `minidynamo_replica_is_leader` | gauge | `table`, `partition`, `replica` |
//! | `minidynamo_replica_log_entries`, `minidynamo_replica_log_bytes` | gauge | `table`, `partition`, `replica` |
//! | `minidynamo_replica_log_compactions`, `minidynamo_replica_snapshots_installed`, `minidynamo_replica_snapshot_chunks_sent` | gauge | `table`, `partition`, `replica` |
//! | `minidynamo_process_resident_bytes` | gauge | — (Linux only) |
//!
//! The exposition is written by hand: it is a few lines of text per
//! family, and a metrics library would bring a registry, an HTTP server of
//! its own and atomics for label sets we already hold in one map.
//!
//! Label sets are bounded: `operation` is a registered operation's name
//! (or `none` for a request refused before its operation was known), and
//! `type` an error code of [`crate::error::ErrorKind`]. Per-table families
//! come from the catalog at scrape time, so a deleted table disappears.
//!
//! Replication lag is how far a replica's applied index trails the highest
//! commit index any replica of its group knows: 0 when it has applied
//! everything committed, growing while it is slow or down.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::backend::Backend;
use crate::replication::GroupProgress;

/// The `operation` label of a request refused before its operation was
/// known (bad JSON, an unknown target, a non-API path).
pub const OPERATION_NONE: &str = "none";
/// Upper bounds of the latency histogram's buckets, in seconds: from
/// half a millisecond (a cached read) to ten seconds (a write retrying
/// through elections).
pub const LATENCY_BUCKETS_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The content type of the text exposition format.
pub const CONTENT_TYPE_PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counters of one operation.
#[derive(Clone, Debug, Default)]
struct OperationStats {
    requests: u64,
    errors: BTreeMap<&'static str, u64>,
    /// Per bucket of [`LATENCY_BUCKETS_SECONDS`], not cumulative; one more
    /// for slower requests.
    buckets: [u64; LATENCY_BUCKETS_SECONDS.len() + 1],
    seconds: f64,
}

/// The server's request counters. One short lock per request: cheaper
/// than the JSON parse beside it.
#[derive(Debug, Default)]
pub struct Metrics {
    operations: Mutex<BTreeMap<String, OperationStats>>,
}

impl Metrics {
    /// Counts one answered request: its operation, its error code if it
    /// failed, and how long it took.
    pub fn record(&self, operation: &str, error: Option<&'static str>, elapsed: Duration) {
        let mut operations = self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stats = match operations.get_mut(operation) {
            Some(stats) => stats,
            None => operations.entry(operation.to_string()).or_default(),
        };
        stats.requests += 1;
        if let Some(code) = error {
            *stats.errors.entry(code).or_default() += 1;
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS_SECONDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(LATENCY_BUCKETS_SECONDS.len());
        stats.buckets[bucket] += 1;
        stats.seconds += seconds;
    }

    /// The whole page. Blocking (it reads every table's partition
    /// summaries): call it from a blocking thread.
    pub fn render(&self, backend: &Backend) -> String {
        let mut out = String::new();
        let operations = self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        render_requests(&mut out, &operations);
        render_tables(&mut out, backend);
        render_replication(&mut out, backend);
        render_process(&mut out);
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn render_requests(out: &mut String, operations: &BTreeMap<String, OperationStats>) {
    header(
        out,
        "minidynamo_requests_total",
        "counter",
        "Requests answered, by operation.",
    );
    for (operation, stats) in operations {
        let op = escape(operation);
        let _ = writeln!(
            out,
            "minidynamo_requests_total{{operation=\"{op}\"}} {}",
            stats.requests
        );
    }
    header(
        out,
        "minidynamo_errors_total",
        "counter",
        "Requests answered with an error, by operation and error type.",
    );
    for (operation, stats) in operations {
        let op = escape(operation);
        for (code, count) in &stats.errors {
            let _ = writeln!(
                out,
                "minidynamo_errors_total{{operation=\"{op}\",type=\"{code}\"}} {count}"
            );
        }
    }
    let name = "minidynamo_request_duration_seconds";
    header(
        out,
        name,
        "histogram",
        "Time from a request's arrival to its answer, by operation.",
    );
    for (operation, stats) in operations {
        let op = escape(operation);
        let mut cumulative = 0u64;
        for (bound, count) in LATENCY_BUCKETS_SECONDS.iter().zip(stats.buckets) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{operation=\"{op}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}",
            stats.requests
        );
        let _ = writeln!(out, "{name}_sum{{operation=\"{op}\"}} {}", stats.seconds);
        let _ = writeln!(out, "{name}_count{{operation=\"{op}\"}} {}", stats.requests);
    }
}

fn render_tables(out: &mut String, backend: &Backend) {
    let names = backend.catalog.names().unwrap_or_default();
    let tables: Vec<_> = names
        .iter()
        .filter_map(|name| Some((name, backend.catalog.get(name).ok()??)))
        .collect();
    header(out, "minidynamo_tables", "gauge", "Tables in the catalog.");
    let _ = writeln!(out, "minidynamo_tables {}", tables.len());
    header(
        out,
        "minidynamo_replicas_per_partition",
        "gauge",
        "Copies of every partition (1: a single LSM tree).",
    );
    let _ = writeln!(
        out,
        "minidynamo_replicas_per_partition {}",
        backend.replicas
    );

    header(
        out,
        "minidynamo_throttled_requests_total",
        "counter",
        "Requests refused by a table's token buckets, by table and kind.",
    );
    for (name, handle) in &tables {
        let Ok(buckets) = handle.buckets() else {
            continue;
        };
        let counters = buckets.counters();
        drop(buckets);
        let table = escape(name);
        for (kind, counts) in [("read", counters.reads), ("write", counters.writes)] {
            let _ = writeln!(
                out,
                "minidynamo_throttled_requests_total{{table=\"{table}\",kind=\"{kind}\"}} {}",
                counts.throttled
            );
        }
    }

    let summaries: Vec<_> = tables
        .iter()
        .filter_map(|(name, handle)| Some((*name, handle.table.partition_summaries().ok()?.1)))
        .collect();
    header(
        out,
        "minidynamo_table_partitions",
        "gauge",
        "Partitions of each table.",
    );
    for (name, partitions) in &summaries {
        let _ = writeln!(
            out,
            "minidynamo_table_partitions{{table=\"{}\"}} {}",
            escape(name),
            partitions.len()
        );
    }
    for (family, help, value) in [
        (
            "minidynamo_partition_size_bytes",
            "Bytes stored in each partition (keys and items).",
            (|p: &step03_partitioning::table::PartitionSummary| p.size_bytes)
                as fn(&step03_partitioning::table::PartitionSummary) -> u64,
        ),
        (
            "minidynamo_partition_items",
            "Items stored in each partition.",
            |p| p.item_count,
        ),
    ] {
        header(out, family, "gauge", help);
        for (name, partitions) in &summaries {
            let table = escape(name);
            for partition in partitions {
                let _ = writeln!(
                    out,
                    "{family}{{table=\"{table}\",partition=\"{}\"}} {}",
                    partition.id.0,
                    value(partition)
                );
            }
        }
    }
}

fn render_replication(out: &mut String, backend: &Backend) {
    let groups = backend.groups.progress();
    // Groups are found by directory: <data>/tables/<table-id>/partition-N.
    let mut tables_by_dir = BTreeMap::new();
    for name in backend.catalog.names().unwrap_or_default() {
        if let Ok(Some(handle)) = backend.catalog.get(&name) {
            tables_by_dir.insert(handle.table.dir().to_path_buf(), name);
        }
    }
    let labelled: Vec<(String, String, &GroupProgress)> = groups
        .iter()
        .filter_map(|group| {
            let table = tables_by_dir.get(group.dir.parent()?)?;
            Some((escape(table), partition_label(&group.dir), group))
        })
        .collect();
    type Value = fn(&step04_replication::replica::Status, u64) -> u64;
    let families: [(&str, &str, Value); 9] = [
        (
            "minidynamo_replica_applied_index",
            "The last log index each replica applied to its engine.",
            |status, _| status.applied_index,
        ),
        (
            "minidynamo_replica_commit_index",
            "The last log index each replica knows to be committed.",
            |status, _| status.commit_index,
        ),
        (
            "minidynamo_replication_lag_entries",
            "Committed entries each replica has not applied yet.",
            |status, commit| commit.saturating_sub(status.applied_index),
        ),
        (
            "minidynamo_replica_is_leader",
            "1 for the replica that leads its group, else 0.",
            |status, _| u64::from(status.role == step04_replication::Role::Leader),
        ),
        (
            "minidynamo_replica_log_entries",
            "Entries each replica's log holds in memory, after its last compaction.",
            |status, _| status.last_index.saturating_sub(status.snapshot_index),
        ),
        (
            "minidynamo_replica_log_bytes",
            "Payload bytes of the entries each replica's log holds in memory.",
            |status, _| status.log_bytes,
        ),
        (
            "minidynamo_replica_log_compactions",
            "Times each replica compacted its log since it started.",
            |status, _| status.compactions,
        ),
        (
            "minidynamo_replica_snapshots_installed",
            "Snapshots each replica installed from a leader since it started.",
            |status, _| status.snapshots_installed,
        ),
        (
            "minidynamo_replica_snapshot_chunks_sent",
            "Snapshot chunks each replica sent to followers since it started.",
            |status, _| status.snapshot_chunks_sent,
        ),
    ];
    for (family, help, value) in families {
        header(out, family, "gauge", help);
        for (table, partition, group) in &labelled {
            let commit = group
                .replicas
                .iter()
                .map(|status| status.commit_index)
                .max()
                .unwrap_or(0);
            for status in &group.replicas {
                let _ = writeln!(
                    out,
                    "{family}{{table=\"{table}\",partition=\"{partition}\",replica=\"{}\"}} {}",
                    status.id,
                    value(status, commit)
                );
            }
        }
    }
}

/// The process's resident memory, where `/proc` says it (Linux).
fn render_process(out: &mut String) {
    let Some(bytes) = resident_bytes() else {
        return;
    };
    let family = "minidynamo_process_resident_bytes";
    header(
        out,
        family,
        "gauge",
        "Resident memory of the server process.",
    );
    let _ = writeln!(out, "{family} {bytes}");
}

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// `partition-00000003` → `3`, as the partition families label it.
fn partition_label(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digits = name
        .strip_prefix(step03_partitioning::table::PARTITION_DIR_PREFIX)
        .unwrap_or(&name);
    digits
        .parse::<u64>()
        .map_or_else(|_| escape(digits), |id| id.to_string())
}

/// A label value with `\`, `"` and newlines escaped, as the format wants.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let metrics = Metrics::default();
        metrics.record("GetItem", None, Duration::from_micros(300));
        metrics.record("GetItem", None, Duration::from_millis(3));
        metrics.record(
            "GetItem",
            Some("ResourceNotFoundException"),
            Duration::from_secs(60),
        );
        let mut out = String::new();
        let operations = metrics.operations.lock().unwrap().clone();
        render_requests(&mut out, &operations);
        assert!(out.contains("minidynamo_requests_total{operation=\"GetItem\"} 3\n"));
        assert!(out.contains(
            "minidynamo_errors_total{operation=\"GetItem\",type=\"ResourceNotFoundException\"} 1\n"
        ));
        let bucket = |le: &str| format!("_bucket{{operation=\"GetItem\",le=\"{le}\"}} ");
        assert!(out.contains(&(bucket("0.0005") + "1\n")));
        assert!(out.contains(&(bucket("0.005") + "2\n")));
        assert!(out.contains(&(bucket("10") + "2\n")));
        assert!(out.contains(&(bucket("+Inf") + "3\n")));
        assert!(
            out.contains("minidynamo_request_duration_seconds_count{operation=\"GetItem\"} 3\n")
        );
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(partition_label(Path::new("/x/partition-00000012")), "12");
    }
}
