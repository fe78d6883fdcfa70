//! The entries of a directory that the exclude rules let through, as rsync's sender lists
//! them: never following symlinks (a symlink to a directory is a symlink), sorted by name
//! bytes.
//!
//! I/O on the source tree only, and one directory at a time: callers recurse, so a tree of
//! any size is never held in memory.
//!
//! [`Listings`] makes those listings ahead of the walks, on a thread of its own, in the order
//! the walks ask for them: the `lstat` of every entry then overlaps with the walk's own work
//! (comparing with the previous snapshot, reading changed files) and with what comes before
//! it (opening the repository, an SSH login). At most [`AHEAD`] entries wait to be taken.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::config::settings::MirrorDir;
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

/// Entries listed ahead and not taken yet, at most (about 350 bytes each).
pub const AHEAD: usize = 32 * 1024;

/// Entries per message: a large directory is handed over in parts, and a small one takes a
/// message of its own, so that the thread can run [`AHEAD`] / `PART` directories ahead.
const PART: usize = 64;

/// The listings of the directories to snapshot, made ahead by one thread that walks them
/// one after the other, depth first, in the order [`Listing::list`] is asked for them.
pub struct Listings {
    dirs: Vec<Option<Listing>>,
}

/// Part of the listing of `rel` (`Err`: why it cannot be listed); `last` ends it.
struct Part {
    rel: Vec<u8>,
    entries: io::Result<Vec<Entry>>,
    last: bool,
}

impl Listings {
    /// Starts listing `dirs`, each through its filter.
    pub fn start(dirs: &[MirrorDir]) -> Listings {
        let mut senders = Vec::new();
        let mut listings = Vec::new();
        for dir in dirs {
            let (sender, receiver) = sync_channel(AHEAD / PART);
            senders.push((PathBuf::from(&dir.dir), dir.filter.clone(), sender));
            listings.push(Some(Listing { ahead: Some(receiver) }));
        }
        let started = std::thread::Builder::new().name("oe-list".into()).spawn(move || {
            for (root, filter, sender) in senders {
                // A walk that ended early dropped its listing: go on with the next one.
                let _ = list_ahead(&root, &mut Vec::new(), &filter, &sender);
            }
        });
        if let Err(e) = started {
            // No listing is taken from here: each walk lists as it goes.
            tracing::debug!("listing on the walk's thread: {e}");
            listings.clear();
        }
        Listings { dirs: listings }
    }

    /// The listing of the `index`th directory given to [`Listings::start`]; once.
    pub fn take(&mut self, index: usize) -> Listing {
        self.dirs.get_mut(index).and_then(Option::take).unwrap_or_else(Listing::direct)
    }
}

/// Lists `root/rel` and everything below it into `sender`, in walk order; stops when the
/// walk no longer listens.
fn list_ahead(
    root: &Path,
    rel: &mut Vec<u8>,
    filter: &Filter,
    sender: &SyncSender<Part>,
) -> Result<(), ()> {
    let entries = match list_dir(root, rel, filter) {
        Ok(entries) => entries,
        Err(e) => {
            return sender
                .send(Part { rel: rel.clone(), entries: Err(e), last: true })
                .map_err(drop);
        }
    };
    let dirs: Vec<Vec<u8>> =
        entries.iter().filter(|e| e.metadata.is_dir()).map(|e| e.name.clone()).collect();
    let mut entries = entries.into_iter().peekable();
    loop {
        let part: Vec<Entry> = entries.by_ref().take(PART).collect();
        let last = entries.peek().is_none();
        sender.send(Part { rel: rel.clone(), entries: Ok(part), last }).map_err(drop)?;
        if last {
            break;
        }
    }
    for name in dirs {
        let len = push_component(rel, &name);
        list_ahead(root, rel, filter, sender)?;
        rel.truncate(len);
    }
    Ok(())
}

/// Where one walk gets its directories' listings: from [`Listings`], or made when asked.
pub struct Listing {
    ahead: Option<Receiver<Part>>,
}

impl Listing {
    /// Listings made when asked, on the caller's thread.
    pub fn direct() -> Listing {
        Listing { ahead: None }
    }

    /// What [`list_dir`] says of `root/rel`. Asked in walk order (depth first, entries in
    /// name order), it was made ahead.
    pub fn list(&mut self, root: &Path, rel: &[u8], filter: &Filter) -> io::Result<Vec<Entry>> {
        if let Some(ahead) = &self.ahead {
            match Listing::receive(ahead, rel) {
                Some(listed) => return listed,
                // Only a walk out of order gets here: a bug, which costs only time.
                None => {
                    debug_assert!(false, "{} listed out of order", String::from_utf8_lossy(rel));
                    self.ahead = None;
                }
            }
        }
        list_dir(root, rel, filter)
    }

    /// The parts of `rel`'s listing, joined; `None` when what comes is not that listing.
    fn receive(ahead: &Receiver<Part>, rel: &[u8]) -> Option<io::Result<Vec<Entry>>> {
        let mut joined: Vec<Entry> = Vec::new();
        loop {
            let part = ahead.recv().ok()?;
            if part.rel != rel {
                return None;
            }
            match part.entries {
                Ok(entries) if joined.is_empty() => joined = entries,
                Ok(entries) => joined.extend(entries),
                Err(e) => return Some(Err(e)),
            }
            if part.last {
                return Some(Ok(joined));
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, symlink};

    use super::*;

    /// What a walk sees: every directory's entries (name, inode), depth first.
    fn walk_with(
        listing: &mut Listing,
        root: &Path,
        filter: &Filter,
    ) -> Vec<(String, Vec<u8>, u64)> {
        fn dir(
            listing: &mut Listing,
            root: &Path,
            rel: &mut Vec<u8>,
            filter: &Filter,
            seen: &mut Vec<(String, Vec<u8>, u64)>,
        ) {
            let entries = match listing.list(root, rel, filter) {
                Ok(entries) => entries,
                Err(e) => {
                    seen.push((String::from_utf8_lossy(rel).into(), format!("{e}").into(), 0));
                    return;
                }
            };
            for entry in entries {
                seen.push((
                    String::from_utf8_lossy(rel).into(),
                    entry.name.clone(),
                    entry.metadata.ino(),
                ));
                if entry.metadata.is_dir() {
                    let len = push_component(rel, &entry.name);
                    dir(listing, root, rel, filter, seen);
                    rel.truncate(len);
                }
            }
        }
        let mut seen = Vec::new();
        dir(listing, root, &mut Vec::new(), filter, &mut seen);
        seen
    }

    /// Two trees: nested directories, one of them larger than a part, an excluded file and
    /// directory, a symlink to a directory (listed, not followed).
    fn trees() -> (tempfile::TempDir, Vec<MirrorDir>) {
        let tmp = tempfile::tempdir().unwrap();
        let filter = Filter::parse(&["*.tmp".into(), "cache/".into()]).unwrap();
        let mut dirs = Vec::new();
        for name in ["a", "b"] {
            let root = tmp.path().join(name);
            for sub in ["x/y/z", "cache/deep", "big", "w"] {
                fs::create_dir_all(root.join(sub)).unwrap();
            }
            for i in 0..PART * 2 + 7 {
                fs::write(root.join("big").join(format!("f{i:05}")), b"").unwrap();
            }
            for file in ["x/1", "x/y/2", "x/y/z/3", "x/skip.tmp", "cache/deep/4", "w/5"] {
                fs::write(root.join(file), file).unwrap();
            }
            symlink(root.join("x"), root.join("link")).unwrap();
            dirs.push(MirrorDir { dir: root.display().to_string(), filter: filter.clone() });
        }
        (tmp, dirs)
    }

    #[test]
    fn what_is_listed_ahead_is_what_a_walk_would_list() {
        let (_tmp, dirs) = trees();
        let mut listings = Listings::start(&dirs);
        for (index, dir) in dirs.iter().enumerate() {
            let root = Path::new(&dir.dir);
            let direct = walk_with(&mut Listing::direct(), root, &dir.filter);
            let mut ahead = listings.take(index);
            assert!(walk_with(&mut ahead, root, &dir.filter) == direct, "listings differ");
            assert!(ahead.ahead.is_some(), "every listing came from the thread, in order");
            // The root's big, link, w, x; big's files; w/5; x/1, x/y; x/y/2, x/y/z; x/y/z/3.
            assert_eq!(direct.len(), 4 + 2 * PART + 7 + 1 + 2 + 2 + 1);
            assert!(!direct.iter().any(|(_, name, _)| name.ends_with(b".tmp") || name == b"cache"));
        }
        assert!(listings.take(0).ahead.is_none(), "taken once");
    }

    #[test]
    fn a_walk_that_ends_early_leaves_the_next_listing_whole() {
        let (_tmp, dirs) = trees();
        let mut listings = Listings::start(&dirs);
        let first = Path::new(&dirs[0].dir);
        let mut listing = listings.take(0);
        listing.list(first, b"", &dirs[0].filter).unwrap();
        listing.list(first, b"big", &dirs[0].filter).unwrap();
        drop(listing);
        let second = Path::new(&dirs[1].dir);
        let direct = walk_with(&mut Listing::direct(), second, &dirs[1].filter);
        assert!(walk_with(&mut listings.take(1), second, &dirs[1].filter) == direct);
    }

    #[test]
    fn a_root_that_cannot_be_listed_is_its_error() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("gone");
        let dirs = [MirrorDir { dir: gone.display().to_string(), filter: Filter::default() }];
        let error = Listings::start(&dirs).take(0).list(&gone, b"", &dirs[0].filter).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
