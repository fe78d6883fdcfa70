//! `oe save SERVICE DB OUTPUT [--no-filestore] [--strict]`.

use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::run::{progress_bar, threads};
use crate::config::Settings;
use crate::jobs::save::{SaveRequest, save};
use crate::pg::ConnParams;

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Service whose server and data directory hold the database (see `oe config`)
    service: String,
    /// Database to save
    database: String,
    /// Archive to write, in Odoo's backup format (- = stdout, e.g. piped to ssh)
    output: PathBuf,
    /// Leave the filestore out (database only)
    #[arg(long)]
    no_filestore: bool,
    /// Fail when attachment files referenced by the database are missing from the filestore
    #[arg(long)]
    strict: bool,
}

pub async fn run(global: &Global, args: SaveArgs, settings: Settings) -> Result {
    let service = settings.service(&args.service)?;
    crate::config::settings::validate_database_name(&args.database)?;
    if global.json && args.output.as_os_str() == "-" {
        return Err(crate::config::Error::Usage(
            "--json cannot be used when the archive itself goes to stdout".into(),
        )
        .into());
    }
    let request = SaveRequest {
        conn: ConnParams::from_env(&service.postgres),
        database: args.database,
        data_dir: service.data_dir,
        output: args.output,
        with_filestore: !args.no_filestore,
        strict: args.strict,
        threads: threads(),
        progress: progress_bar(global.quiet, "saving"),
    };
    let summary = save(request).await?;
    global.printer().saved(&summary)
}
