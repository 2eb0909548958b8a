//! PostgreSQL (design.md §8) against the test server of `pg_server`: the engine's pieces
//! (connection, errors, survey, advisory lock, logical snapshot) through the library.

use std::time::Duration;

use jobsweep::cli::AgeBasis;
use jobsweep::engine::postgres::{snapshot, target, PgDatabase};
use jobsweep::error::{classify, Exit};
use jobsweep::jobs::Criteria;
use jobsweep::time::DbTimezone;

use crate::common::{TestEnv, NOW};
use crate::pg_server::PgDb;

fn env_none(_: &str) -> Option<String> {
    None
}

fn connect(url: &str) -> anyhow::Result<PgDatabase> {
    let t = target::parse(url, &env_none)?;
    PgDatabase::connect(&t, "public", Duration::from_millis(2000))
}

fn now() -> chrono::DateTime<chrono::Utc> {
    jobsweep::time::parse_now(NOW, DbTimezone::Utc).expect("now")
}

fn criteria(by: AgeBasis, jobs: &[&str], emps: &[&str]) -> Criteria {
    Criteria {
        hours: 24.0,
        by,
        now: now(),
        jobs: jobs.iter().map(|s| s.to_string()).collect(),
        emps: emps.iter().map(|s| s.to_string()).collect(),
    }
}

/// An SQLite fixture and a PostgreSQL database holding the same rows.
fn both(scenarios: &[&str]) -> (TestEnv, PgDb) {
    let env = TestEnv::with("current", scenarios);
    let pg = PgDb::with_app_schema();
    pg.load_from_sqlite(&env.db);
    (env, pg)
}

#[test]
fn survey_equals_sqlite_on_one_data_set() {
    let (env, pg) = both(&["guide"]);
    let sqlite = jobsweep::engine::sqlite::Database::open_read_only(&env.db, Duration::from_secs(1))
        .expect("sqlite");
    let sqlite_schema = sqlite.schema().expect("schema");
    let mut db = connect(&pg.url()).expect("connect");
    let schema = db.schema().expect("pg schema");
    assert_eq!(schema.variant, sqlite_schema.variant);
    for c in [
        criteria(AgeBasis::Activity, &[], &[]),
        criteria(AgeBasis::Created, &[], &[]),
        criteria(AgeBasis::Activity, &["no-such-job"], &[]),
        criteria(AgeBasis::Activity, &[], &["EMP001"]),
    ] {
        let want = jobsweep::jobs::survey(&sqlite, &sqlite_schema, &c, DbTimezone::Utc)
            .expect("sqlite survey");
        let got = db.survey(&schema, &c, DbTimezone::Utc).expect("pg survey");
        assert!(want.stats.total > 0);
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "{c:?}"
        );
    }
}

#[test]
fn a_wrong_password_is_one_line_exit_3_without_the_password() {
    let pg = PgDb::new();
    let url = pg.url().replace(&pg.password(), "Wr0ng-pass");
    let err = connect(&url).err().expect("refused");
    let text = format!("{err:#}");
    assert_eq!(classify(&err).0, Exit::Database);
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("Wr0ng-pass") && !text.contains(&pg.password()));
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn a_missing_database_a_closed_port_and_a_missing_table_are_exit_3() {
    let pg = PgDb::new();
    let err = connect(&pg.url_of("no_such_db")).err().expect("missing db");
    assert_eq!(classify(&err).0, Exit::Database);
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let err = connect(&format!("postgresql://u:{}@127.0.0.1:{port}/x", pg.password()))
        .err()
        .expect("closed port");
    assert_eq!(classify(&err).0, Exit::Database);
    assert!(!format!("{err:#}").contains(&pg.password()));

    let mut db = connect(&pg.url()).expect("connect");
    let err = db.schema().err().expect("no tables");
    assert_eq!(classify(&err).0, Exit::Database);
    assert!(format!("{err:#}").contains("has no analysis_jobs table"), "{err:#}");
}

#[test]
fn the_advisory_lock_keeps_a_second_jobsweep_out() {
    let pg = PgDb::new();
    let mut first = connect(&pg.url()).expect("first");
    let mut second = connect(&pg.url()).expect("second");
    first.advisory_lock(false).expect("first takes it");
    let err = second.advisory_lock(false).err().expect("second refused");
    assert_eq!(classify(&err).0, Exit::Locked);
    drop(first);
    // The session lock goes with the connection.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match second.advisory_lock(false) {
            Ok(()) => break,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("{e:#}"),
        }
    }
}

#[test]
fn snapshot_image_verifies_and_rebuilds_an_empty_database_and_the_live_one() {
    let (_env, pg) = both(&["guide"]);
    let before = pg.dump();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let mut db = connect(&pg.url()).expect("connect");
    let layout = {
        let mut file = std::fs::File::create(&image).unwrap();
        snapshot::export(&mut db, &mut file).expect("export")
    };
    let counts: Vec<(String, u64)> = layout
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.rows))
        .collect();
    assert!(counts.iter().any(|(t, n)| t == "analysis_jobs" && *n > 0));
    assert_eq!(snapshot::check(&image, &counts).unwrap(), None);

    // A damaged image or wrong counts are found without a server.
    let mut wrong = counts.clone();
    wrong[0].1 += 1;
    assert!(snapshot::check(&image, &wrong).unwrap().is_some());
    let bytes = std::fs::read(&image).unwrap();
    let cut = dir.path().join("cut");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    assert!(snapshot::check(&cut, &counts).unwrap().is_some());

    // Into an empty database: tables, keys, indexes, sequences created; same rows.
    let empty = PgDb::new();
    let mut fresh = connect(&empty.url()).expect("connect empty");
    snapshot::import_new(&mut fresh, &image).expect("import new");
    assert_eq!(empty.dump(), before);
    let fk = empty.sql(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
    );
    assert_eq!(fk.trim(), "4");
    let next_id = empty.sql("INSERT INTO employees (emp_id, name) VALUES ('NEW1', 'n') RETURNING id");
    let max_id = pg.sql("SELECT max(id) + 1 FROM employees");
    assert_eq!(next_id.trim(), max_id.trim());

    // Onto the live one after the app changed rows: back to the snapshot's rows.
    pg.sql("UPDATE analysis_jobs SET status = 'failed'; DELETE FROM analysis_progress;");
    assert_ne!(pg.dump(), before);
    snapshot::import_live(&mut db, &image).expect("import live");
    assert_eq!(pg.dump(), before);
}
