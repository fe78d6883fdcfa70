//! The client's side: a [`Storage`] whose objects are on a backup server, reached by running
//! the system's `ssh` (so `~/.ssh/config`, the agent and `known_hosts` apply) and speaking
//! [`protocol`] with `oe serve` over its standard input and output.
//!
//! One connection, one request at a time (a mutex): packs are large and few, and the round
//! trips of small reads are short next to the work they feed. A connection that failed stays
//! failed: every later call gets the same error.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::protocol::{self, CHUNK, Code, Request, Response};
use crate::config::{SshOptions, SshUrl};
use crate::exit::{ExitCode, ExitStatus};
use crate::repo::{self, LockGuard, LockMode, ObjectKind, Storage};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ssh is not installed: apt-get install openssh-client")]
    NoSsh,
    #[error("cannot run ssh")]
    Spawn(#[source] io::Error),
    #[error(
        "the host key of {host} is not known, or it changed: check its fingerprint with the \
         server's administrator, then add it: ssh-keyscan{port} {host} >> {known_hosts}"
    )]
    HostKey { host: String, port: String, known_hosts: String },
    #[error(
        "{url}: the server refused the key ({detail}): add the client's public key on the \
         server with `oe server add-key {client} 'KEY'`, and set mirror.ssh.identity_file"
    )]
    Denied { url: String, client: String, detail: String },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the connection to {url} was lost{detail}")]
    Lost { url: String, detail: String },
    #[error("{url}: {message}")]
    Refused { url: String, code: Code, message: String },
    #[error("{url} does not speak oe's protocol{detail}")]
    Protocol { url: String, detail: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::NoSsh => ExitCode::MissingTool,
            Error::Spawn(_) => ExitCode::Io,
            Error::HostKey { .. }
            | Error::Denied { .. }
            | Error::Unreachable { .. }
            | Error::Lost { .. } => ExitCode::Unreachable,
            Error::Refused { code: Code::NoSpace, .. } => ExitCode::Io,
            Error::Refused { code: Code::NotFound, .. } => ExitCode::Usage,
            Error::Refused { code: Code::Locked, .. } => ExitCode::Locked,
            Error::Refused { .. } => ExitCode::Refused,
            Error::Protocol { .. } => ExitCode::Failure,
        }
    }
}

impl Error {
    /// The error inside `error`, if it came from a backup server.
    pub fn of_io(error: &io::Error) -> Option<&Error> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }

    fn into_io(self) -> io::Error {
        let kind = match &self {
            Error::Refused { code: Code::NotFound, .. } => io::ErrorKind::NotFound,
            Error::Refused { code: Code::NoSpace, .. } => io::ErrorKind::StorageFull,
            Error::Refused { .. } => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// A client's repository on a backup server.
pub struct RemoteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    url: SshUrl,
    /// Where ssh looks for the server's host key, for messages.
    known_hosts: String,
    read_only: bool,
    connection: Mutex<Connection>,
    /// Sizes of the packs read ahead in, which never change: a window past the first of a
    /// pack costs one request, not two.
    sizes: Mutex<HashMap<String, u64>>,
}

/// Pack sizes remembered at most (about 100 bytes each).
const SIZES: usize = 1 << 16;

struct Connection {
    child: Child,
    to: Option<BufWriter<ChildStdin>>,
    from: BufReader<ChildStdout>,
    /// The last lines ssh (or the server's shell) wrote on its standard error.
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Why the connection no longer works, once it does not.
    failed: Option<String>,
    /// Requests made, and bytes of objects sent and received, for the log.
    requests: u64,
    sent: u64,
    received: u64,
}

/// Lines of ssh's standard error kept for messages.
const STDERR_LINES: usize = 20;

impl RemoteStorage {
    /// Logs in to the server and greets `oe serve`.
    pub fn connect(url: &SshUrl, options: &SshOptions) -> Result<RemoteStorage, Error> {
        let mut command = ssh_command(url, options);
        let mut child = command.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NoSsh,
            _ => Error::Spawn(e),
        })?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let lines = Arc::clone(&stderr);
        let from_ssh = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(from_ssh).lines().map_while(Result::ok) {
                tracing::debug!("ssh: {line}");
                let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
                if lines.len() == STDERR_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        });
        let (to, from) = (child.stdin.take().expect("piped"), child.stdout.take().expect("piped"));
        protocol::widen_pipe(&to);
        protocol::widen_pipe(&from);
        let connection = Connection {
            to: Some(BufWriter::with_capacity(protocol::BUFFER, to)),
            from: BufReader::with_capacity(protocol::BUFFER, from),
            child,
            stderr,
            failed: None,
            requests: 0,
            sent: 0,
            received: 0,
        };
        let known_hosts = match &options.known_hosts {
            Some(path) => path.display().to_string(),
            None => "~/.ssh/known_hosts".into(),
        };
        let mut inner = Inner {
            url: url.clone(),
            known_hosts,
            read_only: false,
            connection: Mutex::new(connection),
            sizes: Mutex::default(),
        };
        let hello = Request::Hello {
            version: protocol::VERSION,
            client: url.client.clone(),
            by: format!("{} pid {}", repo::hostname(), std::process::id()),
        };
        let welcome = {
            let mut c = inner.connection();
            c.exchange(&hello).map_err(|e| inner.first_error(&mut c, e))?
        };
        match welcome {
            Response::Welcome { version, read_only } if version == protocol::VERSION => {
                inner.read_only = read_only;
                tracing::debug!(
                    "connected to {url} ({})",
                    if read_only { "read-only" } else { "append-only" }
                );
                Ok(RemoteStorage { inner: Arc::new(inner) })
            }
            Response::Error { code, message } => {
                Err(Error::Refused { url: url.to_string(), code, message })
            }
            other => Err(Error::Protocol {
                url: url.to_string(),
                detail: format!(": it answered hello with {other:?}"),
            }),
        }
    }

    /// Whether the server lets this key only read.
    pub fn read_only(&self) -> bool {
        self.inner.read_only
    }
}

/// OpenSSH's default ciphers, AES-GCM first: with the AES instructions of today's CPUs it
/// costs a fraction of ChaCha20-Poly1305's time per byte, and a backup moves gigabytes on
/// machines whose cores are busy compressing them.
const CIPHERS: &str = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,\
    chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr";

/// `ssh … DEST oe serve --client CLIENT`: no terminal, no forwarding, no prompt.
fn ssh_command(url: &SshUrl, options: &SshOptions) -> Command {
    let mut command = Command::new("ssh");
    command.args(["-T", "-x", "-a", "-e", "none"]);
    let ciphers = format!("Ciphers={CIPHERS}");
    for option in [
        &ciphers,
        "BatchMode=yes",
        "StrictHostKeyChecking=yes",
        // Packs are compressed already: ssh's zlib would only spend CPU (a user's
        // `Compression yes` in ~/.ssh/config would otherwise apply).
        "Compression=no",
        "ClearAllForwardings=yes",
        "ServerAliveInterval=30",
        "ServerAliveCountMax=4",
    ] {
        command.arg("-o").arg(option);
    }
    if let Some(port) = url.port {
        command.arg("-p").arg(port.to_string());
    }
    if let Some(key) = &options.identity_file {
        command.arg("-i").arg(key).args(["-o", "IdentitiesOnly=yes"]);
    }
    if let Some(known) = &options.known_hosts {
        let mut option = std::ffi::OsString::from("UserKnownHostsFile=");
        option.push(known);
        command.arg("-o").arg(option);
    }
    command.arg("--").arg(url.destination());
    // What the server runs when the key has no forced command of its own.
    command.args(["oe", "serve", "--client", &url.client]);
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

impl Inner {
    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What went wrong when the very first exchange failed: ssh's own reasons, mostly.
    fn first_error(&self, c: &mut Connection, e: io::Error) -> Error {
        let text = c.stderr_after_exit();
        let url = self.url.to_string();
        if text.contains("Host key verification failed")
            || text.contains("HOST IDENTIFICATION HAS CHANGED")
        {
            let port = self.url.port.map(|p| format!(" -p {p}")).unwrap_or_default();
            return Error::HostKey {
                host: self.url.host.clone(),
                port,
                known_hosts: self.known_hosts.clone(),
            };
        }
        if text.contains("Permission denied") {
            return Error::Denied {
                url,
                client: self.url.client.clone(),
                detail: last_line(&text),
            };
        }
        let unreachable = [
            "Connection refused",
            "Could not resolve hostname",
            "timed out",
            "No route to host",
            "Network is unreachable",
            "Connection closed by",
            "kex_exchange_identification",
        ];
        if unreachable.iter().any(|m| text.contains(m)) {
            return Error::Unreachable { url, detail: last_line(&text) };
        }
        if e.kind() == io::ErrorKind::InvalidData {
            let detail = if text.is_empty() { String::new() } else { detail(&text, &e) };
            return Error::Protocol { url, detail };
        }
        Error::Lost { url, detail: detail(&text, &e) }
    }

    /// One request and its response, as a storage call's error.
    fn call(&self, request: &Request) -> io::Result<Response> {
        let mut c = self.connection();
        let response = c.exchange(request).map_err(|e| self.lost(&mut c, e))?;
        self.check(response)
    }

    fn lost(&self, c: &mut Connection, e: io::Error) -> io::Error {
        if c.failed.is_none() {
            let text = c.stderr_after_exit();
            c.failed = Some(detail(&text, &e));
        }
        let detail = c.failed.clone().unwrap_or_default();
        Error::Lost { url: self.url.to_string(), detail }.into_io()
    }

    /// A response, or the server's error as an I/O error.
    fn check(&self, response: Response) -> io::Result<Response> {
        match response {
            Response::Error { code, message } => {
                Err(Error::Refused { url: self.url.to_string(), code, message }.into_io())
            }
            response => Ok(response),
        }
    }

    /// The error for a response other than the one a request expects: the server's own
    /// error, or a protocol error.
    fn not_expected(&self, response: Response) -> io::Error {
        match self.check(response) {
            Ok(other) => self.unexpected(&other),
            Err(e) => e,
        }
    }

    fn unexpected(&self, response: &Response) -> io::Error {
        Error::Protocol { url: self.url.to_string(), detail: format!(": unexpected {response:?}") }
            .into_io()
    }

    /// The bytes of a `Get` (its `Size`, then its data).
    fn get(&self, kind: ObjectKind, name: &str, offset: u64, length: u64) -> io::Result<Vec<u8>> {
        let mut c = self.connection();
        let request = Request::Get { kind, name: name.into(), offset, length };
        let size = match c.exchange(&request).map_err(|e| self.lost(&mut c, e))? {
            Response::Size(size) => size,
            other => {
                return Err(self.not_expected(other));
            }
        };
        if length != u64::MAX && size != length {
            return Err(self.unexpected(&Response::Size(size)));
        }
        let mut data = Vec::with_capacity(size.min(64 << 20) as usize);
        while (data.len() as u64) < size {
            match c.receive().map_err(|e| self.lost(&mut c, e))? {
                Response::Data(chunk) if (data.len() + chunk.len()) as u64 <= size => {
                    data.extend_from_slice(&chunk)
                }
                other => {
                    c.failed = Some(format!(": the server sent {other:?} inside data"));
                    return Err(self.unexpected(&other));
                }
            }
        }
        Ok(data)
    }
}

impl Connection {
    fn send(&mut self, request: &Request) -> io::Result<()> {
        if let Some(why) = &self.failed {
            return Err(io::Error::other(why.clone()));
        }
        let to = self.to.as_mut().ok_or_else(|| io::Error::other("closed"))?;
        protocol::write_request(to, request)?;
        self.requests += 1;
        to.flush()
    }

    fn receive(&mut self) -> io::Result<Response> {
        let response = protocol::read_response(&mut self.from)?;
        if let Response::Data(data) = &response {
            self.received += data.len() as u64;
        }
        Ok(response)
    }

    fn exchange(&mut self, request: &Request) -> io::Result<Response> {
        self.send(request)?;
        self.receive()
    }

    /// ssh's standard error once it exited (waiting a little for it to say why).
    fn stderr_after_exit(&mut self) -> String {
        self.to = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The reader thread takes the last lines after the exit.
        std::thread::sleep(Duration::from_millis(50));
        let lines = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// `: ` and why a connection failed: ssh's last words, else the error.
fn detail(ssh_said: &str, e: &io::Error) -> String {
    match last_line(ssh_said) {
        line if line.is_empty() => format!(": {e}"),
        line => format!(": {line}"),
    }
}

fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_owned()
}

impl Drop for Connection {
    fn drop(&mut self) {
        tracing::info!(
            "backup server: {} requests, {} bytes received, {} bytes sent",
            self.requests,
            self.received,
            self.sent
        );
        // The end of its input ends `oe serve`, which drops its lock; ssh follows.
        self.to = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Storage for RemoteStorage {
    fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()> {
        let inner = &self.inner;
        let mut c = inner.connection();
        let request = Request::Put { kind, name: name.into(), size: data.len() as u64 };
        match c.exchange(&request).map_err(|e| inner.lost(&mut c, e))? {
            Response::Ok => {}
            Response::Exists => return Ok(()),
            other => {
                return Err(inner.not_expected(other));
            }
        }
        let sent = (|| {
            let to = c.to.as_mut().ok_or_else(|| io::Error::other("closed"))?;
            for chunk in data.chunks(CHUNK) {
                protocol::write_request_data(to, chunk)?;
            }
            to.flush()?;
            c.sent += data.len() as u64;
            c.receive()
        })();
        match sent.map_err(|e| inner.lost(&mut c, e))? {
            Response::Ok => Ok(()),
            other => Err(inner.not_expected(other)),
        }
    }

    fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>> {
        self.inner.get(kind, name, 0, u64::MAX)
    }

    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        self.inner.get(kind, name, offset, len)
    }

    fn get_range_within(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        let sizes = || self.inner.sizes.lock().unwrap_or_else(|p| p.into_inner());
        let known = if kind == ObjectKind::Pack { sizes().get(name).copied() } else { None };
        let size = match known {
            Some(size) => size,
            None => {
                let size = self.size(kind, name)?;
                if kind == ObjectKind::Pack {
                    let mut sizes = sizes();
                    if sizes.len() == SIZES {
                        sizes.clear();
                    }
                    sizes.insert(name.to_owned(), size);
                }
                size
            }
        };
        self.inner.get(kind, name, offset, len.min(size.saturating_sub(offset)))
    }

    fn list(&self, kind: ObjectKind) -> io::Result<Vec<String>> {
        let inner = &self.inner;
        let mut c = inner.connection();
        c.send(&Request::List { kind }).map_err(|e| inner.lost(&mut c, e))?;
        let mut names = Vec::new();
        loop {
            match c.receive().map_err(|e| inner.lost(&mut c, e))? {
                Response::Names { more, names: batch } => {
                    names.extend(batch);
                    if !more {
                        return Ok(names);
                    }
                }
                other => return Err(inner.not_expected(other)),
            }
        }
    }

    fn delete(&self, kind: ObjectKind, name: &str) -> io::Result<()> {
        match self.inner.call(&Request::Delete { kind, name: name.into() })? {
            Response::Ok => Ok(()),
            other => Err(self.inner.unexpected(&other)),
        }
    }

    fn size(&self, kind: ObjectKind, name: &str) -> io::Result<u64> {
        match self.inner.call(&Request::Size { kind, name: name.into() })? {
            Response::Size(size) => Ok(size),
            other => Err(self.inner.unexpected(&other)),
        }
    }

    fn lock(&self, mode: LockMode, _by: Option<&str>) -> Option<Result<LockGuard, repo::Error>> {
        let url = self.inner.url.to_string();
        let taken = match self.inner.call(&Request::Lock { mode }) {
            Ok(Response::Ok) => {
                let held = RemoteLock { inner: Arc::clone(&self.inner) };
                Ok(LockGuard::holding(Box::new(held)))
            }
            Ok(other) => Err(repo::Error::io("taking the lock")(self.inner.unexpected(&other))),
            Err(e) => match Error::of_io(&e) {
                Some(Error::Refused { code: Code::Locked, message, .. }) => {
                    Err(repo::Error::LockedRemote { holder: message.clone(), url })
                }
                _ => Err(repo::Error::io("taking the lock")(e)),
            },
        };
        Some(taken)
    }
}

/// The server's lock, held for this client until dropped.
struct RemoteLock {
    inner: Arc<Inner>,
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        if let Err(e) = self.inner.call(&Request::Unlock) {
            tracing::debug!("releasing the lock: {e}");
        }
    }
}
