//! [`Repository`]: the repository opened, over a [`Storage`]: what it holds in memory (the
//! index of every blob, the packs being written, the cache of delta bases) and how a blob is
//! found. Its work is split by what it does:
//!
//! - [`read`]: opening (config, index files, recovery of unindexed packs), reading blobs and
//!   decoding deltas from their bases, listing snapshots;
//! - [`write`](mod@write): creating a repository, storing blobs (plain or as deltas), writing packs, index
//!   files and snapshots;
//! - [`check`]: what is damaged or missing, and which blobs are lost with it;
//! - [`prune`]: the plan of what to delete and repack, and carrying it out.
//!
//! No format is defined here (see [`pack`](super::pack) and the docs of [`repo`](super));
//! nothing here reads a tree or a snapshot (the mirror job does).

mod cache;
mod check;
mod keys;
mod prune;
mod read;
mod write;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::crypto::Keys;
use super::id_map::IdMap;
use super::lock::{self, LockGuard, LockMode};
use super::pack::{Builder, Entry, IndexedPack};
use super::storage::Storage;
use super::{BlobId, BlobKind, Error};
use cache::Cache;

pub use check::{CheckReport, DamagedPack};
pub use keys::KeyInfo;
pub use prune::{PrunePlan, PruneStats};
pub use read::Stats;
pub use write::FullPack;

/// The format this code writes: 2 has deltas. It reads 1 and 2, and upgrades a repository of
/// format 1 to 2 before it writes its first delta.
const FORMAT: u64 = 2;
/// The format of an encrypted repository: 2's, every object sealed (see `crypto`); older oe
/// refuses it as unknown rather than misreading it.
const FORMAT_ENCRYPTED: u64 = 3;
/// Formats this code reads.
const READABLE_FORMATS: [u64; 3] = [1, 2, 3];
/// The associated data of a sealed index file and snapshot.
const INDEX_CONTEXT: &[u8] = b"oe index";
const SNAPSHOT_CONTEXT: &[u8] = b"oe snapshot";
/// Deepest chain of deltas read (deeper or looping: the repository is corrupt).
const READ_MAX_DEPTH: usize = 64;

#[derive(Serialize, Deserialize)]
struct Config {
    format: u64,
    id: String,
    /// How objects are sealed ([`crypto::SCHEME`]); absent in an unencrypted repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption: Option<String>,
}

/// A repository opened for reading and writing.
pub struct Repository {
    path: PathBuf,
    /// The repository's id, from its config.
    id: String,
    storage: Arc<dyn Storage>,
    /// How objects are sealed and blobs named.
    keys: Keys,
    /// The key file this repository was opened with, when encrypted.
    key_file: Option<String>,
    state: Mutex<State>,
    cache: Mutex<Cache>,
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
    index: IdMap<Location>,
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
            if self.index.insert_new(e.id, Location::new(number, e)) && !e.base.is_empty() {
                self.bases.insert(e.id, e.base.clone().into_boxed_slice());
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

impl Repository {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes a lock on the repository: [`LockMode::Shared`] for readers, exclusive for
    /// writers.
    pub fn lock(&self, mode: LockMode) -> Result<LockGuard, Error> {
        lock::acquire(Arc::clone(&self.storage), &self.path, mode, None)
    }

    /// [`lock`](Self::lock) for someone else: the client of a backup server's session.
    pub fn lock_for(&self, mode: LockMode, by: &str) -> Result<LockGuard, Error> {
        lock::acquire(Arc::clone(&self.storage), &self.path, mode, Some(by))
    }

    fn lock_cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
