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
