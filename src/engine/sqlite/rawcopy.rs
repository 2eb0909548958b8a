//! The consistent image of a rollback-journal database, taken as a raw copy of its pages under
//! SQLite's SHARED lock (design.md §3): the shortest lock window there is (memory/disk speed, no
//! restarts, however busy the app is). Compression, checksums and the integrity check run on the
//! copy after the lock is released.
//!
//! The pages are read through SQLite's own file handle (`SQLITE_FCNTL_FILE_POINTER` and the
//! VFS's `xRead`), never through a second descriptor of the database file: POSIX locks belong to
//! the process, and closing any other descriptor of the file would drop the SHARED lock that
//! keeps writers out while the copy runs.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Result;
use rusqlite::ffi;

use crate::engine::sqlite::open::Pages;
use crate::engine::sqlite::{sqlite_error, Database};
use crate::engine::EngineError;
use crate::engine::{ImageTap, Progress};
use crate::failpoint;
use crate::render::labels::{copy_notice, CopyNotice};
use crate::store::{self, FlushBehind};

/// Bytes per read: a multiple of every page size SQLite allows (512 B to 64 KiB).
pub(super) const CHUNK: usize = 4 << 20;

/// Bytes of the image compared at a time with a chunk of the live file that differs from it
/// (the chunk's hash did not match): a fraction of a chunk, so that the threads comparing
/// hold little memory.
const COMPARED: usize = 256 << 10;

/// Copies the database of `source` (a rollback-journal file) into `out`, page for page.
///
/// Two passes: first, without any lock, the file as it is now (possibly torn by a writer: it is
/// only a draft, and it puts the image's pages in place, which is what costs time), keeping a
/// seeded hash of each chunk; then, under the SHARED lock of a read transaction, every chunk of
/// the file is read again and hashed, and only chunks whose hash differs from the draft's are
/// written. The lock is held for one read of the file from the page cache (the draft is never
/// read back under it), and the result is exactly the committed state the lock protects.
/// `out` is not synced (a scratch file), but its draft is written back as it grows so that the
/// app's commits never wait behind a burst of it (design.md §3.4). The draft is shown to `tap`.
pub fn copy(
    source: &Database,
    out: File,
    image: &Path,
    progress: &Progress,
    tap: &mut dyn ImageTap,
) -> Result<Pages> {
    let file = main_file(source)?;
    let mut out = FlushBehind::ahead(out);
    let drafted = draft(source, file, &mut out, image, progress, tap)?;
    tap.drafted();
    failpoint::hit("pause-snapshot-after-draft");
    let mut buffers = LockedBuffers::new();
    // Under the SHARED lock from its first read to its end: the app's writers wait.
    let started = std::time::Instant::now();
    let result = source.in_read_transaction(|| {
        let Pages {
            page_size,
            page_count,
        } = source.pages()?;
        let total = page_count * u64::from(page_size);
        settle(
            source,
            file,
            out.get_ref(),
            image,
            total,
            &drafted,
            &mut buffers,
        )?;
        Ok(Pages {
            page_size,
            page_count,
        })
    });
    if progress.verbose && result.is_ok() {
        let ms = started.elapsed().as_millis();
        copy_notice(CopyNotice::HeldWriters { ms });
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

/// One seeded hash per chunk of a file, taken without any lock, so that the locked pass reads
/// only the live file and skips a chunk whose hash matches. The seed is random: the app's data
/// cannot be shaped to collide with what it replaces.
struct ChunkHashes {
    seed: u64,
    chunks: Vec<u128>,
}

impl ChunkHashes {
    fn new(size: u64) -> ChunkHashes {
        ChunkHashes {
            seed: fastrand::u64(..),
            chunks: Vec::with_capacity(size.div_ceil(CHUNK as u64) as usize),
        }
    }

    fn hash(&self, bytes: &[u8]) -> u128 {
        xxhash_rust::xxh3::xxh3_128_with_seed(bytes, self.seed)
    }

    /// Whether chunk `index` held exactly `bytes` (the hash covers the length too).
    fn matches(&self, index: usize, bytes: &[u8]) -> bool {
        self.chunks.get(index) == Some(&self.hash(bytes))
    }
}

/// The unlocked first pass: the file's current bytes, torn or not, into `out`.
fn draft(
    source: &Database,
    file: *mut ffi::sqlite3_file,
    out: &mut FlushBehind,
    image: &Path,
    progress: &Progress,
    tap: &mut dyn ImageTap,
) -> Result<ChunkHashes> {
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
    let mut drafted = ChunkHashes::new(size);
    let bar = crate::progress::bytes_if(progress.bars, size, &progress.label);
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
        drafted.chunks.push(drafted.hash(&buf[..n]));
        tap.wrote(offset, &buf[..n]);
        offset += n as u64;
        bar.set_position(offset);
    }
    bar.finish_and_clear();
    Ok(drafted)
}

/// The locked second pass: makes `out` equal to the first `total` bytes of the file, writing
/// only the chunks whose hash differs from the draft's.
fn settle(
    source: &Database,
    file: *mut ffi::sqlite3_file,
    out: &File,
    image: &Path,
    total: u64,
    drafted: &ChunkHashes,
    buffers: &mut LockedBuffers,
) -> Result<()> {
    each_chunk_in_parallel(source, file, total, buffers, &|chunk, offset, live| {
        // A chunk the draft holds only in part (the file grew) has another hash: rewritten.
        if !drafted.matches(chunk, live) {
            store::write_all_at(out, live, offset).map_err(|e| store::write_error(image, e))?;
        }
        failpoint::hit("pause-snapshot-raw-copy");
        Ok(())
    })?;
    out.set_len(total)
        .map_err(|e| store::write_error(image, e))?;
    Ok(())
}

/// Threads reading the live file under a lock (each holds one chunk buffer).
const LOCKED_READERS: usize = 4;

/// A chunk buffer for each thread that reads under a lock, made and touched before the lock is
/// taken: no page of it is faulted in while the app's writers wait.
struct LockedBuffers(Vec<Vec<u8>>);

impl LockedBuffers {
    fn new() -> LockedBuffers {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, LOCKED_READERS);
        // Filled with a non-zero byte, so that every page is touched now.
        LockedBuffers((0..threads).map(|_| vec![1u8; CHUNK]).collect())
    }
}

/// SQLite's handle of the database file, read by several threads at once under a lock.
/// The unix VFS's `xRead` is a `pread` at an explicit offset and keeps no position: concurrent
/// reads are safe, and the connection is not used meanwhile.
struct SharedFile(*mut ffi::sqlite3_file);
// SAFETY: see above; the pointer outlives the scope the threads run in.
unsafe impl Sync for SharedFile {}

/// What is done with each chunk read under the lock: `(index, offset, bytes)`.
type EachChunk<'a> = dyn Fn(usize, u64, &[u8]) -> Result<()> + Sync + 'a;

enum ChunkFailure {
    Read(i32),
    Other(anyhow::Error),
    Panicked,
}

/// Reads the first `total` bytes of the file chunk by chunk, on a few threads at once, and
/// hands each chunk to `each(index, offset, bytes)`. It runs under a lock: the app's writers
/// are waiting, not using the CPU, and reading and hashing the file is what the window costs.
fn each_chunk_in_parallel(
    source: &Database,
    file: *mut ffi::sqlite3_file,
    total: u64,
    LockedBuffers(buffers): &mut LockedBuffers,
    each: &EachChunk<'_>,
) -> Result<()> {
    let chunks = total.div_ceil(CHUNK as u64) as usize;
    // The buffers outlive the lock: none is freed while it is held.
    let workers = buffers.len().min(chunks.max(1));
    let handle = SharedFile(file);
    let next = AtomicUsize::new(0);
    let failures: Vec<Option<ChunkFailure>> = std::thread::scope(|scope| {
        let (handle, next) = (&handle, &next);
        let workers: Vec<_> = (buffers.iter_mut().take(workers))
            .map(|live| scope.spawn(move || read_chunks(handle, total, next, each, live)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or(Some(ChunkFailure::Panicked)))
            .collect()
    });
    match failures.into_iter().flatten().next() {
        Some(ChunkFailure::Read(rc)) => Err(io_failure(source, rc)),
        Some(ChunkFailure::Other(e)) => Err(e),
        Some(ChunkFailure::Panicked) => Err(io_failure(source, ffi::SQLITE_IOERR)),
        None => Ok(()),
    }
}

/// One worker of [`each_chunk_in_parallel`]: takes the next chunk until none is left, or until
/// a worker ended (it moves `next` past the end).
fn read_chunks(
    file: &SharedFile,
    total: u64,
    next: &AtomicUsize,
    each: &EachChunk<'_>,
    live: &mut [u8],
) -> Option<ChunkFailure> {
    // However this worker ends, no chunk is handed out after it: when it failed or panicked the
    // others stop early (the lock is held until all have returned), and when it found none left
    // they would have stopped anyway.
    struct StopAll<'a>(&'a AtomicUsize);
    impl Drop for StopAll<'_> {
        fn drop(&mut self) {
            self.0.store(usize::MAX / 2, Ordering::Relaxed);
        }
    }
    let _stop = StopAll(next);
    loop {
        let chunk = next.fetch_add(1, Ordering::Relaxed);
        let offset = (chunk as u64).saturating_mul(CHUNK as u64);
        if offset >= total {
            return None;
        }
        let n = (total - offset).min(CHUNK as u64) as usize;
        let rc = read_at(file.0, &mut live[..n], offset);
        if rc != ffi::SQLITE_OK {
            return Some(ChunkFailure::Read(rc));
        }
        if let Err(e) = each(chunk, offset, &live[..n]) {
            return Some(ChunkFailure::Other(e));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Restore: the prepared image into the live rollback-journal database.

/// The rollback journal's magic (SQLite file format, "The Rollback Journal").
const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
/// The journal header's sector size: any power of two from 32 does for playback.
const JOURNAL_SECTOR: usize = 512;

/// SQLite's journal checksum of one page: the nonce plus every 200th byte from the end.
fn page_checksum(nonce: u32, page: &[u8]) -> u32 {
    let mut sum = nonce;
    let mut i = page.len() as i64 - 200;
    while i > 0 {
        sum = sum.wrapping_add(u32::from(page[i as usize]));
        i -= 200;
    }
    sum
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Writes the verified image `image` (same page size) into the live database of `live`, which
/// is in a rollback-journal mode, as one crash-safe transaction that writes only the pages that
/// differ (design.md §3):
///
/// under SQLite's EXCLUSIVE lock (`BEGIN EXCLUSIVE`, which waits up to the busy timeout), every
/// page is compared with the image; the old contents of the differing pages go into a rollback
/// journal in SQLite's own format beside the database, which is synced; then the new pages are
/// written through SQLite's file handle, the file is synced and the journal deleted (the
/// commit). A crash before that leaves a hot journal, which the next connection of any process
/// rolls back, as after any crashed writer. Page 1 gets a new change counter and schema cookie,
/// so every connection of the app drops its cache. The image's chunks are hashed before the
/// lock: it is held for one read of the live file plus the writes of the changed pages.
pub fn write_into(live: &Database, image: &Path, progress: &Progress) -> Result<()> {
    let conn = &live.conn;
    let src_err = |e| sqlite_error(&live.path, e);
    // Read before the lock: under it, only the live file is read.
    let image_hashes = hash_chunks(image)?;
    let mut buffers = LockedBuffers::new();
    conn.execute_batch("BEGIN EXCLUSIVE").map_err(src_err)?;
    let started = std::time::Instant::now();
    // The name SQLite itself uses (the database's full path, symlinks resolved), so that any
    // connection finds the journal after a crash.
    let mut journal = main_file_name(live).unwrap_or_else(|| live.path.clone().into_os_string());
    journal.push("-journal");
    let journal = PathBuf::from(journal);
    let result = write_locked(live, image, &image_hashes, &journal, &mut buffers);
    match &result {
        Ok(()) => {
            let _ = conn.execute_batch("COMMIT");
        }
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
            // A journal left by a failed write is hot: the first read rolls it back now.
            if journal.exists() {
                let _ = conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()));
            }
        }
    }
    if progress.verbose && result.is_ok() {
        let ms = started.elapsed().as_millis();
        copy_notice(CopyNotice::HeldAll { ms });
    }
    result
}

/// The main database file's name as SQLite holds it, byte for byte (a path need not be UTF-8).
fn main_file_name(live: &Database) -> Option<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: the handle is open for the life of `live`; SQLite returns a NUL-terminated name
    // that lives as long as the connection, or NULL. The bytes are copied before returning.
    let name = unsafe {
        let raw = ffi::sqlite3_db_filename(live.conn.handle(), c"main".as_ptr());
        if raw.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(raw).to_bytes()
    };
    (!name.is_empty()).then(|| std::ffi::OsStr::from_bytes(name).to_os_string())
}

/// The hashes of `image`'s chunks (read once, before any lock is taken).
fn hash_chunks(image: &Path) -> Result<ChunkHashes> {
    use std::io::Read;
    let err = |e| store::write_error(image, e);
    let mut file = File::open(image).map_err(err)?;
    let mut hashes = ChunkHashes::new(file.metadata().map_err(err)?.len());
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut n = 0;
        while n < CHUNK {
            match file.read(&mut buf[n..]).map_err(err)? {
                0 => break,
                got => n += got,
            }
        }
        if n == 0 {
            return Ok(hashes);
        }
        hashes.chunks.push(hashes.hash(&buf[..n]));
    }
}

fn write_locked(
    live: &Database,
    image: &Path,
    image_hashes: &ChunkHashes,
    journal_path: &Path,
    buffers: &mut LockedBuffers,
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let Pages {
        page_size,
        page_count: live_pages,
    } = live.pages()?;
    let ps = page_size as usize;
    let img = File::open(image).map_err(|e| store::write_error(image, e))?;
    let img_len = img
        .metadata()
        .map_err(|e| store::write_error(image, e))?
        .len();
    let img_pages = img_len / ps as u64;
    let mut first = [0u8; 100];
    img.read_exact_at(&mut first, 0)
        .map_err(|e| store::write_error(image, e))?;
    let img_page_size = match u16::from_be_bytes([first[16], first[17]]) {
        1 => 65_536,
        n => u32::from(n),
    };
    if img_len % ps as u64 != 0 || img_page_size != page_size {
        return Err(EngineError::PageSizeDiffers {
            image: image.display().to_string(),
        }
        .into());
    }
    // The lock-byte page (at 1 GiB) is never used by SQLite, nor journaled.
    let lock_page = (0x4000_0000u64 / u64::from(page_size)) + 1;
    let file = main_file(live)?;
    let jerr = |e| store::write_error(journal_path, e);

    // 1. Compare; journal the old contents of what differs (and of what the image cuts off).
    let nonce: u32 = fastrand::u32(..);
    let mut header = vec![0u8; JOURNAL_SECTOR];
    header[..8].copy_from_slice(&JOURNAL_MAGIC);
    header[12..16].copy_from_slice(&nonce.to_be_bytes());
    header[16..20].copy_from_slice(&(live_pages as u32).to_be_bytes());
    header[20..24].copy_from_slice(&(JOURNAL_SECTOR as u32).to_be_bytes());
    header[24..28].copy_from_slice(&page_size.to_be_bytes());
    // Under the exclusive lock no journal is hot (SQLite rolled back any when the lock was
    // taken); a file left by the persist/truncate modes, or anything planted under that name (a
    // symlink), is removed, and the journal is created new: never written through a link.
    match fs::remove_file(journal_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(jerr(e)),
    }
    let jfile = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(journal_path)
        .map_err(jerr)?;
    let mut journal = std::io::BufWriter::with_capacity(COMPARED, jfile);
    journal.write_all(&header).map_err(jerr)?;
    // The chunks are compared on a few threads; each journals the pages of its chunk that
    // differ, in any order (playback writes each page to its own place).
    let journaled = Mutex::new((journal, Vec::<u64>::new()));
    each_chunk_in_parallel(
        live,
        file,
        live_pages * ps as u64,
        buffers,
        &|chunk, offset, old| {
            // Most chunks are as in the image: their hash says so without reading the image.
            if offset > 0 && image_hashes.matches(chunk, old) {
                return Ok(());
            }
            let mut new = vec![0u8; COMPARED.min(old.len())];
            for (i, old) in old.chunks(COMPARED).enumerate() {
                let offset = offset + (i * COMPARED) as u64;
                let pg = offset / ps as u64 + 1;
                // Image pages past its end count as different (the live file is cut back).
                let have = img_pages
                    .saturating_sub(pg - 1)
                    .min((old.len() / ps) as u64) as usize
                    * ps;
                img.read_exact_at(&mut new[..have], offset)
                    .map_err(|e| store::write_error(image, e))?;
                if pg > 1 && new[..have] == old[..] {
                    continue;
                }
                let mut journaled = journaled.lock().unwrap_or_else(|e| e.into_inner());
                let (journal, changed) = &mut *journaled;
                for (k, page) in old.chunks_exact(ps).enumerate() {
                    let p = pg + k as u64;
                    let (a, b) = (k * ps, (k + 1) * ps);
                    // Page 1 always changes: it gets a new change counter.
                    let differs = p == 1 || b > have || page != &new[a..b];
                    if differs && p != lock_page {
                        journal.write_all(&(p as u32).to_be_bytes()).map_err(jerr)?;
                        journal.write_all(page).map_err(jerr)?;
                        journal
                            .write_all(&page_checksum(nonce, page).to_be_bytes())
                            .map_err(jerr)?;
                        changed.push(p);
                    }
                }
            }
            Ok(())
        },
    )?;
    let (journal, mut changed) = journaled.into_inner().unwrap_or_else(|e| e.into_inner());
    changed.sort_unstable();
    // Pages the image adds at the end need no journal: the rollback cuts the file back.
    let live_first = {
        let mut page = vec![0u8; ps];
        let rc = read_at(file, &mut page, 0);
        if rc != ffi::SQLITE_OK {
            return Err(io_failure(live, rc));
        }
        page
    };
    let jfile = journal.into_inner().map_err(|e| jerr(e.into_error()))?;
    jfile
        .write_all_at(&(changed.len() as u32).to_be_bytes(), 8)
        .and_then(|_| jfile.sync_all())
        .map_err(jerr)?;
    store::sync_dir(store::parent_dir(journal_path))?;
    failpoint::hit("restore-after-journal");

    // 2. The new pages, through SQLite's handle.
    let write_page = |p: u64, data: &[u8]| -> Result<()> {
        // SAFETY: as in `read_at`; `data` holds one page.
        let rc = unsafe {
            match (*(*file).pMethods).xWrite {
                Some(x_write) => x_write(
                    file,
                    data.as_ptr().cast(),
                    data.len() as i32,
                    ((p - 1) * ps as u64) as i64,
                ),
                None => ffi::SQLITE_IOERR,
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(io_failure(live, rc));
        }
        Ok(())
    };
    let mut page = vec![0u8; ps];
    let appended = (live_pages + 1)..=img_pages;
    let mut written = 0usize;
    for p in changed
        .iter()
        .copied()
        .filter(|&p| p <= img_pages)
        .chain(appended)
    {
        if p == lock_page {
            continue;
        }
        img.read_exact_at(&mut page, (p - 1) * ps as u64)
            .map_err(|e| store::write_error(image, e))?;
        if p == 1 {
            // A change counter and schema cookie that no connection has seen: they reload.
            let counter = be32(&live_first, 24).wrapping_add(1).to_be_bytes();
            page[24..28].copy_from_slice(&counter);
            page[92..96].copy_from_slice(&counter);
            let cookie = be32(&live_first, 40).max(be32(&page, 40)).wrapping_add(1);
            page[40..44].copy_from_slice(&cookie.to_be_bytes());
        }
        write_page(p, &page)?;
        written += 1;
        if written == 1 {
            // A crash with some pages written (tests).
            failpoint::hit("restore-mid-copy");
        }
    }
    // SAFETY: as in `read_at`.
    let rc = unsafe {
        let methods = &*(*file).pMethods;
        let mut rc = ffi::SQLITE_OK;
        if img_pages < live_pages {
            rc = match methods.xTruncate {
                Some(x_truncate) => x_truncate(file, (img_pages * ps as u64) as i64),
                None => ffi::SQLITE_IOERR,
            };
        }
        if rc == ffi::SQLITE_OK {
            rc = match methods.xSync {
                Some(x_sync) => x_sync(file, ffi::SQLITE_SYNC_NORMAL),
                None => ffi::SQLITE_IOERR,
            };
        }
        rc
    };
    if rc != ffi::SQLITE_OK {
        return Err(io_failure(live, rc));
    }
    // Every page written and synced, the journal not yet gone (tests: its playback must undo
    // all of them, journaled by several threads).
    failpoint::hit("restore-before-commit");
    // 3. The commit: the journal goes.
    fs::remove_file(journal_path).map_err(jerr)?;
    store::sync_dir(store::parent_dir(journal_path))?;
    Ok(())
}
