//! minidynamo's project automation (the cargo-xtask pattern): everything a
//! contributor or CI runs, written in Rust so it works wherever cargo does.
//!
//! `cargo xtask test` is the README's test command: [`stages::all`] lists what
//! it runs, one small function per stage.

pub mod anchors;
pub mod bench_server;
pub mod book;
pub mod book_lint;
pub mod book_source;
pub mod built_book;
pub mod cli;
pub mod clients;
pub mod cmd;
pub mod fuzz;
pub mod layering;
pub mod metadata;
pub mod modules;
pub mod runs;
pub mod rust_text;
pub mod serve;
pub mod soak;
pub mod stages;
pub mod workshop;
