//! The mail catcher of staging copies: an SMTP server ([`smtp`]) that accepts every message,
//! stores it in a Maildir ([`store`]) and relays nothing, so that a copy's mail can be looked
//! at (`oe mail ls`, `oe mail show`) instead of reaching real people. `oe mail serve` runs
//! it alone; `oe daemon` runs it beside its jobs when `mail.listen` is set.

pub mod smtp;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::settings::MailSettings;
use crate::exit::{ExitCode, ExitStatus};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("the mail catcher cannot listen on {addr}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("no address to listen on: set mail.listen or give --listen")]
    NoListen,
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Store(e) => e.exit_code(),
            Error::Listen { .. } => ExitCode::Failure,
            Error::NoListen => ExitCode::Usage,
        }
    }
}

/// The store of `settings`, opened (made when missing).
pub fn open_store(settings: &MailSettings) -> Result<store::Store, store::Error> {
    let retention =
        store::Retention { max_messages: settings.max_messages, max_age: settings.max_age };
    store::Store::open(&settings.dir, retention)
}

/// Binds every address of `listen` (all or none), then serves them until the returned tasks
/// are aborted; the addresses bound are returned with them (port 0 gets one).
pub async fn start(
    settings: &MailSettings,
    listen: &[SocketAddr],
) -> Result<(Vec<SocketAddr>, Vec<tokio::task::JoinHandle<()>>), Error> {
    if listen.is_empty() {
        return Err(Error::NoListen);
    }
    let store = Arc::new(open_store(settings)?);
    let hostname = hostname();
    let config = Arc::new(smtp::Config { store, max_size: settings.max_size, hostname });
    let mut listeners = Vec::new();
    for &addr in listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Listen { addr, source })?;
        listeners.push(listener);
    }
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    for listener in listeners {
        if let Ok(addr) = listener.local_addr() {
            bound.push(addr);
        }
        tasks.push(tokio::spawn(smtp::serve(listener, Arc::clone(&config))));
    }
    Ok((bound, tasks))
}

/// This host's name, for the greeting.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
