//! Waiting until a started container serves: PostgreSQL accepts a login, Odoo answers
//! `/web/health` (or `/web/webclient/version_info` on versions without it). While waiting,
//! a container that stopped ends the wait at once, with its last log lines.

use std::time::{Duration, Instant};

use super::engine::{self, Engine};
use crate::exit::{ExitCode, ExitStatus};

/// Log lines an error shows of a container that failed.
pub const LOG_LINES: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container {name} {how} while starting; its last lines:\n{logs}")]
    Exited { name: String, how: String, logs: String },
    #[error("container {name} did not {what} within {}s; its last lines:\n{logs}", timeout.as_secs())]
    Timeout { name: String, what: &'static str, timeout: Duration, logs: String },
    #[error(transparent)]
    Engine(#[from] engine::Error),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Engine(e) => e.exit_code(),
            _ => ExitCode::Failure,
        }
    }
}

/// What serving means for a container.
#[derive(Debug, Clone)]
pub enum Probe {
    /// PostgreSQL accepts this login.
    Postgres { host: String, port: u16, user: String, password: String },
    /// Odoo answers at this base URL (`http://host:port`).
    Odoo { url: String },
    /// Odoo answers on port 8069 of the container's address in `network` (a Linux host
    /// routes to it), whether or not a port is published.
    OdooIn { network: String },
    /// Running a moment after its start is all that can be asked.
    Running,
}

impl Probe {
    fn what(&self) -> &'static str {
        match self {
            Probe::Postgres { .. } => "accept connections",
            Probe::Odoo { .. } | Probe::OdooIn { .. } => "answer /web/health",
            Probe::Running => "stay running",
        }
    }

    async fn ready(&self) -> bool {
        match self {
            Probe::Postgres { host, port, user, password } => {
                let mut config = tokio_postgres::Config::new();
                config
                    .host(host)
                    .port(*port)
                    .user(user)
                    .password(password)
                    .dbname("postgres")
                    .connect_timeout(Duration::from_secs(2));
                config.connect(tokio_postgres::NoTls).await.is_ok()
            }
            Probe::Odoo { url } => {
                let url = url.clone();
                tokio::task::spawn_blocking(move || odoo_answers(&url)).await.unwrap_or(false)
            }
            Probe::OdooIn { .. } | Probe::Running => true,
        }
    }
}

/// Whether Odoo at `base` answers: `GET /web/health` is 200, or, where it is 404 (before
/// Odoo 16), the JSON-RPC `version_info` is.
pub fn odoo_answers(base: &str) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(3)))
        .http_status_as_error(false)
        .build()
        .into();
    match agent.get(format!("{base}/web/health")).call() {
        Ok(r) if r.status() == 200 => true,
        Ok(r) if r.status() == 404 => agent
            .post(format!("{base}/web/webclient/version_info"))
            .content_type("application/json")
            .send(r#"{"jsonrpc":"2.0","method":"call","params":{}}"#)
            .is_ok_and(|r| r.status() == 200),
        _ => false,
    }
}

/// Waits until `probe` passes for the container `name`, at most `timeout`.
pub async fn wait(
    engine: &Engine,
    name: &str,
    probe: &Probe,
    timeout: Duration,
) -> Result<(), Error> {
    let start = Instant::now();
    let settle = Duration::from_secs(2);
    loop {
        let container = engine.inspect(name).await?;
        let address = |network: &str| {
            let networks = container.as_ref()?.network_settings.as_ref()?.networks.as_ref()?;
            networks.get(network)?.ip_address.clone().filter(|a| !a.is_empty())
        };
        let in_network = match probe {
            Probe::OdooIn { network } => {
                address(network).map(|a| Probe::Odoo { url: format!("http://{a}:8069") })
            }
            _ => None,
        };
        // A container the restart policy brought back has failed already.
        let restarted = container.as_ref().and_then(|c| c.restart_count).unwrap_or(0) > 0;
        let state = container.and_then(|c| c.state);
        let running = state.as_ref().and_then(|s| s.running).unwrap_or(false);
        let restarting = state.as_ref().and_then(|s| s.restarting).unwrap_or(false);
        if !running || restarting || restarted {
            let how = match state.and_then(|s| s.exit_code) {
                Some(code) if !running || code != 0 => format!("exited with code {code}"),
                _ => "exited (its restart policy started it again)".to_owned(),
            };
            let logs = engine.tail(name, LOG_LINES).await.unwrap_or_default();
            return Err(Error::Exited { name: name.to_owned(), how, logs });
        }
        let ready = match (probe, in_network) {
            (Probe::Running, _) => start.elapsed() >= settle,
            (Probe::OdooIn { .. }, Some(probe)) => probe.ready().await,
            (Probe::OdooIn { .. }, None) => false,
            (probe, _) => probe.ready().await,
        };
        if ready {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            let logs = engine.tail(name, LOG_LINES).await.unwrap_or_default();
            return Err(Error::Timeout {
                name: name.to_owned(),
                what: probe.what(),
                timeout,
                logs,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
