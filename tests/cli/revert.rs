//! `restore --journal`: exact reverts (full dumps), conflicts and `--force`, reverts of reverts,
//! the no-op second revert, and every damaged or wrong journal.

use crate::common::*;

#[test]
fn apply_then_restore_leaves_every_table_exactly_as_before() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["guide", "edge"]);
        let before = dump(&env.db);
        let applied = apply_ok(&env, &[]);
        let apply_id = applied["journal_id"].as_str().unwrap().to_string();
        assert_ne!(dump(&env.db), before);
        let out = run(&env, &["--json", "restore", "--journal", "latest"]);
        assert!(out.status.success(), "{variant}: {}", stderr(&out));
        let report = stdout_json(&out);
        assert_eq!(report["outcome"], "reverted");
        assert_eq!(report["journal_id"], apply_id.as_str());
        assert_eq!(dump(&env.db), before, "{variant}: revert is not exact");

        // Linked both ways; the revert has its own pre-restore snapshot.
        let revert_id = report["revert_journal_id"].as_str().unwrap();
        let revert = journal(&env, revert_id);
        assert_eq!(revert["kind"], "revert");
        assert_eq!(revert["state"], "committed");
        assert_eq!(revert["reverts"], apply_id.as_str());
        assert_eq!(journal(&env, &apply_id)["reverted_by"], revert_id);
        let snap = revert["snapshot_id"].as_str().unwrap();
        let manifest = read_json(&manifest_path(&env, snap));
        assert_eq!(manifest["reason"], "pre-restore");
    }
}

#[test]
fn reverting_the_same_journal_twice_is_a_clear_no_op() {
    let env = TestEnv::with("current", &["guide"]);
    let applied = apply_ok(&env, &[]);
    let id = applied["journal_id"].as_str().unwrap();
    assert!(run(&env, &["restore", "--journal", id]).status.success());
    let files = files_under(&env.store());
    let before = dump(&env.db);
    for force in [false, true] {
        let mut args = vec!["restore", "--journal", id];
        if force {
            args.push("--force");
        }
        let out = run(&env, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("Nothing to revert"),
            "{}",
            stdout(&out)
        );
        assert_eq!(dump(&env.db), before);
        assert_eq!(
            files_under(&env.store()),
            files,
            "a no-op wrote to the store"
        );
    }
}

#[test]
fn a_revert_can_be_reverted_by_naming_it() {
    let env = TestEnv::with("current", &["guide"]);
    apply_ok(&env, &[]);
    let after_apply = dump(&env.db);
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    let revert_id = stdout_json(&out)["revert_journal_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run(&env, &["--json", "restore", "--journal", &revert_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["journal_kind"], "revert");
    assert_eq!(dump(&env.db), after_apply);
    let again = report["revert_journal_id"].as_str().unwrap();
    assert_eq!(journal(&env, again)["reverts"], revert_id.as_str());
    assert_eq!(journal(&env, &revert_id)["reverted_by"], again);
}

#[test]
fn rows_changed_since_are_conflicts_until_force() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    apply_ok(&env, &[]);
    // The app retries job_pending_01 after the cleanup.
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET status = 'processing' WHERE job_id = 'job_pending_01'",
            [],
        )
        .unwrap();
    let out = run(&env, &["restore", "--journal", "latest"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("✗ job_pending_01: conflict — expected failed, found processing (skipped)"),
        "{text}"
    );
    assert!(text.contains("6 row(s) set back"), "{text}");
    assert_eq!(
        status_of(&env, "job_pending_01").as_deref(),
        Some("processing")
    );
    assert_eq!(
        status_of(&env, "job_abc123def").as_deref(),
        Some("processing")
    );

    // Again without --force: only the conflict is left, nothing changes, exit 5.
    let files = files_under(&env.store());
    let out = run(&env, &["restore", "--journal", "latest"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stdout(&out).contains("--force would overwrite the app's work"),
        "{}",
        stdout(&out)
    );
    assert_eq!(files_under(&env.store()), files);

    // With --force what is left is set back: the database is exactly as before apply.
    let out = run(
        &env,
        &["--json", "restore", "--journal", "latest", "--force"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["reverted"].as_array().unwrap().len(), 1);
    assert_eq!(report["conflicts"][0]["forced"], true);
    assert_eq!(report["already_reverted"].as_array().unwrap().len(), 6);
    assert_eq!(dump(&env.db), before);
}

/// Applies on the guide fixture and returns (env, journal path, dump after apply).
fn applied_env() -> (TestEnv, std::path::PathBuf, String) {
    let env = TestEnv::with("current", &["guide"]);
    let report = apply_ok(&env, &[]);
    let id = report["journal_id"].as_str().unwrap();
    let path = journal_path(&env, id);
    let after = dump(&env.db);
    (env, path, after)
}

fn assert_refused(env: &TestEnv, id: &str, code: i32, after: &str, message: &str) {
    let files = files_under(&env.store());
    let out = run(env, &["restore", "--journal", id]);
    assert_error_containing(&out, code, message);
    assert_eq!(dump(&env.db), after, "the database changed");
    assert_eq!(files_under(&env.store()), files, "the store changed");
}

#[test]
fn damaged_journals_are_refused_with_exit_4() {
    // Malformed.
    let (env, path, after) = applied_env();
    std::fs::write(&path, b"{ this is not json").unwrap();
    let id = path.file_stem().unwrap().to_str().unwrap().to_string();
    assert_refused(&env, &id, 4, &after, "is malformed");

    // Truncated (a crash of a writer that did not write atomically, or a bad copy).
    let (env, path, after) = applied_env();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let id = path.file_stem().unwrap().to_str().unwrap().to_string();
    assert_refused(&env, &id, 4, &after, "is truncated");

    // Edited: one "before" value changed, checksum left alone.
    let (env, path, after) = applied_env();
    let mut doc = read_json(&path);
    doc["changes"][0]["before"] = "completed".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let id = path.file_stem().unwrap().to_str().unwrap().to_string();
    assert_refused(&env, &id, 4, &after, "SHA-256");
    // `latest` does not skip past a damaged journal to an older one either.
    assert_refused(&env, "latest", 4, &after, "SHA-256");
}

#[test]
fn a_journal_of_another_database_is_refused() {
    let (env, path, _) = applied_env();
    let other = TestEnv::with("current", &["guide"]);
    apply_ok(&other, &[]);
    let after_other = dump(&other.db);
    let id = path.file_stem().unwrap().to_str().unwrap().to_string();
    std::fs::copy(&path, journal_path(&other, &id)).unwrap();
    assert_refused(&other, &id, 2, &after_other, "belongs to another database");
    drop(env);
}

#[test]
fn unknown_and_ambiguous_ids_are_usage_errors() {
    let (env, _, after) = applied_env();
    assert_refused(
        &env,
        "19990101T000000Z-deadbeef",
        2,
        &after,
        "no journal matches",
    );
    // A second journal from the same day makes the date prefix ambiguous.
    run(&env, &["restore", "--journal", "latest"]);
    let after = dump(&env.db);
    let prefix = &journals(&env)[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_string()[..8];
    assert_refused(&env, prefix, 2, &after, "matches 2 journals");
}

#[test]
fn restore_journal_without_a_store_is_a_usage_error() {
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let out = run(&env, &["restore", "--journal", "latest"]);
    assert_error(&out, 2);
    assert_eq!(dump(&env.db), before);
    assert!(!env.store().exists());
}

#[test]
fn a_crash_inside_the_revert_transaction_leaves_the_apply_in_place() {
    let (env, _, after) = applied_env();
    let out = env
        .cmd()
        .args(["restore", "--journal", "latest"])
        .env("JOBSWEEP_FAILPOINT", "in-transaction")
        .output()
        .unwrap();
    assert!(out.status.code().is_none(), "expected an abort");
    env.conn().query_row("SELECT 1", [], |_| Ok(())).unwrap();
    assert_eq!(dump(&env.db), after);
    // The next revert resolves the planned revert journal as abandoned and does the work.
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["recovered"][0]["state"], "abandoned");
    assert_eq!(report["outcome"], "reverted");
}

#[test]
fn restore_journal_against_an_app_lock_exits_3_and_leaves_the_store_as_it_was() {
    for hold in ["BEGIN IMMEDIATE", "BEGIN DEFERRED"] {
        let (env, _, after) = applied_env();
        let store_before = files_under(&env.store());
        let out = run_against_a_lock(
            &env,
            &["--busy-timeout", "300", "restore", "--journal", "latest"],
            hold,
        );
        assert_error(&out, 3);
        assert!(
            stderr(&out).contains("is locked"),
            "{hold}: {}",
            stderr(&out)
        );
        assert_eq!(dump(&env.db), after, "{hold}: the database changed");
        assert_eq!(
            files_under(&env.store()),
            store_before,
            "{hold}: the failed revert left a snapshot or journal"
        );
        let out = run(&env, &["restore", "--journal", "latest"]);
        assert!(out.status.success(), "{hold}: {}", stderr(&out));
    }
}

#[test]
fn a_journal_belongs_to_the_same_file_reached_by_another_path() {
    // A hard link stands for a bind mount: another canonical path, the same device and inode.
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    apply_ok(&env, &[]);
    let other = env.path("mounted.db");
    std::fs::hard_link(&env.db, &other).unwrap();
    let out = run_on(&other, &["--json", "restore", "--journal", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["outcome"], "reverted");
    assert_eq!(dump(&env.db), before);
    // The journal records the file's identity next to its path.
    let j = read_json(&journals(&env)[0]);
    assert!(
        j["db_file"]["dev"].is_u64() && j["db_file"]["inode"].is_u64(),
        "{j}"
    );
}

#[test]
fn latest_only_considers_journals_of_this_database() {
    // Two databases in one folder share `.jobsweep`.
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let a = apply_ok(&env, &[]);
    let b_db = env.path("other.db");
    let twin = TestEnv::with("current", &["guide"]);
    std::fs::copy(&twin.db, &b_db).unwrap();
    let b_before = dump(&b_db);
    let out = run_on(&b_db, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let b_after = dump(&b_db);
    assert_ne!(b_after, b_before);
    // The newest apply journal in the store is the other database's.
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["journal_id"], a["journal_id"]);
    assert_eq!(dump(&env.db), before);
    assert_eq!(dump(&b_db), b_after, "the other database was touched");
}

#[test]
fn force_passes_over_a_deleted_row_and_says_so() {
    let env = TestEnv::with("current", &["guide"]);
    apply_ok(&env, &[]);
    env.conn()
        .execute(
            "DELETE FROM analysis_jobs WHERE job_id = 'job_pending_05'",
            [],
        )
        .unwrap();
    // Without --force the deleted row is a conflict (exit 5); the rest is set back.
    let out = run(&env, &["restore", "--journal", "latest"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("rerun with --force to pass over them"),
        "{}",
        stdout(&out)
    );
    // Every --force run after it: exit 0, "cannot restore: row deleted", no "add --force".
    for _ in 0..2 {
        let out = run(&env, &["restore", "--journal", "latest", "--force"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("job_pending_05: cannot restore: row deleted"),
            "{text}"
        );
        assert!(!text.to_lowercase().contains("add --force"), "{text}");
        assert!(text.contains("Nothing left to revert"), "{text}");
    }
    let out = run(
        &env,
        &["--json", "restore", "--journal", "latest", "--force"],
    );
    let report = stdout_json(&out);
    assert_eq!(report["outcome"], "nothing_to_do");
    assert_eq!(report["conflicts"][0]["deleted"], true);
    assert_eq!(report["conflicts"][0]["forced"], true);
}

#[test]
fn an_edited_state_or_identity_field_is_refused_with_exit_4() {
    for (field, value) in [
        ("state", "abandoned"),
        ("kind", "revert"),
        ("snapshot_id", "20260101T000000Z-00000000"),
        ("db_path", "/elsewhere/database.db"),
    ] {
        let (env, path, after) = applied_env();
        let mut doc = read_json(&path);
        doc[field] = value.into();
        std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let id = path.file_stem().unwrap().to_str().unwrap().to_string();
        assert_refused(&env, &id, 4, &after, "journal_sha256");
        assert_refused(&env, "latest", 4, &after, "journal_sha256");
    }
}

/// Journals written before reasons were data hold a sentence (`"reason": "부분 완료 8/15"`):
/// they still load, verify and revert exactly (issue 8.1).
#[test]
fn an_old_journal_whose_reasons_are_sentences_still_loads_and_reverts() {
    use jobsweep::core::reason::ChangeReason;
    use jobsweep::journal::{changes_sha256, Journal};
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let id = apply_ok(&env, &[])["journal_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Rewrite the journal as the older version did: a sentence per reason, both checksums over
    // that text (the old field was a plain string, serialized as this one is).
    let path = journal_path(&env, &id);
    let mut old: Journal = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for change in &mut old.changes {
        change.reason = ChangeReason::Text("부분 완료 8/15".into());
    }
    old.changes_sha256 = changes_sha256(&old.changes);
    old.journal_sha256 = None;
    old.journal_sha256 = Some(old.document_sha256());
    std::fs::write(&path, serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains(r#""reason": "부분 완료 8/15""#));

    let log = stdout_json(&run(&env, &["--json", "log"]));
    assert!(log.to_string().contains(&id), "{log}");
    assert!(!log.to_string().contains("damaged"), "{log}");
    let out = run(&env, &["--json", "restore", "--journal", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["outcome"], "reverted");
    assert_eq!(
        dump(&env.db),
        before,
        "the old journal's revert is not exact"
    );
    // Re-saved with `reverted_by`, the old journal keeps its sentences and still verifies.
    let again = journal(&env, &id);
    assert_eq!(again["changes"][0]["reason"], "부분 완료 8/15");
    let revert_id = report["revert_journal_id"].as_str().unwrap();
    assert_eq!(again["reverted_by"], revert_id);
    let out = run(&env, &["--json", "restore", "--journal", revert_id]);
    assert!(out.status.success(), "{}", stderr(&out));
}
