//! Every command speaks Korean and English alike (the same numbers in both), errors included,
//! and colours its output only when allowed (`--color`, `NO_COLOR`, a terminal).

use crate::common::*;

/// The runs of ASCII digits in `text`, sorted: two texts that say the same numbers in different
/// words give the same list.
fn numbers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// `text` without what differs between two otherwise equal runs: the temp directory and the
/// store ids (`YYYYMMDDTHHMMSSZ-xxxxxxxx`, made from the real clock and random bits).
fn scrub(text: &str, env: &TestEnv) -> String {
    let text = text.replace(&env.dir.path().display().to_string(), "<dir>");
    let bytes = text.as_bytes();
    let is_id = |at: usize| -> bool {
        let Some(w) = bytes.get(at..at + 25) else {
            return false;
        };
        w[..8].iter().all(u8::is_ascii_digit)
            && w[8] == b'T'
            && w[9..15].iter().all(u8::is_ascii_digit)
            && &w[15..17] == b"Z-"
            && w[17..].iter().all(|b| b.is_ascii_hexdigit())
    };
    // Times of the real clock (store ids' and manifests' created_at), unlike the fixture's.
    let is_clock_time = |at: usize| -> bool {
        text.get(at..at + 19)
            .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok())
            .is_some_and(|t| (chrono::Utc::now().naive_utc() - t).num_hours().abs() < 24)
    };
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        if is_clock_time(i) {
            out.push_str("<now>");
            i += 19;
        } else if is_id(i) {
            out.push_str("<id>");
            i += 25;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Commands whose output has no words to translate (`<id> ok`); every other command must print
/// Hangul in Korean.
const WORDLESS: &[&[&str]] = &[&["snapshot", "verify"]];

/// Runs `args` with `--lang ko` and `--lang en` on the guide fixture made ready by `prepare`,
/// and asserts that both outputs carry the same numbers (and that Korean is really Korean).
/// Read-only commands run twice on one copy; commands that write get a copy each.
fn same_numbers_in_both_languages(args: &[&str], prepare: fn(&TestEnv), writes: bool) {
    let shared = TestEnv::with("current", &["guide"]);
    prepare(&shared);
    let mut outputs = Vec::new();
    for lang in ["ko", "en"] {
        let own;
        let env = if writes {
            own = TestEnv::with("current", &["guide"]);
            prepare(&own);
            &own
        } else {
            &shared
        };
        let out = env
            .cmd()
            .args(["--lang", lang])
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{lang} {args:?}: {stderr}\n{stdout}");
        outputs.push((lang, scrub(&stdout, env), scrub(&stderr, env)));
    }
    let (_, ko, ko_err) = &outputs[0];
    let (_, en, en_err) = &outputs[1];
    if WORDLESS.contains(&args) {
        // `<id> ok`: nothing to translate, so both languages print exactly the same.
        assert_eq!(ko, en, "{args:?}: stdout");
        assert_eq!(numbers(ko_err), numbers(en_err), "{args:?}: stderr");
        return;
    }
    assert!(
        !numbers(en).is_empty(),
        "{args:?} printed no numbers:\n{en}"
    );
    assert!(
        ko.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
        "{args:?}: the Korean output has no Hangul:\n{ko}"
    );
    assert!(
        !en.chars()
            .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c) && !is_fixture_text(en, c)),
        "{args:?}: the English output has Korean words:\n{en}"
    );
    assert_eq!(
        numbers(ko),
        numbers(en),
        "{args:?}: different numbers\n--- ko ---\n{ko}\n--- en ---\n{en}"
    );
    assert_eq!(
        numbers(ko_err),
        numbers(en_err),
        "{args:?}: stderr\n{ko_err}\n{en_err}"
    );
}

/// The guide fixture's folder names are Korean data (`영업_녹취`), not messages.
fn is_fixture_text(en: &str, c: char) -> bool {
    en.lines()
        .filter(|l| l.contains(c))
        .all(|l| l.contains("/data/uploads/"))
}

fn nothing(_: &TestEnv) {}

fn applied(env: &TestEnv) {
    env.cmd().arg("apply").assert().success();
}

fn snapshotted(env: &TestEnv) {
    env.cmd()
        .args(["snapshot", "--note", "n1"])
        .assert()
        .success();
}

#[test]
fn check_says_the_same_numbers_in_korean_and_english() {
    same_numbers_in_both_languages(&["check"], nothing, false);
    same_numbers_in_both_languages(&["check", "--stats"], nothing, false);
    same_numbers_in_both_languages(
        &["check", "--by", "created", "--hours", "30"],
        nothing,
        false,
    );
    same_numbers_in_both_languages(&["-v", "check", "--job", "job_abc123def"], nothing, false);
}

#[test]
fn apply_says_the_same_numbers_in_korean_and_english() {
    same_numbers_in_both_languages(&["apply"], nothing, true);
    // Nothing left to do the second time.
    same_numbers_in_both_languages(&["apply"], applied, true);
}

#[test]
fn snapshot_says_the_same_numbers_in_korean_and_english() {
    same_numbers_in_both_languages(&["snapshot", "--note", "n1"], nothing, true);
    same_numbers_in_both_languages(&["snapshot", "list"], snapshotted, false);
    same_numbers_in_both_languages(&["snapshot", "verify"], snapshotted, false);
    same_numbers_in_both_languages(
        &["snapshot", "prune", "--keep-last", "1", "--dry-run"],
        applied,
        false,
    );
}

#[test]
fn diff_log_and_restore_say_the_same_numbers_in_korean_and_english() {
    same_numbers_in_both_languages(&["diff"], applied, false);
    same_numbers_in_both_languages(&["diff", "--journal", "latest"], applied, false);
    same_numbers_in_both_languages(&["log"], applied, false);
    same_numbers_in_both_languages(&["restore", "--journal", "latest"], applied, true);
    same_numbers_in_both_languages(&["restore", "--snapshot", "latest"], applied, true);
}

#[test]
fn errors_are_one_line_in_either_language() {
    let env = TestEnv::empty();
    for (lang, word) in [("ko", "데이터베이스"), ("en", "database")] {
        let out = bare_cmd()
            .args(["--lang", lang, "--db"])
            .arg(&env.db)
            .arg("check")
            .output()
            .unwrap();
        assert!(String::from_utf8(out.stderr.clone()).is_ok(), "{lang}");
        let line = assert_error(&out, 3);
        assert!(line.contains(word), "{lang}: {line}");
    }
}

const ESC: &str = "\x1b[";

fn check_output(env: &TestEnv, args: &[&str], no_color: Option<&str>) -> String {
    let mut cmd = env.cmd();
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    let out = cmd.args(args).arg("check").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn color_always_paints_check() {
    let env = TestEnv::with("current", &["guide"]);
    let out = check_output(&env, &["--color", "always"], None);
    assert!(out.contains(ESC), "{out}");
    // An explicit --color always wins over NO_COLOR.
    assert!(check_output(&env, &["--color", "always"], Some("1")).contains(ESC));
}

#[test]
fn no_color_without_a_terminal_or_when_refused() {
    let env = TestEnv::with("current", &["guide"]);
    // The tests' stdout is a pipe, not a terminal: `auto` means no colour.
    for (args, no_color) in [
        (&["--color", "never"][..], None),
        (&["--color", "auto"][..], None),
        (&[][..], None),
        (&["--color", "auto"][..], Some("1")),
        (&["--color", "never"][..], Some("1")),
    ] {
        let out = check_output(&env, args, no_color);
        assert!(
            !out.contains(ESC),
            "{args:?} NO_COLOR={no_color:?}: {out:?}"
        );
        assert!(out.contains("1257"), "the report itself: {out}");
    }
}

#[test]
fn json_is_never_painted() {
    let env = TestEnv::with("current", &["guide"]);
    let out = check_output(&env, &["--color", "always", "--json"], None);
    assert!(!out.contains(ESC), "{out}");
    serde_json::from_str::<serde_json::Value>(&out).expect("JSON");
}

#[test]
fn numbers_and_scrub_helpers_work() {
    assert_eq!(numbers("a 12 b 3개 (4/15)"), ["12", "15", "3", "4"]);
    let env = TestEnv::empty();
    assert_eq!(
        scrub("id 20260225T004515Z-1a2b3c4d, 12", &env),
        "id <id>, 12"
    );
}
