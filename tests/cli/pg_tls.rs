//! TLS against a real server (design.md §8): a private server with `ssl=on` and a certificate
//! signed by a CA made with the `openssl` CLI in the test's temp dir; `sslmode=require` and
//! `verify-full` connect, a wrong host name or a wrong CA is one line, exit 3.

use std::path::Path;
use std::process::Command;

use crate::common::{assert_error_containing, bare_cmd};
use crate::pg_server::{TlsServer, APP_SCHEMA};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("openssl: {e} (the TLS test needs the openssl CLI: apt-get install openssl)")
        });
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.crt`), a server certificate for `localhost` only signed by it (`server.crt`,
/// `server.key`), and another CA that signed nothing (`other-ca.crt`).
fn make_certs(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=jobsweep test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
}

fn check(url: &str, store: &Path) -> std::process::Output {
    bare_cmd()
        .env_remove("DATABASE_URL")
        .env_remove("PGSSLMODE")
        .env_remove("PGSSLROOTCERT")
        .args(["--db", url, "--store"])
        .arg(store)
        .args(["--lang", "en", "--json", "check"])
        .output()
        .unwrap()
}

#[test]
fn tls_require_and_verify_full_connect_and_a_wrong_host_or_ca_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let server = TlsServer::start(dir.path());
    server.sql("postgres", "CREATE DATABASE app");
    server.sql("app", APP_SCHEMA);
    let store = dir.path().join("store");
    let ca = dir.path().join("ca.crt");
    let other_ca = dir.path().join("other-ca.crt");

    let ok = |url: String| {
        let out = check(&url, &store);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(format!(
        "{}?sslmode=require",
        server.url("127.0.0.1", "app")
    ));
    ok(format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        server.url("localhost", "app"),
        ca.display()
    ));
    ok(format!(
        "{}?sslmode=verify-ca&sslrootcert={}",
        server.url("127.0.0.1", "app"),
        ca.display()
    ));

    // The server takes TLS only: without it, refused (so the cases above did use TLS).
    let out = check(
        &format!("{}?sslmode=disable", server.url("127.0.0.1", "app")),
        &store,
    );
    assert_error_containing(&out, 3, "127.0.0.1");

    // The certificate names localhost, not 127.0.0.1; and the other CA signed nothing.
    for url in [
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            server.url("127.0.0.1", "app"),
            ca.display()
        ),
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            server.url("localhost", "app"),
            other_ca.display()
        ),
    ] {
        let out = check(&url, &store);
        let line = assert_error_containing(&out, 3, "app");
        assert!(!line.contains(crate::pg_server::PASSWORD), "{line}");
    }
    assert!(!store.exists());
}
