//! The entries of a directory that the exclude rules let through, as rsync's sender lists
//! them: never following symlinks (a symlink to a directory is a symlink), sorted by name
//! bytes.
//!
//! I/O on the source tree only, and one directory at a time: callers recurse, so a tree of
//! any size is never held in memory.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::rules::filter::Filter;

/// An included entry.
#[derive(Debug)]
pub struct Entry {
    /// The last component, raw bytes.
    pub name: Vec<u8>,
    /// The path to open or lstat.
    pub path: PathBuf,
    /// `lstat` of `path`.
    pub metadata: Metadata,
}

/// The included children of `root/rel` (`rel` empty: the root itself), sorted by name. An
/// entry that vanishes between listing and lstat is skipped, as rsync does.
pub fn list_dir(root: &Path, rel: &[u8], filter: &Filter) -> io::Result<Vec<Entry>> {
    let dir = if rel.is_empty() { root.to_path_buf() } else { root.join(OsStr::from_bytes(rel)) };
    let mut entries = Vec::new();
    let mut path = rel.to_vec();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().as_bytes().to_vec();
        let full = entry.path();
        let metadata = match std::fs::symlink_metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", full.display()))),
        };
        path.truncate(rel.len());
        push_component(&mut path, &name);
        if filter.excluded(&path, metadata.is_dir()) {
            continue;
        }
        entries.push(Entry { name, path: full, metadata });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Appends the component `name` to the `/`-joined relative path `rel` (empty: the root);
/// returns the length to truncate `rel` back to.
pub fn push_component(rel: &mut Vec<u8>, name: &[u8]) -> usize {
    let len = rel.len();
    if !rel.is_empty() {
        rel.push(b'/');
    }
    rel.extend_from_slice(name);
    len
}

/// Every included path below `root` (directories too, `root` itself not), `/`-joined, in
/// walk order.
pub fn included_paths(root: &Path, filter: &Filter) -> io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    collect(root, &mut Vec::new(), filter, &mut out)?;
    Ok(out)
}

fn collect(
    root: &Path,
    rel: &mut Vec<u8>,
    filter: &Filter,
    out: &mut Vec<Vec<u8>>,
) -> io::Result<()> {
    for entry in list_dir(root, rel, filter)? {
        let len = push_component(rel, &entry.name);
        out.push(rel.clone());
        if entry.metadata.is_dir() {
            collect(root, rel, filter, out)?;
        }
        rel.truncate(len);
    }
    Ok(())
}
