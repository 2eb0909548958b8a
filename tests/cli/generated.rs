//! The generated files (`man/`, `completions/`) are rendered here from the clap definition and
//! compared with the committed ones; `UPDATE_GENERATED=1 cargo test --test cli generated`
//! rewrites them. clap_mangen stays a dev-dependency because only this test uses it.
//!
//! The other tests check that what ships works: the man pages render without groff warnings,
//! the shells accept the completion scripts, every subcommand's `--help` runs, and the dynamic
//! completion really lists the store's snapshot and journal ids.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::CommandFactory;
use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;
use jobsweep::cli::Cli;

use crate::common::*;

/// The date printed in every man page; fixed so that generation is reproducible.
const MAN_DATE: &str = "2026-02-25";

/// The completion scripts: shell name for clap_complete, and the file name each shell expects.
const COMPLETIONS: [(&str, &str); 5] = [
    ("bash", "jobsweep.bash"),
    ("zsh", "_jobsweep"),
    ("fish", "jobsweep.fish"),
    ("elvish", "jobsweep.elv"),
    ("powershell", "_jobsweep.ps1"),
];

/// The directories this test owns: every file in them is generated.
const GENERATED_DIRS: [&str; 2] = ["man", "completions"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every generated file, by its path relative to the repository.
fn render_all() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (name, page) in man_pages() {
        files.insert(format!("man/{name}"), page);
    }
    for (shell, file) in COMPLETIONS {
        let script = jobsweep::cli::complete::registration(shell).expect("registration script");
        files.insert(format!("completions/{file}"), script);
    }
    files
}

#[test]
fn generated_files_are_in_sync() {
    let files = render_all();
    let root = repo();
    let committed: Vec<String> = GENERATED_DIRS
        .iter()
        .flat_map(|dir| {
            files_under(&root.join(dir))
                .into_iter()
                .map(move |f| format!("{dir}/{f}"))
        })
        .collect();
    let stale: Vec<&String> = committed
        .iter()
        .filter(|f| !files.contains_key(*f))
        .collect();

    if std::env::var_os("UPDATE_GENERATED").is_some_and(|v| !v.is_empty() && v != "0") {
        for (rel, bytes) in &files {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if std::fs::read(&path).ok().as_ref() != Some(bytes) {
                std::fs::write(&path, bytes).unwrap();
                eprintln!("updated {rel}");
            }
        }
        for rel in stale {
            std::fs::remove_file(root.join(rel)).unwrap();
            eprintln!("removed stale {rel}");
        }
        return;
    }

    let mut problems = Vec::new();
    for (rel, bytes) in &files {
        match std::fs::read(root.join(rel)) {
            Ok(old) if &old == bytes => {}
            Ok(_) => problems.push(format!("{rel} differs from what the clap definition makes")),
            Err(_) => problems.push(format!("{rel} is missing")),
        }
    }
    for rel in stale {
        problems.push(format!("{rel} is stale (nothing generates it any more)"));
    }
    assert!(
        problems.is_empty(),
        "generated files are out of date:\n  {}\nrun: UPDATE_GENERATED=1 cargo test --test cli generated",
        problems.join("\n  ")
    );
}

#[test]
fn clap_definition_passes_debug_asserts() {
    Cli::command().debug_assert();
}

#[test]
fn every_command_has_a_man_page_with_the_operator_sections() {
    let pages: BTreeMap<String, Vec<u8>> = man_pages().into_iter().collect();
    for path in command_paths() {
        let name = format!("{}.1", path.join("-"));
        let page = String::from_utf8(pages.get(&name).cloned().unwrap_or_else(|| {
            panic!("no man page {name}; pages: {:?}", pages.keys());
        }))
        .unwrap();
        assert!(page.contains("\n.TH "), "{name}");
        assert_eq!(page.matches(".ds Aq").count(), 2, "{name}: one preamble");
        assert!(page.contains(MAN_DATE), "{name}: fixed date");
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(
                page.contains(&format!(".SH \"{section}\""))
                    || page.contains(&format!(".SH {section}\n")),
                "{name} lacks {section}"
            );
        }
        for var in [
            "JOBSWEEP_DB",
            "JOBSWEEP_STORE",
            "JOBSWEEP_LANG",
            "DATA_DIR",
            "NO_COLOR",
        ] {
            assert!(page.contains(var), "{name} lacks {var}");
        }
        assert!(
            page.contains("journals/"),
            "{name}: FILES names the store layout"
        );
        assert!(
            page.contains(&format!("\\fB{}", path.join(" "))),
            "{name}: an example runs this command"
        );
    }
    assert_eq!(pages.len(), command_paths().len(), "one page per command");
}

#[test]
fn man_pages_render_without_warnings() {
    require("groff", "groff");
    let dir = tempfile::tempdir().unwrap();
    for (name, page) in man_pages() {
        let path = dir.path().join(&name);
        std::fs::write(&path, page).unwrap();
        let out = Process::new("groff")
            .args(["-man", "-ww", "-z", "-Tutf8"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff on {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_subcommand_help_works() {
    for path in command_paths() {
        let out = bare_cmd().args(&path[1..]).arg("--help").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{path:?} --help: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("Usage: jobsweep"), "{path:?}: {stdout}");
    }
}

#[test]
fn bash_script_loads() {
    let out = Process::new("bash")
        .current_dir(repo())
        .args([
            "--norc",
            "-c",
            "source completions/jobsweep.bash && complete -p jobsweep",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("-F _clap_complete_jobsweep jobsweep"));
}

#[test]
fn zsh_script_parses() {
    shell_parses("zsh", &["-n", "completions/_jobsweep"]);
}

#[test]
fn fish_script_parses() {
    shell_parses("fish", &["-n", "completions/jobsweep.fish"]);
}

fn shell_parses(shell: &str, args: &[&str]) {
    require(shell, shell);
    let out = Process::new(shell)
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A store with two snapshots and one journal, beside `database.db`.
fn env_with_store() -> TestEnv {
    let env = TestEnv::with("current", &["guide"]);
    let store = env.store();
    std::fs::create_dir_all(store.join("snapshots")).unwrap();
    std::fs::create_dir_all(store.join("journals")).unwrap();
    for (id, note) in [
        ("20260224T010203Z-0a1b2c3d", "weekly"),
        ("20260225T004515Z-9f8e7d6c", ""),
    ] {
        let manifest = serde_json::json!({
            "id": id, "created_at": format!("{}-{}-{}T00:00:00Z", &id[..4], &id[4..6], &id[6..8]),
            "reason": "manual", "note": note,
        });
        std::fs::write(
            store.join(format!("snapshots/{id}.json")),
            manifest.to_string(),
        )
        .unwrap();
        std::fs::write(store.join(format!("snapshots/{id}.db.zst")), b"x").unwrap();
    }
    let journal = serde_json::json!({
        "format": "jobsweep-journal/1", "id": "20260225T004516Z-77aa88bb", "kind": "apply",
        "state": "committed", "changes": [{}, {}], "created_at": "2026-02-25T00:45:16Z",
    });
    std::fs::write(
        store.join("journals/20260225T004516Z-77aa88bb.json"),
        journal.to_string(),
    )
    .unwrap();
    env
}

/// Asks the binary for candidates the way the bash script does (`COMPLETE=bash jobsweep --
/// <words>` with the cursor's word index in `_CLAP_COMPLETE_INDEX`); one candidate per line.
fn complete_bash(words: &[&str], envs: &[(&str, &Path)]) -> Vec<String> {
    let mut cmd = bare_cmd();
    cmd.env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn dynamic_completion_lists_ids_from_the_store() {
    let env = env_with_store();
    let store = env.store();
    let by_env = [("JOBSWEEP_STORE", store.as_path())];
    assert_eq!(
        complete_bash(&["jobsweep", "restore", "--snapshot", ""], &by_env),
        [
            "20260225T004515Z-9f8e7d6c",
            "20260224T010203Z-0a1b2c3d",
            "latest"
        ],
        "newest first, then latest"
    );
    assert_eq!(
        complete_bash(&["jobsweep", "restore", "--journal", ""], &by_env),
        ["20260225T004516Z-77aa88bb", "latest"]
    );
    assert_eq!(
        complete_bash(&["jobsweep", "snapshot", "verify", "20260224"], &by_env),
        ["20260224T010203Z-0a1b2c3d"],
        "the typed prefix filters"
    );
    assert_eq!(
        complete_bash(
            &["jobsweep", "diff", "20260225T004515Z-9f8e7d6c", "l"],
            &by_env
        ),
        ["latest", "live"]
    );
    assert_eq!(
        complete_bash(&["jobsweep", "diff", "--journal", "2"], &by_env),
        ["20260225T004516Z-77aa88bb"]
    );

    // The store beside a database named by JOBSWEEP_DB, or by --db typed on the line.
    let by_db = [("JOBSWEEP_DB", env.db.as_path())];
    assert_eq!(
        complete_bash(&["jobsweep", "restore", "--journal", "2"], &by_db),
        ["20260225T004516Z-77aa88bb"]
    );
    let db = env.db.to_str().unwrap();
    assert_eq!(
        complete_bash(
            &["jobsweep", "--db", db, "restore", "--snapshot", "2026"],
            &[]
        ),
        ["20260225T004515Z-9f8e7d6c", "20260224T010203Z-0a1b2c3d"]
    );
    let typed_store = format!("--store={}", store.display());
    assert_eq!(
        complete_bash(
            &["jobsweep", &typed_store, "restore", "--journal", "2"],
            &[]
        ),
        ["20260225T004516Z-77aa88bb"]
    );

    // No store anywhere: only the word `latest`, and no error.
    let empty = TestEnv::empty();
    assert_eq!(
        complete_bash(
            &["jobsweep", "restore", "--snapshot", ""],
            &[("JOBSWEEP_DB", empty.db.as_path())]
        ),
        ["latest"]
    );
}

#[test]
fn dynamic_completion_describes_ids_for_zsh() {
    let env = env_with_store();
    let out = bare_cmd()
        .env("COMPLETE", "zsh")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .env("_CLAP_IFS", "\n")
        .env("JOBSWEEP_STORE", env.store())
        .args(["--", "jobsweep", "restore", "--snapshot", ""])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("20260224T010203Z-0a1b2c3d:2026-02-24 00:00:00 manual: weekly"),
        "{text}"
    );
}

/// A PATH whose first entry holds the test binary, so the committed scripts' `jobsweep` call
/// reaches it.
fn path_with_binary() -> std::ffi::OsString {
    let bin = assert_cmd::cargo::cargo_bin("jobsweep");
    let mut dirs = vec![bin.parent().unwrap().to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// A clean process for a shell that will run the committed completion script.
fn shell(name: &str, env: &TestEnv) -> Process {
    let mut cmd = Process::new(name);
    cmd.current_dir(repo())
        .env("PATH", path_with_binary())
        .env("JOBSWEEP_STORE", env.store())
        .env_remove("COMPLETE")
        .env_remove("JOBSWEEP_DB");
    cmd
}

#[test]
fn bash_completes_snapshot_ids_end_to_end() {
    let env = env_with_store();
    // What bash does on Tab after `jobsweep restore --snapshot 2026`.
    let script = r#"
source completions/jobsweep.bash
COMP_WORDS=(jobsweep restore --snapshot 2026); COMP_CWORD=3
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
_clap_complete_jobsweep jobsweep 2026 --snapshot
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let out = shell("bash", &env)
        .args(["--norc", "-c", script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "20260225T004515Z-9f8e7d6c\n20260224T010203Z-0a1b2c3d\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fish_completes_journal_ids_end_to_end() {
    require("fish", "fish");
    let env = env_with_store();
    let out = shell("fish", &env)
        .args([
            "--no-config",
            "-c",
            "source completions/jobsweep.fish; complete -C 'jobsweep restore --journal '",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("20260225T004516Z-77aa88bb\t") && l.contains("2 changes")),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.lines().any(|l| l == "latest"), "{text}");
}

#[test]
fn zsh_completes_on_the_first_tab_when_autoloaded_from_fpath() {
    require("zsh", "zsh");
    let env = env_with_store();
    // compinit autoloads completions/_jobsweep; `_describe` is replaced by a stand-in that
    // prints the candidates it is given, so the completion function runs outside a real Tab.
    let script = r#"
fpath=(completions $fpath); autoload -Uz compinit && compinit -u -D
_describe() { local name=${@[-1]}; print -rl -- "${(@P)name}" }
words=(jobsweep restore --journal ""); CURRENT=4
$_comps[jobsweep]
"#;
    let out = shell("zsh", &env)
        .args(["-f", "-c", script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "20260225T004516Z-77aa88bb:2026-02-25 00:45:16 apply committed, 2 changes\nlatest\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The man pages: one per command (the `help` pseudo-command aside), named like
/// `jobsweep-snapshot-list.1`.
fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    let mut stack = vec![(vec!["jobsweep".to_string()], root)];
    while let Some((path, cmd)) = stack.pop() {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut sub_path = path.clone();
            sub_path.push(sub.get_name().to_string());
            stack.push((sub_path, sub.clone()));
        }
        let subcommands: Vec<String> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("{}-{}", path.join("-"), s.get_name()))
            .collect();
        let man = Man::new(cmd.clone())
            .date(MAN_DATE)
            .manual("jobsweep manual")
            .source(format!("jobsweep {}", env!("CARGO_PKG_VERSION")));
        let name = man.get_filename();
        let mut page = Vec::new();
        man.render_title(&mut page).unwrap();
        man.render_name_section(&mut page).unwrap();
        man.render_synopsis_section(&mut page).unwrap();
        man.render_description_section(&mut page).unwrap();
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut page).unwrap();
        }
        if cmd.has_subcommands() {
            man.render_subcommands_section(&mut page).unwrap();
        }
        page.extend(operator_sections(&path, &subcommands).render().into_bytes());
        if cmd.get_version().is_some() {
            man.render_version_section(&mut page).unwrap();
        }
        pages.push((name, one_preamble(page)));
    }
    pages.sort();
    pages
}

/// Each section rendered on its own starts with roff's quote-string preamble; keep the first.
fn one_preamble(page: Vec<u8>) -> Vec<u8> {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let text = String::from_utf8(page).expect("roff is UTF-8");
    let rest = text.replace(PREAMBLE, "");
    format!("{PREAMBLE}{rest}").into_bytes()
}

/// Every command as its words: `["jobsweep"]`, `["jobsweep", "snapshot", "list"]`, ...
fn command_paths() -> Vec<Vec<String>> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut out = Vec::new();
    let mut stack = vec![(vec!["jobsweep".to_string()], root)];
    while let Some((path, cmd)) = stack.pop() {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut sub_path = path.clone();
            sub_path.push(sub.get_name().to_string());
            stack.push((sub_path, sub.clone()));
        }
        out.push(path);
    }
    out.sort();
    out
}

/// EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO: what clap does not know.
fn operator_sections(path: &[String], subcommands: &[String]) -> Roff {
    let mut roff = Roff::new();

    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "Success."),
        (
            "1",
            "--exit-code found something (stale jobs, differences).",
        ),
        (
            "2",
            "Usage error, including refused overwrites and unknown or ambiguous ids.",
        ),
        (
            "3",
            "Database problem: missing, not SQLite, corrupt, schema lacks what is needed, \
             read-only, or locked past the busy timeout.",
        ),
        ("4", "Snapshot or journal integrity failure."),
        (
            "5",
            "Revert conflicts: rows the app changed since the apply were skipped; the other \
             rows were set back (with a revert journal and a pre-restore snapshot).",
        ),
        ("6", "Another jobsweep holds the store lock."),
        ("7", "apply refused by --max-changes."),
        (
            "8",
            "The local work succeeded but its off-host copy (--replica) failed; snapshot \
             push --all uploads what the replica lacks.",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(code)]);
        roff.text([roman(meaning)]);
    }
    roff.control("PP", []);
    roff.text([roman(
        "Every error is one line on standard error (error: ...), sometimes followed by one \
         hint: line; with --json one JSON document on standard output says the same. An error \
         leaves the database and the store as they were, except where its message says \
         otherwise: exit 5 (the rows without conflicts were set back), an exit 3 that says the \
         change COMMITTED (it is in the database; the next run marks its journal from the \
         outcome record), and a restore --snapshot that says the snapshot WAS restored.",
    )]);

    roff.control("SH", ["ENVIRONMENT"]);
    for (var, meaning) in [
        ("JOBSWEEP_DB", "The database file, as --db."),
        ("JOBSWEEP_STORE", "The store directory, as --store."),
        (
            "JOBSWEEP_LANG",
            "The language of the human output, ko or en, as --lang.",
        ),
        (
            "DATA_DIR",
            "Without --db and JOBSWEEP_DB, $DATA_DIR/database.db is the first place looked \
             at, then /app/data/database.db, then ./data/database.db.",
        ),
        (
            "LC_ALL, LC_MESSAGES, LANG",
            "Without --lang and JOBSWEEP_LANG, the first of these that is set chooses the \
             language: Korean when it starts with ko, English otherwise.",
        ),
        (
            "NO_COLOR",
            "When set and not empty, no colour is used unless --color always is given.",
        ),
        (
            "JOBSWEEP_REPLICA",
            "The replica URL, as --replica: s3://BUCKET/PREFIX or file:///PATH.",
        ),
        (
            "JOBSWEEP_REPLICA_RECIPIENTS",
            "age public keys the replica is encrypted to (commas or spaces between them), as \
             --replica-recipient.",
        ),
        (
            "JOBSWEEP_IDENTITY",
            "The age identity file that reads an encrypted replica back, as --identity.",
        ),
        (
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION",
            "S3 credentials and region for an s3:// replica; without them, the EC2 instance \
             role is used.",
        ),
        (
            "AWS_ENDPOINT_URL",
            "An S3-compatible server instead of AWS (path-style requests).",
        ),
        (
            "COMPLETE",
            "Set by the shell completion scripts (COMPLETE=bash jobsweep prints the bash \
             script); not for interactive use.",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(var)]);
        roff.text([roman(meaning)]);
    }

    roff.control("SH", ["FILES"]);
    roff.text([roman(
        "The store lives beside the database (.jobsweep/ in the database's directory, on the \
         same volume) unless --store names another directory:",
    )]);
    for (file, meaning) in [
        (
            ".jobsweep/lock",
            "Advisory lock; the operating system releases it when the process dies.",
        ),
        (
            ".jobsweep/snapshots/ID.db.zst",
            "A snapshot: the database image in a zstd frame with content checksum.",
        ),
        (
            ".jobsweep/snapshots/ID.json",
            "Its manifest: id, created_at, reason (manual, pre-apply, pre-restore), note, \
             source_path, page_size, page_count, image_bytes, image_sha256, file_bytes, \
             file_sha256, zstd_level, sqlite_version, tool_version.",
        ),
        (
            ".jobsweep/journals/ID.json",
            "A journal of one apply or revert (format jobsweep-journal/1): its state \
             (planned, committed, abandoned), its snapshot, the selection criteria, every \
             changed row with its value before and after, and what was skipped.",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(file)]);
        roff.text([roman(meaning)]);
    }
    roff.control("PP", []);
    roff.text([
        roman("Ids look like "),
        italic("20260225T004515Z-1a2b3c4d"),
        roman(" (UTC time and 8 hex digits); any unique prefix and "),
        bold("latest"),
        roman(" are accepted."),
    ]);

    roff.control("SH", ["EXAMPLES"]);
    for (what, line) in examples(&path.join(" ")) {
        roff.control("PP", []);
        roff.text([roman(what)]);
        roff.control("RS", ["4"]);
        roff.control("nf", []);
        roff.text([bold(line)]);
        roff.control("fi", []);
        roff.control("RE", []);
    }

    roff.control("SH", ["SEE ALSO"]);
    let mut see_also: Vec<String> = Vec::new();
    if path.len() > 1 {
        see_also.push(path[..path.len() - 1].join("-"));
    }
    see_also.extend(subcommands.iter().cloned());
    if path.len() == 1 {
        see_also.push("sqlite3".into());
    }
    let mut inlines = Vec::new();
    for (i, page) in see_also.iter().enumerate() {
        if i > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(page.as_str()));
        inlines.push(roman("(1)"));
    }
    roff.text(inlines);
    roff
}

/// What an operator types, per command.
fn examples(command: &str) -> Vec<(&'static str, &'static str)> {
    match command {
        "jobsweep" => vec![
            (
                "See what is stuck (the default command):",
                "jobsweep --db /app/data/database.db",
            ),
            (
                "Clean it, behind a snapshot and a journal:",
                "jobsweep apply",
            ),
            ("Look back at what was done:", "jobsweep log"),
            ("Undo the last apply:", "jobsweep restore --journal latest"),
        ],
        "jobsweep check" => vec![
            ("The report in the guide's format:", "jobsweep check"),
            ("Only the statistics block:", "jobsweep check --stats"),
            (
                "Judge age by created_at, as the old script did, with a 6 hour limit:",
                "jobsweep check --by created --hours 6",
            ),
            (
                "One job, as JSON:",
                "jobsweep --json check --job job_abc123def",
            ),
            (
                "In a script: exit 1 when stale jobs exist:",
                "jobsweep -q check --exit-code || echo 'stale jobs'",
            ),
        ],
        "jobsweep snapshot" => vec![
            (
                "Take a snapshot before an upgrade:",
                "jobsweep snapshot --note 'before v2.3'",
            ),
            ("List them:", "jobsweep snapshot list"),
        ],
        "jobsweep snapshot list" => vec![
            ("Newest first:", "jobsweep snapshot list"),
            ("As JSON:", "jobsweep --json snapshot list"),
        ],
        "jobsweep snapshot verify" => vec![
            ("Verify the newest snapshot:", "jobsweep snapshot verify"),
            ("Verify every snapshot:", "jobsweep snapshot verify --all"),
        ],
        "jobsweep snapshot push" => vec![
            (
                "Upload what the replica lacks:",
                "jobsweep --replica s3://my-bucket/jobsweep snapshot push --all",
            ),
            ("Upload the newest snapshot:", "jobsweep snapshot push"),
        ],
        "jobsweep snapshot pull" => vec![
            (
                "On a new host, fetch and verify the newest copy:",
                "jobsweep --identity key.txt snapshot pull latest",
            ),
            (
                "Compare both sides first:",
                "jobsweep snapshot list --remote",
            ),
        ],
        "jobsweep snapshot prune" => vec![
            (
                "See what would go:",
                "jobsweep snapshot prune --keep-last 10 --keep-within 30d --dry-run",
            ),
            (
                "Keep the 10 newest and a month's worth:",
                "jobsweep snapshot prune --keep-last 10 --keep-within 30d",
            ),
        ],
        "jobsweep apply" => vec![
            (
                "Look first, then clean:",
                "jobsweep check && jobsweep apply",
            ),
            (
                "Jobs idle for two days, at most 50 changes:",
                "jobsweep apply --hours 48 --max-changes 50",
            ),
            (
                "From cron: quiet, one JSON document:",
                "jobsweep -q --json apply",
            ),
        ],
        "jobsweep diff" => vec![
            ("What changed since the newest snapshot:", "jobsweep diff"),
            (
                "Between two snapshots:",
                "jobsweep diff 20260224T010203Z 20260225T004515Z",
            ),
            (
                "Is the last apply still in place?",
                "jobsweep diff --journal latest",
            ),
        ],
        "jobsweep restore" => vec![
            ("Undo the last apply:", "jobsweep restore --journal latest"),
            (
                "Undo it even where the app changed a row since:",
                "jobsweep restore --journal latest --force",
            ),
            (
                "Put a snapshot back into the live database:",
                "jobsweep restore --snapshot latest",
            ),
            (
                "Write a snapshot to a separate file instead:",
                "jobsweep restore --snapshot 20260224T010203Z --to /tmp/old.db",
            ),
        ],
        "jobsweep log" => vec![
            ("Journals and snapshots, newest first:", "jobsweep log"),
            ("As JSON:", "jobsweep --json log"),
        ],
        other => panic!("no EXAMPLES for `{other}`: add them in tests/cli/generated.rs"),
    }
}

/// Fails (never skips) when a tool the test needs is missing, naming the package to install.
fn require(program: &str, package: &str) {
    let found = Process::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: apt-get install {package} (.ci/run does)"
    );
}
