//! Leveled compaction: *which* tables to merge next. A pure function of the
//! level layout — the engine's background worker executes what it returns.
//!
//! Flushes pile tables up in level 0, where their key ranges overlap: a read
//! may have to look into every one of them. Compaction merges them into
//! level 1, whose tables are sorted and disjoint, so a read looks into at
//! most one table per level. Each deeper level may hold
//! [`CompactionOptions::level_size_ratio`] times more bytes than the one
//! above it; when a level outgrows its target, one of its tables is merged
//! into the level below. With a ratio of 10, about 90% of the data sits in
//! the last level and a key is rewritten roughly once per level on its way
//! down.
//!
//! # The policy
//!
//! Every level gets a *score*: level 0 its file count divided by
//! [`CompactionOptions::l0_trigger_files`], level `n ≥ 1` its bytes divided
//! by its target size. The level with the highest score, if that score is
//! at least 1, is compacted (ties go to the shallower level); the last
//! level never is.
//!
//! * From level 0, *all* its tables are taken, so no older version of a key
//!   stays above a newer one that moved down.
//! * From level `n ≥ 1`, one table: the one that drags the fewest bytes of
//!   level `n + 1` along per byte it moves (the least write amplification).
//!
//! Either way the inputs of the lower level are every table that overlaps
//! the upper inputs' key range, and the outputs replace them all.
//!
//! # Invariants
//!
//! * **Newer above older.** For any key, a version in level `n` is newer
//!   than every version in level `n + 1`; within level 0, a newer table is
//!   listed first. Reads rely on it to stop at the first version found.
//! * **Tombstones drop only at the bottom.** A compaction may drop a
//!   tombstone only if no level below its output holds data in its key
//!   range: otherwise the tombstone still hides an older value down there.
//! * **Bounded work.** A compaction's inputs are at most one level-0 file
//!   set or one table, plus the overlapping tables of the next level.

use crate::manifest::{LEVELS_MAX, LevelLayout, TableMeta};

/// How eager compaction is. See [`crate::lsm::LsmOptions`] for the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactionOptions {
    /// Level 0 is compacted once it holds this many tables.
    pub l0_trigger_files: usize,
    /// Each level below 1 may hold this many times the bytes of the one above.
    pub level_size_ratio: u64,
    /// The size level 1 may reach before it is compacted.
    pub l1_target_bytes: u64,
}

impl CompactionOptions {
    fn check(&self) {
        assert!(self.l0_trigger_files >= 1, "level 0 needs a trigger");
        assert!(self.level_size_ratio >= 2, "levels must grow");
        assert!(self.l1_target_bytes >= 1, "level 1 needs room");
    }
}

/// Why a compaction was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Level 0 reached its file-count trigger.
    L0Files,
    /// A level outgrew its target size.
    LevelBytes,
    /// Someone asked for everything to be compacted.
    Manual,
}

/// A compaction to run: merge `upper` (from `level`) and `lower` (from
/// `level + 1`) into new tables in `level + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    pub level: usize,
    /// Level 0: every table, newest first. Deeper: one table.
    pub upper: Vec<TableMeta>,
    /// The tables of `level + 1` that overlap `upper`, by key.
    pub lower: Vec<TableMeta>,
    /// True if no level below `level + 1` holds data in the inputs' key
    /// range, so tombstones have nothing left to hide and can go.
    pub drop_tombstones: bool,
    pub reason: Reason,
}

impl Compaction {
    pub fn output_level(&self) -> usize {
        self.level + 1
    }

    /// Every input as `(level, table)`: upper first.
    pub fn inputs(&self) -> impl Iterator<Item = (usize, &TableMeta)> {
        let upper = self.upper.iter().map(|table| (self.level, table));
        let lower = self.lower.iter().map(|table| (self.level + 1, table));
        upper.chain(lower)
    }

    pub fn input_bytes(&self) -> u64 {
        self.inputs().map(|(_, table)| table.file_bytes).sum()
    }
}

/// The bytes level `level ≥ 1` may hold before it is compacted.
pub fn level_target_bytes(level: usize, options: &CompactionOptions) -> u64 {
    assert!(level >= 1, "level 0 is measured in files");
    let exponent = u32::try_from(level - 1).unwrap_or(u32::MAX);
    options
        .level_size_ratio
        .saturating_pow(exponent)
        .saturating_mul(options.l1_target_bytes)
}

// ANCHOR: level_score
/// How urgently `level` needs compaction: 1 or more means "now".
pub fn level_score(layout: &LevelLayout, level: usize, options: &CompactionOptions) -> f64 {
    if level == 0 {
        layout.level(0).len() as f64 / options.l0_trigger_files as f64
    } else {
        layout.level_bytes(level) as f64 / level_target_bytes(level, options) as f64
    }
}
// ANCHOR_END: level_score

// ANCHOR: pick_compaction
/// The compaction to run next, or `None` if every level is within bounds.
pub fn pick_compaction(layout: &LevelLayout, options: &CompactionOptions) -> Option<Compaction> {
    options.check();
    // EXERCISE(02.5): choose the level with the highest score of at least 1 (never the last level) and plan its compaction
    let mut best: Option<(usize, f64)> = None;
    for level in 0..LEVELS_MAX - 1 {
        let score = level_score(layout, level, options);
        if score >= 1.0 && best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some((level, score));
        }
    }
    let (level, _) = best?;
    if level == 0 {
        Some(plan(layout, 0, layout.level(0).to_vec(), Reason::L0Files))
    } else {
        let table = cheapest_table(layout, level)?;
        Some(plan(layout, level, vec![table], Reason::LevelBytes))
    }
    // END EXERCISE
}
// ANCHOR_END: pick_compaction

/// The table of `level ≥ 1` whose move to the next level rewrites the
/// fewest bytes there per byte moved; on a tie, the one with the smallest
/// keys.
fn cheapest_table(layout: &LevelLayout, level: usize) -> Option<TableMeta> {
    let below = layout.level(level + 1);
    let cost = |table: &TableMeta| {
        let overlapping: u64 = below
            .iter()
            .filter(|lower| lower.overlaps(&table.smallest_key, &table.largest_key))
            .map(|lower| lower.file_bytes)
            .sum();
        overlapping as f64 / table.file_bytes.max(1) as f64
    };
    layout
        .level(level)
        .iter()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)))
        .cloned()
}

/// A compaction of `upper` (tables of `level`) into `level + 1`: adds the
/// overlapping tables of `level + 1` and decides about tombstones.
pub fn plan(
    layout: &LevelLayout,
    level: usize,
    upper: Vec<TableMeta>,
    reason: Reason,
) -> Compaction {
    assert!(level + 1 < LEVELS_MAX, "the last level has nowhere to go");
    assert!(!upper.is_empty(), "a compaction needs input");
    let (smallest, largest) = key_span(&upper);
    let lower: Vec<TableMeta> = layout
        .level(level + 1)
        .iter()
        .filter(|table| table.overlaps(smallest, largest))
        .cloned()
        .collect();
    // The span of everything merged, lower tables included: a tombstone in
    // the output may come from any of them.
    let (smallest, largest) = key_span(upper.iter().chain(&lower));
    let drop_tombstones = (level + 2..LEVELS_MAX).all(|deeper| {
        layout
            .level(deeper)
            .iter()
            .all(|table| !table.overlaps(smallest, largest))
    });
    Compaction {
        level,
        upper,
        lower,
        drop_tombstones,
        reason,
    }
}

/// The smallest and largest key of some tables (at least one).
fn key_span<'a>(tables: impl IntoIterator<Item = &'a TableMeta>) -> (&'a [u8], &'a [u8]) {
    let mut span: Option<(&[u8], &[u8])> = None;
    for table in tables {
        let (smallest, largest) = (table.smallest_key.as_slice(), table.largest_key.as_slice());
        span = Some(match span {
            None => (smallest, largest),
            Some((low, high)) => (low.min(smallest), high.max(largest)),
        });
    }
    span.unwrap_or((&[], &[]))
}

/// The next step of a full (manual) compaction, which moves all data into
/// the deepest level that holds any, dropping every shadowed version and
/// every tombstone on the way: the shallowest non-empty level is merged
/// into the one below, until only one level (and not level 0) holds data.
pub fn pick_full_compaction(layout: &LevelLayout) -> Option<Compaction> {
    let non_empty: Vec<usize> = (0..LEVELS_MAX)
        .filter(|&level| !layout.level(level).is_empty())
        .collect();
    let (&shallowest, &deepest) = (non_empty.first()?, non_empty.last()?);
    if shallowest == deepest && shallowest > 0 {
        return None;
    }
    let upper = layout.level(shallowest).to_vec();
    Some(plan(layout, shallowest, upper, Reason::Manual))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> CompactionOptions {
        CompactionOptions {
            l0_trigger_files: 4,
            level_size_ratio: 10,
            l1_target_bytes: 1000,
        }
    }

    /// A table of `bytes` bytes covering `[smallest, largest]`.
    fn table(id: u64, smallest: &str, largest: &str, bytes: u64) -> TableMeta {
        TableMeta {
            id,
            smallest_key: smallest.as_bytes().to_vec(),
            largest_key: largest.as_bytes().to_vec(),
            entries: 1,
            file_bytes: bytes,
            min_seq: id,
            max_seq: id,
        }
    }

    fn layout(levels: Vec<Vec<TableMeta>>) -> LevelLayout {
        LevelLayout::new(levels).unwrap()
    }

    fn ids(tables: &[TableMeta]) -> Vec<u64> {
        tables.iter().map(|table| table.id).collect()
    }

    #[test]
    fn targets_grow_by_the_ratio() {
        assert_eq!(level_target_bytes(1, &options()), 1000);
        assert_eq!(level_target_bytes(3, &options()), 100_000);
        assert_eq!(level_target_bytes(6, &options()), 100_000_000);
    }

    #[test]
    fn ex02_5_nothing_to_do_while_every_level_is_within_bounds() {
        let within = layout(vec![
            vec![table(1, "a", "z", 50), table(2, "a", "z", 50)],
            vec![table(3, "a", "m", 499), table(4, "n", "z", 500)],
        ]);
        assert_eq!(pick_compaction(&within, &options()), None);
        assert_eq!(pick_compaction(&LevelLayout::default(), &options()), None);
    }

    #[test]
    fn ex02_5_level_0_compacts_at_its_trigger_with_every_table_and_the_overlap_below() {
        let l0 = (1..=4).map(|id| table(10 + id, "c", "f", 10)).collect();
        let l1 = vec![
            table(1, "a", "b", 100),
            table(2, "c", "d", 100),
            table(3, "e", "g", 100),
            table(4, "h", "z", 100),
        ];
        let picked = pick_compaction(&layout(vec![l0, l1]), &options()).unwrap();
        assert_eq!(picked.level, 0);
        assert_eq!(picked.output_level(), 1);
        assert_eq!(ids(&picked.upper), vec![14, 13, 12, 11], "newest first");
        assert_eq!(ids(&picked.lower), vec![2, 3]);
        assert_eq!(picked.reason, Reason::L0Files);
        assert!(picked.drop_tombstones, "nothing below level 1");
    }

    #[test]
    fn ex02_5_the_highest_score_wins_and_ties_go_to_the_shallower_level() {
        // Level 0: 6 files of 4 = 1.5. Level 1: 3000 of 1000 = 3.0.
        let l0: Vec<TableMeta> = (1..=6).map(|id| table(20 + id, "a", "z", 1)).collect();
        let l1 = vec![table(1, "a", "k", 1500), table(2, "l", "z", 1500)];
        let picked = pick_compaction(&layout(vec![l0.clone(), l1]), &options()).unwrap();
        assert_eq!(picked.level, 1);
        assert_eq!(picked.reason, Reason::LevelBytes);
        assert_eq!(picked.upper.len(), 1, "one table moves down from level 1");

        // Level 0: 1.5. Level 1: 1500 of 1000 = 1.5. A tie.
        let l1 = vec![table(1, "a", "k", 750), table(2, "l", "z", 750)];
        let picked = pick_compaction(&layout(vec![l0, l1]), &options()).unwrap();
        assert_eq!(picked.level, 0, "ties go to the shallower level");
    }

    #[test]
    fn ex02_5_a_level_compacts_once_it_reaches_its_trigger_and_not_before() {
        let l0: Vec<TableMeta> = (1..=3).map(|id| table(id, "a", "z", 1)).collect();
        let l1 = vec![table(10, "a", "z", 999)];
        assert_eq!(
            pick_compaction(&layout(vec![l0.clone(), l1]), &options()),
            None
        );
        let l1 = vec![table(10, "a", "z", 1000)];
        let picked = pick_compaction(&layout(vec![l0.clone(), l1]), &options()).unwrap();
        assert_eq!(picked.level, 1, "level 1 reached its target");
        let mut l0 = l0;
        l0.push(table(4, "a", "z", 1));
        let picked = pick_compaction(&layout(vec![l0]), &options()).unwrap();
        assert_eq!(picked.level, 0, "level 0 reached its trigger");
    }

    #[test]
    fn ex02_5_the_last_level_is_never_compacted() {
        let mut levels = vec![Vec::new(); LEVELS_MAX];
        levels[LEVELS_MAX - 1] = vec![table(1, "a", "z", u64::MAX / 2)];
        assert_eq!(pick_compaction(&layout(levels.clone()), &options()), None);
        levels[2] = vec![table(2, "a", "b", 1_000_000)]; // Score 100 in level 2.
        let picked = pick_compaction(&layout(levels), &options()).unwrap();
        assert_eq!(picked.level, 2);
        assert!(!picked.drop_tombstones, "the last level holds data below");
    }

    #[test]
    fn ex02_5_a_deeper_level_moves_the_table_with_the_least_overlap_below() {
        let l1 = vec![
            table(1, "a", "c", 1000),
            table(2, "d", "f", 1000),
            table(3, "g", "i", 1000),
        ];
        let l2 = vec![
            table(4, "a", "b", 5000),
            table(5, "e", "e", 100),
            table(6, "h", "z", 4000),
        ];
        let picked = pick_compaction(&layout(vec![vec![], l1, l2]), &options()).unwrap();
        assert_eq!(ids(&picked.upper), vec![2]);
        assert_eq!(ids(&picked.lower), vec![5]);
    }

    #[test]
    fn tombstones_drop_only_when_nothing_below_overlaps() {
        let l1 = vec![table(1, "a", "c", 2000)];
        let l2 = vec![table(2, "b", "b", 10)];
        let l3 = vec![table(3, "x", "z", 10)];
        let picked = pick_compaction(
            &layout(vec![vec![], l1.clone(), l2.clone(), l3]),
            &options(),
        )
        .unwrap();
        assert_eq!((picked.level, ids(&picked.lower)), (1, vec![2]));
        assert!(picked.drop_tombstones, "level 3 holds only x..z");

        let l3 = vec![table(3, "c", "d", 10)];
        let picked = pick_compaction(&layout(vec![vec![], l1, l2, l3]), &options()).unwrap();
        assert!(!picked.drop_tombstones, "level 3 holds c");
    }

    #[test]
    fn the_span_of_lower_inputs_counts_for_tombstones() {
        // The upper table covers b..c, the overlapping level-2 table a..m,
        // and level 3 holds k: the merged output covers k too.
        let l1 = vec![table(1, "b", "c", 5000)];
        let l2 = vec![table(2, "a", "m", 10)];
        let l3 = vec![table(3, "k", "k", 10)];
        let picked = pick_compaction(&layout(vec![vec![], l1, l2, l3]), &options()).unwrap();
        assert!(!picked.drop_tombstones);
    }

    #[test]
    fn a_full_compaction_walks_everything_down_to_the_deepest_level() {
        let mut current = layout(vec![
            vec![table(1, "a", "c", 10), table(2, "b", "d", 10)],
            vec![table(3, "a", "b", 10)],
            vec![],
            vec![table(4, "y", "z", 10)],
        ]);
        let mut next_id = 10;
        let mut steps = Vec::new();
        while let Some(compaction) = pick_full_compaction(&current) {
            steps.push(compaction.level);
            // Simulate the executor: the inputs become one table below.
            let (smallest, largest) = key_span(compaction.inputs().map(|(_, t)| t));
            let output = table(next_id, "", "", 10);
            let output = TableMeta {
                smallest_key: smallest.to_vec(),
                largest_key: largest.to_vec(),
                ..output
            };
            next_id += 1;
            let mut levels = current.levels().to_vec();
            for (level, input) in compaction.inputs() {
                levels[level].retain(|t| t.id != input.id);
            }
            levels[compaction.output_level()].push(output);
            current = layout(levels);
            assert!(steps.len() < 10, "a full compaction ends");
        }
        assert_eq!(steps, vec![0, 1, 2]);
        assert_eq!(current.level(3).len(), 2);
        assert_eq!(current.table_count(), 2);

        let only_l0 = layout(vec![vec![table(1, "a", "b", 10)]]);
        let step = pick_full_compaction(&only_l0).unwrap();
        assert_eq!((step.level, step.drop_tombstones), (0, true));
        assert_eq!(pick_full_compaction(&LevelLayout::default()), None);
    }
}
