//! `oe stage` end to end: a staging installation of the real Odoo 18 image (the deploy
//! tests'), its Docker network cut off by iptables, the mail catcher on the network's gateway,
//! and a mail server outside (a namespace routed through the host, as a server on the
//! Internet would be) that must receive nothing. The copy is made from a backup and from a
//! live database in use; each time every change of Odoo's own neutralization is checked, and
//! mail sent by the staging Odoo must arrive in the catcher.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cutoff::{Listeners, Outside, can_use_netns, probe};
use crate::deploy::{Install, free_port, get, images, install, run};
use crate::mail::{Catcher, ls};
use crate::neutralize::{assert_every_change, neutralized_tables, rows_from, rows_sql};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");

/// Posts a message to a new customer following it, in the staging Odoo, and runs the mail
/// queue: what a user (or a cron) of the copy would do to email a real customer.
const SEND_MAIL: &str = "
subject = SUBJECT
env.user.partner_id.email = 'staging-user@example.com'
partner = env['res.partner'].create({'name': 'Real Customer', 'email': 'customer@example.com'})
partner.message_post(body='Your invoice is attached', subject=subject, partner_ids=partner.ids,
                     message_type='comment', subtype_xmlid='mail.mt_comment')
env.cr.commit()
env['mail.mail'].sudo().process_email_queue()
env.cr.commit()
failed = env['mail.mail'].sudo().search([('state', '=', 'exception')])
print('FAILED', failed.mapped('failure_reason'))
";

fn psql(i: &Install, db: &str, sql: &str) -> String {
    let container = format!("oe-{}-postgres", i.client);
    run("docker", &["exec", &container, "psql", "-U", "odoo", "-d", db, "-Atc", sql], None)
}

/// Runs [`SEND_MAIL`] in the staging Odoo's container with `subject`.
fn send_mail(i: &Install, db: &str, subject: &str) {
    let script = SEND_MAIL.replace("SUBJECT", &format!("{subject:?}"));
    let container = format!("oe-{}-odoo", i.client);
    let args = ["exec", "-i", &container, "/usr/bin/odoo", "shell", "-c", "/etc/odoo/odoo.conf"];
    let mut child = Command::new("docker")
        .args(args)
        .args(["-d", db, "--no-http", "--logfile="])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("FAILED []"),
        "odoo shell: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until the catcher holds a message with `subject`; returns it.
fn caught(i: &Install, subject: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = ls(&i.env).into_iter().find(|m| m["subject"] == subject) {
            return m;
        }
        assert!(Instant::now() < deadline, "no message '{subject}' caught: {:?}", ls(&i.env));
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `oe --json stage ARGS`, which must succeed and leave nothing of what it replaced: no
/// database or filestore set aside under a helper name.
fn stage(i: &Install, args: &[&str]) -> Value {
    let mut all = vec!["--json", "stage"];
    all.extend_from_slice(args);
    let run = i.env.run(&all).success();
    let helpers =
        psql(i, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE '%-oe-%'");
    assert_eq!(helpers, "", "databases left");
    let filestores = std::fs::read_dir(i.root.join("data_dir/filestore")).unwrap();
    let names: Vec<_> = filestores.map(|e| e.unwrap().file_name()).collect();
    assert!(
        !names.iter().any(|n| n.to_string_lossy().contains("-oe-")),
        "filestores left: {names:?}"
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON {:?}: {e}", run.stdout))
}

#[test]
fn stage_makes_a_neutralized_cut_off_copy_from_a_backup_and_a_live_database() {
    if !can_use_netns() {
        return;
    }
    let Some(images) = images() else { return };
    let i = install(&images, "staging", false, &[]);
    let env = &i.env;
    let target = format!("{}_prod", i.client);
    let network = format!("oe-{}", i.client);

    // Refused: without a catcher the containers reach (the host had nothing: the
    // installation was made first), and on production.
    let refused = env.run(&["stage", "--from-backup", FIXTURE]).failure(2);
    assert!(i.root.join("oe.lock").exists(), "oe stage installs what is not installed");
    let gateway = run(
        "docker",
        &["network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", &network],
        None,
    );
    refused.stderr_has(&format!("add '{gateway}:1025'"));

    let smtp_port = free_port();
    let catcher_addr = format!("{gateway}:{smtp_port}");
    let mut yaml = env.read_config();
    yaml.push_str(&format!(
        "mail: {{dir: '{}', listen: ['{catcher_addr}']}}\n",
        env.path("mailbox").display()
    ));
    env.write_config(&yaml);
    env.run(&["config", "--environment", "production"]).success();
    env.run(&["stage", "--from-backup", FIXTURE]).failure(2).stderr_has("production installation");
    env.run(&["config", "--environment", "staging"]).success();
    let _catcher = Catcher::start_with(env, &["--listen", &catcher_addr]);
    let outside = Outside::new();
    let listeners = Listeners::start(&outside.ns, outside.addr, &[25, 587]);

    // The fixture as it was before any neutralization, loaded raw for comparison.
    let raw = crate::cluster::cluster().unique_db("stage_raw");
    env.run(&["load-db", "odoo", FIXTURE, "-d", &raw]).success();
    let before: BTreeMap<String, BTreeMap<i64, Value>> = neutralized_tables()
        .into_iter()
        .map(|t| {
            let rows = rows_from(&crate::cluster::cluster().psql(&raw, &rows_sql(&t)), &t);
            (t, rows)
        })
        .collect();
    let uuid = "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'";
    let production_uuid = crate::cluster::cluster().psql(&raw, uuid);

    // 1. From the newest backup of the database in the installation's backup directory
    //    (an older one is damaged: it must not be the one taken).
    let backups = i.root.join("backup_dir").join(&target);
    std::fs::create_dir_all(&backups).unwrap();
    let newest = backups.join(format!("{target}_2026-12-01_02-00-00.zip"));
    std::fs::copy(FIXTURE, &newest).unwrap();
    std::fs::write(backups.join(format!("{target}_2026-11-30_02-00-00.zip")), b"PK").unwrap();
    let staged = stage(&i, &[]);
    assert_eq!(staged["database"], target.as_str());
    assert_eq!(staged["copied"]["from"], "archive");
    assert_eq!(staged["copied"]["input"], newest.to_str().unwrap());
    assert_eq!(staged["copied"]["redirected"]["catcher"], catcher_addr.as_str());
    assert_eq!(
        staged["copied"]["redirected"]["mail_servers"], 3,
        "the fixture's two and neutralization's"
    );
    assert_eq!(staged["catcher_answers"], true);
    assert!(staged["cutoff"]["rules"].as_u64().unwrap() >= 1, "{staged}");
    let after = |table: &str| rows_from(&psql(&i, &target, &rows_sql(table)), table);
    assert_eq!(assert_every_change(&before, after, &["smtp_host", "smtp_port"]), 40);
    let servers = "SELECT DISTINCT smtp_host || ':' || smtp_port || ' ' || smtp_encryption || ' ' \
                   || coalesce(smtp_user, '-') FROM ir_mail_server";
    assert_eq!(psql(&i, &target, servers), format!("{catcher_addr} none -"));
    let base_url = "SELECT value FROM ir_config_parameter WHERE key = 'web.base.url'";
    assert_eq!(
        psql(&i, &target, base_url),
        staged["copied"]["redirected"]["base_url"].as_str().unwrap()
    );
    assert_ne!(psql(&i, &target, uuid), production_uuid, "the copy has an identity of its own");
    let url = staged["url"].as_str().expect("Odoo's URL").to_owned();
    assert_eq!(get(&format!("{url}/web/login")).0, 200, "Odoo serves the copy");
    env.run(&["cutoff", "status"]).success().stdout_has(": in place");

    send_mail(&i, &target, "oe stage probe 1");
    let message = caught(&i, "oe stage probe 1");
    assert!(message["to"].to_string().contains("customer@example.com"), "{message}");
    listeners.assert_mail_accepted(0);

    // 1b. From the newest backup in a mirror repository, read in place.
    let repo = env.path("repo");
    let mirror = format!(
        "mirror:\n  repository: {}\n  dirs:\n    {}: {{}}\n",
        serde_json::to_string(&repo).unwrap(),
        serde_json::to_string(&i.root.join("backup_dir")).unwrap()
    );
    env.write_config(&format!("{mirror}{}", env.read_config()));
    env.run(&["mirror", "init"]).success();
    std::fs::remove_file(backups.join(format!("{target}_2026-11-30_02-00-00.zip"))).unwrap();
    env.run(&["mirror", "run"]).success();
    let staged = stage(&i, &["--from", repo.to_str().unwrap()]);
    assert_eq!(staged["copied"]["from"], "archive");
    assert!(
        staged["copied"]["input"].as_str().unwrap().contains("2026-12-01_02-00-00"),
        "{staged}"
    );
    assert_eq!(staged["copied"]["replaced"], true);

    // 2. From a live database of the same server, in use: production on the staging server.
    let postgres = std::fs::read_to_string(i.root.join("config/postgres.yml")).unwrap();
    let postgres: serde_yaml_ng::Value = serde_yaml_ng::from_str(&postgres).unwrap();
    let service = format!(
        "services:\n  live:\n    postgres: {}\n    data_dir: '{}'\n",
        serde_json::to_string(&postgres).unwrap(),
        i.root.join("data_dir").display()
    );
    env.write_config(&env.read_config().replacen("services:\n", &service, 1));
    let live = format!("{}_live", i.client);
    // Loaded as production loads it: as it is, filestore included.
    env.run(&["config", "--environment", "production"]).success();
    env.run(&["load", "live", FIXTURE, &live]).success();
    env.run(&["config", "--environment", "staging"]).success();
    // Production's own mail servers, which a copy must never reach.
    let sql = format!("UPDATE ir_mail_server SET smtp_host = '{}', smtp_port = 25", outside.addr);
    psql(&i, &live, &sql);
    let session = format!("oe-{}-postgres", i.client);
    let mut in_use = Command::new("docker")
        .args(["exec", &session, "psql", "-U", "odoo", "-d", &live, "-c", "SELECT pg_sleep(300)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let staged = stage(&i, &["--from-db", &live]);
    let _ = in_use.kill();
    let _ = in_use.wait();
    assert_eq!(staged["copied"]["from"], "database");
    assert_eq!(staged["copied"]["replaced"], true, "the staging database of step 1 replaced");
    let files = staged["copied"]["filestore_files"].as_u64().unwrap_or_else(|| panic!("{staged}"));
    assert!(files > 0);
    assert_eq!(staged["copied"]["linked_files"], files, "every filestore file hard-linked");
    let after = |table: &str| rows_from(&psql(&i, &target, &rows_sql(table)), table);
    assert_eq!(assert_every_change(&before, after, &["smtp_host", "smtp_port"]), 40);
    assert_eq!(psql(&i, &target, servers), format!("{catcher_addr} none -"));
    assert_eq!(psql(&i, &live, "SELECT count(*) FROM ir_mail_server WHERE smtp_port = 25"), "2");

    send_mail(&i, &target, "oe stage probe 2");
    caught(&i, "oe stage probe 2");
    // What else a container of the installation tries on a mail port is reset at once.
    for (port, result, seconds) in probe(&images.odoo, &network, outside.addr, &[25, 587]) {
        assert_eq!(result, "refused", "port {port}");
        assert!(seconds < 1.0, "port {port}: {seconds} s");
    }
    listeners.assert_mail_accepted(0);

    // 2b. From a database without a filestore: the staging one's previous filestore goes too.
    let bare = format!("{}_bare", i.client);
    env.run(&["db", "cp", "-s", "live", "--live", &live, &bare]).success();
    let filestores = i.root.join("data_dir/filestore");
    std::fs::remove_dir_all(filestores.join(&bare)).unwrap();
    assert!(std::fs::read_dir(filestores.join(&target)).unwrap().next().is_some());
    let staged = stage(&i, &["--from-db", &bare]);
    assert_eq!(staged["copied"]["filestore_files"], 0, "{staged}");
    let left = std::fs::read_dir(filestores.join(&target)).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the previous copy's filestore is gone");

    // 3. A copy that fails leaves the staging database as it was, and Odoo serving it.
    let staged_uuid = psql(&i, &target, uuid);
    let truncated = env.path("truncated.zip");
    let bytes = std::fs::read(FIXTURE).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    env.run(&["stage", "--from-backup", truncated.to_str().unwrap()]).failure(4);
    assert_eq!(psql(&i, &target, uuid), staged_uuid, "the previous staging database is kept");
    assert_eq!(get(&format!("{url}/web/login")).0, 200, "Odoo serves it again");
    env.run(&["stage", "--from-db", "no_such_db"]).failure(1).stderr_has("no_such_db");
    assert_eq!(psql(&i, &target, uuid), staged_uuid);
}
