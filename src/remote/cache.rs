//! The local cache of a remote repository's index files and snapshots, as restic keeps one:
//! opening the repository then reads them from the local disk, and a run where little changed
//! transfers little.
//!
//! Both are immutable and named by the BLAKE3 of their bytes: a cached copy is used only when
//! it still hashes to its name (a damaged one is fetched again and replaced), and one the
//! server no longer lists is removed when the kind is listed (a stale cache heals itself).
//!
//! It also keeps the trees the repository writes or reads ([`Storage::keep_blob`]), named by
//! their id, as the repository gives them (sealed, when it is encrypted), and checked by the
//! repository when read back: a run where nothing changed reads every directory of its parent
//! snapshot, and would otherwise fetch each in a round trip. A tree no run wrote or read for
//! [`TREES_KEPT`] is removed when the cache is opened.
//!
//! Everything else goes to the server unchanged. The cache lives in
//! `<cache_dir>/<repository id>/{index,snapshots,trees}/`, mode 0700; losing it costs only
//! time.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::repo::{self, BlobId, LockGuard, LockMode, ObjectKind, Storage};

/// How long a cached tree that no run writes or reads is kept.
const TREES_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

pub struct Cached {
    inner: Arc<dyn Storage>,
    dir: PathBuf,
    /// The config read to find the cache, for the first read of it (opening the
    /// repository), which then costs no round trip of its own.
    config: Mutex<Option<Vec<u8>>>,
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
        let cached = Cached { inner, dir: root.join(id), config: Mutex::new(Some(config)) };
        cached.forget_unused_trees();
        Some(cached)
    }

    fn trees(&self) -> PathBuf {
        self.dir.join("trees")
    }

    /// Removes the trees no run wrote or read for [`TREES_KEPT`] (a read touches its file).
    fn forget_unused_trees(&self) {
        let Some(before) = SystemTime::now().checked_sub(TREES_KEPT) else { return };
        for entry in fs::read_dir(self.trees()).into_iter().flatten().flatten() {
            let unused = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < before);
            if unused {
                let _ = fs::remove_file(entry.path());
            }
        }
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
        if kind == ObjectKind::Config {
            if let Some(config) = self.config.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return Ok(config);
            }
        }
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

    fn cached_blob(&self, id: &BlobId) -> Option<Vec<u8>> {
        let path = self.trees().join(id.to_string());
        let bytes = fs::read(&path).ok()?;
        // Used: kept for another TREES_KEPT.
        if let Ok(file) = File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(bytes)
    }

    fn keep_blob(&self, id: &BlobId, data: &[u8]) {
        Cached::write(&self.trees().join(id.to_string()), data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::{BlobId, LocalStorage, Repository};

    fn cached(dir: &Path) -> Cached {
        let repo = dir.join("repo");
        if !repo.exists() {
            Repository::init(&repo).unwrap();
        }
        Cached::new(Arc::new(LocalStorage::new(&repo)), &dir.join("cache")).unwrap()
    }

    #[test]
    fn a_kept_tree_is_read_back_and_dropped_once_unused_for_long() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cached(dir.path());
        let (used, unused) = (&b"used"[..], &b"unused"[..]);
        for tree in [used, unused] {
            cache.keep_blob(&BlobId::of(tree), tree);
        }
        assert_eq!(cache.cached_blob(&BlobId::of(used)).as_deref(), Some(used));
        let path = |tree| cache.trees().join(BlobId::of(tree).to_string());
        assert_eq!(cache.cached_blob(&BlobId::of(b"never kept")), None);

        let long_ago = SystemTime::now() - TREES_KEPT - Duration::from_secs(60);
        for tree in [used, unused] {
            File::options().write(true).open(path(tree)).unwrap().set_modified(long_ago).unwrap();
        }
        // A read marks a tree used.
        assert!(cache.cached_blob(&BlobId::of(used)).is_some());
        let reopened = cached(dir.path());
        assert_eq!(reopened.cached_blob(&BlobId::of(used)).as_deref(), Some(used));
        assert!(!path(unused).exists(), "a tree unused for {TREES_KEPT:?} is removed");
    }

    /// Trees through a repository on a cache: kept sealed when it is encrypted, read back
    /// from the cache, and a damaged copy noticed by the repository and fetched again.
    fn trees_through_the_cache(passphrase: Option<&str>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        Repository::init_encrypted(&path, passphrase).unwrap();
        let tree = b"{\"entries\": \"a name only the tree holds\"}".repeat(10);
        let open = || {
            let storage = Arc::new(LocalStorage::new(&path));
            let cache = Cached::new(storage, &dir.path().join("cache")).unwrap();
            let unlock = || Ok(passphrase.map(|p| zeroize::Zeroizing::new(p.to_owned())));
            Repository::open_unlocking(Arc::new(cache), &path, &unlock).unwrap()
        };
        let repo = open();
        let (id, _) = repo.put_blob(repo::BlobKind::Tree, &tree).unwrap();
        repo.flush().unwrap();

        // Kept when written, and read from the cache: with the packs gone, only the cache
        // has it (the next run's first read of it costs no round trip).
        let packs = dir.path().join("repo/data");
        fs::rename(&packs, dir.path().join("packs")).unwrap();
        fs::create_dir(&packs).unwrap();
        assert_eq!(open().get_blob(&id).unwrap(), tree);
        fs::remove_dir(&packs).unwrap();
        fs::rename(dir.path().join("packs"), &packs).unwrap();

        let mut caches = fs::read_dir(dir.path().join("cache")).unwrap();
        let trees = caches.next().unwrap().unwrap().path().join("trees");
        let kept = fs::read(trees.join(id.to_string())).unwrap();
        let in_clear = memchr::memmem::find(&kept, b"only the tree holds").is_some();
        assert_eq!(in_clear, passphrase.is_none(), "kept in the clear only when not encrypted");

        let mut damaged = kept.clone();
        *damaged.last_mut().unwrap() ^= 1;
        fs::write(trees.join(id.to_string()), &damaged).unwrap();
        assert_eq!(open().get_blob(&id).unwrap(), tree, "fetched again");
        assert_eq!(fs::read(trees.join(id.to_string())).unwrap().len(), kept.len(), "kept again");
        assert_ne!(fs::read(trees.join(id.to_string())).unwrap(), damaged);
    }

    #[test]
    fn trees_are_kept_in_the_cache_and_checked_when_read_back() {
        trees_through_the_cache(None);
    }

    #[test]
    fn an_encrypted_repositorys_trees_are_kept_sealed() {
        trees_through_the_cache(Some("cache words"));
    }

    #[test]
    fn the_config_read_to_find_the_cache_serves_the_first_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cached(dir.path());
        let config = fs::read(dir.path().join("repo/config")).unwrap();
        fs::remove_file(dir.path().join("repo/config")).unwrap();
        assert_eq!(cache.get(ObjectKind::Config, "config").unwrap(), config);
        let again = cache.get(ObjectKind::Config, "config").unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::NotFound, "later reads ask the storage");
    }
}
