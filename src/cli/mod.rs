//! Every clap type of the command line. Doc comments here become `--help`, the man pages and
//! the shell completions, so they are written for operators.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

pub mod complete;

use crate::settings::{Color, Options};
use crate::store::ReplicaConfig;

/// Finds analysis jobs left pending/processing by crashes, reports them, and cleans them with a
/// verified snapshot and a journal that can undo every change.
#[derive(Debug, Parser)]
#[command(name = "jobsweep", version, about, long_about = None, after_help = EXIT_STATUS_HELP, args_override_self = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  --exit-code found something (stale jobs, differences)
  2  usage error, including refused overwrites
  3  database problem (missing, not SQLite, corrupt, schema, read-only, locked)
  4  snapshot or journal integrity failure
  5  revert conflicts
  6  another jobsweep holds the store lock (or the PostgreSQL advisory lock)
  7  apply refused by --max-changes
  8  the local work succeeded but its off-host copy (--replica) failed";

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The database: an SQLite file (or sqlite:///path), or a postgresql:// URL [default:
    /// $DATABASE_URL, then $DATA_DIR/database.db, /app/data/database.db, ./data/database.db, the
    /// first that exists]
    #[arg(long, global = true, env = "JOBSWEEP_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// PostgreSQL: the schema holding the app's tables [default: public]. Refused for an
    /// SQLite file
    #[arg(long, global = true, env = "JOBSWEEP_PG_SCHEMA", value_name = "NAME")]
    pub pg_schema: Option<String>,

    /// Where snapshots and journals live [default: .jobsweep/ beside the database file;
    /// $XDG_STATE_HOME/jobsweep/<host>-<port>-<dbname>/ for PostgreSQL]
    #[arg(long, global = true, env = "JOBSWEEP_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Language of the human output [default: from LC_ALL / LANG]
    #[arg(long, global = true, env = "JOBSWEEP_LANG", value_enum)]
    pub lang: Option<Lang>,

    /// Print one JSON document instead of the human report
    #[arg(long, global = true)]
    pub json: bool,

    /// When to use colour (NO_COLOR is honoured)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print no report, only errors (the exit status still tells; --json still prints)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// How long to wait for the app's locks, in milliseconds (at most 2147483647)
    #[arg(long, global = true, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(i32::MAX)))]
    pub busy_timeout: u32,

    /// Pretend "now" is this time (RFC 3339 or YYYY-MM-DD HH:MM:SS[.ffffff]); changes
    /// classification and reports only
    #[arg(long, global = true, value_name = "TIMESTAMP")]
    pub now: Option<String>,

    /// How naive timestamps in the file (and a naive --now) are read: utc, local or +HH:MM
    #[arg(
        long,
        global = true,
        value_name = "ZONE",
        default_value = "utc",
        allow_hyphen_values = true
    )]
    pub db_timezone: String,

    /// Wait for another jobsweep to release the store lock instead of exiting with 6
    #[arg(long, global = true)]
    pub wait: bool,

    /// Copy snapshots and journals off the host: s3://BUCKET/PREFIX (AWS_* variables, the
    /// instance role; AWS_ENDPOINT_URL for S3-compatible servers) or file:///PATH
    #[arg(long, global = true, env = "JOBSWEEP_REPLICA", value_name = "URL")]
    pub replica: Option<String>,

    /// age public key (age1...) the replica is encrypted to; repeatable, or several separated
    /// by commas or spaces
    #[arg(
        long = "replica-recipient",
        global = true,
        env = "JOBSWEEP_REPLICA_RECIPIENTS",
        value_name = "KEY"
    )]
    pub replica_recipients: Vec<String>,

    /// A file of age public keys, one a line (age's recipients-file format)
    #[arg(long, global = true, value_name = "FILE")]
    pub replica_recipients_file: Option<PathBuf>,

    /// Send plaintext copies to the replica (without recipients a replica is refused)
    #[arg(long, global = true)]
    pub replica_plaintext: bool,

    /// age identity (private key file) to read an encrypted replica back: pull, verify
    /// --remote, restore from the replica
    #[arg(long, global = true, env = "JOBSWEEP_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Ko,
    En,
}

impl From<Lang> for crate::i18n::Lang {
    fn from(lang: Lang) -> Self {
        match lang {
            Lang::Ko => crate::i18n::Lang::Ko,
            Lang::En => crate::i18n::Lang::En,
        }
    }
}

impl GlobalArgs {
    /// The global options as plain data: nothing below the command line sees clap.
    pub fn options(&self) -> Options {
        Options {
            db: self.db.clone(),
            pg_schema: self.pg_schema.clone(),
            store: self.store.clone(),
            lang: self.lang.map(Into::into),
            json: self.json,
            color: match self.color {
                ColorChoice::Auto => Color::Auto,
                ColorChoice::Always => Color::Always,
                ColorChoice::Never => Color::Never,
            },
            quiet: self.quiet,
            verbose: self.verbose,
            busy_timeout_ms: self.busy_timeout,
            now: self.now.clone(),
            db_timezone: self.db_timezone.clone(),
            wait: self.wait,
            replica: self.replica.as_ref().map(|url| ReplicaConfig {
                url: url.clone(),
                recipients: self.replica_recipients.clone(),
                recipients_file: self.replica_recipients_file.clone(),
                identity: self.identity.clone(),
                plaintext: self.replica_plaintext,
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report job statistics and stale jobs (read-only; the default command)
    Check(CheckArgs),
    /// Take, list, verify and prune compressed, checksummed snapshots
    Snapshot(SnapshotArgs),
    /// Clean stale jobs: snapshot, journal, then one compare-and-set transaction
    Apply(ApplyArgs),
    /// Row-level differences between a snapshot and the live database, or two snapshots
    Diff(DiffArgs),
    /// Revert one apply from its journal, or put a snapshot back
    Restore(RestoreArgs),
    /// List journals and snapshots, newest first
    Log,
}

/// Which jobs to consider and how to judge their age; shared by `check` and `apply`.
#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
    /// A job is stale when its age exceeds this many hours (fractions allowed)
    #[arg(long, value_name = "N", default_value = "24", value_parser = parse_hours, allow_negative_numbers = true)]
    pub hours: f64,

    /// What the age is measured from
    #[arg(long, value_enum, default_value_t = AgeBasis::Activity)]
    pub by: AgeBasis,

    /// Only this job (its job_id string); repeatable
    #[arg(long = "job", value_name = "ID")]
    pub jobs: Vec<String>,

    /// Only jobs of this employee (emp_id); repeatable
    #[arg(long = "emp", value_name = "EMP")]
    pub emps: Vec<String>,
}

/// `--by`: clap's face of `core::jobs::AgeBasis` (the core knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AgeBasis {
    /// Newest of created_at, started_at and the job's result and progress rows
    Activity,
    /// created_at only, as the old cleanup script did
    Created,
}

impl From<AgeBasis> for crate::core::jobs::AgeBasis {
    fn from(by: AgeBasis) -> Self {
        match by {
            AgeBasis::Activity => crate::core::jobs::AgeBasis::Activity,
            AgeBasis::Created => crate::core::jobs::AgeBasis::Created,
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Print the statistics block only
    #[arg(long)]
    pub stats: bool,

    /// Exit with 1 when stale jobs exist
    #[arg(long)]
    pub exit_code: bool,
}

/// `apply --max-changes` when not given (also what `check`'s summary compares with).
pub const DEFAULT_MAX_CHANGES: usize = 500;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Refuse (exit 7, before any change) when more jobs than this would change
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CHANGES)]
    pub max_changes: usize,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: Option<SnapshotAction>,

    /// A note stored in the manifest
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// List snapshots, newest first
    List {
        /// List the replica too: which snapshots are only local, only remote, or both
        #[arg(long)]
        remote: bool,
    },
    /// Recompute checksums and run integrity_check (default: the newest snapshot)
    Verify {
        /// Snapshot id, unique prefix or `latest`
        #[arg(value_name = "ID", conflicts_with = "all",
              add = ArgValueCompleter::new(complete::snapshot_ids))]
        id: Option<String>,
        /// Verify every snapshot
        #[arg(long)]
        all: bool,
        /// Download the replica's copy and verify it (checksums, decode, integrity check)
        #[arg(long)]
        remote: bool,
    },
    /// Upload to the replica what it lacks (default: the newest snapshot)
    Push {
        /// Snapshot id, unique prefix or `latest`
        #[arg(value_name = "ID", conflicts_with = "all",
              add = ArgValueCompleter::new(complete::snapshot_ids))]
        id: Option<String>,
        /// Every snapshot and journal of the store
        #[arg(long)]
        all: bool,
    },
    /// Download a snapshot from the replica into the store and verify it
    Pull {
        /// Snapshot id on the replica, unique prefix or `latest`
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Delete old snapshots; a snapshot is kept when any rule keeps it
    Prune {
        /// Keep the N newest snapshots
        #[arg(long, value_name = "N")]
        keep_last: Option<usize>,
        /// Keep snapshots younger than this (e.g. 30m, 12h, 7d)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        keep_within: Option<chrono::Duration>,
        /// Only list what would be deleted
        #[arg(long)]
        dry_run: bool,
        /// Keep the snapshots of un-reverted applies younger than this (the newest un-reverted
        /// apply's snapshot is always kept)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30d")]
        protect_applies: chrono::Duration,
        /// Also delete snapshots that un-reverted apply journals (or damaged journals) protect;
        /// a journal whose outcome is uncertain or unresolved still keeps its snapshot
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Snapshot id (default: the newest), or `live`
    #[arg(value_name = "FROM", conflicts_with = "journal",
          add = ArgValueCompleter::new(complete::snapshot_ids_or_live))]
    pub from: Option<String>,
    /// Snapshot id or `live` (default: live)
    #[arg(value_name = "TO", requires = "from",
          add = ArgValueCompleter::new(complete::snapshot_ids_or_live))]
    pub to: Option<String>,
    /// Show each change of this journal as still applied, reverted or changed since
    #[arg(long, value_name = "ID", add = ArgValueCompleter::new(complete::journal_ids))]
    pub journal: Option<String>,
    /// Exit with 1 when anything differs
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["journal", "snapshot"])))]
pub struct RestoreArgs {
    /// Revert one apply (or revert) journal: id, unique prefix or `latest`
    #[arg(long, value_name = "ID", add = ArgValueCompleter::new(complete::journal_ids))]
    pub journal: Option<String>,
    /// Put a snapshot back: id, unique prefix or `latest`
    #[arg(long, value_name = "ID", add = ArgValueCompleter::new(complete::snapshot_ids))]
    pub snapshot: Option<String>,
    /// With --snapshot: write the image to a new file (or into another PostgreSQL database, a
    /// postgresql:// URL) instead of the live database
    #[arg(long, value_name = "PATH", requires = "snapshot")]
    pub to: Option<PathBuf>,
    /// Revert conflicting rows too (--journal), or overwrite an existing --to file (or the
    /// tables of a --to database)
    #[arg(long)]
    pub force: bool,
    /// With --snapshot into the live database: count what the restore would discard, change nothing
    #[arg(long, requires = "snapshot", conflicts_with = "to")]
    pub dry_run: bool,
}

/// `--hours`: a positive, finite number of hours.
fn parse_hours(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(h) if h.is_finite() && h > 0.0 => Ok(h),
        Ok(_) => Err("must be a positive number of hours".into()),
        Err(_) => Err(format!("`{text}` is not a number of hours")),
    }
}

/// `--keep-within`: a number followed by s, m, h, d or w.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30m, 12h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("`{text}` is not a duration like 30m, 12h or 7d")),
    };
    n.checked_mul(seconds)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hours_must_be_positive_numbers() {
        assert_eq!(parse_hours("1.5"), Ok(1.5));
        assert!(parse_hours("0").is_err());
        assert!(parse_hours("-3").is_err());
        assert!(parse_hours("abc").is_err());
        assert!(parse_hours("inf").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("12h"), Ok(chrono::Duration::hours(12)));
        assert_eq!(parse_duration("7d"), Ok(chrono::Duration::days(7)));
        assert_eq!(parse_duration("30m"), Ok(chrono::Duration::minutes(30)));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
    }
}
