//! `oe config`: show the settings, or change them.

use super::args::Global;
use super::failure::Result;
use crate::config::{Environment, Settings, Switch};

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Client name (the default database is <client>_prod)
    #[arg(long)]
    client: Option<String>,
    /// Kind of installation
    #[arg(long, value_enum)]
    environment: Option<Environment>,
    /// Database commands use when given no -d
    #[arg(long)]
    database: Option<String>,
    /// Whether nginx fronts Odoo (on/off)
    #[arg(long, value_parser = parse_switch)]
    nginx: Option<Switch>,
    /// Verbose output by default (on/off)
    #[arg(long = "verbose", id = "verbose_setting", value_parser = parse_switch)]
    verbose: Option<Switch>,
    /// Git URL of the installation's default application
    #[arg(long)]
    defapp: Option<String>,
    /// Docker image of Odoo
    #[arg(long)]
    odoo_image: Option<String>,
    /// Directory of `oe backup`'s backups
    #[arg(long)]
    backup_dir: Option<std::path::PathBuf>,
    /// Directory of the dockerized installations, one per client (deploy.base_dir)
    #[arg(long)]
    base_dir: Option<std::path::PathBuf>,
}

fn parse_switch(s: &str) -> Result<Switch, String> {
    Switch::parse(s).ok_or_else(|| format!("'{s}' is not on or off"))
}

pub fn run(global: &Global, args: ConfigArgs, mut settings: Settings) -> Result {
    let f = &mut settings.file;
    let mut changed = false;
    if let Some(client) = &args.client {
        crate::config::settings::validate_client_name(client)?;
    }
    changed |= set(&mut f.client, args.client);
    changed |= set(&mut f.environment, args.environment);
    changed |= set(&mut f.database, args.database);
    changed |= set(&mut f.nginx, args.nginx);
    changed |= set(&mut f.verbose, args.verbose);
    changed |= set(&mut f.defapp, args.defapp);
    changed |= set(&mut f.odoo_image, args.odoo_image);
    changed |= set(&mut f.backup_dir, args.backup_dir);
    if args.base_dir.is_some() {
        changed |= set(&mut f.deploy.get_or_insert_default().base_dir, args.base_dir);
    }
    if let Some(db) = &f.database {
        crate::config::settings::validate_database_name(db)?;
    }
    if changed {
        settings.save()?;
        tracing::info!("wrote {}", settings.path.display());
    }
    let printer = global.printer();
    printer.config(&settings.path, &settings.entries())
}

/// Overwrites `slot` when a value was given; tells whether it did.
fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let given = value.is_some();
    if given {
        *slot = value;
    }
    given
}
