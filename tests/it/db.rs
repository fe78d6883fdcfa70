//! `oe db ls | cp | mv | rm`: the database manager on the command line, on Odoo-like
//! databases made by `contrib/gen-odoo-db.sql` and filestores of a few files, against the
//! shared test cluster.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::{cluster, quote_ident, quote_literal};
use crate::support::{assert_no_leftovers, tree};
use crate::testenv::TestEnv;

const GENERATOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/gen-odoo-db.sql");

/// The files of the filestores these tests make: relative path → content.
const FILES: [(&str, &str); 3] = [
    ("0a/0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", "first attachment"),
    ("0a/0a99999999999999999999999999999999999999", "second"),
    ("f3/f3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a third one, longer than the others"),
];

fn filestore(env: &TestEnv, db: &str) -> PathBuf {
    env.path("odoo-data/filestore").join(db)
}

/// The entries of the filestore root other than the filestores named.
fn strays(env: &TestEnv, besides: &[&str]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(env.path("odoo-data/filestore")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !besides.contains(&name.as_str()))
        .collect()
}

/// An Odoo-like database (the generator at its smallest scale) with a filestore of
/// [`FILES`]; returns its name.
fn odoo_db(env: &TestEnv, prefix: &str) -> String {
    let c = cluster();
    let db = c.unique_db(prefix);
    c.create_db(&db);
    c.psql(&db, &format!("\\set scale 0.0001\n\\i {GENERATOR}\n"));
    let dir = filestore(env, &db);
    for (relative, content) in FILES {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    db
}

fn uuid(db: &str) -> String {
    cluster().psql(db, "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'")
}

/// The fingerprint of `db` without `ir_config_parameter`, which a copy changes.
fn content(db: &str) -> BTreeMap<String, (i64, String)> {
    let mut fingerprint = cluster().fingerprint(db);
    fingerprint.retain(|table, _| !table.starts_with("public.ir_config_parameter"));
    assert!(fingerprint.len() > 10, "too few tables in {db}: {fingerprint:?}");
    fingerprint
}

/// Appends `yaml` to the test's configuration.
fn configure(env: &TestEnv, yaml: &str) {
    env.write_config(&format!("{}{yaml}", env.read_config()));
}

/// A psql session connected to `db`, once the server shows it; ended by [`end`].
fn session(db: &str) -> Child {
    let c = cluster();
    let mut psql = c.command("psql");
    psql.args(["-X", "-q", "-c", "SELECT pg_sleep(120)", "--dbname"])
        .arg(crate::cluster::Cluster::conninfo(db))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = psql.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sleeping(db) == "0" {
        assert!(Instant::now() < deadline, "the session on {db} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// How many sessions of [`session`] are connected to `db`.
fn sleeping(db: &str) -> String {
    let count = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = {} AND query LIKE '%pg_sleep(120)%' \
         AND pid <> pg_backend_pid()",
        quote_literal(db)
    );
    cluster().psql("postgres", &count)
}

/// Ends the session (its server process too, which sleeps without noticing that its client
/// is gone).
fn end(mut child: Child, db: &str) {
    let _ = child.kill();
    let _ = child.wait();
    cluster().psql(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} \
             AND pid <> pg_backend_pid()",
            quote_literal(db)
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while sleeping(db) != "0" {
        assert!(Instant::now() < deadline, "the session on {db} did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `oe --json db ls [-s SERVICE]`, by name.
fn listing(env: &TestEnv, service: &str) -> BTreeMap<String, Value> {
    let run = env.run(&["db", "ls", "--json", "-s", service]).success();
    let rows: Vec<Value> = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("bad JSON from oe db ls: {e}\n{}", run.stdout));
    rows.into_iter().map(|row| (row["name"].as_str().unwrap().to_owned(), row)).collect()
}

#[test]
fn ls_shows_odoo_and_other_databases_with_their_filestores_and_backups() {
    let env = TestEnv::new();
    let c = cluster();
    let backups = env.path("backups");
    configure(&env, &format!("backup_dir: '{}'\n", backups.display()));
    let odoo = odoo_db(&env, "dbls_odoo");
    let plain = c.unique_db("dbls_plain");
    c.create_db(&plain);
    // Backups are found by name, as `oe backups` finds them; the newest is shown.
    let dir = backups.join(&odoo);
    std::fs::create_dir_all(&dir).unwrap();
    for time in ["2026-01-02_03-04-05", "2026-03-01_00-00-00", "2025-12-31_23-59-59"] {
        std::fs::write(dir.join(format!("{odoo}_{time}.zip")), b"zip").unwrap();
    }
    std::fs::write(dir.join(format!("{odoo}_2027-01-01_00-00-00.zip.42.partial")), b"").unwrap();

    let version = c.psql(&odoo, "SELECT latest_version FROM ir_module_module WHERE name = 'base'");
    let apps = c.psql(
        &odoo,
        "SELECT count(*) FROM ir_module_module WHERE state = 'installed' AND application",
    );
    assert!(version.starts_with("17.0."), "{version}");
    assert_ne!(apps, "0");

    let rows = listing(&env, "odoo");
    let row = &rows[&odoo];
    assert_eq!(row["version"], Value::from(version.clone()));
    assert_eq!(row["applications"].to_string(), apps);
    assert_eq!(row["filestore_files"], Value::from(FILES.len()));
    let bytes: usize = FILES.iter().map(|(_, content)| content.len()).sum();
    assert_eq!(row["filestore_bytes"], Value::from(bytes));
    assert_eq!(row["newest_backup"]["time"], "2026-03-01_00-00-00");
    let size = c.psql("postgres", &format!("SELECT pg_database_size({})", quote_literal(&odoo)));
    assert_eq!(row["size"].to_string(), size);
    let row = &rows[&plain];
    assert!(row["size"].as_u64().unwrap() > 0, "{row}");
    for key in ["version", "applications", "filestore_files", "filestore_bytes", "newest_backup"] {
        assert!(row[key].is_null(), "{key}: {row}");
    }
    assert!(!rows.contains_key("postgres") && !rows.contains_key("template1"));

    // The table for people: `-` where unknown.
    let run = env.run(&["db", "ls"]).success();
    let line = |db: &str| -> Vec<String> {
        let line = run.stdout.lines().find(|l| l.split_whitespace().next() == Some(db));
        line.unwrap_or_else(|| panic!("{db} not listed:\n{}", run.stdout))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert!(run.stdout.starts_with("NAME "), "{}", run.stdout);
    let odoo_line = line(&odoo);
    assert!(odoo_line.contains(&version) && odoo_line.contains(&apps), "{odoo_line:?}");
    assert_eq!(odoo_line.last().unwrap(), "2026-03-01_00-00-00");
    let plain_line = line(&plain);
    assert_eq!(plain_line[plain_line.len() - 4..], ["-", "-", "-", "-"], "{plain_line:?}");

    // A database the service's user may not connect to is listed, without details.
    let role = format!("dbls_user_{}", std::process::id());
    let closed = c.unique_db("dbls_closed");
    c.create_db(&closed);
    c.psql(
        "postgres",
        &format!(
            "CREATE ROLE {role} LOGIN; REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
            quote_ident(&closed)
        ),
    );
    let limited = format!(
        "services:\n  limited:\n    postgres: {{host: '{}', port: {}, user: {role}}}\n    data_dir: '{}'\n",
        c.socket_dir.display(),
        c.port,
        env.path("odoo-data").display()
    );
    env.write_config(&env.read_config().replacen("services:\n", &limited, 1));
    let rows = listing(&env, "limited");
    assert!(rows[&closed]["size"].is_null(), "{}", rows[&closed]);
    assert!(rows[&closed]["version"].is_null(), "{}", rows[&closed]);
    // The others are, with what the user may read (not the modules: their tables are the
    // superuser's).
    assert!(rows[&odoo]["size"].as_u64().unwrap() > 0, "{}", rows[&odoo]);
    assert_eq!(rows[&odoo]["filestore_files"], Value::from(FILES.len()));
    assert!(rows[&plain]["size"].as_u64().unwrap() > 0);
    c.psql(&odoo, &format!("GRANT SELECT ON ir_module_module TO {role}"));
    assert_eq!(listing(&env, "limited")[&odoo]["version"], Value::from(version));
}

#[test]
fn cp_copies_the_database_and_links_the_filestore_with_a_new_identity() {
    let env = TestEnv::new();
    let src = odoo_db(&env, "dbcp_src");
    let dst = cluster().unique_db("dbcp_dst");
    let before = content(&src);
    let run = env.run(&["--json", "db", "cp", &src, &dst]).success();
    let summary: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(summary["linked_files"], Value::from(FILES.len()), "{summary}");
    assert_eq!(summary["new_identity"], Value::Bool(true));

    assert_eq!(content(&dst), before);
    assert_eq!(content(&src), before);
    assert_ne!(uuid(&dst), uuid(&src));
    assert_eq!(uuid(&src).len(), 36);
    assert_eq!(uuid(&dst).len(), 36);
    let (from, to) = (filestore(&env, &src), filestore(&env, &dst));
    assert_eq!(tree(&to), tree(&from));
    assert_eq!(tree(&to).len(), FILES.len());
    for (relative, _) in FILES {
        let (a, b) =
            (from.join(relative).metadata().unwrap(), to.join(relative).metadata().unwrap());
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "{relative} is not a hard link");
    }
    assert_no_leftovers(&dst);
    assert!(strays(&env, &[&src, &dst]).is_empty(), "{:?}", strays(&env, &[&src, &dst]));

    // --neutralize: the copy is neutralized, the source is not.
    let neutral = cluster().unique_db("dbcp_neutral");
    env.run(&["db", "cp", &src, &neutral, "--neutralize"]).success().stdout_has("neutralized");
    let flag = "SELECT count(*) FROM ir_config_parameter \
                WHERE key = 'database.is_neutralized' AND value = 'true'";
    assert_eq!(cluster().psql(&neutral, flag), "1");
    assert_eq!(cluster().psql(&src, flag), "0");

    // A database without a filestore or Odoo's tables is copied as it is.
    let plain = cluster().unique_db("dbcp_plain");
    cluster().create_db(&plain);
    cluster().psql(&plain, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
    let copy = cluster().unique_db("dbcp_plain_copy");
    env.run(&["db", "cp", &plain, &copy]).success().stdout_has("no filestore");
    assert_eq!(cluster().psql(&copy, "SELECT x FROM t"), "7");
    assert!(!filestore(&env, &copy).exists());
}

#[test]
fn cp_first_removes_what_a_killed_copy_to_the_same_target_left() {
    let env = TestEnv::new();
    let c = cluster();
    let src = odoo_db(&env, "dbcp_kill_src");
    let dst = c.unique_db("dbcp_kill_dst");
    // As a copy killed with SIGKILL leaves them: its helper database and staged filestore.
    let helper = format!("{dst}-oe-tmp-0badf00d");
    c.create_db(&helper);
    let staged = format!(".{dst}-oe-tmp-0badf00d-999999");
    std::fs::create_dir_all(env.path("odoo-data/filestore").join(&staged).join("0a")).unwrap();
    env.run(&["db", "cp", &src, &dst]).success();
    assert!(!c.db_exists(&helper));
    assert_no_leftovers(&dst);
    assert!(strays(&env, &[&src, &dst]).is_empty(), "{:?}", strays(&env, &[&src, &dst]));
    assert_eq!(tree(&filestore(&env, &dst)).len(), FILES.len());
}

#[test]
fn cp_refuses_an_existing_target_and_leaves_it_intact() {
    let env = TestEnv::new();
    let c = cluster();
    let src = odoo_db(&env, "dbcp_ex_src");
    let dst = c.unique_db("dbcp_ex_dst");
    c.create_db(&dst);
    c.psql(&dst, "CREATE TABLE mine (x int); INSERT INTO mine VALUES (42)");
    std::fs::create_dir_all(filestore(&env, &dst)).unwrap();
    std::fs::write(filestore(&env, &dst).join("own"), b"own").unwrap();
    env.run(&["db", "cp", &src, &dst]).failure(3).stderr_has(&format!("'{dst}' exists"));
    assert_eq!(c.psql(&dst, "SELECT x FROM mine"), "42");
    assert_eq!(tree(&filestore(&env, &dst)).keys().collect::<Vec<_>>(), ["own"]);

    // A filestore without its database is not overwritten either.
    let orphan = c.unique_db("dbcp_ex_orphan");
    std::fs::create_dir_all(filestore(&env, &orphan)).unwrap();
    env.run(&["db", "cp", &src, &orphan]).failure(3).stderr_has("filestore");
    assert!(!c.db_exists(&orphan));
    assert_no_leftovers(&dst);
    assert_no_leftovers(&orphan);
    env.run(&["db", "cp", &src, &src]).failure(2);
    env.run(&["db", "cp", "dbcp_no_such_db", &c.unique_db("dbcp_x")])
        .failure(1)
        .stderr_has("does not exist");
}

#[test]
fn cp_fails_cleanly_while_the_source_has_a_session() {
    let env = TestEnv::new();
    let src = odoo_db(&env, "dbcp_busy_src");
    let dst = cluster().unique_db("dbcp_busy_dst");
    let psql = session(&src);
    let run = env.run(&["db", "cp", &src, &dst]);
    end(psql, &src);
    run.failure(1).stderr_has("being accessed by other users").stderr_has("psql");
    assert!(!cluster().db_exists(&dst));
    assert_no_leftovers(&dst);
    assert!(!filestore(&env, &dst).exists());
    assert!(strays(&env, &[&src]).is_empty(), "{:?}", strays(&env, &[&src]));
    assert_eq!(tree(&filestore(&env, &src)).len(), FILES.len());
}

#[test]
fn cp_live_copies_a_database_in_use_and_stands_only_if_pg_dump_succeeded() {
    let env = TestEnv::new();
    let src = odoo_db(&env, "dbcp_live_src");
    let dst = cluster().unique_db("dbcp_live_dst");
    let before = content(&src);
    // Production keeps running: a session stays on the source throughout.
    let psql = session(&src);
    let run = env.run(&["--json", "db", "cp", "--live", "--neutralize", &src, &dst]);
    assert_eq!(sleeping(&src), "1", "the source's session was left alone");
    end(psql, &src);
    let summary: Value = serde_json::from_str(run.success().stdout.trim()).unwrap();
    assert_eq!(summary["linked_files"], Value::from(FILES.len()), "{summary}");
    assert_eq!(summary["new_identity"], Value::Bool(true));
    // The same rows, but for the crons the neutralization turned off.
    let without_crons = |mut rows: BTreeMap<_, _>| {
        rows.remove("public.ir_cron");
        rows
    };
    assert_eq!(without_crons(content(&dst)), without_crons(before.clone()));
    assert_eq!(content(&src), before);
    assert_ne!(uuid(&dst), uuid(&src));
    let flag = "SELECT count(*) FROM ir_config_parameter \
                WHERE key = 'database.is_neutralized' AND value = 'true'";
    assert_eq!(cluster().psql(&dst, flag), "1");
    assert_eq!(cluster().psql(&src, flag), "0");
    let (from, to) = (filestore(&env, &src), filestore(&env, &dst));
    for (relative, _) in FILES {
        let (a, b) =
            (from.join(relative).metadata().unwrap(), to.join(relative).metadata().unwrap());
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "{relative} is not a hard link");
    }
    assert_no_leftovers(&dst);

    // A pg_dump that wrote a whole dump but failed: the copy does not stand.
    let script = "\"$REAL/pg_dump\" \"$@\"\nexit 1";
    let bindir = crate::support::fake_bindir(&env, "pg_dump", script);
    crate::support::config_with(&env, &format!(", bindir: '{}'", bindir.display()));
    let failed = cluster().unique_db("dbcp_live_failed");
    let run = env.run(&["db", "cp", "--live", &src, &failed]);
    run.failure(1).stderr_has("pg_dump failed");
    assert!(!cluster().db_exists(&failed));
    assert!(!filestore(&env, &failed).exists());
    assert_no_leftovers(&failed);
    assert!(strays(&env, &[&src, &dst]).is_empty(), "{:?}", strays(&env, &[&src, &dst]));
}

#[test]
fn mv_renames_database_and_filestore_and_refuses_an_existing_name() {
    let env = TestEnv::new();
    let c = cluster();
    let old = odoo_db(&env, "dbmv_old");
    let new = c.unique_db("dbmv_new");
    let before = c.fingerprint(&old);
    let files = tree(&filestore(&env, &old));
    env.run(&["db", "mv", &old, &new]).success();
    assert!(!c.db_exists(&old));
    assert_eq!(c.fingerprint(&new), before);
    assert!(!filestore(&env, &old).exists());
    assert_eq!(tree(&filestore(&env, &new)), files);

    let other = c.unique_db("dbmv_other");
    c.create_db(&other);
    env.run(&["db", "mv", &new, &other]).failure(3).stderr_has(&format!("'{other}' exists"));
    assert_eq!(c.fingerprint(&new), before);
    assert_eq!(tree(&filestore(&env, &new)), files);
    assert!(!filestore(&env, &other).exists());

    env.run(&["db", "mv", &old, &c.unique_db("dbmv_x")]).failure(1).stderr_has("does not exist");
    let psql = session(&new);
    let run = env.run(&["db", "mv", &new, &c.unique_db("dbmv_y")]);
    end(psql, &new);
    run.failure(1).stderr_has("being accessed by other users");
    assert_eq!(tree(&filestore(&env, &new)), files);
    assert!(c.db_exists(&new));
}

/// The backups of `db` in `backup_dir`.
fn backups_of(backup_dir: &Path, db: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(backup_dir.join(db)) else { return Vec::new() };
    entries.map(|e| e.unwrap().path()).collect()
}

#[test]
fn rm_backs_up_then_removes_database_and_filestore() {
    let env = TestEnv::new();
    let c = cluster();
    let backups = env.path("backups");
    configure(&env, &format!("backup_dir: '{}'\n", backups.display()));
    let db = odoo_db(&env, "dbrm");
    let before = content(&db);

    // Not while someone uses it: nothing is backed up or removed.
    let psql = session(&db);
    let run = env.run(&["db", "rm", &db]);
    end(psql, &db);
    run.failure(1).stderr_has("being accessed by other users");
    assert!(c.db_exists(&db) && filestore(&env, &db).exists());
    assert!(backups_of(&backups, &db).is_empty());

    let run = env.run(&["db", "rm", &db, "--dry-run"]).success();
    let run = run.stdout_has(&format!("would back up {db} into {}", backups.display()));
    run.stdout_has(&format!("would drop database {db}")).stdout_has("would remove ");
    assert!(c.db_exists(&db) && filestore(&env, &db).exists());
    assert!(backups_of(&backups, &db).is_empty());

    env.run(&["db", "rm", &db]).success().stdout_has("backed up");
    assert!(!c.db_exists(&db));
    assert!(!filestore(&env, &db).exists());
    assert!(strays(&env, &[]).is_empty(), "{:?}", strays(&env, &[]));
    let taken = backups_of(&backups, &db);
    assert_eq!(taken.len(), 1, "{taken:?}");
    // The backup holds what was removed.
    let back = c.unique_db("dbrm_back");
    env.run(&["load", "odoo", taken[0].to_str().unwrap(), &back]).success();
    assert_eq!(content(&back), before);
    assert_eq!(tree(&filestore(&env, &back)).len(), FILES.len());

    env.run(&["db", "rm", &db]).failure(1).stderr_has("does not exist");
}

#[test]
fn rm_no_backup_removes_without_a_backup_directory() {
    let env = TestEnv::new();
    let c = cluster();
    let db = odoo_db(&env, "dbrm_nb");
    // Without a backup directory, a backup cannot be taken: refused, nothing removed.
    env.run(&["db", "rm", &db]).failure(2).stderr_has("--no-backup");
    assert!(c.db_exists(&db) && filestore(&env, &db).exists());
    env.run(&["db", "rm", &db, "--no-backup"]).success();
    assert!(!c.db_exists(&db));
    assert!(!filestore(&env, &db).exists());
    assert!(strays(&env, &[]).is_empty(), "{:?}", strays(&env, &[]));
    assert!(!env.path("backups").exists());
}

#[test]
fn rm_refuses_the_production_database_without_force() {
    let env = TestEnv::new();
    let c = cluster();
    let db = odoo_db(&env, "dbrm_prod");
    configure(&env, &format!("database: {}\n", serde_json::to_string(&db).unwrap()));
    env.run(&["db", "rm", &db, "--no-backup"]).failure(2).stderr_has("production database");
    assert!(c.db_exists(&db) && filestore(&env, &db).exists());
    // Another database of the same installation is not production.
    let other = c.unique_db("dbrm_prod_other");
    c.create_db(&other);
    env.run(&["db", "rm", &other, "--no-backup"]).success();
    assert!(!c.db_exists(&other));
    env.run(&["db", "rm", &db, "--no-backup", "--force"]).success();
    assert!(!c.db_exists(&db) && !filestore(&env, &db).exists());

    // Outside production, the configured database is not refused.
    let staging = odoo_db(&env, "dbrm_staging");
    env.write_config(&format!(
        "environment: staging\n{}",
        env.read_config().replace(&format!("database: \"{db}\""), &format!("database: {staging}"))
    ));
    env.run(&["db", "rm", &staging, "--no-backup"]).success();
    assert!(!c.db_exists(&staging));
}
