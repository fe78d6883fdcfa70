//! `oe load-db SERVICE INPUT [-d DB] [--force] [--jobs N]`.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::run::{LOCK_WAIT, progress_bar, threads};
use crate::config::Settings;
use crate::jobs::load_db::{Finishing, LoadRequest, load_db};
use crate::pg::{ConnParams, lock_database};

#[derive(Debug, clap::Args)]
pub struct LoadDbArgs {
    /// Service whose server gets the database (see `oe config`)
    service: String,
    /// Dump to load: plain SQL, custom format or Odoo zip, raw or gzip/bzip2/zstd; - = stdin
    input: PathBuf,
    /// Database [default: the configured one]
    #[arg(short = 'd', long = "database", value_name = "DB")]
    database: Option<String>,
    /// Replace the database if it exists (only once the new one loaded completely)
    #[arg(long)]
    force: bool,
    /// Parallel pg_restore jobs for custom-format dumps (a compressed or piped dump is first
    /// decompressed to a temporary file, since pg_restore needs to seek)
    #[arg(short = 'j', long, value_name = "N", default_value = "1")]
    jobs: NonZeroUsize,
}

pub async fn run(global: &Global, args: LoadDbArgs, settings: Settings) -> Result {
    let service = settings.service(&args.service)?;
    let database = settings.database(args.database.as_deref())?;
    let conn = ConnParams::from_env(&service.postgres);
    let _lock = lock_database(&conn, &database, LOCK_WAIT, "oe load-db").await?;
    let request = LoadRequest {
        conn,
        database,
        input: args.input.into(),
        filestore: None,
        force: args.force,
        check_rows: false,
        finishing: Finishing::default(),
        keep_replaced: false,
        jobs: args.jobs.get(),
        threads: threads(),
        progress: progress_bar(global.quiet, "loading"),
    };
    let summary = load_db(request).await?;
    global.printer().loaded(&summary)
}
