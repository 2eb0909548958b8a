//! The job model and its classification, shared by `check` and `apply` so that what `check`
//! reports is exactly what `apply` would do.
//!
//! One pass: one query over `analysis_jobs`, then one query each over the result and progress
//! rows of the pending/processing jobs that are already past the threshold by `created_at`,
//! passed as one array. SQLite evaluates the `IN` on `job_id` before it reads the rest of a row,
//! so on the legacy schema (no index on `analysis_results.job_id`) the scan skips the
//! transcripts of every other job.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use std::rc::Rc;

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;
use serde::Serialize;

use crate::cli::AgeBasis;
use crate::engine::sqlite::{sqlite_error, value_text, Database, Schema, Variant};
use crate::time::{DbTimezone, Stamp};

pub const PENDING: &str = "pending";
pub const PROCESSING: &str = "processing";

/// What decides which jobs are stale.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Criteria {
    pub hours: f64,
    pub by: AgeBasis,
    pub now: DateTime<Utc>,
    pub jobs: Vec<String>,
    pub emps: Vec<String>,
}

impl Criteria {
    pub(crate) fn selects(&self, job_id: Option<&str>, emp_id: Option<&str>) -> bool {
        let job_ok =
            self.jobs.is_empty() || job_id.is_some_and(|j| self.jobs.iter().any(|x| x == j));
        let emp_ok =
            self.emps.is_empty() || emp_id.is_some_and(|e| self.emps.iter().any(|x| x == e));
        job_ok && emp_ok
    }

    pub(crate) fn threshold(&self) -> Duration {
        Duration::milliseconds((self.hours * 3_600_000.0).round() as i64)
    }
}

/// The status `apply` would give a stale job, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// At least one file completed: the job is done, partially.
    Completed,
    /// No file completed.
    Failed,
}

impl Plan {
    pub fn status(self) -> &'static str {
        match self {
            Plan::Completed => "completed",
            Plan::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Files {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    pub pending: i64,
}

/// A pending/processing job old enough to be cleaned.
#[derive(Debug, Clone, Serialize)]
pub struct StaleJob {
    pub id: i64,
    pub job_id: Option<String>,
    pub emp_id: Option<String>,
    pub folder_path: Option<String>,
    pub status: String,
    pub planned_status: Plan,
    pub created_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub age_hours: f64,
    pub files: Files,
}

/// A job whose age cannot be judged: reported, never changed.
#[derive(Debug, Clone, Serialize)]
pub struct UnknownAge {
    pub id: i64,
    pub job_id: Option<String>,
    pub status: Option<String>,
    pub column: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Every status value present, with its count; NULL is counted in `null_status`.
    pub by_status: BTreeMap<String, u64>,
    pub null_status: u64,
    pub total: u64,
    /// `created_at` strictly older than 7 days.
    pub older_than_7_days: u64,
    /// Pending/processing jobs whose age could not be judged (listed in `age_unknown`).
    pub age_unknown: u64,
    pub stale: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Survey {
    pub variant: Variant,
    pub stats: Stats,
    pub stale: Vec<StaleJob>,
    /// Pending/processing jobs of unknown age.
    pub age_unknown: Vec<UnknownAge>,
    /// `--job` values that match no job.
    pub unknown_job_ids: Vec<String>,
}

/// A candidate job while its result and progress rows are gathered (by either engine).
pub(crate) struct Candidate {
    pub(crate) id: i64,
    pub(crate) job_id: Option<String>,
    pub(crate) emp_id: Option<String>,
    pub(crate) folder_path: Option<String>,
    pub(crate) status: String,
    pub(crate) created: Stamp,
    pub(crate) started: Stamp,
    pub(crate) file_count: Option<i64>,
    pub(crate) activity: Activity,
}

/// What a job's result and progress rows say: file counts and the newest timestamp.
#[derive(Default, Clone)]
pub(crate) struct Activity {
    pub(crate) results: i64,
    pub(crate) completed: i64,
    pub(crate) failed: i64,
    newest: Option<DateTime<Utc>>,
    /// The first timestamp that could not be read: (column, value).
    unreadable: Option<(String, String)>,
}

impl Activity {
    pub(crate) fn merge(&mut self, other: Activity) {
        self.results += other.results;
        self.completed += other.completed;
        self.failed += other.failed;
        self.newest = self.newest.max(other.newest);
        if self.unreadable.is_none() {
            self.unreadable = other.unreadable;
        }
    }

    pub(crate) fn saw(&mut self, column: &str, stamp: Stamp) {
        match stamp {
            Stamp::At(t) => self.newest = self.newest.max(Some(t)),
            Stamp::Unreadable(text) if self.unreadable.is_none() => {
                self.unreadable = Some((column.to_string(), text));
            }
            _ => {}
        }
    }
}

/// A text value as a borrowed `&str` (no allocation); `None` for NULL, non-text or invalid UTF-8.
fn borrowed<'a>(value: ValueRef<'a>) -> Option<&'a str> {
    match value {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

/// Reads the jobs (in one read transaction, so all queries see the same moment) and classifies
/// them. Called inside a transaction the caller already holds (`apply`'s `BEGIN IMMEDIATE`), it
/// reads in that one.
pub fn survey(
    db: &Database,
    schema: &Schema,
    criteria: &Criteria,
    tz: DbTimezone,
) -> anyhow::Result<Survey> {
    let sql_err = |e| sqlite_error(&db.path, e);
    let own = if db.conn.is_autocommit() {
        Some(db.conn.unchecked_transaction().map_err(sql_err)?)
    } else {
        None
    };
    let tx: &Connection = &db.conn;
    // The first read takes the read lock; from here on every query sees this moment.
    tx.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(sql_err)?;
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
         CASE WHEN {candidate} THEN {} END, CASE WHEN {candidate} THEN {file_count} END FROM analysis_jobs",
        col("emp_id"),
        col("folder_path"),
        col("started_at"),
    );
    let mut stats = Stats::default();
    // Keyed by the primary key `id` (design.md §2): `job_id` is only a label, and in a file
    // whose unique index was dropped two jobs may share one; both are judged and reported.
    let mut candidates: Vec<Candidate> = Vec::new();
    // job_id -> the candidates carrying it, to attach result and progress rows.
    let mut by_job_id: HashMap<String, Vec<usize>> = HashMap::new();
    let mut seen_job_ids: Vec<bool> = vec![false; criteria.jobs.len()];
    let week = Duration::days(7);
    {
        let mut stmt = tx.prepare(&sql).map_err(sql_err)?;
        let mut rows = stmt.query([]).map_err(sql_err)?;
        while let Some(row) = rows.next().map_err(sql_err)? {
            // Borrowed views: no allocation for the many rows that are only counted.
            let job_id = borrowed(row.get_ref(1).map_err(sql_err)?);
            let emp_id = borrowed(row.get_ref(2).map_err(sql_err)?);
            if let Some(j) = job_id {
                for (seen, wanted) in seen_job_ids.iter_mut().zip(&criteria.jobs) {
                    *seen |= wanted == j;
                }
            }
            if !criteria.selects(job_id, emp_id) {
                continue;
            }
            let status_ref = row.get_ref(3).map_err(sql_err)?;
            let created = Stamp::read(row.get_ref(4).map_err(sql_err)?, tz);
            stats.total += 1;
            match borrowed(status_ref) {
                Some(s) => match stats.by_status.get_mut(s) {
                    Some(n) => *n += 1,
                    None => {
                        stats.by_status.insert(s.to_string(), 1);
                    }
                },
                None if matches!(status_ref, ValueRef::Null) => stats.null_status += 1,
                None => {
                    *stats
                        .by_status
                        .entry(value_text(status_ref).unwrap_or_default())
                        .or_default() += 1
                }
            }
            if created.at().is_some_and(|t| criteria.now - t > week) {
                stats.older_than_7_days += 1;
            }
            let Some(status) = borrowed(status_ref).filter(|s| *s == PENDING || *s == PROCESSING)
            else {
                continue;
            };
            let candidate = Candidate {
                id: row.get(0).map_err(sql_err)?,
                job_id: job_id.map(str::to_string),
                emp_id: emp_id.map(str::to_string),
                folder_path: value_text(row.get_ref(5).map_err(sql_err)?),
                status: status.to_string(),
                created,
                started: Stamp::read(row.get_ref(6).map_err(sql_err)?, tz),
                file_count: row.get(7).map_err(sql_err)?,
                activity: Activity::default(),
            };
            if let Some(j) = job_id {
                by_job_id
                    .entry(j.to_string())
                    .or_default()
                    .push(candidates.len());
            }
            candidates.push(candidate);
        }
    }

    // Only candidates already older than the threshold by created_at can be stale (activity
    // only makes a job younger), so only their result and progress rows are read; with none
    // (the usual weekly case) nothing more is read at all.
    let threshold = criteria.threshold();
    let old_enough: Vec<Value> = by_job_id
        .iter()
        .filter(|(_, at)| {
            at.iter().any(|&i| {
                candidates[i]
                    .created
                    .at()
                    .is_some_and(|t| criteria.now - t > threshold)
            })
        })
        .map(|(job_id, _)| Value::Text(job_id.clone()))
        .collect();
    let has_candidates = !old_enough.is_empty();
    let old_enough = Rc::new(old_enough);
    if has_candidates {
        rusqlite::vtab::array::load_module(tx).map_err(sql_err)?;
    }
    let activity = if has_candidates {
        scan_results(tx, &results_query(schema), &old_enough, tz).map_err(sql_err)?
    } else {
        HashMap::new()
    };
    for (job_id, activity) in activity {
        // Rows of a shared job_id count for each job carrying it: neither can be told apart.
        for &i in by_job_id.get(&job_id).into_iter().flatten() {
            candidates[i].activity.merge(activity.clone());
        }
    }

    // Progress rows: current schema has `timestamp` per step, legacy one `created_at` per job.
    let progress_time = ["timestamp", "updated_at", "created_at"]
        .into_iter()
        .find(|c| schema.progress_has(c));
    if let (true, true, Some(column)) =
        (has_candidates, schema.progress_has("job_id"), progress_time)
    {
        let sql =
            format!("SELECT job_id, {column} FROM analysis_progress WHERE job_id IN rarray(?1)");
        let mut stmt = tx.prepare(&sql).map_err(sql_err)?;
        let mut rows = stmt.query([&old_enough]).map_err(sql_err)?;
        let label = format!("analysis_progress.{column}");
        while let Some(row) = rows.next().map_err(sql_err)? {
            let Some(job_id) = value_text(row.get_ref(0).map_err(sql_err)?) else {
                continue;
            };
            for &i in by_job_id.get(&job_id).into_iter().flatten() {
                candidates[i]
                    .activity
                    .saw(&label, Stamp::read(row.get_ref(1).map_err(sql_err)?, tz));
            }
        }
    }
    if let Some(own) = own {
        own.finish().map_err(sql_err)?;
    }
    let unknown_job_ids = criteria
        .jobs
        .iter()
        .zip(&seen_job_ids)
        .filter(|(_, seen)| !**seen)
        .map(|(j, _)| j.clone())
        .collect();
    Ok(classify(
        schema.variant,
        stats,
        candidates,
        criteria,
        unknown_job_ids,
    ))
}

/// The engine-neutral end of a survey: judges the candidates (design.md §2) and completes the
/// statistics. `stats` holds the counts by status and age; `candidates` every pending/processing
/// job that may be stale, with its activity.
pub(crate) fn classify(
    variant: Variant,
    mut stats: Stats,
    candidates: Vec<Candidate>,
    criteria: &Criteria,
    unknown_job_ids: Vec<String>,
) -> Survey {
    let threshold = criteria.threshold();
    let mut stale = Vec::new();
    let mut age_unknown = Vec::new();
    for c in candidates {
        match judge(c, criteria, threshold) {
            Judged::Stale(job) => stale.push(job),
            Judged::Unknown(job) => age_unknown.push(job),
            Judged::Fresh => {}
        }
    }
    stale.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    age_unknown.sort_by_key(|j| j.id);
    stats.stale = stale.len() as u64;
    stats.age_unknown = age_unknown.len() as u64;
    Survey {
        variant,
        stats,
        stale,
        age_unknown,
        unknown_job_ids,
    }
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
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([job_ids])?;
    while let Some(row) = rows.next()? {
        let Some(job_id) = borrowed(row.get_ref(0)?) else {
            continue;
        };
        let activity = match found.get_mut(job_id) {
            Some(a) => a,
            None => found.entry(job_id.to_string()).or_default(),
        };
        activity.results += 1;
        activity.completed += row.get::<_, Option<i64>>(1)?.unwrap_or(0).min(1);
        activity.failed += row.get::<_, Option<i64>>(2)?.unwrap_or(0).min(1);
        activity.saw(
            "analysis_results.updated_at",
            Stamp::read(row.get_ref(3)?, tz),
        );
        activity.saw(
            "analysis_results.created_at",
            Stamp::read(row.get_ref(4)?, tz),
        );
    }
    Ok(found)
}

enum Judged {
    Stale(StaleJob),
    Unknown(UnknownAge),
    Fresh,
}

fn judge(mut c: Candidate, criteria: &Criteria, threshold: Duration) -> Judged {
    let unknown = |c: &Candidate, column: &str, value: Option<String>| UnknownAge {
        id: c.id,
        job_id: c.job_id.clone(),
        status: Some(c.status.clone()),
        column: column.to_string(),
        value,
    };
    let created = match &c.created {
        Stamp::At(t) => *t,
        Stamp::Missing => return Judged::Unknown(unknown(&c, "created_at", None)),
        Stamp::Unreadable(v) => return Judged::Unknown(unknown(&c, "created_at", Some(v.clone()))),
    };
    let last_activity = match criteria.by {
        AgeBasis::Created => created,
        AgeBasis::Activity => {
            // An unreadable activity timestamp could hide recent progress: do not guess.
            let started = std::mem::replace(&mut c.started, Stamp::Missing);
            c.activity.saw("started_at", started);
            if let Some((column, value)) = c.activity.unreadable.take() {
                return Judged::Unknown(unknown(&c, &column, Some(value)));
            }
            c.activity.newest.map_or(created, |n| n.max(created))
        }
    };
    let age = criteria.now - last_activity;
    if age <= threshold {
        return Judged::Fresh;
    }
    let Activity {
        results,
        completed,
        failed,
        ..
    } = c.activity;
    let total = c.file_count.unwrap_or(results).max(0);
    let pending = (total - completed - failed).max(0);
    Judged::Stale(StaleJob {
        id: c.id,
        job_id: c.job_id,
        emp_id: c.emp_id,
        folder_path: c.folder_path,
        status: c.status,
        planned_status: if completed > 0 {
            Plan::Completed
        } else {
            Plan::Failed
        },
        created_at: created,
        last_activity,
        age_hours: age.num_seconds() as f64 / 3600.0,
        files: Files {
            total,
            completed,
            failed,
            pending,
        },
    })
}
