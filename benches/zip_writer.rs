//! Throughput of the zip writer against a single-threaded gzip level 6, on an SQL-like dump
//! (`OE_BENCH_MB`, default 200 MB) and on a filestore of 20,000 files, for 1 and 2 threads.
//! On a loaded machine compare CPU time too: wall-clock figures then say little.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oe::codec::zip::writer::ZipWriter;

#[allow(dead_code)]
#[path = "../src/testing.rs"]
mod testing;

/// SQL-like rows, with the words the README's figures were measured with.
fn sql(len: usize) -> Vec<u8> {
    let words = ["Odoo", "invoice", "Paris", "créé", "order", "partner", "42.50", "NULL", "SO0042"];
    testing::sql_of(&words, len)
}

/// Bytes written, without keeping them.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn dump(c: &mut Criterion) {
    let mb: usize = std::env::var("OE_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let data = sql(mb * 1_000_000);
    let mut group = c.benchmark_group("zip_dump");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("gzip_level6_single", |b| {
        b.iter(|| {
            let mut gz = flate2::write::GzEncoder::new(Count(0), flate2::Compression::new(6));
            gz.write_all(&data).unwrap();
            gz.finish().unwrap().0
        })
    });
    for threads in [1, 2] {
        group.bench_function(format!("zip_stream_{threads}_threads"), |b| {
            b.iter(|| {
                let mut zip = ZipWriter::new(Count(0), threads);
                zip.add_stream("dump.sql", &mut &data[..], UNIX_EPOCH).unwrap();
                zip.finish().unwrap().0
            })
        });
    }
    group.finish();
}

/// 20,000 files of 1 to 60 KB, a third of them incompressible like images.
fn filestore() -> (tempfile::TempDir, Vec<(String, PathBuf)>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let text = sql(200_000);
    let mut x = 0x2545_f491_u64;
    let mut total = 0;
    let files = (0..20_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1000 + (x % 60_000) as usize;
            let data: Vec<u8> = if i % 3 == 0 {
                testing::random_bytes(len, x)
            } else {
                text[(x % 100_000) as usize..][..len].to_vec()
            };
            total += len as u64;
            let path = dir.path().join(i.to_string());
            std::fs::write(&path, data).unwrap();
            (format!("filestore/{:02x}/{i:040x}", i % 256), path)
        })
        .collect();
    (dir, files, total)
}

fn files(c: &mut Criterion) {
    let (_dir, files, total) = filestore();
    let mut group = c.benchmark_group("zip_filestore");
    group.throughput(Throughput::Bytes(total));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("zip_files_{threads}_threads"), |b| {
            b.iter(|| {
                let mut zip = ZipWriter::new(Count(0), threads);
                for (name, path) in &files {
                    zip.add_file(name, path).unwrap();
                }
                zip.finish().unwrap().0
            })
        });
    }
    group.finish();
}

criterion_group!(benches, dump, files);
criterion_main!(benches);
