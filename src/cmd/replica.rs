//! The replica's own commands (design.md §9): `snapshot push [ID|--all]`, `snapshot pull
//! ID|latest`, `snapshot list --remote`, `snapshot verify --remote [ID|--all]`, the replica
//! side of `snapshot prune`, and `restore --snapshot` falling back to the replica. Automatic
//! copies after each local write happen in the store (`store::replica::after_*`).

use std::collections::HashSet;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Exit;
use crate::render::replica as text;
use crate::settings::Settings;
use crate::snapshot::{self, Manifest};
use crate::store::{self, IdKind, RemoteSnapshot, Replica, Store};

use super::error::CommandError;

use super::snapshot::{SnapshotReport, VerifyItem, VerifyReport};

#[derive(Debug, Serialize)]
pub struct PushReport {
    pub replica: String,
    pub encrypted: bool,
    /// Snapshot ids uploaded (data, then manifest).
    pub uploaded: Vec<String>,
    /// Snapshot ids the replica already held complete.
    pub present: Vec<String>,
    /// Journal ids uploaded (every journal with `--all`: they change state).
    pub journals: Vec<String>,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct PullReport {
    pub replica: String,
    pub id: String,
    /// False when the store already held a good copy (nothing downloaded).
    pub downloaded: bool,
    pub bytes: u64,
    pub verified: bool,
}

#[derive(Debug, Serialize)]
pub struct RemoteListReport {
    pub store: String,
    pub replica: String,
    pub encrypted: bool,
    /// Every snapshot of either side, newest first.
    pub snapshots: Vec<RemoteItem>,
}

#[derive(Debug, Serialize)]
pub struct RemoteItem {
    pub id: String,
    pub local: bool,
    /// On the replica with its manifest (an upload that broke off has data only).
    pub remote: bool,
    /// Data on the replica without a manifest: an interrupted upload (`push` completes it).
    pub remote_incomplete: bool,
    pub remote_bytes: u64,
}

/// The replica, or exit 2 when none is set.
fn replica(settings: &Settings) -> Result<Replica> {
    Ok(settings.replica()?.ok_or(CommandError::NoReplica)?)
}

/// The id a remote name (`latest`, id, unique prefix) means, among complete remote snapshots.
fn resolve_remote(remote: &[RemoteSnapshot], wanted: &str) -> Result<String> {
    let items: Vec<(String, DateTime<Utc>)> = remote
        .iter()
        .filter(|r| r.complete)
        .map(|r| (r.id.clone(), store::time_of_id(&r.id).unwrap_or_default()))
        .collect();
    Ok(store::resolve_id(&items, wanted, IdKind::ReplicaSnapshot)?)
}

pub fn push(settings: &Settings, id: Option<&str>, all: bool) -> Result<SnapshotReport> {
    let replica = replica(settings)?;
    let store = Store::existing(&settings.store_dir()?).ok_or(CommandError::NoSnapshots)?;
    let _lock = store.lock(settings.wait)?;
    let manifests = if all {
        snapshot::list(&store)?
    } else {
        vec![snapshot::find(&store, id.unwrap_or("latest"))?]
    };
    let remote = replica.snapshots()?;
    let mut report = PushReport {
        replica: replica.location(),
        encrypted: replica.encrypted(),
        uploaded: vec![],
        present: vec![],
        journals: vec![],
        bytes: 0,
    };
    for m in manifests.iter().rev() {
        if remote.iter().any(|r| r.id == m.id && r.complete) {
            report.present.push(m.id.clone());
            continue;
        }
        report.bytes += replica.push_snapshot(&store, &m.id)?;
        report.uploaded.push(m.id.clone());
    }
    if all {
        for entry in crate::journal::list(&store)? {
            report.bytes += replica.push_journal(&store, &entry.id)?;
            report.journals.push(entry.id);
        }
    }
    Ok(SnapshotReport::Push(report))
}

pub fn pull(settings: &Settings, wanted: &str) -> Result<SnapshotReport> {
    let replica = replica(settings)?;
    let store = Store::open(&settings.store_dir()?)?;
    let _lock = store.lock(settings.wait)?;
    let id = resolve_remote(&replica.snapshots()?, wanted)?;
    let mut report = PullReport {
        replica: replica.location(),
        id: id.clone(),
        downloaded: false,
        bytes: 0,
        verified: false,
    };
    // A good local copy stays; a missing or damaged one is replaced.
    let local_ok = snapshot::find(&store, &id)
        .and_then(|m| snapshot::verify(&store, &m, settings))
        .is_ok();
    if !local_ok {
        report.bytes = pull_verified(&replica, &store, &id, settings)?;
        report.downloaded = true;
    }
    report.verified = true;
    Ok(SnapshotReport::Pull(report))
}

/// Downloads a snapshot into the store and verifies it like a local one; a copy that fails is
/// deleted again (exit 4), so a damaged download never sits in the store.
fn pull_verified(replica: &Replica, store: &Store, id: &str, settings: &Settings) -> Result<u64> {
    let bytes = replica
        .pull_snapshot(store, id)
        .inspect_err(|_| forget_local(store, id))?;
    let checked = snapshot::find(store, id).and_then(|m| snapshot::verify(store, &m, settings));
    if let Err(e) = checked {
        forget_local(store, id);
        return Err(e.context(text::from_replica(id, &replica.location())));
    }
    Ok(bytes)
}

/// Removes a downloaded copy from the local store only (`snapshot::delete` would delete the
/// replica's copy too).
fn forget_local(store: &Store, id: &str) {
    let _ = std::fs::remove_file(store.manifest_path(id));
    let _ = std::fs::remove_file(store.data_path(id));
}

pub fn list(settings: &Settings) -> Result<(SnapshotReport, Result<()>)> {
    let replica = replica(settings)?;
    let dir = settings.store_dir()?;
    let local: Vec<Manifest> = match Store::existing(&dir) {
        Some(store) => snapshot::list(&store)?,
        None => vec![],
    };
    let remote = replica.snapshots()?;
    let mut ids: Vec<String> = local
        .iter()
        .map(|m| m.id.clone())
        .chain(remote.iter().map(|r| r.id.clone()))
        .collect();
    ids.sort_by(|a, b| b.cmp(a));
    ids.dedup();
    let snapshots = ids
        .into_iter()
        .map(|id| {
            let r = remote.iter().find(|r| r.id == id);
            RemoteItem {
                local: local.iter().any(|m| m.id == id),
                remote: r.is_some_and(|r| r.complete),
                remote_incomplete: r.is_some_and(|r| !r.complete),
                remote_bytes: r.map_or(0, |r| r.bytes),
                id,
            }
        })
        .collect();
    Ok((
        SnapshotReport::Remote(RemoteListReport {
            store: dir.display().to_string(),
            replica: replica.location(),
            encrypted: replica.encrypted(),
            snapshots,
        }),
        Ok(()),
    ))
}

/// Downloads into a temp store and verifies there: the replica's copy is judged by its bytes,
/// never by the remote's metadata or the local copy.
pub fn verify(
    settings: &Settings,
    id: Option<&str>,
    all: bool,
) -> Result<(SnapshotReport, Result<()>)> {
    let replica = replica(settings)?;
    let remote = replica.snapshots()?;
    let ids = if all {
        let ids: Vec<String> = remote.iter().rev().map(|r| r.id.clone()).collect();
        if ids.is_empty() {
            return Err(CommandError::NoRemoteSnapshots.into());
        }
        ids
    } else {
        vec![resolve_remote(&remote, id.unwrap_or("latest"))?]
    };
    let scratch = tempfile::tempdir().map_err(|e| store::write_error(&std::env::temp_dir(), e))?;
    let temp = Store::open(scratch.path())?;
    let mut items = Vec::new();
    for id in ids {
        let complete = remote.iter().any(|r| r.id == id && r.complete);
        let result = if complete {
            pull_verified(&replica, &temp, &id, settings)
        } else {
            Err(CommandError::IncompleteUpload.into())
        };
        let protected = snapshot::find(&temp, &id).is_ok_and(|m| m.is_protected());
        forget_local(&temp, &id);
        let result = match (result, all) {
            // One snapshot: its own error and exit code (4 damaged, 8 unreachable).
            (Err(e), false) => return Err(e),
            (result, _) => result,
        };
        items.push(VerifyItem {
            id,
            ok: result.is_ok(),
            error: result.err().map(|e| format!("{e:#}")),
            manifest_protected: protected,
        });
    }
    let after = super::snapshot::verified(&items, true);
    Ok((
        SnapshotReport::Verify(VerifyReport { snapshots: items }),
        after,
    ))
}

/// `restore --snapshot`: the local snapshot, or, when it is missing or its manifest damaged and
/// a replica is set, the replica's copy, fetched and verified (design.md §9). The second value
/// names the replica when the snapshot came from it.
pub fn or_from_replica(
    store: &Store,
    wanted: &str,
    local: Result<Manifest>,
    settings: &Settings,
) -> Result<(Manifest, Option<String>)> {
    let Some(replica) = store::replica::active() else {
        return local.map(|m| (m, None));
    };
    let err = match local {
        Ok(m) => return Ok((m, None)),
        Err(err) => err,
    };
    let Ok(id) = replica
        .snapshots()
        .and_then(|remote| resolve_remote(&remote, wanted))
    else {
        return Err(err);
    };
    let m = fetch(replica, store, &id, settings, &err)?;
    Ok((m, Some(replica.location())))
}

/// `restore --snapshot`'s verified image of `m`. When the local data file turns out missing or
/// damaged (its manifest good) and the replica holds the snapshot, the replica's copy is
/// fetched, verified, put in place of the local one, and the image made from it; the second
/// value then names the replica (design.md §9).
pub fn extract_or_fetch(
    store: &Store,
    m: &Manifest,
    dir: &std::path::Path,
    prefix: &str,
    settings: &Settings,
) -> Result<(store::Scratch, Option<String>)> {
    let local = snapshot::extract_to(store, m, dir, prefix, settings);
    let Some(replica) = store::replica::active() else {
        return local.map(|image| (image, None));
    };
    let err = match local {
        Ok(image) => return Ok((image, None)),
        Err(err) => err,
    };
    let damaged =
        crate::error::classify(&err).0 == Exit::Integrity || !store.data_path(&m.id).exists();
    let on_replica = replica
        .snapshots()
        .is_ok_and(|remote| remote.iter().any(|r| r.id == m.id && r.complete));
    if !damaged || !on_replica {
        return Err(err);
    }
    let fetched = fetch(replica, store, &m.id, settings, &err)?;
    let image = snapshot::extract_to(store, &fetched, dir, prefix, settings)?;
    Ok((image, Some(replica.location())))
}

/// Downloads snapshot `id` into a scratch directory inside the store, verifies it there like a
/// local one (checksums, decode, integrity check), and only then puts it in place of the local
/// files, data first and manifest last: a damaged or tampered download changes nothing (exit 4).
fn fetch(
    replica: &Replica,
    store: &Store,
    id: &str,
    settings: &Settings,
    local_err: &anyhow::Error,
) -> Result<Manifest> {
    let scratch = tempfile::Builder::new()
        .prefix(store::TEMP_PREFIX)
        .tempdir_in(store.dir())
        .map_err(|e| store::write_error(store.dir(), e))?;
    let temp = Store::open(scratch.path())?;
    replica.pull_snapshot(&temp, id)?;
    let m = snapshot::find(&temp, id)
        .and_then(|m| snapshot::verify(&temp, &m, settings).map(|()| m))
        .map_err(|e| e.context(text::from_replica(id, &replica.location())))?;
    for (from, to) in [
        (temp.data_path(id), store.data_path(id)),
        (temp.manifest_path(id), store.manifest_path(id)),
    ] {
        std::fs::rename(&from, &to).map_err(|e| store::write_error(&to, e))?;
    }
    store::sync_dir(&store.snapshots_dir())?;
    crate::render::notice(&text::fetched(id, &replica.location(), local_err));
    Ok(m)
}

/// The journal and complete snapshot ids the replica holds, for `log` (design.md §9); `None`
/// without a replica, or when it cannot be listed (a notice says why: `log` still works).
pub fn replicated_ids() -> Option<(HashSet<String>, HashSet<String>)> {
    let replica = store::replica::active()?;
    let listed = replica.journals().and_then(|journals| {
        let snapshots = replica.snapshots()?;
        Ok((
            journals.into_iter().collect(),
            snapshots
                .into_iter()
                .filter(|s| s.complete)
                .map(|s| s.id)
                .collect(),
        ))
    });
    match listed {
        Ok(ids) => Some(ids),
        Err(e) => {
            crate::output::notice(&format!("{e:#}"));
            None
        }
    }
}

/// The replica's side of a prune, surveyed before anything is deleted (design.md §9): its
/// snapshots and journals, and what every journal protects, the replica's own journals
/// included (a new host's store may hold none of them). The same protection then serves both
/// sides.
pub struct RemoteSurvey {
    replica: &'static Replica,
    /// Newest first.
    snapshots: Vec<RemoteSnapshot>,
    journals: Vec<String>,
    /// The local journals and the replica-only ones side by side.
    merged: Store,
    _scratch: tempfile::TempDir,
    pub protection: snapshot::Protection,
}

/// `None` without a replica. An error (exit 8 when unreachable) leaves the local prune to go
/// on by the local journals alone.
pub fn survey(
    store: &Store,
    now: DateTime<Utc>,
    protect_applies: chrono::Duration,
) -> Option<Result<RemoteSurvey>> {
    let replica = store::replica::active()?;
    Some(survey_of(replica, store, now, protect_applies))
}

fn survey_of(
    replica: &'static Replica,
    store: &Store,
    now: DateTime<Utc>,
    protect_applies: chrono::Duration,
) -> Result<RemoteSurvey> {
    let mut snapshots = replica.snapshots()?;
    snapshots.sort_by(|a, b| b.id.cmp(&a.id));
    let journals = replica.journals()?;
    let scratch = tempfile::tempdir().map_err(|e| store::write_error(&std::env::temp_dir(), e))?;
    let merged = Store::open(scratch.path())?;
    let local = crate::journal::list(store)?;
    for entry in &local {
        let to = merged.journal_path(&entry.id);
        std::fs::copy(&entry.path, &to).map_err(|e| store::write_error(&to, e))?;
    }
    let mut unreadable = Vec::new();
    for id in journals
        .iter()
        .filter(|id| !local.iter().any(|e| &e.id == *id))
    {
        if let Err(e) = replica.pull_journal(&merged, id) {
            // Unreachable: nothing on the replica can be pruned.
            if crate::error::classify(&e).0 == Exit::Replica {
                return Err(e);
            }
            // Undecryptable (no identity on this host) or damaged: it protects like a damaged
            // journal, every snapshot made before it.
            unreadable.push((id.clone(), format!("{e:#}")));
        }
    }
    let mut protection = snapshot::protection(&merged, now, protect_applies);
    for (id, why) in unreadable {
        protection.keep_before(&id, why, true);
    }
    Ok(RemoteSurvey {
        replica,
        snapshots,
        journals,
        merged,
        _scratch: scratch,
        protection,
    })
}

/// Prunes the replica by the rules the local prune used, from the object names (no identity
/// needed for snapshots), and deletes the journals that go with the snapshots deleted there.
/// The local prune is done whatever happens here: a failure comes back second, after the
/// report (exit 8 when the replica cannot be reached).
pub fn prune(
    survey: Option<Result<RemoteSurvey>>,
    keep: impl Fn(&[Manifest]) -> Vec<(usize, Vec<snapshot::Keep>)>,
    local_ids: &[String],
    dry_run: bool,
) -> (Option<RemotePrune>, Result<()>) {
    let (Some(survey), Some(replica)) = (survey, store::replica::active()) else {
        return (None, Ok(()));
    };
    let mut report = RemotePrune {
        replica: replica.location(),
        deleted: vec![],
        deleted_journals: vec![],
        freed_bytes: 0,
        error: None,
    };
    let done = survey.and_then(|s| prune_on(&s, keep, local_ids, dry_run, &mut report));
    let after = done.map_err(|e| {
        report.error = Some(format!("{e:#}"));
        e.context(text::replica_prune_undone())
    });
    (Some(report), after)
}

fn prune_on(
    survey: &RemoteSurvey,
    keep: impl Fn(&[Manifest]) -> Vec<(usize, Vec<snapshot::Keep>)>,
    local_ids: &[String],
    dry_run: bool,
    report: &mut RemotePrune,
) -> Result<()> {
    let replica = survey.replica;
    // Only complete copies count for the rules; an upload that broke off goes once the local
    // snapshot that `push` would complete it from is gone.
    let (complete, broken): (Vec<&RemoteSnapshot>, Vec<&RemoteSnapshot>) =
        survey.snapshots.iter().partition(|r| r.complete);
    let stand_ins: Vec<Manifest> = complete.iter().map(|r| stand_in(&r.id)).collect();
    let going = keep(&stand_ins)
        .into_iter()
        .filter(|(_, reasons)| reasons.is_empty())
        .map(|(i, _)| complete[i])
        .chain(broken.into_iter().filter(|r| !local_ids.contains(&r.id)));
    for r in going {
        if !dry_run {
            replica.delete_snapshot(&r.id)?;
        }
        report.deleted.push(r.id.clone());
        report.freed_bytes += r.bytes;
    }
    let entries = crate::journal::list(&survey.merged)?;
    for id in snapshot::journals_going(&entries, &report.deleted) {
        if !survey.journals.contains(&id) {
            continue;
        }
        if !dry_run {
            replica.remove(store::Kind::Journals, &format!("{id}.json"))?;
        }
        report.deleted_journals.push(id);
    }
    Ok(())
}

/// What prune did on the replica.
#[derive(Debug, Serialize)]
pub struct RemotePrune {
    pub replica: String,
    /// Snapshot ids deleted (or, with `--dry-run`, that would be).
    pub deleted: Vec<String>,
    /// Journal ids deleted with their snapshots.
    pub deleted_journals: Vec<String>,
    pub freed_bytes: u64,
    /// Why the replica was not (fully) pruned; the local prune stands (exit 8 when unreachable).
    pub error: Option<String>,
}

/// The prune rules read a snapshot's id and creation time only; on the replica both come from
/// the object name (its manifest may be unreadable without the identity).
fn stand_in(id: &str) -> Manifest {
    Manifest {
        id: id.to_string(),
        created_at: store::time_of_id(id).unwrap_or_default(),
        reason: snapshot::Reason::Manual,
        note: None,
        source_path: Default::default(),
        source_path_hex: None,
        page_size: 0,
        page_count: 0,
        image_bytes: 0,
        image_sha256: String::new(),
        file_bytes: 0,
        file_sha256: String::new(),
        zstd_level: 0,
        sqlite_version: String::new(),
        tool_version: String::new(),
        manifest_sha256: None,
        engine: None,
        source_server: None,
        tables: Vec::new(),
    }
}
