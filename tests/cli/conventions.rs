//! Conventions every command keeps: `-q` prints errors only, one failure has one exit code
//! wherever it happens, and the tested binary really has its fail points.

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

#[test]
fn q_silences_the_wait_notice_but_not_errors() {
    let env = TestEnv::with("current", &["guide"]);
    let (child, fp) = spawn_paused(&env, &["snapshot"], "pause-snapshot-locked");
    let waiter = env
        .std_cmd()
        .args(["-q", "--wait", "snapshot"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    fs::write(fp.join("resume"), b"").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let quiet = waiter.wait_with_output().unwrap();
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert_eq!(stderr(&quiet), "", "the wait notice is silenced by -q");
    assert_eq!(stdout(&quiet), "");

    // Errors still print under -q.
    let out = env
        .cmd()
        .args(["-q", "restore", "--snapshot", "nope"])
        .output()
        .unwrap();
    assert_error(&out, 2);
}

#[test]
fn the_tested_binary_has_its_fail_points() {
    // The crash tests prove nothing if the points are compiled away (as in `cargo build`), so
    // the test build turns the `failpoints` feature on in every profile, `--release` included.
    use std::os::unix::process::ExitStatusExt;
    let env = TestEnv::with("current", &["guide"]);
    let before = dump(&env.db);
    let out = env
        .std_cmd()
        .arg("apply")
        .env("JOBSWEEP_FAILPOINT", "after-snapshot")
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(6),
        "aborted at the point: {out:?}"
    );
    assert_eq!(dump(&env.db), before);
}

#[test]
fn an_unreadable_store_directory_is_exit_3_in_every_catalogue() {
    // `journals/` and `snapshots/` replaced by plain files: reading either directory fails.
    for (broken, readers) in [
        ("journals", &[&["log"][..]][..]),
        ("snapshots", &[&["log"][..], &["snapshot", "list"][..]][..]),
    ] {
        let env = TestEnv::with("current", &["guide"]);
        snap(&env);
        let dir = env.store().join(broken);
        fs::remove_dir_all(&dir).unwrap();
        fs::write(&dir, b"not a directory").unwrap();
        let before = files_under(&env.store());
        for args in readers {
            let out = run(&env, args);
            let line = assert_error(&out, 3);
            // One failure, one sentence, whichever catalogue meets it.
            let shown = dir.display().to_string();
            assert!(
                line.starts_with(&format!("error: cannot read {shown}: ")),
                "{broken} {args:?}: {line}"
            );
        }
        assert_eq!(files_under(&env.store()), before);
    }
}

#[test]
fn a_missing_store_is_the_same_usage_error_for_every_reader() {
    let env = TestEnv::with("current", &["guide"]);
    assert!(!env.store().exists());
    let before = dump(&env.db);
    let expected = format!(
        "error: no store at {}: there are no snapshots or journals yet",
        env.store().display()
    );
    for args in [
        &["diff"][..],
        &["diff", "--journal", "latest"][..],
        &["restore", "--journal", "latest"][..],
        &["restore", "--snapshot", "latest"][..],
    ] {
        let out = run(&env, args);
        let line = assert_error(&out, 2);
        assert_eq!(line, expected, "{args:?}");
    }
    assert!(!env.store().exists(), "no reader creates the store");
    assert_eq!(dump(&env.db), before);
}
