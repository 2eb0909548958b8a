//! The PostgreSQL the tests run against (design.md §8.6): the server named by
//! `JOBSWEEP_TEST_PG_URL`, or else a private one started once per test run from the installed
//! server binaries, in a temp dir, on a free port. Each test gets its own database.
//!
//! The private server is started by the first test that needs it and shared by the test threads
//! of this binary. A static is never dropped, so a watchdog shell, started beside the server,
//! stops it and removes its directory once this test process is gone (also after a panic or a
//! kill). The tests talk to the server with `psql`: the `postgres` crate belongs to the engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The superuser password of the private server: the tests check it is never shown.
pub const PASSWORD: &str = "s3cret-Pg-pw";

const INSTALL_HINT: &str = "the PostgreSQL tests need a server: install Debian's `postgresql` \
    package (apt-get install postgresql; the harness runs /usr/lib/postgresql/*/bin/initdb and \
    postgres itself) or set JOBSWEEP_TEST_PG_URL=postgresql://user:password@host:port/db";

/// Where the server is: an admin URL whose database part is replaced per test.
struct Server {
    host: String,
    port: u16,
    user: String,
    password: String,
    bin: PathBuf,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

fn server() -> &'static Server {
    match SERVER.get_or_init(start_or_find) {
        Ok(server) => server,
        Err(why) => panic!("{why}\n{INSTALL_HINT}"),
    }
}

/// The newest installed server's bin directory.
fn server_bin() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL server binaries in /usr/lib/postgresql ({e})"))?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_string())
}

fn start_or_find() -> Result<Server, String> {
    let bin = server_bin()?;
    if let Ok(url) = std::env::var("JOBSWEEP_TEST_PG_URL") {
        return from_url(&url, bin);
    }
    start_private(bin, &|_| Ok(Vec::new()))
}

/// A second private server, its own for the TLS tests: `ssl=on` with `server.crt` and
/// `server.key` from `certs`, and only TLS connections accepted over TCP (`hostssl`). Stopped
/// with the test process, like the shared one. Needs the local server binaries even when
/// `JOBSWEEP_TEST_PG_URL` names the shared server.
pub struct TlsServer(Server);

impl TlsServer {
    pub fn start(certs: &Path) -> TlsServer {
        let setup = |data: &Path| -> Result<Vec<String>, String> {
            let account = server_account();
            for name in ["server.crt", "server.key"] {
                let to = data.join(name);
                std::fs::copy(certs.join(name), &to).map_err(|e| format!("{name}: {e}"))?;
                chown(&to, account)?;
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .map_err(|e| format!("server.key: {e}"))?;
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all scram-sha-256\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 hostssl all all ::1/128 scram-sha-256\n",
            )
            .map_err(|e| format!("pg_hba.conf: {e}"))?;
            Ok(vec!["-c".into(), "ssl=on".into()])
        };
        match server_bin().and_then(|bin| start_private(bin, &setup)) {
            Ok(server) => TlsServer(server),
            Err(why) => panic!("{why}\n{INSTALL_HINT}"),
        }
    }

    /// The URL of database `db` with host name `host` (which the certificate may not name).
    pub fn url(&self, host: &str, db: &str) -> String {
        format!(
            "postgresql://{}:{}@{host}:{}/{db}",
            self.0.user, self.0.password, self.0.port
        )
    }

    /// Runs SQL in `db` (over TLS, as the server demands).
    pub fn sql(&self, db: &str, sql: &str) -> String {
        match self.0.psql(db, sql) {
            Ok(out) => out,
            Err(e) => panic!("psql in {db}: {e}"),
        }
    }
}

/// `postgresql://user:password@host:port/...` (the forms the harness needs, not all of libpq's).
fn from_url(url: &str, bin: PathBuf) -> Result<Server, String> {
    let bad = || {
        format!("JOBSWEEP_TEST_PG_URL must look like postgresql://user:password@host:port/db, not {url:?}")
    };
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(bad)?;
    let (auth, hostport) = rest.split_once('@').ok_or_else(bad)?;
    let hostport = hostport.split('/').next().unwrap_or_default();
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    Ok(Server {
        host: host.to_string(),
        port: port.parse().map_err(|_| bad())?,
        user: user.to_string(),
        password: password.to_string(),
        bin,
    })
}

/// The account the server runs as: initdb refuses root, so as root an unprivileged one.
fn server_account() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    for name in [c"postgres", c"nobody"] {
        // SAFETY: a NUL-terminated name; the returned record is read at once, on this thread.
        let pw = unsafe { libc::getpwnam(name.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: checked non-null above.
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            return Some((uid, gid));
        }
    }
    None
}

fn chown(path: &Path, account: Option<(u32, u32)>) -> Result<(), String> {
    if let Some((uid, gid)) = account {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", path.display()))?;
    }
    Ok(())
}

fn as_account(cmd: &mut Command, account: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = account {
        cmd.uid(uid).gid(gid).env("HOME", "/tmp");
    }
}

/// A port of 127.0.0.1 nothing listens on now.
pub fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}

/// Starts a server from `bin` in a new temp dir; `setup` prepares its data directory after
/// `initdb` and returns extra server arguments.
fn start_private(
    bin: PathBuf,
    setup: &dyn Fn(&Path) -> Result<Vec<String>, String>,
) -> Result<Server, String> {
    let account = server_account();
    let dir = tempfile::Builder::new()
        .prefix("jobsweep-test-pg-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    chown(&dir, account)?;
    let data = dir.join("data");
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, PASSWORD).map_err(|e| format!("pwfile: {e}"))?;
    chown(&pwfile, account)?;
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=scram-sha-256", "--no-sync"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["-E", "UTF8", "--locale=C"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    as_account(&mut initdb, account);
    let out = initdb.output().map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let extra = setup(&data)?;
    // A port taken between probing and binding makes the server exit: try a few.
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .args(&extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("server.log"))
                    .map_err(|e| format!("server log: {e}"))?,
            ));
        as_account(&mut postgres, account);
        let mut child = postgres.spawn().map_err(|e| format!("postgres: {e}"))?;
        watchdog(child.id(), &dir)?;
        let server = Server {
            host: "127.0.0.1".into(),
            port,
            user: "postgres".into(),
            password: PASSWORD.into(),
            bin: bin.clone(),
        };
        // Generous: on a loaded machine initdb's fresh cluster can take a while to come up.
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                last = format!(
                    "postgres exited ({status}): {}",
                    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
                );
                break;
            }
            if server.psql("postgres", "SELECT 1").is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if last.is_empty() {
            let _ = child.kill();
            // Reaped, so the next attempt does not find its postmaster.pid still "running".
            let _ = child.wait();
            last = "postgres did not accept connections within 300 s".into();
        }
    }
    Err(last)
}

/// Stops the server (fast shutdown) and removes its directory once this process is gone.
fn watchdog(server_pid: u32, dir: &Path) -> Result<(), String> {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -INT {server_pid} 2>/dev/null; \
         i=0; while kill -0 {server_pid} 2>/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i+1)); done; \
         kill -KILL {server_pid} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("watchdog: {e}"))
}

impl Server {
    fn url(&self, db: &str) -> String {
        format!(
            "postgresql://{}:{}@{}:{}/{db}",
            self.user, self.password, self.host, self.port
        )
    }

    /// Runs `sql` with psql in `db`, stopping at the first error; returns its unaligned output.
    fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", &self.host, "-p", &self.port.to_string()])
            .args(["-U", &self.user, "-d", db])
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "5")
            .env("PGSSLMODE", "prefer")
            .env_remove("PGSERVICE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("psql: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("psql stdin")?;
        let sql = sql.to_string();
        // Written from a thread: a large load must not dead-lock against psql's output.
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(sql.as_bytes())
        });
        let out = child.wait_with_output().map_err(|e| format!("psql: {e}"))?;
        let _ = writer.join();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// A database of its own on the test server, dropped at the end of the test.
pub struct PgDb {
    pub name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl PgDb {
    /// A new empty database.
    pub fn new() -> PgDb {
        let name = format!(
            "jobsweep_t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server = server();
        if let Err(e) = server.psql("postgres", &format!("CREATE DATABASE {name}")) {
            panic!("CREATE DATABASE {name}: {e}");
        }
        PgDb { name }
    }

    /// A new database holding the app's tables as its models create them on PostgreSQL.
    pub fn with_app_schema() -> PgDb {
        let db = PgDb::new();
        db.sql(APP_SCHEMA);
        db
    }

    /// The URL of this database, with the password.
    pub fn url(&self) -> String {
        server().url(&self.name)
    }

    /// The URL of another database on the same server (it need not exist).
    pub fn url_of(&self, db: &str) -> String {
        server().url(db)
    }

    /// The server's password (to check it is never shown).
    pub fn password(&self) -> String {
        server().password.clone()
    }

    /// Runs SQL in this database; panics with psql's error.
    pub fn sql(&self, sql: &str) -> String {
        match server().psql(&self.name, sql) {
            Ok(out) => out,
            Err(e) => panic!("psql in {}: {e}", self.name),
        }
    }

    /// Starts psql running `sql` in this database in the background (an app session).
    pub fn spawn_sql(&self, sql: &str) -> std::process::Child {
        let server = server();
        Command::new(server.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .args(["-h", &server.host, "-p", &server.port.to_string()])
            .args(["-U", &server.user, "-d", &self.name])
            .env("PGPASSWORD", &server.password)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn psql")
    }

    /// Waits until some other session of this database holds a row lock or waits for one.
    pub fn wait_for_row_lock_holder(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let n = self.sql(&format!(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE a.datname = '{}' AND l.locktype = 'transactionid' AND l.granted \
                 AND l.pid <> pg_backend_pid()",
                self.name
            ));
            if n.trim() != "0" {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no app transaction took a lock in 30 s");
    }

    /// Runs SQL in this database; psql's error as `Err`.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        server().psql(&self.name, sql)
    }

    /// One text line per row of every app table, in primary-key order: two equal dumps mean
    /// equal contents (jobsweep's own `jobsweep_outcomes` left out, as in `common::dump`).
    pub fn dump(&self) -> String {
        self.dump_schema("public")
    }

    /// [`PgDb::dump`] of the tables in `schema`.
    pub fn dump_schema(&self, schema: &str) -> String {
        let tables = self.sql(&format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}' \
             AND table_type = 'BASE TABLE' AND table_name <> 'jobsweep_outcomes' ORDER BY 1"
        ));
        let mut out = String::new();
        for table in tables.lines().filter(|l| !l.is_empty()) {
            out.push_str(&format!("## {table}\n"));
            out.push_str(&self.sql(&format!(
                "SELECT t::text FROM \"{schema}\".\"{table}\" t ORDER BY 1"
            )));
        }
        out
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Some(Ok(server)) = SERVER.get() {
            let _ = server.psql(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            );
        }
    }
}

/// What the app's SQLAlchemy models create on PostgreSQL (shared/reference/postgres-schema.sql).
pub const APP_SCHEMA: &str = include_str!("../../fixtures/postgres-schema.sql");

#[test]
fn the_private_server_runs_and_each_test_gets_its_own_database() {
    let a = PgDb::with_app_schema();
    let b = PgDb::new();
    assert_ne!(a.name, b.name);
    a.sql("INSERT INTO employees (emp_id, name) VALUES ('E1', 'Kim')");
    assert_eq!(a.sql("SELECT count(*) FROM employees").trim(), "1");
    assert!(b.try_sql("SELECT count(*) FROM employees").is_err());
}
