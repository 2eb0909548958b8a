//! `restore --snapshot ID|latest|PREFIX [--to PATH] [--force]`: puts a verified snapshot back
//! into the live database (after a `pre-restore` snapshot of it) or writes it to a new file.
//! `restore --journal` is the revert of one apply, in `cmd::revert`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::cli::RestoreArgs;
use crate::db::{canonical_path, sqlite_error, Database};
use crate::error::{fail, Exit, Failure};
use crate::output::{Render, Style};
use crate::settings::Settings;
use crate::snapshot::{self, Manifest, Reason};
use crate::store::{self, Store, TEMP_PREFIX};
use crate::t;

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub snapshot_id: String,
    /// The file written: the live database, or `--to`.
    pub target: String,
    pub live: bool,
    /// The snapshot of the live database taken just before it was overwritten.
    pub pre_restore_snapshot_id: Option<String>,
    pub image_bytes: u64,
    pub journal_mode: Option<String>,
}

pub fn run(settings: &Settings, args: &RestoreArgs) -> Result<(RestoreReport, Exit)> {
    // `restore --journal` goes to `cmd::revert` (see `lib::run`); clap allows only one of the two.
    let wanted = args.snapshot.as_deref().unwrap_or("latest");
    let report = match &args.to {
        Some(to) => restore_to_file(settings, wanted, to, args.force)?,
        None => restore_live(settings, wanted, args.force)?,
    };
    Ok((report, Exit::Success))
}

/// The store must already hold snapshots; restore never creates it.
fn existing_store(settings: &Settings) -> Result<Store> {
    let dir = settings.store_dir()?;
    if Store::existing(&dir).is_none() {
        return Err(fail(
            Exit::Usage,
            t!(
                "스냅샷 저장소 {} 이(가) 없습니다",
                "there is no snapshot store at {}",
                dir.display()
            ),
        ));
    }
    // Opening for writing removes leftovers of crashed runs.
    Store::open(&dir)
}

fn restore_to_file(
    settings: &Settings,
    wanted: &str,
    to: &Path,
    force: bool,
) -> Result<RestoreReport> {
    let shown = to.display();
    let dir = store::parent_dir(to);
    if !dir.is_dir() {
        return Err(fail(
            Exit::Usage,
            t!(
                "{shown}: 디렉터리 {} 이(가) 없습니다",
                "{shown}: directory {} does not exist",
                dir.display()
            ),
        ));
    }
    if to.is_dir() {
        return Err(fail(
            Exit::Usage,
            t!("{shown} 은(는) 디렉터리입니다", "{shown} is a directory"),
        ));
    }
    refuse_protected_target(settings, to, None)?;
    if to.exists() && !force {
        return Err(Failure::new(
            Exit::Usage,
            t!("{shown} 이(가) 이미 있습니다", "{shown} already exists"),
        )
        .hint(t!(
            "덮어쓰려면 --force 를 붙이세요",
            "pass --force to overwrite it"
        ))
        .into());
    }
    let store = existing_store(settings)?;
    let _lock = store.lock(settings.wait)?;
    let m = snapshot::find(&store, wanted)?;
    refuse_protected_target(settings, to, Some(&m.source_path))?;
    // Verified and integrity-checked, beside the target so the final rename is atomic.
    let image = snapshot::extract_to(&store, &m, dir, TEMP_PREFIX, settings)?;
    if force {
        // A stale -wal of the old file would be replayed into the new one.
        for suffix in ["-wal", "-shm", "-journal"] {
            let side = PathBuf::from(format!("{}{suffix}", to.display()));
            match fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(store::write_error(&side, e)),
            }
        }
    }
    image
        .persist(to)
        .map_err(|e| store::write_error(to, e.error))?;
    store::sync_dir(dir)?;
    Ok(RestoreReport {
        snapshot_id: m.id,
        target: to.display().to_string(),
        live: false,
        pre_restore_snapshot_id: None,
        image_bytes: m.image_bytes,
        journal_mode: None,
    })
}

/// `--to` must never be the live database (renaming over it would leave the app writing to the
/// old, unlinked file, and `--force` would delete its `-wal`), the database the snapshot was taken
/// from, or anything inside the store (a snapshot's data file, the lock file). Exit 2.
fn refuse_protected_target(settings: &Settings, to: &Path, source: Option<&Path>) -> Result<()> {
    let target = resolved(to);
    let shown = to.display();
    let live = settings.db_path().ok().map(|p| resolved(&p));
    if live.as_ref() == Some(&target) || source.is_some_and(|s| resolved(s) == target) {
        return Err(Failure::new(
            Exit::Usage,
            t!(
                "{shown} 은(는) 운영 중인 데이터베이스입니다. --to 로 덮어쓸 수 없습니다",
                "{shown} is the live database: --to cannot overwrite it"
            ),
        )
        .hint(t!(
            "운영 데이터베이스로 복원하려면 --to 없이 실행하세요",
            "to restore into the live database, run without --to"
        ))
        .into());
    }
    if let Ok(dir) = settings.store_dir() {
        if target.starts_with(resolved(&dir)) {
            return Err(fail(
                Exit::Usage,
                t!(
                    "{shown} 은(는) 스냅샷 저장소 안에 있습니다. 다른 경로를 지정하세요",
                    "{shown} is inside the snapshot store: choose another path"
                ),
            ));
        }
    }
    Ok(())
}

/// `path` with symlinks and `.`/`..` resolved as far as it exists (a new file: its directory).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    let dir = store::parent_dir(path);
    match (fs::canonicalize(dir), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

fn restore_live(settings: &Settings, wanted: &str, force: bool) -> Result<RestoreReport> {
    let db_path = settings.db_path()?;
    // Opened first: a file that cannot be written is exit 3 before anything else happens.
    let live = Database::open_read_write(&db_path, settings.busy_timeout)?;
    let store = existing_store(settings)?;
    let _lock = store.lock(settings.wait)?;
    crate::journal::resolve_planned(&store, &db_path, settings)?;
    let m = snapshot::find(&store, wanted)?;
    check_same_database(&m, &db_path, force)?;
    let mode = live.journal_mode()?;
    let live_page_size: u32 = live
        .conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(|e| sqlite_error(&db_path, e))?;

    // In the store, so a killed run's image is removed by the next command that takes the lock
    // (beside the database nothing would ever remove it).
    let image = snapshot::extract_to(&store, &m, &store.snapshots_dir(), TEMP_PREFIX, settings)?;
    if mode == "wal" && m.page_size != live_page_size {
        // The backup API refuses to change a WAL database's page size (SQLITE_READONLY): give
        // the image the live file's page size first. It is our scratch copy, already verified.
        set_page_size(&image, live_page_size)?;
    }
    let pre = snapshot::create(
        &db_path,
        &store,
        Reason::PreRestore,
        Some(t!("{} 복원 전", "before restoring {}", m.id)),
        settings,
    )?;
    crate::failpoint::hit("pause-restore-before-copy");
    let mut live = live;
    copy_into_live(&image, &mut live, settings)?;
    drop(image);
    let mode_after = live.journal_mode()?;
    if mode_after != mode {
        // The image's header may carry another journal mode; the live file keeps its own.
        live.conn
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |_| Ok(()))
            .map_err(|e| sqlite_error(&db_path, e))?;
    }
    if mode == "wal" {
        // Fold the restored pages into the main file; the app's readers may hold it back, which
        // is harmless (the next checkpoint finishes the job).
        let _ = live
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    // The event for `log` (design.md §4.3).
    crate::journal::record_restore(&store, &db_path, &m, &pre).map_err(|e| {
        fail(
            Exit::Database,
            t!(
                "스냅샷 {} 을(를) 복원했지만 그 기록(저널)을 쓰지 못했습니다: {e:#}",
                "snapshot {} WAS restored, but its record (journal) could not be written: {e:#}",
                m.id
            ),
        )
    })?;
    Ok(RestoreReport {
        snapshot_id: m.id,
        target: db_path.display().to_string(),
        live: true,
        pre_restore_snapshot_id: Some(pre.id),
        image_bytes: m.image_bytes,
        journal_mode: Some(mode),
    })
}

/// Rewrites the image file with another page size (`VACUUM`; the image is in rollback mode).
fn set_page_size(image: &Path, page_size: u32) -> Result<()> {
    let conn = Connection::open(image).map_err(|e| sqlite_error(image, e))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = {page_size}; VACUUM;"
    ))
    .map_err(|e| sqlite_error(image, e))?;
    let now: u32 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(|e| sqlite_error(image, e))?;
    conn.close().map_err(|(_, e)| sqlite_error(image, e))?;
    if now != page_size {
        return Err(fail(
            Exit::Database,
            t!(
                "{} 의 페이지 크기를 {page_size} 로 바꾸지 못했습니다",
                "cannot give {} the page size {page_size}",
                image.display()
            ),
        ));
    }
    Ok(())
}

/// Refuses a snapshot of another database file unless `--force`.
fn check_same_database(m: &Manifest, db_path: &Path, force: bool) -> Result<()> {
    if force || m.is_of(db_path) {
        return Ok(());
    }
    let live = canonical_path(db_path);
    Err(Failure::new(
        Exit::Usage,
        t!(
            "스냅샷 {} 은(는) 다른 데이터베이스 {} 의 것입니다 (지금 대상: {})",
            "snapshot {} is of another database, {} (this one is {})",
            m.id,
            m.source_path.display(),
            live.display()
        ),
    )
    .hint(t!(
        "그래도 덮어쓰려면 --force, 별도 파일로 꺼내려면 --to PATH",
        "pass --force to restore it here anyway, or --to PATH to write a separate file"
    ))
    .into())
}

/// Copies the image into the live database with the backup API, in one step: SQLite writes it
/// as one transaction through the live file's own journal (or WAL), so the app's connections
/// see either the old or the new contents, never a mix, and a failure rolls back.
fn copy_into_live(image: &Path, live: &mut Database, settings: &Settings) -> Result<()> {
    let src = Connection::open_with_flags(
        image,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_error(image, e))?;
    let path = live.path.clone();
    let backup = Backup::new(&src, &mut live.conn).map_err(|e| sqlite_error(&path, e))?;
    let started = Instant::now();
    loop {
        match backup.step(-1).map_err(|e| sqlite_error(&path, e))? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            _ => {
                // The app holds the file: wait like SQLite would, up to the busy timeout.
                if started.elapsed() > settings.busy_timeout {
                    return Err(sqlite_error(
                        &path,
                        rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            None,
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Render for RestoreReport {
    fn render(&self, out: &mut String, style: Style) {
        let size = crate::cmd::snapshot::human_bytes(self.image_bytes);
        if self.live {
            out.push_str(&t!(
                "스냅샷 {} 을(를) {} 에 복원했습니다 ({size})\n",
                "restored snapshot {} into {} ({size})\n",
                style.bold(&self.snapshot_id),
                self.target
            ));
            if let Some(pre) = &self.pre_restore_snapshot_id {
                out.push_str(&t!(
                    "복원 전 상태는 스냅샷 {pre} 에 있습니다 (되돌리기: jobsweep restore --snapshot {pre})\n",
                    "the state before is in snapshot {pre} (to undo: jobsweep restore --snapshot {pre})\n"
                ));
            }
        } else {
            out.push_str(&t!(
                "스냅샷 {} 을(를) {} 에 썼습니다 ({size})\n",
                "wrote snapshot {} to {} ({size})\n",
                style.bold(&self.snapshot_id),
                self.target
            ));
        }
    }
}
