//! Running one job of the daemon: its databases (or directories) with bounded concurrency,
//! each under its lock, a failing one reported while the others go on; the result is a
//! [`Run`] listing every item.
//!
//! - `backup`: `backup` of each database into the backup directory, with retention;
//! - `restore_test`: the newest backup of each database loaded into a scratch database and
//!   filestore (made a neutralized copy, so no Odoo ever runs its crons or mail), its filestore
//!   verified against its attachments, the rows of Odoo's core tables counted and compared with
//!   the source database when it exists, then everything dropped (the scratch name is locked
//!   meanwhile, so `oe clean` leaves it alone);
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
use crate::backup::{self, BackupRequest};
use crate::config::Settings;
use crate::config::daemon::{Action, Databases, DatabasesFile, MirrorJobFile};
use crate::config::settings::{DEFAULT_SERVICE, DaemonSettings, Job, Service};
use crate::load::{Finishing, LoadRequest, load_db};
use crate::mirror::{self, repo::LockMode, repo::Repository};
use crate::odoo::layout::filestore_dir;
use crate::pg::odoo::OdooDb;
use crate::pg::server::derived_name;
use crate::pg::{ConnParams, Server, lock_database};
use crate::process::interrupt;

/// Odoo's tables a restore test counts: every real database has rows in each.
const CORE_TABLES: &[&str] =
    &["res_company", "res_users", "res_partner", "ir_module_module", "ir_model", "ir_ui_view"];

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
        Err(e) => (Vec::new(), Some(crate::exit::describe(&e))),
    };
    let result = match (interrupt::signal(), &error) {
        (Some(_), _) => Outcome::Interrupted,
        (None, Some(_)) => Outcome::Failure,
        (None, None) => Outcome::Success,
    };
    Run {
        job: job.name.clone(),
        kind: job.action.kind().to_owned(),
        host: mirror::repo::hostname(),
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
                Ok(_permit) if interrupt::signal().is_none() => {
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
            let error = crate::exit::describe(&e);
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
    let file = &ctx.settings.file;
    let policy = file.retention.unwrap_or_default();
    let summary = backup::backup(request, file.backup_dir.as_deref(), policy).await?;
    let detail = format!("{} (kept {})", summary.saved.output.display(), summary.kept);
    Ok((Some(summary.saved.written_bytes), detail))
}

async fn restore_test_one(
    ctx: Arc<Context>,
    job: String,
    service: Service,
    database: String,
) -> anyhow::Result<Done> {
    let backup_dir = ctx.settings.file.backup_dir.clone().context("no backup_dir")?;
    let newest = backup::newest(&backup_dir, &database)?;
    let conn = ConnParams::from_env(&service.postgres);
    let scratch = derived_name(&database, "rtest");
    // Held until the scratch copy is gone: `oe clean` leaves it alone meanwhile.
    let _lock = lock_database(&conn, &scratch, ctx.daemon.lock_wait, &holder(&job)).await?;
    let filestore = filestore_dir(&service.data_dir, &scratch);
    let tested = restore_test(&ctx, &conn, &service, &database, &newest, &scratch).await;
    // Whatever happened, nothing of the scratch copy stays.
    let server = Server::connect(&conn).await?;
    server.drop(&scratch).await?;
    match std::fs::remove_dir_all(&filestore) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context(format!("removing {}", filestore.display())),
    }
    let (bytes, detail) = tested.with_context(|| format!("restoring {}", newest.display()))?;
    Ok((bytes, format!("{}: {detail}", newest.display())))
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
            let places = crate::clean::Places {
                data_dir: service.data_dir.clone(),
                backup_dir: settings.file.backup_dir.clone(),
            };
            let (plan, _claims) = crate::clean::plan(&conn, &places).await?;
            for what in &plan.in_use {
                tracing::info!("clean: in use, left alone: {what}");
            }
            for kept in &plan.kept {
                tracing::warn!("clean: kept {}: {}", kept.what, kept.why);
            }
            crate::clean::apply(&conn, &plan).await?;
            anyhow::Ok(plan.steps.len())
        };
        match cleaned.await {
            Ok(0) => {}
            Ok(n) => tracing::info!("service {name}: cleaned {n} leftover(s) of killed runs"),
            Err(e) => tracing::error!("service {name}: cleaning leftovers of killed runs: {e:#}"),
        }
    }
}

async fn restore_test(
    ctx: &Context,
    conn: &ConnParams,
    service: &Service,
    source: &str,
    backup_file: &std::path::Path,
    scratch: &str,
) -> anyhow::Result<Done> {
    let request = LoadRequest {
        conn: conn.clone(),
        database: scratch.to_owned(),
        input: backup_file.to_path_buf(),
        filestore: Some(filestore_dir(&service.data_dir, scratch)),
        force: false,
        finishing: Finishing {
            odoo: true,
            copy: true,
            neutralize: true,
            addons_path: service.addons_path.clone(),
        },
        jobs: 1,
        threads: ctx.threads,
        progress: ProgressBar::hidden(),
    };
    let loaded = load_db(request).await?;
    let mut report = crate::verify::verify_database(conn, &service.data_dir, scratch).await?;
    // Files the source's filestore lacks too were already missing when the backup was made
    // (`backup` warned then): a gap of the source, not a defect of the backup.
    let source_store = filestore_dir(&service.data_dir, source);
    let (gaps, lost): (Vec<String>, Vec<String>) =
        report.missing.drain(..).partition(|name| !source_store.join(name).exists());
    report.missing = lost;
    report.check()?;
    let restored = OdooDb::connect(conn, scratch).await?.row_counts(CORE_TABLES).await?;
    let server = Server::connect(conn).await?;
    let original = if server.exists(source).await? {
        Some(OdooDb::connect(conn, source).await?.row_counts(CORE_TABLES).await?)
    } else {
        None
    };
    let counts = compare_rows(&restored, original.as_deref())
        .map_err(|problems| anyhow::anyhow!("the restored database is not whole: {problems}"))?;
    Ok((
        Some(loaded.read_bytes),
        format!(
            "{} attachment files verified{}; rows: {}",
            report.checked,
            match gaps.len() {
                0 => String::new(),
                n => format!(" ({n} missing from the source's filestore as well)"),
            },
            counts
        ),
    ))
}

type RowCounts = [(String, Option<i64>)];

/// The row counts of the core tables of a restored database, against those of its source
/// when it exists (same tables, same order): a line of counts, or the problems. With the
/// source at hand, a table it lacks too is no problem and only emptiness where the source has
/// rows counts (the source moved on since the backup); without it, every table must be there
/// and have rows. Pure.
fn compare_rows(restored: &RowCounts, source: Option<&RowCounts>) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut counts = Vec::new();
    for (i, (table, rows)) in restored.iter().enumerate() {
        match (rows, source.map(|s| s[i].1)) {
            (_, Some(None)) => {}
            (None, _) => problems.push(format!("table {table} is missing")),
            (Some(0), Some(Some(n))) if n > 0 => {
                problems.push(format!("table {table} is empty (the source has {n} rows)"))
            }
            (Some(0), None) => problems.push(format!("table {table} is empty")),
            (Some(n), Some(Some(s))) => counts.push(format!("{table} {n} (source {s})")),
            (Some(n), None) => counts.push(format!("{table} {n}")),
        }
    }
    if problems.is_empty() { Ok(counts.join(", ")) } else { Err(problems.join("; ")) }
}

async fn mirror(ctx: &Arc<Context>, job: &Job, spec: &MirrorJobFile) -> anyhow::Result<Vec<Item>> {
    let _permit = ctx.slots.acquire().await?;
    let (ctx, job, spec) = (Arc::clone(ctx), job.clone(), spec.clone());
    tokio::task::spawn_blocking(move || mirror_blocking(&ctx, &job, &spec)).await?
}

fn mirror_blocking(ctx: &Context, job: &Job, spec: &MirrorJobFile) -> anyhow::Result<Vec<Item>> {
    let path = ctx.settings.mirror_repository(None)?;
    let dirs = ctx.settings.mirror_dirs(None)?;
    let repo = Repository::open(&path)?;
    let deadline = Instant::now() + ctx.daemon.lock_wait;
    let _lock = loop {
        match repo.lock(LockMode::Exclusive) {
            Err(mirror::repo::Error::Locked { .. }) if Instant::now() < deadline => {
                interrupt::check()?;
                std::thread::sleep(Duration::from_millis(500));
            }
            other => break other?,
        }
    };
    tracing::info!("{}: mirroring {} directories into {}", job.name, dirs.len(), path.display());
    let options = mirror::job::RunOptions {
        dry_run: false,
        threads: ctx.threads,
        progress: ProgressBar::hidden(),
    };
    let report = mirror::job::run(&repo, &dirs, &options)?;
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

#[cfg(test)]
mod tests {
    use super::compare_rows;

    fn counts(rows: &[(&str, Option<i64>)]) -> Vec<(String, Option<i64>)> {
        rows.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn restored_rows_are_judged_against_the_source() {
        let source =
            counts(&[("res_partner", Some(40)), ("ir_model", None), ("res_users", Some(3))]);
        let good = counts(&[("res_partner", Some(38)), ("ir_model", None), ("res_users", Some(3))]);
        assert_eq!(
            compare_rows(&good, Some(&source)).unwrap(),
            "res_partner 38 (source 40), res_users 3 (source 3)"
        );
        let emptied = counts(&[("res_partner", Some(0)), ("ir_model", None), ("res_users", None)]);
        assert_eq!(
            compare_rows(&emptied, Some(&source)).unwrap_err(),
            "table res_partner is empty (the source has 40 rows); table res_users is missing"
        );
        // Without a source, every core table must be there with rows.
        assert_eq!(compare_rows(&good, None).unwrap_err(), "table ir_model is missing");
        let whole = counts(&[("res_partner", Some(1))]);
        assert_eq!(compare_rows(&whole, None).unwrap(), "res_partner 1");
        assert!(compare_rows(&counts(&[("res_partner", Some(0))]), None).is_err());
    }
}
