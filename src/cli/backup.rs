//! `oe backup [SERVICE] [-d DB]`, `oe backups [-d DB]` and
//! `oe restore [SERVICE] [-z FILE | --from REPOSITORY [--source-db DB] [--snapshot ID]]
//! [-d DB] [--force]`.

use std::path::PathBuf;
use std::sync::Arc;

use super::args::Global;
use super::failure::Result;
use super::load::load_archive;
use super::run::{LOCK_WAIT, progress_bar, threads};
use crate::config::settings::DEFAULT_SERVICE;
use crate::config::{Location, Settings};
use crate::jobs::backup::{self, BackupRequest, backup};
use crate::jobs::load::Choices;
use crate::jobs::load_db::Origin;
use crate::jobs::restore::{self, backup_to_restore};
use crate::pg::{ConnParams, lock_database};
use crate::remote;
use crate::repo::{LockGuard, LockMode};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Service whose database and filestore to back up
    #[arg(default_value = DEFAULT_SERVICE)]
    service: String,
    /// Database [default: the configured one]
    #[arg(short = 'd', long = "database", value_name = "DB")]
    database: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct BackupsArgs {
    /// Only the backups of this database
    #[arg(short = 'd', long = "database", value_name = "DB")]
    database: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// Service to restore into
    #[arg(default_value = DEFAULT_SERVICE)]
    service: String,
    /// Backup to restore [default: the newest complete backup of the database]
    #[arg(short = 'z', long = "zip", value_name = "FILE", conflicts_with = "from")]
    file: Option<PathBuf>,
    /// Restore from a mirror repository (a directory, ssh://[USER@]HOST[:PORT]/CLIENT or
    /// s3://BUCKET[/PREFIX]): the newest backup in its latest snapshots, read in place, without a local copy
    #[arg(long, value_name = "REPOSITORY")]
    from: Option<Location>,
    /// With --from: whose backup [default: the configured database, else the only one with
    /// backups in the repository]
    #[arg(long, value_name = "DB", requires = "from")]
    source_db: Option<String>,
    /// With --from: look in this snapshot (an id or a unique prefix) instead of the latest of
    /// every directory
    #[arg(long, value_name = "ID|latest", requires = "from")]
    snapshot: Option<String>,
    /// Database [default: the configured one]
    #[arg(short = 'd', long = "database", value_name = "DB")]
    database: Option<String>,
    /// Replace the database and its filestore if they exist (only once the new ones are complete)
    #[arg(long)]
    force: bool,
}

pub async fn run_backup(global: &Global, args: BackupArgs, settings: Settings) -> Result {
    let service = settings.service(&args.service)?;
    let database = settings.database(args.database.as_deref())?;
    let conn = ConnParams::from_env(&service.postgres);
    let _lock = lock_database(&conn, &database, LOCK_WAIT, "oe backup").await?;
    let request = BackupRequest {
        conn,
        database,
        data_dir: service.data_dir,
        threads: threads(),
        progress: progress_bar(global.quiet, "backing up"),
    };
    let policy = settings.file.retention.unwrap_or_default();
    let summary = backup(request, settings.backup_dir().as_deref(), policy).await?;
    global.printer().backed_up(&summary)
}

pub fn run_backups(global: &Global, args: BackupsArgs, settings: Settings) -> Result {
    let dir = settings.backup_dir().ok_or(backup::Error::NoBackupDir)?;
    let backups = backup::list(&dir, args.database.as_deref())?;
    global.printer().backups(&backups)
}

pub async fn run_restore(global: &Global, args: RestoreArgs, settings: Settings) -> Result {
    let database = settings.database(args.database.as_deref())?;
    let choices = Choices { force: args.force, ..Choices::default() };
    let Some(location) = args.from else {
        let input = backup_to_restore(args.file, settings.backup_dir().as_deref(), &database)?;
        let input = Origin::Path(input);
        return load_archive(global, &settings, &args.service, input, database, choices).await;
    };
    let (input, _repo_lock) =
        from_repository(&settings, location, args.source_db, args.snapshot).await?;
    load_archive(global, &settings, &args.service, input, database, choices).await
}

/// The newest backup of `source_db` (default: the configured database, else the only one
/// with backups) in the latest snapshots of the repository at `location` (or in
/// `snapshot`), opened to be read in place; the repository stays locked for reading (no
/// prune under the load) while the guard lives.
pub(super) async fn from_repository(
    settings: &Settings,
    location: Location,
    source_db: Option<String>,
    snapshot: Option<String>,
) -> Result<(Origin, LockGuard)> {
    let source_db = match source_db {
        Some(db) => Some(crate::config::settings::validate_database_name(&db).map(|()| db)?),
        None => settings.database(None).ok(),
    };
    let wanted = snapshot.unwrap_or_else(|| "latest".into());
    let access = settings.mirror_access();
    tokio::task::spawn_blocking(move || -> Result<_> {
        let repo = Arc::new(remote::open(&location, &access)?);
        let lock = repo.lock(LockMode::Shared)?;
        let name = location.to_string();
        let found = restore::find_in_repository(&repo, &name, &wanted, source_db.as_deref())?;
        let input = restore::open_in_repository(repo, &found, &name)?;
        Ok((input, lock))
    })
    .await?
}
