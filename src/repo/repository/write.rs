//! Writing to the repository: creating one, storing blobs (plain, or as a delta against the
//! blobs of a reference), filling and writing packs, index files and snapshots, upgrading the
//! format before the first delta.
//!
//! Every object goes through [`Storage::put`] (written whole, durably); this module never
//! deletes a pack or an index file (that is [`prune`](super::prune)'s).

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{
    Config, FORMAT, FORMAT_ENCRYPTED, INDEX_CONTEXT, Location, Repository, SNAPSHOT_CONTEXT, Slot,
    State,
};
use crate::repo::crypto::{self, KeyFile, Keys, MasterKey};
use crate::repo::pack::{self, Builder, Compressor, Entry, IndexedPack};
use crate::repo::storage::{LocalStorage, ObjectKind, Storage};
use crate::repo::{BlobId, BlobKind, Error, LockMode};

/// A run stores a chunk whole rather than as a delta whose chain of bases would be deeper.
pub const MAX_DELTA_DEPTH: u8 = 16;
/// Blobs of written packs after which a run writes an index file without waiting for its end.
const INDEX_EVERY_BLOBS: usize = 100_000;

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

impl Repository {
    /// Creates an empty repository at `path` (a missing or empty directory).
    pub fn init(path: &Path) -> Result<Repository, Error> {
        Repository::init_encrypted(path, None)
    }

    /// [`init`](Self::init), encrypted with a first key file when `passphrase` is given.
    pub fn init_encrypted(path: &Path, passphrase: Option<&str>) -> Result<Repository, Error> {
        match std::fs::read_dir(path).map(|mut entries| entries.next().is_some()) {
            Ok(true) => return Err(Error::NotEmpty { path: path.into() }),
            Ok(false) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("reading {}", path.display()))(e)),
        }
        let storage = LocalStorage::new(path);
        storage.create_layout().map_err(Error::io(format!("creating {}", path.display())))?;
        Repository::init_on(Arc::new(storage), path, passphrase)
    }

    /// Creates an empty repository on `storage` (which must hold no object; `path` names it
    /// in messages); encrypted, with a first key file, when `passphrase` is given.
    pub fn init_on(
        storage: Arc<dyn Storage>,
        path: &Path,
        passphrase: Option<&str>,
    ) -> Result<Repository, Error> {
        // A backup server lets only the holder of its lock write (locally, and on S3, there
        // is no lock to take: `init` is not run concurrently with itself).
        let _lock = storage.lock(LockMode::Exclusive, Some("oe mirror init")).transpose()?;
        for kind in [ObjectKind::Config, ObjectKind::Snapshot, ObjectKind::Index, ObjectKind::Pack]
        {
            let found =
                storage.list(kind).map_err(Error::io(format!("listing {}", path.display())))?;
            if !found.is_empty() {
                return Err(Error::NotEmpty { path: path.into() });
            }
        }
        // The key files of an init cut short before its config: the passphrase would unwrap
        // another master key from them, under which nothing of this repository decrypts.
        let keys = storage.list(ObjectKind::Key);
        if !keys.map_err(Error::io(format!("listing {}", path.display())))?.is_empty() {
            return Err(Error::InitCutShort { path: path.into() });
        }
        let mut id = [0u8; 32];
        crypto::random(&mut id);
        let mut config = Config { format: FORMAT, id: BlobId(id).to_string(), encryption: None };
        if let Some(passphrase) = passphrase {
            let master = MasterKey::generate();
            put_key_file(&*storage, &KeyFile::wrap(&master, passphrase))?;
            config.format = FORMAT_ENCRYPTED;
            config.encryption = Some(crypto::SCHEME.into());
        }
        // The config last: a repository whose config exists is complete.
        write_config(&*storage, &config).map_err(Error::io("writing the repository config"))?;
        let passphrase = passphrase.map(str::to_owned);
        Repository::open_unlocking(storage, path, &|| {
            Ok(passphrase.clone().map(zeroize::Zeroizing::new))
        })
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
        let id = self.keys.blob_id(data);
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
        let stored = self.keys.seal(&Keys::blob_context(&id, kind), stored);
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
            state.index.insert_new(id, Location { depth, ..Location::new(number, &entry) });
            if !entry.base.is_empty() {
                state.bases.insert(id, entry.base.into_boxed_slice());
            }
            full.then(|| Self::finish_current(&mut state, &self.keys)).flatten()
        };
        if kind == BlobKind::Tree {
            // The next run reads it first thing: kept where the storage has a cache (sealed,
            // as a read keeps it), it costs that run no round trip. Only blobs the index
            // lists are looked up there, so one whose pack fails to be written is never used.
            let context = Keys::blob_context(&id, kind);
            self.storage.keep_blob(&id, &self.keys.seal(&context, data.to_vec()));
        }
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
        let config = Config { format: FORMAT, id: self.id.clone(), encryption: None };
        write_config(self.storage.as_ref(), &config)
            .map_err(Error::io("upgrading the repository config to format 2"))?;
        tracing::info!("repository upgraded to format {FORMAT} (deltas): older oe cannot read it");
        state.format = FORMAT;
        Ok(())
    }

    /// Closes the pack being filled: its bytes stay readable while it is written.
    fn finish_current(state: &mut State, keys: &Keys) -> Option<Finished> {
        let (number, builder) = state.current.take()?;
        let (name, bytes, entries) = builder.finish(keys);
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
                state.bases.remove(&entry.id);
            }
        }
        state.index.retain(|_, l| l.pack != number);
        state.packs[number as usize] = Slot::Writing(Arc::default());
    }

    /// Writes the pack being filled, then one index file listing every pack not yet in one:
    /// afterwards everything stored so far is durable and indexed.
    pub fn flush(&self) -> Result<(), Error> {
        let finished = Self::finish_current(&mut self.lock_state(), &self.keys);
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

    pub(super) fn write_index(&self, packs: &[IndexedPack]) -> Result<String, Error> {
        let bytes = self.keys.seal(INDEX_CONTEXT, pack::encode_index(packs));
        let name = blake3::hash(&bytes).to_hex().to_string();
        self.storage
            .put(ObjectKind::Index, &name, &bytes)
            .map_err(Error::io(format!("writing index {name}")))?;
        Ok(name)
    }

    /// Stores a snapshot (after [`flush`](Self::flush)); returns its id.
    pub fn put_snapshot(&self, json: &[u8]) -> Result<String, Error> {
        let bytes = self.keys.seal(SNAPSHOT_CONTEXT, json.to_vec());
        let id = blake3::hash(&bytes).to_hex().to_string();
        self.storage
            .put(ObjectKind::Snapshot, &id, &bytes)
            .map_err(Error::io("writing the snapshot"))?;
        Ok(id)
    }

    pub fn delete_snapshot(&self, id: &str) -> Result<(), Error> {
        self.storage
            .delete(ObjectKind::Snapshot, id)
            .map_err(Error::io(format!("deleting snapshot {id}")))
    }
}

/// Writes the repository's config (over the old one, when upgrading).
fn write_config(storage: &dyn Storage, config: &Config) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(config).expect("config encodes");
    storage.put(ObjectKind::Config, "config", &bytes)
}

/// Stores a key file under the BLAKE3 of its bytes; returns that name.
pub(super) fn put_key_file(storage: &dyn Storage, file: &KeyFile) -> Result<String, Error> {
    let bytes = file.encode();
    let name = blake3::hash(&bytes).to_hex().to_string();
    storage.put(ObjectKind::Key, &name, &bytes).map_err(Error::io("writing a key file"))?;
    Ok(name)
}
