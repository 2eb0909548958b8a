//! PostgreSQL (design.md §8) against the test server of `pg_server`: the engine's pieces
//! (connection, errors, survey, advisory lock, logical snapshot) through the library.

use std::time::Duration;

use jobsweep::core::jobs::{AgeBasis, Criteria, Plan};
use jobsweep::core::time::DbTimezone;
use jobsweep::engine::postgres::{snapshot, target, write, PgDatabase};
use jobsweep::engine::{ImageFacts, Progress, Reading};
use jobsweep::error::{classify, Exit};

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
    jobsweep::core::time::parse_now(NOW, DbTimezone::Utc).expect("now")
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

/// One generated data set, valid for both engines' schemas (the PostgreSQL one checks its
/// foreign keys and NOT NULLs): employees, jobs of every status and age around the threshold,
/// file lists or none, result rows of every status, progress rows.
fn generated_rows(seed: u64, jobs: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let now = now();
    let stamp = |t: chrono::DateTime<chrono::Utc>| format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"));
    let mut sql = String::new();
    for e in 1..=10 {
        sql.push_str(&format!(
            "INSERT INTO employees (id, emp_id, name, dept) VALUES ({e}, 'E{e:03}', 'Name {e}', 'Sales');\n"
        ));
    }
    let statuses = ["pending", "processing", "completed", "failed", "paused"];
    let (mut result_id, mut progress_id) = (1, 1);
    for j in 1..=jobs {
        let created = now - chrono::Duration::minutes(rng.i64(0..60 * 24 * 12));
        let status = statuses[rng.usize(0..statuses.len())];
        let files = rng.usize(0..5);
        let file_ids = match rng.u8(0..4) {
            0 => "NULL".to_string(),
            _ => format!(
                "'[{}]'",
                (0..files)
                    .map(|f| format!("\"f{f}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let started = if rng.bool() {
            stamp(created + chrono::Duration::minutes(rng.i64(0..120)))
        } else {
            "NULL".into()
        };
        sql.push_str(&format!(
            "INSERT INTO analysis_jobs (id, job_id, emp_id, folder_path, file_ids, status, created_at, started_at) \
             VALUES ({j}, 'job-{j:04}', 'E{:03}', '/data/{j}', {file_ids}, '{status}', {}, {started});\n",
            rng.usize(1..=10),
            stamp(created),
        ));
        for f in 0..rng.usize(0..=files) {
            let r_status = ["completed", "failed", "processing"][rng.usize(0..3)];
            let updated = created + chrono::Duration::minutes(rng.i64(0..60 * 24 * 3));
            sql.push_str(&format!(
                "INSERT INTO analysis_results (id, job_id, file_id, stt_text, status, updated_at, created_at) \
                 VALUES ({result_id}, 'job-{j:04}', 'f{f}', 'text', '{r_status}', {}, {});\n",
                stamp(updated),
                stamp(created),
            ));
            result_id += 1;
        }
        if rng.u8(0..3) == 0 {
            let at = created + chrono::Duration::minutes(rng.i64(0..60 * 24 * 4));
            sql.push_str(&format!(
                "INSERT INTO analysis_progress (id, job_id, file_id, step, progress_percent, status, timestamp) \
                 VALUES ({progress_id}, 'job-{j:04}', 'f0', 'stt', 50, 'processing', {});\n",
                stamp(at)
            ));
            progress_id += 1;
        }
    }
    sql
}

/// An SQLite fixture and a PostgreSQL database holding the same generated rows.
pub fn both(seed: u64) -> (TestEnv, PgDb) {
    let rows = generated_rows(seed, 400);
    let env = TestEnv::with("current", &["empty"]);
    env.conn()
        .execute_batch(&format!("BEGIN; {rows} COMMIT;"))
        .expect("load sqlite");
    let pg = PgDb::with_app_schema();
    let mut load = format!("BEGIN; {rows}");
    for table in [
        "employees",
        "analysis_jobs",
        "analysis_results",
        "analysis_progress",
    ] {
        load.push_str(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}));"
        ));
    }
    pg.sql(&format!("{load} COMMIT;"));
    (env, pg)
}

#[test]
fn survey_equals_sqlite_on_one_data_set() {
    let (env, pg) = both(7);
    // Through the seam, as the commands see it.
    let sqlite = jobsweep::engine::open(
        &jobsweep::engine::Target::Sqlite(env.db.clone()),
        jobsweep::engine::Access::Read,
        Duration::from_secs(1),
    )
    .expect("sqlite");
    let sqlite_schema = sqlite.schema().expect("schema");
    let mut db = connect(&pg.url()).expect("connect");
    let schema = db.schema().expect("pg schema");
    assert_eq!(schema.variant, sqlite_schema.variant);
    let all = criteria(AgeBasis::Activity, &[], &[]);
    let survey = db
        .survey(&schema, &all, DbTimezone::Utc)
        .expect("pg survey");
    // The data set reaches every branch: stale jobs of both plans, fresh ones, other statuses.
    assert!(survey
        .stale
        .iter()
        .any(|j| j.planned_status == Plan::Completed));
    assert!(survey
        .stale
        .iter()
        .any(|j| j.planned_status == Plan::Failed));
    assert!(survey.stats.by_status.contains_key("paused") && survey.stats.older_than_7_days > 0);
    for c in [
        criteria(AgeBasis::Activity, &[], &[]),
        criteria(AgeBasis::Created, &[], &[]),
        criteria(AgeBasis::Activity, &["no-such-job"], &[]),
        criteria(AgeBasis::Activity, &[], &["E003"]),
        criteria(
            AgeBasis::Created,
            &["job-0007", "job-0100", "job-9999"],
            &[],
        ),
    ] {
        let want = sqlite
            .survey(&sqlite_schema, &c, DbTimezone::Utc, Reading::OneMoment)
            .expect("sqlite survey");
        let got = db.survey(&schema, &c, DbTimezone::Utc).expect("pg survey");
        assert!(want.stats.total > 0 || !c.jobs.is_empty());
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
    let err = connect(&format!(
        "postgresql://u:{}@127.0.0.1:{port}/x",
        pg.password()
    ))
    .err()
    .expect("closed port");
    assert_eq!(classify(&err).0, Exit::Database);
    assert!(!format!("{err:#}").contains(&pg.password()));

    let mut db = connect(&pg.url()).expect("connect");
    let err = db.schema().expect_err("no tables");
    assert_eq!(classify(&err).0, Exit::Database);
    assert!(
        format!("{err:#}").contains("has no analysis_jobs table"),
        "{err:#}"
    );
}

#[test]
fn the_advisory_lock_keeps_a_second_jobsweep_out() {
    let pg = PgDb::new();
    let mut first = connect(&pg.url()).expect("first");
    let mut second = connect(&pg.url()).expect("second");
    first.advisory_lock(false).expect("first takes it");
    let err = second.advisory_lock(false).expect_err("second refused");
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
    let (_env, pg) = both(11);
    let before = pg.dump();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let mut db = connect(&pg.url()).expect("connect");
    let layout = {
        let mut file = std::fs::File::create(&image).unwrap();
        snapshot::export(&mut db, &mut file, &Progress::default()).expect("export")
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
    // The same check of a stream (a new snapshot's verify pass, no image file).
    let check_stream = |bytes: &[u8]| snapshot::check_reader(&mut &bytes[..], &image, &counts);
    assert_eq!(check_stream(&bytes).unwrap(), None);
    assert!(check_stream(&bytes[..bytes.len() - 10]).unwrap().is_some());
    let facts = ImageFacts::default();

    // Into an empty database: tables, keys, indexes, sequences created; same rows.
    let empty = PgDb::new();
    let mut fresh = connect(&empty.url()).expect("connect empty");
    snapshot::import_new(&mut fresh, &image, &[], false, &facts, &Progress::default())
        .expect("import new");
    assert_eq!(empty.dump(), before);
    let fk = empty.sql(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
    );
    assert_eq!(fk.trim(), "4");
    // The sequences continue where the source's did: the app's next insert does not collide.
    let insert = "INSERT INTO employees (emp_id, name) VALUES ('NEW1', 'n') RETURNING id";
    assert_eq!(empty.sql(insert), pg.sql(insert));
    pg.sql("DELETE FROM employees WHERE emp_id = 'NEW1'");

    // Onto the live one after the app changed rows: back to the snapshot's rows.
    pg.sql("UPDATE analysis_jobs SET status = 'failed'; DELETE FROM analysis_progress;");
    assert_ne!(pg.dump(), before);
    snapshot::import_live(&mut db, &image, &facts, &Progress::default()).expect("import live");
    assert_eq!(pg.dump(), before);
}

fn stale_changes(survey: &jobsweep::core::jobs::Survey) -> Vec<jobsweep::journal::Change> {
    survey
        .stale
        .iter()
        .map(|j| jobsweep::journal::Change {
            table: "analysis_jobs".into(),
            pk: j.id,
            job_id: j.job_id.clone(),
            column: "status".into(),
            before: Some(j.status.clone()),
            after: Some(j.planned_status.status().into()),
            reason: jobsweep::core::reason::ReasonCode::NoFileCompleted.into(),
        })
        .collect()
}

#[test]
fn the_write_transaction_changes_rows_and_records_its_outcome_together() {
    let (_env, pg) = both(3);
    let mut db = connect(&pg.url()).expect("connect");
    let schema = db.schema().expect("schema");
    let c = criteria(AgeBasis::Activity, &[], &[]);
    assert_eq!(write::recorded_outcome(&mut db, "j1").unwrap(), None);
    let first = db.survey(&schema, &c, DbTimezone::Utc).expect("survey");
    let planned: Vec<i64> = first.stale.iter().map(|j| j.id).collect();
    let mut tx = write::PgWrite::begin(&mut db).expect("begin");
    let survey = tx
        .survey(&schema, &c, DbTimezone::Utc, &planned)
        .expect("survey");
    // Under the locks only the planned rows are read.
    assert_eq!(survey.stats.total, planned.len() as u64);
    assert!(first.stats.total > survey.stats.total);
    let changes = stale_changes(&survey);
    assert_eq!(changes.len(), planned.len());
    let (changed, skipped) = tx.set(&changes).expect("set");
    assert_eq!((changed.len(), skipped.len()), (changes.len(), 0));
    tx.record_outcome("j1", "apply", now()).expect("record");
    tx.commit().expect("commit");
    assert!(matches!(
        write::recorded_outcome(&mut db, "j1").unwrap(),
        Some(Some(_))
    ));
    let again = db.survey(&schema, &c, DbTimezone::Utc).expect("survey");
    assert!(again.stale.is_empty());

    // Rolled back (dropped): neither the rows nor the record.
    let before = pg.dump();
    let mut tx = write::PgWrite::begin(&mut db).expect("begin");
    tx.set(&[jobsweep::journal::Change {
        before: changes[0].after.clone(),
        after: Some("pending".into()),
        ..changes[0].clone()
    }])
    .expect("set");
    tx.record_outcome("j2", "revert", now()).expect("record");
    drop(tx);
    assert_eq!(pg.dump(), before);
    assert_eq!(write::recorded_outcome(&mut db, "j2").unwrap(), None);
}

#[test]
fn a_job_the_app_finishes_while_apply_waits_for_its_row_lock_is_left_alone() {
    let (_env, pg) = both(5);
    let mut db = connect(&pg.url()).expect("connect");
    let schema = db.schema().expect("schema");
    let c = criteria(AgeBasis::Activity, &[], &[]);
    let first = db.survey(&schema, &c, DbTimezone::Utc).expect("survey");
    let planned: Vec<i64> = first.stale.iter().map(|j| j.id).collect();
    let victim = first.stale[0].id;
    let mut app = pg.spawn_sql(&format!(
        "BEGIN; UPDATE analysis_jobs SET status = 'completed' WHERE id = {victim}; \
         SELECT pg_sleep(1); COMMIT;"
    ));
    pg.wait_for_row_lock_holder();
    let mut tx = write::PgWrite::begin(&mut db).expect("begin");
    let survey = tx
        .survey(&schema, &c, DbTimezone::Utc, &planned)
        .expect("waits, then surveys");
    assert!(app.wait().expect("app").success());
    assert!(survey.stale.iter().all(|j| j.id != victim));
    assert_eq!(survey.stale.len(), first.stale.len() - 1);
}

#[test]
fn an_app_lock_held_past_the_busy_timeout_is_exit_3_and_nothing_changes() {
    let (_env, pg) = both(9);
    let t = target::parse(&pg.url(), &env_none).unwrap();
    let mut db = PgDatabase::connect(&t, "public", Duration::from_millis(300)).expect("connect");
    let schema = db.schema().expect("schema");
    let c = criteria(AgeBasis::Activity, &[], &[]);
    let victim = db
        .survey(&schema, &c, DbTimezone::Utc)
        .expect("survey")
        .stale[0]
        .id;
    let before = pg.dump();
    let mut app = pg.spawn_sql(&format!(
        "BEGIN; SELECT id FROM analysis_jobs WHERE id = {victim} FOR UPDATE; SELECT pg_sleep(5); COMMIT;"
    ));
    pg.wait_for_row_lock_holder();
    let mut tx = write::PgWrite::begin(&mut db).expect("begin");
    let err = tx
        .survey(&schema, &c, DbTimezone::Utc, &[victim])
        .expect_err("lock timeout");
    assert_eq!(classify(&err).0, Exit::Database);
    assert!(format!("{err:#}").contains("lock"), "{err:#}");
    drop(tx);
    let _ = app.kill();
    let _ = app.wait();
    assert_eq!(pg.dump(), before);
}

/// Exports the live database of `pg` to a new image file in `dir`; its per-table row counts.
fn export_to(pg: &PgDb, path: &std::path::Path) -> Vec<(String, u64)> {
    let mut db = connect(&pg.url()).expect("connect");
    let mut file = std::fs::File::create(path).unwrap();
    let layout = snapshot::export(&mut db, &mut file, &Progress::default()).expect("export");
    layout
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.rows))
        .collect()
}

#[test]
fn diff_merges_tables_larger_than_its_buffers_by_key_order() {
    let pg = PgDb::with_app_schema();
    // About 8 MiB of result rows (the image reader's buffer is 1 MiB), ids inserted out of
    // order so that the heap order is not the key order.
    pg.sql(
        "INSERT INTO employees (emp_id, name) VALUES ('E001', 'a');
         INSERT INTO analysis_jobs (id, job_id, emp_id, folder_path, status)
             SELECT j, 'job-' || j, 'E001', '/d', 'pending' FROM generate_series(1, 200) j ORDER BY random();
         INSERT INTO analysis_results (id, job_id, file_id, stt_text, status)
             SELECT r, 'job-' || (1 + r % 200), 'f', repeat(md5(r::text), 8), 'completed'
             FROM generate_series(1, 30000) r ORDER BY random();",
    );
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    export_to(&pg, &a);
    assert!(std::fs::metadata(&a).unwrap().len() > 4 << 20);
    pg.sql(
        "UPDATE analysis_results SET status = 'failed' WHERE id % 1000 = 7;
         DELETE FROM analysis_results WHERE id % 1000 = 9;
         INSERT INTO analysis_results (id, job_id, file_id, status) VALUES (30001, 'job-1', 'g', 'new'), (0, 'job-2', 'g', 'new');
         UPDATE analysis_jobs SET status = 'failed' WHERE id IN (3, 150);",
    );
    let counts = export_to(&pg, &b);
    assert_eq!(snapshot::check(&b, &counts).unwrap(), None);
    let d = snapshot::diff(&a, &b).expect("diff");
    let results = d
        .tables
        .iter()
        .find(|t| t.table == "analysis_results")
        .expect("results differ");
    assert_eq!(
        (results.added, results.removed, results.changed),
        (2, 30, 30)
    );
    let jobs: Vec<(String, String)> = d
        .jobs
        .iter()
        .map(|j| (j.kind.to_string(), j.id.to_string()))
        .collect();
    assert_eq!(
        jobs,
        [
            ("changed".into(), "3".into()),
            ("changed".into(), "150".into())
        ]
    );
    assert!(!d.tables.iter().any(|t| t.table == "employees"));
}

#[test]
fn an_image_with_rows_out_of_key_order_is_damaged() {
    let (_env, pg) = both(12);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let counts = export_to(&pg, &good);
    // Swap two neighbouring rows of the first table holding at least two rows.
    let text = std::fs::read_to_string(&good).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at = (2..lines.len() - 1)
        .find(|&i| {
            !lines[i].starts_with("TABLE ")
                && !lines[i + 1].starts_with("TABLE ")
                && lines[i] != "\\.\n"
                && lines[i + 1] != "\\.\n"
        })
        .expect("two rows in a row");
    lines.swap(at, at + 1);
    let bad = dir.path().join("bad");
    std::fs::write(&bad, lines.concat()).unwrap();
    let why = snapshot::check(&bad, &counts).unwrap().expect("damaged");
    assert!(why.contains("out of key order"), "{why}");
    let err = snapshot::diff(&good, &bad).expect_err("a damaged image");
    assert_eq!(classify(&err).0, Exit::Integrity, "{err:#}");
}
