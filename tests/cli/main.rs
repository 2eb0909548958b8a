//! Integration tests: the real binary on real SQLite files made by each test.

mod common;

mod apply;
mod attacks;
mod check;
mod conventions;
mod diff;
mod generated;
mod json_docs;
mod json_errors;
mod log;
mod messages;
mod outcome;
mod pg;
mod pg_cli;
mod pg_server;
mod pg_tls;
mod prune;
mod readme;
mod replica;
mod restore_snapshot;
mod revert;
mod s3_server;
mod snapshot;
mod truncation;
mod usage;
