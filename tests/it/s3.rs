//! `oe mirror` on S3-compatible object storage, for real: SeaweedFS and s3s-fs on loopback
//! (`s3d`). Covers init, runs (packs in multipart uploads), restore, check, forget and prune
//! on each; injected 500s, slow answers and connections cut mid-upload; the server killed
//! mid-upload and restarted; `oe` killed mid-upload, then a resumed run; a stale lock of a
//! dead run and a live one; the same repository read as a directory and as a bucket; and
//! credentials refused, missing or readable by others; and the storage calls themselves.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::s3d::{FaultProxy, Kind, S3d, SECRET_KEY};
use crate::support::{assert_same_tree, random_bytes, tree};
use crate::testenv::{Run, TestEnv};

struct Setup {
    env: TestEnv,
    /// The test environment's own config (its PostgreSQL service), kept in every rewrite.
    base: String,
    server: S3d,
    credentials: PathBuf,
    source: PathBuf,
    /// The passphrase file the config names, for an encrypted repository.
    passphrase: Option<PathBuf>,
}

impl Setup {
    /// A server of `kind` and a config naming `s3://backups/acme` on it, with a passphrase
    /// file ([`PASSPHRASE`]) when `encrypted`.
    fn with(kind: Kind, encrypted: bool) -> Option<Setup> {
        let mut setup = Setup::new(kind)?;
        if encrypted {
            let file = setup.env.path("passphrase");
            fs::write(&file, format!("{PASSPHRASE}\n")).unwrap();
            fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            setup.passphrase = Some(file);
            setup.configure(&setup.server.endpoint(), "acme");
        }
        Some(setup)
    }

    fn new(kind: Kind) -> Option<Setup> {
        let server = S3d::start(kind)?;
        let env = TestEnv::new();
        let base = env.read_config();
        let credentials = server.write_credentials(&env.path("credentials"), SECRET_KEY);
        let source = env.path("source");
        fs::create_dir_all(&source).unwrap();
        let setup = Setup { env, base, server, credentials, source, passphrase: None };
        setup.configure(&setup.server.endpoint(), "acme");
        Some(setup)
    }

    /// The config: `s3://backups/PREFIX` at `endpoint`, mirroring `source/` (also the backup
    /// directory), with a cache of the index in the test directory.
    fn configure(&self, endpoint: &str, prefix: &str) {
        let yaml = format!(
            "{}backup_dir: {}\nmirror:\n  repository: s3://{}/{prefix}\n  s3: {{endpoint: {endpoint}, \
             credentials_file: {}}}\n  cache_dir: {}\n  dirs:\n    {}: {{}}\n{}",
            self.base,
            json(&self.source),
            crate::s3d::BUCKET,
            json(&self.credentials),
            json(&self.env.path("cache")),
            json(&self.source),
            match &self.passphrase {
                Some(file) => format!("  passphrase_file: {}\n", json(file)),
                None => String::new(),
            },
        );
        self.env.write_config(&yaml);
    }

    fn oe(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    /// `oe mirror run`; the snapshot's id.
    fn run(&self) -> String {
        let run = self.oe(&["--json", "mirror", "run"]).success();
        let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        report["dirs"][0]["snapshot"].as_str().expect("a snapshot id").to_owned()
    }

    /// Restores `snapshot` of the source and asserts it equals `expected`.
    fn assert_restores(&self, snapshot: &str, expected: &Path) {
        let target = self.env.path(&format!("restored-{snapshot}"));
        let dir = self.source.to_str().unwrap();
        let target_arg = target.to_str().unwrap();
        self.oe(&["mirror", "restore", snapshot, "--dir", dir, "--target", target_arg]).success();
        assert_same_tree(expected, &target);
    }
}

const PASSPHRASE: &str = "correct horse battery staple";

fn json(path: &Path) -> String {
    serde_json::to_string(path.to_str().unwrap()).unwrap()
}

/// Files of every size class: small text, a tree, and 20 MiB that does not compress (more
/// than one pack, each sent in parts).
fn fill(source: &Path, seed: u64) {
    fs::create_dir_all(source.join("filestore/ab")).unwrap();
    for i in 0..50 {
        fs::write(source.join(format!("filestore/ab/file{i}")), format!("{seed} content {i}\n"))
            .unwrap();
    }
    fs::write(source.join("big.bin"), random_bytes(seed, 20 << 20)).unwrap();
}

fn every_command_on(kind: Kind, encrypted: bool) {
    let Some(s) = Setup::with(kind, encrypted) else { return };
    if encrypted {
        s.oe(&["mirror", "init", "--encrypt"]).success().stdout_has("created an encrypted");
    } else {
        s.oe(&["mirror", "init"]).success().stdout_has("created the repository s3://backups/acme");
    }
    s.oe(&["mirror", "init"]).failure(2).stderr_has("not empty");

    fill(&s.source, 1);
    let first = s.run();
    let unchanged = s.run();
    s.assert_restores(&first, &s.source);
    s.oe(&["mirror", "check", "--read-data"]).success();
    if let Some(bucket) = s.server.bucket_dir(crate::s3d::BUCKET) {
        let packs = fs::read_dir(bucket.join("acme/data")).unwrap().count();
        assert!(packs >= 2, "20 MiB of random bytes fill at least two packs, found {packs}");
    }

    fs::write(s.source.join("big.bin"), random_bytes(2, 20 << 20)).unwrap();
    let changed = s.run();
    let snapshots = s.oe(&["--json", "mirror", "snapshots"]).success();
    for id in [&first, &unchanged, &changed] {
        assert!(snapshots.stdout.contains(id.as_str()), "{id} not listed: {}", snapshots.stdout);
    }
    s.oe(&["mirror", "forget", "--keep-last", "1"]).success();
    s.oe(&["mirror", "prune"]).success();
    let snapshots = s.oe(&["--json", "mirror", "snapshots"]).success();
    assert!(!snapshots.stdout.contains(first.as_str()), "{}", snapshots.stdout);
    s.oe(&["mirror", "check", "--read-data"]).success();
    s.assert_restores(&changed, &s.source);

    // The daemon's mirror job: the night's snapshot, then its retention (on S3 the client
    // runs it), with the passphrase from the config's file when encrypted.
    let config = s.env.read_config();
    s.env.write_config(&format!(
        "{config}jobs:\n  off-site:\n    schedule: '@daily'\n    mirror: {{retention: {{within: 0s, last: 1}}}}\n"
    ));
    fs::write(s.source.join("tonight.txt"), "the daemon's night\n").unwrap();
    s.oe(&["daemon", "--once"]).success();
    let snapshots = s.oe(&["--json", "mirror", "snapshots"]).success();
    let listed: serde_json::Value = serde_json::from_str(snapshots.stdout.trim()).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "retention kept the newest only: {listed:?}");
    let tonight = listed[0]["id"].as_str().unwrap();
    assert_ne!(tonight, changed);
    s.assert_restores(tonight, &s.source);
}

#[test]
fn every_mirror_command_on_seaweedfs() {
    every_command_on(Kind::Seaweed, false);
}

#[test]
fn every_mirror_command_on_s3s_fs() {
    every_command_on(Kind::S3sFs, false);
}

#[test]
fn every_mirror_command_on_seaweedfs_encrypted() {
    every_command_on(Kind::Seaweed, true);
}

#[test]
fn every_mirror_command_on_s3s_fs_encrypted() {
    every_command_on(Kind::S3sFs, true);
}

#[test]
fn a_run_survives_server_errors_slow_answers_and_cut_connections() {
    let Some(s) = Setup::new(Kind::Seaweed) else { return };
    s.oe(&["mirror", "init"]).success();
    fill(&s.source, 3);
    let proxy = FaultProxy::start(port_of(&s.server.endpoint()), 3);
    s.configure(&proxy.endpoint(), "acme");
    let snapshot = s.run();
    let stats = &proxy.stats;
    let (errors, resets, delays) =
        (stats.errors.load(Relaxed), stats.resets.load(Relaxed), stats.delays.load(Relaxed));
    assert_eq!((errors, resets, delays), (1, 3, 1), "500s, cuts and delays");
    s.configure(&s.server.endpoint(), "acme");
    s.oe(&["mirror", "check", "--read-data"]).success();
    s.assert_restores(&snapshot, &s.source);
}

fn port_of(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn a_server_killed_mid_upload_and_restarted_then_oe_killed_mid_upload_and_run_again() {
    let Some(mut s) = Setup::new(Kind::S3sFs) else { return };
    s.oe(&["mirror", "init"]).success();
    fill(&s.source, 4);
    for seed in 5..8 {
        fs::write(s.source.join(format!("more{seed}.bin")), random_bytes(seed, 20 << 20)).unwrap();
    }
    let data = s.server.bucket_dir(crate::s3d::BUCKET).unwrap().join("acme/data");

    // The server dies with the first pack stored; back 2 s later, the run goes on.
    let run = s.env.oe().args(["mirror", "run"]).stdout(Stdio::null()).spawn().unwrap();
    wait_for(|| fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some()), "a first pack");
    s.server.kill();
    std::thread::sleep(Duration::from_secs(2));
    s.server.restart();
    let output = run.wait_with_output().unwrap();
    assert!(output.status.success(), "the run did not survive the restart: {output:?}");
    s.oe(&["mirror", "check", "--read-data"]).success();

    // oe dies mid-upload; the next run resumes and sends what is missing.
    fs::write(s.source.join("more5.bin"), random_bytes(9, 20 << 20)).unwrap();
    fs::write(s.source.join("more6.bin"), random_bytes(10, 20 << 20)).unwrap();
    let packs_before = count_files(&data);
    let mut run = s.env.oe().args(["mirror", "run"]).stdout(Stdio::null()).spawn().unwrap();
    wait_for(|| count_files(&data) > packs_before, "a new pack");
    run.kill().unwrap();
    run.wait().unwrap();
    let snapshot = s.run();
    s.oe(&["mirror", "check", "--read-data"]).success();
    s.assert_restores(&snapshot, &s.source);
}

/// A server that forgets a multipart upload midway, as one restarted mid-upload may (s3s-fs
/// then answers 403 for its parts and completion, others 404 `NoSuchUpload`), does not fail
/// the run: the pack is looked for and uploaded again.
#[test]
fn a_multipart_upload_the_server_forgot_is_started_again() {
    let Some(s) = Setup::new(Kind::S3sFs) else { return };
    s.oe(&["mirror", "init"]).success();
    fs::write(s.source.join("big.bin"), random_bytes(11, 40 << 20)).unwrap();
    // The first upload is forgotten while its parts are on their way.
    let root = s.server.bucket_dir(crate::s3d::BUCKET).unwrap().parent().unwrap().to_owned();
    let mut run = s.env.oe();
    run.args(["--json", "mirror", "run"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let run = run.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !forget_uploads(&root) {
        assert!(Instant::now() < deadline, "no multipart upload within 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    let output = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the run failed: {stderr}");
    assert!(stderr.contains("trying again"), "the forgotten upload was not retried: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let snapshot = report["dirs"][0]["snapshot"].as_str().expect("a snapshot id");
    s.oe(&["mirror", "check", "--read-data"]).success();
    s.assert_restores(snapshot, &s.source);
}

/// A server that forgets every multipart upload fails the run once its attempts are spent,
/// with the exit code of the server's answer (403: refused, as credentials are).
#[test]
fn a_multipart_upload_the_server_keeps_forgetting_fails_with_its_answer() {
    let Some(s) = Setup::new(Kind::S3sFs) else { return };
    s.oe(&["mirror", "init"]).success();
    fs::write(s.source.join("big.bin"), random_bytes(12, 40 << 20)).unwrap();
    let root = s.server.bucket_dir(crate::s3d::BUCKET).unwrap().parent().unwrap().to_owned();
    let log = s.env.path("run.log");
    let mut run = s.env.oe();
    run.args(["mirror", "run"]).stdout(Stdio::null());
    let mut run = run.stderr(fs::File::create(&log).unwrap()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut forgotten = 0;
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not end within 120 s");
        forgotten += usize::from(forget_uploads(&root));
        std::thread::sleep(Duration::from_millis(1));
    };
    let stderr = fs::read_to_string(&log).unwrap();
    assert!(forgotten >= 3, "{forgotten} uploads forgotten: {stderr}");
    assert_eq!(status.code(), Some(6), "{stderr}");
    let error = stderr.lines().find(|l| l.starts_with("ERROR")).expect("an error");
    assert!(error.contains("lacked the necessary privileges"), "{error}");
    assert!(!error.contains("Generic"), "the server's own answer is reported: {error}");
}

/// Makes s3s-fs forget the multipart uploads in progress by removing their records
/// (`.upload-ID.json` at its root, deleted by the server when an upload completes); whether
/// one was removed.
fn forget_uploads(root: &Path) -> bool {
    let mut forgot = false;
    for entry in fs::read_dir(root).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".upload-") && name.ends_with(".json") {
            forgot |= fs::remove_file(entry.path()).is_ok();
        }
    }
    forgot
}

fn count_files(dir: &Path) -> usize {
    let Ok(subdirs) = fs::read_dir(dir) else { return 0 };
    subdirs.flatten().map(|d| fs::read_dir(d.path()).map_or(0, |f| f.count())).sum()
}

fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "no {what} within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_dead_runs_lock_is_removed_and_a_live_one_refuses() {
    let Some(s) = Setup::new(Kind::S3sFs) else { return };
    s.oe(&["mirror", "init"]).success();
    fill(&s.source, 11);
    let locks = s.server.bucket_dir(crate::s3d::BUCKET).unwrap().join("acme/locks");
    fs::create_dir_all(&locks).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let lock = |host: &str, age: u64| {
        serde_json::json!({"host": host, "pid": 1, "mode": "exclusive", "time": now.as_secs() - age})
            .to_string()
    };
    // A run on another host that stopped refreshing its lock 31 minutes ago.
    fs::write(locks.join("elsewhere-1-0"), lock("elsewhere", 31 * 60)).unwrap();
    s.run();
    assert!(!locks.join("elsewhere-1-0").exists(), "the stale lock was left");

    fs::write(locks.join("elsewhere-1-1"), lock("elsewhere", 60)).unwrap();
    s.oe(&["mirror", "run"]).failure(9).stderr_has("pid 1 on elsewhere");
    fs::remove_file(locks.join("elsewhere-1-1")).unwrap();
    s.run();
}

#[test]
fn one_repository_read_as_a_directory_and_as_a_bucket() {
    let Some(s) = Setup::new(Kind::S3sFs) else { return };
    let dir = s.server.bucket_dir(crate::s3d::BUCKET).unwrap().join("acme");
    let dir_arg = dir.to_str().unwrap();
    fill(&s.source, 12);
    s.oe(&["mirror", "--repository", dir_arg, "init"]).success();
    let local = s.oe(&["--json", "mirror", "--repository", dir_arg, "run"]).success();
    let local: serde_json::Value = serde_json::from_str(local.stdout.trim()).unwrap();
    let local = local["dirs"][0]["snapshot"].as_str().unwrap().to_owned();
    s.assert_restores(&local, &s.source);

    fs::write(s.source.join("new"), "written through S3").unwrap();
    let remote = s.run();
    s.oe(&["mirror", "--repository", dir_arg, "check", "--read-data"]).success();
    let listed = s.oe(&["--json", "mirror", "--repository", dir_arg, "snapshots"]).success();
    assert!(listed.stdout.contains(&remote), "{}", listed.stdout);
}

#[test]
fn credentials_refused_missing_or_readable_by_others_are_clear_errors() {
    let Some(s) = Setup::new(Kind::Seaweed) else { return };
    s.server.write_credentials(&s.credentials, "not-the-secret");
    s.oe(&["mirror", "init"]).failure(6).stderr_has("s3://backups/acme");

    s.server.write_credentials(&s.credentials, SECRET_KEY);
    fs::set_permissions(&s.credentials, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    s.oe(&["mirror", "init"]).failure(2).stderr_has("chmod 600");

    let yaml = s
        .env
        .read_config()
        .replace(&format!("credentials_file: {}", json(&s.credentials)), "credentials_file: null");
    s.env.write_config(&yaml);
    s.oe(&["mirror", "init"]).failure(2).stderr_has("no S3 credentials");
}

#[test]
fn a_backup_restores_from_a_bucket() {
    use crate::cluster::cluster;
    let Some(s) = Setup::new(Kind::Seaweed) else { return };
    s.oe(&["mirror", "init"]).success();
    let db = cluster().unique_db("s3_orig");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");
    s.oe(&["load", "odoo", fixture, &db]).success();
    s.oe(&["backup", "odoo", "-d", &db]).success();
    s.run();
    fs::remove_dir_all(&s.source).unwrap();

    let target = cluster().unique_db("s3_new");
    let from = "s3://backups/acme";
    s.oe(&["restore", "odoo", "--from", from, "--source-db", &db, "-d", &target]).success();
    assert_eq!(cluster().fingerprint(&target), cluster().fingerprint(&db));
    let filestore = |db: &str| crate::support::tree(&s.env.path("odoo-data/filestore").join(db));
    assert!(!filestore(&target).is_empty());
    assert_eq!(filestore(&target), filestore(&db));
}

/// The storage calls themselves on each server: what exists is never overwritten (but the
/// config and lock objects), multipart objects read back by range across parts, listing
/// sees only the layout's names, deletes are idempotent, bad names are refused.
fn storage_calls_on(kind: Kind) {
    use oe::config::{S3Options, S3Url};
    use oe::remote::s3::{MULTIPART_OVER, S3Storage};
    use oe::repo::{ObjectKind, Storage};
    let Some(s) = Setup::new(kind) else { return };
    let url = S3Url { bucket: crate::s3d::BUCKET.into(), prefix: "calls/x".into() };
    let options = S3Options {
        endpoint: Some(s.server.endpoint()),
        credentials_file: Some(s.credentials.clone()),
        ..S3Options::default()
    };
    let storage = S3Storage::connect(&url, &options).unwrap();
    let name = "ab".repeat(32);

    storage.put(ObjectKind::Snapshot, &name, b"first").unwrap();
    storage.put(ObjectKind::Snapshot, &name, b"second").unwrap();
    assert_eq!(storage.get(ObjectKind::Snapshot, &name).unwrap(), b"first");
    storage.put(ObjectKind::Lock, "host-1-0", b"1").unwrap();
    storage.put(ObjectKind::Lock, "host-1-0", b"2").unwrap();
    assert_eq!(storage.get(ObjectKind::Lock, "host-1-0").unwrap(), b"2");

    let big = random_bytes(21, MULTIPART_OVER * 2 + 1000);
    storage.put(ObjectKind::Pack, &name, &big).unwrap();
    storage.put(ObjectKind::Pack, &name, &random_bytes(22, big.len())).unwrap();
    assert_eq!(storage.size(ObjectKind::Pack, &name).unwrap(), big.len() as u64);
    let across = (MULTIPART_OVER - 100) as u64;
    let range = storage.get_range(ObjectKind::Pack, &name, across, 300).unwrap();
    assert_eq!(range, &big[across as usize..across as usize + 300]);
    assert!(storage.get_range(ObjectKind::Pack, &name, big.len() as u64 - 10, 20).is_err());
    assert!(storage.get(ObjectKind::Pack, &name).unwrap() == big, "the first pack was replaced");

    assert_eq!(storage.list(ObjectKind::Pack).unwrap(), [name.as_str()]);
    assert_eq!(storage.list(ObjectKind::Snapshot).unwrap(), [name.as_str()]);
    assert!(storage.list(ObjectKind::Config).unwrap().is_empty());
    let missing = storage.get(ObjectKind::Index, &name).unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound, "{missing}");
    for bad in ["../x", "a/b", ".hidden", ""] {
        assert!(storage.put(ObjectKind::Index, bad, b"x").is_err(), "{bad}");
    }
    storage.delete(ObjectKind::Pack, &name).unwrap();
    storage.delete(ObjectKind::Pack, &name).unwrap();
    assert!(storage.list(ObjectKind::Pack).unwrap().is_empty());
}

#[test]
fn storage_calls_on_seaweedfs() {
    storage_calls_on(Kind::Seaweed);
}

#[test]
fn storage_calls_on_s3s_fs() {
    storage_calls_on(Kind::S3sFs);
}

/// Whether an object below `dir` holds `needle`.
fn holds(dir: &Path, needle: &[u8]) -> bool {
    tree(dir).values().any(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
}

/// Flips one byte in the middle of `file`; returns its old bytes.
fn flip(file: &Path) -> Vec<u8> {
    let old = fs::read(file).unwrap();
    let mut bytes = old.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    fs::write(file, bytes).unwrap();
    old
}

#[test]
fn an_encrypted_repository_hides_content_and_refuses_wrong_keys_tampering_and_swaps() {
    let Some(s) = Setup::with(Kind::S3sFs, true) else { return };
    let bucket = s.server.bucket_dir(crate::s3d::BUCKET).unwrap();
    fill(&s.source, 31);
    let secret = random_bytes(32, 1 << 20);
    fs::write(s.source.join("secret.bin"), &secret).unwrap();
    let needle = &secret[500_000..500_064];

    // The same tree in a plain repository: its bytes are there, as stored.
    let passphrase = s.passphrase.clone();
    let plain = Setup { passphrase: None, ..s };
    plain.configure(&plain.server.endpoint(), "plain");
    plain.oe(&["mirror", "init"]).success();
    plain.run();
    assert!(holds(&bucket.join("plain"), needle), "a plain repository stores bytes");
    let s = Setup { passphrase, ..plain };
    s.configure(&s.server.endpoint(), "acme");

    s.oe(&["mirror", "init", "--encrypt"]).success();
    let first = s.run();
    fs::write(s.source.join("filestore/ab/file0"), "changed").unwrap();
    let second = s.run();
    s.assert_restores(&second, &s.source);
    s.oe(&["mirror", "check", "--read-data"]).success();
    let repo = bucket.join("acme");
    assert!(!holds(&repo, needle), "content is stored in the clear");

    // Wrong or missing passphrase.
    let wrong = [("OE_PASSPHRASE", "wrong")];
    s.env.run_with_env(&["mirror", "snapshots"], &wrong).failure(4).stderr_has("passphrase");
    let config = s.env.read_config();
    s.env.write_config(&config.replace("passphrase_file", "#"));
    s.oe(&["mirror", "snapshots"]).failure(2).stderr_has("is encrypted");
    s.env.write_config(&config);

    // A flipped byte in a pack, an index file, a snapshot: exit 4, never garbage.
    let packs = tree(&repo.join("data"));
    let largest = packs.iter().max_by_key(|(_, bytes)| bytes.len()).unwrap().0;
    let pack = repo.join("data").join(largest);
    let old = flip(&pack);
    s.oe(&["mirror", "check", "--read-data"]).failure(4);
    let target = s.env.path("tampered");
    let dir = s.source.to_str().unwrap();
    let restore =
        ["mirror", "restore", &second, "--dir", dir, "--target", target.to_str().unwrap()];
    s.oe(&restore).failure(4).stderr_has("does not decrypt");
    fs::write(&pack, old).unwrap();
    let index = repo.join("index").join(tree(&repo.join("index")).keys().next().unwrap());
    let old = flip(&index);
    s.oe(&["mirror", "check"]).failure(4);
    fs::write(&index, old).unwrap();
    let snapshot = repo.join("snapshots").join(&second);
    let old = flip(&snapshot);
    // (`snapshots` reads the local cache of what this host wrote; `check` reads the storage.)
    s.oe(&["mirror", "check"]).failure(4).stderr_has(&second);
    fs::write(&snapshot, old).unwrap();
    s.oe(&["mirror", "check", "--read-data"]).success();

    // Two snapshots swapped; a snapshot offered as an index file under its own name.
    let other = repo.join("snapshots").join(&first);
    let (a, b) = (fs::read(&snapshot).unwrap(), fs::read(&other).unwrap());
    fs::write(&snapshot, &b).unwrap();
    fs::write(&other, &a).unwrap();
    s.oe(&["mirror", "check"]).failure(4).stderr_has("does not match its name");
    fs::write(&snapshot, &a).unwrap();
    fs::write(&other, &b).unwrap();
    let replayed = repo.join("index").join(&second);
    fs::copy(&snapshot, &replayed).unwrap();
    s.oe(&["mirror", "check"]).failure(4);
    fs::remove_file(&replayed).unwrap();
    s.oe(&["mirror", "check", "--read-data"]).success();

    // Keys: add, passwd, remove; never the last.
    let first_key = key_ids(&s, &[])[0].clone();
    let new = [("OE_NEW_PASSPHRASE", "second words")];
    s.env.run_with_env(&["mirror", "key", "add"], &new).success();
    assert_eq!(key_ids(&s, &[]).len(), 2);
    let second_pass = [("OE_PASSPHRASE", "second words")];
    s.env.run_with_env(&["mirror", "snapshots"], &second_pass).success();
    let third = [("OE_PASSPHRASE", "second words"), ("OE_NEW_PASSPHRASE", "third words")];
    s.env.run_with_env(&["mirror", "key", "passwd"], &third).success();
    assert_eq!(key_ids(&s, &[]).len(), 2, "passwd replaces the key in use");
    s.env.run_with_env(&["mirror", "snapshots"], &second_pass).failure(4);
    s.env.run_with_env(&["mirror", "snapshots"], &[("OE_PASSPHRASE", "third words")]).success();
    s.oe(&["mirror", "key", "remove", &first_key[..12]]).success();
    s.oe(&["mirror", "snapshots"]).failure(4);
    let only = [("OE_PASSPHRASE", "third words")];
    let last = key_ids(&s, &only).pop().unwrap();
    s.env.run_with_env(&["mirror", "key", "remove", &last], &only).failure(2).stderr_has("last");
    s.env.run_with_env(&["mirror", "check", "--read-data"], &only).success();
}

fn key_ids(s: &Setup, vars: &[(&str, &str)]) -> Vec<String> {
    let listed = s.env.run_with_env(&["--json", "mirror", "key", "list"], vars).success();
    let keys: Vec<serde_json::Value> = serde_json::from_str(listed.stdout.trim()).unwrap();
    keys.iter().map(|k| k["id"].as_str().unwrap().to_owned()).collect()
}
