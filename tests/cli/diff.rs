//! `diff`: snapshot vs live, snapshot vs snapshot, `--journal`, `--exit-code` and `--json`.

use crate::apply::*;
use crate::common::*;

#[test]
fn newest_snapshot_vs_live_shows_the_status_changes_by_job_id() {
    let env = TestEnv::with("current", &["guide"]);
    apply_ok(&env, &[]);
    let out = run(&env, &["--json", "diff", "--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["differs"], true);
    assert_eq!(doc["from"]["kind"], "snapshot");
    assert_eq!(doc["to"]["kind"], "live");
    let tables = doc["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 1, "{doc}");
    assert_eq!(tables[0]["table"], "analysis_jobs");
    assert_eq!(
        (
            tables[0]["added"].as_u64(),
            tables[0]["removed"].as_u64(),
            tables[0]["changed"].as_u64()
        ),
        (Some(0), Some(0), Some(7))
    );
    let job = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == "job_abc123def")
        .unwrap();
    assert_eq!(job["kind"], "changed");
    assert_eq!(job["columns"].as_array().unwrap().len(), 1);
    assert_eq!(job["columns"][0]["column"], "status");
    assert_eq!(job["columns"][0]["before"], "processing");
    assert_eq!(job["columns"][0]["after"], "completed");

    let text = stdout(&run(&env, &["diff"]));
    assert!(
        text.contains("~ job_abc123def: status: \"processing\" → \"completed\""),
        "{text}"
    );
}

#[test]
fn two_snapshots_and_every_kind_of_row_change() {
    let env = TestEnv::with("current", &["guide"]);
    env.conn()
        .execute_batch(
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
             INSERT INTO settings VALUES ('a', '1'), ('b', '2');",
        )
        .unwrap();
    let first = apply_ok(&env, &[]);
    let from = first["snapshot_id"].as_str().unwrap().to_string();
    env.conn()
        .execute_batch(
            "UPDATE settings SET value = '9' WHERE key = 'a'; DELETE FROM settings WHERE key = 'b';
             INSERT INTO settings VALUES ('c', '3');
             DELETE FROM analysis_results WHERE id IN (SELECT id FROM analysis_results LIMIT 3);
             INSERT INTO analysis_jobs (job_id, status, created_at) VALUES ('job_new', 'pending', '2026-02-25 00:40:00');",
        )
        .unwrap();
    // A pre-restore snapshot of the state above.
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    let to = stdout_json(&out)["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run(&env, &["--json", "diff", &from, &to]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    let table = |name: &str| {
        doc["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {doc}"))
    };
    let s = table("settings");
    assert_eq!(
        (
            s["added"].as_u64(),
            s["removed"].as_u64(),
            s["changed"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(s["key"], "key");
    let r = table("analysis_results");
    assert_eq!(r["removed"], 3);
    let j = table("analysis_jobs");
    assert_eq!(
        (j["added"].as_u64(), j["changed"].as_u64()),
        (Some(1), Some(7))
    );
    assert!(doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["kind"] == "added" && x["job_id"] == "job_new"));
}

#[test]
fn no_differences_exit_0_with_exit_code() {
    let env = TestEnv::with("current", &["guide"]);
    apply_ok(&env, &[]);
    run(&env, &["restore", "--journal", "latest"]);
    // The pre-apply snapshot equals the live database after the revert.
    let log = stdout_json(&run(&env, &["--json", "log"]));
    let pre_apply = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "pre-apply")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run(&env, &["diff", &pre_apply, "live", "--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("No differences"), "{}", stdout(&out));
}

#[test]
fn diff_journal_shows_applied_reverted_and_changed_since() {
    let env = TestEnv::with("current", &["guide"]);
    let id = apply_ok(&env, &[])["journal_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.conn()
        .execute_batch(
            "UPDATE analysis_jobs SET status = 'pending' WHERE job_id = 'job_pending_01';
             UPDATE analysis_jobs SET status = 'processing' WHERE job_id = 'job_pending_02';",
        )
        .unwrap();
    let out = run(&env, &["--json", "diff", "--journal", &id, "--exit-code"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = stdout_json(&out);
    assert_eq!(
        (
            doc["applied"].as_u64(),
            doc["reverted"].as_u64(),
            doc["changed_since"].as_u64()
        ),
        (Some(5), Some(1), Some(1))
    );
    let standing = |job: &str| {
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["job_id"] == job)
            .unwrap()["standing"]
            .clone()
    };
    assert_eq!(standing("job_pending_01"), "reverted");
    assert_eq!(standing("job_pending_02"), "changed_since");
    assert_eq!(standing("job_abc123def"), "applied");
    let text = stdout(&run(&env, &["diff", "--journal", &id]));
    assert!(
        text.contains("changed since  job_pending_02: pending → failed, now processing"),
        "{text}"
    );
}

#[test]
fn diff_without_snapshots_is_a_usage_error() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["diff"]);
    assert_error(&out, 2);
    assert!(!env.store().exists());
    let out = run(&env, &["diff", "--journal", "latest"]);
    assert_error(&out, 2);
}
