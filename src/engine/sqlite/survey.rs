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
/// them: every job, or only the rows `only`. Called inside a transaction the caller already
/// holds (`apply`'s `BEGIN IMMEDIATE`), it reads in that one. For a plan (`Reading::Plan`), the
/// candidates' result and progress rows are read [`PLAN_BATCH`] jobs per read transaction when
/// both tables are indexed by `job_id`: in rollback-journal mode a reader keeps the app from
/// committing, and the whole survey of 1 GiB held it off for half a second.
pub fn survey(
    db: &Database,
    schema: &Schema,
    criteria: &Criteria,
    tz: DbTimezone,
    only: Option<&[i64]>,
    reading: Reading,
) -> anyhow::Result<Survey> {
    let mut tally = Tally::new(criteria);
    let rows = read(db, schema, tz, only, reading, &mut tally, false)?;
    rows.feed(&mut tally);
    Ok(tally.finish(schema.variant))
}

/// What a read of `apply`'s planned jobs just before the write lock saw (design.md §3.4): their
/// classification, the rows it came from, and the marks that tell under the lock whether those
/// are still the rows.
pub struct ReadAhead {
    survey: Survey,
    rows: Rows,
}

/// Reads the planned jobs and their result and progress rows ahead of the write lock, in short
/// reads (`Reading::Plan`), so that under the lock little is read again (see
/// [`survey_locked`]). `None` where the marks would not be index lookups (the legacy schema's
/// results have no index on `job_id`): there the survey under the lock reads everything.
pub fn read_ahead(
    db: &Database,
    schema: &Schema,
    criteria: &Criteria,
    tz: DbTimezone,
    only: &[i64],
) -> anyhow::Result<Option<ReadAhead>> {
    if !indexed(&db.conn, schema).map_err(|e| sqlite_error(&db.path, e))? {
        return Ok(None);
    }
    let mut tally = Tally::new(criteria);
    let rows = read(db, schema, tz, Some(only), Reading::Plan, &mut tally, true)?;
    rows.feed(&mut tally);
    Ok(Some(ReadAhead {
        survey: tally.finish(schema.variant),
        rows,
    }))
}

/// The survey of the planned rows `only` under the write lock (inside `BEGIN IMMEDIATE`).
/// When the job rows are the read ahead's, value for value, and their jobs' result and progress
/// rows are the same rows (one total of the marks, from the index), the read ahead's survey is
/// the survey. Otherwise the job rows are classified again, with the result and progress rows
/// of every job whose marks differ read again (a row added or removed since); the others' are
/// the read ahead's. Without a read ahead, everything is read.
pub fn survey_locked(
    db: &Database,
    schema: &Schema,
    criteria: &Criteria,
    tz: DbTimezone,
    only: &[i64],
    ahead: Option<ReadAhead>,
) -> anyhow::Result<Survey> {
    let Some(ReadAhead {
        survey: seen_survey,
        rows: mut seen,
    }) = ahead
    else {
        return survey(db, schema, criteria, tz, Some(only), Reading::OneMoment);
    };
    let sql_err = |e| sqlite_error(&db.path, e);
    let tx: &Connection = &db.conn;
    let queries = Queries::new(schema);
    let job_ids = Rc::new(std::mem::take(&mut seen.job_ids));
    if job_rows(tx, schema, only).map_err(sql_err)? == seen.jobs
        && queries.total(tx, &job_ids).map_err(sql_err)? == Marks::total(seen.marks.values())
    {
        return Ok(seen_survey);
    }
    let mut tally = Tally::new(criteria);
    read_jobs(tx, schema, tz, Some(only), &mut tally).map_err(sql_err)?;
    let old_enough: Vec<Value> = tally.old_enough().into_iter().map(Value::Text).collect();
    let now = queries.marks(tx, &Rc::new(old_enough)).map_err(sql_err)?;
    let mut rows = Rows::default();
    let mut changed = Vec::new();
    // A job without rows now is not in `now`, and rightly gets no activity.
    for (job_id, marks) in now {
        if seen.marks.remove(&job_id).unwrap_or_default() != marks {
            changed.push(Value::Text(job_id));
        } else if let Some(activity) = seen.activity.remove(&job_id) {
            rows.activity.insert(job_id, activity);
        }
    }
    if !changed.is_empty() {
        queries
            .rows(tx, &Rc::new(changed), tz, &mut rows, false)
            .map_err(sql_err)?;
    }
    rows.feed(&mut tally);
    Ok(tally.finish(schema.variant))
}

/// Reads the job rows into `tally`, then the result and progress rows of its
/// [`Tally::old_enough`] jobs (with their marks when `marks`).
fn read(
    db: &Database,
    schema: &Schema,
    tz: DbTimezone,
    only: Option<&[i64]>,
    reading: Reading,
    tally: &mut Tally,
    marks: bool,
) -> anyhow::Result<Rows> {
    let sql_err = |e| sqlite_error(&db.path, e);
    let mut own = if db.conn.is_autocommit() {
        Some(db.conn.unchecked_transaction().map_err(sql_err)?)
    } else {
        None
    };
    let tx: &Connection = &db.conn;
    read_jobs(tx, schema, tz, only, tally).map_err(sql_err)?;
    let old_enough: Vec<Value> = tally.old_enough().into_iter().map(Value::Text).collect();
    let mut rows = Rows::default();
    if let (true, Some(only)) = (marks, only) {
        rows.jobs = job_rows(tx, schema, only).map_err(sql_err)?;
        rows.job_ids.clone_from(&old_enough);
    }
    // Batches only where a batch is a few index lookups: without an index on `job_id` (the
    // legacy schema's results) every batch would scan the whole table, so one read does.
    let batch = match (&own, reading) {
        (Some(_), Reading::Plan) if indexed(tx, schema).map_err(sql_err)? => PLAN_BATCH,
        _ => old_enough.len().max(1),
    };
    if batch < old_enough.len() {
        if let Some(jobs_read) = own.take() {
            jobs_read.finish().map_err(sql_err)?;
        }
        failpoint::hit("pause-after-survey-jobs");
    }
    let queries = Queries::new(schema);
    let batches = old_enough.len().div_ceil(batch);
    for (n, jobs) in old_enough.chunks(batch).enumerate() {
        let short = if own.is_none() && tx.is_autocommit() {
            Some(tx.unchecked_transaction().map_err(sql_err)?)
        } else {
            None
        };
        queries
            .rows(tx, &Rc::new(jobs.to_vec()), tz, &mut rows, marks)
            .map_err(sql_err)?;
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
    Ok(rows)
}

/// One pass over `analysis_jobs` (or its rows `only`) into `tally`. The first read takes the
/// read lock: every later query of the transaction sees this moment.
fn read_jobs(
    tx: &Connection,
    schema: &Schema,
    tz: DbTimezone,
    only: Option<&[i64]>,
    tally: &mut Tally,
) -> rusqlite::Result<()> {
    rusqlite::vtab::array::load_module(tx)?;
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
    let mut stmt = tx.prepare(&sql)?;
    let mut rows = match only {
        Some(pks) => {
            let pks: Vec<Value> = pks.iter().map(|&pk| Value::Integer(pk)).collect();
            stmt.query([Rc::new(pks)])
        }
        None => stmt.query([]),
    }?;
    while let Some(row) = rows.next()? {
        // Borrowed views: no allocation for the many rows that are only counted.
        let job_id = borrowed(row.get_ref(1)?);
        let emp_id = borrowed(row.get_ref(2)?);
        let status_ref = row.get_ref(3)?;
        let status = match (borrowed(status_ref), status_ref) {
            (Some(s), _) => StatusValue::Text(s),
            (None, ValueRef::Null) => StatusValue::Null,
            (None, other) => StatusValue::Other(value_text(other).unwrap_or_default()),
        };
        let created = stamp(row.get_ref(4)?, tz);
        tally.job(job_id, emp_id, status, created, || {
            Ok::<_, rusqlite::Error>(CandidateRow {
                id: row.get(0)?,
                folder_path: value_text(row.get_ref(5)?),
                started: stamp(row.get_ref(6)?, tz),
                file_count: row.get(7)?,
            })
        })?;
    }
    Ok(())
}

/// A column's value as read, text kept as bytes: a job's text need not be UTF-8.
#[derive(Debug, PartialEq)]
enum Raw {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl From<ValueRef<'_>> for Raw {
    fn from(value: ValueRef<'_>) -> Raw {
        match value {
            ValueRef::Null => Raw::Null,
            ValueRef::Integer(i) => Raw::Integer(i),
            ValueRef::Real(r) => Raw::Real(r),
            ValueRef::Text(t) => Raw::Text(t.to_vec()),
            ValueRef::Blob(b) => Raw::Blob(b.to_vec()),
        }
    }
}

/// The job rows `only` as they are, every column the survey reads, in key order: equal lists
/// classify alike (no JSON is parsed here, so this is cheap under the lock).
fn job_rows(tx: &Connection, schema: &Schema, only: &[i64]) -> rusqlite::Result<Vec<Vec<Raw>>> {
    let columns: Vec<&str> = [
        "job_id",
        "emp_id",
        "status",
        "created_at",
        "folder_path",
        "started_at",
        "file_ids",
    ]
    .into_iter()
    .map(|c| if schema.job_has(c) { c } else { "NULL" })
    .collect();
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT id, {} FROM analysis_jobs WHERE id IN rarray(?1) ORDER BY id",
        columns.join(", ")
    ))?;
    let pks: Vec<Value> = only.iter().map(|&pk| Value::Integer(pk)).collect();
    let mut rows = stmt.query([Rc::new(pks)])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(
            (0..=columns.len())
                .map(|i| row.get_ref(i).map(Raw::from))
                .collect::<rusqlite::Result<Vec<Raw>>>()?,
        );
    }
    Ok(found)
}

/// Whether the result and progress rows of a job are index lookups (see [`indexed_by_job`]).
fn indexed(conn: &Connection, schema: &Schema) -> rusqlite::Result<bool> {
    Ok(indexed_by_job(conn, "analysis_results")?
        && (!schema.progress_has("job_id") || indexed_by_job(conn, "analysis_progress")?))
}

/// What the result and progress rows of some jobs say, by job_id.
#[derive(Default)]
struct Rows {
    activity: HashMap<String, Activity>,
    /// Read ahead only: per job, which rows were read; the job rows ([`job_rows`]) and the
    /// job_ids whose rows were read.
    marks: HashMap<String, Marks>,
    jobs: Vec<Vec<Raw>>,
    job_ids: Vec<Value>,
}

impl Rows {
    fn feed(&self, tally: &mut Tally) {
        for (job_id, activity) in &self.activity {
            tally.results(job_id, activity.clone());
        }
    }
}

/// Which rows of a table some jobs have: their count, largest rowid and the sum of the rowids'
/// low 32 bits (exact, whatever the order it is summed in), read from the index on `job_id`
/// alone. A row added or removed changes it (unless as many rows went as came with the same
/// ids); a row changed in place does not, which is why the read ahead is taken just before the
/// lock (design.md §3.4). `None`: no rows.
type Mark = Option<(i64, i64, i64)>;

/// The SQL of a [`Mark`].
const MARK: &str = "count(*), max(rowid), sum(rowid & 4294967295)";

#[derive(Debug, Default, PartialEq)]
struct Marks {
    results: Mark,
    progress: Mark,
}

/// Two [`Mark`]s together.
fn add(a: Mark, b: Mark) -> Mark {
    match (a, b) {
        (Some((n, max, sum)), Some((m, max2, sum2))) => {
            Some((n + m, max.max(max2), sum.wrapping_add(sum2)))
        }
        (a, None) => a,
        (None, b) => b,
    }
}

impl Marks {
    /// The mark of `table`'s rows.
    fn of(&mut self, table: &str) -> &mut Mark {
        if table == "analysis_results" {
            &mut self.results
        } else {
            &mut self.progress
        }
    }

    /// The marks of all these jobs' rows together.
    fn total<'a>(all: impl Iterator<Item = &'a Marks>) -> Marks {
        all.fold(Marks::default(), |t, m| Marks {
            results: add(t.results, m.results),
            progress: add(t.progress, m.progress),
        })
    }
}

/// A [`Mark`] from a row of (count, max, sum) starting at column `at`.
fn mark(row: &rusqlite::Row, at: usize) -> rusqlite::Result<Mark> {
    let n: i64 = row.get(at)?;
    Ok(if n == 0 {
        None
    } else {
        Some((n, row.get(at + 1)?, row.get(at + 2)?))
    })
}

/// The statements over the result and progress rows of a set of jobs (`?1`, an array of
/// job_id), built once per survey.
struct Queries {
    results: String,
    /// The query and the column the timestamp comes from: current schema has `timestamp` per
    /// step, legacy one `created_at` per job.
    progress: Option<(String, String)>,
}

impl Queries {
    fn new(schema: &Schema) -> Queries {
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
        Queries {
            results: results_query(schema),
            progress,
        }
    }

    /// Reads the rows of `jobs` into `rows`, and their marks when `marks` (in the same read).
    fn rows(
        &self,
        tx: &Connection,
        jobs: &Rc<Vec<Value>>,
        tz: DbTimezone,
        rows: &mut Rows,
        marks: bool,
    ) -> rusqlite::Result<()> {
        scan_results(tx, &self.results, jobs, tz, &mut rows.activity)?;
        if let Some((sql, label)) = &self.progress {
            let mut stmt = tx.prepare_cached(sql)?;
            let mut found = stmt.query([jobs])?;
            while let Some(row) = found.next()? {
                let Some(job_id) = value_text(row.get_ref(0)?) else {
                    continue;
                };
                rows.activity
                    .entry(job_id)
                    .or_default()
                    .progress_row(label, stamp(row.get_ref(1)?, tz));
            }
        }
        if marks {
            rows.marks.extend(self.marks(tx, jobs)?);
        }
        Ok(())
    }

    /// The tables marks are taken of: results, and progress where it is read.
    fn marked(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once("analysis_results")
            .chain(self.progress.is_some().then_some("analysis_progress"))
    }

    /// The marks of each of `jobs` that has rows (index lookups only).
    fn marks(
        &self,
        tx: &Connection,
        jobs: &Rc<Vec<Value>>,
    ) -> rusqlite::Result<HashMap<String, Marks>> {
        let mut marks: HashMap<String, Marks> = HashMap::new();
        for table in self.marked() {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT job_id, {MARK} FROM {table} WHERE job_id IN rarray(?1) GROUP BY job_id"
            ))?;
            let mut found = stmt.query([jobs])?;
            while let Some(row) = found.next()? {
                let Some(job_id) = value_text(row.get_ref(0)?) else {
                    continue;
                };
                // Added, not set: an integer 5 and a text '5' are one job_id here.
                let slot = marks.entry(job_id).or_default().of(table);
                *slot = add(*slot, mark(row, 1)?);
            }
        }
        Ok(marks)
    }

    /// The marks of all `jobs` together (one pass over the index, no grouping).
    fn total(&self, tx: &Connection, jobs: &Rc<Vec<Value>>) -> rusqlite::Result<Marks> {
        let mut total = Marks::default();
        for table in self.marked() {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {MARK} FROM {table} WHERE job_id IN rarray(?1)"
            ))?;
            *total.of(table) = stmt.query_row([jobs], |row| mark(row, 0))?;
        }
        Ok(total)
    }
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
    found: &mut HashMap<String, Activity>,
) -> rusqlite::Result<()> {
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
    Ok(())
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
