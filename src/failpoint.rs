//! Test-only fail points: `JOBSWEEP_FAILPOINT=<name>[,<name>...]` makes a build with the
//! `failpoints` feature (the tests turn it on through a dev-dependency on this crate) abort at that step of
//! `apply` or `restore --journal`, as a crash or `kill -9` would, so the tests can prove that
//! every step leaves a recoverable state. A `pause-<name>` point instead waits (up to a minute)
//! for the file `$JOBSWEEP_FAILPOINT_DIR/resume`, after creating `$JOBSWEEP_FAILPOINT_DIR/reached`,
//! so a test can act while the command stands at that step. A few points are conditions rather
//! than crashes (`active`): e.g. `fail-journal-mark` makes marking a journal after `COMMIT` fail
//! as a full or read-only store would. Builds without the feature (`cargo build`,
//! `cargo install`) compile all of it away.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Whether the environment names this point (`failpoints` builds only): for points that make a
/// step fail with an error instead of aborting.
pub fn active(name: &str) -> bool {
    cfg!(feature = "failpoints")
        && std::env::var_os("JOBSWEEP_FAILPOINT")
            .is_some_and(|w| w.to_string_lossy().split(',').any(|w| w == name))
}

/// Aborts or pauses here when the environment names this point (`failpoints` builds only).
pub fn hit(name: &str) {
    if !cfg!(feature = "failpoints") {
        return;
    }
    let Some(wanted) = std::env::var_os("JOBSWEEP_FAILPOINT") else {
        return;
    };
    // Several points may be named, comma-separated (e.g. a pause, then a crash).
    if !wanted.to_string_lossy().split(',').any(|w| w == name) {
        return;
    }
    if !name.starts_with("pause-") {
        // No destructors, no flush: the closest thing to a crash a process can do to itself.
        std::process::abort();
    }
    let dir = std::env::var_os("JOBSWEEP_FAILPOINT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let _ = std::fs::write(dir.join("reached"), b"");
    let resume = dir.join("resume");
    let start = Instant::now();
    while !resume.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
}
