//! Why a row was changed or passed over, as data: a code and its numbers or values. Journals
//! and `--json` carry this value; only the renderer turns it into a sentence, in the operator's
//! language, so a journal written under one locale reads the same under another (design.md §4).

use serde::{Deserialize, Serialize};

use crate::core::jobs::{Plan, StaleJob};

/// The reason of a change or of a skipped row. Journals written before reasons were codes hold
/// a sentence; it is read back as `Text` and written back unchanged, so their checksums hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChangeReason {
    Code(ReasonCode),
    /// A sentence of an older journal, shown as it was written.
    Text(String),
}

/// The reasons jobsweep gives today. Values (`now`, `value`) are the column's value, `None`
/// for SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ReasonCode {
    /// Some files of the job completed: it becomes `completed`.
    Partial { completed: i64, total: i64 },
    /// No file of the job completed: it becomes `failed`.
    NoFileCompleted,
    /// A revert of journal `journal`; `forced` when `--force` set back a later change.
    Revert {
        journal: String,
        #[serde(default, skip_serializing_if = "is_false")]
        forced: bool,
    },
    /// Skipped by apply: the row was deleted between the check and the write lock.
    DeletedSinceCheck,
    /// Skipped by apply: another program changed the status since the check.
    StatusChangedSinceCheck { now: Option<String> },
    /// Skipped by apply: the job's age can no longer be judged (`column` holds `value`).
    AgeUnknownSinceCheck {
        column: String,
        value: Option<String>,
    },
    /// Skipped by apply: the job made progress since the check.
    ActiveSinceCheck,
    /// Not changed: another program changed the status between the look and the update.
    StatusChangedMeanwhile { now: Option<String> },
    /// Not changed: the row was deleted between the look and the update.
    DeletedMeanwhile,
    /// Crash recovery by row values: the row did not hold its new value (now `now`).
    RecoveredNotNew { now: Option<String> },
    /// Crash recovery by row values: the row was deleted.
    RecoveredDeleted,
}

/// Why a stale job gets its planned status (design.md §2).
pub fn plan_reason(job: &StaleJob) -> ReasonCode {
    match job.planned_status {
        Plan::Completed => ReasonCode::Partial {
            completed: job.files.completed,
            total: job.files.total,
        },
        Plan::Failed => ReasonCode::NoFileCompleted,
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl From<ReasonCode> for ChangeReason {
    fn from(code: ReasonCode) -> Self {
        ChangeReason::Code(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_data() {
        let r: ChangeReason = ReasonCode::Partial {
            completed: 8,
            total: 15,
        }
        .into();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"code":"partial","completed":8,"total":15}"#
        );
        let r: ChangeReason = ReasonCode::Revert {
            journal: "j".into(),
            forced: false,
        }
        .into();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"code":"revert","journal":"j"}"#
        );
    }

    #[test]
    fn old_sentences_round_trip_unchanged() {
        let text = r#""부분 완료 8/15""#;
        let r: ChangeReason = serde_json::from_str(text).unwrap();
        assert_eq!(r, ChangeReason::Text("부분 완료 8/15".into()));
        assert_eq!(serde_json::to_string(&r).unwrap(), text);
        let coded: ChangeReason =
            serde_json::from_str(r#"{"code":"status_changed_meanwhile","now":null}"#).unwrap();
        assert_eq!(
            coded,
            ReasonCode::StatusChangedMeanwhile { now: None }.into()
        );
    }
}
