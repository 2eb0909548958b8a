//! `diff`: what changed between a snapshot and the live database, or two snapshots (the
//! comparison itself is the engine's, over images), or, with `--journal`, where each journaled change stands
//! now. Read-only: it takes no lock and resolves nothing (a planned journal is shown as such).

use anyhow::Result;
use serde::Serialize;

use crate::cli::DiffArgs;
use crate::cmd::error::CommandError;
use crate::core::diff::DbDiff;
use crate::engine::{self, Access, Database, Identity, LiveImage};
use crate::error::Exit;
use crate::journal::{self, Kind, State};
use crate::settings::Settings;
use crate::snapshot;
use crate::store::{Scratch, Store};

/// One side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// `snapshot` or `live`.
    pub kind: &'static str,
    /// The snapshot id (`null` for live).
    pub id: Option<String>,
    /// The live database file, or the database the snapshot was taken of.
    pub path: String,
}

#[derive(Debug, Serialize)]
pub struct DbDiffReport {
    pub from: Side,
    pub to: Side,
    pub differs: bool,
    #[serde(flatten)]
    pub diff: DbDiff,
}

/// Where one journaled change stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// The row still holds the value the run wrote.
    Applied,
    /// The row holds its old value again.
    Reverted,
    /// Something else changed the row since (a revert would be a conflict).
    ChangedSince,
    /// The row no longer exists.
    Deleted,
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalRow {
    pub id: i64,
    pub job_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub now: Option<String>,
    pub standing: Standing,
}

#[derive(Debug, Serialize)]
pub struct JournalDiffReport {
    pub journal_id: String,
    pub kind: Kind,
    pub state: State,
    pub database: String,
    pub applied: usize,
    pub reverted: usize,
    pub changed_since: usize,
    pub rows: Vec<JournalRow>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DiffReport {
    Databases(DbDiffReport),
    Journal(JournalDiffReport),
}

pub fn run(settings: &Settings, args: &DiffArgs) -> Result<(DiffReport, Exit)> {
    if let Some(id) = &args.journal {
        let report = journal_diff(settings, id)?;
        let differs = report.applied != report.rows.len();
        return Ok((DiffReport::Journal(report), exit(args, differs)));
    }
    let target = settings.target()?;
    let from_name = args.from.as_deref().unwrap_or("latest");
    let to_name = args.to.as_deref().unwrap_or("live");
    let store = if from_name != "live" || to_name != "live" {
        Some(Store::required(&settings.store_dir()?)?)
    } else {
        None
    };
    let identity = engine::identify(&target, settings.busy_timeout)?;
    // Which snapshot each side is, before any slow work, so a wrong id fails at once.
    let find = |name: &str| -> Result<Option<snapshot::Manifest>> {
        match (name, store.as_ref()) {
            ("live", _) | (_, None) => Ok(None),
            ("latest", Some(store)) => latest_of(store, &identity).map(Some),
            (wanted, Some(store)) => snapshot::find(store, wanted).map(Some),
        }
    };
    let (from_manifest, to_manifest) = (find(from_name)?, find(to_name)?);
    // Checks the database (and lets SQLite recover a hot journal) before anything reads it.
    let live_db = if from_manifest.is_none() || to_manifest.is_none() {
        Some(engine::open(&target, Access::Read, settings.busy_timeout)?)
    } else {
        None
    };
    // Decompressing and verifying a snapshot is the slow part: both sides at once, while the
    // live database (when a side is live) is copied on this thread.
    let extract = |m: &Option<snapshot::Manifest>| -> Result<Option<Scratch>> {
        match (m, store.as_ref()) {
            (Some(m), Some(store)) => snapshot::extract(store, m, settings).map(Some),
            _ => Ok(None),
        }
    };
    let (from_image, to_image, live_image) = std::thread::scope(|scope| {
        let from = scope.spawn(|| extract(&from_manifest));
        let to = scope.spawn(|| extract(&to_manifest));
        let live_image = match &live_db {
            Some(db) => live_image(db.as_ref(), settings).map(Some),
            None => Ok(None),
        };
        let failed = || Err(CommandError::ExtractionFailed.into());
        let from = from.join().unwrap_or_else(|_| failed());
        let to = to.join().unwrap_or_else(|_| failed());
        (from, to, live_image)
    });
    let (from_image, to_image, live_image) = (from_image?, to_image?, live_image?);
    drop(live_db);
    let side = |m: &Option<snapshot::Manifest>, image: &Option<Scratch>| match (m, image) {
        (Some(m), Some(image)) => Some((
            Side {
                kind: "snapshot",
                id: Some(m.id.clone()),
                path: m.source_shown(),
            },
            image.to_path_buf(),
        )),
        _ => live_image.as_ref().map(|live| {
            (
                Side {
                    kind: "live",
                    id: None,
                    path: target.shown(),
                },
                live.path().to_path_buf(),
            )
        }),
    };
    let missing = || anyhow::anyhow!("diff: a side has no image");
    let (from, from_path) = side(&from_manifest, &from_image).ok_or_else(missing)?;
    let (to, to_path) = side(&to_manifest, &to_image).ok_or_else(missing)?;
    let kind = from_manifest
        .as_ref()
        .or(to_manifest.as_ref())
        .map_or(target.kind(), |m| m.engine());
    let diff = engine::image_format(kind).diff(&from_path, &to_path)?;
    drop((from_image, to_image, live_image));
    let differs = diff.differs();
    Ok((
        DiffReport::Databases(DbDiffReport {
            from,
            to,
            differs,
            diff,
        }),
        exit(args, differs),
    ))
}

fn exit(args: &DiffArgs, differs: bool) -> Exit {
    if args.exit_code && differs {
        Exit::Found
    } else {
        Exit::Success
    }
}

/// The newest snapshot taken of this database: several databases in one folder share a store,
/// so `latest` only considers manifests of this database (a file's path compared canonically).
fn latest_of(store: &Store, live: &Identity) -> Result<snapshot::Manifest> {
    // `list` is newest first.
    snapshot::list(store)?
        .into_iter()
        .find(|m| m.is_of(live))
        .ok_or_else(|| {
            CommandError::NoSnapshotOf {
                database: live.shown(),
                store: store.dir().to_path_buf(),
            }
            .into()
        })
}

/// The live contents to compare (the engine decides: a consistent copy, or the file itself when
/// reading it never blocks the app). A copy goes in the store when it exists (same volume),
/// else in the system temp dir: `diff` never creates the store.
fn live_image(db: &dyn Database, settings: &Settings) -> Result<LiveImage> {
    let dir = settings
        .store_dir()
        .ok()
        .and_then(|dir| Store::existing(&dir))
        // A linked or foreign store is refused rather than written through (design.md §4).
        .map(|store| store.check().map(|()| store.snapshots_dir()))
        .transpose()?
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let label = crate::render::labels::live_copy(&db.shown());
    db.comparable_image(&dir, &crate::progress::engine(settings, label))
}

fn journal_diff(settings: &Settings, wanted: &str) -> Result<JournalDiffReport> {
    let store = Store::required(&settings.store_dir()?)?;
    let target = settings.target()?;
    let live = engine::identify(&target, settings.busy_timeout)?;
    let journal = journal::find_for(&store, wanted, &live)?;
    journal.check_database(&live)?;
    let db = engine::open(&target, Access::Read, settings.busy_timeout)?;
    let rows = standings(db.as_ref(), &journal.changes)?;
    let count = |s: Standing| rows.iter().filter(|r| r.standing == s).count();
    Ok(JournalDiffReport {
        journal_id: journal.id.clone(),
        kind: journal.kind,
        state: journal.state,
        database: target.shown(),
        applied: count(Standing::Applied),
        reverted: count(Standing::Reverted),
        changed_since: count(Standing::ChangedSince) + count(Standing::Deleted),
        rows,
    })
}

fn standings(db: &dyn Database, changes: &[journal::Change]) -> Result<Vec<JournalRow>> {
    let mut rows = Vec::with_capacity(changes.len());
    for c in changes {
        let now = db.current_value(c.pk)?;
        let standing = match &now {
            None => Standing::Deleted,
            Some(v) if *v == c.after => Standing::Applied,
            Some(v) if *v == c.before => Standing::Reverted,
            Some(_) => Standing::ChangedSince,
        };
        rows.push(JournalRow {
            id: c.pk,
            job_id: c.job_id.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
            now: now.flatten(),
            standing,
        });
    }
    Ok(rows)
}
