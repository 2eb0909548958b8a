//! `docs/json.md` shows a real `--json` document of every command; this test runs the same
//! commands in the same order on the same fixture and fails when a document's shape (the set of
//! its field paths) differs from the documented one.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::*;

/// Every leaf of `doc` as a path (`stale_jobs[].files.total`); array positions are folded, and
/// empty arrays and objects count as leaves.
fn shape(doc: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: String, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, v) in map {
                    let sub = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(v, sub, out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for v in items {
                    walk(v, format!("{path}[]"), out);
                }
            }
            Value::Array(_) => {
                out.insert(format!("{path}[] (empty)"));
            }
            _ => {
                out.insert(path);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(doc, String::new(), &mut out);
    out
}

/// A documented run: its arguments, exit code, whether it runs with a replica, and the JSON.
struct Documented {
    args: String,
    code: i32,
    replica: bool,
    doc: Value,
}

/// The `<!-- run: ARGS -->` markers of docs/json.md (`<!-- run, exit N: ARGS -->` for a
/// command documented failing with exit N, `<!-- run, replica: ARGS -->` for one run with a
/// replica) with the JSON block that follows each.
fn documented() -> Vec<Documented> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md"))
        .expect("docs/json.md");
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("<!-- run") {
        rest = &rest[at + "<!-- run".len()..];
        let colon = rest.find(": ").expect("marker colon");
        let mut code = 0;
        let mut replica = false;
        for part in rest[..colon]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.strip_prefix("exit ") {
                Some(n) => code = n.trim().parse().expect("exit code"),
                None if part == "replica" => replica = true,
                None => panic!("docs/json.md: unknown marker option `{part}`"),
            }
        }
        rest = &rest[colon + 2..];
        let end = rest.find(" -->").expect("marker end");
        let args = rest[..end].to_string();
        let start = rest.find("```json\n").expect("json block") + "```json\n".len();
        let stop = start + rest[start..].find("\n```").expect("block end");
        let doc: Value = serde_json::from_str(&rest[start..stop])
            .unwrap_or_else(|e| panic!("docs/json.md, `{args}`: {e}"));
        out.push(Documented {
            args,
            code,
            replica,
            doc,
        });
        rest = &rest[stop..];
    }
    out
}

#[test]
fn every_documented_json_shape_is_what_a_real_run_prints() {
    let docs = documented();
    let env = TestEnv::with("current", &["guide"]);
    // A `file://` replica in plaintext: the documents' shapes are those of an encrypted S3
    // replica (tests/cli/replica.rs checks those against a real server).
    let replica = format!("file://{}", env.path("replica").display());
    let mut commands = BTreeSet::new();
    let mut replica_runs = Vec::new();
    for Documented {
        args,
        code,
        replica: with_replica,
        doc,
    } in &docs
    {
        let mut cmd = bare_cmd();
        cmd.current_dir(env.dir.path()).args([
            "--db",
            "database.db",
            "--now",
            "2026-02-25T00:45:15Z",
            "--json",
        ]);
        if *with_replica {
            cmd.args(["--replica", &replica, "--replica-plaintext"]);
        }
        let out = cmd.args(args.split_whitespace()).output().unwrap();
        assert_eq!(out.status.code(), Some(*code), "`{args}`: {}", stderr(&out));
        let real = stdout_json(&out);
        // JOBSWEEP_PRINT_DOCS=1 prints every real document, to refresh the examples.
        if std::env::var_os("JOBSWEEP_PRINT_DOCS").is_some() {
            let pretty = serde_json::to_string_pretty(&real).unwrap_or_default();
            eprintln!("<<< {args}\n{pretty}\n>>>");
        }
        let (want, got) = (shape(doc), shape(&real));
        assert!(
            want == got,
            "`{args}`: docs/json.md is out of date\n  only documented: {:?}\n  only printed: {:?}",
            want.difference(&got).collect::<Vec<_>>(),
            got.difference(&want).collect::<Vec<_>>()
        );
        if *with_replica {
            replica_runs.push(args.clone());
        }
        let words: Vec<&str> = args.split_whitespace().take(2).collect();
        commands.insert(match words.as_slice() {
            ["snapshot", sub] if !sub.starts_with('-') => format!("snapshot {sub}"),
            [first, ..] => first.to_string(),
            [] => unreachable!(),
        });
    }
    for command in [
        "check",
        "snapshot",
        "snapshot list",
        "snapshot verify",
        "snapshot prune",
        "apply",
        "diff",
        "restore",
        "log",
        "snapshot push",
        "snapshot pull",
    ] {
        assert!(commands.contains(command), "docs/json.md lacks `{command}`");
    }
    // Every replica document (design.md §9) is shown from a real run with a replica.
    for run in [
        "snapshot --note",
        "snapshot push",
        "snapshot pull",
        "snapshot list --remote",
        "snapshot verify --remote",
        "snapshot prune",
        "log",
        "apply",
    ] {
        assert!(
            replica_runs.iter().any(|r| r.starts_with(run)),
            "docs/json.md lacks `{run}` with a replica"
        );
    }
}

#[test]
fn shape_folds_arrays_and_keeps_empty_ones() {
    let doc = serde_json::json!({"a": [{"b": 1}, {"b": 2, "c": null}], "d": [], "e": {"f": "x"}});
    let got: Vec<String> = shape(&doc).into_iter().collect();
    assert_eq!(got, ["a[].b", "a[].c", "d[] (empty)", "e.f"]);
}
