//! A picture of a table's partition map: the hash ring, each partition an
//! arc over its hash range, labelled with its size and coloured by heat.
//!
//! The ring starts at the top (hash 0) and runs clockwise to `u128::MAX`. An
//! arc's length is the share of the ring its range covers, so after a few
//! splits driven by real data the arcs are visibly uneven — the split points
//! follow the data, not the midpoints. A partition holding one large item
//! collection can end up owning a sliver of the ring; arcs are drawn at
//! least [`ARC_DEGREES_MIN`] wide so that slivers stay visible, and a table
//! beside the ring lists every partition with its exact numbers. Heat is the
//! partition's sustained load as a share of the per-partition limit of the
//! split policy (the larger of reads and writes): blue is idle, yellow half
//! way, red at the limit.
//!
//! Hand-written SVG, no crates: the picture is a handful of elements, and the
//! code that draws them is short enough to read. The output depends only on
//! its inputs (no clock, no randomness), so a picture can be checked in and
//! compared.

use std::f64::consts::{FRAC_PI_2, TAU};
use std::fmt::Write as _;

use crate::policy::SplitPolicy;
use crate::range::RING_SIZE_F64;
use crate::table::PartitionSummary;

/// The picture's size in pixels.
pub const SVG_WIDTH: f64 = 960.0;
pub const SVG_HEIGHT: f64 = 710.0;
const CENTER_X: f64 = 300.0;
const CENTER_Y: f64 = 330.0;
const RING_RADIUS: f64 = 200.0;
const RING_WIDTH: f64 = 56.0;
const LABEL_RADIUS: f64 = 268.0;
/// Arcs smaller than this share of the ring get no label on the ring, so
/// labels do not pile up (the table lists them all).
pub const LABEL_RING_FRACTION_MIN: f64 = 1.0 / 40.0;
/// The narrowest arc drawn, in degrees.
pub const ARC_DEGREES_MIN: f64 = 3.0;
/// The white margin on each side of a sliver, in degrees.
const SLIVER_MARGIN_DEGREES: f64 = 0.6;
/// Rows of the partition table; a longer map is cut off with a note.
pub const TABLE_ROWS_MAX: usize = 30;
const TABLE_X: f64 = 580.0;
const TABLE_Y: f64 = 96.0;
const TABLE_ROW_HEIGHT: f64 = 17.0;

/// Colour stops of the heat scale: idle, half, at the limit.
const COLD: (f64, f64, f64) = (49.0, 130.0, 189.0);
const WARM: (f64, f64, f64) = (254.0, 217.0, 118.0);
const HOT: (f64, f64, f64) = (215.0, 48.0, 39.0);

/// The load of a partition as a share of its limit, in `[0, 1]`.
pub fn heat(partition: &PartitionSummary, policy: &SplitPolicy) -> f64 {
    let reads = partition.read_units_per_second / policy.read_units_per_second_max;
    let writes = partition.write_units_per_second / policy.write_units_per_second_max;
    let heat = reads.max(writes);
    if heat.is_finite() {
        heat.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// The colour of a heat in `[0, 1]`, as `#rrggbb`.
pub fn heat_colour(heat: f64) -> String {
    let heat = heat.clamp(0.0, 1.0);
    let (from, to, t) = if heat < 0.5 {
        (COLD, WARM, heat * 2.0)
    } else {
        (WARM, HOT, (heat - 0.5) * 2.0)
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(from.0, to.0),
        mix(from.1, to.1),
        mix(from.2, to.2)
    )
}

/// A share of the ring for people: `36.2%`, or `<0.1%` for slivers.
fn ring_share(fraction: f64) -> String {
    if fraction < 0.001 {
        "<0.1%".to_string()
    } else {
        format!("{:.1}%", 100.0 * fraction)
    }
}

/// Sizes for people: `812 B`, `3.4 KiB`, `1.2 MiB`, `10.0 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

// ANCHOR: render
/// The partition map as an SVG document.
pub fn render_partition_map(
    epoch: u64,
    partitions: &[PartitionSummary],
    policy: &SplitPolicy,
) -> String {
    let mut svg = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_WIDTH}" height="{SVG_HEIGHT}" viewBox="0 0 {SVG_WIDTH} {SVG_HEIGHT}" font-family="sans-serif">
<title>Partition map at epoch {epoch}</title>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{title_x}" y="36" text-anchor="middle" font-size="20" font-weight="bold">The hash ring: {count} partitions at epoch {epoch}</text>
"##,
        title_x = SVG_WIDTH / 2.0,
        count = partitions.len(),
    );
    // Wide arcs, the ticks between partitions, then the slivers on top so
    // that neither hides them.
    let sliver = |p: &&PartitionSummary| p.range.ring_fraction() < ARC_DEGREES_MIN / 360.0;
    for partition in partitions.iter().filter(|p| !sliver(p)) {
        draw_arc(&mut svg, partition, policy);
    }
    if partitions.len() > 1 {
        for partition in partitions {
            draw_boundary(&mut svg, partition.range.start() as f64 / RING_SIZE_F64);
        }
    }
    for partition in partitions.iter().filter(sliver) {
        draw_arc(&mut svg, partition, policy);
    }
    for (fraction, label) in [
        (0.0, "0x00…"),
        (0.25, "0x40…"),
        (0.5, "0x80…"),
        (0.75, "0xc0…"),
    ] {
        let (x, y) = point(RING_RADIUS - RING_WIDTH / 2.0 - 18.0, fraction);
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" dominant-baseline="middle" font-size="11" fill="#555555">{label}</text>"##
        );
    }
    let total: u64 = partitions.iter().map(|p| p.size_bytes).sum();
    let items: u64 = partitions.iter().map(|p| p.item_count).sum();
    let _ = write!(
        svg,
        r##"<text x="{CENTER_X}" y="{y1}" text-anchor="middle" font-size="16">{size}</text>
<text x="{CENTER_X}" y="{y2}" text-anchor="middle" font-size="13" fill="#555555">{items} items</text>
"##,
        y1 = CENTER_Y - 4.0,
        y2 = CENTER_Y + 16.0,
        size = escape(&format_bytes(total)),
    );
    draw_legend(&mut svg);
    draw_table(&mut svg, partitions, policy);
    svg.push_str("</svg>\n");
    svg
}
// ANCHOR_END: render

/// One partition: an arc over its range, a tooltip, and a label if it is
/// wide enough.
fn draw_arc(svg: &mut String, partition: &PartitionSummary, policy: &SplitPolicy) {
    let start = partition.range.start() as f64 / RING_SIZE_F64;
    let end = (partition.range.end() as f64 + 1.0) / RING_SIZE_F64;
    // Widen slivers around their middle to the minimum drawn width.
    let widen = ((ARC_DEGREES_MIN / 360.0 - (end - start)) / 2.0).max(0.0);
    let (from, to) = (start - widen, end + widen);
    let colour = heat_colour(heat(partition, policy));
    let tooltip = escape(&format!(
        "{}: hashes {}, {} in {} items, {:.1} RCU/s, {:.1} WCU/s",
        partition.id,
        partition.range,
        format_bytes(partition.size_bytes),
        partition.item_count,
        partition.read_units_per_second,
        partition.write_units_per_second
    ));
    if to - from >= 0.9999 {
        let _ = writeln!(
            svg,
            r##"<circle cx="{CENTER_X}" cy="{CENTER_Y}" r="{RING_RADIUS}" fill="none" stroke="{colour}" stroke-width="{RING_WIDTH}"><title>{tooltip}</title></circle>"##
        );
    } else {
        if widen > 0.0 {
            // A white margin keeps a sliver apart from its neighbours.
            let margin = SLIVER_MARGIN_DEGREES / 360.0;
            let backing = arc_path(from - margin, to + margin);
            let _ = writeln!(
                svg,
                r##"<path d="{backing}" fill="none" stroke="#ffffff" stroke-width="{RING_WIDTH}"/>"##
            );
        }
        let _ = writeln!(
            svg,
            r##"<path d="{path}" fill="none" stroke="{colour}" stroke-width="{RING_WIDTH}"><title>{tooltip}</title></path>"##,
            path = arc_path(from, to),
        );
    }
    if end - start < LABEL_RING_FRACTION_MIN {
        return;
    }
    let middle = (from + to) / 2.0;
    let (x, y) = point(LABEL_RADIUS, middle);
    let (dx, _) = direction(middle);
    let anchor = if dx > 0.25 {
        "start"
    } else if dx < -0.25 {
        "end"
    } else {
        "middle"
    };
    let _ = writeln!(
        svg,
        r##"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-size="13"><tspan font-weight="bold">{id}</tspan><tspan x="{x:.1}" dy="16">{size}</tspan></text>"##,
        id = escape(&partition.id.to_string()),
        size = escape(&format_bytes(partition.size_bytes)),
    );
}

/// The SVG path of the ring's centre line from `from` to `to` (fractions of
/// the ring, clockwise from the top).
fn arc_path(from: f64, to: f64) -> String {
    let (x0, y0) = point(RING_RADIUS, from);
    let (x1, y1) = point(RING_RADIUS, to);
    let large = u8::from(to - from > 0.5);
    format!("M {x0:.2} {y0:.2} A {RING_RADIUS} {RING_RADIUS} 0 {large} 1 {x1:.2} {y1:.2}")
}

/// A white tick across the ring where a partition starts.
fn draw_boundary(svg: &mut String, fraction: f64) {
    let (x0, y0) = point(RING_RADIUS - RING_WIDTH / 2.0 - 4.0, fraction);
    let (x1, y1) = point(RING_RADIUS + RING_WIDTH / 2.0 + 4.0, fraction);
    let _ = writeln!(
        svg,
        r##"<line x1="{x0:.2}" y1="{y0:.2}" x2="{x1:.2}" y2="{y1:.2}" stroke="#ffffff" stroke-width="2"/>"##
    );
}

/// Every partition in ring order: a colour swatch, where its range starts,
/// its share of the ring, size, items and heat.
fn draw_table(svg: &mut String, partitions: &[PartitionSummary], policy: &SplitPolicy) {
    let columns = [
        (0.0, "start", "start"),
        (75.0, "start", "partition"),
        (180.0, "end", "ring"),
        (255.0, "end", "size"),
        (305.0, "end", "items"),
        (347.0, "end", "heat"),
    ];
    let mut header = String::new();
    for (dx, anchor, title) in columns {
        let _ = write!(
            header,
            r##"<text x="{x}" y="{TABLE_Y}" text-anchor="{anchor}" font-size="12" font-weight="bold">{title}</text>"##,
            x = TABLE_X + 18.0 + dx,
        );
    }
    let _ = writeln!(svg, "{header}");
    for (row, partition) in partitions.iter().take(TABLE_ROWS_MAX).enumerate() {
        let y = TABLE_Y + TABLE_ROW_HEIGHT * (row as f64 + 1.0);
        let heat = heat(partition, policy);
        let cells = [
            format!("{:032x}", partition.range.start())
                .chars()
                .take(8)
                .collect::<String>()
                + "…",
            partition.id.to_string(),
            ring_share(partition.range.ring_fraction()),
            format_bytes(partition.size_bytes),
            partition.item_count.to_string(),
            format!("{heat:.2}"),
        ];
        let _ = write!(
            svg,
            r##"<rect x="{TABLE_X}" y="{top:.1}" width="12" height="12" fill="{colour}"/>"##,
            top = y - 10.0,
            colour = heat_colour(heat),
        );
        for ((dx, anchor, _), cell) in columns.iter().zip(cells) {
            let _ = write!(
                svg,
                r##"<text x="{x}" y="{y:.1}" text-anchor="{anchor}" font-size="12" font-family="monospace">{cell}</text>"##,
                x = TABLE_X + 18.0 + dx,
                cell = escape(&cell),
            );
        }
        svg.push('\n');
    }
    if partitions.len() > TABLE_ROWS_MAX {
        let _ = writeln!(
            svg,
            r##"<text x="{TABLE_X}" y="{y:.1}" font-size="12" fill="#555555">… and {more} more</text>"##,
            y = TABLE_Y + TABLE_ROW_HEIGHT * (TABLE_ROWS_MAX as f64 + 1.0),
            more = partitions.len() - TABLE_ROWS_MAX,
        );
    }
}

/// The heat scale under the ring.
fn draw_legend(svg: &mut String) {
    let (left, top, width) = (CENTER_X - 150.0, SVG_HEIGHT - 56.0, 300.0);
    let _ = write!(
        svg,
        r##"<defs><linearGradient id="heat"><stop offset="0" stop-color="{cold}"/><stop offset="0.5" stop-color="{warm}"/><stop offset="1" stop-color="{hot}"/></linearGradient></defs>
<rect x="{left}" y="{top}" width="{width}" height="14" fill="url(#heat)"/>
<text x="{left}" y="{label_y}" font-size="12" text-anchor="start">idle</text>
<text x="{right}" y="{label_y}" font-size="12" text-anchor="end">at the partition limit</text>
<text x="{CENTER_X}" y="{title_y}" font-size="12" text-anchor="middle">heat: sustained load / per-partition capacity</text>
"##,
        cold = heat_colour(0.0),
        warm = heat_colour(0.5),
        hot = heat_colour(1.0),
        right = left + width,
        label_y = top + 30.0,
        title_y = top - 8.0,
    );
}

/// The unit vector at `fraction` of the way round the ring, clockwise
/// from the top.
fn direction(fraction: f64) -> (f64, f64) {
    let angle = fraction * TAU - FRAC_PI_2;
    (angle.cos(), angle.sin())
}

fn point(radius: f64, fraction: f64) -> (f64, f64) {
    let (dx, dy) = direction(fraction);
    (CENTER_X + radius * dx, CENTER_Y + radius * dy)
}

/// Escapes text for an SVG text node or attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::PartitionId;
    use crate::range::HashRange;

    fn summary(id: u64, index: u32, count: u32, bytes: u64, writes: f64) -> PartitionSummary {
        PartitionSummary {
            id: PartitionId(id),
            range: HashRange::nth_of(index, count).unwrap(),
            item_count: bytes / 100,
            size_bytes: bytes,
            read_units_per_second: 0.0,
            write_units_per_second: writes,
        }
    }

    #[test]
    fn one_arc_per_partition_with_labels_and_heat() {
        let policy = SplitPolicy::default();
        let partitions = vec![
            summary(5, 0, 3, 3 * 1024 * 1024, 0.0),
            summary(8, 1, 3, 2048, 1000.0),
            summary(9, 2, 3, 512, 500.0),
        ];
        let svg = render_partition_map(4, &partitions, &policy);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<path ").count(), 3, "wide arcs need no margin");
        assert_eq!(svg.matches("<line ").count(), 3);
        for label in ["p5", "p8", "p9", "3.0 MiB", "2.0 KiB", "512 B", "epoch 4"] {
            assert!(svg.contains(label), "missing {label}");
        }
        assert!(
            svg.contains(&format!("stroke=\"{}\"", heat_colour(1.0))),
            "p8 is hot"
        );
        assert!(
            svg.contains(&format!("stroke=\"{}\"", heat_colour(0.5))),
            "p9 is warm"
        );
        assert!(
            svg.contains(&format!("stroke=\"{}\"", heat_colour(0.0))),
            "p5 is cold"
        );
        assert_eq!(
            svg,
            render_partition_map(4, &partitions, &policy),
            "deterministic"
        );
    }

    #[test]
    fn a_single_partition_is_a_full_circle() {
        let svg = render_partition_map(1, &[summary(1, 0, 1, 0, 0.0)], &SplitPolicy::default());
        assert_eq!(svg.matches("<circle ").count(), 1);
        assert_eq!(svg.matches("<path ").count(), 0);
    }

    #[test]
    fn tiny_partitions_get_a_tooltip_but_no_label() {
        let partitions: Vec<_> = (0..100)
            .map(|i| summary(i + 1, i as u32, 100, 10, 0.0))
            .collect();
        let svg = render_partition_map(1, &partitions, &SplitPolicy::default());
        assert_eq!(svg.matches("<title>p").count(), 100);
        assert_eq!(svg.matches("<tspan font-weight").count(), 0);
    }

    #[test]
    fn colours_sizes_and_escapes() {
        assert_eq!(heat_colour(0.0), "#3182bd");
        assert_eq!(heat_colour(1.0), "#d73027");
        assert_eq!(heat_colour(7.0), heat_colour(1.0));
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
