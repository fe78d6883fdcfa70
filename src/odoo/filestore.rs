//! The filestore of one database on disk: listing its files for an archive (in bounded
//! memory at any number of files), and replacing it whole. A restored filestore is written into a temporary directory beside the target
//! and swapped in by renames, so the previous filestore stays intact until the new one is
//! complete, and comes back if the database swap fails.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::plumbing::spill::{Spill, SpillReader};

/// The largest listing kept in memory (about 70,000 files of Odoo's names); a larger one
/// spills to an unlinked temporary file.
const LISTING_IN_MEMORY: usize = 4 << 20;

/// A file of the filestore: its path relative to the filestore directory (with `/`), and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub relative: String,
    pub size: u64,
}

impl FileEntry {
    /// Where it is, in the filestore directory `dir`.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.relative)
    }
}

/// The files of a filestore directory, sorted by path (bytewise), with their count and total
/// size. A filestore can have millions of files: the entries are kept in memory up to
/// `LISTING_IN_MEMORY` bytes, then in an unlinked temporary file ([`Spill`]), and read back as
/// often as needed with [`Listing::entries`].
pub struct Listing {
    pub dir: PathBuf,
    files: u64,
    bytes: u64,
    /// Each file as its size (u64), the length of its name (u32), both little-endian, and
    /// its name.
    entries: Spill,
}

impl Listing {
    /// No files (a save without the filestore).
    pub fn empty(dir: &Path) -> Listing {
        Listing::new(dir, dir, LISTING_IN_MEMORY)
    }

    fn new(dir: &Path, spill_dir: &Path, threshold: usize) -> Listing {
        let entries = Spill::new(spill_dir, threshold);
        Listing { dir: dir.to_path_buf(), files: 0, bytes: 0, entries }
    }

    /// Number of files.
    pub fn files(&self) -> u64 {
        self.files
    }

    /// Their total size.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn push(&mut self, relative: &str, size: u64) -> io::Result<()> {
        let mut record = Vec::with_capacity(12 + relative.len());
        record.extend_from_slice(&size.to_le_bytes());
        record.extend_from_slice(&(relative.len() as u32).to_le_bytes());
        record.extend_from_slice(relative.as_bytes());
        self.entries.append(&record)?;
        self.files += 1;
        self.bytes += size;
        Ok(())
    }

    /// The files, in order, from the first.
    pub fn entries(&mut self) -> io::Result<Entries<'_>> {
        let reader = BufReader::with_capacity(64 << 10, self.entries.reader()?);
        Ok(Entries { reader, left: self.files })
    }
}

/// The files of a [`Listing`], in order.
pub struct Entries<'a> {
    reader: BufReader<SpillReader<'a>>,
    left: u64,
}

impl Entries<'_> {
    fn read_entry(&mut self) -> io::Result<FileEntry> {
        let mut head = [0; 12];
        self.reader.read_exact(&mut head)?;
        let size = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
        let len = u32::from_le_bytes(head[8..].try_into().unwrap_or_default());
        let mut name = vec![0; len as usize];
        self.reader.read_exact(&mut name)?;
        let relative = String::from_utf8(name).map_err(io::Error::other)?;
        Ok(FileEntry { relative, size })
    }
}

impl Iterator for Entries<'_> {
    type Item = io::Result<FileEntry>;

    fn next(&mut self) -> Option<io::Result<FileEntry>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let entry = self.read_entry();
        if entry.is_err() {
            self.left = 0;
        }
        Some(entry)
    }
}

/// Every regular file below `dir`, sorted by path; an absent directory is an empty
/// filestore. Symbolic links and names that are not UTF-8 are skipped with a warning (zip
/// entry names are UTF-8, and Odoo never writes either). A long listing spills to a
/// temporary file in `spill_dir`.
///
/// Directories are walked depth first, each one's entries sorted so that the files come out
/// in bytewise order of their whole paths (a directory `a` sorts as `a/`, after a file `a.x`):
/// no global sort, and only the directories on the current path are held in memory.
pub fn list(dir: &Path, spill_dir: &Path) -> io::Result<Listing> {
    list_with(dir, spill_dir, LISTING_IN_MEMORY)
}

fn list_with(dir: &Path, spill_dir: &Path, threshold: usize) -> io::Result<Listing> {
    let mut listing = Listing::new(dir, spill_dir, threshold);
    if !dir.exists() {
        return Ok(listing);
    }
    let mut pending = vec![children(dir, "")?.into_iter()];
    while let Some(top) = pending.last_mut() {
        match top.next() {
            None => {
                pending.pop();
            }
            Some(Child { key, size: None }) => {
                pending.push(children(&dir.join(&key), &key)?.into_iter());
            }
            Some(Child { key, size: Some(size) }) => listing.push(&key, size)?,
        }
    }
    Ok(listing)
}

/// An entry of a directory being listed: its path relative to the filestore, ending with
/// `/` for a directory (which has no size).
struct Child {
    key: String,
    size: Option<u64>,
}

/// The regular files and directories of `path`, sorted; `prefix` is its own relative path.
fn children(path: &Path, prefix: &str) -> io::Result<Vec<Child>> {
    let mut children = Vec::new();
    for child in fs::read_dir(path)? {
        let child = child?;
        let Some(name) = child.file_name().to_str().map(str::to_owned) else {
            tracing::warn!("skipping {}: name is not UTF-8", child.path().display());
            continue;
        };
        let kind = child.file_type()?;
        if kind.is_dir() {
            children.push(Child { key: format!("{prefix}{name}/"), size: None });
        } else if kind.is_file() {
            let size = child.metadata()?.len();
            children.push(Child { key: format!("{prefix}{name}"), size: Some(size) });
        } else {
            tracing::warn!("skipping {}: not a regular file", child.path().display());
        }
    }
    children.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    Ok(children)
}

/// Tells the kernel which files will be read next, so that the disk reads ahead while the
/// files before them are compressed: reading a cold filestore file after file otherwise
/// leaves the disk idle whenever the reader waits for the compressors. Yields the files of
/// `entries`, keeping up to [`READAHEAD_FILES`] files and [`READAHEAD_BYTES`] hinted ahead of
/// the one yielded; only a hint (`posix_fadvise(WILLNEED)`), so errors are ignored: the real
/// read reports them.
pub struct Readahead<'a, I> {
    dir: &'a Path,
    entries: I,
    /// Files hinted, not yet yielded.
    ahead: VecDeque<FileEntry>,
    ahead_bytes: u64,
    /// An error of `entries`, yielded after the files before it.
    failed: Option<io::Error>,
}

pub const READAHEAD_FILES: usize = 64;
pub const READAHEAD_BYTES: u64 = 128 << 20;

impl<'a, I: Iterator<Item = io::Result<FileEntry>>> Readahead<'a, I> {
    pub fn new(dir: &'a Path, entries: I) -> Readahead<'a, I> {
        Readahead { dir, entries, ahead: VecDeque::new(), ahead_bytes: 0, failed: None }
    }
}

impl<I: Iterator<Item = io::Result<FileEntry>>> Iterator for Readahead<'_, I> {
    type Item = io::Result<FileEntry>;

    fn next(&mut self) -> Option<io::Result<FileEntry>> {
        // The file to yield, and up to READAHEAD_FILES after it.
        while self.failed.is_none()
            && self.ahead.len() <= READAHEAD_FILES
            && (self.ahead.len() < 2 || self.ahead_bytes < READAHEAD_BYTES)
        {
            match self.entries.next() {
                Some(Ok(file)) => {
                    hint(&file.path(self.dir));
                    self.ahead_bytes += file.size;
                    self.ahead.push_back(file);
                }
                Some(Err(e)) => self.failed = Some(e),
                None => break,
            }
        }
        match self.ahead.pop_front() {
            Some(file) => {
                self.ahead_bytes -= file.size;
                Some(Ok(file))
            }
            None => self.failed.take().map(Err),
        }
    }
}

fn hint(path: &Path) {
    use std::os::fd::AsRawFd;
    if let Ok(file) = fs::File::open(path) {
        // SAFETY: posix_fadvise only reads the descriptor, which `file` keeps open.
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_WILLNEED) };
    }
}

/// A filestore being restored: a temporary directory beside `target`, removed if dropped
/// before [`Staged::swap`].
pub struct Staged {
    temporary: PathBuf,
    target: PathBuf,
    files: u64,
    bytes: u64,
}

impl Staged {
    /// Creates `.<name>-oe-tmp-<run>-<pid>` next to `target` (and the parent directories).
    pub fn create(target: &Path) -> io::Result<Staged> {
        let temporary = sibling(target, "tmp");
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::create_dir(&temporary)?;
        Ok(Staged { temporary, target: target.to_path_buf(), files: 0, bytes: 0 })
    }

    /// Writes the file at `relative` (already checked to stay inside, see
    /// `layout::classify`) from `content`.
    pub fn write(&mut self, relative: &Path, content: &mut impl Read) -> io::Result<u64> {
        let path = self.temporary.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        let n = io::copy(content, &mut file)?;
        file.flush()?;
        self.files += 1;
        self.bytes += n;
        Ok(n)
    }

    /// Puts the file `source` at `relative` (a name [`list`] gave) as a hard link to it, or,
    /// where the file system refuses the link (another device, too many links, a protected
    /// link), as a copy. Odoo never rewrites a filestore file in place (a file's name is the
    /// SHA-1 of its content), so a linked file stays right in both filestores. Returns whether
    /// it was linked.
    pub fn link(&mut self, relative: &str, source: &Path) -> io::Result<bool> {
        let path = self.temporary.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let linked = match fs::hard_link(source, &path) {
            Ok(()) => true,
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EXDEV | libc::EMLINK | libc::EPERM)) =>
            {
                tracing::debug!("copying {} instead of linking it: {e}", source.display());
                fs::copy(source, &path)?;
                false
            }
            Err(e) => return Err(e),
        };
        self.files += 1;
        self.bytes += fs::metadata(&path)?.len();
        Ok(linked)
    }

    pub fn files(&self) -> u64 {
        self.files
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Run as root for a data directory that is someone else's (the odoo user's, in a
    /// dockerized installation): gives the staged files, and the `filestore` directory when
    /// root made it, to that owner, so that Odoo can add attachments beside them.
    fn adopt_owner(&self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let filestore = self.target.parent();
        let Some(data_dir) = filestore.and_then(Path::parent) else { return Ok(()) };
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(());
        }
        let owner = fs::metadata(data_dir)?;
        if owner.uid() == 0 {
            return Ok(());
        }
        let give =
            |path: &Path| std::os::unix::fs::lchown(path, Some(owner.uid()), Some(owner.gid()));
        if let Some(filestore) = filestore
            && fs::metadata(filestore)?.uid() == 0
        {
            give(filestore)?;
        }
        let mut pending = vec![self.temporary.clone()];
        while let Some(dir) = pending.pop() {
            give(&dir)?;
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    pending.push(entry.path());
                } else {
                    give(&entry.path())?;
                }
            }
        }
        Ok(())
    }

    /// Puts the staged directory in place of the target; the previous one (if any) is kept
    /// aside until [`Swapped::finish`], or put back by [`Swapped::undo`].
    pub fn swap(mut self) -> io::Result<Swapped> {
        self.adopt_owner()?;
        // Every file below durable before the rename: one syncfs, many times faster than an
        // fsync per file for a filestore of tens of thousands of small files.
        crate::atomic::sync_file_system(&self.temporary)?;
        let previous = if self.target.exists() {
            let aside = sibling(&self.target, "old");
            fs::rename(&self.target, &aside)?;
            Some(aside)
        } else {
            None
        };
        if let Err(e) = fs::rename(&self.temporary, &self.target) {
            if let Some(aside) = &previous {
                let _ = fs::rename(aside, &self.target);
            }
            return Err(e);
        }
        sync_parent(&self.target)?;
        let swapped = Swapped {
            target: self.target.clone(),
            previous,
            staged: std::mem::take(&mut self.temporary),
        };
        Ok(swapped)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.temporary.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.temporary);
        }
    }
}

/// A filestore in place, its predecessor still kept aside.
#[derive(Debug)]
pub struct Swapped {
    target: PathBuf,
    previous: Option<PathBuf>,
    staged: PathBuf,
}

impl Swapped {
    /// Where the previous filestore is kept aside, if there was one.
    pub fn previous(&self) -> Option<&Path> {
        self.previous.as_deref()
    }

    /// Removes the previous filestore.
    pub fn finish(self) -> io::Result<()> {
        match &self.previous {
            Some(previous) => fs::remove_dir_all(previous),
            None => Ok(()),
        }
    }

    /// Puts the previous filestore back and removes the new one.
    pub fn undo(self) -> io::Result<()> {
        fs::rename(&self.target, &self.staged)?;
        if let Some(previous) = &self.previous {
            fs::rename(previous, &self.target)?;
        }
        fs::remove_dir_all(&self.staged)
    }
}

/// Removes the filestore directory `dir`, if there is one: renamed first to a hidden name
/// beside it (`.<name>-oe-rm-<run>-<pid>`), so that a removal cut short never leaves a
/// half-empty filestore under the database's name, and `oe clean` removes what a killed run
/// left. Returns whether there was one.
pub fn remove(dir: &Path) -> io::Result<bool> {
    let aside = sibling(dir, "rm");
    match fs::rename(dir, &aside) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    sync_parent(dir)?;
    fs::remove_dir_all(&aside)?;
    Ok(true)
}

/// `<parent>/.<name>-oe-<tag>-<run>-<pid>`: hidden, beside `path`, on the same file system;
/// `<run>` is the run id of the helper databases of the same run (`pg::server::run_id`), so
/// `oe clean` can tell which of a killed run's steps were done (see [`Aside::parse`]).
fn sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (run, pid) = (crate::pg::server::run_id(), std::process::id());
    path.with_file_name(format!(".{name}-oe-{tag}-{run:08x}-{pid}"))
}

/// A directory a restore keeps beside a filestore, its name taken apart:
/// `.<database>-oe-<tag>-<run>-<pid>`, or `.<database>-oe-<tag>-<pid>` as oe named them
/// before runs had ids (`run` is then `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aside<'a> {
    pub database: &'a str,
    /// `tmp`: the new filestore being written; `old`: the previous one, kept until the end.
    pub tag: &'a str,
    pub run: Option<u32>,
    pub pid: u32,
}

impl<'a> Aside<'a> {
    pub fn parse(name: &'a str) -> Option<Aside<'a>> {
        let rest = name.strip_prefix('.')?;
        let (rest, pid) = rest.rsplit_once('-')?;
        let pid: u32 = pid.parse().ok().filter(|_| pid.bytes().all(|b| b.is_ascii_digit()))?;
        let (rest, last) = rest.rsplit_once('-')?;
        let is_tag = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase());
        let (rest, tag, run) = if is_tag(last) {
            (rest, last, None)
        } else {
            let run = u32::from_str_radix(last, 16).ok().filter(|_| last.len() == 8)?;
            let (rest, tag) = rest.rsplit_once('-')?;
            (rest, tag, Some(run))
        };
        let database = rest.strip_suffix("-oe").filter(|d| !d.is_empty())?;
        is_tag(tag).then_some(Aside { database, tag, run, pid })
    }

    /// The name of the directory of the same run with tag `tag`.
    pub fn with_tag(&self, tag: &str) -> String {
        match self.run {
            Some(run) => format!(".{}-oe-{tag}-{run:08x}-{}", self.database, self.pid),
            None => format!(".{}-oe-{tag}-{}", self.database, self.pid),
        }
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(listing: &mut Listing) -> Vec<String> {
        listing.entries().unwrap().map(|f| f.unwrap().relative).collect()
    }

    #[test]
    fn a_restored_filestore_belongs_to_the_owner_of_the_data_directory() {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: ownership cannot be given away, nothing to check");
            return;
        }
        let data_dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(data_dir.path(), Some(101), Some(101)).unwrap();
        let target = data_dir.path().join("filestore/acme");
        let mut staged = Staged::create(&target).unwrap();
        staged.write(Path::new("ab/abcdef"), &mut &b"attachment"[..]).unwrap();
        staged.swap().unwrap().finish().unwrap();
        for path in [data_dir.path().join("filestore"), target.clone(), target.join("ab/abcdef")] {
            let meta = fs::metadata(&path).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (101, 101), "{}", path.display());
        }
    }

    #[test]
    fn lists_regular_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let spill = tempfile::tempdir().unwrap();
        // `a.x` and `a-y` sort before the files of directory `a` (bytewise, '-' < '.' < '/').
        let files = ["b1/b15", "0a/0a2", "checklist/0a/0a2", "a/b", "a.x", "a-y", "a/a/z"];
        for rel in files {
            let path = dir.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, rel).unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("b1/link")).unwrap();
        let mut listing = list(dir.path(), spill.path()).unwrap();
        let mut sorted: Vec<&str> = files.to_vec();
        sorted.sort();
        assert_eq!(names(&mut listing), sorted);
        assert_eq!(listing.files(), files.len() as u64);
        assert_eq!(listing.bytes(), files.iter().map(|f| f.len() as u64).sum::<u64>());
        let sizes: Vec<u64> = listing.entries().unwrap().map(|f| f.unwrap().size).collect();
        assert_eq!(sizes, sorted.iter().map(|f| f.len() as u64).collect::<Vec<_>>());
        let mut absent = list(&dir.path().join("absent"), spill.path()).unwrap();
        assert_eq!((absent.files(), absent.entries().unwrap().count()), (0, 0));
    }

    #[test]
    fn a_long_listing_spills_and_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let spill = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        for i in 0..500 {
            let rel = format!("{:02x}/{i:040x}", i % 16);
            let path = dir.path().join(&rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, vec![b'x'; i]).unwrap();
            expected.push(FileEntry { relative: rel, size: i as u64 });
        }
        expected.sort_by(|a, b| a.relative.cmp(&b.relative));
        let mut in_memory = list(dir.path(), spill.path()).unwrap();
        assert!(!in_memory.entries.spilled());
        let mut spilled = list_with(dir.path(), spill.path(), 1000).unwrap();
        assert!(spilled.entries.spilled());
        assert_eq!(crate::plumbing::spill::open_deleted_in(spill.path()), 1);
        for listing in [&mut in_memory, &mut spilled] {
            let read: Vec<FileEntry> = listing.entries().unwrap().map(Result::unwrap).collect();
            assert_eq!(read, expected);
            // Through the read-ahead, and twice.
            let dir = listing.dir.clone();
            let ahead: Vec<FileEntry> =
                Readahead::new(&dir, listing.entries().unwrap()).map(Result::unwrap).collect();
            assert_eq!(ahead, expected);
        }
        assert_eq!(spilled.files(), 500);
        drop(spilled);
        // The spill file never had a name and is gone with the listing.
        assert_eq!(fs::read_dir(spill.path()).unwrap().count(), 0);
        assert_eq!(crate::plumbing::spill::open_deleted_in(spill.path()), 0);
        // A listing that cannot spill fails, naming where.
        let error = list_with(dir.path(), &spill.path().join("absent"), 1000).err().unwrap();
        assert!(error.to_string().contains("absent"), "{error}");
    }

    #[test]
    fn swap_replaces_and_undo_restores() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("filestore/db");
        fs::create_dir_all(target.join("aa")).unwrap();
        fs::write(target.join("aa/old"), b"old").unwrap();
        let mut staged = Staged::create(&target).unwrap();
        staged.write(Path::new("bb/new"), &mut &b"new"[..]).unwrap();
        let swapped = staged.swap().unwrap();
        assert!(target.join("bb/new").exists() && !target.join("aa/old").exists());
        swapped.undo().unwrap();
        assert_eq!(fs::read(target.join("aa/old")).unwrap(), b"old");
        assert_eq!(fs::read_dir(root.path().join("filestore")).unwrap().count(), 1);

        let mut staged = Staged::create(&target).unwrap();
        staged.write(Path::new("bb/new"), &mut &b"new"[..]).unwrap();
        staged.swap().unwrap().finish().unwrap();
        assert!(target.join("bb/new").exists() && !target.join("aa/old").exists());
        assert_eq!(fs::read_dir(root.path().join("filestore")).unwrap().count(), 1);
    }

    #[test]
    fn aside_names_parse_back() {
        let target = Path::new("/srv/filestore/acme-prod");
        let name = sibling(target, "tmp");
        let name = name.file_name().unwrap().to_str().unwrap();
        let aside = Aside::parse(name).unwrap();
        assert_eq!(aside.database, "acme-prod");
        assert_eq!(aside.tag, "tmp");
        assert_eq!(aside.run, Some(crate::pg::server::run_id()));
        assert_eq!(aside.pid, std::process::id());
        assert_eq!(aside.with_tag("tmp"), name);
        let legacy = Aside::parse(".acme-oe-old-4242").unwrap();
        assert_eq!(
            (legacy.database, legacy.tag, legacy.run, legacy.pid),
            ("acme", "old", None, 4242)
        );
        assert_eq!(legacy.with_tag("tmp"), ".acme-oe-tmp-4242");
        for other in
            ["acme", ".acme", ".acme-oe-tmp", ".-oe-tmp-1", "acme-oe-tmp-1", ".a-oe-tmp-x1"]
        {
            assert!(Aside::parse(other).is_none(), "{other}");
        }
    }

    #[test]
    fn linked_files_share_their_inode_and_removal_leaves_nothing() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().unwrap();
        let source = root.path().join("filestore/src");
        fs::create_dir_all(source.join("ab")).unwrap();
        fs::write(source.join("ab/abc"), b"content").unwrap();
        let target = root.path().join("filestore/dst");
        let mut staged = Staged::create(&target).unwrap();
        assert!(staged.link("ab/abc", &source.join("ab/abc")).unwrap());
        assert_eq!((staged.files(), staged.bytes()), (1, 7));
        staged.swap().unwrap().finish().unwrap();
        let (a, b) = (source.join("ab/abc"), target.join("ab/abc"));
        assert_eq!(fs::metadata(&a).unwrap().ino(), fs::metadata(&b).unwrap().ino());
        assert!(remove(&target).unwrap());
        assert!(!remove(&target).unwrap());
        assert_eq!(fs::read(&a).unwrap(), b"content");
        assert_eq!(fs::read_dir(root.path().join("filestore")).unwrap().count(), 1);
    }

    #[test]
    fn dropped_staging_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("db");
        let mut staged = Staged::create(&target).unwrap();
        staged.write(Path::new("x/y"), &mut &b"z"[..]).unwrap();
        drop(staged);
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
