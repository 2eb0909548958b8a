//! The store directory (design.md §4): its layout, the OS file lock that serialises mutating
//! commands, ids, atomic JSON writes and id resolution (`latest`, exact id, unique prefix).
//!
//! Temp files that writers create carry the `.tmp-` prefix so that a crashed run's leftovers can
//! be recognised and removed, but only by a process that holds the lock (a live writer's temp
//! files must never be touched).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

pub mod backend;
mod error;
mod objects;
pub mod replica;
mod scratch;
mod writeback;

pub use backend::{Backend, Handle, Kind, LocalDir};
pub use error::{IdKind, Refusal, StoreError, Undecryptable, UrlProblem, Work};
pub use scratch::Scratch;
pub use writeback::{write_all_at, FlushBehind};

/// The backend for a replica URL (`s3://bucket/prefix`, `file:///path`; design.md §9). `aws`
/// holds `AWS_*` settings that take precedence over the environment's (the tests' server).
pub fn open_backend(url: &str, aws: &[(&str, &str)]) -> Result<Box<dyn Backend>> {
    Ok(Box::new(objects::open(url, aws)?))
}
pub use replica::{RemoteSnapshot, Replica, ReplicaConfig};

/// Prefix of every temp file a store writer creates (removed after a crash by the next writer).
pub const TEMP_PREFIX: &str = ".tmp-";
/// Prefix of decompressed images made for readers (`diff`, `verify`); they are not under the
/// lock, so only old ones are removed.
pub const EXTRACT_PREFIX: &str = ".extract-";
/// An extract older than this was left by a crashed reader.
const STALE_EXTRACT: Duration = Duration::from_secs(24 * 3600);

/// An existing (or just created) store directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Holds the store lock until dropped (or until the process dies: the OS releases it).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    /// The store directory, locked too: an operator may delete `lock` while it is held, and a
    /// second run would then lock a new file of the same name. The directory cannot be swapped
    /// so easily.
    _dir: File,
    path: PathBuf,
}

impl StoreLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store {
    /// Opens the store, creating it and its `snapshots/` and `journals/` directories when
    /// missing; for commands that write. Leftover temp files of crashed runs are removed when no
    /// other jobsweep holds the lock.
    pub fn open(dir: &Path) -> Result<Store> {
        for sub in [
            dir.to_path_buf(),
            dir.join("snapshots"),
            dir.join("journals"),
        ] {
            // Refused before anything is created under it, and again once it exists
            // (design.md §4 "Symlinks and ownership").
            check_dir(&sub)?;
            fs::create_dir_all(&sub).map_err(|err| StoreError::CreateDir {
                path: sub.clone(),
                err,
            })?;
            check_dir(&sub)?;
        }
        let store = Store {
            dir: dir.to_path_buf(),
        };
        // Only when nobody holds the lock: a running writer's temp files are not leftovers.
        if let (Ok(file), Ok(dir)) = (store.open_lock_file(), open_dir(&store.dir)) {
            if file.try_lock().is_ok() && dir.try_lock().is_ok() {
                store.remove_leftovers();
            }
        }
        Ok(store)
    }

    /// Refuses the store when its directory or its `snapshots/` or `journals/` is a symlink,
    /// not a directory, or owned by another user than this one or root (design.md §4). Missing
    /// directories pass: `open` creates them, readers find nothing in them.
    pub fn check(&self) -> Result<()> {
        for sub in [self.dir.clone(), self.snapshots_dir(), self.journals_dir()] {
            check_dir(&sub)?;
        }
        Ok(())
    }

    /// The store if it exists; never creates anything (for read-only commands).
    pub fn existing(dir: &Path) -> Option<Store> {
        dir.is_dir().then(|| Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The store, which must exist: commands that only read it never create it.
    pub fn required(dir: &Path) -> Result<Store, StoreError> {
        Store::existing(dir).ok_or_else(|| StoreError::Missing {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn snapshots_dir(&self) -> PathBuf {
        self.dir.join("snapshots")
    }

    pub fn journals_dir(&self) -> PathBuf {
        self.dir.join("journals")
    }

    /// `snapshots/<id>.json`, the manifest that makes a data file a snapshot.
    pub fn manifest_path(&self, id: &str) -> PathBuf {
        self.snapshots_dir().join(format!("{id}.json"))
    }

    /// `snapshots/<id>.db.zst`.
    pub fn data_path(&self, id: &str) -> PathBuf {
        self.snapshots_dir().join(format!("{id}.db.zst"))
    }

    /// `journals/<id>.json`.
    pub fn journal_path(&self, id: &str) -> PathBuf {
        self.journals_dir().join(format!("{id}.json"))
    }

    /// The store directory as a `Backend` (design.md §9).
    pub fn backend(&self) -> LocalDir {
        LocalDir::new(&self.dir)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// Opens (or creates) `lock` without following a symlink, and refuses anything but a
    /// regular file of this user or root with one link: the file is truncated and written, so
    /// a planted link must never lead elsewhere (design.md §4).
    fn open_lock_file(&self) -> Result<File> {
        let path = self.lock_path();
        let cannot_open = |err: std::io::Error| StoreError::LockFile {
            path: path.clone(),
            err,
        };
        let file = no_follow()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                if is_symlink_error(&e, &path) {
                    refused(&path, Refusal::Symlink)
                } else {
                    cannot_open(e)
                }
            })?;
        let meta = file.metadata().map_err(cannot_open)?;
        if !meta.is_file() {
            return Err(refused(&path, Refusal::NotRegular).into());
        }
        if let Some(why) = foreign_owner(&meta) {
            return Err(refused(&path, why).into());
        }
        if hard_links(&meta) > 1 {
            return Err(refused(&path, Refusal::HardLinks).into());
        }
        Ok(file)
    }

    /// Takes the store lock. When another process holds it: exit 6 at once naming its pid and
    /// start time, or with `wait` block until it is released.
    pub fn lock(&self, wait: bool) -> Result<StoreLock> {
        let path = self.lock_path();
        self.check()?;
        let mut file = self.open_lock_file()?;
        let dir = open_dir(&self.dir).map_err(|err| StoreError::OpenDir {
            path: self.dir.clone(),
            err,
        })?;
        Store::take(&file, &file, &path, wait)?;
        // The lock file's holder is gone when the file was deleted under it: read the pid from
        // the new file (empty, "pid unknown") all the same.
        Store::take(&file, &dir, &path, wait)?;
        // Who holds it, for the message a second process prints.
        let stamp = format!(
            "pid {} started {}\n",
            std::process::id(),
            Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(stamp.as_bytes()))
            .and_then(|_| file.flush())
            .with_context(|| path.display().to_string())?;
        self.remove_leftovers();
        Ok(StoreLock {
            _file: file,
            _dir: dir,
            path,
        })
    }

    /// Locks `target` (the lock file or the store directory): exit 6 at once naming the holder
    /// found in `info`, or with `wait` blocks until it is free.
    fn take(info: &File, target: &File, path: &Path, wait: bool) -> Result<()> {
        match target.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_holder(info);
                if !wait {
                    return Err(StoreError::Locked {
                        path: path.to_path_buf(),
                        holder,
                    }
                    .into());
                }
                crate::render::notice(&crate::render::labels::waiting_for_lock(holder.as_deref()));
                target.lock().map_err(|err| StoreError::CannotLock {
                    path: path.to_path_buf(),
                    err,
                    waited: true,
                })?;
            }
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(StoreError::CannotLock {
                    path: path.to_path_buf(),
                    err,
                    waited: false,
                }
                .into())
            }
        }
        Ok(())
    }

    /// Removes temp files of crashed runs. Callers hold the lock (or just took it and let it go
    /// in `open`), so no live writer owns a `.tmp-` file; extracts belong to lock-free readers
    /// and are only removed when old.
    fn remove_leftovers(&self) {
        for dir in [self.dir.clone(), self.snapshots_dir(), self.journals_dir()] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let stale = if name.starts_with(TEMP_PREFIX) {
                    true
                } else if name.starts_with(EXTRACT_PREFIX) {
                    entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > STALE_EXTRACT)
                } else {
                    false
                };
                if stale {
                    // A restore's scratch directory (design.md §9) is a directory; `file_type`
                    // does not follow links, so a planted link is removed, never followed.
                    let _ = match entry.file_type() {
                        Ok(t) if t.is_dir() => fs::remove_dir_all(entry.path()),
                        _ => fs::remove_file(entry.path()),
                    };
                }
            }
        }
    }
}

/// The holder line of the lock file ("pid N started ..."), if it has one.
fn read_holder(mut file: &File) -> Option<String> {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `OpenOptions` that never follow a symlink in the last component of the path (`O_NOFOLLOW`):
/// opening a planted link fails with `ELOOP` instead of reaching its target (design.md §4).
pub fn no_follow() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Opens a directory for locking and fsync, refusing a symlink (`O_NOFOLLOW`).
fn open_dir(dir: &Path) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(dir)
    }
    #[cfg(not(unix))]
    {
        File::open(dir)
    }
}

/// Whether an open with `O_NOFOLLOW` failed because the path is a symlink.
fn is_symlink_error(err: &std::io::Error, path: &Path) -> bool {
    #[cfg(unix)]
    if err.raw_os_error() == Some(libc::ELOOP) {
        return true;
    }
    let _ = err;
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// A store path refused (exit 3): one that could redirect jobsweep's writes is an environment
/// problem (design.md §4).
fn refused(path: &Path, why: Refusal) -> StoreError {
    StoreError::Refused {
        path: path.to_path_buf(),
        why,
    }
}

/// The reason to refuse a file owned by another user than this one or root, if it is.
fn foreign_owner(meta: &fs::Metadata) -> Option<Refusal> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let owner = meta.uid();
        if owner != me && owner != 0 {
            return Some(Refusal::ForeignOwner { owner, me });
        }
    }
    let _ = meta;
    None
}

fn hard_links(meta: &fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.nlink()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        1
    }
}

/// Refuses a store directory that is a symlink, not a directory, or another user's (unless
/// root's). A missing one passes (design.md §4).
fn check_dir(path: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => {
            return Err(StoreError::Inspect {
                path: path.to_path_buf(),
                err,
            }
            .into());
        }
    };
    if meta.file_type().is_symlink() {
        return Err(refused(path, Refusal::Symlink).into());
    }
    if !meta.is_dir() {
        return Err(refused(path, Refusal::NotDirectory).into());
    }
    match foreign_owner(&meta) {
        Some(why) => Err(refused(path, why).into()),
        None => Ok(()),
    }
}

/// `YYYYMMDDTHHMMSSZ-xxxxxxxx` -> its time: orders files whose own `created_at` cannot be read.
pub fn time_of_id(id: &str) -> Option<DateTime<Utc>> {
    let stamp = id.get(..16)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// A new store id `YYYYMMDDTHHMMSSZ-<8 hex>` from the real clock (never `--now`), and the
/// creation time with microsecond precision that orders ids made within one second. The hex is
/// the microsecond (5 digits) then 12 random bits, so ids sort as they were made even where
/// only the names are known (a replica without its identity; design.md §9).
pub fn new_id() -> (String, DateTime<Utc>) {
    use std::sync::Mutex;
    // Two ids of one process never share a microsecond: each is at least one after the last.
    static LAST: Mutex<Option<DateTime<Utc>>> = Mutex::new(None);
    let mut now = clock_now().trunc_subsecs(6);
    if let Ok(mut last) = LAST.lock() {
        if let Some(previous) = *last {
            now = now.max(previous + chrono::Duration::microseconds(1));
        }
        *last = Some(now);
    }
    let id = format!(
        "{}-{:05x}{:03x}",
        now.format("%Y%m%dT%H%M%SZ"),
        // A leap second's microsecond counts past 999,999 in chrono: kept to five digits.
        now.timestamp_subsec_micros().min(999_999),
        fastrand::u16(..0x1000)
    );
    (id, now)
}

/// The real clock, used for store ids, `created_at`/`committed_at` and prune's ages (never
/// `--now`). Test-only: a `failpoints` build reads `JOBSWEEP_TEST_CLOCK` (RFC 3339) as the time this
/// process started, so a test can simulate weeks of cron runs (design.md §3.1); builds without
/// the `failpoints` feature (the test-only switches) ignore it.
pub fn clock_now() -> DateTime<Utc> {
    use std::sync::OnceLock;
    static TEST_CLOCK: OnceLock<Option<(DateTime<Utc>, std::time::Instant)>> = OnceLock::new();
    let fake = TEST_CLOCK.get_or_init(|| {
        if !cfg!(feature = "failpoints") {
            return None;
        }
        let text = std::env::var("JOBSWEEP_TEST_CLOCK").ok()?;
        let start = DateTime::parse_from_rfc3339(text.trim()).ok()?;
        Some((start.with_timezone(&Utc), std::time::Instant::now()))
    });
    match fake {
        Some((start, since)) => {
            *start + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
        }
        None => Utc::now(),
    }
}

/// Serde: a path as text, lossily when it is not UTF-8 (its exact bytes then go in a `*_hex`
/// field beside it, see `path_hex`), instead of failing the whole document.
pub fn lossy_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// The raw bytes of a path in hex when they are not UTF-8; `None` for a UTF-8 path, which the
/// text field already holds exactly (design.md §4).
pub fn path_hex(path: &Path) -> Option<String> {
    if path.to_str().is_some() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(hex::encode(path.as_os_str().as_bytes()))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The path whose raw bytes `path_hex` wrote; `None` when the text is not hex.
pub fn path_from_hex(text: &str) -> Option<PathBuf> {
    let bytes = hex::decode(text).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(bytes).ok().map(PathBuf::from)
    }
}

/// Serde for `created_at`-like fields: RFC 3339 with exactly six fractional digits.
pub mod micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Writes `value` as pretty JSON atomically: temp file in the same directory, fsync, rename,
/// fsync the directory. A crash leaves either the old file or the new one, never a mix.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|err| StoreError::Json { err })?;
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Writes bytes atomically (see `write_json_atomic`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{name}-"))
        .tempfile_in(dir)
        .map_err(|e| write_error(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| write_error(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| write_error(path, e.error))?;
    sync_dir(dir)
}

/// fsyncs a directory so that a rename or delete in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| write_error(dir, e))
}

/// The directory a path is in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A failed write as a one-line error naming the path (exit 3: the environment's problem).
pub fn write_error(path: &Path, err: std::io::Error) -> anyhow::Error {
    StoreError::Write {
        path: path.to_path_buf(),
        err,
    }
    .into()
}

/// Picks one id among `items` (id, created_at): `latest` is the newest by created_at, else an
/// exact id, else a unique prefix. Unknown or ambiguous is a usage error (exit 2); `kind` names
/// the kind of thing in the message.
pub fn resolve_id(
    items: &[(String, DateTime<Utc>)],
    wanted: &str,
    kind: IdKind,
) -> Result<String, StoreError> {
    if wanted == "latest" {
        return items
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
            .map(|(id, _)| id.clone())
            .ok_or(StoreError::NoneYet { kind });
    }
    if let Some((id, _)) = items.iter().find(|(id, _)| id == wanted) {
        return Ok(id.clone());
    }
    let mut matches: Vec<&(String, DateTime<Utc>)> = if wanted.is_empty() {
        Vec::new()
    } else {
        items
            .iter()
            .filter(|(id, _)| id.starts_with(wanted))
            .collect()
    };
    let wanted = wanted.to_string();
    match matches.len() {
        1 => Ok(matches[0].0.clone()),
        0 => Err(StoreError::NoMatch { kind, wanted }),
        _ => {
            matches.sort_by_key(|m| std::cmp::Reverse(m.1));
            Err(StoreError::Ambiguous {
                kind,
                wanted,
                matches: matches.iter().map(|(id, _)| id.clone()).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Exit;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn items() -> Vec<(String, DateTime<Utc>)> {
        vec![
            (
                "20260101T000000Z-aaaa0001".into(),
                at("2026-01-01T00:00:00.000002Z"),
            ),
            (
                "20260101T000000Z-bbbb0002".into(),
                at("2026-01-01T00:00:00.000001Z"),
            ),
            (
                "20260102T000000Z-cccc0003".into(),
                at("2026-01-02T00:00:00Z"),
            ),
        ]
    }

    #[test]
    fn latest_is_newest_by_created_at() {
        assert_eq!(
            resolve_id(&items(), "latest", IdKind::Snapshot).unwrap(),
            "20260102T000000Z-cccc0003"
        );
        let same_second = &items()[..2];
        assert_eq!(
            resolve_id(same_second, "latest", IdKind::Snapshot).unwrap(),
            "20260101T000000Z-aaaa0001"
        );
    }

    #[test]
    fn prefixes_must_be_unique() {
        assert_eq!(
            resolve_id(&items(), "20260102", IdKind::Snapshot).unwrap(),
            "20260102T000000Z-cccc0003"
        );
        let err =
            anyhow::Error::new(resolve_id(&items(), "20260101", IdKind::Snapshot).unwrap_err());
        assert_eq!(crate::error::classify(&err).0, Exit::Usage);
        assert!(err.to_string().contains("aaaa0001"), "{err}");
        assert!(err.to_string().contains("bbbb0002"), "{err}");
        let err = anyhow::Error::new(resolve_id(&items(), "2027", IdKind::Snapshot).unwrap_err());
        assert_eq!(crate::error::classify(&err).0, Exit::Usage);
        assert!(resolve_id(&[], "latest", IdKind::Snapshot).is_err());
    }

    #[test]
    fn ids_have_the_spec_shape() {
        let (id, created) = new_id();
        assert_eq!(id.len(), "YYYYMMDDTHHMMSSZ-".len() + 8, "{id}");
        assert_eq!(&id[8..9], "T");
        assert_eq!(&id[15..17], "Z-");
        assert!(id[17..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(created.timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn ids_made_within_one_second_sort_as_they_were_made() {
        let mut made: Vec<(String, DateTime<Utc>)> = (0..200).map(|_| new_id()).collect();
        made.sort_by(|a, b| a.0.cmp(&b.0));
        // By name, the creation times go forward, and no two ids share a microsecond.
        assert!(made.windows(2).all(|w| w[0].1 < w[1].1), "{made:?}");
        let micros = u32::from_str_radix(&made[0].0[17..22], 16).unwrap();
        assert_eq!(micros, made[0].1.timestamp_subsec_micros());
    }

    #[test]
    fn lock_is_exclusive_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let held = store.lock(false).unwrap();
        let err = store.lock(false).unwrap_err();
        assert_eq!(crate::error::classify(&err).0, Exit::Locked);
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        store.lock(false).unwrap();
    }

    #[test]
    fn leftovers_are_removed_only_without_a_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tmp = store.snapshots_dir().join(".tmp-x.db");
        fs::write(&tmp, b"x").unwrap();
        let held = store.lock(false).unwrap();
        fs::write(&tmp, b"x").unwrap();
        Store::open(dir.path()).unwrap();
        assert!(tmp.exists(), "a live writer's temp file was removed");
        drop(held);
        Store::open(dir.path()).unwrap();
        assert!(!tmp.exists());
    }
}
