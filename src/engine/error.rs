//! The seam's failures (design.md §2): what went wrong with the database, as data. Each engine
//! maps its driver's errors into these; the sentences are `render::errors`', and every one of
//! them is exit 3 (`error::classify`).

use std::path::PathBuf;

/// What kind of non-regular file a database path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Fifo,
    Socket,
    Device,
    Other,
}

/// Why a write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// The disk is full; the database is unchanged.
    DiskFull,
    /// An I/O error, as the driver words it.
    Io(String),
    /// Any other refusal, as the driver words it.
    Driver(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{}", crate::render::errors::engine(self))]
pub enum EngineError {
    /// The database file does not exist; `cwd` is the directory a relative path was taken from.
    NotFound { db: String, cwd: Option<PathBuf> },
    /// The file cannot be read; `err` is the OS's error.
    Unreadable { db: String, err: String },
    /// An empty file.
    Empty { db: String },
    /// A file that is not a database of this engine.
    NotADatabase { db: String },
    /// A directory where a database file was expected.
    Directory { db: String },
    /// A FIFO, socket or device where a database file was expected.
    NotRegular { db: String, kind: Special },
    /// The database cannot be written (`beside`: nor its directory).
    ReadOnly { db: String, beside: bool },
    /// A table of the app's schema is missing.
    NoTable { db: String, table: &'static str },
    /// A column of the app's schema is missing.
    NoColumn { table: &'static str, column: String },
    /// `analysis_results` has neither schema variant's column.
    NoVariant,
    /// The engine reports damage; `what` is its first finding.
    Corrupt { db: String, what: String },
    /// The file is shorter than its header says.
    Truncated {
        db: String,
        len: u64,
        pages: u64,
        page_size: u64,
    },
    /// A crashed writer's hot journal must be rolled back, and this user cannot write.
    HotJournalReadOnly { db: String },
    /// Another program held the database's lock past the busy timeout.
    Locked { db: String },
    /// The driver cannot open the database.
    CannotOpen { db: String, err: String },
    /// A file (the database, or an image of it) cannot be written.
    CannotWrite { file: String, why: WriteFailure },
    /// An image could not be given the page size it needs.
    PageSizeUnchanged { image: String, page_size: u32 },
    /// An image's page size is not the live database's.
    PageSizeDiffers { image: String },
    /// Any other error of the driver (`driver` names it: "SQLite").
    Driver {
        db: String,
        driver: &'static str,
        err: String,
    },
}

/// Why a connection to a database server failed, for the hint that follows the server's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// The server refused the user or the password.
    Auth,
    /// The server has no database of that name.
    NoDatabase,
    /// No server answered (down, or the wrong host or port).
    Unreachable,
    /// Any other refusal of the server.
    Other,
}

/// The failures of a database reached over the network (PostgreSQL, design.md §8), as data:
/// the URL as shown (never its password), the server's own message as `reason`. Worded by
/// `render::errors::server`; the exit statuses are `error::classify`'s (3 unless noted).
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::render::errors::server(self))]
pub enum ServerError {
    /// `--db` is not a `postgresql://` URL.
    NotAUrl,
    /// The URL's `sslmode` (or `PGSSLMODE`, `from_env`) names no mode.
    BadSslMode { value: String, from_env: bool },
    /// The client library cannot read the URL; `err` is its message (it never quotes the URL).
    BadUrl { err: String },
    /// `PGPORT` is not a port number.
    BadPort { port: String },
    /// The `sslrootcert` file cannot be read.
    RootCertUnreadable { path: PathBuf, err: String },
    /// The `sslrootcert` file holds no PEM certificate.
    RootCertNotPem { path: PathBuf, err: String },
    /// The TLS library cannot be set up.
    Tls { err: String },
    /// The connection failed.
    CannotConnect {
        db: String,
        reason: String,
        why: ConnectFailure,
    },
    /// The schema named by `--pg-schema` does not exist (`schema` is quoted as SQL quotes it).
    NoSchema { db: String, schema: String },
    /// A table of the app's schema is missing from `schema`.
    NoTable {
        db: String,
        schema: String,
        table: &'static str,
    },
    /// A query failed.
    Query { db: String, reason: String },
    /// A query waited past `lock_timeout` for a lock an app transaction holds.
    LockTimeout { db: String, reason: String },
    /// Another jobsweep holds the advisory lock (exit 6).
    ChangingElsewhere { db: String },
    /// `--pg-schema` given for an SQLite file (exit 2).
    SchemaOfFile { db: String },
    /// `restore --to` a file, where a server database was expected (exit 2).
    NotAServer { db: String },
    /// `restore --to URL` of an SQLite snapshot (exit 2).
    SqliteImage,
    /// `restore --to URL` into a database that already holds the image's tables (exit 2).
    TablesExist { db: String, tables: Vec<String> },
    /// A PostgreSQL snapshot image is damaged (exit 4).
    ImageDamaged { path: PathBuf, what: String },
}
