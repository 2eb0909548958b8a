//! The write-ahead journal of `apply` and of `restore --journal` (design.md §4): what will change is
//! written and fsynced as `planned` before the database transaction starts, and marked
//! `committed` (with what really changed) after it. The transaction itself inserts the journal's
//! id into `jobsweep_outcomes`, a table of jobsweep's own in the app's database, so a journal left
//! `planned` by a crash is resolved from that record: id present -> committed, absent ->
//! abandoned (design.md §4.2). Row values are never used to guess, except for journals written
//! before the record existed (no `outcome_recorded`): those are resolved the old way and marked
//! `outcome_uncertain`, which `log` shows and which keeps their snapshot from `prune`.
//!
//! The journal is the undo record, so a damaged one must never be trusted: loading checks the
//! format, the id against the file name, a SHA-256 over the changes (`changes_sha256`) and one
//! over the whole document (`journal_sha256`, so an edited `state`, `kind`, `db_path` or
//! `snapshot_id` is caught too); any mismatch is exit 4.
//!
//! A journal belongs to a database file when its canonical path matches, or when the file's
//! device and inode match (the same file reached by another path: a container's
//! `/app/data/database.db` and the host's bind-mounted path, or a hard link).

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::jobs::Criteria;
use crate::core::reason::{ChangeReason, ReasonCode};
pub use crate::engine::FileId;
use crate::engine::{Database, Identity, ServerId};
use crate::store::{self, Store};

pub const FORMAT: &str = "jobsweep-journal/1";
/// The only table and column a journal may name: `apply` changes nothing else.
pub const TABLE: &str = "analysis_jobs";
pub const COLUMN: &str = "status";
/// jobsweep's own table in the app's database: one row per committed apply or revert
/// transaction, inserted by that transaction (design.md §4.2).
pub const OUTCOMES_TABLE: &str = "jobsweep_outcomes";

/// Why a journal cannot be used (data; the sentences are `render::errors`'). Cloneable so a
/// listing can keep each damaged journal's error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", crate::render::errors::journal(self))]
pub enum JournalError {
    /// The journal was written for another database (`theirs`), not `ours`.
    OtherDatabase {
        id: String,
        theirs: String,
        ours: String,
    },
    /// The file cannot be read; `err` is the OS's error.
    Unreadable { path: PathBuf, err: String },
    /// The file is not a journal document (cut short when `truncated`).
    Malformed {
        path: PathBuf,
        truncated: bool,
        err: String,
    },
    /// The document fails one of its checks.
    Damaged { path: PathBuf, damage: Damage },
    /// `latest` would have to pick past this damaged journal: refuse to guess.
    LatestIsDamaged(Box<JournalError>),
    /// No apply journal of the database `db` to revert.
    NoneToRevert { db: String },
}

/// Which check a journal fails (design.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    UnknownFormat(String),
    IdIsNotFileName(String),
    ChangesEdited,
    JournalEdited,
    RestoreWithChanges,
    ForeignChange { table: String, column: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Apply,
    Revert,
    /// A `restore --snapshot` of the live database: no changes of its own; `snapshot_id` is the
    /// pre-restore snapshot and `restored_snapshot` the snapshot put back (design.md §4.3).
    Restore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Planned,
    Committed,
    Abandoned,
}

/// One row's change: `UPDATE table SET column = after WHERE pk = ? AND column IS before`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub table: String,
    pub pk: i64,
    pub job_id: Option<String>,
    pub column: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: ChangeReason,
}

/// A planned change that was not made, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub pk: i64,
    pub job_id: Option<String>,
    pub reason: ChangeReason,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub format: String,
    pub id: String,
    pub kind: Kind,
    pub state: State,
    /// For a revert: the journal it reverts.
    pub reverts: Option<String>,
    /// The newest revert of this journal.
    pub reverted_by: Option<String>,
    pub snapshot_id: String,
    pub snapshot_image_sha256: String,
    pub db_path: String,
    /// The raw bytes of the canonical database path in hex, only when they are not UTF-8
    /// (`db_path` is then lossy text for people; design.md §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_path_hex: Option<String>,
    /// The database file's device and inode (Unix) when the journal was written: identifies the
    /// file when it is reached by another path. Absent on other systems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_file: Option<FileId>,
    /// A server database (PostgreSQL): its system identifier and name; `db_path` then holds
    /// its URL without password, for people (design.md §8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_server: Option<ServerId>,
    /// What selected the jobs (apply only).
    pub criteria: Option<Criteria>,
    pub changes: Vec<Change>,
    pub changes_sha256: String,
    pub skipped: Vec<Skipped>,
    #[serde(with = "crate::store::micros")]
    pub created_at: DateTime<Utc>,
    pub committed_at: Option<DateTime<Utc>>,
    pub tool_version: String,
    /// Set on journals whose transaction records its outcome in `jobsweep_outcomes`: a crash
    /// is then resolved from that record. Absent on journals written before it existed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub outcome_recorded: bool,
    /// Set when a journal without `outcome_recorded` was resolved by comparing row values: the
    /// state is a guess (the app may have changed the rows since), so its snapshot is kept.
    #[serde(default, skip_serializing_if = "is_false")]
    pub outcome_uncertain: bool,
    /// Kind `restore`: the snapshot that was put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_snapshot: Option<String>,
    /// SHA-256 of the compact JSON of the whole journal without this field; set on every save,
    /// checked on every load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_sha256: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// SHA-256 of the compact JSON of `changes`: serde writes struct fields in declaration order
/// and escapes strings one way only, so the same changes always give the same bytes.
pub fn changes_sha256(changes: &[Change]) -> String {
    let bytes = serde_json::to_vec(changes).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

impl Journal {
    #[allow(clippy::too_many_arguments)]
    pub fn planned(
        id: String,
        created_at: DateTime<Utc>,
        kind: Kind,
        reverts: Option<String>,
        snapshot_id: String,
        snapshot_image_sha256: String,
        db: &Identity,
        criteria: Option<Criteria>,
        changes: Vec<Change>,
    ) -> Journal {
        let (db_path, db_path_hex, db_file, db_server) = match db {
            Identity::File { path, file } => (
                path.display().to_string(),
                store::path_hex(path),
                *file,
                None,
            ),
            Identity::Server { id, shown } => (shown.clone(), None, None, Some(id.clone())),
        };
        Journal {
            format: FORMAT.to_string(),
            id,
            kind,
            state: State::Planned,
            reverts,
            reverted_by: None,
            snapshot_id,
            snapshot_image_sha256,
            db_path,
            db_path_hex,
            db_file,
            db_server,
            criteria,
            changes_sha256: changes_sha256(&changes),
            changes,
            skipped: Vec::new(),
            created_at,
            committed_at: None,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            // Test-only: `legacy-journal` writes a journal as versions before the outcome
            // record did (and its transaction records nothing), to test their recovery.
            outcome_recorded: !crate::failpoint::active("legacy-journal"),
            outcome_uncertain: false,
            restored_snapshot: None,
            journal_sha256: None,
        }
    }

    /// Replaces the plan of a journal still `planned` (apply's plan changed under the write
    /// lock), before it is saved again.
    pub fn replan(&mut self, changes: Vec<Change>, skipped: Vec<Skipped>) {
        self.changes_sha256 = changes_sha256(&changes);
        self.changes = changes;
        self.skipped = skipped;
    }

    /// Marks the journal committed with what really changed.
    pub fn commit(&mut self, changed: Vec<Change>, skipped: Vec<Skipped>) {
        self.state = State::Committed;
        self.changes_sha256 = changes_sha256(&changed);
        self.changes = changed;
        self.skipped = skipped;
        self.committed_at = Some(store::clock_now());
    }

    pub fn path_in(store: &Store, id: &str) -> PathBuf {
        store.journal_path(id)
    }

    /// SHA-256 of the compact JSON of the journal without `journal_sha256` (struct fields in
    /// declaration order, so the same journal always gives the same bytes).
    pub fn document_sha256(&self) -> String {
        let mut doc = self.clone();
        doc.journal_sha256 = None;
        let bytes = serde_json::to_vec(&doc).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// Writes the journal atomically (fsynced), with its whole-document checksum.
    pub fn save(&mut self, store: &Store) -> Result<()> {
        self.journal_sha256 = Some(self.document_sha256());
        store::write_json_atomic(&Journal::path_in(store, &self.id), self)?;
        store::replica::after_journal(store, &self.id);
        Ok(())
    }

    /// Deletes the journal file (a run that failed before its transaction committed leaves no
    /// journal behind) and fsyncs the directory.
    pub fn remove(store: &Store, id: &str) -> Result<()> {
        let path = Journal::path_in(store, id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(store::write_error(&path, e)),
        }
        store::replica::after_journal_removed(id);
        store::sync_dir(&store.journals_dir())
    }

    /// Whether this journal is about the database `live`: for a file, the same canonical path,
    /// or the same file (device and inode) reached by another path; for a server database, the
    /// same system identifier and name.
    pub fn is_for(&self, live: &Identity) -> bool {
        match live {
            Identity::File { path, file } => {
                // A path that is not UTF-8 is compared by its exact bytes, not its lossy text.
                let same_path = match &self.db_path_hex {
                    Some(hex) => store::path_hex(path).as_ref() == Some(hex),
                    None => self.db_server.is_none() && self.db_path == path.display().to_string(),
                };
                same_path || self.db_file.is_some_and(|ours| *file == Some(ours))
            }
            Identity::Server { id, .. } => self.db_server.as_ref() == Some(id),
        }
    }

    /// Refuses a journal written for another database.
    pub fn check_database(&self, live: &Identity) -> Result<()> {
        if self.is_for(live) {
            return Ok(());
        }
        Err(JournalError::OtherDatabase {
            id: self.id.clone(),
            theirs: self.db_path.clone(),
            ours: live.shown(),
        }
        .into())
    }

    /// Rows this journal really changed: for a planned journal, the intended ones.
    pub fn changed_count(&self) -> usize {
        match self.state {
            State::Abandoned => 0,
            _ => self.changes.len(),
        }
    }
}

/// Reads and validates one journal file; any damage is exit 4.
pub fn load(path: &Path) -> Result<Journal, JournalError> {
    let bytes = std::fs::read(path).map_err(|e| JournalError::Unreadable {
        path: path.to_path_buf(),
        err: e.to_string(),
    })?;
    let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| JournalError::Malformed {
        path: path.to_path_buf(),
        truncated: e.is_eof(),
        err: e.to_string(),
    })?;
    validate(&journal, path).map_err(|damage| JournalError::Damaged {
        path: path.to_path_buf(),
        damage,
    })?;
    Ok(journal)
}

fn validate(journal: &Journal, path: &Path) -> Result<(), Damage> {
    if journal.format != FORMAT {
        return Err(Damage::UnknownFormat(journal.format.clone()));
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if stem != journal.id {
        return Err(Damage::IdIsNotFileName(journal.id.clone()));
    }
    if changes_sha256(&journal.changes) != journal.changes_sha256 {
        return Err(Damage::ChangesEdited);
    }
    if journal.journal_sha256.as_deref() != Some(journal.document_sha256().as_str()) {
        return Err(Damage::JournalEdited);
    }
    if journal.kind == Kind::Restore && !journal.changes.is_empty() {
        return Err(Damage::RestoreWithChanges);
    }
    if let Some(bad) = journal
        .changes
        .iter()
        .find(|c| c.table != TABLE || c.column != COLUMN)
    {
        return Err(Damage::ForeignChange {
            table: bad.table.clone(),
            column: bad.column.clone(),
        });
    }
    Ok(())
}

/// A journal file in the store, readable or not.
pub struct Entry {
    pub id: String,
    pub path: PathBuf,
    pub journal: Result<Journal, JournalError>,
}

impl Entry {
    /// The creation time: the journal's own, else the one encoded in its id.
    pub fn created_at(&self) -> DateTime<Utc> {
        match &self.journal {
            Ok(j) => j.created_at,
            Err(_) => store::time_of_id(&self.id).unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

/// Every journal in the store, newest first; damaged ones are kept with their error.
pub fn list(store: &Store) -> Result<Vec<Entry>> {
    let dir = store.journals_dir();
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        // An unreadable directory is an environment problem (exit 3), as for snapshots/.
        Err(err) => return Err(store::StoreError::Read { path: dir, err }.into()),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .filter(|n| !n.starts_with('.'))
            .map(str::to_string)
        else {
            continue;
        };
        let journal = load(&path);
        out.push(Entry { id, path, journal });
    }
    out.sort_by(|a, b| b.created_at().cmp(&a.created_at()).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// Finds one journal by id, unique prefix or `latest`: the newest apply journal of the database
/// at `db_path` (two databases in one folder share a store). An id or prefix is resolved among
/// all journals, so naming another database's journal gets a clear refusal from
/// `check_database` rather than "no journal matches".
pub fn find_for(store: &Store, wanted: &str, db: &Identity) -> Result<Journal> {
    let entries = list(store)?;
    if wanted == "latest" {
        // A damaged journal newer than every apply could be the apply meant (its database
        // cannot be trusted either): refuse to guess.
        for entry in &entries {
            match &entry.journal {
                Ok(j) if j.kind == Kind::Apply && j.is_for(db) => return Ok(j.clone()),
                Ok(_) => continue,
                Err(e) => return Err(JournalError::LatestIsDamaged(Box::new(e.clone())).into()),
            }
        }
        return Err(JournalError::NoneToRevert { db: db.shown() }.into());
    }
    let items: Vec<(String, DateTime<Utc>)> = entries
        .iter()
        .map(|e| (e.id.clone(), e.created_at()))
        .collect();
    let id = store::resolve_id(&items, wanted, store::IdKind::Journal)?;
    let entry = entries
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| anyhow::anyhow!("journal {id}"))?;
    Ok(entry.journal?)
}

/// Records a `restore --snapshot` of the live database as a journal of kind `restore` (design.md
/// §4.2), written once the restore succeeded: `snapshot_id` is the pre-restore snapshot (the way
/// back), `restored_snapshot` the snapshot put back. It changes no row of its own, so `log` can
/// show the event and which applies it undid.
pub fn record_restore(
    store: &Store,
    db: &Identity,
    restored: &crate::snapshot::Manifest,
    pre: &crate::snapshot::Manifest,
) -> Result<Journal> {
    let (id, created_at) = store::new_id();
    let mut journal = Journal::planned(
        id,
        created_at,
        Kind::Restore,
        None,
        pre.id.clone(),
        pre.image_sha256.clone(),
        db,
        None,
        Vec::new(),
    );
    journal.state = State::Committed;
    journal.committed_at = Some(store::clock_now());
    // Not a transaction of its own: there is no outcome record to read.
    journal.outcome_recorded = false;
    journal.restored_snapshot = Some(restored.id.clone());
    journal.save(store)?;
    Ok(journal)
}

/// Records, inside the open transaction `tx`, that the transaction of `journal` commits (design.md
/// §4.2): the record exists exactly when the changes do. Journals written the old way
/// (`legacy-journal` test switch) record nothing.
pub fn record_outcome(tx: &dyn crate::engine::WriteTx, journal: &Journal) -> Result<()> {
    if !journal.outcome_recorded {
        return Ok(());
    }
    let kind = match journal.kind {
        Kind::Apply => "apply",
        Kind::Revert => "revert",
        Kind::Restore => "restore",
    };
    tx.record_outcome(&journal.id, kind, store::clock_now())
}

/// What recovery decided about one planned journal.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub id: String,
    pub state: State,
    /// Resolved by comparing row values (a journal written before the outcome record): a guess.
    pub uncertain: bool,
}

/// Resolves the planned journals of this database, left by a crash (design.md §4). Called under the
/// store lock by every command that writes to the store, before it does anything else.
///
/// A journal with `outcome_recorded` is resolved from `jobsweep_outcomes`: its id present ->
/// committed (with the changes it planned: under the write lock every compare-and-set of the
/// plan succeeds), absent -> abandoned. Row values are not looked at: the app may have changed
/// them since (design.md §4.2).
///
/// A journal written before the record existed can only be resolved by its rows: committed when
/// at least one row holds its new value and none still holds its old value, else abandoned. That
/// is a guess, so the journal is marked `outcome_uncertain`.
pub fn resolve_planned(store: &Store, db: &dyn Database) -> Result<Vec<Resolved>> {
    let mut resolved = Vec::new();
    let live = db.identity();
    let entries = list(store)?;
    for entry in &entries {
        let Ok(journal) = &entry.journal else {
            continue;
        };
        if journal.state != State::Planned || !journal.is_for(&live) {
            continue;
        }
        let mut journal = journal.clone();
        if journal.outcome_recorded {
            match db.recorded_outcome(&journal.id)? {
                Some(at) => {
                    journal.state = State::Committed;
                    journal.committed_at = Some(at.unwrap_or_else(store::clock_now));
                }
                None => journal.state = State::Abandoned,
            }
        } else {
            guess_outcome(db, &mut journal)?;
            journal.outcome_uncertain = true;
        }
        journal.save(store)?;
        resolved.push(Resolved {
            id: journal.id.clone(),
            state: journal.state,
            uncertain: journal.outcome_uncertain,
        });
    }
    link_reverts(store)?;
    Ok(resolved)
}

/// [`resolve_planned`] for a command that has no connection open (`snapshot prune`): the
/// database is opened only when one of its journals is planned.
pub fn resolve_planned_of(
    store: &Store,
    target: &crate::engine::Target,
    busy_timeout: std::time::Duration,
) -> Result<Vec<Resolved>> {
    let live = crate::engine::identify(target, busy_timeout)?;
    let planned = list(store)?.iter().any(|e| {
        e.journal
            .as_ref()
            .is_ok_and(|j| j.state == State::Planned && j.is_for(&live))
    });
    if !planned {
        link_reverts(store)?;
        return Ok(Vec::new());
    }
    // Opening lets SQLite roll back the hot journal of a transaction cut by the crash, so what
    // is read is what the app will see.
    let db = crate::engine::open(target, crate::engine::Access::Read, busy_timeout)?;
    resolve_planned(store, db.as_ref())
}

/// The old resolution, for journals without an outcome record: from the rows' values.
fn guess_outcome(db: &dyn Database, journal: &mut Journal) -> Result<()> {
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    let mut old_value_seen = false;
    for change in &journal.changes {
        match db.current_value(change.pk)? {
            Some(now) if now == change.after => present.push(change.clone()),
            Some(now) => {
                old_value_seen |= now == change.before;
                absent.push(Skipped {
                    pk: change.pk,
                    job_id: change.job_id.clone(),
                    reason: ReasonCode::RecoveredNotNew { now }.into(),
                });
            }
            None => absent.push(Skipped {
                pk: change.pk,
                job_id: change.job_id.clone(),
                reason: ReasonCode::RecoveredDeleted.into(),
            }),
        }
    }
    if !present.is_empty() && !old_value_seen {
        journal.commit(present, absent);
    } else {
        journal.state = State::Abandoned;
    }
    Ok(())
}

/// A crash between marking a revert committed and linking it from the journal it reverts
/// leaves `reverted_by` unset: set it from the newest committed revert.
fn link_reverts(store: &Store) -> Result<()> {
    let fresh = list(store)?;
    for entry in &fresh {
        let Ok(revert) = &entry.journal else { continue };
        let (Kind::Revert, State::Committed, Some(target)) =
            (revert.kind, revert.state, revert.reverts.as_deref())
        else {
            continue;
        };
        if let Some(Ok(original)) = fresh
            .iter()
            .find(|e| e.id == target)
            .map(|e| e.journal.as_ref())
        {
            let newer_link = original
                .reverted_by
                .as_deref()
                .and_then(|by| fresh.iter().find(|e| e.id == by))
                .is_some_and(|e| e.created_at() >= revert.created_at);
            if !newer_link {
                let mut original = original.clone();
                original.reverted_by = Some(revert.id.clone());
                original.save(store)?;
            }
        }
    }
    Ok(())
}

/// A status value for messages: quoted text or NULL.
pub fn shown_value(value: &Option<String>) -> String {
    match value {
        Some(v) => v.clone(),
        None => "NULL".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(pk: i64) -> Change {
        Change {
            table: TABLE.into(),
            pk,
            job_id: Some(format!("job_{pk}")),
            column: COLUMN.into(),
            before: Some("pending".into()),
            after: Some("failed".into()),
            reason: ReasonCode::NoFileCompleted.into(),
        }
    }

    #[test]
    fn checksum_covers_every_field_of_every_change() {
        let changes = vec![change(1), change(2)];
        let sum = changes_sha256(&changes);
        assert_eq!(sum, changes_sha256(&changes.clone()));
        let mut edited = changes.clone();
        edited[1].before = Some("processing".into());
        assert_ne!(sum, changes_sha256(&edited));
        let mut edited = changes.clone();
        edited[0].pk = 7;
        assert_ne!(sum, changes_sha256(&edited));
    }

    fn planned_for(db: &Identity) -> Journal {
        Journal::planned(
            "20260101T000000Z-00000000".into(),
            store::clock_now(),
            Kind::Apply,
            None,
            "s".into(),
            "h".into(),
            db,
            None,
            vec![change(1)],
        )
    }

    #[test]
    fn a_journal_belongs_to_its_database_by_identity() {
        let file = Identity::File {
            path: "/srv/data/database.db".into(),
            file: Some(FileId { dev: 1, inode: 2 }),
        };
        let server = |sysid: &str, db: &str| Identity::Server {
            id: ServerId {
                system_identifier: sysid.into(),
                database: db.into(),
                schema: None,
            },
            shown: format!("postgresql://h/{db}"),
        };
        let on_file = planned_for(&file);
        let doc = serde_json::to_value(&on_file).unwrap();
        // SQLite's journals keep the fields they always had, and no server field.
        assert_eq!(doc["db_path"], "/srv/data/database.db");
        assert!(doc.get("db_server").is_none());
        assert!(on_file.is_for(&file));
        // The same file reached by another path: same device and inode.
        let moved = Identity::File {
            path: "/app/data/database.db".into(),
            file: Some(FileId { dev: 1, inode: 2 }),
        };
        assert!(on_file.is_for(&moved));
        assert!(!on_file.is_for(&server("7", "app")));

        let on_server = planned_for(&server("7", "app"));
        assert_eq!(on_server.db_path, "postgresql://h/app");
        assert!(on_server.is_for(&server("7", "app")));
        assert!(!on_server.is_for(&server("7", "other")));
        assert!(!on_server.is_for(&server("8", "app")));
        // A file whose path happens to equal the server's display form is not that server.
        let lookalike = Identity::File {
            path: "postgresql://h/app".into(),
            file: None,
        };
        assert!(!on_server.is_for(&lookalike));
    }

    #[test]
    fn ids_order_damaged_journals() {
        let t = store::time_of_id("20260225T004515Z-0a1b2c3d").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-02-25T00:45:15+00:00");
        assert!(store::time_of_id("garbage").is_none());
    }
}
