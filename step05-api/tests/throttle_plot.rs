//! The chapter's token-bucket plot: one table's write bucket through a
//! quiet spell, a burst and a recovery, drawn as hand-written SVG.
//!
//! The test runs the scenario with a fake clock and checks the picture in
//! the book is the one this code draws. To redraw it after a change:
//!
//! ```text
//! MINIDYNAMO_WRITE_SVG=1 cargo test -p step05-api --test throttle_plot
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use step05_api::throttle::{BURST_SECONDS, CapacityMode, CapacityUnits, Kind, PartitionBuckets};

/// Set to write the SVG into the book instead of comparing with it.
const WRITE_ENV: &str = "MINIDYNAMO_WRITE_SVG";

/// The table: 10 WCU, one partition.
const WRITE_UNITS_PER_SECOND: u64 = 10;

/// The scenario, as (first second, last second + 1, 1-unit writes per second).
const PHASES: [(u64, u64, u64); 3] = [(0, 360, 0), (360, 480, 60), (480, 600, 5)];

/// One second of the run.
#[derive(Clone, Copy, Debug)]
struct Second {
    /// Credit at the end of the second, in units.
    credit: f64,
    admitted: u64,
    throttled: u64,
}

fn run() -> Vec<Second> {
    let mode = CapacityMode::Provisioned {
        read_units_per_second: 1,
        write_units_per_second: WRITE_UNITS_PER_SECOND,
    };
    let mut table = PartitionBuckets::new(mode, 1, Duration::ZERO);
    let mut seconds = Vec::new();
    for (start, end, per_second) in PHASES {
        for second in start..end {
            let mut admitted = 0;
            let mut throttled = 0;
            // Requests evenly spaced within the second.
            for k in 0..per_second {
                let at = Duration::from_secs(second)
                    + Duration::from_secs(1) * k as u32 / per_second as u32;
                match table.admit(0, 1, Kind::Write, CapacityUnits::from_units(1), at) {
                    Ok(()) => admitted += 1,
                    Err(_) => throttled += 1,
                }
            }
            // Bring the balance to the end of the second for the plot.
            let mut bucket = table.bucket(0, Kind::Write).unwrap().clone();
            bucket.refill(Duration::from_secs(second + 1));
            seconds.push(Second {
                credit: bucket.balance_units(),
                admitted,
                throttled,
            });
        }
    }
    seconds
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 585.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 930.0;
const CREDIT_TOP: f64 = 70.0;
const CREDIT_BOTTOM: f64 = 290.0;
const RATE_TOP: f64 = 350.0;
const RATE_BOTTOM: f64 = 500.0;

fn render(seconds: &[Second]) -> String {
    let span = seconds.len() as f64;
    let x = |second: f64| LEFT + (RIGHT - LEFT) * second / span;
    let capacity = (WRITE_UNITS_PER_SECOND * BURST_SECONDS) as f64;
    let credit_max = capacity * 1.1;
    let credit_y = |units: f64| CREDIT_BOTTOM - (CREDIT_BOTTOM - CREDIT_TOP) * units / credit_max;
    let rate_max = 70.0;
    let rate_y = |rate: f64| RATE_BOTTOM - (RATE_BOTTOM - RATE_TOP) * rate / rate_max;

    let mut svg = String::new();
    writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="13">"##
    )
    .unwrap();
    writeln!(
        svg,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    )
    .unwrap();
    writeln!(
        svg,
        r##"<text x="{}" y="30" text-anchor="middle" font-size="17" font-weight="bold">A 10 WCU table: idle, a burst of 60 writes/s, then 5 writes/s</text>"##,
        WIDTH / 2.0
    )
    .unwrap();

    // Phase labels, and a band behind the phase that asks for more than
    // the provisioned rate.
    let labels = [
        "idle: credit builds up, capped at 300 s × 10 = 3,000 units",
        "burst: 60/s",
        "5/s: credit rebuilds",
    ];
    for ((start, end, per_second), label) in PHASES.iter().zip(labels) {
        let (x0, x1) = (x(*start as f64), x(*end as f64));
        if *per_second > WRITE_UNITS_PER_SECOND {
            writeln!(
                svg,
                r##"<rect x="{x0:.1}" y="{CREDIT_TOP}" width="{:.1}" height="{:.1}" fill="#fff4e0"/>"##,
                x1 - x0,
                RATE_BOTTOM - CREDIT_TOP
            )
            .unwrap();
        }
        writeln!(
            svg,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#555555">{label}</text>"##,
            (x0 + x1) / 2.0,
            CREDIT_TOP - 8.0
        )
        .unwrap();
    }

    // Credit panel: axis, capacity line, the balance.
    axis(&mut svg, CREDIT_TOP, CREDIT_BOTTOM, "credit (units)");
    for units in [0.0, 1_000.0, 2_000.0, 3_000.0] {
        tick(&mut svg, credit_y(units), &format!("{units:.0}"));
    }
    writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#c0392b" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#c0392b">capacity: rate × BURST_SECONDS</text>"##,
        LEFT + 10.0,
        credit_y(capacity) - 6.0,
        y = credit_y(capacity)
    )
    .unwrap();
    let mut points = format!(
        "{:.1},{:.1}",
        x(0.0),
        credit_y(WRITE_UNITS_PER_SECOND as f64)
    );
    for (second, s) in seconds.iter().enumerate() {
        write!(
            points,
            " {:.1},{:.1}",
            x(second as f64 + 1.0),
            credit_y(s.credit)
        )
        .unwrap();
    }
    writeln!(
        svg,
        r##"<polyline points="{points}" fill="none" stroke="#2c6fbb" stroke-width="2"/>"##
    )
    .unwrap();

    // Rate panel: admitted and throttled writes per second, stacked.
    axis(&mut svg, RATE_TOP, RATE_BOTTOM, "writes / s");
    for rate in [0.0, 10.0, 30.0, 60.0] {
        tick(&mut svg, rate_y(rate), &format!("{rate:.0}"));
    }
    for (second, s) in seconds.iter().enumerate() {
        // A hair wider than a second, so neighbouring bars leave no gap.
        let (x0, width) = (x(second as f64), x(1.0) - x(0.0) + 0.4);
        let admitted_top = rate_y(s.admitted as f64);
        let throttled_top = rate_y((s.admitted + s.throttled) as f64);
        if s.admitted > 0 {
            writeln!(
                svg,
                r##"<rect x="{x0:.1}" y="{admitted_top:.1}" width="{width:.2}" height="{:.1}" fill="#27ae60"/>"##,
                RATE_BOTTOM - admitted_top
            )
            .unwrap();
        }
        if s.throttled > 0 {
            writeln!(
                svg,
                r##"<rect x="{x0:.1}" y="{throttled_top:.1}" width="{width:.2}" height="{:.1}" fill="#e67e22"/>"##,
                admitted_top - throttled_top
            )
            .unwrap();
        }
    }
    writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#555555" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" fill="#555555">provisioned: 10/s</text>"##,
        LEFT + 10.0,
        rate_y(10.0) - 4.0,
        y = rate_y(10.0)
    )
    .unwrap();

    // Time axis and legend.
    for second in (0..=seconds.len()).step_by(60) {
        let at = x(second as f64);
        writeln!(
            svg,
            r##"<line x1="{at:.1}" y1="{RATE_BOTTOM}" x2="{at:.1}" y2="{:.1}" stroke="#333333"/><text x="{at:.1}" y="{:.1}" text-anchor="middle">{second}</text>"##,
            RATE_BOTTOM + 5.0,
            RATE_BOTTOM + 20.0
        )
        .unwrap();
    }
    writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">time (s)</text>"##,
        (LEFT + RIGHT) / 2.0,
        RATE_BOTTOM + 40.0
    )
    .unwrap();
    let legend_y = HEIGHT - 12.0;
    writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{:.1}" width="12" height="12" fill="#27ae60"/><text x="{:.1}" y="{legend_y:.1}">admitted</text><rect x="{:.1}" y="{:.1}" width="12" height="12" fill="#e67e22"/><text x="{:.1}" y="{legend_y:.1}">throttled (ProvisionedThroughputExceededException)</text><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#2c6fbb" stroke-width="2"/><text x="{:.1}" y="{legend_y:.1}">credit at the end of each second</text>"##,
        legend_y - 11.0,
        LEFT + 18.0,
        LEFT + 110.0,
        legend_y - 11.0,
        LEFT + 128.0,
        LEFT + 480.0,
        legend_y - 5.0,
        LEFT + 500.0,
        legend_y - 5.0,
        LEFT + 506.0
    )
    .unwrap();
    svg.push_str("</svg>\n");
    svg
}

fn axis(svg: &mut String, top: f64, bottom: f64, label: &str) {
    writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#333333"/><line x1="{LEFT}" y1="{bottom}" x2="{RIGHT}" y2="{bottom}" stroke="#333333"/><text x="20" y="{:.1}" transform="rotate(-90 20 {:.1})" text-anchor="middle">{label}</text>"##,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0
    )
    .unwrap();
}

fn tick(svg: &mut String, y: f64, label: &str) {
    writeln!(
        svg,
        r##"<line x1="{:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="#333333"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
        LEFT - 5.0,
        LEFT - 8.0,
        y + 4.0
    )
    .unwrap();
}

fn image_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../book/src/images/step05-token-bucket.svg")
}

#[test]
fn the_scenario_behaves_as_the_chapter_says() {
    let seconds = run();
    // Idle: the credit stops at the capacity (300 s × 10 units).
    assert_eq!(seconds[299].credit, 3_000.0);
    assert_eq!(seconds[359].credit, 3_000.0);
    // Burst: 60/s all admitted while the credit lasts (3,000 / 50 per s = 60 s)...
    assert!(seconds[360..418].iter().all(|s| s.throttled == 0));
    // ...then about the provisioned 10/s admitted, the rest throttled.
    let late_burst = &seconds[430..480];
    assert!(late_burst.iter().all(|s| (9..=11).contains(&s.admitted)));
    assert!(late_burst.iter().all(|s| s.admitted + s.throttled == 60));
    // Recovery: once the last debt is paid (within a second), 5/s are all
    // admitted and the credit grows by 5 units a second.
    assert!(seconds[481..].iter().all(|s| s.throttled == 0));
    let growth = seconds[599].credit - seconds[589].credit;
    assert!((growth - 50.0).abs() < 1e-6, "{growth}");
}

#[test]
fn the_book_shows_this_plot() {
    let svg = render(&run());
    let path = image_path();
    if std::env::var_os(WRITE_ENV).is_some() {
        std::fs::write(&path, &svg).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == svg,
        "{} differs from what the test draws; run with {WRITE_ENV}=1 to redraw it",
        path.display()
    );
}
