//! Opening the app's database file, recognising its schema variant, and turning SQLite's
//! failures into one-line errors with the spec's exit codes.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::core::schema::{Schema, Variant};
use crate::engine::{EngineError, Special};

/// An open database file.
pub struct Database {
    pub conn: Connection,
    pub path: PathBuf,
    /// SQLite rolled back a hot journal left by a crashed writer when this file was opened.
    pub rolled_back_hot_journal: bool,
    /// How long to wait for the app's locks (`--busy-timeout`), for the waits SQLite's own busy
    /// handler does not cover (backup steps).
    pub busy_timeout: Duration,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Descriptors of database files opened outside SQLite, kept open until the process exits.
static HEADER_FILES: std::sync::Mutex<Vec<fs::File>> = std::sync::Mutex::new(Vec::new());

/// Reads the start of a database file into `buf` (as much as it holds); returns the bytes read.
///
/// The descriptor is never closed: POSIX advisory locks belong to the process, and closing *any*
/// descriptor of a file drops every lock this process holds on it. A connection of this process
/// may hold SQLite's locks on the file (in WAL mode, a SHARED lock for as long as it is open);
/// losing it lets the app's last connection check-point and delete the WAL under that
/// connection, whose writes then go into a deleted file. The few descriptors kept cost nothing.
fn read_header(path: &Path, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut file = fs::File::open(path)?;
    let mut n = 0;
    let result = loop {
        if n == buf.len() {
            break Ok(n);
        }
        match file.read(&mut buf[n..]) {
            Ok(0) => break Ok(n),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    match HEADER_FILES.lock() {
        Ok(mut kept) => kept.push(file),
        Err(poisoned) => poisoned.into_inner().push(file),
    }
    result
}

/// Checks the path before SQLite sees it, so a wrong path gets a precise message instead of
/// SQLite's "unable to open database file".
fn check_path(path: &Path) -> Result<()> {
    let db = shown(path);
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // It was given (`--db`, `JOBSWEEP_DB`: discovery only returns files that exist), so
            // the hint is about the path: a relative one is taken from the current directory.
            let cwd = std::env::current_dir().ok().filter(|_| path.is_relative());
            return Err(EngineError::NotFound { db, cwd }.into());
        }
        Err(e) => {
            return Err(EngineError::Unreadable {
                db,
                err: e.to_string(),
            }
            .into())
        }
    };
    not_a_regular_file(path, &meta)?;
    let mut header = [0u8; 16];
    let read = read_header(path, &mut header).map_err(|e| EngineError::Unreadable {
        db: db.clone(),
        err: e.to_string(),
    })?;
    if read == 0 {
        return Err(EngineError::Empty { db }.into());
    }
    if read < header.len() || &header != SQLITE_MAGIC {
        return Err(EngineError::NotADatabase { db }.into());
    }
    Ok(())
}

/// How a path appears in messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Refuses at once a database path that exists but is not a regular file (a directory, a FIFO,
/// a socket, a device): opening a FIFO would block forever. A missing path passes (the command
/// says "not found" when it opens it).
pub fn refuse_non_regular(path: &Path) -> Result<()> {
    match fs::metadata(path) {
        Ok(meta) => not_a_regular_file(path, &meta),
        Err(_) => Ok(()),
    }
}

fn not_a_regular_file(path: &Path, meta: &fs::Metadata) -> Result<()> {
    if meta.is_dir() {
        return Err(EngineError::Directory { db: shown(path) }.into());
    }
    if !meta.is_file() {
        #[cfg(unix)]
        let kind = {
            use std::os::unix::fs::FileTypeExt;
            let t = meta.file_type();
            if t.is_fifo() {
                Special::Fifo
            } else if t.is_socket() {
                Special::Socket
            } else if t.is_block_device() || t.is_char_device() {
                Special::Device
            } else {
                Special::Other
            }
        };
        #[cfg(not(unix))]
        let kind = Special::Other;
        return Err(EngineError::NotRegular {
            db: shown(path),
            kind,
        }
        .into());
    }
    Ok(())
}

/// A database's page size and page count (an image's size).
pub struct Pages {
    pub page_size: u32,
    pub page_count: u64,
}

impl Database {
    /// Opens for reading only. If SQLite finds a hot journal left by a crashed writer it cannot
    /// roll it back read-only, so the file is opened read-write once to let SQLite do the
    /// recovery the app's next connection would do, and that is reported.
    pub fn open_read_only(path: &Path, busy_timeout: Duration) -> Result<Database> {
        check_path(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = open_with(path, flags, busy_timeout)?;
        match touch(&conn) {
            Ok(()) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK =>
            {
                drop(conn);
                let rw = open_with(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    busy_timeout,
                )?;
                touch(&rw).map_err(|e| match e.sqlite_error_code() {
                    // SQLite opened it read-only after all: this user may not write here.
                    Some(
                        ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied,
                    ) => hot_journal_failure(path),
                    _ => sqlite_error(path, e),
                })?;
                drop(rw);
                let conn = open_with(path, flags, busy_timeout)?;
                touch(&conn).map_err(|e| sqlite_error(path, e))?;
                return Ok(Database {
                    conn,
                    path: path.to_path_buf(),
                    rolled_back_hot_journal: true,
                    busy_timeout,
                });
            }
            Err(e) => return Err(truncation_failure(path).unwrap_or_else(|| sqlite_error(path, e))),
        }
        Database::checked(conn, path, busy_timeout)
    }

    /// Opens for writing; a file the OS only lets us read is refused with exit 3.
    pub fn open_read_write(path: &Path, busy_timeout: Duration) -> Result<Database> {
        check_path(path)?;
        let conn = open_with(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            busy_timeout,
        )?;
        touch(&conn)
            .map_err(|e| truncation_failure(path).unwrap_or_else(|| sqlite_error(path, e)))?;
        if conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .unwrap_or(true)
            || !dir_writable(path)
        {
            return Err(EngineError::ReadOnly {
                db: shown(path),
                beside: true,
            }
            .into());
        }
        Database::checked(conn, path, busy_timeout)
    }

    /// Runs `read` inside one read transaction, begun before it and always ended after it.
    /// Every read in it sees one committed state: in rollback-journal mode it holds the SHARED
    /// lock (its first read waits, up to the busy timeout, for a writer) and keeps the app's
    /// writers out until it ends; in WAL mode it blocks nobody.
    pub fn in_read_transaction<T>(&self, read: impl FnOnce() -> Result<T>) -> Result<T> {
        let err = |e| sqlite_error(&self.path, e);
        self.conn.execute_batch("BEGIN").map_err(err)?;
        let result = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(err)
            .and_then(|()| read());
        // A read transaction has nothing to commit; should COMMIT fail, ROLLBACK still ends it.
        if self.conn.execute_batch("COMMIT").is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result
    }

    /// The database's page size and page count (as of the read transaction, inside one).
    pub fn pages(&self) -> Result<Pages> {
        let err = |e| sqlite_error(&self.path, e);
        let page_size = (self.conn)
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(err)?;
        let page_count = (self.conn)
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(err)?;
        Ok(Pages {
            page_size,
            page_count,
        })
    }

    /// `PRAGMA journal_mode` of the file (`delete`, `wal`, ...).
    pub fn journal_mode(&self) -> Result<String> {
        self.conn
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .map(|m| m.to_ascii_lowercase())
            .map_err(|e| sqlite_error(&self.path, e))
    }

    /// `conn` as the database at `path`, refused when the file is truncated.
    fn checked(
        conn: rusqlite::Connection,
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<Database> {
        let db = Database {
            conn,
            path: path.to_path_buf(),
            rolled_back_hot_journal: false,
            busy_timeout,
        };
        db.check_not_truncated()?;
        Ok(db)
    }

    /// A rollback-journal file shorter than its page count is truncated; SQLite would only
    /// notice when a query reaches the missing pages, possibly after reporting partial data.
    /// (In WAL mode the file may legitimately be shorter than the newest page count.)
    fn check_not_truncated(&self) -> Result<()> {
        if self.journal_mode()? == "wal" {
            return Ok(());
        }
        truncation_failure(&self.path).map_or(Ok(()), Err)
    }

    /// Finds the schema variant from `PRAGMA table_info`; names what is missing when neither fits.
    pub fn schema(&self) -> Result<Schema> {
        let jobs = self.columns("analysis_jobs")?;
        let results = self.columns("analysis_results")?;
        let progress = self.columns("analysis_progress")?;
        let db = || shown(&self.path);
        if jobs.is_empty() {
            return Err(EngineError::NoTable {
                db: db(),
                table: "analysis_jobs",
            }
            .into());
        }
        let has = |cols: &[String], name: &str| cols.iter().any(|c| c.eq_ignore_ascii_case(name));
        for column in ["id", "job_id", "status", "created_at"] {
            if !has(&jobs, column) {
                return Err(EngineError::NoColumn {
                    table: "analysis_jobs",
                    column: column.to_string(),
                }
                .into());
            }
        }
        if results.is_empty() {
            return Err(EngineError::NoTable {
                db: db(),
                table: "analysis_results",
            }
            .into());
        }
        if !has(&results, "job_id") {
            return Err(EngineError::NoColumn {
                table: "analysis_results",
                column: "job_id".to_string(),
            }
            .into());
        }
        let variant = if has(&results, "status") {
            Variant::Current
        } else if has(&results, "stt_text") {
            Variant::Legacy
        } else {
            return Err(EngineError::NoVariant.into());
        };
        Ok(Schema {
            variant,
            job_columns: jobs,
            result_columns: results,
            progress_columns: progress,
        })
    }

    fn columns(&self, table: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(|e| sqlite_error(&self.path, e))?;
        let names = stmt
            .query_map([table], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| sqlite_error(&self.path, e))?;
        Ok(names)
    }

    /// `PRAGMA quick_check`: exit 3 naming the first problem when the file is damaged.
    pub fn quick_check(&self) -> Result<()> {
        let first: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| sqlite_error(&self.path, e))?;
        if first != "ok" {
            // SQLite's report spans lines; the error must stay one line.
            let first = first.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(EngineError::Corrupt {
                db: shown(&self.path),
                what: first,
            }
            .into());
        }
        Ok(())
    }
}

/// A hot journal this user cannot roll back (no write access to the file or its directory):
/// says so, with what to do, instead of a bare "read-only".
fn hot_journal_failure(path: &Path) -> anyhow::Error {
    EngineError::HotJournalReadOnly { db: shown(path) }.into()
}

/// When SQLite reports damage, says "truncated" if the header promises more pages than the file
/// holds (the header's page count is valid when its change counter matches, bytes 24 and 92).
fn truncation_failure(path: &Path) -> Option<anyhow::Error> {
    let mut header = [0u8; 100];
    if read_header(path, &mut header).ok()? < header.len() {
        return None;
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    if be32(24) != be32(92) {
        return None;
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let pages = u64::from(be32(28));
    let len = fs::metadata(path).ok()?.len();
    (len < pages * page_size).then(|| {
        EngineError::Truncated {
            db: shown(path),
            len,
            pages,
            page_size,
        }
        .into()
    })
}

fn open_with(path: &Path, flags: OpenFlags, busy_timeout: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| sqlite_error(path, e))?;
    Ok(conn)
}

/// The first read: SQLite only looks at the file (and any hot journal) when a statement runs.
fn touch(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
}

fn dir_writable(path: &Path) -> bool {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::tempfile_in(dir).is_ok()
}

/// Turns a SQLite error about `path` into a one-line failure with exit 3.
pub fn sqlite_error(path: &Path, err: rusqlite::Error) -> anyhow::Error {
    let db = shown(path);
    let code = match &err {
        rusqlite::Error::SqliteFailure(e, _) => Some(e.code),
        _ => None,
    };
    let err = match code {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            EngineError::Locked { db }
        }
        Some(ErrorCode::NotADatabase) => EngineError::NotADatabase { db },
        Some(ErrorCode::DatabaseCorrupt) => EngineError::Corrupt {
            db,
            what: err.to_string(),
        },
        Some(ErrorCode::ReadOnly) => EngineError::ReadOnly { db, beside: false },
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
            EngineError::CannotOpen {
                db,
                err: err.to_string(),
            }
        }
        _ => EngineError::Driver {
            db,
            driver: "SQLite",
            err: err.to_string(),
        },
    };
    err.into()
}

/// A column value as text for reports and journals; NULL is `None`. A blob is shown as
/// `<blob>`: it never equals a text status, just as in SQLite's own comparisons.
pub fn value_text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        ValueRef::Blob(_) => Some("<blob>".to_string()),
    }
}
