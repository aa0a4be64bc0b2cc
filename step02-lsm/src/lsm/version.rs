//! Versions: immutable snapshots of the set of live tables, and the
//! handles that delete a table's file once nobody can read it any more.
//!
//! A flush or a compaction never changes a [`Version`]: it builds a new one
//! and swaps it in. A reader clones the `Arc` of the current version when
//! it starts and reads only through it, so the tables it sees stay put
//! while flushes and compactions carry on. A table replaced by a
//! compaction is marked obsolete; its file is deleted when the last
//! version holding it — and so the last reader — lets go.
//!
//! Invariants:
//!
//! * A version's tables are exactly those of its [`LevelLayout`], in the
//!   same order, each opened and checked against its manifest entry.
//! * A table file is deleted only after the manifest edit that removed it
//!   is durable (the engine marks it obsolete after the edit) and no
//!   version refers to it (the handle is dropped).

use crate::cache::BlockCache;
use crate::manifest::{LEVELS_MAX, LevelLayout, TableMeta};
use crate::sstable::Table;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use step01_kv::engine::{KeyRange, Result, StorageError};

/// A live table: the open file and what the manifest says about it.
#[derive(Debug)]
pub struct TableHandle {
    pub table: Arc<Table>,
    pub meta: TableMeta,
    path: PathBuf,
    cache: Arc<BlockCache>,
    obsolete: AtomicBool,
}

impl TableHandle {
    /// Opens the table at `path` and checks it against `meta`: a file that
    /// is not the one the manifest describes is corruption.
    pub fn open(path: &Path, meta: TableMeta, cache: &Arc<BlockCache>) -> Result<TableHandle> {
        if !path.exists() {
            return Err(StorageError::Corruption {
                file: path.to_path_buf(),
                offset: 0,
                reason: format!("table {} named by the manifest is missing", meta.id),
            });
        }
        let table = Table::open(path, meta.id, Arc::clone(cache))?;
        let info = table.info();
        let matches = info.smallest_key == meta.smallest_key
            && info.largest_key == meta.largest_key
            && info.entries == meta.entries
            && info.file_bytes == meta.file_bytes
            && info.min_seq == meta.min_seq
            && info.max_seq == meta.max_seq;
        if !matches {
            return Err(StorageError::Corruption {
                file: path.to_path_buf(),
                offset: 0,
                reason: format!("table {} does not match its manifest entry", meta.id),
            });
        }
        Ok(TableHandle {
            table,
            meta,
            path: path.to_path_buf(),
            cache: Arc::clone(cache),
            obsolete: AtomicBool::new(false),
        })
    }

    /// True if `key` lies within the table's key range.
    pub fn covers(&self, key: &[u8]) -> bool {
        self.meta.smallest_key.as_slice() <= key && key <= self.meta.largest_key.as_slice()
    }

    /// True if the table may hold keys of `range`.
    pub fn overlaps(&self, range: &KeyRange) -> bool {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let (smallest, largest) = (
            self.meta.smallest_key.as_slice(),
            self.meta.largest_key.as_slice(),
        );
        let after_start = match &range.start {
            Included(start) => largest >= start.as_slice(),
            Excluded(start) => largest > start.as_slice(),
            Unbounded => true,
        };
        let before_end = match &range.end {
            Included(end) => smallest <= end.as_slice(),
            Excluded(end) => smallest < end.as_slice(),
            Unbounded => true,
        };
        after_start && before_end
    }

    /// Deletes the file once the last reference is gone.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for TableHandle {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            self.cache.remove_table(self.meta.id);
            // A file that cannot be deleted now is an orphan, deleted at
            // the next open.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The live tables, per level, in the layout's order.
#[derive(Debug)]
pub struct Version {
    layout: LevelLayout,
    levels: Vec<Vec<Arc<TableHandle>>>,
}

impl Version {
    /// The version of `layout`, whose every table is in `handles`.
    pub fn new(layout: LevelLayout, handles: &HashMap<u64, Arc<TableHandle>>) -> Version {
        let mut levels = Vec::with_capacity(LEVELS_MAX);
        for tables in layout.levels() {
            let mut level = Vec::with_capacity(tables.len());
            for meta in tables {
                let handle = handles.get(&meta.id);
                assert!(handle.is_some(), "table {} has no open handle", meta.id);
                level.extend(handle.map(Arc::clone));
            }
            levels.push(level);
        }
        assert_eq!(levels.len(), LEVELS_MAX, "a version has every level");
        Version { layout, levels }
    }

    /// The version after an edit: the new layout, with tables kept from
    /// this version and `added` ones.
    pub fn successor(&self, layout: LevelLayout, added: Vec<Arc<TableHandle>>) -> Version {
        let mut handles: HashMap<u64, Arc<TableHandle>> =
            self.handles().map(|h| (h.meta.id, Arc::clone(h))).collect();
        handles.extend(added.into_iter().map(|h| (h.meta.id, h)));
        Version::new(layout, &handles)
    }

    pub fn layout(&self) -> &LevelLayout {
        &self.layout
    }

    /// The tables of `level`: level 0 newest first, deeper levels by key.
    pub fn level(&self, level: usize) -> &[Arc<TableHandle>] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    pub fn handles(&self) -> impl Iterator<Item = &Arc<TableHandle>> {
        self.levels.iter().flatten()
    }

    pub fn handle(&self, id: u64) -> Option<&Arc<TableHandle>> {
        self.handles().find(|handle| handle.meta.id == id)
    }
}
