//! A storage for the unit tests of what reads and writes repositories: a local directory
//! that counts the reads reaching it, can make each take longer, as over a network, and can
//! refuse writes of packs, as a full disk or a lost connection does.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use super::{LocalStorage, ObjectKind, Storage};

/// A repository's storage in a local directory that counts the reads of ranges reaching it,
/// their bytes, and the most under way at once; each of them and each write of a pack takes
/// `delay` longer, as over a network.
pub struct Counted {
    pub inner: LocalStorage,
    pub delay: Duration,
    pub reads: AtomicUsize,
    pub bytes: AtomicUsize,
    pub most_at_once: AtomicUsize,
    /// Writes of packs still to refuse.
    pub failing_packs: AtomicUsize,
    under_way: AtomicUsize,
}

impl Counted {
    pub fn new(root: &Path, delay: Duration) -> Counted {
        Counted {
            inner: LocalStorage::new(root),
            delay,
            reads: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            most_at_once: AtomicUsize::new(0),
            failing_packs: AtomicUsize::new(0),
            under_way: AtomicUsize::new(0),
        }
    }
}

impl Storage for Counted {
    fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()> {
        if kind == ObjectKind::Pack {
            std::thread::sleep(self.delay);
            let refuse = |left: usize| left.checked_sub(1);
            if self.failing_packs.fetch_update(SeqCst, SeqCst, refuse).is_ok() {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "injected: disk full"));
            }
        }
        self.inner.put(kind, name, data)
    }
    fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>> {
        self.inner.get(kind, name)
    }
    fn get_range(&self, k: ObjectKind, n: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        self.reads.fetch_add(1, SeqCst);
        self.most_at_once.fetch_max(self.under_way.fetch_add(1, SeqCst) + 1, SeqCst);
        std::thread::sleep(self.delay);
        let read = self.inner.get_range(k, n, offset, len);
        self.under_way.fetch_sub(1, SeqCst);
        self.bytes.fetch_add(read.as_ref().map_or(0, Vec::len), SeqCst);
        read
    }
    fn list(&self, kind: ObjectKind) -> io::Result<Vec<String>> {
        self.inner.list(kind)
    }
    fn delete(&self, kind: ObjectKind, name: &str) -> io::Result<()> {
        self.inner.delete(kind, name)
    }
    fn size(&self, kind: ObjectKind, name: &str) -> io::Result<u64> {
        self.inner.size(kind, name)
    }
}
