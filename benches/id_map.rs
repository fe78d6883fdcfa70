//! The repository's index of blobs (`IdMap`: a sorted vector with a fan-out table and a
//! small map of recent entries) against the `HashMap` it replaced, for a million blobs:
//! filling it (as a first snapshot or the loading of index files does) and looking every
//! blob up (as a run with nothing changed does). Memory is in the README (heaptrack, peak
//! RSS); this says what it costs in time.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oe::repo::{BlobId, IdMap};

/// The size of the repository's value: pack, offset, lengths, kind, flags.
type Value = [u32; 5];

fn ids(n: u64) -> Vec<BlobId> {
    (0..n).map(|i| BlobId::of(&i.to_le_bytes())).collect()
}

fn index(c: &mut Criterion) {
    let n: u64 =
        std::env::var("OE_BENCH_BLOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 20);
    let ids = ids(n);
    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.bench_function("fill IdMap", |b| {
        b.iter(|| {
            let mut map = IdMap::default();
            for (i, id) in ids.iter().enumerate() {
                map.insert_new(*id, [i as u32; 5]);
            }
            black_box(map.len())
        })
    });
    group.bench_function("fill HashMap", |b| {
        b.iter(|| {
            let mut map: HashMap<BlobId, Value> = HashMap::new();
            for (i, id) in ids.iter().enumerate() {
                map.entry(*id).or_insert([i as u32; 5]);
            }
            black_box(map.len())
        })
    });
    let mut id_map = IdMap::default();
    let mut hash_map: HashMap<BlobId, Value> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        id_map.insert_new(*id, [i as u32; 5]);
        hash_map.insert(*id, [i as u32; 5]);
    }
    group.bench_function("look up IdMap", |b| {
        b.iter(|| ids.iter().filter(|id| id_map.contains_key(id)).count())
    });
    group.bench_function("look up HashMap", |b| {
        b.iter(|| ids.iter().filter(|id| hash_map.contains_key(id)).count())
    });
    group.finish();
}

criterion_group!(benches, index);
criterion_main!(benches);
