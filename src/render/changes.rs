//! The human text of the commands that change or compare: `apply`, `restore --journal`, `diff`
//! and `log` (ko/en). Their report types live with each command; `--json` is their serde form.
//! `apply` reuses `check`'s blocks so both speak alike.

use crate::cmd::apply::ApplyReport;
use crate::cmd::diff::{DbDiffReport, DiffReport, JournalDiffReport, Standing};
use crate::cmd::log::LogReport;
use crate::cmd::revert::{Outcome, RevertReport};
use crate::cmd::txn::Applied;
use crate::core::diff::TableNote;
use crate::core::time::display;
use crate::journal::{shown_value, Kind, Resolved, State};
use crate::render::check::{reason_text, render_stale_jobs, render_stats, survey_warnings};
use crate::render::{esc, heading, Render, Style};
use crate::t;

/// Human output lists at most this many rows per section; `--json` has them all.
const MAX_ROWS: usize = 200;

fn kind_name(kind: Kind) -> String {
    match kind {
        Kind::Apply => "apply".to_string(),
        Kind::Revert => t!("되돌리기", "revert"),
        Kind::Restore => t!("스냅숏 복원", "snapshot restore"),
    }
}

fn state_name(state: State) -> String {
    match state {
        State::Planned => t!("계획됨(미해결)", "planned (unresolved)"),
        State::Committed => t!("커밋됨", "committed"),
        State::Abandoned => t!("취소됨", "abandoned"),
    }
}

/// A job as reports name it: its job_id, else its primary key; escaped (design.md §6).
fn job_name(job_id: &Option<String>, id: i64) -> String {
    match job_id {
        Some(j) => esc(j).into_owned(),
        None => format!("id={id}"),
    }
}

/// A stored value (a status) for human output: NULL, or the text escaped.
fn value(v: &Option<String>) -> String {
    esc(&shown_value(v)).into_owned()
}

fn render_recovered(out: &mut String, style: Style, recovered: &[Resolved]) {
    for r in recovered {
        out.push_str(&style.warn(&if r.uncertain {
            t!(
                "ℹ️  중단된 실행이 남긴 계획 저널 {}: 결과 기록이 없는 이전 버전의 저널이라 행 값으로 추정하여 '{}' 로 정리했습니다 (불확실: 그 스냅숏은 prune 이 지우지 않음)\n",
                "ℹ️  journal {} was left planned by a crash: an older journal without an outcome record, resolved as {} from row values (uncertain: prune keeps its snapshot)\n",
                r.id,
                state_name(r.state)
            )
        } else {
            t!(
                "ℹ️  중단된 실행이 남긴 계획 저널 {}: 데이터베이스의 결과 기록(jobsweep_outcomes)에 따라 '{}' 로 정리했습니다\n",
                "ℹ️  journal {} was left planned by a crash: resolved as {} from the database's outcome record (jobsweep_outcomes)\n",
                r.id,
                state_name(r.state)
            )
        }));
    }
}

/// The line after a truncated list: how many more, and a command that lists them all (one that
/// can be run again: a read-only `diff --journal`, not the command that just ran).
fn more(out: &mut String, total: usize, all: &str) {
    if total > MAX_ROWS {
        out.push_str(&t!(
            "  ... 외 {}개 (전체 목록: {all})\n",
            "  ... and {} more (all of them: {all})\n",
            total - MAX_ROWS
        ));
    }
}

/// The command that lists every row of journal `id`.
fn diff_journal(id: &str) -> String {
    format!("jobsweep --json diff --journal {id}")
}

fn change_line(a: &Applied) -> String {
    format!(
        "✓ {}: {} → {}\n",
        job_name(&a.job_id, a.id),
        value(&a.before),
        value(&a.after)
    )
}

impl Render for ApplyReport {
    fn render(&self, out: &mut String, style: Style) {
        render_stats(out, style, &self.stats, &self.criteria);
        render_stale_jobs(
            out,
            style,
            &self.stale_jobs,
            &self.criteria,
            self.criteria.now,
        );
        let mut warnings = survey_warnings(
            style,
            &self.age_unknown,
            &self.unknown_job_ids,
            self.rolled_back_hot_journal,
        );
        render_recovered(&mut warnings, style, &self.recovered);
        if !warnings.is_empty() {
            out.push('\n');
            out.push_str(&warnings);
        }
        let Some(journal) = &self.journal_id else {
            out.push_str(&t!(
                "\n바꿀 작업이 없어 아무것도 바꾸지 않았습니다 (스냅숏과 저널도 만들지 않음).\n",
                "\nNothing to change: the database was not touched and no snapshot or journal was written.\n"
            ));
            return;
        };
        out.push('\n');
        heading(out, style, &t!("🧹 정리 결과", "🧹 Cleanup result"));
        // The rows that need a look first: a truncated list must not hide them.
        let all = diff_journal(journal);
        for s in self.skipped.iter().take(MAX_ROWS) {
            out.push_str(&style.warn(&t!(
                "⚠ {}: 건너뜀 — {}\n",
                "⚠ {}: skipped — {}\n",
                job_name(&s.job_id, s.pk),
                esc(&reason_text(&s.reason))
            )));
        }
        let file = self.journal_file.clone().unwrap_or_else(|| journal.clone());
        more(
            out,
            self.skipped.len(),
            &t!(
                "저널 파일 {file} 의 skipped",
                "`skipped` in the journal file {file}"
            ),
        );
        for a in self.changed.iter().take(MAX_ROWS) {
            out.push_str(&style.good(&change_line(a)));
        }
        more(out, self.changed.len(), &all);
        out.push_str(&t!(
            "\n{}개 작업을 바꿨습니다, {}개 건너뜀.\n",
            "\n{} job(s) changed, {} skipped.\n",
            self.changed.len(),
            self.skipped.len()
        ));
        if let Some(snapshot) = &self.snapshot_id {
            out.push_str(&t!(
                "💾 변경 전 스냅숏: {snapshot}\n",
                "💾 Snapshot before the change: {snapshot}\n"
            ));
        }
        out.push_str(&t!(
            "📒 저널: {journal}\n   되돌리기: jobsweep restore --journal {journal}\n",
            "📒 Journal: {journal}\n   To undo: jobsweep restore --journal {journal}\n"
        ));
        if self.verbose {
            let t = &self.timings;
            out.push_str(&t!(
                "⏱  조회 {:.1} ms, 스냅숏 {:.1} ms, 저널 {:.1} ms, 트랜잭션 {:.1} ms (앱의 쓰기가 기다린 최대 시간), 전체 {:.1} ms\n",
                "⏱  survey {:.1} ms, snapshot {:.1} ms, journal {:.1} ms, transaction {:.1} ms (the longest the app's writers waited), total {:.1} ms\n",
                t.survey_ms, t.snapshot_ms, t.journal_ms, t.transaction_ms, t.total_ms
            ));
        }
    }
}

impl Render for RevertReport {
    fn render(&self, out: &mut String, style: Style) {
        render_recovered(out, style, &self.recovered);
        heading(
            out,
            style,
            &t!(
                "↩️  저널 {} ({}) 되돌리기",
                "↩️  Reverting journal {} ({})",
                self.journal_id,
                kind_name(self.journal_kind)
            ),
        );
        if self.journal_state != State::Committed {
            out.push_str(&t!(
                "저널 {}은(는) {} 상태입니다: 트랜잭션이 커밋되지 않아 되돌릴 것이 없습니다. 아무것도 바꾸지 않았습니다.\n",
                "Journal {} is {}: its transaction never committed, so there is nothing to revert. Nothing was changed.\n",
                self.journal_id,
                state_name(self.journal_state)
            ));
            return;
        }
        // Conflicts first: a truncated list must not hide them.
        for c in self.conflicts.iter().take(MAX_ROWS) {
            let name = job_name(&c.job_id, c.id);
            let line = if c.deleted && c.forced {
                t!(
                    "✗ {name}: 복원할 수 없음: 행이 삭제됨 (건너뜀)\n",
                    "✗ {name}: cannot restore: row deleted (passed over)\n"
                )
            } else if c.deleted {
                t!(
                    "✗ {name}: 충돌 — 행이 삭제되어 되돌릴 수 없음\n",
                    "✗ {name}: conflict — the row was deleted; cannot be set back\n"
                )
            } else if c.forced {
                t!(
                    "! {name}: {} 이어야 하는데 {} — --force 로 되돌림\n",
                    "! {name}: expected {}, found {} — set back anyway (--force)\n",
                    value(&c.expected),
                    value(&c.found)
                )
            } else {
                t!(
                    "✗ {name}: 충돌 — {} 이어야 하는데 {} (건너뜀)\n",
                    "✗ {name}: conflict — expected {}, found {} (skipped)\n",
                    value(&c.expected),
                    value(&c.found)
                )
            };
            out.push_str(&style.bad(&line));
        }
        let all = diff_journal(&self.journal_id);
        more(out, self.conflicts.len(), &all);
        for a in self.reverted.iter().take(MAX_ROWS) {
            out.push_str(&style.good(&change_line(a)));
        }
        let all_reverted = self
            .revert_journal_id
            .as_deref()
            .map(diff_journal)
            .unwrap_or(all);
        more(out, self.reverted.len(), &all_reverted);
        if !self.already_reverted.is_empty() {
            out.push_str(&t!(
                "= 이미 이전 값인 행 {}개는 그대로 두었습니다\n",
                "= {} row(s) already hold their old value: passed over\n",
                self.already_reverted.len()
            ));
        }
        let deleted = self.conflicts.iter().filter(|c| c.deleted).count();
        let open_changed = self.conflicts.iter().any(|c| !c.forced && !c.deleted);
        match self.outcome {
            Outcome::NothingToDo if deleted > 0 => out.push_str(&t!(
                "\n더 되돌릴 것이 없습니다: 삭제된 행 {}개는 복원할 수 없고, 저널 {}의 나머지 행은 모두 이미 이전 값입니다. 아무것도 바꾸지 않았습니다.\n",
                "\nNothing left to revert: {} deleted row(s) cannot be restored, every other row of journal {} already holds its old value. Nothing was changed.\n",
                deleted,
                self.journal_id
            )),
            Outcome::NothingToDo => out.push_str(&t!(
                "\n되돌릴 것이 없습니다: 저널 {}의 모든 행이 이미 이전 값입니다. 아무것도 바꾸지 않았습니다.\n",
                "\nNothing to revert: every row of journal {} already holds its old value. Nothing was changed.\n",
                self.journal_id
            )),
            Outcome::ConflictsOnly if !open_changed => out.push_str(&t!(
                "\n남은 행은 삭제되어 복원할 수 없습니다. 아무것도 바꾸지 않았습니다. 삭제된 행을 건너뛰고 끝내려면 --force 를 붙이세요.\n",
                "\nThe rows left were deleted and cannot be restored; nothing was changed. Add --force to pass over them.\n"
            )),
            Outcome::ConflictsOnly => {
                out.push_str(&t!(
                    "\n남은 행이 모두 충돌입니다. 아무것도 바꾸지 않았습니다.\n",
                    "\nOnly conflicts are left; nothing was changed.\n"
                ));
                out.push_str(&force_warning());
            }
            Outcome::Reverted => {
                out.push_str(&t!(
                    "\n{}개 행을 되돌렸습니다.\n",
                    "\n{} row(s) set back.\n",
                    self.reverted.len()
                ));
                if open_changed {
                    out.push_str(&t!(
                        "충돌한 행은 건너뛰었습니다.\n",
                        "Conflicting rows were skipped.\n"
                    ));
                    out.push_str(&force_warning());
                } else if self.conflicts.iter().any(|c| c.deleted && !c.forced) {
                    out.push_str(&t!(
                        "삭제된 행은 복원할 수 없습니다. --force 로 다시 실행하면 건너뛰고 끝냅니다.\n",
                        "Deleted rows cannot be restored; rerun with --force to pass over them.\n"
                    ));
                }
                if let Some(s) = &self.snapshot_id {
                    out.push_str(&t!(
                        "💾 되돌리기 전 스냅숏: {s}\n",
                        "💾 Snapshot before the revert: {s}\n"
                    ));
                }
                if let Some(j) = &self.revert_journal_id {
                    out.push_str(&t!(
                        "📒 저널: {j}\n   이 되돌리기를 취소하려면: jobsweep restore --journal {j}\n",
                        "📒 Journal: {j}\n   To undo this revert: jobsweep restore --journal {j}\n"
                    ));
                }
            }
        }
    }
}

/// What `--force` would do to conflicting rows: they are the app's work since the cleanup
/// (usually a job it finished or ran again), and forcing them back makes those jobs stuck again.
fn force_warning() -> String {
    t!(
        "충돌한 행은 정리 이후 앱이 바꾼 것입니다 (대개 앱이 그 작업을 끝냈거나 다시 실행함). --force 는 앱의 그 작업을 덮어써서 작업을 다시 멈춘 상태로 되돌립니다. 그래도 되돌려야 할 때만 --force 로 다시 실행하세요 (삭제된 행은 복원할 수 없음).\n",
        "The app changed these rows since the cleanup (usually it finished or re-ran the job); --force would overwrite the app's work and leave those jobs stuck again. Rerun with --force only if that is what you want (deleted rows cannot be restored).\n"
    )
}

fn render_db_diff(out: &mut String, style: Style, r: &DbDiffReport) {
    let side = |s: &crate::cmd::diff::Side| match &s.id {
        Some(id) => t!("스냅숏 {id}", "snapshot {id}"),
        None => t!("현재 DB ({})", "live ({})", esc(&s.path)),
    };
    heading(
        out,
        style,
        &format!("🔍 {} → {}", side(&r.from), side(&r.to)),
    );
    if !r.differs {
        out.push_str(&style.good(&t!(
            "✅ 차이가 없습니다 (테이블 {}개 동일).\n",
            "✅ No differences ({} tables identical).\n",
            r.diff.identical_tables
        )));
        return;
    }
    let width = r
        .diff
        .tables
        .iter()
        .map(|t| t.table.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    out.push_str(&format!(
        "  {:<width$}  {:>9}  {:>9}  {:>9}\n",
        t!("테이블", "table"),
        t!("추가", "added"),
        t!("삭제", "removed"),
        t!("변경", "changed"),
    ));
    for t in &r.diff.tables {
        out.push_str(&format!(
            "  {:<width$}  {:>9}  {:>9}  {:>9}\n",
            esc(&t.table),
            t.added,
            t.removed,
            t.changed
        ));
        if let Some(note) = &t.note {
            out.push_str(&style.warn(&format!("    ⚠ {}\n", esc(&table_note(note)))));
        }
    }
    out.push_str(&t!(
        "  (그 밖의 테이블 {}개는 동일)\n",
        "  ({} other tables identical)\n",
        r.diff.identical_tables
    ));
    if !r.diff.jobs.is_empty() {
        out.push_str("\nanalysis_jobs:\n");
        for j in r.diff.jobs.iter().take(MAX_ROWS) {
            let name =
                esc(&j.job_id.clone().unwrap_or_else(|| format!("id={}", j.id))).into_owned();
            match j.kind {
                "added" => out.push_str(&t!("  + {name} (추가됨)\n", "  + {name} (added)\n")),
                "removed" => out.push_str(&t!("  - {name} (삭제됨)\n", "  - {name} (removed)\n")),
                _ => {
                    let cols = j
                        .columns
                        .iter()
                        .map(|c| format!("{}: {} → {}", c.column, c.before, c.after))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let cols = esc(&cols);
                    out.push_str(&format!("  ~ {name}: {cols}\n"));
                }
            }
        }
        let name = |s: &crate::cmd::diff::Side| s.id.clone().unwrap_or_else(|| "live".into());
        let all = format!("jobsweep --json diff {} {}", name(&r.from), name(&r.to));
        more(out, r.diff.jobs.len(), &all);
    }
}

fn render_journal_diff(out: &mut String, style: Style, r: &JournalDiffReport) {
    heading(
        out,
        style,
        &t!(
            "📒 저널 {} ({}, {}): 변경 {}개의 현재 상태",
            "📒 Journal {} ({}, {}): where its {} change(s) stand now",
            r.journal_id,
            kind_name(r.kind),
            state_name(r.state),
            r.rows.len()
        ),
    );
    // The rows that matter first (changed since, deleted, reverted), then the applied ones: a
    // truncated list must not hide a conflict.
    let mut rows: Vec<&crate::cmd::diff::JournalRow> = r.rows.iter().collect();
    rows.sort_by_key(|row| match row.standing {
        Standing::ChangedSince | Standing::Deleted => 0,
        Standing::Reverted => 1,
        Standing::Applied => 2,
    });
    for row in rows.into_iter().take(MAX_ROWS) {
        let name = job_name(&row.job_id, row.id);
        let (before, after, now) = (value(&row.before), value(&row.after), value(&row.now));
        let line = match row.standing {
            Standing::Applied => style.good(&t!(
                "  적용됨     {name}: {before} → {after}\n",
                "  applied        {name}: {before} → {after}\n"
            )),
            Standing::Reverted => t!(
                "  되돌려짐   {name}: {before} → {after}, 지금 {now}\n",
                "  reverted       {name}: {before} → {after}, now {now}\n"
            ),
            Standing::ChangedSince => style.warn(&t!(
                "  이후 변경  {name}: {before} → {after}, 지금 {now} (되돌리면 충돌)\n",
                "  changed since  {name}: {before} → {after}, now {now} (a revert would conflict)\n"
            )),
            Standing::Deleted => style.warn(&t!(
                "  삭제됨     {name}: 행이 없습니다\n",
                "  deleted        {name}: the row is gone\n"
            )),
        };
        out.push_str(&line);
    }
    more(out, r.rows.len(), &diff_journal(&r.journal_id));
    out.push_str(&t!(
        "\n적용됨 {}, 되돌려짐 {}, 이후 변경 {}\n",
        "\napplied {}, reverted {}, changed since {}\n",
        r.applied,
        r.reverted,
        r.changed_since
    ));
}

impl Render for DiffReport {
    fn render(&self, out: &mut String, style: Style) {
        match self {
            DiffReport::Databases(r) => render_db_diff(out, style, r),
            DiffReport::Journal(r) => render_journal_diff(out, style, r),
        }
    }
}

impl Render for LogReport {
    fn render(&self, out: &mut String, style: Style) {
        heading(
            out,
            style,
            &t!(
                "📜 기록: {} (최신순)",
                "📜 History of {} (newest first)",
                esc(&self.store)
            ),
        );
        if self.entries.is_empty() {
            out.push_str(&t!(
                "아직 스냅숏도 저널도 없습니다.\n",
                "No snapshots or journals yet.\n"
            ));
            return;
        }
        for e in &self.entries {
            let when = display(e.created_at);
            if let Some(damage) = &e.damaged {
                out.push_str(&style.bad(&t!(
                    "{when}  {:<8}  {}  손상됨: {}\n",
                    "{when}  {:<8}  {}  DAMAGED: {}\n",
                    e.kind,
                    esc(&e.id),
                    esc(damage)
                )));
                continue;
            }
            let detail = if e.kind == "restore" {
                t!(
                    "스냅숏 {} 을(를) 복원함, 복원 전 상태는 스냅숏 {}",
                    "snapshot {} put back; the state before is snapshot {}",
                    e.restored_snapshot.as_deref().unwrap_or("?"),
                    e.snapshot_id.as_deref().unwrap_or("?")
                )
            } else if e.kind == "snapshot" {
                let mut d = e.reason.clone().unwrap_or_default();
                if let Some(note) = &e.note {
                    d.push_str(&format!(" \"{note}\""));
                }
                d
            } else {
                let mut d = t!(
                    "작업 {}개 변경",
                    "{} job(s) changed",
                    e.jobs_changed.unwrap_or(0)
                );
                if let Some(n) = e.jobs_skipped.filter(|n| *n > 0) {
                    d.push_str(&t!(", {n}개 건너뜀", ", {n} skipped"));
                }
                if let Some(s) = &e.snapshot_id {
                    d.push_str(&t!(", 스냅숏 {s}", ", snapshot {s}"));
                }
                if let Some(r) = &e.reverts {
                    d.push_str(&t!(", {r} 의 되돌리기", ", reverts {r}"));
                }
                let reverts = e.kind == "revert";
                match (&e.reverted_by, &e.undone_by) {
                    (_, Some(by)) => d.push_str(&t!(
                        ", 스냅숏 복원 {by} 로 취소됨",
                        ", undone by the snapshot restore {by}"
                    )),
                    (Some(by), None) if reverts => {
                        d.push_str(&t!(", {by} 로 취소됨", ", undone by {by}"))
                    }
                    (Some(by), None) => d.push_str(&t!(", {by} 로 되돌려짐", ", reverted by {by}")),
                    (None, None) if e.state == Some(State::Committed) && reverts => {
                        d.push_str(&t!(", 유지 중", ", in effect"))
                    }
                    (None, None) if e.state == Some(State::Committed) => {
                        d.push_str(&t!(", 되돌리지 않음", ", not reverted"))
                    }
                    (None, None) => {}
                }
                if let Some(state) = e.state.filter(|s| *s != State::Committed) {
                    d.push_str(&format!(" [{}]", state_name(state)));
                }
                if e.outcome_uncertain {
                    d.push_str(&t!(
                        " [결과 불확실: 이전 버전의 저널이라 행 값으로 추정함, 스냅숏은 prune 이 지우지 않음]",
                        " [outcome uncertain: an older journal, resolved from row values; prune keeps its snapshot]"
                    ));
                }
                d
            };
            let replicated = match e.replicated {
                Some(true) => t!(" [복제됨]", " [replicated]"),
                Some(false) => t!(" [복제 안 됨]", " [not replicated]"),
                None => String::new(),
            };
            let line = format!(
                "{when}  {:<8}  {}  {}{replicated}\n",
                e.kind,
                esc(&e.id),
                esc(&detail)
            );
            if e.unresolved {
                out.push_str(&style.warn(&line));
            } else {
                out.push_str(&line);
            }
        }
        if self.unresolved > 0 {
            out.push_str(&style.warn(&t!(
                "\n⚠️  중단된 실행이 남긴 미해결 저널 {}개: 저장소에 쓰는 다음 명령(apply, snapshot, restore)이 데이터베이스를 보고 정리합니다.\n",
                "\n⚠️  {} unresolved journal(s) left planned by a crash: the next store-writing command (apply, snapshot, restore) resolves them from the database.\n",
                self.unresolved
            )));
        }
    }
}

/// Why a table was not (all) compared row by row, in words.
fn table_note(note: &TableNote) -> String {
    match note {
        TableNote::OnlyInFrom => t!("TO 에 없는 테이블", "table only in FROM"),
        TableNote::OnlyInTo => t!("FROM 에 없는 테이블", "table only in TO"),
        TableNote::ColumnsDiffer { from, to } => t!(
            "열이 다름: FROM ({}) / TO ({})",
            "columns differ: FROM ({}) / TO ({})",
            from.join(", "),
            to.join(", ")
        ),
        TableNote::KeysDiffer => t!(
            "기본 키가 달라 행 단위로 비교할 수 없습니다",
            "primary keys differ: rows cannot be matched"
        ),
    }
}
