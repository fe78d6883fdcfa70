//! `oe neutralize SERVICE DB [--dry-run]`.

use anyhow::Context;

use super::args::Global;
use crate::config::Settings;
use crate::config::settings::validate_database_name;
use crate::neutralize::{apply, plan};
use crate::output::Printer;
use crate::pg::ConnParams;

#[derive(Debug, clap::Args)]
pub struct NeutralizeArgs {
    /// Service whose server holds the database (see `oe config`)
    pub service: String,
    /// Database to neutralize: a staging copy, never production
    pub database: String,
    /// Print the SQL plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(global: &Global, args: NeutralizeArgs, settings: Settings) -> anyhow::Result<()> {
    let service = settings.service(&args.service)?;
    validate_database_name(&args.database)?;
    let conn = ConnParams::from_env(&service.postgres);
    let plan = plan(&conn, &args.database, service.addons_path.as_deref()).await?;
    let printer = Printer { json: global.json, quiet: global.quiet };
    if args.dry_run {
        return printer.neutralize_plan(&args.database, &plan).context("writing to stdout");
    }
    let summary = apply(&conn, &args.database, plan).await?;
    printer.neutralized(&summary).context("writing to stdout")
}
