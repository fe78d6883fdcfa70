//! [`Repository`]: blobs in, blobs out, snapshots, check and prune, over a [`Storage`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::lock::{self, LockGuard, LockMode};
use super::pack::{self, Builder, Entry, IndexedPack};
use super::storage::{LocalStorage, ObjectKind, Storage};
use super::{BlobId, BlobKind, Error};

/// The format this code reads and writes.
const FORMAT: u64 = 1;
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
    storage: Arc<dyn Storage>,
    state: Mutex<State>,
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
        }
    }

    fn entry(&self, id: BlobId) -> Entry {
        Entry {
            id,
            kind: self.kind,
            offset: u64::from(self.offset),
            length: u64::from(self.length),
            raw_length: u64::from(self.raw_length),
            compressed: self.compressed,
        }
    }
}

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
    index: HashMap<BlobId, Location>,
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
            self.index.entry(e.id).or_insert_with(|| Location::new(number, e));
        }
        number
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
            crate::output::bytes(self.unused_bytes),
            self.delete.len(),
            self.repack.len(),
            crate::output::bytes(self.copy_bytes),
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
        if config.format != FORMAT {
            return Err(Error::UnknownFormat { path: path.into(), format: config.format });
        }

        let mut state = State::default();
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
        let repo = Repository { path: path.into(), storage, state: Mutex::new(State::default()) };
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
        let id = BlobId::of(data);
        if self.has_blob(&id) {
            return Ok((id, false));
        }
        let (stored, compressed) = pack::compress(data);
        let full = {
            let mut state = self.lock_state();
            if state.index.contains_key(&id) {
                return Ok((id, false));
            }
            if state.current.is_none() {
                let number = state.packs.len() as u32;
                state.packs.push(Slot::Building);
                state.current = Some((number, Builder::default()));
            }
            let (number, builder) = state.current.as_mut().expect("just made");
            let number = *number;
            let entry = builder.push(id, kind, &stored, data.len(), compressed);
            let full = builder.data.len() >= pack::TARGET_SIZE;
            state.index.insert(id, Location::new(number, &entry));
            full.then(|| Self::finish_current(&mut state)).flatten()
        };
        if let Some(finished) = full {
            self.write_pack(finished)?;
        }
        Ok((id, true))
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
                // Its blobs are not stored: forget them, so that nothing refers to them.
                for entry in &entries {
                    if state.index.get(&entry.id).is_some_and(|l| l.pack == number) {
                        state.index.remove(&entry.id);
                    }
                }
                Err(Error::io(format!("writing pack {name}"))(e))
            }
        }
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

    /// A blob's bytes, checked against its id.
    pub fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, Error> {
        let (location, source) = {
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
            (location, source)
        };
        let entry = location.entry(*id);
        match source {
            Ok(name) => {
                let stored = self
                    .storage
                    .get_range(ObjectKind::Pack, &name, entry.offset, entry.length)
                    .map_err(Error::io(format!("reading blob {id} from pack {name}")))?;
                pack::unpack(&entry, &stored, &name)
            }
            Err(stored) => pack::unpack(&entry, &stored, "(being written)"),
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
            by_pack.entry(location.pack).or_default().push(location.entry(*id));
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
        for (name, entries) in self.blobs_by_pack() {
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
            for entry in &entries {
                let end = entry.offset.saturating_add(entry.length);
                let ok = end <= bytes.len() as u64
                    && pack::unpack(entry, &bytes[entry.offset as usize..end as usize], &name)
                        .is_ok();
                if !ok {
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
        Ok(report)
    }

    /// Which packs to delete and which to repack so that only `used` blobs remain.
    pub fn prune_plan(&self, used: &HashSet<BlobId>) -> Result<PrunePlan, Error> {
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
                pack::unpack(entry, stored, name)?;
                builder.push(
                    entry.id,
                    entry.kind,
                    stored,
                    entry.raw_length as usize,
                    entry.compressed,
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
