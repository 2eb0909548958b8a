//! The SQLite implementation of the engine seam (design.md §7.1): `Database` and `WriteTx` over
//! one connection, `ImageFormat` over image files.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{Database as Sqlite, Schema};
use crate::diff::DbDiff;
use crate::engine::{
    self, Access, CommitError, FileId, Identity, ImageFacts, ImageFormat, LiveImage, Progress,
    Target,
};
use crate::jobs::{Criteria, Survey};
use crate::journal::{Change, Skipped};
use crate::time::DbTimezone;

/// Opens the SQLite file at `path`.
pub fn open(path: &Path, access: Access, busy_timeout: Duration) -> Result<Sqlite> {
    match access {
        Access::Read => Sqlite::open_read_only(path, busy_timeout),
        Access::Write => Sqlite::open_read_write(path, busy_timeout),
    }
}

impl engine::Database for Sqlite {
    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn identity(&self) -> Identity {
        identity_of(&self.path)
    }

    fn rolled_back_hot_journal(&self) -> bool {
        self.rolled_back_hot_journal
    }

    fn schema(&self) -> Result<Schema> {
        Sqlite::schema(self)
    }

    fn survey(&self, schema: &Schema, criteria: &Criteria, tz: DbTimezone) -> Result<Survey> {
        crate::jobs::survey(self, schema, criteria, tz)
    }

    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>> {
        crate::journal::current_value(self, pk)
    }

    fn recorded_outcome(&self, id: &str) -> Result<Option<Option<DateTime<Utc>>>> {
        crate::journal::recorded_outcome(self, id)
    }

    fn check_integrity(&self) -> Result<()> {
        self.quick_check()
    }

    fn mutation_lock(&self, _wait: bool) -> Result<Box<dyn std::any::Any>> {
        // The store beside the file and its lock are the only way in (design.md §8).
        Ok(Box::new(()))
    }

    fn begin_write(&self) -> Result<Box<dyn engine::WriteTx + '_>> {
        Ok(Box::new(crate::cmd::apply::WriteTx::begin(self)?))
    }

    fn export_image(&self, _dest: &Path, _progress: &Progress) -> Result<ImageFacts> {
        anyhow::bail!("not yet behind the seam")
    }

    fn import_image(
        &mut self,
        _image: &Path,
        _facts: &ImageFacts,
        _progress: &Progress,
    ) -> Result<()> {
        anyhow::bail!("not yet behind the seam")
    }

    fn restore_mode(&self) -> Result<Option<String>> {
        self.journal_mode().map(Some)
    }

    fn comparable_image(&self, _scratch: &Path, _progress: &Progress) -> Result<LiveImage> {
        anyhow::bail!("not yet behind the seam")
    }
}

/// The identity of the file at `path`: canonical path, device and inode.
pub fn identity_of(path: &Path) -> Identity {
    Identity::File {
        path: super::canonical_path(path),
        file: crate::journal::file_id(path).map(|f| FileId {
            dev: f.dev,
            inode: f.inode,
        }),
    }
}

impl engine::WriteTx for crate::cmd::apply::WriteTx<'_> {
    fn survey(&self, schema: &Schema, criteria: &Criteria, tz: DbTimezone) -> Result<Survey> {
        crate::jobs::survey(self.db(), schema, criteria, tz)
    }

    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>> {
        crate::journal::current_value(self.db(), pk)
    }

    fn lock_rows(&self, _pks: &[i64]) -> Result<()> {
        // The write lock of `BEGIN IMMEDIATE` covers the whole file.
        Ok(())
    }

    fn set(&self, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)> {
        crate::cmd::apply::WriteTx::set(self, changes)
    }

    fn record_outcome(&self, _journal_id: &str, _kind: &str, _at: DateTime<Utc>) -> Result<()> {
        anyhow::bail!("not yet behind the seam")
    }

    fn commit(self: Box<Self>) -> std::result::Result<(), CommitError> {
        let mut uncertain = false;
        crate::cmd::apply::WriteTx::commit(*self, &mut uncertain).map_err(|e| {
            if uncertain {
                CommitError::Uncertain(e)
            } else {
                CommitError::RolledBack(e)
            }
        })
    }
}

/// SQLite's images: database files.
pub struct SqliteImages;

impl ImageFormat for SqliteImages {
    fn data_suffix(&self) -> &'static str {
        ".db.zst"
    }

    fn check(&self, _image: &Path, _facts: &ImageFacts) -> Result<Option<String>> {
        anyhow::bail!("not yet behind the seam")
    }

    fn diff(&self, from: &Path, to: &Path) -> Result<DbDiff> {
        crate::diff::diff_files(from, to)
    }

    fn import_new(
        &self,
        _image: &Path,
        _facts: &ImageFacts,
        _target: &Target,
        _force: bool,
    ) -> Result<()> {
        anyhow::bail!("not yet behind the seam")
    }
}
