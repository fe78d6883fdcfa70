//! `oe verify SERVICE DB` (filestore against the database), `oe verify FILE.zip` (the
//! archive itself) and `oe verify FILE.zip --restore [SERVICE]` (and a restore of it into a
//! scratch database of SERVICE, compared with the rows it recorded, then dropped).

use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::run::threads;
use crate::config::Settings;
use crate::config::settings::DEFAULT_SERVICE;
use crate::jobs::verify::{RestoreRequest, restore_archive, verify_archive, verify_database};
use crate::pg::ConnParams;
use crate::pg::server::derived_name;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// `SERVICE DB` to check a database's filestore, or `FILE.zip` to check an archive
    #[arg(num_args = 1..=2, required = true, value_names = ["SERVICE DB | FILE"])]
    target: Vec<String>,
    /// Also restore FILE.zip into a scratch database of SERVICE (default odoo), compare the
    /// rows of every table with those the archive recorded, verify its filestore, then drop it
    #[arg(long, value_name = "SERVICE", num_args = 0..=1, default_missing_value = DEFAULT_SERVICE)]
    restore: Option<String>,
}

pub async fn run(global: &Global, args: VerifyArgs, settings: Settings) -> Result {
    let printer = global.printer();
    let report = match args.target.as_slice() {
        [file] => {
            let path = PathBuf::from(file);
            tokio::task::spawn_blocking(move || verify_archive(&path)).await??
        }
        [_, _] if args.restore.is_some() => {
            return Err(crate::config::Error::Usage(
                "--restore takes an archive: oe verify FILE.zip --restore [SERVICE]".into(),
            )
            .into());
        }
        [service, database] => {
            let service = settings.service(service)?;
            let conn = ConnParams::from_env(&service.postgres);
            verify_database(&conn, &service.data_dir, database).await?
        }
        _ => unreachable!("clap takes one or two values"),
    };
    printer.verified(&report)?;
    report.check()?;
    let (Some(service), [file]) = (args.restore, args.target.as_slice()) else {
        return Ok(());
    };
    let service = settings.service(&service)?;
    let archive = PathBuf::from(file);
    let stem = archive.file_stem().and_then(|s| s.to_str()).unwrap_or("verify");
    let request = RestoreRequest {
        conn: ConnParams::from_env(&service.postgres),
        data_dir: service.data_dir.clone(),
        addons_path: service.addons_path.clone(),
        scratch: derived_name(stem, "rtest"),
        archive,
        source: None,
        threads: threads(),
    };
    let restored = restore_archive(request).await?;
    printer.restored(&restored)?;
    Ok(())
}
