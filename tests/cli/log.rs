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

#[test]
fn a_snapshot_restore_is_an_event_of_its_own_and_the_applies_it_undid_say_so() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let apply = apply_ok(&env, &[]);
    let (apply_id, pre_apply) = (
        apply["journal_id"].as_str().unwrap().to_string(),
        apply["snapshot_id"].as_str().unwrap().to_string(),
    );
    let out = run(&env, &["--json", "restore", "--snapshot", &pre_apply]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pre_restore = stdout_json(&out)["pre_restore_snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(dump(&env.db), before);

    let doc = stdout_json(&run(&env, &["--json", "log"]));
    let entries = doc["entries"].as_array().unwrap();
    let restore = entries.iter().find(|e| e["kind"] == "restore").unwrap();
    assert_eq!(restore["restored_snapshot"], pre_apply.as_str(), "{doc}");
    assert_eq!(restore["snapshot_id"], pre_restore.as_str());
    let restore_id = restore["id"].as_str().unwrap().to_string();
    let applied = entries
        .iter()
        .find(|e| e["id"] == apply_id.as_str())
        .unwrap();
    assert_eq!(applied["undone_by"], restore_id.as_str(), "{doc}");
    // Newest first: the restore comes before the apply it undid.
    let at = |id: &str| entries.iter().position(|e| e["id"] == id).unwrap();
    assert!(at(&restore_id) < at(&apply_id));

    let text = stdout(&run(&env, &["log"]));
    let line = |id: &str| {
        text.lines()
            .find(|l| l.contains(&format!("  {id}  ")))
            .unwrap_or_else(|| panic!("{text}"))
            .to_string()
    };
    assert!(
        line(&apply_id).contains(&format!("undone by the snapshot restore {restore_id}")),
        "{text}"
    );
    assert!(!line(&apply_id).contains("not reverted"), "{text}");
    assert!(
        line(&restore_id).contains(&format!(
            "snapshot {pre_apply} put back; the state before is snapshot {pre_restore}"
        )),
        "{text}"
    );
    // The restore record is not a journal to revert.
    let out = run(&env, &["restore", "--journal", &restore_id]);
    assert_error_containing(&out, 2, &format!("restore --snapshot {pre_restore}"));
    // `latest` still means the newest apply.
    let out = run(&env, &["--json", "diff", "--journal", "latest"]);
    assert_eq!(stdout_json(&out)["journal_id"], apply_id.as_str());

    // Putting the pre-restore snapshot back brings the apply's changes back: no longer undone.
    let out = run(&env, &["restore", "--snapshot", &pre_restore]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&run(&env, &["--json", "log"]));
    let applied = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == apply_id.as_str())
        .unwrap()
        .clone();
    assert!(applied.get("undone_by").is_none(), "{doc}");
    assert_eq!(
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "restore")
            .count(),
        2
    );
}

#[test]
fn the_korean_log_line_of_a_revert_reads_as_one_thing() {
    let env = TestEnv::with("current", &["guide"]);
    let apply = apply_ok(&env, &[]);
    let apply_id = apply["journal_id"].as_str().unwrap().to_string();
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    let revert_id = stdout_json(&out)["revert_journal_id"]
        .as_str()
        .unwrap()
        .to_string();
    let text = stdout(&run(&env, &["--lang", "ko", "log"]));
    let revert_line = text
        .lines()
        .find(|l| l.contains(&format!("  {revert_id}  ")))
        .unwrap();
    assert!(
        revert_line.contains(&format!("{apply_id} 의 되돌리기, 유지 중")),
        "{revert_line}"
    );
    assert!(!revert_line.contains("되돌리지 않음"), "{revert_line}");
    let apply_line = text
        .lines()
        .find(|l| l.contains(&format!("  {apply_id}  ")))
        .unwrap();
    assert!(
        apply_line.contains(&format!("{revert_id} 로 되돌려짐")),
        "{apply_line}"
    );
}
