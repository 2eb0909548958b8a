//! Shell completion. The shells' scripts (`COMPLETE=bash jobsweep`, or the committed files in
//! `completions/`) call the binary back on every Tab; clap_complete's engine answers from the clap
//! definition, and the functions here add the snapshot and journal ids found in the store, so an
//! operator restoring in a hurry never copies an id by hand.
//!
//! The store is the one the command line being completed would use: `--store`/`--db` typed on
//! that line, else `JOBSWEEP_STORE`/`JOBSWEEP_DB`, else the default database locations.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Shells, Zsh};

/// The environment variable that switches the binary into completion mode.
pub const VAR: &str = "COMPLETE";

/// The shells the engine serves: clap_complete's own, except that the zsh script also works
/// when it is autoloaded from `$fpath` (see [`ZshAutoload`]).
pub const fn shells() -> Shells<'static> {
    Shells(&[&Bash, &Elvish, &Fish, &Powershell, &ZshAutoload])
}

/// The registration script for `shell` (bash, zsh, fish, elvish, powershell) as it is committed
/// in `completions/`: it calls `jobsweep` from `PATH`, so it stays valid wherever the binary is
/// installed.
pub fn registration(shell: &str) -> std::io::Result<Vec<u8>> {
    let shells = shells();
    let completer = shells
        .completer(shell)
        .ok_or_else(|| std::io::Error::other(format!("unknown shell `{shell}`")))?;
    let mut buf = Vec::new();
    completer.write_registration(VAR, "jobsweep", "jobsweep", "jobsweep", &mut buf)?;
    Ok(buf)
}

/// clap_complete's zsh script registers its function with `compdef` when it is *sourced*. When
/// installed as `_jobsweep` in a `$fpath` directory, compinit autoloads the file as the
/// completion function itself, so the first Tab would only register and complete nothing. The
/// appended bridge completes right away in that case and does nothing when sourced.
pub struct ZshAutoload;

impl EnvCompleter for ZshAutoload {
    fn name(&self) -> &'static str {
        Zsh.name()
    }

    fn is(&self, name: &str) -> bool {
        Zsh.is(name)
    }

    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        Zsh.write_registration(var, name, bin, completer, buf)?;
        let function = name.replace('-', "_");
        writeln!(
            buf,
            "\n# Autoloaded from $fpath as _{bin}: complete on the first Tab too.\n\
             if [[ \"${{funcstack[1]}}\" == \"_{bin}\" ]]; then\n    \
             _clap_dynamic_completer_{function} \"$@\"\nfi"
        )
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        Zsh.write_complete(cmd, args, current_dir, buf)
    }
}

/// Ids of the snapshots in the store, newest first, then `latest`.
pub fn snapshot_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut out = ids_in("snapshots", current, snapshot_help);
    push_word(&mut out, "latest", current);
    out
}

/// Snapshot ids, `latest` and `live` (the sides `diff` compares).
pub fn snapshot_ids_or_live(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut out = snapshot_ids(current);
    push_word(&mut out, "live", current);
    out
}

/// Ids of the journals in the store, newest first, then `latest`.
pub fn journal_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut out = ids_in("journals", current, journal_help);
    push_word(&mut out, "latest", current);
    out
}

fn push_word(out: &mut Vec<CompletionCandidate>, word: &str, current: &OsStr) {
    if word.starts_with(current.to_string_lossy().as_ref()) {
        out.push(CompletionCandidate::new(word));
    }
}

/// The `<id>.json` files of one store directory whose id starts with what was typed. Ids begin
/// with their UTC time, so sorting them backwards puts the newest first.
fn ids_in(
    sub: &str,
    current: &OsStr,
    help: fn(&serde_json::Value) -> String,
) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let Some(dir) = store_dir().map(|store| store.join(sub)) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_string)
        })
        .filter(|id| !id.starts_with('.') && id.starts_with(prefix.as_ref()))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.into_iter()
        .map(|id| {
            // The description is shown by zsh, fish and PowerShell; a file that cannot be read
            // still completes, just without one.
            let text = std::fs::read(dir.join(format!("{id}.json")))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .map(|doc| help(&doc))
                .filter(|text| !text.is_empty());
            CompletionCandidate::new(id).help(text.map(Into::into))
        })
        .collect()
}

/// "2026-02-25 00:45:15 pre-apply: note" from a snapshot manifest.
fn snapshot_help(doc: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(at) = doc["created_at"].as_str() {
        parts.push(short_time(at));
    }
    if let Some(reason) = doc["reason"].as_str() {
        parts.push(reason.to_string());
    }
    let mut text = parts.join(" ");
    if let Some(note) = doc["note"].as_str().filter(|n| !n.is_empty()) {
        text.push_str(": ");
        text.push_str(note);
    }
    text
}

/// "2026-02-25 00:45:15 apply committed, 7 changes" from a journal.
fn journal_help(doc: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(at) = doc["created_at"].as_str() {
        parts.push(short_time(at));
    }
    for key in ["kind", "state"] {
        if let Some(value) = doc[key].as_str() {
            parts.push(value.to_string());
        }
    }
    let mut text = parts.join(" ");
    if let Some(changes) = doc["changes"].as_array() {
        text.push_str(&format!(", {} changes", changes.len()));
    }
    if doc["reverted_by"].as_str().is_some() {
        text.push_str(", reverted");
    }
    text
}

/// `2026-02-25T00:45:15.123456Z` -> `2026-02-25 00:45:15`.
fn short_time(at: &str) -> String {
    at.get(..19).unwrap_or(at).replace('T', " ")
}

/// The store of the command line being completed.
fn store_dir() -> Option<PathBuf> {
    let (db, store) = locations_in_words(std::env::args_os());
    let args = crate::settings::Options {
        db: db.or_else(|| std::env::var_os("JOBSWEEP_DB").map(Into::into)),
        store: store.or_else(|| std::env::var_os("JOBSWEEP_STORE").map(Into::into)),
        color: crate::settings::Color::Never,
        quiet: true,
        busy_timeout_ms: 0,
        ..Default::default()
    };
    crate::settings::Settings::resolve(&args)
        .ok()?
        .store_dir()
        .ok()
}

/// `--db` and `--store` (last one wins) among the words the shell passed after `--`, with a
/// leading `~/` expanded as the shell would have done when running the command.
fn locations_in_words(
    args: impl IntoIterator<Item = OsString>,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let words: Vec<String> = args
        .into_iter()
        .skip_while(|a| a != "--")
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (mut db, mut store) = (None, None);
    for (i, word) in words.iter().enumerate() {
        for (flag, slot) in [("--db", &mut db), ("--store", &mut store)] {
            let value = match word.strip_prefix(flag) {
                Some("") => words.get(i + 1).cloned(),
                Some(rest) => rest.strip_prefix('=').map(str::to_string),
                None => None,
            };
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                *slot = Some(expand_home(&value));
            }
        }
    }
    (db, store)
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn typed_db_and_store_are_found_after_the_escape() {
        let (db, store) = locations_in_words(words(&[
            "/bin/jobsweep",
            "--",
            "jobsweep",
            "--db",
            "/data/a.db",
            "--store=/s",
            "restore",
            "--snapshot",
            "",
        ]));
        assert_eq!(db, Some(PathBuf::from("/data/a.db")));
        assert_eq!(store, Some(PathBuf::from("/s")));
    }

    #[test]
    fn words_before_the_escape_and_other_flags_are_ignored() {
        let (db, store) = locations_in_words(words(&[
            "--db",
            "/no.db",
            "--",
            "jobsweep",
            "--dbx",
            "--db-timezone",
            "utc",
            "--db",
        ]));
        assert_eq!((db, store), (None, None));
    }

    #[test]
    fn help_texts_summarise_manifests_and_journals() {
        let manifest = serde_json::json!({
            "created_at": "2026-02-25T00:45:15.123456Z", "reason": "pre-apply", "note": "weekly"
        });
        assert_eq!(
            snapshot_help(&manifest),
            "2026-02-25 00:45:15 pre-apply: weekly"
        );
        let journal = serde_json::json!({
            "created_at": "2026-02-25T00:45:15Z", "kind": "apply", "state": "committed",
            "changes": [1, 2, 3], "reverted_by": "x"
        });
        assert_eq!(
            journal_help(&journal),
            "2026-02-25 00:45:15 apply committed, 3 changes, reverted"
        );
    }
}
