//! Progress bars on stderr for long work (snapshot, verify, restore). They exist only when
//! `Settings::progress` says so (stderr is a terminal, no `-q`, no `--json`); otherwise a hidden
//! bar is returned, so callers never branch.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::settings::Settings;

/// A bar counting bytes, `len` in total.
pub fn bytes(settings: &Settings, len: u64, label: &str) -> ProgressBar {
    make(
        settings,
        len,
        label,
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    )
}

/// A bar counting database pages (the total is set once SQLite knows it).
pub fn pages(settings: &Settings, label: &str) -> ProgressBar {
    make(settings, 0, label, "{msg} [{bar:30}] {percent}% {eta}")
}

/// The label of one step of taking a snapshot: which snapshot (its reason and id), which step of
/// the three (copy, compress, verify).
pub fn snapshot_step(reason: &str, id: &str, step: u8, what: &str) -> String {
    crate::t!(
        "{reason} 스냅샷 {id} ({step}/3 {what})",
        "{reason} snapshot {id} ({step}/3 {what})"
    )
}

fn make(settings: &Settings, len: u64, label: &str, template: &str) -> ProgressBar {
    if !settings.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_string());
    bar
}
