//! `apply`: cleans the stale jobs `check` reports, behind a snapshot and a write-ahead journal.
//!
//! Order (design.md §3.2): open read-write (a read-only file is refused before the store is created, so
//! nothing is left behind); a first survey refuses early what `--max-changes` forbids and stops
//! when nothing is stale; then the store lock, recovery of planned journals and the `pre-apply`
//! snapshot (seconds on a big file, while the app keeps working). The snapshot's integrity check
//! of its consistent image is the check of the live file: a damaged file is refused there (exit
//! 3), before any change, and the run leaves no snapshot and no journal (design.md §3). A
//! separate `quick_check` of the live file would hold the app's writers off for as long again.
//! Then the journal of the first survey's plan is written as `planned` and fsynced, before the
//! write lock (the app does not wait for that fsync), and one `BEGIN IMMEDIATE` transaction: the
//! same survey again, of the planned rows only, under the write lock (a job that made progress or
//! changed status since the first survey drops out and is reported as skipped; the planned
//! journal is then written again, before any row changes), the compare-and-set updates,
//! `COMMIT`; then the journal is marked `committed`. No other writer can commit while the write
//! lock is held, so the planned journal is exactly what commits (and what crash recovery finds).
//!
//! Any failure after the snapshot and before `COMMIT` (typically the busy timeout at
//! `BEGIN IMMEDIATE` or at `COMMIT` while the app holds a lock) rolls back and removes the
//! journal and the snapshot of this run: the store is left as it was (design.md §5).

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::cli::ApplyArgs;
use crate::cmd::check::criteria;
use crate::cmd::error::{CommandError, Committed};
use crate::cmd::txn::{commit, committed_but_unmarked, mark_committed, Applied, Written};
use crate::core::jobs::{self, Criteria, StaleJob, Survey};
use crate::core::reason::{plan_reason, ReasonCode};
use crate::engine::{self, Access, Database, Reading, Schema, Variant, WriteTx};
use crate::error::Exit;
use crate::failpoint;
use crate::journal::{self, Change, Journal, Kind, Resolved, Skipped};
use crate::settings::Settings;
use crate::snapshot::Manifest;
use crate::snapshot::{self, Reason};
use crate::store::{self, Store};

/// How long each step took, in milliseconds (`--json`, and `-v` in the text report).
#[derive(Debug, Default, Serialize)]
pub struct Timings {
    pub survey_ms: f64,
    pub snapshot_ms: f64,
    pub journal_ms: f64,
    /// From `BEGIN IMMEDIATE` to the end of `COMMIT`, including the re-survey under the write
    /// lock (and the planned journal's second fsync when the plan changed meanwhile): the only
    /// time the app's writers wait.
    pub transaction_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct ApplyReport {
    pub database: String,
    pub schema: Variant,
    pub criteria: Criteria,
    pub rolled_back_hot_journal: bool,
    pub stats: jobs::Stats,
    pub stale_jobs: Vec<StaleJob>,
    pub age_unknown: Vec<jobs::UnknownAge>,
    pub unknown_job_ids: Vec<String>,
    /// Planned journals left by a crash and resolved before this run.
    pub recovered: Vec<Resolved>,
    /// `None` when nothing was stale (no snapshot, no journal).
    pub snapshot_id: Option<String>,
    pub journal_id: Option<String>,
    pub changed: Vec<Applied>,
    pub skipped: Vec<Skipped>,
    pub timings: Timings,
    #[serde(skip)]
    pub verbose: bool,
    /// The journal's file, for the text report's pointers.
    #[serde(skip)]
    pub journal_file: Option<String>,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub fn run(settings: &Settings, args: &ApplyArgs) -> Result<(ApplyReport, Exit)> {
    let started = Instant::now();
    let target = settings.target()?;
    let mut db = engine::open(&target, Access::Write, settings.busy_timeout)?;
    if engine::previous_copy_method() {
        // Only for the side-by-side benchmark of the previous method (bench/live.sh).
        db.check_integrity()?;
    }
    let schema = db.schema()?;
    let criteria = criteria(&args.select, settings);

    // Without the lock, only to refuse early and to know whether a snapshot is needed: nothing
    // is created when nothing will be done. The authoritative survey runs again under the
    // write lock, after the snapshot.
    let mut timings = Timings::default();
    let t = Instant::now();
    let first = db.survey(&schema, &criteria, settings.tz, Reading::Plan)?;
    timings.survey_ms = ms(t);
    if let Err(refused) = check_max_changes(first.stale.len(), args.max_changes) {
        // `--json` prints the plan it refused (design.md §6).
        let plan = serde_json::json!({
            "database": target.shown(),
            "schema": first.variant,
            "criteria": criteria,
            "max_changes": args.max_changes,
            "stats": first.stats,
            "stale_jobs": first.stale,
            "age_unknown": first.age_unknown,
            "unknown_job_ids": first.unknown_job_ids,
        });
        return Err(crate::error::with_details(refused.into(), Some(plan)));
    }
    let store_dir = settings.store_dir()?;
    // With nothing to do and no store, nothing is created. An existing store is still opened:
    // this run is then the one that resolves a journal a crash left planned.
    if first.stale.is_empty() && Store::existing(&store_dir).is_none() {
        timings.total_ms = ms(started);
        return Ok((
            report(
                &target.shown(),
                criteria,
                first,
                &*db,
                Vec::new(),
                timings,
                settings,
            ),
            Exit::Success,
        ));
    }

    let new_store = Store::existing(&store_dir).is_none();
    let store = Store::open(&store_dir)?;
    let lock = store.lock(settings.wait)?;
    // Other jobsweeps with another store on the same database (a server's) are kept out.
    db.lock_for_changes(settings.wait)?;
    let recovered = journal::resolve_planned(&store, &*db)?;
    if first.stale.is_empty() {
        timings.total_ms = ms(started);
        return Ok((
            report(
                &target.shown(),
                criteria,
                first,
                &*db,
                recovered,
                timings,
                settings,
            ),
            Exit::Success,
        ));
    }

    let t = Instant::now();
    let manifest = match snapshot::create(&*db, &store, Reason::PreApply, None, settings) {
        Ok(m) => m,
        Err(e) => {
            // A damaged file is found here (exit 3): a store this run created goes again, so
            // that nothing is left behind.
            if new_store {
                drop(lock);
                remove_empty_store(&store);
            }
            return Err(e);
        }
    };
    timings.snapshot_ms = ms(t);
    failpoint::hit("after-snapshot");
    failpoint::hit("pause-before-transaction");

    let mut written = Written::default();
    let attempt = transaction(
        &*db,
        &schema,
        &criteria,
        settings,
        args.max_changes,
        &first,
        (&store, &manifest),
        &mut timings,
        &mut written,
    );
    let (mut journal, survey) = match attempt {
        Ok(done) => done,
        Err(e) => {
            written.discard(&store, &manifest.id);
            return Err(e);
        }
    };
    failpoint::hit("after-commit");

    // After COMMIT the change is in the database, with its outcome record: a failure to mark
    // the journal is reported as such, and the next run resolves it (design.md §4.2, §5).
    let t = Instant::now();
    journal.state = journal::State::Committed;
    journal.committed_at = Some(store::clock_now());
    let marked = mark_committed(&mut journal, &store);
    timings.journal_ms += ms(t);

    let changed_ids: std::collections::HashSet<i64> =
        journal.changes.iter().map(|c| c.pk).collect();
    // The statistics are the first survey's: the one under the lock read the planned rows only.
    let mut out = report(
        &target.shown(),
        criteria,
        first,
        &*db,
        recovered,
        timings,
        settings,
    );
    // The report lists the jobs this run acted on, as the survey under the lock saw them (a job
    // that only became stale during the run is left for the next one).
    out.stale_jobs = survey
        .stale
        .into_iter()
        .filter(|j| changed_ids.contains(&j.id))
        .collect();
    out.snapshot_id = Some(manifest.id);
    out.journal_id = Some(journal.id.clone());
    out.journal_file = Some(Journal::path_in(&store, &journal.id).display().to_string());
    out.changed = journal.changes.iter().map(applied_of).collect();
    out.skipped = journal.skipped.clone();
    out.timings.total_ms = ms(started);
    if let Err(e) = marked {
        let details = serde_json::to_value(&out).ok();
        return Err(committed_but_unmarked(
            Committed::Apply,
            &journal,
            &e,
            details,
        ));
    }
    Ok((out, Exit::Success))
}

/// Removes a store that holds nothing but its empty directories and lock file (best effort).
fn remove_empty_store(store: &Store) {
    let removed = std::fs::remove_dir(store.snapshots_dir())
        .and_then(|_| std::fs::remove_dir(store.journals_dir()));
    if removed.is_ok() {
        let _ = std::fs::remove_file(store.lock_path());
        let _ = std::fs::remove_dir(store.dir());
    }
}

/// The transaction of `apply`: `BEGIN IMMEDIATE`, the survey again under the write lock, the
/// planned journal (fsynced) of exactly the changes still due, the updates, `COMMIT`.
#[allow(clippy::too_many_arguments)]
fn transaction(
    db: &dyn Database,
    schema: &Schema,
    criteria: &Criteria,
    settings: &Settings,
    max_changes: usize,
    first: &Survey,
    (store, manifest): (&Store, &Manifest),
    timings: &mut Timings,
    written: &mut Written,
) -> Result<(Journal, Survey)> {
    // Write-ahead, outside the app's wait: the journal of the first survey's plan is on disk
    // before the write lock is taken. Under the lock it is written again only when the plan
    // changed meanwhile, so it is always exactly what commits (design.md §3.4).
    let tj = Instant::now();
    let (id, created_at) = store::new_id();
    let mut journal = Journal::planned(
        id.clone(),
        created_at,
        Kind::Apply,
        None,
        manifest.id.clone(),
        manifest.image_sha256.clone(),
        &db.identity(),
        Some(criteria.clone()),
        first.stale.iter().map(change_of).collect(),
    );
    written.journal = Some(id);
    journal.save(store)?;
    timings.journal_ms = ms(tj);
    failpoint::hit("pause-before-write-lock");

    // Nobody else can commit once the lock is taken: the job rows this survey sees are what
    // the updates meet. It reads only the planned rows, and on SQLite reads their result and
    // progress rows ahead of the lock, which keeps the app's wait short (design.md §3.4).
    let planned: Vec<i64> = first.stale.iter().map(|j| j.id).collect();
    let (tx, survey) = db.begin_write_surveyed(schema, criteria, settings.tz, &planned)?;
    let (changes, skipped) = replan(tx.as_ref(), first, &survey)?;
    check_max_changes(changes.len(), max_changes)?;
    if changes != journal.changes || !skipped.is_empty() {
        let tj = Instant::now();
        journal.replan(changes, skipped);
        journal.save(store)?;
        timings.journal_ms += ms(tj);
    }
    failpoint::hit("after-planned");

    let (changed, lost) = tx.set(&journal.changes)?;
    // The outcome record commits with the changes, or not at all (design.md §4.2).
    journal::record_outcome(tx.as_ref(), &journal)?;
    failpoint::hit("in-transaction");
    let began = tx.began();
    commit(tx, written)?;
    timings.transaction_ms = ms(began);
    if !lost.is_empty() {
        // Cannot happen while the write lock is held; if it does, the journal must still say
        // exactly what changed.
        let mut skipped = std::mem::take(&mut journal.skipped);
        skipped.extend(lost);
        journal.commit(changed, skipped);
    }
    Ok((journal, survey))
}

/// Compares the first survey's plan with the survey under the write lock. A job is changed only
/// when it is still stale with the status it was seen with (its new status is decided again from
/// the fresh counts); the others are skipped, with the reason.
fn replan(tx: &dyn WriteTx, first: &Survey, now: &Survey) -> Result<(Vec<Change>, Vec<Skipped>)> {
    let fresh: std::collections::HashMap<i64, &StaleJob> =
        now.stale.iter().map(|j| (j.id, j)).collect();
    let (mut changes, mut skipped) = (Vec::new(), Vec::new());
    for seen in &first.stale {
        if let Some(job) = fresh.get(&seen.id).filter(|j| j.status == seen.status) {
            changes.push(change_of(job));
            continue;
        }
        let reason = match tx.current_value(seen.id)? {
            None => ReasonCode::DeletedSinceCheck,
            Some(v) if v.as_deref() != Some(seen.status.as_str()) => {
                ReasonCode::StatusChangedSinceCheck { now: v }
            }
            Some(_) => match now.age_unknown.iter().find(|u| u.id == seen.id) {
                Some(u) => ReasonCode::AgeUnknownSinceCheck {
                    column: u.column.clone(),
                    value: u.value.clone(),
                },
                None => ReasonCode::ActiveSinceCheck,
            },
        };
        skipped.push(Skipped {
            pk: seen.id,
            job_id: seen.job_id.clone(),
            reason: reason.into(),
        });
    }
    Ok((changes, skipped))
}

fn check_max_changes(n: usize, max: usize) -> std::result::Result<(), CommandError> {
    if n > max {
        return Err(CommandError::TooManyChanges { n, max });
    }
    Ok(())
}

fn change_of(job: &StaleJob) -> Change {
    Change {
        table: journal::TABLE.to_string(),
        pk: job.id,
        job_id: job.job_id.clone(),
        column: journal::COLUMN.to_string(),
        before: Some(job.status.clone()),
        after: Some(job.planned_status.status().to_string()),
        reason: plan_reason(job).into(),
    }
}

fn applied_of(change: &Change) -> Applied {
    Applied {
        id: change.pk,
        job_id: change.job_id.clone(),
        before: change.before.clone(),
        after: change.after.clone(),
        reason: change.reason.clone(),
    }
}

fn report(
    database: &str,
    criteria: Criteria,
    survey: Survey,
    db: &dyn Database,
    recovered: Vec<Resolved>,
    timings: Timings,
    settings: &Settings,
) -> ApplyReport {
    ApplyReport {
        database: database.to_string(),
        schema: survey.variant,
        criteria,
        rolled_back_hot_journal: db.rolled_back_hot_journal(),
        stats: survey.stats,
        stale_jobs: survey.stale,
        age_unknown: survey.age_unknown,
        unknown_job_ids: survey.unknown_job_ids,
        recovered,
        snapshot_id: None,
        journal_id: None,
        changed: Vec::new(),
        skipped: Vec::new(),
        timings,
        verbose: settings.verbose,
        journal_file: None,
    }
}
