//! The checksum against click-odoo-contrib's own `addon_hash` (run with `python3`, the
//! oracle) on trees built here, the patterns against Python's `fnmatch`, the JSON against
//! `json.dumps`. The oracle comes from `$OE_TEST_PYTHONPATH` (`contrib/test.sh` installs it);
//! without it, these tests install it with pip into a shared cache directory and fail with a
//! message saying so when pip cannot.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::*;

/// The click-odoo-contrib the oracle is (the same pin as `contrib/test.sh`).
const CLICK_ODOO_CONTRIB: &str = "1.24";

/// Where click-odoo-contrib is importable from: `$OE_TEST_PYTHONPATH`, or a directory this
/// installs it into once (`/var/tmp`, shared with `contrib/test.sh`).
fn oracle_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("OE_TEST_PYTHONPATH") {
            return PathBuf::from(path);
        }
        let cache = Path::new("/var/tmp/oe-test-pydeps");
        let target = cache.join(format!("click-odoo-contrib-{CLICK_ODOO_CONTRIB}"));
        if target.join("click_odoo_contrib").is_dir() {
            return target;
        }
        fs::create_dir_all(cache).unwrap();
        let staging = tempfile::tempdir_in(cache).unwrap();
        let out = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check"])
            .arg("--target")
            .arg(staging.path())
            .arg(format!("click-odoo-contrib=={CLICK_ODOO_CONTRIB}"))
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "the oracle, click-odoo-contrib {CLICK_ODOO_CONTRIB}, could not be installed \
                 with pip (run contrib/test.sh, or set OE_TEST_PYTHONPATH to where it is \
                 installed): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!(
                "python3 -m pip could not run ({e}); the oracle click-odoo-contrib \
                 {CLICK_ODOO_CONTRIB} is needed: run contrib/test.sh or set OE_TEST_PYTHONPATH"
            ),
        }
        // Another test binary may have installed it meanwhile: then its copy stays; a
        // broken one in the way: this one is used, kept.
        let staging = staging.keep();
        match fs::rename(&staging, &target) {
            Ok(()) => target,
            Err(_) if target.join("click_odoo_contrib").is_dir() => {
                let _ = fs::remove_dir_all(&staging);
                target
            }
            Err(_) => staging,
        }
    })
}

/// Runs `script` with the oracle importable, `input` as JSON on stdin; its stdout as JSON.
fn python(script: &str, input: &Value) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .env("PYTHONPATH", oracle_path())
        .env("PYTHONUTF8", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// click-odoo-update's checksum of each case (directory, exclude parameter, languages), as
/// `_get_checksum_dir` calls it; an exception as `error: <its class>`.
const PYTHON_ADDON_HASH: &str = r#"
import json, sys
from click_odoo_contrib._addon_hash import addon_hash
out = []
for case in json.load(sys.stdin):
    patterns = [p.strip() for p in case["exclude"].split(",")]
    try:
        out.append(addon_hash(case["dir"], patterns, case["langs"]))
    except Exception as e:
        out.append("error: " + type(e).__name__)
json.dump(out, sys.stdout)
"#;

struct Case {
    dir: PathBuf,
    exclude: String,
    langs: Vec<String>,
}

fn oracle_hashes(cases: &[Case]) -> Vec<String> {
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({"dir": c.dir.to_str().unwrap(), "exclude": c.exclude, "langs": c.langs}))
        .collect();
    serde_json::from_value(python(PYTHON_ADDON_HASH, &Value::from(input))).unwrap()
}

fn our_hash(case: &Case) -> Result<String, Error> {
    addon_hash(&case.dir, &ExcludePatterns::parse(&case.exclude), &case.langs)
}

/// Writes the files (`/` between directories; created as needed), relative to `root`.
fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

fn hash(dir: &Path) -> String {
    addon_hash(dir, &ExcludePatterns::default(), &[]).unwrap()
}

fn hash_langs(dir: &Path, langs: &[&str]) -> String {
    let langs: Vec<String> = langs.iter().map(|l| l.to_string()).collect();
    addon_hash(dir, &ExcludePatterns::default(), &langs).unwrap()
}

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

const ADDON: &[(&str, &str)] = &[
    ("__init__.py", "from . import models\n"),
    ("__manifest__.py", "{'name': 'Test', 'version': '18.0.1.0.0'}\n"),
    ("models/__init__.py", "from . import partner\n"),
    ("models/partner.py", "class Partner: pass\n"),
    ("views/partner.xml", "<odoo/>\n"),
];

#[test]
fn the_hash_is_sha1_of_paths_and_contents_in_walk_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ADDON);
    let mut expected = Vec::new();
    for name in [
        "__init__.py",
        "__manifest__.py",
        "models/__init__.py",
        "models/partner.py",
        "views/partner.xml",
    ] {
        expected.extend_from_slice(name.as_bytes());
        expected.extend_from_slice(fs::read(dir.path().join(name)).unwrap().as_slice());
    }
    assert_eq!(hash(dir.path()), sha1_hex(&expected));
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(hash(empty.path()), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

#[test]
fn excluded_files_do_not_change_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ADDON);
    let before = hash(dir.path());
    write(
        dir.path(),
        &[
            ("models/__pycache__/partner.cpython-311.pyc", "bytecode"),
            ("old.pyo", "bytecode"),
            ("i18n/test.pot", "msgid"),
            ("i18n_extra/test.pot", "msgid"),
            ("static/src/js/a.js", "js"),
            ("static/description/icon.png", "png"),
            ("tests/test_partner.py", "test"),
        ],
    );
    assert_eq!(hash(dir.path()), before);
    // Only a top-level `static/` and `tests/`: the patterns are anchored at the addon.
    write(dir.path(), &[("models/tests/x.py", "x")]);
    let nested = hash(dir.path());
    assert_ne!(nested, before);
    write(dir.path(), &[("models/static/x.js", "x")]);
    assert_ne!(hash(dir.path()), nested);
    // A custom parameter replaces the default.
    let custom = ExcludePatterns::parse(" models/* , views/*");
    let only_root = addon_hash(dir.path(), &custom, &[]).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    write(fresh.path(), &ADDON[..2]);
    write(
        fresh.path(),
        &[
            ("i18n/test.pot", "msgid"),
            ("i18n_extra/test.pot", "msgid"),
            ("models/__pycache__/partner.cpython-311.pyc", "bytecode"),
            ("old.pyo", "bytecode"),
            ("static/description/icon.png", "png"),
            ("static/src/js/a.js", "js"),
            ("tests/test_partner.py", "test"),
        ],
    );
    assert_eq!(only_root, addon_hash(fresh.path(), &custom, &[]).unwrap());
}

#[test]
fn an_empty_file_changes_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ADDON);
    let before = hash(dir.path());
    write(dir.path(), &[("models/empty.py", "")]);
    assert_ne!(hash(dir.path()), before);
}

#[test]
fn translations_of_languages_not_kept_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ADDON);
    let base = hash_langs(dir.path(), &["fr_BE"]);
    write(dir.path(), &[("i18n/de.po", "de"), ("i18n_extra/de_CH.po", "de"), ("i18n/.po", "")]);
    let with_others = hash_langs(dir.path(), &["fr_BE"]);
    // `.po` alone has no extension (`os.path.splitext`): kept.
    fs::remove_file(dir.path().join("i18n/.po")).unwrap();
    assert_ne!(with_others, hash_langs(dir.path(), &["fr_BE"]));
    assert_eq!(hash_langs(dir.path(), &["fr_BE"]), base);
    // Any `fr` is kept for `fr_BE`, and `fr_BE` for `fr`.
    write(dir.path(), &[("i18n/fr_CA.po", "fr")]);
    let with_fr = hash_langs(dir.path(), &["fr_BE"]);
    assert_ne!(with_fr, base);
    assert_eq!(hash_langs(dir.path(), &["fr", "nl_NL"]), with_fr);
    // No languages: every translation counts.
    assert_ne!(hash_langs(dir.path(), &[]), with_fr);
    // Only directly under i18n/ and i18n_extra/, and only `.po`.
    write(dir.path(), &[("i18n/de.txt", "x")]);
    let with_txt = hash_langs(dir.path(), &["fr_BE"]);
    assert_ne!(with_txt, with_fr);
    write(dir.path(), &[("models/i18n/de.po", "x")]);
    assert_ne!(hash_langs(dir.path(), &["fr_BE"]), with_txt);
}

/// Names whose order differs between a walk (files before subdirectories, by code point)
/// and a sort of whole paths, or a case-insensitive or locale sort.
const ORDER: &[(&str, &str)] = &[
    ("b", "1"),
    ("a/b", "2"),
    ("a/a-b", "3"),
    ("a-b/x", "4"),
    ("a.b/x", "5"),
    ("a.b.py", "6"),
    ("B/x", "7"),
    ("_x/y", "8"),
    ("_x.py", "9"),
    ("Z.py", "10"),
    ("a0", "11"),
    ("é.py", "12"),
    ("a/c/d", "13"),
    ("a/C", "14"),
];

#[test]
fn files_come_before_subdirectories_each_sorted_by_code_point() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ORDER);
    let order = [
        "Z.py", "_x.py", "a.b.py", "a0", "b", "é.py", "B/x", "_x/y", "a/C", "a/a-b", "a/b",
        "a/c/d", "a-b/x", "a.b/x",
    ];
    let mut expected = Vec::new();
    for name in order {
        expected.extend_from_slice(name.as_bytes());
        expected.extend_from_slice(fs::read(dir.path().join(name)).unwrap().as_slice());
    }
    assert_eq!(hash(dir.path()), sha1_hex(&expected));
}

#[test]
fn links_to_directories_are_left_out_links_to_files_read_through() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ADDON);
    let before = hash(dir.path());
    symlink("models", dir.path().join("linked_models")).unwrap();
    symlink(dir.path().join("views"), dir.path().join("a_views")).unwrap();
    assert_eq!(hash(dir.path()), before);

    symlink("models/partner.py", dir.path().join("linked.py")).unwrap();
    let linked = hash(dir.path());
    let copy = tempfile::tempdir().unwrap();
    write(copy.path(), ADDON);
    write(copy.path(), &[("linked.py", "class Partner: pass\n")]);
    assert_eq!(linked, hash(copy.path()));

    // A dangling link fails, as in Python, unless excluded.
    symlink("nowhere", dir.path().join("gone.pyc")).unwrap();
    assert_eq!(hash(dir.path()), linked);
    symlink("nowhere", dir.path().join("gone.py")).unwrap();
    let error = addon_hash(dir.path(), &ExcludePatterns::default(), &[]).unwrap_err();
    assert!(matches!(&error, Error::ReadFile { path, .. } if path.ends_with("gone.py")), "{error}");
}

#[test]
fn names_not_utf8_fail_unless_excluded() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ADDON);
    let before = hash(dir.path());
    let bad = |name: &[u8]| dir.path().join(OsStr::from_bytes(name));
    fs::write(bad(b"x\xff.pyc"), "bytecode").unwrap();
    fs::create_dir(bad(b"d\xe9")).unwrap();
    fs::write(bad(b"d\xe9/x.pyc"), "bytecode").unwrap();
    fs::create_dir(dir.path().join("i18n")).unwrap();
    fs::write(dir.path().join(OsStr::from_bytes(b"i18n/\xff.po")), "x").unwrap();
    assert_eq!(hash_langs(dir.path(), &["fr"]), before);
    fs::write(bad(b"d\xe9/x.py"), "python").unwrap();
    let error = addon_hash(dir.path(), &ExcludePatterns::default(), &[]).unwrap_err();
    assert!(matches!(error, Error::NotUtf8 { .. }), "{error}");
}

#[test]
fn a_fifo_fails_unless_excluded() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ADDON);
    let before = hash(dir.path());
    let fifo = |name: &str| {
        let path = std::ffi::CString::new(dir.path().join(name).as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    };
    fifo("pipe.pyc");
    assert_eq!(hash(dir.path()), before);
    fifo("pipe");
    let error = addon_hash(dir.path(), &ExcludePatterns::default(), &[]).unwrap_err();
    assert!(matches!(error, Error::NotAFile { .. }), "{error}");
}

/// Builds every fixture of the tests above into `root`, one directory each.
fn fixtures(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut add = |name: &str, files: &[&[(&str, &str)]]| {
        let dir = root.join(name);
        fs::create_dir(&dir).unwrap();
        for files in files {
            write(&dir, files);
        }
        dirs.push(dir);
    };
    add("empty", &[]);
    add("addon", &[ADDON]);
    add("order", &[ORDER]);
    add(
        "excluded",
        &[
            ADDON,
            &[
                ("models/__pycache__/partner.cpython-311.pyc", "bytecode"),
                ("old.pyo", "bytecode"),
                ("i18n/test.pot", "msgid"),
                ("i18n/fr.po", "fr"),
                ("i18n/fr_BE.po", "fr"),
                ("i18n/de.po", "de"),
                ("i18n/.po", ""),
                ("i18n/x.y.po", ""),
                ("i18n/fr.po.txt", ""),
                ("i18n_extra/test.pot", "msgid"),
                ("i18n_extra/nl_NL.po", "nl"),
                ("i18n_extra/sr@latin.po", "sr"),
                ("static/src/js/a.js", "js"),
                ("tests/test_partner.py", "test"),
                ("models/tests/x.py", "x"),
                ("models/static/x.js", "x"),
                ("models/i18n/de.po", "x"),
                ("models/empty.py", ""),
            ],
        ],
    );
    let links = root.join("links");
    add("links", &[ADDON]);
    symlink("models", links.join("linked_models")).unwrap();
    symlink("models/partner.py", links.join("linked.py")).unwrap();
    symlink("nowhere", links.join("gone.pyc")).unwrap();
    let bytes = root.join("bytes");
    add("bytes", &[ADDON]);
    fs::write(bytes.join(OsStr::from_bytes(b"x\xff.pyc")), "").unwrap();
    fs::create_dir(bytes.join(OsStr::from_bytes(b"tests\xe9"))).unwrap();
    fs::write(bytes.join(OsStr::from_bytes(b"tests\xe9/a.pyc")), "").unwrap();
    dirs
}

#[test]
fn fixtures_hash_as_click_odoo_update_hashes_them() {
    let root = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for dir in fixtures(root.path()) {
        for (exclude, langs) in [
            (ExcludePatterns::DEFAULT, vec![]),
            (ExcludePatterns::DEFAULT, vec!["fr_BE".to_string(), "sr@latin".to_string()]),
            ("", vec!["nl_NL".to_string()]),
            (" models/* ,, *.py,[!a-z]*\u{1f}", vec![]),
        ] {
            cases.push(Case { dir: dir.clone(), exclude: exclude.to_string(), langs });
        }
    }
    let theirs = oracle_hashes(&cases);
    let mut compared = 0;
    for (case, theirs) in cases.iter().zip(theirs) {
        match our_hash(case) {
            Ok(ours) => {
                assert_eq!(
                    ours,
                    theirs,
                    "{} {:?} {:?}",
                    case.dir.display(),
                    case.exclude,
                    case.langs
                );
                compared += 1;
            }
            Err(e) => assert!(theirs.starts_with("error"), "{e}, python: {theirs}"),
        }
    }
    assert!(compared >= cases.len() - 4, "only {compared} of {} hashed", cases.len());
}

/// A small deterministic generator (xorshift64*), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A random small addon: names from an alphabet where order mistakes show, some
/// translations, bytecode, static files, tests, empty files.
fn random_tree(rng: &mut Rng, dir: &Path) {
    const PARTS: &[&str] = &[
        "a",
        "b",
        "A",
        "B",
        "a-b",
        "a.b",
        "a_b",
        "_x",
        "0",
        "9",
        "é",
        "static",
        "tests",
        "i18n",
        "i18n_extra",
        "x.pyc",
        "x.pyo",
        "fr.po",
        "fr_BE.po",
        "de.po",
        "de_DE.po",
        "m.pot",
        "a.py",
        ".po",
        "~",
    ];
    fs::create_dir_all(dir).unwrap();
    for _ in 0..rng.below(12) {
        let depth = 1 + rng.below(3);
        let parts: Vec<&str> = (0..depth).map(|_| *rng.pick(PARTS)).collect();
        let path = dir.join(parts.join("/"));
        // A path whose prefix is already a file (or the other way round) is skipped.
        if fs::create_dir_all(path.parent().unwrap()).is_err() || path.is_dir() {
            continue;
        }
        let content = if rng.below(4) == 0 { String::new() } else { format!("{}", rng.next()) };
        fs::write(&path, content).unwrap();
    }
}

#[test]
fn random_trees_hash_as_click_odoo_update_hashes_them() {
    let root = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x0e_ad_d0_11);
    let excludes = [ExcludePatterns::DEFAULT, "", "*/a*,[A-Z]*", "i18n*,*.po", "?/*"];
    let langs: [&[&str]; 4] = [&[], &["fr_BE"], &["de_DE", "fr_FR"], &["en_US"]];
    let cases: Vec<Case> = (0..60)
        .map(|index| {
            let dir = root.path().join(index.to_string());
            random_tree(&mut rng, &dir);
            Case {
                dir,
                exclude: rng.pick(&excludes).to_string(),
                langs: rng.pick(&langs).iter().map(|l| l.to_string()).collect(),
            }
        })
        .collect();
    let theirs = oracle_hashes(&cases);
    let mut distinct = std::collections::BTreeSet::new();
    for (case, theirs) in cases.iter().zip(theirs) {
        let ours = our_hash(case).unwrap();
        assert_eq!(ours, theirs, "{} {:?} {:?}", case.dir.display(), case.exclude, case.langs);
        distinct.insert(ours);
    }
    assert!(distinct.len() > 40, "the trees should differ: {} hashes", distinct.len());
}

/// Python's `fnmatch.fnmatch` of each `[pattern, name]`, the name as code points (which may
/// be the surrogates of bytes that are not UTF-8).
const PYTHON_FNMATCH: &str = r#"
import json, sys
from fnmatch import fnmatch
pairs = json.load(sys.stdin)
json.dump([fnmatch("".join(map(chr, n)), p) for p, n in pairs], sys.stdout)
"#;

fn check_fnmatch(pairs: &[(String, PyStr)]) {
    let input: Vec<Value> = pairs.iter().map(|(p, n)| json!([p, n])).collect();
    let theirs: Vec<bool> =
        serde_json::from_value(python(PYTHON_FNMATCH, &Value::from(input))).unwrap();
    for ((pattern, name), theirs) in pairs.iter().zip(theirs) {
        let ours = Pattern::new(pattern).matches(name);
        let shown: String = name.iter().map(|&c| char::from_u32(c).unwrap_or('\u{fffd}')).collect();
        assert_eq!(ours, theirs, "pattern {pattern:?} name {shown:?} ({name:x?})");
    }
}

/// What each table entry shows, checked here and against Python.
const FNMATCH_TABLE: &[(&str, &str, bool)] = &[
    ("*.pyc", "a/b/c.pyc", true),
    ("static/*", "static/src/a.js", true),
    ("static/*", "models/static/a.js", false),
    ("static/*", "static", false),
    ("a?c", "a/c", true),
    ("*.PYC", "a.pyc", false),
    ("[ab]x", "bx", true),
    ("[!ab]x", "cx", true),
    ("[!ab]x", "/x", true),
    ("[a-c]", "b", true),
    ("[c-a]", "b", false),
    ("[!c-a]", "b", true),
    ("[a-c-e]", "-", true),
    ("[a-c-e]", "d", false),
    ("[]]", "]", true),
    ("[!]]", "]", false),
    ("[!]", "[!]", true),
    ("[a", "[a", true),
    ("[\\]", "\\", true),
    ("[^a]", "^", true),
    ("[z-a-c]", "-", true),
    ("[--0]", "/", true),
    ("\\*", "*", false),
    ("\\*", "\\x", true),
    ("**a", "xa", true),
    ("*a*b*", "xaxxbx", true),
    ("*a*b*", "xbxa", false),
    ("", "", true),
    ("", "a", false),
    ("a\n*", "a\nb\nc", true),
];

#[test]
fn patterns_match_as_fnmatch_table() {
    for &(pattern, name, expected) in FNMATCH_TABLE {
        assert_eq!(
            Pattern::new(pattern).matches(&py_str_of(name)),
            expected,
            "{pattern:?} {name:?}"
        );
    }
    let pairs: Vec<(String, PyStr)> =
        FNMATCH_TABLE.iter().map(|&(p, n, _)| (p.to_string(), py_str_of(n))).collect();
    check_fnmatch(&pairs);
}

#[test]
fn patterns_match_as_fnmatch_random() {
    const PATTERN: &[char] = &['a', 'b', 'z', '*', '?', '[', ']', '!', '-', '/', '.', '^', '\\'];
    const NAME: &[u32] = &[
        'a' as u32,
        'b' as u32,
        'z' as u32,
        '-' as u32,
        '/' as u32,
        '.' as u32,
        ']' as u32,
        '!' as u32,
        '[' as u32,
        '\n' as u32,
        'é' as u32,
        0xDCFF,
        0x1F600,
    ];
    let mut rng = Rng(0xf1_a7_c4);
    let pairs: Vec<(String, PyStr)> = (0..20_000)
        .map(|_| {
            let pattern: String = (0..rng.below(8)).map(|_| *rng.pick(PATTERN)).collect();
            let name: PyStr = (0..rng.below(7)).map(|_| *rng.pick(NAME)).collect();
            (pattern, name)
        })
        .collect();
    check_fnmatch(&pairs);
}

#[test]
fn exclude_patterns_are_split_on_commas_and_stripped() {
    let patterns = ExcludePatterns::parse(" *.pyc ,\tstatic/*\n,, x\u{1f}");
    assert!(patterns.matches("a.pyc"));
    assert!(patterns.matches("static/a"));
    assert!(patterns.matches("x"));
    // The empty piece: only an empty path, which no file has.
    assert!(patterns.matches(""));
    assert!(!patterns.matches(" x"));
    let default = ExcludePatterns::default();
    for (path, excluded) in [
        ("a.pyc", true),
        ("a/b.pyo", true),
        ("i18n/a.pot", true),
        ("i18n_extra/a.pot", true),
        ("a/i18n/a.pot", false),
        ("i18n/fr.po", false),
        ("static/a", true),
        ("tests/a", true),
        ("tests", false),
        ("a.py", false),
    ] {
        assert_eq!(default.matches(path), excluded, "{path}");
    }
}

/// `json.dumps` of the dict, in the order given.
const PYTHON_DUMPS: &str = r#"
import json, sys
json.dump(json.dumps(dict(json.load(sys.stdin))), sys.stdout)
"#;

#[test]
fn checksums_are_written_as_json_dumps_writes_them() {
    assert_eq!(checksums_json(&BTreeMap::new()), "{}");
    let map: BTreeMap<String, Option<String>> = [
        ("base", Some("0123456789abcdef0123456789abcdef01234567")),
        ("gone", None),
        ("quote\"back\\slash", Some("x")),
        ("ctl\u{1}\u{7f}\n\t\r\u{8}\u{c}", Some("é😀")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
    .collect();
    let ours = checksums_json(&map);
    let input: Vec<Value> = map
        .iter()
        .map(|(k, v)| json!([k, v.clone().map_or(Value::Bool(false), Value::from)]))
        .collect();
    let theirs: String = serde_json::from_value(python(PYTHON_DUMPS, &Value::from(input))).unwrap();
    assert_eq!(ours, theirs);
    assert!(ours.starts_with(r#"{"base": "0123"#), "{ours}");
    assert_eq!(parse_checksums(&ours).unwrap(), map);
}

#[test]
fn stored_checksums_are_read() {
    let text = r#"{"web": "abc", "sale": false, "base": "def"}"#;
    let map = parse_checksums(text).unwrap();
    assert_eq!(map.len(), 3);
    assert_eq!(map["web"].as_deref(), Some("abc"));
    assert_eq!(map["sale"], None);
    assert_eq!(checksums_json(&map), r#"{"base": "def", "sale": false, "web": "abc"}"#);
    assert!(parse_checksums("").unwrap().is_empty());
    assert!(matches!(parse_checksums("[]"), Err(Error::Json(_))));
    assert!(matches!(parse_checksums("{\"a\": 1"), Err(Error::Json(_))));
    let error = parse_checksums(r#"{"a": true}"#).unwrap_err();
    assert!(
        matches!(&error, Error::ChecksumValue { addon, what: "true" } if addon == "a"),
        "{error}"
    );
}

/// Every addon of a real tree against the oracle: `OE_TEST_ODOO_ADDONS` is a colon-separated
/// list of addons directories (an Odoo source's `addons` and `odoo/addons`), which a fresh
/// clone does not have; run by hand:
/// `OE_TEST_ODOO_ADDONS=odoo/addons:addons cargo test --lib addon_hash -- --ignored`.
#[test]
#[ignore = "needs an Odoo source tree in OE_TEST_ODOO_ADDONS"]
fn real_addons_hash_as_click_odoo_update_hashes_them() {
    let dirs = std::env::var_os("OE_TEST_ODOO_ADDONS").expect("OE_TEST_ODOO_ADDONS is set");
    let mut cases = Vec::new();
    for addons in std::env::split_paths(&dirs) {
        for entry in fs::read_dir(&addons).unwrap() {
            let dir = entry.unwrap().path();
            if dir.join("__manifest__.py").is_file() {
                let langs = vec!["en_US".to_string(), "fr_BE".to_string()];
                cases.push(Case { dir, exclude: ExcludePatterns::DEFAULT.to_string(), langs });
            }
        }
    }
    assert!(!cases.is_empty(), "no addon in {dirs:?}");
    let theirs = oracle_hashes(&cases);
    for (case, theirs) in cases.iter().zip(theirs) {
        assert_eq!(our_hash(case).unwrap(), theirs, "{}", case.dir.display());
    }
    eprintln!("{} addons hash the same", cases.len());
}

#[test]
fn dir_checksums_hashes_each_addon_directly_under_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("addons");
    write(&dir.join("sale"), ADDON);
    write(&dir.join("legacy"), &[("__openerp__.py", "{}\n"), ("models.py", "x = 1\n")]);
    // Not addons: no manifest, a manifest only deeper down, a manifest that is a directory,
    // a file, a dangling link. A link to an addon is that addon under the link's name.
    write(&dir.join("notes"), &[("README.md", "notes\n")]);
    write(&dir.join("nested"), &[("inner/__manifest__.py", "{}\n")]);
    fs::create_dir_all(dir.join("odd/__manifest__.py")).unwrap();
    write(&dir, &[("__init__.py", "\n")]);
    symlink(dir.join("sale"), dir.join("sale_link")).unwrap();
    symlink(dir.join("gone"), dir.join("dangling")).unwrap();
    let langs = vec!["fr_BE".to_owned()];
    let exclude = ExcludePatterns::parse("*.md");
    let checksums = dir_checksums(&dir, &exclude, &langs).unwrap();
    let expected = BTreeMap::from([
        ("legacy".to_owned(), addon_hash(&dir.join("legacy"), &exclude, &langs).unwrap()),
        ("sale".to_owned(), addon_hash(&dir.join("sale"), &exclude, &langs).unwrap()),
        ("sale_link".to_owned(), addon_hash(&dir.join("sale"), &exclude, &langs).unwrap()),
    ]);
    assert_eq!(checksums, expected);
    // Each is the oracle's checksum of that addon.
    let cases: Vec<Case> = ["legacy", "sale", "sale_link"]
        .iter()
        .map(|name| Case { dir: dir.join(name), exclude: "*.md".into(), langs: langs.clone() })
        .collect();
    let oracle = oracle_hashes(&cases);
    assert_eq!(checksums.values().cloned().collect::<Vec<_>>(), oracle);
    // The patterns and languages are passed on.
    write(&dir.join("sale"), &[("i18n/de.po", "msgid"), ("notes.md", "x")]);
    assert_eq!(dir_checksums(&dir, &exclude, &langs).unwrap(), expected);
    assert_ne!(dir_checksums(&dir, &exclude, &[]).unwrap(), expected);
}

#[test]
fn dir_checksums_of_a_missing_directory_is_empty_and_of_a_file_an_error() {
    let root = tempfile::tempdir().unwrap();
    let missing = dir_checksums(&root.path().join("missing"), &ExcludePatterns::default(), &[]);
    assert_eq!(missing.unwrap(), BTreeMap::new());
    write(root.path(), &[("file", "x")]);
    let file = dir_checksums(&root.path().join("file"), &ExcludePatterns::default(), &[]);
    assert!(matches!(file, Err(Error::ReadDir { .. })), "{file:?}");
    // An addon that cannot be hashed fails the whole directory.
    write(root.path(), &[("addons/broken/__manifest__.py", "{}\n")]);
    symlink("/nonexistent/file", root.path().join("addons/broken/dangling.py")).unwrap();
    let broken = dir_checksums(&root.path().join("addons"), &ExcludePatterns::default(), &[]);
    assert!(matches!(broken, Err(Error::ReadFile { .. })), "{broken:?}");
}
