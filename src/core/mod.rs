//! The engine-neutral core: data and rules, no SQL and no translated text (design.md §7).
//! The rest of the core (jobs, plan, journal, retention, diff model, time) still lives in the
//! crate's top-level modules and moves here step by step.

pub mod reason;
