//! Long lists in human output (issue 11.5, 11.6, 11.7): the rows that matter (conflicts,
//! reverted rows, skipped jobs) come first, the "... and N more" line names a command that can
//! be run again, and the `--force` hint says whose work it overwrites.

use crate::common::*;

/// The guide fixture plus `n` stale pending jobs (`bulk_0000`, ...), created long ago.
fn with_bulk(n: usize) -> TestEnv {
    let env = TestEnv::with("current", &["guide"]);
    let conn = env.conn();
    for i in 0..n {
        conn.execute(
            "INSERT INTO analysis_jobs (job_id, emp_id, folder_path, file_ids, files_hash, status, options, created_at)
             VALUES (?1, 'emp900', '/data/uploads/bulk', '[\"a.wav\"]', NULL, 'pending', '{}', '2026-02-01 00:00:00')",
            [format!("bulk_{i:04}")],
        )
        .unwrap();
    }
    env
}

#[test]
fn a_conflict_beyond_the_truncation_limit_is_listed_first() {
    let env = with_bulk(230);
    let out = run(&env, &["apply", "--max-changes", "1000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let report = stdout_json(&run(&env, &["--json", "log"]));
    let id = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "apply")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The apply's own "more" line names a command that lists them all and can be re-run.
    assert!(
        text.contains(&format!(
            "... and 37 more (all of them: jobsweep --json diff --journal {id})"
        )),
        "{text}"
    );
    assert!(!text.contains("--json lists them all"), "{text}");
    let full = stdout_json(&run(&env, &["--json", "diff", "--journal", &id]));
    assert_eq!(full["rows"].as_array().unwrap().len(), 237);

    // The app finishes the job journaled last: beyond the first 200 rows.
    let j = journal(&env, &id);
    let last = j["changes"].as_array().unwrap().last().unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'completed' WHERE job_id = ?1",
            [&last],
        )
        .unwrap();
    let text = stdout(&run(&env, &["diff", "--journal", &id]));
    let lines: Vec<&str> = text.lines().collect();
    let first_row = lines
        .iter()
        .position(|l| l.starts_with("  applied") || l.starts_with("  changed since"))
        .unwrap();
    assert!(
        lines[first_row].starts_with(&format!("  changed since  {last}:")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "... and 37 more (all of them: jobsweep --json diff --journal {id})"
        )),
        "{text}"
    );

    // The revert: the conflict first, then the rows set back.
    let out = run(&env, &["restore", "--journal", &id]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stdout(&out);
    let conflict = text
        .find(&format!("✗ {last}: conflict"))
        .unwrap_or_else(|| panic!("{text}"));
    let first_reverted = text.find("✓ ").unwrap();
    assert!(conflict < first_reverted, "{text}");
    assert!(
        text.contains("The app changed these rows since the cleanup"),
        "{text}"
    );
    assert!(
        text.contains("--force would overwrite the app's work"),
        "{text}"
    );
    assert!(
        !text.contains("rerun with --force to set them back too"),
        "{text}"
    );
    // Reverted again after the conflict: the rest was set back; the Korean hint says the same.
    let out = env
        .cmd()
        .args(["--lang", "ko", "restore", "--journal", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("정리 이후 앱이 바꾼 것입니다"), "{text}");
    assert!(
        text.contains("--force 는 앱의 그 작업을 덮어써서"),
        "{text}"
    );
    assert_eq!(status_of(&env, &last).as_deref(), Some("completed"));
}

#[test]
fn apply_lists_skipped_jobs_before_the_changed_ones() {
    let env = with_bulk(230);
    let (child, dir) = spawn_paused(&env, &["apply"], "pause-before-transaction");
    // The app changes a job after the first survey: it is skipped.
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'processing' WHERE job_id = 'bulk_0229'",
            [],
        )
        .unwrap();
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let skipped = text
        .find("⚠ bulk_0229: skipped")
        .expect("the skipped job is listed");
    let changed = text.find("✓ ").unwrap();
    assert!(skipped < changed, "{text}");
}

#[test]
fn check_ends_with_a_summary_that_says_whether_apply_would_refuse() {
    let env = with_bulk(600);
    for (lang, want) in [
        (
            "en",
            "📋 Summary: 607 job(s) would change: more than --max-changes 500, so apply would refuse (exit 7)",
        ),
        (
            "ko",
            "📋 요약: 작업 607개가 바뀌게 됩니다. --max-changes 500 을(를) 넘어 apply 는 거부합니다 (exit 7)",
        ),
    ] {
        for extra in [&[][..], &["--stats"][..]] {
            let out = env
                .cmd()
                .args(["--lang", lang, "check"])
                .args(extra)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            let text = stdout(&out);
            let last = text.lines().last().unwrap_or_default();
            assert!(last.starts_with(want), "{lang} {extra:?}: {last}");
        }
    }
    let doc = stdout_json(&run(&env, &["--json", "check", "--stats"]));
    assert_eq!(
        doc["summary"],
        serde_json::json!({"would_change": 607, "max_changes": 500, "apply_would_refuse": true})
    );
    // And apply does refuse, as announced.
    assert_error(&run(&env, &["apply"]), 7);

    let small = TestEnv::with("current", &["guide"]);
    let text = stdout(&run(&small, &["check"]));
    assert_eq!(
        text.lines().last().unwrap(),
        "📋 Summary: 7 job(s) would change (within --max-changes 500: apply would change them)."
    );
    let none = TestEnv::with("current", &["guide"]);
    let text = stdout(&run(&none, &["check", "--job", "no-such-job"]));
    assert_eq!(
        text.lines().last().unwrap(),
        "📋 Summary: no job would change."
    );
}
