//! What `apply` and `restore --journal` share around their one write transaction: the rows a
//! run changed, what it wrote to the store before `COMMIT` (to take back out on failure), the
//! commit itself with its "outcome uncertain" case, and marking the journal committed after it
//! (design.md §4.2, §5).

use anyhow::Result;
use serde::Serialize;

use crate::cmd::error::{CommandError, Committed};
use crate::core::reason::ChangeReason;
use crate::engine::{CommitError, WriteTx};
use crate::failpoint;
use crate::journal::Journal;
use crate::snapshot;
use crate::store::Store;

/// One row `apply` changed (or would have, for a skipped one: see `skipped`).
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub id: i64,
    pub job_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: ChangeReason,
}

/// Marks a journal committed after `COMMIT` (saves it). Test-only: the `fail-journal-mark` fail
/// point makes it fail as a full or read-only store would.
pub fn mark_committed(journal: &mut Journal, store: &Store) -> Result<()> {
    if failpoint::active("fail-journal-mark") {
        return Err(CommandError::Injected {
            point: "fail-journal-mark",
        }
        .into());
    }
    journal.save(store)
}

/// The error of a transaction that committed but whose journal could not be marked: exit 3
/// (the store needs attention), with a message that says the change is in the database and a
/// hint that says how it will be resolved (design.md §5).
pub fn committed_but_unmarked(
    what: Committed,
    journal: &Journal,
    cause: &anyhow::Error,
    details: Option<serde_json::Value>,
) -> anyhow::Error {
    let err = CommandError::CommittedUnmarked {
        what,
        journal: journal.id.clone(),
        rows: journal.changes.len(),
        cause: format!("{cause:#}"),
    };
    crate::error::with_details(err.into(), details)
}

/// What a run wrote to the store before its transaction committed, so that a failure can take
/// it back out.
#[derive(Default)]
pub struct Written {
    /// The id of the planned journal (set just before it is written).
    pub journal: Option<String>,
    /// Set when COMMIT failed in a way that leaves its outcome to crash recovery: then the
    /// planned journal and its snapshot stay for the next run to resolve.
    pub uncertain: bool,
}

impl Written {
    /// The transaction did not commit: removes the journal and the snapshot of this run, so the
    /// store is as it was. Best effort: the original error is what the operator must see, and a
    /// journal that cannot be removed keeps its snapshot (recovery marks it abandoned).
    pub fn discard(&self, store: &Store, snapshot_id: &str) {
        if self.uncertain {
            return;
        }
        if let Some(id) = &self.journal {
            if Journal::remove(store, id).is_err() {
                return;
            }
        }
        let _ = snapshot::delete(store, snapshot_id);
    }
}

/// Commits `tx`. A commit whose outcome is unknown leaves the planned journal and its snapshot
/// for crash recovery to resolve (`written.uncertain`).
pub fn commit(tx: Box<dyn WriteTx + '_>, written: &mut Written) -> Result<()> {
    tx.commit().map_err(|e| match e {
        CommitError::RolledBack(e) => e,
        CommitError::Uncertain(e) => {
            written.uncertain = true;
            e
        }
    })
}
