//! PostgreSQL (design.md §8): connecting as libpq would (`target`), the server's failures as
//! typed errors (`engine::ServerError`, worded by the renderer), the database's identity, the schema variant from the catalog,
//! the survey's reads (`survey`), the advisory lock, and the logical snapshot (`snapshot`).

pub mod seam;
pub mod snapshot;
pub mod survey;
pub mod target;
pub mod write;

use std::time::Duration;

use anyhow::Result;
use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, Transaction};

pub use target::{is_postgres_url, SslMode, Target};

use crate::core::schema::{Schema, Variant};
use crate::engine::{ConnectFailure, EngineError, ServerError};

/// An open connection to the app's database.
pub struct PgDatabase {
    pub client: Client,
    pub target: Target,
    /// The schema holding the app's tables (`--pg-schema`, default `public`).
    pub schema: String,
}

/// Which database a snapshot or journal belongs to (design.md §8): the cluster's system
/// identifier and the database name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub system_identifier: String,
    pub database: String,
}

/// How long a connection attempt may take before it is a database problem.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl PgDatabase {
    /// Connects (TLS as `sslmode` asks), sets the app's schema as the search path and
    /// `--busy-timeout` as `lock_timeout`.
    pub fn connect(target: &Target, schema: &str, busy_timeout: Duration) -> Result<PgDatabase> {
        let mut db = PgDatabase::connect_to_server(target, schema, busy_timeout)?;
        // A schema missing from the search path is silently skipped by the server; name it
        // here, once, for every command (design.md §8).
        let exists = db.schema_exists()?;
        if !exists {
            return Err(ServerError::NoSchema {
                db: db.target.display.clone(),
                schema: quote_ident(schema),
            }
            .into());
        }
        Ok(db)
    }

    /// [`PgDatabase::connect`] without requiring the schema: `restore --to` creates it.
    pub fn connect_to_server(
        target: &Target,
        schema: &str,
        busy_timeout: Duration,
    ) -> Result<PgDatabase> {
        let mut config = target.config.clone();
        config.ssl_mode(match target.ssl {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                postgres::config::SslMode::Require
            }
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("jobsweep");
        let tls = tls_connector(target)?;
        let client = config.connect(tls).map_err(|e| connect_error(target, &e))?;
        let mut db = PgDatabase {
            client,
            target: target.clone(),
            schema: schema.to_string(),
        };
        let millis = busy_timeout.as_millis().min(i32::MAX as u128);
        let setup = format!(
            "SET lock_timeout = {millis}; SET search_path = {}; SET TIME ZONE 'UTC'",
            quote_ident(schema)
        );
        db.client.batch_execute(&setup).map_err(|e| db.error(&e))?;
        Ok(db)
    }

    /// Whether the schema the app's tables are looked for in exists.
    pub fn schema_exists(&mut self) -> Result<bool> {
        let exists = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                &[&self.schema],
            )
            .map_err(|e| self.error(&e))?
            .get(0);
        Ok(exists)
    }

    /// A server error as one line naming the database (never the password), exit 3.
    pub fn error(&self, err: &postgres::Error) -> anyhow::Error {
        query_error(&self.target, err)
    }

    /// The cluster's system identifier and the database's name.
    pub fn identity(&mut self) -> Result<Identity> {
        let row = self
            .client
            .query_one(
                "SELECT system_identifier::text, current_database()::text FROM pg_control_system()",
                &[],
            )
            .map_err(|e| query_error(&self.target, &e))?;
        Ok(Identity {
            system_identifier: row.get(0),
            database: row.get(1),
        })
    }

    /// A read-only transaction seeing one moment (one MVCC snapshot) for all its queries.
    pub fn read_transaction(&mut self) -> Result<Transaction<'_>> {
        let target = self.target.clone();
        self.client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| query_error(&target, &e))
    }

    /// `check`'s survey: one read-only transaction (one MVCC snapshot) for every query.
    pub fn survey(
        &mut self,
        schema: &Schema,
        criteria: &crate::core::jobs::Criteria,
        tz: crate::core::time::DbTimezone,
    ) -> Result<crate::core::jobs::Survey> {
        let target = self.target.clone();
        let mut tx = self.read_transaction()?;
        let found = survey::survey(&mut tx, &target, schema, criteria, tz, survey::Rows::All)?;
        tx.commit().map_err(|e| query_error(&target, &e))?;
        Ok(found)
    }

    /// The schema variant from the catalog, as `PRAGMA table_info` finds it on SQLite.
    pub fn schema(&mut self) -> Result<Schema> {
        let jobs = self.columns("analysis_jobs")?;
        let results = self.columns("analysis_results")?;
        let progress = self.columns("analysis_progress")?;
        let missing = |table| ServerError::NoTable {
            db: self.target.display.clone(),
            schema: self.schema.clone(),
            table,
        };
        variant_of(missing, jobs, results, progress)
    }

    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT a.attname::text FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') \
                 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&self.schema, &table],
            )
            .map_err(|e| query_error(&self.target, &e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Takes the session-level advisory lock that keeps two jobsweeps (on any hosts) from
    /// changing this database at once (design.md §8.3); held until the connection closes.
    /// Another holder: exit 6, or with `wait` block until it is released.
    pub fn advisory_lock(&mut self, wait: bool) -> Result<()> {
        if wait {
            self.client
                .execute("SELECT pg_advisory_lock($1)", &[&ADVISORY_KEY])
                .map_err(|e| query_error(&self.target, &e))?;
            return Ok(());
        }
        let got: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&ADVISORY_KEY])
            .map_err(|e| query_error(&self.target, &e))?
            .get(0);
        if got {
            Ok(())
        } else {
            Err(ServerError::ChangingElsewhere {
                db: self.target.display.clone(),
            }
            .into())
        }
    }
}

/// The advisory lock's key: the first 8 bytes of "jobsweep" read as a number, so it is stable
/// across versions and hosts and unlikely to collide with the app's own keys.
pub const ADVISORY_KEY: i64 = i64::from_be_bytes(*b"jobsweep");

/// Checks the columns the tool needs and names the variant (design.md §2).
fn variant_of(
    missing: impl Fn(&'static str) -> ServerError,
    jobs: Vec<String>,
    results: Vec<String>,
    progress: Vec<String>,
) -> Result<Schema> {
    let has = |cols: &[String], name: &str| cols.iter().any(|c| c.eq_ignore_ascii_case(name));
    if jobs.is_empty() {
        return Err(missing("analysis_jobs").into());
    }
    for column in ["id", "job_id", "status", "created_at"] {
        if !has(&jobs, column) {
            return Err(EngineError::NoColumn {
                table: "analysis_jobs",
                column: column.to_string(),
            }
            .into());
        }
    }
    if !has(&results, "job_id") {
        return Err(if results.is_empty() {
            missing("analysis_results").into()
        } else {
            EngineError::NoColumn {
                table: "analysis_results",
                column: "job_id".into(),
            }
            .into()
        });
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

/// A double-quoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The TLS connector for `sslmode`: `require` (like libpq without a root certificate)
/// encrypts without checking the certificate, `verify-ca` checks the chain, `verify-full` the
/// chain and the host name. The CA is `sslrootcert` when given, else the system's.
fn tls_connector(target: &Target) -> Result<postgres_native_tls::MakeTlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    match target.ssl {
        SslMode::VerifyFull => {}
        SslMode::VerifyCa => {
            builder.danger_accept_invalid_hostnames(true);
        }
        _ => {
            builder
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
    }
    if let Some(path) = &target.root_cert {
        let pem = std::fs::read(path).map_err(|e| ServerError::RootCertUnreadable {
            path: path.clone(),
            err: e.to_string(),
        })?;
        let cert =
            native_tls::Certificate::from_pem(&pem).map_err(|e| ServerError::RootCertNotPem {
                path: path.clone(),
                err: e.to_string(),
            })?;
        builder.add_root_certificate(cert);
    }
    let connector = builder
        .build()
        .map_err(|e| ServerError::Tls { err: e.to_string() })?;
    Ok(postgres_native_tls::MakeTlsConnector::new(connector))
}

/// A failed connection: which database, the server's or the network's reason, and what kind
/// of failure it is (for the hint).
fn connect_error(target: &Target, err: &postgres::Error) -> anyhow::Error {
    let why = match err.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            ConnectFailure::Auth
        }
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => ConnectFailure::NoDatabase,
        Some(_) => ConnectFailure::Other,
        None => ConnectFailure::Unreachable,
    };
    ServerError::CannotConnect {
        db: target.display.clone(),
        reason: reason(err),
        why,
    }
    .into()
}

/// A failed query: a missing table or column, a lock past `lock_timeout`, a lost connection.
pub fn query_error(target: &Target, err: &postgres::Error) -> anyhow::Error {
    let (db, reason) = (target.display.clone(), reason(err));
    if err.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
        return ServerError::LockTimeout { db, reason }.into();
    }
    ServerError::Query { db, reason }.into()
}

/// The server's message (one line), else the client's, with its cause.
fn reason(err: &postgres::Error) -> String {
    let text = match err.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                let cause = cause.to_string();
                if !text.contains(&cause) {
                    text = format!("{text}: {cause}");
                }
                source = cause_of(source);
            }
            text
        }
    };
    text.lines().next().unwrap_or_default().to_string()
}

fn cause_of<'a>(
    err: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a (dyn std::error::Error + 'static)> {
    err.and_then(|e| e.source())
}
