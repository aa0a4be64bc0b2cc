//! The operations of this step, and the registry that names them.
//!
//! | module | operations |
//! |---|---|
//! | [`tables`] | CreateTable, DescribeTable, UpdateTable, DeleteTable, ListTables |
//! | [`items`] | PutItem, GetItem, UpdateItem, DeleteItem |
//! | [`tags`] | TagResource, UntagResource, ListTagsOfResource |
//! | [`account`] | DescribeLimits, DescribeEndpoints |
//!
//! Helpers: [`shared`] (members many operations share), [`describe`] (the
//! `TableDescription`), [`expressions`] (the bridge to the expression
//! languages of [`crate::expr`], legacy parameters included).

pub mod account;
pub mod batch_get;
pub mod batch_write;
pub mod describe;
pub mod expressions;
pub mod items;
pub mod paging;
pub mod query;
pub mod scan;
pub mod shared;
pub mod tables;
pub mod tags;

use crate::registry::Registry;
use crate::wire::TARGET_PREFIX_DYNAMODB;

// ANCHOR: registry
/// Every operation of this step, by target. Later steps start from this
/// registry and add or wrap operations.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    let p = TARGET_PREFIX_DYNAMODB;
    registry
        .register(p, "CreateTable", tables::create_table)
        .register(p, "DescribeTable", tables::describe_table)
        .register(p, "UpdateTable", tables::update_table)
        .register(p, "DeleteTable", tables::delete_table)
        .register(p, "ListTables", tables::list_tables)
        .register(p, "PutItem", items::put_item)
        .register(p, "GetItem", items::get_item)
        .register(p, "UpdateItem", items::update_item)
        .register(p, "DeleteItem", items::delete_item)
        .register(p, "Query", query::query)
        .register(p, "Scan", scan::scan)
        .register(p, "BatchGetItem", batch_get::batch_get_item)
        .register(p, "BatchWriteItem", batch_write::batch_write_item)
        .register(p, "TagResource", tags::tag_resource)
        .register(p, "UntagResource", tags::untag_resource)
        .register(p, "ListTagsOfResource", tags::list_tags_of_resource)
        .register(p, "DescribeLimits", account::describe_limits)
        .register(p, "DescribeEndpoints", account::describe_endpoints);
    registry
}
// ANCHOR_END: registry
