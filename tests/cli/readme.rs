//! The README and the man pages agree with the tool and with `contrib/` (issue 11.11).

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect(path)
}

#[test]
fn the_readme_has_one_cron_recipe_one_host_path_and_an_install_on_crons_path() {
    let readme = read("README.md");
    // The one recipe is contrib/'s: no inline cron line of its own.
    let cron_lines: Vec<&str> = readme
        .lines()
        .filter(|l| l.trim_start().starts_with("15 4 * * 1"))
        .collect();
    assert!(cron_lines.is_empty(), "{cron_lines:?}");
    assert!(readme.contains("contrib/cron/jobsweep.cron"));
    // One host path convention, the one contrib/ uses.
    let cron = read("contrib/cron/jobsweep.cron");
    assert!(cron.contains("JOBSWEEP_DB=/srv/stt-web-ui/data/database.db"));
    assert!(!readme.contains("stt_engine/web_ui"), "a second host path");
    // The install lands on the cron file's PATH.
    let path_line = cron.lines().find(|l| l.starts_with("PATH=")).unwrap();
    assert!(path_line.contains("/usr/local/bin"));
    assert!(readme.contains("sudo install -m 0755 target/release/jobsweep /usr/local/bin/"));
    assert!(!readme.contains("builds a release binary into ~/.cargo/bin"));
    // The prune of the recipe is the README's, with --protect-applies.
    let weekly = read("contrib/jobsweep-weekly");
    assert!(weekly.contains("--protect-applies \"$PROTECT_APPLIES\""));
    assert!(readme.contains("--keep-last 8 --keep-within 30d --protect-applies 30d"));
    // The first command's output is described, and "the guide" is named.
    assert!(readme.contains("📋 Summary: 7 job(s) would change"));
    assert!(readme.contains("cleanup-guide.ko.md"));
}

#[test]
fn the_restore_man_page_does_not_promise_that_exit_5_changed_nothing() {
    let page = read("man/jobsweep-restore.1");
    assert!(
        !page.contains("hint: line; the database and the store are left as they were."),
        "{page}"
    );
    assert!(page.contains("exit 5 (the rows without conflicts were set back)"));
}
