//! What `--db postgresql://...` names, read as libpq reads it (design.md §8.1): the URL forms
//! (`postgresql://`, `postgres://`, SQLAlchemy's `postgresql+<driver>://`), its query
//! parameters (`sslmode`, `host=/socket/dir`, ...), then libpq's environment (`PGHOST`,
//! `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`) for what the
//! URL leaves out, and the password file (`PGPASSFILE`, else `~/.pgpass`) when no password is
//! given. The URL the tool shows anywhere is `display`, which never holds the password.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Result;
use postgres::config::Host;

use crate::engine::ServerError;

/// libpq's `sslmode`. The client library knows only disable/prefer/require; verification is
/// the TLS connector's part (see `super::tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A PostgreSQL database to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: postgres::Config,
    pub ssl: SslMode,
    /// `sslrootcert`: the CA file that `verify-ca`/`verify-full` check the server against.
    pub root_cert: Option<PathBuf>,
    /// The URL as shown to the operator and recorded in manifests and journals: no password.
    pub display: String,
    /// The first host: a name, an address, or a socket directory.
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
}

/// Whether `--db` names a PostgreSQL database rather than an SQLite file (design.md §8.1).
pub fn is_postgres_url(text: &str) -> bool {
    scheme_rest(text).is_some()
}

/// The part after the scheme, for `postgresql://`, `postgres://` and `postgresql+driver://`.
fn scheme_rest(text: &str) -> Option<&str> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let known = scheme == "postgresql"
        || scheme == "postgres"
        || scheme
            .strip_prefix("postgresql+")
            .is_some_and(|driver| !driver.is_empty());
    known.then_some(rest)
}

/// Reads a `postgresql://` URL and fills in what it leaves out from `env` (libpq's variables)
/// and the password file. `env` is the process environment outside of tests.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Target> {
    // A `--db` URL that cannot be read is a database problem (exit 3), as a missing file is.
    let rest = scheme_rest(text).ok_or(ServerError::NotAUrl)?;
    // The driver part of `postgresql+psycopg2://` is SQLAlchemy's; libpq does not know it.
    // `sslmode` and `sslrootcert` are taken out: the client library rejects the verify modes.
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut ssl = None;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                ssl = Some(
                    SslMode::parse(value).ok_or_else(|| ServerError::BadSslMode {
                        value: value.to_string(),
                        from_env: false,
                    })?,
                )
            }
            "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(value))),
            _ => kept.push(pair),
        }
    }
    // The client library gives a host without a port 5432 at once, so `PGPORT` (which libpq
    // uses for a host given without one) goes into the URL before it is parsed.
    let authority = match env("PGPORT") {
        Some(port) if !kept.iter().any(|p| p.starts_with("port=")) => with_port(authority, &port),
        _ => authority.to_string(),
    };
    let mut url = format!("postgresql://{authority}");
    if !kept.is_empty() {
        url.push('?');
        url.push_str(&kept.join("&"));
    }
    // The parser's message never quotes the URL, so it cannot leak the password.
    let mut config =
        postgres::Config::from_str(&url).map_err(|e| ServerError::BadUrl { err: e.to_string() })?;
    if config.get_hosts().is_empty() {
        let hosts = env("PGHOST").unwrap_or_else(default_host);
        for host in hosts.split(',') {
            config.host(host);
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = env("PGPORT") {
            let port = port
                .parse()
                .map_err(|_| ServerError::BadPort { port: port.clone() })?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        config.user(&env("PGUSER").unwrap_or_else(os_user));
    }
    let user = config.get_user().unwrap_or_default().to_string();
    if config.get_dbname().is_none() {
        config.dbname(&env("PGDATABASE").unwrap_or_else(|| user.clone()));
    }
    let ssl = match ssl {
        Some(mode) => mode,
        None => match env("PGSSLMODE") {
            Some(text) => SslMode::parse(&text).ok_or_else(|| ServerError::BadSslMode {
                value: text.clone(),
                from_env: true,
            })?,
            None => SslMode::Prefer,
        },
    };
    let root_cert = root_cert.or_else(|| env("PGSSLROOTCERT").map(PathBuf::from));
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(dir)) => dir.display().to_string(),
        None => default_host(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let dbname = config.get_dbname().unwrap_or_default().to_string();
    if config.get_password().is_none() {
        let password = env("PGPASSWORD").or_else(|| {
            let file = env("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
            pgpass_lookup(&file, &host, port, &dbname, &user)
        });
        if let Some(password) = password {
            config.password(password);
        }
    }
    let display = display_url(&config, &host, port, &dbname, &user, ssl);
    Ok(Target {
        config,
        ssl,
        root_cert,
        display,
        host,
        port,
        dbname,
        user,
    })
}

/// `user@h1,h2/db` with `:port` added to each host that has none (`[v6]` hosts too).
fn with_port(authority: &str, port: &str) -> String {
    let (before_path, path) = match authority.find('/') {
        Some(i) => authority.split_at(i),
        None => (authority, ""),
    };
    let (user, hosts) = match before_path.rfind('@') {
        Some(i) => (&before_path[..=i], &before_path[i + 1..]),
        None => ("", before_path),
    };
    if hosts.is_empty() {
        return authority.to_string();
    }
    let hosts: Vec<String> = hosts
        .split(',')
        .map(|h| {
            let bare = h.rsplit_once(']').map_or(h, |(_, after)| after);
            if bare.contains(':') {
                h.to_string()
            } else {
                format!("{h}:{port}")
            }
        })
        .collect();
    format!("{user}{}{path}", hosts.join(","))
}

/// libpq's default on Debian: the server's socket directory when it exists, else localhost.
fn default_host() -> String {
    if Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql".into()
    } else {
        "localhost".into()
    }
}

/// libpq's default user name: the operating-system user.
fn os_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            // SAFETY: getpwuid returns a pointer into static storage, read at once.
            let pw = unsafe { libc::getpwuid(libc::geteuid()) };
            if pw.is_null() {
                return None;
            }
            // SAFETY: pw_name is a NUL-terminated string owned by the C library.
            let name = unsafe { std::ffi::CStr::from_ptr((*pw).pw_name) };
            name.to_str().ok().map(str::to_string)
        })
        .unwrap_or_else(|| "postgres".into())
}

/// `postgresql://user@host:port/db?sslmode=...`: what the operator needs to know which
/// database this is, and never the password.
fn display_url(
    config: &postgres::Config,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
    ssl: SslMode,
) -> String {
    let socket = host.starts_with('/');
    let mut out = format!("postgresql://{}@", percent_encode(user));
    if !socket {
        if host.contains(':') {
            out.push_str(&format!("[{host}]"));
        } else {
            out.push_str(host);
        }
        out.push_str(&format!(":{port}"));
    }
    out.push('/');
    out.push_str(&percent_encode(dbname));
    let mut params = Vec::new();
    if socket {
        params.push(format!("host={}", percent_encode(host)));
        if port != 5432 {
            params.push(format!("port={port}"));
        }
    }
    if config.get_hosts().len() > 1 {
        params.push(format!("hosts={}", config.get_hosts().len()));
    }
    if ssl != SslMode::Prefer {
        params.push(format!("sslmode={}", ssl.name()));
    }
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The password for this connection from a libpq password file: the first line
/// `hostname:port:database:username:password` whose fields match (`*` matches anything;
/// `\:` and `\\` escape). libpq ignores a file that others can read; so does this.
fn pgpass_lookup(file: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    // A socket directory matches the `localhost` entry, as in libpq.
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let fields = split_pgpass(line);
            (fields.len() == 5).then_some(fields)
        })
        .find(|fields| {
            fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want)
        })
        .map(|mut fields| fields.remove(4))
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn recognises_the_url_forms() {
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("postgresql+psycopg2://h/db"));
        assert!(is_postgres_url("PostgreSQL://h/db"));
        assert!(!is_postgres_url("postgresql+://h/db"));
        assert!(!is_postgres_url("sqlite:///x.db"));
        assert!(!is_postgres_url("data/database.db"));
    }

    #[test]
    fn the_password_never_reaches_the_display_url() {
        let env = env_of(&[]);
        let t = parse(
            "postgresql+psycopg2://app:hunter2@db.example:6543/jobs?sslmode=require",
            &env,
        )
        .unwrap();
        assert_eq!(
            t.display,
            "postgresql://app@db.example:6543/jobs?sslmode=require"
        );
        assert_eq!(t.config.get_password(), Some(&b"hunter2"[..]));
        assert_eq!(t.ssl, SslMode::Require);
        assert_eq!((t.port, t.dbname.as_str()), (6543, "jobs"));
    }

    #[test]
    fn the_environment_fills_what_the_url_leaves_out() {
        let env = env_of(&[
            ("PGHOST", "pg.internal"),
            ("PGPORT", "5544"),
            ("PGUSER", "ops"),
            ("PGPASSWORD", "pw"),
            ("PGDATABASE", "app"),
            ("PGSSLMODE", "verify-full"),
        ]);
        let t = parse("postgresql://", &env).unwrap();
        assert_eq!(
            t.display,
            "postgresql://ops@pg.internal:5544/app?sslmode=verify-full"
        );
        assert_eq!(t.config.get_password(), Some(&b"pw"[..]));
        // The URL wins over the environment.
        let t = parse("postgres://me@other/db2?sslmode=disable", &env).unwrap();
        assert_eq!(t.display, "postgresql://me@other:5544/db2?sslmode=disable");
    }

    #[test]
    fn a_socket_directory_is_a_host() {
        let t = parse("postgresql:///app?host=/run/pg&user=u", &env_of(&[])).unwrap();
        assert_eq!(t.host, "/run/pg");
        assert_eq!(t.display, "postgresql://u@/app?host=/run/pg");
    }

    #[test]
    fn bad_sslmode_and_bad_urls_are_database_errors() {
        let env = env_of(&[]);
        for url in [
            "postgresql://h/db?sslmode=maybe",
            "postgresql://h:notaport/db",
            "mysql://h/db",
        ] {
            let err = parse(url, &env).unwrap_err();
            assert_eq!(
                crate::error::classify(&err).0,
                crate::error::Exit::Database,
                "{url}"
            );
        }
    }

    #[test]
    fn the_password_file_is_read_as_libpq_reads_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:no\ndb.example:5432:jobs:app:pa\\:ss\n*:*:*:*:fallback\n",
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = file.display().to_string();
        let env = env_of(&[("PGPASSFILE", &path)]);
        let t = parse("postgresql://app@db.example/jobs", &env).unwrap();
        assert_eq!(t.config.get_password(), Some(&b"pa:ss"[..]));
        let t = parse("postgresql://app@elsewhere/jobs", &env).unwrap();
        assert_eq!(t.config.get_password(), Some(&b"fallback"[..]));
        // Readable by others: ignored, as libpq does.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let t = parse("postgresql://app@db.example/jobs", &env).unwrap();
        assert_eq!(t.config.get_password(), None);
    }
}
