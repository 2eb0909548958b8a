//! `log`: the store's history, newest first: every journal (what it changed, its snapshot,
//! whether it was reverted, planned ones flagged as unresolved) and every snapshot. Read-only:
//! it never creates the store and never resolves a planned journal, it only shows it.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Exit;
use crate::journal::{self, Kind, State};
use crate::settings::Settings;
use crate::snapshot;
use crate::store::{self, Store};

/// One line of the history.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    #[serde(with = "crate::store::micros")]
    pub created_at: DateTime<Utc>,
    /// `apply`, `revert`, `restore` (a `restore --snapshot` of the live database) or `snapshot`.
    pub kind: &'static str,
    pub id: String,
    /// Journals: `planned`, `committed` or `abandoned`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// Journals: a `planned` journal left by a crash, resolved by the next store-writing command.
    pub unresolved: bool,
    /// Journals: resolved after a crash by comparing row values (a journal written before the
    /// outcome record existed): the state is a guess, and prune keeps its snapshot.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outcome_uncertain: bool,
    /// Journals: jobs changed (for a planned journal: jobs it meant to change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs_changed: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs_skipped: Option<usize>,
    /// Journals: the snapshot taken before the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
    /// Applies and reverts: the `restore` that put back a snapshot taken before this run (and
    /// that no later restore undid), so the run's changes are no longer in the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undone_by: Option<String>,
    /// Restores: the snapshot put back (`snapshot_id` is the pre-restore snapshot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_snapshot: Option<String>,
    /// Snapshots: `manual`, `pre-apply` or `pre-restore`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The database the journal or snapshot is about.
    pub database: Option<String>,
    /// Set when the file cannot be read or fails its checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
    /// With a replica (design.md §9): whether it holds this journal or (complete) snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicated: Option<bool>,
}

impl LogEntry {
    /// An entry of `kind` with no details: each kind fills in what it has.
    fn new(created_at: DateTime<Utc>, kind: &'static str, id: String) -> LogEntry {
        LogEntry {
            created_at,
            kind,
            id,
            state: None,
            unresolved: false,
            outcome_uncertain: false,
            jobs_changed: None,
            jobs_skipped: None,
            snapshot_id: None,
            reverts: None,
            reverted_by: None,
            undone_by: None,
            restored_snapshot: None,
            reason: None,
            note: None,
            database: None,
            damaged: None,
            replicated: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LogReport {
    pub store: String,
    pub store_exists: bool,
    pub unresolved: usize,
    pub entries: Vec<LogEntry>,
}

pub fn run(settings: &Settings) -> Result<(LogReport, Exit)> {
    let dir = settings.store_dir()?;
    let mut report = LogReport {
        store: dir.display().to_string(),
        store_exists: false,
        unresolved: 0,
        entries: Vec::new(),
    };
    let Some(store) = Store::existing(&dir) else {
        return Ok((report, Exit::Success));
    };
    report.store_exists = true;
    let journals = journal::list(&store)?;
    let scan = snapshot::scan(&store)?;
    let undone = undone_by_restores(&journals, &scan.manifests);
    for entry in journals {
        let created_at = entry.created_at();
        let line = match entry.journal {
            Ok(j) => {
                let kind = match j.kind {
                    Kind::Apply => "apply",
                    Kind::Revert => "revert",
                    Kind::Restore => "restore",
                };
                LogEntry {
                    state: Some(j.state),
                    unresolved: j.state == State::Planned,
                    outcome_uncertain: j.outcome_uncertain,
                    jobs_changed: Some(j.changed_count()),
                    jobs_skipped: Some(j.skipped.len()),
                    snapshot_id: Some(j.snapshot_id.clone()),
                    reverts: j.reverts.clone(),
                    reverted_by: j.reverted_by.clone(),
                    undone_by: undone.get(&j.id).cloned(),
                    restored_snapshot: j.restored_snapshot.clone(),
                    database: Some(j.db_path.clone()),
                    ..LogEntry::new(created_at, kind, j.id.clone())
                }
            }
            Err(e) => LogEntry {
                damaged: Some(e.to_string()),
                ..LogEntry::new(created_at, "journal", entry.id.clone())
            },
        };
        report.entries.push(line);
    }
    for m in scan.manifests {
        report.entries.push(LogEntry {
            reason: Some(m.reason.as_str().to_string()),
            note: m.note.clone(),
            database: Some(m.source_path.display().to_string()),
            ..LogEntry::new(m.created_at, "snapshot", m.id.clone())
        });
    }
    for p in scan.problems {
        let created_at = store::time_of_id(&p.id).unwrap_or(DateTime::<Utc>::MIN_UTC);
        report.entries.push(LogEntry {
            damaged: Some(p.message),
            ..LogEntry::new(created_at, "snapshot", p.id.clone())
        });
    }
    // Newest first; at equal times (a snapshot and the journal of the same run share the
    // second) the id breaks the tie, so the order is stable.
    report
        .entries
        .sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    report.unresolved = report.entries.iter().filter(|e| e.unresolved).count();
    if let Some((journals, snapshots)) = super::replica::replicated_ids() {
        for e in &mut report.entries {
            let held = if e.kind == "snapshot" {
                &snapshots
            } else {
                &journals
            };
            e.replicated = Some(held.contains(&e.id));
        }
    }
    Ok((report, Exit::Success))
}

/// Which committed applies and reverts a later `restore --snapshot` undid (design.md §4.3): for
/// each run, the newest restore of the same database made after it; when that restore put back
/// a snapshot taken before the run, the run's changes are gone (a restore that put back a later
/// state, e.g. a pre-restore snapshot, brought them back).
fn undone_by_restores(
    journals: &[journal::Entry],
    manifests: &[snapshot::Manifest],
) -> std::collections::HashMap<String, String> {
    let taken = |id: &str| {
        manifests
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.created_at)
            .or_else(|| store::time_of_id(id))
    };
    // Newest first, as `journal::list` returns them.
    let restores: Vec<&journal::Journal> = journals
        .iter()
        .filter_map(|e| e.journal.as_ref().ok())
        .filter(|j| j.kind == Kind::Restore)
        .collect();
    let mut out = std::collections::HashMap::new();
    for run in journals.iter().filter_map(|e| e.journal.as_ref().ok()) {
        if run.kind == Kind::Restore || run.state != State::Committed {
            continue;
        }
        let latest = restores
            .iter()
            .find(|r| r.created_at > run.created_at && r.db_path == run.db_path);
        let Some(restore) = latest else { continue };
        let put_back = restore.restored_snapshot.as_deref().and_then(taken);
        if put_back.is_some_and(|t| t < run.created_at) {
            out.insert(run.id.clone(), restore.id.clone());
        }
    }
    out
}
