//! The survey's reads on PostgreSQL (design.md §8.2): grouped queries in one transaction, the
//! judging left to the core (`jobs::classify`) so both engines report alike.
//!
//! 1. the counts by status and "older than 7 days", grouped on the server;
//! 2. the pending/processing jobs old enough by `created_at` to be stale (or of unknown age),
//!    with `FOR UPDATE` inside `apply`'s transaction;
//! 3. per such job, its result rows' counts and newest timestamps, and its progress rows'
//!    newest timestamp, grouped on the server (`job_id = ANY($1)` uses the app's index).
//!
//! Timestamps are read as text and parsed by the core, so `--db-timezone` and unreadable values
//! (a text column) behave as on SQLite.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Local, NaiveDateTime, Utc};
use postgres::GenericClient;

use super::{query_error, Target};
use crate::engine::sqlite::{Schema, Variant};
use crate::jobs::{classify, Activity, Candidate, Criteria, Stats, Survey};
use crate::time::{parse_text, DbTimezone, Stamp};

/// Whether the candidates are locked for the rest of the caller's transaction (`apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    Read,
    LockForUpdate,
}

/// Surveys the jobs through `client` (a transaction the caller holds: read-only for `check`,
/// `apply`'s write transaction for the re-survey).
pub fn survey<C: GenericClient>(
    client: &mut C,
    target: &Target,
    schema: &Schema,
    criteria: &Criteria,
    tz: DbTimezone,
    rows: Rows,
) -> Result<Survey> {
    let qerr = |e: postgres::Error| query_error(target, &e);
    let col = |name: &str| {
        if schema.job_has(name) {
            format!("{name}::text")
        } else {
            "NULL::text".to_string()
        }
    };
    let now = criteria.now;
    // `--job`/`--emp`: an empty list selects every job.
    let filter = format!(
        "(cardinality($1::text[]) = 0 OR job_id::text = ANY($1)) AND (cardinality($2::text[]) = 0 OR {} = ANY($2))",
        col("emp_id")
    );
    let (jobs, emps) = (&criteria.jobs, &criteria.emps);

    // 1. Counts by status, and how many were created more than 7 days ago.
    let mut stats = Stats::default();
    let week_cutoff = naive_in(now - chrono::Duration::days(7), tz);
    for row in client
        .query(
            &format!(
                "SELECT status::text, count(*), count(*) FILTER (WHERE created_at < $3) \
                 FROM analysis_jobs WHERE {filter} GROUP BY status"
            ),
            &[jobs, emps, &week_cutoff],
        )
        .map_err(qerr)?
    {
        let status: Option<String> = row.get(0);
        let count = row.get::<_, i64>(1) as u64;
        match status {
            Some(status) => *stats.by_status.entry(status).or_default() += count,
            None => stats.null_status += count,
        }
        stats.total += count;
        stats.older_than_7_days += row.get::<_, i64>(2) as u64;
    }
    let unknown_job_ids = if jobs.is_empty() {
        Vec::new()
    } else {
        let found: Vec<String> = client
            .query(
                "SELECT DISTINCT job_id::text FROM analysis_jobs WHERE job_id::text = ANY($1)",
                &[jobs],
            )
            .map_err(qerr)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        jobs.iter()
            .filter(|j| !found.contains(j))
            .cloned()
            .collect()
    };

    // 2. The jobs that can be stale: activity only makes a job younger, so those already past
    //    the threshold by created_at, and those whose created_at is missing (age unknown).
    let old_cutoff = naive_in(now - criteria.threshold(), tz);
    let lock = match rows {
        Rows::Read => "",
        Rows::LockForUpdate => " FOR UPDATE",
    };
    let file_ids = if schema.job_has("file_ids") {
        "file_ids::text"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT id::int8, job_id::text, {}, {}, status::text, created_at::text, {}, {file_ids} \
         FROM analysis_jobs WHERE status IN ('pending', 'processing') \
         AND (created_at IS NULL OR created_at < $3) AND {filter} ORDER BY id{lock}",
        col("emp_id"),
        col("folder_path"),
        col("started_at"),
    );
    let mut candidates = Vec::new();
    let mut by_job_id: HashMap<String, Vec<usize>> = HashMap::new();
    for row in client
        .query(&sql, &[jobs, emps, &old_cutoff])
        .map_err(qerr)?
    {
        let job_id: Option<String> = row.get(1);
        if let Some(j) = &job_id {
            by_job_id
                .entry(j.clone())
                .or_default()
                .push(candidates.len());
        }
        candidates.push(Candidate {
            id: row.get(0),
            job_id,
            emp_id: row.get(2),
            folder_path: row.get(3),
            status: row.get(4),
            created: stamp(row.get(5), tz),
            started: stamp(row.get(6), tz),
            file_count: row
                .get::<_, Option<String>>(7)
                .and_then(|t| array_length(&t)),
            activity: Activity::default(),
        });
    }

    // 3. Their result and progress rows, grouped per job on the server.
    let wanted: Vec<String> = by_job_id.keys().cloned().collect();
    if !wanted.is_empty() {
        let (done, failed) = match schema.variant {
            Variant::Current => ("status = 'completed'", "status = 'failed'"),
            Variant::Legacy => ("stt_text IS NOT NULL", "false"),
        };
        let newest = |has: bool, column: &str| {
            if has {
                format!("max({column})::text")
            } else {
                "NULL::text".to_string()
            }
        };
        let sql = format!(
            "SELECT job_id::text, count(*), count(*) FILTER (WHERE {done}), \
             count(*) FILTER (WHERE {failed}), {}, {} \
             FROM analysis_results WHERE job_id::text = ANY($1) GROUP BY job_id",
            newest(
                schema.variant == Variant::Current && schema.result_has("updated_at"),
                "updated_at"
            ),
            newest(schema.result_has("created_at"), "created_at"),
        );
        for row in client.query(&sql, &[&wanted]).map_err(qerr)? {
            let job_id: String = row.get(0);
            let mut activity = Activity::default();
            activity.results = row.get(1);
            activity.completed = row.get(2);
            activity.failed = row.get(3);
            activity.saw("analysis_results.updated_at", stamp(row.get(4), tz));
            activity.saw("analysis_results.created_at", stamp(row.get(5), tz));
            for &i in by_job_id.get(&job_id).into_iter().flatten() {
                candidates[i].activity.merge(activity.clone());
            }
        }
        // Current schema: `timestamp` per step; legacy: `created_at` per job.
        let progress_time = ["timestamp", "updated_at", "created_at"]
            .into_iter()
            .find(|c| schema.progress_has(c));
        if let (true, Some(column)) = (schema.progress_has("job_id"), progress_time) {
            let sql = format!(
                "SELECT job_id::text, max({})::text FROM analysis_progress \
                 WHERE job_id::text = ANY($1) GROUP BY job_id",
                super::quote_ident(column)
            );
            let label = format!("analysis_progress.{column}");
            for row in client.query(&sql, &[&wanted]).map_err(qerr)? {
                let job_id: String = row.get(0);
                let newest = stamp(row.get(1), tz);
                for &i in by_job_id.get(&job_id).into_iter().flatten() {
                    candidates[i].activity.saw(&label, newest.clone());
                }
            }
        }
    }
    Ok(classify(
        schema.variant,
        stats,
        candidates,
        criteria,
        unknown_job_ids,
    ))
}

/// A moment as the naive wall-clock value the database stores in `tz`, for comparisons on the
/// server (`created_at < $n`).
fn naive_in(t: DateTime<Utc>, tz: DbTimezone) -> NaiveDateTime {
    match tz {
        DbTimezone::Utc => t.naive_utc(),
        DbTimezone::Local => t.with_timezone(&Local).naive_local(),
        DbTimezone::Fixed(offset) => t.with_timezone(&offset).naive_local(),
    }
}

fn stamp(text: Option<String>, tz: DbTimezone) -> Stamp {
    match text {
        None => Stamp::Missing,
        Some(text) => parse_text(&text, tz).map_or(Stamp::Unreadable(text), Stamp::At),
    }
}

/// `json_array_length(file_ids)` when it holds a JSON array, as on SQLite.
fn array_length(text: &str) -> Option<i64> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => Some(items.len() as i64),
        _ => None,
    }
}
