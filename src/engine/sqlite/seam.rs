//! The SQLite implementation of the engine seam (design.md §7.1): `Database` and `WriteTx` over
//! one connection, `ImageFormat` over image files.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::write::{self, WriteTx};
use super::{diff, image, survey, Database as Sqlite};
use crate::core::diff::DbDiff;
use crate::core::jobs::{Criteria, Survey};
use crate::core::schema::Schema;
use crate::core::time::DbTimezone;
use crate::engine::{
    self, Access, CommitError, Identity, ImageFacts, ImageFormat, ImageTap, LiveImage, Progress,
    Reading,
};
use crate::failpoint;
use crate::journal::{Change, Skipped};

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
        Identity::of_file(&self.path)
    }

    fn rolled_back_hot_journal(&self) -> bool {
        self.rolled_back_hot_journal
    }

    fn schema(&self) -> Result<Schema> {
        Sqlite::schema(self)
    }

    fn survey(
        &self,
        schema: &Schema,
        criteria: &Criteria,
        tz: DbTimezone,
        reading: Reading,
    ) -> Result<Survey> {
        survey::survey(self, schema, criteria, tz, None, reading)
    }

    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>> {
        write::current_value(self, pk)
    }

    fn recorded_outcome(&self, id: &str) -> Result<Option<Option<DateTime<Utc>>>> {
        write::recorded_outcome(self, id)
    }

    fn check_integrity(&self) -> Result<()> {
        self.quick_check()
    }

    fn lock_for_changes(&mut self, _wait: bool) -> Result<()> {
        // The store beside the file and its lock are the only way in (design.md §8).
        Ok(())
    }

    fn begin_write(&self) -> Result<Box<dyn engine::WriteTx + '_>> {
        Ok(Box::new(WriteTx::begin(self)?))
    }

    fn begin_write_surveyed(
        &self,
        schema: &Schema,
        criteria: &Criteria,
        tz: DbTimezone,
        rows: &[i64],
    ) -> Result<(Box<dyn engine::WriteTx + '_>, Survey)> {
        let ahead = survey::read_ahead(self, schema, criteria, tz, rows)?;
        failpoint::hit("pause-after-read-ahead");
        let tx = WriteTx::begin(self)?;
        let survey = survey::survey_locked(self, schema, criteria, tz, rows, ahead)?;
        Ok((Box::new(tx), survey))
    }

    fn export_image(
        &self,
        dest: &Path,
        progress: &Progress,
        tap: &mut dyn ImageTap,
    ) -> Result<ImageFacts> {
        image::export(self, dest, progress, tap)
    }

    fn import_image(
        &mut self,
        image: &Path,
        facts: &ImageFacts,
        progress: &Progress,
    ) -> Result<()> {
        image::import(self, image, facts, progress)
    }

    fn restore_mode(&self) -> Result<Option<String>> {
        self.journal_mode().map(Some)
    }

    fn comparable_image(&self, scratch: &Path, progress: &Progress) -> Result<LiveImage> {
        image::comparable(self, scratch, progress)
    }
}

impl engine::WriteTx for WriteTx<'_> {
    fn began(&self) -> std::time::Instant {
        self.began
    }

    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>> {
        write::current_value(self.db, pk)
    }

    fn lock_rows(&self, _pks: &[i64]) -> Result<()> {
        // The write lock of `BEGIN IMMEDIATE` covers the whole file.
        Ok(())
    }

    fn set(&self, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)> {
        WriteTx::set(self, changes)
    }

    fn record_outcome(&self, journal_id: &str, kind: &str, at: DateTime<Utc>) -> Result<()> {
        WriteTx::record_outcome(self, journal_id, kind, at)
    }

    fn commit(self: Box<Self>) -> std::result::Result<(), CommitError> {
        WriteTx::commit(*self)
    }
}

/// SQLite's images: database files.
pub struct SqliteImages;

impl ImageFormat for SqliteImages {
    fn data_suffix(&self) -> &'static str {
        ".db.zst"
    }

    fn check(&self, image: &Path, _facts: &ImageFacts) -> Result<Option<String>> {
        image::integrity_problem(image)
    }

    fn diff(&self, from: &Path, to: &Path) -> Result<DbDiff> {
        diff::diff_files(from, to)
    }
}
