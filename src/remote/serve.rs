//! `oe serve`: the server's side of a session, run by sshd as the forced command of a client's
//! key (`oe server add-key`), speaking [`protocol`] on its standard input and output.
//!
//! It is the only writer of the client's repository, and it allows only this: listing and
//! reading the repository's objects; creating new ones (written to `tmp/`, checked against
//! their name, the BLAKE3 of their bytes, fsynced, then linked into place, which never
//! replaces an existing object); taking and dropping the repository's lock, which it holds
//! for the session (named after the client) and which dies with it. The one object not named
//! by its hash, the config, is written once: by the client's `oe mirror init`, into the empty
//! repository `oe server add-key --encrypted` made (so that the server never holds the
//! key). Nothing is ever deleted or overwritten; a read-only key only reads. Every refused
//! request is logged to syslog and to the client's `serve.log` on the server, with what was
//! tried.
//!
//! Bounded: a frame's length is checked before it is read (at most [`protocol::MAX_FRAME`]),
//! an object arrives in chunks written as they come, and a client silent for
//! [`Options::idle_timeout`] is dropped.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::protocol::{self, CHUNK, Code, NAMES_BYTES, Request, Response};
use crate::exit::{ExitCode, ExitStatus};
use crate::repo::{self, LocalStorage, LockGuard, LockMode, ObjectKind, Storage};
use crate::server::layout::{self, Client, Root};

/// The most bytes a client's config may have (it is some 150).
const MAX_CONFIG: u64 = 64 << 10;

/// What sshd's forced command says about the session.
#[derive(Debug, Clone)]
pub struct Options {
    pub root: PathBuf,
    pub client: String,
    pub read_only: bool,
    /// How long the client may stay silent, between requests or inside one.
    pub idle_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Layout(#[from] layout::Error),
    #[error("the session with the client failed")]
    Session(#[source] io::Error),
    #[error("the client sent a malformed request; the session is closed")]
    Malformed(#[source] io::Error),
    #[error("the client stayed silent for {0:?}; the session is closed")]
    Idle(Duration),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Layout(e) => e.exit_code(),
            Error::Session(_) | Error::Idle(_) => ExitCode::Io,
            Error::Malformed(_) => ExitCode::BadInput,
        }
    }
}

/// Serves one session on standard input and output.
pub fn run_stdio(options: &Options) -> Result<(), Error> {
    protocol::widen_pipe(io::stdin());
    protocol::widen_pipe(io::stdout());
    let input = Timed { fd: io::stdin(), timeout: options.idle_timeout };
    serve(options, BufReader::with_capacity(protocol::BUFFER, input), BufWriter::new(io::stdout()))
}

/// Serves one session: requests from `input`, responses to `output`.
pub fn serve(options: &Options, mut input: impl Read, mut output: impl Write) -> Result<(), Error> {
    let root = Root::open(&options.root)?;
    let client = root.client(&options.client)?;
    let log = Log::open(&client);
    let mut session = Session::new(options, client, log)?;
    let result = session.run(&mut input, &mut output);
    match &result {
        Ok(()) => session.log.info("session ended"),
        Err(e) => session.log.info(&format!("session failed: {}", crate::exit::message(e))),
    }
    result
}

struct Session {
    client: Client,
    read_only: bool,
    storage: Arc<LocalStorage>,
    log: Log,
    lock: Option<(LockMode, LockGuard)>,
    /// Bytes the repository holds, for the quota.
    used: u64,
    quota: Option<u64>,
    /// The client's host and pid, as it said.
    by: String,
    idle_timeout: Duration,
}

/// What a request gets: a response, or an error code and message.
type Reply = Result<Response, (Code, String)>;

impl Session {
    fn new(options: &Options, client: Client, log: Log) -> Result<Session, Error> {
        let quota = client.settings()?.quota;
        Ok(Session {
            storage: Arc::new(LocalStorage::new(&client.repo())),
            client,
            read_only: options.read_only,
            log,
            lock: None,
            used: 0,
            quota,
            by: String::new(),
            idle_timeout: options.idle_timeout,
        })
    }

    fn run(&mut self, input: &mut impl Read, output: &mut impl Write) -> Result<(), Error> {
        let hello = self.next(input)?;
        let welcome = self.hello(hello);
        let welcomed = welcome.is_ok();
        self.send(output, welcome)?;
        if !welcomed {
            return Ok(());
        }
        while let Some(request) = self.read(input)? {
            // `None`: the handler sent its response itself (a stream of frames).
            let reply = match request {
                Request::Hello { .. } => Some(self.refuse(Code::Invalid, "a second hello")),
                Request::List { kind } => self.list(kind, output)?,
                Request::Size { kind, name } => Some(self.size(kind, &name)),
                Request::Get { kind, name, offset, length } => {
                    self.get(kind, &name, offset, length, output)?
                }
                Request::Put { kind, name, size } => self.put(kind, &name, size, input, output)?,
                Request::Data(_) => Some(self.refuse(Code::Invalid, "data outside of a put")),
                Request::Delete { kind, name } => Some(self.refuse(
                    Code::Refused,
                    &format!("delete of {} {name}: the repository is append-only", kind_name(kind)),
                )),
                Request::Lock { mode } => Some(self.take_lock(mode)),
                Request::Unlock => {
                    self.lock = None;
                    Some(Ok(Response::Ok))
                }
            };
            let Some(reply) = reply else { continue };
            let invalid = matches!(reply, Err((Code::Invalid, _)));
            self.send(output, reply)?;
            if invalid {
                return Err(Error::Malformed(io::Error::other("an unexpected request")));
            }
        }
        Ok(())
    }

    fn read(&self, input: &mut impl Read) -> Result<Option<Request>, Error> {
        protocol::read_request(input).map_err(|e| self.read_error(e))
    }

    fn next(&self, input: &mut impl Read) -> Result<Request, Error> {
        self.read(input)?.ok_or_else(|| Error::Session(io::ErrorKind::UnexpectedEof.into()))
    }

    fn read_error(&self, e: io::Error) -> Error {
        let error = match e.kind() {
            io::ErrorKind::TimedOut => Error::Idle(self.idle_timeout),
            io::ErrorKind::InvalidData => Error::Malformed(e),
            _ => Error::Session(e),
        };
        if !matches!(error, Error::Session(_)) {
            self.log.refused(&crate::exit::message(&error));
        }
        error
    }

    fn send(&self, output: &mut impl Write, reply: Reply) -> Result<(), Error> {
        let response = reply.unwrap_or_else(|(code, message)| Response::Error { code, message });
        protocol::write_response(output, &response)
            .and_then(|()| output.flush())
            .map_err(Error::Session)
    }

    /// Logs a refused request and says why to the client.
    fn refuse(&self, code: Code, what: &str) -> Reply {
        self.log.refused(what);
        Err((code, what.to_owned()))
    }

    fn hello(&mut self, request: Request) -> Reply {
        let Request::Hello { version, client, by } = request else {
            return self.refuse(Code::Invalid, "a request before hello");
        };
        self.by = by.chars().filter(|c| !c.is_control()).take(200).collect();
        let remote = std::env::var("SSH_CONNECTION").unwrap_or_default();
        let ip = remote.split(' ').next().filter(|ip| !ip.is_empty()).unwrap_or("a local pipe");
        self.log.info(&format!(
            "session of {} from {ip} ({} key)",
            self.by,
            if self.read_only { "read-only" } else { "append-only" }
        ));
        if version != protocol::VERSION {
            return self.refuse(
                Code::Invalid,
                &format!(
                    "protocol version {version}: this server speaks {}; use the same oe \
                     version on both sides",
                    protocol::VERSION
                ),
            );
        }
        if client != self.client.ident() {
            return self.refuse(
                Code::Refused,
                &format!("access to client {client:?}: this key is {}'s", self.client.ident()),
            );
        }
        if !self.client.repo().is_dir() {
            return Err((
                Code::NotFound,
                format!(
                    "no repository for client {client} on this server: run `oe server add-key` \
                     there"
                ),
            ));
        }
        match directory_size(&self.client.repo()) {
            Ok(used) => self.used = used,
            Err(e) => return Err((Code::Failed, format!("reading the repository: {e}"))),
        }
        Ok(Response::Welcome { version: protocol::VERSION, read_only: self.read_only })
    }

    fn list(&self, kind: ObjectKind, output: &mut impl Write) -> Result<Option<Reply>, Error> {
        if kind == ObjectKind::Lock {
            return Ok(Some(self.refuse(Code::Refused, "listing locks")));
        }
        let names = match self.storage.list(kind) {
            Ok(names) => names,
            Err(e) => return Ok(Some(Err(io_reply(&e)))),
        };
        let mut batch = Vec::new();
        let mut bytes = 0;
        for name in names {
            if bytes + name.len() + 2 > NAMES_BYTES {
                let names = std::mem::take(&mut batch);
                self.send(output, Ok(Response::Names { more: true, names }))?;
                bytes = 0;
            }
            bytes += name.len() + 2;
            batch.push(name);
        }
        self.send(output, Ok(Response::Names { more: false, names: batch }))?;
        Ok(None)
    }

    fn size(&self, kind: ObjectKind, name: &str) -> Reply {
        let path = self.readable(kind, name)?;
        match fs::metadata(&path) {
            Ok(meta) => Ok(Response::Size(meta.len())),
            Err(e) => Err(io_reply(&e)),
        }
    }

    fn get(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        length: u64,
        output: &mut impl Write,
    ) -> Result<Option<Reply>, Error> {
        let path = match self.readable(kind, name) {
            Ok(path) => path,
            Err(refused) => return Ok(Some(Err(refused))),
        };
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) => return Ok(Some(Err(io_reply(&e)))),
        };
        let size = file.metadata().map_err(Error::Session)?.len();
        let length = if length == u64::MAX { size.saturating_sub(offset) } else { length };
        if offset.checked_add(length).is_none_or(|end| end > size) {
            let what =
                format!("{} {name} has {size} bytes, not {offset}+{length}", kind_name(kind));
            return Ok(Some(Err((Code::NotFound, what))));
        }
        self.send(output, Ok(Response::Size(length)))?;
        file.seek(io::SeekFrom::Start(offset)).map_err(Error::Session)?;
        let mut buf = vec![0u8; CHUNK.min(length as usize)];
        let mut left = length;
        while left > 0 {
            let n = (left as usize).min(buf.len());
            // Objects are never rewritten: a file shorter than it was ends the session
            // rather than send fewer bytes than announced.
            file.read_exact(&mut buf[..n]).map_err(Error::Session)?;
            protocol::write_data(output, &buf[..n]).map_err(Error::Session)?;
            left -= n as u64;
        }
        output.flush().map_err(Error::Session)?;
        Ok(None)
    }

    /// Where an object the client may read is.
    fn readable(&self, kind: ObjectKind, name: &str) -> Result<PathBuf, (Code, String)> {
        if kind == ObjectKind::Lock {
            self.refuse(Code::Refused, "reading a lock")?;
        }
        self.object_path(kind, name)
    }

    /// The path of a validly named object: `config`, or 64 lowercase hex digits.
    fn object_path(&self, kind: ObjectKind, name: &str) -> Result<PathBuf, (Code, String)> {
        let valid = match kind {
            ObjectKind::Config => name == "config",
            ObjectKind::Lock => false,
            _ => name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        };
        if !valid {
            self.refuse(
                Code::Refused,
                &format!("invalid name {name:?} for a {}", kind_name(kind)),
            )?;
        }
        self.storage.object_path(kind, name).map_err(|e| (Code::Refused, e.to_string()))
    }

    fn put(
        &mut self,
        kind: ObjectKind,
        name: &str,
        size: u64,
        input: &mut impl Read,
        output: &mut impl Write,
    ) -> Result<Option<Reply>, Error> {
        let path = match self.writable(kind, name, size) {
            Ok(path) => path,
            Err(reply) => return Ok(Some(reply)),
        };
        self.send(output, Ok(Response::Ok))?;
        let received = self.receive(kind, name, size, &path, input)?;
        if received.is_ok() {
            self.used += size;
        }
        Ok(Some(received))
    }

    /// Where a new object goes, if the client may write it; else the reply (`Exists` for an
    /// object already there: its name is the hash of its bytes, so they are the same).
    fn writable(&self, kind: ObjectKind, name: &str, size: u64) -> Result<PathBuf, Reply> {
        let what = format!("write of {} {name} ({size} bytes)", kind_name(kind));
        if self.read_only {
            return Err(self.refuse(Code::Refused, &format!("{what}: the key is read-only")));
        }
        if kind == ObjectKind::Lock {
            return Err(self.refuse(Code::Refused, &format!("{what}: the server's to write")));
        }
        let path = self.object_path(kind, name).map_err(Err)?;
        if !matches!(self.lock, Some((LockMode::Exclusive, _))) {
            return Err(self.refuse(Code::Refused, &format!("{what} without the writer's lock")));
        }
        // The config is written once, by `oe mirror init` on the client, into the empty
        // repository `add-key --encrypted` left it; never again.
        if kind == ObjectKind::Config {
            if path.exists() {
                let what = format!("{what}: the repository exists, its config is never rewritten");
                return Err(self.refuse(Code::Refused, &what));
            }
            if size > MAX_CONFIG {
                return Err(self.refuse(Code::Refused, &format!("{what}: over {MAX_CONFIG} bytes")));
            }
        } else if path.exists() {
            return Err(Ok(Response::Exists));
        }
        if let Some(quota) = self.quota {
            let after = self.used.saturating_add(size);
            if after > quota {
                let what = format!(
                    "{what}: client {} would hold {after} bytes, over its quota of {quota}",
                    self.client.ident()
                );
                return Err(self.refuse(Code::Quota, &what));
            }
        }
        Ok(path)
    }

    /// Receives `size` bytes of `Data` frames into a temporary file, then, if their BLAKE3 is
    /// `name`, links it at `path`. The data is read to its end whatever fails on the way, so
    /// that the session can go on.
    fn receive(
        &self,
        kind: ObjectKind,
        name: &str,
        size: u64,
        path: &Path,
        input: &mut impl Read,
    ) -> Result<Reply, Error> {
        let temp = self.storage.temp_path(name);
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp);
        let mut hasher = blake3::Hasher::new();
        let mut writeback = Writeback::default();
        let mut left = size;
        while left > 0 {
            let data = match self.next(input) {
                Ok(Request::Data(data)) if data.len() as u64 <= left && !data.is_empty() => data,
                other => {
                    let _ = fs::remove_file(&temp);
                    return Err(match other {
                        Err(e) => e,
                        Ok(_) => self.read_error(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a put's data frames do not match its size",
                        )),
                    });
                }
            };
            left -= data.len() as u64;
            hasher.update(&data);
            if let Ok(f) = &mut file {
                match f.write_all(&data) {
                    Ok(()) => writeback.written(f, data.len()),
                    Err(e) => file = Err(e),
                }
            }
        }
        let stored = file.and_then(|file| {
            let named_by_hash = kind != ObjectKind::Config;
            if named_by_hash && hasher.finalize().to_hex().as_str() != name {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "hash"));
            }
            place(file, &temp, path)
        });
        let _ = fs::remove_file(&temp);
        Ok(match stored {
            Ok(()) => Ok(Response::Ok),
            // Linked meanwhile by... nobody (one writer), but the same bytes all the same.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && kind != ObjectKind::Config => {
                Ok(Response::Ok)
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => self.refuse(
                Code::Refused,
                &format!("object {name}: its bytes do not hash to its name"),
            ),
            Err(e) => {
                self.log.info(&format!("storing {name} failed: {e}"));
                Err(io_reply(&e))
            }
        })
    }

    fn take_lock(&mut self, mode: LockMode) -> Reply {
        if self.read_only && mode == LockMode::Exclusive {
            return self.refuse(Code::Refused, "the writer's lock: the key is read-only");
        }
        self.lock = None;
        let storage: Arc<dyn Storage> = self.storage.clone();
        let by = format!("{} (client {})", self.by, self.client.ident());
        match repo::lock_storage(storage, &self.client.repo(), mode, Some(&by)) {
            Ok(guard) => {
                self.lock = Some((mode, guard));
                if mode == LockMode::Exclusive {
                    match self.storage.remove_temps() {
                        Ok(0) => {}
                        Ok(n) => {
                            self.log.info(&format!("removed {n} file(s) killed sessions left"))
                        }
                        Err(e) => self.log.info(&format!("cannot clean tmp/: {e}")),
                    }
                }
                Ok(Response::Ok)
            }
            Err(repo::Error::Locked { holder, .. }) => Err((Code::Locked, holder)),
            Err(e) => Err((Code::Failed, crate::exit::message(&e))),
        }
    }
}

/// Starts writing an object's bytes to disk while the rest of it arrives, so that the fsync
/// at its end waits for the last few MiB only, not for the whole object: a pack's transfer
/// and its trip to the disk overlap, as the local writer's compressing and syncing do.
#[derive(Default)]
struct Writeback {
    /// Bytes written so far, and the offset up to which writeback was started.
    written: u64,
    started: u64,
}

impl Writeback {
    /// Writeback starts every this many bytes.
    const STEP: u64 = 2 << 20;

    fn written(&mut self, file: &File, bytes: usize) {
        self.written += bytes as u64;
        let pending = self.written - self.started;
        if pending >= Self::STEP {
            // SAFETY: sync_file_range only reads the descriptor, which `file` keeps open. A
            // hint: an error shows again in the fsync that follows, where it is reported.
            unsafe {
                libc::sync_file_range(
                    file.as_raw_fd(),
                    self.started as libc::off64_t,
                    pending as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.started = self.written;
        }
    }
}

/// Makes `file` (written at `temp`) durable and links it at `path`, which it never replaces.
fn place(file: File, temp: &Path, path: &Path) -> io::Result<()> {
    file.sync_all()?;
    drop(file);
    let dir = path.parent().expect("objects are inside the repository");
    fs::create_dir_all(dir)?;
    fs::hard_link(temp, path)?;
    File::open(dir)?.sync_all()
}

/// The error a failed file operation gets.
fn io_reply(e: &io::Error) -> (Code, String) {
    let code = match e.kind() {
        io::ErrorKind::NotFound => Code::NotFound,
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Code::NoSpace,
        _ if e.raw_os_error() == Some(libc::ENOSPC) => Code::NoSpace,
        _ => Code::Failed,
    };
    let message = match code {
        Code::NoSpace => "the backup server's disk is full".to_owned(),
        _ => format!("the backup server failed: {e}"),
    };
    (code, message)
}

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Config => "config",
        ObjectKind::Pack => "pack",
        ObjectKind::Index => "index",
        ObjectKind::Snapshot => "snapshot",
        ObjectKind::Lock => "lock",
        ObjectKind::Key => "key file",
    }
}

/// Bytes of the files below `dir`.
fn directory_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += directory_size(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Standard input that fails with `TimedOut` when nothing arrives for `timeout`.
struct Timed {
    fd: io::Stdin,
    timeout: Duration,
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut poll = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = libc::c_int::try_from(self.timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: one valid pollfd, for the duration of the call.
            let rc = unsafe { libc::poll(&mut poll, 1, ms) };
            match rc {
                0 => return Err(io::ErrorKind::TimedOut.into()),
                1.. => return self.fd.read(buf),
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// Where a session's events go: syslog (the journal), and the client's `serve.log`.
struct Log {
    file: Option<File>,
    prefix: String,
}

impl Log {
    fn open(client: &Client) -> Log {
        // SAFETY: a static identity string; openlog keeps the pointer.
        unsafe { libc::openlog(c"oe-serve".as_ptr(), libc::LOG_PID, libc::LOG_AUTH) };
        let file =
            OpenOptions::new().append(true).create(true).mode(0o600).open(client.log_path()).ok();
        let prefix = format!("client {} pid {}", client.ident(), std::process::id());
        Log { file, prefix }
    }

    fn info(&self, what: &str) {
        self.write(libc::LOG_INFO, what);
    }

    fn refused(&self, what: &str) {
        self.write(libc::LOG_WARNING, &format!("REFUSED {what}"));
    }

    fn write(&self, priority: libc::c_int, what: &str) {
        let line = format!("{}: {}", self.prefix, what.replace(['\n', '\r'], " "));
        if let Ok(text) = std::ffi::CString::new(line.replace('\0', " ")) {
            // SAFETY: a "%s" format with one valid C string.
            unsafe { libc::syslog(priority, c"%s".as_ptr(), text.as_ptr()) };
        }
        if let Some(mut file) = self.file.as_ref() {
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
            let _ = writeln!(file, "{now} {line}");
        }
    }
}

#[cfg(test)]
mod tests;
