//! `snapshot`, `snapshot list|verify|prune` and the store lock: real files, real damage, a real
//! second process writing while the snapshot runs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use sha2::{Digest, Sha256};

/// The snapshot's image, decompressed by the test itself.
pub fn image_of(env: &TestEnv, id: &str) -> Vec<u8> {
    let file = fs::File::open(zst_path(env, id)).unwrap();
    zstd::stream::decode_all(file).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn snapshot_is_a_verified_copy_with_the_spec_manifest() {
    for variant in ["current", "legacy"] {
        let env = TestEnv::with(variant, &["guide", "edge"]);
        let before = dump(&env.db);
        let m = snap(&env);
        let id = id_of(&m);
        assert!(
            id.len() == 25 && id.as_bytes()[8] == b'T' && &id[15..17] == "Z-",
            "{id}"
        );
        for key in [
            "id",
            "created_at",
            "reason",
            "note",
            "source_path",
            "page_size",
            "page_count",
            "image_bytes",
            "image_sha256",
            "file_bytes",
            "file_sha256",
            "zstd_level",
            "sqlite_version",
            "tool_version",
        ] {
            assert!(m.get(key).is_some(), "{variant}: manifest lacks {key}");
        }
        assert_eq!(m["reason"], "manual");
        assert_eq!(m["zstd_level"], 3);
        let on_disk = read_json(&manifest_path(&env, &id));
        // `--json` is the manifest on disk, led by the command's name.
        let mut printed = m.clone();
        assert_eq!(
            printed.as_object_mut().unwrap().remove("command"),
            Some("snapshot".into())
        );
        assert_eq!(on_disk, printed);

        let zst = fs::read(zst_path(&env, &id)).unwrap();
        assert_eq!(m["file_bytes"], zst.len() as u64);
        assert_eq!(m["file_sha256"], sha256_hex(&zst));
        let image = image_of(&env, &id);
        assert_eq!(m["image_bytes"], image.len() as u64);
        assert_eq!(m["image_sha256"], sha256_hex(&image));
        assert_eq!(
            m["page_size"].as_u64().unwrap() * m["page_count"].as_u64().unwrap(),
            image.len() as u64
        );
        let copy = env.path("copy.db");
        fs::write(&copy, &image).unwrap();
        assert_eq!(dump(&copy), before, "{variant}: image rows differ");
        assert_eq!(dump(&env.db), before, "{variant}: snapshot changed the db");
        // zstd's own tool accepts it, frame checksum included.
        let status = Std::new("zstd")
            .arg("-tq")
            .arg(zst_path(&env, &id))
            .status();
        if let Ok(status) = status {
            assert!(status.success());
        }
        assert_no_temp_files(&env);
    }
}

#[test]
fn human_output_names_the_id_and_ratio() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["snapshot", "--note", "before cleanup"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("snapshot 2"), "{text}");
    assert!(text.contains('%') && text.contains("verified"), "{text}");
    assert!(out.stderr.is_empty(), "no progress bar off a terminal");
    let list = run(&env, &["--json", "snapshot", "list"]);
    assert_eq!(stdout_json(&list)["snapshots"][0]["note"], "before cleanup");
}

#[test]
fn progress_bars_show_on_a_terminal_only_without_q() {
    // `script` gives the binary a terminal.
    assert!(
        Std::new("script").arg("--version").output().is_ok(),
        "script is not installed: apt-get install bsdutils (.ci/run does)"
    );
    let env = TestEnv::with("current", &["guide"]);
    let on_terminal = |extra: &str| {
        let line = format!(
            "{} {extra} --db {} --lang en snapshot",
            assert_cmd::cargo::cargo_bin("jobsweep").display(),
            env.db.display()
        );
        let out = Std::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal("");
    // Each bar says which snapshot and which step.
    assert!(shown.contains("manual snapshot 2"), "{shown}");
    assert!(shown.contains("(2/3 compressing) ["), "{shown}");
    assert!(shown.contains("(3/3 verifying) ["), "{shown}");
    // -q: no progress and no report (scripts that want the id use --json).
    let quiet = on_terminal("-q");
    assert!(!quiet.contains("compressing"), "{quiet}");
    assert!(!quiet.contains("verified"), "{quiet}");
}

#[test]
fn any_sqlite_file_works_and_a_non_sqlite_file_is_exit_3() {
    let env = TestEnv::empty();
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute_batch("CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('안녕');")
        .unwrap();
    drop(conn);
    let m = snap(&env);
    assert_eq!(
        image_of(&env, &id_of(&m)).len() as u64,
        m["image_bytes"].as_u64().unwrap()
    );

    let env = TestEnv::empty();
    fs::write(&env.db, b"this is not a database, just text\n").unwrap();
    let out = env.cmd().arg("snapshot").output().unwrap();
    let line = assert_error(&out, 3);
    assert!(line.contains("not an SQLite database"), "{line}");
    assert!(!env.store().exists(), "the store was created for nothing");

    let env = TestEnv::empty();
    let out = env.cmd().arg("snapshot").output().unwrap();
    assert_error(&out, 3);
    assert!(!env.store().exists());
}

#[test]
fn wal_only_rows_are_in_the_snapshot() {
    let env = TestEnv::with("current", &["guide"]);
    let conn = env.conn();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch(
        "PRAGMA wal_autocheckpoint = 0;
         UPDATE analysis_jobs SET status = 'failed' WHERE status = 'pending';",
    )
    .unwrap();
    // The change is only in the -wal file while this connection stays open.
    let wal = PathBuf::from(format!("{}-wal", env.db.display()));
    assert!(fs::metadata(&wal).unwrap().len() > 0);
    let live = dump(&env.db);
    let m = snap(&env);
    let copy = env.path("copy.db");
    fs::write(&copy, image_of(&env, &id_of(&m))).unwrap();
    assert_eq!(dump(&copy), live);
    // Stored in rollback-journal form: it opens without -wal/-shm.
    assert_eq!(&fs::read(&copy).unwrap()[18..20], &[1, 1]);
    drop(conn);
}

#[test]
fn list_is_newest_first_and_read_only() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["snapshot", "list"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no snapshots"));
    assert!(!env.store().exists(), "list created the store");

    let ids: Vec<String> = (0..3).map(|_| id_of(&snap(&env))).collect();
    let out = run(&env, &["--json", "snapshot", "list"]);
    let doc = stdout_json(&out);
    let listed: Vec<String> = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);

    let text = run(&env, &["snapshot", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID"), "{text}");
    assert!(lines[1].starts_with(&ids[2]), "{text}");
    assert!(lines[3].starts_with(&ids[0]), "{text}");
}

#[test]
fn verify_passes_on_good_snapshots() {
    let env = TestEnv::with("legacy", &["guide"]);
    let a = id_of(&snap(&env));
    let b = id_of(&snap(&env));
    let out = run(&env, &["snapshot", "verify"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{b} ok\n"));
    let out = run(&env, &["--json", "snapshot", "verify", "--all"]);
    assert!(out.status.success());
    let doc = stdout_json(&out);
    assert_eq!(doc["snapshots"].as_array().unwrap().len(), 2);
    env.cmd()
        .args(["snapshot", "verify", &a[..20]])
        .assert()
        .success();
    assert_no_temp_files(&env);
}

/// A compressed file that does not hold what was written to it (a fail point changes its first
/// byte once it is synced) is refused by the read-back from disk, which decompresses it: exit 4
/// naming the file, and no snapshot, no temp file, the database untouched.
#[test]
fn a_new_snapshot_whose_file_differs_from_what_was_written_is_refused() {
    let env = TestEnv::with("current", &["guide"]);
    let before_db = fs::read(&env.db).unwrap();
    let out = env
        .cmd()
        .args(["--lang", "en", "snapshot"])
        .env("JOBSWEEP_FAILPOINT", "garble-snapshot-write")
        .output()
        .unwrap();
    let line = assert_error(&out, 4);
    assert!(line.contains("cannot be decompressed"), "{line}");
    assert!(line.contains(".db.zst"), "the line names the file: {line}");
    assert_eq!(fs::read(&env.db).unwrap(), before_db);
    let list = run(&env, &["--json", "snapshot", "list"]);
    assert_eq!(stdout_json(&list)["snapshots"].as_array().unwrap().len(), 0);
    assert_no_temp_files(&env);
    // Without the fail point the same database snapshots fine.
    let id = id_of(&snap(&env));
    env.cmd()
        .args(["snapshot", "verify", &id])
        .assert()
        .success();
}

/// Damages the newest snapshot with `damage`, then checks that verify and restore both refuse it
/// with exit 4 and a line containing `expect`, leaving the db and store as they were.
fn damaged(damage: impl Fn(&TestEnv, &str), expect: &str) {
    let env = TestEnv::with("current", &["guide"]);
    let id = id_of(&snap(&env));
    damage(&env, &id);
    let before_db = fs::read(&env.db).unwrap();
    let before_store = files_under(&env.store());
    let out = run(&env, &["snapshot", "verify", &id]);
    let line = assert_error(&out, 4);
    assert!(line.contains(expect), "{line}");
    assert!(line.contains(&id), "the line names the file: {line}");

    env.conn()
        .execute("UPDATE analysis_jobs SET status = 'failed'", [])
        .unwrap();
    let changed = fs::read(&env.db).unwrap();
    let out = run(&env, &["restore", "--snapshot", &id]);
    let line = assert_error(&out, 4);
    assert!(line.contains(expect), "{line}");
    assert_eq!(fs::read(&env.db).unwrap(), changed, "live db was touched");
    assert_ne!(before_db, changed);
    let out = env
        .cmd()
        .args(["restore", "--snapshot", &id, "--to"])
        .arg(env.path("out.db"))
        .output()
        .unwrap();
    assert_error(&out, 4);
    assert!(!env.path("out.db").exists());
    let mut after_store = files_under(&env.store());
    after_store.retain(|f| f != "lock");
    let mut before_store = before_store;
    before_store.retain(|f| f != "lock");
    assert_eq!(after_store, before_store, "store changed (no pre-restore)");
    assert_no_temp_files(&env);
    // --all reports it too, with exit 4.
    let out = run(&env, &["snapshot", "verify", "--all"]);
    assert_error(&out, 4);
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
}

#[test]
fn truncated_zst_is_exit_4() {
    damaged(
        |env, id| {
            let path = zst_path(env, id);
            let bytes = fs::read(&path).unwrap();
            fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        },
        "truncated",
    );
}

#[test]
fn flipped_byte_is_exit_4() {
    damaged(
        |env, id| {
            let path = zst_path(env, id);
            let mut bytes = fs::read(&path).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x01;
            fs::write(&path, &bytes).unwrap();
        },
        "file checksum differs",
    );
}

#[test]
fn manifest_checksum_mismatch_is_exit_4() {
    damaged(
        |env, id| {
            let path = manifest_path(env, id);
            let mut m = read_json(&path);
            m["image_sha256"] = "00".repeat(32).into();
            // An old manifest (no checksum of its own): the data file's checks still catch it.
            m.as_object_mut().unwrap().remove("manifest_sha256");
            fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        },
        "image checksum differs",
    );
}

#[test]
fn missing_manifest_is_exit_4() {
    damaged(
        |env, id| fs::remove_file(manifest_path(env, id)).unwrap(),
        "is missing",
    );
}

#[test]
fn damaged_manifest_is_exit_4() {
    damaged(
        |env, id| fs::write(manifest_path(env, id), b"{ not json").unwrap(),
        "damaged",
    );
}

#[test]
fn unknown_and_ambiguous_ids_are_usage_errors() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["snapshot", "verify"]);
    assert_error(&out, 2);
    let a = id_of(&snap(&env));
    let b = id_of(&snap(&env));
    env.conn()
        .execute("UPDATE analysis_jobs SET status = 'failed'", [])
        .unwrap();
    let db_before = fs::read(&env.db).unwrap();
    let store_before = files_under(&env.store());
    let out = run(&env, &["snapshot", "verify", "19990101"]);
    let line = assert_error(&out, 2);
    assert!(line.contains("no snapshot matches '19990101'"), "{line}");
    let out = env
        .cmd()
        .args(["snapshot", "verify", &a[..4]])
        .output()
        .unwrap();
    let line = assert_error(&out, 2);
    assert!(line.contains(&a) && line.contains(&b), "{line}");
    let out = env
        .cmd()
        .args(["restore", "--snapshot", &a[..4]])
        .output()
        .unwrap();
    assert_error(&out, 2);
    let out = run(&env, &["restore", "--snapshot", "zzz"]);
    assert_error(&out, 2);
    assert_eq!(fs::read(&env.db).unwrap(), db_before);
    assert_eq!(files_under(&env.store()), store_before);
    assert_no_temp_files(&env);
}

fn set_created_at(env: &TestEnv, id: &str, when: chrono::DateTime<chrono::Utc>) {
    let path = manifest_path(env, id);
    let mut m = read_json(&path);
    m["created_at"] = when.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().into();
    // Without its own checksum the edited manifest reads like one written before checksums.
    m.as_object_mut().unwrap().remove("manifest_sha256");
    fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

fn ids_in_store(env: &TestEnv) -> Vec<String> {
    listed_snapshots(env).iter().map(id_of).collect()
}

#[test]
fn prune_keeps_what_any_rule_keeps() {
    let env = TestEnv::with("current", &["guide"]);
    let ids: Vec<String> = (0..4).map(|_| id_of(&snap(&env))).collect();
    let now = chrono::Utc::now();
    // ids[0..3] are 10 days, 8 days and 8 days less a minute old; ids[3] is new.
    let ages = [
        chrono::Duration::days(10),
        chrono::Duration::days(8),
        chrono::Duration::days(8) - chrono::Duration::minutes(1),
    ];
    for (id, age) in ids.iter().zip(ages) {
        set_created_at(&env, id, now - age);
    }
    let out = run(&env, &["snapshot", "prune"]);
    assert_error(&out, 2);

    let out = run(
        &env,
        &[
            "--json",
            "snapshot",
            "prune",
            "--keep-last",
            "2",
            "--keep-within",
            "7d",
            "--dry-run",
        ],
    );
    assert!(out.status.success());
    let doc = stdout_json(&out);
    assert_eq!(doc["deleted"], serde_json::json!([ids[1], ids[0]]));
    assert_eq!(ids_in_store(&env).len(), 4, "dry run deleted something");

    let out = env
        .cmd()
        .args(["snapshot", "prune", "--keep-within", "8d12h"])
        .output();
    // Compound durations are not supported: a usage error from clap.
    assert_eq!(out.unwrap().status.code(), Some(2));

    let out = run(&env, &["snapshot", "prune", "--keep-within", "9d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 deleted"));
    assert_eq!(
        ids_in_store(&env),
        vec![ids[3].clone(), ids[2].clone(), ids[1].clone()]
    );
    assert!(!zst_path(&env, &ids[0]).exists());
    assert!(!manifest_path(&env, &ids[0]).exists());

    env.cmd()
        .args(["snapshot", "prune", "--keep-last", "1"])
        .assert()
        .success();
    assert_eq!(ids_in_store(&env), vec![ids[3].clone()]);
    assert_no_temp_files(&env);
}

#[test]
fn prune_spares_the_snapshot_of_an_unreverted_apply() {
    let env = TestEnv::with("current", &["guide"]);
    // A reverted apply, an abandoned one (a crash before COMMIT), an un-reverted one.
    let reverted = apply_ok(&env, &[]);
    let out = run(&env, &["--json", "restore", "--journal", "latest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pre_restore = stdout_json(&out)["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let crashed = env
        .cmd()
        .arg("apply")
        .env("JOBSWEEP_FAILPOINT", "in-transaction")
        .output()
        .unwrap();
    assert!(crashed.status.code().is_none());
    let abandoned_snapshot = journals(&env)
        .iter()
        .map(|p| read_json(p))
        .find(|j| j["state"] == "planned")
        .unwrap()["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let kept_apply = apply_ok(&env, &[]);
    let newest = id_of(&snap(&env));
    let ids = |v: &serde_json::Value| v["snapshot_id"].as_str().unwrap().to_string();

    let out = run(&env, &["--json", "snapshot", "prune", "--keep-last", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    let mut deleted: Vec<String> = doc["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    deleted.sort();
    let mut want = vec![ids(&reverted), pre_restore, abandoned_snapshot];
    want.sort();
    assert_eq!(deleted, want, "{doc}");
    let mut left = ids_in_store(&env);
    left.sort();
    let mut want = vec![ids(&kept_apply), newest.clone()];
    want.sort();
    assert_eq!(left, want);
    let kept = doc["kept"].as_array().unwrap();
    assert!(
        kept.iter().any(|k| k["id"] == ids(&kept_apply).as_str()
            && k["reasons"] == serde_json::json!(["newest-apply", "recent-apply"])),
        "{doc}"
    );

    // --force deletes it too.
    env.cmd()
        .args(["snapshot", "prune", "--keep-last", "1", "--force"])
        .assert()
        .success();
    assert_eq!(ids_in_store(&env), vec![newest]);
}

#[test]
fn prune_keeps_everything_when_a_journal_cannot_be_read() {
    let env = TestEnv::with("current", &["guide"]);
    let ids: Vec<String> = (0..3).map(|_| id_of(&snap(&env))).collect();
    let dir = env.store().join("journals");
    fs::write(dir.join("broken.json"), b"{ half a journal").unwrap();
    let out = run(&env, &["snapshot", "prune", "--keep-last", "1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("every snapshot it could refer to (made before it) is kept"),
        "{text}"
    );
    assert!(text.contains("broken.json"), "{text}");
    assert_eq!(ids_in_store(&env).len(), ids.len());
}

#[test]
fn a_second_mutating_command_gets_exit_6_naming_the_holder() {
    let env = TestEnv::with("current", &["guide"]);
    let (child, fp) = spawn_paused(&env, &["snapshot"], "pause-snapshot-locked");
    let pid = child.id();
    for args in [
        vec!["snapshot"],
        vec!["snapshot", "prune", "--keep-last", "1"],
        vec![
            "restore",
            "--snapshot",
            "latest",
            "--to",
            "/tmp/never-written.db",
        ],
    ] {
        let started = Instant::now();
        let out = env.cmd().args(&args).output().unwrap();
        let line = assert_error(&out, 6);
        assert!(line.contains(&format!("pid {pid}")), "{args:?}: {line}");
        assert!(line.contains("started 20"), "{line}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "did not fail at once"
        );
    }
    // Read-only commands do not need the lock.
    env.cmd().args(["snapshot", "list"]).assert().success();
    env.cmd().arg("check").assert().success();

    // --wait waits for the holder instead.
    let waiter = env
        .std_cmd()
        .args(["--wait", "--json", "snapshot"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    fs::write(fp.join("resume"), b"").unwrap();
    let first = child.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let second = waiter.wait_with_output().unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(String::from_utf8_lossy(&second.stderr).contains("waiting for another jobsweep"));
    assert_eq!(ids_in_store(&env).len(), 2);
}

#[test]
fn a_killed_holder_releases_the_lock_and_its_temp_files_go() {
    let env = TestEnv::with("current", &["guide"]);
    let (mut child, _fp) = spawn_paused(&env, &["snapshot"], "pause-snapshot-locked");
    // What a crash mid-snapshot leaves behind.
    let leftover = env.store().join("snapshots").join(".tmp-crashed.db.zst");
    fs::write(&leftover, b"partial").unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    snap(&env);
    assert!(!leftover.exists());
}

#[test]
fn an_unwritable_store_is_one_error_line() {
    let env = TestEnv::with("current", &["guide"]);
    snap(&env); // creates the store, owned by the test user
    let before = files_under(&env.store());
    let snapshots = env.store().join("snapshots");
    use std::os::unix::fs::PermissionsExt;
    let set =
        |p: &Path, mode: u32| fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    if is_root() {
        // Root ignores permission bits: the binary runs as nobody, who may read the database and
        // take the lock but not write in snapshots/.
        set(env.dir.path(), 0o755);
        set(&env.db, 0o644);
        set(&env.store(), 0o755);
        set(&env.store().join("lock"), 0o666);
        set(&snapshots, 0o755);
    } else {
        set(&snapshots, 0o555);
    }
    let db_before = fs::read(&env.db).unwrap();
    let out = unprivileged_cmd(&env).arg("snapshot").output().unwrap();
    set(&snapshots, 0o755);
    assert_eq!(fs::read(&env.db).unwrap(), db_before);
    let line = assert_error(&out, 3);
    assert!(line.contains("snapshots"), "{line}");
    assert!(line.to_lowercase().contains("permission denied"), "{line}");
    assert_eq!(files_under(&env.store()), before);
}

#[test]
fn a_full_disk_during_the_snapshot_leaves_nothing() {
    let env = TestEnv::with("current", &["guide", "edge"]);
    snap(&env);
    let before = files_under(&env.store());
    let db_before = fs::read(&env.db).unwrap();
    // RLIMIT_FSIZE makes writes past 256 KiB fail with EFBIG (SIGXFSZ is ignored through the
    // exec, as a full disk would not kill the process either).
    let out = Std::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; exec prlimit --fsize=262144 -- "$@""#)
        .arg("sh")
        .arg(assert_cmd::cargo::cargo_bin("jobsweep"))
        .arg("--db")
        .arg(&env.db)
        .args(["--lang", "en", "snapshot"])
        .output()
        .unwrap();
    let line = assert_error(&out, 3);
    assert!(line.contains("snapshots"), "{line}");
    assert_eq!(files_under(&env.store()), before);
    assert_eq!(fs::read(&env.db).unwrap(), db_before);
    assert_no_temp_files(&env);
}

// ---------------------------------------------------------------------------------------------
// A second process writes while the snapshot runs.

const WRITER: &str = r#"
import json, os, sqlite3, sys, time
db, ready, stop, out = sys.argv[1:5]
conn = sqlite3.connect(db, timeout=5.0, isolation_level=None)
conn.execute("CREATE TABLE IF NOT EXISTS w(n INTEGER PRIMARY KEY, at REAL)")
rows, errors, waits = 0, [], []
open(ready, "w").close()
while not os.path.exists(stop):
    started, t0 = time.time(), time.perf_counter()
    try:
        conn.execute("INSERT INTO w(at) VALUES (?)", (started,))
        rows += 1
    except sqlite3.Error as e:
        errors.append(str(e))
    waits.append((started, (time.perf_counter() - t0) * 1000))
    time.sleep(0.002)
json.dump({"rows": rows, "errors": errors, "waits": waits}, open(out, "w"))
"#;

fn big_database(env: &TestEnv, mode: &str) {
    let conn = env.conn();
    conn.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |_| Ok(()))
        .unwrap();
    // A few MB of incompressible-ish rows: enough for several steps of the copy. How long the
    // writer waits is measured in bench/live.sh, not asserted here (design.md §7).
    conn.execute_batch(
        "CREATE TABLE blob_rows(id INTEGER PRIMARY KEY, body TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
         INSERT INTO blob_rows(body) SELECT hex(randomblob(2000)) FROM n;",
    )
    .unwrap();
}

fn snapshot_under_writer(mode: &str) {
    let env = TestEnv::with("current", &["guide"]);
    big_database(&env, mode);
    let (ready, stop, result) = (env.path("ready"), env.path("stop"), env.path("result.json"));
    let mut writer = Std::new("python3")
        .arg("-c")
        .arg(WRITER)
        .args([&env.db, &ready, &stop, &result])
        .spawn()
        .expect("python3");
    let start = Instant::now();
    while !ready.exists() {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let out = run(&env, &["--json", "snapshot"]);
    std::thread::sleep(Duration::from_millis(300));
    fs::write(&stop, b"").unwrap();
    assert!(writer.wait().unwrap().success());
    assert!(out.status.success(), "{mode}: {}", stderr(&out));
    let mut text = String::new();
    fs::File::open(&result)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert!(errors.is_empty(), "{mode}: writer errors: {errors:?}");
    let rows = report["rows"].as_u64().unwrap();
    let live_rows: u64 = env
        .conn()
        .query_row("SELECT count(*) FROM w", [], |r| r.get(0))
        .unwrap();
    assert_eq!(live_rows, rows, "{mode}: rows lost");
    let m = stdout_json(&out);
    env.cmd()
        .args(["snapshot", "verify", m["id"].as_str().unwrap()])
        .assert()
        .success();
    // The snapshot holds a consistent state: some prefix of the writer's rows.
    let copy = env.path("copy.db");
    fs::write(&copy, image_of(&env, m["id"].as_str().unwrap())).unwrap();
    let copied: u64 = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("SELECT count(*) FROM w", [], |r| r.get(0))
        .unwrap();
    assert!(copied <= rows);
}

#[test]
fn a_live_writer_loses_nothing_and_gets_no_error_in_rollback_mode() {
    snapshot_under_writer("delete");
}

#[test]
fn a_live_writer_loses_nothing_and_gets_no_error_in_wal_mode() {
    snapshot_under_writer("wal");
}

/// An operator who deletes `lock` while a run holds it must not let a second run in: the new
/// `lock` file would be another file, with no lock on it.
#[test]
fn a_deleted_lock_file_does_not_let_a_second_writer_in() {
    let env = TestEnv::with("current", &["guide"]);
    let (child, fp) = spawn_paused(&env, &["snapshot"], "pause-snapshot-locked");
    let snapshots = env.store().join("snapshots");
    fs::remove_file(env.store().join("lock")).unwrap();
    // A temp file of the paused writer must survive the second run.
    let live_tmp = snapshots.join(".tmp-in-progress.db");
    fs::write(&live_tmp, b"partial").unwrap();
    for args in [
        vec!["snapshot"],
        vec!["snapshot", "prune", "--keep-last", "1"],
    ] {
        let out = env.cmd().args(&args).output().unwrap();
        assert_error(&out, 6);
    }
    env.cmd().args(["snapshot", "list"]).assert().success();
    assert!(live_tmp.exists(), "a live writer's temp file was removed");
    fs::write(fp.join("resume"), b"").unwrap();
    let first = child.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    snap(&env);
    assert!(!live_tmp.exists());
    assert_eq!(ids_in_store(&env).len(), 2);
}

/// A snapshot stamped in the future (the clock was ahead when it was taken) sorts first; it must
/// not push the really newest snapshot out of `--keep-last`, and it is not deleted either.
#[test]
fn prune_with_a_future_dated_snapshot_keeps_the_real_newest() {
    let env = TestEnv::with("current", &["guide"]);
    let ids: Vec<String> = (0..3).map(|_| id_of(&snap(&env))).collect();
    let now = chrono::Utc::now();
    set_created_at(&env, &ids[0], now + chrono::Duration::days(1));
    set_created_at(&env, &ids[1], now - chrono::Duration::days(3));
    let out = run(&env, &["--json", "snapshot", "prune", "--keep-last", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["deleted"], serde_json::json!([ids[1]]));
    assert_eq!(
        doc["warnings"],
        serde_json::json!([{"kind": "future_snapshots"}]),
        "{doc}"
    );
    // The same data under another language; only the human report is translated.
    let ko = run(
        &env,
        &[
            "--lang",
            "ko",
            "--json",
            "snapshot",
            "prune",
            "--keep-last",
            "1",
        ],
    );
    assert_eq!(stdout_json(&ko)["warnings"], doc["warnings"]);
    let text = stdout(&run(
        &env,
        &["--lang", "ko", "snapshot", "prune", "--keep-last", "1"],
    ));
    assert!(text.contains("미래인 스냅샷"), "{text}");
    // Ids made within one second differ only by their random suffix: compare as sets.
    let mut left = ids_in_store(&env);
    left.sort();
    let mut kept = vec![ids[0].clone(), ids[2].clone()];
    kept.sort();
    assert_eq!(left, kept);
    // --keep-within does not delete it either (its age is negative).
    let out = run(&env, &["snapshot", "prune", "--keep-within", "1h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ids_in_store(&env).contains(&ids[0]));
}

/// The cells of a line split at runs of two or more spaces, each with its start and end in
/// display columns (Hangul counts as two).
fn cells(line: &str) -> Vec<(usize, usize, String)> {
    use unicode_width::UnicodeWidthStr;
    let mut out = Vec::new();
    let mut rest = line;
    let mut at = 0;
    while !rest.is_empty() {
        let trimmed = rest.trim_start_matches(' ');
        at += rest.len() - trimmed.len();
        rest = trimmed;
        let end = rest.find("  ").unwrap_or(rest.len());
        let cell = &rest[..end];
        let start = line[..at].width();
        out.push((start, start + cell.width(), cell.to_string()));
        at += end;
        rest = &rest[end..];
    }
    out
}

#[test]
fn snapshot_list_columns_line_up_in_display_width_in_both_languages() {
    let env = TestEnv::with("current", &["guide"]);
    for note in ["주간 백업", "before upgrade", "메모"] {
        let out = run(&env, &["snapshot", "--note", note]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    apply_ok(&env, &[]);
    for lang in ["en", "ko"] {
        let text = stdout(&run(&env, &["--lang", lang, "snapshot", "list"]));
        let rows: Vec<Vec<(usize, usize, String)>> = text.lines().map(cells).collect();
        assert_eq!(rows.len(), 5, "{text}");
        let header = &rows[0];
        assert_eq!(header.len(), 6, "{lang}: {text}");
        for row in &rows[1..] {
            assert!(row.len() >= 5, "{lang}: {text}");
            // ID, CREATED, REASON start where their headers start; IMAGE and FILE end where
            // theirs end; NOTE starts where its header starts.
            for i in [0, 1, 2] {
                assert_eq!(row[i].0, header[i].0, "{lang}: column {i}\n{text}");
            }
            for i in [3, 4] {
                assert_eq!(row[i].1, header[i].1, "{lang}: column {i}\n{text}");
            }
            if let Some(note) = row.get(5) {
                assert_eq!(note.0, header[5].0, "{lang}: note\n{text}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The raw copy in rollback-journal mode (issue 13).

/// A table whose rows must always agree: every transaction of the "app" adds one to both
/// counters and one row to `ledger`.
fn counter_database(env: &TestEnv) {
    env.conn()
        .execute_batch(
            "CREATE TABLE counters(id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
             INSERT INTO counters VALUES (1, 0), (2, 0);
             CREATE TABLE ledger(id INTEGER PRIMARY KEY, body TEXT);
             WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000)
             INSERT INTO blob_rows(body) SELECT hex(randomblob(2000)) FROM k;",
        )
        .unwrap();
}

/// One transaction of the "app": both counters and the ledger move together; the ledger row is
/// big enough that the file grows now and then.
fn app_commit(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         UPDATE counters SET n = n + 1;
         INSERT INTO ledger(body) VALUES (hex(randomblob(3000)));
         COMMIT;",
    )
}

/// The counters and ledger size in a snapshot's image: (n1, n2, ledger rows).
fn counters_in(env: &TestEnv, id: &str) -> (i64, i64, i64) {
    let copy = env.path(&format!("image-{id}.db"));
    fs::write(&copy, image_of(env, id)).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let n = |id: i64| -> i64 {
        conn.query_row("SELECT n FROM counters WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    let ledger: i64 = conn
        .query_row("SELECT count(*) FROM ledger", [], |r| r.get(0))
        .unwrap();
    (n(1), n(2), ledger)
}

/// While the pages are copied, SQLite's SHARED lock is held: a second process can read but can
/// take no exclusive lock. (Were the copy to close another descriptor of the file, POSIX would
/// drop the lock and `BEGIN EXCLUSIVE` would succeed.) Once the copy is done, the lock is gone,
/// before compression and checks.
#[test]
fn the_raw_copy_holds_the_read_lock_and_only_while_it_copies() {
    let env = TestEnv::with("current", &["guide"]);
    big_database(&env, "delete");
    let (child, dir) = spawn_paused(&env, &["--json", "snapshot"], "pause-snapshot-raw-copy");
    let other = env.conn();
    other.busy_timeout(Duration::ZERO).unwrap();
    let err = other.execute_batch("BEGIN EXCLUSIVE").unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy),
        "{err}"
    );
    // Readers are not held up.
    let jobs: i64 = other
        .query_row("SELECT count(*) FROM analysis_jobs", [], |r| r.get(0))
        .unwrap();
    assert!(jobs > 0);
    fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    other.execute_batch("BEGIN EXCLUSIVE; COMMIT;").unwrap();
    env.cmd()
        .args(["snapshot", "verify", &id_of(&stdout_json(&out))])
        .assert()
        .success();
}

/// What the app commits between the unlocked draft and the locked pass is in the image (the
/// locked pass rewrites what changed, also when the file grew), and the image is one
/// consistent state.
#[test]
fn commits_during_the_raw_copy_are_in_the_image_never_half() {
    let env = TestEnv::with("current", &["guide"]);
    big_database(&env, "delete");
    counter_database(&env);
    let (child, dir) = spawn_paused(&env, &["--json", "snapshot"], "pause-snapshot-after-draft");
    let app = env.conn();
    for _ in 0..200 {
        app_commit(&app).unwrap();
    }
    fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        counters_in(&env, &id_of(&stdout_json(&out))),
        (200, 200, 200)
    );

    // An app committing all the time: every image is a state the app committed, nothing it
    // committed is lost from the live file, and it never saw "database is locked".
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (env.db.clone(), stop.clone());
        std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            let mut done = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                app_commit(&conn).expect("the app's commit failed");
                done += 1;
                // An app has gaps between its commits (a loop without any would starve every
                // reader, jobsweep or not).
                std::thread::sleep(Duration::from_millis(2));
            }
            done
        })
    };
    let ids: Vec<String> = (0..3).map(|_| id_of(&snap(&env))).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let committed = 200 + writer.join().expect("the app's writer failed");
    let mut seen = Vec::new();
    for id in &ids {
        let (a, b, rows) = counters_in(&env, id);
        assert!(a == b && b == rows, "{id}: a mixed state {a}/{b}/{rows}");
        assert!(
            rows >= 200 && rows <= committed,
            "{id}: {rows} of {committed}"
        );
        seen.push(rows);
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    let live: i64 = env
        .conn()
        .query_row("SELECT n FROM counters WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(live, committed, "the app lost commits");
}

/// In WAL mode the image is the state the copy's read transaction began with (its pages read
/// through SQLite, from the file or the WAL): what the app commits while the copy is half done
/// never waits (a busy timeout of zero would fail), is not in the image, not even in part, and
/// is all in the live file. The pause is on the page copy's own path: with the backup API it
/// would never be reached.
#[test]
fn commits_during_a_wal_copy_never_wait_and_are_not_in_the_image() {
    let env = TestEnv::with("current", &["guide"]);
    big_database(&env, "wal");
    counter_database(&env);
    let app = env.conn();
    app.busy_timeout(Duration::ZERO).unwrap();
    // Some of the state copied is only in the WAL.
    app.execute_batch("PRAGMA wal_autocheckpoint = 0;").unwrap();
    for _ in 0..5 {
        app_commit(&app).unwrap();
    }
    let wal = PathBuf::from(format!("{}-wal", env.db.display()));
    assert!(fs::metadata(&wal).unwrap().len() > 0);
    let pages = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap()
    };
    let pages_before = pages(&app);
    let (child, dir) = spawn_paused(&env, &["--json", "snapshot"], "pause-snapshot-mid-copy");
    for _ in 0..200 {
        app_commit(&app).expect("the app waited for the copy");
    }
    // The file grows by far more than the copy had left to read.
    app.execute_batch(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000)
         INSERT INTO blob_rows(body) SELECT hex(randomblob(2000)) FROM k;",
    )
    .expect("the app waited for the copy");
    fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = id_of(&stdout_json(&out));
    assert_eq!(counters_in(&env, &id), (5, 5, 5));
    let copy = rusqlite::Connection::open(env.path(&format!("image-{id}.db"))).unwrap();
    assert_eq!(pages(&copy), pages_before);
    assert!(pages(&app) > pages_before + 1000);
    let live: i64 = app
        .query_row("SELECT n FROM counters WHERE id = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(live, 205);
    env.cmd()
        .args(["snapshot", "verify", &id])
        .assert()
        .success();
}

/// A snapshot of an image of several pieces whose first and last pieces changed after they
/// were compressed (while the copy was a draft) is still exactly the image: zstd's own tool
/// reads its frames as one stream, and the manifest's sums are those of the file and image.
#[test]
fn a_snapshot_changed_after_its_draft_is_one_zstd_stream_of_the_image() {
    let env = TestEnv::with("current", &["guide"]);
    big_database(&env, "delete");
    counter_database(&env);
    let (child, dir) = spawn_paused(&env, &["--json", "snapshot"], "pause-snapshot-after-draft");
    let app = env.conn();
    app_commit(&app).unwrap();
    // Rows at the end of the file, past the first piece of 4 MiB.
    app.execute_batch(
        "INSERT INTO blob_rows(body) SELECT hex(randomblob(2000)) FROM blob_rows LIMIT 600;",
    )
    .unwrap();
    fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let m = stdout_json(&out);
    let id = id_of(&m);
    assert!(m["image_bytes"].as_u64().unwrap() > 8 << 20, "{m}");
    assert_eq!(counters_in(&env, &id), (1, 1, 1));
    let zst = fs::read(zst_path(&env, &id)).unwrap();
    assert_eq!(m["file_sha256"], sha256_hex(&zst));
    let image = match Std::new("zstd")
        .arg("-dcq")
        .arg(zst_path(&env, &id))
        .output()
    {
        Ok(out) => {
            assert!(out.status.success());
            out.stdout
        }
        // Without the tool, the crate's stream decoder reads concatenated frames the same way.
        Err(_) => image_of(&env, &id),
    };
    assert_eq!(m["image_sha256"], sha256_hex(&image));
    let copy = env.path("copy.db");
    fs::write(&copy, &image).unwrap();
    assert_eq!(dump(&copy), dump(&env.db));
    assert_no_temp_files(&env);
}

/// `-v` says how long the copy held the app back, in the chosen language (the engine gives the
/// figure, the renderer the words).
#[test]
fn verbose_snapshot_says_how_long_the_app_waited_in_either_language() {
    let env = TestEnv::with("current", &["guide"]);
    let out = run(&env, &["-v", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("held the app's") && err.contains(" ms "),
        "{err}"
    );
    let out = run(&env, &["--lang", "ko", "-v", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("동안 막았습니다"), "{err}");
    // Without -v, no such notice.
    let out = run(&env, &["snapshot"]);
    assert!(!stderr(&out).contains("held the app's"), "{}", stderr(&out));
}
