//! `apply`: the changes match `check`, the journal and snapshot it leaves, crash safety at each
//! step (test-only fail points), and every bad input and race of issue 4.

use std::path::PathBuf;

use crate::common::*;

/// The guide fixture's stale jobs and the status `apply` gives each.
pub const GUIDE_PLAN: &[(&str, &str, &str)] = &[
    ("job_abc123def", "processing", "completed"),
    ("job_xyz789ghi", "processing", "failed"),
    ("job_pending_01", "pending", "failed"),
    ("job_pending_02", "pending", "failed"),
    ("job_pending_03", "pending", "completed"),
    ("job_pending_04", "pending", "failed"),
    ("job_pending_05", "pending", "failed"),
];

/// What the database should hold after the guide fixture's apply: built by hand from a twin.
pub fn expected_after(variant: &str) -> String {
    let twin = TestEnv::with(variant, &["guide"]);
    for (job, _, after) in GUIDE_PLAN {
        twin.conn()
            .execute(
                "UPDATE analysis_jobs SET status = ?1 WHERE job_id = ?2",
                [after, job],
            )
            .unwrap();
    }
    dump(&twin.db)
}

#[test]
fn apply_changes_exactly_what_check_reports_and_only_their_status() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["guide"]);
        let before = dump(&env.db);
        let check = stdout_json(&run(&env, &["--json", "check"]));
        // (job_id, new status) of each item of `list`, sorted.
        let statuses = |list: &serde_json::Value, status: &str| {
            let mut pairs: Vec<(String, String)> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|j| {
                    (
                        j["job_id"].as_str().unwrap().to_string(),
                        j[status].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            pairs.sort();
            pairs
        };
        let planned = statuses(&check["stale_jobs"], "planned_status");
        let report = apply_ok(&env, &[]);
        let changed = statuses(&report["changed"], "after");
        assert_eq!(planned, changed, "{variant}: apply differs from check");
        assert_eq!(report["skipped"].as_array().unwrap().len(), 0);
        // Every table is as before except the status of exactly these rows.
        assert_eq!(dump(&env.db), expected_after(variant), "{variant}");
        assert_ne!(dump(&env.db), before);

        // The journal: committed, checksummed, pointing at a verified pre-apply snapshot.
        let id = report["journal_id"].as_str().unwrap();
        let j = journal(&env, id);
        assert_eq!(j["format"], "jobsweep-journal/1");
        assert_eq!(j["kind"], "apply");
        assert_eq!(j["state"], "committed");
        assert_eq!(j["changes"].as_array().unwrap().len(), 7);
        assert_eq!(j["criteria"]["hours"], 24.0);
        assert_eq!(j["criteria"]["by"], "activity");
        let c = j["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["job_id"] == "job_abc123def")
            .unwrap();
        assert_eq!(c["table"], "analysis_jobs");
        assert_eq!(c["column"], "status");
        assert_eq!(c["before"], "processing");
        assert_eq!(c["after"], "completed");
        // Data, not a sentence (issue 8.1).
        assert_eq!(
            c["reason"],
            serde_json::json!({"code": "partial", "completed": 8, "total": 15})
        );
        let snap = j["snapshot_id"].as_str().unwrap();
        assert_eq!(report["snapshot_id"], snap);
        let manifest = read_json(&manifest_path(&env, snap));
        assert_eq!(manifest["reason"], "pre-apply");
        assert_eq!(j["snapshot_image_sha256"], manifest["image_sha256"]);
        assert_eq!(
            j["db_path"].as_str().unwrap(),
            std::fs::canonicalize(&env.db)
                .unwrap()
                .display()
                .to_string()
        );
    }
}

#[test]
fn apply_prints_the_guides_report_and_one_line_per_change() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("📈 Job status statistics"), "{text}");
    assert!(
        text.contains("📊 Stale job cleanup report (over 24 hours)"),
        "{text}"
    );
    assert!(
        text.contains("✓ job_abc123def: processing → completed"),
        "{text}"
    );
    assert!(
        text.contains("✓ job_pending_01: pending → failed"),
        "{text}"
    );
    assert!(
        text.contains("To undo: jobsweep restore --journal "),
        "{text}"
    );

    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["--lang", "ko", "apply"]);
    let text = stdout(&out);
    assert!(text.contains("📈 전체 작업 상태 통계"), "{text}");
    assert!(
        text.contains("상태: processing → completed (부분 완료 8/15)"),
        "{text}"
    );
    assert!(
        text.contains("✓ job_abc123def: processing → completed"),
        "{text}"
    );
    assert!(
        text.contains("되돌리기: jobsweep restore --journal "),
        "{text}"
    );
}

#[test]
fn selection_options_narrow_what_apply_changes() {
    let env = TestEnv::with("current", &["guide"]);
    let report = apply_ok(&env, &["--job", "job_abc123def"]);
    assert_eq!(report["changed"].as_array().unwrap().len(), 1);
    assert_eq!(
        status_of(&env, "job_abc123def").as_deref(),
        Some("completed")
    );
    assert_eq!(
        status_of(&env, "job_pending_01").as_deref(),
        Some("pending")
    );
}

#[test]
fn nothing_stale_changes_nothing_and_creates_no_store() {
    let env = TestEnv::with("current", &["empty"]);
    let before = dump(&env.db);
    let out = run(&env, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Nothing to change"),
        "{}",
        stdout(&out)
    );
    assert_eq!(dump(&env.db), before);
    assert!(!env.store().exists(), "a store was created for nothing");
}

#[test]
fn max_changes_refuses_before_any_snapshot_or_change() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let out = run(&env, &["apply", "--max-changes", "6"]);
    assert_error_containing(&out, 7, "7 jobs would change");
    assert_eq!(dump(&env.db), before);
    assert!(files_under(&env.store().join("snapshots")).is_empty());
    assert!(journals(&env).is_empty());
    // Exactly at the limit is allowed.
    apply_ok(&env, &["--max-changes", "7"]);
}

#[test]
fn read_only_database_is_refused_and_leaves_no_store() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    // The directory is writable by anyone, so only the file's own mode stops the write, and a
    // store could be created: it must not be.
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = unprivileged_cmd(&env).arg("apply").output().unwrap();
    assert_error_containing(&out, 3, "read-only");
    assert_eq!(dump(&env.db), before);
    assert!(
        !env.store().exists(),
        "store litter: {:?}",
        files_under(&env.store())
    );
}

#[test]
fn corrupt_database_is_refused_without_snapshot_or_journal() {
    let env = TestEnv::with("current", &["guide"]);
    // Wreck a page in the middle of the file: the header and schema stay readable, so only
    // quick_check can tell.
    let mut bytes = std::fs::read(&env.db).unwrap();
    let page = 4096;
    let target = (bytes.len() / page / 2) * page;
    for b in &mut bytes[target..target + page] {
        *b = 0xA5;
    }
    std::fs::write(&env.db, &bytes).unwrap();
    let before = std::fs::read(&env.db).unwrap();
    // The check is the pre-apply snapshot's integrity check (no second pass over the live
    // file): without a store, none is left behind.
    let out = run(&env, &["apply"]);
    assert_error_containing(&out, 3, "corrupt");
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
    assert!(
        !env.store().exists(),
        "store litter: {:?}",
        files_under(&env.store())
    );
    // A store that exists already must not gain a snapshot or journal either.
    std::fs::create_dir_all(env.store()).unwrap();
    let out = run(&env, &["apply"]);
    assert_error_containing(&out, 3, "corrupt");
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
    assert!(files_under(&env.store().join("snapshots")).is_empty());
    assert!(journals(&env).is_empty());
    assert_no_temp_files(&env);
}

/// Starts apply paused before its transaction (fail point); returns the child and its dir.
pub fn start_paused(env: &TestEnv, point: &str) -> (std::process::Child, PathBuf) {
    spawn_paused(env, &["--json", "apply"], point)
}

#[test]
fn two_applies_at_once_one_exits_6() {
    let env = TestEnv::with("current", &["guide"]);
    let (child, dir) = start_paused(&env, "pause-before-transaction");
    let second = run(&env, &["apply"]);
    assert_error(&second, 6);
    assert!(
        stderr(&second).contains("holds the store lock"),
        "{}",
        stderr(&second)
    );
    std::fs::write(dir.join("resume"), b"").unwrap();
    let first = child.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout_json(&first)["changed"].as_array().unwrap().len(), 7);
    assert_eq!(journals(&env).len(), 1, "the refused apply left a journal");
}

#[test]
fn a_job_the_app_finishes_meanwhile_is_skipped_and_its_writes_kept() {
    let env = TestEnv::with("current", &["guide"]);
    let (child, dir) = start_paused(&env, "pause-before-transaction");
    // The app finishes job_abc123def (the last 7 files) while apply stands between its journal
    // and its transaction.
    let app = env.conn();
    let rows_before: i64 = app
        .query_row(
            "SELECT count(*) FROM analysis_results WHERE job_id = 'job_abc123def'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    app.execute_batch(
        "BEGIN;
         UPDATE analysis_results SET status = 'completed', stt_text = 'late transcript',
                updated_at = '2026-02-25 00:45:00' WHERE job_id = 'job_abc123def' AND status <> 'completed';
         INSERT INTO analysis_results (job_id, file_id, stt_text, status, updated_at, created_at)
                VALUES ('job_abc123def', 'f16.wav', 'extra', 'completed', '2026-02-25 00:45:01', '2026-02-25 00:45:01');
         UPDATE analysis_jobs SET status = 'completed', completed_at = '2026-02-25 00:45:02' WHERE job_id = 'job_abc123def';
         COMMIT;",
    )
    .unwrap();
    // A copy of the app's state (every table has an INTEGER PRIMARY KEY, so rowids survive).
    let app_state = env.path("app-state.db");
    app.execute("VACUUM INTO ?1", [app_state.to_str().unwrap()])
        .unwrap();
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0]["job_id"], "job_abc123def");
    assert_eq!(
        skipped[0]["reason"],
        serde_json::json!({"code": "status_changed_since_check", "now": "completed"})
    );
    assert_eq!(report["changed"].as_array().unwrap().len(), 6);
    // Nothing the app wrote is lost.
    let (n, completed_at): (i64, Option<String>) = env
        .conn()
        .query_row(
            "SELECT (SELECT count(*) FROM analysis_results WHERE job_id = 'job_abc123def' AND status = 'completed'),
                    (SELECT completed_at FROM analysis_jobs WHERE job_id = 'job_abc123def')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(n, rows_before + 1, "every result row, completed");
    assert_eq!(completed_at.as_deref(), Some("2026-02-25 00:45:02"));
    // Exactly the app's state plus apply's six other status changes: nothing else moved.
    let copy = rusqlite::Connection::open(&app_state).unwrap();
    for (job, _, after) in GUIDE_PLAN.iter().filter(|(j, _, _)| *j != "job_abc123def") {
        copy.execute(
            "UPDATE analysis_jobs SET status = ?1 WHERE job_id = ?2",
            [after, job],
        )
        .unwrap();
    }
    drop(copy);
    assert_eq!(dump(&env.db), dump(&app_state));
    let j = journal(&env, report["journal_id"].as_str().unwrap());
    assert_eq!(j["state"], "committed");
    assert_eq!(j["changes"].as_array().unwrap().len(), 6);
    assert_eq!(j["skipped"][0]["job_id"], "job_abc123def");
}

/// The planned journal is on disk before the write lock (the app commits meanwhile), and is
/// written again under the lock when the plan changed: a crash inside the transaction leaves
/// exactly the changes that were about to commit, and nothing in the database.
#[test]
fn the_planned_journal_is_written_before_the_lock_and_again_when_the_plan_changed() {
    let env = TestEnv::with("current", &["guide"]);
    let (child, dir) = spawn_paused(
        &env,
        &["--json", "apply"],
        "pause-before-write-lock,in-transaction",
    );
    let left = journals(&env);
    assert_eq!(left.len(), 1, "no planned journal before the write lock");
    let planned = read_json(&left[0]);
    assert_eq!(planned["state"], "planned");
    assert_eq!(planned["changes"].as_array().unwrap().len(), 7);
    // apply holds no lock: the app commits at once (no busy timeout to wait through).
    let app = env.conn();
    app.busy_timeout(std::time::Duration::ZERO).unwrap();
    app.execute(
        "UPDATE analysis_jobs SET status = 'completed' WHERE job_id = 'job_abc123def'",
        [],
    )
    .unwrap();
    let app_state = dump(&env.db);
    resume_until_abort(child, &dir);

    let j = read_json(&left[0]);
    assert_eq!(j["state"], "planned");
    let changes = j["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 6, "{j}");
    assert!(
        changes.iter().all(|c| c["job_id"] != "job_abc123def"),
        "{j}"
    );
    assert_eq!(j["skipped"][0]["job_id"], "job_abc123def", "{j}");
    assert_eq!(dump_after_recovery(&env), app_state);
    // The next run finds no outcome record: abandoned, and its own apply changes the six.
    let report = apply_ok(&env, &[]);
    assert_eq!(report["recovered"][0]["state"], "abandoned", "{report}");
    assert_eq!(report["changed"].as_array().unwrap().len(), 6, "{report}");
}

/// Lets a paused apply go on, and asserts that a fail point then aborted it.
fn resume_until_abort(child: std::process::Child, dir: &std::path::Path) {
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_none(),
        "expected an abort: {}",
        stderr(&out)
    );
}

/// Runs apply until the fail point aborts it.
fn crash_at(env: &TestEnv, point: &str) {
    let out = env
        .cmd()
        .arg("apply")
        .env("JOBSWEEP_FAILPOINT", point)
        .output()
        .unwrap();
    assert!(
        !out.status.success() && out.status.code().is_none(),
        "{point}: expected an abort, got {:?}: {}",
        out.status,
        stderr(&out)
    );
}

/// The database as the app's next connection sees it (which rolls back a hot journal).
fn dump_after_recovery(env: &TestEnv) -> String {
    env.conn()
        .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .unwrap();
    dump(&env.db)
}

#[test]
fn a_crash_at_any_step_leaves_all_before_or_all_after_and_restore_brings_back_before() {
    for point in [
        "after-snapshot",
        "after-planned",
        "in-transaction",
        "after-commit",
    ] {
        let env = TestEnv::with("current", &["guide"]);
        let before = dump(&env.db);
        crash_at(&env, point);
        let now = dump_after_recovery(&env);
        let committed = point == "after-commit";
        if committed {
            assert_eq!(now, expected_after("current"), "{point}: not all-after");
        } else {
            assert_eq!(now, before, "{point}: not all-before");
        }
        let left = journals(&env);
        if point == "after-snapshot" {
            assert!(
                left.is_empty(),
                "{point}: a journal before the planned step"
            );
        } else {
            assert_eq!(left.len(), 1);
            assert_eq!(read_json(&left[0])["state"], "planned", "{point}");
            // log shows it unresolved and does not resolve it.
            let log = stdout_json(&run(&env, &["--json", "log"]));
            assert_eq!(log["unresolved"], 1, "{point}: {log}");
            // check shows it too, and does not resolve it either.
            let check = stdout_json(&run(&env, &["--json", "check", "--stats"]));
            assert_eq!(
                check["unresolved_journals"].as_array().map(Vec::len),
                Some(1),
                "{point}"
            );
            assert_eq!(read_json(&left[0])["state"], "planned");
        }
        // The next store-writing command resolves it from the database.
        let snap = run(&env, &["snapshot"]);
        assert!(snap.status.success(), "{point}: {}", stderr(&snap));
        if let Some(path) = left.first() {
            let j = read_json(path);
            let want = if committed { "committed" } else { "abandoned" };
            assert_eq!(j["state"], want, "{point}");
            if committed {
                assert_eq!(j["changes"].as_array().unwrap().len(), 7);
                assert!(j["committed_at"].is_string());
            }
        }
        if committed {
            let out = run(&env, &["restore", "--journal", "latest"]);
            assert!(out.status.success(), "{point}: {}", stderr(&out));
            assert_eq!(dump(&env.db), before, "{point}: restore is not exact");
        } else {
            // Nothing was changed, so there is nothing to revert; a new apply works normally
            // and its revert is exact.
            let report = apply_ok(&env, &[]);
            assert_eq!(report["changed"].as_array().unwrap().len(), 7, "{point}");
            let out = run(&env, &["restore", "--journal", "latest"]);
            assert!(out.status.success(), "{point}: {}", stderr(&out));
            assert_eq!(dump(&env.db), before, "{point}: restore is not exact");
        }
    }
}

#[test]
fn a_planned_journal_is_resolved_by_the_next_apply_even_with_nothing_stale() {
    let env = TestEnv::with("current", &["guide"]);
    crash_at(&env, "after-commit");
    let report = apply_ok(&env, &[]);
    assert_eq!(report["recovered"][0]["state"], "committed", "{report}");
    assert!(report["journal_id"].is_null(), "{report}");
    assert_eq!(journals(&env).len(), 1);
}

#[test]
fn a_job_that_makes_progress_during_the_snapshot_is_skipped_not_flipped() {
    let env = TestEnv::with("current", &["guide"]);
    let (child, dir) = start_paused(&env, "pause-before-transaction");
    // After the first survey and the snapshot, the app records progress on job_pending_01: its
    // status is unchanged, but it is no longer stale.
    env.conn()
        .execute(
            "INSERT INTO analysis_progress (job_id, file_id, step, progress_percent, status, message, timestamp)
             VALUES ('job_pending_01', 'f1.wav', 'stt', 10, 'processing', 'resumed', '2026-02-25 00:45:00')",
            [],
        )
        .unwrap();
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(
        status_of(&env, "job_pending_01").as_deref(),
        Some("pending"),
        "a job with fresh activity was flipped"
    );
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0]["job_id"], "job_pending_01");
    assert_eq!(
        skipped[0]["reason"],
        serde_json::json!({"code": "active_since_check"}),
        "{report}"
    );
    assert_eq!(report["changed"].as_array().unwrap().len(), 6);
    // The journal (planned and committed alike) holds exactly the six changes.
    let j = journal(&env, report["journal_id"].as_str().unwrap());
    assert_eq!(j["state"], "committed");
    let journaled: Vec<&str> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(journaled.len(), 6);
    assert!(!journaled.contains(&"job_pending_01"));
    assert_eq!(j["skipped"][0]["job_id"], "job_pending_01");
}

/// Runs the guide's apply paused at `point` while `app` writes, and returns (the jobs it
/// skipped as active, sorted, and their statuses after it).
fn skipped_as_active(point: &str, app: &str) -> (Vec<String>, Vec<Option<String>>) {
    let env = TestEnv::with("current", &["guide"]);
    let (child, dir) = start_paused(&env, point);
    env.conn().execute_batch(app).unwrap();
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    let mut skipped: Vec<String> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(
                s["reason"],
                serde_json::json!({"code": "active_since_check"})
            );
            s["job_id"].as_str().unwrap().to_string()
        })
        .collect();
    skipped.sort();
    assert_eq!(
        report["changed"].as_array().unwrap().len(),
        GUIDE_PLAN.len() - skipped.len(),
        "{report}"
    );
    let j = journal(&env, report["journal_id"].as_str().unwrap());
    assert_eq!(
        j["changes"].as_array().unwrap().len(),
        GUIDE_PLAN.len() - skipped.len()
    );
    let statuses = skipped.iter().map(|job| status_of(&env, job)).collect();
    (skipped, statuses)
}

#[test]
fn what_changes_after_the_read_ahead_is_read_again_under_the_lock() {
    // Between the read ahead of the planned jobs and the write lock, the app adds a result row
    // to one planned job and a progress row to another: the marks differ under the lock, so
    // those jobs' rows are read again there, and both jobs are left alone.
    let (skipped, statuses) = skipped_as_active(
        "pause-after-read-ahead",
        "INSERT INTO analysis_results (job_id, file_id, stt_text, status, updated_at, created_at)
             VALUES ('job_abc123def', 'late.wav', 'late', 'processing', NULL, '2026-02-25 00:45:00');
         INSERT INTO analysis_progress (job_id, file_id, step, progress_percent, status, message, timestamp)
             VALUES ('job_pending_02', 'f1.wav', 'stt', 10, 'processing', 'resumed', '2026-02-25 00:45:00');",
    );
    assert_eq!(skipped, ["job_abc123def", "job_pending_02"]);
    assert_eq!(
        statuses,
        [Some("processing".to_string()), Some("pending".to_string())]
    );
    // Only a job's own row changes (restarted: its status stays): the job rows, compared value
    // for value under the lock, differ.
    let (skipped, statuses) = skipped_as_active(
        "pause-after-read-ahead",
        "UPDATE analysis_jobs SET started_at = '2026-02-25 00:45:00' WHERE job_id = 'job_xyz789ghi';",
    );
    assert_eq!(skipped, ["job_xyz789ghi"]);
    assert_eq!(statuses, [Some("processing".to_string())]);
}

#[test]
fn a_planned_job_whose_text_is_not_utf8_is_read_ahead_and_changed() {
    // The app's text columns may hold any bytes: the read ahead keeps them as bytes, never
    // assuming UTF-8 (a job the first survey planned must not make apply fail later).
    let env = TestEnv::with("current", &["guide"]);
    env.conn()
        .execute_batch(
            "UPDATE analysis_jobs SET folder_path = CAST(X'2f64617461ff' AS TEXT),
                    emp_id = CAST(X'ff' AS TEXT) WHERE job_id = 'job_pending_01';",
        )
        .unwrap();
    let report = apply_ok(&env, &[]);
    assert_eq!(
        report["changed"].as_array().unwrap().len(),
        GUIDE_PLAN.len(),
        "{report}"
    );
    assert_eq!(status_of(&env, "job_pending_01").as_deref(), Some("failed"));
}

#[test]
fn a_row_updated_in_place_before_the_read_ahead_is_seen() {
    // An update of an existing result row keeps the row's marks: what catches it is that the
    // read ahead is taken after the journal, right before the lock, not reused from the plan.
    let (skipped, statuses) = skipped_as_active(
        "pause-before-write-lock",
        "UPDATE analysis_results SET updated_at = '2026-02-25 00:45:00'
             WHERE id = (SELECT min(id) FROM analysis_results WHERE job_id = 'job_xyz789ghi');",
    );
    assert_eq!(skipped, ["job_xyz789ghi"]);
    assert_eq!(statuses, [Some("processing".to_string())]);
}

#[test]
fn an_app_lock_past_the_busy_timeout_exits_3_and_leaves_the_store_as_it_was() {
    // BEGIN IMMEDIATE waits for the app's write lock; COMMIT waits for the app's readers.
    for (step, hold) in [("begin", "BEGIN IMMEDIATE"), ("commit", "BEGIN DEFERRED")] {
        let env = TestEnv::with("current", &["guide"]);
        assert!(run(&env, &["snapshot", "--note", "before"])
            .status
            .success());
        let store_before = files_under(&env.store());
        let before = dump(&env.db);
        let out = run_against_a_lock(&env, &["--busy-timeout", "300", "--json", "apply"], hold);
        assert_error(&out, 3);
        assert!(
            stderr(&out).contains("is locked"),
            "{step}: {}",
            stderr(&out)
        );
        assert_eq!(dump(&env.db), before, "{step}: the database changed");
        assert_eq!(
            files_under(&env.store()),
            store_before,
            "{step}: the store kept a snapshot or journal of the failed run"
        );
        // And the next run works normally.
        let report = apply_ok(&env, &[]);
        assert_eq!(report["changed"].as_array().unwrap().len(), 7, "{step}");
    }
}

#[test]
fn recovery_after_commit_journals_only_the_rows_really_changed() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let (child, dir) = spawn_paused(&env, &["apply"], "pause-before-transaction,after-commit");
    // The app finishes job_abc123def itself before apply's transaction: the same `completed`
    // apply had planned for it.
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'completed', completed_at = '2026-02-25 00:45:02'
             WHERE job_id = 'job_abc123def'",
            [],
        )
        .unwrap();
    resume_until_abort(child, &dir);
    let left = journals(&env);
    assert_eq!(left.len(), 1);
    assert_eq!(read_json(&left[0])["state"], "planned");

    // Recovery: committed, with only the six rows apply changed.
    assert!(run(&env, &["snapshot"]).status.success());
    let j = read_json(&left[0]);
    assert_eq!(j["state"], "committed");
    let journaled: Vec<&str> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(journaled.len(), 6, "{j}");
    assert!(!journaled.contains(&"job_abc123def"), "{j}");

    // The revert leaves the job the app finished alone.
    let out = run(&env, &["restore", "--journal", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        status_of(&env, "job_abc123def").as_deref(),
        Some("completed")
    );
    let twin = TestEnv::empty();
    std::fs::copy(&env.db, &twin.db).unwrap();
    twin.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'processing', completed_at = NULL
             WHERE job_id = 'job_abc123def'",
            [],
        )
        .unwrap();
    assert_eq!(
        dump(&twin.db),
        before,
        "everything else is exactly as before"
    );
}

/// The journal and `--json` hold data: a run under `--lang ko` writes the same changes, byte
/// for byte, as one under `--lang en`; only the human report is translated (issue 8.1).
#[test]
fn a_journal_written_under_korean_holds_the_same_data_as_under_english() {
    let mut seen = Vec::new();
    for lang in ["en", "ko"] {
        let env = TestEnv::with("current", &["guide"]);
        let report = apply_ok(&env, &["--lang", lang]);
        let id = report["journal_id"].as_str().unwrap();
        let j = journal(&env, id);
        let text = std::fs::read_to_string(journal_path(&env, id)).unwrap();
        assert!(
            !text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
            "{lang}: translated text in the journal: {text}"
        );
        // The revert journal too.
        let out = run(
            &env,
            &["--lang", lang, "--json", "restore", "--journal", id],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let revert = stdout_json(&out);
        let revert_id = revert["revert_journal_id"].as_str().unwrap();
        let rj = journal(&env, revert_id);
        let revert_changes: Vec<serde_json::Value> = rj["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                // The reverted journal's id differs from run to run.
                assert_eq!(c["reason"]["code"], "revert", "{c}");
                assert_eq!(c["reason"]["journal"], id);
                c["reason"]["journal"] = serde_json::Value::Null;
                c
            })
            .collect();
        seen.push((
            serde_json::to_string(&j["changes"]).unwrap(),
            j["changes_sha256"].clone(),
            serde_json::to_string(&report["changed"]).unwrap(),
            serde_json::to_string(&revert["reverted"].as_array().unwrap().len()).unwrap(),
            serde_json::to_string(&revert_changes).unwrap(),
        ));
    }
    assert_eq!(seen[0], seen[1]);
}

/// In rollback-journal mode a reader keeps the app from committing. `apply`'s first survey is
/// only a plan (the survey under the write lock decides), so it reads the candidates' results in
/// short reads of their own: between them the app commits at once, and the job it finished
/// meanwhile is skipped, not changed.
#[test]
fn the_first_survey_lets_the_app_commit_between_its_reads() {
    // After the jobs are read, and between two batches of the candidates' results.
    for point in ["pause-after-survey-jobs", "pause-between-survey-batches"] {
        let env = TestEnv::with("current", &["guide"]);
        let app = env.conn();
        let mode: String = app
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        add_bulk_jobs(&app);
        let (child, dir) = spawn_paused(&env, &["--json", "apply", "--max-changes", "1000"], point);
        app.busy_timeout(std::time::Duration::ZERO).unwrap();
        app.execute(
            "UPDATE analysis_jobs SET status = 'completed' WHERE job_id = 'bulk_0042'",
            [],
        )
        .unwrap_or_else(|e| panic!("at {point} the app must commit: {e}"));
        std::fs::write(dir.join("resume"), b"").unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["changed"].as_array().unwrap().len(),
            7 + 270 - 1,
            "{point}: {report}"
        );
        assert_eq!(
            report["skipped"][0]["job_id"], "bulk_0042",
            "{point}: {report}"
        );
        let status: String = app
            .query_row(
                "SELECT status FROM analysis_jobs WHERE job_id = 'bulk_0042'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(status, "completed", "{point}");
    }
}

/// Adds 300 pending jobs created days ago, more candidates than one short read of a plan takes,
/// each with a result row: every tenth one's is minutes old (that job is active, not stale).
fn add_bulk_jobs(app: &rusqlite::Connection) {
    app.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
         INSERT INTO analysis_jobs (job_id, emp_id, folder_path, status, created_at)
         SELECT printf('bulk_%04d', i), 'emp001', '/data/bulk', 'pending', '2026-02-20 00:00:00'
         FROM n;
         INSERT INTO analysis_results (job_id, file_id, created_at)
         SELECT job_id, 'f1',
                CASE WHEN id % 10 = 0 THEN '2026-02-25 00:40:00' ELSE '2026-02-20 00:01:00' END
         FROM analysis_jobs WHERE job_id LIKE 'bulk_%';",
    )
    .unwrap();
}

/// A plan read in short batches (current schema: results indexed by `job_id`) or in one read
/// (legacy: no such index) changes exactly the jobs `check` lists.
#[test]
fn a_plan_read_in_batches_changes_what_check_lists() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["guide"]);
        add_bulk_jobs(&env.conn());
        // The job_ids of a report's list, sorted.
        let job_ids = |list: &serde_json::Value| {
            let mut ids: Vec<String> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["job_id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        };
        let stale = job_ids(&stdout_json(&run(&env, &["--json", "check"]))["stale_jobs"]);
        assert_eq!(stale.len(), 7 + 270, "{variant}");
        let report = apply_ok(&env, &["--max-changes", "1000"]);
        assert_eq!(job_ids(&report["changed"]), stale, "{variant}");
    }
}
