//! `oe update` against the real Docker engine and the real Odoo 18 test image: a database
//! created the Odoo way, nothing to do without downtime, a changed addon detected by its
//! checksum (the one click-odoo-update stores: compared with click-odoo-contrib's own code)
//! and applied, a failing update put back to the exact previous database, filestore,
//! sources and images, `--rollback` of a completed update, a SIGTERM mid-update put back by
//! `oe` itself, and a `kill -9` mid-update finished off by `--rollback`.
//!
//! The test addon `oe_probe` lives in a git repository of the test's own, listed in the
//! client manifest; each change is a commit pushed to it, which `oe update` pulls.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::deploy::{
    Images, Install, bare_repo, deploy_config, free_port, get, git, images, run, state,
};
use crate::testenv::TestEnv;

static CLIENTS: AtomicU32 = AtomicU32::new(0);

const MODEL_V1: &str = "from odoo import fields, models\n\n\nclass Thing(models.Model):\n    \
                        _name = 'oe.probe.thing'\n    _description = 'Probe thing'\n\n    \
                        name = fields.Char()\n";

fn probe_manifest_v1() -> String {
    "{'name': 'Probe', 'depends': ['base'], 'data': [], 'license': 'LGPL-3'}\n".to_owned()
}

/// An installation whose default app (`<client>_default`) depends on `oe_probe`, from the
/// repository `addons`; and the work tree of that repository, to commit changes in.
struct Setup {
    i: Install,
    addons_work: PathBuf,
    addons_bare: String,
    db: String,
}

fn setup(images: &Images, environment: &str) -> Setup {
    let env = TestEnv::new();
    let client = format!("up{}x{}", std::process::id(), CLIENTS.fetch_add(1, Ordering::Relaxed));
    let remotes = env.path("remotes");
    std::fs::create_dir_all(&remotes).unwrap();
    let probe_manifest = probe_manifest_v1();
    let addons = bare_repo(
        &remotes,
        "addons",
        &[
            ("oe_probe/__manifest__.py", &probe_manifest),
            ("oe_probe/__init__.py", "from . import models\n"),
            ("oe_probe/models.py", MODEL_V1),
        ],
    );
    let manifest = format!(
        "{{\n    'name': 'Default app',\n    'depends': ['base', 'oe_probe'],\n    \
         'license': 'LGPL-3',\n    'env-ver': '2',\n    'odoo-license': 'CE',\n    \
         'port': '{port}',\n    'git-repos': ['{addons} addons'],\n    'docker-images': [\n        \
         'odoo {odoo}',\n        'postgres {postgres}',\n        'nginx {nginx}',\n    ],\n}}\n",
        port = free_port(),
        odoo = images.odoo,
        postgres = images.postgres,
        nginx = images.nginx,
    );
    let module = format!("{client}_default");
    let defapp = bare_repo(
        &remotes,
        "defapp",
        &[
            (&format!("{module}/__manifest__.py"), &manifest),
            (&format!("{module}/__init__.py"), ""),
        ],
    );
    let (http_port, root) = deploy_config(&env);
    let config = ["config", "--client", &client, "--environment", environment, "--defapp", &defapp];
    env.run(&config).success();
    env.run(&["config", "--nginx", "on"]).success();
    env.run(&["install"]).success();
    let db = format!("{client}_prod");
    let root = root.join(&client);
    Setup {
        addons_work: remotes.join("addons-work"),
        addons_bare: remotes.join("addons.git").display().to_string(),
        i: Install { env, client, http_port, root },
        db,
    }
}

impl Setup {
    /// Commits `files` (path → content; `None` removes) in the addons repository and pushes.
    fn commit(&self, message: &str, files: &[(&str, Option<&str>)]) -> String {
        for (path, content) in files {
            let path = self.addons_work.join(path);
            match content {
                Some(content) => {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, content).unwrap();
                }
                None => std::fs::remove_file(path).unwrap(),
            }
        }
        git(&self.addons_work, &["add", "-A"]);
        git(&self.addons_work, &["commit", "-q", "-m", message]);
        git(&self.addons_work, &["push", "-q", &self.addons_bare, "main"]);
        git(&self.addons_work, &["rev-parse", "HEAD"])
    }

    /// `sql`'s output in the production database, through psql in the postgres container.
    fn psql(&self, db: &str, sql: &str) -> String {
        let container = format!("oe-{}-postgres", self.i.client);
        run("docker", &["exec", &container, "psql", "-U", "odoo", "-d", db, "-Atc", sql], None)
    }

    fn databases(&self) -> Vec<String> {
        let names = self.psql("postgres", "SELECT datname FROM pg_database ORDER BY 1");
        names.lines().map(str::to_owned).collect()
    }

    /// The databases whose name holds `part` (`-update-`, `-before-`).
    fn databases_with(&self, part: &str) -> Vec<String> {
        self.databases().into_iter().filter(|d| d.contains(part)).collect()
    }

    fn has_column(&self, column: &str) -> bool {
        let sql = format!(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'oe_probe_thing' AND column_name = '{column}'"
        );
        self.psql(&self.db, &sql) == "1"
    }

    fn stored_checksum(&self, module: &str) -> Option<String> {
        let json = self.psql(
            &self.db,
            "SELECT value FROM ir_config_parameter \
             WHERE key = 'module_auto_update.installed_checksums'",
        );
        let map: serde_json::Value = serde_json::from_str(&json).ok()?;
        map[module].as_str().map(str::to_owned)
    }

    fn serves(&self) -> bool {
        get(&format!("http://127.0.0.1:{}/web/login", self.i.http_port)).0 == 200
    }

    fn odoo_started_at(&self) -> String {
        let name = format!("oe-{}-odoo", self.i.client);
        run("docker", &["inspect", "--format", "{{.State.StartedAt}}", &name], None)
    }

    fn addons_head(&self) -> String {
        git(&self.i.root.join("sources/addons"), &["rev-parse", "HEAD"])
    }
}

/// click-odoo-contrib's own checksum of the addon at `dir`, with its default exclusions and
/// the database's one language.
fn click_odoo_checksum(dir: &Path) -> String {
    let pythonpath = std::env::var("OE_TEST_PYTHONPATH")
        .expect("OE_TEST_PYTHONPATH: click-odoo-contrib, as contrib/test.sh installs it");
    let script = "import sys\nfrom click_odoo_contrib._addon_hash import addon_hash\n\
                  patterns = '*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*,tests/*'.split(',')\n\
                  print(addon_hash(sys.argv[1], patterns, ['en_US']))\n";
    let out = Command::new("python3")
        .args(["-c", script, dir.to_str().unwrap()])
        .env("PYTHONPATH", pythonpath)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn update_creates_detects_applies_rolls_back_a_failure_and_goes_back_on_request() {
    let Some(images) = images() else { return };
    let s = setup(&images, "production");
    let env = &s.i.env;
    let client = &s.i.client;

    // A new installation: the database is made by Odoo, with the default app.
    let out = env.run(&["update"]).success();
    assert!(out.stdout.contains(&format!("database {} created", s.db)), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("install {client}_default")), "{}", out.stdout);
    assert_eq!(
        s.psql(&s.db, "SELECT state FROM ir_module_module WHERE name = 'oe_probe'"),
        "installed"
    );
    assert!(s.serves(), "odoo does not answer after the first update");
    // The stored checksum is click-odoo-update's, byte for byte.
    let probe = s.i.root.join("sources/addons/oe_probe");
    assert_eq!(s.stored_checksum("oe_probe"), Some(click_odoo_checksum(&probe)));
    assert!(s.stored_checksum("base").is_some(), "the image's addons have checksums too");

    // Nothing changed: nothing run, Odoo not even restarted.
    let started = s.odoo_started_at();
    let out = env.run(&["update", "--quick"]).success();
    assert!(out.stdout.contains("nothing to update"), "{}", out.stdout);
    let out = env.run(&["--json", "update", "--quick"]).success();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["plan"]["update"], serde_json::json!([]), "{report}");
    assert_eq!(report["downtime"], serde_json::Value::Null, "{report}");
    assert_eq!(s.odoo_started_at(), started, "odoo was restarted with nothing to update");

    // A new field: found by its checksum, listed, then applied.
    let v1 = s.addons_head();
    let model_v2 = format!("{MODEL_V1}    size = fields.Integer()\n");
    let v2 = s.commit("a field", &[("oe_probe/models.py", Some(&model_v2))]);
    env.run(&["pull", "--repos"]).success();
    let out = env.run(&["update", "--quick", "--list-only"]).success();
    assert!(
        out.stdout.contains("oe_probe") && out.stdout.contains("its files changed"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("update  base"), "{}", out.stdout);
    assert!(!s.has_column("size"), "--list-only changed the database");
    let out = env.run(&["update"]).success();
    assert!(out.stdout.contains("rollback point"), "{}", out.stdout);
    assert!(s.has_column("size"), "the new field is not in the database");
    assert!(s.serves());
    assert_eq!(s.stored_checksum("oe_probe"), Some(click_odoo_checksum(&probe)));

    // Modules named, and a database updated with another image: listed, nothing done.
    let out = env.run(&["update", "--quick", "--list-only", "-m", "oe_probe"]).success();
    assert!(out.stdout.contains("oe_probe") && out.stdout.contains("asked"), "{}", out.stdout);
    env.run(&["update", "--quick", "-m", "no_such_module"]).failure(2).stderr_has("not installed");
    let image_key = "FROM ir_config_parameter WHERE key = 'oe.update.odoo_image'";
    let image = s.psql(&s.db, &format!("SELECT value {image_key}"));
    assert!(image.contains("@sha256:"), "the image is not recorded: {image:?}");
    s.psql(
        &s.db,
        "UPDATE ir_config_parameter SET value = 'odoo@sha256:0' WHERE key = 'oe.update.odoo_image'",
    );
    let out = env.run(&["update", "--quick", "--list-only"]).success();
    assert!(
        out.stdout.contains("base") && out.stdout.contains("the odoo image changed"),
        "{}",
        out.stdout
    );
    s.psql(
        &s.db,
        &format!(
            "UPDATE ir_config_parameter SET value = '{image}' WHERE key = 'oe.update.odoo_image'"
        ),
    );

    // Data users entered, then an update that fails: a data file with a bad reference, and a
    // field that must not stay.
    s.psql(&s.db, "INSERT INTO oe_probe_thing (name, size) VALUES ('a', 1), ('b', 2)");
    s.psql(&s.db, "UPDATE oe_probe_thing SET size = 7 WHERE name = 'b'");
    let lock = std::fs::read_to_string(s.i.root.join("oe.lock")).unwrap();
    let store = s.i.root.join("data_dir/filestore").join(&s.db);
    std::fs::create_dir_all(store.join("0f")).unwrap();
    std::fs::write(store.join("0f/probe"), "an attachment").unwrap();
    let model_v3 = format!("{model_v2}    color = fields.Char()\n");
    let bad = "<odoo>\n  <record id=\"bad\" model=\"oe.probe.thing\">\n    \
               <field name=\"name\">bad</field>\n    \
               <field name=\"create_uid\" ref=\"base.no_such_user\"/>\n  </record>\n</odoo>\n";
    let manifest_v3 = "{'name': 'Probe', 'depends': ['base'], 'data': ['data/bad.xml'], \
                       'license': 'LGPL-3'}\n";
    s.commit(
        "a broken data file",
        &[
            ("oe_probe/models.py", Some(&model_v3)),
            ("oe_probe/data/bad.xml", Some(bad)),
            ("oe_probe/__manifest__.py", Some(manifest_v3)),
        ],
    );
    env.run(&["update"])
        .failure(1)
        .stderr_has("no_such_user")
        .stderr_has("put back as it was before the update");
    assert!(!s.has_column("color"), "the failed update's field stayed");
    assert_eq!(
        s.psql(&s.db, "SELECT name || '=' || size FROM oe_probe_thing ORDER BY name"),
        "a=1\nb=7"
    );
    assert_eq!(s.addons_head(), v2, "the sources were not put back");
    assert_eq!(std::fs::read_to_string(s.i.root.join("oe.lock")).unwrap(), lock);
    let leftovers: Vec<String> = s.databases_with("-update-");
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(state(&format!("oe-{client}-update")), "", "the update container is left");
    assert_eq!(std::fs::read_to_string(store.join("0f/probe")).unwrap(), "an attachment");
    assert!(s.serves(), "odoo does not answer after the rollback");

    // A Python error this time: put back the same way.
    s.commit(
        "a python error",
        &[
            ("oe_probe/data/bad.xml", None),
            ("oe_probe/__manifest__.py", Some(&probe_manifest_v1())),
            (
                "oe_probe/models.py",
                Some(&format!("{model_v3}\nraise RuntimeError('oe probe is broken')\n")),
            ),
        ],
    );
    env.run(&["update"]).failure(1).stderr_has("oe probe is broken");
    assert!(!s.has_column("color"), "the failed update's field stayed");
    assert_eq!(
        s.psql(&s.db, "SELECT name || '=' || size FROM oe_probe_thing ORDER BY name"),
        "a=1\nb=7"
    );
    assert_eq!(s.addons_head(), v2, "the sources were not put back");
    assert_eq!(std::fs::read_to_string(store.join("0f/probe")).unwrap(), "an attachment");
    assert!(s.serves(), "odoo does not answer after the second rollback");

    // Back before the last completed update, on request: the database it replaced is kept.
    let out = env.run(&["update", "--rollback"]).success();
    assert!(out.stdout.contains("rolled back the update"), "{}", out.stdout);
    assert!(!s.has_column("size"), "--rollback did not bring back the previous database");
    assert_eq!(s.addons_head(), v1);
    let undone = s.databases().into_iter().find(|d| d.contains("-undone-"));
    assert!(undone.is_some(), "the replaced database is not kept: {:?}", s.databases());
    assert!(s.serves());
    env.run(&["update", "--rollback"]).failure(2).stderr_has("no rollback point");
}

#[test]
fn a_terminated_update_is_put_back_and_a_killed_one_refused_until_rollback() {
    let Some(images) = images() else { return };
    let s = setup(&images, "production");
    let env = &s.i.env;
    env.run(&["update"]).success();
    let before = s.stored_checksum("oe_probe");
    let model_v2 = format!("{MODEL_V1}    size = fields.Integer()\n");
    s.commit("a field", &[("oe_probe/models.py", Some(&model_v2))]);

    let container = format!("oe-{}-update", s.i.client);
    // `oe update`, once its update container runs.
    let update_running = || {
        let child = env.oe().args(["update"]).stderr(std::process::Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        while state(&container) != "running" {
            assert!(Instant::now() < deadline, "the update container never ran");
            std::thread::sleep(Duration::from_millis(200));
        }
        child
    };

    // SIGTERM: oe puts everything back itself.
    let mut child = update_running();
    run("kill", &["-TERM", &child.id().to_string()], None);
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert_eq!(state(&container), "", "the update container is left");
    assert!(!s.has_column("size"));
    assert_eq!(s.stored_checksum("oe_probe"), before);
    let leftovers: Vec<String> = s.databases_with("-update-");
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(s.serves(), "odoo does not answer after a SIGTERM");

    // kill -9: nothing could clean up; the journal tells what to undo.
    let mut child = update_running();
    child.kill().unwrap();
    child.wait().unwrap();

    env.run(&["update", "--quick"]).failure(2).stderr_has("oe update --rollback");
    let out = env.run(&["update", "--rollback"]).success();
    assert!(out.stdout.contains("undid the unfinished update"), "{}", out.stdout);
    assert_eq!(state(&container), "", "the update container still exists");
    assert!(!s.has_column("size"));
    assert_eq!(s.stored_checksum("oe_probe"), before);
    let leftovers: Vec<String> = s.databases_with("-update-");
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(s.serves(), "odoo does not answer after the rollback");
    // And the update goes through afterwards; told to keep no rollback point, it keeps none.
    let mut yaml = env.read_config();
    yaml.push_str("update: {keep_rollback: 0}\n");
    env.write_config(&yaml);
    let out = env.run(&["update"]).success();
    assert!(!out.stdout.contains("rollback point"), "{}", out.stdout);
    assert!(s.has_column("size"));
    let kept: Vec<String> = s.databases_with("-before-");
    assert!(kept.is_empty(), "{kept:?}");
    let filestores = std::fs::read_dir(s.i.root.join("data_dir/filestore")).unwrap();
    let names: Vec<String> =
        filestores.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| *n == s.db), "filestores beside production's: {names:?}");
    env.run(&["update", "--rollback"]).failure(2).stderr_has("no rollback point");
}

#[test]
fn development_updates_in_place_unless_safe() {
    let Some(images) = images() else { return };
    let s = setup(&images, "development");
    let env = &s.i.env;
    let out = env.run(&["update"]).success();
    assert!(out.stdout.contains(&format!("database {} created", s.db)), "{}", out.stdout);
    let model_v2 = format!("{MODEL_V1}    size = fields.Integer()\n");
    s.commit("a field", &[("oe_probe/models.py", Some(&model_v2))]);
    let out = env.run(&["update"]).success();
    assert!(!out.stdout.contains("rollback point"), "{}", out.stdout);
    assert!(s.has_column("size"));
    let copies: Vec<String> = s.databases_with("-before-");
    assert!(copies.is_empty(), "development kept a rollback point: {copies:?}");

    let model_v3 = format!("{model_v2}    color = fields.Char()\n");
    s.commit("another field", &[("oe_probe/models.py", Some(&model_v3))]);
    let out = env.run(&["update", "--safe"]).success();
    assert!(out.stdout.contains("rollback point"), "{}", out.stdout);
    assert!(s.has_column("color"));
    assert!(s.databases().iter().any(|d| d.contains("-before-")), "{:?}", s.databases());
}
