//! The replica (design.md §9): any `Backend` plus age encryption. Objects keep the store's own
//! names under the replica's root, with `.age` appended when encrypted; encryption and
//! decryption stream through a pipe, so memory stays flat whatever the size. Checksums stay
//! those of the plaintext (in the manifest), so a pulled snapshot verifies like a local one.

use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use age::x25519;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::backend::{Backend, Handle, Kind, LocalDir};
use super::error::{StoreError, Undecryptable, Work};
use super::Store;
use crate::render::labels;

/// The replica options as given (global options, design.md §9); plain data for `Settings`.
#[derive(Debug, Clone, Default)]
pub struct ReplicaConfig {
    pub url: String,
    /// `--replica-recipient` / `JOBSWEEP_REPLICA_RECIPIENTS` (keys, each maybe several
    /// separated by commas or spaces).
    pub recipients: Vec<String>,
    pub recipients_file: Option<PathBuf>,
    /// `--identity` / `JOBSWEEP_IDENTITY`: only reading back needs it.
    pub identity: Option<PathBuf>,
    /// `--replica-plaintext`: off-host copies without encryption are wanted.
    pub plaintext: bool,
}

const AGE: &str = ".age";

pub struct Replica {
    backend: Box<dyn Backend>,
    recipients: Vec<x25519::Recipient>,
    identity: Option<PathBuf>,
    /// Progress bars on stderr for uploads and downloads (a terminal, no `-q`, no `--json`).
    progress: bool,
}

/// A remote snapshot by its objects: complete when its manifest is there (it is uploaded last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSnapshot {
    pub id: String,
    pub complete: bool,
    /// Bytes on the replica (data and manifest, as stored: encrypted when encrypted).
    pub bytes: u64,
}

impl ReplicaConfig {
    /// Refuses (exit 2) a replica without recipients (unless `--replica-plaintext`) or with a
    /// malformed key, before any command starts its work.
    pub fn check(&self) -> Result<()> {
        self.recipients().map(drop)
    }

    fn recipients(&self) -> Result<Vec<x25519::Recipient>> {
        let config = self;
        let recipients = recipients(config)?;
        if recipients.is_empty() && !config.plaintext {
            return Err(StoreError::NoRecipient {
                url: config.url.clone(),
            }
            .into());
        }
        Ok(recipients)
    }
}

impl Replica {
    /// Checks the options and opens the backend (nothing is sent yet).
    pub fn open(config: &ReplicaConfig) -> Result<Replica> {
        let recipients = config.recipients()?;
        let backend = super::open_backend(&config.url, &[])?;
        Ok(Replica {
            backend,
            recipients,
            identity: config.identity.clone(),
            progress: false,
        })
    }

    /// A replica over any backend (the shared tests use it on a plain directory).
    pub fn with_backend(
        backend: Box<dyn Backend>,
        recipients: Vec<x25519::Recipient>,
        identity: Option<PathBuf>,
    ) -> Replica {
        Replica {
            backend,
            recipients,
            identity,
            progress: false,
        }
    }

    /// Shows progress bars for transfers when `on`.
    pub fn with_progress(mut self, on: bool) -> Replica {
        self.progress = on;
        self
    }

    fn bar(&self, len: u64, label: String) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label);
        bar
    }

    pub fn location(&self) -> String {
        self.backend.location()
    }

    pub fn encrypted(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// The object holding the store file `name` of `kind`.
    pub fn handle(&self, kind: Kind, name: &str) -> Handle {
        let suffix = if self.encrypted() { AGE } else { "" };
        Handle::new(kind, format!("{name}{suffix}"))
    }

    /// Uploads the local file `path` as `kind/<its name>`, encrypted when there are recipients.
    pub fn upload(&self, kind: Kind, path: &Path) -> Result<u64> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let h = self.handle(kind, &name);
        let file = super::no_follow()
            .read(true)
            .open(path)
            .map_err(|err| StoreError::Read {
                path: path.to_path_buf(),
                err,
            })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = self.bar(len, labels::uploading(&h.key()));
        let mut file = bar.wrap_read(file);
        if !self.encrypted() {
            let saved = self.backend.save(&h, &mut file);
            bar.finish_and_clear();
            return saved;
        }
        let recipients = &self.recipients;
        let (reader, writer) = io::pipe()?;
        std::thread::scope(|scope| {
            // The encryptor writes into the pipe while the backend reads from it.
            let encrypting = scope.spawn(move || encrypt(recipients, &mut file, writer));
            let mut reader = reader;
            let saved = self.backend.save(&h, &mut reader);
            // Dropped before joining: an encryptor blocked on a full pipe then fails and ends.
            drop(reader);
            let encrypted = encrypting.join().unwrap_or_else(|_| {
                Err(io::Error::other(StoreError::ThreadFailed {
                    work: Work::Encryption,
                }))
            });
            bar.finish_and_clear();
            match (saved, encrypted) {
                (Ok(n), Ok(())) => Ok(n),
                (Err(e), _) => Err(e),
                (Ok(_), Err(err)) => Err(StoreError::Encrypt {
                    path: path.to_path_buf(),
                    err,
                }
                .into()),
            }
        })
    }

    /// Downloads `kind/<name>` (decrypting it) into `dest`, atomically: a temp file in its
    /// directory renamed into place. A damaged object or a wrong identity is exit 4.
    pub fn download(&self, kind: Kind, name: &str, dest: &Path) -> Result<u64> {
        let h = self.handle(kind, name);
        let dir = super::parent_dir(dest);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!("{}{name}-", super::TEMP_PREFIX))
            .tempfile_in(dir)
            .map_err(|e| super::write_error(dir, e))?;
        let bar = self.bar(0, labels::downloading(&h.key()));
        if let Ok(Some(len)) = self.backend.stat(&h) {
            bar.set_length(len);
        }
        let n = self.read(&h, &mut bar.wrap_write(tmp.as_file_mut()));
        bar.finish_and_clear();
        let n = n?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| super::write_error(tmp.path(), e))?;
        tmp.persist(dest)
            .map_err(|e| super::write_error(dest, e.error))?;
        super::sync_dir(dir)?;
        Ok(n)
    }

    /// Streams the object `h` (decrypted) into `to`.
    fn read(&self, h: &Handle, to: &mut dyn io::Write) -> Result<u64> {
        if !self.encrypted() {
            return self.backend.load(h, to);
        }
        let identities = self.identities()?;
        let (reader, writer) = io::pipe()?;
        let backend = &self.backend;
        std::thread::scope(|scope| {
            let loading = scope.spawn(move || {
                let mut writer = writer;
                backend.load(h, &mut writer)
            });
            let decrypted = decrypt(&identities, reader, to, &self.damaged(h));
            // The reader is gone (moved into `decrypt`): a loader blocked on it ends too.
            let loaded = loading.join().unwrap_or_else(|_| {
                Err(StoreError::ThreadFailed {
                    work: Work::Download,
                }
                .into())
            });
            match (loaded, decrypted) {
                (Ok(_), Ok(n)) => Ok(n),
                // The loader stopped because decryption gave up and closed the pipe.
                (Err(e), Err(decrypting)) if is_broken_pipe(&e) => Err(decrypting),
                // A transfer that broke off is the replica's failure, not damage.
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e),
            }
        })
    }

    fn damaged(&self, h: &Handle) -> String {
        format!("{}/{}", self.location(), h.key())
    }

    fn identities(&self) -> Result<Vec<Box<dyn age::Identity>>> {
        let Some(path) = &self.identity else {
            return Err(StoreError::NoIdentity.into());
        };
        let cannot = |e: String| StoreError::BadIdentity {
            path: path.clone(),
            cause: e,
        };
        Ok(
            age::IdentityFile::from_file(path.to_string_lossy().into_owned())
                .map_err(|e| cannot(e.to_string()))?
                .into_identities()
                .map_err(|e| cannot(e.to_string()))?,
        )
    }

    /// Store file names of `kind` on the replica (`.age` removed), with their sizes. Objects of
    /// the other mode (plaintext in an encrypted replica, or the reverse) are left out.
    pub fn list(&self, kind: Kind) -> Result<Vec<(String, u64)>> {
        let encrypted = self.encrypted();
        Ok(self
            .backend
            .list(kind)?
            .into_iter()
            .filter_map(|o| {
                let name = o.handle.name;
                match (encrypted, name.strip_suffix(AGE)) {
                    (true, Some(plain)) => Some((plain.to_string(), o.size)),
                    (false, None) => Some((name, o.size)),
                    _ => None,
                }
            })
            .collect())
    }

    pub fn exists(&self, kind: Kind, name: &str) -> Result<bool> {
        Ok(self.backend.stat(&self.handle(kind, name))?.is_some())
    }

    pub fn remove(&self, kind: Kind, name: &str) -> Result<()> {
        self.backend.remove(&self.handle(kind, name))
    }

    // -----------------------------------------------------------------------------------------
    // The store's files

    /// Uploads a verified snapshot: the data first, the manifest last, so a snapshot whose
    /// upload broke off never looks complete (design.md §9).
    pub fn push_snapshot(&self, store: &Store, id: &str) -> Result<u64> {
        let data = self.upload(Kind::Snapshots, &store.data_path(id))?;
        crate::failpoint::hit("pause-replica-manifest");
        let manifest = self.upload(Kind::Snapshots, &store.manifest_path(id))?;
        Ok(data + manifest)
    }

    /// Uploads a journal (after each state change; it replaces the previous copy).
    pub fn push_journal(&self, store: &Store, id: &str) -> Result<u64> {
        self.upload(Kind::Journals, &store.journal_path(id))
    }

    /// Downloads a snapshot into the local store, data first and manifest last (the caller then
    /// verifies it like any local snapshot).
    pub fn pull_snapshot(&self, store: &Store, id: &str) -> Result<u64> {
        let data = self.download(
            Kind::Snapshots,
            &format!("{id}.db.zst"),
            &store.data_path(id),
        )?;
        let manifest = self.download(
            Kind::Snapshots,
            &format!("{id}.json"),
            &store.manifest_path(id),
        )?;
        Ok(data + manifest)
    }

    /// Downloads a journal into the local store.
    pub fn pull_journal(&self, store: &Store, id: &str) -> Result<u64> {
        self.download(
            Kind::Journals,
            &format!("{id}.json"),
            &store.journal_path(id),
        )
    }

    /// The snapshots on the replica, from its object names alone (no identity needed), oldest
    /// first by id.
    pub fn snapshots(&self) -> Result<Vec<RemoteSnapshot>> {
        let mut found: std::collections::BTreeMap<String, RemoteSnapshot> = Default::default();
        for (name, size) in self.list(Kind::Snapshots)? {
            let (id, is_manifest) = if let Some(id) = name.strip_suffix(".json") {
                (id, true)
            } else if let Some(id) = name.strip_suffix(".db.zst") {
                (id, false)
            } else {
                continue;
            };
            let entry = found
                .entry(id.to_string())
                .or_insert_with(|| RemoteSnapshot {
                    id: id.to_string(),
                    complete: false,
                    bytes: 0,
                });
            entry.complete |= is_manifest;
            entry.bytes += size;
        }
        Ok(found.into_values().collect())
    }

    /// Journal ids on the replica.
    pub fn journals(&self) -> Result<Vec<String>> {
        Ok(self
            .list(Kind::Journals)?
            .into_iter()
            .filter_map(|(name, _)| name.strip_suffix(".json").map(str::to_string))
            .collect())
    }

    /// Deletes a snapshot from the replica: the manifest first, so it stops looking complete.
    pub fn delete_snapshot(&self, id: &str) -> Result<()> {
        self.remove(Kind::Snapshots, &format!("{id}.json"))?;
        self.remove(Kind::Snapshots, &format!("{id}.db.zst"))
    }
}

/// A plain directory as a replica's backend (tests of the layer above the backends).
pub fn local_dir(dir: &Path) -> Box<dyn Backend> {
    Box::new(LocalDir::new(dir))
}

fn encrypt(
    recipients: &[x25519::Recipient],
    from: &mut dyn Read,
    to: io::PipeWriter,
) -> io::Result<()> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(io::Error::other)?;
    let mut sink = encryptor.wrap_output(io::BufWriter::with_capacity(1 << 20, to))?;
    io::copy(&mut BufReader::with_capacity(1 << 20, from), &mut sink)?;
    sink.finish()?.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

fn decrypt(
    identities: &[Box<dyn age::Identity>],
    from: io::PipeReader,
    to: &mut dyn io::Write,
    location: &str,
) -> Result<u64> {
    let damaged = |why: Undecryptable| StoreError::Undecryptable {
        location: location.to_string(),
        why,
    };
    let decryptor = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 20, from))
        .map_err(|e| damaged(Undecryptable::Other(e.to_string())))?;
    let mut plain = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => damaged(Undecryptable::OtherKey),
            e => damaged(Undecryptable::Other(e.to_string())),
        })?;
    Ok(copy_plain(&mut plain, to).map_err(|e| damaged(Undecryptable::Other(e.to_string())))?)
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn copy_plain(from: &mut dyn Read, to: &mut dyn io::Write) -> io::Result<u64> {
    io::copy(from, to)
}

/// Every recipient from the options and the recipients file; a malformed one is exit 2.
fn recipients(config: &ReplicaConfig) -> Result<Vec<x25519::Recipient>> {
    let mut keys: Vec<String> = config
        .recipients
        .iter()
        .flat_map(|k| k.split([',', ' ', '\n', '\t']))
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(path) = &config.recipients_file {
        let text = fs::read_to_string(path).map_err(|err| StoreError::RecipientsFile {
            path: path.to_path_buf(),
            err,
        })?;
        // age's recipients-file format: one key a line, `#` comments, blank lines.
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    keys.iter()
        .map(|k| {
            x25519::Recipient::from_str(k).map_err(|e| {
                StoreError::BadRecipient {
                    key: k.to_string(),
                    cause: e.to_string(),
                }
                .into()
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The run's replica: every verified snapshot and every journal state is copied as it is written

/// The replica of this run, set once at start-up (`install`); the store's writers copy to it
/// after each local write, so no command has to remember to (design.md §9).
struct Session {
    replica: Replica,
    copied: Mutex<Vec<Copied>>,
}

static SESSION: OnceLock<Session> = OnceLock::new();

/// One object this run copied (or failed to copy) to the replica.
#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    pub object: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// What a run did on the replica, for `--json` documents (`replica` member).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub url: String,
    pub encrypted: bool,
    pub copied: Vec<Copied>,
}

/// Makes `replica` the run's replica. Only the first call counts.
pub fn install(replica: Replica) {
    let _ = SESSION.set(Session {
        replica,
        copied: Mutex::new(Vec::new()),
    });
}

/// The run's replica, if `--replica` is set.
pub fn active() -> Option<&'static Replica> {
    SESSION.get().map(|s| &s.replica)
}

/// Copies a snapshot that was just written and verified (data, then manifest). A failure is
/// recorded, not returned: the local snapshot stands, and the run ends with exit 8.
pub fn after_snapshot(store: &Store, id: &str) {
    if let Some(session) = SESSION.get() {
        let result = session.replica.push_snapshot(store, id);
        session.record(format!("snapshots/{id}"), result);
    }
}

/// Copies a journal after each state change (planned, committed, abandoned...).
pub fn after_journal(store: &Store, id: &str) {
    if let Some(session) = SESSION.get() {
        let result = session.replica.push_journal(store, id);
        session.record(format!("journals/{id}"), result);
    }
}

impl Session {
    fn record(&self, object: String, result: Result<u64>) {
        let copied = Copied {
            object,
            ok: result.is_ok(),
            error: result.err().map(|e| format!("{e:#}")),
        };
        if let Ok(mut list) = self.copied.lock() {
            list.push(copied);
        }
    }

    fn copied(&self) -> Vec<Copied> {
        self.copied.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// What this run copied, when a replica is set and something was written.
pub fn summary() -> Option<Summary> {
    let session = SESSION.get()?;
    let copied = session.copied();
    (!copied.is_empty()).then(|| Summary {
        url: session.replica.location(),
        encrypted: session.replica.encrypted(),
        copied,
    })
}

/// Exit 8 when a copy of this run failed: one line naming the first failure and the count.
pub fn failure() -> Option<anyhow::Error> {
    let session = SESSION.get()?;
    let copied = session.copied();
    let failed: Vec<&Copied> = copied.iter().filter(|c| !c.ok).collect();
    let first = failed.first()?;
    let n = failed.len();
    let why = first.error.clone().unwrap_or_default();
    Some(
        StoreError::CopyFailed {
            n,
            first: first.object.clone(),
            why,
        }
        .into(),
    )
}

/// Deletes the replica's copy of a journal the store just removed (a run that failed before
/// its transaction committed).
pub fn after_journal_removed(id: &str) {
    if let Some(session) = SESSION.get() {
        let result = session
            .replica
            .remove(Kind::Journals, &format!("{id}.json"))
            .map(|()| 0);
        session.record(format!("journals/{id} (deleted)"), result);
    }
}
