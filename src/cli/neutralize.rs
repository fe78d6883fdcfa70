//! `oe neutralize SERVICE DB [--dry-run] [--force]`: refused on a production installation
//! unless forced, since it turns off the mail and crons of the database it is given.

use super::args::Global;
use super::failure::Result;
use crate::config::settings::validate_database_name;
use crate::config::{Environment, Settings};
use crate::jobs::neutralize::{self, apply, plan};
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
    /// Neutralize even though this installation's environment is production
    #[arg(long)]
    pub force: bool,
}

pub async fn run(global: &Global, args: NeutralizeArgs, settings: Settings) -> Result {
    let service = settings.service(&args.service)?;
    validate_database_name(&args.database)?;
    let conn = ConnParams::from_env(&service.postgres);
    let plan = plan(&conn, &args.database, service.addons_path.as_deref()).await?;
    let printer = global.printer();
    if args.dry_run {
        return printer.neutralize_plan(&args.database, &plan);
    }
    if settings.environment() == Environment::Production && !args.force {
        return Err(neutralize::Error::Production(args.database).into());
    }
    let summary = apply(&conn, &args.database, plan).await?;
    printer.neutralized(&summary)
}
