//! Reading the repository: opening it (its config, its index files, and the packs no index
//! lists, from their own headers), and reading blobs back, a delta decoded from its bases
//! through the cache; listing snapshots; sizes.
//!
//! Writes nothing to storage (opening only builds the in-memory index).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use zeroize::Zeroizing;

use super::{
    Cache, Config, FORMAT_ENCRYPTED, INDEX_CONTEXT, Location, READ_MAX_DEPTH, READABLE_FORMATS,
    Repository, SNAPSHOT_CONTEXT, Slot, State,
};
use crate::repo::crypto::{self, KeyFile, Keys, MasterKey};
use crate::repo::pack::{self, Entry, IndexedPack};
use crate::repo::storage::{LocalStorage, ObjectKind, Storage};
use crate::repo::{BlobId, BlobKind, Error};

/// Size of a repository.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub packs: usize,
    pub blobs: usize,
    pub stored_bytes: u64,
}

impl Repository {
    /// Opens the repository at `path`: reads its index files, and recovers the packs that no
    /// index lists from their own headers.
    pub fn open(path: &Path) -> Result<Repository, Error> {
        Repository::open_on(Arc::new(LocalStorage::new(path)), path)
    }

    /// [`open`](Self::open) on any storage; `path` names it in messages (a backup server's
    /// URL, for one). An encrypted repository is refused: see
    /// [`open_unlocking`](Self::open_unlocking).
    pub fn open_on(storage: Arc<dyn Storage>, path: &Path) -> Result<Repository, Error> {
        Repository::open_unlocking(storage, path, &|| Ok(None))
    }

    /// [`open_on`](Self::open_on), and an encrypted repository opened with the passphrase
    /// `passphrase` gives (asked only then; `None`: there is none).
    pub fn open_unlocking(
        storage: Arc<dyn Storage>,
        path: &Path,
        passphrase: &dyn Fn() -> Result<Option<Zeroizing<String>>, Error>,
    ) -> Result<Repository, Error> {
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
        let (keys, key_file) = match config.encryption.as_deref() {
            None if config.format < FORMAT_ENCRYPTED => (Keys::plain(), None),
            Some(crypto::SCHEME) if config.format == FORMAT_ENCRYPTED => {
                let Some(passphrase) = passphrase()? else {
                    return Err(Error::NeedsPassphrase { path: path.into() });
                };
                let (name, master) = unlock(&*storage, path, &passphrase)?;
                (master.keys(), Some(name))
            }
            other => {
                return Err(Error::Corrupt {
                    what: format!(
                        "{}/config: format {} with encryption {other:?}",
                        path.display(),
                        config.format
                    ),
                });
            }
        };

        let mut state = State { format: config.format, ..State::default() };
        let mut known: HashSet<String> = HashSet::new();
        for name in storage.list(ObjectKind::Index).map_err(Error::io("listing index files"))? {
            let bytes = storage
                .get(ObjectKind::Index, &name)
                .map_err(Error::io(format!("reading index {name}")))?;
            let decoded = check_name(&bytes, &name, "index")
                .and_then(|()| keys.open(INDEX_CONTEXT, &bytes, &format!("index {name}")))
                .and_then(|plain| pack::decode_index(&plain, &name));
            match decoded {
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
            keys,
            key_file,
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

    pub fn has_blob(&self, id: &BlobId) -> bool {
        self.lock_state().index.contains_key(id)
    }

    /// Uncompressed size of a blob.
    pub fn blob_size(&self, id: &BlobId) -> Option<u64> {
        self.lock_state().index.get(id).map(|l| u64::from(l.raw_length))
    }

    /// A blob's bytes, checked against its id; a delta is decoded from its bases. Trees go
    /// through the storage's cache of blobs, where it has one.
    pub fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, Error> {
        if let Some(data) = self.cached(id) {
            return Ok(data.to_vec());
        }
        let tree = self.lock_state().index.get(id).is_some_and(|l| l.kind == BlobKind::Tree);
        if !tree {
            return self.read_blob(id, 0);
        }
        if let Some(data) = self.cached_tree(id) {
            return Ok(data);
        }
        let data = self.read_blob(id, 0)?;
        let context = Keys::blob_context(id, BlobKind::Tree);
        self.storage.keep_blob(id, &self.keys.seal(&context, data.clone()));
        Ok(data)
    }

    /// The tree `id` from the storage's cache of blobs, if it is there and still that tree.
    /// An encrypted repository's trees are kept sealed as in a pack: the cache holds none in
    /// the clear.
    fn cached_tree(&self, id: &BlobId) -> Option<Vec<u8>> {
        let kept = self.storage.cached_blob(id)?;
        let context = Keys::blob_context(id, BlobKind::Tree);
        match self.keys.open(&context, &kept, "a cached tree") {
            Ok(data) if self.keys.blob_id(&data) == *id => return Some(data.into_owned()),
            _ => tracing::warn!("the cached tree {id} is damaged: fetching it again"),
        }
        None
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
    pub(super) fn prefix(&self, entry: &Entry, hops: usize) -> Result<Arc<Vec<u8>>, Error> {
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
    pub(super) fn concat(&self, bases: &[BlobId], hops: usize) -> Result<Arc<Vec<u8>>, Error> {
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
                pack::unpack(&entry, &stored, &prefix, &name, &self.keys)
            }
            Err(stored) => pack::unpack(&entry, &stored, &prefix, "(being written)", &self.keys),
        }
    }

    /// The header of a stored pack.
    pub(super) fn read_header(&self, name: &str) -> Result<Vec<Entry>, Error> {
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
        let header = read(data_length, header_length)?;
        let header =
            self.keys.open(pack::HEADER_CONTEXT, &header, &format!("pack {name}: header"))?;
        pack::decode_header(&header, data_length, name)
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
            check_name(&bytes, &name, "snapshot")?;
            let json = self.keys.open(SNAPSHOT_CONTEXT, &bytes, &format!("snapshot {name}"))?;
            out.push((name, json.into_owned()));
        }
        Ok(out)
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
    pub(super) fn blobs_by_pack(&self) -> Vec<(String, Vec<Entry>)> {
        let state = self.lock_state();
        let mut by_pack: HashMap<u32, Vec<Entry>> = HashMap::new();
        for (id, location) in state.index.iter() {
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
}

fn slice<'a>(bytes: &'a [u8], location: &Location) -> &'a [u8] {
    let start = location.offset as usize;
    &bytes[start..start + location.length as usize]
}

/// An index file or a snapshot is named by the BLAKE3 of its bytes: one served under
/// another's name (swapped, replayed) is refused.
fn check_name(bytes: &[u8], name: &str, what: &str) -> Result<(), Error> {
    if blake3::hash(bytes).to_hex().as_str() != name {
        return Err(Error::Corrupt { what: format!("{what} {name} does not match its name") });
    }
    Ok(())
}

/// The master key, from the first key file `passphrase` opens; with that file's name.
fn unlock(
    storage: &dyn Storage,
    path: &Path,
    passphrase: &str,
) -> Result<(String, MasterKey), Error> {
    let names = storage.list(ObjectKind::Key).map_err(Error::io("listing key files"))?;
    if names.is_empty() {
        return Err(Error::Corrupt {
            what: format!("{} is encrypted but has no key file", path.display()),
        });
    }
    for name in names {
        let bytes = storage
            .get(ObjectKind::Key, &name)
            .map_err(Error::io(format!("reading key {name}")))?;
        let file = match check_name(&bytes, &name, "key file")
            .and_then(|()| KeyFile::decode(&bytes, &name))
        {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!("ignoring a key file: {e}");
                continue;
            }
        };
        if let Some(master) = file.unwrap(passphrase)? {
            return Ok((name, master));
        }
    }
    Err(Error::WrongPassphrase { path: path.into() })
}
