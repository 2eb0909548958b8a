use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    // Under a file-size limit (`ulimit -f`) a write past it would kill the process with
    // SIGXFSZ and no word; ignored, the write fails with EFBIG and the error path reports it
    // and cleans up like any other failed write.
    #[cfg(unix)]
    // SAFETY: called first thing, before any other thread exists; SIG_IGN is a valid handler.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // Answers the shell's completion requests (COMPLETE=bash jobsweep ...) and exits.
    clap_complete::CompleteEnv::with_factory(jobsweep::cli::Cli::command)
        .shells(jobsweep::cli::complete::shells())
        .complete();
    let cli = match jobsweep::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print as clap makes them and succeed.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => return usage_error(&err),
    };
    jobsweep::init_language(&cli);
    match jobsweep::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) => {
            let failure = jobsweep::error::failure(&err);
            // One line each, whatever paths or stored text the message quotes.
            eprintln!("error: {}", jobsweep::render::esc(&failure.message));
            if let Some(hint) = &failure.hint {
                eprintln!("hint: {}", jobsweep::render::esc(hint));
            }
            ExitCode::from(failure.exit.code())
        }
    }
}

/// A command line clap refused: one `error:` line (clap's message, its continuation lines
/// joined) and one localized `hint:` line, exit 2 (design.md §5), instead of clap's usage block.
fn usage_error(err: &clap::Error) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    jobsweep::i18n::set(jobsweep::i18n::detect(
        lang_before_parsing(&args).map(Into::into),
    ));
    let rendered = err.render().to_string();
    let message = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let message = if message.starts_with("error:") {
        message
    } else {
        format!("error: {message}")
    };
    let command = command_path(&args);
    let hint = jobsweep::render::errors::usage_hint(&command);
    if wants_json(&args) {
        // Every command prints one JSON document, a refused command line too (design.md §6).
        let name = command.strip_prefix("jobsweep").unwrap_or("").trim();
        let name = if name.is_empty() { "check" } else { name };
        let text = message.strip_prefix("error: ").unwrap_or(&message);
        jobsweep::render::emit_error(name, text, 2, Some(&hint), None);
    }
    eprintln!("{}", jobsweep::render::esc(&message));
    eprintln!("hint: {hint}");
    ExitCode::from(2)
}

/// Whether `--json` is among the raw arguments (before `--`).
fn wants_json(args: &[String]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

/// `--lang ko|en` (or `--lang=...`) from the raw arguments, else `JOBSWEEP_LANG`; `detect` then
/// falls back to the locale.
fn lang_before_parsing(args: &[String]) -> Option<jobsweep::cli::Lang> {
    use clap::ValueEnum;
    let parse = |v: &str| jobsweep::cli::Lang::from_str(v.trim(), true).ok();
    let mut explicit = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        } else if arg == "--lang" {
            explicit = it.next().and_then(|v| parse(v)).or(explicit);
        } else if let Some(v) = arg.strip_prefix("--lang=") {
            explicit = parse(v).or(explicit);
        }
    }
    explicit.or_else(|| std::env::var("JOBSWEEP_LANG").ok().and_then(|v| parse(&v)))
}

/// `jobsweep` followed by the (sub)commands named on the command line, e.g. `jobsweep snapshot
/// prune`, for the hint.
fn command_path(args: &[String]) -> String {
    let mut command = jobsweep::cli::Cli::command();
    let mut path = String::from("jobsweep");
    for arg in args {
        if arg == "--" {
            break;
        }
        let Some(sub) = command.find_subcommand(arg).cloned() else {
            continue;
        };
        path.push(' ');
        path.push_str(sub.get_name());
        command = sub;
    }
    path
}
