//! `oe backup [SERVICE] [-d DB]`, `oe backups [-d DB]` and
//! `oe restore [SERVICE] [-z FILE] [-d DB] [--force]`.

use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::load::load_archive;
use super::run::{LOCK_WAIT, progress_bar, threads};
use crate::config::Settings;
use crate::config::settings::DEFAULT_SERVICE;
use crate::jobs::backup::{self, BackupRequest, backup};
use crate::jobs::load::Choices;
use crate::jobs::restore::backup_to_restore;
use crate::pg::{ConnParams, lock_database};

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
    #[arg(short = 'z', long = "zip", value_name = "FILE")]
    file: Option<PathBuf>,
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
    let summary = backup(request, settings.file.backup_dir.as_deref(), policy).await?;
    global.printer().backed_up(&summary)
}

pub fn run_backups(global: &Global, args: BackupsArgs, settings: Settings) -> Result {
    let dir = settings.file.backup_dir.as_deref().ok_or(backup::Error::NoBackupDir)?;
    let backups = backup::list(dir, args.database.as_deref())?;
    global.printer().backups(&backups)
}

pub async fn run_restore(global: &Global, args: RestoreArgs, settings: Settings) -> Result {
    let database = settings.database(args.database.as_deref())?;
    let input = backup_to_restore(args.file, settings.file.backup_dir.as_deref(), &database)?;
    let choices = Choices { force: args.force, ..Choices::default() };
    load_archive(global, &settings, &args.service, input, database, choices).await
}
