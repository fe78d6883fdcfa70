//! `oe save-db`: every format round-trips, the files are what standard tools expect, and a
//! failure leaves no file behind.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::cluster::cluster;
use crate::support::{config_with, fake_bindir, partial_files, sample_db};
use crate::testenv::TestEnv;

const NAMES: [&str; 8] = [
    "x.sql",
    "x.sql.gz",
    "x.sql.bz2",
    "x.sql.zst",
    "x.dump",
    "x.dump.gz",
    "x.dump.bz2",
    "x.dump.zst",
];

fn decompress(path: &std::path::Path) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap();
    let name = path.to_string_lossy();
    let mut reader: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if name.ends_with(".bz2") {
        Box::new(bzip2::read::MultiBzDecoder::new(file))
    } else if name.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::new(file).unwrap())
    } else {
        Box::new(file)
    };
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn every_format_round_trips() {
    let env = TestEnv::new();
    let (db, fingerprint) = sample_db("save_rt");
    for name in NAMES {
        let path = env.path(name);
        env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db]).success();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
        let payload = decompress(&path);
        if name.contains(".dump") {
            assert!(payload.starts_with(b"PGDMP"), "{name} is not a custom-format dump");
        } else {
            assert!(payload.starts_with(b"--\n-- PostgreSQL database dump"), "{name}");
        }
        let target = cluster().unique_db("save_rt_back");
        env.run(&["load-db", "odoo", path.to_str().unwrap(), "-d", &target]).success();
        assert_eq!(cluster().fingerprint(&target), fingerprint, "{name}");
        cluster().drop_db(&target);
    }
    assert!(partial_files(env.root.path()).is_empty());
}

#[test]
fn compressed_outputs_are_read_by_the_standard_tools() {
    let env = TestEnv::new();
    let (db, _) = sample_db("save_tools");
    let plain = env.path("p.sql");
    env.run(&["save-db", "odoo", plain.to_str().unwrap(), "-d", &db]).success();
    let plain = without_restrict_keys(&std::fs::read(plain).unwrap());
    for (name, tool) in [("p.sql.gz", "gzip"), ("p.sql.bz2", "bzip2"), ("p.sql.zst", "zstd")] {
        let path = env.path(name);
        env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db]).success();
        let Ok(out) = Command::new(tool).arg("-dc").arg(&path).output() else {
            panic!("{tool} is not installed: .ci/run installs it");
        };
        assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
        let decoded = without_restrict_keys(&out.stdout);
        assert!(decoded == plain, "{tool} -dc {name} differs from the plain dump");
    }
}

/// pg_dump's output without its `\\restrict` keys, which are random for every run.
fn without_restrict_keys(dump: &[u8]) -> String {
    String::from_utf8_lossy(dump)
        .lines()
        .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn stdout_pipes_into_load_from_stdin() {
    let env = TestEnv::new();
    let (db, fingerprint) = sample_db("save_pipe");
    let target = cluster().unique_db("save_pipe_back");
    let mut save = env.oe();
    save.args(["save-db", "odoo", "-", "-d", &db]).stdout(Stdio::piped());
    let mut save = save.spawn().unwrap();
    let stdout = save.stdout.take().unwrap();
    let load = env.run_with_stdin(&["load-db", "odoo", "-", "-d", &target], Stdio::from(stdout));
    assert!(save.wait().unwrap().success());
    load.success();
    assert_eq!(cluster().fingerprint(&target), fingerprint);
}

#[test]
fn json_summary() {
    let env = TestEnv::new();
    let (db, _) = sample_db("save_json");
    let path = env.path("j.sql.zst");
    let run = env.run(&["--json", "save-db", "odoo", path.to_str().unwrap(), "-d", &db]).success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["database"], db.as_str());
    assert_eq!(doc["written_bytes"].as_u64().unwrap(), std::fs::metadata(&path).unwrap().len());
    assert!(doc["dumped_bytes"].as_u64().unwrap() > doc["written_bytes"].as_u64().unwrap());
    env.run(&["--json", "save-db", "odoo", "-", "-d", &db]).failure(2);
}

#[test]
fn pg_dump_dying_halfway_leaves_no_file_and_keeps_the_old_one() {
    let env = TestEnv::new();
    let (db, _) = sample_db("save_dies");
    // The real pg_dump, cut after 200 kB, then a failure exit.
    let script = "\"$REAL/pg_dump\" \"$@\" | head -c 200000\necho 'pg_dump: error: connection lost' >&2\nexit 1";
    let bindir = fake_bindir(&env, "pg_dump", script);
    config_with(&env, &format!(", bindir: '{}'", bindir.display()));
    for name in ["old.sql.gz", "old.dump"] {
        let path = env.path(name);
        std::fs::write(&path, b"previous backup").unwrap();
        let run = env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db]).failure(1);
        assert!(run.stderr.contains("pg_dump failed (exit code 1)"), "{}", run.stderr);
        assert!(run.stderr.contains("connection lost"), "{}", run.stderr);
        assert_eq!(std::fs::read(&path).unwrap(), b"previous backup");
    }
    assert!(partial_files(env.root.path()).is_empty());
    // Without the old file, nothing appears.
    let path = env.path("new.sql");
    env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db]).failure(1);
    assert!(!path.exists());
}

#[test]
fn disk_full_leaves_nothing() {
    let env = TestEnv::new();
    let (db, _) = sample_db("save_full");
    let mount = env.path("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mount)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED disk_full_leaves_nothing: cannot mount a small tmpfs (needs root)");
        return;
    }
    let path = mount.join("x.sql");
    let run = env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db]);
    let left: Vec<_> = std::fs::read_dir(&mount).unwrap().collect();
    let _ = Command::new("umount").arg(&mount).status();
    let run = run.failure(7);
    assert!(run.stderr.contains("No space left on device"), "{}", run.stderr);
    assert!(run.stderr.contains("x.sql"), "{}", run.stderr);
    assert!(left.is_empty(), "left on the full disk: {left:?}");
}

#[test]
fn bad_requests_fail_clearly() {
    let env = TestEnv::new();
    let (db, _) = sample_db("save_bad");
    let path = env.path("x.zip");
    env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db])
        .failure(2)
        .stderr_has("cannot tell the dump format from the name");
    let path = env.path("x.sql");
    env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", "no_such_db"])
        .failure(1)
        .stderr_has("database 'no_such_db' does not exist");
    let path = env.path("no/such/dir/x.sql");
    env.run(&["save-db", "odoo", path.to_str().unwrap(), "-d", &db]).failure(7);
}
