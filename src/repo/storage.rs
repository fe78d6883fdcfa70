//! Where the repository's objects live: a small interface of immutable named objects (put,
//! get, list, delete), with a local directory as the first implementation. A remote backup
//! server (`remote::client`) and S3-compatible object storage (`remote::s3`) implement the
//! same calls, with the same layout of names ([`object_key`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::lock::{LockGuard, LockMode};
use super::{BlobId, Error};

/// The kinds of objects, each in its own namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Config,
    Pack,
    Index,
    Snapshot,
    Lock,
    /// Key files of an encrypted repository (`repo::crypto`).
    Key,
}

/// Immutable named objects. `put` is atomic and durable when it returns: a reader sees the
/// whole object or none of it.
pub trait Storage: Send + Sync {
    fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()>;
    fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>>;
    fn get_range(&self, kind: ObjectKind, name: &str, offset: u64, len: u64)
    -> io::Result<Vec<u8>>;
    /// Up to `len` bytes at `offset`, fewer when the object ends before: what reading ahead
    /// asks for. By default its size, then the bytes there are; a store that answers a range
    /// past the end with what it has does it in one request.
    fn get_range_within(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        let len = len.min(self.size(kind, name)?.saturating_sub(offset));
        self.get_range(kind, name, offset, len)
    }
    /// Names of the objects of `kind`, in no particular order.
    fn list(&self, kind: ObjectKind) -> io::Result<Vec<String>>;
    fn delete(&self, kind: ObjectKind, name: &str) -> io::Result<()>;
    /// Size in bytes of an object.
    fn size(&self, kind: ObjectKind, name: &str) -> io::Result<u64>;
    /// Takes the repository's lock where the storage holds locks itself (a backup server
    /// holds its clients'); `None` where the repository keeps lock objects (see
    /// [`lock`](super::lock)). `by` names the holder when not this process.
    fn lock(&self, mode: LockMode, by: Option<&str>) -> Option<Result<LockGuard, Error>> {
        let _ = (mode, by);
        None
    }
    /// The copy of a blob kept close by (the local cache of a remote repository), if there is
    /// one: the bytes the repository gave [`keep_blob`](Self::keep_blob), which it checks
    /// itself. It keeps its trees there, so that a run does not fetch every directory of its
    /// parent snapshot again.
    fn cached_blob(&self, id: &BlobId) -> Option<Vec<u8>> {
        let _ = id;
        None
    }
    /// Keeps a copy of a blob for [`cached_blob`](Self::cached_blob), where there is a cache.
    fn keep_blob(&self, id: &BlobId, data: &[u8]) {
        let _ = (id, data);
    }
}

/// A directory: `config`, `data/<2 hex>/<name>`, `index/`, `snapshots/`, `locks/`, `tmp/`.
pub struct LocalStorage {
    root: PathBuf,
    counter: AtomicU64,
}

impl LocalStorage {
    pub fn new(root: &Path) -> LocalStorage {
        LocalStorage { root: root.to_path_buf(), counter: AtomicU64::new(0) }
    }

    /// Makes the directories of an empty repository, its own (and missing parents) mode 0700.
    pub fn create_layout(&self) -> io::Result<()> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.root)?;
        for dir in ["data", "index", "snapshots", "locks", "keys", "tmp"] {
            fs::create_dir_all(self.root.join(dir))?;
        }
        sync_dir(&self.root)
    }

    fn dir(&self, kind: ObjectKind) -> PathBuf {
        self.root.join(kind.dir())
    }

    /// Where a new object is written before it is renamed (or linked) into place: `tmp/`,
    /// under a name no other writer uses.
    pub fn temp_path(&self, name: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.root.join("tmp").join(format!("{}-{n}-{name}", std::process::id()))
    }

    /// Removes every file of `tmp/`: what killed writers left. Only for the holder of the
    /// writer's lock. Returns how many.
    pub fn remove_temps(&self) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The path of an object, its name checked (see [`object_key`]).
    pub fn object_path(&self, kind: ObjectKind, name: &str) -> io::Result<PathBuf> {
        Ok(self.root.join(object_key(kind, name)?))
    }
}

impl ObjectKind {
    /// The directory of the objects of this kind, relative to the repository's root.
    pub fn dir(self) -> &'static str {
        match self {
            ObjectKind::Config => "",
            ObjectKind::Pack => "data",
            ObjectKind::Index => "index",
            ObjectKind::Snapshot => "snapshots",
            ObjectKind::Lock => "locks",
            ObjectKind::Key => "keys",
        }
    }
}

/// Where an object is, relative to the repository's root: `config`, `data/<2 first
/// characters>/<name>`, `index/<name>`, …; the same layout in a directory and in a bucket.
/// Its name is checked, not sanitised: not empty, not hidden, nothing but ASCII letters,
/// digits, `-`, `_` and `.`, so it never leaves its directory.
pub fn object_key(kind: ObjectKind, name: &str) -> io::Result<String> {
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if !valid {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid object name {name:?}"),
        ));
    }
    Ok(match kind {
        ObjectKind::Config => name.to_owned(),
        ObjectKind::Pack => format!("data/{}/{name}", &name[..2.min(name.len())]),
        _ => format!("{}/{name}", kind.dir()),
    })
}

impl Storage for LocalStorage {
    fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()> {
        let path = self.object_path(kind, name)?;
        let dir = path.parent().expect("objects are inside the repository");
        // Pack directories are made as needed; `keys/` too (older repositories lack it).
        if matches!(kind, ObjectKind::Pack | ObjectKind::Key) {
            fs::create_dir_all(dir)?;
        }
        let temp = self.temp_path(name);
        let written = (|| {
            let mut file =
                OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
            file.write_all(data)?;
            file.sync_all()?;
            fs::rename(&temp, &path)?;
            sync_dir(dir)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.object_path(kind, name)?)
    }

    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        let mut file = File::open(self.object_path(kind, name)?)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut out = vec![0; len as usize];
        file.read_exact(&mut out)?;
        Ok(out)
    }

    fn list(&self, kind: ObjectKind) -> io::Result<Vec<String>> {
        let dir = self.dir(kind);
        let mut names = Vec::new();
        let mut push = |dir: &Path| -> io::Result<()> {
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    if let Some(name) = entry.file_name().to_str() {
                        names.push(name.to_owned());
                    }
                }
            }
            Ok(())
        };
        if kind == ObjectKind::Pack {
            for sub in fs::read_dir(&dir)? {
                let sub = sub?;
                if sub.file_type()?.is_dir() {
                    push(&sub.path())?;
                }
            }
        } else if kind == ObjectKind::Config {
            if self.root.join("config").is_file() {
                names.push("config".into());
            }
        } else if kind == ObjectKind::Key && !dir.exists() {
            // A repository made before key files existed.
        } else {
            push(&dir)?;
        }
        Ok(names)
    }

    fn delete(&self, kind: ObjectKind, name: &str) -> io::Result<()> {
        let path = self.object_path(kind, name)?;
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().expect("inside the repository")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn size(&self, kind: ObjectKind, name: &str) -> io::Result<u64> {
        Ok(fs::metadata(self.object_path(kind, name)?)?.len())
    }
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path());
        s.create_layout().unwrap();
        s.put(ObjectKind::Pack, "abcdef", b"0123456789").unwrap();
        s.put(ObjectKind::Index, "i1", b"x").unwrap();
        assert!(dir.path().join("data/ab/abcdef").is_file());
        assert_eq!(s.get(ObjectKind::Pack, "abcdef").unwrap(), b"0123456789");
        assert_eq!(s.get_range(ObjectKind::Pack, "abcdef", 3, 4).unwrap(), b"3456");
        assert!(s.get_range(ObjectKind::Pack, "abcdef", 8, 4).is_err());
        assert_eq!(s.list(ObjectKind::Pack).unwrap(), ["abcdef"]);
        assert_eq!(s.list(ObjectKind::Index).unwrap(), ["i1"]);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "temp files left");
        s.delete(ObjectKind::Pack, "abcdef").unwrap();
        s.delete(ObjectKind::Pack, "abcdef").unwrap();
        assert!(s.list(ObjectKind::Pack).unwrap().is_empty());
    }

    #[test]
    fn refuses_names_that_leave_their_directory() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path());
        s.create_layout().unwrap();
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(s.put(ObjectKind::Snapshot, bad, b"x").is_err(), "{bad}");
        }
    }
}
