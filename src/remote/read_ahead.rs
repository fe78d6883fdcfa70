//! Reading ahead in the packs of a remote repository: a short read of a pack that goes on from
//! the previous one of that pack (after its start, before its end or close after) fetches
//! [`READ_AHEAD`] from there, kept in a few windows. Restores and checks read a pack's blobs
//! in order, so one request serves the blobs that follow; a request per blob made a restore
//! wait on a round trip per file (4.3 times restic's restore from S3, 5 times a local restore
//! over SSH). A read that does not go on from the previous one gets its own bytes only: the
//! trees a run reads lie here and there among the data, and reading ahead of each made a
//! run with nothing changed 7 times as long.
//!
//! Everything else goes to the storage unchanged.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use crate::repo::{self, BlobId, LockGuard, LockMode, ObjectKind, Storage};

/// How far a short read of a pack reads ahead.
const READ_AHEAD: u64 = 4 << 20;
/// Windows kept of packs read ahead (at most 16 MiB, within the bound of 256 MiB that a
/// restore over ssh holds to: 8 MiB and 6 windows took it to 290 MiB).
const WINDOWS: usize = 4;
/// How far after the end of the previous read a read still follows on from it (blobs
/// another thread stored in between).
const FOLLOWS_WITHIN: u64 = 1 << 20;

pub struct ReadAhead {
    inner: Arc<dyn Storage>,
    /// The last windows read ahead, newest last.
    windows: Mutex<VecDeque<Window>>,
    /// The pack of the last read the windows did not serve, and where that read started and
    /// ended.
    last: Mutex<Option<(String, u64, u64)>>,
}

/// Bytes of a pack from `start` on.
struct Window {
    name: String,
    start: u64,
    bytes: Vec<u8>,
}

impl ReadAhead {
    pub fn new(inner: Arc<dyn Storage>) -> ReadAhead {
        ReadAhead { inner, windows: Mutex::default(), last: Mutex::default() }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, VecDeque<Window>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `len` bytes at `offset` of the pack `name`, if a window holds them.
    fn windowed(&self, name: &str, offset: u64, len: u64) -> Option<Vec<u8>> {
        let windows = self.windows();
        let w = windows.iter().rev().find(|w| {
            w.name == name && w.start <= offset && offset + len <= w.start + w.bytes.len() as u64
        })?;
        let from = (offset - w.start) as usize;
        Some(w.bytes[from..from + len as usize].to_vec())
    }
}

impl Storage for ReadAhead {
    fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()> {
        self.inner.put(kind, name, data)
    }

    fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>> {
        self.inner.get(kind, name)
    }

    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        if kind != ObjectKind::Pack || len >= READ_AHEAD {
            return self.inner.get_range(kind, name, offset, len);
        }
        if let Some(hit) = self.windowed(name, offset, len) {
            return Ok(hit);
        }
        let follows = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            // After its start (a blob that a window held only the beginning of follows on
            // too), and not far after its end.
            let follows = last.as_ref().is_some_and(|(pack, start, end)| {
                pack == name && *start < offset && offset <= end + FOLLOWS_WITHIN
            });
            let end = offset + if follows { READ_AHEAD } else { len };
            *last = Some((name.into(), offset, end));
            follows
        };
        if !follows {
            return self.inner.get_range(kind, name, offset, len);
        }
        let bytes = self.inner.get_range_within(kind, name, offset, READ_AHEAD)?;
        if (bytes.len() as u64) < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("pack {name} ends {} bytes after {offset}, before {len}", bytes.len()),
            ));
        }
        let wanted = bytes[..len as usize].to_vec();
        let mut windows = self.windows();
        if windows.len() == WINDOWS {
            windows.pop_front();
        }
        windows.push_back(Window { name: name.into(), start: offset, bytes });
        Ok(wanted)
    }

    fn get_range_within(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        self.inner.get_range_within(kind, name, offset, len)
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

    fn lock(&self, mode: LockMode, by: Option<&str>) -> Option<Result<LockGuard, repo::Error>> {
        self.inner.lock(mode, by)
    }

    fn cached_blob(&self, id: &BlobId) -> Option<Vec<u8>> {
        self.inner.cached_blob(id)
    }

    fn keep_blob(&self, id: &BlobId, data: &[u8]) {
        self.inner.keep_blob(id, data)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use super::*;
    use crate::repo::LocalStorage;

    /// A directory that counts the reads reaching it.
    struct Counted {
        inner: LocalStorage,
        reads: AtomicUsize,
    }

    impl Storage for Counted {
        fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()> {
            self.inner.put(kind, name, data)
        }
        fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>> {
            self.inner.get(kind, name)
        }
        fn get_range(&self, k: ObjectKind, n: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
            self.reads.fetch_add(1, Relaxed);
            self.inner.get_range(k, n, offset, len)
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

    #[test]
    fn blobs_read_in_order_cost_a_request_per_window_and_each_read_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalStorage::new(dir.path());
        local.create_layout().unwrap();
        let pack: Vec<u8> = (0..(20u32 << 20)).map(|i| (i % 251) as u8).collect();
        let name = "ab".repeat(32);
        local.put(ObjectKind::Pack, &name, &pack).unwrap();
        let counted = Arc::new(Counted { inner: local, reads: AtomicUsize::new(0) });
        let storage = ReadAhead::new(Arc::clone(&counted) as Arc<dyn Storage>);

        let mut offset = 0u64;
        let mut blobs = 0;
        while offset < pack.len() as u64 {
            let len = (100_000 + blobs * 7919 % 50_000).min(pack.len() - offset as usize) as u64;
            let read = storage.get_range(ObjectKind::Pack, &name, offset, len).unwrap();
            assert_eq!(read, pack[offset as usize..(offset + len) as usize], "at {offset}");
            offset += len;
            blobs += 1;
        }
        // The first blob alone, then 20 MiB in 4 MiB windows: six, each starting where the
        // blob it was read for begins.
        assert_eq!(counted.reads.load(Relaxed), 7, "{blobs} blobs");

        // Out of order, within what the windows hold: no request; past the end: an error.
        let again = storage.get_range(ObjectKind::Pack, &name, 19 << 20, 10).unwrap();
        assert_eq!(again, pack[19 << 20..(19 << 20) + 10]);
        assert_eq!(counted.reads.load(Relaxed), 7);
        let past = storage.get_range(ObjectKind::Pack, &name, (20 << 20) - 5, 10);
        assert_eq!(past.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);

        // Reads here and there in another pack, as of the trees a run reads, get their own
        // bytes.
        let other = "ef".repeat(32);
        counted.put(ObjectKind::Pack, &other, &pack).unwrap();
        let before = counted.reads.load(Relaxed);
        let mut fetched = 0;
        for at in [3u64 << 20, 1 << 20, 7 << 20, 5 << 20] {
            fetched += storage.get_range(ObjectKind::Pack, &other, at, 1000).unwrap().len();
        }
        assert_eq!((counted.reads.load(Relaxed) - before, fetched), (4, 4000));

        // Another kind is read as asked, each time.
        let name = "cd".repeat(32);
        counted.put(ObjectKind::Index, &name, b"0123456789").unwrap();
        let before = counted.reads.load(Relaxed);
        for _ in 0..2 {
            assert_eq!(storage.get_range(ObjectKind::Index, &name, 2, 3).unwrap(), b"234");
        }
        assert_eq!(counted.reads.load(Relaxed), before + 2);
    }
}
