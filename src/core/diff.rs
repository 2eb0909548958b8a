//! The diff model: how two states of the app's database differ, table by table (rows matched by
//! primary key) and, for `analysis_jobs`, row by row. Engines fill it (design.md §7.1).

use serde::Serialize;

/// How one table differs between FROM and TO.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    pub table: String,
    /// The key rows are matched by: the declared key columns, e.g. `id` or `emp_id, day`; else
    /// the rowid as `rowid` (`_rowid_` or `oid` when a column hides that name); `*` when every
    /// rowid name is a column, and whole rows are compared.
    pub key: String,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    /// Set when the table exists on one side only or cannot be compared row by row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<TableNote>,
}

/// Why a table's rows were not (all) compared: data, worded by the renderer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TableNote {
    OnlyInFrom,
    OnlyInTo,
    ColumnsDiffer { from: Vec<String>, to: Vec<String> },
    KeysDiffer,
}

impl TableDiff {
    pub fn differs(&self) -> bool {
        self.added + self.removed + self.changed > 0 || self.note.is_some()
    }
}

/// One column of an `analysis_jobs` row that changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnChange {
    pub column: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// One `analysis_jobs` row that was added, removed or changed.
#[derive(Debug, Clone, Serialize)]
pub struct JobRowDiff {
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    pub id: serde_json::Value,
    pub job_id: Option<String>,
    pub columns: Vec<ColumnChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DbDiff {
    /// Tables that differ, in name order.
    pub tables: Vec<TableDiff>,
    /// How many tables were compared and found identical.
    pub identical_tables: usize,
    pub jobs: Vec<JobRowDiff>,
}

impl DbDiff {
    pub fn differs(&self) -> bool {
        !self.tables.is_empty()
    }
}
