//! `oe mirror restore`: a snapshot, or one path of it, written back into a target directory.
//!
//! Every file appears whole: it is written under a temporary name in its directory and
//! renamed over its final name once its content, mode, owner and mtime are set; symlinks,
//! hard links and fifos are made the same way. Directories get their mode and mtime after
//! their content. Ownership is restored when running as root. One `syncfs` at the end makes
//! everything durable.
//!
//! The trees are walked on the calling thread; files go to [`WRITERS`] threads in batches of
//! neighbours (stored one after the other, so in the same packs), so that fetching one
//! batch's chunks from a remote repository overlaps with decompressing and writing the
//! others'. Hard links and the directories' attributes wait for every file. Memory: a few
//! batches in flight, a chunk per writer, and the lists of directories and hard links.
//!
//! Nothing is written outside the target: names come from trees that [`Tree::decode`] checked
//! (one component each, never `.` or `..`), and an existing path on the way that is not a real
//! directory (a symlink, say) stops the restore instead of being followed.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use super::run::load_tree;
use crate::exit::{ExitCode, ExitStatus};
use crate::plumbing::pool::{self, Pool, Ticket};
use crate::repo::snapshot::Listed;
use crate::repo::tree::{self, Kind, Node, Time, Tree};
use crate::repo::{self, Repository};
use crate::stop;

pub struct Request<'a> {
    pub repo: &'a Repository,
    pub snapshot: &'a Listed,
    pub target: &'a Path,
    /// Only this path of the snapshot (relative, `/`-separated), restored at the same path
    /// below the target.
    pub path: Option<&'a [u8]>,
    pub progress: ProgressBar,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
    /// What could not be restored as it was (device files without root, owners).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path} is not in snapshot {snapshot}")]
    NoSuchPath { path: String, snapshot: String },
    #[error("{path} exists and is not a directory: not writing through it")]
    NotADirectory { path: PathBuf },
    #[error("restoring {path}")]
    Write { path: PathBuf, source: io::Error },
    #[error("restoring {path}")]
    Repo { path: PathBuf, source: repo::Error },
    #[error(transparent)]
    Tree(#[from] super::run::Error),
    #[error("stopped by a signal; files restored so far are complete")]
    Interrupted,
    #[error(transparent)]
    Pool(#[from] pool::Error),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::NoSuchPath { .. } => ExitCode::Usage,
            Error::NotADirectory { .. } => ExitCode::Io,
            Error::Write { source, .. } => source.exit_code(),
            Error::Repo { source, .. } => source.exit_code(),
            Error::Tree(e) => e.exit_code(),
            Error::Interrupted => ExitCode::Failure,
            Error::Pool(e) => e.exit_code(),
        }
    }
}

pub fn restore(request: &Request) -> Result<Outcome, Error> {
    ensure_dir(request.target)?;
    let root = load_tree(request.repo, request.snapshot.snapshot.tree)?;
    let is_root = running_as_root();
    let outcome = std::thread::scope(|scope| {
        let writers = Pool::scoped(
            scope,
            "restore",
            WRITERS,
            WRITERS,
            || (),
            |_, batch: Batch| batch.write(request, is_root),
        );
        let mut walk = Walk {
            request,
            writers,
            batch: Batch::default(),
            written: VecDeque::new(),
            outcome: Outcome::default(),
            links: HashMap::new(),
            later_links: Vec::new(),
            dirs: Vec::new(),
            is_root,
            temp: 0,
        };
        match request.path.filter(|p| !p.is_empty()) {
            None => walk.tree(&root, request.target)?,
            Some(path) => {
                let (dir, node) =
                    find(request.repo, &root, path).ok_or_else(|| Error::NoSuchPath {
                        path: tree::lossy(path),
                        snapshot: request.snapshot.id.clone(),
                    })?;
                let mut here = request.target.to_path_buf();
                for component in dir.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
                    here.push(OsStr::from_bytes(component));
                    ensure_dir(&here)?;
                }
                walk.node(&node, &here)?;
            }
        }
        walk.finish()
    })?;
    crate::atomic::sync_file_system(request.target)
        .map_err(|source| Error::Write { path: request.target.into(), source })?;
    Ok(outcome)
}

/// The node at `path` and the path of the directory holding it.
fn find<'p>(repo: &Repository, root: &Tree, path: &'p [u8]) -> Option<(&'p [u8], Node)> {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    let components: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    let (last, dirs) = components.split_last()?;
    let mut tree = root.clone();
    for dir in dirs {
        let subtree = tree.find(dir).filter(|n| n.kind == Kind::Dir)?.subtree?;
        tree = load_tree(repo, subtree).ok()?;
    }
    let node = tree.find(last)?.clone();
    let parent_len = path.len() - last.len();
    Some((&path[..parent_len], node))
}

/// Threads writing files: each fetches its files' chunks (a round trip to S3 or the backup
/// server for each window read ahead) while the others decompress and write.
const WRITERS: usize = 4;
/// A batch is handed to the writers once it holds this many files, or this many bytes:
/// files of one directory were stored one after the other, so a batch reads on in the same
/// packs, and the writers read apart.
const BATCH_FILES: usize = 64;
const BATCH_BYTES: u64 = 8 << 20;

/// The walk of the snapshot's trees, on the calling thread: it makes directories, symlinks
/// and special files itself, and hands files to the writers in batches. What must wait for
/// the files is done at the end: hard links to them, and the directories' attributes (a
/// directory's mtime changes as entries appear in it, and a read-only one takes none).
struct Walk<'scope, 'a> {
    request: &'a Request<'a>,
    /// Batches handed over, oldest first: (files, bytes) once written. Dropped before the
    /// writers, so that a walk that fails leaves the batches still queued unwritten.
    written: VecDeque<Ticket<Result<(u64, u64), Error>>>,
    writers: Pool<'scope, Batch, Result<(u64, u64), Error>>,
    /// Files not yet handed over.
    batch: Batch,
    outcome: Outcome,
    /// First restored path of each hard-linked file, by its device and inode in the snapshot.
    links: HashMap<(u64, u64), PathBuf>,
    /// Hard links to make once the files are written: (file, temporary name, path).
    later_links: Vec<(PathBuf, PathBuf, PathBuf)>,
    /// Directories whose attributes are set at the end, each after those below it.
    dirs: Vec<(Node, PathBuf)>,
    is_root: bool,
    /// Counter making temporary names unique.
    temp: u64,
}

impl Walk<'_, '_> {
    /// The content of a directory tree into the existing directory `dir`.
    fn tree(&mut self, tree: &Tree, dir: &Path) -> Result<(), Error> {
        for node in &tree.nodes {
            self.node(node, dir)?;
        }
        Ok(())
    }

    /// One node into the directory `dir`.
    fn node(&mut self, node: &Node, dir: &Path) -> Result<(), Error> {
        stop::check().map_err(|_| Error::Interrupted)?;
        let path = dir.join(OsStr::from_bytes(&node.name));
        let write = |source| Error::Write { path: path.clone(), source };
        match node.kind {
            Kind::Dir => {
                ensure_dir(&path)?;
                if let Some(id) = node.subtree {
                    let tree = load_tree(self.request.repo, id)?;
                    self.tree(&tree, &path)?;
                }
                self.outcome.dirs += 1;
                let mut attributes = node.clone();
                attributes.content = Vec::new();
                self.dirs.push((attributes, path));
            }
            Kind::File => {
                let key = (node.device, node.inode);
                if let Some(first) = self.links.get(&key).filter(|_| node.links > 1).cloned() {
                    let temp = self.temp_name(dir);
                    self.later_links.push((first, temp, path));
                } else {
                    if node.links > 1 {
                        self.links.insert(key, path.clone());
                    }
                    let temp = self.temp_name(dir);
                    self.add(node, temp, path)?;
                }
            }
            Kind::Symlink => {
                let temp = self.temp_name(dir);
                let target = node.target.as_deref().map(|t| t.as_slice()).unwrap_or_default();
                std::os::unix::fs::symlink(OsStr::from_bytes(target), &temp).map_err(write)?;
                attributes(node, &temp, self.is_root).map_err(write)?;
                place(&temp, &path)?;
                self.outcome.files += 1;
            }
            Kind::Fifo | Kind::Socket | Kind::CharDevice | Kind::BlockDevice => {
                let devices = matches!(node.kind, Kind::CharDevice | Kind::BlockDevice);
                if devices && !self.is_root {
                    self.outcome
                        .warnings
                        .push(format!("{}: device file not restored (needs root)", path.display()));
                    return Ok(());
                }
                let temp = self.temp_name(dir);
                make_special(node, &temp).map_err(write)?;
                attributes(node, &temp, self.is_root).map_err(write)?;
                place(&temp, &path)?;
                self.outcome.files += 1;
            }
        }
        Ok(())
    }

    /// A file to write; hands the batch over once it is full.
    fn add(&mut self, node: &Node, temp: PathBuf, path: PathBuf) -> Result<(), Error> {
        self.batch.bytes += node.size;
        self.batch.files.push((node.clone(), temp, path));
        if self.batch.files.len() >= BATCH_FILES || self.batch.bytes >= BATCH_BYTES {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Hands the batch to the writers; waits for the oldest one handed over while as many as
    /// the writers can hold wait.
    fn hand_over(&mut self) -> Result<(), Error> {
        let batch = std::mem::take(&mut self.batch);
        if batch.files.is_empty() {
            return Ok(());
        }
        self.written.push_back(self.writers.submit(batch)?);
        while self.written.len() > 2 * WRITERS {
            self.collect()?;
        }
        Ok(())
    }

    /// Waits for the oldest batch handed over.
    fn collect(&mut self) -> Result<(), Error> {
        if let Some(ticket) = self.written.pop_front() {
            let (files, bytes) = ticket.wait()??;
            self.outcome.files += files;
            self.outcome.bytes += bytes;
        }
        Ok(())
    }

    /// Waits for every file, then makes the hard links and sets the directories' attributes.
    fn finish(mut self) -> Result<Outcome, Error> {
        self.hand_over()?;
        while !self.written.is_empty() {
            self.collect()?;
        }
        for (first, temp, path) in std::mem::take(&mut self.later_links) {
            fs::hard_link(&first, &temp)
                .map_err(|source| Error::Write { path: path.clone(), source })?;
            place(&temp, &path)?;
            self.outcome.links += 1;
        }
        for (node, path) in std::mem::take(&mut self.dirs) {
            attributes(&node, &path, self.is_root)
                .map_err(|source| Error::Write { path: path.clone(), source })?;
        }
        Ok(self.outcome)
    }

    fn temp_name(&mut self, dir: &Path) -> PathBuf {
        self.temp += 1;
        dir.join(format!(".oe-restore-{}-{}", std::process::id(), self.temp))
    }
}

/// Files for one writer: (node, temporary name, path) each, and their bytes.
#[derive(Default)]
struct Batch {
    files: Vec<(Node, PathBuf, PathBuf)>,
    bytes: u64,
}

impl Batch {
    /// Writes each file under its temporary name and renames it into place; (files, bytes).
    fn write(self, request: &Request, is_root: bool) -> Result<(u64, u64), Error> {
        let mut bytes = 0;
        for (node, temp, path) in &self.files {
            stop::check().map_err(|_| Error::Interrupted)?;
            bytes += write_file(request, node, temp, path, is_root)?;
            place(temp, path)?;
        }
        Ok((self.files.len() as u64, bytes))
    }
}

/// A file's content and attributes into `temp`, which is removed again when that fails;
/// returns its bytes.
fn write_file(
    request: &Request,
    node: &Node,
    temp: &Path,
    path: &Path,
    is_root: bool,
) -> Result<u64, Error> {
    let write = |source| Error::Write { path: path.to_path_buf(), source };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(temp)
        .map_err(write)?;
    let result = (|| {
        let mut bytes = 0;
        for id in &node.content {
            let data = request
                .repo
                .get_blob(id)
                .map_err(|source| Error::Repo { path: path.to_path_buf(), source })?;
            file.write_all(&data).map_err(write)?;
            request.progress.inc(data.len() as u64);
            bytes += data.len() as u64;
            stop::check().map_err(|_| Error::Interrupted)?;
        }
        attributes(node, temp, is_root).map_err(write)?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = fs::remove_file(temp);
    }
    result
}

/// Renames a finished temporary entry over its final name; an existing directory there is
/// not replaced.
fn place(temp: &Path, path: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        let _ = fs::remove_file(temp);
        return Err(Error::Write {
            path: path.into(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "a directory is in the way"),
        });
    }
    fs::rename(temp, path).map_err(|source| {
        let _ = fs::remove_file(temp);
        Error::Write { path: path.into(), source }
    })
}

/// Owner (as root), mode and mtime of an entry, without following a symlink.
fn attributes(node: &Node, path: &Path, is_root: bool) -> io::Result<()> {
    if is_root {
        std::os::unix::fs::lchown(path, Some(node.uid), Some(node.gid))?;
    }
    if node.kind != Kind::Symlink {
        fs::set_permissions(path, fs::Permissions::from_mode(node.mode))?;
    }
    set_mtime(path, node.mtime)
}

/// Makes `path` a directory if it is not one; refuses anything else in the way.
fn ensure_dir(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::NotADirectory { path: path.into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(path).map_err(|source| Error::Write { path: path.into(), source })
        }
        Err(source) => Err(Error::Write { path: path.into(), source }),
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// mtime (and atime, to the same) without following a symlink.
fn set_mtime(path: &Path, mtime: Time) -> io::Result<()> {
    let c = c_path(path)?;
    let t = libc::timespec { tv_sec: mtime.sec as libc::time_t, tv_nsec: mtime.nsec as _ };
    let times = [t, t];
    // SAFETY: `c` is a NUL-terminated path and `times` two timespecs, both alive for the call.
    let rc = unsafe {
        libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A fifo, socket or device node.
fn make_special(node: &Node, path: &Path) -> io::Result<()> {
    let c = c_path(path)?;
    let kind = match node.kind {
        Kind::Fifo => libc::S_IFIFO,
        Kind::Socket => libc::S_IFSOCK,
        Kind::CharDevice => libc::S_IFCHR,
        Kind::BlockDevice => libc::S_IFBLK,
        _ => unreachable!("only special files are made here"),
    };
    // SAFETY: `c` is a NUL-terminated path alive for the call.
    let rc = unsafe {
        libc::mknod(
            c.as_ptr(),
            kind | (node.mode & 0o7777) as libc::mode_t,
            node.rdev as libc::dev_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;

    use super::*;
    use crate::jobs::mirror::{job, run, walk::Listing};
    use crate::repo::Storage;
    use crate::repo::counted::Counted;
    use crate::rules::filter::Filter;
    use crate::testing::random_bytes;

    #[test]
    fn files_are_fetched_several_at_once_and_restored_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let (src, repo_dir, target) =
            (dir.path().join("src"), dir.path().join("repo"), dir.path().join("out"));
        // 320 files of 100 KiB (a chunk each) in 16 directories: five batches.
        let content = |n: u64| random_bytes(100 << 10, n);
        for n in 0..320u64 {
            let sub = src.join(format!("{:02x}", n % 16));
            fs::create_dir_all(&sub).unwrap();
            fs::write(sub.join(format!("f{n}")), content(n)).unwrap();
        }
        let repo = Repository::init(&repo_dir).unwrap();
        let filter = Filter::parse(&[]).unwrap();
        let request = run::Request {
            repo: &repo,
            dir: src.to_str().unwrap(),
            filter: &filter,
            parent: None,
            threads: 2,
            host: "test".into(),
            time: 1,
            progress: ProgressBar::hidden(),
        };
        run::run(&request, Listing::direct()).unwrap();

        // Reads that take a while, as over a network.
        let slow = Arc::new(Counted::new(&repo_dir, Duration::from_millis(5)));
        let repo = Repository::open_on(Arc::clone(&slow) as Arc<dyn Storage>, &repo_dir).unwrap();
        let snapshots = job::list(&repo).unwrap();
        let outcome = restore(&Request {
            repo: &repo,
            snapshot: &snapshots[0],
            target: &target,
            path: None,
            progress: ProgressBar::hidden(),
        })
        .unwrap();
        assert_eq!((outcome.files, outcome.dirs, outcome.bytes), (320, 16, 320 * (100 << 10)));
        for n in 0..320u64 {
            let path = target.join(format!("{:02x}/f{n}", n % 16));
            assert!(fs::read(&path).unwrap() == content(n), "{} differs", path.display());
        }
        // The walk reads trees beside the writers: more than two at once is writers at work
        // side by side.
        let most = slow.most_at_once.load(SeqCst);
        assert!(most > 2, "the writers read one chunk at a time: at most {most} reads at once");
    }
}
