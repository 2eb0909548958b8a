//! Integration tests: the real binary on real SQLite files made by each test.

mod common;

mod check;
