//! Flush-behind for the large files jobsweep writes beside a live database: images, compressed
//! snapshots, extracted copies (design.md §3.4).
//!
//! Left alone, the kernel lets hundreds of MiB of such a file pile up in the page cache and then
//! writes them back in one burst (after 30 s, under memory pressure, or at our own fsync). The
//! app's commits are small fsyncs, and they queue behind that burst for seconds: on ext4's default
//! `data=ordered`, a journal commit first writes out the data newly allocated to any file.
//! Here each window is handed to the disk as soon as it is written and the window before it is
//! waited for, so no more than two windows of a file are ever queued at the disk (PostgreSQL's
//! `backend_flush_after` does the same for the same reason).
//!
//! A scratch image ([`FlushBehind::ahead`]) is paced by a thread of its own instead, and its
//! writer may run ahead of the disk by a bounded lead: pages only dirty in the page cache are
//! not queued at the disk (nor allocated, so no journal commit waits for them), and the copy
//! goes at memory speed while its writeback goes on behind it, beside compression.

use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};

/// Bytes per writeback request; at most two windows of a file are queued at the disk.
const WINDOW: u64 = 8 << 20;

/// Bytes per `write` call. Measured on this project's (Linux 6.18, ext4) machine, writing 1 GiB
/// into new pages of the page cache: 0.20-0.21 s of CPU in 256 KiB calls, 0.22-0.24 s in
/// 128 KiB, 0.56-0.78 s in 512 KiB, 1.6 s in 1 MiB (0.8 s in 4 KiB: the calls themselves);
/// 4 MiB calls ran at 20-30 MB/s about half the time, which made the 1 GiB draft of a snapshot
/// take 47 s instead of a few.
const PIECE: usize = 256 << 10;

/// Writes `bytes` at `offset` a [`PIECE`] at a time.
pub fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    for (i, piece) in bytes.chunks(PIECE).enumerate() {
        file.write_all_at(piece, offset + (i * PIECE) as u64)?;
    }
    Ok(())
}

/// A file written from its start, in order, whose pages are written back as it grows.
pub struct FlushBehind {
    file: File,
    /// Bytes written so far (the file's length when written in order from 0).
    written: u64,
    pacing: Pacing,
}

enum Pacing {
    /// The writer hands each window to the disk and waits for the one before.
    Inline {
        /// Start of the first window not yet handed to the disk.
        started: u64,
    },
    /// A thread of its own does ([`pace`]); the writer waits only when it is `lead` bytes
    /// ahead of what is written back (or less, by the disk's measured speed: see [`pace`]).
    Behind { shared: Arc<Shared>, lead: u64 },
}

/// What the writer and its pacing thread share.
#[derive(Default)]
struct Shared {
    state: Mutex<Paced>,
    changed: Condvar,
}

#[derive(Default)]
struct Paced {
    /// The writer's length so far.
    written: u64,
    /// Written back up to here.
    flushed: u64,
    /// The lead the disk's measured speed allows (`None` until measured; see [`pace`]).
    paced_lead: Option<u64>,
    /// The writer is done: the thread writes back the rest and ends.
    closed: bool,
    /// The thread ended: nothing waits for it any more.
    gone: bool,
}

impl FlushBehind {
    /// `file` is written from offset 0 (new or truncated), or grown by someone else who reports
    /// its length through [`FlushBehind::grown_to`].
    pub fn new(file: File) -> FlushBehind {
        FlushBehind {
            file,
            written: 0,
            pacing: Pacing::Inline { started: 0 },
        }
    }

    /// For a scratch file that is never synced: a thread writes it back window by window, as
    /// [`FlushBehind::new`] does, and goes on after the writer is done (until all of it is
    /// handed to the disk, or the process ends), while the writer runs up to [`lead`] bytes
    /// ahead.
    pub fn ahead(file: File) -> FlushBehind {
        FlushBehind::paced(file, lead())
    }

    fn paced(file: File, lead: u64) -> FlushBehind {
        let paced = file.try_clone().ok().filter(|_| lead > 2 * WINDOW);
        let Some(paced) = paced else {
            return FlushBehind::new(file);
        };
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("flush-behind".into())
            .spawn(move || pace(&paced, &theirs));
        match spawned {
            Ok(_detached) => FlushBehind {
                file,
                written: 0,
                pacing: Pacing::Behind { shared, lead },
            },
            Err(_) => FlushBehind::new(file),
        }
    }

    /// The file now holds `len` bytes written in order: starts the writeback of each whole
    /// window up to it, and waits for the one before (or, paced ahead, waits while `len` is
    /// more than the lead beyond what is written back).
    pub fn grown_to(&mut self, len: u64) {
        match &mut self.pacing {
            Pacing::Inline { started } => {
                while len.saturating_sub(*started) >= WINDOW {
                    start_writeback(&self.file, *started, WINDOW);
                    if let Some(previous) = started.checked_sub(WINDOW) {
                        wait_writeback(&self.file, previous, WINDOW);
                    }
                    *started += WINDOW;
                }
            }
            Pacing::Behind { shared, lead } => {
                let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                state.written = state.written.max(len);
                shared.changed.notify_all();
                while !state.gone
                    && state.written.saturating_sub(state.flushed)
                        > state.paced_lead.map_or(*lead, |paced| paced.min(*lead))
                {
                    state = shared
                        .changed
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// Bytes written through this writer so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl Drop for FlushBehind {
    fn drop(&mut self) {
        if let Pacing::Behind { shared, .. } = &self.pacing {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.closed = true;
            shared.changed.notify_all();
        }
    }
}

/// The pacing thread of [`FlushBehind::ahead`]: each whole window as the writer reports it,
/// then, once the writer is done, the rest.
fn pace(file: &File, shared: &Shared) {
    // However it ends, a writer waiting for it is let go.
    struct Gone<'a>(&'a Shared);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
            state.gone = true;
            self.0.changed.notify_all();
        }
    }
    let _gone = Gone(shared);
    let expiry = dirty_expiry();
    let began = std::time::Instant::now();
    let mut started = 0u64;
    loop {
        let (written, closed) = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            while !state.closed && state.written.saturating_sub(started) < WINDOW {
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
            (state.written, state.closed)
        };
        if written <= started {
            return;
        }
        // The last, partial window once the writer is done.
        let len = if closed {
            (written - started).min(WINDOW)
        } else {
            WINDOW
        };
        start_writeback(file, started, len);
        if let Some(previous) = started.checked_sub(WINDOW) {
            wait_writeback(file, previous, WINDOW);
        }
        if closed && len < WINDOW {
            wait_writeback(file, started, len);
        }
        let done = if closed && len < WINDOW {
            started + len
        } else {
            started
        };
        // `expiry` (30 s by default) after a file was first dirtied, the kernel writes back
        // whatever of it is still dirty, in a burst (`dirty_expire_centisecs`: per file, and a
        // file written all along never turns clean). So the lead is at most what the disk has
        // written back per quarter of it, and after half of it the lead is the two windows of
        // inline pacing: a quarter of it is left as a margin for a disk slower than measured.
        let (ahead_for, ahead_until) = (expiry / 4, expiry / 2);
        let late = began.elapsed() > ahead_until;
        let seconds = began.elapsed().as_secs_f64().max(0.001);
        let paced = (done as f64 / seconds * ahead_for.as_secs_f64()) as u64;
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.flushed = done;
        if late {
            state.paced_lead = Some(2 * WINDOW + 1);
        } else if done >= 4 * WINDOW {
            state.paced_lead = Some(paced.max(2 * WINDOW + 1));
        }
        shared.changed.notify_all();
        drop(state);
        started += len;
    }
}

/// How far a scratch file's writer may run ahead of its writeback: half of what the kernel
/// lets be dirty before its own background writeback starts (which would write it in a burst),
/// within the memory this process may use (a container's cgroup limit); at most [`MAX_LEAD`].
/// Without these figures, two windows (as [`FlushBehind::new`]).
fn lead() -> u64 {
    (dirty_background_threshold().unwrap_or(0) / 2).clamp(2 * WINDOW, MAX_LEAD)
}

/// The most a scratch file's writer runs ahead of its writeback.
const MAX_LEAD: u64 = 1 << 30;

/// How long after a file was first dirtied the kernel writes it back by itself.
fn dirty_expiry() -> std::time::Duration {
    let centis = std::fs::read_to_string("/proc/sys/vm/dirty_expire_centisecs")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(3000);
    std::time::Duration::from_millis(centis * 10)
}

#[cfg(target_os = "linux")]
fn dirty_background_threshold() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let number = |text: Option<String>| text?.trim().parse::<u64>().ok();
    // `key value` lines (/proc/meminfo in kB, a cgroup's memory.stat in bytes).
    let field = |text: &str, key: &str| -> Option<u64> {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    let global = field(&read("/proc/meminfo")?, "MemAvailable:")? * 1024;
    let mut available = global;
    // A container's or service's memory limit, as the kernel counts what is available to it:
    // the room left under the limit plus the page cache it could reclaim, the least over the
    // groups above this process (cgroup v2, from its own group up to the root; then v1).
    let mut groups: Vec<(String, &str, &str, &str)> = vec![(
        "/sys/fs/cgroup/memory".into(),
        "limit_in_bytes",
        "usage_in_bytes",
        "total_cache",
    )];
    let own = read("/proc/self/cgroup")
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .unwrap_or_default();
    let mut path = own.trim_end_matches('/').to_string();
    loop {
        groups.push((format!("/sys/fs/cgroup{path}"), "max", "current", "file"));
        match path.rfind('/') {
            Some(at) => path.truncate(at),
            None => break,
        }
    }
    for (dir, max, current, cache) in &groups {
        let (Some(max), Some(current)) = (
            number(read(&format!("{dir}/memory.{max}"))),
            number(read(&format!("{dir}/memory.{current}"))),
        ) else {
            continue;
        };
        let cache = read(&format!("{dir}/memory.stat"))
            .and_then(|stat| field(&stat, cache))
            .unwrap_or(0);
        available = available.min(max.saturating_sub(current).saturating_add(cache));
    }
    match number(read("/proc/sys/vm/dirty_background_bytes")) {
        // A byte count is the whole machine's: a group gets its share of it.
        Some(bytes) if bytes > 0 => {
            Some((bytes as u128 * available as u128 / global.max(1) as u128) as u64)
        }
        _ => Some(available / 100 * number(read("/proc/sys/vm/dirty_background_ratio"))?),
    }
}

#[cfg(not(target_os = "linux"))]
fn dirty_background_threshold() -> Option<u64> {
    None
}

impl Write for FlushBehind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(&buf[..buf.len().min(PIECE)])?;
        self.written += n as u64;
        self.grown_to(self.written);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

// Best effort: a file system without `sync_file_range` (or another OS) just keeps the kernel's
// own writeback; a real write error still surfaces at the write or the final sync.
#[cfg(target_os = "linux")]
fn sync_range(file: &File, offset: u64, len: u64, flags: libc::c_uint) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor; the call only schedules (or waits for) I/O of the file's own
    // pages.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            flags,
        );
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    sync_range(file, offset, len, libc::SYNC_FILE_RANGE_WRITE);
}

/// Also waits for the range's writeback to finish.
#[cfg(target_os = "linux")]
fn wait_writeback(file: &File, offset: u64, len: u64) {
    sync_range(
        file,
        offset,
        len,
        libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER,
    );
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

#[cfg(not(target_os = "linux"))]
fn wait_writeback(_: &File, _: u64, _: u64) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The wrapper changes when pages reach the disk, never what the file holds.
    #[test]
    fn writes_pass_through_unchanged_across_windows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        let data: Vec<u8> = (0..(2 * WINDOW + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut out = FlushBehind::new(File::create(&path).unwrap());
        for piece in data.chunks(1 << 20) {
            out.write_all(piece).unwrap();
        }
        out.flush().unwrap();
        assert_eq!(out.written, data.len() as u64);
        assert!(matches!(out.pacing, Pacing::Inline { started } if started == 2 * WINDOW));
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data);
    }

    /// Paced by its own thread, with a lead that makes the writer wait for it several times:
    /// the file holds what was written, and the thread ends once the writer is done.
    #[test]
    fn a_file_paced_ahead_holds_what_was_written_and_its_thread_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        let data: Vec<u8> = (0..(7 * WINDOW + 4_321)).map(|i| (i % 253) as u8).collect();
        let mut out = FlushBehind::paced(File::create(&path).unwrap(), 3 * WINDOW);
        let Pacing::Behind { shared, .. } = &out.pacing else {
            panic!("not paced by a thread");
        };
        let shared = Arc::clone(shared);
        for piece in data.chunks(3 << 20) {
            out.write_all(piece).unwrap();
            let state = shared.state.lock().unwrap();
            assert!(state.written - state.flushed <= 3 * WINDOW);
        }
        drop(out);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !shared.state.lock().unwrap().gone {
            assert!(
                std::time::Instant::now() < deadline,
                "the pacing thread never ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data);
    }

    /// The figures the lead comes from are read on Linux (else scratch files are paced inline).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_dirty_threshold_is_read() {
        assert!(dirty_background_threshold().is_some_and(|t| t > 0));
    }
}
