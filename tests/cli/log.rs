//! `log`: journals and snapshots newest first, reverts linked, crashes flagged, nothing written.

use crate::common::*;

#[test]
fn log_lists_runs_newest_first_with_their_snapshots_and_reverts() {
    let env = TestEnv::with("current", &["guide"]);
    let apply = apply_ok(&env, &[]);
    let apply_id = apply["journal_id"].as_str().unwrap();
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    let revert_id = stdout_json(&out)["revert_journal_id"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = stdout_json(&run(&env, &["--json", "log"]));
    let entries = doc["entries"].as_array().unwrap();
    let kinds: Vec<(&str, Option<&str>)> = entries
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["reason"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("revert", None),
            ("snapshot", Some("pre-restore")),
            ("apply", None),
            ("snapshot", Some("pre-apply")),
        ]
    );
    assert_eq!(entries[2]["id"], apply_id);
    assert_eq!(entries[2]["jobs_changed"], 7);
    assert_eq!(entries[2]["snapshot_id"], apply["snapshot_id"]);
    assert_eq!(entries[2]["reverted_by"], revert_id.as_str());
    assert_eq!(entries[0]["reverts"], apply_id);
    let times: Vec<&str> = entries
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);

    let text = stdout(&run(&env, &["log"]));
    assert!(
        text.contains(&format!("apply     {apply_id}  7 job(s) changed")),
        "{text}"
    );
    assert!(text.contains(&format!("reverted by {revert_id}")), "{text}");
}

#[test]
fn log_flags_an_unresolved_journal_without_resolving_it() {
    let env = TestEnv::with("current", &["guide"]);
    let out = env
        .cmd()
        .arg("apply")
        .env("JOBSWEEP_FAILPOINT", "after-planned")
        .output()
        .unwrap();
    assert!(out.status.code().is_none());
    let files = files_under(&env.store());
    let doc = stdout_json(&run(&env, &["--json", "log"]));
    assert_eq!(doc["unresolved"], 1);
    let entry = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "apply")
        .unwrap()
        .clone();
    assert_eq!(entry["state"], "planned");
    assert_eq!(entry["unresolved"], true);
    let text = stdout(&run(&env, &["log"]));
    assert!(text.contains("1 unresolved journal(s)"), "{text}");
    assert_eq!(files_under(&env.store()), files, "log wrote to the store");
    assert_eq!(read_json(&journals(&env)[0])["state"], "planned");
}

#[test]
fn log_without_a_store_creates_nothing() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("No snapshots or journals yet"));
    assert!(!env.store().exists());
}

#[test]
fn log_shows_a_damaged_journal() {
    let env = TestEnv::with("current", &["guide"]);
    apply_ok(&env, &[]);
    std::fs::write(&journals(&env)[0], b"{").unwrap();
    let out = run(&env, &["log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("DAMAGED"), "{}", stdout(&out));
}
