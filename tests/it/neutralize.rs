//! `oe neutralize`: on the Odoo 18 fixture, every change Odoo's own neutralization makes
//! (`neutralize-diff.txt`, checked row by row), queued mail cancelled, nothing changed by
//! `--dry-run` or by a second run, everything rolled back when a step fails, and Odoo's own
//! files run instead when the service names an addons path.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::cluster::cluster;
use crate::testenv::TestEnv;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18");

/// Columns that differ between any two inserts, whoever makes them.
const VOLATILE: [&str; 3] = ["id", "create_date", "write_date"];

/// Loads the fixture zip into a fresh database with `oe load-db` and returns its name.
/// A test environment whose installation is a staging one, where neutralizing is expected.
fn staging() -> TestEnv {
    let env = TestEnv::new();
    env.write_config(&format!("environment: staging\n{}", env.read_config()));
    env
}

fn fixture_db(env: &TestEnv, prefix: &str) -> String {
    let db = cluster().unique_db(prefix);
    let zip = format!("{FIXTURES}/odoo18_ref.zip");
    env.run(&["load-db", "odoo", &zip, "-d", &db]).success();
    db
}

/// The rows of `table` in `db` as JSON objects, by id.
fn rows(db: &str, table: &str) -> BTreeMap<i64, Value> {
    rows_from(&cluster().psql(db, &rows_sql(table)), table)
}

/// The query [`rows_from`] reads: every row of `table` as one JSON array.
pub(crate) fn rows_sql(table: &str) -> String {
    format!("SELECT coalesce(json_agg(to_jsonb(t) ORDER BY t.id), '[]') FROM {table} t")
}

/// [`rows_sql`]'s output, by id.
pub(crate) fn rows_from(json: &str, table: &str) -> BTreeMap<i64, Value> {
    let rows: Vec<Value> =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON rows of {table}: {e}"));
    rows.into_iter().map(|row| (row["id"].as_i64().expect("an integer id"), row)).collect()
}

/// The tables Odoo's neutralization changes (the diff's).
pub(crate) fn neutralized_tables() -> Vec<String> {
    parse_diff().tables.into_iter().map(|(table, _, _)| table).collect()
}

/// Asserts every line of the diff: `before` holds each table's rows before, `after` reads
/// them after. Columns in `exempt` are not compared in inserted rows (what a later step set
/// on purpose, as `oe stage` points the mail servers elsewhere). Returns the lines checked.
pub(crate) fn assert_every_change(
    before: &BTreeMap<String, BTreeMap<i64, Value>>,
    after: impl Fn(&str) -> BTreeMap<i64, Value>,
    exempt: &[&str],
) -> usize {
    let mut checked = 0;
    for (table, rows_after, changes) in &parse_diff().tables {
        let old = &before[table.as_str()];
        let new = after(table);
        assert_eq!(new.len(), *rows_after, "rows of {table} after");
        for change in changes {
            match change {
                Change::Updated { id, columns } => {
                    for (column, from, to) in columns {
                        assert_eq!(&old[id][column], from, "{table} id={id} {column} before");
                        assert_eq!(&new[id][column], to, "{table} id={id} {column} after");
                    }
                }
                Change::Inserted(expected) => {
                    let added: Vec<&Value> = new
                        .iter()
                        .filter(|(id, _)| !old.contains_key(id))
                        .map(|(_, row)| row)
                        .collect();
                    assert!(
                        added.iter().any(|row| matches(row, expected, exempt)),
                        "{table}: no inserted row like {expected}\ninserted: {added:?}"
                    );
                }
                Change::Deleted(row) => {
                    let id = row["id"].as_i64().unwrap();
                    assert_eq!(&old[&id], row, "{table} id={id} before");
                    assert!(!new.contains_key(&id), "{table} id={id} should be deleted");
                }
            }
            checked += 1;
        }
    }
    checked
}

/// One line of the diff.
#[derive(Debug)]
enum Change {
    /// `~ id=N label: col: old -> new; ...`
    Updated { id: i64, columns: Vec<(String, Value, Value)> },
    /// `+ {row}`
    Inserted(Value),
    /// `- {row}`
    Deleted(Value),
}

/// The diff's tables: `(table, rows after, changes)`, and the `key|value` lines of
/// `ir_config_parameter` after neutralization.
struct Diff {
    tables: Vec<(String, usize, Vec<Change>)>,
    parameters_after: Vec<String>,
}

/// Reads one JSON value at the start of `text`, up to the first `end` (or the end of the
/// text) after which the prefix is valid JSON; returns it and the rest, `end` included.
fn json_prefix<'a>(text: &'a str, end: &str) -> Option<(Value, &'a str)> {
    text.match_indices(end)
        .map(|(i, _)| i)
        .chain([text.len()])
        .find_map(|i| serde_json::from_str(&text[..i]).ok().map(|v| (v, &text[i..])))
}

fn parse_diff() -> Diff {
    let text = std::fs::read_to_string(format!("{FIXTURES}/neutralize-diff.txt")).unwrap();
    // The appendix compares restores, not neutralization.
    let text = text.split("# ===== Appendix").next().unwrap();
    let full_rows: Vec<Value> = text
        .lines()
        .skip_while(|l| !l.starts_with("# The inserted ir_mail_server row in full"))
        .skip(1)
        .take(1)
        .map(|l| serde_json::from_str(l).expect("the full ir_mail_server row"))
        .collect();
    let mut tables: Vec<(String, usize, Vec<Change>)> = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("## table ") {
            // `X: 3 -> 3 rows; updated=...`
            let (table, rest) = header.split_once(": ").unwrap();
            let after = rest.split(" -> ").nth(1).unwrap().split(' ').next().unwrap();
            tables.push((table.to_owned(), after.parse().unwrap(), Vec::new()));
            continue;
        }
        let Some((_, _, changes)) = tables.last_mut() else { continue };
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("~ id=") {
            let (id, rest) = rest.split_once(' ').unwrap();
            let (_label, mut rest) = json_prefix(rest, ": ").expect("a label");
            let mut columns = Vec::new();
            while let Some(r) = rest.strip_prefix(": ").or_else(|| rest.strip_prefix("; ")) {
                let (column, r) = r.split_once(": ").unwrap();
                let (old, r) = json_prefix(r, " -> ").expect("an old value");
                let (new, r) = json_prefix(&r[4..], "; ").expect("a new value");
                columns.push((column.to_owned(), old, new));
                rest = r;
            }
            assert!(rest.trim().is_empty() && !columns.is_empty(), "cannot parse {line:?}");
            changes.push(Change::Updated { id: id.parse().unwrap(), columns });
        } else if let Some(row) = line.strip_prefix("+ ") {
            // A long row is cut with "..."; the diff gives it in full further down.
            let row = serde_json::from_str(row).unwrap_or_else(|_| full_rows[0].clone());
            changes.push(Change::Inserted(row));
        } else if let Some(row) = line.strip_prefix("- ") {
            changes.push(Change::Deleted(serde_json::from_str(row).unwrap()));
        }
    }
    let parameters_after = text
        .lines()
        .skip_while(|l| !l.starts_with("# ir_config_parameter after neutralize"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    Diff { tables, parameters_after }
}

/// Whether `row` holds every value of `expected` but the volatile and `exempt` ones.
fn matches(row: &Value, expected: &Value, exempt: &[&str]) -> bool {
    expected
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !VOLATILE.contains(&k.as_str()) && !exempt.contains(&k.as_str()))
        .all(|(k, v)| row.get(k) == Some(v))
}

fn run_json(env: &TestEnv, db: &str) -> Value {
    let run = env.run(&["--json", "neutralize", "odoo", db]).success();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON {:?}: {e}", run.stdout))
}

#[test]
fn every_change_of_odoos_neutralization_is_made() {
    let env = staging();
    let db = fixture_db(&env, "neutralize_diff");
    let diff = parse_diff();
    assert_eq!(diff.tables.len(), 11, "the diff lists 11 tables");
    let before: BTreeMap<String, BTreeMap<i64, Value>> =
        diff.tables.iter().map(|(t, _, _)| (t.clone(), rows(&db, t))).collect();

    let summary = run_json(&env, &db);

    let checked = assert_every_change(&before, |table| rows(&db, table), &[]);
    assert_eq!(checked, 40, "every line of the diff is checked");

    let parameters =
        cluster().psql(&db, "SELECT key || '|' || value FROM ir_config_parameter ORDER BY key");
    assert_eq!(parameters.lines().collect::<Vec<_>>(), diff.parameters_after);
    let crons = cluster().psql(
        &db,
        "SELECT c.id || '|' || d.module || '.' || d.name FROM ir_cron c \
         JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id WHERE c.active",
    );
    assert_eq!(crons, "1|base.autovacuum_job");

    // The summary counts rows per table.
    assert_eq!(summary["database"], db.as_str());
    assert_eq!(summary["rules"], "built-in");
    assert_eq!(summary["tables"]["ir_cron"], 19);
    assert_eq!(summary["tables"]["ir_mail_server"], 3);
    assert_eq!(summary["tables"]["ir_config_parameter"], 4);
    assert_eq!(summary["tables"]["mail_mail"], 1, "the fixture's queued mail is cancelled");
    let steps = summary["steps"].as_array().unwrap();
    let total: u64 = steps.iter().map(|s| s["rows"].as_u64().unwrap()).sum();
    assert_eq!(summary["rows"], total);
}

#[test]
fn a_second_run_changes_nothing_and_queued_mail_is_cancelled() {
    let env = staging();
    let db = fixture_db(&env, "neutralize_twice");
    let c = cluster();
    c.psql(
        &db,
        "INSERT INTO mail_mail (mail_message_id, state) \
         SELECT mail_message_id, s FROM mail_mail, unnest(ARRAY['exception', 'sent', 'cancel']) s",
    );
    let states = "SELECT string_agg(id || ':' || state, ' ' ORDER BY id) FROM mail_mail";
    assert_eq!(c.psql(&db, states), "1:outgoing 2:exception 3:sent 4:cancel");

    env.run(&["neutralize", "odoo", &db])
        .success()
        .stdout_has(&format!("neutralized {db} with oe's built-in rules (Odoo 18.0.1.3)"))
        .stdout_has("ir_cron");
    assert_eq!(c.psql(&db, states), "1:cancel 2:cancel 3:sent 4:cancel");
    let once = c.fingerprint(&db);

    let summary = run_json(&env, &db);
    assert_eq!(summary["rows"], 0, "{summary}");
    assert_eq!(c.fingerprint(&db), once);
    assert_eq!(c.psql(&db, "SELECT count(*) FROM ir_mail_server WHERE active"), "1");
    assert_eq!(
        c.psql(&db, "SELECT account_token FROM iap_account"),
        "a1b2c3d4e5f60718293a4b5c6d7e8f90+disabled"
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let env = staging();
    let db = fixture_db(&env, "neutralize_dry");
    let before = cluster().fingerprint(&db);
    let run = env
        .run(&["neutralize", "odoo", &db, "--dry-run"])
        .success()
        .stdout_has("BEGIN;\n")
        .stdout_has("\n-- [base] ir_cron: deactivate every scheduled action except base.autovacuum_job\nUPDATE ir_cron\n")
        .stdout_has("-- [payment_stripe] payment_provider: clear the credentials of payment_stripe\n")
        .stdout_has("-- [mail] mail_mail: cancel queued outgoing mail")
        .stdout_has("COMMIT;\n");
    assert!(run.stdout.starts_with("-- oe neutralize: plan for database"), "{}", run.stdout);
    let run = env.run(&["--json", "neutralize", "odoo", &db, "--dry-run"]).success();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["dry_run"], true);
    assert!(doc["plan"]["steps"].as_array().unwrap().len() > 15, "{doc}");
    assert_eq!(cluster().fingerprint(&db), before);
}

#[test]
fn a_failing_step_rolls_everything_back() {
    let env = staging();
    let db = fixture_db(&env, "neutralize_fault");
    cluster().psql(
        &db,
        "CREATE FUNCTION oe_test_refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$BEGIN RAISE EXCEPTION 'ir_cron is read-only today'; END$$; \
         CREATE TRIGGER oe_test_refuse BEFORE UPDATE ON ir_cron \
         FOR EACH ROW EXECUTE FUNCTION oe_test_refuse();",
    );
    let before = tables(&db);
    let run = env
        .run(&["neutralize", "odoo", &db])
        .failure(1)
        .stderr_has("[base] ir_cron: deactivate every scheduled action")
        .stderr_has("ir_cron is read-only today")
        .stderr_has("rolled back");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // The steps before the failing one (mail servers) were undone as well.
    assert_eq!(tables(&db), before);
}

#[test]
fn older_schemas_skip_what_they_lack() {
    let env = staging();
    let db = fixture_db(&env, "neutralize_old");
    let c = cluster();
    // What Odoo 12 to 16 lack: webhooks, robots.txt, web push tables, mail server
    // authentication.
    c.psql(
        &db,
        "ALTER TABLE ir_act_server DROP COLUMN webhook_url; \
         ALTER TABLE website DROP COLUMN robots_txt; \
         DROP TABLE mail_push; DROP TABLE mail_push_device; \
         ALTER TABLE ir_mail_server DROP CONSTRAINT ir_mail_server_certificate_requires_tls; \
         ALTER TABLE ir_mail_server DROP COLUMN smtp_authentication;",
    );
    let run = env.run(&["neutralize", "odoo", &db, "--dry-run"]).success();
    assert!(run.stdout.contains("no column webhook_url in ir_act_server"), "{}", run.stdout);
    assert!(run.stdout.contains("no table mail_push"), "{}", run.stdout);
    let summary = run_json(&env, &db);
    assert_eq!(summary["tables"]["ir_mail_server"], 3, "{summary}");
    assert_eq!(
        c.psql(&db, "SELECT smtp_host || ':' || smtp_port FROM ir_mail_server WHERE active"),
        "invalid:1025"
    );
    assert_eq!(c.psql(&db, "SELECT count(*) FROM ir_cron WHERE active"), "1");
    assert_eq!(c.psql(&db, "SELECT count(*) FROM website WHERE domain IS NOT NULL"), "0");
}

#[test]
fn odoos_own_files_run_when_the_addons_path_is_configured() {
    let env = staging();
    let db = fixture_db(&env, "neutralize_addons");
    let c = cluster();
    // An Odoo source tree: base under odoo/addons; web's file lacks its final `;`; sale is
    // not installed, so its failing file must not run; a module without a file is fine.
    let write = |rel: &str, text: &str| {
        let path = env.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "odoo/odoo/addons/base/data/neutralize.sql",
        "UPDATE ir_cron SET active = false;\n\
         INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', 'true')\n\
         ON CONFLICT (key) DO UPDATE SET value = 'true';\n",
    );
    write(
        "odoo/addons/web/data/neutralize.sql",
        "UPDATE ir_ui_view SET active = true WHERE key = 'web.neutralize_banner'",
    );
    write("odoo/addons/sale/data/neutralize.sql", "SELECT 1/0;");
    write("odoo/addons/mail/__manifest__.py", "{}");
    let addons = env.path("odoo/addons");
    let config = env.read_config();
    env.write_config(&format!("{config}    addons_path: [{}]\n", json(&addons)));

    let run = env.run(&["neutralize", "odoo", &db, "--dry-run"]).success();
    assert!(run.stdout.contains("(Odoo's neutralize.sql files, Odoo 18.0.1.3)"), "{}", run.stdout);
    assert!(run.stdout.contains("key = 'web.neutralize_banner';\n"), "{}", run.stdout);
    assert!(!run.stdout.contains("1/0"), "{}", run.stdout);

    let summary = run_json(&env, &db);
    assert_eq!(summary["rules"], "odoo", "{summary}");
    let tables = &summary["tables"];
    assert_eq!(tables["base/data/neutralize.sql"], 21, "{summary}");
    assert_eq!(tables["web/data/neutralize.sql"], 1, "{summary}");
    assert_eq!(tables["mail_mail"], 1, "{summary}");
    assert_eq!(c.psql(&db, "SELECT count(*) FROM ir_cron WHERE active"), "0");
    // Only what the files say: the mail servers are untouched.
    assert_eq!(c.psql(&db, "SELECT count(*) FROM ir_mail_server WHERE active"), "2");

    // Odoo's files are not idempotent: a neutralized database does not get them twice.
    let once = c.fingerprint(&db);
    let summary = run_json(&env, &db);
    assert_eq!(summary["rows"], 0, "{summary}");
    assert_eq!(summary["skipped"].as_array().unwrap().len(), 2, "{summary}");
    assert_eq!(c.fingerprint(&db), once);
}

#[test]
fn a_production_installation_neutralizes_only_when_forced() {
    let env = TestEnv::new();
    let db = fixture_db(&env, "neutralize_production");
    let before = cluster().fingerprint(&db);
    env.run(&["neutralize", "odoo", &db])
        .failure(2)
        .stderr_has(&format!(
            "refusing to neutralize '{db}': this installation's environment is production"
        ))
        .stderr_has("--force");
    assert_eq!(cluster().fingerprint(&db), before);
    env.run(&["neutralize", "odoo", &db, "--dry-run"]).success();
    assert_eq!(cluster().fingerprint(&db), before);
    env.run(&["neutralize", "odoo", &db, "--force"]).success().stdout_has("neutralized");
    assert_eq!(
        cluster().psql(
            &db,
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        ),
        "true"
    );
}

#[test]
fn a_missing_or_foreign_database_is_refused() {
    let env = staging();
    let missing = cluster().unique_db("neutralize_missing");
    env.run(&["neutralize", "odoo", &missing])
        .failure(1)
        .stderr_has(&format!("database '{missing}' does not exist"));
    let (plain, before) = crate::support::sample_db("neutralize_plain");
    env.run(&["neutralize", "odoo", &plain])
        .failure(4)
        .stderr_has(&format!("database '{plain}' is not an Odoo database"));
    assert_eq!(cluster().fingerprint(&plain), before);
}

/// The fingerprint of the tables of `db`, without its sequences: a rolled back insert still
/// advances its sequence (sequences are not transactional).
fn tables(db: &str) -> BTreeMap<String, (i64, String)> {
    let mut fingerprint = cluster().fingerprint(db);
    fingerprint.retain(|name, _| !name.ends_with("_seq"));
    assert!(fingerprint.len() > 100, "{fingerprint:?}");
    fingerprint
}

/// `path` as a YAML (JSON) string.
fn json(path: &Path) -> String {
    serde_json::to_string(&path.to_string_lossy()).unwrap()
}
