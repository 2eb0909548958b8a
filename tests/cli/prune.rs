//! `snapshot prune` and the journals (design.md §3.1): bounded retention with
//! `--protect-applies` (issue 11.1) and damaged journals that protect what they may refer to
//! (issue 12.5). The store's clock is moved with the test-only `JOBSWEEP_TEST_CLOCK`.

use crate::common::*;

/// `args` run at the simulated time `at` (store ids, created_at and prune's ages).
fn run_at(env: &TestEnv, at: chrono::DateTime<chrono::Utc>, args: &[&str]) -> std::process::Output {
    env.cmd()
        .args(args)
        .env("JOBSWEEP_TEST_CLOCK", at.to_rfc3339())
        .output()
        .unwrap()
}

fn snapshot_ids(env: &TestEnv) -> Vec<String> {
    listed_snapshots(env)
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// The cron recipe's prune (contrib/jobsweep-weekly).
const CRON_PRUNE: [&str; 8] = [
    "--json",
    "snapshot",
    "prune",
    "--keep-last",
    "8",
    "--keep-within",
    "30d",
    "--protect-applies",
];

#[test]
fn a_simulated_year_of_weekly_cron_runs_keeps_the_store_bounded() {
    let env = TestEnv::with("current", &["guide"]);
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T04:15:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut most = 0;
    let mut last_apply_snapshot = String::new();
    for week in 0..52 {
        let at = start + chrono::Duration::weeks(week);
        // Each week the app leaves one job stuck again.
        env.conn()
            .execute(
                "UPDATE analysis_jobs SET status = 'pending' WHERE job_id = 'job_pending_01'",
                [],
            )
            .unwrap();
        let out = run_at(&env, at, &["--json", "apply"]);
        assert!(out.status.success(), "week {week}: {}", stderr(&out));
        let report = stdout_json(&out);
        assert!(!report["changed"].as_array().unwrap().is_empty());
        last_apply_snapshot = report["snapshot_id"].as_str().unwrap().to_string();
        let mut args = CRON_PRUNE.to_vec();
        args.push("30d");
        let out = run_at(&env, at + chrono::Duration::minutes(1), &args);
        assert!(out.status.success(), "week {week}: {}", stderr(&out));
        most = most.max(snapshot_ids(&env).len());
    }
    let left = snapshot_ids(&env);
    assert_eq!(left.len(), 8, "{left:?}");
    assert!(most <= 8, "the store grew to {most} snapshots");
    // Journals go with their snapshots (design.md §3.1): bounded too, and none outlives its
    // snapshot.
    let kept_journals = journals(&env);
    assert_eq!(kept_journals.len(), left.len(), "{kept_journals:?}");
    for path in &kept_journals {
        let snapshot = read_json(path)["snapshot_id"].as_str().unwrap().to_string();
        assert!(left.contains(&snapshot), "{path:?} outlived {snapshot}");
    }

    // Months later with no apply since: the newest un-reverted apply's snapshot still stays,
    // whatever the other rules say; --force lets it go.
    let later = start + chrono::Duration::weeks(70);
    let out = run_at(
        &env,
        later,
        &["--json", "snapshot", "prune", "--keep-last", "0"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(snapshot_ids(&env), [last_apply_snapshot.clone()], "{doc}");
    assert_eq!(
        doc["kept"][0]["reasons"],
        serde_json::json!(["newest-apply"])
    );
    let text = stdout(&run_at(
        &env,
        later,
        &["snapshot", "prune", "--keep-last", "0", "--dry-run"],
    ));
    assert!(
        text.contains("the newest un-reverted apply's snapshot"),
        "{text}"
    );
    let out = run_at(
        &env,
        later,
        &["snapshot", "prune", "--keep-last", "0", "--force"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(snapshot_ids(&env).is_empty());
}

#[test]
fn applies_younger_than_protect_applies_keep_their_snapshots() {
    let env = TestEnv::with("current", &["guide"]);
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T04:15:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut snaps = Vec::new();
    for day in [0, 10, 20] {
        env.conn()
            .execute(
                "UPDATE analysis_jobs SET status = 'pending' WHERE job_id = 'job_pending_01'",
                [],
            )
            .unwrap();
        let at = start + chrono::Duration::days(day);
        let out = run_at(&env, at, &["--json", "apply"]);
        assert!(out.status.success(), "{}", stderr(&out));
        snaps.push(
            stdout_json(&out)["snapshot_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // On day 25 with --protect-applies 12d: day 20 (newest, and recent) and day 10 (15 days
    // old? no: 15 > 12) -> only day 20 is kept; with 16d day 10 too.
    let at = start + chrono::Duration::days(25);
    let dry = |protect: &str| {
        let out = run_at(
            &env,
            at,
            &[
                "--json",
                "snapshot",
                "prune",
                "--keep-last",
                "0",
                "--protect-applies",
                protect,
                "--dry-run",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let doc = stdout_json(&out);
        let mut kept: Vec<String> = doc["kept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect();
        kept.sort();
        (kept, doc)
    };
    let (kept, doc) = dry("12d");
    assert_eq!(kept, [snaps[2].clone()], "{doc}");
    assert_eq!(
        doc["kept"][0]["reasons"],
        serde_json::json!(["newest-apply", "recent-apply"])
    );
    let (kept, _) = dry("16d");
    assert_eq!(kept, [snaps[1].clone(), snaps[2].clone()]);
    // The default is 30d: all three.
    let out = run_at(
        &env,
        at,
        &[
            "--json",
            "snapshot",
            "prune",
            "--keep-last",
            "0",
            "--dry-run",
        ],
    );
    assert_eq!(stdout_json(&out)["kept"].as_array().unwrap().len(), 3);
    // A bad duration is a usage error.
    let out = run(
        &env,
        &[
            "snapshot",
            "prune",
            "--keep-last",
            "1",
            "--protect-applies",
            "soon",
        ],
    );
    assert_error(&out, 2);
}

#[test]
fn a_damaged_journal_keeps_every_snapshot_it_could_refer_to_and_prune_says_why() {
    for (field, from, to) in [
        (
            "state",
            "\"state\": \"committed\"",
            "\"state\": \"abandoned\"",
        ),
        (
            "reverted_by",
            "\"reverted_by\": null",
            "\"reverted_by\": \"20260101T000000Z-00000000\"",
        ),
    ] {
        let env = TestEnv::with("current", &["guide"]);
        let apply = apply_ok(&env, &[]);
        let (journal_id, snapshot_id) = (
            apply["journal_id"].as_str().unwrap().to_string(),
            apply["snapshot_id"].as_str().unwrap().to_string(),
        );
        // A later snapshot, which --keep-last 1 keeps.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let newer = id_of(&snap(&env));
        let path = journal_path(&env, &journal_id);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{field}: {text}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        // restore refuses it (exit 4) and points at the snapshot...
        let out = run(&env, &["restore", "--journal", &journal_id]);
        assert_error_containing(&out, 4, "restore --snapshot");
        // ...which prune keeps, saying why.
        let out = run(&env, &["--json", "snapshot", "prune", "--keep-last", "1"]);
        assert!(out.status.success(), "{field}: {}", stderr(&out));
        let doc = stdout_json(&out);
        assert!(zst_path(&env, &snapshot_id).exists(), "{field}: {doc}");
        let kept = doc["kept"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == snapshot_id.as_str())
            .unwrap_or_else(|| panic!("{field}: {doc}"))
            .clone();
        assert_eq!(kept["reasons"], serde_json::json!(["damaged-journal"]));
        // Data in JSON: which journal, and its error line.
        let warning = &doc["warnings"][0];
        assert_eq!(warning["kind"], "damaged_journal", "{warning}");
        assert_eq!(warning["journal"], journal_id.as_str(), "{warning}");
        assert!(
            warning["error"].as_str().unwrap().contains("damaged"),
            "{warning}"
        );
        // The newer snapshot is kept by --keep-last; nothing is deleted.
        assert!(zst_path(&env, &newer).exists());
        assert_eq!(doc["deleted"], serde_json::json!([]));
        let text = stdout(&run(
            &env,
            &["--lang", "ko", "snapshot", "prune", "--keep-last", "1"],
        ));
        assert!(text.contains("손상된 저널이 가리킬 수 있음"), "{text}");
    }
}
