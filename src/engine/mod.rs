//! The seam between the commands and the database engines (design.md §7.1, §8).
//!
//! A command parses `--db` (or discovers it) into a [`Target`], opens it with [`open`] and from
//! then on only talks to the [`Database`] trait object it gets back: it never learns whether the
//! app's data lives in an SQLite file or on a PostgreSQL server. Everything engine-specific lives
//! in one module tree per engine (`sqlite/` now, `postgres/` next) behind these traits:
//!
//! - [`Database`]: one open connection to the app's database: its schema variant, the survey of
//!   jobs, the values journals need for recovery and revert, the cross-host mutation lock, the
//!   compare-and-set [`WriteTx`], snapshot image export, and the restore of an image onto it.
//! - [`WriteTx`]: the one write transaction of `apply` and `restore --journal`: re-survey under
//!   the engine's locks, the compare-and-set updates, the outcome record (design.md §4.2), commit
//!   (which may end "outcome uncertain").
//! - [`ImageFormat`]: what can be done with a snapshot *image* (the uncompressed form a snapshot
//!   holds: an SQLite file, or a PostgreSQL logical dump) without any live database: integrity
//!   check, row counts, diff of two images, import into a new target. `verify` and `diff` of two
//!   snapshots go through it, so they work without the server.
//!
//! The values that cross the seam are the core's: `Schema`/`Variant`, `Criteria`, `Survey`,
//! `Change`, `Skipped`, `DbDiff`, and the [`Identity`] of a database that journals and manifests
//! carry. Errors are typed data, made by the engine (it knows what "locked" or "not a
//! database" means for it): [`EngineError`] for what every engine can meet, [`ServerError`]
//! for a database reached over the network; `render::errors` words them, `error::classify`
//! gives their exit statuses.

mod error;
pub mod postgres;
// Our own engine module, under a short name (not the `postgres` client crate).
use self::postgres as pg;
pub mod sqlite;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::diff::DbDiff;
use crate::core::jobs::{Criteria, Survey};
use crate::core::time::DbTimezone;
use crate::journal::{Change, Skipped};

pub use crate::core::schema::{Schema, Variant};
pub use error::{ConnectFailure, EngineError, ServerError, Special, WriteFailure};

// ---------------------------------------------------------------------------------------------
// Choosing and naming a database

/// Which engine a target, an image or a manifest belongs to. Manifests without an `engine`
/// field are SQLite's (they were written before PostgreSQL existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    #[default]
    Sqlite,
    Postgresql,
}

/// A database as named by `--db`, `JOBSWEEP_DB` or discovery, parsed but not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file path (also from `sqlite:///relative` and `sqlite:////absolute`).
    Sqlite(PathBuf),
    /// A `postgresql://` / `postgres://` / `postgresql+driver://` URL, exactly as given (it may
    /// hold a password: show it only through [`Target::shown`]), and the schema holding the
    /// app's tables (`--pg-schema`, default `public`).
    Postgres { url: String, schema: String },
}

/// The schema of a server database when `--pg-schema` is not given.
pub const DEFAULT_PG_SCHEMA: &str = "public";

impl Target {
    /// Parses a `--db` value: SQLAlchemy's `sqlite:///` forms and libpq's URLs (design.md §8);
    /// anything else is a file path.
    pub fn parse(text: &std::ffi::OsStr) -> Target {
        let Some(s) = text.to_str() else {
            return Target::Sqlite(PathBuf::from(text));
        };
        if let Some(rest) = s.strip_prefix("sqlite:///") {
            // `sqlite:///rel` is `rel`, `sqlite:////abs` is `/abs` (SQLAlchemy's forms).
            return Target::Sqlite(PathBuf::from(rest));
        }
        let scheme = s
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgresql" | "postgres") => Target::postgres(s),
            Some(other) if other.starts_with("postgresql+") => Target::postgres(s),
            _ => Target::Sqlite(PathBuf::from(text)),
        }
    }

    fn postgres(url: &str) -> Target {
        Target::Postgres {
            url: url.to_string(),
            schema: DEFAULT_PG_SCHEMA.to_string(),
        }
    }

    /// The target with the app's tables in `schema` (`--pg-schema`). An SQLite file has no
    /// schemas: a schema given for one is refused (exit 2) rather than ignored, since it most
    /// likely means `--db` is not the database the user meant (design.md §8).
    pub fn in_schema(self, schema: Option<&str>) -> Result<Target> {
        match (self, schema) {
            (target, None) => Ok(target),
            (Target::Postgres { url, .. }, Some(schema)) => Ok(Target::Postgres {
                url,
                schema: schema.to_string(),
            }),
            (Target::Sqlite(path), Some(_)) => Err(ServerError::SchemaOfFile {
                db: path.display().to_string(),
            }
            .into()),
        }
    }

    /// Refuses at once what can be told without opening it (a path that is a directory, a
    /// FIFO, ...: opening a FIFO would block forever).
    pub fn check(&self) -> Result<()> {
        match self {
            Target::Sqlite(path) => sqlite::refuse_non_regular(path),
            Target::Postgres { .. } => Ok(()),
        }
    }

    /// The database file, for an engine that keeps its database in one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Target::Sqlite(path) => Some(path),
            Target::Postgres { .. } => None,
        }
    }

    pub fn kind(&self) -> EngineKind {
        match self {
            Target::Sqlite(_) => EngineKind::Sqlite,
            Target::Postgres { .. } => EngineKind::Postgresql,
        }
    }

    /// How reports and errors name the database: the path, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Target::Sqlite(path) => path.display().to_string(),
            Target::Postgres { url, .. } => pg::seam::shown(url),
        }
    }

    /// The store's default home when `--store` is not given: `.jobsweep/` beside an SQLite
    /// file; `$XDG_STATE_HOME/jobsweep/<host>-<port>-<dbname>/` for a server, with
    /// `-<schema>` added when the schema is not `public` (design.md §8).
    pub fn default_store(&self) -> PathBuf {
        match self {
            Target::Sqlite(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join(".jobsweep"),
            Target::Postgres { url, schema } => pg::seam::default_store(url, schema),
        }
    }
}

/// Which database a journal or a snapshot belongs to (design.md §4): the identity of the
/// database itself, not of the way it was reached. SQLite: canonical path plus device and inode
/// (the same file by another path, a bind mount or a hard link, is the same database).
/// PostgreSQL: the server's system identifier plus the database name.
///
/// On disk it is spread over the fields journals and manifests already had (`db_path`,
/// `db_path_hex`, `db_file`; `source_path`, `source_path_hex`), so SQLite's files stay as they
/// were; a server's identity adds its own fields beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    File {
        /// Canonical path (symlinks and `.`/`..` resolved).
        path: PathBuf,
        /// Device and inode when known (Unix); old journals and manifests have none.
        file: Option<FileId>,
    },
    Server {
        id: ServerId,
        /// The URL without password, for people.
        shown: String,
    },
}

/// A PostgreSQL database: the server's system identifier, the database name and the schema
/// the app's tables are in. Journals and manifests of a server database carry it (`db_server`,
/// `source_server`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerId {
    pub system_identifier: String,
    pub database: String,
    /// The schema when it is not `public` (design.md §8): `public`'s identity is written and
    /// matched as before schemas counted, so its existing journals and snapshots still match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

impl ServerId {
    /// How the identity records `schema`: nothing for `public`.
    pub fn schema_field(schema: &str) -> Option<String> {
        (schema != DEFAULT_PG_SCHEMA).then(|| schema.to_string())
    }

    /// The schema holding the app's tables (`public` when none is recorded).
    pub fn schema_name(&self) -> &str {
        self.schema.as_deref().unwrap_or(DEFAULT_PG_SCHEMA)
    }
}

/// A file's identity on its file system: `st_dev` and `st_ino`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub inode: u64,
}

impl Identity {
    /// Whether `self` (as recorded in a journal or manifest) names the same database as `live`.
    pub fn same_database(&self, live: &Identity) -> bool {
        match (self, live) {
            (Identity::File { path: a, file: fa }, Identity::File { path: b, file: fb }) => {
                a == b || (fa.is_some() && fa == fb)
            }
            (Identity::Server { id: a, .. }, Identity::Server { id: b, .. }) => a == b,
            _ => false,
        }
    }

    /// The display form, without secrets: a path, or a URL without password.
    pub fn shown(&self) -> String {
        match self {
            Identity::File { path, .. } => path.display().to_string(),
            Identity::Server { shown, .. } => shown.clone(),
        }
    }
}

impl Identity {
    /// The identity of the database file at `path` now: canonical path, device and inode.
    pub fn of_file(path: &Path) -> Identity {
        Identity::File {
            path: canonical_path(path),
            file: file_id(path),
        }
    }
}

/// `path` with symlinks and `.`/`..` resolved: how journals and manifests name a database file,
/// so that `./db` and `/data/db` agree. A path that cannot be resolved is kept as given.
pub fn canonical_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The device and inode of the file at `path` (following symlinks); `None` when unknown.
pub fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            inode: m.ino(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The suffixes of the files the engine keeps beside a database file (SQLite's `-wal`, `-shm`
/// and `-journal`): `restore --to` must neither overwrite them as a target nor leave a stale one
/// beside the file it writes.
pub const SIDE_FILE_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// `JOBSWEEP_COPY_METHOD=backup`: the previous copy method (SQLite's stepped backup API for a
/// snapshot, in rollback and WAL mode, and `apply`'s separate integrity check), kept only for
/// the side-by-side comparison in `bench/live.sh`; not a user setting.
pub fn previous_copy_method() -> bool {
    std::env::var("JOBSWEEP_COPY_METHOD").is_ok_and(|m| m == "backup")
}

/// Opens the database `target` names. `Access::Read` never writes (`check`, `diff`);
/// `Access::Write` refuses a database this user cannot write, before anything else is done.
pub fn open(target: &Target, access: Access, busy_timeout: Duration) -> Result<Box<dyn Database>> {
    match target {
        Target::Sqlite(path) => Ok(Box::new(sqlite::open(path, access, busy_timeout)?)),
        Target::Postgres { url, schema } => {
            Ok(Box::new(pg::seam::open(url, schema, busy_timeout)?))
        }
    }
}

/// The identity of the database `target` names. A file's is known without opening it (so a
/// command can check its journals and manifests first); a server's needs a connection.
pub fn identify(target: &Target, busy_timeout: Duration) -> Result<Identity> {
    match target.file() {
        Some(path) => Ok(Identity::of_file(path)),
        None => Ok(open(target, Access::Read, busy_timeout)?.identity()),
    }
}

/// `restore --to` a server database: creates the image's tables, keys, indexes, constraints
/// and sequences in `target` and fills them. A database already holding tables of the image is
/// refused (exit 2) unless `force`, which replaces them. (A file target is written by
/// `restore` itself.)
pub fn import_new(
    target: &Target,
    image: &Path,
    facts: &ImageFacts,
    force: bool,
    busy_timeout: Duration,
    progress: &Progress,
) -> Result<()> {
    match target {
        Target::Postgres { url, schema } => {
            pg::seam::import_new(url, schema, image, facts, force, busy_timeout, progress)
        }
        Target::Sqlite(path) => Err(ServerError::NotAServer {
            db: path.display().to_string(),
        }
        .into()),
    }
}

/// The engine that reads images of `kind` (a manifest's `engine`).
pub fn image_format(kind: EngineKind) -> &'static dyn ImageFormat {
    match kind {
        EngineKind::Sqlite => &sqlite::SqliteImages,
        EngineKind::Postgresql => &pg::seam::PgImages,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

// ---------------------------------------------------------------------------------------------
// One open database

/// Facts about an exported image that the manifest records (design.md §4). SQLite fills the
/// page fields; PostgreSQL the table list; both name the engine's version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    pub engine: EngineKind,
    pub page_size: u32,
    pub page_count: u64,
    /// The engine's version (`sqlite_version` in SQLite's manifests).
    pub engine_version: String,
    /// Per table: name and row count (PostgreSQL; empty for SQLite).
    pub tables: Vec<TableRows>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRows {
    pub table: String,
    pub rows: u64,
}

/// How long engine work shows itself: a progress bar labelled `label` when `bars` (stderr is a
/// terminal, no `-q`/`--json`), and `-v` notes when `verbose`.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub bars: bool,
    pub verbose: bool,
    pub label: String,
}

/// How much of a survey must be one moment (design.md §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// All of it: a report (`check`).
    OneMoment,
    /// A plan that is read again under the write lock (`apply`'s first survey): the candidates'
    /// result and progress rows may be read in short reads of their own, so that where a reader
    /// holds the app's commits off (SQLite in rollback-journal mode) the app waits for one short
    /// read, not for the whole survey.
    Plan,
}

/// One open connection to the app's database.
pub trait Database {
    /// How reports and errors name it (path, or URL without password).
    fn shown(&self) -> String;

    /// The identity journals and manifests record (see [`Identity`]).
    fn identity(&self) -> Identity;

    /// Something opening the database did that the report must mention: SQLite rolled back a
    /// hot journal left by a crashed writer. Always false on PostgreSQL.
    fn rolled_back_hot_journal(&self) -> bool;

    /// The schema variant and the columns present, or a one-line exit-3 failure naming what is
    /// missing.
    fn schema(&self) -> Result<Schema>;

    /// Reads the jobs and classifies them with the core's rules, in one read-only transaction
    /// (one consistent moment) unless `reading` allows short reads. Never writes.
    fn survey(
        &self,
        schema: &Schema,
        criteria: &Criteria,
        tz: DbTimezone,
        reading: Reading,
    ) -> Result<Survey>;

    /// The journaled column's value in row `pk` now; `None` when the row is gone. Used by crash
    /// recovery of old journals and by revert's planning.
    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>>;

    /// The outcome record of journal `id` (design.md §4.2): `None` when its transaction never
    /// committed (or the record table does not exist), else the `committed_at` it recorded.
    fn recorded_outcome(&self, id: &str) -> Result<Option<Option<DateTime<Utc>>>>;

    /// A full integrity check of the live database (SQLite: `quick_check`; PostgreSQL: nothing
    /// to do, the server guards its pages). One line, exit 3, when damaged.
    fn check_integrity(&self) -> Result<()>;

    /// Taken by a mutating command right after the store lock and held until this `Database`
    /// is dropped: other jobsweeps using another store on the same database are kept out.
    /// SQLite: nothing (the store beside the file, and its lock, is the only way in);
    /// PostgreSQL: a session advisory lock (exit 6 when another holds it, or wait with `wait`).
    fn lock_for_changes(&mut self, wait: bool) -> Result<()>;

    /// Starts the compare-and-set transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a
    /// transaction with `lock_timeout` = the busy timeout). Dropped without commit, it rolls
    /// back.
    fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>>;

    /// [`Database::begin_write`], then the survey of the job rows `rows` only (the first
    /// survey's plan) as they are under the write lock (PostgreSQL: with those rows locked `FOR
    /// UPDATE`): what it sees is what the updates meet. Its `stats` count those rows only.
    /// Reading only them keeps the app's wait short; SQLite also reads their result and
    /// progress rows just before the lock and, under it, again only those of jobs whose rows
    /// were added or removed meanwhile (design.md §3.4).
    fn begin_write_surveyed(
        &self,
        schema: &Schema,
        criteria: &Criteria,
        tz: DbTimezone,
        rows: &[i64],
    ) -> Result<(Box<dyn WriteTx + '_>, Survey)>;

    /// Writes a consistent image of the database into the existing empty file `dest` (a temp
    /// file in the store), never blocking the app's writers for long (design.md §3): SQLite
    /// copies pages; PostgreSQL writes a logical dump of every base table from one MVCC
    /// snapshot. `tap` is shown what the engine writes while it writes it, where it can.
    fn export_image(
        &self,
        dest: &Path,
        progress: &Progress,
        tap: &mut dyn ImageTap,
    ) -> Result<ImageFacts>;

    /// Whether the engine can write its image as one stream, front to back
    /// ([`Database::export_stream`]): a snapshot then compresses and hashes it on the way and
    /// never writes the uncompressed image to disk (design.md §8.4). SQLite's copies write
    /// pages in place, so not there.
    fn exports_as_stream(&self) -> bool {
        false
    }

    /// [`Database::export_image`] into `out` instead of a file, for an engine that
    /// [`Database::exports_as_stream`].
    fn export_stream(&self, _out: &mut dyn Write, _progress: &Progress) -> Result<ImageFacts> {
        Err(anyhow::anyhow!(
            "internal: this engine writes its images into a file"
        ))
    }

    /// Replaces the live contents with `image` in one transaction, waiting at most the busy
    /// timeout for the app's locks: readers see the old state or the new one, never a mix.
    /// `image` is verified and integrity-checked already. May rewrite `image` (it is a scratch
    /// copy).
    fn import_image(&mut self, image: &Path, facts: &ImageFacts, progress: &Progress)
        -> Result<()>;

    /// A short engine state the restore report shows (SQLite: the journal mode).
    fn restore_mode(&self) -> Result<Option<String>>;

    /// The live contents in a form [`ImageFormat::diff`] can read, for `diff` against a
    /// snapshot: a consistent copy in a temp file under `scratch` (SQLite in rollback-journal
    /// mode, where a long read would block the app's commits; PostgreSQL: a fresh export), or
    /// the live file itself (SQLite in WAL mode, where reading never blocks writers).
    fn comparable_image(&self, scratch: &Path, progress: &Progress) -> Result<LiveImage>;
}

/// Shown an image's bytes while an engine is still writing it, so that a snapshot compresses
/// them beside the copy (design.md §3.4). Only a hint: bytes shown may be rewritten before the
/// image is final, and the snapshot keeps what it made of them only where the final image holds
/// the same bytes.
pub trait ImageTap {
    /// `bytes` were just written at `offset` of the image.
    fn wrote(&mut self, offset: u64, bytes: &[u8]);

    /// Nothing more is shown. An engine that takes a lock on the live database after drafting
    /// says so first, so that the tap's work on what it was shown is over by then.
    fn drafted(&mut self) {}
}

/// An image nobody compresses early (diff's live copy, a dry run's).
pub struct Untapped;

impl ImageTap for Untapped {
    fn wrote(&mut self, _offset: u64, _bytes: &[u8]) {}
}

/// See [`Database::comparable_image`].
pub enum LiveImage {
    Copy(crate::store::Scratch),
    InPlace(PathBuf),
}

impl LiveImage {
    pub fn path(&self) -> &Path {
        match self {
            LiveImage::Copy(temp) => temp,
            LiveImage::InPlace(path) => path,
        }
    }
}

/// How `commit` failed.
#[derive(Debug)]
pub enum CommitError {
    /// Nothing was written (e.g. an app reader held its lock past the busy timeout): the
    /// transaction is rolled back.
    RolledBack(anyhow::Error),
    /// The outcome is unknown (I/O error, lost connection): the planned journal stays for
    /// crash recovery to resolve from the outcome record (design.md §4.2).
    Uncertain(anyhow::Error),
}

/// The write transaction of `apply` and `restore --journal` (design.md §4.2). The order a
/// command follows: survey again under the lock ([`Database::begin_write_surveyed`]), decide,
/// write the planned journal, `set`, `record_outcome`, `commit`.
pub trait WriteTx {
    /// When the transaction began: the app's writers may wait from here to the commit.
    fn began(&self) -> std::time::Instant;

    /// [`Database::current_value`] inside this transaction.
    fn current_value(&self, pk: i64) -> Result<Option<Option<String>>>;

    /// Locks the rows `pks` for the rest of the transaction (PostgreSQL `FOR UPDATE`; SQLite:
    /// nothing, the write lock covers the file). Used by revert before it reads their values.
    fn lock_rows(&self, pks: &[i64]) -> Result<()>;

    /// Each row gets `after` only if it still holds `before` (compare-and-set, in key order).
    /// Returns the changes made and the rows passed over (changed or deleted by someone else).
    fn set(&self, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)>;

    /// Inserts the journal's id into jobsweep's outcome table (created on first use), inside
    /// this transaction: the record exists exactly when the changes do (design.md §4.2).
    fn record_outcome(&self, journal_id: &str, kind: &str, at: DateTime<Utc>) -> Result<()>;

    /// Commits. See [`CommitError`] for the two ways it can fail.
    fn commit(self: Box<Self>) -> std::result::Result<(), CommitError>;
}

// ---------------------------------------------------------------------------------------------
// Images without a live database

/// What can be done with a snapshot image of one engine, with no connection to a live database
/// (so `snapshot verify` and the diff of two snapshots work without the server).
///
/// `restore --to PATH` writes an SQLite image as a new file in `cmd::restore` (file work: the
/// target's directory, protected names, an atomic rename); `restore --to URL` is PostgreSQL's
/// own import into another database and joins this trait with it (issue 9).
pub trait ImageFormat: Sync {
    /// The file name suffix of the compressed image in the store (`.db.zst` for SQLite).
    fn data_suffix(&self) -> &'static str;

    /// `None` when the image is sound; else what is wrong with it, as one line. SQLite:
    /// `integrity_check`; PostgreSQL: the dump decodes and every table has its recorded row
    /// count (`facts`).
    fn check(&self, image: &Path, facts: &ImageFacts) -> Result<Option<String>>;

    /// [`ImageFormat::check`] of an image read as a stream (named `shown` in what it reports),
    /// for the engines whose images [`Database::exports_as_stream`]: a new snapshot is checked
    /// as its compressed file is decompressed, with no image file on disk.
    fn check_stream(
        &self,
        _image: &mut dyn Read,
        _shown: &Path,
        _facts: &ImageFacts,
    ) -> Result<Option<String>> {
        Err(anyhow::anyhow!(
            "internal: this engine checks its images as files"
        ))
    }

    /// Row diff by primary key of two images (snapshot vs snapshot, or snapshot vs a fresh
    /// image of the live database).
    fn diff(&self, from: &Path, to: &Path) -> Result<DbDiff>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Target {
        Target::parse(std::ffi::OsStr::new(text))
    }

    #[test]
    fn db_values_choose_the_engine() {
        assert_eq!(parse("data/x.db"), Target::Sqlite("data/x.db".into()));
        assert_eq!(
            parse("sqlite:///data/x.db"),
            Target::Sqlite("data/x.db".into())
        );
        assert_eq!(
            parse("sqlite:////srv/x.db"),
            Target::Sqlite("/srv/x.db".into())
        );
        for url in [
            "postgresql://u@h/db",
            "postgres://h/db?sslmode=require",
            "postgresql+psycopg2://u:pw@h:5433/db",
        ] {
            assert_eq!(parse(url).kind(), EngineKind::Postgresql, "{url}");
        }
        // A file whose name merely contains a colon stays a file.
        assert_eq!(parse("backup:1.db"), Target::Sqlite("backup:1.db".into()));
    }

    #[test]
    fn a_file_is_the_same_database_by_path_or_by_inode() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        std::fs::write(&db, b"x").unwrap();
        let link = dir.path().join("b.db");
        std::fs::hard_link(&db, &link).unwrap();
        let live = Identity::of_file(&db);
        assert!(Identity::of_file(&link).same_database(&live));
        let by_path_only = Identity::File {
            path: canonical_path(&db),
            file: None,
        };
        assert!(by_path_only.same_database(&live));
        let other = dir.path().join("c.db");
        std::fs::write(&other, b"x").unwrap();
        assert!(!Identity::of_file(&other).same_database(&live));
    }
}
