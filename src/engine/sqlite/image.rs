//! Snapshot images on SQLite (design.md §3): the image is a database file. Taking one: a raw
//! page copy under the SHARED lock in rollback-journal mode (`rawcopy`), the backup API inside one
//! read transaction in WAL mode; putting one back: only the differing pages behind a journal in
//! SQLite's format (rollback mode) or the backup API in one step (WAL); checking one:
//! `integrity_check`; comparing two: `diff`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{rawcopy, sqlite_error, walcopy, Database};
use crate::engine::{previous_copy_method, EngineKind, ImageFacts, ImageTap, LiveImage};
use crate::engine::{EngineError, WriteFailure};
use crate::engine::{Progress, Untapped};
use crate::render::labels::{copy_notice, CopyNotice};
use crate::store::{self, FlushBehind, EXTRACT_PREFIX};

/// Outside writes restart a stepped backup; after this many the copy is done in one step.
const MAX_RESTARTS: u32 = 5;
/// Each backup step holds the source's read lock this long at most (rollback-journal mode), so
/// a writer never waits much longer than this.
const STEP_TARGET: Duration = Duration::from_millis(20);
/// Gap between steps in rollback-journal mode, in which a waiting writer gets the file.
const STEP_PAUSE: Duration = Duration::from_millis(2);
/// The most pages a backup step copies: a step's pages are written back after it, so a few MiB
/// (16 MiB of 4 KiB pages) keeps the image's dirty pages few (design.md §3.4).
const MAX_STEP_PAGES: i32 = 4096;

/// Writes a consistent image of `source` into the existing empty file `dest`, in rollback-journal
/// form (it opens anywhere without `-wal`/`-shm` files).
pub fn export(
    source: &Database,
    dest: &Path,
    progress: &Progress,
    tap: &mut dyn ImageTap,
) -> Result<ImageFacts> {
    let (page_size, page_count) = copy_image(source, dest, progress, tap)?;
    mark_rollback_mode(dest)?;
    Ok(ImageFacts {
        engine: EngineKind::Sqlite,
        page_size,
        page_count,
        engine_version: rusqlite::version().to_string(),
        tables: Vec::new(),
    })
}

/// A consistent copy of the live database to compare against, or the file itself. In
/// rollback-journal mode a read transaction blocks the app's commits for as long as it lasts,
/// so the comparison never reads the live file: it is copied first (the read lock is held
/// briefly). In WAL mode a read transaction does not block writers, so the file is read directly.
pub fn comparable(db: &Database, scratch: &Path, progress: &Progress) -> Result<LiveImage> {
    if db.journal_mode()? == "wal" {
        return Ok(LiveImage::InPlace(db.path.clone()));
    }
    let image = store::Scratch::create_in(scratch, &format!("{EXTRACT_PREFIX}live-"), ".db")?;
    copy_image(db, &image, progress, &mut Untapped)?;
    Ok(LiveImage::Copy(image))
}

/// Replaces the contents of `live` with `image` (verified and integrity-checked already; a
/// scratch copy this may rewrite). Rollback-journal mode: only the pages that differ, under
/// SQLite's exclusive lock and behind a journal in SQLite's format (`rawcopy::write_into`); WAL
/// mode: the backup API in one step, one WAL transaction. The live file keeps its journal mode.
pub fn import(
    live: &mut Database,
    image: &Path,
    facts: &ImageFacts,
    progress: &Progress,
) -> Result<()> {
    let mode = live.journal_mode()?;
    let live_page_size: u32 = live
        .conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(|e| sqlite_error(&live.path, e))?;
    let page_copy = mode != "wal" && !previous_copy_method();
    if (mode == "wal" || page_copy) && facts.page_size != live_page_size {
        // The backup API refuses to change a WAL database's page size (SQLITE_READONLY), and
        // the page copy writes pages of the live file's size: give the image that page size
        // first. It is our scratch copy, already verified.
        set_page_size(image, live_page_size)?;
    }
    crate::failpoint::hit("pause-restore-before-copy");
    if page_copy {
        rawcopy::write_into(live, image, progress)?;
    } else {
        copy_into_live(image, live)?;
    }
    let mode_after = live.journal_mode()?;
    if mode_after != mode {
        // The image's header may carry another journal mode; the live file keeps its own.
        live.conn
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |_| Ok(()))
            .map_err(|e| sqlite_error(&live.path, e))?;
    }
    if mode == "wal" {
        // Fold the restored pages into the main file; the app's readers may hold it back, which
        // is harmless (the next checkpoint finishes the job).
        let _ = live
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    Ok(())
}

/// Copies `source` into the existing (empty) file `image`, and returns its page size and count.
/// Rollback-journal mode: a raw copy of the pages under the SHARED lock (`rawcopy`), released
/// before anything else happens; its draft is shown to `tap`. WAL mode: its pages through
/// `sqlite_dbpage` (`walcopy`, shown to `tap` as they are written), or the backup API, inside
/// one read transaction, which never blocks the app's writers (design.md §3).
fn copy_image(
    source: &Database,
    image: &Path,
    progress: &Progress,
    tap: &mut dyn ImageTap,
) -> Result<(u32, u64)> {
    let wal = source.journal_mode()? == "wal";
    if !previous_copy_method() {
        // Never through a link planted at the temp name (design.md §4).
        let out = store::no_follow()
            .read(true)
            .write(true)
            .truncate(true)
            .open(image)
            .map_err(|e| store::write_error(image, e))?;
        let copied = if wal {
            walcopy::copy(source, out, image, progress, tap)?
        } else {
            Some(rawcopy::copy(source, out, image, progress, tap)?)
        };
        match copied {
            Some(copied) => return Ok((copied.page_size, copied.page_count)),
            None if progress.verbose => copy_notice(CopyNotice::NoPageTable),
            None => {}
        }
    }
    // SQLite must not follow a link planted at the temp name either (design.md §4).
    let mut dest = Connection::open_with_flags(
        image,
        OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(|e| sqlite_error(image, e))?;
    // The image is a scratch file: no journal, no syncs while copying.
    dest.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .map_err(|e| sqlite_error(image, e))?;
    copy_online(source, &mut dest, wal, image, progress, tap)?;
    let page_size: u32 = dest
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(|e| sqlite_error(image, e))?;
    let page_count: u64 = dest
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(|e| sqlite_error(image, e))?;
    dest.close().map_err(|(_, e)| sqlite_error(image, e))?;
    Ok((page_size, page_count))
}

/// Copies `source` into `dest` with the online backup API, in steps.
///
/// WAL mode: a read transaction is held on the source for the whole copy, so the image is one
/// consistent state including what is only in the WAL, writers are never blocked, and their
/// commits cannot restart the copy.
/// Rollback-journal mode: a read lock blocks writers, so it is only held for one short step
/// (about `STEP_TARGET`) and released between steps. Each outside commit restarts the copy;
/// after `MAX_RESTARTS` the rest is done in one step, which finishes however busy the app is.
///
/// What the image file holds after each step is shown to `tap`, front to back: SQLite writes
/// the pages as its cache spills and page 1 only at the end, so some of it changes again,
/// which the snapshot finds by itself (design.md §3.4).
fn copy_online(
    source: &Database,
    dest: &mut Connection,
    wal: bool,
    image: &Path,
    progress: &Progress,
    tap: &mut dyn ImageTap,
) -> Result<()> {
    let src = &source.conn;
    let mut copy = || {
        let backup = Backup::new(src, dest).map_err(|e| sqlite_error(image, e))?;
        let bar = crate::progress::pages_if(progress.bars, &progress.label);
        // Known up front so the bar does not start at "100%" of nothing.
        if let Ok(pages) = src.query_row("PRAGMA page_count", [], |r| r.get::<_, u64>(0)) {
            bar.set_length(pages);
        }
        // The image's pages reach the disk as it grows, not in one burst (design.md §3.4).
        let mut written = File::open(image).ok().map(FlushBehind::ahead);
        let (mut shown, mut buf) = (0u64, Vec::new());
        let mut step_pages: i32 = 256;
        let mut restarts = 0u32;
        let mut copied_before: i64 = 0;
        let mut busy_since: Option<Instant> = None;
        loop {
            let one_shot = restarts >= MAX_RESTARTS;
            let started = Instant::now();
            let step = backup
                .step(if one_shot { -1 } else { step_pages })
                .map_err(|e| step_error(e, &source.path, image))?;
            let took = started.elapsed();
            let done = match step {
                StepResult::Done => true,
                StepResult::More => {
                    busy_since = None;
                    false
                }
                // A writer holds the file; wait for it like SQLite would, up to the busy timeout.
                _ => {
                    let since = *busy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > source.busy_timeout {
                        return Err(sqlite_error(
                            &source.path,
                            rusqlite::Error::SqliteFailure(
                                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                                None,
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            if let Some(out) = written.as_mut() {
                grown(out, &mut shown, &mut buf, tap);
            }
            if done {
                break;
            }
            let p = backup.progress();
            let copied = i64::from(p.pagecount) - i64::from(p.remaining);
            bar.set_length(p.pagecount as u64);
            bar.set_position(copied.max(0) as u64);
            // A restart copies from page 1 again: fewer pages done than before this step.
            if copied_before > 0 && copied <= copied_before {
                restarts += 1;
            }
            copied_before = copied;
            if took < STEP_TARGET / 2 {
                step_pages = (step_pages * 2).min(MAX_STEP_PAGES);
            } else if took > STEP_TARGET && step_pages > 16 {
                step_pages /= 2;
            }
            if !wal {
                std::thread::sleep(STEP_PAUSE);
            }
        }
        bar.finish_and_clear();
        if progress.verbose && restarts > 0 {
            copy_notice(CopyNotice::Restarted { times: restarts });
        }
        Ok(())
    };
    if wal {
        source.in_read_transaction(copy)
    } else {
        copy()
    }
}

/// After a backup step: the image's new pages go to the disk, and what the file holds beyond
/// `shown` to `tap` (best effort: an unread byte is one the snapshot compresses later), read
/// through `buf`.
fn grown(out: &mut FlushBehind, shown: &mut u64, buf: &mut Vec<u8>, tap: &mut dyn ImageTap) {
    use std::os::unix::fs::FileExt;
    let Ok(meta) = out.get_ref().metadata() else {
        return;
    };
    out.grown_to(meta.len());
    buf.resize(1 << 20, 0);
    while *shown < meta.len() {
        let n = (meta.len() - *shown).min(buf.len() as u64) as usize;
        if out.get_ref().read_exact_at(&mut buf[..n], *shown).is_err() {
            return;
        }
        tap.wrote(*shown, &buf[..n]);
        *shown += n as u64;
    }
}

/// A failed backup step. The step's message is the destination connection's, which SQLite does
/// not set ("not an error"), so only the code is kept; write failures name the image file.
fn step_error(err: rusqlite::Error, source: &Path, image: &Path) -> anyhow::Error {
    use rusqlite::ErrorCode::*;
    match err {
        rusqlite::Error::SqliteFailure(e, _) => {
            let plain = rusqlite::Error::SqliteFailure(e, None);
            match e.code {
                DiskFull | SystemIoFailure | ReadOnly | CannotOpen | PermissionDenied => {
                    EngineError::CannotWrite {
                        file: image.display().to_string(),
                        why: WriteFailure::Driver(plain.to_string()),
                    }
                    .into()
                }
                _ => sqlite_error(source, plain),
            }
        }
        other => sqlite_error(source, other),
    }
}

/// Header bytes 18-19 say "WAL" when the source was in WAL mode. The image is stored in
/// rollback-journal form so it opens anywhere without `-wal`/`-shm` files; restore gives the
/// live file back its own mode.
fn mark_rollback_mode(image: &Path) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = store::no_follow()
        .read(true)
        .write(true)
        .open(image)
        .map_err(|e| store::write_error(image, e))?;
    let mut header = [0u8; 20];
    file.read_exact(&mut header)
        .map_err(|e| store::write_error(image, e))?;
    if header[18] == 2 || header[19] == 2 {
        file.seek(SeekFrom::Start(18))
            .and_then(|_| file.write_all(&[1, 1]))
            .map_err(|e| store::write_error(image, e))?;
    }
    Ok(())
}

/// The first problem `PRAGMA integrity_check` finds in an image file (one line), if any; a file
/// SQLite cannot even read is a problem too, named by SQLite's error.
pub fn integrity_problem(image: &Path) -> Result<Option<String>> {
    let conn = Connection::open_with_flags(
        image,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(|e| sqlite_error(image, e))?;
    let first = match conn.query_row("PRAGMA integrity_check(1)", [], |r| r.get::<_, String>(0)) {
        Ok(first) if first == "ok" => return Ok(None),
        Ok(first) => first,
        Err(e) => e.to_string(),
    };
    // SQLite's report spans lines ("*** in database main ***" then the problem); errors stay
    // one line.
    Ok(Some(
        first
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("*** in database main *** ", ""),
    ))
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
        return Err(EngineError::PageSizeUnchanged {
            image: image.display().to_string(),
            page_size,
        }
        .into());
    }
    Ok(())
}

/// Copies the image into the live database with the backup API, in one step: SQLite writes it
/// as one transaction through the live file's own journal (or WAL), so the app's connections
/// see either the old or the new contents, never a mix, and a failure rolls back.
fn copy_into_live(image: &Path, live: &mut Database) -> Result<()> {
    let src = Connection::open_with_flags(
        image,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_error(image, e))?;
    let path = live.path.clone();
    let backup = Backup::new(&src, &mut live.conn).map_err(|e| sqlite_error(&path, e))?;
    let started = Instant::now();
    loop {
        match backup.step(-1).map_err(|e| copy_error(&path, e))? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            _ => {
                // The app holds the file: wait like SQLite would, up to the busy timeout.
                if started.elapsed() > live.busy_timeout {
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

/// A failed copy step. SQLite sets no message on the destination for a backup step ("not an
/// error"): the cause is named from the code, and a full disk or I/O error as a write failure.
fn copy_error(live: &Path, err: rusqlite::Error) -> anyhow::Error {
    use rusqlite::ErrorCode::*;
    let rusqlite::Error::SqliteFailure(e, _) = err else {
        return sqlite_error(live, err);
    };
    let cannot_write = |why| {
        EngineError::CannotWrite {
            file: live.display().to_string(),
            why,
        }
        .into()
    };
    match e.code {
        DiskFull => cannot_write(WriteFailure::DiskFull),
        SystemIoFailure => cannot_write(WriteFailure::Io(e.to_string())),
        _ => sqlite_error(live, rusqlite::Error::SqliteFailure(e, None)),
    }
}
