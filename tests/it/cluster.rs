//! The private PostgreSQL cluster of this test binary.
//!
//! [`cluster()`] starts a throw-away cluster the first time any test asks for it and returns
//! the same one to every later caller, on any thread. The cluster:
//!
//! * lives in a fresh temporary directory `oe-it-pg-<pid>-XXXXXX` (`data/` for the data
//!   directory, `socket/` for the unix socket, `server.log` for the server's log);
//! * listens on the unix socket only (`listen_addresses = ''`); the port number only names
//!   the socket (`socket/.s.PGSQL.<port>`);
//! * trusts everyone, its superuser is `postgres`, encoding UTF8, locale C, time zone UTC,
//!   and it runs with `fsync = off` (it is thrown away);
//! * is stopped (`pg_ctl stop -m immediate`) and its directory removed when the test process
//!   exits, by a `libc::atexit` handler. A run killed by a signal cannot clean up: the next
//!   run stops and removes the clusters whose owning process is gone.
//!
//! The PostgreSQL server refuses to run as root; when the tests run as root (as on CI),
//! `initdb` and `pg_ctl` run as the `postgres` system user and the cluster's directories
//! belong to that user. Client tools (`psql`, `pg_dump`, `oe`) run as the current user.
//!
//! Child processes never go through a shell, and every inherited `PG*` variable is removed
//! from their environment: they see only the `PGHOST`, `PGPORT` and `PGUSER` of the cluster.
//!
//! Other clusters (the TLS one of `tls`) are started the same way with [`start_with`] and a
//! [`Setup`] that adds settings, replaces `pg_hba.conf` and puts files in the data directory;
//! they are stopped at exit too.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};

/// Prefix of the cluster directories in the temporary directory, followed by the owner's pid.
const DIR_PREFIX: &str = "oe-it-pg-";

/// The name of the cluster's superuser.
const SUPERUSER: &str = "postgres";

/// A running PostgreSQL cluster reachable over its unix socket.
#[derive(Debug)]
pub struct Cluster {
    /// Directory of the unix socket: the `host` to connect to.
    pub socket_dir: PathBuf,
    /// The port: names the socket (`.s.PGSQL.<port>`); no TCP listener unless the cluster's
    /// [`Setup`] sets `listen_addresses`.
    pub port: u16,
    /// Directory of `initdb`, `pg_ctl`, `psql`, `pg_dump`, `pg_restore`... used for this cluster.
    pub bindir: PathBuf,
    /// The superuser to connect as (`postgres`), trusted without password.
    pub user: String,
    /// The cluster's temporary directory (removed at exit).
    pub root: PathBuf,
    /// The data directory (`root/data`).
    pub data_dir: PathBuf,
    /// The server's log (`root/server.log`).
    pub log_file: PathBuf,
    /// `(uid, gid)` the server runs as when the tests run as root.
    server_owner: Option<(u32, u32)>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// Every cluster started by this process, `(bindir, data_dir, owner, root)`: stopped at exit.
type Running = (PathBuf, PathBuf, Option<(u32, u32)>, PathBuf);
static RUNNING: Mutex<Vec<Running>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

/// What a cluster has beyond the defaults of [`cluster()`]'s.
#[derive(Debug, Default)]
pub struct Setup {
    /// Lines appended to `postgresql.conf` after the defaults (a later line wins).
    pub conf: Vec<String>,
    /// The content of `pg_hba.conf`, instead of initdb's (which trusts every local user).
    pub hba: Option<String>,
    /// Files written into the data directory before the start: name, content, mode. They
    /// belong to the server's user (a key file must).
    pub files: Vec<(String, Vec<u8>, u32)>,
}

/// The private cluster of this test binary: started on first use, stopped when the test
/// process exits. Safe to call from many threads at once; every caller gets the same cluster.
///
/// Panics (in every test that calls it) if the cluster cannot be started.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(|| start_with(&Setup::default())) {
        Ok(cluster) => cluster,
        Err(message) => panic!("the test PostgreSQL cluster could not be started: {message}"),
    }
}

impl Cluster {
    /// A command for `program` of the cluster's bindir (`psql`, `pg_dump`, `pg_restore`...),
    /// with every inherited `PG*` variable removed and `PGHOST`, `PGPORT`, `PGUSER` set to this
    /// cluster. Pass the database with `--dbname` and [`Cluster::conninfo`].
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        clear_pg_env(&mut cmd);
        cmd.env("PGHOST", &self.socket_dir)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", &self.user);
        cmd
    }

    /// A conninfo string `dbname='...'` naming `db` safely, for `--dbname`.
    pub fn conninfo(db: &str) -> String {
        format!("dbname='{}'", db.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    /// Runs `sql` (any number of statements, psql meta-commands allowed) with
    /// `psql -X -A -t -q -v ON_ERROR_STOP=1` in database `db` as `postgres`; panics with psql's
    /// stderr if it fails. Returns stdout, trimmed: one line per row, columns separated by `|`.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut cmd = self.psql_command(db);
        cmd.args(["-f", "-"]);
        let output = run_with_input(cmd, sql.as_bytes())
            .unwrap_or_else(|e| panic!("cannot run psql in {}: {e}", self.bindir.display()));
        if !output.status.success() {
            panic!(
                "psql in database {db:?} failed ({}):\n{}\n--- SQL ---\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end(),
                abbreviate(sql),
            );
        }
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Runs the SQL script `file` in `db` like [`Cluster::psql`].
    pub fn psql_file(&self, db: &str, file: &Path) -> String {
        let mut cmd = self.psql_command(db);
        cmd.arg("-f").arg(file).stdin(Stdio::null());
        let output = cmd.output().unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        if !output.status.success() {
            panic!(
                "psql -f {} in database {db:?} failed ({}):\n{}",
                file.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end(),
            );
        }
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn psql_command(&self, db: &str) -> Command {
        let mut cmd = self.command("psql");
        cmd.env("PGCLIENTENCODING", "UTF8")
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "--dbname"])
            .arg(Self::conninfo(db));
        cmd
    }

    /// Creates database `db` (any name: spaces, quotes, non-ASCII...).
    pub fn create_db(&self, name: &str) {
        self.psql(SUPERUSER, &format!("CREATE DATABASE {}", quote_ident(name)));
    }

    /// Drops database `db` if it exists, disconnecting its sessions.
    pub fn drop_db(&self, name: &str) {
        self.psql(
            SUPERUSER,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name)),
        );
    }

    /// Whether database `name` exists.
    pub fn db_exists(&self, name: &str) -> bool {
        let sql = format!(
            "SELECT EXISTS (SELECT FROM pg_database WHERE datname = {})",
            quote_literal(name)
        );
        self.psql(SUPERUSER, &sql) == "t"
    }

    /// The names of the non-template databases, sorted (includes `postgres`).
    pub fn databases(&self) -> Vec<String> {
        let json = self.psql(
            SUPERUSER,
            "SELECT coalesce(json_agg(datname ORDER BY datname), '[]') \
             FROM pg_database WHERE NOT datistemplate",
        );
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("bad database list {json:?}: {e}"))
    }

    /// A database name unique within this test process: `<prefix>_<counter>_<pid>`. Nothing is
    /// created. Panics if the name is longer than PostgreSQL's 63 bytes.
    pub fn unique_db(&self, prefix: &str) -> String {
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}_{n}_{}", std::process::id());
        assert!(
            name.len() <= 63,
            "database name {name:?} is longer than 63 bytes: shorten the prefix"
        );
        name
    }

    /// The path of the sample script `tests/it/data/sample.sql`.
    pub fn sample_sql() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/sample.sql")
    }

    /// Creates `db` and loads `tests/it/data/sample.sql` into it.
    pub fn load_sample(&self, db: &str) {
        self.create_db(db);
        self.psql_file(db, &Self::sample_sql());
    }

    /// The data of `db`, summarised. For every ordinary or partitioned table of every
    /// non-system schema, `"schema.table" -> (row count, md5 of the rows' text sorted in C
    /// collation and joined by newlines; "" when empty)`; for every sequence,
    /// `"schema.sequence" -> (last_value, "t" or "f" for is_called)`. Rows are rendered with
    /// fixed settings (UTC, ISO dates, hex bytea, exact floats), so two databases with equal
    /// fingerprints hold equal data. Names are not quoted: `Odd Schema.Mixed Case`.
    pub fn fingerprint(&self, db: &str) -> BTreeMap<String, (i64, String)> {
        const SQL: &str = r#"
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET bytea_output = 'hex';
SET extra_float_digits = 3;
-- Adjacent literals separated by a newline are one literal.
SELECT format(
         CASE WHEN c.relkind = 'S'
         THEN 'SELECT json_build_array(%L, last_value, '
              'CASE WHEN is_called THEN ''t'' ELSE ''f'' END) FROM %I.%I'
         ELSE 'SELECT json_build_array(%L, count(*), coalesce(md5(string_agg(fp_row__::text, '
              'E''\n'' ORDER BY fp_row__::text COLLATE "C")), '''')) FROM %I.%I AS fp_row__'
         END,
         n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%'
ORDER BY n.nspname, c.relname
\gexec
"#;
        let out = self.psql(db, SQL);
        let mut fingerprint = BTreeMap::new();
        for line in out.lines().filter(|l| !l.is_empty()) {
            let entry: (String, i64, String) = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad fingerprint line {line:?} of {db:?}: {e}"));
            fingerprint.insert(entry.0, (entry.1, entry.2));
        }
        fingerprint
    }
}

/// `name` as an SQL identifier: double-quoted, inner double quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as an SQL string literal (standard_conforming_strings on): single-quoted, inner
/// single quotes doubled.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Removes every inherited `PG*` variable (PGPASSWORD, PGDATABASE, PGSERVICE, PGHOSTADDR,
/// PGDATA...) from the environment of `cmd`.
pub fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
}

/// Runs `cmd` with `input` on its stdin (written from another thread, so big inputs and
/// outputs cannot deadlock) and collects its output.
fn run_with_input(mut cmd: Command, input: &[u8]) -> std::io::Result<Output> {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    std::thread::scope(|scope| {
        // A child that exits early closes the pipe: its exit status tells what went wrong.
        scope.spawn(move || {
            let _ = stdin.write_all(input);
        });
        child.wait_with_output()
    })
}

fn abbreviate(text: &str) -> String {
    const MAX: usize = 2000;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

// ---------------------------------------------------------------------------------------
// Starting and stopping.

/// Starts a new private cluster with `setup` (see the module docs), stopped and removed when
/// the test process exits.
pub fn start_with(setup: &Setup) -> Result<Cluster, String> {
    let bindir = find_bindir()?;
    let server_owner = server_owner()?;
    let base = temp_base(server_owner);
    remove_stale_clusters(&bindir, &base);

    let root = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a temporary directory in {}: {e}", base.display()))?
        .keep();
    // From here on, a failure must not leave the directory (or a server) behind.
    let mut guard = StartGuard { bindir: &bindir, root: &root, owner: server_owner, armed: true };

    let data_dir = root.join("data");
    let socket_dir = root.join("socket");
    let log_file = root.join("server.log");
    std::fs::create_dir(&socket_dir)
        .map_err(|e| format!("cannot create {}: {e}", socket_dir.display()))?;
    std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {}: {e}", socket_dir.display()))?;
    if let Some((uid, gid)) = server_owner {
        for dir in [&root, &socket_dir] {
            chown(dir, Some(uid), Some(gid))
                .map_err(|e| format!("cannot give {} to the postgres user: {e}", dir.display()))?;
        }
    }

    let port = free_port();
    let mut initdb = server_command(&bindir, "initdb", &root, server_owner);
    initdb.arg("-D").arg(&data_dir).args([
        "--auth=trust",
        "-U",
        SUPERUSER,
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    run_checked(initdb, "initdb")?;

    let mut conf = String::from("\n# oe integration tests\n");
    let socket = socket_dir.to_str().ok_or("the temporary directory is not UTF-8")?;
    for line in [
        "listen_addresses = ''".to_string(),
        format!("port = {port}"),
        format!("unix_socket_directories = '{}'", socket.replace('\'', "''")),
        "fsync = off".to_string(),
        "synchronous_commit = off".to_string(),
        "full_page_writes = off".to_string(),
        "shared_buffers = 16MB".to_string(),
        "max_connections = 100".to_string(),
        "timezone = 'UTC'".to_string(),
    ]
    .iter()
    .chain(&setup.conf)
    {
        let _ = writeln!(conf, "{line}");
    }
    let conf_path = data_dir.join("postgresql.conf");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&conf_path)
        .and_then(|mut f| f.write_all(conf.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", conf_path.display()))?;
    let hba =
        setup.hba.as_ref().map(|hba| ("pg_hba.conf".to_string(), hba.clone().into_bytes(), 0o600));
    for (name, content, mode) in setup.files.iter().cloned().chain(hba) {
        let path = data_dir.join(&name);
        std::fs::write(&path, content)
            .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if let Some((uid, gid)) = server_owner {
            chown(&path, Some(uid), Some(gid))
                .map_err(|e| format!("cannot give {} to the postgres user: {e}", path.display()))?;
        }
    }

    let mut pg_ctl = server_command(&bindir, "pg_ctl", &root, server_owner);
    pg_ctl
        .arg("start")
        .arg("-D")
        .arg(&data_dir)
        .arg("-l")
        .arg(&log_file)
        .args(["-w", "-t", "60", "-s"]);
    if let Err(e) = run_checked(pg_ctl, "pg_ctl start") {
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        return Err(format!("{e}\n--- {} ---\n{log}", log_file.display()));
    }

    let cluster = Cluster {
        socket_dir,
        port,
        bindir: bindir.clone(),
        user: SUPERUSER.to_string(),
        root: root.clone(),
        data_dir,
        log_file,
        server_owner,
    };
    let mut registered = true;
    AT_EXIT.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn` that never unwinds.
        registered = unsafe { libc::atexit(stop_at_exit) } == 0;
    });
    if !registered {
        return Err("cannot register the atexit handler that stops the clusters".into());
    }
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push((
        bindir.clone(),
        cluster.data_dir.clone(),
        server_owner,
        root.clone(),
    ));
    guard.armed = false;
    Ok(cluster)
}

/// Stops the clusters when the test process exits (main returns or `process::exit`).
extern "C" fn stop_at_exit() {
    // Unwinding out of an `extern "C"` fn aborts: swallow any panic.
    let _ = std::panic::catch_unwind(|| {
        let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        for (bindir, data_dir, owner, root) in running.iter() {
            stop_server(bindir, data_dir, *owner);
            let _ = std::fs::remove_dir_all(root);
        }
    });
}

/// Cleans up a half-started cluster.
struct StartGuard<'a> {
    bindir: &'a Path,
    root: &'a Path,
    owner: Option<(u32, u32)>,
    armed: bool,
}

impl Drop for StartGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let data_dir = self.root.join("data");
            if data_dir.join("postmaster.pid").exists() {
                stop_server(self.bindir, &data_dir, self.owner);
            }
            let _ = std::fs::remove_dir_all(self.root);
        }
    }
}

fn stop_server(bindir: &Path, data_dir: &Path, owner: Option<(u32, u32)>) {
    let root = data_dir.parent().unwrap_or(Path::new("/"));
    let mut cmd = server_command(bindir, "pg_ctl", root, owner);
    cmd.arg("stop")
        .arg("-D")
        .arg(data_dir)
        .args(["-m", "immediate", "-w", "-t", "30", "-s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _ = cmd.status();
}

/// A command for a server program (`initdb`, `pg_ctl`), run as the server's owner in `cwd`.
fn server_command(bindir: &Path, program: &str, cwd: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(bindir.join(program));
    clear_pg_env(&mut cmd);
    cmd.current_dir(cwd).env("LC_ALL", "C").stdin(Stdio::null());
    if let Some((uid, gid)) = owner {
        // std drops the supplementary groups too when switching from root.
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn run_checked(mut cmd: Command, what: &str) -> Result<(), String> {
    let output = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Where the server programs are: the newest `/usr/lib/postgresql/<N>/bin` with `initdb`,
/// else `pg_config --bindir`, else the directory of `initdb` on PATH.
fn find_bindir() -> Result<PathBuf, String> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file();
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.split('.').map(|p| p.parse().ok()).collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_initdb(bin))
        .collect();
    versioned.sort();
    if let Some((_, bin)) = versioned.pop() {
        return Ok(bin);
    }
    // (No let chains: the crate's rust-version is 1.85.)
    if let Ok(output) = Command::new("pg_config").arg("--bindir").stdin(Stdio::null()).output() {
        let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_initdb(&bin) {
            return Ok(bin);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let initdb = dir.join("initdb");
        if initdb.is_file() {
            // Follow a symlink (Debian's /usr/bin wrappers aside) to find pg_ctl next to it.
            let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
            if let Some(bin) = real.parent().filter(|b| b.join("pg_ctl").is_file()) {
                return Ok(bin.to_path_buf());
            }
            return Ok(dir);
        }
    }
    Err("PostgreSQL server binaries not found: install postgresql \
         (looked in /usr/lib/postgresql/*/bin, `pg_config --bindir` and PATH for initdb)"
        .into())
}

/// `(uid, gid)` of the `postgres` system user when running as root, else `None`.
fn server_owner() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new(SUPERUSER).expect("no NUL");
    // SAFETY: getpwnam returns NULL or a pointer to a static record we copy at once; the
    // cluster is started once (OnceLock), nothing else in the tests calls getpwnam.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err("the tests run as root but there is no `postgres` system user to run the \
                    PostgreSQL server as (the server refuses to run as root)"
            .into());
    }
    // SAFETY: pw is non-null and points to a valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some((uid, gid)))
}

/// The directory to create the cluster in: the temporary directory, unless the socket path
/// would be too long (108 bytes on Linux) or, as root, the `postgres` user could not reach it.
fn temp_base(owner: Option<(u32, u32)>) -> PathBuf {
    let tmp = std::env::temp_dir();
    let short_enough = tmp.as_os_str().len() < 50;
    let reachable = owner.is_none()
        || tmp.ancestors().all(|dir| {
            std::fs::metadata(dir).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(false)
        });
    if short_enough && reachable { tmp } else { PathBuf::from("/tmp") }
}

/// A TCP port nobody listens on now. It names the socket, and is the TCP port of a cluster
/// whose [`Setup`] sets `listen_addresses`.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|_| 20000 + (std::process::id() % 30000) as u16)
}

/// Stops and removes the clusters left behind by test processes that died without running
/// their exit handler (killed by a signal).
fn remove_stale_clusters(bindir: &Path, base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<libc::pid_t>().ok()) else {
            continue;
        };
        if pid <= 0 || pid as u32 == std::process::id() || process_alive(pid) {
            continue;
        }
        let root = entry.path();
        let data_dir = root.join("data");
        if let Ok(meta) = std::fs::metadata(&data_dir) {
            use std::os::unix::fs::MetadataExt;
            // SAFETY: geteuid cannot fail.
            let me = unsafe { libc::geteuid() };
            if me != 0 && meta.uid() != me {
                continue; // someone else's
            }
            if data_dir.join("postmaster.pid").exists() {
                let owner = (me == 0).then(|| (meta.uid(), meta.gid()));
                stop_server(bindir, &data_dir, owner);
            }
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

fn process_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}
