//! `oe mirror`: snapshots of real directory trees restored and compared with their sources,
//! incremental runs, deduplication inside changed files, exclusions through the whole path,
//! SIGKILL during `run` and `prune`, damage found by `check --read-data`, forget and prune.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::random_bytes;
use crate::testenv::TestEnv;

/// A mirror setup: a source directory, a repository, the config naming both.
struct Mirror {
    env: TestEnv,
    source: PathBuf,
    repo: PathBuf,
}

impl Mirror {
    /// `source/` mirrored into `repo/` with `exclude` patterns; the repository initialized.
    fn new(exclude: &[&str]) -> Mirror {
        let env = TestEnv::new();
        let source = env.path("source");
        let repo = env.path("repo");
        fs::create_dir_all(&source).unwrap();
        let mirror = Mirror { env, source, repo };
        mirror.configure(exclude);
        mirror.oe(&["mirror", "init"]).success();
        mirror
    }

    fn configure(&self, exclude: &[&str]) {
        let patterns = serde_json::to_string(exclude).unwrap();
        let yaml = format!(
            "mirror:\n  repository: {}\n  dirs:\n    {}: {{exclude: {patterns}}}\n",
            json(&self.repo),
            json(&self.source)
        );
        self.env.write_config(&yaml);
    }

    fn oe(&self, args: &[&str]) -> crate::testenv::Run {
        self.env.run(args)
    }

    /// `oe mirror run` for the source; the snapshot's id and its JSON report.
    fn run(&self) -> (String, serde_json::Value) {
        let run = self.oe(&["--json", "mirror", "run"]).success();
        let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        let dir = &report["dirs"][0];
        (dir["snapshot"].as_str().expect("a snapshot id").to_owned(), dir.clone())
    }

    fn restore(&self, snapshot: &str, target: &Path) -> crate::testenv::Run {
        let dir = self.source.to_str().unwrap();
        self.oe(&[
            "mirror",
            "restore",
            snapshot,
            "--dir",
            dir,
            "--target",
            target.to_str().unwrap(),
        ])
    }

    /// Files below the repository's `rel` directory.
    fn repo_files(&self, rel: &str) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![self.repo.join(rel)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for entry in entries {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    stack.push(entry.path());
                } else {
                    files.push(entry.path());
                }
            }
        }
        files
    }
}

fn json(path: &Path) -> String {
    serde_json::to_string(path.to_str().unwrap()).unwrap()
}

/// Compressible text of about `len` bytes.
fn text(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut n = seed;
    while out.len() < len {
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.extend_from_slice(
            format!("INSERT INTO t VALUES ({}, 'row {}');\n", n >> 40, n % 977).as_bytes(),
        );
    }
    out
}

fn set_mtime(path: &Path, seconds: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let t = libc::timespec { tv_sec: seconds as libc::time_t, tv_nsec: 123_456_789 };
    // SAFETY: a NUL-terminated path and two timespecs alive for the call.
    let rc = unsafe {
        libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
    };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

/// A tree with what a mirror must keep: nested directories, empty ones, files of many sizes
/// (empty, small, several chunks), modes, symlinks to files, to directories and dangling,
/// hard links, a fifo, a non-UTF-8 name, spaces and odd characters, fixed mtimes.
fn populate(root: &Path) {
    let write = |rel: &str, data: &[u8], mode: u32| {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    };
    write("empty", b"", 0o644);
    write("small.txt", b"hello\n", 0o600);
    write("script.sh", b"#!/bin/sh\necho hi\n", 0o755);
    write("docs/a b [c]*?.txt", &text(1, 5000), 0o644);
    write("docs/deep/er/still/file.sql", &text(2, 3_000_000), 0o640);
    write("filestore/ab/ab12cd", &random_bytes(3, 300_000), 0o644);
    write("filestore/cd/cd34ef", &random_bytes(4, 9_000_000), 0o644);
    write("filestore/cd/copy-of-cd34ef", &random_bytes(4, 9_000_000), 0o644);
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::create_dir_all(root.join("setgid")).unwrap();
    fs::set_permissions(root.join("setgid"), fs::Permissions::from_mode(0o2775)).unwrap();
    std::os::unix::fs::symlink("small.txt", root.join("link-to-file")).unwrap();
    std::os::unix::fs::symlink("docs/deep", root.join("link-to-dir")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    fs::hard_link(root.join("small.txt"), root.join("docs/hard-link")).unwrap();
    let odd = root.join(OsStr::from_bytes(b"latin1-\xe9t\xe9"));
    fs::write(&odd, b"non-UTF-8 name").unwrap();
    let fifo = std::ffi::CString::new(root.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path alive for the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o620) }, 0);
    for (i, path) in walk(root).into_iter().rev().enumerate() {
        set_mtime(&path, 1_600_000_000 + i as i64 * 3600);
    }
}

/// Every path below `root` (not `root`), parents before children.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            out.push(path.clone());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

/// What a restore must reproduce of each path: type, mode, owner, mtime, content (hashed) or
/// link target, and which other path it is a hard link of.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    kind: u32,
    mode: u32,
    owner: (u32, u32),
    mtime: (i64, i64),
    content: String,
    hard_link_of: Option<Vec<u8>>,
}

fn state(root: &Path) -> BTreeMap<Vec<u8>, State> {
    let mut first_of_inode: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut paths = walk(root);
    paths.sort();
    for path in paths {
        let rel = path.strip_prefix(root).unwrap().as_os_str().as_bytes().to_vec();
        let m = fs::symlink_metadata(&path).unwrap();
        let kind = m.mode() & libc::S_IFMT;
        let content = if m.file_type().is_symlink() {
            String::from_utf8_lossy(fs::read_link(&path).unwrap().as_os_str().as_bytes())
                .into_owned()
        } else if m.is_file() {
            blake3::hash(&fs::read(&path).unwrap()).to_hex().to_string()
        } else {
            String::new()
        };
        let hard_link_of = if m.is_file() && m.nlink() > 1 {
            let first = first_of_inode.entry(m.ino()).or_insert_with(|| rel.clone()).clone();
            (first != rel).then_some(first)
        } else {
            None
        };
        let mode = if m.file_type().is_symlink() { 0 } else { m.mode() & 0o7777 };
        out.insert(
            rel,
            State {
                kind,
                mode,
                owner: (m.uid(), m.gid()),
                mtime: (m.mtime(), m.mtime_nsec()),
                content,
                hard_link_of,
            },
        );
    }
    out
}

#[track_caller]
fn assert_same_state(expected: &BTreeMap<Vec<u8>, State>, actual: &BTreeMap<Vec<u8>, State>) {
    let name = |p: &Vec<u8>| String::from_utf8_lossy(p).into_owned();
    for (path, want) in expected {
        match actual.get(path) {
            None => panic!("{} is missing from the restore", name(path)),
            Some(got) => assert_eq!(got, want, "{} differs", name(path)),
        }
    }
    let extra: Vec<String> =
        actual.keys().filter(|p| !expected.contains_key(*p)).map(name).collect();
    assert!(extra.is_empty(), "restored but not in the source: {extra:?}");
}

#[test]
fn every_snapshot_restores_exactly_and_unchanged_files_are_not_read_again() {
    let m = Mirror::new(&[]);
    populate(&m.source);
    let first_state = state(&m.source);
    let (first, report) = m.run();
    let stats = &report["stats"];
    assert_eq!(stats["files_read"], stats["files"], "a first run reads every file: {report}");
    let bytes = stats["bytes"].as_u64().unwrap();
    // Two identical 9 MB files and a hard link: stored once.
    assert!(stats["new_bytes"].as_u64().unwrap() < bytes - 8_000_000, "no dedup: {report}");

    // Nothing changed: nothing read, (almost) nothing new.
    let (same, report) = m.run();
    assert_ne!(same, first);
    assert_eq!(report["stats"]["files_read"], 0, "{report}");
    assert_eq!(report["stats"]["new_bytes"], 0, "{report}");

    // Change, add, delete, retarget.
    fs::write(m.source.join("small.txt"), b"changed\n").unwrap();
    fs::write(m.source.join("docs/new file"), text(9, 100)).unwrap();
    fs::remove_file(m.source.join("filestore/ab/ab12cd")).unwrap();
    fs::remove_file(m.source.join("link-to-file")).unwrap();
    std::os::unix::fs::symlink("script.sh", m.source.join("link-to-file")).unwrap();
    fs::set_permissions(m.source.join("script.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    let third_state = state(&m.source);
    let (third, report) = m.run();
    // small.txt (and its hard link), the new file; script.sh's ctime changed with its mode.
    let read = report["stats"]["files_read"].as_u64().unwrap();
    assert!((2..=4).contains(&read), "{report}");

    for (id, expected) in [(&first, &first_state), (&same, &first_state), (&third, &third_state)] {
        let target = m.env.path(&format!("restore-{id}"));
        m.restore(id, &target).success();
        assert_same_state(expected, &state(&target));
    }
    m.oe(&["mirror", "check", "--read-data"]).success();
}

#[test]
fn a_changed_large_file_stores_only_its_changed_chunks() {
    let m = Mirror::new(&[]);
    let dump = m.source.join("nightly.sql");
    let mut data = text(7, 40_000_000);
    fs::write(&dump, &data).unwrap();
    let (_, first) = m.run();
    let stored = first["stats"]["new_bytes"].as_u64().unwrap();
    assert!(stored >= 40_000_000, "{first}");
    // 1% of the rows change, in a few places.
    for k in 0..4 {
        let at = 5_000_000 + k * 9_000_000;
        let patch = text(100 + k as u64, 100_000);
        data[at..at + patch.len()].copy_from_slice(&patch);
    }
    fs::write(&dump, &data).unwrap();
    let (second, report) = m.run();
    let new = report["stats"]["new_bytes"].as_u64().unwrap();
    assert!(new < 40_000_000 / 4, "{new} new bytes for a 1% change: {report}");
    let target = m.env.path("r");
    m.restore(&second, &target).success();
    assert!(fs::read(target.join("nightly.sql")).unwrap() == data, "restored content differs");
}

/// A table dump: one line per row, the last field of each row as given.
fn dump(notes: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(notes.len() * 64);
    for (row, note) in notes.iter().enumerate() {
        let row = row as u64;
        out.extend_from_slice(
            format!("{row}\tcustomer {}\t{}.{:02}\t{note}\n", row * 7 % 4999, row % 997, row % 89)
                .as_bytes(),
        );
    }
    out
}

/// Changes the last field of 1% of the rows, spread over the whole table, to one of another
/// length.
fn change_one_percent(notes: &mut [String], night: u64) {
    let mut n = night.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..notes.len() / 100 {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        let row = (n % notes.len() as u64) as usize;
        notes[row] = format!("night {night} {}", "z".repeat((n >> 40) as usize % 30));
    }
}

fn data_bytes(m: &Mirror) -> u64 {
    m.repo_files("data").iter().map(|p| fs::metadata(p).unwrap().len()).sum()
}

#[test]
fn a_dump_with_one_percent_of_rows_changed_each_night_grows_the_repository_by_deltas() {
    let m = Mirror::new(&[]);
    let path = m.source.join("dump.sql");
    let mut notes: Vec<String> = (0..520_000).map(|r| format!("note {}", r % 1013)).collect();
    let mut dumps = Vec::new();
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    for night in 1..=5u64 {
        if night > 1 {
            change_one_percent(&mut notes, night);
        }
        let data = dump(&notes);
        fs::write(&path, &data).unwrap();
        // The size and mtime check must not hide a change of equal size.
        set_mtime(&path, 1_700_000_000 + night as i64 * 86_400);
        ids.push(m.run().0);
        sizes.push(data_bytes(&m));
        dumps.push(data);
    }
    assert!(dumps[0].len() > 18_000_000, "{} bytes", dumps[0].len());
    let first = sizes[0];
    for (night, pair) in sizes.windows(2).enumerate() {
        let growth = pair[1] - pair[0];
        assert!(
            growth * 10 < first,
            "night {}: the repository grew by {growth} bytes, the first night took {first}",
            night + 2
        );
    }
    for (night, (id, data)) in ids.iter().zip(&dumps).enumerate() {
        let target = m.env.path(&format!("night{night}"));
        m.restore(id, &target).success();
        assert!(fs::read(target.join("dump.sql")).unwrap() == *data, "night {night} differs");
    }
    m.oe(&["mirror", "check", "--read-data"]).success();

    // The early snapshots go; the later ones still need their chunks as bases.
    m.oe(&["mirror", "forget", "--keep-last", "2", "--prune"]).success();
    m.oe(&["mirror", "check", "--read-data"]).success();
    for (night, (id, data)) in ids.iter().zip(&dumps).enumerate().skip(3) {
        let target = m.env.path(&format!("pruned{night}"));
        m.restore(id, &target).success();
        assert!(fs::read(target.join("dump.sql")).unwrap() == *data, "night {night} differs");
    }
}

#[test]
fn snapshots_hold_exactly_what_rsync_would_transfer() {
    let exclude = ["/*/.cache/", "+ keep.tmp", "*.tmp", "docs/deep/", "/filestore/cd/**"];
    let m = Mirror::new(&exclude);
    populate(&m.source);
    for rel in ["u1/.cache/x", "u2/.cache/y/z", "u1/a.tmp", "u1/keep.tmp", "docs/keep.tmp"] {
        let path = m.source.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"x").unwrap();
    }
    let (id, _) = m.run();
    let dir = m.source.to_str().unwrap();
    // Paths from the JSON listing, which is one object per line.
    let ls = m.oe(&["--json", "mirror", "ls", &id, "--dir", dir]).success();
    let ours: std::collections::BTreeSet<String> = ls
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let path = v["path"].as_str().unwrap().to_owned();
            if v["type"] == "dir" { format!("{path}/") } else { path }
        })
        .collect();
    let empty = m.env.path("empty-dest");
    fs::create_dir_all(&empty).unwrap();
    let mut rsync = Command::new("rsync");
    rsync.args(["-a", "-n", "-8", "--out-format=%n"]);
    for pattern in exclude {
        rsync.arg(format!("--exclude={pattern}"));
    }
    let out = rsync
        .arg(format!("{}/", m.source.display()))
        .arg(format!("{}/", empty.display()))
        .stderr(Stdio::inherit())
        .output()
        .expect("rsync must be installed (contrib/test.sh installs it)");
    assert!(out.status.success());
    let theirs: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l != "./")
        .map(str::to_owned)
        .collect();
    assert_eq!(ours, theirs);
    assert!(!ours.iter().any(|p| p.contains(".cache")), "{ours:?}");
    assert!(ours.contains("u1/keep.tmp") && !ours.contains("u1/a.tmp"), "{ours:?}");
}

#[test]
fn invalid_patterns_and_directories_are_usage_errors_naming_them() {
    let m = Mirror::new(&[]);
    m.configure(&["[unterminated"]);
    let _ = m.oe(&["mirror", "run"]);
    m.env.write_config(&format!(
        "mirror:\n  repository: {}\n  dirs:\n    relative/dir: {{}}\n",
        json(&m.repo)
    ));
    m.oe(&["mirror", "run"]).failure(2).stderr_has("relative/dir").stderr_has("absolute");
    m.env.write_config(&format!(
        "mirror:\n  repository: {}\n  dirs:\n    /x: {{exclud: []}}\n",
        json(&m.repo)
    ));
    m.oe(&["mirror", "run"]).failure(2).stderr_has("exclud");
    m.configure(&[""]);
    m.oe(&["mirror", "run"]).failure(2).stderr_has(m.source.to_str().unwrap());
}

#[test]
fn dirs_file_in_the_original_mirror_dir_format() {
    let m = Mirror::new(&[]);
    populate(&m.source);
    let dirs_file = m.env.path("mirror-dir.yml");
    fs::write(
        &dirs_file,
        format!("{}: {{exclude: ['/filestore/', '/docs/deep/', '/.Trash*']}}\n", json(&m.source)),
    )
    .unwrap();
    let run =
        m.oe(&["--json", "mirror", "--dirs-file", dirs_file.to_str().unwrap(), "run"]).success();
    let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let id = report["dirs"][0]["snapshot"].as_str().unwrap();
    let target = m.env.path("r");
    m.restore(id, &target).success();
    assert!(!target.join("filestore").exists() && !target.join("docs/deep").exists());
    assert!(target.join("docs/a b [c]*?.txt").exists());
}

#[test]
fn restore_refuses_to_write_through_a_symlink_in_the_target() {
    let m = Mirror::new(&[]);
    populate(&m.source);
    let (id, _) = m.run();
    let target = m.env.path("target");
    let outside = m.env.path("outside");
    fs::create_dir_all(&target).unwrap();
    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("docs")).unwrap();
    m.restore(&id, &target).failure(7).stderr_has("not a directory");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "wrote outside the target");
}

#[test]
fn restore_of_one_path() {
    let m = Mirror::new(&[]);
    populate(&m.source);
    let (id, _) = m.run();
    let target = m.env.path("target");
    let dir = m.source.to_str().unwrap();
    m.oe(&[
        "mirror",
        "restore",
        &id,
        "--dir",
        dir,
        "--target",
        target.to_str().unwrap(),
        "--path",
        "docs/deep",
    ])
    .success();
    assert!(target.join("docs/deep/er/still/file.sql").is_file());
    assert!(!target.join("small.txt").exists() && !target.join("docs/a b [c]*?.txt").exists());
    m.oe(&[
        "mirror",
        "restore",
        "latest",
        "--dir",
        dir,
        "--target",
        target.to_str().unwrap(),
        "--path",
        "nope",
    ])
    .failure(2)
    .stderr_has("nope");
}

#[test]
fn a_flipped_byte_in_a_pack_is_found_and_named() {
    let m = Mirror::new(&[]);
    populate(&m.source);
    let (id, _) = m.run();
    m.oe(&["mirror", "check", "--read-data"]).success();
    let mut packs = m.repo_files("data");
    packs.sort_by_key(|p| std::cmp::Reverse(fs::metadata(p).unwrap().len()));
    let pack = &packs[0];
    let mut bytes = fs::read(pack).unwrap();
    bytes[100] ^= 0x40;
    fs::set_permissions(pack, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(pack, &bytes).unwrap();
    m.oe(&["mirror", "check"]).success();
    let check = m.oe(&["mirror", "check", "--read-data"]).failure(4);
    assert!(check.stdout.contains(&id[..8]) || check.stderr.contains(&id[..8]), "{check:?}");
    let name = pack.file_name().unwrap().to_str().unwrap();
    let pack_id = name.split('.').next().unwrap();
    assert!(
        check.stdout.contains(&pack_id[..8]) || check.stderr.contains(&pack_id[..8]),
        "{check:?}"
    );
}

/// Kills `oe mirror <args>` with SIGKILL once `ready` says so (or after `limit`).
fn kill_when(m: &Mirror, args: &[&str], ready: impl Fn() -> bool, limit: Duration) {
    let mut child = m.env.oe();
    let mut child = child.args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while !ready() && start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn sigkill_during_run_and_prune_leaves_a_consistent_repository() {
    let m = Mirror::new(&[]);
    populate(&m.source);
    let (first, _) = m.run();
    let first_state = state(&m.source);
    for i in 0..6 {
        fs::write(m.source.join(format!("big-{i}")), random_bytes(50 + i, 12_000_000)).unwrap();
    }
    // Killed as soon as a first new pack is durable, then at growing delays.
    let packs_before = m.repo_files("data").len();
    kill_when(
        &m,
        &["mirror", "run"],
        || m.repo_files("data").len() > packs_before,
        Duration::from_secs(60),
    );
    for delay in [5u64, 30, 80, 200] {
        kill_when(&m, &["mirror", "run"], || false, Duration::from_millis(delay));
        m.oe(&["mirror", "check"]).success();
    }
    m.oe(&["mirror", "check", "--read-data"]).success();
    let (_, report) = m.run();
    let new = report["stats"]["new_bytes"].as_u64().unwrap();
    assert!(new < 72_000_000, "the killed runs' data was not reused: {report}");
    let last_state = state(&m.source);

    // Forget everything but the last; prune killed at several points; then prune to the end.
    m.oe(&["mirror", "forget", "--keep-last", "1"]).success();
    for delay in [2u64, 10, 40, 120] {
        kill_when(&m, &["mirror", "prune"], || false, Duration::from_millis(delay));
        m.oe(&["mirror", "check", "--read-data"]).success();
    }
    m.oe(&["mirror", "prune"]).success();
    m.oe(&["mirror", "check", "--read-data"]).success();
    let target = m.env.path("after-prune");
    m.restore("latest", &target).success();
    assert_same_state(&last_state, &state(&target));
    m.restore(&first, &m.env.path("gone")).failure(2);
    drop(first_state);
}

#[test]
fn forget_keeps_what_the_rules_say_and_prune_frees_space() {
    let m = Mirror::new(&[]);
    for i in 0..3 {
        fs::write(m.source.join("data"), random_bytes(i, 3_000_000)).unwrap();
        m.run();
    }
    let dir = m.source.to_str().unwrap();
    let list = m.oe(&["--json", "mirror", "snapshots", "--dir", dir]).success();
    let all: Vec<serde_json::Value> = serde_json::from_str(list.stdout.trim()).unwrap();
    assert_eq!(all.len(), 3);
    m.oe(&["mirror", "forget"]).failure(2).stderr_has("--keep");
    let dry = m.oe(&["mirror", "forget", "--keep-last", "1", "--dry-run"]).success();
    assert!(dry.stdout.contains("would delete 2"), "{dry:?}");
    assert_eq!(
        m.oe(&["--json", "mirror", "snapshots"]).success().stdout.matches("\"id\"").count(),
        3
    );
    let size = |m: &Mirror| {
        m.repo_files("data").iter().map(|p| fs::metadata(p).unwrap().len()).sum::<u64>()
    };
    let before = size(&m);
    m.oe(&["mirror", "forget", "--keep-last", "1", "--prune"]).success();
    assert_eq!(
        m.oe(&["--json", "mirror", "snapshots"]).success().stdout.matches("\"id\"").count(),
        1
    );
    let after = size(&m);
    assert!(after < before / 2, "prune freed too little: {before} -> {after}");
    m.oe(&["mirror", "check", "--read-data"]).success();
}

#[test]
fn unreadable_files_make_a_partial_snapshot_and_the_run_goes_on() {
    // As an unprivileged user, since root reads everything: the whole setup belongs to it.
    let m = Mirror::new(&[]);
    fs::remove_dir_all(&m.repo).unwrap();
    populate(&m.source);
    let secret = m.source.join("secret");
    fs::write(&secret, b"no").unwrap();
    let status =
        Command::new("chown").args(["-R", "65534:65534"]).arg(m.env.root.path()).status().unwrap();
    assert!(status.success());
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let as_nobody = |args: &[&str]| {
        let cmd = m.env.oe();
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .args(args)
            .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .current_dir(m.env.root.path())
            .output()
            .expect("setpriv (util-linux) runs oe as nobody");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, text) = as_nobody(&["mirror", "init"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = as_nobody(&["mirror", "run"]);
    assert_eq!(code, Some(8), "a partial snapshot exits with 8: {text}");
    assert!(text.contains("secret") && text.contains("PARTIAL"), "{text}");
    let (code, text) = as_nobody(&["mirror", "snapshots"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("partial"), "{text}");
    let target = m.env.path("r");
    let (code, text) = as_nobody(&[
        "mirror",
        "restore",
        "latest",
        "--dir",
        m.source.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        target.join("docs/deep/er/still/file.sql").is_file() && !target.join("secret").exists()
    );
}

#[test]
fn a_file_written_while_it_is_read_is_flagged_and_the_snapshot_partial() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let m = Mirror::new(&[]);
    fs::write(m.source.join("steady"), text(1, 1000)).unwrap();
    let busy = m.source.join("growing.log");
    fs::write(&busy, random_bytes(9, 30_000_000)).unwrap();
    let stop = AtomicBool::new(false);
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            let mut file = fs::OpenOptions::new().append(true).open(&busy).unwrap();
            while !stop.load(Ordering::Relaxed) {
                file.write_all(b"another line\n").unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let run = m.oe(&["--json", "mirror", "run"]);
        stop.store(true, Ordering::Relaxed);
        run
    });
    let run = run.failure(8);
    let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let errors = report["dirs"][0]["errors"].to_string();
    assert!(
        errors.contains("growing.log") && errors.contains("changed while being read"),
        "{errors}"
    );
    // Both files are in the snapshot, the growing one as last read.
    let target = m.env.path("r");
    m.restore("latest", &target).success();
    assert_eq!(fs::read(target.join("steady")).unwrap(), text(1, 1000));
    assert!(fs::metadata(target.join("growing.log")).unwrap().len() >= 30_000_000);
}

#[test]
fn runs_in_quick_succession_are_each_the_latest_in_turn() {
    let m = Mirror::new(&[]);
    let mut ids = Vec::new();
    for round in 0..3 {
        fs::write(m.source.join("round.txt"), format!("round {round}")).unwrap();
        ids.push(m.run().0);
    }
    let listed = m.oe(&["--json", "mirror", "snapshots"]).success();
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let times: Vec<i64> =
        listed.as_array().unwrap().iter().map(|s| s["time"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "times must increase: {times:?}");
    let order: Vec<&str> =
        listed.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let target = m.env.path("r");
    m.restore("latest", &target).success();
    assert_eq!(fs::read_to_string(target.join("round.txt")).unwrap(), "round 2");
}

#[test]
fn without_a_passphrase_given_oe_asks_the_terminal_twice_for_a_new_one_and_once_to_open() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    let repo = repo.to_str().unwrap();
    let init = ["mirror", "-r", repo, "init", "--encrypt"];
    // A confirmation that differs is asked again; an empty passphrase is refused.
    let typed = "typed words\nother words\n\ntyped words\ntyped words\n";
    env.run_on_terminal(&init, typed)
        .success()
        .stderr_has("the two differ")
        .stderr_has("an empty passphrase protects nothing");
    let snapshots = ["mirror", "-r", repo, "snapshots"];
    env.run_on_terminal(&snapshots, "wrong words\n").failure(4).stderr_has("passphrase");
    env.run_on_terminal(&snapshots, "typed words\n").success();
    // What was typed is the passphrase: the variable opens the repository with it.
    env.run_with_env(&snapshots, &[("OE_PASSPHRASE", "typed words")]).success();
    env.run(&snapshots).failure(2).stderr_has("is encrypted");
}
