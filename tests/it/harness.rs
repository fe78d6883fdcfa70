//! Self-tests of the test harness: the cluster, the sample database, the fingerprint (it must
//! be able to fail), dump/restore round trips with PostgreSQL's own tools, unique and odd
//! database names, and the `oe` runner of [`crate::testenv`].

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;

use crate::cluster::{Cluster, cluster};
use crate::testenv::TestEnv;

/// The tables of `tests/it/data/sample.sql` and their row counts.
const SAMPLE_TABLES: &[(&str, i64)] = &[
    ("Odd Schema.Mixed Case", 25),
    ("hr.department", 15),
    ("hr.employee", 400),
    ("hr.leave", 2000),
    ("public.ir_attachment", 60),
    ("public.ir_config_parameter", 6),
    ("public.note_samples", 24),
    ("public.res_country", 12),
    ("public.res_partner", 3000),
    ("sales.product", 800),
    ("sales.product_category", 20),
    ("sales.sale_order", 3000),
    ("sales.sale_order_line", 12000),
];

/// Some sequences of the sample and their `(last_value, is_called)`.
const SAMPLE_SEQUENCES: &[(&str, i64, &str)] = &[
    ("hr.badge_seq", 500, "t"),
    ("hr.employee_id_seq", 400, "t"),
    ("public.ir_attachment_id_seq", 60, "t"),
    ("public.ir_config_parameter_id_seq", 6, "t"),
    ("public.res_partner_id_seq", 3000, "t"),
    ("public.unused_seq", 1, "f"),
    ("sales.invoice_seq", 42, "f"),
    ("sales.sale_order_id_seq", 4000, "t"),
    ("sales.sale_order_line_id_seq", 12000, "t"),
];

/// The keys whose values differ between two fingerprints.
fn changed(
    a: &BTreeMap<String, (i64, String)>,
    b: &BTreeMap<String, (i64, String)>,
) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
}

#[test]
fn cluster_starts_and_answers() {
    let c = cluster();
    assert_eq!(c.psql("postgres", "SELECT 1"), "1");
    assert_eq!(c.psql("postgres", "SELECT 1, 'a' UNION ALL SELECT 2, 'b'"), "1|a\n2|b");
    assert_eq!(c.psql("postgres", "SELECT current_user"), "postgres");
    assert_eq!(c.psql("postgres", "SHOW server_encoding"), "UTF8");
    assert_eq!(c.psql("postgres", "SHOW listen_addresses"), "");
    assert_eq!(c.psql("postgres", "SHOW fsync"), "off");
    assert!(
        c.socket_dir.join(format!(".s.PGSQL.{}", c.port)).exists(),
        "no socket in {}",
        c.socket_dir.display()
    );
    assert!(c.databases().contains(&"postgres".to_string()));
    // Every caller gets the same cluster.
    assert!(std::ptr::eq(c, cluster()));
}

#[test]
fn psql_failure_panics_with_the_error() {
    let c = cluster();
    let result = std::panic::catch_unwind(|| {
        c.psql("postgres", "SELECT 1;\nSELECT no_such_column;\nSELECT 2")
    });
    let payload = result.expect_err("psql with an SQL error should panic");
    let message = payload.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("no_such_column"), "{message}");
}

#[test]
fn sample_has_the_expected_tables_and_sequences() {
    let c = cluster();
    let db = c.unique_db("sample");
    c.load_sample(&db);
    let fp = c.fingerprint(&db);

    for (table, rows) in SAMPLE_TABLES {
        let (count, md5) = fp.get(*table).unwrap_or_else(|| panic!("{table} missing from {fp:#?}"));
        assert_eq!(count, rows, "rows of {table}");
        assert_eq!(md5.len(), 32, "md5 of {table}");
    }
    for (seq, last_value, is_called) in SAMPLE_SEQUENCES {
        assert_eq!(fp.get(*seq), Some(&(*last_value, is_called.to_string())), "sequence {seq}");
    }
    let tables = fp.keys().filter(|k| SAMPLE_TABLES.iter().any(|(t, _)| t == k)).count();
    let sequences = fp.len() - tables;
    assert_eq!(tables, SAMPLE_TABLES.len(), "unexpected entries in {fp:#?}");
    assert_eq!(sequences, SAMPLE_SEQUENCES.len(), "unexpected entries in {fp:#?}");

    // "A few MB", with big and odd bytea values.
    let size: i64 = c.psql(&db, "SELECT pg_database_size(current_database())").parse().unwrap();
    assert!(size > 10_000_000, "database size {size}");
    let blobs = c.psql(
        &db,
        "SELECT max(octet_length(db_datas)), bool_or(position('\\x00'::bytea IN db_datas) > 0), \
         bool_or(position('\\xff'::bytea IN db_datas) > 0) FROM public.ir_attachment",
    );
    assert_eq!(blobs, "102400|t|t");

    // Deterministic: a second load gives the same fingerprint.
    let again = c.unique_db("sample");
    c.load_sample(&again);
    assert_eq!(c.fingerprint(&again), fp);

    c.drop_db(&db);
    c.drop_db(&again);
}

#[test]
fn fingerprint_changes_with_one_row_one_byte_or_a_sequence() {
    let c = cluster();
    let db = c.unique_db("fpchange");
    c.load_sample(&db);
    let before = c.fingerprint(&db);

    c.psql(&db, "UPDATE public.res_partner SET name = name || ' ' WHERE id = 1234");
    let after_row = c.fingerprint(&db);
    assert_eq!(changed(&before, &after_row), ["public.res_partner"]);
    assert_eq!(after_row["public.res_partner"].0, 3000);

    // One bit of one byte in the middle of a 100 KB value.
    c.psql(
        &db,
        "UPDATE public.ir_attachment \
         SET db_datas = set_byte(db_datas, 50000, get_byte(db_datas, 50000) # 1) WHERE id = 6",
    );
    let after_byte = c.fingerprint(&db);
    assert_eq!(changed(&after_row, &after_byte), ["public.ir_attachment"]);

    // NULL versus empty string.
    c.psql(&db, "UPDATE public.note_samples SET body = NULL WHERE id = 13");
    let after_null = c.fingerprint(&db);
    assert_eq!(changed(&after_byte, &after_null), ["public.note_samples"]);

    c.psql(&db, "SELECT nextval('sales.invoice_seq')");
    let after_seq = c.fingerprint(&db);
    assert_eq!(changed(&after_null, &after_seq), ["sales.invoice_seq"]);
    assert_eq!(after_seq["sales.invoice_seq"], (42, "t".to_string()));

    c.psql(&db, "DELETE FROM hr.leave WHERE id = 7");
    let after_delete = c.fingerprint(&db);
    assert_eq!(changed(&after_seq, &after_delete), ["hr.leave"]);
    assert_eq!(after_delete["hr.leave"].0, 1999);

    c.drop_db(&db);
}

#[test]
fn plain_dump_piped_into_psql_round_trips() {
    let c = cluster();
    let src = c.unique_db("plain_src");
    let dst = c.unique_db("plain_dst");
    c.load_sample(&src);
    c.create_db(&dst);

    let mut dump = c
        .command("pg_dump")
        .arg("--dbname")
        .arg(Cluster::conninfo(&src))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pg_dump starts");
    let restore = c
        .command("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname"])
        .arg(Cluster::conninfo(&dst))
        .stdin(Stdio::from(dump.stdout.take().expect("piped")))
        .stdout(Stdio::null())
        .output()
        .expect("psql starts");
    assert!(dump.wait().expect("pg_dump ends").success(), "pg_dump failed");
    assert!(restore.status.success(), "psql failed: {}", String::from_utf8_lossy(&restore.stderr));

    assert_eq!(c.fingerprint(&dst), c.fingerprint(&src));
    c.drop_db(&src);
    c.drop_db(&dst);
}

#[test]
fn custom_dump_restored_with_pg_restore_round_trips() {
    let c = cluster();
    let src = c.unique_db("custom_src");
    let dst = c.unique_db("custom_dst");
    c.load_sample(&src);
    c.create_db(&dst);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.dump");

    let dump = c
        .command("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&file)
        .arg("--dbname")
        .arg(Cluster::conninfo(&src))
        .output()
        .expect("pg_dump starts");
    assert!(dump.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&dump.stderr));
    let restore = c
        .command("pg_restore")
        .args(["--exit-on-error", "--no-owner", "--jobs=2", "--dbname"])
        .arg(Cluster::conninfo(&dst))
        .arg(&file)
        .output()
        .expect("pg_restore starts");
    assert!(
        restore.status.success(),
        "pg_restore failed: {}",
        String::from_utf8_lossy(&restore.stderr)
    );

    assert_eq!(c.fingerprint(&dst), c.fingerprint(&src));
    c.drop_db(&src);
    c.drop_db(&dst);
}

#[test]
fn unique_db_names_differ_across_threads() {
    let c = cluster();
    let names: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| (0..100).map(|_| c.unique_db("u")).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let distinct: HashSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), 800);
    let suffix = format!("_{}", std::process::id());
    assert!(names.iter().all(|n| n.starts_with("u_") && n.ends_with(&suffix)), "{names:?}");
}

#[test]
fn odd_database_names_work() {
    let c = cluster();
    for name in ["we'ird db ü", "dq\"uote \\back\\ slash 日本 🐘"] {
        assert!(!c.db_exists(name));
        c.create_db(name);
        assert!(c.db_exists(name), "{name:?} should exist");
        assert!(c.databases().iter().any(|d| d == name), "{name:?} not in {:?}", c.databases());
        assert_eq!(c.psql(name, "SELECT current_database()"), name);
        c.drop_db(name);
        assert!(!c.db_exists(name), "{name:?} should be gone");
        c.drop_db(name); // IF EXISTS
    }
}

#[test]
fn concurrent_databases() {
    let c = cluster();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let db = c.unique_db("conc");
                c.create_db(&db);
                c.psql(&db, "CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 10)");
                assert_eq!(c.fingerprint(&db)["public.t"].0, 10);
                c.drop_db(&db);
            });
        }
    });
}

#[test]
fn testenv_writes_config_and_runs_oe() {
    let c = cluster();
    let env = TestEnv::new();
    let config = env.read_config();
    assert!(config.starts_with("services:\n  odoo:\n    postgres: {host: "), "{config}");
    assert!(config.contains(&*c.socket_dir.to_string_lossy()), "{config}");
    assert!(config.contains(&format!("port: {}", c.port)), "{config}");
    assert!(config.contains(&*env.path("odoo-data").to_string_lossy()), "{config}");
    assert!(env.path("odoo-data").is_dir());
    assert_eq!(env.path("x/y"), env.root.path().join("x/y"));

    let version = env.run(&["--version"]).success();
    assert!(version.stdout.starts_with("oe "), "{version:?}");
    env.run(&["no-such-command"]).failure(2).stderr_has("no-such-command");

    // The assertions fail when they should.
    assert!(std::panic::catch_unwind(|| env.run(&["no-such-command"]).success()).is_err());
    assert!(std::panic::catch_unwind(|| env.run(&["--version"]).failure(1)).is_err());
    assert!(
        std::panic::catch_unwind(|| env.run(&["no-such-command"]).stderr_has("never printed"))
            .is_err()
    );

    env.write_config("services: {}\n");
    assert_eq!(env.read_config(), "services: {}\n");
}
