//! Compression on every core.
//!
//! gzip and bzip2 compress one stream on one core, so [`BlockWriter`] cuts the input into
//! blocks, compresses them on worker threads as independent gzip members or bzip2 streams
//! (the layout pigz's `-i`, pbzip2 and BGZF use; every gzip and bzip2 reader reads such files
//! whole) and writes them in order, on the shared worker [`Pool`]. zstd has worker threads of
//! its own. Memory stays bounded: at most two blocks per worker are in flight. A worker that
//! panics makes the write fail with an error saying so (the block is lost, never skipped).

use std::collections::VecDeque;
use std::io::{self, Write};

use super::Codec;
use crate::plumbing::pool::{Pool, Ticket};

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
    crate::codec::bzip2::encode::compress(input)
}

type Compress = fn(&[u8]) -> io::Result<Vec<u8>>;
type Compressed = io::Result<Vec<u8>>;

/// Compresses fixed-size blocks on worker threads and writes them to `out` in order.
pub struct BlockWriter<W: Write> {
    out: W,
    block_size: usize,
    pending: Vec<u8>,
    /// The blocks handed to the workers and not yet written, in order. Declared before the
    /// pool, so that dropping the writer early drops them first and the workers skip them.
    tickets: VecDeque<Ticket<Compressed>>,
    pool: Pool<'static, Vec<u8>, Compressed>,
    /// Whether a block was submitted: an empty input still makes one.
    started: bool,
    max_in_flight: usize,
}

impl<W: Write> BlockWriter<W> {
    pub fn new(out: W, threads: usize, block_size: usize, compress: Compress) -> BlockWriter<W> {
        let threads = threads.max(1);
        let work = move |_: &mut (), block: Vec<u8>| compress(&block);
        BlockWriter {
            out,
            block_size,
            pending: Vec::with_capacity(block_size),
            tickets: VecDeque::with_capacity(2 * threads),
            pool: Pool::new("compress", threads, threads, || (), work),
            started: false,
            max_in_flight: 2 * threads,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        while self.tickets.len() >= self.max_in_flight {
            self.write_one()?;
        }
        let block = std::mem::replace(&mut self.pending, Vec::with_capacity(self.block_size));
        self.tickets.push_back(self.pool.submit(block)?);
        self.started = true;
        Ok(())
    }

    /// Waits for the oldest block and writes it.
    fn write_one(&mut self) -> io::Result<()> {
        if let Some(ticket) = self.tickets.pop_front() {
            let block = ticket.wait()??;
            self.out.write_all(&block)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() || !self.started {
            // An empty input still becomes one valid (empty) member.
            self.submit()?;
        }
        while !self.tickets.is_empty() {
            self.write_one()?;
        }
        let BlockWriter { mut out, pool, .. } = self;
        drop(pool);
        out.flush()?;
        Ok(out)
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
    use crate::plumbing::pool::within_a_minute;
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

    /// gzip, except for a block starting with `PANIC`.
    fn gzip_or_panic(block: &[u8]) -> io::Result<Vec<u8>> {
        assert!(!block.starts_with(b"PANIC"), "a marked block");
        gzip_block(block)
    }

    #[test]
    fn a_worker_panic_is_an_error_not_a_hang() {
        for (threads, marked) in [(1, 0), (2, 0), (2, 7), (3, 39)] {
            let err = within_a_minute(move || {
                let mut data = sample(40 * 1000);
                data[marked * 1000..][..5].copy_from_slice(b"PANIC");
                let mut writer = BlockWriter::new(Vec::new(), threads, 1000, gzip_or_panic);
                writer.write_all(&data).and_then(|()| writer.finish().map(drop)).unwrap_err()
            });
            let text = err.to_string();
            assert!(
                text.contains("worker thread compress-")
                    && text.contains("panicked: a marked block"),
                "{threads} threads, block {marked}: {text}"
            );
        }
    }

    #[test]
    fn dropping_the_writer_early_stops_its_workers() {
        within_a_minute(|| {
            let mut writer = BlockWriter::new(Vec::new(), 2, 1000, gzip_block);
            writer.write_all(&sample(10_000)).unwrap();
            drop(writer);
        });
    }
}
