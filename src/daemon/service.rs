//! The service loop: sleeps until the next fire time, starts due jobs (never one that is still
//! running), records runs in the state file and sends notifications; at start removes what
//! killed runs left (`oe clean`) and makes up a missed run; reloads the configuration on
//! SIGHUP; on SIGTERM or SIGINT starts nothing more, stops the children and waits up to the
//! grace period for the jobs to clean up.
//!
//! Between fire times it only sleeps (waking at least every `MAX_SLEEP` to follow changes of
//! the wall clock), so an idle daemon uses no CPU.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::task::JoinSet;

use super::job::{self, Context};
use super::notify;
use super::plan;
use super::state::{self, Run, State};
use crate::config::Settings;
use crate::config::settings::{DaemonSettings, Job};
use crate::process::interrupt;
use crate::stop;

/// The longest sleep: fire times are wall-clock times, and the clock may be set meanwhile.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How long jobs get to clean up once their children were killed.
const KILLED_CLEANUP: Duration = Duration::from_secs(5);

/// Where runs are recorded: the state file, read and rewritten under a lock at each change,
/// so that a daemon and an `oe daemon --once` beside it both keep their records.
pub struct Recorder {
    path: PathBuf,
    metrics: Option<PathBuf>,
}

impl Recorder {
    /// Opens the state file; runs of processes that are gone no longer count as running.
    pub fn open(daemon: &DaemonSettings) -> Result<Recorder, super::state::Error> {
        let recorder = Recorder {
            path: daemon.state_file.clone(),
            metrics: daemon.notify.metrics_file.clone(),
        };
        recorder.change(State::clear_dead)?;
        Ok(recorder)
    }

    pub fn read(&self) -> Result<State, super::state::Error> {
        State::read(&self.path)
    }

    pub fn start(&self, job: &str) {
        self.record(|state| state.start(job, Timestamp::now()));
    }

    pub fn finish(&self, run: &Run) {
        self.record(|state| state.finish(run));
    }

    fn record(&self, change: impl FnOnce(&mut State)) {
        if let Err(e) = self.change(change) {
            tracing::error!("{e}");
        }
    }

    fn change(&self, change: impl FnOnce(&mut State)) -> Result<(), super::state::Error> {
        let _lock = state::lock(&self.path)?;
        let mut state = State::read(&self.path)?;
        change(&mut state);
        state.write(&self.path)?;
        if let Some(path) = &self.metrics {
            if let Err(e) = notify::write_metrics(path, &state) {
                tracing::error!("writing the metrics file {}: {e}", path.display());
            }
        }
        Ok(())
    }
}

/// Runs `job` with notifications, recording it; what `--once` and the loop both do.
pub async fn run_recorded(ctx: Arc<Context>, recorder: Arc<Recorder>, job: Job) -> Run {
    tracing::info!("job {} ({}) starting", job.name, job.action.kind());
    recorder.start(&job.name);
    let notify = ctx.daemon.notify.clone();
    let pinged = tokio::task::spawn_blocking(move || notify::started(&notify));
    let run = job::run(Arc::clone(&ctx), job).await;
    let _ = pinged.await;
    recorder.finish(&run);
    match &run.error {
        None => tracing::info!("job {}: {} in {:.1} s", run.job, run.result, run.seconds),
        Some(e) => tracing::error!("job {}: {}: {e}", run.job, run.result),
    }
    let (notify, sent) = (ctx.daemon.notify.clone(), run.clone());
    let _ = tokio::task::spawn_blocking(move || notify::finished(&notify, &sent)).await;
    run
}

/// The foreground service, until SIGTERM or SIGINT.
pub async fn serve(settings: Settings, threads: usize) -> Result<(), super::Error> {
    let mut daemon = settings.daemon()?;
    let mut ctx = Context::new(settings.clone(), daemon.clone(), threads);
    let recorder = Arc::new(Recorder::open(&daemon)?);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(super::Error::Signals)?;
    // The jobs running, by task, so a task that panicked still frees its job.
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut tasks: JoinSet<Run> = JoinSet::new();
    tracing::info!(
        "oe daemon: {} job(s), time zone {}, state in {}",
        daemon.jobs.len(),
        daemon.timezone.iana_name().unwrap_or("(system)"),
        daemon.state_file.display()
    );

    // The mail-port cutoffs, kept in place beside the jobs until the daemon stops.
    let registry = crate::deploy::cutoff::Registry::path(&daemon.state_file);
    let guard = tokio::spawn(super::cutoff::guard(registry));
    let _guard = AbortOnDrop(guard);

    // The mail catcher of staging copies, when it has addresses to listen on.
    let mut catcher = Vec::new();
    match settings.mail() {
        Ok(mail) if !mail.listen.is_empty() => {
            match crate::mail::start(&mail, &mail.listen, mail.web).await {
                Ok(running) => {
                    let (smtp, web, dir) = (&running.smtp, running.web, mail.dir.display());
                    tracing::info!(
                        "mail catcher on {smtp:?} (web page {web:?}), messages in {dir}"
                    );
                    catcher.extend(running.tasks.into_iter().map(AbortOnDrop));
                }
                Err(e) => tracing::error!("no mail catcher: {}", crate::exit::message(&e)),
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!("no mail catcher: {}", crate::exit::message(&e)),
    }

    // What runs killed with the daemon (or the host) left goes first.
    job::clean_leftovers(&settings, &daemon).await;

    // A run missed while the daemon was down is made up now, once.
    let now = Timestamp::now();
    let recorded = recorder.read()?;
    for job in &daemon.jobs {
        let last = recorded.jobs.get(&job.name).and_then(|j| Some(j.last.as_ref()?.started));
        if let Some(due) = plan::missed(&job.schedule, &daemon.timezone, last, now, daemon.catch_up)
        {
            tracing::info!("job {}: making up the run due at {due}", job.name);
            start(&mut tasks, &mut running, &ctx, &recorder, job);
        }
    }
    let mut next = next_fires(&daemon, Timestamp::now());

    loop {
        let now = Timestamp::now();
        for job in &daemon.jobs {
            if next.get(&job.name).is_some_and(|at| *at <= now) {
                if running.values().any(|name| *name == job.name) {
                    tracing::warn!("job {}: still running, this run is skipped", job.name);
                } else {
                    start(&mut tasks, &mut running, &ctx, &recorder, job);
                }
                let following = job.schedule.next_after(now, &daemon.timezone);
                next.remove(&job.name);
                if let Some(at) = following {
                    next.insert(job.name.clone(), at);
                }
            }
        }
        let sleep = next
            .values()
            .min()
            .map(|at| now.duration_until(*at).unsigned_abs())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let id = match done {
                    Ok((id, _)) => id,
                    Err(e) => {
                        tracing::error!("a job failed unexpectedly: {e}");
                        e.id()
                    }
                };
                running.remove(&id);
            }
            _ = hangup.recv() => {
                match Settings::load(Some(&settings.path)).and_then(|s| Ok((s.daemon()?, s))) {
                    Ok((reloaded, new_settings)) => {
                        tracing::info!("configuration reloaded: {} job(s)", reloaded.jobs.len());
                        daemon = reloaded;
                        ctx = Context::new(new_settings, daemon.clone(), threads);
                        next = next_fires(&daemon, Timestamp::now());
                    }
                    Err(e) => tracing::error!("configuration not reloaded, keeping the old one: {e}"),
                }
            }
            signal = stop::raised() => {
                tracing::warn!(
                    "{}: starting no more jobs; waiting up to {:?} for {} running",
                    stop::signal_name(signal),
                    daemon.grace_period,
                    tasks.len()
                );
                if tokio::time::timeout(daemon.grace_period, drain(&mut tasks)).await.is_err() {
                    tracing::error!("jobs still running after the grace period: killing them");
                    interrupt::kill_children();
                    // Their children gone, the jobs remove their partial outputs at once.
                    let _ = tokio::time::timeout(KILLED_CLEANUP, drain(&mut tasks)).await;
                }
                return Ok(());
            }
        }
    }
}

/// Aborts a background task when the loop returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn drain(tasks: &mut JoinSet<Run>) {
    while tasks.join_next().await.is_some() {}
}

fn start(
    tasks: &mut JoinSet<Run>,
    running: &mut HashMap<tokio::task::Id, String>,
    ctx: &Arc<Context>,
    recorder: &Arc<Recorder>,
    job: &Job,
) {
    let task = tasks.spawn(run_recorded(Arc::clone(ctx), Arc::clone(recorder), job.clone()));
    running.insert(task.id(), job.name.clone());
}

/// The next fire time of every job after `now`.
fn next_fires(daemon: &DaemonSettings, now: Timestamp) -> BTreeMap<String, Timestamp> {
    daemon
        .jobs
        .iter()
        .filter_map(|job| Some((job.name.clone(), job.schedule.next_after(now, &daemon.timezone)?)))
        .collect()
}
