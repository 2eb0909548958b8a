//! The crash-outcome record (design.md §4.2): every apply/revert transaction inserts its journal
//! id into `jobsweep_outcomes` in the same transaction, and a journal left `planned` is resolved
//! from that record, never from row values the app may have changed since. Real processes,
//! killed or failed by the fail points of `src/failpoint.rs`.

use crate::common::*;

/// Runs `args` with the fail points `points` and expects an abort (as by `kill -9`).
fn crash(env: &TestEnv, args: &[&str], points: &str) {
    let out = env
        .cmd()
        .args(args)
        .env("JOBSWEEP_FAILPOINT", points)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_none(),
        "{points}: expected an abort, got {:?}: {}",
        out.status,
        stderr(&out)
    );
}

fn outcome_rows(env: &TestEnv) -> Vec<(String, String)> {
    let conn = env.conn();
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'jobsweep_outcomes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if exists == 0 {
        return Vec::new();
    }
    let mut stmt = conn
        .prepare("SELECT journal_id, kind FROM jobsweep_outcomes ORDER BY journal_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The app re-queues a job that apply finished: the row is back at its old value.
fn app_requeues(env: &TestEnv, job: &str) {
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'pending' WHERE job_id = ?1",
            [job],
        )
        .unwrap();
}

/// The stale jobs of the guide fixture and the status apply gives each.
fn planned(env: &TestEnv) -> Vec<(String, String, String)> {
    let check = stdout_json(&run(env, &["--json", "check"]));
    check["stale_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job_id"].as_str().unwrap().to_string(),
                j["status"].as_str().unwrap().to_string(),
                j["planned_status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// After the crash-and-requeue story of issue 12 (a): recovery says committed (from the record),
/// `log` shows the seven changes, and `restore --journal` sets back the six rows the app left
/// alone (the re-queued one already holds its old value).
fn assert_resolved_committed_and_revertible(env: &TestEnv, id: &str, before: &str) {
    let out = run(env, &["--json", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = journal(env, id);
    assert_eq!(j["state"], "committed", "{j}");
    assert!(j.get("outcome_uncertain").is_none(), "{j}");
    assert_eq!(j["changes"].as_array().unwrap().len(), 7, "{j}");

    let log = stdout_json(&run(env, &["--json", "log"]));
    let entry = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(entry["jobs_changed"], 7, "{log}");
    assert_eq!(entry["state"], "committed");

    let out = run(env, &["--json", "restore", "--journal", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["reverted"].as_array().unwrap().len(), 6, "{report}");
    assert_eq!(report["already_reverted"][0]["job_id"], "job_pending_01");
    assert_eq!(dump(&env.db), before, "not every row is back");
}

#[test]
fn a_commit_whose_journal_was_never_marked_is_committed_even_after_the_app_requeues_a_job() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    assert!(planned(&env).contains(&("job_pending_01".into(), "pending".into(), "failed".into())));
    crash(&env, &["apply"], "after-commit");
    let left = journals(&env);
    assert_eq!(left.len(), 1);
    let id = read_json(&left[0])["id"].as_str().unwrap().to_string();
    assert_eq!(read_json(&left[0])["state"], "planned");
    assert_eq!(read_json(&left[0])["outcome_recorded"], true);
    assert_eq!(outcome_rows(&env), [(id.clone(), "apply".to_string())]);
    // Row values alone would now say "abandoned": one row holds its old value again.
    app_requeues(&env, "job_pending_01");
    assert_resolved_committed_and_revertible(&env, &id, &before);
}

#[test]
fn a_failure_to_mark_the_journal_after_commit_says_the_change_committed() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let out = env
        .cmd()
        .args(["--json", "apply"])
        .env("JOBSWEEP_FAILPOINT", "fail-journal-mark")
        .output()
        .unwrap();
    let line = assert_error(&out, 3);
    let id = read_json(&journals(&env)[0])["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(line.contains("COMMITTED"), "{line}");
    assert!(line.contains("7 job(s) changed"), "{line}");
    assert!(line.contains(&id), "{line}");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("hint: free space or fix permissions in the store; the next jobsweep run (apply, snapshot, restore) marks journal {id} committed")),
        "{err}"
    );
    // --json: one document with the error and what was done.
    let doc = stdout_json(&out);
    assert_eq!(doc["command"], "apply");
    assert_eq!(doc["error"]["exit_code"], 3);
    assert_eq!(doc["journal_id"], id.as_str());
    assert_eq!(doc["changed"].as_array().unwrap().len(), 7, "{doc}");
    assert_eq!(journal(&env, &id)["state"], "planned");
    // Korean says the same.
    let env2 = TestEnv::with("current", &["guide"]);
    let out = env2
        .cmd()
        .args(["--lang", "ko", "apply"])
        .env("JOBSWEEP_FAILPOINT", "fail-journal-mark")
        .output()
        .unwrap();
    let line = assert_error(&out, 3);
    assert!(line.contains("정리는 커밋되었습니다"), "{line}");

    app_requeues(&env, "job_pending_01");
    assert_resolved_committed_and_revertible(&env, &id, &before);
}

#[test]
fn an_apply_killed_before_commit_is_abandoned_even_when_the_app_makes_the_same_changes() {
    let env = TestEnv::with("current", &["guide"]);
    let plan = planned(&env);
    assert_eq!(plan.len(), 7);
    crash(&env, &["apply"], "in-transaction");
    // The app's next connection rolls the hot journal back; then the app itself finishes those
    // jobs with exactly the statuses apply had planned.
    let conn = env.conn();
    for (job, _, after) in &plan {
        conn.execute(
            "UPDATE analysis_jobs SET status = ?1 WHERE job_id = ?2",
            [after, job],
        )
        .unwrap();
    }
    drop(conn);
    assert!(outcome_rows(&env).is_empty());
    let app_state = dump(&env.db);
    let id = read_json(&journals(&env)[0])["id"]
        .as_str()
        .unwrap()
        .to_string();

    let out = run(&env, &["--json", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(journal(&env, &id)["state"], "abandoned");
    let out = run(&env, &["--json", "restore", "--journal", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout_json(&out)["reverted"].is_null()
            || stdout_json(&out)["reverted"] == serde_json::json!([])
    );
    assert_eq!(
        dump(&env.db),
        app_state,
        "restore touched the app's own work"
    );
}

#[test]
fn a_revert_records_its_outcome_too_and_a_crash_after_its_commit_is_resolved_from_it() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let apply = apply_ok(&env, &[]);
    let apply_id = apply["journal_id"].as_str().unwrap().to_string();
    crash(&env, &["restore", "--journal", &apply_id], "after-commit");
    let rows = outcome_rows(&env);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let revert_id = rows
        .iter()
        .find(|(_, kind)| kind == "revert")
        .map(|(id, _)| id.clone())
        .unwrap();
    assert_eq!(journal(&env, &revert_id)["state"], "planned");
    // The app re-queues a job: row values would be ambiguous; the record is not.
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'failed' WHERE job_id = 'job_pending_02'",
            [],
        )
        .unwrap();
    assert!(run(&env, &["snapshot"]).status.success());
    assert_eq!(journal(&env, &revert_id)["state"], "committed");
    assert_eq!(journal(&env, &apply_id)["reverted_by"], revert_id.as_str());
    let _ = before;
}

#[test]
fn check_stays_read_only_with_or_without_the_outcome_table() {
    let env = TestEnv::with("current", &["guide"]);
    let before = std::fs::read(&env.db).unwrap();
    let out = run(&env, &["--json", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&env.db).unwrap(), before, "check wrote");
    assert!(outcome_rows(&env).is_empty());
    apply_ok(&env, &[]);
    assert_eq!(outcome_rows(&env).len(), 1);
    let before = std::fs::read(&env.db).unwrap();
    let out = run(&env, &["--json", "check", "--stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&env.db).unwrap(), before, "check wrote");
    // The reports leave jobsweep's table out: diff of the pre-apply snapshot (without the
    // table) against live (with it) lists only analysis_jobs.
    let diff = stdout_json(&run(&env, &["--json", "diff"]));
    let tables: Vec<&str> = diff["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["analysis_jobs"], "{diff}");
}

#[test]
fn a_journal_written_before_the_outcome_record_is_resolved_by_rows_and_shown_uncertain() {
    let env = TestEnv::with("current", &["guide"]);
    crash(&env, &["apply"], "legacy-journal,after-commit");
    assert!(outcome_rows(&env).is_empty());
    let path = journals(&env)[0].clone();
    let j = read_json(&path);
    assert!(j.get("outcome_recorded").is_none(), "{j}");
    let id = j["id"].as_str().unwrap().to_string();
    let snapshot_id = j["snapshot_id"].as_str().unwrap().to_string();
    // The old way: every row at its new value -> committed, but a guess.
    let out = run(&env, &["--json", "apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["recovered"][0]["state"], "committed", "{report}");
    assert_eq!(report["recovered"][0]["uncertain"], true, "{report}");
    let j = read_json(&path);
    assert_eq!(j["state"], "committed");
    assert_eq!(j["outcome_uncertain"], true);
    let log = stdout_json(&run(&env, &["--json", "log"]));
    let entry = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["outcome_uncertain"], true, "{log}");
    let text = stdout(&run(&env, &["log"]));
    assert!(text.contains("outcome uncertain"), "{text}");
    // Reverted, old and forced: prune still keeps its snapshot, and says why.
    assert!(run(&env, &["restore", "--journal", &id]).status.success());
    let out = env
        .cmd()
        .args(["--json", "snapshot", "prune", "--keep-last", "0", "--force"])
        .env("JOBSWEEP_TEST_CLOCK", "2027-06-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let prune = stdout_json(&out);
    let kept = prune["kept"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == snapshot_id.as_str())
        .unwrap_or_else(|| panic!("{prune}"))
        .clone();
    assert_eq!(kept["reasons"], serde_json::json!(["uncertain-journal"]));
    assert!(zst_path(&env, &snapshot_id).exists());
}
