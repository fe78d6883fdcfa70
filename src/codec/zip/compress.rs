//! The zip writer's compression stage, on the shared worker pool ([`crate::plumbing::pool`]):
//! the jobs the writer hands to the workers and what they answer, the zlib compressor each
//! worker keeps, and the choice between storing and deflating.
//!
//! - A whole entry (in memory, or a small file the worker reads itself) comes back stored or
//!   deflated whole, with its CRC-32: deflated unless that does not save `MIN_SAVING_PERCENT`
//!   (entries over `4 × PROBE` are first judged on a fast compression of four slices, so that
//!   images cost little).
//! - A block of a large entry is a raw deflate primed with the previous block's last 32 KiB
//!   as dictionary and ended by a sync flush (the last by the final block), so that the
//!   blocks' concatenation is one deflate stream, as pigz writes; it comes back with its
//!   CRC-32 state, for the writer to combine.
//!
//! A job's output depends only on its input, never on which worker ran it or what that worker
//! compressed before: the archive is the same for any number of threads.
//!
//! Must not: write the output, lay out records or decide the order of anything (the writer
//! does); read a file larger than one block (the writer reads large ones itself).

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crc32fast::Hasher;
use flate2::{Compress, Compression, FlushCompress, Status};

use super::records::Method;
use crate::plumbing::pool::{Pool, Ticket};

/// Input per block: the largest entry compressed whole, and the unit of parallel work.
pub const BLOCK: usize = 2 << 20;
/// zlib's fastest level (Odoo's `zipfile` uses 6; see the writer's docs).
pub const LEVEL: u32 = 1;
/// Deflate's window: the tail of a block given to the next as dictionary.
pub const WINDOW: usize = 32 << 10;
/// Slices of an entry tried with a fast compression to choose between storing and deflating:
/// four of them, spread over the entry (or its first block). Smaller entries are deflated
/// directly.
pub const PROBE: usize = 8 << 10;
/// Smallest saving, in percent, for which an entry is deflated rather than stored.
const MIN_SAVING_PERCENT: usize = 3;

/// The worker threads of one writer, each keeping its [`Deflater`].
pub type Workers = Pool<'static, Job, io::Result<Output>>;

/// A worker's answer to a job, in the pool.
pub type Answer = Ticket<io::Result<Output>>;

/// What a worker does with a job: [`Job::run`], with the worker's own deflater (tests inject
/// a fault there).
pub type Work = fn(Job, &mut Deflater) -> io::Result<Output>;

/// `threads` workers running `work`, at most `queue` jobs waiting for them.
pub fn workers(threads: usize, queue: usize, work: Work) -> Workers {
    Pool::new("zip", threads, queue, Deflater::new, move |deflater, job| work(job, deflater))
}

/// Whether a whole entry may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Deflate unless the data does not shrink by `MIN_SAVING_PERCENT`.
    Auto,
    Deflate,
}

/// Work for the worker threads.
pub enum Job {
    /// A whole entry in memory.
    Whole { data: Vec<u8>, policy: Policy },
    /// A whole small file, read by the worker.
    File(Source),
    /// One block of a large deflated entry.
    Block { data: Vec<u8>, dictionary: Option<Vec<u8>>, last: bool },
}

pub enum Output {
    Whole(Body),
    Block(Chunk),
}

/// A whole entry, compressed or not.
pub struct Body {
    pub method: Method,
    pub crc: u32,
    pub size: u64,
    pub data: Vec<u8>,
}

/// A deflated block of a large entry.
pub struct Chunk {
    pub data: Vec<u8>,
    pub hasher: Hasher,
    pub size: u64,
}

impl Job {
    pub fn run(self, deflater: &mut Deflater) -> io::Result<Output> {
        match self {
            Job::Whole { data, policy } => {
                Ok(Output::Whole(compress_whole(deflater, data, policy)?))
            }
            Job::File(mut source) => {
                let mut data = Vec::new();
                (&mut source).take(BLOCK as u64 + 1).read_to_end(&mut data)?;
                if data.len() > BLOCK {
                    let path = source.path.display();
                    let message = format!("{path} grew while it was being archived");
                    return Err(io::Error::new(io::ErrorKind::InvalidData, message));
                }
                Ok(Output::Whole(compress_whole(deflater, data, Policy::Auto)?))
            }
            Job::Block { data, dictionary, last } => {
                let mut hasher = Hasher::new();
                hasher.update(&data);
                let compressed = deflater.deflate(&data, dictionary.as_deref(), last)?;
                Ok(Output::Block(Chunk { data: compressed, hasher, size: data.len() as u64 }))
            }
        }
    }
}

fn compress_whole(deflater: &mut Deflater, data: Vec<u8>, policy: Policy) -> io::Result<Body> {
    let crc = crc32fast::hash(&data);
    let size = data.len() as u64;
    let worth_trying = policy == Policy::Deflate || deflater.looks_compressible(&data);
    if worth_trying {
        let deflated = deflater.deflate(&data, None, true)?;
        if policy == Policy::Deflate || saves_enough(deflated.len(), data.len()) {
            return Ok(Body { method: Method::Deflate, crc, size, data: deflated });
        }
    }
    Ok(Body { method: Method::Stored, crc, size, data })
}

/// Whether `data` is worth deflating (see [`Deflater::looks_compressible`]), on the calling
/// thread.
pub fn looks_compressible(data: &[u8]) -> bool {
    Deflater::new().looks_compressible(data)
}

fn saves_enough(compressed: usize, size: usize) -> bool {
    compressed * 100 <= size * (100 - MIN_SAVING_PERCENT)
}

/// A zlib compressor at `LEVEL`, kept by a thread from one entry to the next: making one
/// allocates and clears about 300 KiB of tables, more than a small file costs to deflate.
pub struct Deflater(Compress);

impl Deflater {
    fn new() -> Deflater {
        Deflater(Compress::new(Compression::new(LEVEL), false))
    }

    /// Whether `data` is worth deflating: true when it is small, else whether at least two of
    /// four slices spread over it shrink (a PDF's text header alone does not make it
    /// compressible).
    fn looks_compressible(&mut self, data: &[u8]) -> bool {
        if data.len() <= 4 * PROBE {
            return true;
        }
        let step = (data.len() - PROBE) / 3;
        self.0.reset();
        let mut out = Vec::with_capacity(2 * PROBE);
        let mut shrinking = 0;
        for i in 0..4 {
            out.clear();
            // A full flush ends each slice's output and forgets it before the next one.
            let flushed =
                self.0.compress_vec(&data[i * step..][..PROBE], &mut out, FlushCompress::Full);
            if flushed.is_ok() && out.len() < out.capacity() && saves_enough(out.len(), PROBE) {
                shrinking += 1;
            }
        }
        shrinking >= 2
    }

    /// Raw deflate of `input`, primed with `dictionary`, ending with a sync flush (a
    /// byte-aligned empty stored block) or, when `last`, with the final block.
    fn deflate(
        &mut self,
        input: &[u8],
        dictionary: Option<&[u8]>,
        last: bool,
    ) -> io::Result<Vec<u8>> {
        // After a reset, a compressor primed with a dictionary compresses differently depending
        // on what it compressed before (zlib-rs 0.5), which would make the archive depend on
        // which worker took which block: blocks with a dictionary get a new one.
        match dictionary {
            Some(_) => self.0 = Compress::new(Compression::new(LEVEL), false),
            None => self.0.reset(),
        }
        let compress = &mut self.0;
        if let Some(dictionary) = dictionary {
            compress.set_dictionary(dictionary).map_err(io::Error::other)?;
        }
        let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        loop {
            let consumed = compress.total_in() as usize;
            let status = compress
                .compress_vec(&input[consumed..], &mut out, flush)
                .map_err(io::Error::other)?;
            let all_in = compress.total_in() as usize == input.len();
            match status {
                Status::StreamEnd => return Ok(out),
                // A sync flush is complete once all input is in and output room is left.
                _ if !last && all_in && out.len() < out.capacity() => return Ok(out),
                _ => out.reserve(out.capacity().max(4096)),
            }
        }
    }
}

/// A file being archived, whose errors name it.
pub struct Source {
    file: File,
    pub path: PathBuf,
}

impl Source {
    /// Opens the file at `path`, which must be a regular file.
    pub fn open(path: &Path) -> io::Result<(Source, Metadata)> {
        let file = File::open(path).map_err(|e| with_path("opening", path, e))?;
        let metadata = file.metadata().map_err(|e| with_path("reading", path, e))?;
        if !metadata.is_file() {
            let message = format!("{} is not a regular file", path.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        Ok((Source { file, path: path.to_owned() }, metadata))
    }

    /// Back to the start, for a second pass.
    pub fn rewind(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0)).map_err(|e| with_path("reading", &self.path, e))?;
        Ok(())
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf).map_err(|e| with_path("reading", &self.path, e))
    }
}

fn with_path(doing: &str, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{doing} {}: {e}", path.display()))
}

/// The start of an input: all of it, or its first two blocks when it is longer than one.
pub enum Head {
    Whole(Vec<u8>),
    Large(Vec<u8>, Vec<u8>),
}

pub fn read_head(reader: &mut impl Read) -> io::Result<Head> {
    let first = read_block(reader)?;
    if first.len() < BLOCK {
        return Ok(Head::Whole(first));
    }
    let next = read_block(reader)?;
    if next.is_empty() {
        return Ok(Head::Whole(first));
    }
    Ok(Head::Large(first, next))
}

/// Reads one block, shorter only at the end of the input.
pub fn read_block(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(BLOCK);
    reader.take(BLOCK as u64).read_to_end(&mut block)?;
    Ok(block)
}

#[cfg(test)]
mod tests;
