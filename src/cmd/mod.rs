//! One module per command. Each takes resolved settings and its own options, does the work, and
//! returns a report value; none of them prints.

pub mod check;
