//! The shared test environment: a temp directory, fixture databases built from `fixtures/`, and
//! the real binary run with a clean environment and a fixed "now".

use std::path::{Path, PathBuf};

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
        let mut cmd = bare_cmd();
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
    let mut cmd = Command::cargo_bin("jobsweep").expect("binary");
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
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Every table's rows in primary-key order, as text: two equal dumps mean equal contents.
pub fn dump(path: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
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
