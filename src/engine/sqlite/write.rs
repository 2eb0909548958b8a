//! The write side on SQLite: the compare-and-set transaction (`BEGIN IMMEDIATE` ... `COMMIT`),
//! jobsweep's outcome record inside it (design.md §4.2), and the reads crash recovery and revert
//! make (the journaled column now, the outcome record).

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{sqlite_error, value_text, Database};
use crate::core::reason::ReasonCode;
use crate::engine::CommitError;
use crate::journal::{Change, Skipped, OUTCOMES_TABLE};

/// The value of the journaled column (`analysis_jobs.status`) in row `pk` now; `None` when the
/// row is gone.
pub fn current_value(db: &Database, pk: i64) -> Result<Option<Option<String>>> {
    let mut stmt = db
        .conn
        .prepare_cached("SELECT status FROM analysis_jobs WHERE id = ?1")
        .map_err(|e| sqlite_error(&db.path, e))?;
    let mut rows = stmt.query([pk]).map_err(|e| sqlite_error(&db.path, e))?;
    match rows.next().map_err(|e| sqlite_error(&db.path, e))? {
        None => Ok(None),
        Some(row) => Ok(Some(value_text(
            row.get_ref(0).map_err(|e| sqlite_error(&db.path, e))?,
        ))),
    }
}

/// The outcome record of journal `id`: `None` when its transaction never committed (or the
/// table does not exist yet), else the `committed_at` it recorded (when readable).
pub fn recorded_outcome(db: &Database, id: &str) -> Result<Option<Option<DateTime<Utc>>>> {
    let sql_err = |e| sqlite_error(&db.path, e);
    let exists: bool = db
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [OUTCOMES_TABLE],
            |r| r.get::<_, i64>(0),
        )
        .map_err(sql_err)?
        > 0;
    if !exists {
        return Ok(None);
    }
    let mut stmt = db
        .conn
        .prepare(&format!(
            "SELECT committed_at FROM {OUTCOMES_TABLE} WHERE journal_id = ?1"
        ))
        .map_err(sql_err)?;
    let mut rows = stmt.query([id]).map_err(sql_err)?;
    match rows.next().map_err(sql_err)? {
        None => Ok(None),
        Some(row) => {
            let at: Option<String> = row.get(0).ok();
            Ok(Some(at.and_then(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            })))
        }
    }
}

/// A `BEGIN IMMEDIATE` transaction on the app's database. Dropped without `commit` (an error
/// on the way), it rolls back.
pub struct WriteTx<'a> {
    pub(super) db: &'a Database,
    open: bool,
}

impl<'a> WriteTx<'a> {
    /// Takes the write lock now (waiting up to the busy timeout for the app), so no statement
    /// after it can fail half-way for a lock.
    pub fn begin(db: &'a Database) -> Result<WriteTx<'a>> {
        let sql_err = |e| sqlite_error(&db.path, e);
        // A cache large enough for every touched page keeps SQLite from spilling dirty pages to
        // the file mid-transaction (which would take the exclusive lock early and block the
        // app's readers too); rows in key order touch each page once.
        db.conn
            .execute_batch("PRAGMA cache_size = -131072")
            .map_err(sql_err)?;
        db.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
        Ok(WriteTx { db, open: true })
    }

    /// Each row gets `after` only if it still holds `before`. Returns the changes made and the
    /// rows passed over (changed by someone else).
    pub fn set(&self, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)> {
        let db = self.db;
        let sql_err = |e| sqlite_error(&db.path, e);
        let mut ordered: Vec<&Change> = changes.iter().collect();
        ordered.sort_by_key(|c| c.pk);
        let (mut changed, mut skipped) = (Vec::new(), Vec::new());
        let mut update = db
            .conn
            .prepare("UPDATE analysis_jobs SET status = ?1 WHERE id = ?2 AND status IS ?3")
            .map_err(sql_err)?;
        for change in ordered {
            let n = update
                .execute(rusqlite::params![change.after, change.pk, change.before])
                .map_err(sql_err)?;
            if n == 1 {
                changed.push(change.clone());
            } else {
                let now = current_value(db, change.pk)?;
                skipped.push(Skipped {
                    pk: change.pk,
                    job_id: change.job_id.clone(),
                    reason: match now {
                        Some(now) => ReasonCode::StatusChangedMeanwhile { now }.into(),
                        None => ReasonCode::DeletedMeanwhile.into(),
                    },
                });
            }
        }
        Ok((changed, skipped))
    }

    /// Creates `jobsweep_outcomes` on first use and inserts the journal's id, inside the open
    /// transaction: the record exists exactly when the changes do (design.md §4.2).
    pub fn record_outcome(&self, journal_id: &str, kind: &str, at: DateTime<Utc>) -> Result<()> {
        let db = self.db;
        let sql_err = |e| sqlite_error(&db.path, e);
        db.conn
            .execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {OUTCOMES_TABLE} \
                 (journal_id TEXT PRIMARY KEY, kind TEXT, committed_at TEXT)"
            ))
            .map_err(sql_err)?;
        let at = at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        db.conn
            .execute(
                &format!(
                    "INSERT INTO {OUTCOMES_TABLE} (journal_id, kind, committed_at) VALUES (?1, ?2, ?3)"
                ),
                rusqlite::params![journal_id, kind, at],
            )
            .map_err(sql_err)?;
        Ok(())
    }

    /// `COMMIT`. When it fails for a lock (an app reader past the busy timeout) the transaction
    /// is still open and is rolled back here: nothing was written. Any other failure of COMMIT
    /// leaves its outcome to crash recovery.
    pub fn commit(mut self) -> std::result::Result<(), CommitError> {
        match self.db.conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.open = false;
                Ok(())
            }
            Err(e) => {
                let locked = matches!(
                    &e,
                    rusqlite::Error::SqliteFailure(f, _)
                        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                );
                let err = sqlite_error(&self.db.path, e);
                Err(if locked {
                    CommitError::RolledBack(err)
                } else {
                    CommitError::Uncertain(err)
                })
            }
        }
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.db.conn.is_autocommit() {
            let _ = self.db.conn.execute_batch("ROLLBACK");
        }
    }
}
