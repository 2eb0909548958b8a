//! Turns the global options (plain data filled by `cli`) into the settings commands use;
//! nothing here or below sees clap.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::core::time::{self, DbTimezone};
use crate::engine::Target;
use crate::i18n::Lang;
use crate::store::{Replica, ReplicaConfig};

/// What is wrong with the options given, as data; the sentences are `render::errors`', the
/// exit status `error::classify`'s.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::render::errors::settings(self))]
pub enum SettingsError {
    /// `--db-timezone` is not utc, local or +HH:MM.
    BadTimezone { given: String },
    /// `--now` is neither RFC 3339 nor `YYYY-MM-DD HH:MM:SS`.
    BadNow { given: String },
    /// `--pg-schema ''`.
    EmptyPgSchema,
    /// No `--db`, `JOBSWEEP_DB` or `DATABASE_URL`, and none of the usual paths exists.
    NoDatabase { tried: Vec<PathBuf> },
}

/// The global options as given (the command line's, or the completion's), before they are
/// checked and resolved. `cli` fills it from clap's types; nothing here knows clap.
#[derive(Debug, Clone)]
pub struct Options {
    pub db: Option<PathBuf>,
    /// `--pg-schema`/`JOBSWEEP_PG_SCHEMA`; `None` is `public`.
    pub pg_schema: Option<String>,
    pub store: Option<PathBuf>,
    /// `--lang`/`JOBSWEEP_LANG`; `None` falls back to the locale.
    pub lang: Option<Lang>,
    pub json: bool,
    pub color: Color,
    pub quiet: bool,
    pub verbose: bool,
    pub busy_timeout_ms: u32,
    pub now: Option<String>,
    pub db_timezone: String,
    pub wait: bool,
    /// `--replica` and its options (design.md §9), when a replica is set.
    pub replica: Option<ReplicaConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            db: None,
            pg_schema: None,
            store: None,
            lang: None,
            json: false,
            color: Color::Auto,
            quiet: false,
            verbose: false,
            busy_timeout_ms: 5000,
            now: None,
            db_timezone: "utc".into(),
            wait: false,
            replica: None,
        }
    }
}

/// When to colour the human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `--db` as given, or `None` to discover it when a command needs it.
    db: Option<PathBuf>,
    /// `--pg-schema`, applied to a server target by `target()`.
    pg_schema: Option<String>,
    store: Option<PathBuf>,
    pub lang: Lang,
    pub json: bool,
    pub color: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub busy_timeout: Duration,
    /// "Now" for classification and reports (`--now`, else the clock).
    pub now: DateTime<Utc>,
    pub tz: DbTimezone,
    pub wait: bool,
    /// Show progress bars (stderr is a terminal, not quiet, not JSON).
    pub progress: bool,
    /// The replica's options; opened (and checked) by `replica()` when a command needs it.
    pub replica: Option<ReplicaConfig>,
}

impl Settings {
    pub fn resolve(args: &Options) -> Result<Settings> {
        let tz =
            DbTimezone::parse(&args.db_timezone).ok_or_else(|| SettingsError::BadTimezone {
                given: args.db_timezone.clone(),
            })?;
        let now = match &args.now {
            Some(text) => time::parse_now(text, tz).ok_or_else(|| SettingsError::BadNow {
                given: text.clone(),
            })?,
            None => Utc::now(),
        };
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match args.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        if args.pg_schema.as_deref() == Some("") {
            return Err(SettingsError::EmptyPgSchema.into());
        }
        Ok(Settings {
            db: args.db.clone(),
            pg_schema: args.pg_schema.clone(),
            store: args.store.clone(),
            lang: crate::i18n::detect(args.lang),
            json: args.json,
            color,
            quiet: args.quiet,
            verbose: args.verbose,
            busy_timeout: Duration::from_millis(u64::from(args.busy_timeout_ms)),
            now,
            tz,
            wait: args.wait,
            progress: !args.quiet && !args.json && std::io::stderr().is_terminal(),
            replica: match &args.replica {
                // Refused (exit 2) before any command does its local work.
                Some(config) => config.check().map(|()| Some(config.clone()))?,
                None => None,
            },
        })
    }

    /// The replica (`--replica`), opened, or `None` when none is set (design.md §9).
    pub fn replica(&self) -> Result<Option<Replica>> {
        self.replica.as_ref().map(Replica::open).transpose()
    }

    /// The database: `--db`/`JOBSWEEP_DB` (a path or a URL, design.md §8), else the first
    /// existing of `$DATA_DIR/database.db`, `/app/data/database.db`, `./data/database.db`.
    /// With `--pg-schema`, a server target has the app's tables in that schema (an SQLite
    /// file is then refused, exit 2).
    pub fn target(&self) -> Result<Target> {
        let target = self.found_target()?;
        target.check()?;
        target.in_schema(self.pg_schema.as_deref())
    }

    /// Another database named on the command line (`restore --to`): a server URL gets
    /// `--pg-schema` like `--db`; a file is just a file.
    pub fn other_target(&self, text: &std::ffi::OsStr) -> Result<Target> {
        match Target::parse(text) {
            file @ Target::Sqlite(_) => Ok(file),
            server => server.in_schema(self.pg_schema.as_deref()),
        }
    }

    fn found_target(&self) -> Result<Target> {
        if let Some(db) = &self.db {
            return Ok(Target::parse(db.as_os_str()));
        }
        // The app's own `DATABASE_URL` (SQLAlchemy's form), before the default paths
        // (design.md §8); a URL of another kind (mysql://) is not ours and is passed over.
        if let Some(url) = std::env::var_os("DATABASE_URL").filter(|u| !u.is_empty()) {
            let target = Target::parse(&url);
            if target.file().is_none() || url.to_string_lossy().starts_with("sqlite:///") {
                return Ok(target);
            }
        }
        let candidates = discovery_candidates();
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return Ok(Target::Sqlite(found.clone()));
        }
        Err(SettingsError::NoDatabase { tried: candidates }.into())
    }

    /// The store: `--store`/`JOBSWEEP_STORE`, else `.jobsweep/` beside the database.
    pub fn store_dir(&self) -> Result<PathBuf> {
        if let Some(store) = &self.store {
            return Ok(store.clone());
        }
        Ok(self.target()?.default_store())
    }
}

fn discovery_candidates() -> Vec<PathBuf> {
    let mut list = Vec::new();
    if let Some(dir) = std::env::var_os("DATA_DIR").filter(|d| !d.is_empty()) {
        list.push(PathBuf::from(dir).join("database.db"));
    }
    list.push(PathBuf::from("/app/data/database.db"));
    list.push(PathBuf::from("./data/database.db"));
    list
}
