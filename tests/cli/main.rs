//! Integration tests: the real binary on real SQLite files made by each test.

mod common;

mod apply;
mod check;
mod diff;
mod generated;
mod log;
mod revert;
mod messages;
mod restore_snapshot;
mod snapshot;
mod usage;
mod json_docs;
