//! Running one job of the daemon: its databases (or directories) with bounded concurrency,
//! each under its lock, a failing one reported while the others go on; the result is a
//! [`Run`] listing every item.
//!
//! - `backup`: `backup` of each database into the backup directory, with retention;
//! - `restore_test`: the newest backup of each database loaded into a scratch database and
//!   filestore (made a neutralized copy, so no Odoo ever runs its crons or mail), the rows of
//!   every table compared with those its manifest recorded (archives without counts: Odoo's
//!   core tables must have rows, compared with the source database when it exists), its
//!   filestore verified against its attachments, then everything dropped (`verify`; the scratch name is locked meanwhile, so `oe clean`
//!   leaves it alone);
//! - `mirror`: `oe mirror run` over the configured directories, then `forget` and `prune`
//!   when the job has retention rules.
//!
//! At start, [`clean_leftovers`] removes what killed runs left for the services of the jobs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::ProgressBar;
use jiff::Timestamp;
use tokio::sync::Semaphore;

use super::state::{Item, Outcome, Run};
use crate::config::Settings;
use crate::config::daemon::{Action, Databases, DatabasesFile, MirrorJobFile};
use crate::config::settings::{DEFAULT_SERVICE, DaemonSettings, Job, Service};
use crate::jobs::backup::{self, BackupRequest};
use crate::jobs::mirror;
use crate::jobs::mirror::walk::Listings;
use crate::jobs::verify::{RestoreRequest, restore_archive};
use crate::pg::server::derived_name;
use crate::pg::{ConnParams, Server, lock_database};
use crate::repo::{self, LockMode};
use crate::stop;

/// What every job of a daemon shares.
pub struct Context {
    pub settings: Settings,
    pub daemon: DaemonSettings,
    /// One permit per database (or mirror run) worked on at once, over every job.
    pub slots: Arc<Semaphore>,
    /// Compression threads per item.
    pub threads: usize,
}

impl Context {
    pub fn new(settings: Settings, daemon: DaemonSettings, threads: usize) -> Arc<Context> {
        let slots = Arc::new(Semaphore::new(daemon.concurrency));
        Arc::new(Context { settings, daemon, slots, threads })
    }
}

/// Runs `job` to the end and says how it went.
pub async fn run(ctx: Arc<Context>, job: Job) -> Run {
    let started = Timestamp::now();
    let clock = Instant::now();
    let result = match &job.action {
        Action::Backup(spec) => each_database(&ctx, &job, spec, backup_one).await,
        Action::RestoreTest(spec) => each_database(&ctx, &job, spec, restore_test_one).await,
        Action::Mirror(spec) => mirror(&ctx, &job, spec).await,
    };
    let (items, error) = match result {
        Ok(items) => {
            let failed: Vec<&str> =
                items.iter().filter(|i| !i.ok).map(|i| i.name.as_str()).collect();
            let error = (!failed.is_empty()).then(|| {
                format!("{} of {} failed: {}", failed.len(), items.len(), failed.join(", "))
            });
            (items, error)
        }
        Err(e) => (Vec::new(), Some(crate::exit::message(e.as_ref()))),
    };
    let result = match (stop::signal(), &error) {
        (Some(_), _) => Outcome::Interrupted,
        (None, Some(_)) => Outcome::Failure,
        (None, None) => Outcome::Success,
    };
    Run {
        job: job.name.clone(),
        kind: job.action.kind().to_owned(),
        host: repo::hostname(),
        started,
        finished: Timestamp::now(),
        seconds: clock.elapsed().as_secs_f64(),
        result,
        error,
        items,
    }
}

/// What one item of a job produced: bytes and a detail line.
type Done = (Option<u64>, String);

/// Runs `one` for every database the spec selects, at most `concurrency` at once overall.
async fn each_database<F, Fut>(
    ctx: &Arc<Context>,
    job: &Job,
    spec: &DatabasesFile,
    one: F,
) -> anyhow::Result<Vec<Item>>
where
    F: Fn(Arc<Context>, String, Service, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Done>> + Send + 'static,
{
    let service = ctx.settings.service(spec.service.as_deref().unwrap_or(DEFAULT_SERVICE))?;
    let databases = select_databases(&service, spec).await?;
    if databases.is_empty() {
        anyhow::bail!("no database to work on (databases and exclude leave none)");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (index, database) in databases.into_iter().enumerate() {
        let work = one(Arc::clone(ctx), job.name.clone(), service.clone(), database.clone());
        let slots = Arc::clone(&ctx.slots);
        tasks.spawn(async move {
            let item = match slots.acquire_owned().await {
                Ok(_permit) if stop::signal().is_none() => {
                    let clock = Instant::now();
                    let result = work.await;
                    item(database, clock.elapsed(), result)
                }
                _ => item(database, Duration::ZERO, Err(anyhow::anyhow!("not started: stopping"))),
            };
            (index, item)
        });
    }
    let mut items: Vec<(usize, Item)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        items.push(done.context("a job task panicked")?);
    }
    items.sort_by_key(|(index, _)| *index);
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

fn item(name: String, took: Duration, result: anyhow::Result<Done>) -> Item {
    let seconds = took.as_secs_f64();
    match result {
        Ok((bytes, detail)) => {
            Item { name, ok: true, seconds, bytes, detail: Some(detail), error: None }
        }
        Err(e) => {
            let error = crate::exit::message(e.as_ref());
            tracing::error!("{name}: {error}");
            Item { name, ok: false, seconds, bytes: None, detail: None, error: Some(error) }
        }
    }
}

/// The databases of the spec: the named ones, or every one of the server; minus exclusions.
async fn select_databases(service: &Service, spec: &DatabasesFile) -> anyhow::Result<Vec<String>> {
    let names = match spec.databases.as_ref().unwrap_or(&Databases::All) {
        Databases::Named(names) => names.clone(),
        Databases::All => {
            let conn = ConnParams::from_env(&service.postgres);
            Server::connect(&conn).await?.databases().await?
        }
    };
    Ok(names
        .into_iter()
        .filter(|name| !spec.exclude.iter().any(|pattern| pattern.value.is_match(name)))
        .collect())
}

fn holder(job: &str) -> String {
    format!("oe daemon job {job}")
}

async fn backup_one(
    ctx: Arc<Context>,
    job: String,
    service: Service,
    database: String,
) -> anyhow::Result<Done> {
    let conn = ConnParams::from_env(&service.postgres);
    let _lock = lock_database(&conn, &database, ctx.daemon.lock_wait, &holder(&job)).await?;
    let request = BackupRequest {
        conn,
        database,
        data_dir: service.data_dir,
        threads: ctx.threads,
        progress: ProgressBar::hidden(),
    };
    let policy = ctx.settings.file.retention.unwrap_or_default();
    let summary = backup::backup(request, ctx.settings.backup_dir().as_deref(), policy).await?;
    let detail = format!("{} (kept {})", summary.saved.output.display(), summary.kept);
    Ok((Some(summary.saved.written_bytes), detail))
}

async fn restore_test_one(
    ctx: Arc<Context>,
    _job: String,
    service: Service,
    database: String,
) -> anyhow::Result<Done> {
    let backup_dir = ctx.settings.backup_dir().context("no backup_dir")?;
    let newest = backup::newest(&backup_dir, &database)?;
    let request = RestoreRequest {
        conn: ConnParams::from_env(&service.postgres),
        data_dir: service.data_dir.clone(),
        addons_path: service.addons_path.clone(),
        archive: newest.clone(),
        scratch: derived_name(&database, "rtest"),
        source: Some(database),
        threads: ctx.threads,
    };
    let restored = restore_archive(request)
        .await
        .with_context(|| format!("restoring {}", newest.display()))?;
    let detail =
        format!("{}: {}; rows: {}", newest.display(), restored.files_line(), restored.rows_line());
    Ok((Some(restored.read_bytes), detail))
}

/// Removes what killed runs left on the servers and in the directories of the services the
/// jobs use (`oe clean`), before the first job starts; a failure is logged, never fatal.
pub async fn clean_leftovers(settings: &Settings, daemon: &DaemonSettings) {
    let mut services: Vec<&str> = daemon
        .jobs
        .iter()
        .filter_map(|job| match &job.action {
            Action::Backup(spec) | Action::RestoreTest(spec) => {
                Some(spec.service.as_deref().unwrap_or(DEFAULT_SERVICE))
            }
            Action::Mirror(_) => None,
        })
        .collect();
    services.sort_unstable();
    services.dedup();
    for name in services {
        let cleaned = async {
            let service = settings.service(name)?;
            let conn = ConnParams::from_env(&service.postgres);
            let places = crate::jobs::clean::Places {
                data_dir: service.data_dir.clone(),
                backup_dir: settings.backup_dir(),
            };
            let (plan, _claims) = crate::jobs::clean::plan(&conn, &places).await?;
            for what in &plan.in_use {
                tracing::info!("clean: in use, left alone: {what}");
            }
            for kept in &plan.kept {
                tracing::warn!("clean: kept {}: {}", kept.what, kept.why);
            }
            crate::jobs::clean::apply(&conn, &plan).await?;
            anyhow::Ok(plan.steps.len())
        };
        match cleaned.await {
            Ok(0) => {}
            Ok(n) => tracing::info!("service {name}: cleaned {n} leftover(s) of killed runs"),
            Err(e) => tracing::error!("service {name}: cleaning leftovers of killed runs: {e:#}"),
        }
    }
}

async fn mirror(ctx: &Arc<Context>, job: &Job, spec: &MirrorJobFile) -> anyhow::Result<Vec<Item>> {
    let _permit = ctx.slots.acquire().await?;
    let (ctx, job, spec) = (Arc::clone(ctx), job.clone(), spec.clone());
    tokio::task::spawn_blocking(move || mirror_blocking(&ctx, &job, &spec)).await?
}

fn mirror_blocking(ctx: &Context, job: &Job, spec: &MirrorJobFile) -> anyhow::Result<Vec<Item>> {
    let location = ctx.settings.mirror_repository(None)?;
    let dirs = ctx.settings.mirror_dirs(None)?;
    let repo = crate::remote::open(&location, &ctx.settings.mirror_access())?;
    let deadline = Instant::now() + ctx.daemon.lock_wait;
    let _lock = loop {
        match repo.lock(LockMode::Exclusive) {
            Err(repo::Error::Locked { .. } | repo::Error::LockedRemote { .. })
                if Instant::now() < deadline =>
            {
                stop::check()?;
                std::thread::sleep(Duration::from_millis(500));
            }
            other => break other?,
        }
    };
    tracing::info!("{}: mirroring {} directories into {}", job.name, dirs.len(), location);
    let options = mirror::job::RunOptions {
        dry_run: false,
        threads: ctx.threads,
        progress: ProgressBar::hidden(),
    };
    // Listed once the lock is held: a wait for it would leave what was listed behind.
    let report = mirror::job::run(&repo, &dirs, Listings::start(&dirs), &options)?;
    let items = report
        .dirs
        .iter()
        .map(|d| {
            let error = d.failed.clone().or_else(|| {
                (!d.errors.is_empty()).then(|| {
                    format!("partial: {} unreadable: {}", d.errors.len(), d.errors.join(", "))
                })
            });
            Item {
                name: d.dir.clone(),
                ok: error.is_none(),
                seconds: d.seconds,
                bytes: d.stats.as_ref().map(|s| s.new_bytes),
                detail: d.snapshot.as_ref().map(|id| format!("snapshot {id}")),
                error,
            }
        })
        .collect();
    if let Some(policy) = spec.retention {
        let plan = mirror::job::forget_plan(&repo, None, policy)?;
        mirror::job::forget(&repo, &plan)?;
        let prune = mirror::job::prune_plan(&repo, &[])?;
        repo.prune(&prune)?;
    }
    Ok(items)
}
