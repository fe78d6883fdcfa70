//! `check`: every indexed pack is present and its header agrees with the index; with
//! `read_data`, every blob reads back (a delta decoded from its bases) and every pack's bytes
//! match its name. A delta whose chain of bases reaches a damaged or missing blob is damaged
//! too.
//!
//! Reads only: reports what it finds, repairs nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::{READ_MAX_DEPTH, Repository};
use crate::repo::pack::{self, Entry};
use crate::repo::storage::ObjectKind;
use crate::repo::{BlobId, Error};

/// What [`Repository::check`] found. The mirror job's check report carries it and adds what
/// only the snapshots tell: the files each damaged pack affects, and their own problems.
#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    /// Packs checked (not part of the report printed).
    #[serde(skip)]
    pub packs: usize,
    /// Blobs checked (not part of the report printed).
    #[serde(skip)]
    pub blobs: usize,
    /// Structural problems: of the repository, and (added by the mirror job) blobs that
    /// snapshots refer to but that the index does not have, or trees that do not decode.
    pub problems: Vec<String>,
    /// Damaged packs, each with the blobs lost with it and, once the mirror job looked, the
    /// snapshots and files it affects.
    pub damaged: Vec<DamagedPack>,
}

/// A pack that is missing or holds blobs that do not read back.
#[derive(Debug, Serialize)]
pub struct DamagedPack {
    pub pack: String,
    pub reason: String,
    /// The blobs lost with it (not part of the report printed).
    #[serde(skip)]
    pub blobs: Vec<BlobId>,
    /// `(snapshot id, directory, path)` of every file or tree with a blob in the pack: filled
    /// by the mirror job, which reads the snapshots; empty from [`Repository::check`].
    pub affected: Vec<(String, String, String)>,
}

impl DamagedPack {
    fn new(pack: String, reason: String, blobs: Vec<BlobId>) -> DamagedPack {
        DamagedPack { pack, reason, blobs, affected: Vec::new() }
    }
}

impl Repository {
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
            let damaged = |reason: String, blobs| DamagedPack::new(name.clone(), reason, blobs);
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
                } else if pack::unpack(entry, stored, &[], &name, &self.keys).is_err() {
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
                .and_then(|stored| pack::unpack(entry, &stored, &prefix, name, &self.keys).ok());
            match data {
                Some(data) => self.lock_cache().insert(entry.id, Arc::new(data)),
                None => match bad.iter_mut().find(|(pack, _)| *pack == name) {
                    Some((_, blobs)) => blobs.push(entry.id),
                    None => bad.push((name, vec![entry.id])),
                },
            }
        }
        for (name, blobs) in bad {
            let reason = format!("{} of its deltas do not read back", blobs.len());
            report.damaged.push(DamagedPack::new(name.to_owned(), reason, blobs));
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
                let reason =
                    format!("{} of its blobs are deltas of damaged or missing blobs", blobs.len());
                report.damaged.push(DamagedPack::new(name.clone(), reason, blobs));
            }
        }
        for (pack, id, e) in unverified {
            if !found.contains(&id) && !lost.contains(&id) {
                let reason = format!("a base of delta {id} does not read back: {e}");
                report.damaged.push(DamagedPack::new(pack, reason, vec![id]));
            }
        }
    }
}
