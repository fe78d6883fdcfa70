//! `oe test-db` and `oe test` against the real Docker engine and the test Odoo 18 image (see
//! `deploy`), with a development installation whose default app's repository holds a module
//! with a passing test and one with a failing test.

use std::process::Command;

use crate::deploy::{Install, images, install_with};

const PASSING: &str = "from odoo.tests import TransactionCase


class TestPassing(TransactionCase):
    def test_partners_can_be_made(self):
        partner = self.env['res.partner'].create({'name': 'oe'})
        self.assertEqual(partner.name, 'oe')
";

const FAILING: &str = "from odoo.tests import TransactionCase


class TestFailing(TransactionCase):
    def test_deliberately_fails(self):
        self.assertEqual(1, 2, 'deliberately failing')
";

/// A development installation (its default app's checkout is an addons directory) with the
/// modules `passing` and `failing`, installed.
fn installation() -> Option<Install> {
    let images = images()?;
    let manifest = "{'name': 'Test module', 'depends': ['base'], 'license': 'LGPL-3'}\n";
    let tests_init = "from . import test_it\n";
    let files = [
        ("passing/__init__.py", ""),
        ("passing/__manifest__.py", manifest),
        ("passing/tests/__init__.py", tests_init),
        ("passing/tests/test_it.py", PASSING),
        ("failing/__init__.py", ""),
        ("failing/__manifest__.py", manifest),
        ("failing/tests/__init__.py", tests_init),
        ("failing/tests/test_it.py", FAILING),
    ];
    let i = install_with(&images, "development", false, &[], &files);
    i.env.run(&["install"]).success();
    // The default app's module is installed by test-db: make it a package.
    let default = i.root.join(format!("sources/defapp/{}_default/__init__.py", i.client));
    std::fs::write(default, "").unwrap();
    Some(i)
}

/// `sql`'s answer in `database` of the installation's postgres.
fn query(i: &Install, database: &str, sql: &str) -> String {
    let settings = std::fs::read_to_string(i.root.join("config/postgres.yml")).unwrap();
    let password = settings
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .map(|p| p.trim().trim_matches('\'').trim_matches('"').to_owned())
        .unwrap();
    let container = format!("oe-{}-postgres", i.client);
    let out = Command::new("docker")
        .args(["exec", "-e", &format!("PGPASSWORD={password}"), &container])
        .args(["psql", "-h", "127.0.0.1", "-U", "odoo", "-d", database, "-Atc", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn databases(i: &Install) -> Vec<String> {
    let list = query(i, "postgres", "SELECT datname FROM pg_database ORDER BY 1");
    list.lines().map(str::to_owned).collect()
}

/// The containers of the installation, by name.
fn containers(i: &Install) -> Vec<String> {
    let label = format!("label=oe.client={}", i.client);
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter", &label])
        .output()
        .unwrap();
    let mut names: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    names.sort();
    names
}

#[test]
fn test_runs_a_module_s_tests_in_a_throwaway_database_and_fails_on_a_failed_test() {
    let Some(i) = installation() else { return };
    let env = &i.env;

    let out = env.run(&["test", "-m", "passing", "--json"]).success();
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(report["tests"]["tests"], 1, "{report}");
    assert_eq!(report["tests"]["failed"], 0, "{report}");
    let database = report["database"].as_str().unwrap().to_owned();
    // Named after the configured database, here the default `<client>_prod`.
    assert!(database.starts_with(&format!("{}_prod-oe-test-", i.client)), "{database}");
    assert!(!databases(&i).contains(&database), "the throwaway database is dropped");
    assert!(!i.root.join("data_dir/filestore").join(&database).exists());
    let log = std::fs::read_to_string(i.root.join("log/test.log")).unwrap();
    assert!(log.contains("0 failed, 0 error(s) of 1 tests"), "{log}");
    let mode = std::fs::metadata(i.root.join("log/test.log")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);

    let out = env
        .run(&["test", "-m", "failing"])
        .failure(1)
        .stderr_has("test_deliberately_fails")
        .stderr_has("tests of failing failed: 1 failed, 0 error(s) of 1 tests");
    assert!(out.stdout.contains("test_deliberately_fails"), "{}", out.stdout);
    let left: Vec<String> = databases(&i).into_iter().filter(|d| d.contains("-oe-test-")).collect();
    assert!(left.is_empty(), "throwaway databases left: {left:?}");
    // Only the environment runs: the one-off containers are gone.
    let postgres = format!("oe-{}-postgres", i.client);
    assert_eq!(containers(&i), [postgres]);

    // A module without tests: nothing ran, which is a failure too.
    env.run(&["test", "-m", "base", "-d", "notests"]).failure(1).stderr_has("no test ran");
}

#[test]
fn test_db_makes_a_neutralized_database_with_the_default_app_and_refuses_an_existing_one() {
    let Some(i) = installation() else { return };
    let env = &i.env;
    let database = format!("{}_test", i.client);

    let out = env.run(&["test-db"]).success();
    assert!(out.stdout.contains(&database), "{}", out.stdout);
    let module = format!("{}_default", i.client);
    let state = query(
        &i,
        &database,
        &format!("SELECT state FROM ir_module_module WHERE name = '{module}'"),
    );
    assert_eq!(state, "installed");
    let neutralized = query(
        &i,
        &database,
        "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'",
    );
    assert_eq!(neutralized, "true");
    let demo = query(&i, &database, "SELECT count(*) FROM ir_module_module WHERE demo");
    assert_eq!(demo, "0", "no demo data without --demo");
    assert!(i.root.join("log/test-db.log").is_file());

    // A second run refuses and touches nothing.
    query(&i, &database, "CREATE TABLE oe_marker ()");
    env.run(&["test-db"]).failure(3).stderr_has(&format!("database '{database}' exists"));
    assert_eq!(
        query(&i, &database, "SELECT count(*) FROM pg_class WHERE relname = 'oe_marker'"),
        "1"
    );
}

#[test]
fn a_leftover_container_is_replaced_and_sigint_stops_removes_and_drops_everything() {
    let Some(i) = installation() else { return };
    let Some(images) = images() else { return };
    let env = &i.env;
    // What a crashed run left: a container of the same name.
    let name = format!("oe-{}-test", i.client);
    let label = format!("oe.client={}", i.client);
    crate::deploy::run(
        "docker",
        &["create", "--name", &name, "--label", &label, &images.postgres],
        None,
    );

    let child = env
        .oe()
        .args(["test", "-m", "passing"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until Odoo of this run is at work: its log file tells.
    let log = i.root.join("log/test.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("Loading module base") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "odoo did not start: {text}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let postgres = format!("oe-{}-postgres", i.client);
    assert_eq!(containers(&i), [postgres], "the one-off container is removed");
    let left: Vec<String> = databases(&i).into_iter().filter(|d| d.contains("-oe-test-")).collect();
    assert!(left.is_empty(), "throwaway databases left: {left:?}");
}
