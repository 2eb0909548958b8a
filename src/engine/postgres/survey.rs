//! The survey's reads on PostgreSQL (design.md §8.2), in the caller's transaction (a
//! `READ ONLY` one for `check`, `apply`'s write transaction for the re-survey), classified by
//! the core's rules (`core::jobs::Tally`) so both engines report alike:
//!
//! 1. one streamed pass over `analysis_jobs` (the candidate-only columns computed only for
//!    pending/processing rows);
//! 2. the result rows and progress rows of the candidates already past the threshold by
//!    `created_at` (`job_id = ANY($1)`, the app's index).
//!
//! In `apply` only the planned rows are read, and they are first locked `FOR UPDATE` (waiting at
//! most `lock_timeout`); under `READ COMMITTED` the reads after it see what the app committed
//! while we waited, so a job the app finished meanwhile is seen finished.
//!
//! Timestamps are read as text and parsed by the core, so `--db-timezone` and unreadable values
//! (in a text column) behave as on SQLite.

use anyhow::Result;
use chrono::{DateTime, Local, NaiveDateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::GenericClient;

use super::{query_error, Target};
use crate::core::jobs::{Activity, CandidateRow, Criteria, StatusValue, Survey, Tally};
use crate::core::schema::{Schema, Variant};
use crate::core::time::{DbTimezone, Stamp};

/// Which job rows are surveyed: all of them (`check`), or only the planned ones, locked for the
/// rest of the caller's transaction (`apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows<'a> {
    All,
    LockForUpdate(&'a [i64]),
}

/// Surveys the jobs through `client`, inside the transaction the caller holds.
pub fn survey<C: GenericClient>(
    client: &mut C,
    target: &Target,
    schema: &Schema,
    criteria: &Criteria,
    tz: DbTimezone,
    rows: Rows<'_>,
) -> Result<Survey> {
    let qerr = |e: postgres::Error| query_error(target, &e);
    let col = |name: &str| {
        if schema.job_has(name) {
            format!("{}::text", super::quote_ident(name))
        } else {
            "NULL::text".to_string()
        }
    };
    let only: Vec<i64> = match rows {
        Rows::All => Vec::new(),
        Rows::LockForUpdate(pks) => {
            // Activity only makes a job younger: only these can be stale.
            let cutoff = naive_in(criteria.now - criteria.threshold(), tz);
            client
                .execute(
                    "SELECT id FROM analysis_jobs WHERE id::int8 = ANY($1) \
                     AND status IN ('pending', 'processing') \
                     AND (created_at IS NULL OR created_at < $2) ORDER BY id FOR UPDATE",
                    &[&pks, &cutoff],
                )
                .map_err(qerr)?;
            pks.to_vec()
        }
    };
    let candidate = "status IN ('pending', 'processing')";
    let file_ids = if schema.job_has("file_ids") {
        "file_ids::text"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT id::int8, job_id::text, {}, status::text, created_at::text, \
         CASE WHEN {candidate} THEN {} END, CASE WHEN {candidate} THEN {} END, \
         CASE WHEN {candidate} THEN {file_ids} END FROM analysis_jobs{}",
        col("emp_id"),
        col("folder_path"),
        col("started_at"),
        match rows {
            Rows::All => "",
            Rows::LockForUpdate(_) => " WHERE id::int8 = ANY($1)",
        },
    );
    let mut tally = Tally::new(criteria);
    let mut found = match rows {
        Rows::All => client.query_raw(&sql, std::iter::empty::<i64>()),
        Rows::LockForUpdate(_) => client.query_raw(&sql, [&only]),
    }
    .map_err(qerr)?;
    while let Some(row) = found.next().map_err(qerr)? {
        let job_id: Option<&str> = row.get(1);
        let emp_id: Option<&str> = row.get(2);
        let status = match row.get::<_, Option<&str>>(3) {
            Some(s) => StatusValue::Text(s),
            None => StatusValue::Null,
        };
        let created = stamp(row.get(4), tz);
        tally.job(job_id, emp_id, status, created, || {
            Ok::<_, anyhow::Error>(CandidateRow {
                id: row.get(0),
                folder_path: row.get(5),
                started: stamp(row.get(6), tz),
                file_count: row.get::<_, Option<&str>>(7).and_then(array_length),
            })
        })?;
    }
    drop(found);

    let wanted = tally.old_enough();
    if !wanted.is_empty() {
        let (done, failed, updated) = match schema.variant {
            Variant::Current => (
                "status = 'completed'",
                "status = 'failed'",
                if schema.result_has("updated_at") {
                    "updated_at::text"
                } else {
                    "NULL::text"
                },
            ),
            Variant::Legacy => ("stt_text IS NOT NULL", "false", "NULL::text"),
        };
        let created = if schema.result_has("created_at") {
            "created_at::text"
        } else {
            "NULL::text"
        };
        let sql = format!(
            "SELECT job_id::text, coalesce({done}, false), coalesce({failed}, false), {updated}, {created} \
             FROM analysis_results WHERE job_id::text = ANY($1)"
        );
        let mut activity: std::collections::HashMap<String, Activity> = Default::default();
        // Streamed, as the jobs are: ten result rows per candidate would otherwise all sit in
        // memory at once (134 MiB for 100,000 jobs, a third of them pending).
        let mut rows = client.query_raw(&sql, [&wanted]).map_err(qerr)?;
        while let Some(row) = rows.next().map_err(qerr)? {
            let Some(job_id) = row.get::<_, Option<&str>>(0) else {
                continue;
            };
            let entry = match activity.get_mut(job_id) {
                Some(entry) => entry,
                None => activity.entry(job_id.to_string()).or_default(),
            };
            entry.result_row(
                row.get(1),
                row.get(2),
                stamp(row.get(3), tz),
                stamp(row.get(4), tz),
            );
        }
        drop(rows);
        // Current schema: `timestamp` per step; legacy: `created_at` per job.
        let progress_time = ["timestamp", "updated_at", "created_at"]
            .into_iter()
            .find(|c| schema.progress_has(c));
        if let (true, Some(column)) = (schema.progress_has("job_id"), progress_time) {
            let sql = format!(
                "SELECT job_id::text, {}::text FROM analysis_progress WHERE job_id::text = ANY($1)",
                super::quote_ident(column)
            );
            let label = format!("analysis_progress.{column}");
            let mut rows = client.query_raw(&sql, [&wanted]).map_err(qerr)?;
            while let Some(row) = rows.next().map_err(qerr)? {
                if let Some(job_id) = row.get::<_, Option<String>>(0) {
                    activity
                        .entry(job_id)
                        .or_default()
                        .progress_row(&label, stamp(row.get(1), tz));
                }
            }
        }
        for (job_id, activity) in activity {
            tally.results(&job_id, activity);
        }
    }
    Ok(tally.finish(schema.variant))
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

fn stamp(text: Option<&str>, tz: DbTimezone) -> Stamp {
    match text {
        None => Stamp::Missing,
        Some(text) => Stamp::from_text(text, tz),
    }
}

/// `json_array_length(file_ids)` when it holds a JSON array, as on SQLite.
fn array_length(text: &str) -> Option<i64> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => Some(items.len() as i64),
        _ => None,
    }
}
