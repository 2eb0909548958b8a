//! `check`: the report, its numbers, its options and every bad input of the foundation issue.

use crate::common::*;
use predicates::prelude::*;

#[test]
fn guide_fixture_reports_the_guides_numbers() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["guide"]);
        let out = run(&env, &["--json", "check"]);
        assert!(out.status.success(), "{variant}: {}", stderr(&out));
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

/// Runs `check --json` on `env` and returns the document.
fn check_json(env: &TestEnv, extra: &[&str]) -> serde_json::Value {
    let out = env
        .cmd()
        .arg("--json")
        .arg("check")
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout_json(&out)
}

fn stale_ids(doc: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = doc["stale_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn activity_keeps_a_long_running_job_that_created_at_alone_would_clean() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["edge"]);
        let by_activity = check_json(&env, &[]);
        assert_eq!(
            stale_ids(&by_activity),
            ["edge_stale_offset", "edge_stale_t_z", "edge_stale_unix"],
            "{variant}"
        );
        let by_created = check_json(&env, &["--by", "created"]);
        assert_eq!(
            stale_ids(&by_created),
            [
                "edge_bad_activity",
                "edge_recent_progress",
                "edge_stale_offset",
                "edge_stale_t_z",
                "edge_stale_unix"
            ],
            "{variant}"
        );
    }
}

#[test]
fn unreadable_timestamps_make_the_age_unknown_and_are_listed() {
    let env = TestEnv::with("current", &["edge"]);
    let doc = check_json(&env, &[]);
    let unknown: Vec<(&str, &str)> = doc["age_unknown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["job_id"].as_str().unwrap(), u["column"].as_str().unwrap()))
        .collect();
    assert_eq!(
        unknown,
        [
            ("edge_bad_created", "created_at"),
            ("edge_null_created", "created_at"),
            ("edge_bad_activity", "analysis_results.updated_at")
        ]
    );
    assert_eq!(doc["stats"]["age_unknown"], 3);
    env.cmd()
        .arg("check")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "3 job(s) of unknown age, never cleaned: edge_bad_created (created_at=\"yesterday\")",
        ));
}

#[test]
fn every_status_is_counted_including_unknown_values_and_null() {
    let env = TestEnv::with("legacy", &["edge"]);
    let stats = check_json(&env, &[])["stats"].clone();
    assert_eq!(stats["by_status"]["pending"], 5);
    assert_eq!(stats["by_status"]["processing"], 3);
    assert_eq!(stats["by_status"]["completed"], 1);
    assert_eq!(stats["by_status"]["failed"], 1);
    assert_eq!(stats["by_status"]["cancelled"], 1);
    assert_eq!(stats["by_status"]["PROCESSING"], 1);
    assert_eq!(stats["null_status"], 1);
    assert_eq!(stats["total"], 13);
    assert_eq!(stats["older_than_7_days"], 4);
}

#[test]
fn files_are_counted_from_file_ids_or_else_from_results() {
    let env = TestEnv::with("current", &["guide", "edge"]);
    let doc = check_json(&env, &[]);
    let job = |id: &str| {
        doc["stale_jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == id)
            .unwrap()
            .clone()
    };
    // file_ids is not JSON: the four result rows are the files.
    assert_eq!(
        job("edge_stale_offset")["files"],
        serde_json::json!({"total": 4, "completed": 1, "failed": 0, "pending": 3})
    );
    assert_eq!(job("edge_stale_offset")["planned_status"], "completed");
    // file_ids NULL, two result rows of which one completed.
    assert_eq!(job("job_pending_03")["files"]["total"], 2);
    assert_eq!(job("job_pending_03")["planned_status"], "completed");
    // no completed file at all: failed, not completed as the old script did.
    assert_eq!(
        job("job_xyz789ghi")["files"],
        serde_json::json!({"total": 6, "completed": 0, "failed": 2, "pending": 4})
    );
    assert_eq!(job("job_xyz789ghi")["planned_status"], "failed");
}

#[test]
fn hours_threshold_is_strict_and_accepts_fractions() {
    let env = TestEnv::with("current", &["guide"]);
    // job_pending_05 was created 28h35m before "now".
    assert!(
        stale_ids(&check_json(&env, &["--hours", "28.5"])).contains(&"job_pending_05".to_string())
    );
    assert!(
        !stale_ids(&check_json(&env, &["--hours", "28.6"])).contains(&"job_pending_05".to_string())
    );
    assert_eq!(check_json(&env, &["--hours", "1000"])["stats"]["stale"], 0);
}

#[test]
fn job_and_emp_narrow_the_set() {
    let env = TestEnv::with("current", &["guide"]);
    let doc = check_json(&env, &["--emp", "emp004"]);
    assert_eq!(stale_ids(&doc), ["job_pending_03", "job_pending_04"]);
    let doc = check_json(
        &env,
        &[
            "--job",
            "job_abc123def",
            "--job",
            "job_pending_05",
            "--job",
            "job_typo",
        ],
    );
    assert_eq!(stale_ids(&doc), ["job_abc123def", "job_pending_05"]);
    assert_eq!(doc["unknown_job_ids"], serde_json::json!(["job_typo"]));
    assert_eq!(doc["stats"]["total"], 2);
}

#[test]
fn db_timezone_reads_naive_values_in_that_zone() {
    let env = TestEnv::with("current", &["guide"]);
    // Read as Seoul time, job_pending_05 (20:10 naive) happened 9 hours earlier in UTC: it is
    // 37h35m old, so --hours 30 includes it only with the offset. (A naive --now would be read
    // in the same zone, so "now" is given with its Z.)
    assert!(
        !stale_ids(&check_json(&env, &["--hours", "30"])).contains(&"job_pending_05".to_string())
    );
    let doc = check_json(
        &env,
        &[
            "--hours",
            "30",
            "--db-timezone",
            "+09:00",
            "--now",
            "2026-02-25T00:45:15Z",
        ],
    );
    assert!(stale_ids(&doc).contains(&"job_pending_05".to_string()));
}

#[test]
fn stats_only_and_exit_code() {
    let env = TestEnv::with("current", &["guide"]);
    env.cmd()
        .args(["check", "--stats"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "Cleanup targets (stalled 24+ hours): 7",
        ))
        .stdout(predicates::str::contains("Stale job cleanup report").not());
    assert!(check_json(&env, &["--stats"]).get("stale_jobs").is_none());
    env.cmd().args(["check", "--exit-code"]).assert().code(1);
    env.cmd()
        .args(["check", "--exit-code", "--hours", "1000"])
        .assert()
        .code(0);
}

#[test]
fn quiet_prints_no_report_but_keeps_the_exit_code_and_json() {
    let env = TestEnv::with("current", &["guide"]);
    env.cmd()
        .args(["-q", "check", "--exit-code"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
    env.cmd()
        .args(["-q", "--json", "check"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"stale\":7"));
}

#[test]
fn no_command_runs_check() {
    let env = TestEnv::with("current", &["guide"]);
    env.cmd()
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "Cleanup targets (stalled 24+ hours): 7",
        ));
}

#[test]
fn language_follows_jobsweep_lang_then_lang() {
    let env = TestEnv::with("current", &["guide"]);
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = bare_cmd();
        cmd.arg("--db")
            .arg(&env.db)
            .args(["--now", NOW, "check", "--stats"]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    assert!(run(&[("LANG", "ko_KR.UTF-8")]).contains("전체 작업 상태 통계"));
    assert!(run(&[("LANG", "en_US.UTF-8")]).contains("Job status statistics"));
    assert!(
        run(&[("LANG", "en_US.UTF-8"), ("LC_ALL", "ko_KR.UTF-8")]).contains("전체 작업 상태 통계")
    );
    assert!(
        run(&[("LANG", "ko_KR.UTF-8"), ("JOBSWEEP_LANG", "en")]).contains("Job status statistics")
    );
}

#[test]
fn database_is_found_through_data_dir_and_jobsweep_db() {
    let env = TestEnv::with("current", &["guide"]);
    bare_cmd()
        .env("DATA_DIR", env.dir.path())
        .args(["--now", NOW, "--lang", "en", "--json", "check", "--stats"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"total\":1257"));
    bare_cmd()
        .env("JOBSWEEP_DB", &env.db)
        .args(["--now", NOW, "--lang", "en", "check", "--stats"])
        .assert()
        .success();
}

#[test]
fn check_writes_nothing_and_creates_no_store() {
    for mode in ["delete", "wal"] {
        let env = TestEnv::with("current", &["guide", "edge"]);
        env.conn()
            .pragma_update(None, "journal_mode", mode)
            .unwrap();
        let before = std::fs::read(&env.db).unwrap();
        env.cmd().args(["check"]).assert().success();
        env.cmd()
            .args(["--json", "check", "--by", "created"])
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&env.db).unwrap(),
            before,
            "{mode}: database bytes changed"
        );
        assert!(!env.store().exists(), "{mode}: check created the store");
        assert!(!env.path("database.db-journal").exists());
    }
}

#[test]
fn check_rolls_back_a_hot_journal_and_says_so() {
    let env = TestEnv::with("current", &["guide"]);
    crash_a_writer(&env);
    let doc = check_json(&env, &["--stats"]);
    assert_eq!(doc["rolled_back_hot_journal"], true);
    assert_eq!(doc["stats"]["by_status"]["completed"], 1250);
    assert_eq!(doc["stats"]["by_status"]["processing"], 2);
    assert!(!env.path("database.db-journal").exists());
    // Once recovered, the next run has nothing to say about it.
    assert_eq!(
        check_json(&env, &["--stats"])["rolled_back_hot_journal"],
        false
    );
    crash_a_writer(&env);
    env.cmd()
        .args(["check", "--stats"])
        .assert()
        .success()
        .stdout(predicates::str::contains("rolled back a hot journal"));
}

// ---- bad input: one clear line, the spec's exit code, the file untouched ----

fn check_fails_on(env: &TestEnv, code: i32, needle: &str) {
    let before = std::fs::read(&env.db).ok();
    let out = env.cmd().arg("check").output().unwrap();
    assert_error_containing(&out, code, needle);
    assert_eq!(std::fs::read(&env.db).ok(), before, "the file changed");
    assert!(!env.store().exists());
}

#[test]
fn missing_path_is_exit_3() {
    let env = TestEnv::empty();
    check_fails_on(&env, 3, "database not found");
    assert!(!env.db.exists(), "check created the missing file");
}

#[test]
fn directory_is_exit_3() {
    let env = TestEnv::empty();
    std::fs::create_dir(&env.db).unwrap();
    check_fails_on(&env, 3, "is a directory");
}

#[test]
fn empty_file_is_exit_3() {
    let env = TestEnv::empty();
    std::fs::write(&env.db, b"").unwrap();
    check_fails_on(&env, 3, "empty file");
}

#[test]
fn text_file_is_exit_3() {
    let env = TestEnv::empty();
    std::fs::write(&env.db, "job_id,status\njob_1,pending\n".repeat(50)).unwrap();
    check_fails_on(&env, 3, "not an SQLite database");
}

#[test]
fn truncated_database_is_exit_3() {
    let env = TestEnv::with("current", &["guide"]);
    let bytes = std::fs::read(&env.db).unwrap();
    std::fs::write(&env.db, &bytes[..bytes.len() / 2]).unwrap();
    check_fails_on(&env, 3, "truncated");
}

#[test]
fn database_without_jobs_table_is_exit_3() {
    let env = TestEnv::empty();
    rusqlite::Connection::open(&env.db).unwrap().execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('x');").unwrap();
    check_fails_on(&env, 3, "no analysis_jobs table");
}

#[test]
fn jobs_table_without_status_is_exit_3() {
    let env = TestEnv::empty();
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE analysis_jobs (id INTEGER PRIMARY KEY, job_id TEXT, created_at TEXT);
             CREATE TABLE analysis_results (id INTEGER PRIMARY KEY, job_id TEXT, status TEXT);",
        )
        .unwrap();
    check_fails_on(&env, 3, "analysis_jobs has no column status");
}

#[test]
fn the_real_empty_legacy_file_works() {
    let env = TestEnv::empty();
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/legacy-database.db");
    assert!(
        reference.exists(),
        "{} is not beside this checkout (the shared/ reference files are needed)",
        reference.display()
    );
    std::fs::copy(&reference, &env.db).unwrap();
    let before = std::fs::read(&env.db).unwrap();
    let doc = check_json(&env, &[]);
    assert_eq!(doc["schema"], "legacy");
    assert_eq!(doc["stats"]["total"], 0);
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
}

#[test]
fn database_locked_past_the_busy_timeout_is_exit_3() {
    let env = TestEnv::with("current", &["guide"]);
    let before = std::fs::read(&env.db).unwrap();
    let holder = env.conn();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = std::time::Instant::now();
    let out = run(&env, &["--busy-timeout", "300", "check"]);
    assert_error_containing(&out, 3, "locked");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "gave up before the busy timeout"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
}

#[test]
fn unreadable_file_is_exit_3() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::with("current", &["guide"]);
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o000)).unwrap();
    let before = std::fs::read(&env.db).unwrap();
    let out = unprivileged_cmd(&env).arg("check").output().unwrap();
    assert_error_containing(&out, 3, "cannot read");
    assert!(stderr(&out).contains("ermission denied"));
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
}

#[test]
fn bad_hours_are_usage_errors() {
    let env = TestEnv::with("current", &["guide"]);
    let before = std::fs::read(&env.db).unwrap();
    for hours in ["0", "-3", "abc", "", "nan"] {
        let out = run(&env, &["check", "--hours", hours]);
        assert_eq!(out.status.code(), Some(2), "--hours {hours:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--hours"),
            "--hours {hours:?}"
        );
    }
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
}

#[test]
fn bad_now_and_timezone_are_usage_errors() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["--now", "next tuesday", "check"]);
    assert_error_containing(&out, 2, "--now");
    let out = run(&env, &["--db-timezone", "Mars/Olympus", "check"]);
    assert_error_containing(&out, 2, "--db-timezone");
}

#[test]
fn a_large_legacy_file_gives_the_same_report_in_both_journal_modes() {
    // Over 240,000 result rows without an index on job_id; the stale jobs' rows that matter are
    // at the far end of the table. Rollback-journal and WAL mode give the same answers.
    let env = TestEnv::with("legacy", &["guide", "edge"]);
    env.conn()
        .execute_batch(
            "BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 240000)
             INSERT INTO analysis_results (job_id, file_id, stt_text, created_at)
             SELECT printf('job_%06d', 1 + i % 1250), 'bulk.wav', 'x', '2026-02-20 00:00:00' FROM n;
             -- results of stale jobs at the far end of the table, one of them recent activity
             INSERT INTO analysis_results (job_id, file_id, stt_text, created_at) VALUES
                 ('job_pending_01', 'late.wav', 'done', '2026-02-21 10:00:00'),
                 ('job_pending_04', 'late.wav', NULL, '2026-02-25 00:30:00');
             COMMIT;",
        )
        .unwrap();
    let split = check_json(&env, &[]);
    env.conn()
        .pragma_update(None, "journal_mode", "wal")
        .unwrap();
    let single = check_json(&env, &[]);
    assert_eq!(split["stale_jobs"], single["stale_jobs"]);
    assert_eq!(split["stats"], single["stats"]);
    let ids = stale_ids(&split);
    assert!(
        !ids.contains(&"job_pending_04".to_string()),
        "recent activity at the end of the table was missed"
    );
    let p1 = split["stale_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == "job_pending_01")
        .unwrap();
    assert_eq!(p1["files"]["completed"], 1);
    assert_eq!(p1["planned_status"], "completed");
}

#[test]
fn sqlalchemy_sqlite_urls_name_the_same_file_as_its_path() {
    let env = TestEnv::with("current", &["guide"]);
    let plain = stdout_json(&run(&env, &["--json", "check"]));
    let absolute = format!("sqlite:///{}", env.db.display());
    let by_url = bare_cmd()
        .args([
            "--db", &absolute, "--lang", "en", "--now", NOW, "--json", "check",
        ])
        .output()
        .unwrap();
    assert!(by_url.status.success(), "{}", stderr(&by_url));
    assert_eq!(stdout_json(&by_url), plain);
    // `sqlite:///relative` is taken from the current directory, like a relative path.
    let relative = bare_cmd()
        .current_dir(env.dir.path())
        .args([
            "--db",
            "sqlite:///database.db",
            "--lang",
            "en",
            "--now",
            NOW,
        ])
        .args(["--json", "check"])
        .output()
        .unwrap();
    assert!(relative.status.success(), "{}", stderr(&relative));
    let mut doc = stdout_json(&relative);
    assert_eq!(doc["database"], "database.db");
    doc["database"] = plain["database"].clone();
    assert_eq!(doc, plain);
}

#[test]
fn a_journal_written_through_a_url_belongs_to_the_file_its_path_names() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let url = format!("sqlite:///{}", env.db.display());
    let applied = bare_cmd()
        .args([
            "--db", &url, "--lang", "en", "--now", NOW, "--json", "apply",
        ])
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert_ne!(dump(&env.db), before);
    // Reverted through the plain path: the journal names the same database.
    let out = run(&env, &["restore", "--journal", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        status_of(&env, "job_abc123def").as_deref(),
        Some("processing")
    );
}
