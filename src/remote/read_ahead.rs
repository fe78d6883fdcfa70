//! Reading ahead in the packs of a remote repository: a short read of a pack that goes on from
//! the previous one of that pack (after its start, before its end or close after) fetches
//! [`READ_AHEAD`] from there, kept in a few windows. Restores and checks read a pack's blobs
//! in order, so one request serves the blobs that follow; a request per blob made a restore
//! wait on a round trip per file (4.3 times restic's restore from S3, 5 times a local restore
//! over SSH). A read that does not go on from the previous one gets its own bytes only: the
//! trees a run reads lie here and there among the data, and reading ahead of each made a
//! run with nothing changed 7 times as long.
//!
//! "The previous read of that pack" is remembered for the last [`RECENT`] packs read, not
//! only the last one: the chunks of one file went to the packs of several packers in turn,
//! and a restore reads the dump and the filestore of an archive at once, so reads that go on
//! in their packs come interleaved. The windows least recently read from go first.
//!
//! Everything else goes to the storage unchanged.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use crate::repo::{self, BlobId, LockGuard, LockMode, ObjectKind, Storage};

/// How far a short read of a pack reads ahead.
const READ_AHEAD: u64 = 4 << 20;
/// Windows kept of packs read ahead: two for each of the four writers of `oe mirror restore`,
/// whose files' chunks lie in two packers' packs in turn (at most 32 MiB, within the bound of
/// 256 MiB that a restore over ssh holds to: 6 windows of 8 MiB took it to 290 MiB).
const WINDOWS: usize = 8;
/// How far after the end of the previous read a read still follows on from it (blobs
/// another thread stored in between).
const FOLLOWS_WITHIN: u64 = 1 << 20;
/// Packs whose previous read is remembered.
const RECENT: usize = 8;

pub struct ReadAhead {
    inner: Arc<dyn Storage>,
    /// The windows read ahead, the one read from last at the back.
    windows: Mutex<VecDeque<Window>>,
    /// The last reads the windows did not serve, one per pack, the latest at the back.
    recent: Mutex<VecDeque<LastRead>>,
}

/// Where a read of a pack started, and where it ended (including what it read ahead).
struct LastRead {
    pack: String,
    start: u64,
    end: u64,
}

/// Bytes of a pack from `start` on.
struct Window {
    name: String,
    start: u64,
    bytes: Vec<u8>,
}

impl ReadAhead {
    pub fn new(inner: Arc<dyn Storage>) -> ReadAhead {
        ReadAhead { inner, windows: Mutex::default(), recent: Mutex::default() }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, VecDeque<Window>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a window holds of the `len` bytes at `offset` of the pack `name`: all of them,
    /// their beginning, or nothing. A window read to its end is let go: reads go on in order,
    /// and the windows of other packs are still being read.
    fn windowed(&self, name: &str, offset: u64, len: u64) -> Vec<u8> {
        let mut windows = self.windows();
        let Some(at) = windows.iter().rposition(|w| {
            w.name == name && w.start <= offset && offset < w.start + w.bytes.len() as u64
        }) else {
            return Vec::new();
        };
        let w = windows.remove(at).expect("found just now");
        let from = (offset - w.start) as usize;
        let to = w.bytes.len().min(from + len as usize);
        let held = w.bytes[from..to].to_vec();
        if to < w.bytes.len() {
            windows.push_back(w);
        }
        held
    }

    /// Whether a read of `len` bytes at `offset` of `pack` goes on from the previous read of
    /// that pack (after its start, and not far after its end), as the rest of a read that a
    /// window held the beginning of does; remembers it as that pack's latest, reading ahead
    /// when it goes on.
    fn follows(&self, pack: &str, offset: u64, len: u64, after_window: bool) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let previous = recent.iter().position(|r| r.pack == pack).and_then(|at| recent.remove(at));
        let follows = after_window
            || previous.is_some_and(|r| {
                r.start < offset && offset <= r.end.saturating_add(FOLLOWS_WITHIN)
            });
        if recent.len() == RECENT {
            recent.pop_front();
        }
        let end = offset + if follows { READ_AHEAD } else { len };
        recent.push_back(LastRead { pack: pack.into(), start: offset, end });
        follows
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
        let mut wanted = self.windowed(name, offset, len);
        if wanted.len() as u64 == len {
            return Ok(wanted);
        }
        let (at, rest) = (offset + wanted.len() as u64, len - wanted.len() as u64);
        if !self.follows(name, at, rest, !wanted.is_empty()) {
            return self.inner.get_range(kind, name, offset, len);
        }
        let bytes = self.inner.get_range_within(kind, name, at, READ_AHEAD)?;
        if (bytes.len() as u64) < rest {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("pack {name} ends {} bytes after {at}, before {rest}", bytes.len()),
            ));
        }
        wanted.extend_from_slice(&bytes[..rest as usize]);
        let mut windows = self.windows();
        if windows.len() == WINDOWS {
            windows.pop_front();
        }
        windows.push_back(Window { name: name.into(), start: at, bytes });
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
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    use super::*;
    use crate::repo::counted::Counted;

    /// A read-ahead over a new directory holding `packs` (name, bytes).
    fn counted(packs: &[(&str, &[u8])]) -> (tempfile::TempDir, Arc<Counted>, ReadAhead) {
        let dir = tempfile::tempdir().unwrap();
        let counted = Arc::new(Counted::new(dir.path(), Duration::ZERO));
        counted.inner.create_layout().unwrap();
        for (name, bytes) in packs {
            counted.put(ObjectKind::Pack, name, bytes).unwrap();
        }
        let storage = ReadAhead::new(Arc::clone(&counted) as Arc<dyn Storage>);
        (dir, counted, storage)
    }

    /// Bytes of a pack: a pattern no window shifted by a few bytes would match.
    fn pack_bytes(len: u32) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn blobs_read_in_order_cost_a_request_per_window_and_each_read_is_exact() {
        let pack = pack_bytes(20 << 20);
        let name = "ab".repeat(32);
        let (_dir, counted, storage) = counted(&[(&name, &pack)]);

        // All but the last 2 MiB, blob after blob.
        let mut offset = 0u64;
        let mut blobs = 0;
        while offset < 18 << 20 {
            let len = (100_000 + blobs * 7919 % 50_000).min(pack.len() - offset as usize) as u64;
            let read = storage.get_range(ObjectKind::Pack, &name, offset, len).unwrap();
            assert_eq!(read, pack[offset as usize..(offset + len) as usize], "at {offset}");
            offset += len;
            blobs += 1;
        }
        // The first blob alone, then the rest in 4 MiB windows (the last one up to the end),
        // each from where the one before ended (a blob across the end of one is read in two
        // parts): every byte once.
        assert_eq!(counted.reads.load(Relaxed), 6, "{blobs} blobs");
        assert_eq!(counted.bytes.load(Relaxed), pack.len());

        // Out of order, within what the windows hold: no request; past the end: an error.
        let again = storage.get_range(ObjectKind::Pack, &name, 19 << 20, 10).unwrap();
        assert_eq!(again, pack[19 << 20..(19 << 20) + 10]);
        assert_eq!(counted.reads.load(Relaxed), 6);
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

    #[test]
    fn blobs_of_two_files_in_packs_taken_in_turns_are_read_ahead_in_every_pack() {
        // Two files restored at once (the dump and the filestore of an archive), the chunks
        // of each stored by two packers in turns: four packs, read in turns.
        let packs: Vec<(String, Vec<u8>)> =
            (0..4).map(|i| (format!("{i:02}").repeat(32), pack_bytes(12 << 20))).collect();
        let named: Vec<(&str, &[u8])> =
            packs.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        let (_dir, counted, storage) = counted(&named);

        let blob = 300_000u64;
        for at in 0..(12u64 << 20) / blob {
            for (name, bytes) in &packs {
                let offset = at * blob;
                let read = storage.get_range(ObjectKind::Pack, name, offset, blob).unwrap();
                assert_eq!(read, bytes[offset as usize..(offset + blob) as usize]);
            }
        }
        // Per pack: the first blob alone, then three windows. Each byte once.
        assert_eq!(counted.reads.load(Relaxed), 4 * 4);
        let read = (12 << 20) / blob * blob;
        assert!(counted.bytes.load(Relaxed) as u64 <= 4 * (read + (4 << 20)));
    }
}
