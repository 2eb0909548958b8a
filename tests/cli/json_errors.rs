//! `--json` on failure (issue 11.4): one JSON document on stdout with the error, its exit code
//! and hint, and what was known; stderr keeps its one error line. And hints that can be
//! followed (issue 11.6).

use crate::common::*;

/// The failed run's one document: `command`, then `error` with the same text as stderr.
fn error_doc(out: &std::process::Output, command: &str, code: i32) -> serde_json::Value {
    let line = assert_error(out, code);
    let text = stdout(out);
    assert_eq!(text.lines().count(), 1, "one document, one line: {text}");
    let doc = stdout_json(out);
    assert_eq!(doc["command"], command, "{doc}");
    assert_eq!(doc["error"]["exit_code"], code, "{doc}");
    assert_eq!(
        format!("error: {}", doc["error"]["message"].as_str().unwrap()),
        line
    );
    doc
}

#[test]
fn a_max_changes_refusal_prints_the_plan_it_refused() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let out = run(&env, &["--json", "apply", "--max-changes", "2"]);
    let doc = error_doc(&out, "apply", 7);
    assert!(doc["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("--max-changes 7"));
    assert_eq!(doc["max_changes"], 2);
    let planned: Vec<&str> = doc["stale_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["planned_status"].as_str().unwrap())
        .collect();
    assert_eq!(planned.len(), 7, "{doc}");
    assert_eq!(doc["stats"]["stale"], 7);
    assert_eq!(dump(&env.db), before);
    assert!(!env.store().exists());
    // -q does not silence --json.
    let out = run(&env, &["-q", "--json", "apply", "--max-changes", "2"]);
    error_doc(&out, "apply", 7);
}

#[test]
fn every_kind_of_failure_prints_one_document() {
    let env = TestEnv::with("current", &["guide"]);
    // A database problem.
    let out = run(&env, &["--json", "--db", "nope.db", "check"]);
    error_doc(&out, "check", 3);
    // A usage error found by jobsweep.
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    error_doc(&out, "restore", 2);
    let out = run(&env, &["--json", "snapshot", "prune"]);
    error_doc(&out, "snapshot prune", 2);
    // A usage error found by clap.
    let out = run(&env, &["--json", "apply", "--max-changes", "many"]);
    let doc = error_doc(&out, "apply", 2);
    assert!(doc["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("jobsweep apply --help"));
    let out = run(&env, &["--json", "--hours", "0"]);
    error_doc(&out, "check", 2);
    // Without --json a failure prints nothing on stdout.
    let out = run(&env, &["apply", "--max-changes", "2"]);
    assert_error(&out, 7);
    assert!(out.stdout.is_empty());
}

#[test]
fn verify_all_with_a_damaged_snapshot_prints_one_document_with_the_results() {
    let env = TestEnv::with("current", &["guide"]);
    let good = id_of(&snap(&env));
    let bad = id_of(&snap(&env));
    let zst = zst_path(&env, &bad);
    let mut bytes = std::fs::read(&zst).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&zst, bytes).unwrap();
    let out = run(&env, &["--json", "snapshot", "verify", "--all"]);
    let doc = error_doc(&out, "snapshot verify", 4);
    let items = doc["snapshots"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{doc}");
    let ok = |id: &str| items.iter().find(|i| i["id"] == id).unwrap()["ok"].clone();
    assert_eq!(ok(&good), true);
    assert_eq!(ok(&bad), false);
}

#[test]
fn a_missing_db_given_explicitly_gets_a_hint_about_the_path_not_about_db() {
    let env = TestEnv::with("current", &["guide"]);
    for lang in ["en", "ko"] {
        let out = env
            .cmd()
            .args(["--lang", lang, "--db", "nope.db", "check"])
            .output()
            .unwrap();
        assert_error(&out, 3);
        let err = stderr(&out);
        let hint = err.lines().nth(1).unwrap_or_default();
        assert!(hint.starts_with("hint: "), "{err}");
        assert!(!hint.contains("with --db"), "{err}");
        assert!(!hint.contains("--db 로 경로를 지정"), "{err}");
        let cwd = std::env::current_dir().unwrap();
        assert!(hint.contains(&cwd.display().to_string()), "{err}");
    }
    let out = env
        .cmd()
        .args(["--db", "/nowhere/database.db", "check"])
        .output()
        .unwrap();
    assert_error_containing(&out, 3, "is its volume mounted?");
}
