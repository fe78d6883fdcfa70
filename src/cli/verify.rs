//! `oe verify SERVICE DB` (filestore against the database) and `oe verify FILE.zip`.

use anyhow::Context;

use super::args::Global;
use crate::config::Settings;
use crate::output::Printer;
use crate::pg::ConnParams;
use crate::verify::{verify_archive, verify_database};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// `SERVICE DB` to check a database's filestore, or `FILE.zip` to check an archive
    #[arg(num_args = 1..=2, required = true, value_names = ["SERVICE DB | FILE"])]
    target: Vec<String>,
}

pub async fn run(global: &Global, args: VerifyArgs, settings: Settings) -> anyhow::Result<()> {
    let report = match args.target.as_slice() {
        [file] => {
            let path = std::path::PathBuf::from(file);
            tokio::task::spawn_blocking(move || verify_archive(&path)).await??
        }
        [service, database] => {
            let service = settings.service(service)?;
            let conn = ConnParams::from_env(&service.postgres);
            verify_database(&conn, &service.data_dir, database).await?
        }
        _ => unreachable!("clap takes one or two values"),
    };
    Printer { json: global.json, quiet: global.quiet }
        .verified(&report)
        .context("writing to stdout")?;
    Ok(report.check()?)
}
