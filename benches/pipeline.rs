//! Unit benchmarks of the data plane: detection, compression and decompression throughput.
//! Whole-command comparisons live in `contrib/bench.sh`.

use std::io::{Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oe::pipeline::Codec;
use oe::pipeline::bzip2_encode;
use oe::pipeline::decode::decoder;
use oe::pipeline::encode::Encoder;

/// About 16 MiB of SQL-like rows: mixed text and numbers, compressing like real dumps.
fn sample() -> Vec<u8> {
    let words = ["Odoo", "invoice", "Paris", "créé", "order", "partner", "42.50", "NULL", "SO0042"];
    let mut out = Vec::with_capacity(16 << 20);
    let mut x = 0x9e37_79b9_u64;
    let mut row = 0u64;
    while out.len() < 16 << 20 {
        row += 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = |k: u64| words[((x >> k) % words.len() as u64) as usize];
        writeln!(out, "{row}\t{} {}\t{}\t{}\t{:x}", w(3), w(11), x % 100_000, w(23), x).unwrap();
    }
    out
}

fn compress(c: &mut Criterion) {
    let data = sample();
    let mut group = c.benchmark_group("compress");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    for codec in [Codec::Gzip, Codec::Bzip2, Codec::Zstd] {
        group.bench_function(format!("{codec:?}"), |b| {
            b.iter(|| {
                let mut e = Encoder::new(codec, Vec::new(), 2).unwrap();
                e.write_all(&data).unwrap();
                e.finish().unwrap().len()
            })
        });
    }
    group.finish();
}

/// One bzip2 block on one thread: our encoder against libbzip2 (the `bzip2` crate) at level 9.
fn bzip2_block(c: &mut Criterion) {
    let data = sample();
    let block = &data[..900_000];
    let mut group = c.benchmark_group("bzip2_block");
    group.throughput(Throughput::Bytes(block.len() as u64));
    group.sample_size(10);
    group.bench_function("ours", |b| b.iter(|| bzip2_encode::compress(block).unwrap().len()));
    group.bench_function("libbzip2", |b| {
        b.iter(|| {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            e.write_all(block).unwrap();
            e.finish().unwrap().len()
        })
    });
    group.finish();
}

fn decompress(c: &mut Criterion) {
    let data = sample();
    let mut group = c.benchmark_group("decompress");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    for codec in [Codec::Gzip, Codec::Bzip2, Codec::Zstd] {
        let mut e = Encoder::new(codec, Vec::new(), 2).unwrap();
        e.write_all(&data).unwrap();
        let compressed = e.finish().unwrap();
        group.bench_function(format!("{codec:?}"), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(data.len());
                decoder(codec, Box::new(std::io::Cursor::new(compressed.clone())), 2)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compress, bzip2_block, decompress);
criterion_main!(benches);
