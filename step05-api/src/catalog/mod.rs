//! The catalog: which tables exist, what they look like, and where their
//! data lives.
//!
//! ```text
//! <data>/
//!   LOCK                 one server per data directory
//!   CATALOG              every table's TableMeta (see `file`)
//!   tables/<table-id>/   one step 3 table per DynamoDB table
//! ```
//!
//! # The catalog file is the commit point
//!
//! Creating a table opens its data directory *first* and commits the
//! catalog *second*; deleting commits the catalog first and removes the
//! directory after. So after a crash at any moment, a table is in the
//! catalog only if its directory is complete, and a directory the catalog
//! does not name is garbage — [`Catalog::open`] removes it.
//!
//! # Life cycle
//!
//! DynamoDB takes seconds to minutes to create a table: `CreateTable`
//! answers `CREATING`, and clients poll `DescribeTable` until `ACTIVE`.
//! Here creation is synchronous (the directory and the catalog are durable
//! before the answer), so the table is `ACTIVE` from the next request on;
//! the `CreateTable` answer still says `CREATING`, as DynamoDB's does, so
//! clients written against DynamoDB take the path they always take. The
//! SDK waiters succeed on their first poll. Deletion likewise: the
//! `DeleteTable` answer says `DELETING`, and the table is gone for the next
//! request (its directory goes when the last in-flight request lets go).
//!
//! # Concurrency
//!
//! Control-plane changes (create, update, delete, tags) are serialised by
//! one lock and each rewrites the whole catalog file: they are rare, and a
//! single writer makes "the file equals the map" easy to keep. Item
//! requests only take the map's read lock for a lookup.

pub mod file;
pub mod meta;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use step01_kv::engine::StorageError;
use step01_kv::store::lock_directory;
use step03_partitioning::error::TableError;
use step03_partitioning::table::{Table, TableOptions};

use crate::capacity::throttle_now;
use crate::engine::{EngineFactory, SharedEngine};
use crate::error::{ApiError, ErrorKind};
use crate::throttle::{CapacityMode, PartitionBuckets};
use crate::wire::splitmix64;
use meta::TableMeta;

/// Why a catalog could not be opened (at server start).
pub type OpenError = Box<dyn std::error::Error + Send + Sync>;

/// The subdirectory holding the tables' data.
pub const TABLES_DIR_NAME: &str = "tables";
/// DynamoDB's default quota of tables per account and region.
pub const TABLES_MAX: usize = 2500;
/// Key-stripe locks per table for read-modify-write (UpdateItem): writes
/// of keys in different stripes never wait for each other.
pub const UPDATE_STRIPES: usize = 64;

/// How to open a catalog.
#[derive(Clone)]
pub struct CatalogOptions {
    /// The data directory (created if missing).
    pub dir: PathBuf,
    /// Fsync the catalog file. Off only for throwaway data.
    pub durable: bool,
    /// Opens the engine of each partition.
    pub factory: EngineFactory,
}

impl fmt::Debug for CatalogOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogOptions")
            .field("dir", &self.dir)
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

/// One live table: its metadata and its data.
pub struct TableHandle {
    meta: RwLock<TableMeta>,
    /// The partitioned data. Declared before `tombstone`, so it is dropped
    /// (engines closed) before the tombstone removes the directory.
    pub table: Table<SharedEngine>,
    stripes: Vec<Mutex<()>>,
    /// The throttle's token buckets, one read and one write per partition.
    buckets: Mutex<PartitionBuckets>,
    tombstone: Tombstone,
}

impl fmt::Debug for TableHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableHandle")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl TableHandle {
    /// A copy of the metadata (it may change right after).
    pub fn meta(&self) -> Result<TableMeta, ApiError> {
        self.meta
            .read()
            .map(|meta| meta.clone())
            .map_err(|_| ApiError::internal("table metadata lock poisoned"))
    }

    /// The lock of the stripe `key_bytes` falls in, held by a
    /// read-modify-write from its read to its write.
    pub fn lock_stripe(&self, key_bytes: &[u8]) -> Result<MutexGuard<'_, ()>, ApiError> {
        let mut state = key_bytes
            .iter()
            .fold(0u64, |h, &b| h.rotate_left(8) ^ u64::from(b));
        let index = (splitmix64(&mut state) % self.stripes.len() as u64) as usize;
        self.stripes[index]
            .lock()
            .map_err(|_| ApiError::internal("update stripe lock poisoned"))
    }

    /// The throttle's buckets of this table.
    pub fn buckets(&self) -> Result<MutexGuard<'_, PartitionBuckets>, ApiError> {
        self.buckets
            .lock()
            .map_err(|_| ApiError::internal("throttle lock poisoned"))
    }

    /// Item count and stored bytes, summed over partitions.
    pub fn size(&self) -> Result<(u64, u64), ApiError> {
        let (_, partitions) = self.table.partition_summaries()?;
        Ok(partitions.iter().fold((0, 0), |(items, bytes), p| {
            (items + p.item_count, bytes + p.size_bytes)
        }))
    }
}

/// Removes a deleted table's directory when the last handle is dropped.
struct Tombstone {
    dir: PathBuf,
    armed: AtomicBool,
}

impl Drop for Tombstone {
    fn drop(&mut self) {
        if self.armed.load(Ordering::Acquire)
            && let Err(error) = fs::remove_dir_all(&self.dir)
        {
            // Harmless: the next open removes directories the catalog
            // does not name.
            tracing::warn!(dir = %self.dir.display(), %error, "could not remove a deleted table");
        }
    }
}

/// All tables of one server.
pub struct Catalog {
    dir: PathBuf,
    durable: bool,
    factory: EngineFactory,
    tables: RwLock<BTreeMap<String, Arc<TableHandle>>>,
    /// Serialises control-plane changes and catalog writes.
    ddl: Mutex<()>,
    id_state: Mutex<u64>,
    id_counter: AtomicU64,
    _lock: File,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    // ANCHOR: open
    /// Opens the catalog in `options.dir`: loads the catalog file, opens
    /// every table, and removes data directories of tables the catalog
    /// does not name (a create or delete cut short by a crash).
    pub fn open(options: CatalogOptions) -> Result<Catalog, OpenError> {
        let dir = options.dir;
        let tables_dir = dir.join(TABLES_DIR_NAME);
        fs::create_dir_all(&tables_dir).map_err(|e| StorageError::io(&tables_dir, e))?;
        let lock = lock_directory(&dir)?;
        let metas = file::load(&dir)?;
        remove_unnamed_tables(&tables_dir, &metas)?;
        let mut tables = BTreeMap::new();
        for meta in metas {
            let name = meta.name.clone();
            let handle = open_table(&tables_dir, meta, &options.factory)?;
            tables.insert(name, Arc::new(handle));
        }
        Ok(Catalog {
            dir,
            durable: options.durable,
            factory: options.factory,
            tables: RwLock::new(tables),
            ddl: Mutex::new(()),
            id_state: Mutex::new(seed()),
            id_counter: AtomicU64::new(0),
            _lock: lock,
        })
    }
    // ANCHOR_END: open

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The live table called `name`.
    pub fn get(&self, name: &str) -> Result<Option<Arc<TableHandle>>, ApiError> {
        Ok(self.read_tables()?.get(name).cloned())
    }

    /// Every table name, in byte order.
    pub fn names(&self) -> Result<Vec<String>, ApiError> {
        Ok(self.read_tables()?.keys().cloned().collect())
    }

    /// Names after `after` (exclusive) in byte order, at most `limit`, and
    /// whether more follow.
    pub fn names_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), ApiError> {
        let tables = self.read_tables()?;
        let mut names = match after {
            Some(after) => tables
                .range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => tables.range::<str, _>(..),
        }
        .map(|(name, _)| name.clone());
        let page: Vec<String> = names.by_ref().take(limit).collect();
        let more = names.next().is_some();
        Ok((page, more))
    }

    // ANCHOR: create
    /// Creates a table from `meta` (whose `id` is assigned here), or
    /// `ResourceInUseException` if the name is taken. When this returns,
    /// the table is durable and serving.
    pub fn create(&self, mut meta: TableMeta) -> Result<(TableMeta, Arc<TableHandle>), ApiError> {
        let _ddl = self.lock_ddl()?;
        let count = {
            let tables = self.read_tables()?;
            if tables.contains_key(&meta.name) {
                return Err(ApiError::new(
                    ErrorKind::ResourceInUse,
                    format!("Table already exists: {}", meta.name),
                ));
            }
            tables.len()
        };
        if count >= TABLES_MAX {
            return Err(ApiError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "Subscriber limit exceeded: the account may have at most {TABLES_MAX} tables"
                ),
            ));
        }
        meta.id = self.next_id()?;
        // 1. The data directory, complete and durable.
        let tables_dir = self.dir.join(TABLES_DIR_NAME);
        let handle = Arc::new(open_table(&tables_dir, meta.clone(), &self.factory)?);
        // 2. The commit point.
        let mut metas = self.metas()?;
        metas.push(meta.clone());
        if let Err(error) = file::store(&self.dir, &metas, self.durable) {
            handle.tombstone.armed.store(true, Ordering::Release);
            return Err(ApiError::internal(error));
        }
        self.write_tables()?
            .insert(meta.name.clone(), Arc::clone(&handle));
        Ok((meta, handle))
    }
    // ANCHOR_END: create

    /// Changes a table's metadata with `change` (which may refuse), and
    /// commits the catalog. Returns the new metadata.
    pub fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut TableMeta) -> Result<(), ApiError>,
    ) -> Result<TableMeta, ApiError> {
        let _ddl = self.lock_ddl()?;
        let handle = self
            .get(name)?
            .ok_or_else(|| ApiError::table_not_found(name))?;
        let mut meta = handle.meta()?;
        change(&mut meta)?;
        let mut metas = self.metas()?;
        for entry in &mut metas {
            if entry.name == name {
                *entry = meta.clone();
            }
        }
        file::store(&self.dir, &metas, self.durable).map_err(ApiError::internal)?;
        *handle
            .meta
            .write()
            .map_err(|_| ApiError::internal("table metadata lock poisoned"))? = meta.clone();
        handle
            .buckets()?
            .set_mode(capacity_mode(&meta), throttle_now());
        Ok(meta)
    }

    // ANCHOR: delete
    /// Deletes a table if `allow` accepts its metadata: commits the catalog
    /// without it, then forgets it. Its directory is removed when the last
    /// request using it finishes.
    pub fn delete(
        &self,
        name: &str,
        allow: impl FnOnce(&TableMeta) -> Result<(), ApiError>,
    ) -> Result<Arc<TableHandle>, ApiError> {
        let _ddl = self.lock_ddl()?;
        let handle = self
            .get(name)?
            .ok_or_else(|| ApiError::table_not_found(name))?;
        allow(&handle.meta()?)?;
        let metas: Vec<TableMeta> = self
            .metas()?
            .into_iter()
            .filter(|meta| meta.name != name)
            .collect();
        file::store(&self.dir, &metas, self.durable).map_err(ApiError::internal)?;
        self.write_tables()?.remove(name);
        handle.tombstone.armed.store(true, Ordering::Release);
        Ok(handle)
    }
    // ANCHOR_END: delete

    /// Every table's metadata, in name order.
    fn metas(&self) -> Result<Vec<TableMeta>, ApiError> {
        self.read_tables()?
            .values()
            .map(|handle| handle.meta())
            .collect()
    }

    /// A fresh table id: a random-looking UUID (version 4 layout) from a
    /// seeded mixer, so no two tables of this data directory share one.
    fn next_id(&self) -> Result<String, ApiError> {
        let mut state = self
            .id_state
            .lock()
            .map_err(|_| ApiError::internal("id lock poisoned"))?;
        *state ^= self.id_counter.fetch_add(1, Ordering::Relaxed);
        let (high, low) = (splitmix64(&mut state), splitmix64(&mut state));
        let high = (high & !0xF000) | 0x4000; // version 4
        let low = (low & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
        Ok(format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xFFFF,
            high & 0xFFFF,
            low >> 48,
            low & 0xFFFF_FFFF_FFFF
        ))
    }

    fn lock_ddl(&self) -> Result<MutexGuard<'_, ()>, ApiError> {
        self.ddl
            .lock()
            .map_err(|_| ApiError::internal("catalog lock poisoned"))
    }

    fn read_tables(
        &self,
    ) -> Result<std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<TableHandle>>>, ApiError> {
        self.tables
            .read()
            .map_err(|_| ApiError::internal("catalog map lock poisoned"))
    }

    fn write_tables(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<TableHandle>>>, ApiError> {
        self.tables
            .write()
            .map_err(|_| ApiError::internal("catalog map lock poisoned"))
    }
}

/// Seeds table ids from the clock and the process id.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ u64::from(std::process::id()).rotate_left(40)
}

/// Opens the step 3 table of `meta` in `tables_dir/<id>`.
fn open_table(
    tables_dir: &Path,
    meta: TableMeta,
    factory: &EngineFactory,
) -> Result<TableHandle, TableError> {
    let dir = tables_dir.join(&meta.id);
    let buckets = PartitionBuckets::new(capacity_mode(&meta), 1, throttle_now());
    let factory = Arc::clone(factory);
    let table = Table::open(
        &dir,
        meta.key_schema(),
        TableOptions::default(),
        move |path: &Path| factory(path),
    )?;
    Ok(TableHandle {
        meta: RwLock::new(meta),
        table,
        stripes: (0..UPDATE_STRIPES).map(|_| Mutex::new(())).collect(),
        buckets: Mutex::new(buckets),
        tombstone: Tombstone {
            dir,
            armed: AtomicBool::new(false),
        },
    })
}

/// The throttle's view of a table's billing mode.
pub fn capacity_mode(meta: &TableMeta) -> CapacityMode {
    match meta.billing_mode {
        meta::BillingMode::PayPerRequest => CapacityMode::OnDemand,
        meta::BillingMode::Provisioned => CapacityMode::Provisioned {
            read_units_per_second: meta.throughput.read_units,
            write_units_per_second: meta.throughput.write_units,
        },
    }
}

/// Removes every directory under `tables_dir` that no table owns.
fn remove_unnamed_tables(tables_dir: &Path, metas: &[TableMeta]) -> Result<(), StorageError> {
    let io = |e| StorageError::io(tables_dir, e);
    for entry in fs::read_dir(tables_dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let owned = metas.iter().any(|meta| name.to_str() == Some(&meta.id));
        if !owned {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(|e| StorageError::io(&path, e))?;
        }
    }
    Ok(())
}
