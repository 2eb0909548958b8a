//! The SQLite engine (design.md §7.1): the only code that uses rusqlite. Commands reach it through
//! the traits of `engine` (implemented in `seam.rs`), never directly.

mod diff;
mod image;
mod open;
mod rawcopy;
mod seam;
mod survey;
mod walcopy;
mod write;

pub use open::{refuse_non_regular, Database};
pub use seam::{open, SqliteImages};

use open::{sqlite_error, value_text};
