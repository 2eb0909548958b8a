//! Command lines clap refuses: one `error:` line and one hint (design.md §5), exit 2; `--help` and
//! `--version` unchanged.

use crate::common::*;

fn refused(args: &[&str]) -> Vec<String> {
    let out = bare_cmd().args(args).output().expect("run jobsweep");
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{args:?}");
    let lines: Vec<String> = stderr(&out).lines().map(String::from).collect();
    assert_eq!(lines.len(), 2, "{args:?}: {lines:#?}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {lines:#?}");
    assert!(lines[1].starts_with("hint: "), "{args:?}: {lines:#?}");
    lines
}

#[test]
fn bad_arguments_are_one_error_line_and_one_hint() {
    let lines = refused(&["check", "--bogus"]);
    assert!(lines[0].contains("--bogus"), "{lines:#?}");
    assert_eq!(lines[1], "hint: run 'jobsweep check --help' for usage");
    let lines = refused(&["check", "--hours", "abc"]);
    assert!(
        lines[0].contains("--hours") && lines[0].contains("abc"),
        "{lines:#?}"
    );
    let lines = refused(&["snapshot", "prune", "--keep-last", "x"]);
    assert!(lines[0].contains("--keep-last"), "{lines:#?}");
    assert!(
        lines[1].contains("jobsweep snapshot prune --help"),
        "{lines:#?}"
    );
    // A missing value names the option on the same line.
    let lines = refused(&["diff", "--journal"]);
    assert!(lines[0].contains("--journal"), "{lines:#?}");
}

#[test]
fn the_hint_follows_the_language_chosen_before_parsing() {
    let korean = |lines: &[String]| lines[1].chars().any(|c| ('가'..='힣').contains(&c));
    assert!(korean(&refused(&["--lang", "ko", "check", "--bogus"])));
    assert!(korean(&refused(&["check", "--bogus", "--lang=ko"])));
    let out = bare_cmd()
        .env("JOBSWEEP_LANG", "ko")
        .args(["check", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(korean(
        &stderr(&out).lines().map(String::from).collect::<Vec<_>>()
    ));
    let out = bare_cmd()
        .env("LANG", "ko_KR.UTF-8")
        .args(["check", "--hours", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<String> = stderr(&out).lines().map(String::from).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(korean(&lines), "{lines:#?}");
    assert!(!korean(&refused(&["--lang", "en", "check", "--bogus"])));
}

#[test]
fn help_and_version_are_unchanged() {
    let out = bare_cmd().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("jobsweep "));
    assert!(out.stderr.is_empty());
    let out = bare_cmd().args(["check", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: jobsweep check"), "{text}");
    assert!(text.contains("--hours"), "{text}");
    assert!(out.stderr.is_empty());
}
