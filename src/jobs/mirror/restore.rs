//! `oe mirror restore`: a snapshot, or one path of it, written back into a target directory.
//!
//! Every file appears whole: it is written under a temporary name in its directory and
//! renamed over its final name once its content, mode, owner and mtime are set; symlinks,
//! hard links and fifos are made the same way. Directories get their mode and mtime after
//! their content. Ownership is restored when running as root. One `syncfs` at the end makes
//! everything durable.
//!
//! Nothing is written outside the target: names come from trees that [`Tree::decode`] checked
//! (one component each, never `.` or `..`), and an existing path on the way that is not a real
//! directory (a symlink, say) stops the restore instead of being followed.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use super::run::load_tree;
use crate::exit::{ExitCode, ExitStatus};
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
        }
    }
}

pub fn restore(request: &Request) -> Result<Outcome, Error> {
    let mut restorer = Restorer {
        request,
        outcome: Outcome::default(),
        links: HashMap::new(),
        is_root: running_as_root(),
        temp: 0,
    };
    ensure_dir(request.target)?;
    let root = load_tree(request.repo, request.snapshot.snapshot.tree)?;
    match request.path.filter(|p| !p.is_empty()) {
        None => restorer.tree(&root, request.target)?,
        Some(path) => {
            let (dir, node) = find(request.repo, &root, path).ok_or_else(|| Error::NoSuchPath {
                path: tree::lossy(path),
                snapshot: request.snapshot.id.clone(),
            })?;
            let mut here = request.target.to_path_buf();
            for component in dir.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
                here.push(OsStr::from_bytes(component));
                ensure_dir(&here)?;
            }
            restorer.node(&node, &here)?;
        }
    }
    crate::atomic::sync_file_system(request.target)
        .map_err(|source| Error::Write { path: request.target.into(), source })?;
    Ok(restorer.outcome)
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

struct Restorer<'a> {
    request: &'a Request<'a>,
    outcome: Outcome,
    /// First restored path of each hard-linked file, by its device and inode in the snapshot.
    links: HashMap<(u64, u64), PathBuf>,
    is_root: bool,
    /// Counter making temporary names unique.
    temp: u64,
}

impl Restorer<'_> {
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
                self.attributes(node, &path).map_err(write)?;
            }
            Kind::File => {
                let key = (node.device, node.inode);
                if let Some(first) = self.links.get(&key).filter(|_| node.links > 1).cloned() {
                    let temp = self.temp_name(dir);
                    fs::hard_link(&first, &temp).map_err(write)?;
                    self.place(&temp, &path)?;
                    self.outcome.links += 1;
                } else {
                    let temp = self.temp_name(dir);
                    self.write_file(node, &temp, &path)?;
                    self.place(&temp, &path)?;
                    self.outcome.files += 1;
                    if node.links > 1 {
                        self.links.insert(key, path.clone());
                    }
                }
            }
            Kind::Symlink => {
                let temp = self.temp_name(dir);
                let target = node.target.as_deref().map(|t| t.as_slice()).unwrap_or_default();
                std::os::unix::fs::symlink(OsStr::from_bytes(target), &temp).map_err(write)?;
                self.attributes(node, &temp).map_err(write)?;
                self.place(&temp, &path)?;
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
                self.attributes(node, &temp).map_err(write)?;
                self.place(&temp, &path)?;
                self.outcome.files += 1;
            }
        }
        Ok(())
    }

    fn write_file(&mut self, node: &Node, temp: &Path, path: &Path) -> Result<(), Error> {
        let write = |source| Error::Write { path: path.to_path_buf(), source };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(temp)
            .map_err(write)?;
        let result = (|| {
            for id in &node.content {
                let data = self
                    .request
                    .repo
                    .get_blob(id)
                    .map_err(|source| Error::Repo { path: path.to_path_buf(), source })?;
                file.write_all(&data).map_err(write)?;
                self.request.progress.inc(data.len() as u64);
                self.outcome.bytes += data.len() as u64;
                stop::check().map_err(|_| Error::Interrupted)?;
            }
            self.attributes(node, temp).map_err(write)
        })();
        if result.is_err() {
            let _ = fs::remove_file(temp);
        }
        result
    }

    /// Renames a finished temporary entry over its final name; an existing directory there
    /// is not replaced.
    fn place(&self, temp: &Path, path: &Path) -> Result<(), Error> {
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

    fn temp_name(&mut self, dir: &Path) -> PathBuf {
        self.temp += 1;
        dir.join(format!(".oe-restore-{}-{}", std::process::id(), self.temp))
    }

    /// Owner (as root), mode and mtime of an entry, without following a symlink.
    fn attributes(&mut self, node: &Node, path: &Path) -> io::Result<()> {
        if self.is_root {
            std::os::unix::fs::lchown(path, Some(node.uid), Some(node.gid))?;
        }
        if node.kind != Kind::Symlink {
            fs::set_permissions(path, fs::Permissions::from_mode(node.mode))?;
        }
        set_mtime(path, node.mtime)
    }
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
