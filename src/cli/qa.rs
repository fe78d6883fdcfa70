//! `oe test-db [-d NAME] [--demo]` and `oe test -m MODULE … [-d NAME]`: databases for quality
//! assurance, made by a one-off Odoo run next to the installation (`jobs::deploy::qa`). Odoo's
//! log goes to stderr as it comes (warnings, errors and the test results; everything with
//! -v) and whole to `log/test-db.log` or `log/test.log`.

use std::io::Write;

use super::args::Global;
use super::failure::Result;
use crate::config::Settings;
use crate::config::settings::validate_database_name;
use crate::deploy::engine::Engine;
use crate::jobs::deploy::{Context, Error, qa};
use crate::odoo::log::{Level, Record, TestCounts};

#[derive(Debug, clap::Args)]
pub struct TestDbArgs {
    /// Database to make (must not exist) [default: <client>_test]
    #[arg(short = 'd', long = "database", value_name = "NAME")]
    pub database: Option<String>,
    /// Load the demo data
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Module whose tests to run (repeat for more); it is installed with its dependencies
    #[arg(short = 'm', long = "module", value_name = "MODULE", required = true)]
    pub modules: Vec<String>,
    /// Name the throwaway database after NAME [default: the configured database, else the
    /// client]
    #[arg(short = 'd', long = "database", value_name = "NAME")]
    pub database: Option<String>,
}

async fn connect(settings: &Settings) -> Result<(Context, Engine)> {
    let ctx = Context::new(settings)?;
    let engine = Engine::connect().await.map_err(Error::from)?;
    Ok((ctx, engine))
}

/// Shows Odoo's records on stderr: warnings and errors, the test runner's lines, and with
/// -v everything.
fn show(global: &Global) -> impl FnMut(&Record) + use<> {
    let (quiet, verbose) = (global.quiet, global.verbose);
    move |record: &Record| {
        let tests = matches!(record.logger.as_str(), "odoo.tests.result" | "odoo.tests.stats")
            || TestCounts::parse(record).is_some();
        let wanted = if quiet {
            record.level >= Level::Error
        } else {
            verbose > 0 || record.level >= Level::Warning || tests
        };
        if !wanted {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = if record.logger.is_empty() {
            writeln!(err, "{}", record.text)
        } else {
            writeln!(err, "{} {}: {}", record.level, record.logger, record.text)
        };
    }
}

pub async fn test_db(global: &Global, args: TestDbArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let database = args.database.unwrap_or_else(|| format!("{}_test", ctx.layout.client));
    validate_database_name(&database)?;
    let made = qa::test_db(&ctx, &engine, &database, args.demo, show(global)).await?;
    global.printer().test_db(&made)
}

pub async fn test(global: &Global, args: TestArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let base = match args.database {
        Some(name) => name,
        None => ctx.database.clone().unwrap_or_else(|| ctx.layout.client.clone()),
    };
    validate_database_name(&base)?;
    let report = qa::test(&ctx, &engine, &base, &args.modules, show(global)).await?;
    global.printer().tested(&report)?;
    Ok(report.verdict()?)
}
