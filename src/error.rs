//! Exit codes (design.md §5) and the error type that carries one. Any error without a `Failure` in its
//! chain is an environment problem and exits with 3, like a database problem.

use std::fmt;

/// The process exit status, one per failure class of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Found = 1,
    Usage = 2,
    Database = 3,
    Integrity = 4,
    Conflict = 5,
    Locked = 6,
    TooManyChanges = 7,
    /// The local work succeeded, its off-host copy (the replica) did not (design.md §9).
    Replica = 8,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error the operator should see as one line (and maybe a hint), with its exit status.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
    /// What was known when it failed, for the `--json` error document (an object whose fields
    /// join `command` and `error`; design.md §6).
    pub details: Option<serde_json::Value>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            hint: None,
            details: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attaches what was known (an object) for `--json`.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand: `return Err(fail(Exit::Usage, "..."))`.
pub fn fail(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    Failure::new(exit, message).into()
}

/// The details (`Failure::details`) of the innermost `Failure` that has them.
pub fn details(err: &anyhow::Error) -> Option<&serde_json::Value> {
    err.chain()
        .filter_map(|e| e.downcast_ref::<Failure>())
        .find_map(|f| f.details.as_ref())
}

/// The exit status and hint of an error: those of the innermost `Failure`, else 3.
pub fn classify(err: &anyhow::Error) -> (Exit, Option<&str>) {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map(|f| (f.exit, f.hint.as_deref()))
        .unwrap_or((Exit::Database, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_match_the_spec() {
        let codes: Vec<u8> = [
            Exit::Success,
            Exit::Found,
            Exit::Usage,
            Exit::Database,
            Exit::Integrity,
            Exit::Conflict,
            Exit::Locked,
            Exit::TooManyChanges,
            Exit::Replica,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn failure_survives_added_context() {
        let err =
            Err::<(), _>(Failure::new(Exit::Conflict, "two rows changed").hint("use --force"))
                .context("restoring journal")
                .unwrap_err();
        assert_eq!(classify(&err), (Exit::Conflict, Some("use --force")));
        assert_eq!(format!("{err:#}"), "restoring journal: two rows changed");
    }

    #[test]
    fn plain_errors_are_database_problems() {
        let err = anyhow::anyhow!("disk on fire");
        assert_eq!(classify(&err), (Exit::Database, None));
    }
}
