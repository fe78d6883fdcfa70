//! `oe load SERVICE INPUT DB [--force] [--copy] [--neutralize | --no-neutralize]`.

use std::path::PathBuf;

use anyhow::Context;

use super::args::Global;
use super::run::{LOCK_WAIT, progress_bar, threads};
use crate::cli::output::Printer;
use crate::config::{Environment, Settings};
use crate::jobs::load::{Finishing, LoadRequest, load_db};
use crate::odoo::layout::filestore_dir;
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

pub async fn run(global: &Global, args: LoadArgs, settings: Settings) -> anyhow::Result<()> {
    let options = LoadOptions {
        force: args.force,
        copy: args.copy,
        neutralize: args.neutralize,
        no_neutralize: args.no_neutralize,
    };
    load_archive(global, &settings, &args.service, args.input, args.database, options).await
}

/// The choices `load` and `restore` share.
pub(super) struct LoadOptions {
    pub force: bool,
    pub copy: bool,
    pub neutralize: bool,
    pub no_neutralize: bool,
}

/// Loads an archive into `database` of `service`, with the environment's staging rules:
/// in staging and development a copy is always made and neutralized.
pub(super) async fn load_archive(
    global: &Global,
    settings: &Settings,
    service: &str,
    input: PathBuf,
    database: String,
    options: LoadOptions,
) -> anyhow::Result<()> {
    let service = settings.service(service)?;
    crate::config::settings::validate_database_name(&database)?;
    let staging = settings.environment() != Environment::Production;
    if staging && options.no_neutralize {
        anyhow::bail!(crate::config::Error::Invalid {
            path: settings.path.clone(),
            line: None,
            key: "environment".into(),
            message: format!(
                "--no-neutralize is refused: environment is {}; a copy of production must never \
                 run unneutralized here",
                settings.environment()
            ),
        });
    }
    let conn = ConnParams::from_env(&service.postgres);
    let _lock = lock_database(&conn, &database, LOCK_WAIT, "oe load").await?;
    let request = LoadRequest {
        conn,
        filestore: Some(filestore_dir(&service.data_dir, &database)),
        database,
        input,
        force: options.force,
        check_rows: false,
        finishing: Finishing {
            odoo: true,
            copy: options.copy || staging,
            neutralize: options.neutralize || staging,
            addons_path: service.addons_path.clone(),
        },
        jobs: 1,
        threads: threads(),
        progress: progress_bar(global.quiet, "loading"),
    };
    let summary = load_db(request).await?;
    Printer { json: global.json, quiet: global.quiet }.loaded(&summary).context("writing to stdout")
}
