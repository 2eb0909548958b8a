//! Progress bars on stderr for long work (snapshot, verify, restore). They exist only when
//! `Settings::progress` says so (stderr is a terminal, no `-q`, no `--json`); otherwise a hidden
//! bar is returned, so callers never branch.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::settings::Settings;

/// Where long work shows itself (design.md §7.1): bars (stderr is a terminal, no `-q`, no
/// `--json`) and `-v` notes. The snapshot pipeline takes this, not the whole `Settings`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sink {
    pub bars: bool,
    pub verbose: bool,
}

impl From<&Settings> for Sink {
    fn from(settings: &Settings) -> Sink {
        Sink {
            bars: settings.progress,
            verbose: settings.verbose,
        }
    }
}

impl Sink {
    /// A bar counting bytes, `len` in total.
    pub fn bytes(self, len: u64, label: &str) -> ProgressBar {
        bytes_if(self.bars, len, label)
    }

    /// What an engine is told about showing its work.
    pub fn engine(self, label: String) -> crate::engine::Progress {
        crate::engine::Progress {
            bars: self.bars,
            verbose: self.verbose,
            label,
        }
    }
}

/// A bar counting bytes, `len` in total.
pub fn bytes(settings: &Settings, len: u64, label: &str) -> ProgressBar {
    bytes_if(settings.progress, len, label)
}

/// [`bytes`] for code that is only told whether to show bars (the engines).
pub fn bytes_if(show: bool, len: u64, label: &str) -> ProgressBar {
    make(
        show,
        len,
        label,
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    )
}

/// A bar counting table rows, `len` in total (an estimate when the engine has no better).
pub fn rows_if(show: bool, len: u64, label: &str) -> ProgressBar {
    make(show, len, label, "{msg} [{bar:30}] {pos}/{len} {eta}")
}

/// A bar counting database pages (the total is set once the engine knows it).
pub fn pages_if(show: bool, label: &str) -> ProgressBar {
    make(show, 0, label, "{msg} [{bar:30}] {percent}% {eta}")
}

/// What the engines are told about showing their work (design.md §7.1): bars and `-v` notes.
pub fn engine(settings: &Settings, label: String) -> crate::engine::Progress {
    crate::engine::Progress {
        bars: settings.progress,
        verbose: settings.verbose,
        label,
    }
}

/// The three steps of taking a snapshot, as progress bars name them.
#[derive(Debug, Clone, Copy)]
pub enum SnapshotStep {
    Copy,
    Compress,
    Verify,
}

/// The label of one step of taking a snapshot: which snapshot (its reason and id), which step of
/// the three.
pub fn snapshot_step(reason: &str, id: &str, step: SnapshotStep) -> String {
    let (n, what) = match step {
        SnapshotStep::Copy => (1, crate::t!("복사", "copying")),
        SnapshotStep::Compress => (2, crate::t!("압축", "compressing")),
        SnapshotStep::Verify => (3, crate::t!("검증", "verifying")),
    };
    crate::t!(
        "{reason} 스냅샷 {id} ({n}/3 {what})",
        "{reason} snapshot {id} ({n}/3 {what})"
    )
}

/// The label of checking a snapshot while it is decompressed (restore, diff).
pub fn snapshot_check(id: &str) -> String {
    crate::t!(
        "스냅샷 {id} 확인 (체크섬, 압축 해제)",
        "snapshot {id}: checking (checksums, decompressing)"
    )
}

fn make(show: bool, len: u64, label: &str, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_string());
    bar
}
