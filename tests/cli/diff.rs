//! `diff`: snapshot vs live, snapshot vs snapshot, `--journal`, `--exit-code` and `--json`.

use serde_json::Value;

use crate::common::*;

/// The entry of table `name` in a diff document.
fn table(doc: &Value, name: &str) -> Value {
    doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} missing: {doc}"))
}

/// A table entry's (added, removed, changed).
fn counts(t: &Value) -> (Option<u64>, Option<u64>, Option<u64>) {
    (
        t["added"].as_u64(),
        t["removed"].as_u64(),
        t["changed"].as_u64(),
    )
}

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
    assert_eq!(counts(&tables[0]), (Some(0), Some(0), Some(7)));
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
    let s = table(&doc, "settings");
    assert_eq!(counts(&s), (Some(1), Some(1), Some(1)));
    assert_eq!(s["key"], "key");
    let r = table(&doc, "analysis_results");
    assert_eq!(r["removed"], 3);
    let j = table(&doc, "analysis_jobs");
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

#[test]
fn diff_of_a_live_rollback_journal_file_does_not_block_the_apps_writers() {
    let env = TestEnv::empty();
    {
        let conn = env.conn();
        conn.execute_batch(
            "CREATE TABLE big (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c TEXT);
             CREATE TABLE tags (name TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
             CREATE TABLE ticks (id INTEGER PRIMARY KEY, at REAL);
             WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 40000)
             INSERT INTO big SELECT x, printf('row %d', x), x * 7, hex(randomblob(8)) FROM n;
             WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000)
             INSERT INTO tags SELECT printf('tag-%s-%d', hex(randomblob(6)), x), x FROM n;",
        )
        .unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
    }
    let out = run(&env, &["snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.conn()
        .execute("UPDATE big SET b = -b WHERE id % 4000 = 0", [])
        .unwrap();

    // The app: a small transaction every 20 ms, giving up after a 1 s busy timeout.
    let stop = env.path("stop");
    let writer = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import os, sqlite3, sys, time
db, stop = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, timeout=1.0, isolation_level=None)
commits = 0
while not os.path.exists(stop):
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO ticks (at) VALUES (?)", (time.time(),))
        conn.execute("COMMIT")
        commits += 1
    except sqlite3.OperationalError as e:
        print(e, file=sys.stderr, flush=True)
        try:
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass
    time.sleep(0.02)
print(commits)
"#,
        )
        .arg(&env.db)
        .arg(&stop)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    // The app has committed before the diff starts (the copy of the live file takes only
    // milliseconds: a fixed sleep could end before python3 even started on a busy machine).
    let waiting = std::time::Instant::now();
    let ticks = || -> i64 {
        env.conn()
            .query_row("SELECT count(*) FROM ticks", [], |r| r.get(0))
            .unwrap_or(0)
    };
    while ticks() == 0 {
        assert!(waiting.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let started = std::time::Instant::now();
    let out = run(&env, &["--json", "diff"]);
    let took = started.elapsed();
    std::thread::sleep(std::time::Duration::from_millis(100));
    std::fs::write(&stop, "").unwrap();
    let writer = writer.wait_with_output().unwrap();
    let writer_err = stderr(&writer);
    let commits: u64 = String::from_utf8_lossy(&writer.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("writer failed: {writer_err}"));

    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !writer_err.contains("locked"),
        "the app could not commit while diff ran ({took:?}): {writer_err}"
    );
    let doc = stdout_json(&out);
    assert_eq!(doc["to"]["kind"], "live");
    assert_eq!(doc["to"]["path"], env.db.display().to_string());
    let tables = doc["tables"].as_array().unwrap();
    let table = |name: &str| tables.iter().find(|t| t["table"] == name).cloned();
    let big = table("big").unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(counts(&big), (Some(0), Some(0), Some(10)));
    assert!(table("tags").is_none(), "{doc}");
    let ticks = table("ticks").unwrap_or_else(|| panic!("{doc}"));
    let added = ticks["added"].as_u64().unwrap();
    assert!(
        (1..=commits).contains(&added),
        "{added} of {commits}: {doc}"
    );
    assert_eq!(doc["identical_tables"], 1);
    // The copy of the live file is gone.
    let left: Vec<String> = files_under(&env.store())
        .into_iter()
        .filter(|f| f.contains(".extract-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn default_and_latest_only_use_snapshots_of_this_database() {
    let env = TestEnv::with("current", &["guide"]);
    let ours = stdout_json(&run(&env, &["--json", "snapshot"]))["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'failed' WHERE job_id = 'job_abc123def'",
            [],
        )
        .unwrap();
    // Another database in the same folder shares the store; its snapshot is newer.
    let other = env.path("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let out = run_on(&other, &["--json", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let theirs = stdout_json(&out)["id"].as_str().unwrap().to_string();
    assert_ne!(ours, theirs);

    for args in [
        &["--json", "diff"][..],
        &["--json", "diff", "latest", "live"],
    ] {
        let out = run(&env, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let doc = stdout_json(&out);
        assert_eq!(doc["from"]["id"], ours.as_str(), "{args:?}: {doc}");
        let tables = doc["tables"].as_array().unwrap();
        assert_eq!(tables.len(), 1, "{doc}");
        assert_eq!(tables[0]["table"], "analysis_jobs");
        assert_eq!(tables[0]["changed"], 1);
    }
    let out = run_on(&other, &["--json", "diff"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["from"]["id"], theirs.as_str());

    // A third database of the folder has no snapshot of its own.
    let third = env.path("third.db");
    std::fs::copy(&other, &third).unwrap();
    for args in [&["diff"][..], &["diff", "latest"]] {
        let out = run_on(&third, args);
        assert_error_containing(&out, 2, "no snapshot of");
    }
    // Naming a snapshot by id still compares against any snapshot.
    let out = run_on(&third, &["--json", "diff", &theirs]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_column_named_rowid_does_not_hide_the_rowid() {
    let env = TestEnv::with("current", &["guide"]);
    env.conn()
        .execute_batch(
            "CREATE TABLE odd (rowid TEXT, x INTEGER);
             INSERT INTO odd VALUES (NULL, 1), (NULL, 2), (NULL, 3), ('same', 4), ('same', 5);
             CREATE TABLE odder (rowid, _rowid_, OID);
             INSERT INTO odder VALUES (1, 1, 1), (2, 2, 2);",
        )
        .unwrap();
    run(&env, &["snapshot"]);
    env.conn()
        .execute_batch(
            "UPDATE odd SET x = 20 WHERE x = 2; UPDATE odd SET rowid = 'moved' WHERE x = 5;
             INSERT INTO odd VALUES (NULL, 6);
             INSERT INTO odder VALUES (3, 3, 3); DELETE FROM odder WHERE rowid = 1;",
        )
        .unwrap();
    let out = run(&env, &["--json", "diff"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    let odd = table(&doc, "odd");
    assert_eq!(odd["key"], "_rowid_");
    assert_eq!(counts(&odd), (Some(1), Some(0), Some(2)), "{doc}");
    // Every rowid name is a column: whole rows are compared.
    let odder = table(&doc, "odder");
    assert_eq!(odder["key"], "*");
    assert_eq!(counts(&odder), (Some(1), Some(1), Some(0)), "{doc}");
    assert_eq!(doc["tables"].as_array().unwrap().len(), 2, "{doc}");
}

#[test]
fn table_notes_are_codes_in_json_and_words_in_the_report_in_either_language() {
    let env = TestEnv::with("current", &["guide"]);
    env.conn()
        .execute_batch(
            "CREATE TABLE gone (id INTEGER PRIMARY KEY);
             CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);",
        )
        .unwrap();
    let from = id_of(&snap(&env));
    env.conn()
        .execute_batch(
            "DROP TABLE gone; CREATE TABLE fresh (id INTEGER PRIMARY KEY);
             ALTER TABLE settings ADD COLUMN extra TEXT;",
        )
        .unwrap();
    // Files and JSON hold data: the same under either language.
    let json = |lang: &str| stdout_json(&run(&env, &["--lang", lang, "--json", "diff", &from]));
    let doc = json("ko");
    assert_eq!(doc, json("en"));
    assert_eq!(table(&doc, "gone")["note"]["kind"], "only_in_from");
    assert_eq!(table(&doc, "fresh")["note"]["kind"], "only_in_to");
    let settings = table(&doc, "settings")["note"].clone();
    assert_eq!(settings["kind"], "columns_differ", "{doc}");
    assert_eq!(settings["from"], serde_json::json!(["key", "value"]));
    assert_eq!(settings["to"], serde_json::json!(["key", "value", "extra"]));

    let en = stdout(&run(&env, &["--lang", "en", "diff", &from]));
    assert!(en.contains("table only in FROM"), "{en}");
    assert!(
        en.contains("columns differ: FROM (key, value) / TO (key, value, extra)"),
        "{en}"
    );
    let ko = stdout(&run(&env, &["--lang", "ko", "diff", &from]));
    assert!(ko.contains("TO 에 없는 테이블"), "{ko}");
    assert!(ko.contains("열이 다름"), "{ko}");
}
