//! The database engines. `sqlite/` holds the SQLite code (opening, the raw page copy); the seam
//! every engine implements (open, schema variant, survey, compare-and-set transaction with the
//! outcome record, snapshot image export/import, row diff by primary key, database identity) is
//! cut here next, so PostgreSQL fits beside it (design.md §7.1, §8).

pub mod postgres;
pub mod sqlite;
