//! Issue 12's attacks on the store and on bad inputs, reproduced with real files and real
//! processes: planted symlinks and hard links, another user's store, edited manifests, odd paths,
//! odd data and odd limits. Each attack must end in one clear error line (or a correct result)
//! and leave the victim, the database and the store unchanged.

use std::fs;
use std::os::unix::fs::symlink;

use crate::common::*;

const VICTIM_TEXT: &[u8] = b"root-only secret\n";

/// A file the attacker wants jobsweep to overwrite.
fn victim(env: &TestEnv) -> std::path::PathBuf {
    let path = env.path("victim");
    fs::write(&path, VICTIM_TEXT).unwrap();
    path
}

/// The store's data files (manifests, snapshots, journals), temp files left out.
fn store_files(env: &TestEnv) -> Vec<String> {
    files_under(&env.store())
        .into_iter()
        .filter(|f| !f.ends_with("lock"))
        .collect()
}

fn assert_refused(out: &std::process::Output, needle: &str) {
    let line = assert_error(out, 3);
    assert!(line.contains("refusing"), "{line}");
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

#[test]
fn a_planted_lock_symlink_is_never_followed() {
    for args in [
        &["snapshot"][..],
        &["apply"],
        &["snapshot", "prune", "--keep-last", "1"],
    ] {
        let env = TestEnv::with("current", &["guide"]);
        let before = dump(&env.db);
        let victim = victim(&env);
        fs::create_dir_all(env.store().join("snapshots")).unwrap();
        fs::create_dir_all(env.store().join("journals")).unwrap();
        symlink(&victim, env.store().join("lock")).unwrap();
        let out = run(&env, args);
        assert_refused(&out, "symbolic link");
        assert_eq!(fs::read(&victim).unwrap(), VICTIM_TEXT, "{args:?}");
        assert!(
            store_files(&env).is_empty(),
            "{args:?}: {:?}",
            store_files(&env)
        );
        assert_eq!(dump(&env.db), before, "{args:?}");
    }
}

#[test]
fn a_lock_hard_linked_to_another_file_is_refused() {
    let env = TestEnv::with("current", &["guide"]);
    let victim = victim(&env);
    fs::create_dir_all(env.store().join("snapshots")).unwrap();
    fs::hard_link(&victim, env.store().join("lock")).unwrap();
    let out = run(&env, &["snapshot"]);
    assert_refused(&out, "hard link");
    assert_eq!(fs::read(&victim).unwrap(), VICTIM_TEXT);
    assert!(store_files(&env).is_empty(), "{:?}", store_files(&env));
}

#[test]
fn symlinked_store_directories_are_refused() {
    for linked in [".jobsweep", ".jobsweep/snapshots", ".jobsweep/journals"] {
        let env = TestEnv::with("current", &["guide"]);
        let elsewhere = env.path("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::create_dir_all(env.path(linked).parent().unwrap()).unwrap();
        symlink(&elsewhere, env.path(linked)).unwrap();
        let out = run(&env, &["snapshot"]);
        assert_refused(&out, "symbolic link");
        assert!(stderr(&out).contains(linked), "{}", stderr(&out));
        assert!(
            files_under(&elsewhere).is_empty(),
            "{linked}: {:?}",
            files_under(&elsewhere)
        );
        // A dangling link is refused the same way (not "cannot create").
        let env = TestEnv::with("current", &["guide"]);
        fs::create_dir_all(env.path(linked).parent().unwrap()).unwrap();
        symlink(env.path("nowhere"), env.path(linked)).unwrap();
        let out = run(&env, &["snapshot"]);
        assert_refused(&out, "symbolic link");
        assert!(!env.path("nowhere").exists(), "{linked}");
    }
}

#[test]
fn a_store_owned_by_another_user_is_refused_unless_it_is_roots() {
    let env = TestEnv::with("current", &["guide"]);
    fs::create_dir_all(env.store().join("snapshots")).unwrap();
    fs::create_dir_all(env.store().join("journals")).unwrap();
    // Root may chown; anyone else tests the same rule with a store this test cannot own: a
    // root-owned store is accepted for every user.
    if is_root() {
        std::os::unix::fs::chown(env.store().join("journals"), Some(65534), Some(65534)).unwrap();
        let out = run(&env, &["snapshot"]);
        assert_refused(&out, "uid 65534");
        assert!(store_files(&env).is_empty(), "{:?}", store_files(&env));
        std::os::unix::fs::chown(env.store().join("journals"), Some(0), Some(0)).unwrap();
    }
    let out = run(&env, &["snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Leftover temp files are removed by name; a planted link among them is unlinked, its target
/// untouched. (Temp names themselves are random and created with O_EXCL.)
#[test]
fn a_planted_temp_link_is_removed_not_followed() {
    let env = TestEnv::with("current", &["guide"]);
    let victim = victim(&env);
    fs::create_dir_all(env.store().join("snapshots")).unwrap();
    let planted = env.store().join("snapshots").join(".tmp-planted.db");
    symlink(&victim, &planted).unwrap();
    let out = run(&env, &["snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fs::symlink_metadata(&planted).is_err(), "the link was left");
    assert_eq!(fs::read(&victim).unwrap(), VICTIM_TEXT);
}

// ---- odd options and odd files ----

#[test]
fn a_busy_timeout_past_i32_is_a_usage_error() {
    let env = TestEnv::with("current", &["guide"]);
    let before = fs::read(&env.db).unwrap();
    for value in ["2147483648", "4294967295"] {
        let out = run(&env, &["--busy-timeout", value, "check"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("error: ") && lines[0].contains("--busy-timeout"));
        assert!(!err.contains("panicked"));
    }
    let out = run(&env, &["--busy-timeout", "2147483647", "check", "--stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fs::read(&env.db).unwrap(), before);
    assert!(!env.store().exists());
}

#[test]
fn a_negative_db_timezone_offset_is_accepted_in_the_space_form() {
    let env = TestEnv::with("current", &["guide"]);
    let spaced = run(&env, &["--json", "--db-timezone", "-05:00", "check"]);
    assert!(spaced.status.success(), "{}", stderr(&spaced));
    let joined = run(&env, &["--json", "--db-timezone=-05:00", "check"]);
    assert!(joined.status.success(), "{}", stderr(&joined));
    assert_eq!(stdout_json(&spaced), stdout_json(&joined));
    // After the subcommand too.
    let after = run(&env, &["--json", "check", "--db-timezone", "-05:00"]);
    assert_eq!(stdout_json(&after), stdout_json(&joined));
}

/// `--db` naming a FIFO, a directory or a socket: refused at once by every command, never
/// opened (a FIFO would block `check` forever).
#[test]
fn a_database_that_is_not_a_regular_file_is_refused_by_every_command() {
    let env = TestEnv::empty();
    let fifo = env.path("database.db");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let dir = env.path("dir.db");
    fs::create_dir(&dir).unwrap();
    let commands: [&[&str]; 8] = [
        &["check"],
        &["apply"],
        &["snapshot"],
        &["snapshot", "list"],
        &["log"],
        &["diff"],
        &["restore", "--journal", "latest"],
        &["restore", "--snapshot", "latest"],
    ];
    for (path, needle) in [(&fifo, "is a FIFO"), (&dir, "is a directory")] {
        for args in commands {
            let mut child = bare_std_cmd()
                .arg("--db")
                .arg(path)
                .args(["--lang", "en"])
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // A hang is the failure: the child is killed after a generous limit.
            let start = std::time::Instant::now();
            while child.try_wait().unwrap().is_none() {
                if start.elapsed() > std::time::Duration::from_secs(20) {
                    let _ = child.kill();
                    panic!("{args:?} on {needle} hung");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let out = child.wait_with_output().unwrap();
            assert_error_containing(&out, 3, needle);
        }
    }
    assert!(!env.store().exists());
    assert!(!dir.join(".jobsweep").exists());
}

/// A database bigger than the file-size limit: the snapshot's write fails with EFBIG (not a
/// silent SIGXFSZ death), one error line, exit 3, nothing left in the store.
#[test]
fn a_file_size_limit_is_an_error_line_not_a_signal() {
    let env = TestEnv::with("current", &["guide"]);
    {
        let conn = env.conn();
        conn.execute_batch(
            "CREATE TABLE padding (b BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 64)
             INSERT INTO padding SELECT randomblob(16384) FROM n;",
        )
        .unwrap();
    }
    assert!(fs::metadata(&env.db).unwrap().len() > 512 * 1024);
    let before = dump(&env.db);
    for args in [&["snapshot"][..], &["apply"]] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            // 200 blocks (100 KiB in dash's 512-byte blocks, 200 KiB in bash's): far below
            // the database.
            .arg("ulimit -f 200 && exec \"$0\" \"$@\"")
            .arg(assert_cmd::cargo::cargo_bin("jobsweep"))
            .arg("--db")
            .arg(&env.db)
            .args(["--lang", "en", "--now", NOW])
            .args(args)
            .env_remove("JOBSWEEP_STORE")
            .output()
            .unwrap();
        assert_error_containing(&out, 3, "cannot write");
        assert_eq!(dump(&env.db), before, "{args:?}");
        assert!(
            store_files(&env).is_empty(),
            "{args:?}: {:?}",
            store_files(&env)
        );
        assert_no_temp_files(&env);
    }
}

/// A damaged database: `snapshot` says so in one line with exit 3, as `apply` does, and leaves
/// nothing in the store.
#[test]
fn a_snapshot_of_a_damaged_database_is_one_line_exit_3() {
    let env = TestEnv::with("current", &["guide"]);
    let mut bytes = fs::read(&env.db).unwrap();
    let page = 4096;
    let target = (bytes.len() / page / 2) * page;
    for b in &mut bytes[target..target + page] {
        *b = 0xA5;
    }
    fs::write(&env.db, &bytes).unwrap();
    let out = run(&env, &["snapshot"]);
    let line = assert_error_containing(&out, 3, "corrupt");
    assert!(line.contains("database.db"), "{line}");
    assert_eq!(fs::read(&env.db).unwrap(), bytes);
    assert!(store_files(&env).is_empty(), "{:?}", store_files(&env));
    assert_no_temp_files(&env);
}

// ---- jobs are keyed by their primary key ----

/// The unique constraint on `job_id` is gone (the table rebuilt without it) and a second stale
/// job carries the job_id of the first: both are reported, planned, changed and reverted.
#[test]
fn a_duplicate_job_id_keeps_both_jobs() {
    let env = TestEnv::with("current", &["guide"]);
    let doc = stdout_json(&run(&env, &["--json", "check"]));
    let first = &doc["stale_jobs"][0];
    let (pk, job_id) = (
        first["id"].as_i64().unwrap(),
        first["job_id"].as_str().unwrap().to_string(),
    );
    let stale_before = doc["stale_jobs"].as_array().unwrap().len();
    {
        let conn = env.conn();
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'analysis_jobs'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let without_unique = sql.replace("job_id VARCHAR(50) UNIQUE", "job_id VARCHAR(50)");
        assert_ne!(sql, without_unique);
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON;
             ALTER TABLE analysis_jobs RENAME TO old_jobs;
             {without_unique};
             INSERT INTO analysis_jobs SELECT * FROM old_jobs;
             DROP TABLE old_jobs;"
        ))
        .unwrap();
        conn.execute(
            "INSERT INTO analysis_jobs (id, job_id, emp_id, folder_path, file_ids, files_hash,
                 status, options, created_at, started_at, completed_at)
             SELECT (SELECT max(id) + 1 FROM analysis_jobs), job_id, emp_id, folder_path,
                 file_ids, files_hash, status, options, created_at, started_at, completed_at
             FROM analysis_jobs WHERE id = ?1",
            [pk],
        )
        .unwrap();
    }
    let twin: i64 = env
        .conn()
        .query_row("SELECT max(id) FROM analysis_jobs", [], |r| r.get(0))
        .unwrap();
    let before = dump(&env.db);
    let pks_of = |list: &serde_json::Value, key: &str| -> Vec<i64> {
        let mut v: Vec<i64> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["job_id"] == job_id.as_str())
            .map(|j| j[key].as_i64().unwrap())
            .collect();
        v.sort();
        v
    };
    let doc = stdout_json(&run(&env, &["--json", "check"]));
    assert_eq!(
        doc["stale_jobs"].as_array().unwrap().len(),
        stale_before + 1
    );
    assert_eq!(pks_of(&doc["stale_jobs"], "id"), vec![pk, twin]);
    let text = stdout(&run(&env, &["check"]));
    assert_eq!(
        text.matches(&format!("Job ID: {job_id}")).count(),
        2,
        "{text}"
    );

    let applied = apply_ok(&env, &[]);
    assert_eq!(pks_of(&applied["changed"], "id"), vec![pk, twin]);
    let journal_id = applied["journal_id"].as_str().unwrap().to_string();
    let j = journal(&env, &journal_id);
    assert_eq!(pks_of(&j["changes"], "pk"), vec![pk, twin]);
    let status = |id: i64| -> String {
        env.conn()
            .query_row(
                "SELECT status FROM analysis_jobs WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    let planned = first["planned_status"].as_str().unwrap();
    assert_eq!((status(pk), status(twin)), (planned.into(), planned.into()));

    let out = run(&env, &["restore", "--journal", &journal_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&env.db), before);
}

// ---- stored text in human output ----

fn assert_no_controls(what: &str, out: &std::process::Output) {
    assert!(out.status.success(), "{what}: {}", stderr(out));
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let bad: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| *b < 0x20 && *b != b'\n')
            .collect();
        assert!(bad.is_empty(), "{what}: raw {bad:?} in {stream}");
    }
}

/// ESC, BEL and CR in folder_path, emp_id, job_id and a note are printed as escapes by check,
/// apply, log and snapshot list; --json keeps the text exact.
#[test]
fn control_characters_in_stored_text_are_escaped_in_human_output() {
    let env = TestEnv::with("current", &["guide"]);
    let doc = stdout_json(&run(&env, &["--json", "check"]));
    let pk = doc["stale_jobs"][0]["id"].as_i64().unwrap();
    let folder = "/uploads/\u{1b}[2J\u{7}meeting\rFAKE LINE";
    let job_id = "job\u{1b}]0;owned\u{7}";
    env.conn()
        .execute(
            "UPDATE analysis_jobs SET folder_path = ?1, emp_id = 'E\u{1b}[31m', job_id = ?2
             WHERE id = ?3",
            rusqlite::params![folder, job_id, pk],
        )
        .unwrap();
    let out = run(&env, &["check"]);
    assert_no_controls("check", &out);
    let text = stdout(&out);
    assert!(
        text.contains("/uploads/\\x1b[2J\\x07meeting\\rFAKE LINE"),
        "{text}"
    );
    assert!(text.contains("job\\x1b]0;owned\\x07"), "{text}");
    let json = stdout_json(&run(&env, &["--json", "check"]));
    let job = json["stale_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == pk)
        .unwrap();
    assert_eq!(job["folder_path"], folder);

    let out = run(&env, &["apply"]);
    assert_no_controls("apply", &out);
    assert!(stdout(&out).contains("job\\x1b]0;owned\\x07"));
    let out = run(&env, &["snapshot", "--note", "nightly\u{1b}[2J\r"]);
    assert_no_controls("snapshot", &out);
    for args in [&["log"][..], &["snapshot", "list"]] {
        let out = run(&env, args);
        assert_no_controls(&format!("{args:?}"), &out);
        assert!(stdout(&out).contains("nightly\\x1b[2J\\r"), "{args:?}");
    }
    // An error quoting the text is one escaped line too.
    let out = run(
        &env,
        &["check", "--job", "x\u{1b}[2J", "--db-timezone", "\r+99"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.contains(&0x1b) && !out.stderr.contains(&b'\r'));
}

// ---- manifests protect their own fields ----

/// Two databases share a store. A's manifest edited to name B: every command that reads it
/// refuses it with exit 4, and B keeps its rows (before, `restore --snapshot` overwrote B with
/// A's rows).
#[test]
fn an_edited_manifest_is_refused_and_the_other_database_is_untouched() {
    let env = TestEnv::with("current", &["guide"]);
    let other = env.path("other.db");
    fs::copy(&env.db, &other).unwrap();
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute("UPDATE analysis_jobs SET status = 'failed'", [])
        .unwrap();
    let id = id_of(&snap(&env));
    let path = manifest_path(&env, &id);
    // Rewritten with its keys in another order but unchanged: still sound.
    let m = read_json(&path);
    fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    run(&env, &["snapshot", "verify", &id]);
    let out = run(&env, &["--json", "snapshot", "verify", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out)["snapshots"][0]["manifest_protected"],
        true
    );

    let mut edited = m.clone();
    edited["source_path"] = fs::canonicalize(&other)
        .unwrap()
        .display()
        .to_string()
        .into();
    fs::write(&path, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    let (before_a, before_b) = (dump(&env.db), dump(&other));
    let store_before = files_under(&env.store());

    let out = run(&env, &["snapshot", "verify", &id]);
    assert_error_containing(&out, 4, "manifest_sha256");
    let out = run(&env, &["snapshot", "verify", "--all"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out = run(&env, &["--json", "snapshot", "list"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["problems"][0]["id"], id.as_str());
    let out = run_on(&other, &["diff", &id]);
    assert_error_containing(&out, 4, "manifest_sha256");
    let out = run_on(&other, &["restore", "--snapshot", &id]);
    assert_error_containing(&out, 4, "manifest_sha256");
    let out = run_on(&other, &["restore", "--snapshot", &id, "--force"]);
    assert_error(&out, 4);
    assert_eq!(dump(&other), before_b, "the other database was overwritten");
    assert_eq!(dump(&env.db), before_a);
    assert_eq!(files_under(&env.store()), store_before);
}

/// A manifest written before manifests had a checksum is still read (old stores keep working),
/// and `verify` says it is unprotected.
#[test]
fn an_old_manifest_without_a_checksum_is_accepted_as_unprotected() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    let path = manifest_path(&env, &id);
    let mut m = read_json(&path);
    assert!(m["manifest_sha256"].is_string());
    m.as_object_mut().unwrap().remove("manifest_sha256");
    fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let out = run(&env, &["--json", "snapshot", "verify", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out)["snapshots"][0]["manifest_protected"],
        false
    );
    let out = run(&env, &["snapshot", "verify", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("unprotected"), "{}", stdout(&out));
    let out = run(&env, &["snapshot", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&env, &["restore", "--snapshot", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// ---- a database under a path that is not UTF-8 ----

#[test]
fn a_database_under_a_non_utf8_path_is_snapshotted_cleaned_and_reverted() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let env = TestEnv::with("current", &["guide"]);
    // A UTF-8 path is stored exactly as before: no extra field.
    let plain = snap(&env);
    assert!(plain.get("source_path_hex").is_none(), "{plain}");
    let dir = env
        .dir
        .path()
        .join(std::ffi::OsString::from_vec(b"data-\xff\xfe-\xc3".to_vec()));
    fs::create_dir(&dir).unwrap();
    let db = dir.join("database.db");
    fs::copy(&env.db, &db).unwrap();
    let before = dump(&db);
    let raw = fs::canonicalize(&db).unwrap();
    let raw_hex = hex::encode(raw.as_os_str().as_bytes());

    let out = run_on(&db, &["--json", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = stdout_json(&out);
    assert_eq!(m["source_path_hex"], raw_hex.as_str());
    assert_eq!(
        m["source_path"],
        raw.to_string_lossy().into_owned().as_str(),
        "readable text beside the exact bytes"
    );
    let out = run_on(&db, &["snapshot", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run_on(&db, &["--json", "apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let applied = stdout_json(&out);
    let journal_id = applied["journal_id"].as_str().unwrap().to_string();
    let j = read_json(
        &dir.join(".jobsweep/journals")
            .join(format!("{journal_id}.json")),
    );
    assert_eq!(j["db_path_hex"], raw_hex.as_str());
    assert_ne!(dump(&db), before);
    for args in [&["log"][..], &["snapshot", "list"], &["diff"]] {
        let out = run_on(&db, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let out = run_on(&db, &["restore", "--journal", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&db), before);
    let snapshot_id = applied["snapshot_id"].as_str().unwrap();
    let out = run_on(&db, &["restore", "--snapshot", snapshot_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&db), before);
    // The journal of the UTF-8 database next door does not claim this one.
    let out = run_on(&env.db, &["restore", "--journal", "latest"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

// ---- a hot journal seen without write access ----

/// A writer of the app died mid-transaction, leaving a hot journal; `check` run by a user who
/// may read the database but not write it (nobody, through setpriv, when the test runs as root;
/// permission bits do not stop root) cannot roll it back: one error line, exit 3, and a hint
/// that says why and what to do. Nothing changes.
#[test]
fn a_hot_journal_without_write_access_says_why_and_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::with("current", &["guide"]);
    crash_a_writer(&env);
    let hot = env.path("database.db-journal");
    // Readable by everyone, writable by the owner only (not the user running the check).
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&env.db, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&hot, fs::Permissions::from_mode(0o644)).unwrap();
    if !is_root() {
        // Without root the test user owns the files: take its own write permission away.
        fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        fs::set_permissions(&env.db, fs::Permissions::from_mode(0o444)).unwrap();
    }
    let (db_before, journal_before) = (fs::read(&env.db).unwrap(), fs::read(&hot).unwrap());
    let out = unprivileged_cmd(&env).arg("check").output().unwrap();
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    assert_error_containing(&out, 3, "hot journal");
    let hint = stderr(&out).lines().nth(1).unwrap_or("").to_string();
    assert!(hint.starts_with("hint: "), "{}", stderr(&out));
    assert!(hint.contains("write"), "{hint}");
    assert_eq!(fs::read(&env.db).unwrap(), db_before);
    assert_eq!(fs::read(&hot).unwrap(), journal_before);
    assert!(!env.store().exists());
}

/// Readers that write a decompressed image into the store (`diff`, `verify`) refuse a
/// `snapshots/` that has become a link too, and write nothing through it.
#[test]
fn readers_do_not_write_through_a_linked_snapshots_dir() {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    let elsewhere = env.path("elsewhere");
    fs::rename(env.store().join("snapshots"), &elsewhere).unwrap();
    symlink(&elsewhere, env.store().join("snapshots")).unwrap();
    let before = files_under(&elsewhere);
    for args in [
        &["diff", &id][..],
        &["snapshot", "verify", &id],
        &["diff", &id, "live"],
    ] {
        let out = run(&env, args);
        assert_refused(&out, "symbolic link");
        assert_eq!(files_under(&elsewhere), before, "{args:?}");
    }
}
