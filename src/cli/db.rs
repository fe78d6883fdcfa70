//! `oe db ls | cp SRC DST | mv OLD NEW | rm DB [--dry-run] [-s SERVICE]`: Odoo's database manager on the
//! command line (`jobs::db`). Each names the service with `-s` (default `odoo`), since its
//! positional arguments are databases.

use super::args::Global;
use super::failure::Result;
use super::run::{LOCK_WAIT, progress_bar, threads};
use crate::config::settings::{DEFAULT_SERVICE, validate_database_name};
use crate::config::{Environment, Service, Settings};
use crate::jobs::db::{self, BackupFirst, CopyRequest};
use crate::pg::{ConnParams, DatabaseLock, lock_database};

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

/// The service every `oe db` command works on.
#[derive(Debug, clap::Args)]
struct ServiceArg {
    /// Service whose server and filestores to work on (see `oe config`)
    #[arg(short = 's', long = "service", value_name = "NAME", default_value = DEFAULT_SERVICE)]
    service: String,
}

#[derive(Debug, clap::Subcommand)]
enum DbCommand {
    /// Every database of the service: size, Odoo version, installed applications, filestore
    /// size, newest backup (`-` where unknown)
    Ls {
        #[command(flatten)]
        service: ServiceArg,
    },
    /// Copy a database and its filestore (hard links) as Odoo's Duplicate does: the copy gets
    /// a new database.uuid; refused while SRC has other sessions, or when DST exists
    Cp {
        #[command(flatten)]
        service: ServiceArg,
        /// Database to copy
        source: String,
        /// New database (must not exist)
        target: String,
        /// Neutralize the copy (no mail out, no crons...) before it gets its name
        #[arg(long)]
        neutralize: bool,
        /// Copy a database in use (production keeps running): pg_dump streamed into
        /// pg_restore instead of a file-level copy
        #[arg(long)]
        live: bool,
    },
    /// Rename a database and its filestore; refused while OLD has other sessions, or when NEW
    /// exists
    Mv {
        #[command(flatten)]
        service: ServiceArg,
        /// Database to rename
        old: String,
        /// Its new name (must not exist)
        new: String,
    },
    /// Back up a database (as `oe backup -d DB`), then drop it and remove its filestore;
    /// refused while it has other sessions
    Rm {
        #[command(flatten)]
        service: ServiceArg,
        /// Database to remove, with its filestore
        database: String,
        /// Do not back it up first
        #[arg(long)]
        no_backup: bool,
        /// Remove it even though it is this installation's production database
        #[arg(long)]
        force: bool,
        /// Only show what would be backed up and removed
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(global: &Global, args: DbArgs, settings: Settings) -> Result {
    let printer = global.printer();
    match args.command {
        DbCommand::Ls { service } => {
            let service = settings.service(&service.service)?;
            let conn = ConnParams::from_env(&service.postgres);
            let backup_dir = settings.backup_dir();
            let databases = db::list(&conn, &service.data_dir, backup_dir.as_deref()).await?;
            printer.databases(&databases)
        }
        DbCommand::Cp { service, source, target, neutralize, live } => {
            let (service, conn) = resolve(&settings, &service)?;
            let _locks = lock_all(&conn, &[&source, &target], "oe db cp").await?;
            let summary = db::copy(CopyRequest {
                conn,
                data_dir: service.data_dir,
                source,
                target,
                neutralize,
                addons_path: service.addons_path,
                duplicate: true,
                live,
                replace: false,
                redirect: None,
                keep_replaced: false,
            })
            .await?;
            printer.db_copied(&summary)
        }
        DbCommand::Mv { service, old, new } => {
            let (service, conn) = resolve(&settings, &service)?;
            let _locks = lock_all(&conn, &[&old, &new], "oe db mv").await?;
            let summary = db::rename(&conn, &service.data_dir, &old, &new).await?;
            printer.db_renamed(&summary)
        }
        DbCommand::Rm { service, database, no_backup, force, dry_run } => {
            let (service, conn) = resolve(&settings, &service)?;
            validate_database_name(&database)?;
            let production = settings.environment() == Environment::Production
                && settings.database(None).is_ok_and(|d| d == database);
            if production && !force {
                return Err(db::Error::Production(database).into());
            }
            let _locks = lock_all(&conn, &[&database], "oe db rm").await?;
            let backup_dir = settings.backup_dir();
            let plan = db::plan_remove(
                &conn,
                &database,
                &service.data_dir,
                !no_backup,
                backup_dir.as_deref(),
            )
            .await?;
            if dry_run {
                return printer.db_remove_plan(&plan);
            }
            let first = BackupFirst {
                policy: settings.file.retention.unwrap_or_default(),
                threads: threads(),
                progress: progress_bar(global.quiet, "backing up"),
            };
            let summary = db::remove(&conn, plan, first).await?;
            printer.db_removed(&summary)
        }
    }
}

fn resolve(settings: &Settings, service: &ServiceArg) -> Result<(Service, ConnParams)> {
    let service = settings.service(&service.service)?;
    let conn = ConnParams::from_env(&service.postgres);
    Ok((service, conn))
}

/// The locks of `databases` (each name checked first), taken in name order so that two
/// commands naming the same two databases never wait for each other.
async fn lock_all(
    conn: &ConnParams,
    databases: &[&String],
    holder: &str,
) -> Result<Vec<DatabaseLock>> {
    let mut names: Vec<&String> = databases.to_vec();
    for name in &names {
        validate_database_name(name)?;
    }
    names.sort();
    names.dedup();
    let mut locks = Vec::with_capacity(names.len());
    for name in names {
        locks.push(lock_database(conn, name, LOCK_WAIT, holder).await?);
    }
    Ok(locks)
}
