//! `oe daemon [--once [--job NAME]...] [--print-schedule [-n N]]` and `oe status`.

use std::sync::Arc;

use jiff::Timestamp;

use super::args::Global;
use super::failure::{Failure, Result};
use super::run::threads;
use crate::cli::output::JobStatus;
use crate::config::Settings;
use crate::daemon::Error;
use crate::daemon::job::Context;
use crate::daemon::service::{Recorder, run_recorded, serve};
use crate::daemon::state::{Outcome, State};
use crate::exit::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Run the jobs now, one after the other, and exit (for cron users and tests)
    #[arg(long)]
    once: bool,
    /// With --once: only this job (repeatable)
    #[arg(long, value_name = "NAME", requires = "once")]
    job: Vec<String>,
    /// Print the next fire times of every job and exit
    #[arg(long, conflicts_with = "once")]
    print_schedule: bool,
    /// With --print-schedule: how many fire times per job
    #[arg(short = 'n', value_name = "N", default_value_t = 5, requires = "print_schedule")]
    count: usize,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

pub async fn run(global: &Global, args: DaemonArgs, settings: Settings) -> Result {
    let printer = global.printer();
    let daemon = settings.daemon()?;
    if args.print_schedule {
        let now = Timestamp::now();
        let upcoming: Vec<(String, String, Vec<jiff::Zoned>)> = daemon
            .jobs
            .iter()
            .map(|job| {
                let times = job.schedule.upcoming(now, &daemon.timezone, args.count);
                (job.name.clone(), job.schedule.to_string(), times)
            })
            .collect();
        return printer.schedule(&upcoming);
    }
    if !args.once {
        return Ok(serve(settings, threads()).await?);
    }
    let known = || daemon.jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>().join(", ");
    for name in &args.job {
        if !daemon.jobs.iter().any(|j| &j.name == name) {
            return Err(Error::UnknownJob { name: name.clone(), known: known() }.into());
        }
    }
    let jobs: Vec<_> = daemon
        .jobs
        .iter()
        .filter(|j| args.job.is_empty() || args.job.contains(&j.name))
        .cloned()
        .collect();
    let recorder = Arc::new(Recorder::open(&daemon)?);
    let ctx = Context::new(settings, daemon, threads());
    let mut runs = Vec::new();
    for job in jobs {
        if crate::stop::signal().is_some() {
            break;
        }
        runs.push(run_recorded(Arc::clone(&ctx), Arc::clone(&recorder), job).await);
    }
    printer.runs(&runs)?;
    let failed: Vec<&str> =
        runs.iter().filter(|r| r.result != Outcome::Success).map(|r| r.job.as_str()).collect();
    if !failed.is_empty() {
        return Err(Error::Failed {
            failed: failed.len(),
            total: runs.len(),
            names: failed.join(", "),
        }
        .into());
    }
    Ok(())
}

pub fn status(global: &Global, _args: StatusArgs, settings: Settings) -> Result {
    let daemon = settings.daemon()?;
    let state = State::read(&daemon.state_file)?;
    let now = Timestamp::now();
    let configured = daemon.jobs.iter().map(|job| (job.name.as_str(), Some(job)));
    // Jobs recorded but no longer configured still show, so nothing silently disappears.
    let gone = state
        .jobs
        .keys()
        .filter(|name| !daemon.jobs.iter().any(|j| &j.name == *name))
        .map(|name| (name.as_str(), None));
    let jobs: Vec<JobStatus> = configured
        .chain(gone)
        .map(|(name, job)| {
            let recorded = state.jobs.get(name).cloned().unwrap_or_default();
            let last = recorded.last;
            JobStatus {
                job: name.to_owned(),
                kind: job.map_or_else(
                    || last.as_ref().map(|r| r.kind.clone()).unwrap_or_default(),
                    |j| j.action.kind().to_owned(),
                ),
                schedule: job.map(|j| j.schedule.to_string()).unwrap_or_default(),
                configured: job.is_some(),
                next: job
                    .and_then(|j| j.schedule.next_after(now, &daemon.timezone))
                    .map(|t| t.to_zoned(daemon.timezone.clone())),
                running_since: recorded.running.map(|r| r.started),
                last_success: recorded.last_success,
                last,
            }
        })
        .collect();
    global.printer().status(&daemon.state_file, &jobs)?;
    cutoffs_in_place(global, &daemon.state_file)
}

/// The mail-port cutoffs `oe cutoff apply` recorded, each checked with the firewall: one
/// not in place is an error (exit 1), a staging copy that may reach a mail server.
fn cutoffs_in_place(global: &Global, state_file: &std::path::Path) -> Result {
    use crate::deploy::cutoff::{self, Registry};
    let mut missing = Vec::new();
    for wanted in Registry::read(&Registry::path(state_file))?.cutoffs {
        let status = cutoff::status(&wanted.scope, &wanted.ports)?;
        global.printer().cutoff_state(&status)?;
        if !status.in_place {
            missing.push(status.scope.to_string());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let message = format!(
        "the mail-port cutoff is not in place for {} (oe daemon applies it again; or run oe cutoff apply)",
        missing.join(", ")
    );
    Err(Failure { code: ExitCode::Failure, message })
}
