//! `oe test-db` and `oe test`: databases for quality assurance, made by a one-off Odoo run
//! ([`odoo_run`]) next to the installation, whose postgres (and aeroo) they start.
//!
//! - [`test_db`] makes a fresh database with the default app installed (without demo data
//!   unless asked), then neutralizes it (`jobs::neutralize`, the built-in rules: Odoo's own
//!   files are inside the image, not on this host). A database of that name is refused, and
//!   nothing is touched; a run that fails, or is interrupted, drops what it made.
//! - [`test`] installs modules with their tests into a throwaway database
//!   (`<base>-oe-test-<run>`, a name `oe clean` recognizes should a killed run leave it) and
//!   reports the test runner's counts; the database and its filestore are dropped whatever
//!   happens.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::install::{default_app_module, postgres_settings};
use super::odoo_run::{self, OdooRun, Outcome};
use super::{Context, runtime};
use crate::deploy::engine::Engine;
use crate::deploy::layout::Role;
use crate::exit::{ExitCode, ExitStatus};
use crate::jobs::neutralize;
use crate::odoo::log::{Record, TestCounts};
use crate::pg::{self, ConnParams, Server};

/// How long postgres may take to serve when these commands start it.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// Odoo's options for a run that does its work and exits: no HTTP server, no workers, no
/// crons.
const ONE_SHOT: [&str; 6] =
    ["--stop-after-init", "--no-http", "--workers", "0", "--max-cron-threads", "0"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Deploy(#[from] super::Error),
    #[error(transparent)]
    Run(#[from] odoo_run::Error),
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error(transparent)]
    Neutralize(#[from] neutralize::Error),
    #[error(
        "database '{0}' exists: oe test-db never replaces a database; pick another name with \
         -d, or remove it first (oe db rm)"
    )]
    Exists(String),
    #[error(
        "the filestore {} exists, without a database '{database}': move it away or remove it \
         first",
        path.display()
    )]
    FilestoreExists { database: String, path: PathBuf },
    #[error("'{0}' is not a module name (letters, digits and '_')")]
    BadModule(String),
    #[error("installing {module} into '{database}' failed ({reason}); the database was dropped, see {}", log.display())]
    Install { database: String, module: String, reason: String, log: PathBuf },
    #[error("no test ran for {modules} ({reason}); see {}", log.display())]
    NoTests { modules: String, reason: String, log: PathBuf },
    #[error("tests of {modules} failed: {counts} ({reason}); see {}", log.display())]
    TestsFailed { modules: String, counts: TestCounts, reason: String, log: PathBuf },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Deploy(e) => e.exit_code(),
            Error::Run(e) => e.exit_code(),
            Error::Pg(e) => e.exit_code(),
            Error::Neutralize(e) => e.exit_code(),
            Error::Exists(_) | Error::FilestoreExists { .. } => ExitCode::Exists,
            Error::BadModule(_) => ExitCode::Usage,
            Error::Install { .. } | Error::NoTests { .. } | Error::TestsFailed { .. } => {
                ExitCode::Failure
            }
        }
    }
}

/// What `test_db` made.
#[derive(Debug, Serialize)]
pub struct TestDb {
    pub database: String,
    /// The module installed (the default app's, else `base`).
    pub module: String,
    pub demo: bool,
    /// Rows the neutralization changed.
    pub neutralized_rows: u64,
    pub warnings: usize,
    pub log: PathBuf,
}

/// What `test` saw.
#[derive(Debug, Serialize)]
pub struct TestReport {
    pub modules: Vec<String>,
    /// The throwaway database (dropped).
    pub database: String,
    pub tests: TestCounts,
    pub exit_code: i64,
    /// The first line of each ERROR and CRITICAL record: failed tests, tracebacks.
    pub errors: Vec<String>,
    pub warnings: usize,
    pub log: PathBuf,
    #[serde(skip)]
    reason: String,
}

impl TestReport {
    /// Ok when tests ran and none failed, errored or was otherwise logged as an error.
    pub fn verdict(&self) -> Result<(), Error> {
        let modules = self.modules.join(",");
        let log = self.log.clone();
        if self.tests.tests == 0 {
            let reason = self.reason.clone();
            return Err(Error::NoTests { modules, reason, log });
        }
        if !self.tests.passed() || self.exit_code != 0 || !self.errors.is_empty() {
            let reason = self.reason.clone();
            return Err(Error::TestsFailed { modules, counts: self.tests, reason, log });
        }
        Ok(())
    }
}

/// Starts the environment; the connection to the installation's PostgreSQL and the odoo image.
async fn prepare(ctx: &Context, engine: &Engine) -> Result<(ConnParams, String), Error> {
    let plan = runtime::plan(ctx)?;
    let image = plan.image(Role::Odoo).ok_or(super::Error::NoImage { role: "odoo" })?.to_owned();
    runtime::start(ctx, engine, true, START_TIMEOUT).await?;
    let conn = ConnParams::from_env(&postgres_settings(ctx)?);
    Ok((conn, image))
}

/// Drops `database` and removes its filestore; a failure is logged, not returned: it runs
/// on the way out of another outcome.
async fn discard(ctx: &Context, conn: &ConnParams, database: &str) {
    let dropped = async { Server::connect(conn).await?.drop(database).await }.await;
    if let Err(e) = dropped {
        tracing::warn!("{}; drop it with oe db rm", crate::exit::message(&e));
    }
    let dir = crate::odoo::layout::filestore_dir(&ctx.layout.data_dir(), database);
    if let Err(e) = crate::odoo::filestore::remove(&dir) {
        tracing::warn!("cannot remove the filestore {}: {e}", dir.display());
    }
}

/// Makes `database` with the default app's module installed, and neutralizes it.
pub async fn test_db(
    ctx: &Context,
    engine: &Engine,
    database: &str,
    demo: bool,
    on_record: impl FnMut(&Record),
) -> Result<TestDb, Error> {
    let module = default_app_module(ctx)?.unwrap_or_else(|| "base".to_owned());
    let (conn, image) = prepare(ctx, engine).await?;
    if Server::connect(&conn).await?.exists(database).await? {
        return Err(Error::Exists(database.to_owned()));
    }
    let dir = crate::odoo::layout::filestore_dir(&ctx.layout.data_dir(), database);
    if dir.exists() {
        return Err(Error::FilestoreExists { database: database.to_owned(), path: dir });
    }
    let mut args = vec!["-d".to_owned(), database.to_owned(), "-i".to_owned(), module.clone()];
    if !demo {
        args.push("--without-demo=all".to_owned());
    }
    args.extend(ONE_SHOT.map(str::to_owned));
    let log = ctx.layout.log_dir().join("test-db.log");
    let run = OdooRun { purpose: "test-db", image: &image, args, log_file: &log };
    let result = async {
        let outcome = odoo_run::run(engine, ctx, run, on_record).await?;
        if outcome.failed() {
            return Err(Error::Install {
                database: database.to_owned(),
                module: module.clone(),
                reason: outcome.reason(),
                log: log.clone(),
            });
        }
        let plan = neutralize::plan(&conn, database, None).await?;
        let summary = neutralize::apply(&conn, database, plan).await?;
        Ok((outcome, summary.rows))
    }
    .await;
    match result {
        Ok((outcome, rows)) => Ok(TestDb {
            database: database.to_owned(),
            module,
            demo,
            neutralized_rows: rows,
            warnings: outcome.warnings,
            log,
        }),
        Err(e) => {
            discard(ctx, &conn, database).await;
            Err(e)
        }
    }
}

/// Whether `name` can be a module's: what goes into Odoo's `-i` and `--test-tags`.
fn check_module(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(()) } else { Err(Error::BadModule(name.to_owned())) }
}

/// Odoo's arguments to install `modules` with their tests (and only theirs) into `database`.
fn test_args(database: &str, modules: &[String]) -> Vec<String> {
    let tags: Vec<String> = modules.iter().map(|m| format!("/{m}")).collect();
    let mut args = vec![
        "-d".to_owned(),
        database.to_owned(),
        "-i".to_owned(),
        modules.join(","),
        "--test-enable".to_owned(),
        format!("--test-tags={}", tags.join(",")),
    ];
    args.extend(ONE_SHOT.map(str::to_owned));
    args
}

/// Runs the tests of `modules` in a throwaway database derived from `base`; see the
/// module's docs. The report says what ran; [`TestReport::verdict`] whether it passed.
pub async fn test(
    ctx: &Context,
    engine: &Engine,
    base: &str,
    modules: &[String],
    on_record: impl FnMut(&Record),
) -> Result<TestReport, Error> {
    for module in modules {
        check_module(module)?;
    }
    let (conn, image) = prepare(ctx, engine).await?;
    let database = pg::server::derived_name(base, "test");
    let log = ctx.layout.log_dir().join("test.log");
    let run = OdooRun {
        purpose: "test",
        image: &image,
        args: test_args(&database, modules),
        log_file: &log,
    };
    let result = odoo_run::run(engine, ctx, run, on_record).await;
    discard(ctx, &conn, &database).await;
    let outcome: Outcome = result?;
    Ok(TestReport {
        modules: modules.to_vec(),
        database,
        tests: outcome.tests,
        exit_code: outcome.exit_code,
        errors: outcome.errors.iter().map(|r| r.first_line().to_owned()).collect(),
        warnings: outcome.warnings,
        reason: outcome.reason(),
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tests_of_exactly_the_modules_named_run_in_a_one_shot_odoo() {
        let modules = vec!["sale".to_owned(), "acme_x".to_owned()];
        let args = test_args("acme-oe-test-0000abcd", &modules);
        assert_eq!(
            args.join(" "),
            "-d acme-oe-test-0000abcd -i sale,acme_x --test-enable --test-tags=/sale,/acme_x \
             --stop-after-init --no-http --workers 0 --max-cron-threads 0"
        );
        assert!(check_module("acme_x2").is_ok());
        for bad in ["", "a,b", "--x", "a b", "../x"] {
            assert!(check_module(bad).is_err(), "{bad}");
        }
    }

    fn report(tests: TestCounts, exit_code: i64, errors: &[&str]) -> TestReport {
        TestReport {
            modules: vec!["m".into()],
            database: "d".into(),
            tests,
            exit_code,
            errors: errors.iter().map(|e| (*e).to_owned()).collect(),
            warnings: 0,
            log: PathBuf::from("test.log"),
            reason: "why".into(),
        }
    }

    #[test]
    fn tests_pass_only_when_some_ran_and_nothing_failed() {
        let ran = |failed, errors| TestCounts { tests: 3, failed, errors };
        assert!(report(ran(0, 0), 0, &[]).verdict().is_ok());
        let none = report(TestCounts::default(), 0, &[]).verdict();
        assert!(matches!(none, Err(Error::NoTests { .. })), "{none:?}");
        for r in
            [report(ran(1, 0), 1, &["FAIL"]), report(ran(0, 1), 1, &[]), report(ran(0, 0), 1, &[])]
        {
            let verdict = r.verdict();
            assert!(matches!(verdict, Err(Error::TestsFailed { .. })), "{verdict:?}");
            assert_eq!(verdict.unwrap_err().exit_code(), ExitCode::Failure);
        }
        assert!(report(ran(0, 0), 0, &["an error outside the tests"]).verdict().is_err());
    }
}
