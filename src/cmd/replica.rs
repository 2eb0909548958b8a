//! The replica's own commands (design.md §9): `snapshot push [ID|--all]`, `snapshot pull
//! ID|latest`, `snapshot list --remote`, `snapshot verify --remote [ID|--all]`, the replica
//! side of `snapshot prune`, and `restore --snapshot` falling back to the replica. Automatic
//! copies after each local write happen in the store (`store::replica::after_*`).

use std::collections::HashSet;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{fail, Exit, Failure};
use crate::settings::Settings;
use crate::snapshot::{self, Manifest};
use crate::store::{self, RemoteSnapshot, Replica, Store};
use crate::t;

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
    settings.replica()?.ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            t!("복제본이 설정되지 않았습니다", "no replica is set"),
        )
        .hint(t!(
            "--replica s3://BUCKET/PREFIX 또는 JOBSWEEP_REPLICA",
            "pass --replica s3://BUCKET/PREFIX or set JOBSWEEP_REPLICA"
        ))
        .into()
    })
}

/// The id a remote name (`latest`, id, unique prefix) means, among complete remote snapshots.
fn resolve_remote(remote: &[RemoteSnapshot], wanted: &str) -> Result<String> {
    let items: Vec<(String, DateTime<Utc>)> = remote
        .iter()
        .filter(|r| r.complete)
        .map(|r| (r.id.clone(), store::time_of_id(&r.id).unwrap_or_default()))
        .collect();
    store::resolve_id(&items, wanted, &t!("복제본의 스냅샷", "replica snapshot"))
}

pub fn push(settings: &Settings, id: Option<&str>, all: bool) -> Result<SnapshotReport> {
    let replica = replica(settings)?;
    let store =
        Store::existing(&settings.store_dir()?).ok_or(super::error::CommandError::NoSnapshots)?;
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
        return Err(e.context(t!(
            "복제본 {}의 스냅샷 {id}",
            "snapshot {id} from the replica {}",
            replica.location()
        )));
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
            return Err(fail(
                Exit::Usage,
                t!(
                    "복제본에 스냅샷이 없습니다",
                    "there is no snapshot on the replica"
                ),
            ));
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
            Err(fail(
                Exit::Integrity,
                t!(
                    "매니페스트가 없습니다 (중단된 업로드: snapshot push 로 완성)",
                    "no manifest (an interrupted upload: snapshot push completes it)"
                ),
            ))
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
/// a replica is set, the replica's copy pulled into the store and verified (design.md §9).
pub fn or_from_replica(
    store: &Store,
    wanted: &str,
    local: Result<Manifest>,
    settings: &Settings,
) -> Result<Manifest> {
    let Some(replica) = store::replica::active() else {
        return local;
    };
    let err = match local {
        Ok(m) => return Ok(m),
        Err(err) => err,
    };
    let Ok(id) = replica
        .snapshots()
        .and_then(|remote| resolve_remote(&remote, wanted))
    else {
        return Err(err);
    };
    pull_verified(replica, store, &id, settings)?;
    crate::output::notice(&t!(
        "스냅샷 {id} 을(를) 복제본 {} 에서 가져왔습니다 (로컬 사본: {err:#})",
        "snapshot {id} came from the replica {} (local copy: {err:#})",
        replica.location()
    ));
    snapshot::find(store, &id)
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

/// Prunes the replica by the rules the local prune used (the same protection of snapshots an
/// un-reverted apply needs), from the object names alone: no identity needed.
pub fn prune(
    keep: impl Fn(&[Manifest]) -> Vec<(usize, Vec<snapshot::Keep>)>,
    dry_run: bool,
) -> Result<Option<RemotePrune>> {
    let Some(replica) = store::replica::active() else {
        return Ok(None);
    };
    let mut remote = replica.snapshots()?;
    remote.sort_by(|a, b| b.id.cmp(&a.id));
    let stand_ins: Vec<Manifest> = remote.iter().map(|r| stand_in(&r.id)).collect();
    let mut report = RemotePrune {
        replica: replica.location(),
        deleted: vec![],
        freed_bytes: 0,
    };
    for (i, reasons) in keep(&stand_ins) {
        if reasons.is_empty() {
            if !dry_run {
                replica.delete_snapshot(&remote[i].id)?;
            }
            report.deleted.push(remote[i].id.clone());
            report.freed_bytes += remote[i].bytes;
        }
    }
    Ok(Some(report))
}

/// What prune did on the replica.
#[derive(Debug, Serialize)]
pub struct RemotePrune {
    pub replica: String,
    pub deleted: Vec<String>,
    pub freed_bytes: u64,
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
