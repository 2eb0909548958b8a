//! `check`: the report, its numbers, its options and every bad input of the foundation issue.

use crate::common::*;
use predicates::prelude::*;

#[test]
fn guide_fixture_reports_the_guides_numbers() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["guide"]);
        let out = env.cmd().args(["--json", "check"]).output().unwrap();
        assert!(
            out.status.success(),
            "{variant}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc = stdout_json(&out);
        let stats = &doc["stats"];
        assert_eq!(stats["by_status"]["pending"], 5, "{variant}");
        assert_eq!(stats["by_status"]["processing"], 2, "{variant}");
        assert_eq!(stats["by_status"]["completed"], 1250, "{variant}");
        assert_eq!(stats["total"], 1257, "{variant}");
        assert_eq!(stats["older_than_7_days"], 45, "{variant}");
        assert_eq!(stats["stale"], 7, "{variant}");
        let guide_job = doc["stale_jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == "job_abc123def")
            .unwrap();
        assert_eq!(guide_job["planned_status"], "completed");
        assert_eq!(guide_job["files"]["total"], 15);
        assert_eq!(guide_job["files"]["completed"], 8);
    }
}

#[test]
fn korean_report_keeps_the_guides_layout() {
    let env = TestEnv::with("current", &["guide"]);
    env.cmd()
        .args(["--lang", "ko", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("📈 전체 작업 상태 통계"))
        .stdout(predicate::str::contains("  pending      :    5개"))
        .stdout(predicate::str::contains("  completed    : 1250개"))
        .stdout(predicate::str::contains("📅 7일 이상 된 작업: 45개"))
        .stdout(predicate::str::contains(
            "💾 정리 대상 (24시간 이상 중단): 7개",
        ))
        .stdout(predicate::str::contains(
            "📊 중단된 작업 정리 리포트 (24시간 이상 경과)",
        ))
        .stdout(predicate::str::contains(
            "상태: processing → completed (부분 완료 8/15)",
        ))
        .stdout(predicate::str::contains(
            "생성일: 2026-02-20 14:30:15 (4일 10시간 전)",
        ))
        .stdout(predicate::str::contains("파일 분석: 15개 (완료: 8개"));
}
