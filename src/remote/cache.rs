//! The local cache of a remote repository's index files and snapshots, as restic keeps one:
//! opening the repository then reads them from the local disk, and a run where little changed
//! transfers little.
//!
//! Both are immutable and named by the BLAKE3 of their bytes: a cached copy is used only when
//! it still hashes to its name (a damaged one is fetched again and replaced), and one the
//! server no longer lists is removed when the kind is listed (a stale cache heals itself).
//! Everything else goes to the server unchanged. The cache lives in
//! `<cache_dir>/<repository id>/{index,snapshots}/`, mode 0700; losing it costs only time.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::repo::{self, LockGuard, LockMode, ObjectKind, Storage};

pub struct Cached {
    inner: Arc<dyn Storage>,
    dir: PathBuf,
}

impl Cached {
    /// A cache in `root` of the repository in `inner`, named after its id; `None` when the
    /// repository has no readable config (opening it will say why).
    pub fn new(inner: Arc<dyn Storage>, root: &Path) -> Option<Cached> {
        #[derive(serde::Deserialize)]
        struct Config {
            id: String,
        }
        let config = inner.get(ObjectKind::Config, "config").ok()?;
        let id = serde_json::from_slice::<Config>(&config).ok()?.id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Cached { inner, dir: root.join(id) })
    }

    /// Where objects of `kind` are cached, if they are.
    fn dir(&self, kind: ObjectKind) -> Option<PathBuf> {
        match kind {
            ObjectKind::Index => Some(self.dir.join("index")),
            ObjectKind::Snapshot => Some(self.dir.join("snapshots")),
            _ => None,
        }
    }

    fn path(&self, kind: ObjectKind, name: &str) -> Option<PathBuf> {
        let hashed = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        self.dir(kind).filter(|_| hashed).map(|dir| dir.join(name))
    }

    /// The cached bytes of an object, if they are still its own.
    fn read(path: &Path, name: &str) -> Option<Vec<u8>> {
        let bytes = fs::read(path).ok()?;
        if blake3::hash(&bytes).to_hex().as_str() == name {
            return Some(bytes);
        }
        tracing::warn!("the cached {} is damaged: fetching it again", path.display());
        None
    }

    /// Keeps a copy; a cache that cannot be written only costs the next run time.
    fn write(path: &Path, bytes: &[u8]) {
        let written = (|| {
            let dir = path.parent().expect("cached objects are in a directory");
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            let mut file = tempfile::NamedTempFile::new_in(dir)?;
            file.write_all(bytes)?;
            file.persist(path).map_err(|e| e.error)?;
            io::Result::Ok(())
        })();
        if let Err(e) = written {
            tracing::warn!("cannot cache {}: {e}", path.display());
        }
    }
}

impl Storage for Cached {
    fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()> {
        self.inner.put(kind, name, data)?;
        if let Some(path) = self.path(kind, name) {
            Cached::write(&path, data);
        }
        Ok(())
    }

    fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>> {
        let Some(path) = self.path(kind, name) else { return self.inner.get(kind, name) };
        if let Some(bytes) = Cached::read(&path, name) {
            return Ok(bytes);
        }
        let bytes = self.inner.get(kind, name)?;
        Cached::write(&path, &bytes);
        Ok(bytes)
    }

    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        self.inner.get_range(kind, name, offset, len)
    }

    fn list(&self, kind: ObjectKind) -> io::Result<Vec<String>> {
        let names = self.inner.list(kind)?;
        if let Some(dir) = self.dir(kind) {
            let listed: std::collections::HashSet<&str> =
                names.iter().map(String::as_str).collect();
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name();
                if !name.to_str().is_some_and(|n| listed.contains(n)) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(names)
    }

    fn delete(&self, kind: ObjectKind, name: &str) -> io::Result<()> {
        self.inner.delete(kind, name)
    }

    fn size(&self, kind: ObjectKind, name: &str) -> io::Result<u64> {
        self.inner.size(kind, name)
    }

    fn lock(&self, mode: LockMode, by: Option<&str>) -> Option<Result<LockGuard, repo::Error>> {
        self.inner.lock(mode, by)
    }
}
