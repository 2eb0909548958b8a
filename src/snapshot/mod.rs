//! Snapshots (design.md §3, §4): the engine's consistent image of the database
//! (`Database::export_image`), compressed with zstd, checksummed, checked by the engine and
//! verified before it gets its final name, and the reverse: a verified, checked image
//! decompressed for restore or diff.
//!
//! Callers that write to the store (snapshot, prune, restore, apply) hold the store lock; the
//! functions here do not take it, so `apply` can take a snapshot under the lock it already holds.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{
    self, canonical_path, Database, EngineKind, Identity, ImageFacts, ServerId, TableRows, Untapped,
};
use crate::progress::{self, Sink, SnapshotStep};
use crate::store::{self, FlushBehind, Scratch, Store, EXTRACT_PREFIX, TEMP_PREFIX};

mod frames;
mod readback;
use frames::{Drafted, Drafts};
use readback::{check_compressed, check_file_size, decode, Decoded, Rehash};

/// zstd level: the CLI's default, the best speed/size trade-off for text-heavy databases.
pub const ZSTD_LEVEL: i32 = 3;
/// Read/write buffer for streaming images; memory stays flat whatever the database size.
const BUF: usize = 1 << 20;

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Manual,
    PreApply,
    PreRestore,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Manual => "manual",
            Reason::PreApply => "pre-apply",
            Reason::PreRestore => "pre-restore",
        }
    }
}

/// `snapshots/<id>.json` (design.md §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    #[serde(with = "crate::store::micros")]
    pub created_at: DateTime<Utc>,
    pub reason: Reason,
    pub note: Option<String>,
    /// The database file, canonicalised, so restore can tell another database's snapshot. In
    /// the file it is text; a path that is not UTF-8 is written lossily here and exactly in
    /// `source_path_hex` (design.md §4), and read back exact.
    #[serde(serialize_with = "crate::store::lossy_path")]
    pub source_path: PathBuf,
    /// The raw bytes of `source_path` in hex, only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path_hex: Option<String>,
    pub page_size: u32,
    pub page_count: u64,
    pub image_bytes: u64,
    pub image_sha256: String,
    pub file_bytes: u64,
    pub file_sha256: String,
    pub zstd_level: i32,
    pub sqlite_version: String,
    pub tool_version: String,
    /// The engine of the image; absent on SQLite's manifests (design.md §8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineKind>,
    /// A server database (PostgreSQL): its system identifier and name; `source_path` then holds
    /// its URL without password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_server: Option<ServerId>,
    /// Per table, its row count in the image (PostgreSQL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableRows>,
    /// SHA-256 of the compact JSON of the manifest without this field, set when it is written
    /// and checked whenever it is read (design.md §4). Manifests written before it existed have
    /// none: they are read as before and shown as unprotected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
}

/// Why a snapshot cannot be made or trusted (data; the sentences are `render::errors`').
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::render::errors::snapshot(self))]
pub enum SnapshotError {
    /// The new image of the source fails the engine's check: the source is damaged.
    SourceCorrupt {
        db: String,
        what: String,
    },
    /// The thread checking the new image died.
    CheckThreadFailed,
    /// The thread reading back the new compressed file died.
    VerifyThreadFailed,
    /// Context: the check of the new image failed (the cause follows).
    NewImage,
    /// Context: the decompressed image cannot be written (the cause follows).
    WritingImage,
    /// Context: snapshot `id` (its file `path`) extracted, then failed (the cause follows).
    Extracted {
        id: String,
        path: PathBuf,
    },
    /// An extracted image fails the engine's check.
    ImageFailsCheck {
        image: PathBuf,
        what: String,
    },
    DataMissing {
        id: String,
        path: PathBuf,
    },
    DataUnreadable {
        path: PathBuf,
        err: String,
    },
    FileSize {
        path: PathBuf,
        manifest: u64,
        actual: u64,
    },
    FileChecksum {
        path: PathBuf,
        manifest: String,
        actual: String,
    },
    Undecompressable {
        path: PathBuf,
        err: String,
    },
    ImageSize {
        path: PathBuf,
        manifest: u64,
        actual: u64,
    },
    ImageChecksum {
        path: PathBuf,
        manifest: String,
        actual: String,
    },
    /// A new snapshot's file decompresses to other bytes than the image's from offset `at`.
    ImageDiffers {
        path: PathBuf,
        at: u64,
    },
    ManifestUnreadable {
        path: PathBuf,
        err: String,
    },
    ManifestDamaged {
        path: PathBuf,
        damage: ManifestDamage,
    },
    /// The manifest file `name` holds another snapshot's id.
    ManifestIdDiffers {
        name: String,
        id: String,
    },
    /// A data file without its manifest.
    ManifestMissing {
        id: String,
    },
    /// The snapshot named is one of the scan's problems (`problem`, as listed).
    Unlisted {
        id: String,
        problem: String,
    },
}

/// Which check a manifest fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestDamage {
    Malformed(String),
    Edited,
    PathNotHex,
}

/// A snapshot file set that cannot be listed as a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub id: String,
    pub message: String,
}

/// Everything in `snapshots/`: readable manifests (newest first) and what is wrong with the rest.
#[derive(Debug, Default)]
pub struct Scan {
    pub manifests: Vec<Manifest>,
    pub problems: Vec<Problem>,
}

impl Manifest {
    /// Whether this snapshot was taken of the database `live` (a file's path compared
    /// canonically; a server database by system identifier and name).
    pub fn is_of(&self, live: &Identity) -> bool {
        match (&self.source_server, live) {
            (None, Identity::File { path, .. }) => canonical_path(&self.source_path) == *path,
            (Some(ours), Identity::Server { id, .. }) => ours == id,
            _ => false,
        }
    }

    /// How this manifest names its database, for people.
    pub fn source_shown(&self) -> String {
        self.source_path.display().to_string()
    }

    /// The engine of its image.
    pub fn engine(&self) -> EngineKind {
        self.engine.unwrap_or_default()
    }

    /// What the image's engine needs to know about it (checking, importing).
    pub fn facts(&self) -> ImageFacts {
        ImageFacts {
            engine: self.engine(),
            page_size: self.page_size,
            page_count: self.page_count,
            engine_version: self.sqlite_version.clone(),
            tables: self.tables.clone(),
        }
    }

    /// SHA-256 of the compact JSON of the manifest without `manifest_sha256` (struct fields in
    /// declaration order, so the same manifest always gives the same bytes).
    pub fn document_sha256(&self) -> String {
        let mut doc = self.clone();
        doc.manifest_sha256 = None;
        let bytes = serde_json::to_vec(&doc).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// Whether the manifest carries its own checksum (written by this version or later).
    pub fn is_protected(&self) -> bool {
        self.manifest_sha256.is_some()
    }
}

pub fn manifest_path(store: &Store, id: &str) -> PathBuf {
    store.manifest_path(id)
}

pub fn data_path(store: &Store, id: &str) -> PathBuf {
    store.data_path(id)
}

// ---------------------------------------------------------------------------------------------
// Creating

/// A consistent image of a database in a temp file of the store, not yet compressed, and what
/// was compressed of it while the engine wrote it.
pub struct Image {
    pub path: Scratch,
    sealing: Sealing,
    drafted: Drafted,
}

/// Takes a snapshot of `db` into `store` and returns its manifest. The caller holds the store
/// lock. On failure nothing is left in the store.
pub fn create(
    db: &dyn Database,
    store: &Store,
    reason: Reason,
    note: Option<String>,
    sink: impl Into<Sink>,
) -> Result<Manifest> {
    let sink = sink.into();
    if !db.exports_as_stream() {
        let image = take_image(db, store, reason, sink, true)?;
        return create_from_image(image, store, reason, note, sink);
    }
    // The engine's image is one stream: compress and hash it on the way, so no image-sized
    // file is written and read back, and compression runs beside the export (design.md §8.4).
    let (id, created_at) = store::new_id();
    let dir = store.snapshots_dir();
    let zst_tmp = Scratch::create_in(&dir, &format!("{TEMP_PREFIX}{id}-"), ".db.zst")?;
    let mut compressor = Compressor::create(&zst_tmp)?;
    let label = progress::snapshot_step(reason.as_str(), &id, SnapshotStep::Copy);
    let facts = db
        .export_stream(&mut compressor, &sink.engine(label))
        .map_err(|e| match e.downcast::<std::io::Error>() {
            // Writing into the compressed file failed: the store's disk.
            Ok(io) => store::write_error(&zst_tmp, io),
            Err(e) => e,
        })?;
    let sums = compressor.finish()?;
    let image = Sealing {
        id,
        created_at,
        source: db.identity(),
        facts,
    };
    seal(
        &image,
        zst_tmp,
        (sums.0, Some(sums.1)),
        Checker::OnVerify,
        store,
        reason,
        note,
        sink,
    )
}

/// How the engine's check of a new image runs, and the verify pass (design.md §3.4, §8.4).
enum Checker {
    /// Over the image file, on its own thread (`check`: its outcome); the verify pass
    /// (`read_back`) reads the compressed file back beside it.
    Running {
        check: Result<Option<String>>,
        read_back: std::thread::JoinHandle<Decoded>,
    },
    /// Over the verify pass's decompressed bytes: a streamed image has no file.
    OnVerify,
}

/// What [`seal`] names a new snapshot by.
struct Sealing {
    id: String,
    created_at: DateTime<Utc>,
    source: Identity,
    facts: ImageFacts,
}

/// The engine's check of an image on its own thread, beside compression and verification.
fn spawn_check(image: &Path, sealing: &Sealing) -> std::thread::JoinHandle<Result<Option<String>>> {
    let path = image.to_path_buf();
    let facts = sealing.facts.clone();
    std::thread::spawn(move || engine::image_format(facts.engine).check(&path, &facts))
}

/// What the check thread found (a thread that died is an error of its own).
fn check_outcome(
    checker: std::thread::JoinHandle<Result<Option<String>>>,
) -> Result<Option<String>> {
    checker
        .join()
        .unwrap_or_else(|_| Err(SnapshotError::CheckThreadFailed.into()))
}

/// Step 1 of a snapshot: the consistent image of `db`, in a temp file in the store (same
/// volume, never in memory), in the shortest lock window the engine allows. With `compress`,
/// what the engine shows of it while it writes it is compressed meanwhile (`frames`,
/// design.md §3.4); without, the image is only looked at (a dry run).
pub fn take_image(
    db: &dyn Database,
    store: &Store,
    reason: Reason,
    sink: impl Into<Sink>,
    compress: bool,
) -> Result<Image> {
    give_back_freed_memory();
    let (id, created_at) = store::new_id();
    let dir = store.snapshots_dir();
    let prefix = format!("{TEMP_PREFIX}{id}-");
    let path = Scratch::create_in(&dir, &prefix, ".db")?;
    let label = progress::snapshot_step(reason.as_str(), &id, SnapshotStep::Copy);
    let progress = sink.into().engine(label);
    let (facts, drafted) = if compress {
        let mut drafts = Drafts::start(&dir, &prefix, ".db.zst");
        let facts = db.export_image(&path, &progress, &mut drafts)?;
        (facts, drafts.finish())
    } else {
        let facts = db.export_image(&path, &progress, &mut Untapped)?;
        (facts, Drafted::none())
    };
    Ok(Image {
        path,
        sealing: Sealing {
            id,
            created_at,
            source: db.identity(),
            facts,
        },
        drafted,
    })
}

/// Steps 2-4 of a snapshot: compresses, checks and names `image`, which is removed (a step at a
/// time, `Scratch`) as soon as compression and the engine's check are done with it.
pub fn create_from_image(
    image: Image,
    store: &Store,
    reason: Reason,
    note: Option<String>,
    sink: impl Into<Sink>,
) -> Result<Manifest> {
    let Image {
        path,
        sealing,
        drafted,
    } = image;
    give_back_freed_memory();
    let sink = sink.into();
    // 2. Compress (hashing both sides) while the engine checks the image on another thread.
    let checker = spawn_check(&path, &sealing);
    let label = progress::snapshot_step(reason.as_str(), &sealing.id, SnapshotStep::Compress);
    let bar = sink.bytes(fs::metadata(&*path).map_or(0, |m| m.len()), &label);
    let prefix = format!("{TEMP_PREFIX}{}-", sealing.id);
    let dir = store.snapshots_dir();
    let written = frames::write(&path, drafted, &dir, (&prefix, ".db.zst"), &bar);
    bar.finish_and_clear();
    // 3. The verify pass reads the file back from disk beside the check.
    let read_back = written.and_then(|w| {
        let file = File::open(&*w.file).map_err(|e| store::write_error(&w.file, e))?;
        let pieces = w.pieces.clone();
        let read_back = std::thread::spawn(move || {
            decode(
                file,
                io::sink(),
                &ProgressBar::hidden(),
                Rehash::Pieces(pieces),
            )
        });
        Ok((w, read_back))
    });
    let (mut written, read_back) = match read_back {
        Ok(started) => started,
        Err(e) => {
            let _ = checker.join();
            return Err(e);
        }
    };
    // The check usually ends before the read-back: then nothing reads the image any more.
    let check = check_outcome(checker);
    let unused = written.unused.take();
    let removal = std::thread::spawn(move || drop((path, unused)));
    let sealed = seal(
        &sealing,
        written.file,
        (written.image, None),
        Checker::Running { check, read_back },
        store,
        reason,
        note,
        sink,
    );
    // Named first, so that a run killed meanwhile still leaves its snapshot.
    let _ = removal.join();
    give_back_freed_memory();
    sealed
}

/// Hands the memory freed by the step before (its threads' buffers, SQLite's page caches) back
/// to the system, at the start and end of the big steps. glibc keeps a freed block in the heap
/// (arena) it came from, and the next step's threads, served from other heaps, take new ones:
/// a live restore peaked at 60-68 MiB instead of about 50 (design.md §3.4). Mapping every
/// block of 1 MiB and more on its own instead (`mallopt`) held the app's writers 20-25 ms
/// longer in the raw copy's lock.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's own heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Steps 3-4 of a snapshot, once `zst_tmp` holds the compressed image: the verify pass (for an
/// image file, the outcome of the one that ran beside the check, which also takes the file's
/// checksum: `file_sum` is `None` then), the engine's check and the final names.
#[allow(clippy::too_many_arguments)]
fn seal(
    image: &Sealing,
    zst_tmp: Scratch,
    (image_sum, file_sum): (Sum, Option<Sum>),
    checker: Checker,
    store: &Store,
    reason: Reason,
    note: Option<String>,
    sink: Sink,
) -> Result<Manifest> {
    let dir = store.snapshots_dir();
    let id = image.id.clone();
    let facts = image.facts.clone();
    let source = image.source.clone();
    let created_at = image.created_at;

    let mut manifest = Manifest {
        id: id.clone(),
        created_at,
        reason,
        note,
        source_path_hex: match &source {
            Identity::File { path, .. } => store::path_hex(path),
            Identity::Server { .. } => None,
        },
        source_path: match &source {
            Identity::File { path, .. } => path.clone(),
            Identity::Server { shown, .. } => PathBuf::from(shown),
        },
        page_size: facts.page_size,
        page_count: facts.page_count,
        image_bytes: image_sum.bytes,
        image_sha256: image_sum.hex(),
        file_bytes: file_sum.as_ref().map_or(0, |sum| sum.bytes),
        file_sha256: file_sum.as_ref().map_or_else(String::new, Sum::hex),
        zstd_level: ZSTD_LEVEL,
        sqlite_version: facts.engine_version.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        engine: (facts.engine != EngineKind::Sqlite).then_some(facts.engine),
        source_server: match &source {
            Identity::Server { id, .. } => Some(id.clone()),
            Identity::File { .. } => None,
        },
        tables: facts.tables.clone(),
        manifest_sha256: None,
    };

    // 3. Verify what is on disk: the compressed file decompresses to the same image (a file
    // image's read-back ran beside the check: here its outcome is judged).
    let bar = sink.bytes(
        manifest.image_bytes,
        &progress::snapshot_step(reason.as_str(), &id, SnapshotStep::Verify),
    );
    let (verified, checked) = match checker {
        Checker::Running { check, read_back } => {
            let verified = match read_back.join() {
                Ok(decoded) => {
                    bar.set_position(decoded.image_sum.bytes);
                    // The file's checksum is that of the bytes this pass read and checked.
                    manifest.file_bytes = decoded.file_sum.bytes;
                    manifest.file_sha256 = decoded.file_sum.hex();
                    match fs::metadata(&*zst_tmp) {
                        Ok(on_disk) => decoded
                            .read_through(&zst_tmp)
                            .and_then(|()| check_file_size(&zst_tmp, &manifest, on_disk.len()))
                            .and_then(|()| decoded.judge(&zst_tmp, &manifest)),
                        Err(e) => Err(SnapshotError::DataUnreadable {
                            path: zst_tmp.to_path_buf(),
                            err: e.to_string(),
                        }
                        .into()),
                    }
                }
                Err(_) => Err(SnapshotError::VerifyThreadFailed.into()),
            };
            (verified, check)
        }
        Checker::OnVerify => {
            // The check reads what the verify pass decompresses, through a pipe to its thread.
            let (mut reader, writer) = io::pipe().map_err(|e| store::write_error(&zst_tmp, e))?;
            let (shown, facts) = (zst_tmp.to_path_buf(), image.facts.clone());
            let checker = std::thread::spawn(move || {
                engine::image_format(facts.engine).check_stream(&mut reader, &shown, &facts)
            });
            // The writer is dropped when the pass ends: the check then sees the image's end.
            let verified = check_compressed(&zst_tmp, &manifest, writer, &bar, Rehash::JustWritten);
            // A pass that failed by itself, not because the check stopped reading, cut the
            // check's stream short: the file on disk is at fault, not the source.
            match verified {
                Err(e) if !closed_pipe(&e) => {
                    let _ = checker.join();
                    bar.finish_and_clear();
                    return Err(e);
                }
                verified => (verified, check_outcome(checker)),
            }
        }
    };
    bar.finish_and_clear();
    // The image is the source as it was: damage found in it is the source's (exit 3, one line,
    // design.md §3), which `apply` relies on instead of checking the live file a second time.
    if let Some(what) = checked.map_err(|e| e.context(SnapshotError::NewImage))? {
        return Err(SnapshotError::SourceCorrupt {
            db: source.shown(),
            what,
        }
        .into());
    }
    verified?;

    // 4. Final names: the data file first, then the manifest that makes it a snapshot.
    let final_data = data_path(store, &id);
    zst_tmp
        .persist(&final_data)
        .map_err(|e| store::write_error(&final_data, e))?;
    manifest.manifest_sha256 = Some(manifest.document_sha256());
    let written = store::sync_dir(&dir)
        .and_then(|_| store::write_json_atomic(&manifest_path(store, &id), &manifest));
    if let Err(e) = written {
        let _ = fs::remove_file(&final_data);
        return Err(e);
    }
    // Off the host once verified here (design.md §9); a failed copy ends the run with exit 8.
    store::replica::after_snapshot(store, &id);
    Ok(manifest)
}

/// Whether `e` is a write into a pipe whose reader has gone.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A SHA-256 and a byte count.
#[derive(Debug, Clone)]
struct Sum {
    bytes: u64,
    digest: [u8; 32],
}

impl Sum {
    fn hex(&self) -> String {
        hex::encode(self.digest)
    }
}

struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
    /// False: counts the bytes only (see [`Rehash`]).
    hashing: bool,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.hashing {
            self.hasher.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn finish(hasher: Sha256, bytes: u64) -> Sum {
    Sum {
        bytes,
        digest: hasher.finalize().into(),
    }
}

/// Writes a streamed image (PostgreSQL's) into the compressed file `out` as it comes, in one
/// frame: hashes the image bytes written to it and the compressed bytes written to `out`,
/// which is handed to the disk as it grows (flush-behind) and fsynced by
/// [`Compressor::finish`]. An image file goes through `frames` instead.
struct Compressor {
    out: PathBuf,
    /// The image side, hashed on its way into the encoder, whose output is hashed in turn.
    image: HashWriter<zstd::stream::Encoder<'static, HashWriter<BufWriter<FlushBehind>>>>,
}

impl Compressor {
    fn create(out: &Path) -> Result<Compressor> {
        let file = store::no_follow()
            .write(true)
            .truncate(true)
            .open(out)
            .map_err(|e| store::write_error(out, e))?;
        let writer = HashWriter {
            inner: BufWriter::with_capacity(BUF, FlushBehind::new(file)),
            hasher: Sha256::new(),
            bytes: 0,
            hashing: true,
        };
        let zerr = |e: io::Error| store::write_error(out, e);
        let mut encoder = zstd::stream::Encoder::new(writer, ZSTD_LEVEL).map_err(zerr)?;
        encoder.include_checksum(true).map_err(zerr)?;
        encoder.multithread(compress_workers()).map_err(zerr)?;
        // zstd's default job for level 3 is 8 MiB, and it keeps a few jobs' input and output per
        // worker in flight (about 50 MiB with two workers). 4 MiB jobs halve that; the output
        // grows by under 1% (2 MiB jobs would cost over 2%).
        encoder
            .set_parameter(zstd::zstd_safe::CParameter::JobSize(frames::FRAME as u32))
            .map_err(zerr)?;
        Ok(Compressor {
            out: out.to_path_buf(),
            image: HashWriter {
                inner: encoder,
                hasher: Sha256::new(),
                bytes: 0,
                hashing: true,
            },
        })
    }

    /// Ends the frame and fsyncs the file. Returns (image sum, file sum).
    fn finish(self) -> Result<(Sum, Sum)> {
        let zerr = |e: io::Error| store::write_error(&self.out, e);
        let image = self.image;
        let mut writer = image.inner.finish().map_err(zerr)?;
        writer.flush().map_err(zerr)?;
        writer.inner.get_ref().get_ref().sync_all().map_err(zerr)?;
        Ok((
            finish(image.hasher, image.bytes),
            finish(writer.hasher, writer.bytes),
        ))
    }
}

impl Write for Compressor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.image.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.image.flush()
    }
}

fn compress_workers() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(2)
        .clamp(1, 4)
}

/// The engine's check of an image file (SQLite: `integrity_check`): exit 4 naming the first
/// problem.
fn integrity_check(image: &Path, facts: &ImageFacts) -> Result<()> {
    match engine::image_format(facts.engine).check(image, facts)? {
        Some(what) => Err(integrity_failure(image, &what)),
        None => Ok(()),
    }
}

fn integrity_failure(image: &Path, what: &str) -> anyhow::Error {
    SnapshotError::ImageFailsCheck {
        image: image.to_path_buf(),
        what: what.to_string(),
    }
    .into()
}

/// Decompresses a snapshot into a new temp file in `dir` (named with `prefix`), verifying every
/// checksum and running `integrity_check` on the result.
pub fn extract_to(
    store: &Store,
    m: &Manifest,
    dir: &Path,
    prefix: &str,
    sink: impl Into<Sink>,
) -> Result<Scratch> {
    store.check()?;
    let zst = data_path(store, &m.id);
    let tmp = Scratch::create_in(dir, &format!("{prefix}{}-", m.id), ".db")?;
    let file = store::no_follow()
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| store::write_error(&tmp, e))?;
    let bar = sink
        .into()
        .bytes(m.image_bytes, &crate::progress::snapshot_check(&m.id));
    let mut out = BufWriter::with_capacity(BUF, FlushBehind::new(file));
    check_compressed(&zst, m, &mut out, &bar, Rehash::All)?;
    let file = out
        .into_inner()
        .map_err(|e| store::write_error(&tmp, e.into_error()))?;
    file.get_ref()
        .sync_all()
        .map_err(|e| store::write_error(&tmp, e))?;
    drop(file);
    bar.finish_and_clear();
    integrity_check(&tmp, &m.facts()).map_err(|e| {
        e.context(SnapshotError::Extracted {
            id: m.id.clone(),
            path: zst.clone(),
        })
    })?;
    give_back_freed_memory();
    Ok(tmp)
}

/// The verified, decompressed image in a temp file inside the store (for `diff`).
pub fn extract(store: &Store, m: &Manifest, sink: impl Into<Sink>) -> Result<Scratch> {
    extract_to(store, m, &store.snapshots_dir(), EXTRACT_PREFIX, sink)
}

/// Recomputes both checksums and runs `integrity_check`; exit 4 naming the file and what differs.
pub fn verify(store: &Store, m: &Manifest, sink: impl Into<Sink>) -> Result<()> {
    extract(store, m, sink).map(drop)
}

// ---------------------------------------------------------------------------------------------
// Listing and finding

/// Reads `snapshots/`: every manifest, and a problem for each unreadable manifest or data file
/// without one. Temp files are not snapshots.
pub fn scan(store: &Store) -> Result<Scan> {
    let dir = store.snapshots_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Scan::default()),
        Err(err) => return Err(store::StoreError::Read { path: dir, err }.into()),
    };
    let mut manifests = Vec::new();
    let mut problems = Vec::new();
    let mut data_ids = Vec::new();
    let mut manifest_ids = HashSet::new();
    for entry in entries {
        let entry = entry.map_err(|err| store::StoreError::Read {
            path: dir.clone(),
            err,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if let Some(id) = name.strip_suffix(".db.zst") {
            data_ids.push(id.to_string());
        } else if let Some(id) = name.strip_suffix(".json") {
            manifest_ids.insert(id.to_string());
            match read_manifest(&entry.path()) {
                Ok(m) if m.id == id => manifests.push(m),
                Ok(m) => problems.push(Problem {
                    id: id.to_string(),
                    message: SnapshotError::ManifestIdDiffers {
                        name: name.clone(),
                        id: m.id,
                    }
                    .to_string(),
                }),
                Err(e) => problems.push(Problem {
                    id: id.to_string(),
                    message: format!("{e:#}"),
                }),
            }
        }
    }
    for id in data_ids {
        if !manifest_ids.contains(&id) {
            problems.push(Problem {
                message: SnapshotError::ManifestMissing { id: id.clone() }.to_string(),
                id,
            });
        }
    }
    manifests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    problems.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(Scan {
        manifests,
        problems,
    })
}

fn read_manifest(path: &Path) -> Result<Manifest, SnapshotError> {
    let text = fs::read(path).map_err(|e| SnapshotError::ManifestUnreadable {
        path: path.to_path_buf(),
        err: e.to_string(),
    })?;
    let damaged = |damage: ManifestDamage| SnapshotError::ManifestDamaged {
        path: path.to_path_buf(),
        damage,
    };
    let mut m: Manifest = serde_json::from_slice(&text)
        .map_err(|e| damaged(ManifestDamage::Malformed(e.to_string())))?;
    if let Some(sum) = &m.manifest_sha256 {
        if *sum != m.document_sha256() {
            return Err(damaged(ManifestDamage::Edited));
        }
    }
    if let Some(hex) = &m.source_path_hex {
        m.source_path =
            store::path_from_hex(hex).ok_or_else(|| damaged(ManifestDamage::PathNotHex))?;
    }
    Ok(m)
}

/// Every readable snapshot, newest first by `created_at`.
pub fn list(store: &Store) -> Result<Vec<Manifest>> {
    Ok(scan(store)?.manifests)
}

/// The snapshot named by `wanted` (`latest`, an id or a unique prefix). A name that matches a
/// snapshot without a readable manifest is an integrity failure (exit 4), not "unknown".
pub fn find(store: &Store, wanted: &str) -> Result<Manifest> {
    let scan = scan(store)?;
    let mut items: Vec<(String, DateTime<Utc>)> = scan
        .manifests
        .iter()
        .map(|m| (m.id.clone(), m.created_at))
        .collect();
    items.extend(
        scan.problems
            .iter()
            .map(|p| (p.id.clone(), store::time_of_id(&p.id).unwrap_or_default())),
    );
    let id = store::resolve_id(&items, wanted, store::IdKind::Snapshot)?;
    if let Some(m) = scan.manifests.into_iter().find(|m| m.id == id) {
        return Ok(m);
    }
    let problem = scan
        .problems
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.message)
        .unwrap_or_default();
    Err(SnapshotError::Unlisted { id, problem }.into())
}

// ---------------------------------------------------------------------------------------------
// Pruning

/// What the journals protect from `prune` (design.md §3.1).
#[derive(Debug, Default, Clone)]
pub struct Protection {
    /// Snapshot id -> why it is kept.
    pub ids: std::collections::HashMap<String, Vec<Keep>>,
    /// A damaged journal may refer to any snapshot made before it: those created up to this
    /// time are kept (`DamagedJournal`, or `JournalsUnreadable` when the folder cannot be read).
    pub before: Option<(DateTime<Utc>, Keep)>,
    /// What the operator should know (damaged journals).
    pub warnings: Vec<PruneWarning>,
}

/// What `prune` tells the operator besides what it deleted and kept: data, worded by
/// `render::snapshot` (design.md §6: `--json` carries it as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PruneWarning {
    /// A journal fails its checks (`error`, the error line): every snapshot made before it is
    /// kept.
    DamagedJournal { journal: String, error: String },
    /// The replica's copy of a journal cannot be read (no identity here, or damaged): the same.
    UnreadableReplicaJournal { journal: String, error: String },
    /// The journals cannot be listed: every snapshot is kept.
    JournalsUnreadable { error: String },
    /// Some snapshots were created in the future: this host's clock was ahead, or is behind.
    FutureSnapshots,
}

impl Protection {
    /// A journal that cannot be read (damaged, or a replica's copy that cannot be decrypted)
    /// may refer to any snapshot taken before it: every snapshot up to its time (the id's, one
    /// second of slack for the id's truncation), or all when unknown, is kept, with a warning.
    /// `error` says why; `on_replica`: it is the replica's copy that cannot be read.
    pub fn keep_before(&mut self, journal_id: &str, error: String, on_replica: bool) {
        let upto = store::time_of_id(journal_id)
            .map(|t| t + chrono::Duration::seconds(1))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let later = self.before.map(|(t, _)| t.max(upto)).unwrap_or(upto);
        self.before = Some((later, Keep::DamagedJournal));
        let journal = journal_id.to_string();
        self.warnings.push(if on_replica {
            PruneWarning::UnreadableReplicaJournal { journal, error }
        } else {
            PruneWarning::DamagedJournal { journal, error }
        });
    }
}

/// Which snapshots the journals protect (design.md §3.1): of each database, the newest
/// un-reverted apply's snapshot, and every un-reverted apply younger than `protect_applies`;
/// the snapshot of any journal still `planned` or resolved by a guess (`outcome_uncertain`);
/// and every snapshot made before a journal that fails its checks (it may be the one that
/// undoes it).
pub fn protection(
    store: &Store,
    now: DateTime<Utc>,
    protect_applies: chrono::Duration,
) -> Protection {
    use crate::journal::{self, Kind, State};
    let mut out = Protection::default();
    let entries = match journal::list(store) {
        Ok(entries) => entries,
        Err(e) => {
            out.before = Some((DateTime::<Utc>::MAX_UTC, Keep::JournalsUnreadable));
            out.warnings.push(PruneWarning::JournalsUnreadable {
                error: format!("{e:#}"),
            });
            return out;
        }
    };
    let mut add = |id: &str, why: Keep| {
        let reasons = out.ids.entry(id.to_string()).or_default();
        if !reasons.contains(&why) {
            reasons.push(why);
        }
    };
    // Newest first, so the first un-reverted apply seen of a database is its newest.
    let mut newest_seen: HashSet<String> = HashSet::new();
    let mut damaged = Vec::new();
    for entry in &entries {
        let j = match &entry.journal {
            Ok(j) => j,
            Err(e) => {
                damaged.push((&entry.id, e));
                continue;
            }
        };
        if j.outcome_uncertain {
            add(&j.snapshot_id, Keep::UncertainJournal);
        }
        if j.kind != Kind::Apply || j.state == State::Abandoned || j.reverted_by.is_some() {
            continue;
        }
        if j.state == State::Planned {
            add(&j.snapshot_id, Keep::UnresolvedJournal);
        }
        if newest_seen.insert(j.db_path.clone()) {
            add(&j.snapshot_id, Keep::NewestApply);
        }
        if now - j.created_at <= protect_applies {
            add(&j.snapshot_id, Keep::RecentApply);
        }
    }
    for (id, e) in damaged {
        out.keep_before(id, e.to_string(), false);
    }
    out
}

/// Why a snapshot is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keep {
    KeepLast,
    KeepWithin,
    /// The snapshot of the newest un-reverted apply of its database.
    NewestApply,
    /// The snapshot of an un-reverted apply younger than `--protect-applies`.
    RecentApply,
    /// The snapshot of a journal whose outcome was guessed from row values (an older journal):
    /// kept even with `--force`.
    UncertainJournal,
    /// The snapshot of an apply journal still `planned` (another database's crash, not resolved
    /// here): kept even with `--force`.
    UnresolvedJournal,
    /// A journal fails its checks: every snapshot made before it is kept.
    DamagedJournal,
    JournalsUnreadable,
    /// Created "in the future": this host's clock was ahead then, or is behind now.
    FutureCreatedAt,
}

impl Keep {
    /// Whether `--force` overrides this reason (design.md §3.1).
    fn forced_away(self) -> bool {
        matches!(
            self,
            Keep::NewestApply | Keep::RecentApply | Keep::DamagedJournal | Keep::JournalsUnreadable
        )
    }
}

/// A snapshot created later than this past "now" points at a clock problem, not at NTP jitter.
pub const CLOCK_SKEW_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// Decides, for manifests sorted newest first, which to keep (with the reasons) and which to
/// delete.
pub fn prune_plan(
    manifests: &[Manifest],
    keep_last: Option<usize>,
    keep_within: Option<chrono::Duration>,
    now: DateTime<Utc>,
    protection: &Protection,
    force: bool,
) -> Vec<(usize, Vec<Keep>)> {
    // A future-dated snapshot sorts first; were it counted by --keep-last it would push out the
    // snapshot that really is the newest. It is kept, and not counted.
    let mut rank = 0usize;
    manifests
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut why = Vec::new();
            if m.created_at - now > CLOCK_SKEW_TOLERANCE {
                why.push(Keep::FutureCreatedAt);
            } else {
                if keep_last.is_some_and(|n| rank < n) {
                    why.push(Keep::KeepLast);
                }
                rank += 1;
            }
            if keep_within.is_some_and(|d| now - m.created_at <= d) {
                why.push(Keep::KeepWithin);
            }
            let mut journals: Vec<Keep> = protection.ids.get(&m.id).cloned().unwrap_or_default();
            if let Some((upto, reason)) = protection.before {
                if m.created_at <= upto {
                    journals.push(reason);
                }
            }
            why.extend(journals.into_iter().filter(|k| !(force && k.forced_away())));
            (i, why)
        })
        .collect()
}

/// The journals that go with the snapshots `deleted` (design.md §3.1): a readable journal whose
/// snapshot is pruned goes too, unless its outcome is unknown (`planned`, `outcome_uncertain`;
/// their snapshots are never pruned anyway). Damaged journals always stay.
pub fn journals_going(entries: &[crate::journal::Entry], deleted: &[String]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| {
            e.journal.as_ref().is_ok_and(|j| {
                deleted.contains(&j.snapshot_id)
                    && j.state != crate::journal::State::Planned
                    && !j.outcome_uncertain
            })
        })
        .map(|e| e.id.clone())
        .collect()
}

/// Deletes one journal from the local store only (prune decides for the replica on its own).
pub fn delete_journal(store: &Store, id: &str) -> Result<()> {
    let path = store.journal_path(id);
    match fs::remove_file(&path) {
        Ok(()) => store::sync_dir(&store.journals_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(store::write_error(&path, e)),
    }
}

/// Deletes one snapshot: the manifest first (so it stops being a snapshot at once), then the
/// data file, then fsyncs the directory.
pub fn delete(store: &Store, id: &str) -> Result<()> {
    for path in [manifest_path(store, id), data_path(store, id)] {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(store::StoreError::Delete { path, err }.into()),
        }
    }
    store::sync_dir(&store.snapshots_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read-back of a new snapshot of an image file compares each decompressed piece with
    /// the image's: a file that is sound in itself (sums, frame checksums) but holds other
    /// bytes than the image's is refused, naming the file (exit 4).
    #[test]
    fn the_read_back_catches_a_file_of_other_bytes_than_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let image: Vec<u8> = (0..5 << 20).map(|i: u32| (i / 700) as u8).collect();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        fs::write(&a, &image).unwrap();
        let mut other = image.clone();
        other[(4 << 20) + 10] ^= 1;
        fs::write(&b, &other).unwrap();
        let write = |image: &Path| {
            let names = (".tmp-test-", ".db.zst");
            let none = frames::Drafted::none();
            frames::write(image, none, dir.path(), names, &ProgressBar::hidden()).unwrap()
        };
        let (of_a, of_b) = (write(&a), write(&b));
        let mut m = manifest("20260302T041506Z-0a1b2c3d", "2026-03-02T04:15:06Z");
        (m.image_bytes, m.image_sha256) = (of_b.image.bytes, of_b.image.hex());
        let read_back = |pieces: &frames::Pieces| {
            let file = File::open(&*of_b.file).unwrap();
            let hidden = ProgressBar::hidden();
            decode(file, io::sink(), &hidden, Rehash::Pieces(pieces.clone()))
        };
        let sum = read_back(&of_b.pieces).file_sum;
        (m.file_bytes, m.file_sha256) = (sum.bytes, sum.hex());
        read_back(&of_b.pieces).judge(&of_b.file, &m).unwrap();
        let err = read_back(&of_a.pieces).judge(&of_b.file, &m).unwrap_err();
        assert!(matches!(
            err.downcast_ref::<SnapshotError>(),
            Some(SnapshotError::ImageDiffers { .. })
        ));
        assert_eq!(
            crate::error::failure(&err).exit,
            crate::error::Exit::Integrity
        );
    }

    /// The read-back of a new snapshot judges what the file holds: a byte changed after the
    /// compressor hashed it is a checksum mismatch naming the file (exit 4).
    #[test]
    fn the_read_back_catches_a_file_that_differs_from_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let zst = dir.path().join("new.db.zst");
        let image: Vec<u8> = (0..300_000u32).map(|i| (i % 97) as u8).collect();
        File::create(&zst).unwrap();
        let mut compressor = Compressor::create(&zst).unwrap();
        compressor.write_all(&image).unwrap();
        let (image_sum, file_sum) = compressor.finish().unwrap();
        let mut m = manifest("20260302T041506Z-0a1b2c3d", "2026-03-02T04:15:06Z");
        (m.image_bytes, m.image_sha256) = (image_sum.bytes, image_sum.hex());
        (m.file_bytes, m.file_sha256) = (file_sum.bytes, file_sum.hex());
        let read_back = |path: &Path| {
            decode(
                File::open(path).unwrap(),
                io::sink(),
                &ProgressBar::hidden(),
                Rehash::JustWritten,
            )
        };
        read_back(&zst).judge(&zst, &m).unwrap();
        let mut bytes = fs::read(&zst).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&zst, bytes).unwrap();
        let err = read_back(&zst).judge(&zst, &m).unwrap_err();
        assert!(matches!(
            err.downcast_ref::<SnapshotError>(),
            Some(SnapshotError::FileChecksum { .. })
        ));
    }

    fn manifest(id: &str, created: &str) -> Manifest {
        Manifest {
            id: id.into(),
            created_at: DateTime::parse_from_rfc3339(created)
                .unwrap()
                .with_timezone(&Utc),
            reason: Reason::Manual,
            note: None,
            source_path: "/x".into(),
            page_size: 4096,
            page_count: 1,
            image_bytes: 4096,
            image_sha256: String::new(),
            file_bytes: 1,
            file_sha256: String::new(),
            zstd_level: 3,
            sqlite_version: String::new(),
            tool_version: String::new(),
            engine: None,
            source_server: None,
            tables: Vec::new(),
            manifest_sha256: None,
            source_path_hex: None,
        }
    }

    #[test]
    fn any_rule_keeps_and_journals_protect() {
        let ms = vec![
            manifest("c", "2026-01-10T00:00:00Z"),
            manifest("b", "2026-01-05T00:00:00Z"),
            manifest("a", "2026-01-01T00:00:00Z"),
        ];
        let now = DateTime::parse_from_rfc3339("2026-01-11T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut protection = Protection::default();
        protection
            .ids
            .insert("a".to_string(), vec![Keep::NewestApply]);
        let plan = prune_plan(
            &ms,
            Some(1),
            Some(chrono::Duration::days(7)),
            now,
            &protection,
            false,
        );
        assert_eq!(plan[0].1, vec![Keep::KeepLast, Keep::KeepWithin]);
        assert_eq!(plan[1].1, vec![Keep::KeepWithin]);
        assert_eq!(plan[2].1, vec![Keep::NewestApply]);
        let forced = prune_plan(&ms, Some(1), None, now, &protection, true);
        assert!(forced[2].1.is_empty());
        protection
            .ids
            .insert("b".to_string(), vec![Keep::UncertainJournal]);
        protection.before = Some((ms[2].created_at, Keep::DamagedJournal));
        let plan = prune_plan(&ms, Some(1), None, now, &protection, true);
        assert_eq!(plan[1].1, vec![Keep::UncertainJournal]);
        assert!(plan[2].1.is_empty());
        let plan = prune_plan(&ms, Some(1), None, now, &protection, false);
        assert_eq!(plan[2].1, vec![Keep::NewestApply, Keep::DamagedJournal]);
    }

    #[test]
    fn progress_labels_name_the_snapshot_and_the_step() {
        crate::i18n::set(crate::i18n::Lang::En);
        let label = progress::snapshot_step(
            "pre-apply",
            "20260101T000000Z-00000000",
            SnapshotStep::Compress,
        );
        assert_eq!(
            label,
            "pre-apply snapshot 20260101T000000Z-00000000 (2/3 compressing)"
        );
    }

    #[test]
    fn manifest_json_has_the_spec_fields() {
        let m = manifest("20260101T000000Z-00000000", "2026-01-01T00:00:00.5Z");
        let doc = serde_json::to_value(&m).unwrap();
        let mut keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        let mut want = vec![
            "id",
            "created_at",
            "reason",
            "note",
            "source_path",
            "page_size",
            "page_count",
            "image_bytes",
            "image_sha256",
            "file_bytes",
            "file_sha256",
            "zstd_level",
            "sqlite_version",
            "tool_version",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(doc["created_at"], "2026-01-01T00:00:00.500000Z");
        assert_eq!(doc["reason"], "manual");
        let back: Manifest = serde_json::from_value(doc).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            serde_json::to_value(Reason::PreRestore).unwrap(),
            "pre-restore"
        );
    }
}
