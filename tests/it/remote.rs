//! A backup server over SSH, for real: a private OpenSSH server on loopback (`sshd`), a server
//! root and keys made by `oe server`, and `oe mirror` of a client through the system's `ssh`.
//! Covers full runs and restores, what a run with nothing changed transfers, the index cache,
//! refusals (read-only keys, other clients, raw forbidden requests) and their log, quotas,
//! the lock between two sessions, `kill -9` of either side mid-upload, a full disk, and a
//! client that stops talking.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oe::remote::protocol::{self, Code, Request, Response};
use oe::repo::{LockMode, ObjectKind};

use crate::sshd::{ClientKey, Sshd};
use crate::testenv::{Run, TestEnv};

const CLIENT: &str = "acme.example.com";

/// A server root with one client, an sshd letting that client's key in, and a client config
/// mirroring `source/` to it.
struct Setup {
    env: TestEnv,
    /// The test environment's own config (its PostgreSQL service), kept in every rewrite.
    base: String,
    sshd: Sshd,
    root: PathBuf,
    authorized_keys: PathBuf,
    key: ClientKey,
    known_hosts: PathBuf,
    source: PathBuf,
}

impl Setup {
    fn new() -> Option<Setup> {
        Setup::with_root(None, &[])
    }

    /// `root` [default: inside the test directory]; `add_key`: more flags of `add-key`.
    fn with_root(root: Option<PathBuf>, add_key: &[&str]) -> Option<Setup> {
        let env = TestEnv::new();
        let authorized_keys = env.path("server/authorized_keys");
        fs::create_dir_all(env.path("server")).unwrap();
        let sshd = Sshd::start(&authorized_keys)?;
        let root = root.unwrap_or_else(|| env.path("server/root"));
        let key = ClientKey::generate(&env.path("home"), "id_client");
        let known_hosts = sshd.write_known_hosts(&env.path("home/known_hosts"));
        let source = env.path("source");
        fs::create_dir_all(&source).unwrap();
        let base = env.read_config();
        let setup = Setup { env, base, sshd, root, authorized_keys, key, known_hosts, source };
        setup.server(&["init", setup.root.to_str().unwrap()]).success();
        let mut args = vec!["add-key", CLIENT, &setup.key.public];
        args.extend_from_slice(add_key);
        setup.server_keys(&args).success();
        setup.configure(&setup.sshd.url(CLIENT), &setup.key.private.clone());
        Some(setup)
    }

    /// The client's config: `repository` with `identity`, mirroring `source/`, which is also
    /// the backup directory.
    fn configure(&self, repository: &str, identity: &Path) {
        let yaml = format!(
            "{}backup_dir: {}\nmirror:\n  repository: {}\n  ssh: {{identity_file: {}, \
             known_hosts: {}}}\n  dirs:\n    {}: {{}}\n",
            self.base,
            json(&self.source),
            json(repository),
            json(identity),
            json(&self.known_hosts),
            json(&self.source),
        );
        self.env.write_config(&yaml);
    }

    /// `oe server --root ROOT ARGS` on the server's side.
    fn server(&self, args: &[&str]) -> Run {
        let mut all = vec!["server", "--root", self.root.to_str().unwrap()];
        if args.first() == Some(&"init") {
            all.truncate(1);
        }
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// `oe server … --authorized-keys FILE`.
    fn server_keys(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--authorized-keys", self.authorized_keys.to_str().unwrap()]);
        self.server(&all)
    }

    fn oe(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    fn repo(&self) -> PathBuf {
        self.root.join("clients").join(CLIENT).join("repo")
    }

    fn serve_log(&self) -> String {
        fs::read_to_string(self.root.join("clients").join(CLIENT).join("serve.log"))
            .unwrap_or_default()
    }

    /// `oe mirror run`: its JSON report.
    fn run(&self) -> serde_json::Value {
        let run = self.oe(&["--json", "mirror", "run"]).success();
        serde_json::from_str(run.stdout.trim()).unwrap()
    }

    fn restore_and_compare(&self) {
        let target = self.env.path(&format!("restored-{}", rand_suffix()));
        let dir = self.source.to_str().unwrap();
        self.oe(&[
            "mirror",
            "restore",
            "latest",
            "--dir",
            dir,
            "--target",
            target.to_str().unwrap(),
        ])
        .success();
        crate::support::assert_same_tree(&self.source, &target);
    }

    /// Files of the repository's `tmp/` on the server.
    fn temps(&self) -> Vec<PathBuf> {
        fs::read_dir(self.repo().join("tmp")).unwrap().map(|e| e.unwrap().path()).collect()
    }

    /// A raw protocol session with `oe serve` through ssh, as the client's key.
    fn raw(&self, client: &str) -> Raw {
        let mut child = self
            .sshd
            .ssh(&self.key.private, &self.known_hosts)
            .args(["oe", "serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut raw = Raw {
            to: child.stdin.take().unwrap(),
            from: std::io::BufReader::new(child.stdout.take().unwrap()),
            child,
            hello: None,
        };
        let hello = Request::Hello {
            version: protocol::VERSION,
            client: client.into(),
            by: "a raw test session".into(),
        };
        raw.hello = Some(raw.call(&hello));
        raw
    }
}

struct Raw {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: std::io::BufReader<std::process::ChildStdout>,
    hello: Option<Response>,
}

impl Raw {
    fn call(&mut self, request: &Request) -> Response {
        protocol::write_request(&mut self.to, request).unwrap();
        self.to.flush().unwrap();
        protocol::read_response(&mut self.from).unwrap()
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(path: impl AsRef<std::ffi::OsStr>) -> String {
    serde_json::to_string(&path.as_ref().to_string_lossy()).unwrap()
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// Files of random bytes (incompressible: what is stored is what was sent).
fn random_files(dir: &Path, files: usize, size: usize, seed: u64) {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    for i in 0..files {
        let mut data = vec![0u8; size];
        for chunk in data.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let sub = dir.join(format!("d{}", i % 3));
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join(format!("f{i}")), data).unwrap();
    }
}

/// A count of the client's "backup server: N requests, N bytes received, N bytes sent" log
/// line (a `-v` run): the number before `what`.
fn transfer(run: &Run, what: &str) -> u64 {
    let line = run.stderr.lines().find(|l| l.contains("backup server: ")).unwrap_or_else(|| {
        panic!("no transfer counts in:\n{}", run.stderr);
    });
    let (before, _) = line.split_once(what).unwrap_or_else(|| panic!("no {what} in {line}"));
    before.split_whitespace().last().unwrap().parse().unwrap()
}

/// Pids of the `oe serve` sessions of `root`.
fn serve_pids(root: &Path) -> Vec<libc::pid_t> {
    let root = root.to_str().unwrap();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else { continue };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.contains(&&b"serve"[..]) && args.contains(&root.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_mirror_runs_restores_and_checks_over_ssh_and_a_quiet_night_transfers_little() {
    let Some(s) = Setup::new() else { return };
    random_files(&s.source, 6, 3 << 20, 1);
    fs::write(s.source.join("notes.txt"), "hello\n".repeat(10_000)).unwrap();
    // Directories enough that fetching each tree again would show in the request count.
    for i in 0..40 {
        let dir = s.source.join(format!("many/{i:02}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("a.txt"), format!("{i}\n")).unwrap();
    }
    let report = s.run();
    assert_eq!(report["dirs"][0]["stats"]["files"], 47, "{report}");
    s.restore_and_compare();
    s.oe(&["mirror", "check", "--read-data"]).success();
    assert!(s.serve_log().contains("(append-only key)"), "{}", s.serve_log());

    // Nothing changed: the index, the snapshots and the 43 trees come from the cache.
    let quiet = s.oe(&["-v", "mirror", "run"]).success();
    assert!(transfer(&quiet, " bytes received") < 1 << 10, "{}", quiet.stderr);
    assert!(transfer(&quiet, " requests,") < 20, "{}", quiet.stderr);

    // A damaged cache is noticed and rebuilt; the run still works.
    let cache = s.env.path("home/.cache/oe");
    let mut damaged = 0;
    for repo in fs::read_dir(&cache).unwrap() {
        let repo = repo.unwrap().path();
        for kind in ["index", "trees"] {
            for entry in fs::read_dir(repo.join(kind)).unwrap() {
                fs::write(entry.unwrap().path(), b"garbage").unwrap();
                damaged += 1;
            }
        }
    }
    assert!(damaged > 40, "the index and the trees were cached");
    fs::write(s.source.join("notes.txt"), "changed\n").unwrap();
    let run = s.oe(&["-v", "mirror", "run"]).success();
    assert!(run.stderr.contains("is damaged: fetching it again"), "{}", run.stderr);
    s.restore_and_compare();
    let snapshots = s.oe(&["--json", "mirror", "snapshots"]).success();
    let listed: serde_json::Value = serde_json::from_str(snapshots.stdout.trim()).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
}

#[test]
fn refusals_are_said_to_the_client_and_logged_on_the_server() {
    let Some(s) = Setup::new() else { return };
    random_files(&s.source, 1, 100_000, 2);
    s.run();

    // A raw session: every forbidden request is refused, and logged.
    let mut raw = s.raw(CLIENT);
    assert!(
        matches!(raw.hello, Some(Response::Welcome { read_only: false, .. })),
        "{:?}",
        raw.hello
    );
    let snapshot = match raw.call(&Request::List { kind: ObjectKind::Snapshot }) {
        Response::Names { names, .. } => names[0].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(raw.call(&Request::Lock { mode: LockMode::Exclusive }), Response::Ok);
    let forbidden = [
        Request::Delete { kind: ObjectKind::Snapshot, name: snapshot.clone() },
        Request::Put { kind: ObjectKind::Snapshot, name: snapshot.clone(), size: 5 },
        Request::Put { kind: ObjectKind::Pack, name: "../../../../etc/cron.d/x".into(), size: 5 },
        Request::Get { kind: ObjectKind::Index, name: "/etc/shadow".into(), offset: 0, length: 5 },
        Request::Put { kind: ObjectKind::Config, name: "config".into(), size: 5 },
    ];
    let mut answers = Vec::new();
    for request in &forbidden {
        answers.push(raw.call(request));
    }
    // The overwrite of an existing snapshot is answered "exists": nothing is sent or replaced.
    assert_eq!(answers[1], Response::Exists);
    for (i, answer) in answers.iter().enumerate().filter(|(i, _)| *i != 1) {
        assert!(
            matches!(answer, Response::Error { code: Code::Refused, .. }),
            "request {i}: {answer:?}"
        );
    }
    drop(raw);
    let log = s.serve_log();
    assert!(log.contains(&format!("REFUSED delete of snapshot {snapshot}")), "{log}");
    assert!(log.contains("REFUSED invalid name \"../../../../etc/cron.d/x\""), "{log}");
    assert!(log.contains("REFUSED invalid name \"/etc/shadow\""), "{log}");
    s.oe(&["mirror", "check", "--read-data"]).success();

    // Another client's repository, with this key: refused.
    let other = s.sshd.url("beta.example.com");
    s.configure(&other, &s.key.private);
    s.oe(&["mirror", "snapshots"]).failure(10).stderr_has("this key is acme.example.com's");
    assert!(s.serve_log().contains("REFUSED access to client \"beta.example.com\""));

    // A read-only key reads, and cannot write.
    let reader = ClientKey::generate(&s.env.path("home"), "id_reader");
    s.server_keys(&["add-key", CLIENT, &reader.public, "--read-only"]).success();
    s.configure(&s.sshd.url(CLIENT), &reader.private);
    s.oe(&["mirror", "snapshots"]).success();
    s.restore_and_compare();
    random_files(&s.source, 2, 1000, 3);
    s.oe(&["mirror", "run"]).failure(10).stderr_has("read-only");
    assert!(s.serve_log().contains("REFUSED the writer's lock: the key is read-only"));

    // Client-side refusals: no forget or prune through a client.
    s.oe(&["mirror", "forget", "--keep-last", "1"]).failure(2).stderr_has("oe server forget");
    s.oe(&["mirror", "prune"]).failure(2).stderr_has("oe server forget");
}

#[test]
fn an_unknown_host_key_is_refused_with_how_to_add_it() {
    let Some(s) = Setup::new() else { return };
    fs::write(&s.known_hosts, "").unwrap();
    s.oe(&["mirror", "snapshots"]).failure(6).stderr_has("ssh-keyscan -p");
    let stranger = ClientKey::generate(&s.env.path("home"), "id_stranger");
    s.sshd.write_known_hosts(&s.known_hosts);
    s.configure(&s.sshd.url(CLIENT), &stranger.private);
    s.oe(&["mirror", "snapshots"]).failure(6).stderr_has("oe server add-key");
}

#[test]
fn a_write_past_the_quota_is_refused_before_it_is_stored() {
    let Some(s) = Setup::with_root(None, &["--quota", "2M"]) else { return };
    random_files(&s.source, 3, 1 << 20, 4);
    let run = s.oe(&["mirror", "run"]).failure(10);
    assert!(run.stderr.contains("over its quota"), "{}", run.stderr);
    assert!(s.serve_log().contains("REFUSED write of pack"), "{}", s.serve_log());
    let used: u64 = walk_size(&s.repo());
    assert!(used <= 2 << 20, "{used} bytes stored");
    assert!(s.temps().is_empty());
    let list = s.server(&["--json", "list"]).success();
    assert!(list.stdout.contains(&(2u64 << 20).to_string()), "{}", list.stdout);
}

fn walk_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() { walk_size(&e.path()) } else { meta.len() }
        })
        .sum()
}

#[test]
fn one_writer_at_a_time_and_a_dead_session_releases_its_lock() {
    let Some(s) = Setup::new() else { return };
    random_files(&s.source, 1, 1000, 5);
    let mut holder = s.raw(CLIENT);
    assert_eq!(holder.call(&Request::Lock { mode: LockMode::Exclusive }), Response::Ok);
    let run = s.oe(&["mirror", "run"]).failure(9);
    assert!(run.stderr.contains("a raw test session"), "names the holder: {}", run.stderr);
    // A reader is refused too while a writer holds the lock.
    s.oe(&["mirror", "snapshots"]).failure(9);
    // The holder is killed (its ssh, then sshd ends the session): the lock goes with it.
    drop(holder);
    wait_for("the session to end", Duration::from_secs(20), || serve_pids(&s.root).is_empty());
    s.run();
}

#[test]
fn a_run_killed_on_either_side_mid_upload_leaves_a_repository_the_next_run_completes() {
    let Some(s) = Setup::new() else { return };
    random_files(&s.source, 12, 5 << 20, 6);
    let packs = || walk_count(&s.repo().join("data"));

    // kill -9 of the client once the first packs arrived.
    let mut client = s
        .env
        .oe()
        .args(["mirror", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a first pack", Duration::from_secs(60), || packs() >= 1);
    client.kill().unwrap();
    client.wait().unwrap();
    let after_client_kill = packs();

    // The next run resumes: what arrived is not sent again; then kill -9 of `oe serve`.
    fs::write(s.source.join("more"), vec![9u8; 100]).unwrap();
    let client = s
        .env
        .oe()
        .args(["-v", "mirror", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("another pack", Duration::from_secs(60), || packs() > after_client_kill);
    for pid in serve_pids(&s.root) {
        // SAFETY: kill(2) of a pid just read from /proc.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let out = client.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("connection to") && stderr.contains("was lost"), "{stderr}");

    // A last run completes and restores; it sent only what was missing.
    let run = s.oe(&["-v", "mirror", "run"]).success();
    let total = 12 * (5 << 20) as u64;
    let sent = transfer(&run, " bytes sent");
    assert!(sent < total * 9 / 10, "sent {sent} of {total}: the first runs' packs were reused");
    assert!(s.temps().is_empty(), "the writer's lock removed what the killed serve left");
    s.restore_and_compare();
    s.oe(&["mirror", "check", "--read-data"]).success();
}

fn walk_count(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() { walk_count(&e.path()) } else { 1 }
        })
        .sum()
}

#[test]
fn a_full_disk_on_the_server_fails_the_run_and_keeps_the_repository_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    fs::create_dir(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&mount)
        .status()
        .is_ok_and(|s| s.success());
    if crate::support::skip_unless_available(
        (!mounted).then_some("mounting a tmpfs"),
        "run the tests as root",
    ) {
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let Some(s) = Setup::with_root(Some(mount.join("root")), &[]) else { return };
    random_files(&s.source, 2, 1 << 20, 7);
    s.run();
    random_files(&s.source, 6, 2 << 20, 8);
    s.oe(&["mirror", "run"]).failure(7).stderr_has("disk is full");
    assert!(s.temps().is_empty());
    // What is there is whole: the first snapshot restores.
    for f in fs::read_dir(s.source.join("d0")).unwrap() {
        let f = f.unwrap();
        if f.file_name() != "f0" {
            fs::remove_file(f.path()).unwrap();
        }
    }
    for d in ["d1", "d2"] {
        let _ = fs::remove_dir_all(s.source.join(d));
    }
    random_files(&s.source, 2, 1 << 20, 7);
    s.oe(&["mirror", "check", "--read-data"]).success();
    s.restore_and_compare();
}

#[test]
fn a_client_that_stops_talking_is_dropped() {
    let env = TestEnv::new();
    let root = env.path("root");
    env.run(&["server", "init", root.to_str().unwrap()]).success();
    let key = ClientKey::generate(&env.path("home"), "k");
    let keys = env.path("authorized_keys");
    env.run(&[
        "server",
        "--root",
        root.to_str().unwrap(),
        "add-key",
        CLIENT,
        &key.public,
        "--authorized-keys",
        keys.to_str().unwrap(),
    ])
    .success();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_oe"))
        .args([
            "serve",
            "--root",
            root.to_str().unwrap(),
            "--client",
            CLIENT,
            "--idle-timeout",
            "1s",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to = serve.stdin.take().unwrap();
    let hello =
        Request::Hello { version: protocol::VERSION, client: CLIENT.into(), by: "mute".into() };
    protocol::write_request(&mut to, &hello).unwrap();
    // Half a frame, then silence.
    to.write_all(&[0, 0, 0, 9, 2]).unwrap();
    to.flush().unwrap();
    let started = Instant::now();
    let out = serve.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    let log = fs::read_to_string(root.join("clients").join(CLIENT).join("serve.log")).unwrap();
    assert!(log.contains("REFUSED the client stayed silent"), "{log}");
    drop(to);
}

#[test]
fn a_staging_host_restores_production_from_the_server_with_a_read_only_key() {
    let Some(s) = Setup::new() else { return };
    let cluster = crate::cluster::cluster();
    let db = cluster.unique_db("remote_prod");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");
    s.oe(&["load", "odoo", fixture, &db]).success();
    s.oe(&["backup", "odoo", "-d", &db]).success();
    s.run();
    fs::remove_dir_all(s.source.join(&db)).unwrap();

    let reader = ClientKey::generate(&s.env.path("home"), "id_staging");
    s.server_keys(&["add-key", CLIENT, &reader.public, "--read-only"]).success();
    s.configure(&s.sshd.url(CLIENT), &reader.private);
    let target = cluster.unique_db("remote_staging");
    let url = s.sshd.url(CLIENT);
    s.oe(&["restore", "odoo", "--from", &url, "--source-db", &db, "-d", &target])
        .success()
        .stdout_has(&db);
    assert_eq!(cluster.fingerprint(&target), cluster.fingerprint(&db));
    let filestore =
        |name: &str| crate::support::tree(&s.env.path("odoo-data/filestore").join(name));
    assert!(!filestore(&target).is_empty());
    assert_eq!(filestore(&target), filestore(&db));
    assert!(s.serve_log().contains("(read-only key)"), "{}", s.serve_log());
}

#[test]
fn the_daemons_mirror_job_sends_the_night_off_site_and_refuses_client_side_retention() {
    let Some(s) = Setup::new() else { return };
    random_files(&s.source, 2, 200_000, 9);
    let config = s.env.read_config();
    let job = |mirror: &str| {
        format!("{config}jobs:\n  off-site:\n    schedule: '@daily'\n    mirror: {mirror}\n")
    };
    s.env.write_config(&job("{}"));
    s.oe(&["daemon", "--once"]).success();
    let snapshots = s.oe(&["--json", "mirror", "snapshots"]).success();
    let listed: serde_json::Value = serde_json::from_str(snapshots.stdout.trim()).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(walk_count(&s.repo().join("snapshots")), 1);

    s.env.write_config(&job("{retention: {daily: 7}}"));
    s.oe(&["daemon", "--once"]).failure(2).stderr_has("oe server forget");
}

#[test]
fn an_encrypted_repository_is_made_by_its_client_and_read_over_ssh_locally_and_through_s3() {
    // The server root inside the bucket directory of an S3 server over a directory: one
    // repository, read three ways.
    let Some(s3) = crate::s3d::S3d::start(crate::s3d::Kind::S3sFs) else { return };
    let bucket = s3.bucket_dir(crate::s3d::BUCKET).unwrap();
    let Some(s) = Setup::with_root(Some(bucket.join("srv")), &["--encrypted"]) else { return };
    assert!(s.repo().is_dir() && !s.repo().join("config").exists(), "left for the client");
    random_files(&s.source, 3, 1 << 20, 11);
    fs::write(s.source.join("notes.txt"), "the client's own words\n".repeat(100)).unwrap();
    let client = [("OE_PASSPHRASE", "client words")];
    let as_client = |args: &[&str]| s.env.run_with_env(args, &client);

    as_client(&["mirror", "run"]).failure(2).stderr_has("oe mirror init");
    as_client(&["mirror", "init", "--encrypt"]).success().stdout_has("encrypted");
    as_client(&["mirror", "init", "--encrypt"]).failure(2).stderr_has("already holds");
    let config = fs::read_to_string(s.repo().join("config")).unwrap();
    assert!(config.contains("\"encryption\""), "{config}");
    assert_eq!(walk_count(&s.repo().join("keys")), 1);
    as_client(&["mirror", "run"]).success();
    fs::write(s.source.join("notes.txt"), "changed\n").unwrap();
    as_client(&["mirror", "run"]).success();
    s.oe(&["mirror", "snapshots"]).failure(2).stderr_has("is encrypted");

    // Retention on the server needs a key of its own, which the client adds over SSH.
    let server_words = [("OE_PASSPHRASE", "the server's words")];
    let root = s.root.to_str().unwrap();
    let server = |args: &[&str], vars: &[(&str, &str)]| {
        let mut all = vec!["server", "--root", root];
        all.extend_from_slice(args);
        s.env.run_with_env(&all, vars)
    };
    let forget = ["forget", "--client", CLIENT, "--keep-last", "1"];
    server(&forget, &[]).failure(2).stderr_has("is encrypted");
    s.env
        .run_with_env(
            &["mirror", "key", "add"],
            &[client[0], ("OE_NEW_PASSPHRASE", "the server's words")],
        )
        .success();
    assert_eq!(walk_count(&s.repo().join("keys")), 2);
    server(&forget, &server_words).success();
    assert_eq!(walk_count(&s.repo().join("snapshots")), 1);
    server(&["prune", "--client", CLIENT], &server_words).success();
    let file = s.env.path("server/passphrase");
    fs::write(&file, "the server's words\n").unwrap();
    fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let file = file.to_str().unwrap();
    server(&["check", "--client", CLIENT, "--read-data", "--passphrase-file", file], &[]).success();

    // Over SSH, in the server's directory, and through S3: the same snapshot, the same files.
    let ids = |run: Run| -> Vec<String> {
        let listed: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        listed.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().into()).collect()
    };
    let over_ssh = ids(as_client(&["--json", "mirror", "snapshots"]).success());
    assert_eq!(over_ssh.len(), 1);
    let local = s.repo();
    let local = local.to_str().unwrap();
    // With the server's key, through the flag.
    let by_file = ["--json", "mirror", "-r", local, "--passphrase-file", file, "snapshots"];
    assert_eq!(ids(s.oe(&by_file).success()), over_ssh);
    let credentials = s3.write_credentials(&s.env.path("s3-credentials"), crate::s3d::SECRET_KEY);
    let prefix = format!("srv/clients/{CLIENT}/repo");
    s.env.write_config(&format!(
        "{}mirror:\n{}  cache_dir: {}\n",
        s.base,
        s3.mirror_config(&prefix, &credentials),
        json(s.env.path("s3-cache")),
    ));
    assert_eq!(ids(as_client(&["--json", "mirror", "snapshots"]).success()), over_ssh);
    let target = s.env.path("restored-from-s3");
    let dir = s.source.to_str().unwrap();
    let restore = ["mirror", "restore", "latest", "--dir", dir, "--target"];
    as_client(&[&restore[..], &[target.to_str().unwrap()]].concat()).success();
    crate::support::assert_same_tree(&s.source, &target);
    as_client(&["mirror", "check", "--read-data"]).success();
}
