//! The survey on SQLite: one pass, one query over `analysis_jobs`, then one query each over the
//! result and progress rows of the pending/processing jobs that are already past the threshold
//! by `created_at`, passed as one array (for `apply`'s plan, in batches; see [`survey`]). SQLite evaluates the `IN` on `job_id` before it reads
//! the rest of a row, so on the legacy schema (no index on `analysis_results.job_id`) the scan
//! skips the transcripts of every other job. The rules that classify the rows are the core's
//! (`core::jobs::Tally`).

use std::collections::HashMap;
use std::rc::Rc;

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use super::{sqlite_error, value_text, Database};
use crate::core::jobs::{Activity, CandidateRow, Criteria, StatusValue, Survey, Tally};
use crate::core::schema::{Schema, Variant};
use crate::core::time::{DbTimezone, Stamp};
use crate::engine::Reading;
use crate::failpoint;

/// A text value as a borrowed `&str` (no allocation); `None` for NULL, non-text or invalid UTF-8.
fn borrowed<'a>(value: ValueRef<'a>) -> Option<&'a str> {
    match value {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

/// A timestamp column's value: text in the app's forms, or Unix seconds.
pub fn stamp(value: ValueRef<'_>, tz: DbTimezone) -> Stamp {
    match value {
        ValueRef::Null => Stamp::Missing,
        ValueRef::Integer(i) => Stamp::from_unix(i as f64, i.to_string()),
        ValueRef::Real(r) => Stamp::from_unix(r, r.to_string()),
        ValueRef::Text(bytes) => Stamp::from_text(&String::from_utf8_lossy(bytes), tz),
        ValueRef::Blob(_) => Stamp::Unreadable("<blob>".into()),
    }
}

/// Candidates whose result and progress rows one short read of a plan takes (about 10 result
/// rows each: a few tens of milliseconds on 1 GiB).
const PLAN_BATCH: usize = 256;

/// Reads the jobs (in one read transaction, so all queries see the same moment) and classifies
/// them: every job, or only the rows `only` (`apply`'s plan, under its write lock). Called inside
/// a transaction the caller already holds (`apply`'s `BEGIN IMMEDIATE`), it reads in that one.
/// For a plan (`Reading::Plan`), the candidates' result and progress rows are read
/// [`PLAN_BATCH`] jobs per read transaction when both tables are indexed by `job_id`: in
/// rollback-journal mode a reader keeps the app from committing, and the whole survey of 1 GiB
/// held it off for half a second.
pub fn survey(
    db: &Database,
    schema: &Schema,
    criteria: &Criteria,
    tz: DbTimezone,
    only: Option<&[i64]>,
    reading: Reading,
) -> anyhow::Result<Survey> {
    let sql_err = |e| sqlite_error(&db.path, e);
    let mut own = if db.conn.is_autocommit() {
        Some(db.conn.unchecked_transaction().map_err(sql_err)?)
    } else {
        None
    };
    let tx: &Connection = &db.conn;
    // The first read takes the read lock; from here on every query sees this moment.
    tx.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(sql_err)?;
    rusqlite::vtab::array::load_module(tx).map_err(sql_err)?;
    let col = |name: &str| {
        if schema.job_has(name) {
            name.to_string()
        } else {
            "NULL".to_string()
        }
    };
    let file_count = if schema.job_has("file_ids") {
        "CASE WHEN json_valid(file_ids) AND json_type(file_ids) = 'array' THEN json_array_length(file_ids) END"
    } else {
        "NULL"
    };
    // Columns only candidates need are computed for candidates only: most rows are finished.
    let candidate = "status IN ('pending', 'processing')";
    let sql = format!(
        "SELECT id, job_id, {}, status, created_at, CASE WHEN {candidate} THEN {} END, \
         CASE WHEN {candidate} THEN {} END, CASE WHEN {candidate} THEN {file_count} END FROM analysis_jobs{}",
        col("emp_id"),
        col("folder_path"),
        col("started_at"),
        if only.is_some() { " WHERE id IN rarray(?1)" } else { "" },
    );
    let mut tally = Tally::new(criteria);
    {
        let mut stmt = tx.prepare(&sql).map_err(sql_err)?;
        let mut rows = match only {
            Some(pks) => {
                let pks: Vec<Value> = pks.iter().map(|&pk| Value::Integer(pk)).collect();
                stmt.query([Rc::new(pks)])
            }
            None => stmt.query([]),
        }
        .map_err(sql_err)?;
        while let Some(row) = rows.next().map_err(sql_err)? {
            // Borrowed views: no allocation for the many rows that are only counted.
            let job_id = borrowed(row.get_ref(1).map_err(sql_err)?);
            let emp_id = borrowed(row.get_ref(2).map_err(sql_err)?);
            let status_ref = row.get_ref(3).map_err(sql_err)?;
            let status = match (borrowed(status_ref), status_ref) {
                (Some(s), _) => StatusValue::Text(s),
                (None, ValueRef::Null) => StatusValue::Null,
                (None, other) => StatusValue::Other(value_text(other).unwrap_or_default()),
            };
            let created = stamp(row.get_ref(4).map_err(sql_err)?, tz);
            tally.job(job_id, emp_id, status, created, || {
                Ok::<_, anyhow::Error>(CandidateRow {
                    id: row.get(0).map_err(sql_err)?,
                    folder_path: value_text(row.get_ref(5).map_err(sql_err)?),
                    started: stamp(row.get_ref(6).map_err(sql_err)?, tz),
                    file_count: row.get(7).map_err(sql_err)?,
                })
            })?;
        }
    }

    let old_enough: Vec<Value> = tally.old_enough().into_iter().map(Value::Text).collect();
    // Batches only where a batch is a few index lookups: without an index on `job_id` (the
    // legacy schema's results) every batch would scan the whole table, so one read does.
    let lookups = || -> rusqlite::Result<bool> {
        Ok(indexed_by_job(tx, "analysis_results")?
            && (!schema.progress_has("job_id") || indexed_by_job(tx, "analysis_progress")?))
    };
    let batch = match (&own, reading) {
        (Some(_), Reading::Plan) if lookups().map_err(sql_err)? => PLAN_BATCH,
        _ => old_enough.len().max(1),
    };
    if batch < old_enough.len() {
        if let Some(jobs_read) = own.take() {
            jobs_read.finish().map_err(sql_err)?;
        }
        failpoint::hit("pause-after-survey-jobs");
    }
    let results_sql = results_query(schema);
    // Progress rows: current schema has `timestamp` per step, legacy one `created_at` per job.
    let progress = ["timestamp", "updated_at", "created_at"]
        .into_iter()
        .find(|c| schema.progress_has(c))
        .filter(|_| schema.progress_has("job_id"))
        .map(|column| {
            (
                format!(
                    "SELECT job_id, {column} FROM analysis_progress WHERE job_id IN rarray(?1)"
                ),
                format!("analysis_progress.{column}"),
            )
        });
    let batches = old_enough.len().div_ceil(batch);
    for (n, jobs) in old_enough.chunks(batch).enumerate() {
        let short = if own.is_none() && tx.is_autocommit() {
            Some(tx.unchecked_transaction().map_err(sql_err)?)
        } else {
            None
        };
        let jobs = Rc::new(jobs.to_vec());
        let activity = scan_results(tx, &results_sql, &jobs, tz).map_err(sql_err)?;
        for (job_id, activity) in activity {
            tally.results(&job_id, activity);
        }
        if let Some((sql, label)) = &progress {
            let mut stmt = tx.prepare_cached(sql).map_err(sql_err)?;
            let mut rows = stmt.query([&jobs]).map_err(sql_err)?;
            while let Some(row) = rows.next().map_err(sql_err)? {
                let Some(job_id) = value_text(row.get_ref(0).map_err(sql_err)?) else {
                    continue;
                };
                tally.progress(&job_id, label, stamp(row.get_ref(1).map_err(sql_err)?, tz));
            }
        }
        if let Some(short) = short {
            short.finish().map_err(sql_err)?;
            if n + 1 < batches {
                failpoint::hit("pause-between-survey-batches");
            }
        }
    }
    if let Some(own) = own {
        own.finish().map_err(sql_err)?;
    }
    Ok(tally.finish(schema.variant))
}

/// Whether `table` has an index that starts with `job_id` and serves `job_id IN (...)`: not
/// partial, in byte order (under another collation one job's rows could also match another's
/// id in another batch).
fn indexed_by_job(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1) AS l, pragma_index_xinfo(l.name) AS i \
         WHERE l.partial = 0 AND i.seqno = 0 AND i.name = 'job_id' AND i.coll = 'BINARY')",
        [table],
        |r| r.get(0),
    )
}

/// The query over the result rows of the given jobs (`?1`, an array of job_id). With an index on
/// `job_id` (current schema) SQLite looks each job up; without one (legacy) it scans the table
/// but checks `job_id` before reading the rest of a row, skipping other jobs' transcripts.
fn results_query(schema: &Schema) -> String {
    let (done, failed, updated) = match schema.variant {
        Variant::Current => (
            "status = 'completed'",
            "status = 'failed'",
            if schema.result_has("updated_at") {
                "updated_at"
            } else {
                "NULL"
            },
        ),
        Variant::Legacy => ("stt_text IS NOT NULL", "0", "NULL"),
    };
    let created = if schema.result_has("created_at") {
        "created_at"
    } else {
        "NULL"
    };
    format!(
        "SELECT job_id, {done}, {failed}, {updated}, {created} FROM analysis_results \
         WHERE job_id IN rarray(?1)"
    )
}

fn scan_results(
    conn: &Connection,
    sql: &str,
    job_ids: &Rc<Vec<Value>>,
    tz: DbTimezone,
) -> rusqlite::Result<HashMap<String, Activity>> {
    let mut found: HashMap<String, Activity> = HashMap::new();
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([job_ids])?;
    while let Some(row) = rows.next()? {
        let Some(job_id) = borrowed(row.get_ref(0)?) else {
            continue;
        };
        let activity = match found.get_mut(job_id) {
            Some(a) => a,
            None => found.entry(job_id.to_string()).or_default(),
        };
        activity.result_row(
            row.get::<_, Option<i64>>(1)?.unwrap_or(0) != 0,
            row.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
            stamp(row.get_ref(3)?, tz),
            stamp(row.get_ref(4)?, tz),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_from_every_storage_class() {
        let tz = DbTimezone::Utc;
        let at = |s: &str| {
            Stamp::At(
                chrono::DateTime::parse_from_rfc3339(s)
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            )
        };
        assert_eq!(
            stamp(ValueRef::Integer(1_771_597_815), tz),
            at("2026-02-20T14:30:15Z")
        );
        assert_eq!(
            stamp(ValueRef::Real(1_771_597_815.5), tz),
            at("2026-02-20T14:30:15.5Z")
        );
        assert_eq!(
            stamp(ValueRef::Text(b"2026-02-20 14:30:15"), tz),
            at("2026-02-20T14:30:15Z")
        );
        assert_eq!(stamp(ValueRef::Null, tz), Stamp::Missing);
        assert!(matches!(
            stamp(ValueRef::Text(b"soon"), tz),
            Stamp::Unreadable(_)
        ));
        assert!(matches!(
            stamp(ValueRef::Blob(b"x"), tz),
            Stamp::Unreadable(_)
        ));
    }
}
