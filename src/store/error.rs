//! The store's failures (design.md §4), as data: the path and the OS's error. The sentences are
//! `render::errors`', the exit status `error::classify`'s. The same failure (an unreadable
//! directory, say) is one variant whichever catalogue meets it.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("{}", crate::render::errors::store(self))]
pub enum StoreError {
    /// A command that reads the store found none (it never creates one).
    Missing { dir: PathBuf },
    /// A file or directory of the store could not be read (or listed).
    Read { path: PathBuf, err: io::Error },
    /// A file of the store could not be written.
    Write { path: PathBuf, err: io::Error },
    /// A file of the store could not be deleted.
    Delete { path: PathBuf, err: io::Error },
    /// A directory of the store cannot be created.
    CreateDir { path: PathBuf, err: io::Error },
    /// A directory of the store cannot be inspected (`lstat`).
    Inspect { path: PathBuf, err: io::Error },
    /// The store directory cannot be opened (to lock it).
    OpenDir { path: PathBuf, err: io::Error },
    /// The lock file cannot be opened.
    LockFile { path: PathBuf, err: io::Error },
    /// A path of the store that could redirect jobsweep's writes (design.md §4).
    Refused { path: PathBuf, why: Refusal },
    /// Another jobsweep holds the store lock; `holder` is its line ("pid N started ...").
    Locked {
        path: PathBuf,
        holder: Option<String>,
    },
    /// Taking the lock failed (`waited`: while waiting for it with `--wait`).
    CannotLock {
        path: PathBuf,
        err: io::Error,
        waited: bool,
    },
    /// A value could not be serialised to JSON.
    Json { err: serde_json::Error },
    /// The replica URL cannot be used.
    BadReplicaUrl { url: String, why: UrlProblem },
    /// The replica at `location` (its URL, maybe with the object's key) failed; `cause` is the
    /// object store's or the OS's own line.
    Replica { location: String, cause: String },
    /// Encrypted replication without a recipient (and without `--replica-plaintext`).
    NoRecipient { url: String },
    /// The recipients file cannot be read.
    RecipientsFile { path: PathBuf, err: io::Error },
    /// A recipient that is not an age X25519 public key; `cause` is age's line.
    BadRecipient { key: String, cause: String },
    /// Reading an encrypted replica without `--identity`.
    NoIdentity,
    /// The identity file cannot be used; `cause` is age's line.
    BadIdentity { path: PathBuf, cause: String },
    /// Encrypting a file for upload failed.
    Encrypt { path: PathBuf, err: io::Error },
    /// An object of the replica (`location`) cannot be decrypted: damaged or another key's.
    Undecryptable {
        location: String,
        why: Undecryptable,
    },
    /// A worker thread of a transfer died.
    ThreadFailed { work: Work },
    /// The local work succeeded, `n` copies to the replica failed (`first` and its `why`).
    CopyFailed {
        n: usize,
        first: String,
        why: String,
    },
    /// `latest` of a kind the store (or replica) holds none of.
    NoneYet { kind: IdKind },
    /// No id of that kind starts with `wanted`.
    NoMatch { kind: IdKind, wanted: String },
    /// Several ids start with `wanted` (newest first).
    Ambiguous {
        kind: IdKind,
        wanted: String,
        matches: Vec<String>,
    },
}

/// What an id names, for `resolve_id`'s failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Snapshot,
    Journal,
    ReplicaSnapshot,
}

/// Why a replica URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// The URL parser's or the S3 client's own line.
    Invalid(String),
    NoBucket,
    NotLocalPath,
    /// A scheme other than `s3` and `file`.
    Scheme(String),
}

/// Why an object of the replica cannot be decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undecryptable {
    /// No key of `--identity` opens it.
    OtherKey,
    /// age's own line (a damaged or truncated object).
    Other(String),
}

/// The work of a transfer's second thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Encryption,
    Download,
}

/// Why a path of the store is refused (design.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Symlink,
    NotRegular,
    NotDirectory,
    HardLinks,
    /// Owned by `owner`, neither this user (`me`) nor root.
    ForeignOwner {
        owner: u32,
        me: u32,
    },
}
