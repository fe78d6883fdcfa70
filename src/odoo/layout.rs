//! Odoo's backup archive layout (REFERENCE §1): entry names, where the filestore lives, and
//! which archive entries are safe to extract. Pure: no I/O.

use std::path::{Component, Path, PathBuf};

/// The plain SQL dump, first entry of Odoo's archives (last in click-odoo-contrib's).
pub const DUMP_ENTRY: &str = "dump.sql";
/// Odoo's manifest, right after the dump.
pub const MANIFEST_ENTRY: &str = "manifest.json";
/// Prefix of the filestore entries: `filestore/<xx>/<sha1>`.
pub const FILESTORE_PREFIX: &str = "filestore/";

/// The filestore directory of database `db` under Odoo's data directory.
pub fn filestore_dir(data_dir: &Path, db: &str) -> PathBuf {
    data_dir.join("filestore").join(db)
}

/// Why an archive entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeEntry {
    #[error("entry '{0}' has an absolute path")]
    Absolute(String),
    #[error("entry '{0}' leaves its directory ('..')")]
    Parent(String),
    #[error("entry '{0}' has a backslash or NUL in its name")]
    BadCharacter(String),
    #[error("entry '{0}' is a symbolic link")]
    Symlink(String),
    #[error("entry '{0}' is a device, fifo or socket")]
    Special(String),
}

/// What an entry of an archive is, for restoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dump,
    Manifest,
    /// A filestore file, as a path relative to the filestore directory.
    Filestore(PathBuf),
    /// A directory entry (some zip tools add them); nothing to extract.
    Directory,
    /// Anything else: ignored, as Odoo ignores it.
    Other,
}

/// Classifies the entry `name` whose Unix mode (from the zip's external attributes) is
/// `mode`, refusing names that could write outside the target or create links or devices.
pub fn classify(name: &str, mode: Option<u32>) -> Result<Entry, UnsafeEntry> {
    if name.contains('\\') || name.contains('\0') {
        return Err(UnsafeEntry::BadCharacter(name.to_owned()));
    }
    let path = Path::new(name);
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => {
                return Err(UnsafeEntry::Absolute(name.to_owned()));
            }
            Component::ParentDir => return Err(UnsafeEntry::Parent(name.to_owned())),
            Component::CurDir | Component::Normal(_) => {}
        }
    }
    if let Some(mode) = mode {
        match mode & 0o170000 {
            0o120000 => return Err(UnsafeEntry::Symlink(name.to_owned())),
            0o020000 | 0o060000 | 0o010000 | 0o140000 => {
                return Err(UnsafeEntry::Special(name.to_owned()));
            }
            _ => {}
        }
    }
    if name.ends_with('/') {
        return Ok(Entry::Directory);
    }
    Ok(match name {
        DUMP_ENTRY => Entry::Dump,
        MANIFEST_ENTRY => Entry::Manifest,
        _ => match name.strip_prefix(FILESTORE_PREFIX) {
            Some(rest) if !rest.is_empty() => Entry::Filestore(PathBuf::from(rest)),
            _ => Entry::Other,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_and_refuses_entries() {
        let ok = |n: &str| classify(n, Some(0o100644)).unwrap();
        assert_eq!(ok("dump.sql"), Entry::Dump);
        assert_eq!(ok("manifest.json"), Entry::Manifest);
        assert_eq!(ok("filestore/ab/abcdef"), Entry::Filestore(PathBuf::from("ab/abcdef")));
        assert_eq!(
            ok("filestore/checklist/ab/abcdef"),
            Entry::Filestore("checklist/ab/abcdef".into())
        );
        assert_eq!(ok("filestore/ab/"), Entry::Directory);
        assert_eq!(ok("README"), Entry::Other);
        assert_eq!(classify("filestore/x", None), Ok(Entry::Filestore("x".into())));
        let bad = |n: &str, mode| classify(n, Some(mode)).unwrap_err();
        assert!(matches!(bad("/etc/passwd", 0o100644), UnsafeEntry::Absolute(_)));
        assert!(matches!(bad("filestore/../../x", 0o100644), UnsafeEntry::Parent(_)));
        assert!(matches!(bad("filestore/a/..", 0o100644), UnsafeEntry::Parent(_)));
        assert!(matches!(bad("filestore\\..\\x", 0o100644), UnsafeEntry::BadCharacter(_)));
        assert!(matches!(bad("filestore/ab/link", 0o120777), UnsafeEntry::Symlink(_)));
        assert!(matches!(bad("filestore/ab/dev", 0o020644), UnsafeEntry::Special(_)));
        assert!(matches!(bad("filestore/ab/fifo", 0o010644), UnsafeEntry::Special(_)));
    }
}
