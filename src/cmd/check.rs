//! `check`: the read-only report. It opens the file read-only and never creates the store.

use anyhow::Result;

use crate::cli::{CheckArgs, SelectArgs};
use crate::db::Database;
use crate::error::Exit;
use crate::jobs::{self, Criteria};
use crate::report::CheckReport;
use crate::settings::Settings;

pub fn criteria(select: &SelectArgs, settings: &Settings) -> Criteria {
    Criteria {
        hours: select.hours,
        by: select.by,
        now: settings.now,
        jobs: select.jobs.clone(),
        emps: select.emps.clone(),
    }
}

pub fn run(settings: &Settings, args: &CheckArgs) -> Result<(CheckReport, Exit)> {
    let path = settings.db_path()?;
    let db = Database::open_read_only(&path, settings.busy_timeout)?;
    let schema = db.schema()?;
    let criteria = criteria(&args.select, settings);
    let survey = jobs::survey(&db, &schema, &criteria, settings.tz)?;
    let found = !survey.stale.is_empty();
    let report = CheckReport::new(
        path.display().to_string(),
        criteria,
        survey,
        db.rolled_back_hot_journal,
        args.stats,
    );
    let exit = if args.exit_code && found {
        Exit::Found
    } else {
        Exit::Success
    };
    Ok((report, exit))
}
