//! The store's failures (design.md §4), as data: the path and the OS's error. The sentences are
//! `render::errors`', the exit status `error::classify`'s. The same failure (an unreadable
//! directory, say) is one variant whichever catalogue meets it.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("{}", crate::render::errors::store(self))]
pub enum StoreError {
    /// A command that reads the store found none (it never creates one).
    Missing { dir: PathBuf },
    /// A file or directory of the store could not be read (or listed).
    Read { path: PathBuf, err: io::Error },
    /// A file of the store could not be written.
    Write { path: PathBuf, err: io::Error },
    /// A file of the store could not be deleted.
    Delete { path: PathBuf, err: io::Error },
}
