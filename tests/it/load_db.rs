//! `oe load-db`: formats detected by content, the target replaced only when the load
//! succeeded, and every bad input refused with its exit code and nothing lost.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::cluster;
use crate::support::{assert_no_leftovers, config_with, fake_bindir, leftovers, sample_db};
use crate::testenv::TestEnv;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18");

/// Saves `db` as `name` in `env` and returns the file's bytes.
fn save(env: &TestEnv, db: &str, name: &str) -> Vec<u8> {
    let path = env.path(name);
    env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", db]).success();
    std::fs::read(path).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Loads `bytes` (written as `name`) into a fresh database and returns its name.
fn load(env: &TestEnv, name: &str, bytes: &[u8], extra: &[&str]) -> (String, crate::testenv::Run) {
    let path = env.path(name);
    std::fs::write(&path, bytes).unwrap();
    let db = cluster().unique_db("load");
    let mut args = vec!["load-db", "odoo", path.to_str().unwrap(), "-d", &db];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    (db, run)
}

#[test]
fn formats_are_detected_by_content_not_name() {
    let env = TestEnv::new();
    let (db, fingerprint) = sample_db("load_misnamed");
    let sql = save(&env, &db, "s.sql");
    let dump_zst = save(&env, &db, "s.dump.zst");
    let dump = save(&env, &db, "s.dump");
    let cases: [(&str, Vec<u8>); 5] = [
        ("gzip-named-plain.sql", gzip(&sql)),
        ("custom-named.sql.bz2", dump.clone()),
        ("zstd-named.gz", dump_zst),
        ("no-extension", bzip2(&dump)),
        ("sql-named.dump", sql),
    ];
    for (name, bytes) in cases {
        let (target, run) = load(&env, name, &bytes, &[]);
        run.success();
        assert_eq!(cluster().fingerprint(&target), fingerprint, "{name}");
    }
}

#[test]
fn concatenated_gzip_members_and_bzip2_streams_load_whole() {
    let env = TestEnv::new();
    let (db, fingerprint) = sample_db("load_concat");
    let sql = save(&env, &db, "c.sql");
    let (a, b) = sql.split_at(sql.len() / 2);
    let pigz_like = [gzip(a), gzip(b)].concat();
    let pbzip2_like = [bzip2(a), bzip2(b)].concat();
    for (name, bytes) in [("pigz.sql.gz", pigz_like), ("pbzip2.sql.bz2", pbzip2_like)] {
        let (target, run) = load(&env, name, &bytes, &[]);
        run.success();
        assert_eq!(cluster().fingerprint(&target), fingerprint, "{name}");
    }
}

#[test]
fn a_file_written_by_the_bzip2_tool_loads() {
    let env = TestEnv::new();
    let (db, fingerprint) = sample_db("load_bzip2_tool");
    save(&env, &db, "t.sql");
    let status = Command::new("bzip2").arg("-k").arg(env.path("t.sql")).status();
    assert!(status.is_ok_and(|s| s.success()), "bzip2 is not installed: .ci/run installs it");
    let target = cluster().unique_db("load_bzip2_tool_back");
    env.run(&["load-db", "odoo", env.path("t.sql.bz2").to_str().unwrap(), "-d", &target]).success();
    assert_eq!(cluster().fingerprint(&target), fingerprint);
}

#[test]
fn existing_target_is_refused_without_force_and_replaced_with_it() {
    let env = TestEnv::new();
    let (source, source_fp) = sample_db("load_force_src");
    let dump = env.path("f.dump.gz");
    env.run(&["save-db", "odoo", dump.to_str().unwrap(), "-d", &source]).success();
    let target = cluster().unique_db("load_force_dst");
    cluster().create_db(&target);
    cluster().psql(&target, "CREATE TABLE precious (x int); INSERT INTO precious VALUES (42)");
    let before = cluster().fingerprint(&target);

    let run = env.run(&["load-db", "odoo", dump.to_str().unwrap(), "-d", &target]).failure(3);
    assert!(run.stderr.contains(&format!("database '{target}' exists")), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(cluster().fingerprint(&target), before);
    assert_no_leftovers(&target);

    let run = env
        .run(&["--json", "load-db", "odoo", dump.to_str().unwrap(), "-d", &target, "--force"])
        .success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["replaced"], true);
    assert_eq!(cluster().fingerprint(&target), source_fp);
    assert_no_leftovers(&target);
}

#[test]
fn a_session_on_the_target_does_not_stop_the_replacement() {
    let env = TestEnv::new();
    let (source, source_fp) = sample_db("load_busy_src");
    let dump = env.path("b.sql.zst");
    env.run(&["save-db", "odoo", dump.to_str().unwrap(), "-d", &source]).success();
    let target = cluster().unique_db("load_busy_dst");
    cluster().create_db(&target);
    // An idle session, as an Odoo worker would keep.
    let c = cluster();
    let mut session = Command::new(c.bindir.join("psql"))
        .args(["-X", "-q", "-h"])
        .arg(&c.socket_dir)
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-d", &target])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{target}'"),
    ) == "0"
    {
        assert!(Instant::now() < deadline, "session did not connect");
        std::thread::sleep(Duration::from_millis(50));
    }
    env.run(&["load-db", "odoo", dump.to_str().unwrap(), "-d", &target, "--force"]).success();
    assert_eq!(cluster().fingerprint(&target), source_fp);
    drop(session.stdin.take());
    let _ = session.wait();
    assert_no_leftovers(&target);
}

#[test]
fn an_sql_error_halfway_keeps_the_old_database() {
    let env = TestEnv::new();
    let (db, _) = sample_db("load_sqlerr_src");
    let sql = String::from_utf8(save(&env, &db, "e.sql")).unwrap();
    // A failing statement before the third COPY: earlier tables are already loaded.
    let third_copy = sql.match_indices("\nCOPY ").nth(2).unwrap().0;
    let broken =
        format!("{}\nSELECT * FROM no_such_table;\n{}", &sql[..third_copy], &sql[third_copy..]);
    let target = cluster().unique_db("load_sqlerr_dst");
    cluster().load_sample(&target);
    let before = cluster().fingerprint(&target);
    let path = env.path("broken.sql.gz");
    std::fs::write(&path, gzip(broken.as_bytes())).unwrap();
    let run =
        env.run(&["load-db", "odoo", path.to_str().unwrap(), "-d", &target, "--force"]).failure(1);
    assert!(run.stderr.contains("psql failed"), "{}", run.stderr);
    assert!(run.stderr.contains("no_such_table"), "{}", run.stderr);
    assert_eq!(cluster().fingerprint(&target), before);
    assert_no_leftovers(&target);
}

#[test]
fn truncated_and_corrupt_inputs_are_refused() {
    let env = TestEnv::new();
    let (db, _) = sample_db("load_trunc");
    let target = cluster().unique_db("load_trunc_dst");
    cluster().load_sample(&target);
    let before = cluster().fingerprint(&target);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for name in ["t.sql", "t.sql.gz", "t.sql.bz2", "t.sql.zst", "t.dump", "t.dump.gz", "t.dump.zst"]
    {
        let bytes = save(&env, &db, name);
        // Cut in the middle, and just before the end (inside trailers and checksums).
        cases.push((format!("half-{name}"), bytes[..bytes.len() / 2].to_vec()));
        cases.push((format!("end-{name}"), bytes[..bytes.len() - 5].to_vec()));
        if name.contains('.') && !name.ends_with(".sql") && !name.ends_with(".dump") {
            let mut flipped = bytes.clone();
            let middle = flipped.len() / 2;
            flipped[middle] ^= 0x55;
            cases.push((format!("flipped-{name}"), flipped));
        }
    }
    for (name, bytes) in cases {
        let path = env.path(&name);
        std::fs::write(&path, &bytes).unwrap();
        let run = env.run(&["load-db", "odoo", path.to_str().unwrap(), "-d", &target, "--force"]);
        assert_eq!(run.code, Some(4), "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(path.to_str().unwrap()), "{name}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{name}: not one line: {}", run.stderr);
        assert_eq!(cluster().fingerprint(&target), before, "{name}");
    }
    assert_no_leftovers(&target);
}

#[test]
fn unknown_formats_are_refused_before_anything_is_created() {
    let env = TestEnv::new();
    for (name, bytes) in [
        ("elf.sql", std::fs::read("/bin/true").unwrap()),
        ("empty.sql", Vec::new()),
        ("noise.dump.gz", (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect()),
    ] {
        let (target, run) = load(&env, name, &bytes, &[]);
        let run = run.failure(4);
        assert!(run.stderr.contains(name), "{}", run.stderr);
        assert!(!cluster().db_exists(&target));
        assert_no_leftovers(&target);
    }
    env.run(&["load-db", "odoo", env.path("does-not-exist.sql").to_str().unwrap(), "-d", "x"])
        .failure(7)
        .stderr_has("does-not-exist.sql");
}

#[test]
fn missing_tools_and_unreachable_servers_have_their_exit_codes() {
    let env = TestEnv::new();
    let (db, _) = sample_db("load_env");
    let dump = save(&env, &db, "m.sql");
    let empty = env.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    config_with(&env, &format!(", bindir: '{}'", empty.display()));
    let (target, run) = load(&env, "m.sql", &dump, &[]);
    run.failure(5).stderr_has("psql not found");
    assert!(!cluster().db_exists(&target));
    let out = env.path("m2.sql");
    env.run(&["save-db", "odoo", out.to_str().unwrap(), "-d", &db])
        .failure(5)
        .stderr_has("pg_dump not found");

    env.write_config(
        "services:\n  odoo:\n    postgres: {host: 127.0.0.1, port: 1, user: postgres}\n",
    );
    let (_, run) = load(&env, "m.sql", &dump, &[]);
    run.failure(6).stderr_has("cannot connect to PostgreSQL at 127.0.0.1:1");
}

#[test]
fn odoo_fixtures_load_from_zip_dump_and_stdin() {
    let env = TestEnv::new();
    let c = cluster();
    let from_zip = c.unique_db("odoo_zip");
    let from_dump = c.unique_db("odoo_dump");
    let from_stdin = c.unique_db("odoo_stdin");
    env.run(&["load-db", "odoo", &format!("{FIXTURES}/odoo18_ref.zip"), "-d", &from_zip]).success();
    env.run(&[
        "load-db",
        "odoo",
        &format!("{FIXTURES}/odoo18_ref.dump"),
        "-d",
        &from_dump,
        "-j",
        "2",
    ])
    .success();
    let zip = std::fs::File::open(format!("{FIXTURES}/odoo18_ref.zip")).unwrap();
    env.run_with_stdin(&["load-db", "odoo", "-", "-d", &from_stdin], Stdio::from(zip)).success();
    let fingerprint = c.fingerprint(&from_zip);
    assert!(fingerprint.contains_key("public.ir_attachment"), "{fingerprint:?}");
    assert_eq!(c.psql(&from_zip, "SELECT login FROM res_users WHERE id = 2"), "admin");
    assert_eq!(c.fingerprint(&from_dump), fingerprint);
    assert_eq!(c.fingerprint(&from_stdin), fingerprint);
}

#[test]
fn parallel_restore_spools_compressed_dumps() {
    let env = TestEnv::new();
    let (db, fingerprint) = sample_db("load_jobs");
    let path = env.path("j.dump.bz2");
    env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db]).success();
    let target = cluster().unique_db("load_jobs_dst");
    let run = env
        .run(&["-v", "load-db", "odoo", path.to_str().unwrap(), "-d", &target, "--jobs", "2"])
        .success();
    assert!(run.stderr.contains("spooling the decompressed dump"), "{}", run.stderr);
    assert_eq!(cluster().fingerprint(&target), fingerprint);
}

/// Starts a load from a pipe, waits for its temporary database, sends `signal`, and checks
/// that oe exits with 128 + signal, drops the temporary database and keeps the target.
fn interrupt_load(signal: i32) {
    let env = TestEnv::new();
    let (db, _) = sample_db("load_sig_src");
    let sql = save(&env, &db, "s.sql");
    let target = cluster().unique_db("load_sig_dst");
    cluster().load_sample(&target);
    cluster().psql(&target, "CREATE TABLE marker (x int)");
    let before = cluster().fingerprint(&target);
    let mut child = env.oe();
    child.args(["load-db", "odoo", "-", "-d", &target, "--force"]).stdin(Stdio::piped());
    child.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = child.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Half the dump, then silence: oe is blocked reading a pipe when the signal comes.
    stdin.write_all(&sql[..sql.len() / 2]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !leftovers().iter().any(|d| d.starts_with(&target)) {
        assert!(Instant::now() < deadline, "no temporary database appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "oe did not exit after the signal");
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(128 + signal), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(cluster().fingerprint(&target), before);
    assert_no_leftovers(&target);
}

#[test]
fn sigterm_halfway_drops_the_temporary_database() {
    interrupt_load(libc::SIGTERM);
}

#[test]
fn sigint_halfway_drops_the_temporary_database() {
    interrupt_load(libc::SIGINT);
}

#[test]
fn pg_restore_dying_keeps_the_old_database() {
    let env = TestEnv::new();
    let (db, _) = sample_db("load_restore_dies");
    let dump = save(&env, &db, "r.dump");
    let script = "head -c 100000 >/dev/null\necho 'pg_restore: error: out of memory' >&2\nexit 1";
    let bindir = fake_bindir(&env, "pg_restore", script);
    config_with(&env, &format!(", bindir: '{}'", bindir.display()));
    let target = cluster().unique_db("load_restore_dies_dst");
    cluster().load_sample(&target);
    let before = cluster().fingerprint(&target);
    let path = env.path("r2.dump");
    std::fs::write(&path, dump).unwrap();
    let run =
        env.run(&["load-db", "odoo", path.to_str().unwrap(), "-d", &target, "--force"]).failure(1);
    assert!(run.stderr.contains("out of memory"), "{}", run.stderr);
    assert_eq!(cluster().fingerprint(&target), before);
    assert_no_leftovers(&target);
}
