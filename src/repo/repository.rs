//! [`Repository`]: blobs in, blobs out, snapshots, check and prune, over a [`Storage`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::lock::{self, LockGuard, LockMode};
use super::pack::{self, Builder, Compressor, Entry, IndexedPack};
use super::storage::{LocalStorage, ObjectKind, Storage};
use super::{BlobId, BlobKind, Error};

/// The format this code writes: 2 has deltas. It reads 1 and 2, and upgrades a repository of
/// format 1 to 2 before it writes its first delta.
const FORMAT: u64 = 2;
/// Formats this code reads.
const READABLE_FORMATS: [u64; 2] = [1, 2];
/// A run stores a chunk whole rather than as a delta whose chain of bases would be deeper.
pub const MAX_DELTA_DEPTH: u8 = 16;
/// Deepest chain of deltas read (deeper or looping: the repository is corrupt).
const READ_MAX_DEPTH: usize = 64;
/// Decoded blobs kept for the deltas built on them (consecutive chunks share bases).
const CACHE_BYTES: usize = 64 << 20;
/// Blobs of written packs after which a run writes an index file without waiting for its end.
const INDEX_EVERY_BLOBS: usize = 100_000;

#[derive(Serialize, Deserialize)]
struct Config {
    format: u64,
    id: String,
}

/// A repository opened for reading and writing.
pub struct Repository {
    path: PathBuf,
    /// The repository's id, from its config.
    id: String,
    storage: Arc<dyn Storage>,
    state: Mutex<State>,
    cache: Mutex<Cache>,
}

/// Recently decoded bases of deltas, least recently used first.
#[derive(Default)]
struct Cache {
    blobs: VecDeque<(BlobId, Arc<Vec<u8>>)>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

impl Cache {
    fn get(&mut self, id: &BlobId) -> Option<Arc<Vec<u8>>> {
        let Some(at) = self.blobs.iter().position(|(i, _)| i == id) else {
            self.misses += 1;
            return None;
        };
        self.hits += 1;
        let hit = self.blobs.remove(at).expect("a found position");
        let data = Arc::clone(&hit.1);
        self.blobs.push_back(hit);
        Some(data)
    }

    fn insert(&mut self, id: BlobId, data: Arc<Vec<u8>>) {
        if self.blobs.iter().any(|(i, _)| *i == id) {
            return;
        }
        self.bytes += data.len();
        self.blobs.push_back((id, data));
        while self.bytes > CACHE_BYTES || self.blobs.len() > 1024 {
            let (_, old) = self.blobs.pop_front().expect("over budget means not empty");
            self.bytes -= old.len();
        }
    }
}

/// Where a blob is: pack number (into [`State::packs`]) and position.
#[derive(Clone, Copy, Debug)]
struct Location {
    pack: u32,
    /// Packs stay far below 4 GiB: a target of 16 MiB plus at most one blob.
    offset: u32,
    length: u32,
    raw_length: u32,
    kind: BlobKind,
    compressed: bool,
    /// 0 for a plain blob; for a delta, 1 + the largest depth of its bases (in
    /// [`State::bases`]).
    depth: u8,
}

impl Location {
    fn new(pack: u32, e: &Entry) -> Location {
        Location {
            pack,
            offset: e.offset as u32,
            length: e.length as u32,
            raw_length: e.raw_length as u32,
            kind: e.kind,
            compressed: e.compressed,
            depth: 0,
        }
    }
}

/// A pack filled by [`Repository::store_blob`], to be written by
/// [`Repository::write_full_pack`].
pub struct FullPack(Finished);

/// A pack closed by [`Repository::finish_current`], to be written.
struct Finished {
    number: u32,
    name: String,
    bytes: Arc<Vec<u8>>,
    entries: Vec<Entry>,
}

enum Slot {
    /// In storage under this name.
    Stored(String),
    /// Finished, being written: its bytes.
    Writing(Arc<Vec<u8>>),
    /// The pack being filled.
    Building,
}

#[derive(Default)]
struct State {
    /// The format of the repository's config.
    format: u64,
    index: HashMap<BlobId, Location>,
    /// The bases of the deltas of `index`.
    bases: HashMap<BlobId, Box<[BlobId]>>,
    packs: Vec<Slot>,
    /// The pack being filled and its number.
    current: Option<(u32, Builder)>,
    /// Packs written or recovered that no index file lists yet.
    unindexed: Vec<IndexedPack>,
    /// Index files in storage.
    index_files: Vec<String>,
    /// Index files that did not decode (reported by `check`).
    bad_index_files: Vec<String>,
}

impl State {
    fn add_pack(&mut self, name: String, entries: &[Entry]) -> u32 {
        let number = self.packs.len() as u32;
        self.packs.push(Slot::Stored(name));
        for e in entries {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.index.entry(e.id) {
                slot.insert(Location::new(number, e));
                if !e.base.is_empty() {
                    self.bases.insert(e.id, e.base.clone().into_boxed_slice());
                }
            }
        }
        number
    }

    /// The pack entry of an indexed blob.
    fn entry(&self, id: BlobId, l: &Location) -> Entry {
        Entry {
            id,
            kind: l.kind,
            offset: u64::from(l.offset),
            length: u64::from(l.length),
            raw_length: u64::from(l.raw_length),
            compressed: l.compressed,
            base: self.bases.get(&id).map(|b| b.to_vec()).unwrap_or_default(),
        }
    }

    /// Sets the depth of every delta (its bases may be listed in any pack, in any order).
    fn resolve_depths(&mut self) {
        let mut memo: HashMap<BlobId, u8> = HashMap::new();
        let deltas: Vec<BlobId> = self.bases.keys().copied().collect();
        for id in deltas {
            let depth = self.depth(id, &mut memo, 0);
            if let Some(l) = self.index.get_mut(&id) {
                l.depth = depth;
            }
        }
    }

    fn depth(&self, id: BlobId, memo: &mut HashMap<BlobId, u8>, hops: usize) -> u8 {
        let Some(bases) = self.bases.get(&id) else { return 0 };
        if let Some(&depth) = memo.get(&id) {
            return depth;
        }
        if hops > READ_MAX_DEPTH {
            return u8::MAX;
        }
        let below = bases.iter().map(|b| self.depth(*b, memo, hops + 1)).max().unwrap_or(0);
        let depth = below.saturating_add(1);
        memo.insert(id, depth);
        depth
    }

    /// Whether a blob cannot be read because it, or a base of it (transitively), is in
    /// `lost` or not indexed at all.
    fn lost(&self, id: BlobId, lost: &HashSet<BlobId>, memo: &mut HashMap<BlobId, bool>) -> bool {
        self.lost_below(id, lost, memo, 0)
    }

    fn lost_below(
        &self,
        id: BlobId,
        lost: &HashSet<BlobId>,
        memo: &mut HashMap<BlobId, bool>,
        hops: usize,
    ) -> bool {
        if lost.contains(&id) || !self.index.contains_key(&id) {
            return true;
        }
        let Some(bases) = self.bases.get(&id) else { return false };
        if let Some(&known) = memo.get(&id) {
            return known;
        }
        let answer = hops > READ_MAX_DEPTH
            || bases.iter().any(|b| self.lost_below(*b, lost, memo, hops + 1));
        memo.insert(id, answer);
        answer
    }
}

/// What [`Repository::check`] found.
#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    pub packs: usize,
    pub blobs: usize,
    pub problems: Vec<String>,
    pub damaged: Vec<DamagedPack>,
}

/// A pack that is missing or holds blobs that do not read back.
#[derive(Debug, Serialize)]
pub struct DamagedPack {
    pub pack: String,
    pub reason: String,
    /// The blobs lost with it.
    pub blobs: Vec<BlobId>,
}

/// What [`Repository::prune`] would do.
#[derive(Debug, Default, Serialize)]
pub struct PrunePlan {
    /// Packs with no used blob.
    pub delete: Vec<String>,
    /// Packs of which at least a fifth is unused: their used blobs move to new packs.
    pub repack: Vec<String>,
    pub unused_blobs: u64,
    /// Stored bytes of the unused blobs.
    pub unused_bytes: u64,
    /// Stored bytes of the used blobs that repacking copies.
    pub copy_bytes: u64,
    /// Packs kept as they are.
    pub keep: usize,
    /// The blobs to keep, as given.
    #[serde(skip)]
    used: HashSet<BlobId>,
}

impl fmt::Display for PrunePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} unused blobs ({}): delete {} packs, repack {} (copying {}), keep {}",
            self.unused_blobs,
            crate::pipeline::meter::bytes(self.unused_bytes),
            self.delete.len(),
            self.repack.len(),
            crate::pipeline::meter::bytes(self.copy_bytes),
            self.keep
        )
    }
}

#[derive(Debug, Default, Serialize)]
pub struct PruneStats {
    pub packs_deleted: usize,
    pub packs_written: usize,
    pub bytes_freed: u64,
}

/// Size of a repository.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub packs: usize,
    pub blobs: usize,
    pub stored_bytes: u64,
}

impl Repository {
    /// Creates an empty repository at `path` (a missing or empty directory).
    pub fn init(path: &Path) -> Result<Repository, Error> {
        match std::fs::read_dir(path).map(|mut entries| entries.next().is_some()) {
            Ok(true) => return Err(Error::NotEmpty { path: path.into() }),
            Ok(false) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(path)
                    .map_err(Error::io(format!("creating {}", path.display())))?;
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()))(e)),
        }
        let storage = LocalStorage::new(path);
        storage.create_layout().map_err(Error::io(format!("creating {}", path.display())))?;
        let mut id = [0u8; 32];
        getrandom(&mut id);
        let config = Config { format: FORMAT, id: BlobId(id).to_string() };
        storage
            .put(
                ObjectKind::Config,
                "config",
                &serde_json::to_vec_pretty(&config).expect("config encodes"),
            )
            .map_err(Error::io("writing the repository config"))?;
        Repository::open(path)
    }

    /// Opens the repository at `path`: reads its index files, and recovers the packs that no
    /// index lists from their own headers.
    pub fn open(path: &Path) -> Result<Repository, Error> {
        let storage: Arc<dyn Storage> = Arc::new(LocalStorage::new(path));
        let config = match storage.get(ObjectKind::Config, "config") {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotARepository { path: path.into() });
            }
            Err(e) => return Err(Error::io(format!("reading {}/config", path.display()))(e)),
        };
        let config: Config = serde_json::from_slice(&config).map_err(|e| Error::Corrupt {
            what: format!("{}/config does not decode: {e}", path.display()),
        })?;
        if !READABLE_FORMATS.contains(&config.format) {
            return Err(Error::UnknownFormat { path: path.into(), format: config.format });
        }

        let mut state = State { format: config.format, ..State::default() };
        let mut known: HashSet<String> = HashSet::new();
        for name in storage.list(ObjectKind::Index).map_err(Error::io("listing index files"))? {
            let bytes = storage
                .get(ObjectKind::Index, &name)
                .map_err(Error::io(format!("reading index {name}")))?;
            match pack::decode_index(&bytes, &name) {
                Ok(packs) => {
                    for p in packs {
                        if known.insert(p.pack.clone()) {
                            state.add_pack(p.pack, &p.blobs);
                        }
                    }
                    state.index_files.push(name);
                }
                Err(e) => {
                    tracing::warn!("{e}; its packs are read from their headers instead");
                    state.bad_index_files.push(name);
                }
            }
        }
        let repo = Repository {
            path: path.into(),
            id: config.id,
            storage,
            state: Mutex::new(State::default()),
            cache: Mutex::new(Cache::default()),
        };
        for name in repo.storage.list(ObjectKind::Pack).map_err(Error::io("listing packs"))? {
            if known.contains(&name) {
                continue;
            }
            match repo.read_header(&name) {
                Ok(entries) => {
                    tracing::info!(
                        "recovered pack {name} ({} blobs) that no index lists",
                        entries.len()
                    );
                    state.add_pack(name.clone(), &entries);
                    state.unindexed.push(IndexedPack { pack: name, blobs: entries });
                }
                Err(e) => tracing::warn!("ignoring pack {name}: {e}"),
            }
        }
        state.resolve_depths();
        *repo.lock_state() = state;
        Ok(repo)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes a lock on the repository: [`LockMode::Shared`] for readers, exclusive for
    /// writers.
    pub fn lock(&self, mode: LockMode) -> Result<LockGuard, Error> {
        lock::acquire(Arc::clone(&self.storage), &self.path, mode)
    }

    fn lock_cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn has_blob(&self, id: &BlobId) -> bool {
        self.lock_state().index.contains_key(id)
    }

    /// Uncompressed size of a blob.
    pub fn blob_size(&self, id: &BlobId) -> Option<u64> {
        self.lock_state().index.get(id).map(|l| u64::from(l.raw_length))
    }

    /// Stores a blob unless the repository has it; returns its id and whether it was new.
    /// Callable from several threads: hashing and compression run on the caller's thread.
    pub fn put_blob(&self, kind: BlobKind, data: &[u8]) -> Result<(BlobId, bool), Error> {
        self.put_blob_near(kind, data, &[])
    }

    /// [`put_blob`](Self::put_blob), storing a new blob as a delta against the blobs
    /// `reference` (concatenated) when that is smaller than storing it whole and their chain
    /// of deltas stays within [`MAX_DELTA_DEPTH`]. A delta under 1/64 of the blob is taken
    /// without compressing the blob plainly to compare: that would double the cost of the
    /// common case for at most 1/64 of a blob. A reference that cannot be read only means the
    /// blob is stored whole.
    pub fn put_blob_near(
        &self,
        kind: BlobKind,
        data: &[u8],
        reference: &[BlobId],
    ) -> Result<(BlobId, bool), Error> {
        let (id, new, full) = self.store_blob(&mut Compressor::new(), kind, data, reference)?;
        if let Some(full) = full {
            self.write_full_pack(full)?;
        }
        Ok((id, new))
    }

    /// [`put_blob_near`](Self::put_blob_near) with the caller's compressor, for a thread
    /// that stores many blobs. A pack this fills is returned, to be written with
    /// [`write_full_pack`](Self::write_full_pack) (on another thread, so that storing goes on
    /// meanwhile); its blobs are readable and deduplicated against until then, and
    /// [`flush`](Self::flush) must wait for it to be written.
    pub fn store_blob(
        &self,
        compressor: &mut Compressor,
        kind: BlobKind,
        data: &[u8],
        reference: &[BlobId],
    ) -> Result<(BlobId, bool, Option<FullPack>), Error> {
        let id = BlobId::of(data);
        if self.has_blob(&id) {
            return Ok((id, false, None));
        }
        // A delta of less than 1/64 of the blob is taken without trying plain compression,
        // which rarely does as well (and costs as much again); a larger one must beat it.
        let delta = self.delta(data, reference);
        let (stored, compressed, base, depth) = match delta {
            Some((delta, depth)) if delta.len() < data.len() / 64 => {
                (delta, true, reference.to_vec(), depth)
            }
            delta => {
                let (plain, compressed) = compressor.compress(data);
                match delta {
                    Some((delta, depth)) if delta.len() < plain.len() => {
                        (delta, true, reference.to_vec(), depth)
                    }
                    _ => (plain, compressed, Vec::new(), 0),
                }
            }
        };
        if !base.is_empty() {
            self.upgrade_format()?;
        }
        let full = {
            let mut state = self.lock_state();
            if state.index.contains_key(&id) {
                return Ok((id, false, None));
            }
            if state.current.is_none() {
                let number = state.packs.len() as u32;
                state.packs.push(Slot::Building);
                state.current = Some((number, Builder::default()));
            }
            let (number, builder) = state.current.as_mut().expect("just made");
            let number = *number;
            let entry = builder.push(id, kind, &stored, data.len(), compressed, base);
            let full = builder.data.len() >= pack::TARGET_SIZE;
            state.index.insert(id, Location { depth, ..Location::new(number, &entry) });
            if !entry.base.is_empty() {
                state.bases.insert(id, entry.base.into_boxed_slice());
            }
            full.then(|| Self::finish_current(&mut state)).flatten()
        };
        Ok((id, true, full.map(FullPack)))
    }

    /// Writes a pack [`store_blob`](Self::store_blob) filled (durably, as every object). On
    /// failure its blobs are forgotten, so that nothing stored later refers to them.
    pub fn write_full_pack(&self, FullPack(finished): FullPack) -> Result<(), Error> {
        self.write_pack(finished)
    }

    /// `data` compressed against the bytes of `reference`, with its depth, when the chain
    /// stays within [`MAX_DELTA_DEPTH`] and the references read back.
    fn delta(&self, data: &[u8], reference: &[BlobId]) -> Option<(Vec<u8>, u8)> {
        if reference.is_empty() {
            return None;
        }
        let mut depth = 0;
        let mut prefix_length = 0usize;
        {
            let state = self.lock_state();
            for b in reference {
                let l = state.index.get(b)?;
                depth = depth.max(l.depth);
                prefix_length += l.raw_length as usize;
            }
        }
        let depth = depth + 1;
        let window = 1usize << pack::DELTA_WINDOW_LOG;
        if depth > MAX_DELTA_DEPTH || prefix_length + data.len() > window {
            return None;
        }
        let prefix = match self.concat(reference, 0) {
            Ok(prefix) => prefix,
            Err(e) => {
                tracing::warn!("storing a blob whole: a reference is unreadable: {e}");
                return None;
            }
        };
        pack::compress_delta(data, &prefix, usize::MAX).map(|delta| (delta, depth))
    }

    /// Makes the repository's format the one that has deltas, before the first is written.
    fn upgrade_format(&self) -> Result<(), Error> {
        let mut state = self.lock_state();
        if state.format >= FORMAT {
            return Ok(());
        }
        let config = Config { format: FORMAT, id: self.id.clone() };
        self.storage
            .put(
                ObjectKind::Config,
                "config",
                &serde_json::to_vec_pretty(&config).expect("config encodes"),
            )
            .map_err(Error::io("upgrading the repository config to format 2"))?;
        tracing::info!("repository upgraded to format {FORMAT} (deltas): older oe cannot read it");
        state.format = FORMAT;
        Ok(())
    }

    /// Closes the pack being filled: its bytes stay readable while it is written.
    fn finish_current(state: &mut State) -> Option<Finished> {
        let (number, builder) = state.current.take()?;
        let (name, bytes, entries) = builder.finish();
        let bytes = Arc::new(bytes);
        state.packs[number as usize] = Slot::Writing(Arc::clone(&bytes));
        Some(Finished { number, name, bytes, entries })
    }

    fn write_pack(&self, Finished { number, name, bytes, entries }: Finished) -> Result<(), Error> {
        let written = self.storage.put(ObjectKind::Pack, &name, &bytes);
        let mut state = self.lock_state();
        match written {
            Ok(()) => {
                state.packs[number as usize] = Slot::Stored(name.clone());
                state.unindexed.push(IndexedPack { pack: name, blobs: entries });
                let pending: usize = state.unindexed.iter().map(|p| p.blobs.len()).sum();
                drop(state);
                // An index file every so many blobs keeps memory bounded on trees of
                // millions of small files (and spares the next run some recovery).
                if pending >= INDEX_EVERY_BLOBS { self.write_pending_index() } else { Ok(()) }
            }
            Err(e) => {
                Self::forget(&mut state, number, &entries);
                Err(Error::io(format!("writing pack {name}"))(e))
            }
        }
    }

    /// Forgets the blobs of a pack [`store_blob`](Self::store_blob) filled that will not be
    /// written (the writer stopped on an error), so that nothing stored later refers to them.
    pub fn abandon_full_pack(&self, FullPack(finished): FullPack) {
        Self::forget(&mut self.lock_state(), finished.number, &finished.entries);
    }

    /// A pack's blobs are not stored: forget them, so that nothing refers to them.
    fn forget(state: &mut State, number: u32, entries: &[Entry]) {
        for entry in entries {
            if state.index.get(&entry.id).is_some_and(|l| l.pack == number) {
                state.index.remove(&entry.id);
                state.bases.remove(&entry.id);
            }
        }
        state.packs[number as usize] = Slot::Writing(Arc::default());
    }

    /// Writes the pack being filled, then one index file listing every pack not yet in one:
    /// afterwards everything stored so far is durable and indexed.
    pub fn flush(&self) -> Result<(), Error> {
        let finished = Self::finish_current(&mut self.lock_state());
        if let Some(finished) = finished {
            self.write_pack(finished)?;
        }
        self.write_pending_index()
    }

    /// Writes an index file of the packs no index file lists yet.
    fn write_pending_index(&self) -> Result<(), Error> {
        let unindexed = std::mem::take(&mut self.lock_state().unindexed);
        if unindexed.is_empty() {
            return Ok(());
        }
        match self.write_index(&unindexed) {
            Ok(name) => {
                self.lock_state().index_files.push(name);
                Ok(())
            }
            Err(e) => {
                self.lock_state().unindexed.extend(unindexed);
                Err(e)
            }
        }
    }

    fn write_index(&self, packs: &[IndexedPack]) -> Result<String, Error> {
        let bytes = pack::encode_index(packs);
        let name = blake3::hash(&bytes).to_hex().to_string();
        self.storage
            .put(ObjectKind::Index, &name, &bytes)
            .map_err(Error::io(format!("writing index {name}")))?;
        Ok(name)
    }

    /// A blob's bytes, checked against its id; a delta is decoded from its bases.
    pub fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, Error> {
        if let Some(data) = self.cached(id) {
            return Ok(data.to_vec());
        }
        self.read_blob(id, 0)
    }

    fn cached(&self, id: &BlobId) -> Option<Arc<Vec<u8>>> {
        self.lock_cache().get(id)
    }

    /// The bytes of a base of a delta `hops` deep in a chain, through the cache.
    fn base_bytes(&self, id: &BlobId, hops: usize) -> Result<Arc<Vec<u8>>, Error> {
        if let Some(data) = self.cached(id) {
            return Ok(data);
        }
        let data = Arc::new(self.read_blob(id, hops)?);
        self.lock_cache().insert(*id, Arc::clone(&data));
        Ok(data)
    }

    /// The concatenated bytes of the bases of `entry` (empty for a plain blob).
    fn prefix(&self, entry: &Entry, hops: usize) -> Result<Arc<Vec<u8>>, Error> {
        if entry.base.is_empty() {
            return Ok(Arc::default());
        }
        if hops >= READ_MAX_DEPTH {
            return Err(Error::Corrupt {
                what: format!("blob {}: its chain of deltas is too deep or loops", entry.id),
            });
        }
        self.concat(&entry.base, hops + 1)
    }

    /// The bytes of `bases` one after the other: a single base's bytes are shared, not
    /// copied.
    fn concat(&self, bases: &[BlobId], hops: usize) -> Result<Arc<Vec<u8>>, Error> {
        if let [only] = bases {
            return self.base_bytes(only, hops);
        }
        // Every base first, then one buffer: a chain being decoded holds no half-built
        // prefixes, only bases (which the cache holds anyway).
        let parts =
            bases.iter().map(|b| self.base_bytes(b, hops)).collect::<Result<Vec<_>, _>>()?;
        let mut prefix = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in &parts {
            prefix.extend_from_slice(part);
        }
        Ok(Arc::new(prefix))
    }

    fn read_blob(&self, id: &BlobId, hops: usize) -> Result<Vec<u8>, Error> {
        let (entry, source) = {
            let state = self.lock_state();
            let location = *state.index.get(id).ok_or(Error::MissingBlob { id: *id })?;
            let source = match &state.packs[location.pack as usize] {
                Slot::Stored(name) => Ok(name.clone()),
                Slot::Writing(bytes) => Err(slice(bytes, &location).to_vec()),
                Slot::Building => {
                    let (_, builder) =
                        state.current.as_ref().expect("a building slot has a builder");
                    Err(slice(&builder.data, &location).to_vec())
                }
            };
            (state.entry(*id, &location), source)
        };
        let prefix = self.prefix(&entry, hops)?;
        match source {
            Ok(name) => {
                let stored = self
                    .storage
                    .get_range(ObjectKind::Pack, &name, entry.offset, entry.length)
                    .map_err(Error::io(format!("reading blob {id} from pack {name}")))?;
                pack::unpack(&entry, &stored, &prefix, &name)
            }
            Err(stored) => pack::unpack(&entry, &stored, &prefix, "(being written)"),
        }
    }

    /// The header of a stored pack.
    fn read_header(&self, name: &str) -> Result<Vec<Entry>, Error> {
        let read = |offset, len| {
            self.storage
                .get_range(ObjectKind::Pack, name, offset, len)
                .map_err(Error::io(format!("reading pack {name}")))
        };
        let size = self
            .storage
            .size(ObjectKind::Pack, name)
            .map_err(Error::io(format!("reading pack {name}")))?;
        let trailer = pack::TRAILER as u64;
        if size < trailer {
            return Err(Error::Corrupt { what: format!("pack {name} is too short") });
        }
        let header_length = pack::header_length(&read(size - trailer, trailer)?, name)?;
        let data_length = size.checked_sub(trailer + header_length).ok_or_else(|| {
            Error::Corrupt { what: format!("pack {name}: header longer than the pack") }
        })?;
        pack::decode_header(&read(data_length, header_length)?, data_length, name)
    }

    /// Stores a snapshot (after [`flush`](Self::flush)); returns its id.
    pub fn put_snapshot(&self, json: &[u8]) -> Result<String, Error> {
        let id = blake3::hash(json).to_hex().to_string();
        self.storage
            .put(ObjectKind::Snapshot, &id, json)
            .map_err(Error::io("writing the snapshot"))?;
        Ok(id)
    }

    /// Every snapshot: id and bytes.
    pub fn snapshots(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let names =
            self.storage.list(ObjectKind::Snapshot).map_err(Error::io("listing snapshots"))?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let bytes = self
                .storage
                .get(ObjectKind::Snapshot, &name)
                .map_err(Error::io(format!("reading snapshot {name}")))?;
            out.push((name, bytes));
        }
        Ok(out)
    }

    pub fn delete_snapshot(&self, id: &str) -> Result<(), Error> {
        self.storage
            .delete(ObjectKind::Snapshot, id)
            .map_err(Error::io(format!("deleting snapshot {id}")))
    }

    pub fn stats(&self) -> Stats {
        let state = self.lock_state();
        Stats {
            packs: state.packs.len(),
            blobs: state.index.len(),
            stored_bytes: state.index.values().map(|l| u64::from(l.length)).sum(),
        }
    }

    /// Blobs by stored pack name, from the index.
    fn blobs_by_pack(&self) -> Vec<(String, Vec<Entry>)> {
        let state = self.lock_state();
        let mut by_pack: HashMap<u32, Vec<Entry>> = HashMap::new();
        for (id, location) in &state.index {
            by_pack.entry(location.pack).or_default().push(state.entry(*id, location));
        }
        let mut out: Vec<(String, Vec<Entry>)> = by_pack
            .into_iter()
            .filter_map(|(number, mut entries)| match &state.packs[number as usize] {
                Slot::Stored(name) => {
                    entries.sort_by_key(|e| e.offset);
                    Some((name.clone(), entries))
                }
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Checks that every indexed pack exists and its header agrees with the index; with
    /// `read_data`, also reads every pack, checks its name and every blob's hash.
    pub fn check(&self, read_data: bool) -> Result<CheckReport, Error> {
        let mut report = CheckReport::default();
        for name in &self.lock_state().bad_index_files {
            report.problems.push(format!(
                "index {name} does not decode (its packs were read from their headers)"
            ));
        }
        let present: HashSet<String> = self
            .storage
            .list(ObjectKind::Pack)
            .map_err(Error::io("listing packs"))?
            .into_iter()
            .collect();
        let by_pack = self.blobs_by_pack();
        // Deltas to read after the packs, in their pack.
        let mut deltas: Vec<(&str, &Entry)> = Vec::new();
        for (pack_name, entries) in &by_pack {
            let name = pack_name.clone();
            report.packs += 1;
            report.blobs += entries.len();
            let damaged = |reason: String, blobs: Vec<BlobId>| DamagedPack {
                pack: name.clone(),
                reason,
                blobs,
            };
            let all = || entries.iter().map(|e| e.id).collect::<Vec<_>>();
            if !present.contains(&name) {
                report.damaged.push(damaged("missing".into(), all()));
                continue;
            }
            if !read_data {
                match self.read_header(&name) {
                    Ok(header) => {
                        let header: HashSet<(BlobId, u64, u64)> =
                            header.iter().map(|e| (e.id, e.offset, e.length)).collect();
                        let disagree: Vec<BlobId> = entries
                            .iter()
                            .filter(|e| !header.contains(&(e.id, e.offset, e.length)))
                            .map(|e| e.id)
                            .collect();
                        if !disagree.is_empty() {
                            report.damaged.push(damaged(
                                "its header disagrees with the index".into(),
                                disagree,
                            ));
                        }
                    }
                    Err(e) => report.damaged.push(damaged(e.to_string(), all())),
                }
                continue;
            }
            let bytes = match self.storage.get(ObjectKind::Pack, &name) {
                Ok(bytes) => bytes,
                Err(e) => {
                    report.damaged.push(damaged(format!("unreadable: {e}"), all()));
                    continue;
                }
            };
            let mut bad = Vec::new();
            for entry in entries {
                let end = entry.offset.saturating_add(entry.length);
                let Some(stored) = bytes.get(entry.offset as usize..end as usize) else {
                    bad.push(entry.id);
                    continue;
                };
                if !entry.base.is_empty() {
                    deltas.push((pack_name.as_str(), entry));
                } else if pack::unpack(entry, stored, &[], &name).is_err() {
                    bad.push(entry.id);
                }
            }
            let named_right = blake3::hash(&bytes).to_hex().as_str() == name;
            if !bad.is_empty() {
                let reason =
                    format!("{} of its {} blobs do not read back", bad.len(), entries.len());
                report.damaged.push(damaged(reason, bad));
            } else if !named_right {
                report.problems.push(format!(
                    "pack {name}: its bytes do not match its name (its blobs read back)"
                ));
            }
        }
        let unverified = self.check_delta_data(deltas, &mut report);
        self.check_deltas(&by_pack, unverified, &mut report);
        Ok(report)
    }

    /// Reads back `deltas`, reporting those whose own bytes are damaged; returns those of
    /// which a base did not read back, and why. They are read in an order in which the bases
    /// of each were mostly just read (kept in the cache): by the plain blob their first bases
    /// lead to, then by depth. Each is then decoded about once, instead of its whole chain
    /// each time.
    fn check_delta_data(
        &self,
        mut deltas: Vec<(&str, &Entry)>,
        report: &mut CheckReport,
    ) -> Vec<(String, BlobId, Error)> {
        {
            let state = self.lock_state();
            let key = |id: &BlobId| {
                let mut root = *id;
                for _ in 0..READ_MAX_DEPTH {
                    match state.bases.get(&root) {
                        Some(bases) if state.index.contains_key(&bases[0]) => root = bases[0],
                        _ => break,
                    }
                }
                let at = |id: &BlobId| state.index.get(id).map(|l| (l.pack, l.offset));
                let depth = state.index.get(id).map(|l| l.depth);
                (at(&root), depth, at(id))
            };
            deltas.sort_by_cached_key(|(_, e)| key(&e.id));
        }
        let mut unverified = Vec::new();
        let mut bad: Vec<(&str, Vec<BlobId>)> = Vec::new();
        for (name, entry) in deltas {
            let prefix = match self.prefix(entry, 0) {
                Ok(prefix) => prefix,
                Err(e) => {
                    unverified.push((name.to_owned(), entry.id, e));
                    continue;
                }
            };
            let data = self
                .storage
                .get_range(ObjectKind::Pack, name, entry.offset, entry.length)
                .ok()
                .and_then(|stored| pack::unpack(entry, &stored, &prefix, name).ok());
            match data {
                Some(data) => self.lock_cache().insert(entry.id, Arc::new(data)),
                None => match bad.iter_mut().find(|(pack, _)| *pack == name) {
                    Some((_, blobs)) => blobs.push(entry.id),
                    None => bad.push((name, vec![entry.id])),
                },
            }
        }
        for (name, blobs) in bad {
            report.damaged.push(DamagedPack {
                pack: name.to_owned(),
                reason: format!("{} of its deltas do not read back", blobs.len()),
                blobs,
            });
        }
        unverified
    }

    /// Adds to `report` the deltas whose chain of bases reaches a damaged or missing blob,
    /// and the `unverified` ones (a base did not read back) for another reason.
    fn check_deltas(
        &self,
        by_pack: &[(String, Vec<Entry>)],
        unverified: Vec<(String, BlobId, Error)>,
        report: &mut CheckReport,
    ) {
        let lost: HashSet<BlobId> =
            report.damaged.iter().flat_map(|d| d.blobs.iter().copied()).collect();
        let state = self.lock_state();
        let mut memo = HashMap::new();
        let mut found: HashSet<BlobId> = HashSet::new();
        for (name, entries) in by_pack {
            let blobs: Vec<BlobId> = entries
                .iter()
                .filter(|e| !e.base.is_empty() && !lost.contains(&e.id))
                .filter(|e| e.base.iter().any(|b| state.lost(*b, &lost, &mut memo)))
                .map(|e| e.id)
                .collect();
            if !blobs.is_empty() {
                found.extend(&blobs);
                report.damaged.push(DamagedPack {
                    pack: name.clone(),
                    reason: format!(
                        "{} of its blobs are deltas of damaged or missing blobs",
                        blobs.len()
                    ),
                    blobs,
                });
            }
        }
        for (pack, id, e) in unverified {
            if !found.contains(&id) && !lost.contains(&id) {
                report.damaged.push(DamagedPack {
                    pack,
                    reason: format!("a base of delta {id} does not read back: {e}"),
                    blobs: vec![id],
                });
            }
        }
    }

    /// Which packs to delete and which to repack so that only `used` blobs remain.
    /// The bases of used deltas are used too, transitively.
    pub fn prune_plan(&self, used: &HashSet<BlobId>) -> Result<PrunePlan, Error> {
        let used = &self.with_bases(used);
        let mut plan = PrunePlan { used: used.clone(), ..PrunePlan::default() };
        for (name, entries) in self.blobs_by_pack() {
            let (mut used_bytes, mut unused_bytes, mut unused) = (0u64, 0u64, 0u64);
            for e in &entries {
                if used.contains(&e.id) {
                    used_bytes += e.length;
                } else {
                    unused_bytes += e.length;
                    unused += 1;
                }
            }
            plan.unused_blobs += unused;
            plan.unused_bytes += unused_bytes;
            if used_bytes == 0 && unused > 0 {
                plan.delete.push(name);
            } else if unused_bytes > 0 && unused_bytes * 5 >= used_bytes + unused_bytes {
                plan.copy_bytes += used_bytes;
                plan.repack.push(name);
            } else {
                plan.keep += 1;
            }
        }
        Ok(plan)
    }

    /// `used` and, transitively, the bases of the deltas in it.
    fn with_bases(&self, used: &HashSet<BlobId>) -> HashSet<BlobId> {
        let state = self.lock_state();
        let mut all = used.clone();
        let mut todo: Vec<BlobId> = used.iter().copied().collect();
        while let Some(id) = todo.pop() {
            for b in state.bases.get(&id).into_iter().flatten() {
                if all.insert(*b) {
                    todo.push(*b);
                }
            }
        }
        all
    }

    /// Carries out `plan` (made by [`prune_plan`](Self::prune_plan)):
    /// new packs for the used blobs of repacked packs, one index of everything kept, then
    /// the old index files and packs go. Killed at any point, every used blob stays
    /// reachable (see the crash-safety notes of the module). Open the repository again
    /// before using it further.
    pub fn prune(&self, plan: &PrunePlan) -> Result<PruneStats, Error> {
        let used = &plan.used;
        let mut stats = PruneStats::default();
        let gone: HashSet<&String> = plan.delete.iter().chain(&plan.repack).collect();
        let by_pack = self.blobs_by_pack();
        let mut new_packs: Vec<IndexedPack> = Vec::new();
        let mut builder = Builder::default();
        let write = |builder: Builder, new_packs: &mut Vec<IndexedPack>| -> Result<(), Error> {
            let (name, bytes, entries) = builder.finish();
            self.storage
                .put(ObjectKind::Pack, &name, &bytes)
                .map_err(Error::io(format!("writing pack {name}")))?;
            new_packs.push(IndexedPack { pack: name, blobs: entries });
            Ok(())
        };
        for (name, entries) in by_pack.iter().filter(|(name, _)| plan.repack.contains(name)) {
            let bytes = self
                .storage
                .get(ObjectKind::Pack, name)
                .map_err(Error::io(format!("reading pack {name}")))?;
            for entry in entries.iter().filter(|e| used.contains(&e.id)) {
                let stored = bytes
                    .get(entry.offset as usize..(entry.offset + entry.length) as usize)
                    .ok_or_else(|| Error::Corrupt {
                        what: format!("pack {name} is shorter than its index says"),
                    })?;
                pack::unpack(entry, stored, &self.prefix(entry, 0)?, name)?;
                builder.push(
                    entry.id,
                    entry.kind,
                    stored,
                    entry.raw_length as usize,
                    entry.compressed,
                    entry.base.clone(),
                );
                if builder.data.len() >= pack::TARGET_SIZE {
                    write(std::mem::take(&mut builder), &mut new_packs)?;
                }
            }
        }
        if !builder.entries.is_empty() {
            write(builder, &mut new_packs)?;
        }
        stats.packs_written = new_packs.len();

        let mut index: Vec<IndexedPack> = by_pack
            .into_iter()
            .filter(|(name, _)| !gone.contains(name))
            .map(|(pack, blobs)| IndexedPack { pack, blobs })
            .collect();
        index.extend(new_packs);
        let new_index = self.write_index(&index)?;
        let old_indexes: Vec<String> = self.lock_state().index_files.clone();
        let bad_indexes: Vec<String> = self.lock_state().bad_index_files.clone();
        for name in old_indexes.iter().chain(&bad_indexes).filter(|n| **n != new_index) {
            self.storage
                .delete(ObjectKind::Index, name)
                .map_err(Error::io(format!("deleting index {name}")))?;
        }
        for name in gone {
            stats.bytes_freed += self.storage.size(ObjectKind::Pack, name).unwrap_or(0);
            self.storage
                .delete(ObjectKind::Pack, name)
                .map_err(Error::io(format!("deleting pack {name}")))?;
            stats.packs_deleted += 1;
        }
        Ok(stats)
    }
}

impl Drop for Repository {
    fn drop(&mut self) {
        let cache = self.lock_cache();
        if cache.hits + cache.misses > 0 {
            tracing::debug!(
                "cache of delta bases: {} hits, {} misses, {} bytes held",
                cache.hits,
                cache.misses,
                cache.bytes
            );
        }
    }
}

fn slice<'a>(bytes: &'a [u8], location: &Location) -> &'a [u8] {
    let start = location.offset as usize;
    &bytes[start..start + location.length as usize]
}

/// Random bytes from the kernel.
fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    let seed = blake3::hash(
        format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes(),
    );
    buf.copy_from_slice(&seed.as_bytes()[..buf.len()]);
}

/// This machine's name, for locks and snapshots.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    fn repo() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let repo = Repository::init(&path).unwrap();
        (dir, repo)
    }

    #[test]
    fn init_refuses_a_non_empty_directory_and_open_a_non_repository() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), b"x").unwrap();
        assert!(matches!(Repository::init(dir.path()), Err(Error::NotEmpty { .. })));
        assert!(matches!(Repository::open(dir.path()), Err(Error::NotARepository { .. })));
    }

    #[test]
    fn blobs_are_stored_once_and_read_back_after_reopening() {
        let (dir, repo) = repo();
        let a = noise(1, 3 << 20);
        let b = b"tree ".repeat(10_000);
        let (ida, new) = repo.put_blob(BlobKind::Data, &a).unwrap();
        assert!(new);
        assert!(!repo.put_blob(BlobKind::Data, &a).unwrap().1, "stored twice");
        let (idb, _) = repo.put_blob(BlobKind::Tree, &b).unwrap();
        assert_eq!(repo.get_blob(&ida).unwrap(), a, "read back from the pack being built");
        repo.flush().unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        assert_eq!(repo.get_blob(&ida).unwrap(), a);
        assert_eq!(repo.get_blob(&idb).unwrap(), b);
        assert_eq!(repo.blob_size(&idb), Some(b.len() as u64));
        assert!(repo.stats().stored_bytes < (a.len() + b.len() / 10) as u64, "text not compressed");
        assert!(matches!(repo.get_blob(&BlobId([7; 32])), Err(Error::MissingBlob { .. })));
    }

    #[test]
    fn threads_storing_at_once_lose_nothing() {
        let (dir, repo) = repo();
        let ids: Vec<BlobId> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4u64)
                .map(|t| {
                    let repo = &repo;
                    s.spawn(move || {
                        (0..40u64)
                            .map(|i| {
                                repo.put_blob(BlobKind::Data, &noise(t * 1000 + i % 30, 600_000))
                                    .unwrap()
                                    .0
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        repo.flush().unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        let distinct: HashSet<BlobId> = ids.iter().copied().collect();
        assert_eq!(repo.stats().blobs, distinct.len());
        for id in distinct {
            assert_eq!(BlobId::of(&repo.get_blob(&id).unwrap()), id);
        }
    }

    #[test]
    fn packs_of_a_run_killed_before_its_index_are_recovered() {
        let (dir, repo) = repo();
        let blobs: Vec<Vec<u8>> = (0..12).map(|i| noise(i, 2 << 20)).collect();
        for b in &blobs {
            repo.put_blob(BlobKind::Data, b).unwrap();
        }
        // A full pack was written, but no index: as if killed here.
        assert!(!repo.storage.list(ObjectKind::Pack).unwrap().is_empty());
        assert!(repo.storage.list(ObjectKind::Index).unwrap().is_empty());
        drop(repo);
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        let recovered = blobs.iter().filter(|b| repo.has_blob(&BlobId::of(b))).count();
        assert!(recovered >= 7, "only {recovered} blobs recovered");
        let (_, new) = repo.put_blob(BlobKind::Data, &blobs[0]).unwrap();
        assert!(!new, "a recovered blob was stored again");
        repo.flush().unwrap();
        assert_eq!(
            repo.storage.list(ObjectKind::Index).unwrap().len(),
            1,
            "recovered packs not indexed"
        );
    }

    #[test]
    fn check_finds_a_flipped_byte_and_a_missing_pack() {
        let (dir, repo) = repo();
        let a = noise(5, 1 << 20);
        let (id, _) = repo.put_blob(BlobKind::Data, &a).unwrap();
        repo.flush().unwrap();
        let clean = repo.check(true).unwrap();
        assert!(clean.problems.is_empty() && clean.damaged.is_empty(), "{clean:?}");
        let pack = repo.storage.list(ObjectKind::Pack).unwrap().pop().unwrap();
        let path = dir.path().join("repo/data").join(&pack[..2]).join(&pack);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[1000] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        assert!(repo.check(false).unwrap().damaged.is_empty(), "structure is intact");
        let report = repo.check(true).unwrap();
        assert_eq!(report.damaged.len(), 1, "{report:?}");
        assert_eq!(report.damaged[0].blobs, [id]);
        std::fs::remove_file(&path).unwrap();
        let report = repo.check(false).unwrap();
        assert_eq!(report.damaged[0].reason, "missing");
    }

    /// Version `v` of about 1 MiB of SQL-like rows: each version changes 1% of the rows of
    /// the one before, their last field to a different length.
    fn version(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for row in 0..12_000u64 {
            let changed = (1..=v).filter(|w| (row * 7919 + w * 104_729) % 100 == 0).max();
            let tail = match changed {
                Some(w) => format!("note {w} {}", "y".repeat((row % 13 + w) as usize)),
                None => format!("note {}", row % 31),
            };
            out.extend_from_slice(
                format!("{row}\tcustomer {}\t{}\t{tail}\n", row * 31 % 977, row * 17).as_bytes(),
            );
        }
        out
    }

    /// Stores versions `0..n`, each near the one before; their ids.
    fn chain(repo: &Repository, n: u64) -> Vec<BlobId> {
        let mut ids: Vec<BlobId> = Vec::new();
        for v in 0..n {
            let (id, new) = repo
                .put_blob_near(BlobKind::Data, &version(v), &ids[ids.len().saturating_sub(1)..])
                .unwrap();
            assert!(new);
            ids.push(id);
        }
        ids
    }

    #[test]
    fn a_delta_is_small_and_reads_back_after_reopening() {
        let (dir, repo) = repo();
        let ids = chain(&repo, 3);
        repo.flush().unwrap();
        let plain = repo.lock_state().index[&ids[0]].length;
        for id in &ids[1..] {
            let state = repo.lock_state();
            let delta = state.index[id].length;
            assert!(delta * 10 < plain, "delta {delta} against plain {plain}");
            assert_eq!(state.bases.get(id).map(|b| b.len()), Some(1), "not a delta");
        }
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        assert_eq!(repo.lock_state().index[&ids[2]].depth, 2, "depth from the index");
        for (v, id) in ids.iter().enumerate() {
            assert_eq!(repo.get_blob(id).unwrap(), version(v as u64));
        }
        let report = repo.check(true).unwrap();
        assert!(report.problems.is_empty() && report.damaged.is_empty(), "{report:?}");
    }

    #[test]
    fn a_chain_of_deltas_stops_at_the_depth_cap() {
        let (dir, repo) = repo();
        let n = u64::from(MAX_DELTA_DEPTH) + 2;
        let ids = chain(&repo, n);
        repo.flush().unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        let depths: Vec<u8> = {
            let state = repo.lock_state();
            ids.iter().map(|id| state.index[id].depth).collect()
        };
        let mut expected: Vec<u8> = (0..=MAX_DELTA_DEPTH).collect();
        expected.push(0);
        assert_eq!(depths, expected, "the blob past the cap is stored whole");
        assert_eq!(repo.get_blob(&ids[n as usize - 2]).unwrap(), version(n - 2));
    }

    #[test]
    fn prune_keeps_the_bases_of_used_deltas() {
        let (dir, repo) = repo();
        let ids = chain(&repo, 3);
        let other = noise(9, 3 << 20);
        repo.put_blob(BlobKind::Data, &other).unwrap();
        repo.flush().unwrap();
        // Only the newest delta is used: its bases are used through it.
        let plan = repo.prune_plan(&HashSet::from([ids[2]])).unwrap();
        assert_eq!(plan.unused_blobs, 1, "{plan}");
        repo.prune(&plan).unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        assert!(ids.iter().all(|id| repo.has_blob(id)), "a base was pruned");
        assert!(!repo.has_blob(&BlobId::of(&other)));
        assert_eq!(repo.get_blob(&ids[2]).unwrap(), version(2));
        let report = repo.check(true).unwrap();
        assert!(report.problems.is_empty() && report.damaged.is_empty(), "{report:?}");
    }

    #[test]
    fn check_reports_deltas_whose_base_is_damaged_or_missing() {
        let (dir, repo) = repo();
        let base = version(0);
        let (base_id, _) = repo.put_blob(BlobKind::Data, &base).unwrap();
        repo.flush().unwrap();
        let base_pack = repo.storage.list(ObjectKind::Pack).unwrap().pop().unwrap();
        let (delta_id, _) = repo.put_blob_near(BlobKind::Data, &version(1), &[base_id]).unwrap();
        let (top_id, _) = repo.put_blob_near(BlobKind::Data, &version(2), &[delta_id]).unwrap();
        repo.flush().unwrap();
        assert!(repo.lock_state().bases.contains_key(&top_id));
        let path = dir.path().join("repo/data").join(&base_pack[..2]).join(&base_pack);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        let damaged = |report: &CheckReport| -> HashSet<BlobId> {
            report.damaged.iter().flat_map(|d| d.blobs.iter().copied()).collect()
        };
        let report = repo.check(true).unwrap();
        assert_eq!(damaged(&report), HashSet::from([base_id, delta_id, top_id]), "{report:?}");
        assert!(
            report.damaged.iter().any(|d| d.reason.contains("deltas of damaged or missing")),
            "{report:?}"
        );
        assert!(repo.get_blob(&top_id).is_err());
        std::fs::remove_file(&path).unwrap();
        let report = repo.check(false).unwrap();
        assert_eq!(damaged(&report), HashSet::from([base_id, delta_id, top_id]), "{report:?}");
    }

    #[test]
    fn check_reads_back_deltas_and_reports_one_whose_own_bytes_are_damaged() {
        let (dir, repo) = repo();
        let ids = chain(&repo, 2);
        repo.flush().unwrap();
        let clean = repo.check(true).unwrap();
        assert!(clean.problems.is_empty() && clean.damaged.is_empty(), "{clean:?}");
        let (pack, offset) = {
            let state = repo.lock_state();
            let l = state.index[&ids[1]];
            let Slot::Stored(name) = &state.packs[l.pack as usize] else { panic!("not stored") };
            (name.clone(), l.offset as usize)
        };
        let path = dir.path().join("repo/data").join(&pack[..2]).join(&pack);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offset + 20] ^= 0x08;
        std::fs::write(&path, &bytes).unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        let report = repo.check(true).unwrap();
        let damaged: Vec<&DamagedPack> = report.damaged.iter().collect();
        assert_eq!(damaged.len(), 1, "{report:?}");
        assert_eq!(damaged[0].blobs, [ids[1]], "{report:?}");
        assert!(damaged[0].reason.contains("deltas do not read back"), "{report:?}");
    }

    #[test]
    fn a_format_1_repository_is_upgraded_by_its_first_delta_and_format_3_refused() {
        let (dir, repo) = repo();
        let path = dir.path().join("repo");
        let config = |format: u64| format!("{{\"format\": {format}, \"id\": \"{}\"}}", repo.id);
        std::fs::write(path.join("config"), config(1)).unwrap();
        let repo = Repository::open(&path).unwrap();
        let (a, _) = repo.put_blob(BlobKind::Data, &version(0)).unwrap();
        repo.flush().unwrap();
        assert!(std::fs::read_to_string(path.join("config")).unwrap().contains("\"format\": 1"));
        repo.put_blob_near(BlobKind::Data, &version(1), &[a]).unwrap();
        assert!(std::fs::read_to_string(path.join("config")).unwrap().contains("\"format\": 2"));
        std::fs::write(path.join("config"), config(3)).unwrap();
        assert!(matches!(Repository::open(&path), Err(Error::UnknownFormat { format: 3, .. })));
    }

    #[test]
    fn prune_keeps_every_used_blob_and_frees_the_rest() {
        let (dir, repo) = repo();
        let blobs: Vec<Vec<u8>> = (0..20).map(|i| noise(100 + i, 1 << 20)).collect();
        let ids: Vec<BlobId> =
            blobs.iter().map(|b| repo.put_blob(BlobKind::Data, b).unwrap().0).collect();
        repo.flush().unwrap();
        let used: HashSet<BlobId> = ids.iter().step_by(3).copied().collect();
        let plan = repo.prune_plan(&used).unwrap();
        assert!(!plan.repack.is_empty() || !plan.delete.is_empty(), "{plan}");
        assert!(plan.to_string().contains("unused blobs"));
        let before = repo.stats().stored_bytes;
        let stats = repo.prune(&plan).unwrap();
        assert!(stats.bytes_freed > 0);
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        for id in &used {
            assert_eq!(BlobId::of(&repo.get_blob(id).unwrap()), *id);
        }
        assert!(repo.stats().stored_bytes < before / 2);
        let report = repo.check(true).unwrap();
        assert!(report.problems.is_empty() && report.damaged.is_empty(), "{report:?}");
    }
}
