//! The PostgreSQL implementation of the engine seam (design.md §7.1, §8): `Database` and
//! `WriteTx` over one connection (the seam's methods take `&self`, the client needs `&mut`:
//! a `RefCell`, never borrowed across calls), `ImageFormat` over logical images.

use std::cell::{RefCell, RefMut};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::write::{self, CommitFailure, PgWrite};
use super::{snapshot, target, PgDatabase};
use crate::core::diff::DbDiff;
use crate::core::jobs::{Criteria, Survey};
use crate::core::schema::Schema;
use crate::core::time::DbTimezone;
use crate::engine::{
    self, CommitError, EngineKind, Identity, ImageFacts, ImageFormat, ImageTap, LiveImage,
    Progress, Reading, ServerError, ServerId, TableRows, Untapped,
};

use crate::journal::{Change, Skipped};

/// An open PostgreSQL database behind the seam.
pub struct PgEngine {
    db: RefCell<PgDatabase>,
    identity: Identity,
}

/// Connects to the database `url` names (libpq's URL and environment), the app's tables in
/// `schema`.
pub fn open(url: &str, schema: &str, busy_timeout: Duration) -> Result<PgEngine> {
    let env = |key: &str| std::env::var(key).ok();
    let target = target::parse(url, &env)?;
    let mut db = PgDatabase::connect(&target, schema, busy_timeout)?;
    let id = db.identity()?;
    let identity = Identity::Server {
        id: ServerId {
            system_identifier: id.system_identifier,
            database: id.database,
            schema: ServerId::schema_field(schema),
        },
        shown: target.display.clone(),
    };
    Ok(PgEngine {
        db: RefCell::new(db),
        identity,
    })
}

/// The URL without its password, for a `--db` value that may not even parse.
pub fn shown(url: &str) -> String {
    let env = |key: &str| std::env::var(key).ok();
    match target::parse(url, &env) {
        Ok(target) => target.display,
        Err(_) => crate::render::labels::unreadable_url(),
    }
}

/// `$XDG_STATE_HOME/jobsweep/<host>-<port>-<dbname>/` (`~/.local/state/...` when unset), or
/// `<host>-<port>-<dbname>-<schema>/` for a schema other than `public`: a server has no file to
/// keep the store beside (design.md §8).
pub fn default_store(url: &str, schema: &str) -> std::path::PathBuf {
    let env = |key: &str| std::env::var(key).ok();
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
        .unwrap_or_else(|| std::path::PathBuf::from(".local/state"));
    let name = match target::parse(url, &env) {
        Ok(t) => format!("{}-{}-{}", t.host, t.port, t.dbname),
        Err(_) => "postgresql".into(),
    };
    let name = match ServerId::schema_field(schema) {
        Some(schema) => format!("{name}-{schema}"),
        None => name,
    };
    // A socket directory is a path: keep the name one component.
    let name: String = name
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    base.join("jobsweep").join(name.trim_start_matches('_'))
}

/// `restore --to URL` (see `engine::import_new`).
pub fn import_new(
    url: &str,
    schema: &str,
    image: &Path,
    facts: &ImageFacts,
    force: bool,
    busy_timeout: Duration,
    progress: &Progress,
) -> Result<()> {
    if facts.engine != EngineKind::Postgresql {
        return Err(ServerError::SqliteImage.into());
    }
    let env = |key: &str| std::env::var(key).ok();
    let target = target::parse(url, &env)?;
    // A schema that does not exist yet is created with the tables (design.md §8.4).
    let mut db = PgDatabase::connect_to_server(&target, schema, busy_timeout)?;
    let create_schema = !db.schema_exists()?;
    let wanted: Vec<String> = facts.tables.iter().map(|t| t.table.clone()).collect();
    let clashing: Vec<String> = snapshot::existing_tables(&mut db)?
        .into_iter()
        .filter(|t| wanted.contains(t))
        .collect();
    if !clashing.is_empty() && !force {
        return Err(ServerError::TablesExist {
            db: target.display.clone(),
            tables: clashing,
        }
        .into());
    }
    snapshot::import_new(&mut db, image, &clashing, create_schema, facts, progress)
}

impl PgEngine {
    fn db(&self) -> RefMut<'_, PgDatabase> {
        self.db.borrow_mut()
    }
}

impl engine::Database for PgEngine {
    fn shown(&self) -> String {
        self.db.borrow().target.display.clone()
    }

    fn identity(&self) -> Identity {
        self.identity.clone()
    }

    fn rolled_back_hot_journal(&self) -> bool {
        false
    }

    fn schema(&self) -> Result<Schema> {
        self.db().schema()
    }

    fn survey(
        &self,
        schema: &Schema,
        criteria: &Criteria,
        tz: DbTimezone,
        _reading: Reading,
    ) -> Result<Survey> {
        // MVCC: a reader never holds the app's writers off, so every survey is one moment.
        self.db().survey(schema, criteria, tz)
    }

    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>> {
        write::current_value(&mut self.db(), pk)
    }

    fn recorded_outcome(&self, id: &str) -> Result<Option<Option<DateTime<Utc>>>> {
        write::recorded_outcome(&mut self.db(), id)
    }

    fn check_integrity(&self) -> Result<()> {
        // The server guards its own pages; there is no file to check.
        Ok(())
    }

    fn lock_for_changes(&mut self, wait: bool) -> Result<()> {
        self.db.get_mut().advisory_lock(wait)
    }

    fn begin_write(&self) -> Result<Box<dyn engine::WriteTx + '_>> {
        Ok(Box::new(PgWriteTx::begin(self)?))
    }

    fn begin_write_surveyed(
        &self,
        schema: &Schema,
        criteria: &Criteria,
        tz: DbTimezone,
        rows: &[i64],
    ) -> Result<(Box<dyn engine::WriteTx + '_>, Survey)> {
        let tx = PgWriteTx::begin(self)?;
        let survey = tx.tx.borrow_mut().survey(schema, criteria, tz, rows)?;
        Ok((Box::new(tx), survey))
    }

    fn export_image(
        &self,
        dest: &Path,
        progress: &Progress,
        tap: &mut dyn ImageTap,
    ) -> Result<ImageFacts> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(dest)
            .map_err(|e| crate::store::write_error(dest, e))?;
        // No fsync: the image is a scratch file (diff's live side, restore's pre-restore
        // image), deleted after use. Written front to back: every byte is final as written.
        let mut out = Tapped { file, tap, at: 0 };
        self.export_stream(&mut out, progress)
    }

    fn exports_as_stream(&self) -> bool {
        // One stream: the header, then each table's COPY rows (snapshot.rs).
        true
    }

    fn export_stream(&self, out: &mut dyn Write, progress: &Progress) -> Result<ImageFacts> {
        let layout = snapshot::export(&mut self.db(), out, progress)?;
        Ok(ImageFacts {
            engine: EngineKind::Postgresql,
            engine_version: layout.server_version.clone(),
            tables: layout
                .tables
                .iter()
                .map(|t| TableRows {
                    table: t.name.clone(),
                    rows: t.rows,
                })
                .collect(),
            ..ImageFacts::default()
        })
    }

    fn import_image(
        &mut self,
        image: &Path,
        facts: &ImageFacts,
        progress: &Progress,
    ) -> Result<()> {
        snapshot::import_live(self.db.get_mut(), image, facts, progress)
    }

    fn restore_mode(&self) -> Result<Option<String>> {
        Ok(None)
    }

    fn comparable_image(&self, scratch: &Path, progress: &Progress) -> Result<LiveImage> {
        let temp = crate::store::Scratch::create_in(scratch, ".live-", "")?;
        self.export_image(&temp, progress, &mut Untapped)?;
        Ok(LiveImage::Copy(temp))
    }
}

/// An image file that shows each write to a tap as well ([`engine::ImageTap`]).
struct Tapped<'a> {
    file: std::fs::File,
    tap: &'a mut dyn ImageTap,
    at: u64,
}

impl Write for Tapped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.tap.wrote(self.at, &buf[..n]);
        self.at += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// `apply`'s and revert's transaction.
struct PgWriteTx<'a> {
    tx: RefCell<PgWrite<RefMut<'a, PgDatabase>>>,
    began: std::time::Instant,
}

impl<'a> PgWriteTx<'a> {
    fn begin(engine: &'a PgEngine) -> Result<PgWriteTx<'a>> {
        let began = std::time::Instant::now();
        Ok(PgWriteTx {
            tx: RefCell::new(PgWrite::begin(engine.db())?),
            began,
        })
    }
}

impl engine::WriteTx for PgWriteTx<'_> {
    fn began(&self) -> std::time::Instant {
        self.began
    }

    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>> {
        self.tx.borrow_mut().current_value(pk)
    }

    fn lock_rows(&self, pks: &[i64]) -> Result<()> {
        self.tx.borrow_mut().lock_rows(pks)
    }

    fn set(&self, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)> {
        self.tx.borrow_mut().set(changes)
    }

    fn record_outcome(&self, journal_id: &str, kind: &str, at: DateTime<Utc>) -> Result<()> {
        self.tx.borrow_mut().record_outcome(journal_id, kind, at)
    }

    fn commit(self: Box<Self>) -> std::result::Result<(), CommitError> {
        match self.tx.into_inner().commit() {
            Ok(()) => Ok(()),
            Err(CommitFailure::RolledBack(e)) => Err(CommitError::RolledBack(e)),
            Err(CommitFailure::Uncertain(e)) => Err(CommitError::Uncertain(e)),
        }
    }
}

/// PostgreSQL's images: logical dumps (`snapshot`'s format).
pub struct PgImages;

impl ImageFormat for PgImages {
    fn data_suffix(&self) -> &'static str {
        ".pgdump.zst"
    }

    fn check(&self, image: &Path, facts: &ImageFacts) -> Result<Option<String>> {
        snapshot::check(image, &expected_rows(facts))
    }

    fn check_stream(
        &self,
        image: &mut dyn Read,
        shown: &Path,
        facts: &ImageFacts,
    ) -> Result<Option<String>> {
        snapshot::check_reader(image, shown, &expected_rows(facts))
    }

    fn diff(&self, from: &Path, to: &Path) -> Result<DbDiff> {
        snapshot::diff(from, to)
    }
}

/// The row count of each table a manifest recorded.
fn expected_rows(facts: &ImageFacts) -> Vec<(String, u64)> {
    facts
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows))
        .collect()
}
