//! One module per command. Each takes resolved settings and its own options, does the work, and
//! returns a report value; none of them prints.

pub mod apply;
pub mod check;
pub mod diff;
pub mod error;
pub mod log;
pub mod replica;
pub mod restore;
pub mod revert;
pub mod snapshot;
pub mod txn;
