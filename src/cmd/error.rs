//! The command layer's failures: what was asked cannot be done. Each variant carries data; the
//! sentences are `render::errors`', the exit status `error::classify`'s.

use std::path::PathBuf;

/// Which transaction committed before its journal could be marked (design.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    Apply,
    Revert,
}

#[derive(Debug, thiserror::Error)]
#[error("{}", crate::render::errors::command(self))]
pub enum CommandError {
    /// `snapshot verify` on a store with nothing in it.
    NoSnapshots,
    /// A replica command without a replica set.
    NoReplica,
    /// `snapshot verify --remote --all` on a replica with nothing in it.
    NoRemoteSnapshots,
    /// The replica holds the snapshot's data without its manifest (an upload that broke off).
    IncompleteUpload,
    /// No snapshot of `database` in the store at `store`.
    NoSnapshotOf { database: String, store: PathBuf },
    /// `restore --to`: the target's directory does not exist.
    NoTargetDir { target: String, dir: PathBuf },
    /// `restore --to` names a directory.
    TargetIsDir { target: String },
    /// `restore --to` names an existing file, without `--force`.
    TargetExists { target: String },
    /// `restore --to` names the live database or one of its side files (`suffix`, empty for the
    /// database itself).
    TargetIsLive { target: String, suffix: String },
    /// `restore --to` names a file inside the store.
    TargetInStore { target: String },
    /// `restore --snapshot` of another database's snapshot, without `--force`. The schemas
    /// are those of server databases (the same URL may hold the app's tables in two).
    SnapshotOfAnother {
        id: String,
        of: String,
        live: String,
        of_schema: Option<String>,
        live_schema: Option<String>,
    },
    /// `restore --journal` naming a restore record.
    RevertOfRestore { journal: String, snapshot: String },
    /// `snapshot prune` with nothing to keep.
    PruneKeepsNothing,
    /// More jobs would change than `--max-changes` allows.
    TooManyChanges { n: usize, max: usize },
    /// `snapshot list` found damaged snapshots (after printing the list).
    DamagedSnapshots { ids: Vec<String> },
    /// `snapshot verify` found failures.
    FailedVerification {
        total: usize,
        failed: Vec<String>,
        replica: bool,
    },
    /// The transaction committed, its journal could not be marked; `cause` is why.
    CommittedUnmarked {
        what: Committed,
        journal: String,
        rows: usize,
        cause: String,
    },
    /// The snapshot was restored, its record (journal) could not be written.
    RestoreUnrecorded { snapshot: String, cause: String },
    /// A snapshot extraction thread died.
    ExtractionFailed,
    /// A failpoint made a write fail (tests only).
    Injected { point: &'static str },
}
