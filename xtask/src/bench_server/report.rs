//! The benchmark's outputs: the printed table, the JSON record and the SVG
//! chart for the book (drawn by hand: a few rectangles and labels do not
//! need a plotting library and its fonts).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::Options;
use super::load::{CellResult, Op};
use crate::cmd::Result;

/// One measured cell.
#[derive(Clone, Debug)]
pub struct Row {
    pub server: String,
    pub op: Op,
    pub concurrency: usize,
    pub ops_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub errors: u64,
}

/// What became of one server: its rows, or why it was not measured.
#[derive(Clone, Debug)]
pub enum Outcome {
    Measured(Vec<Row>),
    Skipped(String, String),
}

impl Row {
    pub fn new(server: &str, op: Op, concurrency: usize, cell: &CellResult) -> Row {
        Row {
            server: server.to_string(),
            op,
            concurrency,
            ops_per_second: cell.ops_per_second(),
            p50_ms: cell.histogram.quantile(0.50) as f64 / 1000.0,
            p99_ms: cell.histogram.quantile(0.99) as f64 / 1000.0,
            requests: cell.ops,
            errors: cell.errors,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{:<8} c={:<3} {:>9.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            self.op.name(),
            self.concurrency,
            self.ops_per_second,
            self.p50_ms,
            self.p99_ms
        )
    }
}

fn rows(outcomes: &[Outcome]) -> impl Iterator<Item = &Row> {
    outcomes.iter().flat_map(|o| match o {
        Outcome::Measured(rows) => rows.as_slice(),
        Outcome::Skipped(..) => &[],
    })
}

/// This row's throughput as a fraction of the ceiling's in the same cell.
fn vs_ceiling(outcomes: &[Outcome], row: &Row) -> Option<f64> {
    rows(outcomes)
        .find(|c| c.server == "ceiling" && c.op == row.op && c.concurrency == row.concurrency)
        .filter(|c| c.ops_per_second > 0.0)
        .map(|c| row.ops_per_second / c.ops_per_second)
}

pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<8} {:>5} {:>10} {:>9} {:>9} {:>7} {:>11}",
        "server", "op", "conc", "ops/s", "p50 ms", "p99 ms", "errors", "vs ceiling"
    );
    for row in rows(outcomes) {
        let ratio =
            vs_ceiling(outcomes, row).map_or_else(|| "-".to_string(), |r| format!("{r:.3}"));
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:>5} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>11}",
            row.server,
            row.op.name(),
            row.concurrency,
            row.ops_per_second,
            row.p50_ms,
            row.p99_ms,
            row.errors,
            ratio
        );
    }
    for outcome in outcomes {
        if let Outcome::Skipped(server, why) = outcome {
            let _ = writeln!(
                out,
                "{server:<16} skipped: {}",
                why.lines().next().unwrap_or("")
            );
        }
    }
    out
}

pub fn write_json(path: &Path, outcomes: &[Outcome], options: &Options) -> Result<()> {
    let results: Vec<_> = rows(outcomes)
        .map(|row| {
            json!({
                "server": row.server,
                "operation": row.op.name(),
                "concurrency": row.concurrency,
                "ops_per_second": row.ops_per_second,
                "p50_ms": row.p50_ms,
                "p99_ms": row.p99_ms,
                "requests": row.requests,
                "errors": row.errors,
                "vs_ceiling": vs_ceiling(outcomes, row),
            })
        })
        .collect();
    let skipped: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Skipped(server, why) => Some(json!({"server": server, "reason": why})),
            Outcome::Measured(_) => None,
        })
        .collect();
    let document = json!({
        "benchmark": "server",
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "seconds_per_cell": options.timing.measure.as_secs(),
        "warmup_seconds": options.timing.warmup.as_secs(),
        "results": results,
        "skipped": skipped,
    });
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&document).map_err(|e| format!("JSON: {e}"))?;
    fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}

const COLOURS: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
];

fn si(value: f64) -> String {
    if value >= 1_000_000.0 {
        format!("{}M", value / 1_000_000.0)
    } else if value >= 1000.0 {
        format!("{}k", value / 1000.0)
    } else {
        format!("{value}")
    }
}

/// Grouped bars on a log scale: one panel per operation, one group per
/// concurrency, one bar per server; hovering a bar shows its numbers.
pub fn svg(outcomes: &[Outcome], options: &Options) -> String {
    let servers: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Measured(rows) => rows.first().map(|r| r.server.as_str()),
            Outcome::Skipped(..) => None,
        })
        .collect();
    let peak = rows(outcomes)
        .map(|r| r.ops_per_second)
        .fold(10.0, f64::max);
    let decades = peak.log10().ceil().max(2.0) as i32;
    let (panel_w, bar_w, group_gap) = (
        40.0 + (servers.len().max(1) as f64 * 14.0 + 16.0) * options.concurrency.len() as f64,
        14.0,
        16.0,
    );
    let (left, top, plot_h) = (70.0, 70.0, 260.0);
    let width = left + panel_w * options.ops.len() as f64 + 20.0;
    let height = top + plot_h + 60.0;
    let y_of = |value: f64| top + plot_h - (value.max(1.0).log10() / f64::from(decades)) * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    // A <desc>, not a comment: XML comments may not contain the flags' "--".
    let _ = writeln!(
        s,
        "<desc>Generated by cargo xtask bench server --peers --write-plot; edit the generator, not this file.</desc>"
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="15" font-weight="bold">Requests per second by server, operation and concurrency (log scale)</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="40" fill="#555">{} cores shared by the load generator and the server; {} s per cell after {} s of warm-up</text>"##,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.timing.measure.as_secs(),
        options.timing.warmup.as_secs()
    );
    let skipped: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Skipped(server, _) => Some(server.as_str()),
            Outcome::Measured(_) => None,
        })
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="59" text-anchor="end" fill="#555">not measured: {}</text>"##,
            width - 20.0,
            skipped.join(", ")
        );
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">ops/s</text>"#,
        top + plot_h / 2.0
    );
    for (i, server) in servers.iter().enumerate() {
        let x = left + i as f64 * 130.0;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="50" width="10" height="10" fill="{colour}"/><text x="{}" y="59">{server}</text>"#,
            x + 14.0
        );
    }
    for decade in 0..=decades {
        let value = 10f64.powi(decade);
        let y = y_of(value);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - 20.0,
            left - 6.0,
            y + 4.0,
            si(value)
        );
    }
    for (p, op) in options.ops.iter().enumerate() {
        let panel_x = left + p as f64 * panel_w;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
            panel_x + panel_w / 2.0,
            top + plot_h + 44.0,
            op.name()
        );
        for (g, concurrency) in options.concurrency.iter().enumerate() {
            let group_x = panel_x + 20.0 + g as f64 * (servers.len() as f64 * bar_w + group_gap);
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">c={concurrency}</text>"#,
                group_x + servers.len() as f64 * bar_w / 2.0,
                top + plot_h + 18.0
            );
            for (i, server) in servers.iter().enumerate() {
                let Some(row) = rows(outcomes)
                    .find(|r| r.server == *server && r.op == *op && r.concurrency == *concurrency)
                else {
                    continue;
                };
                if row.ops_per_second < 1.0 {
                    continue;
                }
                let y = y_of(row.ops_per_second);
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{server} {} c={concurrency}: {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms</title></rect>"#,
                    group_x + i as f64 * bar_w,
                    bar_w - 2.0,
                    top + plot_h - y,
                    COLOURS[i % COLOURS.len()],
                    op.name(),
                    row.ops_per_second,
                    row.p50_ms,
                    row.p99_ms
                );
            }
        }
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        width - 20.0,
        top + plot_h,
        top + plot_h
    );
    s.push_str("</svg>\n");
    s
}

pub fn write_svg(path: &Path, outcomes: &[Outcome], options: &Options) -> Result<()> {
    fs::write(path, svg(outcomes, options)).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_server::histogram::Histogram;

    fn cell(ops: u64) -> CellResult {
        let mut histogram = Histogram::default();
        histogram.record(1500);
        CellResult {
            ops,
            errors: 0,
            seconds: 1.0,
            histogram,
            first_error: None,
        }
    }

    fn outcomes() -> Vec<Outcome> {
        vec![
            Outcome::Measured(vec![Row::new("ceiling", Op::PutItem, 1, &cell(20_000))]),
            Outcome::Measured(vec![Row::new("moto", Op::PutItem, 1, &cell(500))]),
            Outcome::Skipped("minidynamo".into(), "exited before serving\nmore".into()),
        ]
    }

    #[test]
    fn the_table_has_ratios_and_skips() {
        let text = table(&outcomes());
        assert!(text.contains("0.025"), "{text}");
        assert!(
            text.contains("minidynamo       skipped: exited before serving"),
            "{text}"
        );
        assert!(!text.contains("more"));
    }

    #[test]
    fn the_chart_has_one_bar_per_measured_cell() {
        let options = Options::parse(&["--concurrency", "1"]).unwrap();
        let chart = svg(&outcomes(), &options);
        assert!(chart.starts_with("<svg"));
        assert!(
            !chart.contains("<!--"),
            "comments cannot hold the flags' double hyphens"
        );
        assert_eq!(chart.matches("<title>").count(), 2);
        assert!(chart.contains("moto PutItem c=1: 500 ops/s"));
        assert!(chart.contains("not measured: minidynamo"));
    }
}
