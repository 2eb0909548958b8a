//! Exit codes (design.md §5) and the one place a failure is classified.
//!
//! Each layer returns its own typed error carrying data, never a sentence: `CommandError`
//! (src/cmd), `SettingsError`, `JournalError`, `SnapshotError`, `StoreError` (src/store), `EngineError` (the
//! engine seam, into which each engine maps its driver's errors) and `ServerError` (a database
//! reached over the network). Their text is the renderer's
//! (`render::errors`). `failure` maps the first typed error of a chain to its exit status and
//! hint (`classify` is its short form); anything else is an environment problem and exits
//! with 3, like a database problem.

use std::fmt;

use crate::cmd::error::CommandError;
use crate::engine::{EngineError, ServerError};
use crate::journal::JournalError;
use crate::settings::SettingsError;
use crate::snapshot::SnapshotError;
use crate::store::StoreError;

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

/// A classified error: its exit status, its one line (and maybe a hint), and what was known
/// for the `--json` error document (an object whose fields join `command` and `error`;
/// design.md §6). `failure` makes one; code that must attach details or that has not yet got
/// its own typed error builds one directly.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
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

/// The exit status and hint of an error (see `failure`).
pub fn classify(err: &anyhow::Error) -> (Exit, Option<String>) {
    let f = failure(err);
    (f.exit, f.hint)
}

/// The one classification (design.md §5): the exit status and hint of the outermost typed
/// error of the chain (else 3), the whole chain as the message, and the details of the
/// innermost `Failure` that has them.
pub fn failure(err: &anyhow::Error) -> Failure {
    let (exit, hint) = err
        .chain()
        .find_map(exit_and_hint)
        .unwrap_or((Exit::Database, None));
    Failure {
        exit,
        message: format!("{err:#}"),
        hint,
        details: err
            .chain()
            .filter_map(|e| e.downcast_ref::<Failure>())
            .find_map(|f| f.details.clone()),
    }
}

/// `err` classified, carrying `details` (what was known) for the `--json` error document.
pub fn with_details(err: anyhow::Error, details: Option<serde_json::Value>) -> anyhow::Error {
    let mut classified = failure(&err);
    if details.is_some() {
        classified.details = details;
    }
    classified.into()
}

/// Which exit status each typed error gets; the hints are the renderer's.
fn exit_and_hint(e: &(dyn std::error::Error + 'static)) -> Option<(Exit, Option<String>)> {
    use crate::render::errors as text;
    if let Some(f) = e.downcast_ref::<Failure>() {
        return Some((f.exit, f.hint.clone()));
    }
    if let Some(e) = e.downcast_ref::<CommandError>() {
        use CommandError::*;
        let exit = match e {
            TooManyChanges { .. } => Exit::TooManyChanges,
            DamagedSnapshots { .. } | FailedVerification { .. } | IncompleteUpload => {
                Exit::Integrity
            }
            CommittedUnmarked { .. }
            | RestoreUnrecorded { .. }
            | ExtractionFailed
            | Injected { .. } => Exit::Database,
            NoSnapshots
            | NoReplica
            | NoRemoteSnapshots
            | NoSnapshotOf { .. }
            | NoTargetDir { .. }
            | TargetIsDir { .. }
            | TargetExists { .. }
            | TargetIsLive { .. }
            | TargetInStore { .. }
            | SnapshotOfAnother { .. }
            | RevertOfRestore { .. }
            | PruneKeepsNothing => Exit::Usage,
        };
        return Some((exit, text::command_hint(e)));
    }
    if let Some(e) = e.downcast_ref::<JournalError>() {
        let exit = match e {
            JournalError::OtherDatabase { .. } | JournalError::NoneToRevert { .. } => Exit::Usage,
            JournalError::Unreadable { .. }
            | JournalError::Malformed { .. }
            | JournalError::Damaged { .. }
            | JournalError::LatestIsDamaged(_) => Exit::Integrity,
        };
        return Some((exit, text::journal_hint(e)));
    }
    if let Some(e) = e.downcast_ref::<SnapshotError>() {
        let exit = match e {
            // A context line: the failure it introduces classifies.
            SnapshotError::NewImage
            | SnapshotError::WritingImage
            | SnapshotError::Extracted { .. } => return None,
            SnapshotError::SourceCorrupt { .. } | SnapshotError::CheckThreadFailed => {
                Exit::Database
            }
            SnapshotError::ImageFailsCheck { .. }
            | SnapshotError::DataMissing { .. }
            | SnapshotError::DataUnreadable { .. }
            | SnapshotError::VerifyThreadFailed
            | SnapshotError::FileSize { .. }
            | SnapshotError::FileChecksum { .. }
            | SnapshotError::Undecompressable { .. }
            | SnapshotError::ImageSize { .. }
            | SnapshotError::ImageChecksum { .. }
            | SnapshotError::ImageDiffers { .. }
            | SnapshotError::ManifestUnreadable { .. }
            | SnapshotError::ManifestDamaged { .. }
            | SnapshotError::ManifestIdDiffers { .. }
            | SnapshotError::ManifestMissing { .. }
            | SnapshotError::Unlisted { .. } => Exit::Integrity,
        };
        return Some((exit, None));
    }
    if let Some(e) = e.downcast_ref::<StoreError>() {
        let exit = match e {
            StoreError::Missing { .. }
            | StoreError::NoneYet { .. }
            | StoreError::NoMatch { .. }
            | StoreError::Ambiguous { .. }
            | StoreError::BadReplicaUrl { .. }
            | StoreError::NoRecipient { .. }
            | StoreError::RecipientsFile { .. }
            | StoreError::BadRecipient { .. }
            | StoreError::NoIdentity
            | StoreError::BadIdentity { .. } => Exit::Usage,
            StoreError::Undecryptable { .. } => Exit::Integrity,
            StoreError::Replica { .. } | StoreError::CopyFailed { .. } => Exit::Replica,
            StoreError::Locked { .. } | StoreError::CannotLock { waited: true, .. } => Exit::Locked,
            StoreError::Read { .. }
            | StoreError::CreateDir { .. }
            | StoreError::Inspect { .. }
            | StoreError::OpenDir { .. }
            | StoreError::LockFile { .. }
            | StoreError::Refused { .. }
            | StoreError::CannotLock { waited: false, .. }
            | StoreError::Json { .. }
            | StoreError::Write { .. }
            | StoreError::Delete { .. }
            | StoreError::Encrypt { .. }
            | StoreError::ThreadFailed { .. } => Exit::Database,
        };
        return Some((exit, text::store_hint(e)));
    }
    if let Some(e) = e.downcast_ref::<SettingsError>() {
        let exit = match e {
            SettingsError::NoDatabase { .. } => Exit::Database,
            SettingsError::BadTimezone { .. }
            | SettingsError::BadNow { .. }
            | SettingsError::EmptyPgSchema => Exit::Usage,
        };
        return Some((exit, text::settings_hint(e)));
    }
    if let Some(e) = e.downcast_ref::<EngineError>() {
        return Some((Exit::Database, text::engine_hint(e)));
    }
    if let Some(e) = e.downcast_ref::<ServerError>() {
        use ServerError::*;
        let exit = match e {
            ChangingElsewhere { .. } => Exit::Locked,
            SchemaOfFile { .. } | NotAServer { .. } | SqliteImage | TablesExist { .. } => {
                Exit::Usage
            }
            ImageDamaged { .. } => Exit::Integrity,
            // A `--db` URL that cannot be read is a database problem, as a missing file is.
            NotAUrl
            | BadSslMode { .. }
            | BadUrl { .. }
            | BadPort { .. }
            | RootCertUnreadable { .. }
            | RootCertNotPem { .. }
            | Tls { .. }
            | CannotConnect { .. }
            | NoSchema { .. }
            | NoTable { .. }
            | Query { .. }
            | LockTimeout { .. } => Exit::Database,
        };
        return Some((exit, text::server_hint(e)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use std::path::PathBuf;

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
        let f = failure(&err);
        assert_eq!(
            (f.exit, f.hint.as_deref()),
            (Exit::Conflict, Some("use --force"))
        );
        assert_eq!(f.message, "restoring journal: two rows changed");
    }

    #[test]
    fn plain_errors_are_database_problems() {
        let err = anyhow::anyhow!("disk on fire");
        assert_eq!(classify(&err).0, Exit::Database);
    }

    #[test]
    fn an_unreadable_directory_is_the_same_failure_in_every_layer() {
        let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let dir = PathBuf::from("/s/journals");
        let store = anyhow::Error::new(StoreError::Read {
            path: dir.clone(),
            err: io(),
        });
        let wrapped = anyhow::Error::new(StoreError::Read {
            path: dir,
            err: io(),
        })
        .context("listing journals");
        assert_eq!(classify(&store).0, Exit::Database);
        assert_eq!(
            failure(&store).message,
            failure(&wrapped).message.replace("listing journals: ", "")
        );
        assert_eq!(classify(&wrapped).0, Exit::Database);
    }

    #[test]
    fn store_and_settings_errors_keep_the_exit_codes_their_failures_had() {
        use crate::store::{IdKind, Refusal, Undecryptable};
        let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let path = || PathBuf::from("/s/lock");
        let cases: Vec<(anyhow::Error, Exit)> = vec![
            (
                StoreError::Locked {
                    path: path(),
                    holder: None,
                }
                .into(),
                Exit::Locked,
            ),
            (
                StoreError::CannotLock {
                    path: path(),
                    err: io(),
                    waited: true,
                }
                .into(),
                Exit::Locked,
            ),
            (
                StoreError::CannotLock {
                    path: path(),
                    err: io(),
                    waited: false,
                }
                .into(),
                Exit::Database,
            ),
            (
                StoreError::Refused {
                    path: path(),
                    why: Refusal::Symlink,
                }
                .into(),
                Exit::Database,
            ),
            (
                StoreError::NoMatch {
                    kind: IdKind::Journal,
                    wanted: "2027".into(),
                }
                .into(),
                Exit::Usage,
            ),
            (
                anyhow::Error::new(StoreError::Replica {
                    location: "s3://b/p".into(),
                    cause: "connection refused".into(),
                })
                .context("pushing"),
                Exit::Replica,
            ),
            (
                StoreError::Undecryptable {
                    location: "s3://b/p/journals/x.json.age".into(),
                    why: Undecryptable::OtherKey,
                }
                .into(),
                Exit::Integrity,
            ),
            (StoreError::NoIdentity.into(), Exit::Usage),
            (
                SettingsError::BadNow {
                    given: "soon".into(),
                }
                .into(),
                Exit::Usage,
            ),
            (
                SettingsError::NoDatabase { tried: vec![] }.into(),
                Exit::Database,
            ),
        ];
        for (err, exit) in cases {
            assert_eq!(classify(&err).0, exit, "{err:#}");
        }
        // The refusal and the lock keep their hints.
        let refused = anyhow::Error::new(StoreError::Refused {
            path: path(),
            why: Refusal::HardLinks,
        });
        assert!(classify(&refused).1.is_some());
        let f = failure(&refused);
        assert!(f.message.contains("/s/lock"), "{}", f.message);
    }

    #[test]
    fn typed_errors_keep_their_classes() {
        let usage = anyhow::Error::new(CommandError::NoSnapshots);
        assert_eq!(classify(&usage).0, Exit::Usage);
        let many = anyhow::Error::new(CommandError::TooManyChanges { n: 9, max: 3 });
        let (exit, hint) = classify(&many);
        assert_eq!(exit, Exit::TooManyChanges);
        assert!(hint.is_some_and(|h| h.contains("--max-changes 9")));
    }

    #[test]
    fn server_errors_keep_the_exit_codes_and_hints_their_failures_had() {
        use crate::engine::{ConnectFailure, ServerError};
        let db = || "postgresql://u@h:5432/d".to_string();
        let connect = |why| ServerError::CannotConnect {
            db: db(),
            reason: "refused".into(),
            why,
        };
        let cases: Vec<(ServerError, Exit, bool)> = vec![
            (connect(ConnectFailure::Auth), Exit::Database, true),
            (connect(ConnectFailure::Unreachable), Exit::Database, true),
            (connect(ConnectFailure::Other), Exit::Database, false),
            (ServerError::NotAUrl, Exit::Database, false),
            (
                ServerError::LockTimeout {
                    db: db(),
                    reason: "canceling statement due to lock timeout".into(),
                },
                Exit::Database,
                true,
            ),
            (
                ServerError::ChangingElsewhere { db: db() },
                Exit::Locked,
                true,
            ),
            (
                ServerError::TablesExist {
                    db: db(),
                    tables: vec!["analysis_jobs".into()],
                },
                Exit::Usage,
                true,
            ),
            (
                ServerError::SchemaOfFile { db: "x.db".into() },
                Exit::Usage,
                false,
            ),
            (
                ServerError::ImageDamaged {
                    path: PathBuf::from("/s/x"),
                    what: "no header".into(),
                },
                Exit::Integrity,
                false,
            ),
        ];
        for (e, exit, hinted) in cases {
            let shown = format!("{e:?}");
            let (got, hint) = classify(&e.into());
            assert_eq!((got, hint.is_some()), (exit, hinted), "{shown}");
        }
    }

    #[test]
    fn a_snapshot_context_line_leaves_the_classification_to_its_cause() {
        let extracted = || SnapshotError::Extracted {
            id: "20260101T000000Z-aaaa0001".into(),
            path: PathBuf::from("/s/snapshots/x.db.zst"),
        };
        let corrupt = anyhow::Error::new(EngineError::Corrupt {
            db: "/s/x.db".into(),
            what: "page 3".into(),
        })
        .context(extracted());
        assert_eq!(classify(&corrupt).0, Exit::Database);
        let size = anyhow::Error::new(SnapshotError::ImageSize {
            path: PathBuf::from("/s/x"),
            manifest: 2,
            actual: 1,
        })
        .context(extracted());
        assert_eq!(classify(&size).0, Exit::Integrity);
        assert!(failure(&size)
            .message
            .starts_with("snapshot 20260101T000000Z-aaaa0001 ("));
    }
}
