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
