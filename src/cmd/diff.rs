//! `diff`: what changed between a snapshot and the live database, or two snapshots (the
//! comparison itself is `crate::diff`), or, with `--journal`, where each journaled change stands
//! now. Read-only: it takes no lock and resolves nothing (a planned journal is shown as such).

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::cli::DiffArgs;
use crate::diff::{self, DbDiff};
use crate::engine::sqlite::Database;
use crate::error::{fail, Exit};
use crate::journal::{self, Kind, State};
use crate::settings::Settings;
use crate::snapshot;
use crate::store::{self, Store, EXTRACT_PREFIX};
use crate::t;

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
    let live = settings.db_path()?;
    let from_name = args.from.as_deref().unwrap_or("latest");
    let to_name = args.to.as_deref().unwrap_or("live");
    let store = if from_name != "live" || to_name != "live" {
        Some(existing_store(settings)?)
    } else {
        None
    };
    // Which snapshot each side is, before any slow work, so a wrong id fails at once.
    let find = |name: &str| -> Result<Option<snapshot::Manifest>> {
        match (name, store.as_ref()) {
            ("live", _) | (_, None) => Ok(None),
            ("latest", Some(store)) => latest_of(store, &live).map(Some),
            (wanted, Some(store)) => snapshot::find(store, wanted).map(Some),
        }
    };
    let (from_manifest, to_manifest) = (find(from_name)?, find(to_name)?);
    // Checks the file (and lets SQLite recover a hot journal) before anything reads it.
    let live_db = if from_manifest.is_none() || to_manifest.is_none() {
        Some(Database::open_read_only(&live, settings.busy_timeout)?)
    } else {
        None
    };
    // Decompressing and verifying a snapshot is the slow part: both sides at once, while the
    // live file (when a side is live) is copied on this thread.
    let extract = |m: &Option<snapshot::Manifest>| -> Result<Option<tempfile::TempPath>> {
        match (m, store.as_ref()) {
            (Some(m), Some(store)) => snapshot::extract(store, m, settings).map(Some),
            _ => Ok(None),
        }
    };
    let (from_image, to_image, live_image) = std::thread::scope(|scope| {
        let from = scope.spawn(|| extract(&from_manifest));
        let to = scope.spawn(|| extract(&to_manifest));
        let live_image = match &live_db {
            Some(db) => live_copy(db, settings),
            None => Ok(None),
        };
        let failed = || {
            Err(anyhow::anyhow!(t!(
                "스냅샷 압축 해제가 실패했습니다",
                "snapshot extraction failed"
            )))
        };
        let from = from.join().unwrap_or_else(|_| failed());
        let to = to.join().unwrap_or_else(|_| failed());
        (from, to, live_image)
    });
    let (from_image, to_image, live_image) = (from_image?, to_image?, live_image?);
    drop(live_db);
    // The copy when one was made (rollback-journal mode), else the live file itself (WAL).
    let live_read = live_image
        .as_ref()
        .map_or_else(|| live.clone(), |image| image.to_path_buf());
    let side = |m: &Option<snapshot::Manifest>, image: &Option<tempfile::TempPath>| match (m, image)
    {
        (Some(m), Some(image)) => (
            Side {
                kind: "snapshot",
                id: Some(m.id.clone()),
                path: m.source_path.display().to_string(),
            },
            image.to_path_buf(),
        ),
        _ => (
            Side {
                kind: "live",
                id: None,
                path: live.display().to_string(),
            },
            live_read.clone(),
        ),
    };
    let (from, from_path) = side(&from_manifest, &from_image);
    let (to, to_path) = side(&to_manifest, &to_image);
    let diff = diff::diff_files(&from_path, &to_path)?;
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

fn existing_store(settings: &Settings) -> Result<Store> {
    let dir = settings.store_dir()?;
    Store::existing(&dir).ok_or_else(|| {
        fail(
            Exit::Usage,
            t!(
                "저장소 {} 이(가) 없습니다 (스냅숏 없음)",
                "no store at {}: there are no snapshots yet",
                dir.display()
            ),
        )
    })
}

/// The newest snapshot taken of this database: several databases in one folder share a store,
/// so `latest` only considers manifests whose `source_path` is this file (compared canonically).
fn latest_of(store: &Store, live: &Path) -> Result<snapshot::Manifest> {
    // `list` is newest first.
    snapshot::list(store)?
        .into_iter()
        .find(|m| m.is_of(live))
        .ok_or_else(|| {
            fail(
                Exit::Usage,
                t!(
                    "{} 에 {} 의 스냅숏이 없습니다",
                    "no snapshot of {} in {}",
                    live.display(),
                    store.dir().display()
                ),
            )
        })
}

/// A consistent copy of the live database to compare against, or `None` to read the file
/// directly. In rollback-journal mode a read transaction blocks the app's commits for as long as
/// it lasts, so the comparison never reads the live file: it is copied first with the stepped
/// online backup snapshots use (the read lock is held for one short step at a time). In WAL
/// mode a read transaction does not block writers, so the file is read directly.
/// The copy goes in the store when it exists (same volume), else in the system temp dir: `diff`
/// never creates the store.
fn live_copy(db: &Database, settings: &Settings) -> Result<Option<tempfile::TempPath>> {
    if db.journal_mode()? == "wal" {
        return Ok(None);
    }
    let dir = settings
        .store_dir()
        .ok()
        .and_then(|dir| Store::existing(&dir))
        // A linked or foreign store is refused rather than written through (design.md §4).
        .map(|store| store.check().map(|()| store.snapshots_dir()))
        .transpose()?
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let image = tempfile::Builder::new()
        .prefix(&format!("{EXTRACT_PREFIX}live-"))
        .suffix(".db")
        .tempfile_in(&dir)
        .map(|f| f.into_temp_path())
        .map_err(|e| store::write_error(&dir, e))?;
    let label = crate::t!(
        "현재 DB {} 복사 (비교용)",
        "live database {}: copying (to compare)",
        db.path.display()
    );
    snapshot::copy_image(db, &image, settings, &label)?;
    Ok(Some(image))
}

fn journal_diff(settings: &Settings, wanted: &str) -> Result<JournalDiffReport> {
    let store = existing_store(settings)?;
    let path = settings.db_path()?;
    let journal = journal::find_for(&store, wanted, &path)?;
    journal.check_database(&path)?;
    let db = Database::open_read_only(&path, settings.busy_timeout)?;
    let rows = standings(&db, &journal.changes)?;
    let count = |s: Standing| rows.iter().filter(|r| r.standing == s).count();
    Ok(JournalDiffReport {
        journal_id: journal.id.clone(),
        kind: journal.kind,
        state: journal.state,
        database: path.display().to_string(),
        applied: count(Standing::Applied),
        reverted: count(Standing::Reverted),
        changed_since: count(Standing::ChangedSince) + count(Standing::Deleted),
        rows,
    })
}

fn standings(db: &Database, changes: &[journal::Change]) -> Result<Vec<JournalRow>> {
    let mut rows = Vec::with_capacity(changes.len());
    for c in changes {
        let now = journal::current_value(db, c.pk)?;
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
