//! `check`: the read-only report. It opens the file read-only and never creates the store.

use anyhow::Result;

use crate::cli::{CheckArgs, SelectArgs};
use crate::core::jobs::Criteria;
use crate::engine::{self, Access, Reading};
use crate::error::Exit;
use crate::journal::{self, State};
use crate::render::check::CheckReport;
use crate::settings::Settings;
use crate::store::Store;

pub fn criteria(select: &SelectArgs, settings: &Settings) -> Criteria {
    Criteria {
        hours: select.hours,
        by: select.by.into(),
        now: settings.now,
        jobs: select.jobs.clone(),
        emps: select.emps.clone(),
    }
}

/// Journals a crashed `apply` left `planned`: shown, never resolved (that needs the lock and a
/// write, which `check` never does). The store is only read, and only if it exists.
fn unresolved_journals(settings: &Settings) -> Vec<String> {
    let Some(store) = settings
        .store_dir()
        .ok()
        .and_then(|dir| Store::existing(&dir))
    else {
        return Vec::new();
    };
    journal::list(&store)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.journal.as_ref().is_ok_and(|j| j.state == State::Planned))
        .map(|e| e.id)
        .collect()
}

pub fn run(settings: &Settings, args: &CheckArgs) -> Result<(CheckReport, Exit)> {
    let target = settings.target()?;
    let db = engine::open(&target, Access::Read, settings.busy_timeout)?;
    let schema = db.schema()?;
    let criteria = criteria(&args.select, settings);
    let survey = db.survey(&schema, &criteria, settings.tz, Reading::OneMoment)?;
    let found = !survey.stale.is_empty();
    let mut report = CheckReport::new(
        target.shown(),
        criteria,
        survey,
        db.rolled_back_hot_journal(),
        args.stats,
    );
    report.unresolved_journals = unresolved_journals(settings);
    let exit = if args.exit_code && found {
        Exit::Found
    } else {
        Exit::Success
    };
    Ok((report, exit))
}
