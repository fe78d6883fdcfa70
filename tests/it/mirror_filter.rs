//! The exclusion rules against the oracle: generated trees times generated rule lists, the
//! paths `oe`'s filtered walk keeps compared with what the installed `rsync -a -n` transfers.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use oe::mirror::filter::Filter;
use oe::mirror::walk;

/// A small deterministic generator (xorshift64*).
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    fn pick(&mut self, items: &[&'static [u8]]) -> &'static [u8] {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Names repeated at every depth: dotfiles, spaces (also trailing), brackets, wildcards,
/// backslashes, non-UTF-8 bytes.
const NAMES: &[&[u8]] = &[
    b"a",
    b"b",
    b"foo",
    b"bar",
    b"dir",
    b".hidden",
    b".cache",
    b"cache",
    b"x y",
    b"foo bar ",
    b"[ab]",
    b"a*b",
    b"q?",
    b"back\\slash",
    b"keep.tmp",
    b"x.tmp",
    b"\xe9t\xe9",
    b"A1",
    b"9lives",
];

fn make_tree(root: &Path, random: &mut Random, depth: usize) {
    let entries = 2 + random.below(5);
    for _ in 0..entries {
        let name = OsStr::from_bytes(random.pick(NAMES));
        let path = root.join(name);
        if path.symlink_metadata().is_ok() {
            continue;
        }
        match random.below(10) {
            0..=3 if depth < 3 => {
                std::fs::create_dir(&path).unwrap();
                make_tree(&path, random, depth + 1);
            }
            4 => std::os::unix::fs::symlink("dir", &path).unwrap(),
            5 => std::os::unix::fs::symlink("..", &path).unwrap(),
            _ => std::fs::write(&path, b"x").unwrap(),
        }
    }
}

/// A rule from rsync's grammar: optional `- `/`+ ` prefix, optional anchor, one to three
/// components of literals and wildcards, optional trailing `/`; now and then a lone `!`.
fn make_rule(random: &mut Random) -> Vec<u8> {
    if random.chance(3) {
        return b"!".to_vec();
    }
    const PARTS: &[&[u8]] = &[
        b"a",
        b"foo",
        b"dir",
        b".hidden",
        b".cache",
        b"x y",
        b"foo bar ",
        b"*",
        b"**",
        b"?",
        b"*.tmp",
        b"keep.tmp",
        b"f*",
        b"*o*",
        b"[ab]",
        b"[!a]*",
        b"[^.]*",
        b"[[:alpha:]]*",
        b"[[:digit:]]*",
        b"[a-c]",
        b"\\[ab\\]",
        b"a\\*b",
        b"q\\?",
        b"back\\\\slash",
        b"\xe9t\xe9",
        b".*",
        b"[]ab]",
        b"b?r",
        b"dir[^z]a",
        b"foo[!x]*",
        b"a[/]b",
        b"dir?a",
    ];
    let mut rule = Vec::new();
    match random.below(4) {
        0 => rule.extend_from_slice(b"- "),
        1 => rule.extend_from_slice(b"+ "),
        _ => {}
    }
    if random.chance(35) {
        rule.push(b'/');
    }
    let components = 1 + random.below(3);
    for i in 0..components {
        if i > 0 {
            rule.push(b'/');
        }
        rule.extend_from_slice(random.pick(PARTS));
    }
    if random.chance(10) {
        rule.extend_from_slice(b"/***");
    } else if random.chance(25) {
        rule.push(b'/');
    }
    rule
}

/// What rsync transfers from `root` with `rules`, as `/`-joined paths (directories without
/// their trailing `/`, the root left out).
fn rsync_paths(root: &Path, dest: &Path, rules: &[Vec<u8>]) -> BTreeSet<Vec<u8>> {
    let mut cmd = Command::new("rsync");
    cmd.args(["-a", "-n", "-8", "--out-format=%n"]);
    for rule in rules {
        let mut arg = b"--exclude=".to_vec();
        arg.extend_from_slice(rule);
        cmd.arg(OsStr::from_bytes(&arg));
    }
    let mut src = root.as_os_str().as_bytes().to_vec();
    src.push(b'/');
    let out = cmd
        .arg(OsStr::from_bytes(&src))
        .arg(dest)
        .output()
        .expect("rsync must be installed: it is the oracle of the exclusion rules (contrib/test.sh installs it)");
    assert!(out.status.success(), "rsync failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && *l != b"./")
        .map(|l| l.strip_suffix(b"/").unwrap_or(l).to_vec())
        .collect()
}

#[test]
fn the_filtered_walk_keeps_exactly_what_rsync_transfers() {
    let mut random = Random(0x5eed_1234_abcd_0001);
    let mut cases = 0;
    for tree in 0..25 {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir(&root).unwrap();
        make_tree(&root, &mut random, 0);
        let dest = dir.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        for _ in 0..24 {
            let rules: Vec<Vec<u8>> =
                (0..1 + random.below(4)).map(|_| make_rule(&mut random)).collect();
            let texts: Vec<String> =
                rules.iter().map(|r| String::from_utf8_lossy(r).into_owned()).collect();
            // Non-UTF-8 rules cannot come from the YAML config; the matcher sees bytes anyway.
            if rules.iter().any(|r| std::str::from_utf8(r).is_err()) {
                continue;
            }
            let filter = Filter::parse(&texts).unwrap_or_else(|e| panic!("{texts:?}: {e}"));
            let ours: BTreeSet<Vec<u8>> =
                walk::included_paths(&root, &filter).unwrap().into_iter().collect();
            let theirs = rsync_paths(&root, &dest, &rules);
            if ours != theirs {
                let show = |set: &BTreeSet<Vec<u8>>| -> Vec<String> {
                    set.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect()
                };
                let all = walk::included_paths(&root, &Filter::default()).unwrap();
                panic!(
                    "tree {tree}, rules {texts:?}\n only oe: {:?}\n only rsync: {:?}\n tree: {:?}",
                    show(&ours.difference(&theirs).cloned().collect()),
                    show(&theirs.difference(&ours).cloned().collect()),
                    show(&all.into_iter().collect())
                );
            }
            cases += 1;
        }
    }
    assert!(cases > 400, "only {cases} cases ran");
}
