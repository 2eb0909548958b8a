//! The app's two schema variants and the columns a database has (design.md §2): each engine
//! reads them from its catalogue, the survey names only what exists.

/// The two schema variants found in deployments (design.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Current,
    Legacy,
}

/// Which columns the file has, so queries can name only what exists.
#[derive(Debug, Clone)]
pub struct Schema {
    pub variant: Variant,
    pub job_columns: Vec<String>,
    pub result_columns: Vec<String>,
    /// Columns of `analysis_progress`, empty when the table is missing.
    pub progress_columns: Vec<String>,
}

impl Schema {
    pub fn job_has(&self, column: &str) -> bool {
        self.job_columns
            .iter()
            .any(|c| c.eq_ignore_ascii_case(column))
    }
    pub fn result_has(&self, column: &str) -> bool {
        self.result_columns
            .iter()
            .any(|c| c.eq_ignore_ascii_case(column))
    }
    pub fn progress_has(&self, column: &str) -> bool {
        self.progress_columns
            .iter()
            .any(|c| c.eq_ignore_ascii_case(column))
    }
}
