//! `oe load SERVICE INPUT DB [--force] [--copy] [--neutralize | --no-neutralize]`.

use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::run::{LOCK_WAIT, progress_bar, threads};
use crate::config::Settings;
use crate::jobs::load::{ArchiveRequest, Choices, load};
use crate::jobs::load_db::Origin;
use crate::pg::{ConnParams, lock_database};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Service whose server and data directory get the database (see `oe config`)
    service: String,
    /// Odoo backup zip (Odoo 12-18, click-odoo-contrib, oe) or custom-format dump; - = stdin
    input: PathBuf,
    /// Database to create (or replace, with --force)
    database: String,
    /// Replace the database and its filestore if they exist (only once the new ones are complete)
    #[arg(long)]
    force: bool,
    /// Make the database a copy: new UUID, secret and creation date, no enterprise code
    /// [default: on in staging and development]
    #[arg(long)]
    copy: bool,
    /// Neutralize the copy (no mail, crons, payments, webhooks) before it gets its name
    /// [default: on in staging and development]
    #[arg(long, conflicts_with = "no_neutralize")]
    neutralize: bool,
    /// Keep the production behaviour (refused in staging and development)
    #[arg(long)]
    no_neutralize: bool,
}

pub async fn run(global: &Global, args: LoadArgs, settings: Settings) -> Result {
    let choices = Choices {
        force: args.force,
        copy: args.copy,
        neutralize: args.neutralize,
        no_neutralize: args.no_neutralize,
    };
    let input = Origin::Path(args.input);
    load_archive(global, &settings, &args.service, input, args.database, choices).await
}

/// `oe load` and `oe restore`: `input` into `database` of `service`, holding the database's
/// lock.
pub(super) async fn load_archive(
    global: &Global,
    settings: &Settings,
    service: &str,
    input: Origin,
    database: String,
    choices: Choices,
) -> Result {
    let service = settings.service(service)?;
    crate::config::settings::validate_database_name(&database)?;
    let conn = ConnParams::from_env(&service.postgres);
    let _lock = lock_database(&conn, &database, LOCK_WAIT, "oe load").await?;
    let request = ArchiveRequest {
        service,
        environment: settings.environment(),
        input,
        database,
        choices,
        redirect: None,
        keep_replaced: false,
        threads: threads(),
        progress: progress_bar(global.quiet, "loading"),
    };
    let summary = load(request).await?;
    global.printer().loaded(&summary)
}
