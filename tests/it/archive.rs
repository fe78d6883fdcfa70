//! `oe save`, `oe load`, `oe backup`/`backups`/`restore`, `oe verify`: Odoo backup archives
//! with their filestore, checked against the real Odoo 18 fixture and an independent zip
//! reader (Python's zipfile).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cluster::cluster;
use crate::support::{assert_no_leftovers, fake_bindir, tree};
use crate::testenv::TestEnv;

const FIXTURE_ZIP: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");

/// The filestore entries of a zip, read with Python's zipfile: relative path → content.
fn python_zip(path: &Path, script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python3 is needed: .ci/run installs it");
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn filestore(env: &TestEnv, db: &str) -> PathBuf {
    env.path("odoo-data").join("filestore").join(db)
}

/// Loads the fixture with `oe load` into a fresh database; returns its name.
fn load_fixture(env: &TestEnv, prefix: &str) -> String {
    let db = cluster().unique_db(prefix);
    env.run(&["load", "odoo", FIXTURE_ZIP, &db]).success();
    db
}

#[test]
fn load_restores_database_and_filestore_of_the_odoo_fixture() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_fixture");
    let reference = cluster().unique_db("arch_fixture_ref");
    env.run(&["load-db", "odoo", FIXTURE_ZIP, "-d", &reference]).success();
    assert_eq!(cluster().fingerprint(&db), cluster().fingerprint(&reference));
    let files = tree(&filestore(&env, &db));
    let listed = python_zip(
        Path::new(FIXTURE_ZIP),
        "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nfor n in z.namelist():\n    if n.startswith('filestore/'): print(n[10:], z.getinfo(n).file_size)",
    );
    assert_eq!(files.len(), listed.lines().count());
    for line in listed.lines() {
        let (name, size) = line.rsplit_once(' ').unwrap();
        assert_eq!(files[name].len().to_string(), size, "{name}");
    }
    // Identity kept without --copy in production.
    let uuid = "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'";
    assert_eq!(cluster().psql(&db, uuid), cluster().psql(&reference, uuid));
    env.run(&["verify", "odoo", &db]).success().stdout_has("0 missing, 0 corrupt");
}

#[test]
fn save_writes_odoo_layout_and_round_trips_through_files_and_pipes() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_save");
    let out = env.path("out.zip");
    env.run(&["save", "odoo", &db, out.to_str().unwrap()]).success();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let layout = python_zip(
        &out,
        "import sys,zipfile,json\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nn=z.namelist()\nprint(n[0]); print(n[1]); print(all(x.startswith('filestore/') for x in n[2:]))\nm=json.loads(z.read('manifest.json'), object_pairs_hook=list)\nprint([k for k,_ in m])\nprint(len(n)-2)",
    );
    let lines: Vec<&str> = layout.lines().collect();
    assert_eq!(lines[0], "dump.sql");
    assert_eq!(lines[1], "manifest.json");
    assert_eq!(lines[2], "True");
    assert!(lines[3].starts_with("['odoo_dump', 'db_name', 'version', 'version_info', 'major_version', 'pg_version', 'modules'"), "{}", lines[3]);
    assert_eq!(lines[4].parse::<usize>().unwrap(), tree(&filestore(&env, &db)).len());
    let unzip = Command::new("unzip").arg("-tq").arg(&out).output().expect("unzip is needed");
    assert!(unzip.status.success(), "{}", String::from_utf8_lossy(&unzip.stdout));
    env.run(&["verify", out.to_str().unwrap()]).success();

    let back = cluster().unique_db("arch_save_back");
    env.run(&["load", "odoo", out.to_str().unwrap(), &back]).success();
    assert_eq!(cluster().fingerprint(&back), cluster().fingerprint(&db));
    assert_eq!(tree(&filestore(&env, &back)), tree(&filestore(&env, &db)));

    // Through a pipe: save to stdout, load from stdin.
    let piped = cluster().unique_db("arch_save_pipe");
    let mut save = env.oe();
    save.args(["save", "odoo", &db, "-"]).stdout(Stdio::piped());
    let mut save = save.spawn().unwrap();
    let stdout = save.stdout.take().unwrap();
    let load = env.run_with_stdin(&["load", "odoo", "-", &piped], Stdio::from(stdout));
    assert!(save.wait().unwrap().success());
    load.success();
    assert_eq!(cluster().fingerprint(&piped), cluster().fingerprint(&db));
    assert_eq!(tree(&filestore(&env, &piped)), tree(&filestore(&env, &db)));

    // Without the filestore.
    let bare = env.path("bare.zip");
    env.run(&["save", "odoo", &db, bare.to_str().unwrap(), "--no-filestore"]).success();
    let count = python_zip(
        &bare,
        "import sys,zipfile\nprint(len(zipfile.ZipFile(sys.argv[1]).namelist()))",
    );
    assert_eq!(count.trim(), "2");
}

#[test]
fn unsafe_entries_are_refused_before_anything_is_written() {
    let env = TestEnv::new();
    let cases = [
        (
            "slip.zip",
            "z.writestr('dump.sql', 'SELECT 1;\\n'); z.writestr('filestore/../../../evil', 'x')",
        ),
        ("abs.zip", "z.writestr('dump.sql', 'SELECT 1;\\n'); z.writestr('/tmp/evil', 'x')"),
        (
            "link.zip",
            "z.writestr('dump.sql', 'SELECT 1;\\n'); i=zipfile.ZipInfo('filestore/ab/link'); i.external_attr=(0o120777<<16); z.writestr(i, '/etc/passwd')",
        ),
        ("nodump.zip", "z.writestr('filestore/ab/x', 'x')"),
    ];
    for (name, body) in cases {
        let path = env.path(name);
        let script =
            format!("import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],'w')\n{body}\nz.close()");
        python_zip(&path, &script);
        let db = cluster().unique_db("arch_unsafe");
        let run = env.run(&["load", "odoo", path.to_str().unwrap(), &db]);
        assert_eq!(run.code, Some(4), "{name}: {}", run.stderr);
        assert!(!cluster().db_exists(&db), "{name}");
        assert!(
            !env.path("odoo-data/filestore").exists()
                || tree(&env.path("odoo-data/filestore")).is_empty(),
            "{name}"
        );
        assert!(!Path::new("/tmp/evil").exists());
        // Streamed, the same archive is refused too, except a link: its mode is only in the
        // central directory, which a stream reaches last, so it becomes a plain file.
        let file = std::fs::File::open(&path).unwrap();
        let run = env.run_with_stdin(&["load", "odoo", "-", &db], Stdio::from(file));
        if name == "link.zip" {
            run.success();
            let entry = filestore(&env, &db).join("ab/link");
            assert!(std::fs::symlink_metadata(&entry).unwrap().file_type().is_file());
            assert_eq!(std::fs::read(&entry).unwrap(), b"/etc/passwd");
            cluster().drop_db(&db);
            std::fs::remove_dir_all(filestore(&env, &db)).unwrap();
        } else {
            assert_eq!(run.code, Some(4), "{name} from stdin: {}", run.stderr);
            assert!(!cluster().db_exists(&db), "{name}");
        }
        assert_no_leftovers(&db);
    }
}

#[test]
fn failed_forced_load_keeps_database_and_filestore() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_keep");
    let before = cluster().fingerprint(&db);
    let files = tree(&filestore(&env, &db));
    // The fixture with an SQL error in the middle of its dump.
    let broken = env.path("broken.zip");
    let script = format!(
        "import sys,zipfile\nsrc=zipfile.ZipFile('{FIXTURE_ZIP}')\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nfor n in src.namelist():\n    d=src.read(n)\n    if n=='dump.sql':\n        i=d.index(b'\\nCOPY ', len(d)//2)\n        d=d[:i]+b'\\nSELECT * FROM no_such_table;\\n'+d[i:]\n    z.writestr(n, d)\nz.close()"
    );
    python_zip(&broken, &script);
    let run = env.run(&["load", "odoo", broken.to_str().unwrap(), &db, "--force"]).failure(1);
    assert!(run.stderr.contains("no_such_table"), "{}", run.stderr);
    assert_eq!(cluster().fingerprint(&db), before);
    assert_eq!(tree(&filestore(&env, &db)), files);
    let siblings: Vec<_> = std::fs::read_dir(env.path("odoo-data/filestore"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings.len(), 1, "temporary filestores left: {siblings:?}");
    assert_no_leftovers(&db);

    // A truncated archive is refused the same way.
    let bytes = std::fs::read(FIXTURE_ZIP).unwrap();
    let cut = env.path("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    env.run(&["load", "odoo", cut.to_str().unwrap(), &db, "--force"]).failure(4);
    let file = std::fs::File::open(&cut).unwrap();
    env.run_with_stdin(&["load", "odoo", "-", &db, "--force"], Stdio::from(file)).failure(4);
    assert_eq!(cluster().fingerprint(&db), before);
    assert_eq!(tree(&filestore(&env, &db)), files);
    assert_no_leftovers(&db);
}

#[test]
fn copy_regenerates_identity_and_staging_refuses_no_neutralize() {
    let env = TestEnv::new();
    let original = load_fixture(&env, "arch_orig");
    let copy = cluster().unique_db("arch_copy");
    env.run(&["load", "odoo", FIXTURE_ZIP, &copy, "--copy"]).success();
    let param = |db: &str, key: &str| {
        cluster().psql(db, &format!("SELECT value FROM ir_config_parameter WHERE key = '{key}'"))
    };
    for key in ["database.uuid", "database.secret"] {
        assert_ne!(param(&copy, key), param(&original, key), "{key}");
        assert_eq!(param(&copy, key).len(), 36, "{key}");
    }
    assert_eq!(param(&copy, "web.base.url"), "http://localhost:8069");
    assert_eq!(param(&copy, "database.enterprise_code"), "");

    let config = std::fs::read_to_string(&env.config).unwrap();
    env.write_config(&format!("environment: staging\n{config}"));
    let staging = cluster().unique_db("arch_staging");
    env.run(&["load", "odoo", FIXTURE_ZIP, &staging, "--no-neutralize"])
        .failure(2)
        .stderr_has("--no-neutralize is refused");
    assert!(!cluster().db_exists(&staging));
    // In staging, a load is always a neutralized copy.
    env.run(&["load", "odoo", FIXTURE_ZIP, &staging])
        .success()
        .stdout_has("as a copy, neutralized");
    assert_eq!(param(&staging, "database.is_neutralized"), "true");
    assert_ne!(param(&staging, "database.uuid"), param(&original, "database.uuid"));
    let active = "SELECT count(*) FROM ir_cron WHERE active";
    assert_eq!(cluster().psql(&staging, active), "1");
    assert_ne!(cluster().psql(&original, active), "1");
    let servers = "SELECT count(*) FROM ir_mail_server WHERE active AND smtp_host <> 'invalid'";
    assert_eq!(cluster().psql(&staging, servers), "0");
}

#[test]
fn save_fails_cleanly_when_pg_dump_dies() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_dies");
    let script = "\"$REAL/pg_dump\" \"$@\" | head -c 100000\nexit 1";
    let bindir = fake_bindir(&env, "pg_dump", script);
    crate::support::config_with(&env, &format!(", bindir: '{}'", bindir.display()));
    let out = env.path("dies.zip");
    env.run(&["save", "odoo", &db, out.to_str().unwrap()]).failure(1).stderr_has("pg_dump failed");
    assert!(!out.exists());
    assert!(crate::support::partial_files(env.root.path()).is_empty());
}

#[test]
fn backup_restore_and_retention() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_backup");
    let backups = env.path("backups");
    let config = std::fs::read_to_string(&env.config).unwrap();
    env.write_config(&format!(
        "backup_dir: '{}'\nretention: {{daily: 2, weekly: 0, monthly: 0}}\n{config}",
        backups.display()
    ));
    // Older backups of this database, and files retention must never touch.
    let dir = backups.join(&db);
    std::fs::create_dir_all(&dir).unwrap();
    for day in ["2026-01-01", "2026-01-02", "2026-01-03"] {
        std::fs::write(dir.join(format!("{db}_{day}_02-00-00.zip")), b"old").unwrap();
    }
    let partial = dir.join(format!("{db}_2026-01-04_02-00-00.zip.999.partial"));
    std::fs::write(&partial, b"another run").unwrap();
    let other = dir.join("notes.txt");
    std::fs::write(&other, b"keep").unwrap();

    env.run(&["backup", "odoo", "-d", &db]).success().stdout_has("retention: 2 kept, 2 deleted");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&format!("{db}_2026-01-03_02-00-00.zip")), "{names:?}");
    assert!(partial.exists() && other.exists());
    let newest = names
        .iter()
        .find(|n| n.starts_with(&format!("{db}_20")) && !n.contains("2026-01-0"))
        .unwrap()
        .clone();

    let listed = env.run(&["--json", "backups", "-d", &db]).success();
    let list: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0]["path"].as_str().unwrap().ends_with(&newest));

    // Restore picks the newest complete backup, not the old placeholder files.
    cluster().psql(&db, "UPDATE res_partner SET name = 'changed' WHERE id = 1");
    let changed = cluster().fingerprint(&db);
    env.run(&["restore", "odoo", "-d", &db]).failure(3);
    env.run(&["restore", "odoo", "-d", &db, "--force"]).success();
    assert_ne!(cluster().fingerprint(&db), changed);
    assert_ne!(cluster().psql(&db, "SELECT name FROM res_partner WHERE id = 1"), "changed");
}

#[test]
fn retention_keeps_recent_backups_and_judges_age_by_the_older_time() {
    use oe::rules::retention::Timestamp;
    use std::time::{Duration, SystemTime};
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_within");
    let backups = env.path("backups");
    let config = std::fs::read_to_string(&env.config).unwrap();
    let write_config = |retention: &str| {
        env.write_config(&format!(
            "backup_dir: '{}'\nretention: {{{retention}daily: 0, weekly: 0, monthly: 0}}\n{config}",
            backups.display()
        ));
    };
    let dir = backups.join(&db);
    std::fs::create_dir_all(&dir).unwrap();
    let hours_ago = |h: u64| SystemTime::now() - Duration::from_secs(h * 3600);
    let backup = |time: SystemTime, modified: SystemTime| {
        let name = format!("{db}_{}.zip", Timestamp::from_system_time(time).unwrap());
        let path = dir.join(name);
        let file = std::fs::File::create(&path).unwrap();
        file.set_modified(modified).unwrap();
        path
    };
    // This morning's manual backup, and yesterday's.
    let recent = backup(hours_ago(2), hours_ago(2));
    let old = backup(hours_ago(30), hours_ago(30));
    // Copied in with a future name, 30 hours ago: judged by its mtime.
    let future = dir.join(format!("{db}_2099-01-01_00-00-00.zip"));
    std::fs::File::create(&future).unwrap().set_modified(hours_ago(30)).unwrap();

    // Default within (24h): the recent backup stays though no daily rule keeps it.
    write_config("");
    env.run(&["backup", "odoo", "-d", &db]).success().stdout_has("retention: 2 kept, 2 deleted");
    assert!(recent.exists(), "a backup of 2 hours ago was deleted");
    assert!(!old.exists() && !future.exists());

    // Without the rule only the newest is kept. Backups are named to the second, and one made
    // in the same second as the previous one replaces it: wait for the next second.
    std::thread::sleep(Duration::from_millis(1100));
    write_config("within: 0s, ");
    env.run(&["backup", "odoo", "-d", &db]).success().stdout_has("retention: 1 kept, 2 deleted");
    assert!(!recent.exists());
}

#[test]
fn verify_reports_missing_corrupt_and_broken_archives() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_verify");
    let store = filestore(&env, &db);
    let files: Vec<String> =
        tree(&store).into_keys().filter(|k| !k.starts_with("checklist")).collect();
    std::fs::remove_file(store.join(&files[0])).unwrap();
    std::fs::write(store.join(&files[1]), b"tampered").unwrap();
    let run = env.run(&["verify", "odoo", &db]).failure(1);
    assert!(run.stderr.contains("1 missing, 1 corrupt"), "{}", run.stderr);
    assert!(run.stderr.contains(&files[0]) && run.stderr.contains(&files[1]), "{}", run.stderr);

    env.run(&["verify", FIXTURE_ZIP]).success();
    // A filestore entry whose content does not match its SHA-1 name.
    let bad = env.path("bad.zip");
    python_zip(
        &bad,
        &format!(
            "import sys,zipfile\nsrc=zipfile.ZipFile('{FIXTURE_ZIP}')\nz=zipfile.ZipFile(sys.argv[1],'w')\nfor n in src.namelist():\n    d=src.read(n)\n    if n.startswith('filestore/') and not n.startswith('filestore/checklist'):\n        d=d+b'x'\n    z.writestr(n,d)\nz.close()"
        ),
    );
    env.run(&["verify", bad.to_str().unwrap()]).failure(1).stderr_has("corrupt");
    // A dump without pg_dump's end.
    let cut = env.path("cutdump.zip");
    python_zip(
        &cut,
        &format!(
            "import sys,zipfile\nsrc=zipfile.ZipFile('{FIXTURE_ZIP}')\nz=zipfile.ZipFile(sys.argv[1],'w')\nfor n in src.namelist():\n    d=src.read(n)\n    if n=='dump.sql': d=d[:len(d)//2]\n    z.writestr(n,d)\nz.close()"
        ),
    );
    env.run(&["verify", cut.to_str().unwrap()]).failure(1).stderr_has("dump.sql");
}

#[test]
fn missing_attachments_warn_or_fail_with_strict() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_strict");
    let store = filestore(&env, &db);
    let victim = cluster().psql(
        &db,
        "SELECT store_fname FROM ir_attachment WHERE store_fname <> '' ORDER BY id LIMIT 1",
    );
    std::fs::remove_file(store.join(&victim)).unwrap();
    let out = env.path("strict.zip");
    let run = env.run(&["save", "odoo", &db, out.to_str().unwrap(), "--strict"]).failure(4);
    assert!(
        run.stderr.contains("1 attachment file(s)") && run.stderr.contains(&victim),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
    let run = env.run(&["save", "odoo", &db, out.to_str().unwrap()]).success();
    assert!(run.stderr.contains("missing") && run.stderr.contains(&victim), "{}", run.stderr);
    assert!(out.exists());
}

#[test]
fn save_spills_the_listing_and_central_directory_of_a_large_filestore() {
    // 80,000 more files than the fixture's: past what `oe save` keeps in memory of the
    // listing (4 MiB, about 70,000 files) and of the central directory (about 40,000), so
    // both go to unlinked temporary files beside the archive.
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_many");
    let store = filestore(&env, &db);
    let extra = 80_000u32;
    for i in 0..extra {
        use sha1::Digest;
        let content = format!("extra attachment {i}\n");
        let name = format!("{:x}", sha1::Sha1::digest(&content));
        let dir = store.join(&name[..2]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&name), content).unwrap();
    }
    // A referenced file missing: found among the spilled listing, in order.
    let victim = cluster().psql(
        &db,
        "SELECT store_fname FROM ir_attachment WHERE store_fname <> '' ORDER BY id DESC LIMIT 1",
    );
    std::fs::remove_file(store.join(&victim)).unwrap();
    let outdir = env.path("archives");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("many.zip");
    let run = env.run(&["save", "odoo", &db, out.to_str().unwrap(), "--strict"]).failure(4);
    assert!(
        run.stderr.contains("1 attachment file(s)") && run.stderr.contains(&victim),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 0, "nothing left beside the archive");

    env.run(&["save", "odoo", &db, out.to_str().unwrap()]).success().stderr_has(&victim);
    let names: Vec<String> = std::fs::read_dir(&outdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["many.zip"], "only the archive beside it");
    let files = tree(&store);
    assert!(files.len() > extra as usize);
    let listed = python_zip(
        &out,
        "import sys,zipfile,hashlib\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nfor i in z.infolist()[2:]: print(i.filename, hashlib.sha1(z.read(i)).hexdigest())",
    );
    let mut expected: Vec<String> = files
        .iter()
        .map(|(name, data)| {
            use sha1::Digest;
            format!("filestore/{name} {:x}", sha1::Sha1::digest(data))
        })
        .collect();
    expected.sort();
    let listed: Vec<String> = listed.lines().map(str::to_owned).collect();
    assert!(listed == expected, "the archive's filestore differs from the filestore");
    let unzip = Command::new("unzip").arg("-tq").arg(&out).output().expect("unzip is needed");
    assert!(unzip.status.success(), "{}", String::from_utf8_lossy(&unzip.stdout));
}

#[test]
fn click_odoo_layout_and_custom_dumps_load() {
    let env = TestEnv::new();
    let reference = load_fixture(&env, "arch_click_ref");
    // click-odoo-contrib writes the filestore first and dump.sql last.
    let click = env.path("click.zip");
    python_zip(
        &click,
        &format!(
            "import sys,zipfile\nsrc=zipfile.ZipFile('{FIXTURE_ZIP}')\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nnames=src.namelist()\nfor n in [n for n in names if n!='dump.sql']+['dump.sql']:\n    z.writestr(n, src.read(n))\nz.close()"
        ),
    );
    for from_stdin in [false, true] {
        let db = cluster().unique_db("arch_click");
        if from_stdin {
            let file = std::fs::File::open(&click).unwrap();
            env.run_with_stdin(&["load", "odoo", "-", &db], Stdio::from(file)).success();
        } else {
            env.run(&["load", "odoo", click.to_str().unwrap(), &db]).success();
        }
        assert_eq!(cluster().fingerprint(&db), cluster().fingerprint(&reference));
        assert_eq!(tree(&filestore(&env, &db)), tree(&filestore(&env, &reference)));
    }
    // A custom-format dump has no filestore: the database alone is loaded.
    let dump = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.dump");
    let db = cluster().unique_db("arch_custom");
    env.run(&["load", "odoo", dump, &db]).success();
    assert_eq!(cluster().fingerprint(&db), cluster().fingerprint(&reference));
    assert!(!filestore(&env, &db).exists());
}

/// Every ordinary table of `db` (not the system's) and its exact row count:
/// schema → table → rows.
fn table_rows(db: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let sql = "SELECT format('SELECT json_build_array(%L, %L, count(*)) FROM ONLY %I.%I', \
               n.nspname, c.relname, n.nspname, c.relname) \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_%' \\gexec";
    let mut rows: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for line in cluster().psql(db, sql).lines().filter(|l| !l.is_empty()) {
        let (schema, table, count): (String, String, u64) = serde_json::from_str(line).unwrap();
        rows.entry(schema).or_default().insert(table, count);
    }
    rows
}

/// The `oe.rows` of an archive's manifest.
fn manifest_rows(zip: &Path) -> serde_json::Value {
    let text = python_zip(
        zip,
        "import sys,zipfile,json\nm=json.loads(zipfile.ZipFile(sys.argv[1]).read('manifest.json'))\nprint(json.dumps(m.get('oe', {}).get('rows')))",
    );
    serde_json::from_str(text.trim()).unwrap()
}

#[test]
fn save_records_the_rows_of_every_table_in_the_manifest() {
    let (db, _) = crate::support::sample_db("arch_rows");
    // Just enough of Odoo for `oe save` to write its manifest.
    cluster().psql(
        &db,
        "CREATE TABLE public.ir_module_module (name varchar, latest_version varchar, state varchar);
         INSERT INTO public.ir_module_module VALUES ('base', '18.0.1.3', 'installed');",
    );
    let env = TestEnv::new();
    let out = env.path("rows.zip");
    env.run(&["save", "odoo", &db, out.to_str().unwrap(), "--no-filestore"]).success();
    let recorded = manifest_rows(&out);
    let expected = table_rows(&db);
    assert!(expected.values().map(|t| t.len()).sum::<usize>() >= 14, "{expected:?}");
    assert_eq!(recorded, serde_json::to_value(&expected).unwrap());
    assert_eq!(recorded["Odd Schema"]["Mixed Case"], 25);
    assert_eq!(recorded["public"]["note_samples"], 24);
    assert_eq!(recorded["sales"]["sale_order_line"], 12000);
}

/// An Odoo database from the fixture, plus a table whose names need quoting.
fn odoo_db_with_odd_names(env: &TestEnv, prefix: &str) -> String {
    let db = load_fixture(env, prefix);
    cluster().psql(
        &db,
        r#"CREATE SCHEMA "Odd Schema";
           CREATE TABLE "Odd Schema"."Mixed Case" ("Id" integer PRIMARY KEY, "quote""d" text);
           INSERT INTO "Odd Schema"."Mixed Case"
           SELECT i, CASE WHEN i % 3 = 0 THEN E'q"\n\\.' || i END FROM generate_series(1, 25) AS i;"#,
    );
    db
}

/// Scratch databases of restores of archives whose names start with `db` or `odoo18_ref`
/// (the scratch database is named after the archive), and scratch filestores of `env`.
fn scratch_left(env: &TestEnv, db: &str) -> Vec<String> {
    let dbs = cluster().databases().into_iter().filter(|d| {
        d.contains("-oe-rtest-") && (d.starts_with(db) || d.starts_with("odoo18_ref-"))
    });
    let dirs = std::fs::read_dir(env.path("odoo-data/filestore"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|name| name.contains("-oe-"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    dbs.chain(dirs).collect()
}

#[test]
fn verify_restore_compares_every_table_and_names_the_one_that_lost_rows() {
    let env = TestEnv::new();
    let db = odoo_db_with_odd_names(&env, "arch_vrest");
    let good = env.path(&format!("{db}_good.zip"));
    env.run(&["save", "odoo", &db, good.to_str().unwrap()]).success();
    let tables = table_rows(&db).values().map(|t| t.len()).sum::<usize>();
    env.run(&["verify", good.to_str().unwrap(), "--restore"])
        .success()
        .stdout_has(&format!("in {tables} tables, as recorded"));
    assert!(scratch_left(&env, &db).is_empty(), "{:?}", scratch_left(&env, &db));

    // Rows gone from the dump, which still loads: the restore names the table.
    let lost = env.path(&format!("{db}_lost.zip"));
    crate::support::drop_copy_rows(&good, &lost, "\"Odd Schema\".\"Mixed Case\"", 3);
    let run = env.run(&["verify", lost.to_str().unwrap(), "--restore", "odoo"]).failure(1);
    assert!(
        run.stderr
            .contains("table \"Odd Schema\".\"Mixed Case\" has 22 rows, the dump recorded 25"),
        "{}",
        run.stderr
    );
    assert!(scratch_left(&env, &db).is_empty(), "{:?}", scratch_left(&env, &db));
    // Without --restore the archive itself looks whole.
    env.run(&["verify", lost.to_str().unwrap()]).success();

    // Odoo's own archive records no counts: the core tables are checked, and it says so.
    env.run(&["verify", FIXTURE_ZIP, "--restore"])
        .success()
        .stdout_has("no row counts recorded in the archive")
        .stdout_has("res_partner");
    assert!(scratch_left(&env, &db).is_empty(), "{:?}", scratch_left(&env, &db));
    env.run(&["verify", "odoo", &db, "--restore"])
        .failure(2)
        .stderr_has("--restore takes an archive");
}

#[test]
fn sigterm_during_verify_restore_drops_the_scratch_database_and_filestore() {
    let env = TestEnv::new();
    let db = load_fixture(&env, "arch_vterm");
    let archive = env.path(&format!("{db}.zip"));
    env.run(&["save", "odoo", &db, archive.to_str().unwrap()]).success();
    // psql loads the dump, then hangs as a slow server would: the load is under way.
    let bindir = fake_bindir(&env, "psql", "\"$REAL/psql\" \"$@\"\nsleep 9873");
    crate::support::config_with(&env, &format!(", bindir: '{}'", bindir.display()));
    let mut child = env.oe();
    child.args(["verify", archive.to_str().unwrap(), "--restore"]);
    let child = child.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while crate::support::processes_with("9873").is_empty() {
        assert!(std::time::Instant::now() < deadline, "the restore never reached psql");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!scratch_left(&env, &db).is_empty(), "no scratch database or filestore to clean");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(scratch_left(&env, &db).is_empty(), "{:?}", scratch_left(&env, &db));
    assert!(crate::support::processes_with("9873").is_empty());
}
