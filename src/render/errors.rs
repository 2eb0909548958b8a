//! The text of every typed error (design.md §5): one line, and maybe a hint, made from the data
//! the error carries. `error::classify` picks the exit status; this module only words it.

use crate::cmd::error::{CommandError, Committed};
use crate::engine::{ConnectFailure, EngineError, ServerError, Special, WriteFailure};
use crate::journal::{Damage, JournalError};
use crate::settings::SettingsError;
use crate::snapshot::{ManifestDamage, SnapshotError};
use crate::store::{IdKind, Refusal, StoreError, Undecryptable, UrlProblem, Work};
use crate::t;

/// The one line of a command-layer failure.
pub fn command(e: &CommandError) -> String {
    use CommandError::*;
    match e {
        NoSnapshots => t!("스냅샷이 하나도 없습니다", "there is no snapshot yet"),
        NoReplica => t!("복제본이 설정되지 않았습니다", "no replica is set"),
        NoRemoteSnapshots => t!(
            "복제본에 스냅샷이 없습니다",
            "there is no snapshot on the replica"
        ),
        IncompleteUpload => t!(
            "매니페스트가 없습니다 (중단된 업로드: snapshot push 로 완성)",
            "no manifest (an interrupted upload: snapshot push completes it)"
        ),
        NoSnapshotOf { database, store } => t!(
            "{} 에 {} 의 스냅숏이 없습니다",
            "no snapshot of {} in {}",
            database,
            store.display()
        ),
        NoTargetDir { target, dir } => t!(
            "{target}: 디렉터리 {} 이(가) 없습니다",
            "{target}: directory {} does not exist",
            dir.display()
        ),
        TargetIsDir { target } => t!("{target} 은(는) 디렉터리입니다", "{target} is a directory"),
        TargetExists { target } => t!("{target} 이(가) 이미 있습니다", "{target} already exists"),
        TargetIsLive { target, suffix } => {
            let what = if suffix.is_empty() {
                t!("운영 중인 데이터베이스", "the live database")
            } else {
                t!(
                    "운영 중인 데이터베이스의 {suffix} 파일",
                    "the live database's {suffix} file"
                )
            };
            t!(
                "{target} 은(는) {what}입니다. --to 로 덮어쓸 수 없습니다",
                "{target} is {what}: --to cannot overwrite it"
            )
        }
        TargetInStore { target } => t!(
            "{target} 은(는) 스냅샷 저장소 안에 있습니다. 다른 경로를 지정하세요",
            "{target} is inside the snapshot store: choose another path"
        ),
        SnapshotOfAnother {
            id,
            of,
            live,
            of_schema: Some(theirs),
            live_schema: Some(ours),
        } if of == live && theirs != ours => t!(
            "스냅샷 {id} 은(는) {of} 의 다른 스키마 {theirs} 의 것입니다 (지금 대상: 스키마 {ours})",
            "snapshot {id} is of another schema of {of}, {theirs} (this one is {ours})"
        ),
        SnapshotOfAnother { id, of, live, .. } => t!(
            "스냅샷 {id} 은(는) 다른 데이터베이스 {of} 의 것입니다 (지금 대상: {live})",
            "snapshot {id} is of another database, {of} (this one is {live})"
        ),
        RevertOfRestore { journal, snapshot } => t!(
            "저널 {journal} 은(는) 스냅숏 복원의 기록이라 되돌릴 행이 없습니다. 복원을 취소하려면: jobsweep restore --snapshot {snapshot}",
            "journal {journal} records a snapshot restore and has no rows to revert; to undo that restore: jobsweep restore --snapshot {snapshot}"
        ),
        PruneKeepsNothing => t!(
            "무엇을 남길지 정하세요: --keep-last N 또는 --keep-within 기간",
            "say what to keep: --keep-last N and/or --keep-within DURATION"
        ),
        TooManyChanges { n, max } => t!(
            "{n}개 작업을 바꾸게 되어 --max-changes {max} 을(를) 넘습니다. 아무것도 바꾸지 않았습니다",
            "{n} jobs would change, more than --max-changes {max}; nothing was changed"
        ),
        DamagedSnapshots { ids } => t!(
            "손상된 스냅샷 {}개: {}",
            "{} damaged snapshot(s): {}",
            ids.len(),
            ids.join(", ")
        ),
        FailedVerification {
            total,
            failed,
            replica: true,
        } => t!(
            "복제본의 스냅샷 {}개 중 {}개가 검증에 실패했습니다: {}",
            "{1} of {0} replica snapshots failed verification: {2}",
            total,
            failed.len(),
            failed.join(", ")
        ),
        FailedVerification {
            total,
            failed,
            replica: false,
        } => t!(
            "스냅샷 {}개 중 {}개가 검증에 실패했습니다: {}",
            "{1} of {0} snapshots failed verification: {2}",
            total,
            failed.len(),
            failed.join(", ")
        ),
        CommittedUnmarked {
            what: Committed::Apply,
            journal: id,
            rows: n,
            cause: e,
        } => t!(
            "정리는 커밋되었습니다 (작업 {n}개가 데이터베이스에서 바뀜). 그러나 저널 {id} 을(를) committed 로 표시하지 못했습니다: {e}",
            "the cleanup COMMITTED ({n} job(s) changed in the database), but journal {id} could not be marked committed: {e}"
        ),
        CommittedUnmarked {
            what: Committed::Revert,
            journal: id,
            rows: n,
            cause: e,
        } => t!(
            "되돌리기는 커밋되었습니다 (행 {n}개가 데이터베이스에서 되돌려짐). 그러나 저널 {id} 을(를) committed 로 표시하지 못했습니다: {e}",
            "the revert COMMITTED ({n} row(s) set back in the database), but journal {id} could not be marked committed: {e}"
        ),
        RestoreUnrecorded { snapshot, cause } => t!(
            "스냅샷 {snapshot} 을(를) 복원했지만 그 기록(저널)을 쓰지 못했습니다: {cause}",
            "snapshot {snapshot} WAS restored, but its record (journal) could not be written: {cause}"
        ),
        ExtractionFailed => t!(
            "스냅샷 압축 해제가 실패했습니다",
            "snapshot extraction failed"
        ),
        Injected { point } => t!(
            "기록 실패 주입 ({point})",
            "injected write failure ({point})"
        ),
    }
}

/// The hint of a command-layer failure, if it has one.
pub fn command_hint(e: &CommandError) -> Option<String> {
    use CommandError::*;
    Some(match e {
        NoReplica => t!(
            "--replica s3://BUCKET/PREFIX 또는 JOBSWEEP_REPLICA",
            "pass --replica s3://BUCKET/PREFIX or set JOBSWEEP_REPLICA"
        ),
        TargetExists { .. } => t!(
            "덮어쓰려면 --force 를 붙이세요",
            "pass --force to overwrite it"
        ),
        TargetIsLive { .. } => t!(
            "운영 데이터베이스로 복원하려면 --to 없이 실행하세요",
            "to restore into the live database, run without --to"
        ),
        SnapshotOfAnother { .. } => t!(
            "그래도 덮어쓰려면 --force, 별도 파일로 꺼내려면 --to PATH",
            "pass --force to restore it here anyway, or --to PATH to write a separate file"
        ),
        PruneKeepsNothing => t!(
            "예: jobsweep snapshot prune --keep-last 10 --keep-within 7d",
            "e.g. jobsweep snapshot prune --keep-last 10 --keep-within 7d"
        ),
        TooManyChanges { n, .. } => t!(
            "check 로 대상을 확인하고 시계와 --db-timezone 을 점검한 뒤, 맞다면 --max-changes {n} 으로 다시 실행하세요",
            "review them with check (and the clock and --db-timezone); if right, rerun with --max-changes {n}"
        ),
        CommittedUnmarked { journal: id, .. } => t!(
            "저장소의 공간과 권한을 확인하세요. 다음 jobsweep 실행(apply, snapshot, restore)이 데이터베이스의 결과 기록(jobsweep_outcomes)을 보고 저널 {id} 을(를) committed 로 정리합니다. 되돌리기: jobsweep restore --journal {id}",
            "free space or fix permissions in the store; the next jobsweep run (apply, snapshot, restore) marks journal {id} committed from the database's outcome record (jobsweep_outcomes); to undo: jobsweep restore --journal {id}"
        ),
        _ => return None,
    })
}

/// The one line of options that cannot be used.
pub fn settings(e: &SettingsError) -> String {
    match e {
        SettingsError::BadTimezone { given } => t!(
            "--db-timezone 값 '{given}' 을(를) 알 수 없습니다 (utc, local, +HH:MM)",
            "invalid --db-timezone '{given}': expected utc, local or +HH:MM"
        ),
        SettingsError::BadNow { given } => t!(
            "--now 값 '{given}' 을(를) 읽을 수 없습니다 (RFC 3339 또는 YYYY-MM-DD HH:MM:SS)",
            "invalid --now '{given}': expected RFC 3339 or YYYY-MM-DD HH:MM:SS"
        ),
        SettingsError::EmptyPgSchema => t!(
            "--pg-schema 값이 비어 있습니다",
            "--pg-schema is empty: name a schema"
        ),
        SettingsError::NoDatabase { tried } => {
            let tried = tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            t!(
                "데이터베이스를 찾지 못했습니다 (찾아본 곳: {tried})",
                "no database found (tried {tried})"
            )
        }
    }
}

/// The hint of options that cannot be used, if it has one.
pub fn settings_hint(e: &SettingsError) -> Option<String> {
    match e {
        SettingsError::NoDatabase { .. } => Some(t!(
            "--db 경로 또는 JOBSWEEP_DB 를 지정하세요",
            "pass --db PATH or set JOBSWEEP_DB"
        )),
        _ => None,
    }
}

/// The one line of a store failure.
pub fn store(e: &StoreError) -> String {
    match e {
        StoreError::Missing { dir } => t!(
            "저장소 {} 이(가) 없습니다 (스냅숏도 저널도 없음)",
            "no store at {}: there are no snapshots or journals yet",
            dir.display()
        ),
        StoreError::Read { path, err } => t!(
            "{} 을(를) 읽을 수 없습니다: {err}",
            "cannot read {}: {err}",
            path.display()
        ),
        StoreError::Write { path, err } => t!(
            "{} 에 쓸 수 없습니다: {err}",
            "cannot write {}: {err}",
            path.display()
        ),
        StoreError::Delete { path, err } => t!(
            "{} 을(를) 지울 수 없습니다: {err}",
            "cannot delete {}: {err}",
            path.display()
        ),
        StoreError::CreateDir { path, err } => t!(
            "저장소 디렉터리 {} 을(를) 만들 수 없습니다: {err}",
            "cannot create store directory {}: {err}",
            path.display()
        ),
        StoreError::Inspect { path, err } => t!(
            "저장소 디렉터리 {} 을(를) 확인할 수 없습니다: {err}",
            "cannot inspect the store directory {}: {err}",
            path.display()
        ),
        StoreError::OpenDir { path, err } => t!(
            "저장소 디렉터리 {} 을(를) 열 수 없습니다: {err}",
            "cannot open the store directory {}: {err}",
            path.display()
        ),
        StoreError::LockFile { path, err } => t!(
            "잠금 파일 {} 을(를) 열 수 없습니다: {err}",
            "cannot open the lock file {}: {err}",
            path.display()
        ),
        StoreError::Refused { path, why } => {
            let why = match why {
                Refusal::Symlink => t!("심볼릭 링크입니다", "it is a symbolic link"),
                Refusal::NotRegular => t!("일반 파일이 아닙니다", "it is not a regular file"),
                Refusal::NotDirectory => t!("디렉터리가 아닙니다", "it is not a directory"),
                Refusal::HardLinks => t!(
                    "다른 이름(하드 링크)이 있습니다",
                    "it has other names (hard links)"
                ),
                Refusal::ForeignOwner { owner, me } => t!(
                    "uid {owner} 의 것입니다 (이 사용자 uid {me} 도 root 도 아님)",
                    "it belongs to uid {owner}, neither this user (uid {me}) nor root"
                ),
            };
            t!(
                "{} 을(를) 쓰지 않습니다: {why}",
                "refusing {}: {why}",
                path.display()
            )
        }
        StoreError::Locked { path, holder } => {
            let holder = super::labels::lock_holder(holder.as_deref());
            t!(
                "다른 jobsweep ({holder}) 이(가) 저장소 잠금 {} 을(를) 쥐고 있습니다",
                "another jobsweep ({holder}) holds the store lock {}",
                path.display()
            )
        }
        StoreError::CannotLock { path, err, .. } => t!(
            "저장소 잠금 {} 을(를) 얻지 못했습니다: {err}",
            "cannot take the store lock {}: {err}",
            path.display()
        ),
        StoreError::Json { err } => t!(
            "JSON 직렬화 실패: {err}",
            "serialising JSON: {err}"
        ),
        StoreError::BadReplicaUrl { url, why } => {
            let why = match why {
                UrlProblem::Invalid(e) => e.clone(),
                UrlProblem::NoBucket => t!("버킷 이름이 없습니다", "it names no bucket"),
                UrlProblem::NotLocalPath => t!("로컬 경로가 아닙니다", "it is not a local path"),
                UrlProblem::Scheme(other) => t!(
                    "'{other}' 은(는) 지원하지 않습니다 (s3:// 또는 file:///)",
                    "'{other}' is not supported (s3:// or file:///)"
                ),
            };
            t!(
                "복제본 주소 '{url}' 을(를) 쓸 수 없습니다: {why}",
                "cannot use the replica URL '{url}': {why}"
            )
        }
        StoreError::Replica { location, cause } => {
            t!("복제본 {location}: {cause}", "replica {location}: {cause}")
        }
        StoreError::NoRecipient { url } => t!(
            "복제본 {url}: 암호화 수신자가 없습니다 (스냅샷에는 고객의 통화 내용이 들어 있습니다)",
            "replica {url}: no encryption recipient (snapshots hold customers' call transcripts)"
        ),
        StoreError::RecipientsFile { path, err } => t!(
            "수신자 파일 {} 을(를) 읽을 수 없습니다: {err}",
            "cannot read the recipients file {}: {err}",
            path.display()
        ),
        StoreError::BadRecipient { key, cause } => t!(
            "수신자 '{key}' 은(는) age X25519 공개 키가 아닙니다: {cause}",
            "recipient '{key}' is not an age X25519 public key: {cause}"
        ),
        StoreError::NoIdentity => t!(
            "복제본이 암호화되어 있어 읽으려면 개인 키가 필요합니다",
            "the replica is encrypted: reading it back needs the identity (private key)"
        ),
        StoreError::BadIdentity { path, cause } => t!(
            "개인 키 파일 {} 을(를) 쓸 수 없습니다: {cause}",
            "cannot use the identity file {}: {cause}",
            path.display()
        ),
        StoreError::Encrypt { path, err } => t!(
            "{} 암호화 실패: {err}",
            "encrypting {}: {err}",
            path.display()
        ),
        StoreError::Undecryptable { location, why } => {
            let why = match why {
                Undecryptable::OtherKey => t!(
                    "--identity 의 키로 열리지 않습니다 (다른 키로 암호화됨)",
                    "no key in --identity opens it (encrypted to another key)"
                ),
                Undecryptable::Other(e) => e.clone(),
            };
            t!(
                "복제본의 {location} 을(를) 복호화할 수 없습니다: {why}",
                "cannot decrypt {location} from the replica: {why}"
            )
        }
        StoreError::ThreadFailed {
            work: Work::Encryption,
        } => t!("암호화 스레드가 실패했습니다", "encryption thread failed"),
        StoreError::ThreadFailed {
            work: Work::Download,
        } => t!("다운로드 스레드가 실패했습니다", "download thread failed"),
        StoreError::CopyFailed { n, first, why } => t!(
            "로컬 작업은 끝났지만 복제본에 복사하지 못했습니다 ({n}개, 처음: {first}): {why}",
            "the local work succeeded but its off-host copy failed ({n} object(s), first {first}): {why}"
        ),
        StoreError::NoneYet { kind } => {
            let what = id_kind(*kind);
            t!("{what} 이(가) 하나도 없습니다", "there is no {what} yet")
        }
        StoreError::NoMatch { kind, wanted } => {
            let what = id_kind(*kind);
            t!(
                "'{wanted}' 에 해당하는 {what} 이(가) 없습니다",
                "no {what} matches '{wanted}'"
            )
        }
        StoreError::Ambiguous {
            kind,
            wanted,
            matches,
        } => {
            let what = id_kind(*kind);
            let (n, list) = (matches.len(), matches.join(", "));
            t!(
                "'{wanted}' 은(는) {what} {n}개에 해당합니다: {list}",
                "'{wanted}' matches {n} {what}s: {list}"
            )
        }
    }
}

/// The hint of a store failure, if it has one.
pub fn store_hint(e: &StoreError) -> Option<String> {
    Some(match e {
        StoreError::NoMatch { .. } => t!(
            "목록을 보려면 jobsweep log 또는 jobsweep snapshot list",
            "see jobsweep log or jobsweep snapshot list"
        ),
        StoreError::Refused { .. } => t!(
            "jobsweep 는 저장소에서 링크를 따라가지 않습니다: 그것을 지우거나, 내 것(또는 root 의 것)인 실제 디렉터리를 --store 로 지정하세요",
            "jobsweep never follows links in its store: remove it, or pass a real directory owned by you or root with --store"
        ),
        StoreError::Locked { .. } => t!(
            "끝날 때까지 기다리거나 --wait 를 붙여 다시 실행하세요",
            "let it finish, or run again with --wait"
        ),
        StoreError::NoRecipient { .. } => t!(
            "--replica-recipient age1... (age-keygen 의 공개 키) 를 주거나, 평문 복제를 원하면 --replica-plaintext",
            "pass --replica-recipient age1... (the public key from age-keygen), or --replica-plaintext if plaintext copies are wanted"
        ),
        StoreError::NoIdentity => t!(
            "--identity FILE 또는 JOBSWEEP_IDENTITY (age-keygen 으로 만든 키 파일)",
            "pass --identity FILE or set JOBSWEEP_IDENTITY (the key file made by age-keygen)"
        ),
        StoreError::CopyFailed { .. } => t!(
            "로컬 스냅샷과 저널은 그대로입니다: 복제본이 닿으면 jobsweep snapshot push --all",
            "the local snapshots and journals stand: run jobsweep snapshot push --all once the replica is reachable"
        ),
        _ => return None,
    })
}

/// The noun of an id's kind, for messages about ids.
fn id_kind(kind: IdKind) -> String {
    match kind {
        IdKind::Snapshot => t!("스냅샷", "snapshot"),
        IdKind::Journal => t!("저널", "journal"),
        IdKind::ReplicaSnapshot => t!("복제본의 스냅샷", "replica snapshot"),
    }
}

/// The one line of a journal that cannot be used.
pub fn journal(e: &JournalError) -> String {
    match e {
        JournalError::OtherDatabase { id, theirs, ours } => t!(
            "저널 {id} 은(는) 다른 데이터베이스({theirs})의 것입니다. 현재 데이터베이스: {ours}",
            "journal {id} belongs to another database ({theirs}), not {ours}"
        ),
        JournalError::Unreadable { path, err } => t!(
            "저널 {} 을(를) 읽을 수 없습니다: {err}",
            "cannot read journal {}: {err}",
            path.display()
        ),
        JournalError::Malformed {
            path,
            truncated,
            err,
        } => {
            let what = if *truncated {
                t!("잘렸습니다", "is truncated")
            } else {
                t!("형식이 잘못되었습니다", "is malformed")
            };
            t!(
                "저널 {} 이(가) {what}: {err}",
                "journal {} {what}: {err}",
                path.display()
            )
        }
        JournalError::Damaged { path, damage } => {
            let detail = journal_damage(damage);
            t!(
                "저널 {} 이(가) 손상되었습니다: {detail}",
                "journal {} is damaged: {detail}",
                path.display()
            )
        }
        JournalError::LatestIsDamaged(damaged) => journal(damaged),
        JournalError::NoneToRevert { db } => t!(
            "{db} 에 대해 되돌릴 apply 저널이 없습니다",
            "there is no apply journal of {db} to revert"
        ),
    }
}

fn journal_damage(damage: &Damage) -> String {
    match damage {
        Damage::UnknownFormat(format) => {
            t!("알 수 없는 형식 {:?}", "unknown format {:?}", format)
        }
        Damage::IdIsNotFileName(id) => t!(
            "파일 이름과 id({})가 다릅니다",
            "its id ({}) is not its file name",
            id
        ),
        Damage::ChangesEdited => t!(
            "changes 의 SHA-256 이 맞지 않습니다 (수정됨)",
            "the SHA-256 of its changes does not match (edited)"
        ),
        Damage::JournalEdited => t!(
            "저널 전체의 SHA-256(journal_sha256)이 맞지 않습니다 (수정됨)",
            "the SHA-256 of the journal (journal_sha256) does not match (edited)"
        ),
        Damage::RestoreWithChanges => t!(
            "복원 기록에 변경 목록이 있습니다",
            "a restore record with changes"
        ),
        Damage::ForeignChange { table, column } => t!(
            "허용되지 않은 변경 {}.{}",
            "a change of {}.{}, which jobsweep never makes",
            table,
            column
        ),
    }
}

/// The hint of a journal that cannot be used: its snapshot (which prune keeps, design.md §3.1)
/// is the way back.
pub fn journal_hint(e: &JournalError) -> Option<String> {
    Some(match e {
        JournalError::OtherDatabase { .. } => t!(
            "그 데이터베이스를 --db 로 지정하세요",
            "pass that database with --db"
        ),
        JournalError::Unreadable { .. }
        | JournalError::Malformed { .. }
        | JournalError::Damaged { .. } => t!(
            "이 저널로는 되돌릴 수 없습니다. 스냅숏으로 복원하세요 (restore --snapshot)",
            "this journal cannot be trusted; restore its snapshot instead (restore --snapshot)"
        ),
        JournalError::LatestIsDamaged(_) => t!(
            "되돌릴 저널의 id 를 직접 지정하세요",
            "name the journal to revert by its id"
        ),
        JournalError::NoneToRevert { .. } => return None,
    })
}

/// The first 16 hex digits of a checksum, enough to tell two apart.
fn short(hex: &str) -> &str {
    hex.get(..16).unwrap_or(hex)
}

/// The one line of a snapshot that cannot be made or trusted.
pub fn snapshot(e: &SnapshotError) -> String {
    use SnapshotError::*;
    match e {
        SourceCorrupt { db, what } => t!(
            "{db} 이(가) 손상되었습니다: {what}",
            "{db} is corrupt: {what}"
        ),
        CheckThreadFailed => t!(
            "무결성 검사 스레드가 실패했습니다",
            "integrity check thread failed"
        ),
        VerifyThreadFailed => t!(
            "새 스냅샷 파일을 다시 읽는 스레드가 실패했습니다",
            "the thread reading the new snapshot file back failed"
        ),
        NewImage => t!("새 스냅샷 이미지", "new snapshot image"),
        WritingImage => t!("압축 해제 결과 쓰기", "writing image"),
        Extracted { id, path } => t!("스냅샷 {id} ({})", "snapshot {id} ({})", path.display()),
        ImageFailsCheck { image, what } => t!(
            "{} 의 이미지가 integrity_check 를 통과하지 못했습니다: {what}",
            "the image in {} fails integrity_check: {what}",
            image.display()
        ),
        DataMissing { id, path } => t!(
            "스냅샷 {id} 의 데이터 파일 {} 이(가) 없습니다",
            "snapshot {id}: its data file {} is missing",
            path.display()
        ),
        DataUnreadable { path, err } => t!(
            "{} 을(를) 읽을 수 없습니다: {err}",
            "cannot read {}: {err}",
            path.display()
        ),
        FileSize {
            path,
            manifest,
            actual,
        } => t!(
            "{}: 크기가 다릅니다 (매니페스트 {manifest} 바이트, 파일 {actual} 바이트{})",
            "{}: size differs (manifest says {manifest} bytes, the file has {actual}{})",
            path.display(),
            if actual < manifest {
                t!(", 잘림", ", truncated")
            } else {
                String::new()
            }
        ),
        FileChecksum {
            path,
            manifest,
            actual,
        } => t!(
            "{}: 압축 파일 체크섬이 다릅니다 (매니페스트 {}, 파일 {})",
            "{}: file checksum differs (manifest {}, file {})",
            path.display(),
            short(manifest),
            short(actual)
        ),
        Undecompressable { path, err } => t!(
            "{}: 압축을 풀 수 없습니다: {err}",
            "{}: cannot be decompressed: {err}",
            path.display()
        ),
        ImageSize {
            path,
            manifest,
            actual,
        } => t!(
            "{}: 이미지 크기가 다릅니다 (매니페스트 {manifest} 바이트, 압축 해제 결과 {actual} 바이트)",
            "{}: image size differs (manifest {manifest} bytes, decompressed {actual} bytes)",
            path.display()
        ),
        ImageChecksum {
            path,
            manifest,
            actual,
        } => t!(
            "{}: 이미지 체크섬이 다릅니다 (매니페스트 {}, 압축 해제 결과 {})",
            "{}: image checksum differs (manifest {}, decompressed {})",
            path.display(),
            short(manifest),
            short(actual)
        ),
        ImageDiffers { path, at } => t!(
            "{}: 압축 해제 결과가 이미지와 {at} 바이트부터 다릅니다",
            "{}: decompresses to other bytes than the image's from byte {at}",
            path.display()
        ),
        ManifestUnreadable { path, err } => t!(
            "매니페스트 {} 을(를) 읽을 수 없습니다: {err}",
            "cannot read manifest {}: {err}",
            path.display()
        ),
        ManifestDamaged { path, damage } => {
            let detail = match damage {
                ManifestDamage::Malformed(err) => err.clone(),
                ManifestDamage::Edited => t!(
                    "매니페스트 전체의 SHA-256(manifest_sha256)이 맞지 않습니다 (수정됨)",
                    "the SHA-256 of its fields (manifest_sha256) does not match (edited)"
                ),
                ManifestDamage::PathNotHex => t!(
                    "source_path_hex 가 16진수가 아닙니다",
                    "source_path_hex is not hex"
                ),
            };
            t!(
                "매니페스트 {} 이(가) 손상되었습니다: {detail}",
                "manifest {} is damaged: {detail}",
                path.display()
            )
        }
        ManifestIdDiffers { name, id } => {
            t!("{name} 의 id 가 {id} 입니다", "{name} holds the id {id}")
        }
        ManifestMissing { id } => t!(
            "매니페스트 {id}.json 이(가) 없습니다",
            "manifest {id}.json is missing"
        ),
        Unlisted { id, problem } => t!("스냅샷 {id}: {problem}", "snapshot {id}: {problem}"),
    }
}

/// The one line of a database failure.
pub fn engine(e: &EngineError) -> String {
    use EngineError::*;
    match e {
        NotFound { db, .. } => t!(
            "데이터베이스 파일이 없습니다: {db}",
            "database not found: {db}"
        ),
        Unreadable { db, err } => t!(
            "{db} 을(를) 읽을 수 없습니다: {err}",
            "cannot read {db}: {err}"
        ),
        Empty { db } => t!(
            "{db} 은(는) 빈 파일입니다 (SQLite 데이터베이스가 아님)",
            "{db} is an empty file, not an SQLite database"
        ),
        NotADatabase { db } => t!(
            "{db} 은(는) SQLite 데이터베이스가 아닙니다",
            "{db} is not an SQLite database"
        ),
        Directory { db } => t!(
            "{db} 은(는) 디렉터리입니다. 데이터베이스 파일을 지정하세요",
            "{db} is a directory, not a database file"
        ),
        NotRegular { db, kind } => {
            let kind = match kind {
                Special::Fifo => t!("FIFO(이름 있는 파이프)", "a FIFO"),
                Special::Socket => t!("소켓", "a socket"),
                Special::Device => t!("장치 파일", "a device"),
                Special::Other => t!("특수 파일", "a special file"),
            };
            t!(
                "{db} 은(는) {kind}이며 일반 파일이 아닙니다. 데이터베이스 파일을 지정하세요",
                "{db} is {kind}, not a regular database file"
            )
        }
        ReadOnly { db, beside: true } => t!(
            "{db} 에 쓸 수 없습니다 (읽기 전용)",
            "{db} is read-only: cannot write to it or beside it"
        ),
        ReadOnly { db, beside: false } => t!(
            "{db} 에 쓸 수 없습니다 (읽기 전용)",
            "{db} is read-only"
        ),
        NoTable { db, table } => t!(
            "{db} 에 {table} 테이블이 없습니다",
            "{db} has no {table} table"
        ),
        NoColumn { table, column } => t!(
            "{table} 테이블에 {column} 열이 없습니다",
            "table {table} has no column {column}"
        ),
        NoVariant => t!(
            "analysis_results 테이블에 status 열(현재 스키마)도 stt_text 열(이전 스키마)도 없습니다",
            "table analysis_results has neither a status column (current schema) nor stt_text (legacy schema)"
        ),
        Corrupt { db, what } => t!(
            "{db} 이(가) 손상되었습니다: {what}",
            "{db} is corrupt: {what}"
        ),
        Truncated {
            db,
            len,
            pages,
            page_size,
        } => t!(
            "{db} 이(가) 잘렸습니다: 파일은 {len} 바이트인데 헤더는 {pages}×{page_size} 바이트라고 합니다",
            "{db} is truncated: the file has {len} bytes but its header says {pages} pages of {page_size} bytes"
        ),
        HotJournalReadOnly { db } => t!(
            "{db} 에 중단된 쓰기가 남긴 핫 저널(-journal)이 있어 롤백해야 읽을 수 있는데, 이 사용자는 쓸 수 없습니다 (읽기 전용)",
            "{db} has a hot journal left by a crashed writer, which must be rolled back before the file can be read, and this user cannot write to it (read-only)"
        ),
        Locked { db } => t!(
            "{db} 이(가) 잠겨 있습니다: 다른 프로그램이 대기 시간보다 오래 잠금을 쥐고 있습니다",
            "{db} is locked: another program held its lock past the busy timeout"
        ),
        CannotOpen { db, err } => t!(
            "{db} 을(를) 열 수 없습니다: {err}",
            "cannot open {db}: {err}"
        ),
        CannotWrite { file, why } => match why {
            WriteFailure::DiskFull => t!(
                "{file} 에 쓸 수 없습니다: 디스크가 가득 찼습니다 (데이터베이스는 그대로입니다)",
                "cannot write {file}: the disk is full (the database is unchanged)"
            ),
            WriteFailure::Io(e) => t!(
                "{file} 에 쓸 수 없습니다: 입출력 오류 ({e})",
                "cannot write {file}: I/O error ({e})"
            ),
            WriteFailure::Driver(e) => t!(
                "{file} 에 쓸 수 없습니다: {e}",
                "cannot write {file}: {e}"
            ),
        },
        PageSizeUnchanged { image, page_size } => t!(
            "{image} 의 페이지 크기를 {page_size} 로 바꾸지 못했습니다",
            "cannot give {image} the page size {page_size}"
        ),
        PageSizeDiffers { image } => t!(
            "{image} 의 페이지 크기가 운영 데이터베이스와 다릅니다",
            "the image {image} has another page size than the live database"
        ),
        Driver { db, driver, err } => t!(
            "{db}: {driver} 오류: {err}",
            "{db}: {driver} error: {err}"
        ),
    }
}

/// The hint of a database failure, if it has one.
pub fn engine_hint(e: &EngineError) -> Option<String> {
    use EngineError::*;
    Some(match e {
        NotFound { cwd: Some(cwd), .. } => t!(
            "경로를 확인하세요: 상대 경로는 현재 디렉터리 {} 기준입니다 (--db 또는 JOBSWEEP_DB)",
            "check the path: a relative path (--db or JOBSWEEP_DB) is taken from the current directory, {}",
            cwd.display()
        ),
        NotFound { cwd: None, .. } => t!(
            "경로를 확인하세요 (--db 또는 JOBSWEEP_DB): 볼륨이 마운트되어 있습니까?",
            "check the path given with --db or JOBSWEEP_DB: is its volume mounted?"
        ),
        NoTable {
            table: "analysis_jobs",
            ..
        } => t!(
            "웹 앱의 database.db 가 맞는지 확인하세요",
            "is this the web app's database.db?"
        ),
        HotJournalReadOnly { .. } => t!(
            "롤백에는 쓰기 권한이 필요합니다: 앱의 사용자로(또는 데이터베이스 파일과 디렉터리에 쓰기 권한을 가진 사용자로) 한 번 실행하세요. 앱의 다음 연결도 같은 롤백을 합니다",
            "rolling it back needs write access: run once as the app's user (or with write permission on the database file and its directory); the app's next connection does the same roll-back"
        ),
        Locked { .. } => t!(
            "잠시 후 다시 실행하거나 --busy-timeout 을 늘리세요",
            "retry later or raise --busy-timeout"
        ),
        _ => return None,
    })
}

/// The one line of a database server's failure. The URL is always the shown one, without its
/// password; the server's own message is carried as `reason`.
pub fn server(e: &ServerError) -> String {
    use ServerError::*;
    match e {
        NotAUrl => t!(
            "PostgreSQL URL 이 아닙니다: postgresql://... 형식이어야 합니다",
            "not a PostgreSQL URL: expected postgresql://..."
        ),
        BadSslMode {
            value,
            from_env: false,
        } => t!(
            "sslmode 값이 잘못되었습니다: {value} (disable, allow, prefer, require, verify-ca, verify-full)",
            "bad sslmode: {value} (disable, allow, prefer, require, verify-ca, verify-full)"
        ),
        BadSslMode {
            value,
            from_env: true,
        } => t!(
            "PGSSLMODE 값이 잘못되었습니다: {value}",
            "bad PGSSLMODE: {value}"
        ),
        BadUrl { err } => t!(
            "PostgreSQL URL 을 읽을 수 없습니다: {err}",
            "cannot read the PostgreSQL URL: {err}"
        ),
        BadPort { port } => t!(
            "PGPORT 가 포트 번호가 아닙니다: {port}",
            "PGPORT is not a port number: {port}"
        ),
        RootCertUnreadable { path, err } => t!(
            "sslrootcert {} 을(를) 읽을 수 없습니다: {err}",
            "cannot read sslrootcert {}: {err}",
            path.display()
        ),
        RootCertNotPem { path, err } => t!(
            "sslrootcert {} 이(가) PEM 인증서가 아닙니다: {err}",
            "sslrootcert {} is not a PEM certificate: {err}",
            path.display()
        ),
        Tls { err } => t!("TLS 를 준비할 수 없습니다: {err}", "cannot set up TLS: {err}"),
        CannotConnect { db, reason, .. } => t!(
            "{db} 에 연결할 수 없습니다: {reason}",
            "cannot connect to {db}: {reason}"
        ),
        NoSchema { db, schema } => t!(
            "{db} 에 스키마 {schema} 이(가) 없습니다",
            "{db} has no schema {schema}"
        ),
        NoTable { db, schema, table } => t!(
            "{db} (스키마 {schema}) 에 {table} 테이블이 없습니다",
            "{db} (schema {schema}) has no {table} table"
        ),
        Query { db, reason } | LockTimeout { db, reason } => format!("{db}: {reason}"),
        ChangingElsewhere { db } => t!(
            "다른 jobsweep 이 {db} 을(를) 변경하는 중입니다 (PostgreSQL advisory lock)",
            "another jobsweep is changing {db} (PostgreSQL advisory lock)"
        ),
        SchemaOfFile { db } => t!(
            "--pg-schema 는 PostgreSQL 에만 쓰입니다 ({db} 은(는) SQLite 파일입니다)",
            "--pg-schema applies to PostgreSQL only ({db} is an SQLite file)"
        ),
        NotAServer { db } => t!(
            "{db} 은(는) 서버 데이터베이스가 아닙니다",
            "{db}: not a server database"
        ),
        SqliteImage => t!(
            "SQLite 스냅샷은 PostgreSQL 데이터베이스로 복원할 수 없습니다 (--to 파일 경로를 쓰세요)",
            "an SQLite snapshot cannot be restored into a PostgreSQL database (use --to PATH)"
        ),
        TablesExist { db, tables } => t!(
            "{db} 에 이미 테이블이 있습니다: {}",
            "{db} already holds tables: {}",
            tables.join(", ")
        ),
        ImageDamaged { path, what } => t!(
            "{}: PostgreSQL 스냅샷 이미지가 손상되었습니다: {what}",
            "{}: the PostgreSQL snapshot image is damaged: {what}",
            path.display()
        ),
    }
}

/// The hint of a database server's failure, if it has one.
pub fn server_hint(e: &ServerError) -> Option<String> {
    use ServerError::*;
    Some(match e {
        CannotConnect { why, .. } => match why {
            ConnectFailure::Auth => t!(
                "사용자와 암호(URL, PGPASSWORD 또는 ~/.pgpass)를 확인하세요",
                "check the user and password (in the URL, PGPASSWORD or ~/.pgpass)"
            ),
            ConnectFailure::NoDatabase => {
                t!("데이터베이스 이름을 확인하세요", "check the database name")
            }
            ConnectFailure::Unreachable => t!(
                "서버가 실행 중이고 호스트와 포트가 맞는지 확인하세요",
                "is the server running, and are the host and port right?"
            ),
            ConnectFailure::Other => return None,
        },
        NoSchema { .. } => t!(
            "--pg-schema 로 앱의 테이블이 있는 스키마를 지정하세요",
            "name the schema holding the app's tables with --pg-schema"
        ),
        NoTable {
            table: "analysis_jobs",
            ..
        } => t!(
            "웹 앱의 데이터베이스와 스키마(--pg-schema)가 맞는지 확인하세요",
            "is this the web app's database, and its schema (--pg-schema)?"
        ),
        LockTimeout { .. } => t!(
            "앱의 트랜잭션이 잠금을 쥐고 있습니다: 잠시 후 다시 하거나 --busy-timeout 을 늘리세요",
            "an app transaction holds a lock: retry later or raise --busy-timeout"
        ),
        ChangingElsewhere { .. } => t!(
            "끝날 때까지 기다리거나 --wait 를 사용하세요",
            "wait for it to finish, or use --wait"
        ),
        TablesExist { .. } => t!(
            "바꾸려면 --force 를 붙이세요",
            "pass --force to replace them"
        ),
        _ => return None,
    })
}

/// The hint after a command line clap refused: the command's own help.
pub fn usage_hint(command: &str) -> String {
    t!(
        "'{command} --help' 로 사용법을 확인하세요",
        "run '{command} --help' for usage"
    )
}
