//! The mail catcher of staging copies: an SMTP server ([`smtp`]) that accepts every message,
//! stores it in a Maildir ([`store`]) and relays nothing, so that a copy's mail can be looked
//! at (`oe mail ls`, `oe mail show`, a web page: [`web`]) instead of reaching real people. `oe mail serve` runs
//! it alone; `oe daemon` runs it beside its jobs when `mail.listen` is set.

pub mod smtp;
pub mod store;
pub mod web;

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

/// A running catcher: the addresses bound (port 0 gets one) and its tasks, which serve until
/// they are aborted.
pub struct Running {
    pub smtp: Vec<SocketAddr>,
    pub web: Option<SocketAddr>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds every address of `listen` and the web page's `web` (all or none), then serves them.
pub async fn start(
    settings: &MailSettings,
    listen: &[SocketAddr],
    web: Option<SocketAddr>,
) -> Result<Running, Error> {
    if listen.is_empty() {
        return Err(Error::NoListen);
    }
    let store = Arc::new(open_store(settings)?);
    let hostname = crate::repo::hostname();
    let config =
        Arc::new(smtp::Config { store: Arc::clone(&store), max_size: settings.max_size, hostname });
    let mut listeners = Vec::new();
    for &addr in listen {
        let listener = bind_freely(addr).map_err(|source| Error::Listen { addr, source })?;
        listeners.push(listener);
    }
    let mut running = Running { smtp: Vec::new(), web: None, tasks: Vec::new() };
    if let Some(addr) = web {
        let (bound, task) =
            web::start(addr, store).await.map_err(|source| Error::Listen { addr, source })?;
        running.web = Some(bound);
        running.tasks.push(task);
    }
    for listener in listeners {
        if let Ok(addr) = listener.local_addr() {
            running.smtp.push(addr);
        }
        running.tasks.push(tokio::spawn(smtp::serve(listener, Arc::clone(&config))));
    }
    Ok(running)
}

/// A listener on `addr`, which need not exist yet (`IP_FREEBIND`): the gateway of a staging
/// network is the host's only once Docker has made its bridge, which may be after `oe daemon`
/// starts at boot; connections arrive once it exists.
fn bind_freely(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    use std::os::fd::AsRawFd;
    let (socket, level, option) = match addr {
        SocketAddr::V4(_) => {
            (tokio::net::TcpSocket::new_v4()?, libc::IPPROTO_IP, libc::IP_FREEBIND)
        }
        SocketAddr::V6(_) => {
            (tokio::net::TcpSocket::new_v6()?, libc::IPPROTO_IPV6, libc::IPV6_FREEBIND)
        }
    };
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, and a pointer to an int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
