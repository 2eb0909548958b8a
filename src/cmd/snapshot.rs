//! `snapshot [--note]`, `snapshot list`, `snapshot verify [ID|--all]`, `snapshot prune`: thin
//! layers over `crate::snapshot` that take the store lock when they write and return reports.

use anyhow::Result;
use serde::Serialize;

use crate::cli::{SnapshotAction, SnapshotArgs};
use crate::cmd::error::CommandError;
use crate::engine::{self, Access};
use crate::settings::Settings;
use crate::snapshot::{self, Keep, Manifest, Problem, Reason};
use crate::store::Store;

/// What a `snapshot` command reports; `--json` prints the inner value.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SnapshotReport {
    /// `snapshot`: the new manifest.
    Created(Box<Manifest>),
    List(ListReport),
    Verify(VerifyReport),
    Prune(PruneReport),
    Push(super::replica::PushReport),
    Pull(super::replica::PullReport),
    /// `snapshot list --remote`.
    Remote(super::replica::RemoteListReport),
}

#[derive(Debug, Serialize)]
pub struct ListReport {
    pub store: String,
    pub snapshots: Vec<Manifest>,
    /// Files in `snapshots/` that are not usable snapshots (missing or damaged manifest).
    pub problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub snapshots: Vec<VerifyItem>,
}

#[derive(Debug, Serialize)]
pub struct VerifyItem {
    pub id: String,
    pub ok: bool,
    pub error: Option<String>,
    /// The manifest carries its own checksum (`manifest_sha256`); false for manifests written
    /// before it existed, whose fields (source_path, ...) nothing protects.
    pub manifest_protected: bool,
}

#[derive(Debug, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub deleted: Vec<String>,
    /// Journals deleted with their snapshots (design.md §3.1).
    pub deleted_journals: Vec<String>,
    pub kept: Vec<KeptItem>,
    pub freed_bytes: u64,
    pub warnings: Vec<snapshot::PruneWarning>,
    /// The same rules applied to the replica (design.md §9), when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<super::replica::RemotePrune>,
}

#[derive(Debug, Serialize)]
pub struct KeptItem {
    pub id: String,
    pub reasons: Vec<Keep>,
}

/// Runs the command. The second value is an error to report after the report is printed
/// (`verify --all` prints every result, then fails with exit 4 when any failed).
pub fn run(settings: &Settings, args: &SnapshotArgs) -> Result<(SnapshotReport, Result<()>)> {
    match &args.action {
        None => create(settings, args.note.clone()).map(|r| (r, Ok(()))),
        Some(SnapshotAction::List { remote: false }) => list(settings),
        Some(SnapshotAction::List { remote: true }) => super::replica::list(settings),
        Some(SnapshotAction::Verify {
            id,
            all,
            remote: false,
        }) => verify(settings, id.as_deref(), *all),
        Some(SnapshotAction::Verify {
            id,
            all,
            remote: true,
        }) => super::replica::verify(settings, id.as_deref(), *all),
        Some(SnapshotAction::Push { id, all }) => {
            super::replica::push(settings, id.as_deref(), *all).map(|r| (r, Ok(())))
        }
        Some(SnapshotAction::Pull { id }) => {
            super::replica::pull(settings, id).map(|r| (r, Ok(())))
        }
        Some(SnapshotAction::Prune {
            keep_last,
            keep_within,
            protect_applies,
            dry_run,
            force,
        }) => prune(
            settings,
            *keep_last,
            *keep_within,
            *protect_applies,
            *dry_run,
            *force,
        ),
    }
}

fn create(settings: &Settings, note: Option<String>) -> Result<SnapshotReport> {
    let target = settings.target()?;
    // A missing or unreadable database is reported before the store is created.
    let db = engine::open(&target, Access::Read, settings.busy_timeout)?;
    let store = Store::open(&settings.store_dir()?)?;
    let _lock = store.lock(settings.wait)?;
    crate::journal::resolve_planned(&store, db.as_ref())?;
    crate::failpoint::hit("pause-snapshot-locked");
    let manifest = snapshot::create(db.as_ref(), &store, Reason::Manual, note, settings)?;
    Ok(SnapshotReport::Created(Box::new(manifest)))
}

/// Lists every snapshot; a damaged one (a manifest that fails its checksum or cannot be read, a
/// data file without a manifest) is listed under problems and makes the command exit 4 after
/// the whole list is printed.
fn list(settings: &Settings) -> Result<(SnapshotReport, Result<()>)> {
    let dir = settings.store_dir()?;
    let scan = match Store::existing(&dir) {
        Some(store) => snapshot::scan(&store)?,
        None => snapshot::Scan::default(),
    };
    let after = match scan.problems.len() {
        0 => Ok(()),
        _ => Err(CommandError::DamagedSnapshots {
            ids: scan.problems.iter().map(|p| p.id.clone()).collect(),
        }
        .into()),
    };
    Ok((
        SnapshotReport::List(ListReport {
            store: dir.display().to_string(),
            snapshots: scan.manifests,
            problems: scan.problems,
        }),
        after,
    ))
}

/// The outcome of `snapshot verify` (of the local store, or of the `replica`) once its report is
/// printed: exit 4 naming the snapshots that failed.
pub fn verified(items: &[VerifyItem], replica: bool) -> Result<()> {
    let failed: Vec<String> = items
        .iter()
        .filter(|i| !i.ok)
        .map(|i| i.id.clone())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(CommandError::FailedVerification {
        total: items.len(),
        failed,
        replica,
    }
    .into())
}

fn no_snapshots() -> anyhow::Error {
    CommandError::NoSnapshots.into()
}

fn verify(
    settings: &Settings,
    id: Option<&str>,
    all: bool,
) -> Result<(SnapshotReport, Result<()>)> {
    let store = Store::existing(&settings.store_dir()?).ok_or_else(no_snapshots)?;
    if !all {
        let m = snapshot::find(&store, id.unwrap_or("latest"))?;
        snapshot::verify(&store, &m, settings)?;
        let report = VerifyReport {
            snapshots: vec![VerifyItem {
                manifest_protected: m.is_protected(),
                id: m.id,
                ok: true,
                error: None,
            }],
        };
        return Ok((SnapshotReport::Verify(report), Ok(())));
    }
    let scan = snapshot::scan(&store)?;
    if scan.manifests.is_empty() && scan.problems.is_empty() {
        return Err(no_snapshots());
    }
    let mut items = Vec::new();
    for m in &scan.manifests {
        let result = snapshot::verify(&store, m, settings);
        items.push(VerifyItem {
            id: m.id.clone(),
            ok: result.is_ok(),
            error: result.err().map(|e| format!("{e:#}")),
            manifest_protected: m.is_protected(),
        });
    }
    for p in scan.problems {
        items.push(VerifyItem {
            id: p.id,
            ok: false,
            error: Some(p.message),
            manifest_protected: false,
        });
    }
    items.sort_by(|a, b| b.id.cmp(&a.id));
    let after = verified(&items, false);
    Ok((
        SnapshotReport::Verify(VerifyReport { snapshots: items }),
        after,
    ))
}

fn prune(
    settings: &Settings,
    keep_last: Option<usize>,
    keep_within: Option<chrono::Duration>,
    protect_applies: chrono::Duration,
    dry_run: bool,
    force: bool,
) -> Result<(SnapshotReport, Result<()>)> {
    if keep_last.is_none() && keep_within.is_none() {
        return Err(CommandError::PruneKeepsNothing.into());
    }
    let empty = || PruneReport {
        dry_run,
        deleted: vec![],
        deleted_journals: vec![],
        kept: vec![],
        freed_bytes: 0,
        warnings: vec![],
        replica: None,
    };
    let Some(store) = Store::existing(&settings.store_dir()?) else {
        return Ok((SnapshotReport::Prune(empty()), Ok(())));
    };
    let _lock = store.lock(settings.wait)?;
    // Resolved first, so a journal that turns out abandoned no longer protects its snapshot.
    if let Ok(target) = settings.target() {
        crate::journal::resolve_planned_of(&store, &target, settings.busy_timeout)?;
    }
    let manifests = snapshot::list(&store)?;
    let mut report = empty();
    // Ages are measured with the real clock: created_at is real time, --now is for reports.
    let now = crate::store::clock_now();
    // With a replica, its journals protect too, on both sides (design.md §9).
    let survey = super::replica::survey(&store, now, protect_applies);
    let protection = match &survey {
        Some(Ok(survey)) => survey.protection.clone(),
        _ => snapshot::protection(&store, now, protect_applies),
    };
    report.warnings.extend(protection.warnings.iter().cloned());
    let plan = snapshot::prune_plan(&manifests, keep_last, keep_within, now, &protection, force);
    if plan
        .iter()
        .any(|(_, why)| why.contains(&Keep::FutureCreatedAt))
    {
        report
            .warnings
            .push(snapshot::PruneWarning::FutureSnapshots);
    }
    for (i, reasons) in plan {
        let m = &manifests[i];
        if reasons.is_empty() {
            if !dry_run {
                snapshot::delete(&store, &m.id)?;
            }
            report.deleted.push(m.id.clone());
            report.freed_bytes += m.file_bytes;
        } else {
            report.kept.push(KeptItem {
                id: m.id.clone(),
                reasons,
            });
        }
    }
    let journals = crate::journal::list(&store).unwrap_or_default();
    for id in snapshot::journals_going(&journals, &report.deleted) {
        if !dry_run {
            snapshot::delete_journal(&store, &id)?;
        }
        report.deleted_journals.push(id);
    }
    let local_ids: Vec<String> = manifests
        .iter()
        .map(|m| m.id.clone())
        .filter(|id| !report.deleted.contains(id))
        .collect();
    let (replica, after) = super::replica::prune(
        survey,
        |stand_ins| {
            snapshot::prune_plan(stand_ins, keep_last, keep_within, now, &protection, force)
        },
        &local_ids,
        dry_run,
    );
    report.replica = replica;
    Ok((SnapshotReport::Prune(report), after))
}
