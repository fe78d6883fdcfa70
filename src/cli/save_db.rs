//! `oe save-db SERVICE OUTPUT [-d DB]`.

use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::run::{progress_bar, threads};
use crate::config::Settings;
use crate::jobs::save_db::{DumpRequest, save_db};
use crate::pg::ConnParams;

#[derive(Debug, clap::Args)]
pub struct SaveDbArgs {
    /// Service whose server holds the database (see `oe config`)
    service: String,
    /// Output file: .sql or .dump, optionally followed by .gz, .bz2 or .zst; - = plain SQL on stdout
    output: PathBuf,
    /// Database [default: the configured one]
    #[arg(short = 'd', long = "database", value_name = "DB")]
    database: Option<String>,
}

pub async fn run(global: &Global, args: SaveDbArgs, settings: Settings) -> Result {
    let service = settings.service(&args.service)?;
    let database = settings.database(args.database.as_deref())?;
    if global.json && args.output.as_os_str() == "-" {
        return Err(crate::config::Error::Usage(
            "--json cannot be used when the dump itself goes to stdout".into(),
        )
        .into());
    }
    let request = DumpRequest {
        conn: ConnParams::from_env(&service.postgres),
        database,
        output: args.output,
        threads: threads(),
        progress: progress_bar(global.quiet, "dumping"),
    };
    let summary = save_db(request).await?;
    global.printer().dumped(&summary)
}
