//! `restore --journal`: reverts exactly one journaled run (an `apply`, or a revert).
//!
//! Each journaled row is looked at now: still at the value the run wrote -> set back (compare-
//! and-set, one transaction, after a `pre-restore` snapshot); already at its old value -> passed
//! over; anything else was changed since -> a conflict, skipped and listed (exit 5) unless
//! `--force`. The revert is journaled itself (kind `revert`) and both journals point at each
//! other, so a revert can be reverted by naming its id. When nothing is left to set back,
//! nothing is written at all: no snapshot, no journal.

use anyhow::Result;
use serde::Serialize;

use crate::cli::RestoreArgs;
use crate::cmd::apply::{compare_and_set, Applied};
use crate::db::Database;
use crate::error::{fail, Exit};
use crate::failpoint;
use crate::journal::{self, Change, Journal, Kind, Resolved, State};
use crate::settings::Settings;
use crate::snapshot::{self, Reason};
use crate::store::{self, Store};
use crate::t;

/// A journaled row whose value is neither what the run wrote nor what it found.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    pub id: i64,
    pub job_id: Option<String>,
    /// The value the run wrote (what a revert expects to find).
    pub expected: Option<String>,
    /// What the row holds now; `null` with `deleted` when the row is gone.
    pub found: Option<String>,
    pub deleted: bool,
    /// Set back anyway (`--force`).
    pub forced: bool,
}

/// A row already holding its old value.
#[derive(Debug, Clone, Serialize)]
pub struct Passed {
    pub id: i64,
    pub job_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Rows were set back.
    Reverted,
    /// Every row already holds its old value (or the journal changed nothing).
    NothingToDo,
    /// Only conflicts are left and `--force` was not given.
    ConflictsOnly,
}

#[derive(Debug, Serialize)]
pub struct RevertReport {
    pub command: &'static str,
    pub database: String,
    /// The journal reverted.
    pub journal_id: String,
    pub journal_kind: Kind,
    pub journal_state: State,
    pub outcome: Outcome,
    /// The journal of this revert and its `pre-restore` snapshot (when anything changed).
    pub revert_journal_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub reverted: Vec<Applied>,
    pub already_reverted: Vec<Passed>,
    pub conflicts: Vec<Conflict>,
    pub recovered: Vec<Resolved>,
}

pub fn run(settings: &Settings, args: &RestoreArgs) -> Result<(RevertReport, Exit)> {
    let wanted = args.journal.as_deref().unwrap_or("latest");
    let path = settings.db_path()?;
    let db = Database::open_read_write(&path, settings.busy_timeout)?;
    db.quick_check()?;
    db.schema()?;
    let dir = settings.store_dir()?;
    let Some(store) = Store::existing(&dir) else {
        return Err(fail(
            Exit::Usage,
            t!(
                "저장소 {} 이(가) 없어 되돌릴 저널이 없습니다",
                "no store at {}: there is no journal to revert",
                dir.display()
            ),
        ));
    };
    let store = Store::open(store.dir())?;
    let _lock = store.lock(settings.wait)?;
    let recovered = journal::resolve_planned(&store, &path, settings)?;
    let mut target = journal::find(&store, wanted)?;
    target.check_database(&path)?;

    let mut report = RevertReport {
        command: "restore",
        database: path.display().to_string(),
        journal_id: target.id.clone(),
        journal_kind: target.kind,
        journal_state: target.state,
        outcome: Outcome::NothingToDo,
        revert_journal_id: None,
        snapshot_id: None,
        reverted: Vec::new(),
        already_reverted: Vec::new(),
        conflicts: Vec::new(),
        recovered,
    };
    if target.state != State::Committed {
        // An abandoned journal's transaction never committed: there is nothing to set back.
        return Ok((report, Exit::Success));
    }

    // What to set back: rows still at the run's value, and with --force the conflicts too.
    let mut plan: Vec<Change> = Vec::new();
    for change in &target.changes {
        let now = journal::current_value(&db, change.pk)?;
        let reverse = |from: Option<String>, forced: bool| Change {
            table: change.table.clone(),
            pk: change.pk,
            job_id: change.job_id.clone(),
            column: change.column.clone(),
            before: from,
            after: change.before.clone(),
            reason: if forced {
                t!(
                    "{} 되돌리기 (--force: 그 사이 바뀐 값 덮어씀)",
                    "revert of {} (--force over a later change)",
                    target.id
                )
            } else {
                t!("{} 되돌리기", "revert of {}", target.id)
            },
        };
        match now {
            Some(v) if v == change.after => plan.push(reverse(v, false)),
            Some(v) if v == change.before => report.already_reverted.push(Passed {
                id: change.pk,
                job_id: change.job_id.clone(),
            }),
            Some(v) => {
                if args.force {
                    plan.push(reverse(v.clone(), true));
                }
                report.conflicts.push(Conflict {
                    id: change.pk,
                    job_id: change.job_id.clone(),
                    expected: change.after.clone(),
                    found: v,
                    deleted: false,
                    forced: args.force,
                });
            }
            // A deleted row cannot be set back, even with --force: that would mean
            // re-inserting data the journal does not hold.
            None => report.conflicts.push(Conflict {
                id: change.pk,
                job_id: change.job_id.clone(),
                expected: change.after.clone(),
                found: None,
                deleted: true,
                forced: false,
            }),
        }
    }
    let unresolved = |r: &RevertReport| r.conflicts.iter().any(|c| !c.forced);
    if plan.is_empty() {
        report.outcome = if unresolved(&report) {
            Outcome::ConflictsOnly
        } else {
            Outcome::NothingToDo
        };
        let exit = if unresolved(&report) {
            Exit::Conflict
        } else {
            Exit::Success
        };
        return Ok((report, exit));
    }

    let manifest = snapshot::create(&path, &store, Reason::PreRestore, None, settings)?;
    let (id, created_at) = store::new_id();
    let mut revert = Journal::planned(
        id,
        created_at,
        Kind::Revert,
        Some(target.id.clone()),
        manifest.id.clone(),
        manifest.image_sha256.clone(),
        &path,
        None,
        plan,
    );
    revert.save(&store)?;
    failpoint::hit("after-planned");
    let (changed, skipped) = compare_and_set(&db, &revert.changes)?;
    failpoint::hit("after-commit");
    // Rows changed between the look above and the transaction are conflicts too.
    for s in &skipped {
        if let Some(change) = revert.changes.iter().find(|c| c.pk == s.pk) {
            report.conflicts.push(Conflict {
                id: s.pk,
                job_id: s.job_id.clone(),
                expected: change.before.clone(),
                found: journal::current_value(&db, s.pk)?.flatten(),
                deleted: false,
                forced: false,
            });
        }
    }
    revert.commit(changed, skipped);
    revert.save(&store)?;
    target.reverted_by = Some(revert.id.clone());
    target.save(&store)?;

    report.outcome = Outcome::Reverted;
    report.revert_journal_id = Some(revert.id.clone());
    report.snapshot_id = Some(manifest.id);
    report.reverted = revert
        .changes
        .iter()
        .map(|c| Applied {
            id: c.pk,
            job_id: c.job_id.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
            reason: c.reason.clone(),
        })
        .collect();
    let exit = if unresolved(&report) {
        Exit::Conflict
    } else {
        Exit::Success
    };
    Ok((report, exit))
}
