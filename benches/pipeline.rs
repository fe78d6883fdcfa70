//! Unit benchmarks of the data plane: detection, compression and decompression throughput,
//! and the row counter `oe save` runs over every dump.
//! Whole-command comparisons live in `contrib/bench.sh`.
//!
//! `row_counter` counts the rows of the sample as a 64 KiB-buffered copy passes it on, against
//! the copy alone: what counting adds to the thread that feeds the zip (pg_dump itself writes
//! a 580 MB dump in about 2.3 s, 250 MB/s, on these machines).
//!
//! `bzip2_encode_block` compresses one bzip2 block with our encoder and with libbzip2's.
//! `bzip2_decode_block` decodes a bzip2 file on one thread: block by block with our block decoder,
//! with the `bzip2` crate (libbzip2's decoder), and through `ParallelDecoder` with one worker.
//! It uses the file `OE_BENCH_BZIP2` names (one stream, as `bzip2` writes), or else the
//! sample below compressed at level 9. Pin it to one core to compare with `lbzip2 -n1 -dc`:
//! `OE_BENCH_BZIP2=x.bz2 taskset -c 1 cargo bench --bench pipeline -- bzip2_decode_block`.

use std::io::{Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oe::codec::bzip2::decode::BlockDecoder;
use oe::codec::bzip2::encode;
use oe::codec::bzip2::format::{BLOCK_MAGIC, END_MAGIC};
use oe::codec::bzip2::parallel::ParallelDecoder;
use oe::pipeline::Codec;
use oe::pipeline::decode::decoder;
use oe::pipeline::encode::Encoder;
use oe::pipeline::sql::CountRows;

#[allow(dead_code)]
#[path = "../src/testing.rs"]
mod testing;

/// About 16 MiB of SQL-like rows, with the words the README's figures were measured with.
fn sample() -> Vec<u8> {
    let words = ["Odoo", "invoice", "Paris", "créé", "order", "partner", "42.50", "NULL", "SO0042"];
    testing::sql_of(&words, 16 << 20)
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
fn bzip2_encode_block(c: &mut Criterion) {
    let data = sample();
    let block = &data[..900_000];
    let mut group = c.benchmark_group("bzip2_encode_block");
    group.throughput(Throughput::Bytes(block.len() as u64));
    group.sample_size(10);
    group.bench_function("ours", |b| b.iter(|| encode::compress(block).unwrap().len()));
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

/// Bit ranges of the blocks of a single-stream bzip2 file: from each block magic to the next
/// block or end-of-stream magic.
fn bzip2_blocks(compressed: &[u8]) -> Vec<(u64, u64)> {
    let mut starts = Vec::new();
    let mut window = 0u64;
    for (index, &byte) in compressed.iter().enumerate().skip(4) {
        for bit in 0..8 {
            window = ((window << 1) | u64::from((byte >> (7 - bit)) & 1)) & ((1 << 48) - 1);
            if window == BLOCK_MAGIC || window == END_MAGIC {
                starts.push(index as u64 * 8 + bit - 47);
            }
        }
        if window == END_MAGIC {
            break;
        }
    }
    starts.windows(2).map(|pair| (pair[0], pair[1])).collect()
}

fn bzip2_decode_block(c: &mut Criterion) {
    let (compressed, len) = match std::env::var_os("OE_BENCH_BZIP2") {
        Some(path) => {
            let compressed = std::fs::read(path).unwrap();
            let mut out = Vec::new();
            bzip2::read::BzDecoder::new(&compressed[..]).read_to_end(&mut out).unwrap();
            (compressed, out.len())
        }
        None => {
            let data = sample();
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            e.write_all(&data).unwrap();
            (e.finish().unwrap(), data.len())
        }
    };
    let level = compressed[3] - b'0';
    let blocks = bzip2_blocks(&compressed);
    let mut group = c.benchmark_group("bzip2_decode_block");
    group.throughput(Throughput::Bytes(len as u64));
    group.sample_size(10);
    group.bench_function("ours", |b| {
        let mut decoder = BlockDecoder::new();
        b.iter(|| {
            let mut total = 0;
            for &(start, end) in &blocks {
                total += decoder.decode(&compressed, start, end, level).unwrap().data.len();
            }
            assert_eq!(total, len);
        })
    });
    group.bench_function("bzip2 crate", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(len);
            bzip2::read::BzDecoder::new(&compressed[..]).read_to_end(&mut out).unwrap();
            assert_eq!(out.len(), len);
        })
    });
    group.bench_function("ParallelDecoder, 1 worker", |b| {
        b.iter(|| {
            let input = std::io::Cursor::new(compressed.clone());
            let copied = std::io::copy(&mut ParallelDecoder::new(input, 1), &mut std::io::sink());
            assert_eq!(copied.unwrap(), len as u64);
        })
    });
    group.finish();
}

/// The sample as one table's `COPY` block, copied with and without counting its rows.
fn row_counter(c: &mut Criterion) {
    let mut dump =
        b"COPY public.res_partner (id, name, city, zip, note, ref) FROM stdin;\n".to_vec();
    dump.extend_from_slice(&sample());
    dump.extend_from_slice(b"\\.\n\n");
    let mut group = c.benchmark_group("row_counter");
    group.throughput(Throughput::Bytes(dump.len() as u64));
    group.sample_size(20);
    let mut buf = vec![0u8; 64 << 10];
    group.bench_function("copy", |b| {
        b.iter(|| {
            let mut input = &dump[..];
            let mut n = 0;
            while let Ok(k @ 1..) = input.read(&mut buf) {
                n += k;
            }
            n
        })
    });
    let mut buf = vec![0u8; 64 << 10];
    group.bench_function("copy_and_count", |b| {
        b.iter(|| {
            let mut input = CountRows::new(&dump[..]);
            while let Ok(1..) = input.read(&mut buf) {}
            input.finish()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    compress,
    bzip2_encode_block,
    decompress,
    bzip2_decode_block,
    row_counter
);
criterion_main!(benches);
