//! The human output of the replica commands (`snapshot push`, `pull`, `list --remote`).

use crate::cmd::replica::{PullReport, PushReport, RemoteListReport};
use crate::render::snapshot::human_bytes;
use crate::render::{esc, Style};
use crate::t;

pub fn render_push(r: &PushReport, out: &mut String, style: Style) {
    for id in &r.uploaded {
        out.push_str(&format!(
            "{:<10} {}\n",
            t!("올림", "uploaded"),
            style.bold(id)
        ));
    }
    for id in &r.present {
        out.push_str(&format!("{:<10} {id}\n", t!("이미 있음", "present")));
    }
    out.push_str(&t!(
        "복제본 {}: 스냅샷 {}개, 저널 {}개, {}{}\n",
        "replica {}: {} snapshot(s), {} journal(s), {}{}\n",
        esc(&r.replica),
        r.uploaded.len(),
        r.journals.len(),
        human_bytes(r.bytes),
        encryption_note(r.encrypted)
    ));
}

pub fn render_pull(r: &PullReport, out: &mut String, style: Style) {
    out.push_str(&if r.downloaded {
        t!(
            "스냅샷 {}: 복제본 {} 에서 {} 받음, 검증됨\n",
            "snapshot {}: {} downloaded from the replica {}, verified\n",
            style.bold(&r.id),
            human_bytes(r.bytes),
            esc(&r.replica)
        )
    } else {
        t!(
            "스냅샷 {}: 저장소에 이미 있고 검증됨 (받지 않음)\n",
            "snapshot {}: already in the store and verified (nothing downloaded)\n",
            style.bold(&r.id)
        )
    });
}

pub fn render_list(r: &RemoteListReport, out: &mut String, style: Style) {
    out.push_str(&t!(
        "저장소 {} / 복제본 {}{}\n",
        "store {} / replica {}{}\n",
        esc(&r.store),
        esc(&r.replica),
        encryption_note(r.encrypted)
    ));
    let mut rows = vec![vec![
        "ID".to_string(),
        t!("로컬", "LOCAL"),
        t!("복제본", "REPLICA"),
        t!("크기", "SIZE"),
    ]];
    for s in &r.snapshots {
        let remote = if s.remote {
            t!("있음", "yes")
        } else if s.remote_incomplete {
            style.warn(&t!("미완성", "incomplete"))
        } else {
            "-".to_string()
        };
        rows.push(vec![
            esc(&s.id).into_owned(),
            if s.local {
                t!("있음", "yes")
            } else {
                "-".into()
            },
            remote,
            if s.remote_bytes > 0 {
                human_bytes(s.remote_bytes)
            } else {
                String::new()
            },
        ]);
    }
    out.push_str(&crate::output::columns(&rows, &[false, false, false, true]));
}

fn encryption_note(encrypted: bool) -> String {
    if encrypted {
        t!(" (age 암호화)", " (age-encrypted)")
    } else {
        t!(" (평문)", " (plaintext)")
    }
}

/// The context of a replica's snapshot that fails verification once downloaded.
/// The notice after a command copied its new files to the replica.
pub fn copied(url: &str, objects: usize, encrypted: bool) -> String {
    let plain = if encrypted {
        String::new()
    } else {
        t!(" (평문)", " (plaintext)")
    };
    t!(
        "복제본 {url}: {objects}개 복사됨{plain}",
        "replica {url}: {objects} object(s) copied{plain}"
    )
}

pub fn from_replica(id: &str, replica: &str) -> String {
    t!(
        "복제본 {replica}의 스냅샷 {id}",
        "snapshot {id} from the replica {replica}"
    )
}

/// The notice of `restore --snapshot` when the snapshot came from the replica.
pub fn fetched(id: &str, replica: &str, local_err: &anyhow::Error) -> String {
    t!(
        "스냅샷 {id} 을(를) 복제본 {replica} 에서 가져와 검증했습니다 (로컬 사본: {local_err:#})",
        "snapshot {id} came from the replica {replica}, verified (local copy: {local_err:#})"
    )
}

/// Why a journal only the replica holds protects like a damaged one (prune).
pub fn replica_copy_unreadable(why: &str) -> String {
    t!(
        "복제본의 사본을 읽을 수 없습니다: {why}",
        "its copy on the replica cannot be read: {why}"
    )
}

/// The context of a replica prune that failed after the local one.
pub fn replica_prune_undone() -> String {
    t!(
        "로컬 정리는 끝났지만 복제본은 정리하지 못했습니다",
        "the local prune is done, the replica's is not"
    )
}
