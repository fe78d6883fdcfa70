//! A one-off Odoo run in a container (`odoo -u …`, `odoo -i … --test-enable`), for `oe update`,
//! `oe test` and `oe test-db`.
//!
//! The container is the installation's odoo container (network, mounts of sources, data,
//! config and log, environment, user) with another name (`oe-<client>-<purpose>`), no
//! published ports, no network alias (nginx and the probes keep reaching the real one), no
//! restart policy, no health check, and the command `odoo --logfile= ARGS`: the empty
//! `--logfile=` overrides `odoo.conf`'s log file (Odoo 18's `tools/config.py` takes any value
//! given on the command line, and `netsvc` logs to stdout when it is empty), so its whole log
//! comes through the engine. Its labels give the client and, as its role, the purpose: `oe ps`
//! lists it; `oe start`/`oe stop`, which go by the roles' names, leave it alone.
//!
//! [`run`] removes a leftover of the same name, creates and starts the container, streams its
//! output into the log file and through [`Parser`] to the caller, waits for its exit and
//! removes it, on every path: also after an engine error and on SIGINT/SIGTERM, which stop it
//! first (the driver turns them into [`stop::raised`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, NetworkingConfig, RestartPolicy,
    RestartPolicyNameEnum,
};
use futures_util::StreamExt;

use super::{Context, runtime};
use crate::deploy::engine::{self, Engine};
use crate::deploy::layout::{LABEL_CLIENT, LABEL_ENVIRONMENT, LABEL_ROLE, Layout, Role};
use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::log::{Level, Parser, Record, TestCounts};
use crate::stop;

/// How long an interrupted run's Odoo gets to stop after SIGTERM.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);

/// What to run.
pub struct OdooRun<'a> {
    /// What the run is for (`update`, `test`, `test-db`): its container's name and role.
    pub purpose: &'static str,
    /// The odoo image, by digest.
    pub image: &'a str,
    /// Odoo's arguments, after `--logfile=`.
    pub args: Vec<String>,
    /// Where the run's whole output goes (0600, replaced).
    pub log_file: &'a Path,
}

/// How the run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub exit_code: i64,
    /// The ERROR and CRITICAL records.
    pub errors: Vec<Record>,
    /// How many WARNING records.
    pub warnings: usize,
    /// The test runner's summary (all zero when it printed none).
    pub tests: TestCounts,
}

impl Outcome {
    /// Odoo exited non-zero or logged an error.
    pub fn failed(&self) -> bool {
        self.exit_code != 0 || !self.errors.is_empty()
    }

    /// Why it failed, in one line: the exit code and the first error's first line.
    pub fn reason(&self) -> String {
        let mut reason = format!("odoo exited with {}", self.exit_code);
        if let Some(first) = self.errors.first() {
            let more = match self.errors.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            reason.push_str(&format!(
                "; first error{more}: {}: {}",
                first.logger,
                first.first_line()
            ));
        }
        reason
    }

    fn observe(&mut self, record: &Record) {
        match record.level {
            Level::Error | Level::Critical => self.errors.push(record.clone()),
            Level::Warning => self.warnings += 1,
            Level::Debug | Level::Info => {}
        }
        self.tests.observe(record);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] engine::Error),
    /// The installation is not installed, its lock file or manifest cannot be read.
    #[error(transparent)]
    Installation(Box<super::Error>),
    #[error("cannot write the log {}", path.display())]
    Log { path: PathBuf, source: std::io::Error },
    #[error("interrupted by {signal}; the one-off odoo container was stopped and removed")]
    Interrupted { signal: &'static str },
}

impl From<super::Error> for Error {
    fn from(error: super::Error) -> Error {
        Error::Installation(Box::new(error))
    }
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Engine(e) => e.exit_code(),
            Error::Installation(e) => e.exit_code(),
            Error::Log { source, .. } => source.exit_code(),
            Error::Interrupted { signal } if *signal == "SIGINT" => ExitCode::Interrupted,
            Error::Interrupted { .. } => ExitCode::Terminated,
        }
    }
}

/// `oe-<client>-<purpose>`.
pub fn container_name(layout: &Layout, purpose: &str) -> String {
    format!("oe-{}-{purpose}", layout.client)
}

/// Removes the container a run of `purpose` left (a crash of `oe`); none is fine.
pub async fn remove(engine: &Engine, layout: &Layout, purpose: &str) -> Result<(), Error> {
    Ok(engine.remove(&container_name(layout, purpose)).await?)
}

/// Runs Odoo once; see the module's docs. `on_record` sees each record as it completes.
pub async fn run(
    engine: &Engine,
    ctx: &Context,
    run: OdooRun<'_>,
    mut on_record: impl FnMut(&Record),
) -> Result<Outcome, Error> {
    let plan = runtime::plan(ctx)?;
    let layout = &ctx.layout;
    let body = one_off(plan.inputs(ctx).container(Role::Odoo), layout, &run);
    let name = container_name(layout, run.purpose);
    let mut log = create_log(run.log_file)?;
    let labels = HashMap::from([(LABEL_CLIENT.to_owned(), layout.client.clone())]);
    engine.ensure_network(&layout.network(), &layout.bridge(), labels).await?;
    engine.remove(&name).await?;
    engine.create(&name, body).await?;
    tracing::debug!("running odoo in {name}: {}", run.args.join(" "));
    let work = follow(engine, &name, &mut log, run.log_file, &mut on_record);
    let result = tokio::select! {
        result = work => result,
        signal = stop::raised() => {
            let signal = stop::signal_name(signal);
            if let Err(e) = engine.stop(&name, INTERRUPT_GRACE).await {
                tracing::warn!("stopping {name}: {}", crate::exit::message(&e));
            }
            Err(Error::Interrupted { signal })
        }
    };
    let removed = engine.remove(&name).await;
    let outcome = result?;
    removed?;
    Ok(outcome)
}

/// The odoo container of the installation, turned into a one-off run's.
fn one_off(mut body: ContainerCreateBody, layout: &Layout, run: &OdooRun) -> ContainerCreateBody {
    body.image = Some(run.image.to_owned());
    let mut cmd = vec!["/usr/bin/odoo".to_owned(), "--logfile=".to_owned()];
    cmd.extend(run.args.iter().cloned());
    body.cmd = Some(cmd);
    body.healthcheck =
        Some(HealthConfig { test: Some(vec!["NONE".to_owned()]), ..Default::default() });
    body.exposed_ports = None;
    body.labels = Some(HashMap::from([
        (LABEL_CLIENT.to_owned(), layout.client.clone()),
        (LABEL_ROLE.to_owned(), run.purpose.to_owned()),
        (LABEL_ENVIRONMENT.to_owned(), layout.environment.to_string()),
    ]));
    if let Some(host) = body.host_config.as_mut() {
        host.port_bindings = None;
        host.restart_policy = Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        });
    }
    body.networking_config = Some(NetworkingConfig {
        endpoints_config: Some(HashMap::from([(layout.network(), EndpointSettings::default())])),
    });
    body
}

/// The log file, created (0600, with its directory) or emptied.
fn create_log(path: &Path) -> Result<File, Error> {
    let error = |source| Error::Log { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(error)?;
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(error)?;
    Ok(file)
}

/// Starts the container and follows its output to its end; its exit code. The log is
/// written as chunks come (a few kilobytes at a time, to a local file).
async fn follow(
    engine: &Engine,
    name: &str,
    log: &mut File,
    log_path: &Path,
    on_record: &mut impl FnMut(&Record),
) -> Result<Outcome, Error> {
    let write_error = |source| Error::Log { path: log_path.to_owned(), source };
    engine.start(name).await?;
    let mut outcome = Outcome::default();
    let mut parser = Parser::new();
    let mut stream = std::pin::pin!(engine.logs(name, true, None));
    let mut take = |records: Vec<Record>, outcome: &mut Outcome| {
        for record in records {
            outcome.observe(&record);
            on_record(&record);
        }
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        log.write_all(&chunk).map_err(write_error)?;
        take(parser.feed(&chunk), &mut outcome);
    }
    take(parser.finish(), &mut outcome);
    log.flush().map_err(write_error)?;
    outcome.exit_code = engine.wait(name).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Environment;

    fn record(level: Level, text: &str) -> Record {
        Record { time: String::new(), level, db: None, logger: "odoo.x".into(), text: text.into() }
    }

    #[test]
    fn an_outcome_fails_on_an_exit_code_or_an_error_and_says_the_first() {
        let mut o = Outcome::default();
        o.observe(&record(Level::Warning, "meh"));
        o.observe(&record(Level::Info, "0 failed, 0 error(s) of 2 tests"));
        assert!(!o.failed());
        assert_eq!((o.warnings, o.tests.tests), (1, 2));
        o.exit_code = 1;
        assert!(o.failed());
        assert_eq!(o.reason(), "odoo exited with 1");
        o.exit_code = 0;
        o.observe(&record(Level::Error, "FAIL: T.test_a\nTraceback"));
        o.observe(&record(Level::Critical, "down"));
        assert!(o.failed());
        assert_eq!(
            o.reason(),
            "odoo exited with 0; first error (and 1 more): odoo.x: FAIL: T.test_a"
        );
    }

    #[test]
    fn a_one_off_publishes_nothing_and_is_not_the_odoo_container() {
        let layout = Layout::new(PathBuf::from("/srv/oe/acme"), "acme", Environment::Development);
        let images = Role::ALL.into_iter().map(|r| (r, format!("img/{r}"))).collect();
        let inputs = crate::deploy::spec::Inputs {
            layout: &layout,
            images: &images,
            nginx: false,
            http_port: 8080,
            odoo_port: 8069,
            db_port: 15432,
            db_user: "odoo",
            db_password: "secret",
        };
        let odoo = inputs.container(Role::Odoo);
        let run = OdooRun {
            purpose: "test",
            image: "img/other",
            args: vec!["-d".into(), "x".into()],
            log_file: Path::new("/tmp/x.log"),
        };
        let body = one_off(odoo.clone(), &layout, &run);
        assert_eq!(container_name(&layout, "test"), "oe-acme-test");
        assert_eq!(body.image.as_deref(), Some("img/other"));
        assert_eq!(body.cmd.unwrap(), ["/usr/bin/odoo", "--logfile=", "-d", "x"]);
        let labels = body.labels.unwrap();
        assert_eq!(labels[LABEL_ROLE], "test");
        assert_eq!(labels[LABEL_CLIENT], "acme");
        assert!(!labels.contains_key(crate::deploy::layout::LABEL_SPEC));
        let host = body.host_config.unwrap();
        assert_eq!(host.port_bindings, None);
        assert_eq!(host.binds, odoo.host_config.unwrap().binds, "the same mounts");
        assert_eq!(body.env, odoo.env);
        let endpoint = &body.networking_config.unwrap().endpoints_config.unwrap()["oe-acme"];
        assert_eq!(endpoint.aliases, None, "no 'odoo' alias");
        assert_eq!(body.healthcheck.unwrap().test.unwrap(), ["NONE"]);
    }
}
