//! `oe server`: a root made by `init`, keys written to a real `authorized_keys` by `add-key`
//! (once, replaced, refused for another client), `list --json`, `remove-key`, `status
//! --max-age` with fresh, late and empty clients, and `forget` judging snapshots by their
//! arrival (the mtime of their file) and not by the time they claim, refused while a session
//! holds the client's lock.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::testenv::TestEnv;

const KEY1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG/iB8HUSPhLfh3up8NHT6PyC40xTDgO+JJfaFDJUENK root@host2";
/// As `ssh-keygen -lf` printed it for KEY1.
const FP1: &str = "SHA256:2AygTCC4ioFagQnRoC2e7afcu78QB8SYUi/AbT9gLxI";
const KEY2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAvQ6naRjHG8OGx01CFePmOwoDErUXz8Qz8SncXTjqom root@host3";
const FP2: &str = "SHA256:p8KJPXn/jflFivcDIM6IBVAYVpdCEl2bBHGQ96ggl10";
const KEY3: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA8PpG5VOKmXcWW9DauUYUcCLCeUe/qbzGLPo0DKLUdM x";

/// A server root in a test environment, and a source directory to snapshot into it.
struct Server {
    env: TestEnv,
    root: PathBuf,
    source: PathBuf,
}

impl Server {
    fn new() -> Server {
        let env = TestEnv::new();
        let root = env.path("backups");
        let source = env.path("source");
        fs::create_dir_all(&source).unwrap();
        fs::write(source.join("a.txt"), b"first version").unwrap();
        let yaml = format!(
            "mirror:\n  dirs:\n    {}: {{}}\n",
            serde_json::to_string(source.to_str().unwrap()).unwrap()
        );
        env.write_config(&yaml);
        let server = Server { env, root, source };
        server.env.run(&["server", "init", server.root.to_str().unwrap()]).success();
        server
    }

    /// `oe server --root ROOT <args>`.
    fn oe(&self, args: &[&str]) -> crate::testenv::Run {
        let mut all = vec!["server", "--root", self.root.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.oe(&all).success();
        serde_json::from_str(run.stdout.trim()).unwrap()
    }

    fn authorized_keys(&self) -> PathBuf {
        self.env.path("home/.ssh/authorized_keys")
    }

    fn repo(&self, client: &str) -> PathBuf {
        self.root.join("clients").join(client).join("repo")
    }

    /// A snapshot of the source, taken by `oe mirror run` straight into the client's
    /// repository; its id.
    fn snapshot(&self, client: &str) -> String {
        let repo = self.repo(client);
        let run =
            self.env.run(&["--json", "mirror", "-r", repo.to_str().unwrap(), "run"]).success();
        let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
        report["dirs"][0]["snapshot"].as_str().expect("a snapshot id").to_owned()
    }

    /// Makes snapshot `id` of `client` look as if it arrived `days` ago.
    fn arrived(&self, client: &str, id: &str, days: u64) {
        self.arrived_at(client, id, SystemTime::now() - Duration::from_secs(days * 86_400));
    }

    /// Makes snapshot `id` of `client` look as if it arrived at `time`.
    fn arrived_at(&self, client: &str, id: &str, time: SystemTime) {
        let path = self.repo(client).join("snapshots").join(id);
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(time).unwrap();
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn add_key_writes_one_restricted_line_and_list_and_remove_key_see_it() {
    let s = Server::new();
    assert_eq!(mode(&s.root), 0o700);
    s.oe(&["list"]).success().stdout_has("no clients");

    s.oe(&["add-key", "acme.example.com", KEY1, "--quota", "200G"]).success().stdout_has(FP1);
    let file = s.authorized_keys();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert!(s.repo("acme.example.com").join("config").is_file(), "no repository created");
    let first = fs::read(&file).unwrap();
    let oe = fs::canonicalize(env!("CARGO_BIN_EXE_oe")).unwrap();
    let root = fs::canonicalize(&s.root).unwrap();
    let expected = format!(
        "command=\"{} serve --root {} --client acme.example.com\",restrict {KEY1}",
        oe.display(),
        root.display()
    );
    assert_eq!(lines(&file), std::slice::from_ref(&expected));

    // Twice: the same file. Again read-only: the line replaced, still one.
    s.oe(&["add-key", "acme.example.com", KEY1]).success();
    assert_eq!(fs::read(&file).unwrap(), first);
    s.oe(&["add-key", "acme.example.com", KEY1, "--read-only"]).success();
    let read_only = expected.replace("acme.example.com\"", "acme.example.com --read-only\"");
    assert_eq!(lines(&file), std::slice::from_ref(&read_only));

    // The same key for another client, a key with options, a bad name: refused, untouched.
    s.oe(&["add-key", "beta", KEY1]).failure(2).stderr_has("client acme.example.com");
    s.oe(&["add-key", "beta", &format!("restrict {KEY2}")]).failure(2).stderr_has("options");
    s.oe(&["add-key", "../etc", KEY2]).failure(2).stderr_has("invalid client name");
    assert_eq!(lines(&file), [read_only]);
    assert!(!s.root.join("clients/beta").exists());

    // Another client with a line of the user's own kept around it.
    let mut content = fs::read(&file).unwrap();
    content.extend_from_slice(b"# admin\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5 admin\n");
    fs::write(&file, &content).unwrap();
    s.oe(&["add-key", "beta", KEY2]).success();
    assert!(fs::read(&file).unwrap().starts_with(&content));
    let log = s.root.join("clients/beta/serve.log");
    fs::write(&log, "session\nREFUSED delete data/ab\nREFUSED write ../x\n").unwrap();

    let list = s.json(&["list"]);
    let clients = list.as_array().unwrap();
    assert_eq!(clients.len(), 2, "{list}");
    let acme = &clients[0];
    assert_eq!(acme["client"], "acme.example.com");
    assert_eq!(acme["keys"][0]["fingerprint"], FP1);
    assert_eq!(acme["keys"][0]["comment"], "root@host2");
    assert_eq!(acme["keys"][0]["read_only"], true);
    assert_eq!(acme["quota"], 200u64 << 30);
    assert_eq!(acme["snapshots"], 0);
    assert_eq!(acme["last_arrival"], Value::Null);
    assert!(acme["bytes"].as_u64().unwrap() > 0, "{acme}");
    assert_eq!(acme["refused"], 0);
    let beta = &clients[1];
    assert_eq!(beta["client"], "beta");
    assert_eq!(beta["keys"][0]["fingerprint"], FP2);
    assert_eq!(beta["keys"][0]["read_only"], false);
    assert_eq!(beta["quota"], Value::Null);
    assert_eq!(beta["refused"], 2);

    // A snapshot shows in the list; --quota none removes the quota.
    s.snapshot("acme.example.com");
    s.oe(&["add-key", "acme.example.com", KEY1, "--read-only", "--quota", "none"]).success();
    let acme = &s.json(&["list"])[0];
    assert_eq!(acme["snapshots"], 1);
    assert!(acme["last_arrival"].is_string(), "{acme}");
    assert_eq!(acme["quota"], Value::Null);
    // The root from OE_SERVER_ROOT.
    let run = s
        .env
        .run_with_env(&["server", "list"], &[("OE_SERVER_ROOT", s.root.to_str().unwrap())])
        .success();
    assert!(run.stdout.contains("acme.example.com") && run.stdout.contains(FP2), "{run:?}");

    // remove-key: the line goes, the repository and the other lines stay.
    s.oe(&["remove-key", "beta", FP1]).failure(2).stderr_has("no key");
    s.oe(&["remove-key", "acme.example.com"]).success().stdout_has("1 key(s) removed");
    s.oe(&["remove-key", "acme.example.com"]).failure(2);
    assert!(s.repo("acme.example.com").join("config").is_file());
    let left = lines(&file);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left[0] == "# admin" && left[2].contains("--client beta"), "{left:?}");
    let acme = &s.json(&["list"])[0];
    assert_eq!(acme["keys"], serde_json::json!([]));
}

#[test]
fn add_key_takes_the_file_it_is_given() {
    let s = Server::new();
    let file = s.env.path("elsewhere/keys");
    let path = file.to_str().unwrap();
    s.oe(&["add-key", "acme", KEY3, "--authorized-keys", path]).success();
    assert_eq!(lines(&file).len(), 1);
    assert!(!s.authorized_keys().exists());
    let list = s.json(&["list", "--authorized-keys", path]);
    assert_eq!(list[0]["keys"][0]["comment"], "x");
    s.oe(&["remove-key", "acme", "--authorized-keys", path]).success();
    assert!(lines(&file).is_empty());
}

#[test]
fn status_names_every_client_whose_newest_snapshot_is_late() {
    let s = Server::new();
    s.oe(&["add-key", "fresh", KEY1]).success();
    s.snapshot("fresh");
    s.oe(&["status", "--max-age", "26h"]).success().stdout_has("ok    fresh");

    s.oe(&["add-key", "old", KEY2]).success();
    s.oe(&["add-key", "empty", KEY3]).success();
    let id = s.snapshot("old");
    s.arrived("old", &id, 3);
    let run = s.oe(&["status", "--max-age", "26h"]).failure(1);
    let run = run.stderr_has("old (newest 3d 0h ago)").stderr_has("empty (no snapshot)");
    assert!(!run.stderr.contains("fresh"), "{}", run.stderr);

    let run = s.oe(&["--json", "status", "--max-age", "26h"]).failure(1);
    let doc: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let late: Vec<(&str, bool)> = doc["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["client"].as_str().unwrap(), c["late"].as_bool().unwrap()))
        .collect();
    assert_eq!(late, [("empty", true), ("fresh", false), ("old", true)]);
    let age = doc["clients"][2]["age_seconds"].as_i64().unwrap();
    assert!((3 * 86_400..3 * 86_400 + 600).contains(&age), "{age}");

    // A longer limit lets the old one through, not the empty one.
    s.oe(&["status", "--max-age", "4d"]).failure(1).stderr_has("1 client(s)");
}

#[test]
fn forget_judges_snapshots_by_when_they_arrived_not_by_the_time_they_claim() {
    let s = Server::new();
    s.oe(&["add-key", "acme", KEY1]).success();
    let mut ids = Vec::new();
    for n in 0..4 {
        fs::write(s.source.join("a.txt"), format!("version {n}")).unwrap();
        ids.push(s.snapshot("acme"));
    }
    // Each snapshot claims to be newer than the one before; the server received them in the
    // other order: the first one yesterday, the last one 40 days ago.
    for (id, days) in ids.iter().zip([1, 2, 3, 40]) {
        s.arrived("acme", id, days);
    }
    s.oe(&["forget", "--client", "acme"]).failure(2).stderr_has("--keep");

    let plan = s.json(&["forget", "--client", "acme", "--keep-daily", "2", "--dry-run"]);
    let dir = plan["forget"]["dirs"].as_object().unwrap().values().next().unwrap().clone();
    let kept: Vec<&str> =
        dir["keep"].as_array().unwrap().iter().map(|k| k[0].as_str().unwrap()).collect();
    let deleted: Vec<&str> =
        dir["delete"].as_array().unwrap().iter().map(|d| d[0].as_str().unwrap()).collect();
    assert_eq!(kept, [ids[0].as_str(), ids[1].as_str()], "{plan}");
    assert_eq!(deleted, [ids[2].as_str(), ids[3].as_str()], "{plan}");
    // The plan shows the arrival times.
    let yesterday = SystemTime::now() - Duration::from_secs(86_400);
    let unix = yesterday.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((dir["keep"][0][1].as_i64().unwrap() - unix).abs() < 60, "{plan}");
    assert_eq!(snapshot_files(&s, "acme").len(), 4, "a dry run deleted snapshots");

    // A session of `oe serve` holding the client's lock: forget waits for no one, exit 9.
    let lock = s.repo("acme").join("locks/serve-session");
    let holder = serde_json::json!({
        "host": fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim(),
        "pid": std::process::id(),
        "mode": "exclusive",
        "time": SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
        "by": "acme (oe serve session)",
    });
    fs::write(&lock, holder.to_string()).unwrap();
    s.oe(&["forget", "--client", "acme", "--keep-daily", "2"])
        .failure(9)
        .stderr_has("acme (oe serve session)");
    fs::remove_file(&lock).unwrap();

    s.oe(&["forget", "--client", "acme", "--keep-daily", "2", "--prune"]).success();
    let mut left = snapshot_files(&s, "acme");
    left.sort();
    let mut expected = vec![ids[0].clone(), ids[1].clone()];
    expected.sort();
    assert_eq!(left, expected);
    s.oe(&["check", "--client", "acme", "--read-data"]).success().stdout_has("no problem");
    s.oe(&["prune", "--client", "acme", "--dry-run"]).success().stdout_has("would prune");
    s.oe(&["check", "--client", "nobody"]).failure(2).stderr_has("no client nobody");
}

#[test]
fn of_snapshots_that_arrived_in_the_same_second_forget_keeps_the_newer_one() {
    let s = Server::new();
    s.oe(&["add-key", "acme", KEY1]).success();
    let older = s.snapshot("acme");
    fs::write(s.source.join("a.txt"), "changed").unwrap();
    let newer = s.snapshot("acme");
    let second = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    s.arrived_at("acme", &newer, second);
    s.arrived_at("acme", &older, second + Duration::from_millis(500));
    s.oe(&["forget", "--client", "acme", "--keep-last", "1"]).success();
    assert_eq!(snapshot_files(&s, "acme"), [newer]);
}

fn snapshot_files(s: &Server, client: &str) -> Vec<String> {
    fs::read_dir(s.repo(client).join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_root_the_shell_would_split_is_refused_before_anything_is_written() {
    let s = Server::new();
    let root = s.env.path("my backups");
    let root = root.to_str().unwrap();
    s.env.run(&["server", "init", root]).success();
    s.env
        .run(&["server", "--root", root, "add-key", "acme", KEY1])
        .failure(2)
        .stderr_has("letters, digits and / . _ + -");
    assert!(!s.authorized_keys().exists());
    assert!(!Path::new(root).join("clients/acme").exists());
}
