//! The `check` report: statistics and stale jobs, in the guide's layout (design.md §6). `apply`
//! renders the same blocks, so both speak alike.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::core::jobs::{Criteria, StaleJob, Stats, Survey, UnknownAge};
use crate::core::reason::{plan_reason, ChangeReason, ReasonCode};
use crate::core::schema::Variant;
use crate::core::time::display;
use crate::render::labels::ago;
use crate::render::{esc, heading, Render, Style};
use crate::t;

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub database: String,
    pub schema: Variant,
    pub criteria: Criteria,
    pub rolled_back_hot_journal: bool,
    pub stats: Stats,
    /// Omitted with `--stats`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_jobs: Option<Vec<StaleJob>>,
    pub age_unknown: Vec<UnknownAge>,
    pub unknown_job_ids: Vec<String>,
    /// Journals left `planned` by a crashed apply; the next store-writing command resolves them.
    pub unresolved_journals: Vec<String>,
    /// What `apply` with the same selection would do.
    pub summary: Summary,
}

/// The last line of `check`: how many jobs `apply` would change and whether it would refuse.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub would_change: u64,
    /// `apply`'s default `--max-changes`.
    pub max_changes: usize,
    pub apply_would_refuse: bool,
}

impl CheckReport {
    pub fn new(
        database: String,
        criteria: Criteria,
        survey: Survey,
        rolled_back: bool,
        stats_only: bool,
    ) -> Self {
        CheckReport {
            database,
            schema: survey.variant,
            criteria,
            rolled_back_hot_journal: rolled_back,
            summary: Summary {
                would_change: survey.stats.stale,
                max_changes: crate::cli::DEFAULT_MAX_CHANGES,
                apply_would_refuse: survey.stats.stale > crate::cli::DEFAULT_MAX_CHANGES as u64,
            },
            stats: survey.stats,
            stale_jobs: (!stats_only).then_some(survey.stale),
            age_unknown: survey.age_unknown,
            unknown_job_ids: survey.unknown_job_ids,
            unresolved_journals: Vec::new(),
        }
    }
}

/// `24`, `1.5`: hours as the operator typed them.
pub fn hours(h: f64) -> String {
    if h.fract() == 0.0 {
        format!("{h:.0}")
    } else {
        format!("{h}")
    }
}

fn count(n: u64) -> String {
    t!("{n}개", "{n}")
}

pub fn render_stats(out: &mut String, style: Style, stats: &Stats, criteria: &Criteria) {
    heading(
        out,
        style,
        &t!("📈 전체 작업 상태 통계", "📈 Job status statistics"),
    );
    // The four statuses of the app always appear, in the guide's order; then anything else.
    let mut rows: Vec<(String, u64)> = ["pending", "processing", "completed", "failed"]
        .iter()
        .map(|s| (s.to_string(), stats.by_status.get(*s).copied().unwrap_or(0)))
        .collect();
    for (status, n) in &stats.by_status {
        if !matches!(
            status.as_str(),
            "pending" | "processing" | "completed" | "failed"
        ) {
            rows.push((format!("{status:?}"), *n));
        }
    }
    if stats.null_status > 0 {
        rows.push(("(NULL)".to_string(), stats.null_status));
    }
    let width = rows
        .iter()
        .map(|(_, n)| n.to_string().len())
        .max()
        .unwrap_or(1)
        .max(stats.total.to_string().len())
        .max(4);
    let label_width = rows
        .iter()
        .map(|(s, _)| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    for (status, n) in &rows {
        out.push_str(&format!(
            "  {status:<label_width$} : {}\n",
            with_unit(*n, width)
        ));
    }
    out.push_str(&format!("  {}\n", "─".repeat(label_width + 10)));
    out.push_str(&format!(
        "  {:<label_width$} : {}\n\n",
        "total",
        with_unit(stats.total, width)
    ));
    out.push_str(&t!(
        "📅 7일 이상 된 작업: {}\n",
        "📅 Jobs older than 7 days: {}\n",
        count(stats.older_than_7_days)
    ));
    out.push_str(&t!(
        "💾 정리 대상 ({}시간 이상 중단): {}\n",
        "💾 Cleanup targets (stalled {}+ hours): {}\n",
        hours(criteria.hours),
        count(stats.stale)
    ));
    if stats.age_unknown > 0 {
        out.push_str(&t!(
            "❔ 시간을 알 수 없는 작업: {}\n",
            "❔ Jobs of unknown age: {}\n",
            count(stats.age_unknown)
        ));
    }
}

/// A count right-aligned in `width` digits, with the Korean unit after it.
fn with_unit(n: u64, width: usize) -> String {
    t!("{n:>width$}개", "{n:>width$}")
}

/// A change's or a skipped row's reason as a sentence of the current language.
pub fn reason_text(reason: &ChangeReason) -> String {
    let shown = crate::journal::shown_value;
    let code = match reason {
        ChangeReason::Text(text) => return text.clone(),
        ChangeReason::Code(code) => code,
    };
    match code {
        ReasonCode::Partial { completed, total } => {
            t!("부분 완료 {}/{}", "partial {}/{}", completed, total)
        }
        ReasonCode::NoFileCompleted => t!("완료된 파일 없음", "no file completed"),
        ReasonCode::Revert {
            journal,
            forced: true,
        } => t!(
            "{} 되돌리기 (--force: 그 사이 바뀐 값 덮어씀)",
            "revert of {} (--force over a later change)",
            journal
        ),
        ReasonCode::Revert { journal, .. } => t!("{} 되돌리기", "revert of {}", journal),
        ReasonCode::DeletedSinceCheck => t!(
            "확인 이후 행이 삭제됨",
            "the row was deleted since the check"
        ),
        ReasonCode::StatusChangedSinceCheck { now } => t!(
            "확인 이후 상태가 {}(으)로 바뀜 (다른 프로그램이 변경)",
            "status changed since the check: now {} (changed by another program)",
            shown(now)
        ),
        ReasonCode::AgeUnknownSinceCheck { column, value } => t!(
            "확인 이후 나이를 알 수 없게 됨 ({} = {})",
            "its age can no longer be judged since the check ({} = {})",
            column,
            shown(value)
        ),
        ReasonCode::ActiveSinceCheck => t!(
            "확인 이후 진행 기록이 있음 (더 이상 중단된 작업이 아님)",
            "activity since the check: no longer stale"
        ),
        ReasonCode::StatusChangedMeanwhile { now } => t!(
            "그 사이 상태가 {}(으)로 바뀜 (다른 프로그램이 변경)",
            "its status became {} meanwhile (changed by another program)",
            shown(now)
        ),
        ReasonCode::DeletedMeanwhile => t!("그 사이 행이 삭제됨", "the row was deleted meanwhile"),
        ReasonCode::RecoveredNotNew { now } => t!(
            "복구 시점에 새 값이 아니었음 (현재 {})",
            "not at its new value when the crash was recovered (now {})",
            shown(now)
        ),
        ReasonCode::RecoveredDeleted => t!("행이 삭제됨", "row deleted"),
    }
}

pub fn render_stale_jobs(
    out: &mut String,
    style: Style,
    jobs: &[StaleJob],
    criteria: &Criteria,
    now: DateTime<Utc>,
) {
    out.push('\n');
    heading(
        out,
        style,
        &t!(
            "📊 중단된 작업 정리 리포트 ({}시간 이상 경과)",
            "📊 Stale job cleanup report (over {} hours)",
            hours(criteria.hours)
        ),
    );
    if jobs.is_empty() {
        out.push_str(&style.good(&t!("✅ 정리할 작업이 없습니다.\n", "✅ No stale jobs.\n")));
        return;
    }
    let none = || t!("(없음)", "(none)");
    for (i, job) in jobs.iter().enumerate() {
        let arrow = format!(
            "{} → {} ({})",
            esc(&job.status),
            job.planned_status.status(),
            reason_text(&plan_reason(job).into())
        );
        out.push_str(&format!(
            "{}. Job ID: {}\n",
            i + 1,
            style.bold(&esc(job.job_id.as_deref().unwrap_or("(NULL)")))
        ));
        out.push_str(&t!(
            "   직원: {}\n",
            "   Employee: {}\n",
            esc(&job.emp_id.clone().unwrap_or_else(none))
        ));
        out.push_str(&t!("   상태: {}\n", "   Status: {}\n", arrow));
        out.push_str(&t!(
            "   폴더: {}\n",
            "   Folder: {}\n",
            esc(&job.folder_path.clone().unwrap_or_else(none))
        ));
        out.push_str(&t!(
            "   생성일: {} ({})\n",
            "   Created: {} ({})\n",
            display(job.created_at),
            ago(job.created_at, now)
        ));
        out.push_str(&t!(
            "   마지막 활동: {} ({})\n",
            "   Last activity: {} ({})\n",
            display(job.last_activity),
            ago(job.last_activity, now)
        ));
        let f = &job.files;
        out.push_str(&t!(
            "   파일 분석: {}개 (완료: {}개, 실패: {}개, 미완료: {}개)\n\n",
            "   Files: {} (completed: {}, failed: {}, not done: {})\n\n",
            f.total,
            f.completed,
            f.failed,
            f.pending
        ));
    }
}

/// The warnings of a survey (a hot journal rolled back, jobs of unknown age, unknown job ids),
/// which the check and apply reports each follow with warnings of their own.
pub fn survey_warnings(
    style: Style,
    unknown: &[UnknownAge],
    unknown_ids: &[String],
    rolled_back: bool,
) -> String {
    let mut out = String::new();
    if rolled_back {
        out.push_str(&style.warn(&t!(
            "ℹ️  중단된 쓰기가 남긴 핫 저널을 SQLite 가 롤백했습니다 (앱의 다음 연결이 했을 복구).\n",
            "ℹ️  SQLite rolled back a hot journal left by a crashed writer (the recovery the app's next connection would do).\n"
        )));
    }
    if !unknown.is_empty() {
        let list = unknown
            .iter()
            .map(|u| {
                let id =
                    esc(&u.job_id.clone().unwrap_or_else(|| format!("id={}", u.id))).into_owned();
                match &u.value {
                    Some(v) => format!("{id} ({}={v:?})", u.column),
                    None => format!("{id} ({}=NULL)", u.column),
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&style.warn(&t!(
            "⚠️  시간을 읽을 수 없어 정리하지 않는 작업 {}개: {}\n",
            "⚠️  {} job(s) of unknown age, never cleaned: {}\n",
            unknown.len(),
            list
        )));
    }
    if !unknown_ids.is_empty() {
        out.push_str(&style.warn(&t!(
            "⚠️  찾을 수 없는 Job ID: {}\n",
            "⚠️  no job with job_id: {}\n",
            esc(&unknown_ids.join(", "))
        )));
    }
    out
}

impl Render for CheckReport {
    fn render(&self, out: &mut String, style: Style) {
        render_stats(out, style, &self.stats, &self.criteria);
        if let Some(jobs) = &self.stale_jobs {
            render_stale_jobs(out, style, jobs, &self.criteria, self.criteria.now);
        }
        let mut warnings = survey_warnings(
            style,
            &self.age_unknown,
            &self.unknown_job_ids,
            self.rolled_back_hot_journal,
        );
        if !self.unresolved_journals.is_empty() {
            warnings.push_str(&style.warn(&t!(
                "⚠️  중단된 apply 가 남긴 미확정 저널: {} (다음 apply/snapshot/restore 가 정리합니다; jobsweep log 참고)\n",
                "⚠️  unresolved journal(s) left by an interrupted apply: {} (the next apply/snapshot/restore resolves them; see jobsweep log)\n",
                self.unresolved_journals.join(", ")
            )));
        }
        if !warnings.is_empty() {
            if !out.ends_with("\n\n") {
                out.push('\n');
            }
            out.push_str(&warnings);
        }
        // Last, so that it is what stays on screen after a long list.
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        let (n, max) = (self.summary.would_change, self.summary.max_changes);
        let line = if n == 0 {
            style.good(&t!(
                "📋 요약: 바뀔 작업이 없습니다.",
                "📋 Summary: no job would change."
            ))
        } else if self.summary.apply_would_refuse {
            style.warn(&t!(
                "📋 요약: 작업 {n}개가 바뀌게 됩니다. --max-changes {max} 을(를) 넘어 apply 는 거부합니다 (exit 7): 목록과 시계, --db-timezone 을 확인한 뒤 맞다면 apply --max-changes {n} 으로 실행하세요.",
                "📋 Summary: {n} job(s) would change: more than --max-changes {max}, so apply would refuse (exit 7); check the list, the clock and --db-timezone, and if right run apply --max-changes {n}."
            ))
        } else {
            t!(
                "📋 요약: 작업 {n}개가 바뀌게 됩니다 (--max-changes {max} 이내: apply 가 바꿉니다).",
                "📋 Summary: {n} job(s) would change (within --max-changes {max}: apply would change them)."
            )
        };
        out.push_str(&line);
        out.push('\n');
    }
}
