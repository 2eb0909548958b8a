//! Replicas (design.md §9) against a real S3-protocol server: the `s3s-fs` crate's server,
//! started once per test run on 127.0.0.1 with a temp root (`s3_server.rs`), and a `file://`
//! replica. Keys come from `age-keygen` (Debian package `age`), as the README says.
//! The shared backend suite runs the same checks against every `Backend`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Std, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jobsweep::store::{self, Backend, Handle, Kind, LocalDir};

use crate::common::*;

const BUCKET: &str = "jobsweep-test";
const ACCESS_KEY: &str = "jobsweeptest";
const SECRET_KEY: &str = "jobsweeptestsecret";

/// The S3 server of this test run (`s3_server.rs`) and the directory it keeps buckets in.
struct S3Server {
    port: u16,
    root: tempfile::TempDir,
}

fn server() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let root = tempfile::tempdir().expect("temp dir");
        fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = crate::s3_server::start(root.path(), ACCESS_KEY, SECRET_KEY);
        S3Server { port, root }
    })
}

fn endpoint() -> String {
    format!("http://127.0.0.1:{}", server().port)
}

/// The `AWS_*` settings of the test server.
fn aws() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", endpoint()),
    ]
}

/// A fresh prefix in the test bucket: `s3://jobsweep-test/<random>`, and where the server keeps
/// its objects on disk.
fn s3_prefix() -> (String, PathBuf) {
    let name = format!("t{:016x}", fastrand::u64(..));
    (
        format!("s3://{BUCKET}/{name}"),
        server().root.path().join(BUCKET).join(name),
    )
}

/// An age key pair made by `age-keygen`: (identity file, public key).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = Std::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("the replica tests need age-keygen (Debian package `age`): {e}")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&path).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string();
    (path, public)
}

/// A test environment with a replica: the database, the replica URL, the key pair.
struct Replicated {
    env: TestEnv,
    url: String,
    /// Where the replica's objects are on disk (the server's root, or the file:// directory).
    objects: PathBuf,
    identity: PathBuf,
    public: String,
    s3: bool,
}

impl Replicated {
    fn s3() -> Replicated {
        let env = TestEnv::with("current", &["guide", "edge"]);
        let (url, objects) = s3_prefix();
        let (identity, public) = keygen(env.dir.path(), "key.txt");
        Replicated {
            env,
            url,
            objects,
            identity,
            public,
            s3: true,
        }
    }

    fn file() -> Replicated {
        let env = TestEnv::with("current", &["guide", "edge"]);
        let objects = env.path("mounted-remote");
        let url = format!("file://{}", objects.display());
        let (identity, public) = keygen(env.dir.path(), "key.txt");
        Replicated {
            env,
            url,
            objects,
            identity,
            public,
            s3: false,
        }
    }

    /// The binary with the replica, the recipient and the identity.
    fn cmd(&self) -> Std {
        let mut cmd = self.env.std_cmd();
        if self.s3 {
            cmd.envs(aws());
        }
        cmd.env("JOBSWEEP_REPLICA", &self.url)
            .env("JOBSWEEP_REPLICA_RECIPIENTS", &self.public)
            .env("JOBSWEEP_IDENTITY", &self.identity);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run jobsweep")
    }

    fn ok(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        stdout_json(&out)
    }

    /// The replica's object files (relative names), sorted.
    fn object_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for kind in ["snapshots", "journals"] {
            if let Ok(entries) = fs::read_dir(self.objects.join(kind)) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    // s3s-fs keeps metadata beside objects in dot files.
                    if !name.starts_with('.') {
                        names.push(format!("{kind}/{name}"));
                    }
                }
            }
        }
        names.sort();
        names
    }
}

// ---------------------------------------------------------------------------------------------
// One backend suite, every backend

fn backend_suite(backend: &dyn Backend) {
    let data = Handle::new(Kind::Snapshots, "20260101T000000Z-00000001.db.zst");
    let other = Handle::new(Kind::Journals, "20260101T000000Z-00000002.json");
    assert_eq!(backend.stat(&data).unwrap(), None, "{}", backend.location());
    assert!(backend.list(Kind::Snapshots).unwrap().is_empty());

    // Larger than one multipart part, so the upload really has several parts.
    let big: Vec<u8> = (0..(9 << 20)).map(|i: u32| (i % 251) as u8).collect();
    assert_eq!(
        backend.save(&data, &mut &big[..]).unwrap(),
        big.len() as u64
    );
    backend.save(&other, &mut &b"{}"[..]).unwrap();
    assert_eq!(backend.stat(&data).unwrap(), Some(big.len() as u64));

    let mut back = Vec::new();
    assert_eq!(backend.load(&data, &mut back).unwrap(), big.len() as u64);
    assert!(back == big, "{}: round trip differs", backend.location());

    // Listing by kind, from the objects themselves.
    let listed = backend.list(Kind::Snapshots).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].handle, data);
    assert_eq!(listed[0].size, big.len() as u64);
    assert_eq!(backend.list(Kind::Journals).unwrap()[0].handle, other);

    // Replacing an object.
    backend.save(&other, &mut &b"{\"v\":2}"[..]).unwrap();
    let mut back = Vec::new();
    backend.load(&other, &mut back).unwrap();
    assert_eq!(back, b"{\"v\":2}");

    // Removing, twice (a missing object is not an error); loading it then is.
    backend.remove(&data).unwrap();
    backend.remove(&data).unwrap();
    assert_eq!(backend.stat(&data).unwrap(), None);
    assert!(backend.list(Kind::Snapshots).unwrap().is_empty());
    assert!(backend.load(&data, &mut Vec::new()).is_err());
}

fn aws_refs() -> Vec<(&'static str, String)> {
    aws()
}

#[test]
fn backend_suite_local_dir() {
    let dir = tempfile::tempdir().unwrap();
    backend_suite(&LocalDir::new(dir.path()));
}

#[test]
fn backend_suite_file_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("remote").display());
    backend_suite(store::open_backend(&url, &[]).unwrap().as_ref());
}

#[test]
fn backend_suite_s3() {
    let (url, _) = s3_prefix();
    let aws = aws_refs();
    let pairs: Vec<(&str, &str)> = aws.iter().map(|(k, v)| (*k, v.as_str())).collect();
    backend_suite(store::open_backend(&url, &pairs).unwrap().as_ref());
}

// ---------------------------------------------------------------------------------------------
// Encryption

/// Whether `bytes` hold any of the things a snapshot or journal in plaintext shows.
fn plaintext_signs(bytes: &[u8]) -> Vec<&'static str> {
    let mut found = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    for needle in [
        "image_sha256",
        "source_path",
        "journal_sha256",
        "SQLite format 3",
    ] {
        if text.contains(needle) {
            found.push(needle);
        }
    }
    // The zstd frame magic: a compressed image in the clear.
    if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        found.push("zstd frame");
    }
    if let Ok(plain) = zstd::stream::decode_all(bytes) {
        if plain.starts_with(b"SQLite format 3\0") {
            found.push("SQLite header");
        }
    }
    found
}

#[test]
fn encrypted_objects_hold_no_plaintext_and_a_plaintext_replica_does() {
    let r = Replicated::s3();
    let m = r.ok(&["snapshot"]);
    let id = id_of(&m);
    assert_eq!(m["replica"]["encrypted"], true, "{m}");
    assert_eq!(
        r.object_names(),
        vec![
            format!("snapshots/{id}.db.zst.age"),
            format!("snapshots/{id}.json.age"),
        ]
    );
    for name in r.object_names() {
        let bytes = fs::read(r.objects.join(&name)).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{name}");
        assert!(
            plaintext_signs(&bytes).is_empty(),
            "{name}: {:?}",
            plaintext_signs(&bytes)
        );
    }

    // The same checks find the plaintext when it is there (the test can fail).
    let env = TestEnv::with("current", &["guide", "edge"]);
    let (url, objects) = s3_prefix();
    let out = env
        .std_cmd()
        .envs(aws())
        .args([
            "--json",
            "--replica",
            &url,
            "--replica-plaintext",
            "snapshot",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = id_of(&stdout_json(&out));
    let data = fs::read(objects.join(format!("snapshots/{id}.db.zst"))).unwrap();
    assert!(plaintext_signs(&data).contains(&"SQLite header"));
    let manifest = fs::read(objects.join(format!("snapshots/{id}.json"))).unwrap();
    assert!(plaintext_signs(&manifest).contains(&"image_sha256"));
}

#[test]
fn a_replica_without_recipients_is_refused_before_anything_is_written() {
    let env = TestEnv::with("current", &["guide"]);
    let (url, objects) = s3_prefix();
    let before = dump(&env.db);
    let out = env
        .std_cmd()
        .envs(aws())
        .args(["--replica", &url, "snapshot"])
        .output()
        .unwrap();
    assert_error_containing(&out, 2, "--replica-plaintext");
    assert!(!env.store().exists(), "the store was created");
    assert!(!objects.exists(), "something reached the replica");
    assert_eq!(dump(&env.db), before);

    // A key that is not an age X25519 public key: exit 2 too.
    let out = env
        .std_cmd()
        .envs(aws())
        .args([
            "--replica",
            &url,
            "--replica-recipient",
            "age1notakey",
            "snapshot",
        ])
        .output()
        .unwrap();
    assert_error_containing(&out, 2, "age1notakey");
    assert!(!env.store().exists());
}

#[test]
fn pull_on_a_new_host_is_byte_equal_and_verified() {
    let r = Replicated::s3();
    let id = id_of(&r.ok(&["snapshot"]));
    let data = fs::read(zst_path(&r.env, &id)).unwrap();
    let manifest = fs::read(manifest_path(&r.env, &id)).unwrap();

    // A new host: the same replica and identity, another store.
    fs::remove_dir_all(r.env.store()).unwrap();
    let listed = r.ok(&["snapshot", "list", "--remote"]);
    let row = &listed["snapshots"][0];
    assert_eq!(
        (row["local"].clone(), row["remote"].clone()),
        (false.into(), true.into())
    );
    let pulled = r.ok(&["snapshot", "pull", "latest"]);
    assert_eq!(pulled["id"], id.as_str());
    assert_eq!(pulled["verified"], true);
    assert_eq!(fs::read(zst_path(&r.env, &id)).unwrap(), data);
    assert_eq!(fs::read(manifest_path(&r.env, &id)).unwrap(), manifest);
    r.ok(&["snapshot", "verify", &id]);
}

#[test]
fn restore_comes_from_the_replica_when_the_local_store_is_gone() {
    for r in [Replicated::s3(), Replicated::file()] {
        let before = dump(&r.env.db);
        let id = id_of(&r.ok(&["snapshot"]));
        apply_with(&r);
        assert_ne!(dump(&r.env.db), before);
        fs::remove_dir_all(r.env.store()).unwrap();

        let out = r.run(&["restore", "--snapshot", &id]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("from the replica"),
            "{}",
            stderr(&out)
        );
        assert_eq!(dump(&r.env.db), before, "{}", r.url);
    }
}

fn apply_with(r: &Replicated) {
    let out = r.run(&["--json", "apply"]);
    assert!(out.status.success(), "apply: {}", stderr(&out));
    // The journal went off the host too, encrypted.
    assert!(
        r.object_names()
            .iter()
            .any(|n| n.starts_with("journals/") && n.ends_with(".json.age")),
        "{:?}",
        r.object_names()
    );
}

#[test]
fn a_tampered_remote_object_is_caught() {
    let r = Replicated::s3();
    let id = id_of(&r.ok(&["snapshot"]));
    let object = r.objects.join(format!("snapshots/{id}.db.zst.age"));
    let mut bytes = fs::read(&object).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&object, &bytes).unwrap();

    let out = r.run(&["snapshot", "verify", "--remote", &id]);
    assert_error_containing(&out, 4, &id);
    // Nothing of it stayed in the local store; the local snapshot is untouched and good.
    r.ok(&["snapshot", "verify", &id]);
    fs::remove_dir_all(r.env.store()).unwrap();
    let out = r.run(&["snapshot", "pull", &id]);
    assert_error(&out, 4);
    assert!(!zst_path(&r.env, &id).exists());
    assert!(!manifest_path(&r.env, &id).exists());
}

#[test]
fn a_wrong_identity_is_one_clear_line() {
    let r = Replicated::s3();
    let id = id_of(&r.ok(&["snapshot"]));
    let (other, _) = keygen(r.env.dir.path(), "other.txt");
    let out = r
        .cmd()
        .args(["--identity"])
        .arg(&other)
        .args(["snapshot", "verify", "--remote", &id])
        .output()
        .unwrap();
    assert_error_containing(&out, 4, "--identity");
    // Without any identity (on a host whose store lost it): a usage error saying what to pass.
    fs::remove_dir_all(r.env.store()).unwrap();
    let out = r
        .cmd()
        .env_remove("JOBSWEEP_IDENTITY")
        .args(["snapshot", "pull", &id])
        .output()
        .unwrap();
    assert_error_containing(&out, 2, "--identity");
}

#[test]
fn an_unreachable_replica_exits_8_with_the_local_snapshot_intact() {
    let r = Replicated::s3();
    let dead = format!(
        "http://127.0.0.1:{}",
        crate::pg_server::free_port().expect("a free port")
    );
    let out = r
        .cmd()
        .env("AWS_ENDPOINT_URL", &dead)
        .args(["--json", "snapshot"])
        .output()
        .unwrap();
    assert_error_containing(&out, 8, "push --all");
    let doc = stdout_json(&out);
    let id = id_of(&doc);
    assert_eq!(doc["replica"]["copied"][0]["ok"], false, "{doc}");
    r.ok(&["snapshot", "verify", &id]);
    assert!(!log_replicated(&r, &id));
    // Once the replica is back, push completes it, and `log` says so.
    let pushed = r.ok(&["snapshot", "push", "--all"]);
    assert_eq!(pushed["uploaded"][0], id.as_str());
    r.ok(&["snapshot", "verify", "--remote", &id]);
    assert!(log_replicated(&r, &id));
    let out = r.run(&["log"]);
    assert!(stdout(&out).contains("[replicated]"), "{}", stdout(&out));
}

/// `log`'s `replicated` for the entry `id`.
fn log_replicated(r: &Replicated, id: &str) -> bool {
    let log = r.ok(&["log"]);
    let entry = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {log}"))
        .clone();
    entry["replicated"]
        .as_bool()
        .unwrap_or_else(|| panic!("{entry}"))
}

/// Starts `args` with a replica, paused at `point`; returns the child once it stands there.
fn spawn_paused_replica(r: &Replicated, args: &[&str], point: &str) -> Child {
    let dir = r.env.path("failpoint");
    fs::create_dir_all(&dir).unwrap();
    let child = r
        .cmd()
        .args(args)
        .env("JOBSWEEP_FAILPOINT", point)
        .env("JOBSWEEP_FAILPOINT_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.join("reached").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{args:?} never paused"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = fs::remove_file(dir.join("reached"));
    child
}

#[test]
fn a_killed_upload_never_looks_complete_and_push_completes_it() {
    let r = Replicated::s3();
    // Killed with every part of the data sent but the upload not completed: no object at all.
    let mut child = spawn_paused_replica(&r, &["snapshot"], "pause-replica-upload");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(r.object_names().is_empty(), "{:?}", r.object_names());

    // Killed between the data and the manifest: the data alone, listed as incomplete.
    let mut child = spawn_paused_replica(&r, &["snapshot"], "pause-replica-manifest");
    child.kill().unwrap();
    child.wait().unwrap();
    let names = r.object_names();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".db.zst.age"), "{names:?}");
    let listed = r.ok(&["snapshot", "list", "--remote"]);
    let rows = listed["snapshots"].as_array().unwrap();
    let incomplete: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|s| s["remote_incomplete"] == true)
        .collect();
    assert_eq!(incomplete.len(), 1, "{listed}");
    assert_eq!(incomplete[0]["remote"], false);
    let id = incomplete[0]["id"].as_str().unwrap().to_string();
    // `latest` on the replica never picks it.
    let out = r.run(&["snapshot", "pull", "latest"]);
    assert_error(&out, 2);

    // The local snapshot stood (it was verified before the upload): push completes the copy.
    r.ok(&["snapshot", "verify", &id]);
    let pushed = r.ok(&["snapshot", "push", "--all"]);
    assert!(
        pushed["uploaded"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == id.as_str()),
        "{pushed}"
    );
    r.ok(&["snapshot", "verify", "--remote", &id]);
}

#[test]
fn prune_applies_the_same_rules_on_both_sides() {
    let r = Replicated::s3();
    let ids: Vec<String> = (0..3).map(|_| id_of(&r.ok(&["snapshot"]))).collect();
    // One more that only the replica has (its local copy lost).
    let lost = id_of(&r.ok(&["snapshot"]));
    fs::remove_file(zst_path(&r.env, &lost)).unwrap();
    fs::remove_file(manifest_path(&r.env, &lost)).unwrap();

    let report = r.ok(&["snapshot", "prune", "--keep-last", "1"]);
    assert_eq!(
        report["replica"]["deleted"].as_array().unwrap().len(),
        3,
        "{report}"
    );
    let listed = r.ok(&["snapshot", "list", "--remote"]);
    let rows = listed["snapshots"].as_array().unwrap();
    let remote: Vec<&str> = rows
        .iter()
        .filter(|s| s["remote"] == true)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let local: Vec<&str> = rows
        .iter()
        .filter(|s| s["local"] == true)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    // The newest of the replica is the lost one; the newest local one is the third.
    assert_eq!(remote, vec![lost.as_str()], "{listed}");
    assert_eq!(local, vec![ids[2].as_str()], "{listed}");
    assert_eq!(r.object_names().len(), 2, "{:?}", r.object_names());
}

#[test]
fn a_file_replica_round_trips() {
    let r = Replicated::file();
    let id = id_of(&r.ok(&["snapshot"]));
    let data = fs::read(zst_path(&r.env, &id)).unwrap();
    let mut object = Vec::new();
    fs::File::open(r.objects.join(format!("snapshots/{id}.db.zst.age")))
        .unwrap()
        .read_to_end(&mut object)
        .unwrap();
    assert!(plaintext_signs(&object).is_empty());
    fs::remove_dir_all(r.env.store()).unwrap();
    r.ok(&["snapshot", "pull", &id]);
    assert_eq!(fs::read(zst_path(&r.env, &id)).unwrap(), data);
}

/// The id of the only journal in the store, and its snapshot's id.
fn only_journal(r: &Replicated) -> (String, String) {
    let paths = journals(&r.env);
    assert_eq!(paths.len(), 1, "{paths:?}");
    let id = paths[0].file_stem().unwrap().to_string_lossy().into_owned();
    let snapshot = journal(&r.env, &id)["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    (id, snapshot)
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn prune_takes_journals_with_their_snapshots_on_both_sides() {
    let r = Replicated::s3();
    apply_with(&r);
    let (journal_id, pre_apply) = only_journal(&r);
    let remote_journal = format!("journals/{journal_id}.json.age");
    r.ok(&["snapshot"]);
    r.ok(&["snapshot"]);

    // The newest apply's snapshot is protected on both sides, and its journal stays.
    let report = r.ok(&["snapshot", "prune", "--keep-last", "1"]);
    assert!(!ids(&report["deleted"]).contains(&pre_apply), "{report}");
    assert!(!ids(&report["replica"]["deleted"]).contains(&pre_apply));
    assert_eq!(ids(&report["deleted"]).len(), 1, "{report}");
    assert_eq!(ids(&report["replica"]["deleted"]).len(), 1, "{report}");
    assert!(ids(&report["deleted_journals"]).is_empty(), "{report}");
    assert!(ids(&report["replica"]["deleted_journals"]).is_empty());
    assert!(journal_path(&r.env, &journal_id).exists());
    assert!(r.object_names().contains(&remote_journal));

    // --dry-run says what would go and deletes nothing.
    let before = r.object_names();
    let report = r.ok(&[
        "snapshot",
        "prune",
        "--keep-last",
        "1",
        "--force",
        "--dry-run",
    ]);
    assert_eq!(ids(&report["deleted_journals"]), vec![journal_id.clone()]);
    assert_eq!(
        ids(&report["replica"]["deleted_journals"]),
        vec![journal_id.clone()]
    );
    assert_eq!(r.object_names(), before);
    assert!(journal_path(&r.env, &journal_id).exists());

    // With --force its snapshot goes, and the journal with it, on both sides.
    let report = r.ok(&["snapshot", "prune", "--keep-last", "1", "--force"]);
    assert_eq!(ids(&report["deleted"]), vec![pre_apply.clone()], "{report}");
    assert_eq!(ids(&report["replica"]["deleted"]), vec![pre_apply.clone()]);
    assert_eq!(ids(&report["deleted_journals"]), vec![journal_id.clone()]);
    assert_eq!(
        ids(&report["replica"]["deleted_journals"]),
        vec![journal_id.clone()]
    );
    assert!(!journal_path(&r.env, &journal_id).exists());
    assert!(!manifest_path(&r.env, &pre_apply).exists());
    let names = r.object_names();
    assert!(
        !names.iter().any(|n| n.starts_with("journals/")),
        "{names:?}"
    );
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn the_replicas_own_journals_protect_snapshots_on_both_sides() {
    let r = Replicated::s3();
    apply_with(&r);
    let (journal_id, pre_apply) = only_journal(&r);
    r.ok(&["snapshot"]);
    r.ok(&["snapshot"]);
    // This store lost the journal; the replica still has it, and it still protects.
    fs::remove_file(journal_path(&r.env, &journal_id)).unwrap();
    let report = r.ok(&["snapshot", "prune", "--keep-last", "1"]);
    let kept = report["kept"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == pre_apply.as_str())
        .unwrap_or_else(|| panic!("{pre_apply} not kept: {report}"));
    assert_eq!(kept["reasons"][0], "newest-apply", "{report}");
    assert!(!ids(&report["replica"]["deleted"]).contains(&pre_apply));
    assert!(r
        .object_names()
        .contains(&format!("snapshots/{pre_apply}.db.zst.age")));

    // Without the identity the replica's journal cannot be read: like a damaged journal it
    // keeps every snapshot made before it, and prune says so.
    let out = r
        .cmd()
        .env_remove("JOBSWEEP_IDENTITY")
        .args(["--json", "snapshot", "prune", "--keep-last", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    let warning = &report["warnings"][0];
    assert_eq!(warning["kind"], "unreadable_replica_journal", "{report}");
    assert_eq!(warning["journal"], journal_id.as_str(), "{report}");
    assert!(!ids(&report["deleted"]).contains(&pre_apply), "{report}");
    assert!(!ids(&report["replica"]["deleted"]).contains(&pre_apply));
    assert!(manifest_path(&r.env, &pre_apply).exists());
}

#[test]
fn an_unreachable_replica_during_prune_exits_8_after_the_local_prune() {
    let r = Replicated::s3();
    let ids_made: Vec<String> = (0..3).map(|_| id_of(&r.ok(&["snapshot"]))).collect();
    let before = r.object_names();
    let dead = format!(
        "http://127.0.0.1:{}",
        crate::pg_server::free_port().expect("a free port")
    );
    let out = r
        .cmd()
        .env("AWS_ENDPOINT_URL", &dead)
        .args(["--json", "snapshot", "prune", "--keep-last", "1"])
        .output()
        .unwrap();
    assert_error_containing(&out, 8, "local prune is done");
    let report = stdout_json(&out);
    assert_eq!(ids(&report["deleted"]).len(), 2, "{report}");
    assert!(report["replica"]["error"].is_string(), "{report}");
    assert!(ids(&report["replica"]["deleted"]).is_empty());
    // The local prune happened; the replica kept everything.
    assert!(!manifest_path(&r.env, &ids_made[0]).exists());
    assert!(!manifest_path(&r.env, &ids_made[1]).exists());
    r.ok(&["snapshot", "verify", &ids_made[2]]);
    assert_eq!(r.object_names(), before);
    // Reachable again: the same prune catches the replica up.
    let report = r.ok(&["snapshot", "prune", "--keep-last", "1"]);
    assert_eq!(ids(&report["replica"]["deleted"]).len(), 2, "{report}");
    assert_eq!(r.object_names().len(), 2);
}

fn flip_middle_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(path, &bytes).unwrap();
}

#[test]
fn restore_fetches_a_damaged_or_missing_data_file_from_the_replica() {
    let r = Replicated::s3();
    let before = dump(&r.env.db);
    let id = id_of(&r.ok(&["snapshot"]));
    let good = fs::read(zst_path(&r.env, &id)).unwrap();
    apply_with(&r);

    // A damaged local data file, its manifest good: the replica's copy is fetched, verified and
    // put in its place, and the report says where it came from.
    flip_middle_byte(&zst_path(&r.env, &id));
    let target = r.env.path("restored.db");
    let to = target.to_string_lossy().into_owned();
    let report = r.ok(&["restore", "--snapshot", &id, "--to", &to]);
    assert_eq!(report["from_replica"], r.url.as_str(), "{report}");
    assert_eq!(fs::read(zst_path(&r.env, &id)).unwrap(), good);
    assert_eq!(dump(&target), before);

    // A missing one, restored into the live database.
    fs::remove_file(zst_path(&r.env, &id)).unwrap();
    let out = r.run(&["restore", "--snapshot", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("came from the replica"),
        "{}",
        stderr(&out)
    );
    assert_eq!(dump(&r.env.db), before);
    assert_eq!(fs::read(zst_path(&r.env, &id)).unwrap(), good);
    // A good local copy is used as it is.
    let report = r.ok(&["restore", "--snapshot", &id, "--to", &to, "--force"]);
    assert!(report["from_replica"].is_null(), "{report}");
    assert_no_temp_files(&r.env);
}

#[test]
fn a_tampered_remote_copy_of_a_damaged_snapshot_changes_nothing() {
    let r = Replicated::s3();
    let id = id_of(&r.ok(&["snapshot"]));
    apply_with(&r);
    flip_middle_byte(&zst_path(&r.env, &id));
    flip_middle_byte(&r.objects.join(format!("snapshots/{id}.db.zst.age")));
    let damaged = fs::read(zst_path(&r.env, &id)).unwrap();
    let db = dump(&r.env.db);
    let store = files_under(&r.env.store());

    let out = r.run(&["restore", "--snapshot", &id]);
    assert_error_containing(&out, 4, "from the replica");
    assert_eq!(dump(&r.env.db), db);
    assert_eq!(files_under(&r.env.store()), store);
    assert_eq!(fs::read(zst_path(&r.env, &id)).unwrap(), damaged);
    assert_no_temp_files(&r.env);
}

#[test]
fn the_weekly_cron_script_alerts_on_exit_8_with_the_local_work_done() {
    let r = Replicated::s3();
    let log = r.env.path("jobsweep.jsonl");
    let dead = format!(
        "http://127.0.0.1:{}",
        crate::pg_server::free_port().expect("a free port")
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/jobsweep-weekly");
    let out = r
        .cmd()
        .get_envs()
        .fold(Std::new("sh"), |mut cmd, (k, v)| {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
            cmd
        })
        .arg(script)
        .env("JOBSWEEP_BIN", assert_cmd::cargo::cargo_bin("jobsweep"))
        .env("JOBSWEEP_DB", &r.env.db)
        .env("JOBSWEEP_LOG", &log)
        .env("AWS_ENDPOINT_URL", &dead)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("OFF-HOST COPY FAILED (exit 8)"),
        "{}",
        stderr(&out)
    );
    let line: serde_json::Value =
        serde_json::from_str(fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["apply"]["exit"], 8, "{line}");
    assert_eq!(line["push"]["exit"], 8, "{line}");
    // The database work and the local snapshot are done and good.
    let id = line["apply"]["report"]["snapshot_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    r.ok(&["snapshot", "verify", &id]);
    assert!(!line["apply"]["report"]["changed"]
        .as_array()
        .unwrap()
        .is_empty());
    // The next run with the replica back pushes what was missing and exits 0.
    let pushed = r.ok(&["snapshot", "push", "--all"]);
    assert!(ids(&pushed["uploaded"]).contains(&id), "{pushed}");
}

#[test]
fn a_human_run_says_what_it_copied_in_either_language() {
    let r = Replicated::file();
    let en = r.run(&["--lang", "en", "snapshot"]);
    assert!(en.status.success(), "{}", stderr(&en));
    let said = stderr(&en);
    assert!(said.contains(&format!("replica {}: ", r.url)), "{said}");
    assert!(said.contains("object(s) copied"), "{said}");
    assert!(!said.contains("plaintext"), "encrypted copies: {said}");
    let ko = r.run(&["--lang", "ko", "snapshot"]);
    assert!(stderr(&ko).contains("개 복사됨"), "{}", stderr(&ko));
}
