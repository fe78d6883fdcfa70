//! Streaming zip writer for Odoo backup archives (REFERENCE §1), compressing on every core.
//!
//! # Format
//!
//! Entries follow each other in the order of the calls (Odoo's layout: `dump.sql`,
//! `manifest.json`, then `filestore/...`), each a local header and its data, then the central
//! directory and the end records. Data is stored or raw deflate at zlib's level 1: Odoo reads
//! any deflate level, and its own level 6 costs three times the CPU for archives only about
//! 8% smaller (measured on the benchmark's instance), which on two cores is the difference
//! between compressing at disk speed and not. No directory entries, comments, encryption or extra timestamps.
//!
//! - An entry whose content fits in one block (2 MiB: `manifest.json`, most filestore files) is
//!   compressed whole in memory; its local header carries the exact CRC-32 and sizes. Files and
//!   bytes are stored when deflating does not save 3% (small incompressible files are judged
//!   first on a fast compression of four 8 KiB slices, so that images cost little).
//! - A larger file judged incompressible the same way (on its first block) is read twice: once
//!   for its CRC-32, then to copy it, checked against the first pass. Its local header is exact.
//! - A larger file that compresses, and a stream longer than one block (`dump.sql` from
//!   `pg_dump`), has flag bit 3: zero CRC and sizes in the local header, the real ones in a
//!   data descriptor (with its signature) after the data. Deflate data ends itself, so readers
//!   that walk local headers still find where it stops.
//! - Zip64 only where needed: central directory extra fields for sizes or offsets of
//!   0xFFFFFFFF and more; zip64 end record and locator from 65,535 entries or when the central
//!   directory starts or reaches past 0xFFFFFFFF. A stream's length is unknown when its local
//!   header is written, so that header gets a zip64 extra field (0xFFFFFFFF in the header's
//!   size fields, zeros in the extra field, version 4.5: what Info-ZIP's `zip` writes to a
//!   pipe) and its data descriptor has 8-byte sizes. A file from disk gets one only when its
//!   size is within 1/64 of 4 GiB.
//! - Names are UTF-8, with flag bit 11 when not ASCII; absolute names, `.`, `..` and empty
//!   components, backslashes and NUL are refused. Times are DOS times in UTC (a DOS time has no
//!   time zone; UTC makes an archive the same wherever it is written), clamped to 1980–2107.
//!   Version made by Unix, external attributes: regular file, mode 0644.
//!
//! The bytes written depend only on the calls, not on the number of threads.
//!
//! Readers: Python's `zipfile` (3.6 to 3.13), `unzip`, the `zip` crate's `ZipArchive` and Java's
//! `ZipFile` read everything. Readers that walk local headers without the central directory
//! read entries with exact headers, but not streamed ones: the `zip` crate's
//! `read_zipfile_from_stream` refuses any entry with a data descriptor, and Java's
//! `ZipInputStream` before 21 and `funzip` misread the 8-byte sizes of the descriptor, as they
//! do for Info-ZIP's own output to a pipe.
//!
//! # Threads and memory
//!
//! Blocks of a large entry are deflated independently on the worker threads
//! (`super::compress`), their concatenation one deflate stream; their CRC-32s are combined
//! here. Whole small entries are compressed (and small files read) on the
//! workers too, so `add_file` and `add_bytes` return before their entry is written. The calling
//! thread reads streams and large files and puts the output in order; a thread of its own
//! writes it ([`BackgroundWriter`]), so that neither reading nor compressing waits in
//! `write(2)`. At most `2 × threads` blocks of input are in flight, plus the two blocks being
//! read and `OUT_DEPTH` blocks waiting to be written. The workers are the shared worker pool,
//! each keeping its zlib compressor; a worker's panic fails the archive with an error saying so.
//!
//! The only memory that grows with the number of entries is the central directory (about 100
//! bytes an entry). Up to `CENTRAL_IN_MEMORY` (40,000 filestore entries or so) it stays in
//! memory; past that it goes on to an unlinked temporary file ([`Spill`], in the directory
//! given to [`ZipWriter::spill_in`], else the system's temporary directory), which is copied
//! to the output at the end. That file has no name, so it disappears with the writer whatever
//! ends the process.
//!
//! The records' byte layout is `super::records`'s; this module decides which records an
//! entry gets and puts everything in order.
//!
//! # Must not
//!
//! Seek or read back the output (it may be a pipe to ssh); stage entry data in temporary files
//! (only the central directory spills); walk directories or choose files (the caller does);
//! leave threads behind: dropping the writer early stops and joins them. After an error the
//! archive is incomplete and every later call fails.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crc32fast::Hasher;

use super::compress::{
    self, Answer, BLOCK, Head, Job, Output, Policy, Source, WINDOW, Work, Workers,
    looks_compressible, read_block, read_head,
};
use super::format::{CENTRAL_HEADER_LEN, FLAG_DESCRIPTOR, ZIP64_LIMIT};
use super::records::{self, Meta, Method, Record, Sizes, data_descriptor, local_header};
use crate::plumbing::background::BackgroundWriter;
use crate::plumbing::spill::Spill;

/// Buffers (up to a block each) waiting for the output's writer thread.
const OUT_DEPTH: usize = 4;
/// The largest central directory kept in memory; a larger one spills to a temporary file.
const CENTRAL_IN_MEMORY: usize = 4 << 20;

/// A zip archive written to `W` (which need not seek) as entries are added.
///
/// `add_bytes` and `add_file` choose the method: deflate, unless the data does not shrink by
/// 3%, then stored. `add_stream` always deflates.
pub struct ZipWriter<W: Write + Send + 'static> {
    out: BackgroundWriter<W>,
    /// What is still to be written, in order: (input bytes, item, its worker's result if it
    /// has a job). Declared before the pool, so that dropping the writer early drops the
    /// tickets first and the workers skip their jobs.
    queue: VecDeque<(usize, Item, Option<Answer>)>,
    pool: Workers,
    in_flight: usize,
    max_items: usize,
    max_bytes: usize,
    /// Bytes written to `out` so far.
    offset: u64,
    /// The large entry being written, between its `Begin` and its `End`.
    open: Option<Open>,
    /// The central directory so far, as it will be written: about 100 bytes per entry, in
    /// memory up to `CENTRAL_IN_MEMORY`, then in a temporary file.
    central: Spill,
    /// One central directory header, before it goes to `central`.
    scratch: Vec<u8>,
    recorded: usize,
    added: usize,
    /// The first error, after which the archive cannot be completed.
    failed: Option<String>,
    /// `ZIP64_LIMIT`, lowered by tests to exercise zip64 fields with little data.
    zip64_limit: u64,
    /// `CENTRAL_IN_MEMORY`, lowered by tests (before `spill_in`) to spill with few entries.
    central_in_memory: usize,
}

impl<W: Write + Send + 'static> ZipWriter<W> {
    /// A writer compressing on `threads` worker threads (at least one), deflate level 1.
    pub fn new(out: W, threads: usize) -> Self {
        ZipWriter::with_work(out, threads, Job::run)
    }

    /// A writer whose workers run `work` (tests inject a fault there).
    fn with_work(out: W, threads: usize, work: Work) -> Self {
        let threads = threads.max(1);
        let max_items = 16 * threads + 4;
        ZipWriter {
            out: BackgroundWriter::new(out, OUT_DEPTH),
            // Never full: `push` keeps fewer than `max_items` items queued.
            queue: VecDeque::new(),
            pool: compress::workers(threads, max_items, work),
            in_flight: 0,
            max_items,
            max_bytes: 2 * threads * BLOCK,
            offset: 0,
            open: None,
            central: Spill::new(&std::env::temp_dir(), CENTRAL_IN_MEMORY),
            scratch: Vec::with_capacity(256),
            recorded: 0,
            added: 0,
            failed: None,
            zip64_limit: ZIP64_LIMIT,
            central_in_memory: CENTRAL_IN_MEMORY,
        }
    }

    /// Adds a whole entry from memory (`manifest.json`).
    pub fn add_bytes(&mut self, name: &str, data: &[u8], mtime: SystemTime) -> io::Result<()> {
        self.check()?;
        let meta = Meta::new(name, mtime)?;
        self.added += 1;
        let result = self.push_whole(meta, data.to_vec(), Policy::Auto);
        self.guard(result)
    }

    /// Adds an entry of unknown length read from `reader` to its end (`dump.sql` straight from
    /// `pg_dump`), deflated in blocks on the worker threads. Returns the bytes read.
    pub fn add_stream(
        &mut self,
        name: &str,
        reader: &mut impl Read,
        mtime: SystemTime,
    ) -> io::Result<u64> {
        self.check()?;
        let meta = Meta::new(name, mtime)?;
        // Nothing is queued yet: a read error here leaves the archive intact.
        let head = read_head(reader)?;
        self.added += 1;
        let result = match head {
            Head::Whole(data) => {
                let n = data.len() as u64;
                self.push_whole(meta, data, Policy::Deflate).map(|()| n)
            }
            Head::Large(first, next) => self.add_deflated(meta, None, first, next, reader),
        };
        self.guard(result)
    }

    /// Adds the file at `path` (a filestore attachment), stored if it does not compress. Its
    /// modification time is the entry's.
    pub fn add_file(&mut self, name: &str, path: &Path) -> io::Result<()> {
        self.check()?;
        records::validate(name)?;
        let (mut source, metadata) = Source::open(path)?;
        let meta = Meta::new(name, metadata.modified().unwrap_or(UNIX_EPOCH))?;
        let size = metadata.len();
        if size <= BLOCK as u64 {
            // Read and compressed on a worker, so that small files are read in parallel too.
            self.added += 1;
            let result = self.push(Item::Whole(meta), Some(Job::File(source)), size as usize);
            return self.guard(result);
        }
        let head = read_head(&mut source)?;
        self.added += 1;
        let result = match head {
            // It shrank since its size was read.
            Head::Whole(data) => self.push_whole(meta, data, Policy::Auto),
            Head::Large(first, next) if looks_compressible(&first) => {
                self.add_deflated(meta, Some(size), first, next, &mut source).map(drop)
            }
            Head::Large(first, next) => self.add_stored(meta, first, next, &mut source),
        };
        self.guard(result)
    }

    /// Entries added so far (queued or written).
    pub fn entries(&self) -> usize {
        self.added
    }

    /// Where a large central directory spills (see the module docs): beside the output, so
    /// that it is on a file system with room. Call before adding entries; a spill already
    /// begun stays where it is.
    pub fn spill_in(&mut self, dir: &Path) {
        if self.central.is_empty() {
            self.central = Spill::new(dir, self.central_in_memory);
        }
    }

    /// Makes room in the central directory for `entries` more entries with names of
    /// `name_bytes` bytes in all, so that it grows once instead of by doubling (a copy of
    /// it all each time, and up to twice its size in memory at the end); only up to what
    /// stays in memory.
    pub fn reserve(&mut self, entries: usize, name_bytes: usize) {
        self.central.reserve(entries * CENTRAL_HEADER_LEN + name_bytes);
    }

    /// Waits for every queued entry, writes it and flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        let result = self.drain().and_then(|()| self.out.flush());
        self.guard(result)
    }

    /// Waits for all pending entries, writes the central directory and end records, flushes,
    /// stops the worker threads and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.check()?;
        let result = self.drain().and_then(|()| self.write_central_directory());
        self.guard(result)?;
        self.out.finish()
    }

    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some(first) => Err(io::Error::other(format!("zip archive failed earlier: {first}"))),
            None => Ok(()),
        }
    }

    /// Remembers the first error: the archive is broken after it.
    fn guard<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result
            && self.failed.is_none()
        {
            self.failed = Some(e.to_string());
        }
        result
    }

    fn push_whole(&mut self, meta: Meta, data: Vec<u8>, policy: Policy) -> io::Result<()> {
        let n = data.len();
        self.push(Item::Whole(meta), Some(Job::Whole { data, policy }), n)
    }

    /// Queues a large entry as blocks deflated on the workers, with a data descriptor.
    fn add_deflated(
        &mut self,
        meta: Meta,
        size: Option<u64>,
        first: Vec<u8>,
        mut next: Vec<u8>,
        reader: &mut impl Read,
    ) -> io::Result<u64> {
        let margin = self.zip64_limit / 64;
        let zip64 = size.is_none_or(|n| n >= self.zip64_limit - margin);
        let begin = Begin { meta, method: Method::Deflate, exact: None, zip64 };
        self.push(Item::Begin(begin), None, 0)?;
        let mut total = 0;
        let mut block = first;
        let mut dictionary = None;
        loop {
            let last = next.is_empty();
            total += block.len() as u64;
            let tail = (!last).then(|| block[block.len().saturating_sub(WINDOW)..].to_vec());
            let n = block.len();
            self.push(Item::Block, Some(Job::Block { data: block, dictionary, last }), n)?;
            if last {
                break;
            }
            dictionary = tail;
            block = next;
            next = read_block(reader)?;
        }
        self.push(Item::End, None, 0)?;
        Ok(total)
    }

    /// Queues a large stored file: a first pass for its CRC-32 so that its local header is
    /// exact, then its data, checked against the first pass.
    fn add_stored(
        &mut self,
        meta: Meta,
        first: Vec<u8>,
        next: Vec<u8>,
        source: &mut Source,
    ) -> io::Result<()> {
        let mut hasher = Hasher::new();
        hasher.update(&first);
        hasher.update(&next);
        let mut size = (first.len() + next.len()) as u64;
        let mut buffer = first;
        drop(next);
        loop {
            buffer.clear();
            source.take(BLOCK as u64).read_to_end(&mut buffer)?;
            if buffer.is_empty() {
                break;
            }
            hasher.update(&buffer);
            size += buffer.len() as u64;
        }
        drop(buffer);
        let crc = hasher.finalize();
        source.rewind()?;
        let zip64 = size >= self.zip64_limit;
        let begin = Begin { meta, method: Method::Stored, exact: Some((crc, size)), zip64 };
        self.push(Item::Begin(begin), None, 0)?;
        let mut check = Hasher::new();
        let mut copied = 0;
        let mut rest = source.take(size);
        loop {
            let block = read_block(&mut rest)?;
            if block.is_empty() {
                break;
            }
            check.update(&block);
            copied += block.len() as u64;
            let n = block.len();
            self.push(Item::Raw(block), None, n)?;
        }
        if copied != size || check.finalize() != crc {
            let message = format!("{} changed while it was being archived", source.path.display());
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        self.push(Item::End, None, 0)
    }

    /// Queues `item` (and its job for the workers), first writing what is due so that at most
    /// `max_items` items and `max_bytes` of input are in flight.
    fn push(&mut self, item: Item, job: Option<Job>, bytes: usize) -> io::Result<()> {
        while !self.queue.is_empty()
            && (self.queue.len() >= self.max_items || self.in_flight + bytes > self.max_bytes)
        {
            self.write_front()?;
        }
        let ticket = job.map(|job| self.pool.submit(job)).transpose()?;
        self.queue.push_back((bytes, item, ticket));
        self.in_flight += bytes;
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
        while !self.queue.is_empty() {
            self.write_front()?;
        }
        Ok(())
    }

    /// Writes the oldest queued item, waiting for its worker if needed.
    fn write_front(&mut self) -> io::Result<()> {
        let Some((bytes, item, ticket)) = self.queue.pop_front() else { return Ok(()) };
        self.in_flight -= bytes;
        match item {
            Item::Whole(meta) => {
                let Output::Whole(body) = wait(ticket)? else { return Err(mismatch()) };
                let sizes =
                    Sizes { crc: body.crc, size: body.size, compressed: body.data.len() as u64 };
                let zip64 = sizes.reach(self.zip64_limit);
                let offset = self.offset;
                self.put(&local_header(&meta, body.method, sizes, zip64))?;
                self.put_owned(body.data)?;
                self.record(Record::new(meta, body.method, sizes, offset, zip64))?;
            }
            Item::Begin(Begin { mut meta, method, exact, zip64 }) => {
                let sizes = match exact {
                    Some((crc, size)) => Sizes { crc, size, compressed: size },
                    None => {
                        meta.flags |= FLAG_DESCRIPTOR;
                        Sizes::default()
                    }
                };
                let offset = self.offset;
                self.put(&local_header(&meta, method, sizes, zip64))?;
                let hasher = Hasher::new();
                self.open = Some(Open {
                    meta,
                    method,
                    exact,
                    zip64,
                    offset,
                    hasher,
                    size: 0,
                    compressed: 0,
                });
            }
            Item::Block => {
                let Output::Block(chunk) = wait(ticket)? else { return Err(mismatch()) };
                let open = self.open.as_mut().ok_or_else(mismatch)?;
                open.hasher.combine(&chunk.hasher);
                open.size += chunk.size;
                open.compressed += chunk.data.len() as u64;
                self.put_owned(chunk.data)?;
            }
            Item::Raw(data) => {
                let open = self.open.as_mut().ok_or_else(mismatch)?;
                open.size += data.len() as u64;
                open.compressed += data.len() as u64;
                self.put_owned(data)?;
            }
            Item::End => self.close()?,
        }
        Ok(())
    }

    /// Ends the open large entry: its data descriptor, if it has one, and its record.
    fn close(&mut self) -> io::Result<()> {
        let open = self.open.take().ok_or_else(mismatch)?;
        let crc = open.hasher.finalize();
        let sizes = Sizes { crc, size: open.size, compressed: open.compressed };
        match open.exact {
            Some((_, size)) if size != open.size => return Err(mismatch()),
            Some((crc, _)) => {
                let sizes = Sizes { crc, ..sizes };
                let record = Record::new(open.meta, open.method, sizes, open.offset, open.zip64);
                return self.record(record);
            }
            None => {}
        }
        if !open.zip64 && sizes.reach(self.zip64_limit) {
            let message = "the file grew past 4 GiB while it was being archived";
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        self.put(&data_descriptor(sizes, open.zip64))?;
        self.record(Record::new(open.meta, open.method, sizes, open.offset, open.zip64))
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Like `put`, without a copy.
    fn put_owned(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        let n = bytes.len() as u64;
        self.out.write_owned(bytes)?;
        self.offset += n;
        Ok(())
    }

    /// Adds a written entry to the central directory.
    fn record(&mut self, record: Record) -> io::Result<()> {
        self.scratch.clear();
        record.write_central(&mut self.scratch, self.zip64_limit);
        self.central.append(&self.scratch)?;
        self.recorded += 1;
        Ok(())
    }

    fn write_central_directory(&mut self) -> io::Result<()> {
        let start = self.offset;
        let mut central = std::mem::replace(&mut self.central, Spill::new(Path::new(""), 0));
        if central.spilled() {
            // Copied back in blocks: no more than `OUT_DEPTH` of them in memory at once.
            let mut reader = central.reader()?;
            loop {
                let block = read_block(&mut reader)?;
                if block.is_empty() {
                    break;
                }
                self.put_owned(block)?;
            }
            if self.offset - start != central.len() {
                return Err(mismatch());
            }
        } else if let Some(bytes) = central.into_memory() {
            self.put_owned(bytes)?;
        }
        let size = self.offset - start;
        self.put(&records::end_records(self.recorded, start, size, self.zip64_limit))
    }
}

/// A worker's result, in its turn: a panic is an error too.
fn wait(ticket: Option<Answer>) -> io::Result<Output> {
    ticket.ok_or_else(mismatch)?.wait()?
}

fn mismatch() -> io::Error {
    io::Error::other("zip writer: queued items out of step (bug)")
}

/// The items of the output, in order. `Whole` and `Block` wait for a worker's result.
enum Item {
    Whole(Meta),
    Begin(Begin),
    Block,
    Raw(Vec<u8>),
    End,
}

/// The local header of a large entry.
struct Begin {
    meta: Meta,
    method: Method,
    /// CRC-32 and size known in advance (stored files): exact header, no data descriptor.
    exact: Option<(u32, u64)>,
    zip64: bool,
}

/// The large entry being written.
struct Open {
    meta: Meta,
    method: Method,
    exact: Option<(u32, u64)>,
    zip64: bool,
    offset: u64,
    hasher: Hasher,
    size: u64,
    compressed: u64,
}

#[cfg(test)]
mod tests;
