//! The write transaction of `apply` and `restore --journal` on PostgreSQL (design.md §8.3):
//! `READ COMMITTED`, `lock_timeout` = `--busy-timeout` (set on connect), the re-survey with
//! the candidate job rows locked `FOR UPDATE` (a job the app finishes while we wait for its row
//! lock is seen finished and left alone), compare-and-set updates in key order, the outcome
//! record (design.md §4.2) in the same transaction, `COMMIT`.

use std::ops::DerefMut;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::survey::{self, Rows};
use super::{query_error, PgDatabase};
use crate::core::jobs::{Criteria, Survey};
use crate::core::reason::ReasonCode;
use crate::core::schema::Schema;
use crate::core::time::DbTimezone;
use crate::journal::{Change, Skipped};

/// jobsweep's own table in the app's database (design.md §4.2), as on SQLite.
pub const OUTCOMES_TABLE: &str = "jobsweep_outcomes";

/// How `commit` failed.
#[derive(Debug)]
pub enum CommitFailure {
    /// The server refused the commit and rolled back: nothing was written.
    RolledBack(anyhow::Error),
    /// The connection broke during `COMMIT`: the outcome is unknown until the outcome record
    /// is looked up.
    Uncertain(anyhow::Error),
}

/// An open transaction; dropped without `commit`, it rolls back.
pub struct PgWrite<D: DerefMut<Target = PgDatabase>> {
    db: D,
    open: bool,
}

impl<D: DerefMut<Target = PgDatabase>> PgWrite<D> {
    pub fn begin(mut db: D) -> Result<PgWrite<D>> {
        db.client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .map_err(|e| query_error(&db.target, &e))?;
        Ok(PgWrite { db, open: true })
    }

    fn err(&self, e: postgres::Error) -> anyhow::Error {
        query_error(&self.db.target, &e)
    }

    /// The survey inside this transaction, its candidate rows locked until commit.
    pub fn survey(
        &mut self,
        schema: &Schema,
        criteria: &Criteria,
        tz: DbTimezone,
        rows: &[i64],
    ) -> Result<Survey> {
        let db = &mut *self.db;
        survey::survey(
            &mut db.client,
            &db.target,
            schema,
            criteria,
            tz,
            Rows::LockForUpdate(rows),
        )
    }

    /// The journaled column (`analysis_jobs.status`) of row `pk`; `None` when the row is gone.
    pub fn current_value(&mut self, pk: i64) -> Result<Option<Option<String>>> {
        current_value(&mut self.db, pk)
    }

    /// Locks the job rows `pks` until commit (revert reads them after).
    pub fn lock_rows(&mut self, pks: &[i64]) -> Result<()> {
        let result = self.db.client.execute(
            "SELECT id FROM analysis_jobs WHERE id::int8 = ANY($1) ORDER BY id FOR UPDATE",
            &[&pks],
        );
        result.map(drop).map_err(|e| self.err(e))
    }

    /// Each row gets `after` only if it still holds `before`, in key order (the order every
    /// jobsweep locks rows in, so two never dead-lock). Returns what changed and what was passed
    /// over because someone else changed or deleted it.
    pub fn set(&mut self, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)> {
        let mut ordered: Vec<&Change> = changes.iter().collect();
        ordered.sort_by_key(|c| c.pk);
        let (mut changed, mut skipped) = (Vec::new(), Vec::new());
        let update = self
            .db
            .client
            .prepare(
                "UPDATE analysis_jobs SET status = $1 WHERE id::int8 = $2 \
                 AND status::text IS NOT DISTINCT FROM $3",
            )
            .map_err(|e| self.err(e))?;
        for change in ordered {
            let n = self
                .db
                .client
                .execute(&update, &[&change.after, &change.pk, &change.before])
                .map_err(|e| self.err(e))?;
            if n == 1 {
                changed.push(change.clone());
            } else {
                skipped.push(Skipped {
                    pk: change.pk,
                    job_id: change.job_id.clone(),
                    reason: match self.current_value(change.pk)? {
                        Some(now) => ReasonCode::StatusChangedMeanwhile { now }.into(),
                        None => ReasonCode::DeletedMeanwhile.into(),
                    },
                });
            }
        }
        Ok((changed, skipped))
    }

    /// Inserts the journal's id into `jobsweep_outcomes` (created on first use) inside this
    /// transaction: the record exists exactly when the changes do.
    pub fn record_outcome(
        &mut self,
        journal_id: &str,
        kind: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let at = at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let result = self
            .db
            .client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {OUTCOMES_TABLE} \
                 (journal_id TEXT PRIMARY KEY, kind TEXT, committed_at TEXT)"
            ))
            .and_then(|()| {
                self.db.client.execute(
                    &format!(
                        "INSERT INTO {OUTCOMES_TABLE} (journal_id, kind, committed_at) VALUES ($1, $2, $3)"
                    ),
                    &[&journal_id, &kind, &at],
                )
            });
        result.map(drop).map_err(|e| self.err(e))
    }

    pub fn commit(mut self) -> std::result::Result<(), CommitFailure> {
        self.open = false;
        match self.db.client.batch_execute("COMMIT") {
            Ok(()) => Ok(()),
            // The server answered: it rolled the transaction back (a deferred check, a
            // serialization failure). No answer: the outcome is unknown.
            Err(e) if e.as_db_error().is_some() => Err(CommitFailure::RolledBack(self.err(e))),
            Err(e) => Err(CommitFailure::Uncertain(self.err(e))),
        }
    }
}

impl<D: DerefMut<Target = PgDatabase>> Drop for PgWrite<D> {
    fn drop(&mut self) {
        if self.open && !self.db.client.is_closed() {
            let _ = self.db.client.batch_execute("ROLLBACK");
        }
    }
}

/// `analysis_jobs.status` of row `pk` now; `None` when the row is gone.
pub fn current_value(db: &mut PgDatabase, pk: i64) -> Result<Option<Option<String>>> {
    let rows = db
        .client
        .query(
            "SELECT status::text FROM analysis_jobs WHERE id::int8 = $1",
            &[&pk],
        )
        .map_err(|e| query_error(&db.target, &e))?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// The outcome record of journal `id`: `None` when its transaction never committed (or the
/// table does not exist yet), else the `committed_at` it recorded (when readable).
pub fn recorded_outcome(db: &mut PgDatabase, id: &str) -> Result<Option<Option<DateTime<Utc>>>> {
    let target = db.target.clone();
    let exists: bool = db
        .client
        .query_one(
            "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) IS NOT NULL",
            &[&db.schema, &OUTCOMES_TABLE],
        )
        .map_err(|e| query_error(&target, &e))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let rows = db
        .client
        .query(
            &format!("SELECT committed_at::text FROM {OUTCOMES_TABLE} WHERE journal_id = $1"),
            &[&id],
        )
        .map_err(|e| query_error(&target, &e))?;
    Ok(rows.first().map(|r| {
        r.get::<_, Option<String>>(0).and_then(|t| {
            DateTime::parse_from_rfc3339(&t)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
    }))
}
