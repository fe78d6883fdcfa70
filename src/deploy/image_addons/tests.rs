//! Unpacking an image's directory without Docker: archives built here as the engine builds
//! them (the directory's last name first), hostile ones with raw headers the `tar` crate's
//! builder would refuse to write.

use std::fs;
use std::os::unix::fs::symlink;

use super::*;

/// An archive entry: a path (written raw into the header), what it is.
#[derive(Clone, Copy)]
enum Item<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Link(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

fn archive(items: &[Item]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_gnu();
        let (path, data): (&str, &[u8]) = match item {
            Item::Dir(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                (path, b"")
            }
            Item::File(path, content) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                (path, content.as_bytes())
            }
            Item::Link(path, target) | Item::HardLink(path, target) => {
                let kind = if matches!(item, Item::Link(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                header.set_entry_type(kind);
                header.set_mode(0o777);
                let name = &mut header.as_old_mut().linkname;
                name[..target.len()].copy_from_slice(target.as_bytes());
                (path, b"")
            }
        };
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Unpacks and settles the links with nothing excluded.
fn unpack_items(items: &[Item], into: &Path) -> Result<PathBuf, Error> {
    unpack_excluding(items, into, "")
}

fn unpack_excluding(items: &[Item], into: &Path, exclude: &str) -> Result<PathBuf, Error> {
    let bytes = archive(items);
    let unpacked = unpack(&mut bytes.as_slice(), "test/image", "/opt/odoo/addons", into)?;
    settle(unpacked, "test/image", "/opt/odoo/addons", &ExcludePatterns::parse(exclude))
}

const ADDON: &[Item<'static>] = &[
    Item::Dir("addons/"),
    Item::Dir("addons/sale/"),
    Item::File("addons/sale/__manifest__.py", "{'name': 'Sale'}\n"),
    Item::File("addons/sale/models.py", "x = 1\n"),
    Item::Dir("addons/sale/data/"),
    Item::File("addons/sale/data/a.xml", "<odoo/>\n"),
];

#[test]
fn an_archive_unpacks_and_hashes_as_the_tree_it_was_made_from() {
    let tree = tempfile::tempdir().unwrap();
    let source = tree.path().join("addons");
    for (path, content) in [
        ("sale/__manifest__.py", "{'name': 'Sale'}\n"),
        ("sale/models.py", "x = 1\n"),
        ("sale/data/a.xml", "<odoo/>\n"),
        ("sale/i18n/de.po", "msgid\n"),
        ("stock/__manifest__.py", "{'name': 'Stock'}\n"),
        ("README", "not an addon\n"),
    ] {
        let path = source.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    symlink("../models.py", source.join("sale/data/models_link.py")).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all("addons", &source).unwrap();
    let bytes = builder.into_inner().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let langs = vec!["fr".to_owned()];
    let exclude = ExcludePatterns::default();
    let got = archive_checksums(
        &mut bytes.as_slice(),
        "test/image",
        "/opt/odoo/addons",
        scratch.path(),
        &exclude,
        &langs,
    )
    .unwrap();
    let expected = addon_hash::dir_checksums(&source, &exclude, &langs).unwrap();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["sale", "stock"]);
    assert_eq!(got, expected);
    // The link was hashed as its target, inside the tree.
    fs::remove_file(source.join("sale/data/models_link.py")).unwrap();
    let without = addon_hash::dir_checksums(&source, &exclude, &langs).unwrap();
    assert_ne!(got["sale"], without["sale"]);
    // The temporary directory is gone.
    assert_eq!(fs::read_dir(scratch.path()).unwrap().count(), 0);
}

#[test]
fn links_inside_the_directory_are_kept() {
    let into = tempfile::tempdir().unwrap();
    let mut items: Vec<Item> = ADDON.to_vec();
    items.push(Item::Link("addons/sale/data/b.xml", "a.xml"));
    items.push(Item::Link("addons/sale/data/m.py", "../models.py"));
    items.push(Item::Link("addons/sale/up", "../sale/./data/../models.py"));
    items.push(Item::Link("addons/sale/dangling.py", "nothere.py"));
    let root = unpack_items(&items, into.path()).unwrap();
    assert_eq!(root, into.path().join("addons"));
    assert_eq!(fs::read_to_string(root.join("sale/data/b.xml")).unwrap(), "<odoo/>\n");
    assert_eq!(fs::read_to_string(root.join("sale/up")).unwrap(), "x = 1\n");
}

#[test]
fn links_leaving_the_directory_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    fs::write(&secret, "host file\n").unwrap();
    let secret_text = secret.to_str().unwrap().to_owned();
    let cases: Vec<(&str, String)> = vec![
        ("addons/sale/abs.py", secret_text.clone()),
        ("addons/sale/abs_missing.py", "/nonexistent/file".into()),
        ("addons/sale/up.py", "../../../../../../../../../../etc/passwd".into()),
        // `..` just beyond the directory read: its parent is not unpacked.
        ("addons/sale/sibling.py", "../../odoo/release.py".into()),
        // Out and back in by name: in the image that is another directory.
        ("addons/sale/back.py", "../../addons/sale/models.py".into()),
    ];
    for (link, target) in cases {
        let into = tempfile::tempdir().unwrap();
        let mut items: Vec<Item> = ADDON.to_vec();
        items.push(Item::Link(link, &target));
        let error = unpack_items(&items, into.path()).unwrap_err();
        match &error {
            Error::EscapingLink { link: named, target: t, .. } => {
                assert_eq!(named, &format!("/opt/odoo/{link}"), "{error}");
                assert_eq!(t, &target);
            }
            other => panic!("{link} -> {target}: {other}"),
        }
    }
}

#[test]
fn links_leaving_the_directory_but_excluded_are_removed() {
    let outside = tempfile::tempdir().unwrap();
    let lib = outside.path().join("jquery.js");
    fs::write(&lib, "host file\n").unwrap();
    let lib_text = lib.to_str().unwrap().to_owned();
    let mut items: Vec<Item> = ADDON.to_vec();
    items.extend([
        Item::Dir("addons/sale/static/"),
        Item::Dir("addons/sale/static/lib/"),
        Item::Link("addons/sale/static/lib/jquery.js", &lib_text),
        Item::Link("addons/sale/static/lib/up", "../../../../../x"),
    ]);
    let into = tempfile::tempdir().unwrap();
    let root = unpack_excluding(&items, into.path(), ExcludePatterns::DEFAULT).unwrap();
    assert!(fs::symlink_metadata(root.join("sale/static/lib/jquery.js")).is_err());
    assert!(fs::symlink_metadata(root.join("sale/static/lib/up")).is_err());
    assert!(root.join("sale/models.py").is_file());
    // Not excluded (no pattern, or a pattern of another place): refused.
    for exclude in ["", "tests/*", "sale/static/*"] {
        let into = tempfile::tempdir().unwrap();
        let error = unpack_excluding(&items, into.path(), exclude).unwrap_err();
        assert!(matches!(error, Error::EscapingLink { .. }), "{exclude}: {error}");
    }
    // Directly under the directory, a link may be an addon: no pattern removes it.
    let mut items: Vec<Item> = ADDON.to_vec();
    items.push(Item::Link("addons/pos", "/usr/share/odoo/pos"));
    let into = tempfile::tempdir().unwrap();
    let error = unpack_excluding(&items, into.path(), "*").unwrap_err();
    assert!(
        matches!(&error, Error::EscapingLink { link, .. } if link == "/opt/odoo/addons/pos"),
        "{error}"
    );
}

#[test]
fn a_link_leaving_only_as_the_kernel_resolves_it_is_refused() {
    // Name by name `x` stays in (`d/l/../..` is the root), but `d/l` is `g`, one level up,
    // so the kernel ends one level above the root.
    let into = tempfile::tempdir().unwrap();
    let mut items: Vec<Item> = ADDON.to_vec();
    items.extend([
        Item::Dir("addons/d/"),
        Item::Dir("addons/g/"),
        Item::Link("addons/d/l", "../g"),
        Item::Link("addons/x", "d/l/../.."),
    ]);
    let error = unpack_items(&items, into.path()).unwrap_err();
    assert!(
        matches!(&error, Error::EscapingLink { link, .. } if link == "/opt/odoo/addons/x"),
        "{error}"
    );
}

#[test]
fn the_directory_itself_as_a_link_is_refused() {
    let into = tempfile::tempdir().unwrap();
    let error = unpack_items(&[Item::Link("addons", "/usr/lib/odoo/addons")], into.path());
    assert!(matches!(error, Err(Error::EscapingLink { .. })), "{error:?}");
}

#[test]
fn entries_never_land_outside() {
    let outside = tempfile::tempdir().unwrap();
    let target_dir = outside.path().join("target");
    fs::create_dir(&target_dir).unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, "host file\n").unwrap();
    let absolute = format!("{}/absolute", outside.path().display());
    let through_link = "addons/out/planted";
    let target_text = target_dir.to_str().unwrap().to_owned();
    let victim_text = victim.to_str().unwrap().to_owned();
    let hostile: Vec<Vec<Item>> = vec![
        vec![Item::Dir("addons/"), Item::File("addons/../../escaped", "x")],
        vec![Item::Dir("addons/"), Item::File(&absolute, "x")],
        // A link out, then a file written through it.
        vec![
            Item::Dir("addons/"),
            Item::Link("addons/out", &target_text),
            Item::File(through_link, "x"),
        ],
        // A link to a host file, then a file of the same name: must not write the host file.
        vec![
            Item::Dir("addons/"),
            Item::Link("addons/v", &victim_text),
            Item::File("addons/v", "x"),
        ],
        // A hard link to a host file.
        vec![Item::Dir("addons/"), Item::HardLink("addons/h", &victim_text)],
    ];
    for (index, items) in hostile.iter().enumerate() {
        let into = tempfile::tempdir_in(outside.path()).unwrap();
        let result = unpack_items(items, into.path());
        // Whatever the answer, nothing outside `into` changed, and a success means no entry
        // reached outside (the `tar` crate skips entries with `..`).
        assert_eq!(fs::read_to_string(&victim).unwrap(), "host file\n", "case {index}");
        assert_eq!(fs::read_dir(&target_dir).unwrap().count(), 0, "case {index}");
        assert!(!Path::new(&absolute).exists(), "case {index}");
        assert!(!outside.path().join("escaped").exists(), "case {index}");
        match (index, &result) {
            // Refused: the link, the write through it, the hard link.
            (2..=4, Err(Error::Unpack { .. } | Error::EscapingLink { .. })) => {}
            (2..=4, other) => panic!("case {index}: {other:?}"),
            _ => {}
        }
        if let Ok(root) = result {
            // An absolute path is unpacked inside, under its names.
            if index == 1 {
                let inside = into.path().join(absolute.trim_start_matches('/'));
                assert_eq!(fs::read_to_string(inside).unwrap(), "x");
            }
            assert!(root.starts_with(into.path()));
        }
    }
}

#[test]
fn unreadable_entries_are_made_readable_for_hashing() {
    let into = tempfile::tempdir().unwrap();
    let bytes = {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, mode, kind, data) in [
            ("addons/", 0o555, tar::EntryType::Directory, &b""[..]),
            ("addons/sale/", 0o500, tar::EntryType::Directory, b""),
            ("addons/sale/__manifest__.py", 0o000, tar::EntryType::Regular, b"{}\n"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_size(data.len() as u64);
            header.set_path(path).unwrap();
            header.set_cksum();
            builder.append(&header, data).unwrap();
        }
        builder.into_inner().unwrap()
    };
    let root =
        unpack(&mut bytes.as_slice(), "test/image", "/opt/odoo/addons", into.path()).unwrap().root;
    let mode = fs::metadata(root.join("sale")).unwrap().permissions().mode();
    assert_eq!(mode & 0o700, 0o700);
    let mode = fs::metadata(root.join("sale/__manifest__.py")).unwrap().permissions().mode();
    assert_eq!(mode & 0o600, 0o600);
    let checksums = addon_hash::dir_checksums(&root, &ExcludePatterns::default(), &[]).unwrap();
    assert_eq!(checksums.len(), 1);
}

#[test]
fn stays_inside_reads_name_by_name() {
    for (dir, target, inside) in [
        ("", "a", true),
        ("", "../a", false),
        ("sale", "../a", true),
        ("sale", "../../a", false),
        ("sale/data", "../../x/../y", true),
        ("sale", "/abs", false),
        ("sale", "./././b", true),
        ("sale", "../sale/../../z", false),
    ] {
        assert_eq!(stays_inside(Path::new(dir), Path::new(target)), inside, "{dir} {target}");
    }
}

#[test]
fn a_missing_cache_entry_or_an_unreadable_one_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache/x.json");
    assert!(read_cache::<AddonsDirEntry>(&path).unwrap().is_none());
    let entry = AddonsDirEntry { image: "sha256:1".into(), dir: "/opt/odoo/odoo/addons".into() };
    write_cache(&dir.path().join("cache"), &path, &entry).unwrap();
    let mode = fs::metadata(dir.path().join("cache")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let back = read_cache::<AddonsDirEntry>(&path).unwrap().unwrap();
    assert_eq!((back.image.as_str(), back.dir.as_str()), ("sha256:1", "/opt/odoo/odoo/addons"));
    fs::write(&path, "{not json").unwrap();
    assert!(read_cache::<AddonsDirEntry>(&path).unwrap().is_none());
}
