//! `oe daemon` and `oe status`: jobs run for real against the test cluster, on a schedule,
//! once, made up after downtime, stopped by SIGTERM, kept from overlapping, and reported to
//! the state file, a webhook and the metrics file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cluster::cluster;
use crate::support::{config_with, fake_bindir, leftovers, partial_files, processes_with};
use crate::testenv::TestEnv;

const FIXTURE_ZIP: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");

/// An Odoo database loaded from the fixture.
fn odoo_db(env: &TestEnv, prefix: &str) -> String {
    let db = cluster().unique_db(prefix);
    env.run(&["load", "odoo", FIXTURE_ZIP, &db]).success();
    db
}

/// Writes the config: the cluster's service (with `postgres_extra`), `backup_dir`, the state
/// file inside the test root, and `rest` (jobs, notify, daemon keys).
fn configure(env: &TestEnv, postgres_extra: &str, rest: &str) {
    let service = config_with(env, postgres_extra);
    env.write_config(&format!("backup_dir: '{}'\n{service}{rest}", env.path("backups").display()));
}

fn state_file(env: &TestEnv) -> PathBuf {
    env.path("home/.local/state/oe/state.json")
}

fn state(env: &TestEnv) -> serde_json::Value {
    let text = std::fs::read_to_string(state_file(env)).unwrap_or_else(|_| "{}".into());
    serde_json::from_str(&text).unwrap()
}

fn backups_of(env: &TestEnv, db: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(env.path("backups").join(db)) else { return Vec::new() };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect()
}

fn spawn_daemon(env: &TestEnv, args: &[&str]) -> Child {
    let log = std::fs::File::create(env.path("daemon.log")).unwrap();
    let mut cmd = env.oe();
    cmd.arg("-v").arg("daemon").args(args).stdout(Stdio::null()).stderr(log);
    cmd.env("OE_LOG", "oe=debug");
    cmd.spawn().unwrap()
}

fn log(env: &TestEnv) -> String {
    std::fs::read_to_string(env.path("daemon.log")).unwrap_or_default()
}

#[track_caller]
fn wait_for(env: &TestEnv, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\nlog:\n{}", log(env));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends SIGTERM and waits for the exit status.
fn terminate(env: &TestEnv, child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon did not exit after SIGTERM\nlog:\n{}", log(env));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `postgres` keys of a service whose pg_dump writes the dump, then hangs as a slow server
/// would, in `sleep <marker>` (so that `processes_with(marker)` finds it).
fn stalling_pg_dump(env: &TestEnv, marker: &str) -> String {
    let script = format!("\"$REAL/pg_dump\" \"$@\"\nsleep {marker}");
    format!(", bindir: '{}'", fake_bindir(env, "pg_dump", &script).display())
}

/// A state file in which `job` last ran two hours ago.
fn ran_two_hours_ago(env: &TestEnv, job: &str) {
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    let state = serde_json::json!({"jobs": {job: {"last": {
        "job": job, "kind": "backup", "host": "test", "started": then, "finished": then,
        "seconds": 1.0, "result": "success", "items": []
    }}}});
    std::fs::create_dir_all(state_file(env).parent().unwrap()).unwrap();
    std::fs::write(state_file(env), state.to_string()).unwrap();
}

/// An HTTP server on 127.0.0.1 answering 200 to everything: each request (its request line,
/// then its body) comes out of the channel.
fn http_listener() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            // Recorded before the answer, so it is there once the client has its answer.
            if tx.send(format!("{request_line}{}", String::from_utf8_lossy(&body))).is_err() {
                return;
            }
            let mut stream = stream;
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
        }
    });
    (url, rx)
}

#[test]
fn once_backs_up_each_database_reports_the_failing_one_and_records_state() {
    let env = TestEnv::new();
    let db = odoo_db(&env, "daemon_once");
    let (url, received) = http_listener();
    let metrics = env.path("oe.prom");
    let piped = env.path("notified.json");
    configure(
        &env,
        "",
        &format!(
            "jobs:\n  nightly:\n    schedule: '0 2 * * *'\n    backup: {{databases: [{db}, daemon_no_such_db]}}\n\
             notify:\n  on_failure: {{webhook: '{url}/hook', command: [tee, '{}']}}\n  \
             ping_url: '{url}/ping/abc'\n  metrics_file: '{}'\n",
            piped.display(),
            metrics.display()
        ),
    );
    let run = env.run(&["daemon", "--once"]).failure(1);
    assert!(run.stderr.contains("1 of 1 job(s) failed: nightly"), "{}", run.stderr);
    assert!(run.stdout.contains(&format!("ok     {db}")), "{}", run.stdout);
    assert!(run.stdout.contains("FAILED daemon_no_such_db"), "{}", run.stdout);
    // The good database was backed up all the same.
    assert_eq!(backups_of(&env, &db).len(), 1);

    let requests: Vec<String> = received.try_iter().collect();
    let lines: Vec<&str> = requests.iter().map(|r| r.lines().next().unwrap()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("GET /ping/abc/start "), "{lines:?}");
    assert!(lines[1].starts_with("POST /hook "), "{lines:?}");
    assert!(lines[2].starts_with("GET /ping/abc/fail "), "{lines:?}");
    let body = requests[1].split_once('\n').unwrap().1;
    assert_eq!(std::fs::read_to_string(&piped).unwrap(), body, "the command got the same JSON");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["result"], "failure");
    assert_eq!(json["items"][1]["name"], "daemon_no_such_db");
    assert!(json["items"][1]["error"].as_str().unwrap().contains("does not exist"), "{json}");

    let state = state(&env);
    let last = &state["jobs"]["nightly"]["last"];
    assert_eq!(last["result"], "failure");
    assert_eq!(last["items"][0]["ok"], true);
    assert!(last["items"][0]["bytes"].as_u64().unwrap() > 1000);
    let status = env.run(&["--json", "status"]).success();
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status[0]["job"], "nightly");
    assert_eq!(status[0]["last"]["result"], "failure");
    assert!(status[0]["next"].as_str().unwrap().contains("T02:00:00"), "{status}");
    env.run(&["status"]).success().stdout_has("last error:   1 of 2 failed: daemon_no_such_db");

    let metrics = std::fs::read_to_string(metrics).unwrap();
    assert!(metrics.contains("oe_job_last_run_success{job=\"nightly\"} 0"), "{metrics}");
    let item = format!("oe_item_last_success_bytes{{job=\"nightly\",item=\"{db}\"}} ");
    assert!(metrics.contains(&item), "{metrics}");
}

#[test]
fn runs_on_its_schedule_and_stops_on_sigterm() {
    let env = TestEnv::new();
    let db = odoo_db(&env, "daemon_sched");
    configure(
        &env,
        "",
        &format!(
            "jobs:\n  every-minute:\n    schedule: '* * * * *'\n    backup: {{databases: [{db}]}}\n"
        ),
    );
    let schedule = env.run(&["daemon", "--print-schedule", "-n", "3"]).success();
    assert_eq!(schedule.stdout.lines().count(), 4, "{}", schedule.stdout);
    let mut daemon = spawn_daemon(&env, &[]);
    // The first minute boundary: within 60 s, plus the backup itself.
    wait_for(&env, "a scheduled backup", Duration::from_secs(90), || {
        state(&env)["jobs"]["every-minute"]["last"]["result"] == "success"
    });
    assert_eq!(backups_of(&env, &db).len(), 1);
    let status = terminate(&env, &mut daemon, Duration::from_secs(20));
    assert!(status.success(), "{status:?}\n{}", log(&env));
}

#[test]
fn a_missed_run_is_made_up_at_start() {
    let env = TestEnv::new();
    let db = odoo_db(&env, "daemon_missed");
    configure(
        &env,
        "",
        &format!(
            "jobs:\n  hourly:\n    schedule: '0 * * * *'\n    backup: {{databases: [{db}]}}\n"
        ),
    );
    ran_two_hours_ago(&env, "hourly");
    let mut daemon = spawn_daemon(&env, &[]);
    // Hourly runs come at the top of the hour; this one comes at once.
    wait_for(&env, "the made-up run", Duration::from_secs(30), || {
        let last = &state(&env)["jobs"]["hourly"]["last"];
        last["host"] != "test" && last["result"] == "success"
    });
    assert!(log(&env).contains("making up the run"), "{}", log(&env));
    assert_eq!(backups_of(&env, &db).len(), 1);
    terminate(&env, &mut daemon, Duration::from_secs(20));
}

#[test]
fn sigterm_during_a_backup_leaves_no_partial_file_and_no_child() {
    let env = TestEnv::new();
    let db = odoo_db(&env, "daemon_term");
    configure(
        &env,
        &stalling_pg_dump(&env, "987"),
        &format!(
            "daemon: {{grace_period: 20s}}\njobs:\n  hourly:\n    schedule: '0 * * * *'\n    \
             backup: {{databases: [{db}]}}\n"
        ),
    );
    ran_two_hours_ago(&env, "hourly");
    let mut daemon = spawn_daemon(&env, &[]);
    let dir = env.path("backups").join(&db);
    wait_for(&env, "the backup to start", Duration::from_secs(30), || {
        dir.exists() && !partial_files(&dir).is_empty() && !processes_with("987").is_empty()
    });
    let status = terminate(&env, &mut daemon, Duration::from_secs(25));
    assert!(status.success(), "{status:?}\n{}", log(&env));
    assert!(partial_files(&dir).is_empty(), "{:?}\n{}", partial_files(&dir), log(&env));
    assert!(backups_of(&env, &db).is_empty());
    assert!(processes_with("987").is_empty(), "stray: {:?}", processes_with("987"));
    assert_eq!(state(&env)["jobs"]["hourly"]["last"]["result"], "interrupted");
}

#[test]
fn a_database_is_never_worked_on_by_two_runs_at_once() {
    let env = TestEnv::new();
    let db = odoo_db(&env, "daemon_lock");
    configure(
        &env,
        &stalling_pg_dump(&env, "986"),
        &format!(
            "daemon: {{lock_wait: 1s}}\njobs:\n  nightly:\n    schedule: '0 2 * * *'\n    \
             backup: {{databases: [{db}]}}\n"
        ),
    );
    let mut first = spawn_daemon(&env, &["--once"]);
    let dir = env.path("backups").join(&db);
    wait_for(&env, "the first backup to start", Duration::from_secs(30), || {
        !processes_with("986").is_empty()
    });
    // The same job again, and a backup from the command line: both refused, nothing written.
    let again = env.run(&["daemon", "--once"]).failure(1);
    assert!(again.stdout.contains(&format!("FAILED {db}")), "{}", again.stdout);
    assert!(again.stdout.contains("is busy: oe daemon job nightly"), "{}", again.stdout);
    let cli = env.run(&["backup", "odoo", "-d", &db]).failure(9);
    assert!(cli.stderr.contains("is busy: oe daemon job nightly"), "{}", cli.stderr);
    terminate(&env, &mut first, Duration::from_secs(40));
    assert!(processes_with("986").is_empty());
    assert!(partial_files(&dir).is_empty());
    // Once it is gone, the lock is free again.
    configure(
        &env,
        "",
        &format!(
            "jobs:\n  nightly:\n    schedule: '0 2 * * *'\n    backup: {{databases: [{db}]}}\n"
        ),
    );
    env.run(&["backup", "odoo", "-d", &db]).success();
}

#[test]
fn restore_test_passes_a_good_backup_and_fails_a_corrupt_one() {
    let env = TestEnv::new();
    let db = odoo_db(&env, "daemon_rtest");
    configure(
        &env,
        "",
        &format!(
            "jobs:\n  restore-test:\n    schedule: '0 5 * * 0'\n    restore_test: {{databases: [{db}]}}\n"
        ),
    );
    env.run(&["backup", "odoo", "-d", &db]).success();
    let good = env.run(&["daemon", "--once"]).success();
    assert!(good.stdout.contains("attachment files verified"), "{}", good.stdout);
    assert!(good.stdout.contains("tables, as recorded"), "{}", good.stdout);
    assert!(leftovers().iter().all(|d| !d.starts_with(&db)), "{:?}", leftovers());
    let filestores = env.path("odoo-data/filestore");
    let scratch: Vec<_> = std::fs::read_dir(&filestores)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains("-oe-"))
        .collect();
    assert!(scratch.is_empty(), "scratch filestores left: {scratch:?}");

    // A backup that lacks a file the source has: the restored filestore is not whole.
    let backup = backups_of(&env, &db).pop().unwrap();
    let original = std::fs::read(&backup).unwrap();
    let dropped = drop_one_filestore_entry(&backup);
    let lacking = env.run(&["daemon", "--once"]).failure(1);
    assert!(lacking.stdout.contains("1 missing, 0 corrupt"), "{}", lacking.stdout);
    assert!(lacking.stdout.contains(&dropped), "{}", lacking.stdout);
    // A file the source lacks as well was already missing at backup time: reported, not failed.
    std::fs::remove_file(env.path("odoo-data/filestore").join(&db).join(&dropped)).unwrap();
    let gap = env.run(&["daemon", "--once"]).success();
    assert!(
        gap.stdout.contains("(1 missing from the source's filestore as well)"),
        "{}",
        gap.stdout
    );
    std::fs::write(&backup, &original).unwrap();

    // Rows gone from the dump, which still loads: the test names the table.
    crate::support::drop_copy_rows(&backup, &backup, "public.ir_model_data", 3);
    let lost = env.run(&["daemon", "--once"]).failure(1);
    let rows: u64 = cluster().psql(&db, "SELECT count(*) FROM ir_model_data").parse().unwrap();
    let named =
        format!("table public.ir_model_data has {} rows, the dump recorded {rows}", rows - 3);
    assert!(lost.stdout.contains(&named), "{}", lost.stdout);
    assert!(leftovers().iter().all(|d| !d.starts_with(&db)), "{:?}", leftovers());
    let scratch: Vec<_> = std::fs::read_dir(&filestores)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains("-oe-"))
        .collect();
    assert!(scratch.is_empty(), "scratch filestores left: {scratch:?}");
    std::fs::write(&backup, original).unwrap();

    // Damage the backup in the middle: the test must say so.
    corrupt(&backup);
    let bad = env.run(&["daemon", "--once"]).failure(1);
    assert!(bad.stdout.contains(&format!("FAILED {db}")), "{}", bad.stdout);
    assert!(leftovers().iter().all(|d| !d.starts_with(&db)), "{:?}", leftovers());
    assert_eq!(state(&env)["jobs"]["restore-test"]["last"]["result"], "failure");
}

/// Rewrites the zip at `path` without its first `filestore/` entry; returns that entry's path
/// in the filestore (`ab/ab12…`).
fn drop_one_filestore_entry(path: &Path) -> String {
    let script = r#"
import shutil, sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as src, zipfile.ZipFile(path + ".new", "w", zipfile.ZIP_DEFLATED) as dst:
    names = [n for n in src.namelist() if n.startswith("filestore/") and not n.endswith("/")]
    dropped = names[0]
    for info in src.infolist():
        if info.filename != dropped:
            dst.writestr(info, src.read(info))
shutil.move(path + ".new", path)
print(dropped[len("filestore/"):])
"#;
    let out =
        std::process::Command::new("python3").args(["-c", script]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Overwrites 64 bytes in the middle of `path`.
fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn invalid_schedules_are_refused_with_the_job_named() {
    let env = TestEnv::new();
    configure(&env, "", "jobs:\n  nightly:\n    schedule: '0 2 30 2 *'\n    backup: {}\n");
    let run = env.run(&["daemon", "--print-schedule"]).failure(2);
    assert!(run.stderr.contains("jobs.nightly"), "{}", run.stderr);
    assert!(run.stderr.contains("never runs"), "{}", run.stderr);
}

#[test]
fn sighup_reloads_a_valid_configuration_and_keeps_the_old_one_otherwise() {
    let env = TestEnv::new();
    let job = |name: &str| {
        format!("  {name}:\n    schedule: '0 3 * * *'\n    backup: {{databases: [x]}}\n")
    };
    configure(&env, "", &format!("jobs:\n{}", job("one")));
    let mut daemon = spawn_daemon(&env, &[]);
    wait_for(&env, "the daemon to start", Duration::from_secs(10), || {
        log(&env).contains("1 job(s)")
    });
    let hangup = |daemon: &Child| unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };

    env.write_config("jobs:\n  broken:\n    schedule: '0 3 * *'\n    backup: {}\n");
    hangup(&daemon);
    wait_for(&env, "the refused reload", Duration::from_secs(10), || {
        log(&env).contains("configuration not reloaded, keeping the old one")
    });
    assert!(log(&env).contains("jobs.broken"), "{}", log(&env));

    configure(&env, "", &format!("jobs:\n{}{}", job("one"), job("two")));
    hangup(&daemon);
    wait_for(&env, "the reload", Duration::from_secs(10), || {
        log(&env).contains("configuration reloaded: 2 job(s)")
    });
    let status = terminate(&env, &mut daemon, Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_mirror_job_snapshots_the_configured_directories() {
    let env = TestEnv::new();
    let data = env.path("files");
    std::fs::create_dir_all(data.join("keep")).unwrap();
    std::fs::write(data.join("keep/a.txt"), b"mirrored").unwrap();
    std::fs::write(data.join("skip.tmp"), b"excluded").unwrap();
    let repo = env.path("repo");
    configure(
        &env,
        "",
        &format!(
            "mirror:\n  repository: '{}'\n  dirs:\n    '{}': {{exclude: ['*.tmp']}}\n\
             jobs:\n  files:\n    schedule: '30 3 * * *'\n    mirror: {{retention: {{within: 0s, last: 1}}}}\n\
             notify:\n  on_success: {{command: [tee, '{}']}}\n",
            repo.display(),
            data.display(),
            env.path("succeeded.json").display()
        ),
    );
    env.run(&["mirror", "init"]).success();
    env.run(&["daemon", "--once", "--job", "files"])
        .success()
        .stdout_has("files (mirror): success");
    let told = std::fs::read_to_string(env.path("succeeded.json")).expect("on_success ran");
    let told: serde_json::Value = serde_json::from_str(&told).unwrap();
    assert_eq!((told["job"].as_str(), told["result"].as_str()), (Some("files"), Some("success")));
    std::fs::write(data.join("keep/b.txt"), b"second night").unwrap();
    env.run(&["daemon", "--once"]).success();
    // Retention keeps only the last snapshot, which has both files and not the excluded one.
    let snapshots = env.run(&["--json", "mirror", "snapshots"]).success();
    let snapshots: serde_json::Value = serde_json::from_str(&snapshots.stdout).unwrap();
    assert_eq!(snapshots.as_array().unwrap().len(), 1, "{snapshots}");
    let dir = data.to_str().unwrap();
    let ls = env.run(&["mirror", "ls", "latest", "--dir", dir]).success();
    assert!(ls.stdout.contains("keep/b.txt") && !ls.stdout.contains("skip.tmp"), "{}", ls.stdout);
    let state = state(&env);
    assert_eq!(state["jobs"]["files"]["last"]["items"][0]["name"], dir);
    env.run(&["daemon", "--once", "--job", "nope"]).failure(2).stderr_has("no job named 'nope'");
}

#[test]
fn every_example_in_contrib_loads() {
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let mut examples: Vec<PathBuf> = std::fs::read_dir(&contrib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    examples.sort();
    assert!(!examples.is_empty(), "no example configuration in {}", contrib.display());
    let env = TestEnv::new();
    for example in &examples {
        let path = example.display();
        env.write_config(&std::fs::read_to_string(example).unwrap());
        let run = env.run(&["--json", "daemon", "--print-schedule", "-n", "2"]).success();
        let jobs: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(!jobs.as_array().unwrap().is_empty(), "{path}: no jobs");
        env.run(&["config"]).success();
    }
    // The unit names the binary and reloads with SIGHUP.
    let unit = std::fs::read_to_string(contrib.join("oe.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/oe --config /etc/oe/config.yml daemon"));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    if let Ok(out) = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(contrib.join("oe.service"))
        .output()
    {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("Unknown key") && !stderr.contains("Invalid"), "{stderr}");
    }
}

#[test]
fn databases_all_is_every_user_database_minus_the_excluded() {
    let env = TestEnv::new();
    let db = odoo_db(&env, "daemon_all");
    // Every other user database of the shared test cluster is excluded by name (one another
    // test creates meanwhile may join the run, so only what this test owns is asserted);
    // `postgres` and oe's temporary databases are not: oe must leave them out itself.
    let others: Vec<String> = cluster()
        .databases()
        .into_iter()
        .filter(|name| *name != db && name != "postgres" && !name.contains("-oe-"))
        .map(|name| format!("'^{}$'", regex::escape(&name)))
        .collect();
    configure(
        &env,
        "",
        &format!(
            "jobs:\n  nightly:\n    schedule: '0 2 * * *'\n    \
             backup: {{databases: all, exclude: [{}]}}\n",
            others.join(", ")
        ),
    );
    let run = env.run(&["--json", "daemon", "--once"]);
    let runs: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let items = runs[0]["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    let mine = items.iter().find(|i| i["name"] == db.as_str()).expect("the database was listed");
    assert_eq!(mine["ok"], true, "{mine}");
    for never in ["postgres", "template0", "template1"] {
        assert!(!names.contains(&never), "{names:?}");
    }
    assert!(names.iter().all(|n| !n.contains("-oe-")), "temporary databases listed: {names:?}");
    assert_eq!(backups_of(&env, &db).len(), 1);

    // Excluding it too leaves nothing to do: an error, not a silent success.
    configure(
        &env,
        "",
        "jobs:\n  nightly:\n    schedule: '0 2 * * *'\n    backup: {databases: all, exclude: ['.*']}\n",
    );
    env.run(&["daemon", "--once"]).failure(1).stdout_has("no database to work on");
}
