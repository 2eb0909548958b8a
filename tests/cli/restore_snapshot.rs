//! `restore --snapshot`: back into the live database (journal mode kept, app connected) or to a
//! new file, and every refusal.

use std::fs;
use std::path::PathBuf;

use crate::common::*;

fn change_rows(env: &TestEnv) {
    env.conn()
        .execute_batch(
            "UPDATE analysis_jobs SET status = 'failed' WHERE status IN ('pending', 'processing');
             DELETE FROM analysis_results WHERE id % 3 = 0;
             INSERT INTO employees(emp_id, name) VALUES ('E-new', '새 직원');",
        )
        .or_else(|_| {
            env.conn().execute_batch(
                "UPDATE analysis_jobs SET status = 'failed' WHERE status IN ('pending', 'processing');
                 DELETE FROM analysis_results WHERE id % 3 = 0;",
            )
        })
        .unwrap();
}

fn snapshots_by_reason(env: &TestEnv, reason: &str) -> Vec<serde_json::Value> {
    let mut listed = listed_snapshots(env);
    listed.retain(|m| m["reason"] == reason);
    listed
}

#[test]
fn restore_puts_the_rows_back_after_a_pre_restore_snapshot() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["guide", "edge"]);
        let original = dump(&env.db);
        let id = id_of(&snap(&env));
        change_rows(&env);
        let changed = dump(&env.db);
        assert_ne!(changed, original);
        let out = env
            .cmd()
            .args(["--json", "restore", "--snapshot", &id[..18]])
            .output()
            .unwrap();
        assert!(out.status.success(), "{variant}: {}", stderr(&out));
        let report = stdout_json(&out);
        assert_eq!(report["snapshot_id"], id.as_str());
        assert_eq!(dump(&env.db), original, "{variant}: rows differ");
        // The pre-restore snapshot holds the state that was overwritten.
        let pre = snapshots_by_reason(&env, "pre-restore");
        assert_eq!(pre.len(), 1);
        assert_eq!(report["pre_restore_snapshot_id"], pre[0]["id"]);
        let back = env.path("pre.db");
        env.cmd()
            .args([
                "restore",
                "--snapshot",
                pre[0]["id"].as_str().unwrap(),
                "--to",
            ])
            .arg(&back)
            .assert()
            .success();
        assert_eq!(dump(&back), changed, "{variant}");
        assert_no_temp_files(&env);
    }
}

#[test]
fn restore_latest_in_wal_mode_keeps_wal_and_a_connected_app_sees_it() {
    let env = TestEnv::with("current", &["guide"]);
    let app = env.conn();
    app.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    let original = dump(&env.db);
    snap(&env);
    change_rows(&env);
    // The app stays connected throughout, as the web app would.
    let count = |c: &rusqlite::Connection| -> i64 {
        c.query_row(
            "SELECT count(*) FROM analysis_jobs WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count(&app), 0);
    let out = run(&env, &["restore", "--snapshot", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&app), 5, "the connected app does not see the restore");
    let mode: String = app
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(app);
    assert_eq!(dump(&env.db), original);
    let fresh: String = env
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fresh, "wal");
}

#[test]
fn a_wal_snapshot_restored_into_a_rollback_database_keeps_rollback_mode() {
    let env = TestEnv::with("current", &["guide"]);
    let conn = env.conn();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let original = dump(&env.db);
    snap(&env);
    let conn = env.conn();
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    change_rows(&env);
    env.cmd()
        .args(["restore", "--snapshot", "latest"])
        .assert()
        .success();
    assert_eq!(dump(&env.db), original);
    let mode: String = env
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    assert!(!PathBuf::from(format!("{}-wal", env.db.display())).exists());
}

#[test]
fn restore_to_writes_a_new_file_and_leaves_the_live_one() {
    let env = TestEnv::with("legacy", &["guide"]);
    let original = dump(&env.db);
    let id = id_of(&snap(&env));
    change_rows(&env);
    let live = fs::read(&env.db).unwrap();
    let to = env.path("restored.db");
    env.cmd()
        .args(["restore", "--snapshot", &id, "--to"])
        .arg(&to)
        .assert()
        .success();
    assert_eq!(dump(&to), original);
    assert_eq!(fs::read(&env.db).unwrap(), live);
    assert!(snapshots_by_reason(&env, "pre-restore").is_empty());

    // An existing file is refused without --force.
    fs::write(&to, b"precious").unwrap();
    let out = env
        .cmd()
        .args(["restore", "--snapshot", &id, "--to"])
        .arg(&to)
        .output()
        .unwrap();
    let line = assert_error(&out, 2);
    assert!(line.contains("already exists"), "{line}");
    assert_eq!(fs::read(&to).unwrap(), b"precious");
    env.cmd()
        .args(["restore", "--snapshot", &id, "--force", "--to"])
        .arg(&to)
        .assert()
        .success();
    assert_eq!(dump(&to), original);
    assert_no_temp_files(&env);
}

#[test]
fn restore_to_a_missing_directory_is_a_clear_error() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    let db_before = fs::read(&env.db).unwrap();
    let to = env.path("no/such/dir/out.db");
    let out = env
        .cmd()
        .args(["restore", "--snapshot", &id, "--to"])
        .arg(&to)
        .output()
        .unwrap();
    let line = assert_error(&out, 2);
    assert!(line.contains("does not exist"), "{line}");
    assert!(line.contains("no/such/dir"), "{line}");
    assert!(!env.path("no").exists());
    assert_eq!(fs::read(&env.db).unwrap(), db_before);
    assert_no_temp_files(&env);
}

#[test]
fn a_snapshot_of_another_database_is_refused_unless_forced() {
    let a = TestEnv::with("current", &["guide"]);
    let a_rows = dump(&a.db);
    let id = id_of(&snap(&a));
    let b = TestEnv::with("current", &["edge"]);
    let b_rows = dump(&b.db);
    let out = b
        .cmd()
        .arg("--store")
        .arg(a.store())
        .args(["restore", "--snapshot", &id])
        .output()
        .unwrap();
    let line = assert_error(&out, 2);
    assert!(line.contains("another database"), "{line}");
    assert!(line.contains(&a.db.display().to_string()), "{line}");
    assert_eq!(dump(&b.db), b_rows);
    assert_eq!(snapshots_by_reason(&a, "pre-restore").len(), 0);

    b.cmd()
        .arg("--store")
        .arg(a.store())
        .args(["restore", "--force", "--snapshot", &id])
        .assert()
        .success();
    assert_eq!(dump(&b.db), a_rows);
}

#[test]
fn restore_without_a_store_is_a_usage_error() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["restore", "--snapshot", "latest"]);
    assert_error(&out, 2);
    assert!(!env.store().exists());
}

#[test]
fn restore_to_the_live_database_or_into_the_store_is_refused() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    change_rows(&env);
    let live = dump(&env.db);
    let store_before = files_under(&env.store());
    // The live file under another spelling, the data file of a snapshot, the lock file, a new
    // file inside the store: never targets of --to, even with --force.
    let dotted = env.dir.path().join(".").join("database.db");
    let targets = [
        env.db.clone(),
        dotted,
        zst_path(&env, &id),
        env.store().join("lock"),
        env.store().join("snapshots").join("x.db"),
    ];
    for to in &targets {
        let out = env
            .cmd()
            .args(["restore", "--snapshot", &id, "--force", "--to"])
            .arg(to)
            .output()
            .unwrap();
        let line = assert_error(&out, 2);
        assert!(
            line.contains("live database") || line.contains("inside the snapshot store"),
            "{}: {line}",
            to.display()
        );
    }
    assert_eq!(dump(&env.db), live);
    assert_eq!(files_under(&env.store()), store_before);
    env.cmd()
        .args(["snapshot", "verify", "--all"])
        .assert()
        .success();
    assert_no_temp_files(&env);
}

/// SQLite's POSIX locks belong to the process: closing any other descriptor of the live file
/// releases them. If restore did that (reading the header for the pre-restore snapshot) while
/// its own WAL connection was open, the app's last connection could check-point and delete the
/// WAL under it, and the restored pages would go into a deleted file.
#[test]
fn a_wal_restore_keeps_its_locks_on_the_live_file() {
    let env = TestEnv::with("current", &["guide"]);
    env.conn()
        .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    let original = dump(&env.db);
    let id = id_of(&snap(&env));
    change_rows(&env);
    let (child, dir) = spawn_paused(
        &env,
        &["restore", "--snapshot", &id],
        "pause-restore-before-copy",
    );
    // The app writes, then closes its last connection; jobsweep's open connection must keep
    // it from deleting the WAL.
    let app = env.conn();
    app.execute(
        "INSERT INTO employees(emp_id, name) VALUES ('E-late', 'x')",
        [],
    )
    .unwrap();
    drop(app);
    let wal = PathBuf::from(format!("{}-wal", env.db.display()));
    let wal_kept = wal.exists();
    fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        wal_kept,
        "the app deleted the WAL under jobsweep's connection"
    );
    assert_eq!(dump(&env.db), original);
}

#[test]
fn a_killed_restore_leaves_no_image_beside_the_live_database() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    change_rows(&env);
    let changed = dump(&env.db);
    let (mut child, _dir) = spawn_paused(
        &env,
        &["restore", "--snapshot", &id],
        "pause-restore-before-copy",
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dump(&env.db), changed);
    // The next command that writes to the store clears what the killed one left.
    snap(&env);
    assert_no_temp_files(&env);
}

#[test]
fn restore_into_a_wal_database_with_another_page_size() {
    let env = TestEnv::with("current", &["guide"]);
    let original = dump(&env.db);
    let id = id_of(&snap(&env));
    let conn = env.conn();
    conn.execute_batch("PRAGMA page_size = 8192; VACUUM;")
        .unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    change_rows(&env);
    // The app stays connected.
    let app = env.conn();
    let out = run(&env, &["restore", "--snapshot", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pending: i64 = app
        .query_row(
            "SELECT count(*) FROM analysis_jobs WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 5);
    drop(app);
    assert_eq!(dump(&env.db), original);
    let mode: String = env
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_no_temp_files(&env);
}

/// The app's work since the snapshot: one new job, one job finished.
fn app_work_since(env: &TestEnv) {
    env.conn()
        .execute_batch(
            "INSERT INTO analysis_jobs (job_id, emp_id, folder_path, file_ids, files_hash, status,
                                        options, created_at)
             SELECT 'job-after-snapshot', emp_id, folder_path, file_ids, files_hash, 'pending',
                    options, created_at FROM analysis_jobs ORDER BY id LIMIT 1;
             UPDATE analysis_jobs SET status = 'completed'
             WHERE id = (SELECT min(id) FROM analysis_jobs WHERE status = 'pending');",
        )
        .unwrap();
}

fn discarded_of(report: &serde_json::Value, table: &str) -> (u64, u64) {
    let d = report["discarded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {report}"));
    (
        d["rows_only_live"].as_u64().unwrap(),
        d["rows_differ"].as_u64().unwrap(),
    )
}

#[test]
fn a_live_restore_counts_what_it_discards_and_dry_run_changes_nothing() {
    let env = TestEnv::with("current", &["guide"]);
    let original = dump(&env.db);
    let id = id_of(&snap(&env));
    app_work_since(&env);
    let changed = dump(&env.db);
    let store_before = files_under(&env.store());

    let out = run(&env, &["--json", "restore", "--snapshot", &id, "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["dry_run"], true);
    assert_eq!(discarded_of(&report, "analysis_jobs"), (1, 1));
    assert!(report["pre_restore_snapshot_id"].is_null());
    let out = run(&env, &["restore", "--snapshot", &id, "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("would discard"), "{text}");
    assert!(
        text.contains("analysis_jobs: 1 rows not in the snapshot, 1 rows with other values"),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    // Nothing changed: the database, the store (no pre-restore snapshot), no temp file.
    assert_eq!(dump(&env.db), changed);
    assert_eq!(files_under(&env.store()), store_before);
    assert!(snapshots_by_reason(&env, "pre-restore").is_empty());
    assert_no_temp_files(&env);
    // --dry-run is for the live database only.
    let out = run(
        &env,
        &["restore", "--snapshot", &id, "--dry-run", "--to", "x.db"],
    );
    assert_error(&out, 2);

    // The real restore says the same before it copies, and names the snapshot that keeps it.
    // On a terminal (`script`), the step the app waits for is labelled before it starts.
    let line = format!(
        "{} --db {} --lang en --now '{NOW}' restore --snapshot {id}",
        assert_cmd::cargo::cargo_bin("jobsweep").display(),
        env.db.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .expect("script");
    assert!(out.status.success(), "{}", stdout(&out));
    let pre = snapshots_by_reason(&env, "pre-restore");
    assert_eq!(pre.len(), 1);
    let pre_id = pre[0]["id"].as_str().unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("analysis_jobs: 1 rows not in the snapshot, 1 rows with other values"),
        "{text}"
    );
    assert!(
        text.contains(&format!("the state before is in snapshot {pre_id}")),
        "{text}"
    );
    let label =
        format!("the 2 rows this restore discards are kept in snapshot {pre_id}; now copying into");
    let (at_label, at_report) = (text.find(&label), text.find("restored snapshot"));
    assert!(at_label.is_some() && at_label < at_report, "{text}");
    assert_eq!(dump(&env.db), original);
    let back = env.path("pre.db");
    env.cmd()
        .args(["restore", "--snapshot", pre_id, "--to"])
        .arg(&back)
        .assert()
        .success();
    assert_eq!(dump(&back), changed);
}

#[test]
fn restore_to_gets_the_source_files_mode_and_owner_and_the_store_stays_private() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = TestEnv::with("current", &["guide"]);
    fs::set_permissions(&env.db, fs::Permissions::from_mode(0o644)).unwrap();
    let root = is_root();
    if root {
        std::os::unix::fs::chown(&env.db, Some(4321), Some(4322)).unwrap();
    }
    let id = id_of(&snap(&env));
    let to = env.path("restored.db");
    env.cmd()
        .args(["restore", "--snapshot", &id, "--to"])
        .arg(&to)
        .assert()
        .success();
    let meta = fs::metadata(&to).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o644);
    if root {
        assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    }
    for file in files_under(&env.store().join("snapshots")) {
        let mode = fs::metadata(env.store().join("snapshots").join(&file))
            .unwrap()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is readable by others");
    }
}

#[test]
fn restore_to_a_side_file_or_another_name_of_the_live_database_is_refused() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    // The app is connected in WAL mode: its -wal and -shm exist.
    let app = env.conn();
    app.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    app.execute_batch("UPDATE analysis_jobs SET status = 'failed' WHERE id = 1")
        .unwrap();
    let side = |s: &str| PathBuf::from(format!("{}{s}", env.db.display()));
    let link = env.path("hardlink.db");
    fs::hard_link(&env.db, &link).unwrap();
    let symlink = env.path("symlink.db");
    std::os::unix::fs::symlink(&env.db, &symlink).unwrap();
    let wal_link = env.path("wal-link");
    std::os::unix::fs::symlink(side("-wal"), &wal_link).unwrap();
    fs::create_dir(env.path("sub")).unwrap();
    let dotdot = env.path("sub").join("..").join("database.db-wal");
    let watched = |env: &TestEnv| {
        (
            fs::read(&env.db).unwrap(),
            fs::read(side("-wal")).unwrap(),
            files_under(&env.store()),
        )
    };
    let before = watched(&env);
    let targets = [
        side("-wal"),
        side("-shm"),
        side("-journal"),
        link,
        symlink,
        wal_link,
        dotdot,
    ];
    for to in &targets {
        for force in [false, true] {
            let mut args = vec!["restore", "--snapshot", &id];
            if force {
                args.push("--force");
            }
            let out = env.cmd().args(&args).arg("--to").arg(to).output().unwrap();
            let line = assert_error(&out, 2);
            assert!(line.contains("live database"), "{}: {line}", to.display());
        }
    }
    assert_eq!(watched(&env), before);
    assert!(!side("-journal").exists());
    let rows: i64 = app
        .query_row("SELECT count(*) FROM analysis_jobs", [], |r| r.get(0))
        .unwrap();
    assert!(rows > 0);
    assert_no_temp_files(&env);
}

#[test]
fn a_restore_that_cannot_get_the_apps_lock_leaves_no_pre_restore_snapshot() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    change_rows(&env);
    let changed = dump(&env.db);
    let store_before = files_under(&env.store());
    let (child, dir) = spawn_paused(
        &env,
        &["--busy-timeout", "300", "restore", "--snapshot", &id],
        "pause-restore-before-copy",
    );
    // The app holds a read lock past the busy timeout.
    let app = env.conn();
    app.execute_batch("BEGIN").unwrap();
    app.query_row("SELECT count(*) FROM analysis_jobs", [], |_| Ok(()))
        .unwrap();
    fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    app.execute_batch("ROLLBACK").unwrap();
    let line = assert_error(&out, 3);
    assert!(line.contains("is locked"), "{line}");
    assert!(!line.contains("not an error"), "{line}");
    assert_eq!(dump(&env.db), changed);
    assert_eq!(files_under(&env.store()), store_before);
    assert!(snapshots_by_reason(&env, "pre-restore").is_empty());
    assert_no_temp_files(&env);
}

#[test]
fn a_killed_restore_to_leaves_nothing_that_the_next_run_does_not_remove() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    let leftovers = |env: &TestEnv| -> Vec<String> {
        fs::read_dir(env.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') && n != ".jobsweep")
            .collect()
    };
    let to = env.path("restored.db");
    let out = env
        .cmd()
        .args(["restore", "--snapshot", &id, "--to"])
        .arg(&to)
        .env("JOBSWEEP_FAILPOINT", "restore-to-before-rename")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!to.exists());
    // The killed run left its full image beside the target...
    assert_eq!(leftovers(&env).len(), 1, "{:?}", leftovers(&env));
    // ... which the next run into that directory recognises and removes.
    env.cmd()
        .args(["restore", "--snapshot", &id, "--to"])
        .arg(env.path("other.db"))
        .assert()
        .success();
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));
    assert_no_temp_files(&env);
}

#[test]
fn restore_latest_in_a_shared_store_picks_this_databases_snapshot() {
    let env = TestEnv::with("current", &["guide"]);
    let original = dump(&env.db);
    let mine = id_of(&snap(&env));
    // Another database in the same directory, so the same default store, snapshotted later.
    let other = env.path("other.db");
    fs::copy(&env.db, &other).unwrap();
    let out = run_on(&other, &["--json", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let theirs = id_of(&stdout_json(&out));
    assert_ne!(mine, theirs);
    change_rows(&env);
    let out = run(&env, &["--json", "restore", "--snapshot", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["snapshot_id"], mine.as_str());
    assert_eq!(dump(&env.db), original);
}

fn integrity(db: &std::path::Path) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn add_blobs(env: &TestEnv, rows: u32) {
    env.conn()
        .execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS blobs(id INTEGER PRIMARY KEY, body BLOB);
             WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {rows})
             INSERT INTO blobs(body) SELECT randomblob(3000) FROM k;"
        ))
        .unwrap();
}

/// In rollback-journal mode the restore writes only the pages that differ, behind a journal in
/// SQLite's own format: a crash after the journal or halfway through the pages leaves a hot
/// journal that the next connection rolls back (the database is as before); a restore that
/// shrinks or grows the file works, and a connected app sees the restored contents.
#[test]
fn a_rollback_mode_restore_is_crash_safe_and_a_connected_app_sees_it() {
    let env = TestEnv::with("current", &["guide"]);
    add_blobs(&env, 3000);
    let original = dump(&env.db);
    let id = id_of(&snap(&env));
    change_rows(&env);
    // Pages changed all over the file (several chunks, compared on several threads), and pages
    // the snapshot does not have.
    env.conn()
        .execute(
            "UPDATE blobs SET body = randomblob(3000) WHERE id % 40 = 0",
            [],
        )
        .unwrap();
    add_blobs(&env, 2000);
    let changed = dump(&env.db);
    let journal = PathBuf::from(format!("{}-journal", env.db.display()));
    for point in [
        "restore-after-journal",
        "restore-mid-copy",
        "restore-before-commit",
    ] {
        let out = env
            .cmd()
            .args(["restore", "--snapshot", &id])
            .env("JOBSWEEP_FAILPOINT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the fail point was not hit");
        assert!(journal.exists(), "{point}: no hot journal");
        // The next connection (here the test's, as the app's would) rolls it back.
        env.conn()
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .unwrap();
        assert!(!journal.exists(), "{point}");
        assert_eq!(dump(&env.db), changed, "{point}");
        assert_eq!(integrity(&env.db), "ok", "{point}");
    }
    // Shrinking the live file: the restore makes it grow back.
    env.conn()
        .execute_batch("DELETE FROM blobs WHERE id > 500; VACUUM;")
        .unwrap();
    let app = env.conn();
    let blobs = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(blobs(&app), 500);
    let out = run(&env, &["restore", "--snapshot", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(blobs(&app), 3000, "the connected app reads stale pages");
    drop(app);
    assert_eq!(dump(&env.db), original);
    assert_eq!(integrity(&env.db), "ok");
    // Growing it (a snapshot of the bigger file back over the smaller one) and the journal mode.
    let pre = snapshots_by_reason(&env, "pre-restore");
    let bigger = pre
        .iter()
        .max_by_key(|m| m["page_count"].as_u64().unwrap())
        .unwrap();
    let out = run(
        &env,
        &["restore", "--snapshot", bigger["id"].as_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(integrity(&env.db), "ok");
    assert_eq!(blobs(&env.conn()), 5000);
    let mode: String = env
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    assert!(!journal.exists());
}

/// The journal goes where SQLite looks for it: beside the real file when `--db` is a symlink in
/// another directory, so a crash midway is rolled back by the next connection.
#[test]
fn a_crashed_restore_through_a_symlinked_db_path_is_rolled_back() {
    let env = TestEnv::with("current", &["guide"]);
    add_blobs(&env, 500);
    let id = id_of(&snap(&env));
    change_rows(&env);
    let changed = dump(&env.db);
    fs::create_dir(env.path("elsewhere")).unwrap();
    let link = env.path("elsewhere").join("db-link.db");
    std::os::unix::fs::symlink(&env.db, &link).unwrap();
    let out = bare_cmd()
        .arg("--db")
        .arg(&link)
        .arg("--store")
        .arg(env.store())
        .args(["--lang", "en", "restore", "--snapshot", &id])
        .env("JOBSWEEP_FAILPOINT", "restore-mid-copy")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the fail point was not hit");
    assert!(!env.path("elsewhere").join("db-link.db-journal").exists());
    env.conn()
        .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .unwrap();
    assert_eq!(dump(&env.db), changed);
    assert_eq!(integrity(&env.db), "ok");
}
