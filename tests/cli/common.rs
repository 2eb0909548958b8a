//! The shared test environment: a temp directory, fixture databases built from `fixtures/`, and
//! the real binary run with a clean environment and a fixed "now".

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;

#[path = "../../fixtures/fixture.rs"]
mod fixture;
pub use fixture::NOW;

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl TestEnv {
    /// An empty temp directory; `db` points at `database.db` inside it (not created).
    pub fn empty() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("database.db");
        TestEnv { dir, db }
    }

    /// A database of `variant` (current|legacy) holding `scenarios` (guide, edge, empty).
    pub fn with(variant: &str, scenarios: &[&str]) -> TestEnv {
        let env = TestEnv::empty();
        fixture::build(&env.db, variant, scenarios).expect("fixture");
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The store directory the tool uses by default.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join(".jobsweep")
    }

    /// The binary, with no outside environment, `--db`, English and the fixtures' "now".
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// `cmd` as a plain `std::process::Command` (to spawn it).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = bare_std_cmd();
        cmd.arg("--db")
            .arg(&self.db)
            .args(["--lang", "en", "--now", NOW]);
        cmd
    }

    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).expect("open db")
    }
}

/// The binary with a clean environment and nothing else.
pub fn bare_cmd() -> Command {
    Command::from_std(bare_std_cmd())
}

/// `bare_cmd` as a plain `std::process::Command`.
pub fn bare_std_cmd() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("jobsweep"));
    for var in [
        "LANG",
        "LC_ALL",
        "LC_MESSAGES",
        "DATA_DIR",
        "NO_COLOR",
        "JOBSWEEP_DB",
        "JOBSWEEP_STORE",
        "JOBSWEEP_LANG",
        "COMPLETE",
        "JOBSWEEP_FAILPOINT",
        "JOBSWEEP_TEST_CLOCK",
        "JOBSWEEP_REPLICA",
        "JOBSWEEP_REPLICA_RECIPIENTS",
        "JOBSWEEP_IDENTITY",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Every table's rows in primary-key order, as text: two equal dumps mean equal contents. The
/// app's tables only: jobsweep's own `jobsweep_outcomes` (design.md §4.2) is left out.
pub fn dump(path: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'jobsweep_outcomes' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    let mut out = String::new();
    for table in tables {
        out.push_str(&format!("## {table}\n"));
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
            .expect("select");
        let n = stmt.column_count();
        let mut rows = stmt.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            let cells: Vec<String> = (0..n)
                .map(|i| format!("{:?}", row.get_ref(i).expect("cell")))
                .collect();
            out.push_str(&cells.join("|"));
            out.push('\n');
        }
    }
    out
}

/// Every file under `dir`, relative, sorted (empty when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The status of one job, by job_id.
pub fn status_of(env: &TestEnv, job_id: &str) -> Option<String> {
    env.conn()
        .query_row(
            "SELECT status FROM analysis_jobs WHERE job_id = ?1",
            [job_id],
            |r| r.get(0),
        )
        .expect("job exists")
}

pub fn stdout_json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Whether this process is root (root reads any file, so permission tests drop privileges).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// The binary set up like `TestEnv::cmd` but with an empty environment, run as `nobody` through
/// `setpriv` when this process is root (root ignores permission bits).
pub fn unprivileged_cmd(env: &TestEnv) -> std::process::Command {
    let bin = assert_cmd::cargo::cargo_bin("jobsweep");
    let mut cmd = if is_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        c
    } else {
        std::process::Command::new(bin)
    };
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("--db")
        .arg(&env.db)
        .args(["--lang", "en", "--now", NOW]);
    cmd
}

/// Runs `env.cmd()` with `args`.
pub fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd().args(args).output().expect("run jobsweep")
}

/// Runs the binary like `run`, on another database file (of the test's directory: same default
/// store).
pub fn run_on(db: &Path, args: &[&str]) -> Output {
    bare_cmd()
        .arg("--db")
        .arg(db)
        .args(["--lang", "en", "--now", NOW])
        .args(args)
        .output()
        .expect("run jobsweep")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A failed run: this exit code, one `error: ` line (plus at most one `hint: ` line after it), no
/// panic or backtrace. Returns the error line.
pub fn assert_error(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        !lines.is_empty() && lines[0].starts_with("error: "),
        "stderr: {err}"
    );
    assert!(
        lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")),
        "expected one error line (+hint): {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    lines[0].to_string()
}

/// `assert_error`, and stderr contains `needle`.
pub fn assert_error_containing(out: &Output, code: i32, needle: &str) -> String {
    let line = assert_error(out, code);
    let err = stderr(out);
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    line
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

pub fn journal_path(env: &TestEnv, id: &str) -> PathBuf {
    env.store().join("journals").join(format!("{id}.json"))
}

/// The journal of `id`.
pub fn journal(env: &TestEnv, id: &str) -> serde_json::Value {
    read_json(&journal_path(env, id))
}

/// The journal files of the store, sorted (temp files left out).
pub fn journals(env: &TestEnv) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(env.store().join("journals"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| {
        p.extension().is_some_and(|e| e == "json")
            && !p.file_name().unwrap().to_string_lossy().starts_with('.')
    });
    out.sort();
    out
}

/// Runs apply successfully and returns its JSON report.
pub fn apply_ok(env: &TestEnv, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "apply"];
    args.extend_from_slice(extra);
    let out = run(env, &args);
    assert!(out.status.success(), "apply failed: {}", stderr(&out));
    stdout_json(&out)
}

/// Takes a snapshot and returns its manifest.
pub fn snap(env: &TestEnv) -> serde_json::Value {
    let out = run(env, &["--json", "snapshot"]);
    assert!(out.status.success(), "snapshot failed: {}", stderr(&out));
    stdout_json(&out)
}

pub fn id_of(manifest: &serde_json::Value) -> String {
    manifest["id"].as_str().unwrap().to_string()
}

pub fn zst_path(env: &TestEnv, id: &str) -> PathBuf {
    env.store().join("snapshots").join(format!("{id}.db.zst"))
}

pub fn manifest_path(env: &TestEnv, id: &str) -> PathBuf {
    env.store().join("snapshots").join(format!("{id}.json"))
}

/// The manifests `snapshot list --json` prints, newest first.
pub fn listed_snapshots(env: &TestEnv) -> Vec<serde_json::Value> {
    let out = run(env, &["--json", "snapshot", "list"]);
    stdout_json(&out)["snapshots"].as_array().unwrap().clone()
}

/// No temp file of any run is left in the store or beside the database.
pub fn assert_no_temp_files(env: &TestEnv) {
    let leftovers: Vec<String> = files_under(env.dir.path())
        .into_iter()
        .filter(|f| {
            let name = Path::new(f)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            name.starts_with(".tmp-") || name.starts_with(".extract-") || name.contains("-journal")
        })
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// Starts the binary with `args` and the fail points `points` (comma-separated, one of them a
/// `pause-` point) and waits until it stands at the pause; returns the child and its dir.
pub fn spawn_paused(env: &TestEnv, args: &[&str], points: &str) -> (std::process::Child, PathBuf) {
    let dir = env.path("failpoint");
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("reached"));
    let _ = std::fs::remove_file(dir.join("resume"));
    let child = env
        .std_cmd()
        .args(args)
        .env("JOBSWEEP_FAILPOINT", points)
        .env("JOBSWEEP_FAILPOINT_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.join("reached").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{args:?} never paused"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, dir)
}

/// Runs `args` paused before its transaction while `hold` (run on a connection of the test
/// process) keeps a lock on the database; returns the output of the command.
pub fn run_against_a_lock(env: &TestEnv, args: &[&str], hold: &str) -> Output {
    let (child, dir) = spawn_paused(env, args, "pause-before-transaction");
    let app = env.conn();
    app.execute_batch(hold).unwrap();
    // A read lock is taken by the first read of the transaction.
    app.query_row("SELECT count(*) FROM analysis_jobs", [], |_| Ok(()))
        .unwrap();
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    app.execute_batch("ROLLBACK").unwrap();
    out
}

/// A writer that dies mid-transaction after spilling changed pages into the file.
pub fn crash_a_writer(env: &TestEnv) {
    let script = r#"
import os, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size=2")
con.execute("BEGIN")
con.execute("UPDATE analysis_jobs SET status='processing' WHERE status='completed'")
con.execute("UPDATE analysis_results SET stt_text=stt_text||stt_text")
os._exit(0)
"#;
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&env.db)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        env.path("database.db-journal").exists(),
        "the crash left no journal"
    );
}
