use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    // Answers the shell's completion requests (COMPLETE=bash jobsweep ...) and exits.
    clap_complete::CompleteEnv::with_factory(jobsweep::cli::Cli::command)
        .shells(jobsweep::complete::shells())
        .complete();
    let cli = match jobsweep::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // --help and --version are successes; every other parse error is a usage error (2).
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    jobsweep::init_language(&cli);
    match jobsweep::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) => {
            let (exit, hint) = jobsweep::error::classify(&err);
            eprintln!("error: {err:#}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(exit.code())
        }
    }
}
