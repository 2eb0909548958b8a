//! `restore --snapshot ID|latest|PREFIX [--to PATH] [--force] [--dry-run]`: puts a verified
//! snapshot back into the live database (after a `pre-restore` snapshot of it, and saying what
//! the app wrote since that the restore discards) or writes it to a new file.
//! `restore --journal` is the revert of one apply, in `cmd::revert`.
//!
//! Into the live database (design.md §3): everything slow happens before the app's writers are
//! held: the snapshot is decompressed and checked, the live file's image is taken (a short read
//! lock) and compared with it, and the pre-restore snapshot is written from that image. Only
//! then does the copy into the live file take its write lock, for the copy alone.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::cli::RestoreArgs;
use crate::cmd::error::CommandError;
use crate::engine::{self, Access, Identity, Target};
use crate::error::Exit;
use crate::progress;
use crate::settings::Settings;
use crate::snapshot::{self, Manifest, Reason};
use crate::store::{self, Store, TEMP_PREFIX};

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub snapshot_id: String,
    /// The file written: the live database, or `--to`.
    pub target: String,
    pub live: bool,
    /// The snapshot of the live database taken just before it was overwritten.
    pub pre_restore_snapshot_id: Option<String>,
    pub image_bytes: u64,
    pub journal_mode: Option<String>,
    /// `--dry-run`: nothing was changed.
    pub dry_run: bool,
    /// Into the live database: per table, what the restore discards (or would, `--dry-run`) of
    /// the live contents, as of the pre-restore image.
    pub discarded: Vec<Discarded>,
    /// The replica the snapshot was fetched from, when the local copy was missing or damaged
    /// (design.md §9); null when the local copy served.
    pub from_replica: Option<String>,
}

impl RestoreReport {
    /// A snapshot copied somewhere other than the live database (`--to`).
    fn copied(m: Manifest, target: String, from_replica: Option<String>) -> RestoreReport {
        RestoreReport {
            snapshot_id: m.id,
            target,
            live: false,
            pre_restore_snapshot_id: None,
            image_bytes: m.image_bytes,
            journal_mode: None,
            dry_run: false,
            discarded: Vec::new(),
            from_replica,
        }
    }
}

/// What a restore into the live database discards of one table.
#[derive(Debug, Clone, Serialize)]
pub struct Discarded {
    pub table: String,
    /// Rows in the live database that the snapshot does not have.
    pub rows_only_live: u64,
    /// Rows both have, with other values in the live database.
    pub rows_differ: u64,
}

pub fn run(settings: &Settings, args: &RestoreArgs) -> Result<(RestoreReport, Exit)> {
    // `restore --journal` goes to `cmd::revert` (see `lib::run`); clap allows only one of the two.
    let wanted = args.snapshot.as_deref().unwrap_or("latest");
    let report = match &args.to {
        Some(to) if Target::parse(to.as_os_str()).file().is_none() => {
            let target = settings.other_target(to.as_os_str())?;
            restore_to_database(settings, wanted, &target, args.force)?
        }
        Some(to) => restore_to_file(settings, wanted, to, args.force)?,
        None => restore_live(settings, wanted, args.force, args.dry_run)?,
    };
    Ok((report, Exit::Success))
}

/// The store must already hold snapshots; restore never creates it.
fn existing_store(settings: &Settings) -> Result<Store> {
    let dir = settings.store_dir()?;
    // With a replica, a new host's empty store is filled from it (design.md §9).
    if crate::store::replica::active().is_none() {
        Store::required(&dir)?;
    }
    // Opening for writing removes leftovers of crashed runs.
    Store::open(&dir)
}

fn restore_to_file(
    settings: &Settings,
    wanted: &str,
    to: &Path,
    force: bool,
) -> Result<RestoreReport> {
    let shown = to.display();
    let dir = store::parent_dir(to);
    let target = || shown.to_string();
    if !dir.is_dir() {
        return Err(CommandError::NoTargetDir {
            target: target(),
            dir: dir.to_path_buf(),
        }
        .into());
    }
    if to.is_dir() {
        return Err(CommandError::TargetIsDir { target: target() }.into());
    }
    refuse_protected_target(settings, to, None)?;
    if to.exists() && !force {
        return Err(CommandError::TargetExists { target: target() }.into());
    }
    let store = existing_store(settings)?;
    let _lock = store.lock(settings.wait)?;
    // `latest` prefers this database's snapshots; only a file can be named without opening it.
    let live = settings
        .target()
        .ok()
        .and_then(|t| t.file().map(Identity::of_file));
    let (m, fetched) = find_snapshot(&store, wanted, live.as_ref(), settings)?;
    refuse_protected_target(settings, to, Some(&m.source_path))?;
    remove_dead_temps(dir);
    // Verified and integrity-checked, beside the target so the final rename is atomic. Its name
    // carries this process's id: a killed run's file is removed by the next run (above).
    let prefix = format!("{RESTORE_TEMP_PREFIX}{}-", std::process::id());
    let (image, from_replica) = extract(&store, &m, dir, &prefix, settings, fetched)?;
    give_source_mode(&image, &m.source_path, settings)?;
    crate::failpoint::hit("restore-to-before-rename");
    if force {
        // A stale -wal of the old file would be replayed into the new one.
        for suffix in engine::SIDE_FILE_SUFFIXES {
            let side = PathBuf::from(format!("{}{suffix}", to.display()));
            match fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(store::write_error(&side, e)),
            }
        }
    }
    image.persist(to).map_err(|e| store::write_error(to, e))?;
    store::sync_dir(dir)?;
    Ok(RestoreReport::copied(
        m,
        to.display().to_string(),
        from_replica,
    ))
}

/// `restore --to URL`: the snapshot into another server database (design.md §8): created in
/// an empty one; one holding the same tables is refused (exit 2) unless `--force`.
fn restore_to_database(
    settings: &Settings,
    wanted: &str,
    to: &Target,
    force: bool,
) -> Result<RestoreReport> {
    let store = existing_store(settings)?;
    let _lock = store.lock(settings.wait)?;
    let (m, fetched) = find_snapshot(&store, wanted, None, settings)?;
    let (image, from_replica) = extract(
        &store,
        &m,
        &store.snapshots_dir(),
        TEMP_PREFIX,
        settings,
        fetched,
    )?;
    engine::import_new(
        to,
        &image,
        &m.facts(),
        force,
        settings.busy_timeout,
        &progress::engine(settings, String::new()),
    )?;
    Ok(RestoreReport::copied(m, to.shown(), from_replica))
}

/// Prefix of the image `restore --to` writes beside the target, then the pid of the writer.
const RESTORE_TEMP_PREFIX: &str = ".jobsweep-restore-";

/// Removes images that a killed `restore --to` left in `dir`: those whose writer (the pid in the
/// name) is gone. Best effort: a file that cannot be removed is left for the next run.
fn remove_dead_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(RESTORE_TEMP_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !alive && is_file && name.ends_with(".db") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Gives the restored file the mode of the database the snapshot was taken from (the store's
/// copies stay private), and its owner and group where this process may (as root). When that
/// file is gone, the live database's.
fn give_source_mode(image: &Path, source: &Path, settings: &Settings) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::metadata(source).or_else(|e| match settings.target() {
        Ok(live) => match live.file() {
            Some(live) => fs::metadata(live),
            None => Err(e),
        },
        Err(_) => Err(e),
    });
    let Ok(meta) = meta else {
        return Ok(());
    };
    fs::set_permissions(image, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| store::write_error(image, e))?;
    if std::os::unix::fs::chown(image, Some(meta.uid()), Some(meta.gid())).is_err() {
        // Not root: the group at least, when this user belongs to it.
        let _ = std::os::unix::fs::chown(image, None, Some(meta.gid()));
    }
    Ok(())
}

/// The snapshot `wanted` names; `latest` means the newest snapshot of this database when the
/// store is shared by several (a newer unreadable one is still reported, never skipped).
fn find_snapshot(
    store: &Store,
    wanted: &str,
    db: Option<&Identity>,
    settings: &Settings,
) -> Result<(Manifest, Option<String>)> {
    let local = find_local_snapshot(store, wanted, db);
    super::replica::or_from_replica(store, wanted, local, settings)
}

/// The snapshot's verified image; a missing or damaged local data file is fetched from the
/// replica when one is set (design.md §9). The second value names the replica when either the
/// manifest (`fetched`) or the data came from it.
fn extract(
    store: &Store,
    m: &Manifest,
    dir: &Path,
    prefix: &str,
    settings: &Settings,
    fetched: Option<String>,
) -> Result<(store::Scratch, Option<String>)> {
    let (image, from) = super::replica::extract_or_fetch(store, m, dir, prefix, settings)?;
    Ok((image, fetched.or(from)))
}

fn find_local_snapshot(store: &Store, wanted: &str, db: Option<&Identity>) -> Result<Manifest> {
    if let (true, Some(db)) = (wanted == "latest", db) {
        let scan = snapshot::scan(store)?;
        if let Some(m) = scan.manifests.iter().find(|m| m.is_of(db)) {
            let newer_problem = scan
                .problems
                .iter()
                .any(|p| store::time_of_id(&p.id).is_none_or(|t| t > m.created_at));
            if !newer_problem {
                return Ok(m.clone());
            }
        }
    }
    snapshot::find(store, wanted)
}

/// `--to` must never be the live database (renaming over it would leave the app writing to the
/// old, unlinked file, and `--force` would delete its `-wal`) under any name (a symlink, a hard
/// link, a `..` path), nor its `-wal`, `-shm` or `-journal` file, nor those of the database the
/// snapshot was taken from, nor anything inside the store (a snapshot's data file, the lock
/// file). Exit 2, `--force` or not.
fn refuse_protected_target(settings: &Settings, to: &Path, source: Option<&Path>) -> Result<()> {
    let target = resolved(to);
    let shown = to.display();
    let target_id = fs::metadata(to).ok().map(|m| file_id(&m));
    let databases = settings
        .target()
        .ok()
        .and_then(|t| t.file().map(Path::to_path_buf))
        .into_iter()
        .chain(source.map(Path::to_path_buf));
    for db in databases {
        let db = resolved(&db);
        for suffix in std::iter::once("").chain(engine::SIDE_FILE_SUFFIXES) {
            let file = PathBuf::from(format!("{}{suffix}", db.display()));
            let same_name = file == target;
            // A hard link has its own name; it is the same file.
            let same_file =
                target_id.is_some() && fs::metadata(&file).ok().map(|m| file_id(&m)) == target_id;
            if same_name || same_file {
                return Err(CommandError::TargetIsLive {
                    target: shown.to_string(),
                    suffix: suffix.to_string(),
                }
                .into());
            }
        }
    }
    if let Ok(dir) = settings.store_dir() {
        if target.starts_with(resolved(&dir)) {
            return Err(CommandError::TargetInStore {
                target: shown.to_string(),
            }
            .into());
        }
    }
    Ok(())
}

/// Device and inode: what makes two names the same file.
fn file_id(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// `path` with symlinks and `.`/`..` resolved as far as it exists (a new file: its directory).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    let dir = store::parent_dir(path);
    match (fs::canonicalize(dir), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

fn restore_live(
    settings: &Settings,
    wanted: &str,
    force: bool,
    dry_run: bool,
) -> Result<RestoreReport> {
    let target = settings.target()?;
    // Opened first: a database that cannot be written is exit 3 before anything else happens.
    let mut live = engine::open(&target, Access::Write, settings.busy_timeout)?;
    let store = existing_store(settings)?;
    let _lock = store.lock(settings.wait)?;
    live.lock_for_changes(settings.wait)?;
    if !dry_run {
        crate::journal::resolve_planned(&store, &*live)?;
    }
    let identity = live.identity();
    let (m, fetched) = find_snapshot(&store, wanted, Some(&identity), settings)?;
    check_same_database(&m, &identity, force)?;
    let mode = live.restore_mode()?;

    // 1. The snapshot's image, decompressed and checked before anything takes a lock. In the
    // store, so a killed run's image is removed by the next command that takes the lock (beside
    // the database nothing would ever remove it).
    let (image, from_replica) = extract(
        &store,
        &m,
        &store.snapshots_dir(),
        TEMP_PREFIX,
        settings,
        fetched,
    )?;
    // 2. The live contents now (a short read lock) and what the restore would discard of them.
    // A dry run only compares: nothing of the image is compressed.
    let current = snapshot::take_image(&*live, &store, Reason::PreRestore, settings, !dry_run)?;
    let discarded = discarded_rows(&m, &image, &current.path)?;
    let mut report = RestoreReport {
        snapshot_id: m.id.clone(),
        target: target.shown(),
        live: true,
        pre_restore_snapshot_id: None,
        image_bytes: m.image_bytes,
        journal_mode: mode,
        dry_run,
        discarded,
        from_replica,
    };
    if dry_run {
        return Ok(report);
    }
    // 3. The pre-restore snapshot, from that same image: it keeps what is discarded.
    let pre = snapshot::create_from_image(
        current,
        &store,
        Reason::PreRestore,
        Some(crate::render::labels::pre_restore_note(&m.id)),
        settings,
    )?;
    report.pre_restore_snapshot_id = Some(pre.id.clone());
    // The label of the step the app waits for, on a terminal (like the progress bars).
    if settings.progress {
        let lost: u64 = report
            .discarded
            .iter()
            .map(|d| d.rows_only_live + d.rows_differ)
            .sum();
        crate::render::notice(&crate::render::labels::restore_copying(
            lost,
            &pre.id,
            &target.shown(),
        ));
    }

    // 4. The copy: the only step that holds the app's writers, one transaction.
    let copied = live.import_image(
        &image,
        &m.facts(),
        &progress::engine(settings, String::new()),
    );
    if let Err(e) = copied {
        // Nothing was changed (the copy is one transaction): the pre-restore snapshot of this
        // try would only fill the store (design.md §5).
        let _ = snapshot::delete(&store, &pre.id);
        return Err(e);
    }
    drop(image);
    // The event for `log` (design.md §4.3).
    crate::journal::record_restore(&store, &identity, &m, &pre).map_err(|e| {
        CommandError::RestoreUnrecorded {
            snapshot: m.id.clone(),
            cause: format!("{e:#}"),
        }
    })?;
    Ok(report)
}

/// Per table, what the live image has that the snapshot's image does not (rows only in the live
/// database, rows with other values); tables without such rows are left out.
fn discarded_rows(
    m: &Manifest,
    snapshot_image: &Path,
    live_image: &Path,
) -> Result<Vec<Discarded>> {
    let diff = engine::image_format(m.engine()).diff(snapshot_image, live_image)?;
    Ok(diff
        .tables
        .into_iter()
        .filter(|t| t.added + t.changed > 0)
        .map(|t| Discarded {
            table: t.table,
            rows_only_live: t.added,
            rows_differ: t.changed,
        })
        .collect())
}

/// Refuses a snapshot of another database file unless `--force`.
fn check_same_database(m: &Manifest, live: &Identity, force: bool) -> Result<()> {
    if force || m.is_of(live) {
        return Ok(());
    }
    let live_schema = match live {
        Identity::Server { id, .. } => Some(id.schema_name().to_string()),
        Identity::File { .. } => None,
    };
    Err(CommandError::SnapshotOfAnother {
        id: m.id.clone(),
        of: m.source_shown(),
        live: live.shown(),
        of_schema: m
            .source_server
            .as_ref()
            .map(|s| s.schema_name().to_string()),
        live_schema,
    }
    .into())
}
