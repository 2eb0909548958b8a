//! jobsweep: finds analysis jobs left pending/processing by crashes in the speech-to-text app's
//! SQLite database, reports them, and cleans them behind a verified snapshot and an undo journal.
//!
//! `run` resolves the settings, dispatches to one command module and prints the report it
//! returns; `main` only turns the result into an exit status.

pub mod cli;
pub mod cmd;
pub mod core;
pub mod engine;
pub mod error;
pub mod failpoint;
pub mod i18n;
pub mod journal;
pub mod progress;
pub mod render;
pub mod settings;
pub mod snapshot;
pub mod store;

use anyhow::Result;

/// The renderer's former name; `store` still reaches `notice` through it.
pub use render as output;

use crate::cli::{CheckArgs, Cli, Command, SelectArgs};
use crate::error::Exit;
use crate::render::{emit, Print, Style};
use crate::settings::Settings;

/// Runs one command line; returns the exit status to use when it succeeded. With `--json` a
/// failure prints its own document too (design.md §6); the `error:` line is `main`'s.
pub fn run(cli: Cli) -> Result<Exit> {
    let json = cli.global.json;
    let name = command_name(cli.command.as_ref());
    let result = run_command(cli);
    if let (true, Err(err)) = (json, &result) {
        let failure = error::failure(err);
        render::emit_error(
            name,
            &failure.message,
            failure.exit.code(),
            failure.hint.as_deref(),
            failure.details.as_ref(),
        );
    }
    // The local work stands; a failed off-host copy makes the run exit 8 (design.md §9). With
    // `--json` the document already carries the failure in its `replica` member.
    match (result, store::replica::failure()) {
        (Ok(_), Some(err)) => Err(err),
        (Ok(exit), None) => {
            if let (false, Some(summary)) = (json, store::replica::summary()) {
                output::notice(&render::replica::copied(
                    &summary.url,
                    summary.copied.len(),
                    summary.encrypted,
                ));
            }
            Ok(exit)
        }
        (result, _) => result,
    }
}

/// The name a command's `--json` document carries: `check`, `snapshot list`, ...
pub fn command_name(command: Option<&Command>) -> &'static str {
    match command {
        None | Some(Command::Check(_)) => "check",
        Some(Command::Apply(_)) => "apply",
        Some(Command::Diff(_)) => "diff",
        Some(Command::Log) => "log",
        Some(Command::Snapshot(args)) => snapshot_command(args),
        Some(Command::Restore(_)) => "restore",
    }
}

fn run_command(cli: Cli) -> Result<Exit> {
    let settings = Settings::resolve(&cli.global.options())?;
    render::set_quiet(settings.quiet);
    if let Some(replica) = settings.replica()? {
        store::replica::install(replica.with_progress(settings.progress));
    }
    let print = if settings.json {
        Print::Json
    } else if settings.quiet {
        Print::Nothing
    } else {
        Print::Text(Style {
            color: settings.color,
        })
    };
    let command = cli.command.unwrap_or_else(|| {
        Command::Check(CheckArgs {
            select: SelectArgs {
                hours: 24.0,
                by: cli::AgeBasis::Activity,
                jobs: vec![],
                emps: vec![],
            },
            stats: false,
            exit_code: false,
        })
    });
    match command {
        Command::Check(args) => {
            let (report, exit) = cmd::check::run(&settings, &args)?;
            emit("check", &report, print)?;
            Ok(exit)
        }
        Command::Apply(args) => {
            let (report, exit) = cmd::apply::run(&settings, &args)?;
            emit("apply", &report, print)?;
            Ok(exit)
        }
        Command::Diff(args) => {
            let (report, exit) = cmd::diff::run(&settings, &args)?;
            emit("diff", &report, print)?;
            Ok(exit)
        }
        Command::Log => {
            let (report, exit) = cmd::log::run(&settings)?;
            emit("log", &report, print)?;
            Ok(exit)
        }
        Command::Snapshot(args) => {
            let (report, after) = cmd::snapshot::run(&settings, &args)?;
            match after {
                // One document: the report joins the error (`verify --all` with failures).
                Err(err) if settings.json => Err(with_report(err, &report)),
                after => {
                    emit(snapshot_command(&args), &report, print)?;
                    after.map(|()| Exit::Success)
                }
            }
        }
        Command::Restore(args) if args.journal.is_some() => {
            let (report, exit) = cmd::revert::run(&settings, &args)?;
            emit("restore", &report, print)?;
            Ok(exit)
        }
        Command::Restore(args) => {
            let (report, exit) = cmd::restore::run(&settings, &args)?;
            emit("restore", &report, print)?;
            Ok(exit)
        }
    }
}

/// `err` carrying `report` as what was known, for the `--json` error document.
fn with_report<R: serde::Serialize>(err: anyhow::Error, report: &R) -> anyhow::Error {
    error::with_details(err, serde_json::to_value(report).ok())
}

/// The name a snapshot report carries in `--json`: `snapshot`, `snapshot list`, ...
fn snapshot_command(args: &cli::SnapshotArgs) -> &'static str {
    match args.action {
        None => "snapshot",
        Some(cli::SnapshotAction::List { .. }) => "snapshot list",
        Some(cli::SnapshotAction::Verify { .. }) => "snapshot verify",
        Some(cli::SnapshotAction::Push { .. }) => "snapshot push",
        Some(cli::SnapshotAction::Pull { .. }) => "snapshot pull",
        Some(cli::SnapshotAction::Prune { .. }) => "snapshot prune",
    }
}

/// Sets the language before anything can fail, so even argument errors of ours are localised.
pub fn init_language(cli: &Cli) {
    i18n::set(i18n::detect(cli.global.lang.map(Into::into)));
}
