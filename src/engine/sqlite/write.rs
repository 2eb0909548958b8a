//! The write side on SQLite: the compare-and-set transaction (`BEGIN IMMEDIATE` ... `COMMIT`),
//! jobsweep's outcome record inside it (design.md §4.2), and the reads crash recovery and revert
//! make (the journaled column now, the outcome record).

use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;

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
    pub(super) began: std::time::Instant,
}

impl<'a> WriteTx<'a> {
    /// Takes the write lock now (waiting up to the busy timeout for the app), so no statement
    /// after it can fail half-way for a lock.
    pub fn begin(db: &'a Database) -> Result<WriteTx<'a>> {
        let sql_err = |e| sqlite_error(&db.path, e);
        // Dirty pages stay in memory until COMMIT (`cache_spill` off): a spill mid-transaction
        // would take the exclusive lock early and block the app's readers too. The cache for
        // pages only read keeps its default size: a cache that grew for each of the tens of
        // thousands of pages a survey under the lock read made each one a fresh, page-faulted
        // allocation (a fifth of the transaction's time on 1 GiB).
        db.conn
            .execute_batch("PRAGMA cache_spill = OFF")
            .map_err(sql_err)?;
        let began = std::time::Instant::now();
        db.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
        Ok(WriteTx {
            db,
            open: true,
            began,
        })
    }

    /// Each row gets `after` only if it still holds `before`. Returns the changes made and the
    /// rows passed over (changed by someone else). One statement per pair of old and new
    /// status, over all its rows at once (in key order): thousands of single-row statements
    /// were a sixth of the app's wait.
    pub fn set(&self, changes: &[Change]) -> Result<(Vec<Change>, Vec<Skipped>)> {
        let db = self.db;
        let sql_err = |e| sqlite_error(&db.path, e);
        let mut ordered: Vec<&Change> = changes.iter().collect();
        ordered.sort_by_key(|c| c.pk);
        debug_assert!(ordered.windows(2).all(|w| w[0].pk != w[1].pk));
        let mut pairs: BTreeMap<(Option<&str>, Option<&str>), Vec<Value>> = BTreeMap::new();
        for change in &ordered {
            pairs
                .entry((change.before.as_deref(), change.after.as_deref()))
                .or_default()
                .push(Value::Integer(change.pk));
        }
        rusqlite::vtab::array::load_module(&db.conn).map_err(sql_err)?;
        let mut update = db
            .conn
            .prepare_cached(
                "UPDATE analysis_jobs SET status = ?2 WHERE id IN rarray(?1) AND status IS ?3 \
                 RETURNING id",
            )
            .map_err(sql_err)?;
        let mut updated = HashSet::new();
        for ((before, after), pks) in pairs {
            let mut rows = update
                .query(rusqlite::params![Rc::new(pks), after, before])
                .map_err(sql_err)?;
            while let Some(row) = rows.next().map_err(sql_err)? {
                updated.insert(row.get::<_, i64>(0).map_err(sql_err)?);
            }
        }
        let (mut changed, mut skipped) = (Vec::new(), Vec::new());
        for change in ordered {
            if updated.contains(&change.pk) {
                changed.push(change.clone());
                continue;
            }
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
