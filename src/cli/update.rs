//! `oe update`: the installation's modules updated on a copy, swapped in only when the
//! update and the start succeed (`jobs::deploy::update`).

use std::io::Write;
use std::time::Duration;

use super::args::Global;
use super::failure::Result;
use crate::config::Settings;
use crate::deploy::engine::{Engine, PullProgress};
use crate::jobs::deploy::update::{self, Observer, Request, Step};
use crate::jobs::deploy::{Context, Error};
use crate::odoo::log::{Level, Record};

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Do not pull the repositories and images first
    #[arg(long)]
    pub quick: bool,
    /// Update this module (and what depends on it), changed or not; repeatable
    #[arg(short = 'm', long = "module", value_name = "MODULE", conflicts_with = "all")]
    pub modules: Vec<String>,
    /// Update every installed module
    #[arg(long)]
    pub all: bool,
    /// Install these modules, with the same safety
    #[arg(long, value_name = "MODULE", num_args = 1..)]
    pub install: Vec<String>,
    /// Say what would be updated and why, and change nothing
    #[arg(long)]
    pub list_only: bool,
    /// Go back to the state before the last update
    #[arg(long, conflicts_with_all = ["quick", "modules", "all", "install", "list_only"])]
    pub rollback: bool,
    /// Load demo data into a database this creates
    #[arg(long)]
    pub demo: bool,
    /// In development, update on a copy with a rollback point as production does (by
    /// default development updates its database in place)
    #[arg(long)]
    pub safe: bool,
    /// Seconds each container may take to serve
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Prints steps with their time, Odoo's warnings and errors (everything with `-v`), and a
/// pull's progress nowhere (the step says it).
struct Terminal {
    verbose: bool,
    quiet: bool,
}

impl Observer for Terminal {
    fn step(&mut self, step: &Step) {
        if !self.quiet {
            let now = jiff::Zoned::now().strftime("%H:%M:%S");
            eprintln!("{now} {} ({:.1} s)", step.what, step.seconds);
        }
    }

    fn record(&mut self, record: &Record) {
        if self.verbose || record.level >= Level::Warning {
            let mut err = std::io::stderr().lock();
            for line in record.text.lines() {
                let _ = writeln!(err, "  {line}");
            }
        }
    }

    fn pull(&mut self, _role: &str, _progress: PullProgress) {}
}

pub async fn update(global: &Global, args: UpdateArgs, settings: Settings) -> Result {
    let ctx = Context::new(&settings)?;
    let engine = Engine::connect().await.map_err(Error::from)?;
    let timeout = Duration::from_secs(args.timeout);
    if args.rollback {
        let done = update::rollback(&ctx, &engine, timeout).await?;
        return global.printer().rolled_back(&done);
    }
    let request = Request {
        quick: args.quick,
        modules: args.modules,
        all: args.all,
        install: args.install,
        list_only: args.list_only,
        demo: args.demo,
        safe: args.safe,
        timeout,
        keep_rollback: settings.keep_rollback(),
    };
    // Development shows Odoo's whole log, as a foreground `odoo -u` would.
    let verbose = global.verbose > 0 || ctx.development();
    let mut terminal = Terminal { verbose, quiet: global.quiet };
    let report = update::update(&ctx, &engine, &request, &mut terminal).await?;
    global.printer().updated(&report, args.list_only)
}
