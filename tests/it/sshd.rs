//! A private OpenSSH server for a test: Debian's `/usr/sbin/sshd` started as root on a free
//! loopback port with its own host key and configuration, stopped (with every session it
//! started) when the [`Sshd`] is dropped; and what a client needs to reach it: a key pair
//! ([`ClientKey`]), a `known_hosts` file naming the server's host key, `ssh://` URLs and an
//! `ssh` command line that reads no user configuration.
//!
//! ```ignore
//! let dir = tempfile::tempdir().unwrap();
//! let authorized_keys = dir.path().join("authorized_keys");
//! let Some(sshd) = Sshd::start(&authorized_keys) else { return }; // skipped: said why
//! let key = ClientKey::generate(dir.path(), "client");
//! std::fs::write(&authorized_keys, format!("restrict {}\n", key.public)).unwrap();
//! let known_hosts = sshd.write_known_hosts(&dir.path().join("known_hosts"));
//! let url = sshd.url("acme.example.com"); // ssh://root@127.0.0.1:PORT/acme.example.com
//! ```
//!
//! sshd reads `authorized_keys` at every login: it may be written, or changed, after
//! [`Sshd::start`]. Sessions run with sshd's own environment (its default `PATH`), so a
//! forced command names its program by absolute path. `StrictModes` is off: the caller's
//! `authorized_keys` lives in a temporary directory below `/tmp`, which is world-writable, and
//! sshd with `StrictModes yes` refuses every key of a file below such a directory.
//!
//! Several servers run at once (tests are threads of one process): each has its own directory,
//! port, host key, pid file and log.
#![allow(dead_code)] // The backup server's suites use what the smoke test here does not.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::skip_unless_available;

/// The server binary: sshd re-executes itself for every connection, so its path is absolute.
const SSHD: &str = "/usr/sbin/sshd";

/// How long sshd may take to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How many ports are tried when another process takes the chosen one first.
const PORT_ATTEMPTS: usize = 10;

/// A running private sshd; stopped, with its sessions, on drop.
pub struct Sshd {
    /// Holds the host key, `sshd_config`, the pid file and the log (0700; removed on drop).
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    /// `ssh-ed25519 AAAA…` of the host key (no comment).
    host_key: String,
}

/// An ed25519 key pair for a client, made by `ssh-keygen` without a passphrase.
pub struct ClientKey {
    /// The private key file (0600), for `ssh -i` or `mirror.ssh.identity_file`.
    pub private: PathBuf,
    /// The public key: `ssh-ed25519 AAAA… COMMENT`, as a line of `authorized_keys` ends.
    pub public: String,
}

impl ClientKey {
    /// Generates `dir/name` and `dir/name.pub` (the comment is `name`).
    pub fn generate(dir: &Path, name: &str) -> ClientKey {
        let private = dir.join(name);
        let public = ssh_keygen(&private, name);
        ClientKey { private, public }
    }
}

impl Sshd {
    /// Starts a server on a free port of 127.0.0.1 that lets `root` in with the keys of
    /// `authorized_keys` (an absolute path; the file may not exist yet) and nothing else.
    ///
    /// Returns `None` (the test returns at once) when the test cannot run here: not root, or
    /// OpenSSH missing; the skip is said and recorded as [`skip_unless_available`] does, and is
    /// a failure with `CI=true`. Panics, showing sshd's log, when sshd does not start.
    pub fn start(authorized_keys: &Path) -> Option<Sshd> {
        if skip_unless_available(
            missing_requirement(),
            "run the tests as root through contrib/test.sh, which installs openssh-server and openssh-client",
        ) {
            return None;
        }
        assert!(
            authorized_keys.is_absolute(),
            "sshd needs an absolute AuthorizedKeysFile, not {}",
            authorized_keys.display()
        );
        make_privilege_separation_dir();
        let dir = tempfile::Builder::new()
            .prefix("oe-it-sshd-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a directory for sshd: {e}"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let host_key_file = dir.path().join("host_ed25519");
        let host_key = ssh_keygen(&host_key_file, "oe-it-sshd");
        let host_key = host_key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = unused_port();
            let config = write_config(dir.path(), port, &host_key_file, authorized_keys);
            match spawn_and_wait(dir.path(), &config, port) {
                Ok(child) => return Some(Sshd { dir, child, port, host_key }),
                Err(Failure::PortTaken(log)) => last_log = log,
                Err(Failure::Other(log)) => panic!("sshd did not start:\n{log}"),
            }
        }
        panic!("sshd found no free port in {PORT_ATTEMPTS} attempts; its last log:\n{last_log}");
    }

    /// The TCP port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pid of the listening sshd (its sessions are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `ssh://root@127.0.0.1:PORT/CLIENT`, a repository on this server.
    pub fn url(&self, client: &str) -> String {
        format!("ssh://root@127.0.0.1:{}/{client}", self.port)
    }

    /// The `known_hosts` line of this server: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key)
    }

    /// Writes a `known_hosts` file holding only this server's key; returns `path`.
    pub fn write_known_hosts(&self, path: &Path) -> PathBuf {
        std::fs::write(path, format!("{}\n", self.known_hosts_line()))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// The `mirror:` section of an `oe` config (YAML) for the repository of `client` on this
    /// server, reached with `key` and trusting the host keys of `known_hosts`.
    pub fn mirror_config(&self, client: &str, key: &ClientKey, known_hosts: &Path) -> String {
        let quoted = |v: &str| serde_json::to_string(v).expect("a string serializes");
        format!(
            "mirror:\n  repository: {}\n  ssh:\n    identity_file: {}\n    known_hosts: {}\n",
            quoted(&self.url(client)),
            quoted(&key.private.to_string_lossy()),
            quoted(&known_hosts.to_string_lossy()),
        )
    }

    /// The processes below the listening sshd (sessions, their privilege-separated children,
    /// the commands they run: `oe serve` for a key `oe server add-key` wrote), with their
    /// command lines: a test finds there what to `kill -9`.
    pub fn processes(&self) -> Vec<(libc::pid_t, String)> {
        descendants(self.child.id() as libc::pid_t)
            .into_iter()
            .map(|pid| (pid, command_line(pid)))
            .collect()
    }

    /// `ssh` to this server as root with `key`, trusting only the host keys of `known_hosts`,
    /// reading no configuration, agent or key of the user running the tests. The remote
    /// command (if any) is to be added with `.arg(…)`.
    pub fn ssh(&self, key: &Path, known_hosts: &Path) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=yes"])
            .args(["-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .arg("-i")
            .arg(key)
            .args(["-p", &self.port.to_string(), "root@127.0.0.1"])
            .stdin(Stdio::null());
        cmd
    }

    /// Everything sshd logged so far (LogLevel VERBOSE: connections, accepted and refused
    /// keys, forced commands, disconnections).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits up to `timeout` for `needle` in the log (sshd writes it as sessions go on, after
    /// the client may have returned); returns whether it came.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }
}

impl Drop for Sshd {
    /// Kills the sessions (sshd leaves them running when its listener stops), then sshd.
    fn drop(&mut self) {
        let listener = self.child.id() as libc::pid_t;
        for pid in descendants(listener) {
            // SAFETY: kill(2) with a pid read from /proc; the worst case is a pid reused by
            // a process of our own that ended meanwhile.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a start failed.
enum Failure {
    /// Another process took the port between our choice and sshd's bind: try another.
    PortTaken(String),
    /// Anything else, with sshd's log.
    Other(String),
}

/// What this machine lacks to run the server, if anything.
fn missing_requirement() -> Option<&'static str> {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("root (sshd runs as root to let its test user in)");
    }
    if !Path::new(SSHD).is_file() {
        return Some("OpenSSH's server /usr/sbin/sshd (Debian package openssh-server)");
    }
    for tool in ["ssh", "ssh-keygen"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
        if !found {
            return Some("OpenSSH's client ssh and ssh-keygen (Debian package openssh-client)");
        }
    }
    None
}

/// `/run/sshd`, the empty directory sshd's unprivileged child chroots into; Debian's service
/// makes it at boot, which a container never had.
fn make_privilege_separation_dir() {
    let dir = Path::new("/run/sshd");
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create /run/sshd: {e}"));
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Makes an ed25519 key pair at `private` (and `private.pub`); returns the public key line.
fn ssh_keygen(private: &Path, comment: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(private)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh-keygen (Debian package openssh-client): {e}"));
    assert!(out.status.success(), "ssh-keygen failed: {}", String::from_utf8_lossy(&out.stderr));
    let public = PathBuf::from(format!("{}.pub", private.display()));
    std::fs::read_to_string(&public)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", public.display()))
        .trim()
        .to_owned()
}

/// A TCP port of 127.0.0.1 nobody listens on now (another process may take it before sshd:
/// [`Sshd::start`] then tries again).
fn unused_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port on 127.0.0.1: {e}"))
}

/// Options sshd understands only from some version on, and what to write when it does.
/// `PerSourcePenalties` (OpenSSH 9.8) would make 127.0.0.1 wait after the refused logins the
/// tests make on purpose.
const NEWER_OPTIONS: &[&str] = &["PerSourcePenalties no"];

/// Writes `dir/sshd_config` (0600) for `port`; returns its path.
fn write_config(dir: &Path, port: u16, host_key: &Path, authorized_keys: &Path) -> PathBuf {
    let mut text = format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {host_key}\n\
         PidFile {pid}\n\
         AuthorizedKeysFile {authorized_keys}\n\
         AuthenticationMethods publickey\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         HostbasedAuthentication no\n\
         UsePAM no\n\
         PermitRootLogin prohibit-password\n\
         AllowUsers root\n\
         StrictModes no\n\
         PermitUserEnvironment no\n\
         X11Forwarding no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         UseDNS no\n\
         MaxStartups 64\n\
         LoginGraceTime 30\n\
         LogLevel VERBOSE\n\
         Subsystem sftp internal-sftp\n",
        host_key = host_key.display(),
        pid = dir.join("sshd.pid").display(),
        authorized_keys = authorized_keys.display(),
    );
    for option in supported_newer_options() {
        text.push_str(option);
        text.push('\n');
    }
    let path = dir.join("sshd_config");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The lines of [`NEWER_OPTIONS`] the installed sshd accepts (asked once: `sshd -t` of a
/// config holding only that line and a host key).
fn supported_newer_options() -> &'static [&'static str] {
    static SUPPORTED: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    SUPPORTED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        ssh_keygen(&key, "probe");
        NEWER_OPTIONS
            .iter()
            .copied()
            .filter(|option| {
                let config = dir.path().join("config");
                std::fs::write(&config, format!("HostKey {}\n{option}\n", key.display())).unwrap();
                Command::new(SSHD)
                    .arg("-t")
                    .arg("-f")
                    .arg(&config)
                    .stdin(Stdio::null())
                    .output()
                    .is_ok_and(|out| out.status.success())
            })
            .collect()
    })
}

/// Starts `sshd -D -e -f CONFIG` with its output in `dir/sshd.log` and waits for it to listen.
fn spawn_and_wait(dir: &Path, config: &Path, port: u16) -> Result<Child, Failure> {
    let log_path = dir.join("sshd.log");
    let log = std::fs::File::create(&log_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {SSHD}: {e}"));
    let listening = format!("Server listening on 127.0.0.1 port {port}.");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains(&listening) {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let text = read_all(&log_path);
            let text = format!("{text}(sshd exited: {status})\n");
            return Err(if text.contains("Address already in use") {
                Failure::PortTaken(text)
            } else {
                Failure::Other(text)
            });
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let text = read_all(&log_path);
            return Err(Failure::Other(format!(
                "{text}(no \"{listening}\" within {START_TIMEOUT:?})\n"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_all(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// Every process below `root` (children, their children…), read from /proc.
fn descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let mut parents: Vec<(libc::pid_t, libc::pid_t)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid …": comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let Some(ppid) =
            after.split_whitespace().nth(1).and_then(|p| p.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        parents.push((pid, ppid));
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// Runs `cmd`, returning its output.
fn output(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh (Debian package openssh-client): {e}"))
}

/// The fixture works: a key with a forced command gets that command whatever it asks for; an
/// unknown host key is refused by the client; a key not in `authorized_keys` is refused by
/// the server, which logs it; two servers run at once; a dropped server stops with its
/// sessions.
#[test]
fn sshd_fixture_forces_commands_checks_host_keys_and_refuses_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let authorized_keys = dir.path().join("authorized_keys");
    let Some(sshd) = Sshd::start(&authorized_keys) else { return };
    let Some(other) = Sshd::start(&authorized_keys) else { return };
    assert_ne!(sshd.port(), other.port());
    let key = ClientKey::generate(dir.path(), "client");
    let stranger = ClientKey::generate(dir.path(), "stranger");
    std::fs::write(
        &authorized_keys,
        format!("command=\"/bin/echo forced\",restrict {}\n", key.public),
    )
    .unwrap();
    let known_hosts = sshd.write_known_hosts(&dir.path().join("known_hosts"));
    assert_eq!(
        sshd.url("acme.example.com"),
        format!("ssh://root@127.0.0.1:{}/acme.example.com", sshd.port())
    );
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&sshd.mirror_config("acme.example.com", &key, &known_hosts))
            .unwrap();
    assert_eq!(
        config["mirror"]["repository"].as_str(),
        Some(sshd.url("acme.example.com").as_str())
    );
    assert_eq!(config["mirror"]["ssh"]["identity_file"].as_str(), key.private.to_str());
    assert_eq!(config["mirror"]["ssh"]["known_hosts"].as_str(), known_hosts.to_str());

    let mut ssh = sshd.ssh(&key.private, &known_hosts);
    let run = output({
        ssh.arg("anything");
        ssh
    });
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout == "forced\n",
        "forced command: {:?} {stdout:?} {}\nsshd log:\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr),
        sshd.log()
    );
    assert!(
        sshd.wait_for_log("Accepted publickey for root", Duration::from_secs(5)),
        "{}",
        sshd.log()
    );

    // The second server has another host key: the first one's known_hosts does not vouch
    // for it, and an empty known_hosts vouches for nothing.
    let empty = dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    for (server, hosts) in [(&sshd, &empty), (&other, &known_hosts)] {
        let mut ssh = server.ssh(&key.private, hosts);
        ssh.arg("anything");
        let run = output(ssh);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            !run.status.success() && stderr.contains("Host key verification failed"),
            "unknown host key: {:?} {stderr}",
            run.status
        );
        assert!(run.stdout.is_empty(), "{:?}", String::from_utf8_lossy(&run.stdout));
    }

    let mut ssh = sshd.ssh(&stranger.private, &known_hosts);
    ssh.arg("anything");
    let run = output(ssh);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && stderr.contains("Permission denied (publickey)"),
        "unknown client key: {:?} {stderr}",
        run.status
    );
    assert!(run.stdout.is_empty(), "{:?}", String::from_utf8_lossy(&run.stdout));
    assert!(
        sshd.wait_for_log("Connection closed by authenticating user root", Duration::from_secs(5)),
        "{}",
        sshd.log()
    );
    drop(other);

    // A session still running when the server is dropped is stopped with it.
    std::fs::write(
        &authorized_keys,
        format!("command=\"/bin/sleep 600\",restrict {}\n", key.public),
    )
    .unwrap();
    let mut session = sshd.ssh(&key.private, &known_hosts);
    let mut session = session.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = wait_until(Duration::from_secs(10), || {
        sshd.processes().iter().any(|(_, cmd)| cmd.starts_with("/bin/sleep 600"))
    });
    assert!(started, "no session started:\n{}", sshd.log());
    let below: Vec<libc::pid_t> = sshd.processes().into_iter().map(|(pid, _)| pid).collect();
    drop(sshd);
    for pid in below {
        let gone = wait_until(Duration::from_secs(5), || {
            !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid)
        });
        assert!(gone, "process {pid} ({}) outlived its sshd", command_line(pid));
    }
    let status = session.wait().unwrap();
    assert!(!status.success(), "the client's session ended with its server");
}

fn command_line(pid: libc::pid_t) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn is_zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
        .unwrap_or(true)
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
