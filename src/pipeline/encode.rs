//! Compression on every core.
//!
//! gzip and bzip2 compress one stream on one core, so [`BlockWriter`] cuts the input into
//! blocks, compresses them on worker threads as independent gzip members or bzip2 streams
//! (the layout pigz's `-i`, pbzip2 and BGZF use; every gzip and bzip2 reader reads such files
//! whole) and writes them in order. zstd has worker threads of its own. Memory stays bounded:
//! at most two blocks per worker are in flight.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::Codec;

/// gzip level, as pigz and Odoo use by default.
const GZIP_LEVEL: u32 = 6;
/// zstd level: zstd's default, far faster than gzip and smaller.
const ZSTD_LEVEL: i32 = 3;
/// Input per gzip member: large enough that restarting the dictionary costs nothing.
const GZIP_BLOCK: usize = 1 << 20;
/// Input per bzip2 stream: one full block at level 9, as pbzip2 cuts.
const BZIP2_BLOCK: usize = 900_000;

/// A compressing writer for `codec` on `threads` threads; `finish()` returns the output.
pub enum Encoder<W: Write> {
    Plain(W),
    Blocks(BlockWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    pub fn new(codec: Codec, out: W, threads: usize) -> io::Result<Encoder<W>> {
        Ok(match codec {
            Codec::None => Encoder::Plain(out),
            Codec::Gzip => Encoder::Blocks(BlockWriter::new(out, threads, GZIP_BLOCK, gzip_block)),
            Codec::Bzip2 => {
                Encoder::Blocks(BlockWriter::new(out, threads, BZIP2_BLOCK, bzip2_block))
            }
            Codec::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                if threads > 1 {
                    encoder.multithread(threads as u32)?;
                }
                encoder.include_checksum(true)?;
                Encoder::Zstd(encoder)
            }
        })
    }

    /// Writes what is pending, ends the compressed stream and returns the output.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(mut out) => {
                out.flush()?;
                Ok(out)
            }
            Encoder::Blocks(blocks) => blocks.finish(),
            Encoder::Zstd(zstd) => zstd.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(out) => out.write(buf),
            Encoder::Blocks(blocks) => blocks.write(buf),
            Encoder::Zstd(zstd) => zstd.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(out) => out.flush(),
            // Blocks are only complete once full; nothing useful to flush early.
            Encoder::Blocks(_) => Ok(()),
            Encoder::Zstd(zstd) => zstd.flush(),
        }
    }
}

fn gzip_block(input: &[u8]) -> io::Result<Vec<u8>> {
    let capacity = input.len() / 3 + 64;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(capacity),
        flate2::Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(input)?;
    encoder.finish()
}

/// One bzip2 stream, by our encoder: libbzip2's ratio at about twice its speed.
fn bzip2_block(input: &[u8]) -> io::Result<Vec<u8>> {
    super::bzip2_encode::compress(input)
}

type Compress = fn(&[u8]) -> io::Result<Vec<u8>>;
type Job = (u64, Vec<u8>);
type Done = (u64, io::Result<Vec<u8>>);

/// Compresses fixed-size blocks on worker threads and writes them to `out` in order.
pub struct BlockWriter<W: Write> {
    out: W,
    block_size: usize,
    pending: Vec<u8>,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    /// Compressed blocks that arrived before their predecessors.
    ready: BTreeMap<u64, Vec<u8>>,
    next_submit: u64,
    next_write: u64,
    max_in_flight: u64,
}

impl<W: Write> BlockWriter<W> {
    pub fn new(out: W, threads: usize, block_size: usize, compress: Compress) -> BlockWriter<W> {
        let threads = threads.max(1);
        let (jobs, job_rx) = sync_channel::<Job>(threads);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, done) = sync_channel::<Done>(threads * 2);
        let workers = (0..threads)
            .map(|_| {
                let job_rx = job_rx.clone();
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((seq, block)) = job else { break };
                        if done_tx.send((seq, compress(&block))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        BlockWriter {
            out,
            block_size,
            pending: Vec::with_capacity(block_size),
            jobs: Some(jobs),
            done,
            workers,
            ready: BTreeMap::new(),
            next_submit: 0,
            next_write: 0,
            max_in_flight: 2 * threads as u64,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        while self.next_submit - self.next_write >= self.max_in_flight {
            self.write_one()?;
        }
        let block = std::mem::replace(&mut self.pending, Vec::with_capacity(self.block_size));
        let jobs = self.jobs.as_ref().ok_or_else(|| io::Error::other("encoder finished"))?;
        jobs.send((self.next_submit, block))
            .map_err(|_| io::Error::other("compression worker stopped"))?;
        self.next_submit += 1;
        Ok(())
    }

    /// Waits for the next block in order and writes it.
    fn write_one(&mut self) -> io::Result<()> {
        while !self.ready.contains_key(&self.next_write) {
            let (seq, result) =
                self.done.recv().map_err(|_| io::Error::other("compression worker stopped"))?;
            self.ready.insert(seq, result?);
        }
        let block = self.ready.remove(&self.next_write).unwrap_or_default();
        self.out.write_all(&block)?;
        self.next_write += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() || self.next_submit == 0 {
            // An empty input still becomes one valid (empty) member.
            self.submit()?;
        }
        while self.next_write < self.next_submit {
            self.write_one()?;
        }
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for BlockWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.block_size - self.pending.len();
        let n = room.min(buf.len());
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == self.block_size {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_u64;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 { (x % 251) as u8 } else { b"INSERT abc;\n"[i % 12] }
            })
            .collect()
    }

    fn encode(codec: Codec, data: &[u8], threads: usize) -> Vec<u8> {
        let mut e = Encoder::new(codec, Vec::new(), threads).unwrap();
        // Odd-sized writes cross block boundaries.
        for chunk in data.chunks(77_777) {
            e.write_all(chunk).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn gzip_blocks_read_back_with_a_standard_decoder() {
        for (len, threads) in [(0, 2), (5, 1), (GZIP_BLOCK * 3 + 17, 2), (GZIP_BLOCK, 3)] {
            let data = sample(len);
            let out = encode(Codec::Gzip, &data, threads);
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "len {len} threads {threads}");
        }
    }

    #[test]
    fn bzip2_streams_read_back_with_a_standard_decoder() {
        let data = sample(BZIP2_BLOCK * 2 + 1000);
        let out = encode(Codec::Bzip2, &data, 2);
        let mut back = Vec::new();
        bzip2::read::MultiBzDecoder::new(&out[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn zstd_reads_back() {
        let data = sample(3 << 20);
        let out = encode(Codec::Zstd, &data, 2);
        assert_eq!(zstd::decode_all(&out[..]).unwrap(), data);
    }

    #[test]
    fn write_errors_reach_the_caller() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut e = Encoder::new(Codec::Gzip, Full, 2).unwrap();
        let data = sample(GZIP_BLOCK * 8);
        let err = e.write_all(&data).and_then(|_| e.finish().map(drop)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    }
}
