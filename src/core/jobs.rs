//! The job model and its classification, shared by `check` and `apply` so that what `check`
//! reports is exactly what `apply` would do. An engine reads the rows ([`Tally`]); the rules
//! that judge them are here, the same for every engine.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::core::schema::Variant;
use crate::core::time::Stamp;

pub const PENDING: &str = "pending";
pub const PROCESSING: &str = "processing";

/// What a job's age is measured from (`--by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgeBasis {
    /// The newest of `created_at`, `started_at` and the job's result and progress rows.
    Activity,
    /// `created_at` only, as the old cleanup script did.
    Created,
}

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
    fn selects(&self, job_id: Option<&str>, emp_id: Option<&str>) -> bool {
        let job_ok =
            self.jobs.is_empty() || job_id.is_some_and(|j| self.jobs.iter().any(|x| x == j));
        let emp_ok =
            self.emps.is_empty() || emp_id.is_some_and(|e| self.emps.iter().any(|x| x == e));
        job_ok && emp_ok
    }

    pub fn threshold(&self) -> Duration {
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

/// A candidate job while its result and progress rows are gathered.
struct Candidate {
    id: i64,
    job_id: Option<String>,
    emp_id: Option<String>,
    folder_path: Option<String>,
    status: String,
    created: Stamp,
    started: Stamp,
    file_count: Option<i64>,
    activity: Activity,
}

/// What a job's result and progress rows say: file counts and the newest timestamp.
#[derive(Default, Clone)]
pub struct Activity {
    results: i64,
    completed: i64,
    failed: i64,
    newest: Option<DateTime<Utc>>,
    /// The first timestamp that could not be read: (column, value).
    unreadable: Option<(String, String)>,
}

impl Activity {
    fn merge(&mut self, other: Activity) {
        self.results += other.results;
        self.completed += other.completed;
        self.failed += other.failed;
        self.newest = self.newest.max(other.newest);
        if self.unreadable.is_none() {
            self.unreadable = other.unreadable;
        }
    }

    /// One result row: whether it completed, whether it failed, its timestamps.
    pub fn result_row(&mut self, completed: bool, failed: bool, updated: Stamp, created: Stamp) {
        self.results += 1;
        self.completed += i64::from(completed);
        self.failed += i64::from(failed);
        self.saw("analysis_results.updated_at", updated);
        self.saw("analysis_results.created_at", created);
    }

    /// One progress row: its timestamp from `column`.
    pub fn progress_row(&mut self, column: &str, stamp: Stamp) {
        self.saw(column, stamp);
    }

    fn saw(&mut self, column: &str, stamp: Stamp) {
        match stamp {
            Stamp::At(t) => self.newest = self.newest.max(Some(t)),
            Stamp::Unreadable(text) if self.unreadable.is_none() => {
                self.unreadable = Some((column.to_string(), text));
            }
            _ => {}
        }
    }
}

/// A value of the `status` column as the survey sees it.
pub enum StatusValue<'a> {
    Text(&'a str),
    Null,
    /// Not text (a number, a blob): counted under its shown form, never a candidate.
    Other(String),
}

/// The columns only a candidate (a pending/processing job) needs, read only for those.
pub struct CandidateRow {
    pub id: i64,
    pub folder_path: Option<String>,
    pub started: Stamp,
    /// The length of `file_ids` when it is a JSON array.
    pub file_count: Option<i64>,
}

/// A survey being gathered: an engine feeds it the rows it reads (one pass over
/// `analysis_jobs`, then the result and progress rows of [`Tally::old_enough`]) and the rules
/// here classify them, the same on every engine.
pub struct Tally<'a> {
    criteria: &'a Criteria,
    stats: Stats,
    // Keyed by the primary key `id` (design.md §2): `job_id` is only a label, and in a file
    // whose unique index was dropped two jobs may share one; both are judged and reported.
    candidates: Vec<Candidate>,
    /// job_id -> the candidates carrying it, to attach result and progress rows.
    by_job_id: HashMap<String, Vec<usize>>,
    seen_job_ids: Vec<bool>,
}

impl<'a> Tally<'a> {
    pub fn new(criteria: &'a Criteria) -> Tally<'a> {
        Tally {
            criteria,
            stats: Stats::default(),
            candidates: Vec::new(),
            by_job_id: HashMap::new(),
            seen_job_ids: vec![false; criteria.jobs.len()],
        }
    }

    /// One `analysis_jobs` row. `candidate` reads the rest of the row; it is called only for a
    /// selected pending/processing job (most rows are finished and only counted).
    pub fn job<E>(
        &mut self,
        job_id: Option<&str>,
        emp_id: Option<&str>,
        status: StatusValue<'_>,
        created: Stamp,
        candidate: impl FnOnce() -> Result<CandidateRow, E>,
    ) -> Result<(), E> {
        let criteria = self.criteria;
        if let Some(j) = job_id {
            for (seen, wanted) in self.seen_job_ids.iter_mut().zip(&criteria.jobs) {
                *seen |= wanted == j;
            }
        }
        if !criteria.selects(job_id, emp_id) {
            return Ok(());
        }
        let stats = &mut self.stats;
        stats.total += 1;
        let status = match status {
            StatusValue::Text(s) => {
                match stats.by_status.get_mut(s) {
                    Some(n) => *n += 1,
                    None => {
                        stats.by_status.insert(s.to_string(), 1);
                    }
                }
                Some(s)
            }
            StatusValue::Null => {
                stats.null_status += 1;
                None
            }
            StatusValue::Other(shown) => {
                *stats.by_status.entry(shown).or_default() += 1;
                None
            }
        };
        if created
            .at()
            .is_some_and(|t| criteria.now - t > Duration::days(7))
        {
            stats.older_than_7_days += 1;
        }
        let Some(status) = status.filter(|s| *s == PENDING || *s == PROCESSING) else {
            return Ok(());
        };
        let row = candidate()?;
        if let Some(j) = job_id {
            self.by_job_id
                .entry(j.to_string())
                .or_default()
                .push(self.candidates.len());
        }
        self.candidates.push(Candidate {
            id: row.id,
            job_id: job_id.map(str::to_string),
            emp_id: emp_id.map(str::to_string),
            folder_path: row.folder_path,
            status: status.to_string(),
            created,
            started: row.started,
            file_count: row.file_count,
            activity: Activity::default(),
        });
        Ok(())
    }

    /// The job_ids whose result and progress rows are needed: only candidates already older
    /// than the threshold by `created_at` can be stale (activity only makes a job younger), so
    /// with none (the usual weekly case) nothing more is read at all.
    pub fn old_enough(&self) -> Vec<String> {
        let threshold = self.criteria.threshold();
        let mut old: Vec<String> = self
            .by_job_id
            .iter()
            .filter(|(_, at)| {
                at.iter().any(|&i| {
                    self.candidates[i]
                        .created
                        .at()
                        .is_some_and(|t| self.criteria.now - t > threshold)
                })
            })
            .map(|(job_id, _)| job_id.clone())
            .collect();
        // In key order: SQLite then looks them up in the order of its index (and the batches
        // of a plan stay in one part of it).
        old.sort_unstable();
        old
    }

    /// What the result and progress rows of `job_id` say.
    pub fn results(&mut self, job_id: &str, activity: Activity) {
        // Rows of a shared job_id count for each job carrying it: neither can be told apart.
        for &i in self.by_job_id.get(job_id).into_iter().flatten() {
            self.candidates[i].activity.merge(activity.clone());
        }
    }

    /// Classifies the candidates: the survey.
    pub fn finish(self, variant: Variant) -> Survey {
        let Tally {
            criteria,
            mut stats,
            candidates,
            seen_job_ids,
            ..
        } = self;
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
        let unknown_job_ids = criteria
            .jobs
            .iter()
            .zip(&seen_job_ids)
            .filter(|(_, seen)| !**seen)
            .map(|(j, _)| j.clone())
            .collect();
        Survey {
            variant,
            stats,
            stale,
            age_unknown,
            unknown_job_ids,
        }
    }
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
