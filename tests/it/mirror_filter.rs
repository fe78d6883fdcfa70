//! The exclude rules and the filtered walk of `oe mirror`, against the installed rsync.
//!
//! For generated trees and exclude lists, [`walk::included_paths`] must hold exactly the
//! paths that `rsync -a -n -8 --out-format=%n --exclude=ITEM… SRC/ DEST/` prints, `DEST`
//! being an empty directory. Each configured item is passed as one `--exclude`, which is what
//! the configured list means: rsync reads `- `, `+ ` and a lone `!` there too.
//!
//! The trees hold dotfiles, spaces, brackets, backslashes, `*` and `?`, a tab and a newline,
//! non-UTF-8 bytes, symlinks to directories and to files, empty directories, and a handful of
//! names repeated at every depth so that unanchored and multi-component patterns find
//! something to match. The lists come from rsync's grammar: prefixes, `!`, anchors, trailing
//! slashes, inner slashes, `*`, `**`, `***`, `?`, classes, escapes, trailing spaces, and
//! patterns rsync never matches. A deterministic generator makes every failure repeatable.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use oe::jobs::mirror::walk;
use oe::rules::filter::{Filter, FilterError};

/// Trees generated, and lists tried on each.
const TREES: u64 = 40;
const LISTS_PER_TREE: usize = 25;
/// rsync runs mostly wait on its own processes: run several at once.
const THREADS: usize = 8;

#[test]
fn random_trees_and_lists_agree_with_rsync() {
    require_rsync();
    let seeds: Vec<u64> = (0..TREES).collect();
    // Cases where rsync left out some paths but not all: the generator must make plenty.
    let telling = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for chunk in seeds.chunks(seeds.len().div_ceil(THREADS)) {
            let telling = &telling;
            scope.spawn(move || {
                for &seed in chunk {
                    let mut random = SplitMix(seed);
                    let tree = Tree::generate(&mut random);
                    for _ in 0..LISTS_PER_TREE {
                        let items = random_list(&mut random, &tree);
                        let included = assert_agrees(&tree, &items, &format!("seed {seed}"));
                        if 0 < included && included < tree.entries.len() {
                            telling.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let cases = TREES as usize * LISTS_PER_TREE;
    let telling = telling.into_inner();
    assert!(telling * 3 >= cases, "only {telling} of {cases} cases exclude some paths but not all");
}

/// The example configuration of the design (REFERENCE §4) and every rule of the filter's
/// documentation, on a fixed tree shaped like `/home`.
#[test]
fn documented_rules_agree_with_rsync() {
    require_rsync();
    let tree = Tree::home();
    let lists: &[&[&str]] = &[
        &[
            "/*/.cache/",
            "/*/.gvfs/",
            "/*/.local/share/Trash/files/",
            "/*/.Trash/",
            "/*/.mozilla/firefox/*/Cache/",
            "/*/.mozilla/firefox/*/storage/default/*/cache/",
        ],
        &["/binary/games/_steam", "/incoming", "/.Trash*", "/lost+found", "/backup/device"],
        &["cache"],
        &["cache/"],
        &["/cache"],
        &["ann/cache"],
        &["firefox/*/Cache"],
        &["*.log"],
        &["*"],
        &["/*"],
        &[".*"],
        &["?"],
        &["**/cache"],
        &["ann/**"],
        &["ann/***"],
        &["/ann/**/cache"],
        &["/ann/**/Cache/"],
        &["**"],
        &["***"],
        &["[ab]*"],
        &["[!a]*"],
        &["[^.]*"],
        &["[[:upper:]]*"],
        &["[[:digit:]]*"],
        &["*[[:space:]]*"],
        &["*[[:blank:]]*"],
        &["*[[:cntrl:]]*"],
        &["[]]*"],
        &["[ab"],
        &[r"\*"],
        &[r"a\b"],
        &[r"a\b*"],
        &["x.log "],
        &["+ ann/", "+ ann/.cache/", "- *"],
        &["+ */", "+ *.log", "- *"],
        &["*.log", "!", "cache/"],
        &["- !", "+ - x", "- *"],
        &["link/", "+ *"],
        &["/ann/link"],
        &["/", "//", "a//"],
        &["a[/]b"],
        &["/a[!x]b"],
        &["a?b"],
        &["a*b"],
        &["/a**b"],
    ];
    for items in lists {
        let items: Vec<String> = items.iter().map(|&item| item.to_owned()).collect();
        assert_agrees(&tree, &items, "documented rules");
    }
}

/// rsync refuses a prefix without a pattern, as the filter does. The filter also refuses an
/// empty item, which rsync silently ignores: a configuration never means less than it says.
#[test]
fn refusals_agree_with_rsync() {
    require_rsync();
    let tree = Tree::home();
    for item in ["- ", "+ "] {
        let items = vec![item.to_owned()];
        let error = Filter::parse(&items).unwrap_err();
        assert_eq!(error, FilterError { rule: item.to_owned(), reason: "empty pattern" });
        assert!(rsync_paths(tree.root(), &items).is_err(), "rsync accepted {item:?}");
    }
    let items = vec![String::new()];
    let error = Filter::parse(&items).unwrap_err();
    assert_eq!(error, FilterError { rule: String::new(), reason: "empty pattern" });
    assert_eq!(rsync_paths(tree.root(), &items).unwrap(), tree.all_paths());
}

/// Asserts that the filtered walk of `tree` with `items` holds what rsync transfers, or that
/// both refuse the list; on a difference, fails with the tree, the items and the differing
/// paths. Returns how many paths are included.
fn assert_agrees(tree: &Tree, items: &[String], origin: &str) -> usize {
    let (ours, rsync) = match (Filter::parse(items), rsync_paths(tree.root(), items)) {
        (Ok(filter), Ok(rsync)) => {
            let ours: BTreeSet<Vec<u8>> =
                walk::included_paths(tree.root(), &filter).unwrap().into_iter().collect();
            (ours, rsync)
        }
        (Err(_), Err(_)) => return 0,
        (Err(error), Ok(_)) => panic!("{origin}: rsync accepts {items:?}, oe refuses: {error}"),
        (Ok(_), Err(stderr)) => panic!("{origin}: oe accepts {items:?}, rsync refuses: {stderr}"),
    };
    if ours == rsync {
        return ours.len();
    }
    let only_ours: Vec<String> = ours.difference(&rsync).map(|path| shown(path)).collect();
    let only_rsync: Vec<String> = rsync.difference(&ours).map(|path| shown(path)).collect();
    panic!(
        "{origin}: the walk and rsync disagree\n\
         exclude list: {items:?}\n\
         included by oe only: {only_ours:#?}\n\
         included by rsync only: {only_rsync:#?}\n\
         tree:\n{}",
        tree.listing()
    );
}

/// The paths `rsync -a -n` would transfer from `src` with `items` as `--exclude`s, or
/// rsync's complaint if it fails.
fn rsync_paths(src: &Path, items: &[String]) -> Result<BTreeSet<Vec<u8>>, String> {
    let dest = tempfile::tempdir().unwrap();
    let output = Command::new("rsync")
        .args(["-a", "-n", "-8", "--out-format=%n"])
        .args(items.iter().map(|item| format!("--exclude={item}")))
        .arg(with_slash(src))
        .arg(with_slash(dest.path()))
        // Classes such as `[:alpha:]` follow the locale; the filter's are the C locale's.
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr)));
    }
    Ok(parse_out_format(&output.stdout))
}

/// The paths in rsync's `%n` lines: directories end with `/`, the root is `./` (printed or
/// not), and `\#ooo` stands for the byte of octal value `ooo` (control bytes, and the `\` of
/// a name's own `\#` followed by three digits).
fn parse_out_format(stdout: &[u8]) -> BTreeSet<Vec<u8>> {
    stdout
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut name = unescape(line);
            if name.last() == Some(&b'/') {
                name.pop();
            }
            name
        })
        .filter(|name| name != b".")
        .collect()
}

fn unescape(line: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some((&byte, tail)) = rest.split_first() {
        match (byte, tail) {
            (b'\\', [b'#', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', after @ ..]) => {
                name.push((a - b'0') << 6 | (b - b'0') << 3 | (c - b'0'));
                rest = after;
            }
            _ => {
                name.push(byte);
                rest = tail;
            }
        }
    }
    name
}

fn with_slash(dir: &Path) -> OsString {
    let mut text = dir.as_os_str().to_owned();
    text.push("/");
    text
}

fn shown(path: &[u8]) -> String {
    path.escape_ascii().to_string()
}

/// Fails with a clear message when rsync is missing: it is the oracle of these tests.
fn require_rsync() {
    if let Err(error) = Command::new("rsync").arg("--version").output() {
        panic!(
            "cannot run rsync ({error}): it is the oracle of the mirror's exclude rules; \
             install it (Debian: apt-get install rsync; contrib/test.sh does)"
        );
    }
}

/// A directory tree in a temporary directory.
struct Tree {
    dir: tempfile::TempDir,
    /// Every path below the root and what it is, for failure messages.
    entries: Vec<(Vec<u8>, Kind)>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    File,
    Dir,
    LinkToDir,
    LinkToFile,
}

/// Names for the generated trees: few enough to repeat at several depths.
const NAMES: &[&[u8]] = &[
    b"a",
    b"b",
    b"ab",
    b"dir",
    b"cache",
    b"Cache",
    b".cache",
    b".x",
    b"x.log",
    b"1st",
    b"a b",
    b"a ",
    b" a",
    b"[ab]",
    b"[ab",
    b"a]",
    b"\\",
    b"a\\b",
    b"\\#101",
    b"*",
    b"?",
    b"a*b",
    b"-",
    b"- x",
    b"+ x",
    b"!",
    b"!x",
    b"***",
    b"caf\xc3\xa9",
    b"\xff\xfe",
    b"tab\there",
    b"v\x0btab",
    b"new\nline",
    b"lost+found",
];

impl Tree {
    /// A random tree: up to three levels of directories below the root.
    fn generate(random: &mut SplitMix) -> Tree {
        let mut tree = Tree { dir: tempfile::tempdir().unwrap(), entries: Vec::new() };
        tree.grow(random, Vec::new(), 0);
        tree
    }

    fn grow(&mut self, random: &mut SplitMix, rel: Vec<u8>, depth: usize) {
        let children = if depth == 0 { 8 + random.below(6) } else { random.below(6) };
        for _ in 0..children {
            let name = NAMES[random.below(NAMES.len())];
            let path = if rel.is_empty() { name.to_vec() } else { [&rel[..], b"/", name].concat() };
            let full = self.root().join(OsStr::from_bytes(&path));
            if fs::symlink_metadata(&full).is_ok() {
                continue;
            }
            let kind = match random.below(10) {
                0..=3 if depth < 3 => Kind::Dir,
                0..=5 => Kind::File,
                6 | 7 => Kind::LinkToDir,
                _ => Kind::LinkToFile,
            };
            self.add(&path, kind);
            if let Kind::Dir = kind {
                self.grow(random, path, depth + 1);
            }
        }
    }

    /// A fixed tree shaped like `/home`, with the places the example configuration excludes.
    fn home() -> Tree {
        let mut tree = Tree { dir: tempfile::tempdir().unwrap(), entries: Vec::new() };
        let dirs = [
            "ann/.cache/fontconfig",
            "ann/.gvfs",
            "ann/.local/share/Trash/files/old",
            "ann/.local/share/Trash/info",
            "ann/.mozilla/firefox/x1.default/Cache/0",
            "ann/.mozilla/firefox/x1.default/storage/default/https+++odoo.com/cache",
            "ann/.mozilla/firefox/x1.default/storage/default/https+++odoo.com/idb",
            "ann/.Trash",
            "ann/cache",
            "ann/docs/cache/sub",
            "bob/.cache",
            "bob/Cache",
            "cache/ann",
            "binary/games/_steam",
            "incoming/new",
            ".Trash-1000/files",
            "lost+found",
            "backup/device",
            "a/b",
            "1st",
            "!",
            "- x",
            "ann/**",
        ];
        for dir in dirs {
            let mut path = Vec::new();
            for component in dir.split('/') {
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(component.as_bytes());
                if !tree.root().join(OsStr::from_bytes(&path)).exists() {
                    tree.add(&path, Kind::Dir);
                }
            }
        }
        let files = [
            "ann/.cache/fontconfig/x.cache",
            "ann/.local/share/Trash/files/old/x.log",
            "ann/.mozilla/firefox/x1.default/Cache/0/entry",
            "ann/.mozilla/firefox/x1.default/storage/default/https+++odoo.com/cache/blob",
            "ann/notes.txt",
            "ann/x.log",
            "ann/x.log ",
            "ann/cache/data",
            "ann/docs/cache/sub/x.log",
            "bob/.bashrc",
            "bob/Cache/x",
            "binary/games/_steam/game",
            "backup/device/img",
            "backup/other",
            "incoming/new/file",
            ".Trash-1000/files/x",
            "x.log",
            "a/b/c",
            "a\\b",
            "[ab",
            "ab",
            "v\u{b}tab",
            "tab\there",
            "*",
            "!x",
            "-",
        ];
        for file in files {
            tree.add(file.as_bytes(), Kind::File);
        }
        tree.add(b"ann/link", Kind::LinkToDir);
        tree.add(b"bob/cache", Kind::LinkToDir);
        tree.add(b"bob/.Trash", Kind::LinkToFile);
        tree
    }

    fn add(&mut self, path: &[u8], kind: Kind) {
        let full = self.root().join(OsStr::from_bytes(path));
        match kind {
            Kind::File => fs::write(&full, "x").unwrap(),
            Kind::Dir => fs::create_dir(&full).unwrap(),
            Kind::LinkToDir => symlink("..", &full).unwrap(),
            Kind::LinkToFile => symlink("/dev/null", &full).unwrap(),
        }
        self.entries.push((path.to_vec(), kind));
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn all_paths(&self) -> BTreeSet<Vec<u8>> {
        self.entries.iter().map(|(path, _)| path.clone()).collect()
    }

    fn listing(&self) -> String {
        let mut entries: Vec<&(Vec<u8>, Kind)> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.iter().map(|(path, kind)| format!("  {} ({kind:?})\n", shown(path))).collect()
    }
}

/// Whole pattern segments, between slashes: names of the trees and wildcard forms of them.
const SEGMENTS: &[&str] = &[
    "a",
    "b",
    "ab",
    "dir",
    "cache",
    "Cache",
    ".cache",
    "x.log",
    "a b",
    "a ",
    "!x",
    "-",
    "1st",
    "lost+found",
    "caf\u{e9}",
    "a\\b",
    "\\#101",
    "*",
    "?",
    "*.log",
    ".*",
    "a*",
    "*b",
    "a?",
    "?*",
    "[ab]",
    "[!a]*",
    "[^.]*",
    "[a-c]*",
    "[]a]",
    "[!]]*",
    "[[:alpha:]]*",
    "[[:digit:]]*",
    "[[:upper:]]*",
    "[[:space:]]*",
    "*[[:space:]]",
    "*[[:space:]]*",
    "*[[:blank:]]*",
    "*[[:cntrl:]]*",
    "[[:punct:]]*",
    "[[:alnum:][:punct:]]",
    "caf?",
    "a[!x]b",
    "a[/]b",
    "*[!a]",
    "**[!a]*",
    "[[:punct:]]**",
    "[c-d]*",
    "\\*",
    "\\?",
    "\\[ab]",
    "a\\b*",
    "\\\\*",
    "*\\",
    "[ab",
    "[[:foo:]]",
    "\\#*",
    "**",
    "***",
    "**a",
    "a**",
    "*.log**",
];

/// A random exclude list of one to four items, half of them made from paths of `tree` so
/// that they have something to match.
fn random_list(random: &mut SplitMix, tree: &Tree) -> Vec<String> {
    (0..1 + random.below(4))
        .map(|_| {
            let pattern = match random.below(12) {
                0 => return "!".to_owned(),
                1..=5 => random_pattern(random),
                _ => pattern_from_tree(random, tree),
            };
            with_random_ends(random, pattern)
        })
        .collect()
}

/// A pattern from the grammar, one to three segments.
fn random_pattern(random: &mut SplitMix) -> String {
    let segments = [1, 1, 1, 2, 2, 3][random.below(6)];
    let segments: Vec<&str> =
        (0..segments).map(|_| SEGMENTS[random.below(SEGMENTS.len())]).collect();
    let anchor = if random.below(3) == 0 { "/" } else { "" };
    format!("{anchor}{}", segments.join("/"))
}

/// A pattern for consecutive components of a path of `tree`, each kept, escaped or replaced
/// by a wildcard form, mostly joined by `/`, sometimes by a wildcard standing for it (which
/// only `**` can).
fn pattern_from_tree(random: &mut SplitMix, tree: &Tree) -> String {
    let (path, _) = &tree.entries[random.below(tree.entries.len())];
    let components: Vec<&[u8]> = path.split(|&byte| byte == b'/').collect();
    let start = random.below(components.len());
    let end = start + 1 + random.below(components.len() - start);
    let segments: Vec<String> =
        components[start..end].iter().map(|name| segment_for(random, name)).collect();
    let anchor = if start == 0 && random.below(2) == 0 { "/" } else { "" };
    let separator = ["/", "/", "/", "/", "/", "/", "?", "[!.]", "*", "**"][random.below(10)];
    format!("{anchor}{}", segments.join(separator))
}

/// A pattern segment meant to match `name`, or a near miss.
fn segment_for(random: &mut SplitMix, name: &[u8]) -> String {
    let Ok(name) = std::str::from_utf8(name) else {
        return ["*", "??", "?*", "[!a]*"][random.below(4)].to_owned();
    };
    let first = name.chars().next().unwrap();
    let rest = &name[first.len_utf8()..];
    match random.below(10) {
        0 | 1 => name.to_owned(),
        2 => name.chars().flat_map(|c| ["\\".to_owned(), c.to_string()]).collect(),
        3 => "*".to_owned(),
        4 => format!("{first}*"),
        5 => "?".repeat(name.len()),
        6 => format!("[{first}]{rest}"),
        7 => format!("[{first}-{first}]{rest}"),
        8 => format!("[!{first}]*"),
        _ => "**".to_owned(),
    }
}

/// `pattern` with perhaps a trailing `/`, `/***` or space, and perhaps a prefix.
fn with_random_ends(random: &mut SplitMix, mut pattern: String) -> String {
    match random.below(10) {
        0 => pattern.push_str("/***"),
        1..=3 => pattern.push('/'),
        4 if random.below(4) == 0 => pattern.push(' '),
        _ => {}
    }
    let prefix = ["", "", "", "", "- ", "+ ", "+ "][random.below(7)];
    format!("{prefix}{pattern}")
}

/// Sebastiano Vigna's SplitMix64: a small deterministic generator.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn reads_rsync_escapes() {
    let stdout = b"./\na\\#134#101b\nnew\\#012line\ndir/\n\\#303\\#251\n\\#1x\n";
    let paths: Vec<Vec<u8>> = parse_out_format(stdout).into_iter().collect();
    let expected: [&[u8]; 5] = [b"\\#1x", b"a\\#101b", b"dir", b"new\nline", b"\xc3\xa9"];
    assert_eq!(paths, expected);
    assert_eq!(unescape(b"\xff\\#377\\#400"), b"\xff\xff\\#400");
}
