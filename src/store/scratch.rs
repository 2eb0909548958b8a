//! Large scratch files beside a live database (images, extracted copies) and their removal a
//! step at a time (design.md §3.4).
//!
//! Unlinking a 1 GiB file frees all of its blocks at once. On a file system mounted with
//! `discard` (usual on cloud disks) the journal commits that follow discard all of them: the
//! unlink took 1.7 s, and each of the app's commits meanwhile (an fsync) waited up to 150 ms,
//! the worst waits of a whole WAL-mode snapshot. So a scratch file is shrunk a step at a time,
//! each step committed by an fsync of its own, and the app's commits get in between the steps
//! (RocksDB's `DeleteScheduler` truncates big files in chunks for the same reason).

use std::fs::OpenOptions;
use std::ops::Deref;
use std::path::Path;

use tempfile::{PathPersistError, TempPath};

use crate::store::FlushBehind;

/// Bytes freed by the first step: about 25 ms of discard on the disk the figure above was
/// measured on. The steps after it follow the disk: a step synced in less than half of
/// [`STEP_TIME`] doubles the next, one that took longer than it halves the next, within
/// [`MIN_STEP`]..[`MAX_STEP`] (on a disk that discards quickly, 1 GiB in 64 steps took 0.3 s).
const STEP: u64 = 16 << 20;
const MIN_STEP: u64 = 4 << 20;
const MAX_STEP: u64 = 256 << 20;
/// What one step may hold the app's commits up: about what the first step cost where measured.
const STEP_TIME: std::time::Duration = std::time::Duration::from_millis(25);

/// A temp file that is removed, a step at a time, when dropped (also on every error path).
#[derive(Debug)]
pub struct Scratch(Option<TempPath>);

impl Scratch {
    fn new(path: TempPath) -> Scratch {
        Scratch(Some(path))
    }

    /// A new empty file named `<prefix><random><suffix>` in `dir`.
    pub fn create_in(dir: &Path, prefix: &str, suffix: &str) -> anyhow::Result<Scratch> {
        tempfile::Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .tempfile_in(dir)
            .map(|f| Scratch::new(f.into_temp_path()))
            .map_err(|e| crate::store::write_error(dir, e))
    }

    /// [`Scratch::create_in`], with the new file open for reading and writing.
    pub fn create_open_in(
        dir: &Path,
        prefix: &str,
        suffix: &str,
    ) -> anyhow::Result<(Scratch, std::fs::File)> {
        tempfile::Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .tempfile_in(dir)
            .map(|f| {
                let (file, path) = f.into_parts();
                (Scratch::new(path), file)
            })
            .map_err(|e| crate::store::write_error(dir, e))
    }

    /// Gives the file its final name; it is no longer removed. When that fails it is removed
    /// as on drop, a step at a time.
    pub fn persist(mut self, to: &Path) -> std::io::Result<()> {
        match self.0.take().map(|path| path.persist(to)) {
            Some(Err(PathPersistError { error, path })) => {
                self.0 = Some(path);
                Err(error)
            }
            _ => Ok(()),
        }
    }
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            shrink_in_steps(&path);
            // TempPath's own drop unlinks what is left.
        }
    }
}

/// Best effort: whatever fails here, the unlink that follows still removes the file.
fn shrink_in_steps(path: &Path) {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let Ok(file) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    else {
        return;
    };
    // Only our own file: a name swapped for a hard link to another file is just unlinked.
    let Ok((mut len, 1)) = file.metadata().map(|m| (m.len(), m.nlink())) else {
        return;
    };
    // Each step's fsync would write whatever of the file is still only in the page cache (an
    // image rewritten by VACUUM) in one burst: it is written back window by window first.
    let mut paced = FlushBehind::new(file);
    paced.grown_to(len);
    let file = paced.get_ref();
    let mut step = STEP;
    while len > step {
        len -= step;
        let started = std::time::Instant::now();
        if file.set_len(len).and_then(|()| file.sync_all()).is_err() {
            return;
        }
        let took = started.elapsed();
        if took < STEP_TIME / 2 {
            step = (step * 2).min(MAX_STEP);
        } else if took > STEP_TIME {
            step = (step / 2).max(MIN_STEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_of(len: u64) -> (tempfile::TempDir, std::path::PathBuf, Scratch) {
        let dir = tempfile::tempdir().unwrap();
        let file = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        file.as_file().set_len(len).unwrap();
        let path = file.path().to_path_buf();
        (dir, path, Scratch::new(file.into_temp_path()))
    }

    #[test]
    fn a_dropped_scratch_file_is_gone_whatever_its_size() {
        for len in [0, STEP - 1, 3 * STEP + 17] {
            let (_dir, path, scratch) = scratch_of(len);
            assert_eq!(&*scratch, path.as_path());
            assert!(path.exists());
            drop(scratch);
            assert!(!path.exists(), "{len}");
        }
    }

    /// A name swapped for a hard link to another file: the name goes, the file keeps its bytes.
    #[test]
    fn a_hard_link_in_place_of_the_scratch_file_is_not_shrunk() {
        let (dir, path, scratch) = scratch_of(0);
        let other = dir.path().join("other.db");
        std::fs::File::create(&other)
            .unwrap()
            .set_len(2 * STEP + 5)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::hard_link(&other, &path).unwrap();
        drop(scratch);
        assert!(!path.exists());
        assert_eq!(std::fs::metadata(&other).unwrap().len(), 2 * STEP + 5);
    }

    #[test]
    fn a_persisted_scratch_file_keeps_its_contents_under_the_new_name() {
        let (dir, path, scratch) = scratch_of(2 * STEP + 5);
        let to = dir.path().join("kept.db");
        scratch.persist(&to).unwrap();
        assert!(!path.exists());
        assert_eq!(std::fs::metadata(&to).unwrap().len(), 2 * STEP + 5);
    }

    #[test]
    fn a_scratch_file_that_cannot_be_persisted_is_still_removed() {
        let (dir, path, scratch) = scratch_of(2 * STEP + 5);
        let to = dir.path().join("missing-dir").join("kept.db");
        assert!(scratch.persist(&to).is_err());
        assert!(!path.exists());
        assert!(!to.exists());
    }
}
