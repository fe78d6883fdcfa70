//! What the subcommand tests share: sample dumps, fake tools that inject faults, checks
//! that nothing was left behind.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::cluster::cluster;
use crate::testenv::TestEnv;

/// A database loaded with the sample data, and its fingerprint.
pub fn sample_db(prefix: &str) -> (String, std::collections::BTreeMap<String, (i64, String)>) {
    let c = cluster();
    let db = c.unique_db(prefix);
    c.load_sample(&db);
    let fingerprint = c.fingerprint(&db);
    assert!(fingerprint.len() >= 8, "sample has too few tables: {fingerprint:?}");
    (db, fingerprint)
}

/// Every file below `dir`: relative path → content.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Asserts that `actual` holds the files of `expected`, byte for byte (naming the
/// difference, not printing megabytes).
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let (expected, actual) = (tree(expected), tree(actual));
    let names =
        |t: &std::collections::BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&expected), names(&actual), "the restored tree lists other files");
    for (name, bytes) in &expected {
        assert!(actual[name] == *bytes, "{name} differs");
    }
}

/// Deterministic bytes: xorshift output, incompressible.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Databases `oe` made for its own use (temporary loads, replaced databases).
pub fn leftovers() -> Vec<String> {
    cluster().databases().into_iter().filter(|d| d.contains("-oe-")).collect()
}

/// Asserts that no temporary database of `oe` derived from `db` is left.
pub fn assert_no_leftovers(db: &str) {
    let left: Vec<String> = leftovers().into_iter().filter(|d| d.starts_with(db)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Files in `dir` whose names end with `.partial`.
pub fn partial_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect()
}

/// A directory of PostgreSQL tools where `tool` is replaced by `script` (a shell script run
/// with the real tool's directory in `$REAL`) and the others are the real ones.
pub fn fake_bindir(env: &TestEnv, tool: &str, script: &str) -> PathBuf {
    let dir = env.path(&format!("fake-{tool}"));
    std::fs::create_dir_all(&dir).unwrap();
    let real = &cluster().bindir;
    for name in ["pg_dump", "psql", "pg_restore"] {
        let path = dir.join(name);
        if name == tool {
            let text = format!("#!/bin/sh\nREAL='{}'\n{script}\n", real.display());
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            std::os::unix::fs::symlink(real.join(name), &path).unwrap();
        }
    }
    dir
}

/// The config of `env` with extra keys for the `odoo` service's postgres section.
pub fn config_with(env: &TestEnv, postgres_extra: &str) -> String {
    let c = cluster();
    let text = format!(
        "services:\n  odoo:\n    postgres: {{host: '{}', port: {}, user: postgres{postgres_extra}}}\n    data_dir: '{}'\n",
        c.socket_dir.display(),
        c.port,
        env.path("odoo-data").display()
    );
    env.write_config(&text);
    text
}

/// Decides whether a test that needs something a fresh machine may lack, and that
/// `contrib/test.sh` cannot install (a Docker engine, an Odoo source tree), runs.
///
/// Returns `true` when the test must return at once: `missing` is absent. It then prints one
/// line naming what is missing and how to provide it, and appends that line to the file named
/// by `$OE_TEST_SKIPS` (`contrib/test.sh` counts them in its summary). With `CI=true` a skip is
/// a failure: the test panics instead.
#[allow(dead_code)] // Its first users are the Docker and Odoo suites (issues 14 to 16).
pub fn skip_unless_available(missing: Option<&str>, how: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let log = std::env::var_os("OE_TEST_SKIPS").map(PathBuf::from);
    skip_with(ci, log.as_deref(), missing, how)
}

/// [`skip_unless_available`] with its environment passed in.
fn skip_with(ci: bool, log: Option<&Path>, missing: Option<&str>, how: &str) -> bool {
    let Some(missing) = missing else { return false };
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let line = format!("skipped {test}: {missing} is not available; {how}");
    assert!(!ci, "{line} (CI=true: a skip is a failure)");
    eprintln!("{line}");
    if let Some(log) = log {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        writeln!(file, "{line}").unwrap();
    }
    true
}

#[test]
fn a_skip_is_logged_and_fails_under_ci() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    assert!(!skip_with(false, Some(&log), None, "install it"));
    assert!(!log.exists(), "nothing missing, nothing logged");
    assert!(skip_with(false, Some(&log), Some("a Docker engine"), "install docker.io"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("a Docker engine is not available; install docker.io"), "{text}");
    assert!(text.contains("a_skip_is_logged_and_fails_under_ci"), "{text}");
    let under_ci = std::panic::catch_unwind(|| skip_with(true, None, Some("x"), "y"));
    assert!(under_ci.is_err(), "CI=true must turn a skip into a failure");
}

/// Rewrites the Odoo archive `zip` into `out` with the first `rows` data rows of the `COPY`
/// block of `table` (as the dump names it: `public.x`, `"Odd Schema"."Mixed Case"`) removed
/// from its `dump.sql`: still a valid zip of valid SQL, with fewer rows than its manifest says.
pub fn drop_copy_rows(zip: &Path, out: &Path, table: &str, rows: usize) {
    let script = r#"
import sys, zipfile
src, out, table, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with zipfile.ZipFile(src) as z, zipfile.ZipFile(out + ".new", "w", zipfile.ZIP_DEFLATED) as w:
    for info in z.infolist():
        data = z.read(info)
        if info.filename == "dump.sql":
            lines = data.split(b"\n")
            start = next(i for i, l in enumerate(lines) if l.startswith(b"COPY " + table.encode() + b" "))
            dropped = lines[start + 1:start + 1 + rows]
            assert len(dropped) == rows and b"\\." not in dropped, dropped
            data = b"\n".join(lines[:start + 1] + lines[start + 1 + rows:])
        w.writestr(info, data)
import os
os.replace(out + ".new", out)
"#;
    let run = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(zip)
        .arg(out)
        .arg(table)
        .arg(rows.to_string())
        .output()
        .expect("python3 is needed: contrib/test.sh installs it");
    assert!(run.status.success(), "python: {}", String::from_utf8_lossy(&run.stderr));
}

/// Processes whose command line contains `needle` (as one argument).
pub fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if cmdline.split(|b| *b == 0).any(|arg| arg == needle.as_bytes()) {
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}
