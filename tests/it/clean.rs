//! `oe clean`: what `oe load --force` killed with SIGKILL leaves (helper databases,
//! set-aside filestores) is listed by `--dry-run`, removed by `clean`, and never touched
//! while its run is alive; `.partial` files by the pid that writes them; the daemon cleans
//! at start.
//!
//! `oe clean` removes every dead run's leftovers on a server, so these tests use a cluster
//! of their own ([`clean_cluster`]), one test at a time: no other test's `clean` or daemon
//! removes what one of them waits to see listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::cluster::{Cluster, Setup, start_with};
use crate::support::{fake_bindir, tree};
use crate::testenv::TestEnv;

const FIXTURE_ZIP: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");

/// The cluster of these tests, started on first use.
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match CLUSTER.get_or_init(|| start_with(&Setup::default())) {
        Ok(cluster) => cluster,
        Err(message) => panic!("the clean tests' cluster could not be started: {message}"),
    }
}

/// Held by each test for its whole run: one test at a time on the cluster.
fn alone() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    ALONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A test root whose `odoo` service is the clean tests' cluster; returns the config text.
fn env_on(cluster: &Cluster) -> (TestEnv, String) {
    let env = TestEnv::new();
    let text = format!(
        "services:\n  odoo:\n    postgres: {{host: '{}', port: {}, user: postgres}}\n    \
         data_dir: '{}'\n",
        cluster.socket_dir.display(),
        cluster.port,
        env.path("odoo-data").display()
    );
    env.write_config(&text);
    (env, text)
}

fn filestore_root(env: &TestEnv) -> PathBuf {
    env.path("odoo-data/filestore")
}

/// Waits until no other session is connected to the clean tests' cluster: PostgreSQL
/// finishes the statement of a killed client (a `DROP DATABASE`, say) before it notices, so
/// what is left is known only then.
fn sessions_ended() {
    let others = "SELECT count(*) FROM pg_stat_activity \
                  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";
    for _ in 0..300 {
        if cluster().psql("postgres", others) == "0" {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the killed run's sessions are still there after 30 s");
}

/// The helper databases derived from `db`.
fn helper_databases(db: &str) -> Vec<String> {
    let prefix = format!("{db}-oe-");
    cluster().databases().into_iter().filter(|d| d.starts_with(&prefix)).collect()
}

/// The entries of the filestore root besides `db`'s filestore.
fn stray_dirs(env: &TestEnv, db: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(filestore_root(env)) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != db)
        .collect();
    names.sort();
    names
}

/// `oe --json clean [--dry-run]`: the JSON document.
fn clean(env: &TestEnv, dry_run: bool) -> serde_json::Value {
    let mut args = vec!["--json", "clean"];
    if dry_run {
        args.push("--dry-run");
    }
    let run = env.run(&args).success();
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The steps of a plan that concern `db` or `root`, as `action target` strings.
fn steps_about(plan: &serde_json::Value, db: &str, root: &Path) -> Vec<String> {
    let root = root.to_string_lossy().into_owned();
    let mut steps: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let target = ["database", "path", "from"].iter().find_map(|k| s[*k].as_str());
            format!("{} {}", s["action"].as_str().unwrap(), target.unwrap_or(""))
        })
        .filter(|s| {
            let target = s.split_once(' ').map_or("", |(_, t)| t);
            target.starts_with(&format!("{db}-oe-")) || target.starts_with(&root)
        })
        .collect();
    steps.sort();
    steps
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

/// The database and its filestore as one state.
type Instance = (BTreeMap<String, (i64, String)>, BTreeMap<String, Vec<u8>>);

fn instance(env: &TestEnv, db: &str) -> Instance {
    (cluster().fingerprint(db), tree(&filestore_root(env).join(db)))
}

/// Makes the instance differ from the fixture: a table and a file of its own.
fn mark(env: &TestEnv, db: &str) {
    cluster().psql(db, "CREATE TABLE IF NOT EXISTS clean_marker (x int)");
    std::fs::write(filestore_root(env).join(db).join("marker"), b"old").unwrap();
}

fn kill_after(mut child: Child, delay: Duration) {
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn sigkill_during_load_leaves_what_clean_lists_then_removes() {
    let _alone = alone();
    let (env, _) = env_on(cluster());
    let root = filestore_root(&env);
    let db = cluster().unique_db("clean_kill");
    env.run(&["load", "odoo", FIXTURE_ZIP, &db]).success();
    let new = instance(&env, &db);
    mark(&env, &db);
    let mut old = instance(&env, &db);
    assert_ne!(old, new);
    // How long a whole load takes, to spread the kills over it.
    let started = Instant::now();
    env.run(&["load", "odoo", FIXTURE_ZIP, &db, "--force"]).success();
    let duration = started.elapsed();
    assert_eq!(instance(&env, &db), new);
    mark(&env, &db);

    let (mut left_databases, mut left_dirs) = (0, 0);
    for moment in 0..12u32 {
        let mut load = env.oe();
        load.args(["load", "odoo", FIXTURE_ZIP, &db, "--force"]);
        let load = load.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        kill_after(load, duration * (2 * moment + 1) / 24);
        sessions_ended();
        // The database is the old one or the complete new one.
        let fingerprint = cluster().fingerprint(&db);
        assert!(fingerprint == old.0 || fingerprint == new.0, "moment {moment}: target damaged");

        let (databases, dirs) = (helper_databases(&db), stray_dirs(&env, &db));
        left_databases += databases.len();
        left_dirs += dirs.len();
        let mut expected: Vec<String> = databases
            .iter()
            .map(|d| format!("drop_database {d}"))
            .chain(dirs.iter().map(|d| {
                let action =
                    if d.starts_with(&format!(".{db}-oe-old-")) { "move" } else { "remove_dir" };
                format!("{action} {}", root.join(d).display())
            }))
            .collect();
        expected.sort();
        let listed = planned(&env, &db, &expected, moment);
        assert_eq!(helper_databases(&db), databases, "moment {moment}: --dry-run dropped");
        assert_eq!(stray_dirs(&env, &db), dirs, "moment {moment}: --dry-run removed");

        let done = clean(&env, false);
        assert_eq!(steps_about(&done, &db, &root), listed, "moment {moment}");
        assert_eq!(helper_databases(&db), Vec::<String>::new(), "moment {moment}");
        assert_eq!(stray_dirs(&env, &db), Vec::<String>::new(), "moment {moment}");
        // Database and filestore belong together again.
        let now = instance(&env, &db);
        assert!(now == old || now == new, "moment {moment}: database and filestore differ");
        let again = clean(&env, false);
        assert_eq!(steps_about(&again, &db, &root), Vec::<String>::new(), "moment {moment}");
        if now == new {
            mark(&env, &db);
            old = instance(&env, &db);
        }
    }
    assert!(left_databases >= 3, "too few kills left a database: {left_databases}");
    assert!(left_dirs >= 3, "too few kills left a filestore: {left_dirs}");
}

/// The steps `oe clean --dry-run` plans about `db`, once each of `expected` is among them
/// (by its target: a filestore set aside before the database swap may need moving back
/// first). A killed run's directory is judged by its pid as well: while another process has
/// that pid (a reused pid, as happens on a busy machine), clean keeps the directory, and the
/// plan is asked again once that process is gone.
fn planned(env: &TestEnv, db: &str, expected: &[String], moment: u32) -> Vec<String> {
    let root = filestore_root(env);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let plan = clean(env, true);
        assert_eq!(plan["dry_run"], true);
        let listed = steps_about(&plan, db, &root);
        let missing: Vec<&String> = expected
            .iter()
            .filter(|step| {
                let target = step.split_once(' ').unwrap().1;
                !listed.iter().any(|l| l.ends_with(target))
            })
            .collect();
        let Some(step) = missing.first() else { return listed };
        let pid = step.rsplit_once('-').map(|(_, pid)| pid).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        assert!(
            stat.is_ok() && Instant::now() < deadline,
            "moment {moment}: {step} not planned: {listed:?}"
        );
        eprintln!("moment {moment}: pid {pid} runs again ({}); planning again", stat.unwrap());
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Starts `oe load --force` of the fixture with a psql that stalls, and waits for its helper
/// database and its staged filestore to appear. The config (from `env_on`) gets the
/// stalling psql only while the load starts.
fn stalled_load(env: &TestEnv, db: &str) -> Child {
    let bindir = fake_bindir(env, "psql", "exec sleep 20");
    let config = env.read_config();
    let extra = format!(", bindir: '{}'", bindir.display());
    let stalling = config.replace("user: postgres}", &format!("user: postgres{extra}}}"));
    assert_ne!(stalling, config, "config has no postgres section: {config}");
    env.write_config(&stalling);
    let mut load = env.oe();
    load.args(["load", "odoo", FIXTURE_ZIP, db, "--force"]);
    let child = load.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while helper_databases(db).is_empty()
        || !stray_dirs(env, db).iter().any(|d| d.starts_with(&format!(".{db}-oe-tmp-")))
    {
        assert!(Instant::now() < deadline, "the load made no helper database and filestore");
        std::thread::sleep(Duration::from_millis(50));
    }
    env.write_config(&config);
    child
}

#[test]
fn a_live_run_is_never_touched() {
    let _alone = alone();
    let (env, _) = env_on(cluster());
    let root = filestore_root(&env);
    let db = cluster().unique_db("clean_live");
    env.run(&["load", "odoo", FIXTURE_ZIP, &db]).success();
    let before = instance(&env, &db);

    // Partial files: one of a running process, one of a process that is gone.
    let backups = env.path("backups");
    let mut config = env.read_config();
    config.insert_str(0, &format!("backup_dir: '{}'\n", backups.display()));
    env.write_config(&config);
    std::fs::create_dir_all(backups.join("other")).unwrap();
    let mut running = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let live_partial = backups.join(format!("other/other_2026.zip.{}.partial", running.id()));
    let dead_partial = backups.join(format!("other/other_2025.zip.{}.partial", gone.id()));
    std::fs::write(&live_partial, b"x").unwrap();
    std::fs::write(&dead_partial, b"x").unwrap();

    let mut load = stalled_load(&env, &db);
    let (databases, dirs) = (helper_databases(&db), stray_dirs(&env, &db));
    let plan = clean(&env, false);
    assert_eq!(steps_about(&plan, &db, &root), Vec::<String>::new(), "{plan}");
    let in_use = strings(&plan["in_use"]);
    for d in &databases {
        assert!(in_use.contains(d), "{d} not reported in use: {plan}");
    }
    assert_eq!(helper_databases(&db), databases);
    assert_eq!(stray_dirs(&env, &db), dirs);
    assert!(live_partial.exists() && !dead_partial.exists(), "{plan}");
    assert!(in_use.contains(&live_partial.display().to_string()), "{plan}");

    // Stopped normally, the load cleans up itself.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(load.id() as i32, libc::SIGTERM) };
    load.wait().unwrap();
    running.kill().unwrap();
    running.wait().unwrap();
    assert_eq!(helper_databases(&db), Vec::<String>::new());
    assert_eq!(stray_dirs(&env, &db), Vec::<String>::new());
    assert_eq!(instance(&env, &db), before);
}

#[test]
fn a_load_finishes_what_a_killed_load_of_its_database_left() {
    let _alone = alone();
    let (env, _) = env_on(cluster());
    let db = cluster().unique_db("clean_settle");
    env.run(&["load", "odoo", FIXTURE_ZIP, &db]).success();
    let load = stalled_load(&env, &db);
    kill_after(load, Duration::ZERO);
    assert!(!helper_databases(&db).is_empty() && !stray_dirs(&env, &db).is_empty());
    env.run(&["load", "odoo", FIXTURE_ZIP, &db, "--force"]).success();
    assert_eq!(helper_databases(&db), Vec::<String>::new());
    assert_eq!(stray_dirs(&env, &db), Vec::<String>::new());
}

#[test]
fn the_daemon_cleans_at_start() {
    let _alone = alone();
    let (env, service) = env_on(cluster());
    let db = cluster().unique_db("clean_daemon");
    env.run(&["load", "odoo", FIXTURE_ZIP, &db]).success();
    let load = stalled_load(&env, &db);
    kill_after(load, Duration::ZERO);
    assert!(!helper_databases(&db).is_empty() && !stray_dirs(&env, &db).is_empty());

    let config = format!(
        "backup_dir: '{}'\n{service}daemon: {{state_file: '{}'}}\njobs:\n  nightly:\n    \
         schedule: '0 3 1 1 *'\n    backup: {{databases: ['{db}']}}\n",
        env.path("backups").display(),
        env.path("state.json").display()
    );
    env.write_config(&config);
    let log = std::fs::File::create(env.path("daemon.log")).unwrap();
    let mut daemon = env.oe();
    daemon.args(["daemon"]).stdout(Stdio::null()).stderr(log);
    let mut daemon = daemon.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(helper_databases(&db).is_empty() && stray_dirs(&env, &db).is_empty()) {
        if Instant::now() > deadline {
            let _ = daemon.kill();
            let log = std::fs::read_to_string(env.path("daemon.log")).unwrap_or_default();
            panic!("the daemon did not clean at start\nlog:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    daemon.wait().unwrap();
    let log = std::fs::read_to_string(env.path("daemon.log")).unwrap();
    assert!(log.contains("cleaned"), "{log}");
}
