//! The top-level command line: global flags and the subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "oe", version, about = "Operations tool for people who host Odoo")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Configuration file [default: $OE_CONFIG, else $XDG_CONFIG_HOME/oe/config.yml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print a machine-readable summary on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Only errors on stderr, no summary
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr (-vv for everything)
    #[arg(short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Global {
    /// How this command shows its results.
    pub fn printer(&self) -> super::output::Printer {
        super::output::Printer { json: self.json, quiet: self.quiet }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every setting, its value and where it came from; with flags, change settings
    Config(super::config::ConfigArgs),
    /// Dump a database to a file (.sql or .dump, optionally .gz, .bz2 or .zst; - = stdout)
    SaveDb(super::save_db::SaveDbArgs),
    /// Load a dump of any format (detected from its content; - = stdin) into a database
    LoadDb(super::load_db::LoadDbArgs),
    /// Save a database and its filestore as an Odoo backup zip (- = stdout)
    Save(super::save::SaveArgs),
    /// Load an Odoo backup zip or dump (database and filestore) into a new database
    Load(super::load::LoadArgs),
    /// Back up a database and its filestore into the backup directory, then apply retention
    Backup(super::backup::BackupArgs),
    /// List the complete backups: file, size, date, database
    Backups(super::backup::BackupsArgs),
    /// Restore a backup (the newest of the database unless -z) into its database
    Restore(super::backup::RestoreArgs),
    /// Odoo's database manager: list, copy, rename and remove databases with their filestores
    Db(super::db::DbArgs),
    /// Remove what killed runs left (temporary databases, set-aside filestores, partial
    /// files) once their owner is gone; never anything a live run uses
    Clean(super::clean::CleanArgs),
    /// Make a staging copy safe like odoo-bin neutralize (no mail out, no scheduled actions,
    /// no live payments) and cancel queued mail, in one transaction
    Neutralize(super::neutralize::NeutralizeArgs),
    /// Check a database's filestore against its attachments, or an archive's integrity
    Verify(super::verify::VerifyArgs),
    /// Deduplicated snapshots of directories, with rsync's exclusion rules
    Mirror(super::mirror::MirrorArgs),
    /// Serve a client's repository on a backup server, over standard input and output (the
    /// forced command of the client's key)
    Serve(super::serve::ServeArgs),
    /// The backup server: its clients' keys, repositories, arrivals and retention
    Server(super::server::ServerArgs),
    /// The nightly service: run the configured jobs on their schedules (foreground, for systemd)
    Daemon(super::daemon::DaemonArgs),
    /// Each daemon job: last run, result, duration, next run, last error
    Status(super::daemon::StatusArgs),
    /// Lay out the client's installation: repositories, images (digests in oe.lock), odoo.conf
    Install(super::deploy::InstallArgs),
    /// Fast-forward the repositories and pull the images again, recording their digests
    Pull(super::deploy::PullArgs),
    /// Start the installation's containers (postgres, aeroo, odoo, nginx) and wait until Odoo
    /// answers
    Start(super::deploy::StartArgs),
    /// Development: start, then show Odoo's log until Ctrl-C stops it
    Run(super::deploy::RunArgs),
    /// Stop the installation's containers
    Stop(super::deploy::StopArgs),
    /// The installation's containers: state, image digest, ports
    Ps,
    /// A container's output (odoo unless named)
    Logs(super::deploy::LogsArgs),
    /// Update the modules whose files changed (or those named) on a copy of the database,
    /// swapped in only when the update and the start succeed; --rollback goes back
    Update(super::update::UpdateArgs),
    /// QA: a fresh database with the default app installed, neutralized (default
    /// <client>_test; an existing one is refused)
    TestDb(super::qa::TestDbArgs),
    /// Run modules' tests in a throwaway database; exit 1 when one fails or none ran
    Test(super::qa::TestArgs),
    /// Staging: production's newest backup (or a file, a live database, a repository) made
    /// this installation's database: a neutralized copy, mail caught, mail ports cut off
    Stage(super::stage::StageArgs),
    /// Staging: reject the installation's outgoing connections to mail ports (TCP reset)
    Cutoff(super::cutoff::CutoffArgs),
    /// Staging: the mail catcher (serve) and the messages it caught (ls, show, purge)
    Mail(super::mail::MailArgs),
}
