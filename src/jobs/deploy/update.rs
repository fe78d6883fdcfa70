//! `oe update`: the installation's modules updated without ever leaving the database
//! half-upgraded, and `oe update --rollback`.
//!
//! 1. Unless `--quick`: the repositories and images are pulled, as `oe pull` does.
//! 2. What to do (`plan`): the installed addons whose files changed since the last update,
//!    by click-odoo-update's checksum, read from and stored under its own
//!    `ir_config_parameter` key (so either tool can follow the other); everything (`base`)
//!    when the Odoo image's digest changed; the default app when it is not installed. Nothing
//!    to do ends here, with Odoo untouched.
//! 3. Odoo is stopped (the downtime starts), and the database and filestore are copied
//!    ([`rollback`]: PostgreSQL's template copy, hard links) under a name of their own.
//! 4. A one-off container of the new image runs the update on the copy, its log streamed and
//!    kept in `log/update-<stamp>.log`; it failed when Odoo exits non-zero, logs an ERROR or
//!    CRITICAL line, or leaves a module `to upgrade`, `to install` or `to remove`. The new
//!    checksums are stored in the copy.
//! 5. The names are swapped: the copy becomes production, the previous database and
//!    filestore become the rollback point. Everything is started and must serve.
//! 6. Any failure or signal in 3–5 restores what was ([`rollback::undo`], the previous
//!    `oe.lock` and commits) and starts it again. A killed `oe` leaves the journal, and
//!    `oe update --rollback` finishes the job.
//!
//! A new installation's database is made the same way: Odoo creates the copy (`-i`), which
//! takes the production name at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::install::{self, Source};
use super::odoo_run::{self, OdooRun};
use super::rollback::{self, Attempt, Journal, Names, Phase, Point};
use super::{Context, Error, runtime};
use crate::deploy::engine::{Engine, PullProgress};
use crate::deploy::layout::{MOUNT_SOURCES, Role};
use crate::deploy::lock::Lock;
use crate::deploy::{image_addons, repos};
use crate::jobs::db::{self, CopyRequest};
use crate::odoo::addon_hash::{
    self, EXCLUDE_PATTERNS_KEY, ExcludePatterns, INSTALLED_CHECKSUMS_KEY,
};
use crate::odoo::log::Record;
use crate::pg::odoo::OdooDb;
use crate::pg::{ConnParams, Server, lock_database};
use crate::stop;

/// How long `oe update` waits for another run on the database to finish.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How long the sessions of a stopped Odoo may take to end.
const SESSIONS_END: Duration = Duration::from_secs(10);

/// The `ir_config_parameter` key holding the Odoo image the database was last updated with:
/// another image updates `base`.
const ODOO_IMAGE_KEY: &str = "oe.update.odoo_image";

/// States Odoo leaves a module in when an update stopped halfway.
const UNFINISHED_STATES: [&str; 3] = ["to upgrade", "to install", "to remove"];

/// What the user asked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Skip the pull.
    pub quick: bool,
    /// Update these (and what depends on them), whatever changed.
    pub modules: Vec<String>,
    /// Update every installed module.
    pub all: bool,
    pub install: Vec<String>,
    /// Say what would be done, do nothing.
    pub list_only: bool,
    /// Load demo data into a database this creates.
    pub demo: bool,
    /// Development: take a rollback point anyway.
    pub safe: bool,
    /// How long each container may take to serve.
    pub timeout: Duration,
    /// Rollback points kept after a successful update (`update.keep_rollback`).
    pub keep_rollback: usize,
}

/// Why a module is updated.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    pub module: String,
    pub why: String,
}

/// What an update does, found before anything is touched.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub database: String,
    /// The database does not exist yet: the update creates it.
    pub new_database: bool,
    pub update: Vec<Reason>,
    pub install: Vec<String>,
    /// The Odoo image the update runs.
    #[serde(skip)]
    image: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        !self.new_database && self.update.is_empty() && self.install.is_empty()
    }

    fn modules(&self) -> Vec<String> {
        let updated = self.update.iter().map(|r| r.module.clone());
        updated.chain(self.install.iter().cloned()).collect()
    }
}

/// A step done, with how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub what: String,
    pub seconds: f64,
}

/// What `oe update` did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plan: Plan,
    pub steps: Vec<Step>,
    /// Seconds Odoo did not serve; `None` when it was not stopped.
    pub downtime: Option<f64>,
    /// Odoo's log of the update.
    pub log: Option<PathBuf>,
    /// The database kept to go back to.
    pub rollback_point: Option<String>,
    pub warnings: usize,
}

/// Tells the caller about steps and Odoo's log lines as they come.
pub trait Observer {
    fn step(&mut self, step: &Step);
    fn record(&mut self, record: &Record);
    fn pull(&mut self, role: &str, progress: PullProgress);
}

/// Records steps and tells the observer.
struct Steps<'a> {
    observer: &'a mut dyn Observer,
    done: Vec<Step>,
    since: Instant,
}

impl Steps<'_> {
    fn done(&mut self, what: impl Into<String>) {
        let step = Step { what: what.into(), seconds: self.since.elapsed().as_secs_f64() };
        self.observer.step(&step);
        self.done.push(step);
        self.since = Instant::now();
    }
}

/// The installation's database and how to reach it.
struct Target {
    conn: ConnParams,
    database: String,
}

fn target(ctx: &Context) -> Result<Target, Error> {
    let settings = install::postgres_settings(ctx)?;
    let database = ctx.database.clone().ok_or(Error::NoDatabase)?;
    Ok(Target { conn: ConnParams::from_env(&settings), database })
}

/// Updates the installation; see the module's docs.
pub async fn update(
    ctx: &Context,
    engine: &Engine,
    request: &Request,
    observer: &mut dyn Observer,
) -> Result<Report, Error> {
    let root = &ctx.layout.root;
    let mut journal =
        Journal::read(root).map_err(super::io("reading", root.join(rollback::JOURNAL)))?;
    if let Some(attempt) = &journal.running {
        return Err(Error::Unfinished { stamp: attempt.stamp.clone() });
    }
    let mut steps = Steps { observer, done: Vec::new(), since: Instant::now() };
    runtime::start(ctx, engine, true, request.timeout).await?;
    let Target { conn, database } = target(ctx)?;
    let _lock = lock_database(&conn, &database, LOCK_WAIT, "oe update").await?;
    // What goes back with the database if this update is undone: the code it was last
    // updated with, else what is checked out now.
    let (lock_before, commits) = match &journal.installed {
        Some(installed) => {
            (installed.lock.as_ref().and_then(|p| std::fs::read(p).ok()), installed.commits.clone())
        }
        None => (std::fs::read(ctx.layout.lock_file()).ok(), commits(ctx)?),
    };
    if !request.quick && !request.list_only {
        let mut progress = |role: &str, p: PullProgress| steps.observer.pull(role, p);
        install::pull(ctx, engine, true, true, &Source::Manifest, &mut progress).await?;
        steps.done("pulled the repositories and images");
    }
    let plan = plan(ctx, engine, &conn, &database, request).await?;
    steps.done(if plan.is_empty() { "nothing changed" } else { "found what to update" });
    let mut report = Report {
        plan,
        steps: Vec::new(),
        downtime: None,
        log: None,
        rollback_point: None,
        warnings: 0,
    };
    if report.plan.is_empty() || request.list_only {
        report.steps = steps.done;
        return Ok(report);
    }
    if ctx.development() && !request.safe {
        return update_in_place(ctx, engine, &conn, request, report, steps).await;
    }

    let stamp = rollback::stamp(jiff::Timestamp::now());
    let lock = match lock_before {
        Some(bytes) => {
            let path = root.join(format!("update/oe.lock-{stamp}"));
            write_private(&path, &bytes)?;
            Some(path)
        }
        None => None,
    };
    let attempt = Attempt {
        names: Names::new(&database, &stamp),
        stamp,
        phase: Phase::Copying,
        new_database: report.plan.new_database,
        lock,
        commits,
        modules: report.plan.modules(),
    };
    journal.running = Some(attempt.clone());
    write_journal(root, &journal)?;
    let stopped = Instant::now();
    let log = ctx.layout.log_dir().join(format!("update-{}.log", attempt.stamp));
    report.log = Some(log.clone());
    let result = attempt_update(
        ctx,
        engine,
        &conn,
        &attempt,
        (&report.plan, request),
        &log,
        &mut journal,
        &mut steps,
    )
    .await;
    match result {
        Ok(warnings) => {
            report.warnings = warnings;
            report.downtime = Some(stopped.elapsed().as_secs_f64());
            let kept = !attempt.new_database && request.keep_rollback > 0;
            report.rollback_point = kept.then(|| attempt.names.kept.clone());
            journal.running = None;
            if !attempt.new_database {
                journal.points.push(Point::from(attempt));
            }
            journal.installed = Some(installed_now(ctx)?);
            let trash = prune(&conn, ctx, &mut journal, request.keep_rollback).await;
            write_journal(root, &journal)?;
            steps.done("done");
            rollback::empty_trash(&trash);
            report.steps = steps.done;
            Ok(report)
        }
        Err(error) => {
            tracing::error!("{}; rolling back", crate::exit::message(&error));
            // Putting back runs git and waits for Odoo: not to be cut short by the signal
            // that may have stopped the update.
            let signal = stop::take();
            let undone = roll_back(ctx, engine, &conn, &attempt, None, request.timeout).await;
            if let Some(signal) = signal {
                stop::set(signal);
            }
            match undone {
                Ok(_) => {
                    journal.running = None;
                    write_journal(root, &journal)?;
                    Err(Error::RolledBack(Box::new(error)))
                }
                Err(undo) => Err(Error::RollbackFailed {
                    error: Box::new(error),
                    undo: crate::exit::message(&undo),
                }),
            }
        }
    }
}

/// Development without `--safe`: the update runs on the database itself, with no rollback
/// point; a failure leaves the database as Odoo left it (and Odoo started again).
async fn update_in_place(
    ctx: &Context,
    engine: &Engine,
    conn: &ConnParams,
    request: &Request,
    mut report: Report,
    mut steps: Steps<'_>,
) -> Result<Report, Error> {
    let stamp = rollback::stamp(jiff::Timestamp::now());
    let log = ctx.layout.log_dir().join(format!("update-{stamp}.log"));
    report.log = Some(log.clone());
    let stopped = Instant::now();
    stop_odoo(ctx, engine, conn, &report.plan.database).await?;
    steps.done("stopped odoo");
    let database = report.plan.database.clone();
    let plan = (&report.plan, request);
    let result = run_update(ctx, engine, conn, &database, plan, &log, &mut steps).await;
    let started = runtime::start(ctx, engine, false, request.timeout).await;
    report.warnings = result?;
    let mut journal = Journal::read(&ctx.layout.root)
        .map_err(super::io("reading", ctx.layout.root.join(rollback::JOURNAL)))?;
    journal.installed = Some(installed_now(ctx)?);
    write_journal(&ctx.layout.root, &journal)?;
    started?;
    steps.done("started and serving");
    report.downtime = Some(stopped.elapsed().as_secs_f64());
    report.steps = steps.done;
    Ok(report)
}

/// Steps 3 to 5 on `attempt`; its Odoo log's warning count.
#[allow(clippy::too_many_arguments)]
async fn attempt_update(
    ctx: &Context,
    engine: &Engine,
    conn: &ConnParams,
    attempt: &Attempt,
    (plan, request): (&Plan, &Request),
    log: &Path,
    journal: &mut Journal,
    steps: &mut Steps<'_>,
) -> Result<usize, Error> {
    let root = &ctx.layout.root;
    let names = &attempt.names;
    let interrupted = || stop::signal().map_or(Ok(()), |signal| Err(Error::Interrupted { signal }));
    stop_odoo(ctx, engine, conn, &names.database).await?;
    steps.done("stopped odoo");
    if !attempt.new_database {
        let _copy_lock = lock_database(conn, &names.copy, LOCK_WAIT, "oe update").await?;
        db::copy(CopyRequest {
            conn: conn.clone(),
            data_dir: ctx.layout.data_dir(),
            source: names.database.clone(),
            target: names.copy.clone(),
            neutralize: false,
            addons_path: None,
            duplicate: false,
            live: false,
            replace: false,
            redirect: None,
            keep_replaced: false,
        })
        .await?;
        steps.done(format!("copied the database and filestore to {}", names.copy));
    }
    interrupted()?;
    set_phase(root, journal, Phase::Updating)?;

    let warnings = run_update(ctx, engine, conn, &names.copy, (plan, request), log, steps).await?;
    interrupted()?;

    set_phase(root, journal, Phase::Swapping)?;
    swap(conn, &ctx.layout.data_dir(), names, attempt.new_database).await?;
    set_phase(root, journal, Phase::Starting)?;
    runtime::start(ctx, engine, false, request.timeout).await?;
    steps.done("started and serving");
    Ok(warnings)
}

/// Runs Odoo's update of `database` in a one-off container and checks it finished: Odoo
/// exited 0, logged no ERROR or CRITICAL line, left no module halfway. Stores the new
/// checksums and image in `database`; returns the log's warning count.
async fn run_update(
    ctx: &Context,
    engine: &Engine,
    conn: &ConnParams,
    database: &str,
    (plan, request): (&Plan, &Request),
    log: &Path,
    steps: &mut Steps<'_>,
) -> Result<usize, Error> {
    let mut args: Vec<String> = vec!["-d".into(), database.to_owned()];
    let update: Vec<&str> = plan.update.iter().map(|r| r.module.as_str()).collect();
    if !update.is_empty() {
        args.extend(["-u".into(), update.join(",")]);
    }
    if !plan.install.is_empty() {
        args.extend(["-i".into(), plan.install.join(",")]);
    }
    if plan.new_database && !request.demo {
        args.push("--without-demo=all".into());
    }
    args.extend(
        ["--stop-after-init", "--no-http", "--workers", "0", "--max-cron-threads", "0"]
            .map(str::to_owned),
    );
    let run = OdooRun { purpose: "update", image: &plan.image, args, log_file: log };
    let outcome = odoo_run::run(engine, ctx, run, |r| steps.observer.record(r)).await?;
    if let Some(signal) = stop::signal() {
        return Err(Error::Interrupted { signal });
    }
    if outcome.failed() {
        return Err(Error::UpdateFailed {
            exit_code: outcome.exit_code,
            first_error: summary(&outcome.errors),
            log: log.to_path_buf(),
        });
    }
    let odoo = OdooDb::connect(conn, database).await?;
    let unfinished: Vec<String> = odoo
        .module_states()
        .await?
        .into_iter()
        .filter(|(_, state)| UNFINISHED_STATES.contains(&state.as_str()))
        .map(|(name, state)| format!("{name} ({state})"))
        .collect();
    if !unfinished.is_empty() {
        return Err(Error::ModulesLeft { modules: unfinished, log: log.to_path_buf() });
    }
    store_checksums(ctx, engine, &odoo, &plan.image).await?;
    steps.done(format!("updated {}", describe(plan)));
    Ok(outcome.warnings)
}

/// Stops the Odoo container, when there is one (a new installation has none yet), and waits
/// a moment for its sessions on `database` to end: the server lets them go a little after the
/// container is gone, and the copy or rename that follows needs the database alone (it still
/// refuses, naming them, sessions that stay). A server that cannot be reached is left to the
/// step that needs it to report.
async fn stop_odoo(
    ctx: &Context,
    engine: &Engine,
    conn: &ConnParams,
    database: &str,
) -> Result<(), Error> {
    let name = ctx.layout.container(Role::Odoo);
    if engine.inspect(&name).await?.is_none() {
        return Ok(());
    }
    engine.stop(&name, runtime::STOP_GRACE).await?;
    if let Ok(server) = Server::connect(conn).await {
        server.let_sessions_end(database, SESSIONS_END).await?;
    }
    Ok(())
}

/// An error record in one line: its first, and the last exception a traceback in it (or in
/// a later record: Odoo logs the traceback with its last words) names.
fn summary(errors: &[Record]) -> Option<String> {
    let first = errors.first()?.first_line().trim().to_owned();
    let exception = errors.iter().flat_map(|r| r.text.lines()).rfind(|l| is_exception(l));
    Some(match exception {
        Some(exception) => format!("{first}: {}", exception.trim()),
        None => first,
    })
}

/// Whether `line` is the last line of a Python traceback: `module.Class: message`.
fn is_exception(line: &str) -> bool {
    let Some((name, _)) = line.split_once(": ") else { return false };
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The copy takes the production name; the production database and filestore become the
/// rollback point. Databases first: [`rollback::undo`] judges by them.
async fn swap(
    conn: &ConnParams,
    data_dir: &Path,
    names: &Names,
    new_database: bool,
) -> Result<(), Error> {
    let server = Server::connect(conn).await?;
    let dir = |name: &str| crate::odoo::layout::filestore_dir(data_dir, name);
    if !new_database {
        server.rename(&names.database, &names.kept).await?;
    }
    server.rename(&names.copy, &names.database).await?;
    if !new_database && dir(&names.database).exists() {
        std::fs::rename(dir(&names.database), dir(&names.kept))
            .map_err(super::io("setting aside the filestore", dir(&names.database)))?;
    }
    if dir(&names.copy).exists() {
        std::fs::rename(dir(&names.copy), dir(&names.database))
            .map_err(super::io("putting in place the filestore", dir(&names.copy)))?;
    }
    Ok(())
}

/// What was updated and installed, in words.
fn describe(plan: &Plan) -> String {
    let mut parts = Vec::new();
    if !plan.update.is_empty() {
        let names: Vec<&str> = plan.update.iter().map(|r| r.module.as_str()).collect();
        parts.push(names.join(", "));
    }
    if !plan.install.is_empty() {
        parts.push(format!("installed {}", plan.install.join(", ")));
    }
    parts.join("; ")
}

/// Puts back what `attempt` changed and starts the installation: the database and filestore
/// ([`rollback::undo`]; the replaced database dropped, or kept as `set_aside`), `oe.lock`,
/// the repositories' commits.
async fn roll_back(
    ctx: &Context,
    engine: &Engine,
    conn: &ConnParams,
    names_etc: &Attempt,
    set_aside: Option<&str>,
    timeout: Duration,
) -> Result<rollback::Undone, Error> {
    odoo_run::remove(engine, &ctx.layout, "update").await?;
    stop_odoo(ctx, engine, conn, &names_etc.names.database).await?;
    runtime::start(ctx, engine, true, timeout).await?;
    let (undone, trash) = rollback::undo(
        conn,
        &ctx.layout.data_dir(),
        &names_etc.names,
        set_aside,
        names_etc.new_database,
    )
    .await?;
    restore_sources(ctx, &names_etc.lock, &names_etc.commits)?;
    if !names_etc.new_database {
        runtime::start(ctx, engine, false, timeout).await?;
    }
    rollback::empty_trash(&trash);
    Ok(undone)
}

/// `oe.lock` and the repositories' commits as they were.
fn restore_sources(
    ctx: &Context,
    lock: &Option<PathBuf>,
    commits: &[(String, String)],
) -> Result<(), Error> {
    if let Some(saved) = lock {
        let bytes = std::fs::read(saved).map_err(super::io("reading", saved))?;
        write_private(&ctx.layout.lock_file(), &bytes)?;
    }
    let manifest = install::manifest(ctx)?;
    let sources = ctx.layout.sources_dir();
    for repo in install::repositories(install::defapp(ctx)?, &manifest) {
        let Some((_, commit)) = commits.iter().find(|(dir, _)| *dir == repo.dir) else {
            continue;
        };
        if repos::checked_out(&repo, &sources)? != *commit {
            repos::reset(&repo, &sources, commit)?;
        }
    }
    Ok(())
}

/// What `oe update --rollback` did.
#[derive(Debug, Clone, Serialize)]
pub struct RolledBack {
    /// The update undone (its stamp).
    pub stamp: String,
    /// Whether it had completed (else a killed update was finished off).
    pub completed: bool,
    /// Where the database it replaced went.
    pub set_aside: Option<String>,
    pub seconds: f64,
}

/// Goes back to the state before the last update: finishes off an update a killed `oe`
/// left, else restores the newest rollback point (the database it replaces is kept aside).
pub async fn rollback(
    ctx: &Context,
    engine: &Engine,
    timeout: Duration,
) -> Result<RolledBack, Error> {
    let started = Instant::now();
    let root = &ctx.layout.root;
    let mut journal =
        Journal::read(root).map_err(super::io("reading", root.join(rollback::JOURNAL)))?;
    runtime::start(ctx, engine, true, timeout).await?;
    let Target { conn, database } = target(ctx)?;
    let _lock = lock_database(&conn, &database, LOCK_WAIT, "oe update --rollback").await?;
    if let Some(attempt) = journal.running.clone() {
        roll_back(ctx, engine, &conn, &attempt, None, timeout).await?;
        journal.running = None;
        write_journal(root, &journal)?;
        return Ok(RolledBack {
            stamp: attempt.stamp,
            completed: false,
            set_aside: None,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let point = journal.points.last().cloned().ok_or(Error::NoRollbackPoint)?;
    let aside = Names::new(&database, &rollback::stamp(jiff::Timestamp::now()));
    let aside = aside.kept.replace("-before-", "-undone-");
    let attempt = Attempt {
        stamp: point.stamp.clone(),
        names: point.names.clone(),
        phase: Phase::Starting,
        new_database: false,
        lock: point.lock.clone(),
        commits: point.commits.clone(),
        modules: point.modules.clone(),
    };
    let undone = roll_back(ctx, engine, &conn, &attempt, Some(&aside), timeout).await?;
    journal.points.pop();
    journal.installed = Some(installed_now(ctx)?);
    write_journal(root, &journal)?;
    Ok(RolledBack {
        stamp: point.stamp,
        completed: true,
        set_aside: undone.set_aside,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Drops the rollback points beyond the `keep` newest; returns their filestores, renamed away
/// for removal. Failures are warnings: the update itself succeeded.
async fn prune(
    conn: &ConnParams,
    ctx: &Context,
    journal: &mut Journal,
    keep: usize,
) -> Vec<PathBuf> {
    let mut trash = Vec::new();
    let excess = journal.points.len().saturating_sub(keep);
    let old: Vec<Point> = journal.points.drain(..excess).collect();
    let server = match Server::connect(conn).await {
        Ok(server) => server,
        Err(e) => {
            tracing::warn!("could not drop old rollback points: {e}");
            return trash;
        }
    };
    for point in old {
        let kept = &point.names.kept;
        if let Err(e) = server.drop(kept).await {
            tracing::warn!("could not drop the rollback point '{kept}': {e}");
            journal.points.insert(0, point);
            continue;
        }
        let dir = crate::odoo::layout::filestore_dir(&ctx.layout.data_dir(), kept);
        if dir.exists() {
            trash.push(dir);
        }
        if let Some(lock) = &point.lock {
            let _ = std::fs::remove_file(lock);
        }
    }
    trash
}

fn set_phase(root: &Path, journal: &mut Journal, phase: Phase) -> Result<(), Error> {
    if let Some(attempt) = &mut journal.running {
        attempt.phase = phase;
    }
    write_journal(root, journal)
}

fn write_journal(root: &Path, journal: &Journal) -> Result<(), Error> {
    journal.write(root).map_err(super::io("writing", root.join(rollback::JOURNAL)))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let write = || {
        crate::atomic::create_private_parent(path)?;
        let mut file = crate::atomic::AtomicFile::create(path)?;
        file.write_all(bytes)?;
        file.commit()
    };
    write().map_err(super::io("writing", path))
}

/// What the installation runs now, for [`Journal::installed`]: `oe.lock` copied beside the
/// journal, and the checkouts' commits.
fn installed_now(ctx: &Context) -> Result<rollback::Installed, Error> {
    let lock = match std::fs::read(ctx.layout.lock_file()) {
        Ok(bytes) => {
            let path = ctx.layout.root.join("update/oe.lock-installed");
            write_private(&path, &bytes)?;
            Some(path)
        }
        Err(_) => None,
    };
    Ok(rollback::Installed { lock, commits: commits(ctx)? })
}

/// The commit of each repository's checkout: directory → commit.
fn commits(ctx: &Context) -> Result<Vec<(String, String)>, Error> {
    let manifest = install::manifest(ctx)?;
    let sources = ctx.layout.sources_dir();
    let mut commits = Vec::new();
    for repo in install::repositories(install::defapp(ctx)?, &manifest) {
        commits.push((repo.dir.clone(), repos::checked_out(&repo, &sources)?));
    }
    Ok(commits)
}

/// Finds what the update does; see the module's docs.
async fn plan(
    ctx: &Context,
    engine: &Engine,
    conn: &ConnParams,
    database: &str,
    request: &Request,
) -> Result<Plan, Error> {
    let lock = Lock::read(&ctx.layout.lock_file())?
        .ok_or_else(|| Error::NotInstalled { root: ctx.layout.root.clone() })?;
    let image = lock.digest(Role::Odoo.as_str()).ok_or(Error::NoImage { role: "odoo" })?.to_owned();
    let default_app = install::default_app_module(ctx)?;
    let server = Server::connect(conn).await?;
    let mut plan = Plan {
        database: database.to_owned(),
        new_database: !server.exists(database).await?,
        update: Vec::new(),
        install: Vec::new(),
        image: image.clone(),
    };
    drop(server);
    let mut install = request.install.clone();
    if plan.new_database {
        install.insert(0, default_app.unwrap_or_else(|| "base".to_owned()));
        install.dedup();
        plan.install = install;
        return Ok(plan);
    }
    let odoo = OdooDb::connect(conn, database).await?;
    let states: BTreeMap<String, String> = odoo.module_states().await?.into_iter().collect();
    let installed: Vec<&str> = states
        .iter()
        .filter(|(_, s)| ["installed", "to upgrade"].contains(&s.as_str()))
        .map(|(n, _)| n.as_str())
        .collect();
    let (exclude, langs) = hash_settings(&odoo).await?;
    let updated_with = odoo.config_parameter(ODOO_IMAGE_KEY).await?;
    let stored = match odoo.config_parameter(INSTALLED_CHECKSUMS_KEY).await? {
        Some(text) => addon_hash::parse_checksums(&text).unwrap_or_else(|e| {
            tracing::warn!("the stored checksums ({INSTALLED_CHECKSUMS_KEY}) are unreadable, so every addon counts as changed: {e}");
            BTreeMap::new()
        }),
        None => BTreeMap::new(),
    };
    drop(odoo);
    let table = checksum_table(ctx, engine, &image, &exclude, &langs).await?;

    // Before oe recorded it: the image Odoo runs.
    let updated_with = match updated_with {
        Some(image) => Some(image),
        None => {
            engine.inspect(&ctx.layout.container(Role::Odoo)).await?.and_then(|c| c.config?.image)
        }
    };
    let reason =
        |module: &str, why: &str| Reason { module: module.to_owned(), why: why.to_owned() };
    if request.all {
        plan.update.push(reason("base", "--all"));
    } else if updated_with.as_deref() != Some(image.as_str()) {
        plan.update.push(reason("base", "the odoo image changed"));
    } else if !request.modules.is_empty() {
        for module in &request.modules {
            if !installed.contains(&module.as_str()) {
                return Err(Error::NotInstalledModule(module.clone()));
            }
            plan.update.push(reason(module, "asked"));
        }
    } else {
        for module in &installed {
            // Not found: Odoo cannot update it either (click-odoo-update skips it too).
            let Some(now) = table.get(*module) else { continue };
            match stored.get(*module) {
                Some(Some(before)) if before == now => {}
                Some(Some(_)) => plan.update.push(reason(module, "its files changed")),
                _ => plan.update.push(reason(module, "no checksum stored")),
            }
        }
    }
    if let Some(app) = default_app
        && states.get(&app).map(String::as_str) != Some("installed")
        && !install.contains(&app)
    {
        install.push(app);
    }
    install.retain(|m| states.get(m).map(String::as_str) != Some("installed"));
    plan.install = install;
    Ok(plan)
}

/// Every addon Odoo would load with this installation's addons path and `image`: its name →
/// its checksum. Addons path order decides, as in Odoo: the first directory holding a name
/// wins; Odoo's own `addons` come last.
async fn checksum_table(
    ctx: &Context,
    engine: &Engine,
    image: &str,
    exclude: &ExcludePatterns,
    langs: &[String],
) -> Result<BTreeMap<String, String>, Error> {
    let conf = ctx.layout.odoo_conf();
    let text = std::fs::read_to_string(&conf).map_err(super::io("reading", &conf))?;
    let mut dirs: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "addons_path")
        .map(|(_, v)| v.split(',').map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect())
        .unwrap_or_default();
    let cache = ctx.layout.root.join("update/cache");
    let own = image_addons::odoo_addons_dir(engine, image, &cache).await?;
    if !dirs.contains(&own) {
        dirs.push(own);
    }
    let (host, inside): (Vec<&String>, Vec<&String>) =
        dirs.iter().partition(|d| Path::new(d).starts_with(MOUNT_SOURCES));
    let inside: Vec<String> = inside.into_iter().cloned().collect();
    let from_image = image_addons::image_checksums(engine, image, &inside, exclude, langs, &cache)
        .await?
        .into_iter()
        .collect::<BTreeMap<_, _>>();
    let sources = ctx.layout.sources_dir();
    let host: Vec<(String, PathBuf)> = host
        .into_iter()
        .map(|d| {
            let relative = Path::new(d).strip_prefix(MOUNT_SOURCES).unwrap_or(Path::new(""));
            (d.clone(), sources.join(relative))
        })
        .collect();
    let (exclude2, langs2) = (exclude.clone(), langs.to_vec());
    let from_host = tokio::task::spawn_blocking(move || {
        host.into_iter()
            .map(|(d, path)| Ok((d, addon_hash::dir_checksums(&path, &exclude2, &langs2)?)))
            .collect::<Result<BTreeMap<_, _>, addon_hash::Error>>()
    })
    .await
    .map_err(|e| Error::Io {
        what: "hashing the addons",
        path: sources.clone(),
        source: std::io::Error::other(e),
    })??;
    let mut table = BTreeMap::new();
    for dir in &dirs {
        let addons = from_host.get(dir).or_else(|| from_image.get(dir));
        for (name, sum) in addons.into_iter().flatten() {
            table.entry(name.clone()).or_insert_with(|| sum.clone());
        }
    }
    Ok(table)
}

/// What the checksum depends on in the database: the exclude patterns and the active
/// languages.
async fn hash_settings(odoo: &OdooDb) -> Result<(ExcludePatterns, Vec<String>), Error> {
    let exclude = odoo.config_parameter(EXCLUDE_PATTERNS_KEY).await?;
    let exclude = ExcludePatterns::parse(exclude.as_deref().unwrap_or(ExcludePatterns::DEFAULT));
    Ok((exclude, odoo.active_languages().await?))
}

/// Stores the checksum of every installed addon, as click-odoo-update does after an update
/// (`false`, JSON's `null` here, for one not found).
async fn store_checksums(
    ctx: &Context,
    engine: &Engine,
    odoo: &OdooDb,
    image: &str,
) -> Result<(), Error> {
    let (exclude, langs) = hash_settings(odoo).await?;
    let checksums = checksum_table(ctx, engine, image, &exclude, &langs).await?;
    let installed: Vec<String> = odoo
        .module_states()
        .await?
        .into_iter()
        .filter(|(_, state)| state == "installed")
        .map(|(name, _)| name)
        .collect();
    let mut stored = BTreeMap::new();
    for name in installed {
        let sum = checksums.get(&name).cloned();
        stored.insert(name, sum);
    }
    odoo.set_config_parameter(INSTALLED_CHECKSUMS_KEY, &addon_hash::checksums_json(&stored))
        .await?;
    odoo.set_config_parameter(ODOO_IMAGE_KEY, image).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odoo::log::Parser;

    #[test]
    fn the_summary_names_the_first_error_and_the_last_exception() {
        let log = "2026-12-03 04:25:00,962 1 ERROR db odoo.modules.registry: Failed to load registry\n\
                   2026-12-03 04:25:00,963 1 CRITICAL db odoo.service.server: Failed to initialize database `db`.\n\
                   Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n    g()\n\
                   KeyError: ('ir.model.data', 'base.no_such_user')\n\n\
                   During handling of the above exception, another exception occurred:\n\n\
                   Traceback (most recent call last):\n  File \"y.py\", line 2, in g\n\
                   odoo.tools.convert.ParseError: while parsing /mnt/extra-addons/a/bad.xml:2, somewhere inside\n\
                   <record id=\"bad\" model=\"oe.probe.thing\">\n";
        let mut parser = Parser::new();
        let mut records = parser.feed(log.as_bytes());
        records.extend(parser.finish());
        assert_eq!(
            summary(&records).unwrap(),
            "Failed to load registry: odoo.tools.convert.ParseError: while parsing \
             /mnt/extra-addons/a/bad.xml:2, somewhere inside"
        );
        let plain = &records[..1];
        assert_eq!(summary(plain).unwrap(), "Failed to load registry");
        assert_eq!(summary(&[]), None);
        assert!(!is_exception(
            "During handling of the above exception, another exception occurred:"
        ));
        assert!(!is_exception("2026-12-03 04:25:00: x"));
    }
}
