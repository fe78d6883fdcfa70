//! `prune`: which packs to delete and which to repack so that only the blobs snapshots use
//! remain (with the bases of the deltas among them), as a [`PrunePlan`]; then carrying it out
//! in the crash-safe order of the module docs of [`repo`](crate::repo).
//!
//! The only code that deletes packs and index files. It decides nothing about which
//! snapshots to keep (that is `forget`'s, in the mirror job).

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use super::Repository;
use crate::repo::pack::{self, Builder, IndexedPack};
use crate::repo::storage::ObjectKind;
use crate::repo::{BlobId, Error};

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

impl Repository {
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
            let (name, bytes, entries) = builder.finish(&self.keys);
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
                pack::unpack(entry, stored, &self.prefix(entry, 0)?, name, &self.keys)?;
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
