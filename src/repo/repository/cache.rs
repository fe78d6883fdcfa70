//! The cache of decoded delta bases: recently read blobs that the deltas being decoded build
//! on, least recently used out past [`CACHE_BYTES`].
//!
//! Memory only: no I/O, no knowledge of how a blob is read.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::repo::BlobId;

/// Decoded blobs kept for the deltas built on them (consecutive chunks share bases).
const CACHE_BYTES: usize = 64 << 20;

/// Recently decoded bases of deltas, least recently used first.
#[derive(Default)]
pub(super) struct Cache {
    blobs: VecDeque<(BlobId, Arc<Vec<u8>>)>,
    pub(super) bytes: usize,
    pub(super) hits: u64,
    pub(super) misses: u64,
}

impl Cache {
    pub(super) fn get(&mut self, id: &BlobId) -> Option<Arc<Vec<u8>>> {
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

    pub(super) fn insert(&mut self, id: BlobId, data: Arc<Vec<u8>>) {
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
