//! `apply`: cleans the stale jobs `check` reports, behind a snapshot and a write-ahead journal.
//!
//! Order (SPEC §3): open read-write and `quick_check` (a read-only or damaged file is refused
//! before the store is created, so nothing is left behind); a first survey refuses early what
//! `--max-changes` forbids and stops when nothing is stale; then the store lock, recovery of
//! planned journals, the authoritative survey under the lock, the `pre-apply` snapshot, the
//! journal as `planned` (fsynced), one `BEGIN IMMEDIATE` transaction of compare-and-set updates,
//! and the journal marked `committed` with what really changed.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::cli::ApplyArgs;
use crate::cmd::check::criteria;
use crate::db::{sqlite_error, Database};
use crate::error::{Exit, Failure};
use crate::failpoint;
use crate::jobs::{self, Criteria, StaleJob, Survey};
use crate::journal::{self, Change, Journal, Kind, Resolved, Skipped};
use crate::report::plan_reason;
use crate::settings::Settings;
use crate::snapshot::{self, Reason};
use crate::store::{self, Store};
use crate::t;

/// How long each step took, in milliseconds (`--json`, and `-v` in the text report).
#[derive(Debug, Default, Serialize)]
pub struct Timings {
    pub survey_ms: f64,
    pub snapshot_ms: f64,
    pub journal_ms: f64,
    /// From `BEGIN IMMEDIATE` to the end of `COMMIT`: the only time the app's writers wait.
    pub transaction_ms: f64,
    pub total_ms: f64,
}

/// One row `apply` changed (or would have, for a skipped one: see `skipped`).
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub id: i64,
    pub job_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct ApplyReport {
    pub command: &'static str,
    pub database: String,
    pub schema: crate::db::Variant,
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
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub fn run(settings: &Settings, args: &ApplyArgs) -> Result<(ApplyReport, Exit)> {
    let started = Instant::now();
    let path = settings.db_path()?;
    let db = Database::open_read_write(&path, settings.busy_timeout)?;
    db.quick_check()?;
    let schema = db.schema()?;
    let criteria = criteria(&args.select, settings);

    // Without the lock, only to refuse early: nothing is created when nothing will be done.
    let early = jobs::survey(&db, &schema, &criteria, settings.tz)?;
    check_max_changes(&early, args.max_changes)?;
    let mut timings = Timings::default();
    let store_dir = settings.store_dir()?;
    // With nothing to do and no store, nothing is created. An existing store is still opened:
    // this run is then the one that resolves a journal a crash left planned.
    if early.stale.is_empty() && Store::existing(&store_dir).is_none() {
        timings.total_ms = ms(started);
        return Ok((
            report(&path, criteria, early, &db, Vec::new(), timings, settings),
            Exit::Success,
        ));
    }

    let store = Store::open(&store_dir)?;
    let _lock = store.lock(settings.wait)?;
    let recovered = journal::resolve_planned(&store, &path, settings)?;

    let t = Instant::now();
    let survey = jobs::survey(&db, &schema, &criteria, settings.tz)?;
    timings.survey_ms = ms(t);
    check_max_changes(&survey, args.max_changes)?;
    if survey.stale.is_empty() {
        timings.total_ms = ms(started);
        return Ok((
            report(&path, criteria, survey, &db, recovered, timings, settings),
            Exit::Success,
        ));
    }

    let t = Instant::now();
    let manifest = snapshot::create(&path, &store, Reason::PreApply, None, settings)?;
    timings.snapshot_ms = ms(t);
    failpoint::hit("after-snapshot");

    let t = Instant::now();
    let changes: Vec<Change> = survey.stale.iter().map(change_of).collect();
    let (id, created_at) = store::new_id();
    let mut journal = Journal::planned(
        id,
        created_at,
        Kind::Apply,
        None,
        manifest.id.clone(),
        manifest.image_sha256.clone(),
        &path,
        Some(criteria.clone()),
        changes,
    );
    journal.save(&store)?;
    timings.journal_ms = ms(t);
    failpoint::hit("after-planned");
    failpoint::hit("pause-before-transaction");

    let t = Instant::now();
    let (changed, skipped) = compare_and_set(&db, &journal.changes)?;
    timings.transaction_ms = ms(t);
    failpoint::hit("after-commit");

    let t = Instant::now();
    journal.commit(changed, skipped);
    journal.save(&store)?;
    timings.journal_ms += ms(t);

    let mut out = report(&path, criteria, survey, &db, recovered, timings, settings);
    out.snapshot_id = Some(manifest.id);
    out.journal_id = Some(journal.id.clone());
    out.changed = journal.changes.iter().map(applied_of).collect();
    out.skipped = journal.skipped;
    out.timings.total_ms = ms(started);
    Ok((out, Exit::Success))
}

fn check_max_changes(survey: &Survey, max: usize) -> Result<()> {
    let n = survey.stale.len();
    if n > max {
        return Err(Failure::new(
            Exit::TooManyChanges,
            t!(
                "{n}개 작업을 바꾸게 되어 --max-changes {max} 을(를) 넘습니다. 아무것도 바꾸지 않았습니다",
                "{n} jobs would change, more than --max-changes {max}; nothing was changed"
            ),
        )
        .hint(t!(
            "check 로 대상을 확인하고 시계와 --db-timezone 을 점검한 뒤, 맞다면 --max-changes {n} 으로 다시 실행하세요",
            "review them with check (and the clock and --db-timezone); if right, rerun with --max-changes {n}"
        ))
        .into());
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
        reason: plan_reason(job),
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

/// One `BEGIN IMMEDIATE` transaction: each row gets `after` only if it still holds `before`.
/// Returns the changes made and the rows passed over (changed by someone else meanwhile).
pub fn compare_and_set(db: &Database, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)> {
    let sql_err = |e| sqlite_error(&db.path, e);
    // A cache large enough for every touched page keeps SQLite from spilling dirty pages to the
    // file mid-transaction (which would take the exclusive lock early and block the app's
    // readers too); rows in key order touch each page once.
    db.conn
        .execute_batch("PRAGMA cache_size = -131072")
        .map_err(sql_err)?;
    let mut ordered: Vec<&Change> = changes.iter().collect();
    ordered.sort_by_key(|c| c.pk);
    // IMMEDIATE takes the write lock now (waiting up to the busy timeout for the app), so no
    // statement below can fail half-way for a lock.
    let tx =
        rusqlite::Transaction::new_unchecked(&db.conn, rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err)?;
    let (mut changed, mut skipped) = (Vec::new(), Vec::new());
    {
        let mut update = tx
            .prepare("UPDATE analysis_jobs SET status = ?1 WHERE id = ?2 AND status IS ?3")
            .map_err(sql_err)?;
        for change in ordered {
            let n = update
                .execute(rusqlite::params![change.after, change.pk, change.before])
                .map_err(sql_err)?;
            if n == 1 {
                changed.push(change.clone());
            } else {
                let now = journal::current_value(db, change.pk)?;
                skipped.push(Skipped {
                    pk: change.pk,
                    job_id: change.job_id.clone(),
                    reason: match now {
                        Some(v) => t!(
                            "그 사이 상태가 {}(으)로 바뀜 (다른 프로그램이 변경)",
                            "its status became {} meanwhile (changed by another program)",
                            journal::shown_value(&v)
                        ),
                        None => t!("그 사이 행이 삭제됨", "the row was deleted meanwhile"),
                    },
                });
            }
        }
    }
    failpoint::hit("in-transaction");
    tx.commit().map_err(sql_err)?;
    Ok((changed, skipped))
}

fn report(
    path: &std::path::Path,
    criteria: Criteria,
    survey: Survey,
    db: &Database,
    recovered: Vec<Resolved>,
    timings: Timings,
    settings: &Settings,
) -> ApplyReport {
    ApplyReport {
        command: "apply",
        database: path.display().to_string(),
        schema: survey.variant,
        criteria,
        rolled_back_hot_journal: db.rolled_back_hot_journal,
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
    }
}
