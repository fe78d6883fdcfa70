//! `oe restore --from REPOSITORY`: a backup that `oe backup` wrote and `oe mirror run`
//! snapshotted, restored from the repository after the backup directory is gone, compared
//! with the original database and filestore; older snapshots; which database; damage.

use std::path::{Path, PathBuf};

use crate::cluster::cluster;
use crate::support::{assert_no_leftovers, tree};
use crate::testenv::TestEnv;

const FIXTURE_ZIP: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");

/// A test root whose config has a backup directory mirrored into a repository.
struct Setup {
    env: TestEnv,
    backups: PathBuf,
    repo: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let env = TestEnv::new();
        let backups = env.path("backups");
        let repo = env.path("repo");
        std::fs::create_dir_all(&backups).unwrap();
        let config = std::fs::read_to_string(&env.config).unwrap();
        env.write_config(&format!(
            "backup_dir: {}\nmirror:\n  repository: {}\n  dirs:\n    {}: {{}}\n{config}",
            json(&backups),
            json(&repo),
            json(&backups)
        ));
        env.run(&["mirror", "init"]).success();
        Setup { env, backups, repo }
    }

    /// `oe mirror run`; the new snapshot's id.
    fn mirror(&self) -> String {
        let run = self.env.run(&["--json", "mirror", "run"]).success();
        let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        report["dirs"][0]["snapshot"].as_str().expect("a snapshot id").to_owned()
    }

    fn repo(&self) -> &str {
        self.repo.to_str().unwrap()
    }

    fn filestore(&self, db: &str) -> PathBuf {
        self.env.path("odoo-data").join("filestore").join(db)
    }
}

fn json(path: &Path) -> String {
    serde_json::to_string(path.to_str().unwrap()).unwrap()
}

/// The fixture loaded into a fresh database, and backed up; returns its name.
fn backed_up_fixture(setup: &Setup, prefix: &str) -> String {
    let db = cluster().unique_db(prefix);
    setup.env.run(&["load", "odoo", FIXTURE_ZIP, &db]).success();
    setup.env.run(&["backup", "odoo", "-d", &db]).success();
    db
}

/// The largest pack file of the repository.
fn largest_pack(repo: &Path) -> PathBuf {
    let mut packs = Vec::new();
    for sub in std::fs::read_dir(repo.join("data")).unwrap() {
        for pack in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let path = pack.unwrap().path();
            packs.push((std::fs::metadata(&path).unwrap().len(), path));
        }
    }
    packs.sort();
    packs.pop().expect("a pack").1
}

#[test]
fn a_backup_restores_from_the_repository_without_the_backup_directory() {
    let setup = Setup::new();
    let db = backed_up_fixture(&setup, "rfrom_orig");
    let snapshot = setup.mirror();
    let name = std::fs::read_dir(setup.backups.join(&db))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    std::fs::remove_dir_all(&setup.backups).unwrap();

    // No database configured, one database with backups in the repository: that one.
    let target = cluster().unique_db("rfrom_new");
    let run =
        setup.env.run(&["-v", "restore", "odoo", "--from", setup.repo(), "-d", &target]).success();
    let run = run.stdout_has(&name).stdout_has(&snapshot[..8]);
    assert!(run.stderr.contains(&name), "the log names the backup: {}", run.stderr);
    assert_eq!(cluster().fingerprint(&target), cluster().fingerprint(&db));
    let restored = tree(&setup.filestore(&target));
    assert!(!restored.is_empty());
    assert_eq!(restored, tree(&setup.filestore(&db)));
    // Production: the identity is kept, as `oe restore` keeps it.
    let uuid = "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'";
    assert_eq!(cluster().psql(&target, uuid), cluster().psql(&db, uuid));

    // An existing target needs --force, as with `oe restore`.
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "-d", &target])
        .failure(3)
        .stderr_has("--force");

    // A damaged pack: the load fails as corrupt input, the existing target is untouched.
    cluster().psql(&target, "UPDATE res_partner SET name = 'kept' WHERE id = 1");
    let before = (cluster().fingerprint(&target), tree(&setup.filestore(&target)));
    let pack = largest_pack(&setup.repo);
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    for at in [middle, middle + 70_000, middle + 300_000] {
        bytes[at] ^= 0x55;
    }
    std::fs::write(&pack, &bytes).unwrap();
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "-d", &target, "--force"])
        .failure(4)
        .stderr_has(&name)
        .stderr_has("does not match its hash");
    assert_eq!((cluster().fingerprint(&target), tree(&setup.filestore(&target))), before);
    assert_no_leftovers(&target);
}

#[test]
fn snapshots_databases_and_missing_backups_are_chosen_or_refused_clearly() {
    let setup = Setup::new();
    let db = backed_up_fixture(&setup, "rfrom_snap");
    let first = setup.mirror();
    // A later backup (backups are named to the second) of a changed database.
    cluster().psql(&db, "UPDATE res_partner SET name = 'second' WHERE id = 1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    setup.env.run(&["backup", "odoo", "-d", &db]).success();
    let second = setup.mirror();
    assert_ne!(first, second);
    let name_of = |db: &str| cluster().psql(db, "SELECT name FROM res_partner WHERE id = 1");

    // Latest: the newest backup; --snapshot of the first: the older one.
    let newest = cluster().unique_db("rfrom_newest");
    setup.env.run(&["restore", "odoo", "--from", setup.repo(), "-d", &newest]).success();
    assert_eq!(name_of(&newest), "second");
    let older = cluster().unique_db("rfrom_older");
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "--snapshot", &first[..10], "-d", &older])
        .success()
        .stdout_has(&first[..8]);
    assert_ne!(name_of(&older), "second");
    assert_eq!(cluster().fingerprint(&older).len(), cluster().fingerprint(&db).len());

    // A backup of another database: which one is then to be said.
    let other = setup.backups.join("other_db");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("other_db_2026-01-01_02-00-00.zip"), b"PK\x03\x04 cut short")
        .unwrap();
    // Not backups: a partial file, a backup named for another directory.
    std::fs::write(other.join("other_db_2026-01-02_02-00-00.zip.99.partial"), b"x").unwrap();
    std::fs::write(other.join("third_2026-01-02_02-00-00.zip"), b"x").unwrap();
    setup.mirror();
    let target = cluster().unique_db("rfrom_target");
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "-d", &target])
        .failure(2)
        .stderr_has(&format!("several databases: other_db, {db}"))
        .stderr_has("--source-db");
    assert!(!cluster().db_exists(&target));
    // An unknown database: named, with those that have backups.
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "--source-db", "nosuch", "-d", &target])
        .failure(4)
        .stderr_has("no complete backup of 'nosuch'")
        .stderr_has("other_db");
    // The configured database is the default source.
    let config = std::fs::read_to_string(&setup.env.config).unwrap();
    setup.env.write_config(&format!("database: other_db\n{config}"));
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "-d", &target])
        .failure(4)
        .stderr_has("other_db_2026-01-01_02-00-00.zip");
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "--source-db", &db, "-d", &target])
        .success();
    assert_eq!(name_of(&target), "second");
    // An unknown snapshot; -z and --from together.
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "--snapshot", "ffffffff", "-d", &target])
        .failure(2)
        .stderr_has("no snapshot ffffffff");
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "-z", "x.zip", "-d", &target])
        .failure(2);
    assert_no_leftovers(&target);
}

#[test]
fn a_repository_without_backups_is_refused() {
    let setup = Setup::new();
    let target = cluster().unique_db("rfrom_none");
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "-d", &target])
        .failure(4)
        .stderr_has("holds no snapshot");
    std::fs::write(setup.backups.join("notes.txt"), b"no backup here").unwrap();
    setup.mirror();
    setup
        .env
        .run(&["restore", "odoo", "--from", setup.repo(), "-d", &target])
        .failure(4)
        .stderr_has("no backup in the latest snapshots");
    let missing = setup.env.path("no-repo");
    setup
        .env
        .run(&["restore", "odoo", "--from", missing.to_str().unwrap(), "-d", &target])
        .failure(2)
        .stderr_has("not an oe mirror repository");
    assert!(!cluster().db_exists(&target));
}
