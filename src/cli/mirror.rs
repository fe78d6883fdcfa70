//! `oe mirror …`: deduplicated snapshots of directories, with rsync's exclusion rules.

use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::output::Printer;
use super::run::{progress_bar, threads};
use crate::config::{Location, Settings};
use crate::jobs::mirror;
use crate::jobs::mirror::job::ForgetPlan;
use crate::jobs::mirror::walk::Listings;
use crate::remote;
use crate::repo::{LockMode, Repository};
use crate::rules::retention::Policy;

#[derive(Debug, clap::Args)]
pub struct MirrorArgs {
    /// The repository, a directory, ssh://[USER@]HOST[:PORT]/CLIENT or s3://BUCKET[/PREFIX]
    /// [default: mirror.repository of the config]
    #[arg(long, short = 'r', global = true, value_name = "REPOSITORY")]
    repository: Option<Location>,
    /// Read the directories and their exclusions from a mirror-dir file (a map of directory
    /// to `{exclude: [...]}`) instead of `mirror.dirs`
    #[arg(long, global = true, value_name = "PATH")]
    dirs_file: Option<PathBuf>,
    /// The file holding an encrypted repository's passphrase (mode 0600) [default:
    /// OE_PASSPHRASE, mirror.passphrase_file, else the terminal]
    #[arg(long, global = true, value_name = "PATH", alias = "key-file")]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    command: MirrorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MirrorCommand {
    /// Create an empty repository
    Init {
        /// Where: a directory or s3://BUCKET[/PREFIX] [default: mirror.repository]
        repo: Option<Location>,
        /// Encrypt every object, with a key file opened by a new passphrase
        #[arg(long)]
        encrypt: bool,
    },
    /// Snapshot every configured directory, or one
    Run {
        /// Only this configured directory
        #[arg(long, value_name = "DIR")]
        dir: Option<String>,
        /// Only walk and say what would be read; store nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List snapshots: id, time, directory, files, bytes, new bytes
    Snapshots {
        /// Only those of this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<String>,
    },
    /// List what a snapshot holds, below PATH
    Ls {
        /// Snapshot id (or a unique prefix), or `latest`
        snapshot: String,
        #[arg(long, value_name = "DIR")]
        dir: String,
        /// Only below this path of the snapshot
        path: Option<String>,
    },
    /// Write a snapshot, or one path of it, into a directory
    Restore {
        /// Snapshot id (or a unique prefix), or `latest`
        snapshot: String,
        #[arg(long, value_name = "DIR")]
        dir: String,
        /// Where to write (created if missing)
        #[arg(long, value_name = "DIR")]
        target: PathBuf,
        /// Only this path of the snapshot (restored at the same path below the target)
        #[arg(long, value_name = "PATH")]
        path: Option<String>,
    },
    /// Check the repository's structure; with --read-data, every stored byte
    Check {
        #[arg(long)]
        read_data: bool,
    },
    /// Delete the snapshots the keep rules do not keep, directory by directory
    Forget {
        /// Only the snapshots of this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<String>,
        #[command(flatten)]
        forget: ForgetArgs,
    },
    /// Remove the data no snapshot uses
    Prune {
        /// Only show what would be removed
        #[arg(long)]
        dry_run: bool,
    },
    /// The key files of an encrypted repository
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
enum KeyCommand {
    /// List the key files: id, creation, host, the one in use
    List,
    /// Add a key file for a new passphrase (OE_NEW_PASSPHRASE, --new-passphrase-file, or the
    /// terminal)
    Add {
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Remove a key file (never the last one)
    Remove {
        /// The key file's id, or a unique prefix of it
        id: String,
    },
    /// Change the passphrase: a key file for the new one replaces the one in use
    Passwd {
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
    },
}

/// The keep rules and options of a forget: `oe mirror forget` and `oe server forget`.
#[derive(Debug, clap::Args)]
pub(super) struct ForgetArgs {
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_last: u32,
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_daily: u32,
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_weekly: u32,
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_monthly: u32,
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_yearly: u32,
    /// Keep every snapshot younger than this (`24h`, `7d`)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::rules::retention::parse_age)]
    keep_within: jiff::SignedDuration,
    /// Then remove the data no snapshot uses any more
    #[arg(long)]
    prune: bool,
    /// Only show what would be deleted
    #[arg(long)]
    dry_run: bool,
}

impl ForgetArgs {
    /// The keep rules; an error when none was given.
    pub(super) fn policy(&self) -> Result<Policy> {
        let policy = Policy {
            within: self.keep_within,
            last: self.keep_last,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
        };
        if policy == Policy::NONE {
            return Err(mirror::job::Error::NoKeepRule.into());
        }
        Ok(policy)
    }

    /// Shows `plan`, carries it out (unless a dry run), then prunes when asked.
    pub(super) fn apply(&self, printer: &Printer, repo: &Repository, plan: &ForgetPlan) -> Result {
        printer.mirror_forget_plan(plan, self.dry_run)?;
        if !self.dry_run {
            mirror::job::forget(repo, plan)?;
        }
        if self.prune {
            // A dry run prunes as if the forgotten snapshots were gone already.
            let forgotten: Vec<&str> =
                if self.dry_run { plan.deleted_ids().collect() } else { Vec::new() };
            prune_repo(printer, repo, self.dry_run, &forgotten)?;
        }
        Ok(())
    }
}

pub async fn run(global: &Global, args: MirrorArgs, settings: Settings) -> Result {
    let global = global.clone();
    tokio::task::spawn_blocking(move || run_blocking(&global, args, settings)).await?
}

fn run_blocking(global: &Global, args: MirrorArgs, settings: Settings) -> Result {
    let printer = global.printer();
    let mut access = settings.mirror_access();
    if args.passphrase_file.is_some() {
        access.passphrase_file = args.passphrase_file.clone();
    }
    let open = |mode: LockMode| -> Result<_> {
        let location = settings.mirror_repository(args.repository.as_ref())?;
        let repo = remote::open(&location, &access)?;
        let lock = repo.lock(mode)?;
        Ok((repo, lock))
    };
    let refuse_remote = || -> Result {
        match settings.mirror_repository(args.repository.as_ref())? {
            location @ Location::Ssh(_) => {
                Err(mirror::job::Error::RemoteForget { location }.into())
            }
            Location::Local(_) | Location::S3(_) => Ok(()),
        }
    };
    let dirs_file = args.dirs_file.as_deref();
    match args.command {
        MirrorCommand::Init { repo, encrypt } => {
            let location =
                settings.mirror_repository(repo.as_ref().or(args.repository.as_ref()))?;
            match remote::init(&location, &access, encrypt) {
                Err(crate::repo::Error::NotEmpty { .. })
                    if matches!(location, Location::Ssh(_)) =>
                {
                    return Err(mirror::job::Error::RemoteInit { location }.into());
                }
                made => made?,
            };
            printer.mirror_initialized(&location, encrypt)
        }
        MirrorCommand::Run { dir, dry_run } => {
            let dirs = match dir {
                Some(dir) => vec![settings.mirror_dir(dirs_file, &dir)?],
                None => settings.mirror_dirs(dirs_file)?,
            };
            // Listed while the repository opens (a login to a backup server, say).
            let listings = Listings::start(&dirs);
            let (repo, _lock) = open(if dry_run { LockMode::Shared } else { LockMode::Exclusive })?;
            let options = mirror::job::RunOptions {
                dry_run,
                threads: threads(),
                progress: progress_bar(global.quiet, "mirroring"),
            };
            let report = mirror::job::run(&repo, &dirs, listings, &options)?;
            printer.mirror_run(&report)?;
            Ok(report.check()?)
        }
        MirrorCommand::Snapshots { dir } => {
            let (repo, _lock) = open(LockMode::Shared)?;
            let dir = dir.map(|d| mirror::job::normalize_dir(&d));
            let snapshots = mirror::job::snapshots(&repo, dir.as_deref())?;
            printer.mirror_snapshots(&snapshots)
        }
        MirrorCommand::Ls { snapshot, dir, path } => {
            let (repo, _lock) = open(LockMode::Shared)?;
            let dir = mirror::job::normalize_dir(&dir);
            let mut out = std::io::stdout().lock();
            mirror::job::ls(&repo, &dir, &snapshot, path.as_deref(), &mut |line| {
                printer.mirror_ls_line(&mut out, line)
            })?;
            Ok(())
        }
        MirrorCommand::Restore { snapshot, dir, target, path } => {
            let (repo, _lock) = open(LockMode::Shared)?;
            let dir = mirror::job::normalize_dir(&dir);
            let outcome = mirror::job::restore(
                &repo,
                &dir,
                &snapshot,
                &target,
                path.as_deref(),
                progress_bar(global.quiet, "restoring"),
            )?;
            printer.mirror_restored(&target, &outcome)
        }
        MirrorCommand::Check { read_data } => {
            let location = settings.mirror_repository(args.repository.as_ref())?;
            let repo = remote::open_cached(&location, &access, false)?;
            let _lock = repo.lock(LockMode::Shared)?;
            let report = mirror::job::check(&repo, read_data)?;
            printer.mirror_checked(&report)?;
            Ok(report.result()?)
        }
        MirrorCommand::Forget { dir, forget } => {
            let policy = forget.policy()?;
            refuse_remote()?;
            let (repo, _lock) = open(LockMode::Exclusive)?;
            let dir = dir.map(|d| mirror::job::normalize_dir(&d));
            let plan = mirror::job::forget_plan(&repo, dir.as_deref(), policy)?;
            forget.apply(&printer, &repo, &plan)
        }
        MirrorCommand::Prune { dry_run } => {
            refuse_remote()?;
            let (repo, _lock) = open(LockMode::Exclusive)?;
            prune_repo(&printer, &repo, dry_run, &[])
        }
        MirrorCommand::Key { command } => {
            let name = settings.mirror_repository(args.repository.as_ref())?.to_string();
            let new_passphrase = |file: Option<&std::path::Path>| {
                remote::passphrase::new("OE_NEW_PASSPHRASE", file, &name)
            };
            match command {
                KeyCommand::List => {
                    let (repo, _lock) = open(LockMode::Shared)?;
                    printer.mirror_keys(&repo.key_files()?)
                }
                KeyCommand::Add { new_passphrase_file } => {
                    let (repo, _lock) = open(LockMode::Exclusive)?;
                    let passphrase = new_passphrase(new_passphrase_file.as_deref())?;
                    printer.mirror_key_changed("added", &repo.add_key(&passphrase)?)
                }
                KeyCommand::Remove { id } => {
                    let (repo, _lock) = open(LockMode::Exclusive)?;
                    printer.mirror_key_changed("removed", &repo.remove_key(&id)?)
                }
                KeyCommand::Passwd { new_passphrase_file } => {
                    let (repo, _lock) = open(LockMode::Exclusive)?;
                    let passphrase = new_passphrase(new_passphrase_file.as_deref())?;
                    printer.mirror_key_changed("added", &repo.change_passphrase(&passphrase)?)
                }
            }
        }
    }
}

pub(super) fn prune_repo(
    printer: &Printer,
    repo: &Repository,
    dry_run: bool,
    forgotten: &[&str],
) -> Result {
    let plan = mirror::job::prune_plan(repo, forgotten)?;
    printer.mirror_prune_plan(&plan, dry_run)?;
    if !dry_run {
        let stats = repo.prune(&plan)?;
        printer.mirror_pruned(&stats)?;
    }
    Ok(())
}
