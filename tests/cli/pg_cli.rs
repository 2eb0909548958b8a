//! The commands on PostgreSQL (design.md §8), through the real binary against the test server
//! of `pg_server`: the same reports as SQLite, the round trips, the lock, the bad inputs.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

use crate::common::{bare_cmd, NOW};
use crate::pg::both;
use crate::pg_server::PgDb;

/// The binary on `url` with its store in `store`, English, the fixtures' "now".
fn jobsweep(url: &str, store: &Path) -> Command {
    let mut cmd = bare_cmd();
    cmd.env_remove("DATABASE_URL")
        .args(["--db", url, "--store"])
        .arg(store)
        .args(["--lang", "en", "--now", NOW]);
    cmd
}

/// Runs `cmd` and asserts it exits 0 (showing its stderr when not).
fn succeeds(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The port of a `postgresql://host:port/db` URL.
fn port_of(url: &str) -> String {
    let (_, after) = url.rsplit_once(':').unwrap();
    after.split('/').next().unwrap().to_string()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(map) = v.as_object_mut() {
        for k in keys {
            map.remove(*k);
        }
    }
    v
}

#[test]
fn check_reports_exactly_what_it_reports_on_sqlite() {
    let (env, pg) = both(21);
    let store = env.path("pgstore");
    for args in [
        vec!["--json", "check"],
        vec!["--json", "check", "--by", "created", "--hours", "30"],
        vec!["--json", "check", "--emp", "E002", "--job", "job-0003"],
    ] {
        let sqlite = env.cmd().args(&args).output().unwrap();
        let postgres = jobsweep(&pg.url(), &store).args(&args).output().unwrap();
        assert_eq!(postgres.status.code(), sqlite.status.code());
        assert_eq!(
            without(json(&postgres), &["database"]),
            without(json(&sqlite), &["database"]),
            "{args:?}"
        );
    }
    // The human report too, but for the database line.
    let text = |out: std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.contains("database") && !l.contains("Database"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        text(jobsweep(&pg.url(), &store).arg("check").output().unwrap()),
        text(env.cmd().arg("check").output().unwrap())
    );
    // check writes nothing, not even the store.
    assert!(!store.exists());
}

/// The README's walkthrough from an empty database: the app's tables and the guide's rows
/// (`fixtures/postgres-schema.sql`, `fixtures/postgres-guide.sql`), `check` reports the guide as
/// on the SQLite fixture, `apply` cleans its seven stuck jobs, `log` shows the run, and
/// `restore --journal latest` brings every row back.
#[test]
fn the_readmes_walkthrough_cleans_and_reverts_the_guide() {
    let pg = PgDb::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for file in ["postgres-schema.sql", "postgres-guide.sql"] {
        pg.sql(&std::fs::read_to_string(fixtures.join(file)).unwrap());
    }
    let env = crate::common::TestEnv::with("current", &["guide"]);
    let store = env.path("pgstore");
    let before = pg.dump();

    let sqlite = json(&succeeds(env.cmd().args(["--json", "check"])));
    let postgres = json(&succeeds(
        jobsweep(&pg.url(), &store).args(["--json", "check"]),
    ));
    assert_eq!(
        without(postgres, &["database"]),
        without(sqlite, &["database"])
    );

    let report = json(&succeeds(
        jobsweep(&pg.url(), &store).args(["--json", "apply"]),
    ));
    let changed: Vec<(String, String, String)> = report["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (text("job_id"), text("before"), text("after"))
        })
        .collect();
    let mut plan: Vec<(String, String, String)> = crate::apply::GUIDE_PLAN
        .iter()
        .map(|(j, b, a)| (j.to_string(), b.to_string(), a.to_string()))
        .collect();
    let mut changed_sorted = changed.clone();
    changed_sorted.sort();
    plan.sort();
    assert_eq!(changed_sorted, plan, "{report}");

    let log = json(&succeeds(
        jobsweep(&pg.url(), &store).args(["--json", "log"]),
    ));
    assert_eq!(log["entries"][0]["id"], report["journal_id"], "{log}");
    assert_eq!(log["entries"][0]["jobs_changed"], 7, "{log}");
    succeeds(jobsweep(&pg.url(), &store).args(["restore", "--journal", "latest"]));
    assert_eq!(pg.dump(), before);
}

#[test]
fn apply_then_restore_journal_round_trip_and_the_report_hides_the_password() {
    let (env, pg) = both(22);
    let store = env.path("pgstore");
    let before = pg.dump();
    let out = succeeds(jobsweep(&pg.url(), &store).args(["--json", "apply"]));
    let report = json(&out);
    assert!(
        !report["changed"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_ne!(pg.dump(), before);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(&pg.password()));
    for file in crate::common::files_under(&store) {
        let text = std::fs::read(store.join(&file)).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains(&pg.password()),
            "{file} holds the password"
        );
    }
    succeeds(jobsweep(&pg.url(), &store).args(["restore", "--journal", "latest"]));
    assert_eq!(pg.dump(), before);
    let out = jobsweep(&pg.url(), &store).arg("log").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_second_jobsweep_with_another_store_exits_6_and_changes_nothing() {
    let (env, pg) = both(23);
    let before = pg.dump();
    // Another jobsweep, elsewhere, holds the advisory lock.
    let mut other = pg.spawn_sql(&format!(
        "SELECT pg_advisory_lock({}); SELECT pg_sleep(30);",
        jobsweep::engine::postgres::ADVISORY_KEY
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while pg
        .sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        .trim()
        == "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the lock was never taken"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = jobsweep(&pg.url(), &env.path("store-b"))
        .arg("apply")
        .output()
        .unwrap();
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pg.dump(), before);
}

#[test]
fn snapshot_verify_without_the_server_then_restore_and_diff() {
    let (env, pg) = both(24);
    let store = env.path("pgstore");
    let before = pg.dump();
    succeeds(jobsweep(&pg.url(), &store).arg("snapshot"));
    let manifest: Vec<String> = crate::common::files_under(&store)
        .into_iter()
        .filter(|f| f.ends_with(".json") && f.starts_with("snapshots"))
        .collect();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(store.join(&manifest[0])).unwrap()).unwrap();
    assert!(!manifest.to_string().contains(&pg.password()));
    // Verify needs no server: point it at a database that does not exist.
    succeeds(jobsweep(&pg.url_of("gone_db"), &store).args(["snapshot", "verify"]));

    pg.sql(
        "UPDATE analysis_jobs SET status = 'failed' WHERE id <= 5; DELETE FROM analysis_progress;",
    );
    let out = jobsweep(&pg.url(), &store)
        .args(["--json", "diff"])
        .output()
        .unwrap();
    let diff = json(&out);
    assert!(diff.to_string().contains("analysis_progress"), "{diff}");
    assert!(diff.to_string().contains("job-0001"), "{diff}");

    succeeds(jobsweep(&pg.url(), &store).args(["restore", "--snapshot", "latest", "--force"]));
    assert_eq!(pg.dump(), before);
}

#[test]
fn bad_urls_wrong_passwords_missing_databases_and_tables_are_one_line_exit_3() {
    let pg = PgDb::new();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let wrong = pg.url().replace(&pg.password(), "Wr0ng-Secret");
    let cases = [
        (wrong.clone(), "password authentication failed"),
        (pg.url_of("no_such_db"), "does not exist"),
        (pg.url(), "has no analysis_jobs table"),
        (
            format!("postgresql://u:{}@127.0.0.1:notaport/db", pg.password()),
            "PostgreSQL URL",
        ),
        (format!("{}?sslmode=sometimes", pg.url()), "sslmode"),
    ];
    for (url, says) in cases {
        // A snapshot needs no app tables (as on SQLite): the missing table is not its problem.
        let commands: &[&str] = if says.contains("analysis_jobs") {
            &["check", "apply"]
        } else {
            &["check", "apply", "snapshot"]
        };
        for &command in commands {
            let out = jobsweep(&url, &store).arg(command).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{url} {command}: {stderr}");
            assert!(stderr.contains(says), "{command}: {stderr}");
            assert!(stderr.lines().count() <= 2, "{stderr}");
            assert!(!stderr.contains(&pg.password()) && !stderr.contains("Wr0ng-Secret"));
        }
    }
    assert!(
        !store.exists()
            || crate::common::files_under(&store)
                .iter()
                .all(|f| f == "lock")
    );
}

#[test]
fn kill_9_inside_the_transaction_changes_nothing_and_the_next_run_resolves_it() {
    let (env, pg) = both(25);
    let store = env.path("pgstore");
    let before = pg.dump();
    let out = jobsweep(&pg.url(), &store)
        .env("JOBSWEEP_FAILPOINT", "in-transaction")
        .arg("apply")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(pg.dump(), before, "all or nothing");
    let out = succeeds(jobsweep(&pg.url(), &store).args(["--json", "apply"]));
    let report = json(&out);
    assert_eq!(report["recovered"][0]["state"], "abandoned", "{report}");
    assert_ne!(pg.dump(), before);
}

#[test]
fn restore_to_another_database_creates_it_refuses_a_full_one_and_replaces_with_force() {
    let (env, pg) = both(26);
    let store = env.path("pgstore");
    succeeds(jobsweep(&pg.url(), &store).arg("snapshot"));
    let other = PgDb::new();
    let restore = |force: bool| {
        let mut cmd = jobsweep(&pg.url(), &store);
        cmd.args(["restore", "--snapshot", "latest", "--to", &other.url()]);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let out = restore(false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(other.dump(), pg.dump());
    // Holding the tables now: refused, nothing changed.
    other.sql("UPDATE analysis_jobs SET status = 'x' WHERE id = 1");
    let changed = other.dump();
    let out = restore(false);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&pg.password()));
    assert_eq!(other.dump(), changed);
    let out = restore(true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(other.dump(), pg.dump());
}

#[test]
fn the_apps_database_url_is_found_without_db() {
    let (env, pg) = both(27);
    let out = succeeds(
        bare_cmd()
            .env(
                "DATABASE_URL",
                pg.url().replace("postgresql://", "postgresql+psycopg2://"),
            )
            .arg("--store")
            .arg(env.path("pgstore"))
            .args(["--lang", "en", "--now", NOW, "--json", "check"]),
    );
    let report = json(&out);
    assert!(report["stats"]["total"].as_u64().unwrap() > 0, "{report}");
    assert!(!report.to_string().contains(&pg.password()));
}

/// An app session committing small updates continuously (one transaction each) for a while.
fn app_writer(pg: &PgDb, commits: u32) -> std::process::Child {
    pg.spawn_sql(&format!(
        "DO $$ BEGIN FOR i IN 1..{commits} LOOP \
         UPDATE employees SET storage_used = i WHERE id = 1 + i % 10; COMMIT; \
         PERFORM pg_sleep(0.002); END LOOP; END $$;"
    ))
}

#[test]
fn a_live_app_writer_keeps_committing_through_snapshot_and_apply() {
    let (env, pg) = both(28);
    let store = env.path("pgstore");
    let mut writer = app_writer(&pg, 3000);
    for args in [
        vec!["snapshot"],
        vec!["apply"],
        vec!["snapshot", "verify", "--all"],
    ] {
        let out = jobsweep(&pg.url(), &store).args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The writer never failed (no lock error, no deadlock) while the commands ran.
    assert!(writer.wait().unwrap().success());
}

#[test]
fn kill_9_after_commit_leaves_a_planned_journal_the_next_run_resolves_as_committed() {
    let (env, pg) = both(29);
    let store = env.path("pgstore");
    let before = pg.dump();
    let out = jobsweep(&pg.url(), &store)
        .env("JOBSWEEP_FAILPOINT", "after-commit")
        .arg("apply")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let changed = pg.dump();
    assert_ne!(changed, before, "the transaction committed");
    let out = succeeds(jobsweep(&pg.url(), &store).args(["--json", "apply"]));
    assert_eq!(json(&out)["recovered"][0]["state"], "committed");
    // And it can be reverted like any apply.
    succeeds(jobsweep(&pg.url(), &store).args(["restore", "--journal", "latest"]));
    assert_eq!(pg.dump(), before);
}

/// The legacy schema (design.md §2) as it would be on PostgreSQL: the SQLite fixture's DDL with
/// PostgreSQL's types.
fn legacy_schema_pg() -> String {
    include_str!("../../fixtures/schema-legacy.sql")
        .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY")
        .replace("DATETIME", "TIMESTAMP")
        .replace("\"pending\"", "'pending'")
        .replace("REAL", "FLOAT8")
}

/// Legacy rows valid for both engines: a result completed when its `stt_text` is set, one
/// progress row per job.
fn legacy_rows(seed: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let now = chrono::NaiveDateTime::parse_from_str(NOW, "%Y-%m-%d %H:%M:%S").unwrap();
    let stamp = |t: chrono::NaiveDateTime| format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"));
    let mut sql = String::new();
    for e in 1..=5 {
        sql.push_str(&format!(
            "INSERT INTO employees (id, emp_id, name) VALUES ({e}, 'E{e:03}', 'n');\n"
        ));
    }
    let mut result_id = 1;
    for j in 1..=200 {
        let created = now - chrono::Duration::minutes(rng.i64(0..60 * 24 * 10));
        let status = ["pending", "processing", "completed", "failed"][rng.usize(0..4)];
        sql.push_str(&format!(
            "INSERT INTO analysis_jobs (id, job_id, emp_id, folder_path, status, created_at) \
             VALUES ({j}, 'L{j:04}', 'E{:03}', '/d/{j}', '{status}', {});\n",
            rng.usize(1..=5),
            stamp(created)
        ));
        for f in 0..rng.usize(0..4) {
            let text = if rng.bool() { "'t'" } else { "NULL" };
            sql.push_str(&format!(
                "INSERT INTO analysis_results (id, job_id, file_id, stt_text, created_at) \
                 VALUES ({result_id}, 'L{j:04}', 'f{f}', {text}, {});\n",
                stamp(created + chrono::Duration::minutes(rng.i64(0..60 * 48)))
            ));
            result_id += 1;
        }
        if rng.bool() {
            sql.push_str(&format!(
                "INSERT INTO analysis_progress (id, job_id, total_files, processed_files, status, created_at) \
                 VALUES ({j}, 'L{j:04}', 3, 1, 'processing', {});\n",
                stamp(created + chrono::Duration::minutes(rng.i64(0..60 * 72)))
            ));
        }
    }
    sql
}

#[test]
fn the_legacy_schema_is_recognised_and_reported_as_on_sqlite() {
    let env = crate::common::TestEnv::with("legacy", &["empty"]);
    let rows = legacy_rows(31);
    env.conn()
        .execute_batch(&format!("BEGIN; {rows} COMMIT;"))
        .expect("load sqlite");
    let pg = PgDb::new();
    pg.sql(&legacy_schema_pg());
    pg.sql(&format!("BEGIN; {rows} COMMIT;"));
    let store = env.path("pgstore");
    let sqlite = env.cmd().args(["--json", "check"]).output().unwrap();
    let postgres = succeeds(jobsweep(&pg.url(), &store).args(["--json", "check"]));
    let (sqlite, postgres) = (json(&sqlite), json(&postgres));
    assert_eq!(postgres["schema"], "legacy", "{postgres}");
    assert_eq!(
        without(postgres, &["database"]),
        without(sqlite, &["database"])
    );
}

#[test]
fn the_store_defaults_to_the_state_directory_named_after_the_server_and_database() {
    let (env, pg) = both(32);
    let state = env.path("state");
    succeeds(
        bare_cmd()
            .env_remove("DATABASE_URL")
            .env("XDG_STATE_HOME", &state)
            .args(["--db", &pg.url(), "--lang", "en", "snapshot"]),
    );
    let port = port_of(&pg.url());
    let store = state
        .join("jobsweep")
        .join(format!("127.0.0.1-{port}-{}", pg.name));
    assert!(
        crate::common::files_under(&store)
            .iter()
            .any(|f| f.starts_with("snapshots/") && f.ends_with(".json")),
        "{:?}",
        crate::common::files_under(&state)
    );
}

/// `both(seed)`, with the app's tables moved to schema `app` and `public` left empty.
fn both_in_app_schema(seed: u64) -> (crate::common::TestEnv, PgDb) {
    let (env, pg) = both(seed);
    pg.sql("ALTER SCHEMA public RENAME TO app; CREATE SCHEMA public;");
    (env, pg)
}

#[test]
fn the_apps_tables_in_another_schema_work_with_pg_schema() {
    let (env, pg) = both_in_app_schema(27);
    let store = env.path("pgstore");
    let before = pg.dump_schema("app");

    // Without --pg-schema the tables are not found (public is empty).
    let out = jobsweep(&pg.url(), &store).arg("check").output().unwrap();
    crate::common::assert_error_containing(&out, 3, "has no analysis_jobs table");

    // check: the same report as on SQLite.
    let sqlite = env.cmd().args(["--json", "check"]).output().unwrap();
    let postgres = jobsweep(&pg.url(), &store)
        .args(["--pg-schema", "app", "--json", "check"])
        .output()
        .unwrap();
    assert_eq!(postgres.status.code(), sqlite.status.code());
    assert_eq!(
        without(json(&postgres), &["database"]),
        without(json(&sqlite), &["database"])
    );

    // snapshot, the schema from the environment; its manifest lists the app's tables.
    let out = jobsweep(&pg.url(), &store)
        .env("JOBSWEEP_PG_SCHEMA", "app")
        .args(["--json", "snapshot"])
        .output()
        .unwrap();
    let manifest = json(&out);
    assert_eq!(out.status.code(), Some(0), "{manifest}");
    assert!(
        manifest.to_string().contains("analysis_results"),
        "{manifest}"
    );

    // apply changes the tables in app, and nothing appears in public.
    succeeds(jobsweep(&pg.url(), &store).args(["--pg-schema", "app", "apply"]));
    assert_ne!(pg.dump_schema("app"), before);
    assert_eq!(pg.dump_schema("public"), "");

    // restore --to another database's schema app: the state before apply.
    let other = PgDb::new();
    other.sql("CREATE SCHEMA app");
    succeeds(
        jobsweep(&pg.url(), &store)
            .args(["--pg-schema", "app", "restore", "--snapshot", "latest"])
            .args(["--to", &other.url()]),
    );
    assert_eq!(other.dump_schema("app"), before);
    assert_eq!(other.dump_schema("public"), "");
}

#[test]
fn restore_to_a_database_without_the_schema_creates_it_with_the_tables() {
    let (env, pg) = both_in_app_schema(29);
    let store = env.path("pgstore");
    let app = pg.dump_schema("app");
    succeeds(jobsweep(&pg.url(), &store).args(["--pg-schema", "app", "snapshot"]));
    let other = PgDb::new();
    let schema_exists = || other.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'app'");
    assert_eq!(schema_exists().trim(), "0");
    succeeds(
        jobsweep(&pg.url(), &store)
            .args(["--pg-schema", "app", "restore", "--snapshot", "latest"])
            .args(["--to", &other.url()]),
    );
    assert_eq!(schema_exists().trim(), "1");
    assert_eq!(other.dump_schema("app"), app);
    assert_eq!(other.dump_schema("public"), "");
}

#[test]
fn a_missing_schema_is_one_line_exit_3_and_changes_nothing() {
    let (env, pg) = both_in_app_schema(28);
    let store = env.path("pgstore");
    succeeds(jobsweep(&pg.url(), &store).args(["--pg-schema", "app", "snapshot"]));
    let before = pg.dump_schema("app");
    let files = crate::common::files_under(&store);
    for command in [
        &["check"][..],
        &["apply"],
        &["snapshot"],
        &["diff"],
        &["restore", "--snapshot", "latest", "--force"],
    ] {
        let out = jobsweep(&pg.url(), &store)
            .args(["--pg-schema", "nope"])
            .args(command)
            .output()
            .unwrap();
        let line = crate::common::assert_error_containing(&out, 3, "has no schema \"nope\"");
        assert!(!line.contains(&pg.password()), "{line}");
    }
    assert_eq!(pg.dump_schema("app"), before);
    assert_eq!(crate::common::files_under(&store), files);
    // restore --to a database without the schema creates it: see
    // restore_to_a_database_without_the_schema_creates_it_with_the_tables.
}

#[test]
fn pg_schema_is_refused_for_an_sqlite_file() {
    let (env, _pg) = both(29);
    let before = crate::common::dump(&env.db);
    for command in ["check", "apply", "snapshot"] {
        let out = env
            .cmd()
            .args(["--pg-schema", "app", command])
            .output()
            .unwrap();
        crate::common::assert_error_containing(&out, 2, "--pg-schema");
    }
    assert_eq!(crate::common::dump(&env.db), before);
    assert!(!env.store().exists());
}

/// `both(seed)`, and a copy of the app's tables (rows, keys, indexes) in schema `app`: two
/// jobsweeps on one database, one per schema.
fn both_in_two_schemas(seed: u64) -> (crate::common::TestEnv, PgDb) {
    let (env, pg) = both(seed);
    let tables = pg.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' ORDER BY 1",
    );
    let mut copy = String::from("CREATE SCHEMA app;");
    for table in tables.lines().filter(|l| !l.is_empty()) {
        copy.push_str(&format!(
            "CREATE TABLE app.{table} (LIKE public.{table} INCLUDING ALL); \
             INSERT INTO app.{table} SELECT * FROM public.{table};"
        ));
    }
    pg.sql(&copy);
    (env, pg)
}

#[test]
fn a_schema_other_than_public_is_its_own_database_for_snapshots_and_the_store() {
    let (env, pg) = both_in_two_schemas(33);
    let store = env.path("shared-store");
    let snapshot = |schema: &str| -> Value {
        let out = jobsweep(&pg.url(), &store)
            .args(["--pg-schema", schema, "--json", "snapshot"])
            .output()
            .unwrap();
        let manifest = json(&out);
        assert_eq!(out.status.code(), Some(0), "{manifest}");
        manifest
    };
    // public's identity is written as before schemas counted; app's names its schema.
    let of_public = snapshot("public");
    assert!(
        of_public["source_server"].get("schema").is_none(),
        "{of_public}"
    );
    let of_app = snapshot("app");
    assert_eq!(of_app["source_server"]["schema"], "app", "{of_app}");

    // `latest` on public is public's snapshot, not app's newer one.
    pg.sql("UPDATE public.analysis_jobs SET status = 'failed'");
    let app_before = pg.dump_schema("app");
    let out = jobsweep(&pg.url(), &store)
        .args(["--json", "restore", "--snapshot", "latest"])
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["snapshot_id"], of_public["id"], "{report}");
    assert_eq!(pg.dump_schema("app"), app_before);

    // app's snapshot named on public: refused (another schema, named with the URL once),
    // nothing changed.
    pg.sql("UPDATE public.analysis_jobs SET status = 'failed'");
    let public_before = pg.dump_schema("public");
    let files = crate::common::files_under(&store);
    let id = of_app["id"].as_str().unwrap();
    let out = jobsweep(&pg.url(), &store)
        .args(["restore", "--snapshot", id])
        .output()
        .unwrap();
    let line = crate::common::assert_error_containing(&out, 2, "is of another schema of");
    assert!(line.contains(", app (this one is public)"), "{line}");
    let shown = of_app["source_path"].as_str().unwrap();
    assert_eq!(line.matches(shown).count(), 1, "{line}");
    assert_eq!(pg.dump_schema("public"), public_before);
    assert_eq!(pg.dump_schema("app"), app_before);
    assert_eq!(crate::common::files_under(&store), files);

    // Without --store, each schema has its own default store; public's keeps today's name.
    let state = env.path("state");
    for schema in ["public", "app"] {
        succeeds(
            bare_cmd()
                .env_remove("DATABASE_URL")
                .env("XDG_STATE_HOME", &state)
                .args([
                    "--db",
                    &pg.url(),
                    "--lang",
                    "en",
                    "--pg-schema",
                    schema,
                    "snapshot",
                ]),
        );
    }
    let port = port_of(&pg.url());
    let base = format!("127.0.0.1-{port}-{}", pg.name);
    let mut stores: Vec<String> = std::fs::read_dir(state.join("jobsweep"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    stores.sort();
    assert_eq!(stores, [base.clone(), format!("{base}-app")]);
}

#[test]
fn progress_bars_show_for_postgresql_export_and_import_on_a_terminal() {
    // `script` gives the binary a terminal.
    assert!(
        std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_ok(),
        "script is not installed: apt-get install bsdutils (.ci/run does)"
    );
    let (env, pg) = both(30);
    let store = env.path("pgstore");
    let on_terminal = |args: &str| {
        let line = format!(
            "{} --db '{}' --store '{}' --lang en {args}",
            assert_cmd::cargo::cargo_bin("jobsweep").display(),
            pg.url(),
            store.display()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env_remove("NO_COLOR")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{shown}");
        shown
    };
    let shown = on_terminal("snapshot");
    // The export counts rows as the server sends them; then the verify pass.
    assert!(shown.contains("(1/3 copying) ["), "{shown}");
    assert!(shown.contains("(3/3 verifying) ["), "{shown}");
    let list = json(&succeeds(
        jobsweep(&pg.url(), &store).args(["--json", "snapshot", "list"]),
    ));
    let rows: u64 = list["snapshots"][0]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    // The import's bar counts the image's rows out of the manifest's total.
    let other = PgDb::new();
    let shown = on_terminal(&format!("restore --snapshot latest --to '{}'", other.url()));
    assert!(shown.contains(&format!("/{rows}")), "{rows}: {shown}");
    assert_eq!(other.dump(), pg.dump());
    // -q: no bars.
    let quiet = on_terminal("-q snapshot");
    assert!(!quiet.contains("copying"), "{quiet}");
}
