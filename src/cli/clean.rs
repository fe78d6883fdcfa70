//! `oe clean [SERVICE] [--dry-run]`.

use super::args::Global;
use super::failure::Result;
use crate::config::Settings;
use crate::config::settings::DEFAULT_SERVICE;
use crate::jobs::clean::{self, Places};
use crate::pg::ConnParams;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Service whose server, filestores and backup directory to clean
    #[arg(default_value = DEFAULT_SERVICE)]
    service: String,
    /// Only list what would be removed or put back
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(global: &Global, args: CleanArgs, settings: Settings) -> Result {
    let service = settings.service(&args.service)?;
    let conn = ConnParams::from_env(&service.postgres);
    let places = Places { data_dir: service.data_dir.clone(), backup_dir: settings.backup_dir() };
    let (plan, _claims) = clean::plan(&conn, &places).await?;
    let printer = global.printer();
    if args.dry_run {
        return printer.clean_plan(&plan, None);
    }
    let summary = clean::apply(&conn, &plan).await?;
    printer.clean_plan(&plan, Some(&summary))
}
