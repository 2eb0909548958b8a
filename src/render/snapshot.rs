//! The human report of `snapshot` (create, list, verify, prune).

use chrono::{DateTime, Utc};

use crate::cmd::snapshot::SnapshotReport;
use crate::render::{esc, Render, Style};
use crate::snapshot::{Keep, PruneWarning};
use crate::t;

/// `1.20 MiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

fn local_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn keep_text(k: Keep) -> String {
    match k {
        Keep::KeepLast => t!("최근 N개", "keep-last"),
        Keep::KeepWithin => t!("기간 안", "keep-within"),
        Keep::NewestApply => t!(
            "되돌리지 않은 가장 최근 apply 의 스냅샷",
            "the newest un-reverted apply's snapshot"
        ),
        Keep::RecentApply => t!(
            "--protect-applies 기간 안의 되돌리지 않은 apply",
            "un-reverted apply younger than --protect-applies"
        ),
        Keep::UncertainJournal => t!(
            "결과가 불확실한 이전 저널 (--force 로도 지우지 않음)",
            "an older journal whose outcome is uncertain (kept even with --force)"
        ),
        Keep::UnresolvedJournal => t!(
            "미해결 저널 (--force 로도 지우지 않음)",
            "an unresolved journal (kept even with --force)"
        ),
        Keep::DamagedJournal => t!(
            "손상된 저널이 가리킬 수 있음",
            "a damaged journal may refer to it"
        ),
        Keep::JournalsUnreadable => t!("저널을 읽을 수 없음", "journals unreadable"),
        Keep::FutureCreatedAt => t!(
            "생성 시각이 미래 (시계 확인 필요)",
            "created in the future: check the clock"
        ),
    }
}

impl Render for SnapshotReport {
    fn render(&self, out: &mut String, style: Style) {
        match self {
            SnapshotReport::Created(m) => {
                let ratio = if m.image_bytes > 0 {
                    100.0 * m.file_bytes as f64 / m.image_bytes as f64
                } else {
                    0.0
                };
                out.push_str(&t!(
                    "스냅샷 {}: {} → {} ({ratio:.1}%), 검증됨\n",
                    "snapshot {}: {} → {} ({ratio:.1}%), verified\n",
                    style.bold(&m.id),
                    human_bytes(m.image_bytes),
                    human_bytes(m.file_bytes)
                ));
            }
            SnapshotReport::List(r) => {
                if r.snapshots.is_empty() && r.problems.is_empty() {
                    out.push_str(&t!(
                        "스냅샷이 없습니다 ({})\n",
                        "no snapshots ({})\n",
                        esc(&r.store)
                    ));
                    return;
                }
                let mut rows = vec![vec![
                    "ID".to_string(),
                    t!("생성 시각", "CREATED"),
                    t!("이유", "REASON"),
                    t!("이미지", "IMAGE"),
                    t!("파일", "FILE"),
                    t!("메모", "NOTE"),
                ]];
                for m in &r.snapshots {
                    rows.push(vec![
                        esc(&m.id).into_owned(),
                        local_time(&m.created_at),
                        m.reason.as_str().to_string(),
                        human_bytes(m.image_bytes),
                        human_bytes(m.file_bytes),
                        esc(m.note.as_deref().unwrap_or("")).into_owned(),
                    ]);
                }
                // Width-aware: the Korean header is double-width.
                out.push_str(&crate::output::columns(
                    &rows,
                    &[false, false, false, true, true, false],
                ));
                for p in &r.problems {
                    out.push_str(&style.bad(&format!("{}  {}\n", esc(&p.id), esc(&p.message))));
                }
            }
            SnapshotReport::Verify(r) => {
                for item in &r.snapshots {
                    match &item.error {
                        None if !item.manifest_protected => out.push_str(&format!(
                            "{} {} {}\n",
                            esc(&item.id),
                            style.good("ok"),
                            style.warn(&t!(
                                "(매니페스트 보호 없음: 체크섬 도입 전에 쓰인 매니페스트)",
                                "(manifest unprotected: written before manifests had a checksum)"
                            ))
                        )),
                        None => out.push_str(&format!("{} {}\n", esc(&item.id), style.good("ok"))),
                        Some(e) => out.push_str(&format!(
                            "{} {}: {}\n",
                            esc(&item.id),
                            style.bad(&t!("실패", "FAILED")),
                            esc(e)
                        )),
                    }
                }
            }
            SnapshotReport::Push(r) => crate::render::replica::render_push(r, out, style),
            SnapshotReport::Pull(r) => crate::render::replica::render_pull(r, out, style),
            SnapshotReport::Remote(r) => crate::render::replica::render_list(r, out, style),
            SnapshotReport::Prune(r) => {
                for w in &r.warnings {
                    out.push_str(&style.warn(&format!("{}\n", prune_warning(w))));
                }
                for id in &r.deleted {
                    let verb = if r.dry_run {
                        t!("지울 예정", "would delete")
                    } else {
                        t!("지움", "deleted")
                    };
                    out.push_str(&format!("{verb:<14} {id}\n"));
                }
                for id in &r.deleted_journals {
                    let verb = if r.dry_run {
                        t!("지울 예정", "would delete")
                    } else {
                        t!("지움", "deleted")
                    };
                    out.push_str(&format!("{verb:<14} {} {id}\n", t!("저널", "journal")));
                }
                for k in &r.kept {
                    let why = k
                        .reasons
                        .iter()
                        .map(|r| keep_text(*r))
                        .collect::<Vec<_>>()
                        .join(", ");
                    out.push_str(&format!("{:<14} {} ({why})\n", t!("남김", "kept"), k.id));
                }
                let freed = human_bytes(r.freed_bytes);
                let n = r.deleted.len();
                out.push_str(&if r.dry_run {
                    t!(
                        "{n}개를 지우면 {freed} 가 비워집니다 (--dry-run: 아무것도 지우지 않음)\n",
                        "{n} would be deleted, freeing {freed} (--dry-run: nothing deleted)\n"
                    )
                } else {
                    t!(
                        "{n}개를 지워 {freed} 를 비웠습니다\n",
                        "{n} deleted, {freed} freed\n"
                    )
                });
                if let Some(remote) = r.replica.as_ref().filter(|r| r.error.is_some()) {
                    out.push_str(&t!(
                        "복제본 {}: 정리하지 못함 (아래 오류)\n",
                        "replica {}: not pruned (error below)\n",
                        esc(&remote.replica)
                    ));
                } else if let Some(remote) = &r.replica {
                    let n = remote.deleted.len();
                    let journals = remote.deleted_journals.len();
                    let freed = human_bytes(remote.freed_bytes);
                    let replica = esc(&remote.replica);
                    out.push_str(&t!(
                        "복제본 {replica}: 스냅샷 {n}개, 저널 {journals}개 {}, {freed}\n",
                        "replica {replica}: {n} snapshot(s) and {journals} journal(s) {}, {freed}\n",
                        if r.dry_run {
                            t!("지울 예정", "would be deleted")
                        } else {
                            t!("지움", "deleted")
                        }
                    ));
                }
            }
        }
    }
}

/// One warning of `snapshot prune`.
pub fn prune_warning(w: &PruneWarning) -> String {
    let kept_before = |journal: &str, why: &str| {
        t!(
            "저널 {journal}: {why} — 이 저널이 가리킬 수 있는 스냅샷(그보다 먼저 만든 것)을 모두 남깁니다",
            "journal {journal}: {why} — every snapshot it could refer to (made before it) is kept"
        )
    };
    match w {
        PruneWarning::DamagedJournal { journal, error } => kept_before(journal, error),
        PruneWarning::UnreadableReplicaJournal { journal, error } => kept_before(
            journal,
            &crate::render::replica::replica_copy_unreadable(error),
        ),
        PruneWarning::JournalsUnreadable { error } => t!(
            "저널을 읽을 수 없어 모든 스냅샷을 남깁니다: {error}",
            "the journals cannot be read, so every snapshot is kept: {error}"
        ),
        PruneWarning::FutureSnapshots => crate::render::labels::future_snapshots(),
    }
}
