//! Short texts the commands show or record that are not reports: progress labels, notices,
//! notes and warnings. Fed data; only the words are here.

use chrono::{DateTime, Utc};

use crate::t;

/// The progress label of copying the live database for `diff`.
pub fn live_copy(db: &str) -> String {
    t!(
        "현재 DB {db} 복사 (비교용)",
        "live database {db}: copying (to compare)"
    )
}

/// The note of the snapshot `restore --snapshot` takes first (kept in its manifest).
pub fn pre_restore_note(restored: &str) -> String {
    t!("{restored} 복원 전", "before restoring {restored}")
}

/// The notice before `restore --snapshot` copies into the live database.
pub fn restore_copying(lost: u64, kept_in: &str, target: &str) -> String {
    t!(
        "복원으로 버려지는 행 {lost}개는 스냅샷 {kept_in} 에 보관했습니다. 이제 {target} 에 복사합니다 (앱의 쓰기는 끝날 때까지 기다립니다) ...",
        "the {lost} rows this restore discards are kept in snapshot {kept_in}; now copying into {target} (the app's writers wait until it is done) ..."
    )
}

/// The warning of `snapshot prune` when a snapshot claims to be from the future.
pub fn future_snapshots() -> String {
    t!(
        "생성 시각이 지금보다 미래인 스냅샷이 있습니다: 이 호스트의 시계를 확인하세요. 그 스냅샷은 남기고 --keep-last 에 세지 않습니다",
        "some snapshots were created in the future: check this host's clock; they are kept and not counted by --keep-last"
    )
}

/// The progress label of uploading an object (its key) to the replica.
pub fn uploading(key: &str) -> String {
    t!("복제본으로 {key}", "uploading {key}")
}

/// The progress label of downloading an object (its key) from the replica.
pub fn downloading(key: &str) -> String {
    t!("복제본에서 {key}", "downloading {key}")
}

/// The lock file's holder line, or "pid unknown".
pub fn lock_holder(holder: Option<&str>) -> String {
    holder.map_or_else(|| t!("pid 알 수 없음", "pid unknown"), str::to_string)
}

/// The notice of `--wait` while another jobsweep holds the store lock.
pub fn waiting_for_lock(holder: Option<&str>) -> String {
    let holder = lock_holder(holder);
    t!(
        "다른 jobsweep ({holder}) 이(가) 끝나기를 기다립니다...",
        "waiting for another jobsweep ({holder}) to release the store lock..."
    )
}

/// "4일 10시간 전" / "4 days 10 hours ago"; a time in the future says so.
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds();
    if seconds < 0 {
        return t!("미래 시각", "in the future");
    }
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    let korean = crate::i18n::is_korean();
    let unit = |n: i64, ko: &str, en: &str| {
        if korean {
            format!("{n}{ko}")
        } else {
            format!("{n} {en}{}", if n == 1 { "" } else { "s" })
        }
    };
    let span = if days > 0 {
        format!(
            "{} {}",
            unit(days, "일", "day"),
            unit(hours, "시간", "hour")
        )
    } else if hours > 0 {
        format!(
            "{} {}",
            unit(hours, "시간", "hour"),
            unit(minutes, "분", "minute")
        )
    } else {
        unit(minutes, "분", "minute")
    };
    if korean {
        format!("{span} 전")
    } else {
        format!("{span} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn relative_ages() {
        let now = utc("2026-02-25T00:45:15Z");
        crate::i18n::set(crate::i18n::Lang::En);
        assert_eq!(ago(utc("2026-02-20T14:30:15Z"), now), "4 days 10 hours ago");
        assert_eq!(ago(utc("2026-02-24T23:44:15Z"), now), "1 hour 1 minute ago");
        assert_eq!(
            ago(utc("2026-02-24T23:44:16Z"), now),
            "1 hour 0 minutes ago"
        );
    }
}

/// How the tool names a `--db` PostgreSQL URL it cannot read (it may hold a password).
pub fn unreadable_url() -> String {
    t!(
        "(읽을 수 없는 PostgreSQL URL)",
        "(unreadable PostgreSQL URL)"
    )
}

/// What an engine tells `-v` about holding the app back while it copies the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyNotice {
    /// The app's writers waited for `ms` (a read lock).
    HeldWriters { ms: u128 },
    /// The app's readers and writers waited for `ms` (a write lock).
    HeldAll { ms: u128 },
    /// The copy started over `times` times because the app wrote meanwhile.
    Restarted { times: u32 },
    /// This build's SQLite lacks the `sqlite_dbpage` table: the WAL-mode copy takes the
    /// backup API's slower way.
    NoPageTable,
}

/// Shows `notice` on stderr (the engine shows it only with `-v`; `-q` silences it).
pub fn copy_notice(notice: CopyNotice) {
    let text = match notice {
        CopyNotice::HeldWriters { ms } => t!(
            "앱의 쓰기를 {ms} ms 동안 막았습니다 (읽기 잠금)",
            "held the app's writers for {ms} ms (read lock)"
        ),
        CopyNotice::HeldAll { ms } => t!(
            "앱의 읽기와 쓰기를 {ms} ms 동안 막았습니다 (쓰기 잠금)",
            "held the app's readers and writers for {ms} ms (write lock)"
        ),
        CopyNotice::Restarted { times } => t!(
            "복사 중 앱의 쓰기로 {times}번 다시 시작했습니다",
            "the copy restarted {times} times because the app wrote meanwhile"
        ),
        CopyNotice::NoPageTable => t!(
            "이 빌드의 SQLite에는 sqlite_dbpage 테이블이 없어 더 느린 백업 API로 복사합니다",
            "this build's SQLite has no sqlite_dbpage table: copying with the slower backup API"
        ),
    };
    super::notice(&text);
}
