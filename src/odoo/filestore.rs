//! The filestore of one database on disk: listing its files for an archive, and replacing
//! it whole. A restored filestore is written into a temporary directory beside the target
//! and swapped in by renames, so the previous filestore stays intact until the new one is
//! complete, and comes back if the database swap fails.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// A file of the filestore: its path relative to the filestore directory (with `/`), and size.
/// No more: a filestore can have hundreds of thousands of files, all listed at once.
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

/// The files of a filestore directory.
#[derive(Debug)]
pub struct Listing {
    pub dir: PathBuf,
    pub files: Vec<FileEntry>,
}

impl Listing {
    /// No files (a save without the filestore).
    pub fn empty(dir: &Path) -> Listing {
        Listing { dir: dir.to_path_buf(), files: Vec::new() }
    }
}

/// Every regular file below `dir`, sorted by path; an absent directory is an empty
/// filestore. Symbolic links and names that are not UTF-8 are skipped with a warning (zip
/// entry names are UTF-8, and Odoo never writes either).
pub fn list(dir: &Path) -> io::Result<Listing> {
    let mut files = Vec::new();
    if !dir.exists() {
        return Ok(Listing::empty(dir));
    }
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        let mut children: Vec<fs::DirEntry> = fs::read_dir(&path)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|e| e.file_name());
        for child in children.into_iter().rev() {
            let Some(name) = child.file_name().to_str().map(str::to_owned) else {
                tracing::warn!("skipping {}: name is not UTF-8", child.path().display());
                continue;
            };
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let kind = child.file_type()?;
            if kind.is_dir() {
                pending.push((child.path(), relative));
            } else if kind.is_file() {
                files.push(FileEntry { relative, size: child.metadata()?.len() });
            } else {
                tracing::warn!("skipping {}: not a regular file", child.path().display());
            }
        }
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    files.shrink_to_fit();
    Ok(Listing { dir: dir.to_path_buf(), files })
}

/// Tells the kernel which files will be read next, so that the disk reads ahead while the
/// files before them are compressed: reading a cold filestore file after file otherwise
/// leaves the disk idle whenever the reader waits for the compressors. Keeps up to
/// [`READAHEAD_FILES`] files and [`READAHEAD_BYTES`] ahead of the reader; only a hint
/// (`posix_fadvise(WILLNEED)`), so errors are ignored: the real read reports them.
pub struct Readahead<'a> {
    dir: &'a Path,
    files: &'a [FileEntry],
    /// The next file to hint.
    next: usize,
}

pub const READAHEAD_FILES: usize = 64;
pub const READAHEAD_BYTES: u64 = 128 << 20;

impl<'a> Readahead<'a> {
    pub fn new(listing: &'a Listing) -> Readahead<'a> {
        Readahead { dir: &listing.dir, files: &listing.files, next: 0 }
    }

    /// The reader is about to read `files[index]`: hint the files after it.
    pub fn reading(&mut self, index: usize) {
        self.next = self.next.max(index + 1);
        let mut ahead: u64 = self.files[index + 1..self.next].iter().map(|f| f.size).sum();
        while self.next < self.files.len()
            && self.next <= index + READAHEAD_FILES
            && ahead < READAHEAD_BYTES
        {
            let file = &self.files[self.next];
            hint(&file.path(self.dir));
            ahead += file.size;
            self.next += 1;
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

    pub fn files(&self) -> u64 {
        self.files
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Puts the staged directory in place of the target; the previous one (if any) is kept
    /// aside until [`Swapped::finish`], or put back by [`Swapped::undo`].
    pub fn swap(mut self) -> io::Result<Swapped> {
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
pub struct Swapped {
    target: PathBuf,
    previous: Option<PathBuf>,
    staged: PathBuf,
}

impl Swapped {
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

    #[test]
    fn lists_regular_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for rel in ["b1/b15", "0a/0a2", "checklist/0a/0a2"] {
            let path = dir.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, rel).unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("b1/link")).unwrap();
        let names: Vec<String> =
            list(dir.path()).unwrap().files.into_iter().map(|f| f.relative).collect();
        assert_eq!(names, ["0a/0a2", "b1/b15", "checklist/0a/0a2"]);
        assert!(list(&dir.path().join("absent")).unwrap().files.is_empty());
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
    fn dropped_staging_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("db");
        let mut staged = Staged::create(&target).unwrap();
        staged.write(Path::new("x/y"), &mut &b"z"[..]).unwrap();
        drop(staged);
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
