//! The engine-neutral core: data and rules, no SQL and no translated text (design.md §7): the
//! job model and its classification, the schema variants, the diff model, time.

pub mod diff;
pub mod jobs;
pub mod reason;
pub mod schema;
pub mod time;
