//! `restore --journal`: reverts exactly one journaled run (an `apply`, or a revert).
//!
//! Each journaled row is looked at now: still at the value the run wrote -> set back (compare-
//! and-set, one transaction, after a `pre-restore` snapshot); already at its old value -> passed
//! over; anything else was changed since -> a conflict, skipped and listed (exit 5) unless
//! `--force`. The revert is journaled itself (kind `revert`) and both journals point at each
//! other, so a revert can be reverted by naming its id. When nothing is left to set back,
//! nothing is written at all: no snapshot, no journal.
//!
//! Like `apply`, the rows are looked at once to decide whether a snapshot is needed, and again
//! under the write lock (`BEGIN IMMEDIATE`) after the `pre-restore` snapshot: the planned journal
//! written inside the transaction is exactly what commits. A failure after the snapshot and
//! before `COMMIT` (e.g. the app holding a lock past the busy timeout) rolls back and removes
//! this run's journal and snapshot. A deleted row can never be set back (that would mean
//! re-creating data the journal does not hold): it is a conflict (exit 5) without `--force`,
//! and with `--force` it is reported as "cannot restore: row deleted" and passed over.

use anyhow::Result;
use serde::Serialize;

use crate::cli::RestoreArgs;
use crate::cmd::error::{CommandError, Committed};
use crate::cmd::txn::{self, Applied, Written};
use crate::core::reason::ReasonCode;
use crate::engine::{self, Access, Database};
use crate::error::Exit;
use crate::failpoint;
use crate::journal::{self, Change, Journal, Kind, Resolved, State};
use crate::settings::Settings;
use crate::snapshot::{self, Reason};
use crate::store;
use crate::store::Store;

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
    /// `--force` was given: the row is set back anyway, or, when `deleted`, passed over (it
    /// cannot be re-created). A forced conflict does not make the exit status 5.
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
    /// Every row already holds its old value (or the journal changed nothing); with `--force`,
    /// rows deleted since may be listed in `conflicts` too.
    NothingToDo,
    /// Only conflicts are left and `--force` was not given.
    ConflictsOnly,
}

#[derive(Debug, Serialize)]
pub struct RevertReport {
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
    let target_db = settings.target()?;
    let mut db = engine::open(&target_db, Access::Write, settings.busy_timeout)?;
    db.check_integrity()?;
    db.schema()?;
    let store = Store::open(Store::required(&settings.store_dir()?)?.dir())?;
    let _lock = store.lock(settings.wait)?;
    db.lock_for_changes(settings.wait)?;
    let recovered = journal::resolve_planned(&store, &*db)?;
    let live = db.identity();
    let mut target = journal::find_for(&store, wanted, &live)?;
    target.check_database(&live)?;
    if target.kind == Kind::Restore {
        return Err(CommandError::RevertOfRestore {
            journal: target.id.clone(),
            snapshot: target.snapshot_id.clone(),
        }
        .into());
    }

    let mut report = RevertReport {
        database: target_db.shown(),
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

    // A first look, without the write lock: only to know whether a snapshot is needed.
    let first = plan(|pk| db.current_value(pk), &target, args.force)?;
    if first.changes.is_empty() {
        return Ok(nothing_to_set_back(report, first));
    }

    let manifest = snapshot::create(&*db, &store, Reason::PreRestore, None, settings)?;
    failpoint::hit("pause-before-transaction");
    let mut written = Written::default();
    let attempt = transaction(
        &*db,
        &target,
        args.force,
        (&store, &manifest.id, &manifest.image_sha256),
        &mut written,
    );
    let (mut revert, planned) = match attempt {
        Ok(Some(done)) => done,
        Ok(None) => {
            // Everything left changed between the two looks: nothing was written.
            written.discard(&store, &manifest.id);
            let again = plan(|pk| db.current_value(pk), &target, args.force)?;
            return Ok(nothing_to_set_back(report, again));
        }
        Err(e) => {
            written.discard(&store, &manifest.id);
            return Err(e);
        }
    };
    failpoint::hit("after-commit");
    // After COMMIT: a failure here leaves the journal planned; the next run resolves it from
    // the outcome record (and links `reverted_by`), which the error says (design.md §4.2).
    revert.state = State::Committed;
    revert.committed_at = Some(store::clock_now());
    let marked = txn::mark_committed(&mut revert, &store).and_then(|()| {
        target.reverted_by = Some(revert.id.clone());
        target.save(&store)
    });
    if let Err(e) = marked {
        return Err(txn::committed_but_unmarked(
            Committed::Revert,
            &revert,
            &e,
            None,
        ));
    }

    report.already_reverted = planned.passed;
    report.conflicts = planned.conflicts;
    // Rows changed between the look and the update are conflicts too (not possible while the
    // write lock is held, but the report must say so if it happens).
    for s in &revert.skipped {
        if let Some(change) = revert.changes.iter().find(|c| c.pk == s.pk) {
            report.conflicts.push(Conflict {
                id: s.pk,
                job_id: s.job_id.clone(),
                expected: change.before.clone(),
                found: db.current_value(s.pk)?.flatten(),
                deleted: false,
                forced: false,
            });
        }
    }
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
    let exit = exit_of(&report);
    Ok((report, exit))
}

/// What a revert would do now.
struct Plan {
    /// Rows still at the run's value, and with `--force` the conflicts that can be set back.
    changes: Vec<Change>,
    passed: Vec<Passed>,
    conflicts: Vec<Conflict>,
}

/// `now` reads a row's journaled value as it is now (outside or inside the transaction).
fn plan(
    now: impl Fn(i64) -> Result<Option<Option<String>>>,
    target: &Journal,
    force: bool,
) -> Result<Plan> {
    let mut out = Plan {
        changes: Vec::new(),
        passed: Vec::new(),
        conflicts: Vec::new(),
    };
    for change in &target.changes {
        let now = now(change.pk)?;
        let reverse = |from: Option<String>, forced: bool| Change {
            table: change.table.clone(),
            pk: change.pk,
            job_id: change.job_id.clone(),
            column: change.column.clone(),
            before: from,
            after: change.before.clone(),
            reason: ReasonCode::Revert {
                journal: target.id.clone(),
                forced,
            }
            .into(),
        };
        match now {
            Some(v) if v == change.after => out.changes.push(reverse(v, false)),
            Some(v) if v == change.before => out.passed.push(Passed {
                id: change.pk,
                job_id: change.job_id.clone(),
            }),
            Some(v) => {
                if force {
                    out.changes.push(reverse(v.clone(), true));
                }
                out.conflicts.push(Conflict {
                    id: change.pk,
                    job_id: change.job_id.clone(),
                    expected: change.after.clone(),
                    found: v,
                    deleted: false,
                    forced: force,
                });
            }
            // A deleted row cannot be set back, even with --force: that would mean
            // re-inserting data the journal does not hold. With --force it is passed over.
            None => out.conflicts.push(Conflict {
                id: change.pk,
                job_id: change.job_id.clone(),
                expected: change.after.clone(),
                found: None,
                deleted: true,
                forced: force,
            }),
        }
    }
    Ok(out)
}

/// Conflicts not settled by `--force` make the exit status 5.
fn exit_of(report: &RevertReport) -> Exit {
    if report.conflicts.iter().any(|c| !c.forced) {
        Exit::Conflict
    } else {
        Exit::Success
    }
}

fn nothing_to_set_back(mut report: RevertReport, plan: Plan) -> (RevertReport, Exit) {
    report.already_reverted = plan.passed;
    report.conflicts = plan.conflicts;
    let exit = exit_of(&report);
    report.outcome = if exit == Exit::Conflict {
        Outcome::ConflictsOnly
    } else {
        Outcome::NothingToDo
    };
    (report, exit)
}

/// `BEGIN IMMEDIATE`, the plan again under the write lock, the planned revert journal
/// (fsynced), the updates, `COMMIT`. `None` (rolled back, nothing written) when nothing is left
/// to set back.
fn transaction(
    db: &dyn Database,
    target: &Journal,
    force: bool,
    (store, snapshot_id, snapshot_sha256): (&Store, &str, &str),
    written: &mut Written,
) -> Result<Option<(Journal, Plan)>> {
    let tx = db.begin_write()?;
    let pks: Vec<i64> = target.changes.iter().map(|c| c.pk).collect();
    tx.lock_rows(&pks)?;
    let mut planned = plan(|pk| tx.current_value(pk), target, force)?;
    if planned.changes.is_empty() {
        return Ok(None);
    }
    let (id, created_at) = store::new_id();
    let mut revert = Journal::planned(
        id.clone(),
        created_at,
        Kind::Revert,
        Some(target.id.clone()),
        snapshot_id.to_string(),
        snapshot_sha256.to_string(),
        &db.identity(),
        None,
        std::mem::take(&mut planned.changes),
    );
    written.journal = Some(id);
    revert.save(store)?;
    failpoint::hit("after-planned");
    let (changed, skipped) = tx.set(&revert.changes)?;
    journal::record_outcome(tx.as_ref(), &revert)?;
    failpoint::hit("in-transaction");
    txn::commit(tx, written)?;
    if !skipped.is_empty() {
        revert.commit(changed, skipped);
    }
    Ok(Some((revert, planned)))
}
