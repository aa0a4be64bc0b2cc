//! The state every handler works on: the catalog and the few settings that
//! show in responses (region, account).

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::CredentialStore;
use crate::catalog::meta::table_arn;
use crate::catalog::{Catalog, CatalogOptions, OpenError, TableHandle};
use crate::config::{ScratchDir, ServerConfig, Storage};
use crate::engine::{lsm_factory, server_lsm_options};
use crate::error::ApiError;
use crate::replication::{GroupRegistry, check_replica_count, replicated_factory};

/// The account id in every ARN: a local server has one account.
pub const LOCAL_ACCOUNT_ID: &str = "000000000000";

/// The catalog plus settings; shared by all requests.
#[derive(Debug)]
pub struct Backend {
    pub region: String,
    pub account_id: String,
    pub catalog: Catalog,
    /// Who may call, and what they may do.
    pub credentials: Arc<CredentialStore>,
    /// Whether the throttle may refuse requests.
    pub throttling: bool,
    /// Copies of each partition (1 unless partitions are replication
    /// groups).
    pub replicas: u64,
    /// The replication groups, for metrics; empty with one copy.
    pub groups: Arc<GroupRegistry>,
    /// For in-memory servers: the scratch directory, removed on drop
    /// (declared after the catalog, so the tables close first).
    _scratch: Option<ScratchDir>,
}

impl Backend {
    /// Opens the data directory (or a scratch one) and every table in it.
    /// Blocking: call it from a blocking thread.
    pub fn open(config: &ServerConfig) -> Result<Backend, OpenError> {
        let (dir, durable, scratch): (PathBuf, bool, Option<ScratchDir>) = match &config.storage {
            Storage::Dir(dir) => (dir.clone(), true, None),
            Storage::InMemory => {
                let scratch = ScratchDir::create()?;
                (scratch.path().to_path_buf(), false, Some(scratch))
            }
        };
        let groups = Arc::new(GroupRegistry::default());
        let factory = match &config.engine {
            Some(factory) => Arc::clone(factory),
            None => {
                let allowed = 1..=step04_replication::group::REPLICAS_MAX;
                if !allowed.contains(&config.replicas) {
                    return Err(format!(
                        "a partition has 1 to {} replicas, not {}",
                        allowed.end(),
                        config.replicas
                    )
                    .into());
                }
                check_replica_count(&dir, config.replicas, durable)?;
                if config.replicas > 1 {
                    let lsm = server_lsm_options(durable);
                    replicated_factory(config.replicas, lsm, Arc::clone(&groups))
                } else {
                    lsm_factory(server_lsm_options(durable))
                }
            }
        };
        let catalog = Catalog::open(CatalogOptions {
            dir,
            durable,
            factory,
        })?;
        Ok(Backend {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            catalog,
            credentials: Arc::clone(&config.credentials),
            throttling: config.throttling,
            replicas: if config.engine.is_some() {
                1
            } else {
                config.replicas
            },
            groups,
            _scratch: scratch,
        })
    }

    /// The ARN of table `name` on this server.
    pub fn table_arn(&self, name: &str) -> String {
        table_arn(&self.region, &self.account_id, name)
    }

    /// The table name an ARN of this server names, if it is one.
    pub fn table_name_of_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.region, self.account_id
        );
        let name = arn.strip_prefix(&prefix)?;
        (!name.is_empty() && !name.contains('/')).then_some(name)
    }

    /// The table a `TableName` member names (a name or an ARN), for an
    /// item operation: `ResourceNotFoundException` without the table name.
    pub fn data_table(&self, requested: &str) -> Result<Arc<TableHandle>, ApiError> {
        let name = self.resolve_name(requested);
        self.catalog
            .get(name)?
            .ok_or_else(ApiError::resource_not_found)
    }

    /// A table name or ARN as the plain name.
    pub fn resolve_name<'a>(&self, requested: &'a str) -> &'a str {
        if requested.starts_with("arn:") {
            self.table_name_of_arn(requested).unwrap_or(requested)
        } else {
            requested
        }
    }
}
