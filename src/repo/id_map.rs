//! A map from blob id to a small value that costs little more than its entries.
//!
//! The repository's index holds one entry per blob: a million for a filestore of a million
//! files. A `HashMap` of them takes twice their size on average (it doubles as it grows) and
//! three times while it doubles, when the old table and the new one are both alive: 166 MiB
//! for the 52 bytes of each of a million entries, a third of the memory of a first
//! snapshot.
//!
//! [`IdMap`] keeps most entries in one vector sorted by id, found by a fan-out table over
//! the first two bytes of the id (ids are hashes, spread evenly) and a binary search within
//! the few entries that share them. New entries go to a small `HashMap` first, merged into
//! the vector, in one pass from its end, whenever that map reaches an eighth of the
//! vector: the vector's spare capacity is never touched, so never resident, and the merges
//! together move each entry about nine times.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::BlobId;

/// Entries the recent map holds before a merge, at least.
const MERGE_AT_LEAST: usize = 1 << 16;

/// A map from [`BlobId`] to a `Copy` value.
pub struct IdMap<V> {
    /// Entries, sorted by id.
    sorted: Vec<(BlobId, V)>,
    /// For each first two bytes `p` of an id (big endian), where the entries of `sorted`
    /// from `p` on start: `sorted[fanout[p]..fanout[p + 1]]` share them. Empty when `sorted`
    /// is.
    fanout: Vec<u32>,
    /// Entries added since the last merge; never an id of `sorted`.
    recent: HashMap<BlobId, V, BuildHasherDefault<IdHasher>>,
}

/// Hashes an id to its first eight bytes: ids are hashes already.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The id's bytes, after their length (written as a usize, which lands here too).
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 = u64::from_le_bytes(*first);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap { sorted: Vec::new(), fanout: Vec::new(), recent: HashMap::default() }
    }
}

impl<V: Copy> IdMap<V> {
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains_key(&self, id: &BlobId) -> bool {
        self.get(id).is_some()
    }

    pub fn get(&self, id: &BlobId) -> Option<&V> {
        match self.position(id) {
            Some(i) => Some(&self.sorted[i].1),
            None => self.recent.get(id),
        }
    }

    pub fn get_mut(&mut self, id: &BlobId) -> Option<&mut V> {
        match self.position(id) {
            Some(i) => Some(&mut self.sorted[i].1),
            None => self.recent.get_mut(id),
        }
    }

    /// Adds `id` unless it is there already: whether it was added.
    pub fn insert_new(&mut self, id: BlobId, value: V) -> bool {
        if self.position(&id).is_some() {
            return false;
        }
        match self.recent.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => return false,
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert(value),
        };
        if self.recent.len() >= MERGE_AT_LEAST.max(self.sorted.len() / 8) {
            self.merge();
        }
        true
    }

    /// Keeps only the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&BlobId, &V) -> bool) {
        self.recent.retain(|id, v| keep(id, v));
        let before = self.sorted.len();
        self.sorted.retain(|(id, v)| keep(id, v));
        if self.sorted.len() != before {
            self.index_sorted();
        }
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&BlobId, &V)> {
        self.sorted.iter().map(|(id, v)| (id, v)).chain(&self.recent)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Where `id` is in `sorted`.
    fn position(&self, id: &BlobId) -> Option<usize> {
        if self.sorted.is_empty() {
            return None;
        }
        let p = prefix(id);
        let (start, end) = (self.fanout[p] as usize, self.fanout[p + 1] as usize);
        let found = self.sorted[start..end].binary_search_by(|(other, _)| other.cmp(id));
        found.ok().map(|i| start + i)
    }

    /// Moves the recent entries into `sorted`: sorted among themselves, then merged from the
    /// end, each entry written once into its final place.
    fn merge(&mut self) {
        let mut fresh: Vec<(BlobId, V)> = self.recent.drain().collect();
        self.recent.shrink_to(MERGE_AT_LEAST);
        fresh.sort_unstable_by_key(|a| a.0);
        let mut old = self.sorted.len();
        // Room for them at the end (the values there are overwritten).
        self.sorted.extend_from_slice(&fresh);
        let mut next = self.sorted.len();
        for entry in fresh.into_iter().rev() {
            while old > 0 && self.sorted[old - 1].0 > entry.0 {
                next -= 1;
                old -= 1;
                self.sorted[next] = self.sorted[old];
            }
            next -= 1;
            self.sorted[next] = entry;
        }
        self.index_sorted();
    }

    /// Rebuilds the fan-out table of `sorted`.
    fn index_sorted(&mut self) {
        self.fanout.clear();
        if self.sorted.is_empty() {
            self.fanout.shrink_to_fit();
            return;
        }
        self.fanout.reserve_exact(PREFIXES + 1);
        let mut at = 0;
        for p in 0..PREFIXES {
            self.fanout.push(at as u32);
            while at < self.sorted.len() && prefix(&self.sorted[at].0) == p {
                at += 1;
            }
        }
        self.fanout.push(at as u32);
    }
}

impl<V: Copy> std::ops::Index<&BlobId> for IdMap<V> {
    type Output = V;

    /// The value of `id`, which must be there.
    fn index(&self, id: &BlobId) -> &V {
        self.get(id).expect("an id of the map")
    }
}

/// Values of the first two bytes of an id.
const PREFIXES: usize = 1 << 16;

fn prefix(id: &BlobId) -> usize {
    usize::from(u16::from_be_bytes([id.0[0], id.0[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> BlobId {
        BlobId::of(&n.to_le_bytes())
    }

    /// Ids sharing their first two bytes with their neighbours: the search within a prefix.
    fn crowded(n: u64) -> BlobId {
        let mut id = id(n).0;
        id[0] = 7;
        id[1] = (n % 3) as u8;
        BlobId(id)
    }

    #[test]
    fn agrees_with_a_hash_map_through_merges_retains_and_updates() {
        for make in [id as fn(u64) -> BlobId, crowded] {
            let mut map = IdMap::default();
            let mut oracle = HashMap::new();
            assert!(map.is_empty() && map.get(&make(0)).is_none());
            // Past several merges, each id twice: the first value stays.
            for n in 0..150_000u64 {
                let k = make(n % 100_000);
                assert_eq!(map.insert_new(k, n), !oracle.contains_key(&k), "{n}");
                oracle.entry(k).or_insert(n);
            }
            assert!(!map.sorted.is_empty() && !map.recent.is_empty(), "both parts in use");
            assert_eq!(map.len(), oracle.len());
            for n in 0..100_000u64 {
                assert_eq!(map.get(&make(n)), oracle.get(&make(n)), "{n}");
            }
            assert!(!map.contains_key(&make(100_000)));

            *map.get_mut(&make(5)).unwrap() = 1;
            *oracle.get_mut(&make(5)).unwrap() = 1;
            map.retain(|_, v| v % 3 != 0);
            oracle.retain(|_, v| *v % 3 != 0);
            assert_eq!(map.len(), oracle.len());
            let mut listed: Vec<(BlobId, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
            let mut expected: Vec<(BlobId, u64)> = oracle.into_iter().collect();
            listed.sort();
            expected.sort();
            assert_eq!(listed, expected);
            for (k, v) in &expected {
                assert_eq!(map.get(k), Some(v));
            }
            assert_eq!(map.values().count(), expected.len());
            map.retain(|_, _| false);
            assert!(map.is_empty() && map.get(&expected[0].0).is_none());
        }
    }
}
