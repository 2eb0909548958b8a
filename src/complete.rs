//! Dynamic shell completion of snapshot and journal ids, read from the store when the shell asks.

use clap_complete::engine::CompletionCandidate;
use std::ffi::OsStr;

/// Ids of the snapshots in the store named by the environment (`JOBSWEEP_STORE`, `JOBSWEEP_DB`
/// or the default database locations).
pub fn snapshot_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    ids_in("snapshots", ".json", current)
}

pub fn journal_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    ids_in("journals", ".json", current)
}

fn ids_in(sub: &str, suffix: &str, current: &OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let Some(store) = store_from_env() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(store.join(sub)) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(suffix))
                .map(str::to_string)
        })
        .filter(|id| !id.starts_with('.') && id.starts_with(prefix.as_ref()))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut out: Vec<CompletionCandidate> = ids.into_iter().map(CompletionCandidate::new).collect();
    if "latest".starts_with(prefix.as_ref()) {
        out.push(CompletionCandidate::new("latest"));
    }
    out
}

fn store_from_env() -> Option<std::path::PathBuf> {
    let args = crate::cli::GlobalArgs {
        db: std::env::var_os("JOBSWEEP_DB").map(Into::into),
        store: std::env::var_os("JOBSWEEP_STORE").map(Into::into),
        lang: None,
        json: false,
        color: crate::cli::ColorChoice::Never,
        quiet: true,
        verbose: false,
        busy_timeout: 0,
        now: None,
        db_timezone: "utc".into(),
        wait: false,
    };
    crate::settings::Settings::resolve(&args)
        .ok()?
        .store_dir()
        .ok()
}
