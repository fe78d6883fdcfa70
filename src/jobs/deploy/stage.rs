//! `oe stage`: production made a safe staging copy in one command, on a staging or
//! development installation. Each step leaves the evidence the summary shows:
//!
//! 1. Refused on production. The installation is installed when it is not (as `oe install`
//!    does), its PostgreSQL is started, and the mail catcher's address found: the staging
//!    network's gateway (the host, as the containers reach it) and the port of a
//!    `mail.listen` address that covers it.
//! 2. The cutoff of the installation's bridge is put in place and recorded, as `oe cutoff
//!    apply` does, and checked: from here on no container of the installation reaches a mail
//!    port, whatever its database says.
//! 3. Odoo is stopped: the staging database has no session while it is replaced.
//! 4. The copy: an archive loaded as `oe load` does, or the live production database of the
//!    same server streamed as `oe db cp --live` does (its filestore hard-linked). Before it
//!    gets its name it is made a copy (new UUID and secret), neutralized, every mail server
//!    pointed at the catcher and its base URL set; the previous staging database and its
//!    filestore are set aside only once the copy has its name. When this fails, the previous
//!    one is started again.
//! 5. Odoo is started and must serve, while what the copy replaced is removed (no longer
//!    part of the copy), and the catcher is asked for its greeting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{Context, install, runtime};
use crate::config::{Environment, Service};
use crate::deploy::cutoff::{self, Registry, Scope, Wanted};
use crate::deploy::engine::Engine;
use crate::deploy::layout::Role;
use crate::exit::{ExitCode, ExitStatus};
use crate::jobs::db::{self, CopyRequest, CopySummary};
use crate::jobs::load::{self, ArchiveRequest, Choices};
use crate::jobs::load_db::{LoadSummary, Origin};
use crate::jobs::swap::Retired;
use crate::pg::odoo::{Redirect, Redirected};
use crate::pg::{ConnParams, Server, lock_database};

/// How long `oe stage` waits for another run on the staging database to finish.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How long the catcher gets to greet.
const GREETING_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "this is a production installation: oe stage makes staging copies on a staging or \
         development installation only"
    )]
    Production,
    #[error("no database to stage into: name it, or set one with 'oe config --database NAME'")]
    NoDatabase,
    #[error("the installation has no network {0}: is it installed ('oe install')?")]
    NoNetwork(String),
    #[error(
        "the mail catcher does not listen where the staging containers reach the host \
         ({gateway}): add '{gateway}:1025' (or '0.0.0.0:1025') to mail.listen"
    )]
    NoCatcher { gateway: Ipv4Addr },
    #[error("the cutoff of {0} is not in place after applying it (see 'oe cutoff status')")]
    CutoffMissing(String),
    #[error(transparent)]
    Deploy(Box<super::Error>),
    #[error(transparent)]
    Cutoff(#[from] cutoff::Error),
    #[error(transparent)]
    Load(Box<crate::jobs::load_db::Error>),
    #[error(transparent)]
    Copy(Box<db::Error>),
    #[error(transparent)]
    Pg(#[from] crate::pg::Error),
    #[error(
        "{error}; the previous staging database is kept, but starting it again failed: {start}"
    )]
    NotRestarted { error: Box<Error>, start: String },
}

impl From<super::Error> for Error {
    fn from(e: super::Error) -> Self {
        Error::Deploy(Box::new(e))
    }
}

impl From<crate::deploy::engine::Error> for Error {
    fn from(e: crate::deploy::engine::Error) -> Self {
        Error::Deploy(Box::new(e.into()))
    }
}

impl From<crate::jobs::load_db::Error> for Error {
    fn from(e: crate::jobs::load_db::Error) -> Self {
        Error::Load(Box::new(e))
    }
}

impl From<db::Error> for Error {
    fn from(e: db::Error) -> Self {
        Error::Copy(Box::new(e))
    }
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Production | Error::NoDatabase | Error::NoNetwork(_) => ExitCode::Usage,
            Error::NoCatcher { .. } => ExitCode::Usage,
            Error::CutoffMissing(_) => ExitCode::Failure,
            Error::Deploy(e) => e.exit_code(),
            Error::Cutoff(e) => e.exit_code(),
            Error::Load(e) => e.exit_code(),
            Error::Copy(e) => e.exit_code(),
            Error::Pg(e) => e.exit_code(),
            Error::NotRestarted { error, .. } => error.exit_code(),
        }
    }
}

/// Where the copy comes from.
pub enum Source {
    /// A backup (or dump): a file, or a backup in a repository read in place.
    Archive(Origin),
    /// A database of the installation's own server, in use or not.
    Database(String),
}

/// What the user asked.
pub struct Request {
    pub source: Source,
    /// The staging database [default: the configured one].
    pub target: Option<String>,
    /// The copy's `web.base.url` [default: `http://<this host>[:port]`].
    pub base_url: Option<String>,
    /// The catcher's addresses (`mail.listen`).
    pub listen: Vec<SocketAddr>,
    /// Where the recorded cutoffs are (`oe daemon` keeps them in place).
    pub registry: PathBuf,
    /// Seconds each container may take to serve.
    pub timeout: Duration,
    pub threads: usize,
    pub progress: ProgressBar,
}

/// How the copy was made.
#[derive(Debug, Serialize)]
#[serde(tag = "from", rename_all = "lowercase")]
pub enum Copied {
    Archive(LoadSummary),
    Database(CopySummary),
}

impl Copied {
    /// What the copy replaced, for [`Retired::remove`].
    fn take_retired(&mut self) -> Retired {
        std::mem::take(match self {
            Copied::Archive(s) => &mut s.retired,
            Copied::Database(s) => &mut s.retired,
        })
    }

    /// Rows the neutralization changed.
    pub fn neutralized_rows(&self) -> Option<u64> {
        match self {
            Copied::Archive(s) => s.neutralized_rows,
            Copied::Database(s) => s.neutralized_rows,
        }
    }

    /// Where the copy's mail and links were pointed.
    pub fn redirected(&self) -> Option<&Redirected> {
        match self {
            Copied::Archive(s) => s.redirected.as_ref(),
            Copied::Database(s) => s.redirected.as_ref(),
        }
    }
}

/// The cutoff put in place, as checked afterwards.
#[derive(Debug, Serialize)]
pub struct CutOff {
    pub scope: Scope,
    pub backend: cutoff::Backend,
    pub ports: Vec<u16>,
    /// Rules added now (0: they were in place).
    pub added: usize,
    /// Rules listed in the firewall afterwards.
    pub rules: usize,
    pub notes: Vec<String>,
}

/// What `oe stage` did, with the evidence of each safety measure.
#[derive(Debug, Serialize)]
pub struct Staged {
    pub database: String,
    /// The installation, when `oe stage` installed it.
    pub installed: Option<PathBuf>,
    pub copied: Copied,
    pub cutoff: CutOff,
    /// Whether the catcher greeted at the address the copy's mail goes to.
    pub catcher_answers: bool,
    /// Where Odoo answers from the host.
    pub url: Option<String>,
    pub seconds: f64,
}

/// Makes the staging copy; see the module's docs.
pub async fn stage(ctx: &Context, engine: &Engine, request: Request) -> Result<Staged, Error> {
    let started = Instant::now();
    if ctx.layout.environment == Environment::Production {
        return Err(Error::Production);
    }
    let target =
        request.target.clone().or_else(|| ctx.database.clone()).ok_or(Error::NoDatabase)?;
    crate::config::settings::validate_database_name(&target).map_err(super::Error::from)?;
    // A host that has nothing yet is installed first, as `oe install` does.
    let installed = match ctx.layout.lock_file().exists() {
        true => None,
        false => Some(install::install(ctx, engine, &mut |_, _| {}, None).await?.root),
    };
    runtime::start(ctx, engine, true, request.timeout).await?;
    let network = ctx.layout.network();
    let gateway = engine.network_gateway(&network).await?.ok_or(Error::NoNetwork(network))?;
    let catcher = catcher_address(&request.listen, gateway).ok_or(Error::NoCatcher { gateway })?;
    let base_url = match &request.base_url {
        Some(url) => url.clone(),
        None => default_url(runtime::plan(ctx)?.port(ctx)),
    };
    let cutoff = cut_off(Scope::bridge(&ctx.layout.bridge())?, &request.registry).await?;

    let postgres = install::postgres_settings(ctx)?;
    let conn = ConnParams::from_env(&postgres);
    let _lock = lock_database(&conn, &target, LOCK_WAIT, "oe stage").await?;
    let odoo = ctx.layout.container(Role::Odoo);
    let was_running = engine
        .inspect(&odoo)
        .await?
        .is_some_and(|c| c.state.and_then(|s| s.running).unwrap_or(false));
    if was_running {
        engine.stop(&odoo, runtime::STOP_GRACE).await?;
    }
    let redirect =
        Redirect { smtp_host: catcher.ip().to_string(), smtp_port: catcher.port(), base_url };
    let service = Service {
        name: crate::config::settings::DEFAULT_SERVICE.to_owned(),
        postgres,
        data_dir: ctx.layout.data_dir(),
        addons_path: None,
    };
    let server = Server::connect(&conn).await.map_err(db::Error::from)?;
    let mut copied = match copy(&request, ctx.layout.environment, service, conn, &target, redirect)
        .await
    {
        Ok(copied) => copied,
        Err(error) if was_running => {
            // Odoo back on the previous database: not to be cut short by the signal that
            // may have stopped the copy.
            let signal = crate::stop::take();
            let started = runtime::start(ctx, engine, false, request.timeout).await;
            if let Some(signal) = signal {
                crate::stop::set(signal);
            }
            return Err(match started {
                Ok(_) => error,
                Err(e) => {
                    Error::NotRestarted { error: Box::new(error), start: crate::exit::message(&e) }
                }
            });
        }
        Err(error) => return Err(error),
    };
    let (started_odoo, ()) = tokio::join!(
        runtime::start(ctx, engine, false, request.timeout),
        copied.take_retired().remove(&server)
    );
    let url = started_odoo?.url;
    let catcher_answers = greets(SocketAddr::V4(catcher)).await;
    Ok(Staged {
        database: target,
        installed,
        copied,
        cutoff,
        catcher_answers,
        url,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Step 4: the copy into `target`, finished before it gets its name.
async fn copy(
    request: &Request,
    environment: Environment,
    service: Service,
    conn: ConnParams,
    target: &str,
    redirect: Redirect,
) -> Result<Copied, Error> {
    match &request.source {
        Source::Archive(origin) => {
            let summary = load::load(ArchiveRequest {
                service,
                environment,
                input: origin.clone(),
                database: target.to_owned(),
                choices: Choices {
                    force: true,
                    copy: true,
                    neutralize: true,
                    no_neutralize: false,
                },
                redirect: Some(redirect),
                keep_replaced: true,
                threads: request.threads,
                progress: request.progress.clone(),
            })
            .await?;
            Ok(Copied::Archive(summary))
        }
        Source::Database(source) => {
            let _lock = lock_database(&conn, source, LOCK_WAIT, "oe stage").await?;
            let summary = db::copy(CopyRequest {
                conn,
                data_dir: service.data_dir,
                source: source.clone(),
                target: target.to_owned(),
                neutralize: true,
                addons_path: None,
                duplicate: true,
                live: true,
                replace: true,
                redirect: Some(redirect),
                keep_replaced: true,
            })
            .await?;
            Ok(Copied::Database(summary))
        }
    }
}

/// Step 2: the cutoff of `scope`, with the ports recorded for it before (else the default
/// ones), applied, recorded and checked.
async fn cut_off(scope: Scope, registry_path: &std::path::Path) -> Result<CutOff, Error> {
    let mut registry = Registry::read(registry_path)?;
    let recorded = registry.cutoffs.iter().find(|w| w.scope == scope).map(|w| w.ports.clone());
    let ports = cutoff::ports(&recorded.unwrap_or_default())?;
    // The firewall's programs, waited for: off the async threads.
    let (change, status) = tokio::task::block_in_place(|| -> Result<_, cutoff::Error> {
        let change = cutoff::apply(&scope, &ports)?;
        Ok((change, cutoff::status(&scope, &ports)?))
    })?;
    registry.insert(Wanted { scope: scope.clone(), ports: ports.clone() });
    registry.write(registry_path)?;
    if !status.in_place {
        return Err(Error::CutoffMissing(scope.to_string()));
    }
    Ok(CutOff {
        scope,
        backend: status.backend,
        ports,
        added: change.added,
        rules: status.rules.len(),
        notes: change.notes,
    })
}

/// Where the staging containers reach the catcher: the gateway, at the port of the first
/// `listen` address that is the gateway's or every address's.
fn catcher_address(listen: &[SocketAddr], gateway: Ipv4Addr) -> Option<SocketAddrV4> {
    listen
        .iter()
        .find(|a| a.ip().is_unspecified() || a.ip() == IpAddr::V4(gateway))
        .map(|a| SocketAddrV4::new(gateway, a.port()))
}

/// The default base URL: this host by name, at the port users reach Odoo on.
fn default_url(port: u16) -> String {
    let host = crate::repo::hostname();
    match port {
        80 => format!("http://{host}"),
        port => format!("http://{host}:{port}"),
    }
}

/// Whether an SMTP server at `addr` greets (`220`) within [`GREETING_WAIT`].
async fn greets(addr: SocketAddr) -> bool {
    let greeting = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let mut line = String::new();
        BufReader::new(&mut stream).read_line(&mut line).await.ok()?;
        let _ = stream.write_all(b"QUIT\r\n").await;
        Some(line.starts_with("220"))
    };
    tokio::time::timeout(GREETING_WAIT, greeting).await.ok().flatten().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catcher_is_reached_at_the_gateway_on_a_port_that_covers_it() {
        let gateway = Ipv4Addr::new(172, 18, 0, 1);
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let at = |port| Some(SocketAddrV4::new(gateway, port));
        assert_eq!(catcher_address(&[addr("127.0.0.1:1025")], gateway), None);
        assert_eq!(
            catcher_address(&[addr("127.0.0.1:1025"), addr("0.0.0.0:2025")], gateway),
            at(2025)
        );
        assert_eq!(catcher_address(&[addr("172.18.0.1:1026")], gateway), at(1026));
        assert_eq!(catcher_address(&[addr("[::]:1027")], gateway), at(1027));
        assert_eq!(catcher_address(&[addr("172.19.0.1:1025")], gateway), None);
        assert_eq!(catcher_address(&[], gateway), None);
    }
}
