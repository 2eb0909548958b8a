//! The consistent image of a rollback-journal database, taken as a raw copy of its pages under
//! SQLite's SHARED lock (design.md §3): the shortest lock window there is (memory/disk speed, no
//! restarts, however busy the app is). Compression, checksums and the integrity check run on the
//! copy after the lock is released.
//!
//! The pages are read through SQLite's own file handle (`SQLITE_FCNTL_FILE_POINTER` and the
//! VFS's `xRead`), never through a second descriptor of the database file: POSIX locks belong to
//! the process, and closing any other descriptor of the file would drop the SHARED lock that
//! keeps writers out while the copy runs.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use rusqlite::ffi;

use crate::db::{sqlite_error, Database};
use crate::failpoint;
use crate::settings::Settings;
use crate::store;
use crate::t;

/// Bytes per read: a multiple of every page size SQLite allows (512 B to 64 KiB).
const CHUNK: usize = 4 << 20;

/// The size of the copied image.
pub struct Copied {
    pub page_size: u32,
    pub page_count: u64,
}

/// Copies the database of `source` (a rollback-journal file) into `out`, page for page.
///
/// Two passes: first, without any lock, the file as it is now (possibly torn by a writer: it is
/// only a draft, and it puts the image's pages in place, which is what costs time); then, under
/// the SHARED lock of a read transaction, every chunk is read again and compared with the draft,
/// and only chunks that differ are written. The lock is held for about two reads of the file
/// from the page cache, and the result is exactly the committed state the lock protects.
/// `out` is not synced (a scratch file).
pub fn copy(source: &Database, out: File, image: &Path, settings: &Settings) -> Result<Copied> {
    let conn = &source.conn;
    let src_err = |e| sqlite_error(&source.path, e);
    let file = main_file(source)?;
    let mut out = out;
    draft(source, file, &mut out, image, settings)?;
    failpoint::hit("pause-snapshot-after-draft");
    // The first read of a deferred transaction takes the SHARED lock (waiting up to the busy
    // timeout for a writer) and keeps it until COMMIT.
    conn.execute_batch("BEGIN").map_err(src_err)?;
    let started = std::time::Instant::now();
    let result = (|| {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(src_err)?;
        let page_size: u32 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(src_err)?;
        let page_count: u64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(src_err)?;
        let total = page_count * u64::from(page_size);
        settle(source, file, &mut out, image, total)?;
        Ok(Copied {
            page_size,
            page_count,
        })
    })();
    // Ends the read transaction: the app's writers may go on.
    let _ = conn.execute_batch("COMMIT");
    if settings.verbose && result.is_ok() {
        let ms = started.elapsed().as_millis();
        crate::output::notice(&t!(
            "앱의 쓰기를 {ms} ms 동안 막았습니다 (읽기 잠금)",
            "held the app's writers for {ms} ms (read lock)"
        ));
    }
    result
}

/// The file handle SQLite reads "main" through.
fn main_file(source: &Database) -> Result<*mut ffi::sqlite3_file> {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: `handle` is the open connection's pointer; the file control writes one pointer.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            source.conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&mut file as *mut *mut ffi::sqlite3_file).cast(),
        )
    };
    // SAFETY: a non-null file has its methods set while the connection is open.
    if rc != ffi::SQLITE_OK || file.is_null() || unsafe { (*file).pMethods.is_null() } {
        return Err(io_failure(source, rc));
    }
    Ok(file)
}

fn io_failure(source: &Database, rc: i32) -> anyhow::Error {
    sqlite_error(
        &source.path,
        rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None),
    )
}

/// Reads `buf.len()` bytes at `offset` through SQLite's handle. A short read (past the end of
/// the file) is zero-filled by the VFS and reported as `SQLITE_IOERR_SHORT_READ`.
fn read_at(file: *mut ffi::sqlite3_file, buf: &mut [u8], offset: u64) -> i32 {
    // SAFETY: `file` is the live handle of an open connection (checked in `main_file`); `buf`
    // holds `buf.len()` writable bytes.
    unsafe {
        match (*(*file).pMethods).xRead {
            Some(x_read) => x_read(
                file,
                buf.as_mut_ptr().cast(),
                buf.len() as i32,
                offset as i64,
            ),
            None => ffi::SQLITE_IOERR,
        }
    }
}

/// The unlocked first pass: the file's current bytes, torn or not, into `out`.
fn draft(
    source: &Database,
    file: *mut ffi::sqlite3_file,
    out: &mut File,
    image: &Path,
    settings: &Settings,
) -> Result<()> {
    let mut size: i64 = 0;
    // SAFETY: as in `read_at`; xFileSize writes one integer.
    let rc = unsafe {
        match (*(*file).pMethods).xFileSize {
            Some(x_size) => x_size(file, &mut size),
            None => ffi::SQLITE_IOERR,
        }
    };
    if rc != ffi::SQLITE_OK {
        return Err(io_failure(source, rc));
    }
    let size = size.max(0) as u64;
    let bar = crate::progress::bytes(settings, size, &t!("스냅샷 복사", "copying database"));
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    while offset < size {
        let n = (size - offset).min(CHUNK as u64) as usize;
        let rc = read_at(file, &mut buf[..n], offset);
        // The file may shrink meanwhile: the locked pass decides what the image holds.
        if rc != ffi::SQLITE_OK && rc != ffi::SQLITE_IOERR_SHORT_READ {
            return Err(io_failure(source, rc));
        }
        out.write_all(&buf[..n])
            .map_err(|e| store::write_error(image, e))?;
        offset += n as u64;
        bar.set_position(offset);
    }
    bar.finish_and_clear();
    Ok(())
}

/// The locked second pass: makes `out` equal to the first `total` bytes of the file, writing
/// only the chunks that differ from the draft.
fn settle(
    source: &Database,
    file: *mut ffi::sqlite3_file,
    out: &mut File,
    image: &Path,
    total: u64,
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let werr = |e| store::write_error(image, e);
    let drafted = out.metadata().map_err(werr)?.len();
    let mut live = vec![0u8; CHUNK];
    let mut old = vec![0u8; CHUNK];
    let mut offset = 0u64;
    while offset < total {
        let n = (total - offset).min(CHUNK as u64) as usize;
        let rc = read_at(file, &mut live[..n], offset);
        if rc != ffi::SQLITE_OK {
            return Err(io_failure(source, rc));
        }
        let same = offset + n as u64 <= drafted && {
            out.read_exact_at(&mut old[..n], offset).map_err(werr)?;
            old[..n] == live[..n]
        };
        if !same {
            out.write_all_at(&live[..n], offset).map_err(werr)?;
        }
        offset += n as u64;
        failpoint::hit("pause-snapshot-raw-copy");
    }
    out.set_len(total).map_err(werr)?;
    Ok(())
}
