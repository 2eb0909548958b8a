//! The interface every home of the store's files implements (design.md §9): the local store
//! directory, a mounted remote path (`file:///`), an S3 bucket. Modelled on restic's backend:
//! objects are named by a kind (its directory) and a file name, saved from a reader, loaded to
//! a writer, listed from the objects themselves, and one test suite runs against every
//! implementation (`store::tests`).
//!
//! Commands never see which implementation they use; `Replica` (replica.rs) adds encryption on
//! top of any of them.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

/// The two directories of the store whose files are copied off the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Snapshots,
    Journals,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Snapshots, Kind::Journals];

    /// The directory name, locally and under a replica's prefix.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Snapshots => "snapshots",
            Kind::Journals => "journals",
        }
    }
}

/// One object: `snapshots/<id>.db.zst`, `journals/<id>.json`, ...
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Handle {
    pub kind: Kind,
    pub name: String,
}

impl Handle {
    pub fn new(kind: Kind, name: impl Into<String>) -> Handle {
        Handle {
            kind,
            name: name.into(),
        }
    }

    /// `snapshots/<name>`: the key under a backend's root.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind.dir(), self.name)
    }
}

/// What `list` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub handle: Handle,
    pub size: u64,
}

/// A place that holds the store's objects. `save` is all or nothing: an interrupted save leaves
/// no object under the name (a temp file renamed, a multipart upload completed last).
pub trait Backend: Send + Sync {
    /// Where it is, for messages (`s3://bucket/prefix`, a directory).
    fn location(&self) -> String;
    /// Streams `from` into the object `h` (replacing it); returns the bytes written.
    fn save(&self, h: &Handle, from: &mut dyn Read) -> Result<u64>;
    /// Streams the object `h` into `to`; returns the bytes read. A missing object is an error.
    fn load(&self, h: &Handle, to: &mut dyn Write) -> Result<u64>;
    /// The object's size, or `None` when it does not exist.
    fn stat(&self, h: &Handle) -> Result<Option<u64>>;
    /// Every object of `kind`, by name (temp objects of unfinished saves excluded).
    fn list(&self, kind: Kind) -> Result<Vec<ObjectInfo>>;
    /// Removes the object; a missing one is not an error.
    fn remove(&self, h: &Handle) -> Result<()>;
}

/// A directory laid out like the store: `<dir>/snapshots/`, `<dir>/journals/`. The local store
/// itself and `file:///` replicas (a mounted remote disk).
#[derive(Debug, Clone)]
pub struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    pub fn new(dir: &Path) -> LocalDir {
        LocalDir {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self, h: &Handle) -> PathBuf {
        self.dir.join(h.kind.dir()).join(&h.name)
    }
}

impl Backend for LocalDir {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn save(&self, h: &Handle, from: &mut dyn Read) -> Result<u64> {
        let path = self.path(h);
        let dir = super::parent_dir(&path).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| super::write_error(&dir, e))?;
        // A temp file renamed into place (design.md §4): never half an object under the name.
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!("{}{}-", super::TEMP_PREFIX, h.name))
            .tempfile_in(&dir)
            .map_err(|e| super::write_error(&dir, e))?;
        let n = io::copy(from, &mut tmp)
            .and_then(|n| tmp.as_file().sync_all().map(|()| n))
            .map_err(|e| super::write_error(tmp.path(), e))?;
        tmp.persist(&path)
            .map_err(|e| super::write_error(&path, e.error))?;
        super::sync_dir(&dir)?;
        Ok(n)
    }

    fn load(&self, h: &Handle, to: &mut dyn Write) -> Result<u64> {
        let path = self.path(h);
        let mut file = super::no_follow()
            .read(true)
            .open(&path)
            .map_err(|e| read_dir_error(&path, e))?;
        io::copy(&mut file, to).map_err(|e| read_dir_error(&path, e))
    }

    fn stat(&self, h: &Handle) -> Result<Option<u64>> {
        match fs::symlink_metadata(self.path(h)) {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_dir_error(&self.path(h), e)),
        }
    }

    fn list(&self, kind: Kind) -> Result<Vec<ObjectInfo>> {
        let dir = self.dir.join(kind.dir());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(read_dir_error(&dir, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| read_dir_error(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Temp files and extracts start with a dot; they are nobody's objects.
            if name.starts_with('.') {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() {
                found.push(ObjectInfo {
                    handle: Handle::new(kind, name),
                    size: meta.len(),
                });
            }
        }
        found.sort_by(|a, b| a.handle.name.cmp(&b.handle.name));
        Ok(found)
    }

    fn remove(&self, h: &Handle) -> Result<()> {
        let path = self.path(h);
        match fs::remove_file(&path) {
            Ok(()) => super::sync_dir(super::parent_dir(&path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(super::StoreError::Delete { path, err }.into()),
        }
    }
}

/// A file or directory that cannot be read (or listed).
fn read_dir_error(path: &Path, e: io::Error) -> anyhow::Error {
    super::StoreError::Read {
        path: path.to_path_buf(),
        err: e,
    }
    .into()
}
