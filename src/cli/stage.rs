//! `oe stage [--from-backup [FILE] | --from-db DB | --from REPOSITORY] [TARGET_DB]`: the
//! staging installation's database made a safe copy of production (`jobs::deploy::stage`).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::args::Global;
use super::backup::from_repository;
use super::failure::Result;
use super::output::Printer;
use super::run::{progress_bar, threads};
use crate::config::{Location, Settings};
use crate::deploy::cutoff::Registry;
use crate::deploy::engine::Engine;
use crate::jobs::deploy::Context;
use crate::jobs::deploy::stage::{self, Copied, Request, Source, Staged};
use crate::jobs::load_db::Origin;
use crate::jobs::restore::backup_to_restore;

#[derive(Debug, clap::Args)]
pub struct StageArgs {
    /// From a backup file, or without FILE the newest backup of --source-db in the backup
    /// directory (the default source)
    #[arg(long, value_name = "FILE", num_args = 0..=1, group = "source")]
    from_backup: Option<Option<PathBuf>>,
    /// From this database of the installation's own server, in use or not: streamed, its
    /// filestore hard-linked
    #[arg(long, value_name = "DB", group = "source")]
    from_db: Option<String>,
    /// From the newest backup in a mirror repository (a directory,
    /// ssh://[USER@]HOST[:PORT]/CLIENT or s3://BUCKET[/PREFIX]), read in place
    #[arg(long, value_name = "REPOSITORY", group = "source")]
    from: Option<Location>,
    /// Whose backup, with --from-backup or --from [default: the configured database]
    #[arg(long, value_name = "DB", conflicts_with = "from_db")]
    source_db: Option<String>,
    /// With --from: this snapshot (an id or a unique prefix) instead of the latest ones
    #[arg(long, value_name = "ID|latest", requires = "from")]
    snapshot: Option<String>,
    /// The copy's web.base.url [default: http://<this host>:<port>]
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Seconds each container may take to serve
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    timeout: u64,
    /// The staging database [default: the configured one]
    #[arg(value_name = "TARGET_DB")]
    target: Option<String>,
}

pub async fn run(global: &Global, args: StageArgs, settings: Settings) -> Result {
    let ctx = Context::new(&settings)?;
    let engine = Engine::connect().await?;
    // The repository stays locked for reading while its backup is loaded.
    let mut _repo_lock = None;
    let source = if let Some(db) = args.from_db {
        Source::Database(db)
    } else if let Some(location) = args.from {
        let (origin, lock) =
            from_repository(&settings, location, args.source_db, args.snapshot).await?;
        _repo_lock = Some(lock);
        Source::Archive(origin)
    } else {
        let path = match args.from_backup.flatten() {
            Some(file) => file,
            None => {
                let source_db = settings.database(args.source_db.as_deref())?;
                backup_to_restore(None, settings.backup_dir().as_deref(), &source_db)?
            }
        };
        Source::Archive(Origin::Path(path))
    };
    let request = Request {
        source,
        target: args.target,
        base_url: args.url,
        listen: settings.mail()?.listen,
        registry: Registry::path(&settings.daemon()?.state_file),
        timeout: Duration::from_secs(args.timeout),
        threads: threads(),
        progress: progress_bar(global.quiet, "loading"),
    };
    let staged = stage::stage(&ctx, &engine, request).await?;
    staged_summary(&global.printer(), &staged)
}

/// Every safety measure with its evidence.
fn staged_summary(printer: &Printer, s: &Staged) -> Result {
    printer.summary(s, |out| {
        let from = match &s.copied {
            Copied::Archive(l) => format!("{} ({})", l.input, l.format),
            Copied::Database(c) => format!("database {} (streamed live)", c.source),
        };
        let filestore = match &s.copied {
            Copied::Archive(l) => l.filestore_files.map(|n| format!("{n} files restored")),
            Copied::Database(c) => {
                c.filestore_files.map(|n| format!("{n} files, {} hard-linked", c.linked_files))
            }
        };
        if let Some(root) = &s.installed {
            writeln!(out, "installed {} (it was not)", root.display())?;
        }
        writeln!(out, "staged {} from {from} in {:.1}s", s.database, s.seconds)?;
        writeln!(out, "  copy: new UUID and secret (not production's identity)")?;
        if let Some(filestore) = filestore {
            writeln!(out, "  filestore: {filestore}")?;
        }
        if let Some(rows) = s.copied.neutralized_rows() {
            writeln!(
                out,
                "  neutralized: {rows} rows changed (crons, mail servers, payments, webhooks…)"
            )?;
        }
        if let Some(r) = s.copied.redirected() {
            let added = if r.added_server { ", one added (none was active)" } else { "" };
            writeln!(
                out,
                "  mail: {} mail server(s) pointed at the catcher {}{added}",
                r.mail_servers, r.catcher
            )?;
            writeln!(out, "  web.base.url: {}", r.base_url)?;
        }
        let c = &s.cutoff;
        let ports: Vec<String> = c.ports.iter().map(u16::to_string).collect();
        writeln!(
            out,
            "  cutoff: {} ({}): ports {} rejected with a TCP reset, {} rule(s) in place{}",
            c.scope,
            format!("{:?}", c.backend).to_lowercase(),
            ports.join(" "),
            c.rules,
            if c.added == 0 { "" } else { " (applied now)" }
        )?;
        for note in &c.notes {
            writeln!(out, "    note: {note}")?;
        }
        let catcher = s.copied.redirected().map_or("?", |r| r.catcher.as_str());
        if s.catcher_answers {
            writeln!(out, "  catcher: answering at {catcher} ('oe mail ls' lists what it caught)")?;
        } else {
            writeln!(
                out,
                "  warning: no mail catcher answers at {catcher}: start 'oe daemon' (mail.listen) \
                 or 'oe mail serve'; until then the copy's mail fails and waits in its queue"
            )?;
        }
        if let Some(url) = &s.url {
            writeln!(out, "  odoo: serving at {url}")?;
        }
        Ok(())
    })
}
