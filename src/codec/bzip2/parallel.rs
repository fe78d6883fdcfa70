//! Parallel bzip2 decoding, the way lbzip2 does it: the blocks of a bzip2 stream are
//! independent, so they are decoded on several threads and their output is handed out in
//! input order by [`ParallelDecoder`].
//!
//! How: a reader thread reads the input in chunks and indexes every occurrence of the 48-bit
//! block magic and end-of-stream magic at any bit offset (a `memmem` search for the bytes that
//! each magic fully covers at each of the 8 bit shifts, then a check of all 48 bits). It cuts
//! the input at those candidates into segments and queues them for worker threads. A worker
//! decodes a segment's bits where they lie with [`BlockDecoder`], which checks the block CRC
//! and that the block ends exactly where the segment does. Randomised blocks (bzip2 0.9.0 and
//! older), which that decoder refuses, are re-aligned into a standalone single-block stream
//! (`BZh` + level, the block, an end-of-stream marker carrying the block CRC as the stream
//! CRC) and decoded with the `bzip2` crate instead. The reading side takes the results in
//! input order and checks each stream's combined CRC (there rather than in the reader thread,
//! because only decoding tells real boundaries from false ones).
//!
//! A magic can occur by chance inside compressed data. A segment that fails to decode is
//! merged with the segments that follow it, up to the largest block a stream's level allows,
//! before it is declared corrupt; a segment that decodes, CRC and all, proves its start real.
//! That recovery is linear in the block however many false magics it holds: segments are
//! merged in rounds that double the merged length, one pass finds where the block ends, it is
//! decoded once, and segments merged past its end are handed out next.
//! An end-of-stream candidate followed by something other than the end of the input or another
//! `BZh` header is likewise treated as possibly false, and is trailing garbage only if the
//! block before it decodes.
//!
//! The workers are the shared [`Pool`], owned by the reader thread: it submits each segment
//! and sends the segment's ticket to the reading side, which waits on the tickets in order. A
//! worker that panics makes the read fail with an error saying so (an I/O error of kind
//! `Other`, not `InvalidData`: the input is not to blame).
//!
//! What it must not do: hand out bytes that no block CRC checked; end without an error on
//! truncated input, on corrupt input or on anything after the last stream (even zero padding);
//! hold the whole input in memory (about 3 × threads segments are in flight, a segment being
//! at most one block); or leave threads blocked once the decoder is dropped (dropping it drops
//! the tickets, so the workers skip their segments, closes the channel the reader thread sends
//! on, and a flag stops the reader thread between reads; only a read of `inner` already under
//! way is waited out by the reader thread, which then joins the workers). Output is
//! handed out as soon as its block is checked, so a stream-level error (stream CRC, truncation)
//! comes after the stream's earlier blocks: a caller must treat any error as a failed input.

use std::collections::VecDeque;
use std::fmt::Display;
use std::io::{self, ErrorKind, Read};
use std::iter;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use bzip2::{Decompress, Status};
use memchr::memmem::Finder;

use super::block::{Block, BlockDecoder, BlockError};
use crate::pipeline::pool::{Pool, Ticket};

/// Starts every block (the BCD digits of pi).
const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
/// Starts the trailer of every stream (the BCD digits of the square root of pi).
const END_MAGIC: u64 = 0x1772_4538_5090;
const MAGIC_BITS: u64 = 48;
const CRC_BITS: u64 = 32;
/// Bytes asked of the input per read.
const CHUNK: usize = 1 << 20;

/// The most bits a valid block of a stream of `level` can take, magic and CRC included: each
/// of at most `level` × 100 000 symbols (plus end-of-block) in at most 20 bits, plus at most
/// about 260 000 bits of header, symbol map, selectors and code tables.
fn max_block_bits(level: u8) -> u64 {
    (u64::from(level) * 100_000 + 1) * 20 + 300_000
}

/// Decodes a bzip2 file on several threads; see the module documentation.
pub struct ParallelDecoder {
    /// The segments' results in input order, and the reader thread's end or error.
    order: Receiver<Item>,
    /// Tells the reader thread to stop; set on drop and on error.
    stop: Arc<AtomicBool>,
    /// Decoded bytes of the current block, handed out from `block_pos` on.
    block: Vec<u8>,
    block_pos: usize,
    /// Combined CRC of the current stream's blocks so far.
    stream_crc: u32,
    /// Blocks decoded so far, over all streams (to number blocks in messages).
    blocks_decoded: u64,
    /// Decodes merged segments when recovering from a false magic.
    block_decoder: BlockDecoder,
    /// Segments taken while recovering that belong to later blocks, handed out first.
    held: VecDeque<Outcome>,
    /// The reader thread said the input ended (`Item::End` was received).
    input_ended: bool,
    /// What recovering from false magics took so far.
    recovery_work: RecoveryWork,
    state: State,
}

/// The work of recovering from false magics: decoding attempts, and the bits they were given.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecoveryWork {
    pub attempts: u64,
    pub bits: u64,
}

enum State {
    Running,
    Finished,
    /// Every read after an error repeats it.
    Failed {
        kind: ErrorKind,
        message: String,
    },
}

impl ParallelDecoder {
    /// Decodes `inner` (a bzip2 file: single-stream as written by `bzip2`, or multi-stream as
    /// written by pbzip2/lbzip2 or by concatenating files) using `threads` worker threads
    /// (0 is taken as 1), plus one thread that reads `inner`.
    pub fn new<R: Read + Send + 'static>(inner: R, threads: usize) -> Self {
        ParallelDecoder::with_work(inner, threads, decode_job)
    }

    /// A decoder whose workers run `work` (tests inject a fault there).
    fn with_work<R: Read + Send + 'static>(inner: R, threads: usize, work: Work) -> Self {
        let threads = threads.max(1);
        let stop = Arc::new(AtomicBool::new(false));
        let (order_sender, order) = sync_channel(2 * threads);
        let mut decoder = ParallelDecoder::reading(order, Arc::clone(&stop));
        if let Err(error) = spawn_threads(inner, threads, work, order_sender, stop) {
            decoder.fail(&error);
        }
        decoder
    }

    /// A decoder that takes segment results from `order`.
    fn reading(order: Receiver<Item>, stop: Arc<AtomicBool>) -> Self {
        ParallelDecoder {
            order,
            stop,
            block: Vec::new(),
            block_pos: 0,
            stream_crc: 0,
            blocks_decoded: 0,
            block_decoder: BlockDecoder::new(),
            held: VecDeque::new(),
            input_ended: false,
            recovery_work: RecoveryWork::default(),
            state: State::Running,
        }
    }

    /// What recovering from false magics took so far (to check that it stays linear).
    #[cfg(test)]
    pub(super) fn recovery_work(&self) -> RecoveryWork {
        self.recovery_work
    }

    fn fail(&mut self, error: &io::Error) {
        self.stop.store(true, Ordering::Relaxed);
        self.state = State::Failed { kind: error.kind(), message: error.to_string() };
    }

    /// The next block's bytes, checked; `None` after the last stream.
    fn next_block(&mut self) -> io::Result<Option<Vec<u8>>> {
        let Some(Outcome { segment, decoded }) = self.next_outcome()? else {
            return Ok(None);
        };
        let (block, end) = match decoded {
            Ok(block) => (block, segment.end),
            Err(reason) => self.recover(segment, &reason)?,
        };
        self.blocks_decoded += 1;
        self.stream_crc = self.stream_crc.rotate_left(1) ^ block.crc;
        if let SegmentEnd::Stream { stored_crc, then } = end {
            if stored_crc != self.stream_crc {
                return Err(invalid(format!(
                    "stream CRC mismatch (stored {stored_crc:08x}, computed {:08x})",
                    self.stream_crc
                )));
            }
            if let AfterStream::Garbage { byte } = then {
                return Err(invalid(format!("trailing garbage after a stream, at byte {byte}")));
            }
            self.stream_crc = 0;
        }
        Ok(Some(block.data))
    }

    /// The next segment and its result, in input order; `None` after the last one.
    fn next_outcome(&mut self) -> io::Result<Option<Outcome>> {
        if let Some(outcome) = self.held.pop_front() {
            return Ok(Some(outcome));
        }
        if self.input_ended {
            return Ok(None);
        }
        match self.order.recv() {
            Ok(Item::Segment(ticket)) => receive(ticket).map(Some),
            Ok(Item::Failed(error)) => Err(error),
            Ok(Item::End) => {
                self.input_ended = true;
                Ok(None)
            }
            Err(_) => Err(invalid("the input reading thread stopped unexpectedly")),
        }
    }

    /// Decodes `failed` merged with the segments after it, in case it ends at a magic that
    /// occurred by chance inside its block.
    ///
    /// Linear in the block, however many false magics it holds: segments are merged in rounds
    /// that double the merged length, and after each round one pass over the merged bits
    /// finds where the block's end-of-block symbol ends ([`BlockDecoder::block_end`]). Only
    /// when a segment ends there is the block decoded, once; the segments merged past it
    /// are handed out next. Gives up, with `failed`'s error, when the block ends where no
    /// segment does, when the next segment decodes on its own (so `failed` cannot reach past
    /// it), when no block could be that long, or when the stream ends for sure.
    fn recover(&mut self, failed: Segment, reason: &str) -> io::Result<(Block, SegmentEnd)> {
        let corrupt = invalid(format!(
            "block {} at byte {} is corrupt: {reason}",
            self.blocks_decoded + 1,
            failed.byte_offset
        ));
        let max_bits = max_block_bits(failed.level);
        let mut merged = failed;
        // The segments merged, each with where it starts in `merged` and how `merged` ended
        // before it.
        let mut taken: Vec<(Outcome, u64, SegmentEnd)> = Vec::new();
        // The segment that stopped the merging by decoding on its own.
        let mut stopper = None;
        let mut complete = !merged.end.could_be_false();
        let block_end = loop {
            let target = merged.bits.len.saturating_mul(2);
            while !complete && merged.bits.len < target && merged.bits.len <= max_bits {
                let Some(next) = self.next_outcome()? else {
                    complete = true;
                    break;
                };
                if next.segment.starts_block && next.decoded.is_ok() {
                    stopper = Some(next);
                    complete = true;
                    break;
                }
                let (offset, end) = (merged.bits.len, merged.end);
                merged.absorb(&next.segment);
                self.recovery_work.bits += next.segment.bits.len;
                complete = !merged.end.could_be_false();
                taken.push((next, offset, end));
            }
            self.recovery_work.attempts += 1;
            self.recovery_work.bits += merged.bits.len;
            match find_block_end(&merged, &mut self.block_decoder) {
                Ok(end) => break end,
                Err(BlockError::Truncated) if !complete && merged.bits.len <= max_bits => {}
                Err(_) => return Err(corrupt),
            }
        };
        // The segments from the one that starts where the block ends are not part of it.
        let rest = match taken.iter().position(|&(_, offset, _)| offset == block_end) {
            Some(index) => {
                merged.end = taken[index].2;
                merged.bits.len = block_end;
                taken.split_off(index)
            }
            None if block_end == merged.bits.len => Vec::new(),
            None => return Err(corrupt),
        };
        self.recovery_work.bits += merged.bits.len;
        let Ok(block) = decode_segment(&merged, &mut self.block_decoder) else {
            return Err(corrupt);
        };
        for outcome in
            stopper.into_iter().chain(rest.into_iter().rev().map(|(outcome, ..)| outcome))
        {
            self.held.push_front(outcome);
        }
        Ok((block, merged.end))
    }
}

impl Read for ParallelDecoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.block_pos == self.block.len() {
            match &self.state {
                State::Running => {}
                State::Finished => return Ok(0),
                State::Failed { kind, message } => {
                    return Err(io::Error::new(*kind, message.clone()));
                }
            }
            match self.next_block() {
                Ok(Some(data)) => {
                    self.block = data;
                    self.block_pos = 0;
                }
                Ok(None) => self.state = State::Finished,
                Err(error) => {
                    self.fail(&error);
                    return Err(error);
                }
            }
        }
        let n = buf.len().min(self.block.len() - self.block_pos);
        buf[..n].copy_from_slice(&self.block[self.block_pos..self.block_pos + n]);
        self.block_pos += n;
        Ok(n)
    }
}

impl Drop for ParallelDecoder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the workers and the reader thread; on error the workers stop as their pool is
/// dropped.
fn spawn_threads<R: Read + Send + 'static>(
    inner: R,
    threads: usize,
    work: Work,
    order: SyncSender<Item>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let pool = Pool::new("bzip2-decode", threads, threads, BlockDecoder::new, work);
    let scanner = Scanner { input: Input::new(inner, stop), order, pool };
    thread::Builder::new().name("bzip2-read".to_string()).spawn(move || scanner.run())?;
    Ok(())
}

/// What a worker does with a segment: [`decode_job`], with the worker's own block decoder.
type Work = fn(&mut BlockDecoder, Segment) -> Outcome;

/// A worker's job: decodes one segment.
fn decode_job(decoder: &mut BlockDecoder, segment: Segment) -> Outcome {
    let decoded = decode_segment(&segment, decoder);
    Outcome { segment, decoded }
}

/// A segment's outcome, in its turn; a worker's panic is an error (not the input's fault).
fn receive(ticket: Ticket<Outcome>) -> io::Result<Outcome> {
    Ok(ticket.wait()?)
}

/// What the reader thread sends to the decoder, in input order.
enum Item {
    /// A segment, whose result a worker will put in the ticket.
    Segment(Ticket<Outcome>),
    /// Reading stopped with this error (after the segments sent before it).
    Failed(io::Error),
    /// The input ended after a complete stream.
    End,
}

/// A segment and what decoding it gave: its block, or why it failed.
struct Outcome {
    segment: Segment,
    decoded: Result<Block, String>,
}

/// The input between two consecutive magics (candidates, which may be false).
struct Segment {
    bits: Bits,
    /// Level digit of the stream it belongs to.
    level: u8,
    /// False when it starts at an end-of-stream candidate, so it can only continue a block.
    starts_block: bool,
    /// Where it starts in the input, for messages.
    byte_offset: u64,
    end: SegmentEnd,
}

impl Segment {
    /// Appends `next`, which starts where `self` ends.
    fn absorb(&mut self, next: &Segment) {
        self.bits.append(&next.bits);
        self.end = next.end;
    }
}

/// What a segment ends at.
#[derive(Clone, Copy)]
enum SegmentEnd {
    /// A block magic.
    NextBlock,
    /// An end-of-stream magic with the stream CRC stored after it.
    Stream { stored_crc: u32, then: AfterStream },
}

impl SegmentEnd {
    /// Whether the magic at the end may have occurred by chance inside a block. An
    /// end-of-stream followed by the end of the input or by another stream's header is taken
    /// as real: for it to be false, 80 more bits would have to match by chance.
    fn could_be_false(self) -> bool {
        matches!(
            self,
            SegmentEnd::NextBlock | SegmentEnd::Stream { then: AfterStream::Garbage { .. }, .. }
        )
    }
}

/// What follows an end-of-stream trailer (after its padding).
#[derive(Clone, Copy)]
enum AfterStream {
    EndOfInput,
    NextStream,
    /// Neither: trailing garbage, or the end-of-stream magic was false.
    Garbage {
        byte: u64,
    },
}

/// Decodes one segment; fails unless it is exactly one valid block.
fn decode_segment(segment: &Segment, decoder: &mut BlockDecoder) -> Result<Block, String> {
    if !segment.starts_block {
        return Err("it starts at an end-of-stream marker".to_string());
    }
    let start = u64::from(segment.bits.first_bit);
    match decoder.decode(&segment.bits.bytes, start, start + segment.bits.len, segment.level) {
        Ok(block) => Ok(block),
        Err(BlockError::Randomised) => decode_standalone(segment),
        Err(error) => Err(error.to_string()),
    }
}

/// Where the block that starts `segment` ends, in bits from the segment's start, if it ends
/// within the segment (see [`BlockDecoder::block_end`]).
fn find_block_end(segment: &Segment, decoder: &mut BlockDecoder) -> Result<u64, BlockError> {
    if !segment.starts_block {
        return Err(BlockError::NoMagic);
    }
    let start = u64::from(segment.bits.first_bit);
    decoder
        .block_end(&segment.bits.bytes, start, start + segment.bits.len, segment.level)
        .map(|end| end - start)
}

/// Decodes one segment as a standalone stream with the `bzip2` crate (for randomised blocks,
/// which [`BlockDecoder`] refuses); fails unless it is exactly one valid block.
fn decode_standalone(segment: &Segment) -> Result<Block, String> {
    let crc = segment.bits.block_crc().ok_or_else(|| "block header is cut short".to_string())?;
    let stream = segment.bits.standalone_stream(segment.level, crc);
    let mut decoder = Decompress::new(false);
    let mut data = Vec::with_capacity(usize::from(segment.level) * 125_000 + 4096);
    loop {
        if data.len() == data.capacity() {
            data.reserve(data.capacity());
        }
        let (read_before, written_before) = (decoder.total_in(), decoder.total_out());
        let status =
            decoder.decompress_vec(&stream[read_before as usize..], &mut data).map_err(describe)?;
        match status {
            Status::StreamEnd => break,
            Status::MemNeeded => return Err("out of memory".to_string()),
            _ if decoder.total_in() == read_before && decoder.total_out() == written_before => {
                return Err("block data ends before its end-of-block symbol".to_string());
            }
            _ => {}
        }
    }
    if decoder.total_in() != stream.len() as u64 {
        return Err("block ends before the next block boundary".to_string());
    }
    Ok(Block { data, crc })
}

fn describe(error: bzip2::Error) -> String {
    match error {
        bzip2::Error::Data => "invalid block data or block CRC mismatch",
        bzip2::Error::DataMagic => "invalid stream header",
        bzip2::Error::Sequence | bzip2::Error::Param => "decoder used wrongly",
    }
    .to_string()
}

/// `len` bits cut out of the input, starting `first_bit` bits (0..8) into `bytes`.
struct Bits {
    bytes: Vec<u8>,
    first_bit: u8,
    len: u64,
}

impl Bits {
    /// The CRC stored after the block magic.
    fn block_crc(&self) -> Option<u32> {
        if self.len < MAGIC_BITS + CRC_BITS {
            return None;
        }
        let crc = read_bits(&self.bytes, u64::from(self.first_bit) + MAGIC_BITS, 32)?;
        Some(crc as u32)
    }

    /// Appends `next`, cut from the input right where `self` ends (so a byte they share is
    /// the same in both).
    fn append(&mut self, next: &Bits) {
        let end = u64::from(self.first_bit) + self.len;
        debug_assert_eq!(u64::from(next.first_bit), end % 8);
        let shared = usize::from(end % 8 != 0);
        self.bytes.extend_from_slice(&next.bytes[shared..]);
        self.len += next.len;
    }

    /// A single-block stream: header, these bits moved to start on a byte, an end-of-stream
    /// marker with `crc` as the stream CRC (the combined CRC of a single block is its CRC),
    /// zero padding.
    fn standalone_stream(&self, level: u8, crc: u32) -> Vec<u8> {
        let byte_len = self.len.div_ceil(8) as usize;
        let mut out = Vec::with_capacity(4 + byte_len + 11);
        out.extend_from_slice(b"BZh");
        out.push(b'0' + level);
        let shift = self.first_bit;
        if shift == 0 {
            out.extend_from_slice(&self.bytes[..byte_len]);
        } else {
            let following = self.bytes[1..].iter().chain(iter::once(&0));
            out.extend(
                self.bytes
                    .iter()
                    .zip(following)
                    .take(byte_len)
                    .map(|(&byte, &next)| (byte << shift) | (next >> (8 - shift))),
            );
        }
        let used = self.len % 8;
        if used != 0 {
            let last = out.len() - 1;
            out[last] &= 0xff << (8 - used);
        }
        let mut bit_len = 32 + self.len;
        push_bits(&mut out, &mut bit_len, END_MAGIC, MAGIC_BITS as u32);
        push_bits(&mut out, &mut bit_len, u64::from(crc), CRC_BITS as u32);
        out
    }
}

/// Appends the low `count` bits of `value` to `out`, which holds `bit_len` bits.
fn push_bits(out: &mut Vec<u8>, bit_len: &mut u64, value: u64, count: u32) {
    for index in (0..count).rev() {
        if *bit_len % 8 == 0 {
            out.push(0);
        }
        if (value >> index) & 1 == 1 {
            let last = out.len() - 1;
            out[last] |= 0x80 >> (*bit_len % 8);
        }
        *bit_len += 1;
    }
}

/// `count` (at most 56) bits read most significant first, starting `bit` bits into `bytes`;
/// `None` if `bytes` ends before.
fn read_bits(bytes: &[u8], bit: u64, count: u32) -> Option<u64> {
    debug_assert!((1..=56).contains(&count));
    if bit + u64::from(count) > bytes.len() as u64 * 8 {
        return None;
    }
    let first = (bit / 8) as usize;
    let available = &bytes[first..bytes.len().min(first + 8)];
    let mut word = [0u8; 8];
    word[..available.len()].copy_from_slice(available);
    Some((u64::from_be_bytes(word) << (bit % 8)) >> (64 - count))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Magic {
    Block,
    EndOfStream,
}

impl Magic {
    fn value(self) -> u64 {
        match self {
            Magic::Block => BLOCK_MAGIC,
            Magic::EndOfStream => END_MAGIC,
        }
    }

    fn identify(bits: u64) -> Option<Magic> {
        [Magic::Block, Magic::EndOfStream].into_iter().find(|magic| magic.value() == bits)
    }
}

/// A magic found in the input at an absolute bit position.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Candidate {
    bit: u64,
    magic: Magic,
}

/// Finds one magic at one bit shift: by the bytes it fully covers there, which start
/// `needle_offset` bytes after the byte the magic starts in.
struct MagicFinder {
    finder: Finder<'static>,
    magic: Magic,
    shift: u64,
    needle_offset: u64,
}

fn magic_finders() -> Vec<MagicFinder> {
    let mut finders = Vec::with_capacity(16);
    for magic in [Magic::Block, Magic::EndOfStream] {
        for shift in 0..8u64 {
            // The magic starting `shift` bits into the first of 8 bytes.
            let window = (magic.value() << (16 - shift)).to_be_bytes();
            let needle_offset = u64::from(shift != 0);
            finders.push(MagicFinder {
                finder: Finder::new(&window[needle_offset as usize..6]).into_owned(),
                magic,
                shift,
                needle_offset,
            });
        }
    }
    finders
}

/// What [`Input::next_candidate`] found.
enum Next {
    Found(Candidate),
    /// No magic up to the limit.
    TooFar,
    /// No magic before the input ends.
    EndOfInput,
}

/// Why the reader thread stops early.
enum Halt {
    Failed(io::Error),
    /// The decoder is gone or failed: stop without a word.
    Cancelled,
}

impl From<io::Error> for Halt {
    fn from(error: io::Error) -> Self {
        Halt::Failed(error)
    }
}

/// A window on the input, addressed by absolute byte and bit positions, with an index of the
/// magics in it.
struct Input<R> {
    reader: R,
    stop: Arc<AtomicBool>,
    /// Input from byte `base` on; the first `filled` bytes are valid.
    buf: Vec<u8>,
    filled: usize,
    base: u64,
    /// Bytes before this one are no longer needed.
    keep_from: u64,
    eof: bool,
    /// Every magic that ends before this byte is in `candidates` (unless already passed).
    indexed: u64,
    candidates: VecDeque<Candidate>,
    finders: Vec<MagicFinder>,
}

impl<R: Read> Input<R> {
    fn new(reader: R, stop: Arc<AtomicBool>) -> Self {
        Input {
            reader,
            stop,
            buf: Vec::new(),
            filled: 0,
            base: 0,
            keep_from: 0,
            eof: false,
            indexed: 0,
            candidates: VecDeque::new(),
            finders: magic_finders(),
        }
    }

    /// Absolute offset of the end of the bytes read so far.
    fn end(&self) -> u64 {
        self.base + self.filled as u64
    }

    /// Bytes `from..to` (absolute), fewer if the input read so far ends before `to`.
    fn bytes(&self, from: u64, to: u64) -> &[u8] {
        let end = self.end();
        let start = (from.min(end) - self.base) as usize;
        let stop = (to.min(end) - self.base) as usize;
        &self.buf[start..stop.max(start)]
    }

    /// `count` bits at absolute bit `bit`, if read already.
    fn bits(&self, bit: u64, count: u32) -> Option<u64> {
        let offset = bit.checked_sub(self.base * 8)?;
        read_bits(&self.buf[..self.filled], offset, count)
    }

    /// Lets the bytes before `byte` go.
    fn release_before(&mut self, byte: u64) {
        self.keep_from = self.keep_from.max(byte);
    }

    /// Reads until the input read so far reaches `byte`; false if it ends before.
    fn fill_to(&mut self, byte: u64) -> Result<bool, Halt> {
        while self.end() < byte {
            if !self.fill_more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads once more and indexes what came; false at the end of the input.
    fn fill_more(&mut self) -> Result<bool, Halt> {
        if self.eof {
            return Ok(false);
        }
        if self.stop.load(Ordering::Relaxed) {
            return Err(Halt::Cancelled);
        }
        let unneeded = (self.keep_from.min(self.end()) - self.base) as usize;
        if unneeded >= CHUNK {
            self.buf.copy_within(unneeded..self.filled, 0);
            self.filled -= unneeded;
            self.base += unneeded as u64;
        }
        if self.buf.len() - self.filled < CHUNK / 2 {
            self.buf.resize(self.filled + CHUNK, 0);
        }
        let read = loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(read) => break read,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(Halt::Failed(error)),
            }
        };
        if read == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.filled += read;
        self.index_new_bytes();
        Ok(true)
    }

    /// Adds the magics that end in the bytes read since the last call to `candidates`.
    fn index_new_bytes(&mut self) {
        let end = self.end();
        // A magic spans at most 7 bytes, so one ending in the new bytes starts at most 6
        // bytes before them.
        let from = self.indexed.saturating_sub(6).max(self.base);
        let window = &self.buf[(from - self.base) as usize..self.filled];
        let mut found = Vec::new();
        for finder in &self.finders {
            for at in finder.finder.find_iter(window) {
                let Some(first_byte) = (from + at as u64).checked_sub(finder.needle_offset) else {
                    continue;
                };
                let bit = first_byte * 8 + finder.shift;
                let last_byte = (bit + MAGIC_BITS - 1) / 8;
                if first_byte < from || last_byte < self.indexed || last_byte >= end {
                    continue;
                }
                if self.bits(bit, MAGIC_BITS as u32) == Some(finder.magic.value()) {
                    found.push(Candidate { bit, magic: finder.magic });
                }
            }
        }
        found.sort_unstable_by_key(|candidate| candidate.bit);
        self.candidates.extend(found);
        self.indexed = end;
    }

    /// The first magic that starts after bit `after`, if it starts at bit `limit` at most.
    fn next_candidate(&mut self, after: u64, limit: u64) -> Result<Next, Halt> {
        loop {
            while self.candidates.front().is_some_and(|candidate| candidate.bit <= after) {
                self.candidates.pop_front();
            }
            if let Some(&candidate) = self.candidates.front() {
                return Ok(if candidate.bit <= limit {
                    Next::Found(candidate)
                } else {
                    Next::TooFar
                });
            }
            if self.indexed > limit.saturating_add(MAGIC_BITS - 1) / 8 {
                return Ok(Next::TooFar);
            }
            if !self.fill_more()? {
                return Ok(Next::EndOfInput);
            }
        }
    }
}

/// The reader thread: parses stream headers and trailers and cuts blocks into segments.
struct Scanner<R> {
    input: Input<R>,
    order: SyncSender<Item>,
    /// Dropped last, when the reader thread ends: the workers finish the segments whose
    /// tickets are still wanted.
    pool: Pool<'static, Segment, Outcome>,
}

impl<R: Read> Scanner<R> {
    fn run(mut self) {
        let last = match self.scan() {
            Ok(()) => Item::End,
            Err(Halt::Failed(error)) => Item::Failed(error),
            Err(Halt::Cancelled) => return,
        };
        // The decoder may be gone; then nobody wants to know.
        let _ = self.order.send(last);
    }

    fn scan(&mut self) -> Result<(), Halt> {
        let mut stream_start = 0;
        loop {
            self.input.fill_to(stream_start + 4)?;
            let level = match self.input.bytes(stream_start, stream_start + 4) {
                [] if stream_start == 0 => return Err(invalid("empty input").into()),
                [] => return Ok(()),
                [b'B', b'Z', b'h', digit @ b'1'..=b'9'] => *digit - b'0',
                head if b"BZh".starts_with(head) => {
                    return Err(truncated("input ends inside a stream header").into());
                }
                _ if stream_start == 0 => {
                    return Err(invalid("not bzip2 data (no BZh header)").into());
                }
                _ => {
                    return Err(invalid(format!(
                        "trailing garbage after a stream, at byte {stream_start}"
                    ))
                    .into());
                }
            };
            let first = (stream_start + 4) * 8;
            let magic = self.read_bits(first, MAGIC_BITS, "input ends inside a stream header")?;
            stream_start = match Magic::identify(magic) {
                Some(Magic::Block) => self.cut_blocks(first, level)?,
                Some(Magic::EndOfStream) => {
                    let stored_crc = self.stored_crc(first)?;
                    if stored_crc != 0 {
                        return Err(invalid(format!(
                            "stream CRC mismatch (empty stream at byte {stream_start} stores \
                             {stored_crc:08x})"
                        ))
                        .into());
                    }
                    (first + MAGIC_BITS + CRC_BITS).div_ceil(8)
                }
                None => {
                    return Err(invalid(format!(
                        "stream at byte {stream_start} has no block after its header"
                    ))
                    .into());
                }
            };
            self.input.release_before(stream_start);
        }
    }

    /// Cuts the blocks of the stream whose first block starts at bit `first`; returns the
    /// byte where the next stream would start.
    fn cut_blocks(&mut self, first: u64, level: u8) -> Result<u64, Halt> {
        let max_bits = max_block_bits(level);
        let mut start = first;
        let mut block_start = first;
        let mut starts_block = true;
        loop {
            if starts_block {
                block_start = start;
            }
            let candidate = match self.input.next_candidate(start, block_start + max_bits)? {
                Next::Found(candidate) => candidate,
                Next::TooFar => {
                    return Err(invalid(format!(
                        "block at byte {} is corrupt: no block boundary within {} bytes",
                        block_start / 8,
                        max_bits / 8
                    ))
                    .into());
                }
                Next::EndOfInput => {
                    return Err(truncated("stream ends without end-of-stream marker").into());
                }
            };
            match candidate.magic {
                Magic::Block => {
                    self.emit(start, candidate.bit, level, starts_block, SegmentEnd::NextBlock)?;
                    starts_block = true;
                }
                Magic::EndOfStream => {
                    let stored_crc = self.stored_crc(candidate.bit)?;
                    let next_stream = (candidate.bit + MAGIC_BITS + CRC_BITS).div_ceil(8);
                    let then = self.after_stream(next_stream)?;
                    let end = SegmentEnd::Stream { stored_crc, then };
                    self.emit(start, candidate.bit, level, starts_block, end)?;
                    if !end.could_be_false() {
                        return Ok(next_stream);
                    }
                    starts_block = false;
                }
            }
            start = candidate.bit;
        }
    }

    /// The stream CRC after the end-of-stream magic at bit `end_magic`.
    fn stored_crc(&mut self, end_magic: u64) -> Result<u32, Halt> {
        let crc = self.read_bits(
            end_magic + MAGIC_BITS,
            CRC_BITS,
            "input ends inside an end-of-stream trailer",
        )?;
        Ok(crc as u32)
    }

    /// What follows a stream trailer whose padding ends at `byte`.
    fn after_stream(&mut self, byte: u64) -> Result<AfterStream, Halt> {
        self.input.fill_to(byte + 4)?;
        Ok(match self.input.bytes(byte, byte + 4) {
            [] => AfterStream::EndOfInput,
            [b'B', b'Z', b'h', b'1'..=b'9'] => AfterStream::NextStream,
            _ => AfterStream::Garbage { byte },
        })
    }

    /// `count` bits at bit `bit`, reading as needed; a truncation error saying `where_cut`
    /// if the input ends before.
    fn read_bits(&mut self, bit: u64, count: u64, where_cut: &str) -> Result<u64, Halt> {
        self.input.fill_to((bit + count).div_ceil(8))?;
        self.input.bits(bit, count as u32).ok_or_else(|| truncated(where_cut).into())
    }

    /// Queues bits `start..end_bit` as a segment, for a worker and for the decoder.
    fn emit(
        &mut self,
        start: u64,
        end_bit: u64,
        level: u8,
        starts_block: bool,
        end: SegmentEnd,
    ) -> Result<(), Halt> {
        let segment = Segment {
            bits: Bits {
                bytes: self.input.bytes(start / 8, end_bit.div_ceil(8)).to_vec(),
                first_bit: (start % 8) as u8,
                len: end_bit - start,
            },
            level,
            starts_block,
            byte_offset: start / 8,
            end,
        };
        let ticket = self.pool.submit(segment).map_err(|e| Halt::Failed(e.into()))?;
        self.order.send(Item::Segment(ticket)).map_err(|_| Halt::Cancelled)?;
        self.input.release_before(end_bit / 8);
        Ok(())
    }
}

fn invalid(message: impl Display) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("bzip2: {message}"))
}

fn truncated(where_cut: &str) -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, format!("bzip2: data is truncated ({where_cut})"))
}

#[cfg(test)]
mod tests {
    use super::super::samples::{XorShift, libbzip2_compress, magic_positions};
    use super::*;
    use crate::pipeline::pool::within_a_minute;
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// Dump-like data: text rows with numbers, runs of one byte, repeated lines, random bytes.
    fn sample(len: usize, seed: u64) -> Vec<u8> {
        const WORDS: [&str; 10] = [
            "partner",
            "invoice",
            "stock.move",
            "draft",
            "posted",
            "EUR",
            "res.users",
            "NULL",
            "sale.order",
            "Brussels",
        ];
        let mut rng = XorShift::new(seed);
        let mut out = Vec::with_capacity(len + 8192);
        while out.len() < len {
            match rng.below(16) {
                0..=10 => {
                    let row = format!(
                        "{}\t{} {}\t{}.{:02}\t2024-{:02}-{:02}\t{}\n",
                        rng.below(1_000_000),
                        WORDS[rng.below(10) as usize],
                        rng.below(5000),
                        rng.below(100_000),
                        rng.below(100),
                        1 + rng.below(12),
                        1 + rng.below(28),
                        WORDS[rng.below(10) as usize],
                    );
                    out.extend_from_slice(row.as_bytes());
                }
                11 | 12 => {
                    let byte = rng.next() as u8;
                    out.extend(iter::repeat_n(byte, rng.below(700) as usize));
                }
                13 => {
                    for _ in 0..rng.below(600) {
                        out.push(rng.next() as u8);
                    }
                }
                _ => {
                    for _ in 0..rng.below(12) {
                        out.extend_from_slice(
                            b"COPY public.ir_translation (id, lang, value) FROM stdin;\n",
                        );
                    }
                }
            }
        }
        out.truncate(len);
        out
    }

    fn compress(data: &[u8], level: u32) -> Vec<u8> {
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// Original and compressed bytes of a test file.
    struct Sample {
        data: Vec<u8>,
        compressed: Vec<u8>,
    }

    fn sample_file(
        cell: &'static OnceLock<Sample>,
        len: usize,
        seed: u64,
        level: u32,
    ) -> &'static Sample {
        cell.get_or_init(|| {
            let data = sample(len, seed);
            let compressed = compress(&data, level);
            Sample { data, compressed }
        })
    }

    /// Many blocks of 100 kB.
    fn level1() -> &'static Sample {
        static FILE: OnceLock<Sample> = OnceLock::new();
        sample_file(&FILE, 3_000_000, 1, 1)
    }

    /// Several blocks of 900 kB.
    fn level9() -> &'static Sample {
        static FILE: OnceLock<Sample> = OnceLock::new();
        sample_file(&FILE, 5_000_000, 2, 9)
    }

    /// A few blocks, small enough to cut at many points.
    fn small() -> &'static Sample {
        static FILE: OnceLock<Sample> = OnceLock::new();
        sample_file(&FILE, 500_000, 3, 1)
    }

    fn decode_with(compressed: &[u8], threads: usize) -> (Vec<u8>, io::Result<usize>) {
        let mut decoder = ParallelDecoder::new(io::Cursor::new(compressed.to_vec()), threads);
        let mut out = Vec::new();
        let result = decoder.read_to_end(&mut out);
        (out, result)
    }

    fn assert_decodes(compressed: &[u8], original: &[u8], threads: usize) {
        let (out, result) = decode_with(compressed, threads);
        result.unwrap_or_else(|error| panic!("threads={threads}: {error}"));
        assert!(out == original, "threads={threads}: output differs");
    }

    /// Decoding fails as bzip2 data must, after output that is a prefix of `original`.
    fn assert_fails(compressed: &[u8], original: &[u8], what: &str) -> io::Error {
        let (out, result) = decode_with(compressed, 2);
        let Err(error) = result else {
            panic!("{what}: decoded without error");
        };
        assert!(
            matches!(error.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof),
            "{what}: {error:?}"
        );
        assert!(error.to_string().starts_with("bzip2: "), "{what}: {error}");
        assert!(original.starts_with(&out), "{what}: wrong output before the error");
        error
    }

    /// Bits `from..to` of `data`.
    fn cut_bits(data: &[u8], from: u64, to: u64) -> Bits {
        Bits {
            bytes: data[(from / 8) as usize..to.div_ceil(8) as usize].to_vec(),
            first_bit: (from % 8) as u8,
            len: to - from,
        }
    }

    #[test]
    fn single_stream_files_decode_at_levels_1_and_9() {
        for (file, blocks) in [(level1(), 20), (level9(), 4), (small(), 4)] {
            assert!(magic_positions(&file.compressed, BLOCK_MAGIC).len() >= blocks);
        }
        for file in [level1(), level9()] {
            for threads in [1, 2, 4] {
                assert_decodes(&file.compressed, &file.data, threads);
            }
        }
    }

    #[test]
    fn concatenated_streams_decode_including_an_empty_one() {
        let parts = [
            (sample(700_000, 4), 9),
            (Vec::new(), 9),
            (sample(1_200_000, 5), 1),
            (b"tiny".to_vec(), 5),
            (Vec::new(), 1),
            (sample(300_000, 6), 3),
        ];
        let mut original = Vec::new();
        let mut compressed = Vec::new();
        for (data, level) in &parts {
            original.extend_from_slice(data);
            compressed.extend(compress(data, *level));
        }
        for threads in [1, 2, 4] {
            assert_decodes(&compressed, &original, threads);
        }
    }

    #[test]
    fn a_file_of_one_empty_stream_decodes_to_nothing() {
        let empty = compress(&[], 9);
        assert_decodes(&empty, &[], 2);
        for cut in 1..empty.len() {
            assert_fails(&empty[..cut], &[], &format!("empty stream cut at {cut}"));
        }
    }

    #[test]
    fn truncation_anywhere_is_an_error() {
        let file = small();
        let compressed = &file.compressed;
        let len = compressed.len();
        let mut cuts: Vec<usize> = (1..len).step_by(len / 40).collect();
        for bit in magic_positions(compressed, BLOCK_MAGIC) {
            let byte = (bit / 8) as usize;
            cuts.extend([byte, byte + 1, byte + 6, byte + 7, byte + 10, byte + 11, byte + 200]);
        }
        let end_magic = *magic_positions(compressed, END_MAGIC).last().unwrap();
        let last_block = *magic_positions(compressed, BLOCK_MAGIC).last().unwrap();
        cuts.push(((last_block + end_magic) / 16) as usize);
        cuts.extend((end_magic / 8) as usize..len);
        for cut in cuts {
            let error = assert_fails(&compressed[..cut], &file.data, &format!("cut at {cut}"));
            assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "cut at {cut}: {error}");
        }
    }

    #[test]
    fn truncated_multi_stream_file_is_an_error() {
        let first = compress(&sample(250_000, 7), 1);
        let second = compress(&sample(250_000, 8), 1);
        let original = [sample(250_000, 7), sample(250_000, 8)].concat();
        let whole = [first.clone(), second.clone()].concat();
        let boundary = first.len();
        for cut in [
            10,
            boundary / 2,
            boundary - 1,
            boundary + 1,
            boundary + 3,
            boundary + 4,
            boundary + 10,
            boundary + second.len() / 2,
            whole.len() - 5,
            whole.len() - 1,
        ] {
            assert_fails(&whole[..cut], &original, &format!("cut at {cut}"));
        }
    }

    #[test]
    fn a_changed_byte_is_an_error_never_wrong_output() {
        let file = small();
        let len = file.compressed.len();
        for index in 0..40 {
            let at = len / 10 + index * (len * 8 / 10) / 40;
            let mut corrupt = file.compressed.clone();
            corrupt[at] ^= 0x10;
            assert_fails(&corrupt, &file.data, &format!("byte {at} changed"));
        }
    }

    #[test]
    fn a_wrong_stream_crc_is_reported() {
        let file = small();
        let end_magic = *magic_positions(&file.compressed, END_MAGIC).last().unwrap();
        let mut corrupt = file.compressed.clone();
        let bit = end_magic + MAGIC_BITS + 5;
        corrupt[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
        let error = assert_fails(&corrupt, &file.data, "stream CRC changed");
        assert!(error.to_string().starts_with("bzip2: stream CRC mismatch"), "{error}");
    }

    #[test]
    fn anything_after_the_last_stream_is_an_error() {
        let file = small();
        let tails: [&[u8]; 5] = [b"\0", &[0; 100], b"garbage!", b"BZ", b"BZh9"];
        for tail in tails {
            let input = [&file.compressed[..], tail].concat();
            assert_fails(&input, &file.data, &format!("followed by {tail:?}"));
        }
        let mut noise = Vec::new();
        let mut rng = XorShift::new(9);
        noise.extend((0..3_000_000).map(|_| rng.next() as u8));
        let input = [&file.compressed[..], &noise].concat();
        let error = assert_fails(&input, &file.data, "followed by noise");
        assert!(error.to_string().contains("trailing garbage"), "{error}");
    }

    #[test]
    fn empty_and_non_bzip2_input_are_errors() {
        let error = assert_fails(&[], &[], "empty input");
        assert_eq!(error.kind(), ErrorKind::InvalidData);
        assert_eq!(error.to_string(), "bzip2: empty input");
        let text = b"-- PostgreSQL database dump\nSET statement_timeout = 0;\n".repeat(100);
        let mut random_after_header = b"BZh9".to_vec();
        let mut rng = XorShift::new(10);
        random_after_header.extend((0..1000).map(|_| rng.next() as u8));
        let inputs: [&[u8]; 4] =
            [&text, b"BZh0\x31\x41\x59\x26\x53\x59", &random_after_header, &[0; 64]];
        for input in inputs {
            let error = assert_fails(input, &[], &format!("{:?}", &input[..8]));
            assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
        }
        let error = assert_fails(b"BZh9", &[], "header only");
        assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "{error}");
    }

    #[test]
    fn reading_with_tiny_buffers_works() {
        for (file, size) in [(small(), 1), (level1(), 7)] {
            let mut decoder = ParallelDecoder::new(io::Cursor::new(file.compressed.clone()), 2);
            let mut out = Vec::new();
            let mut buf = vec![0; size];
            loop {
                match decoder.read(&mut buf).unwrap() {
                    0 => break,
                    n => out.extend_from_slice(&buf[..n]),
                }
            }
            assert!(out == file.data, "reads of {size} bytes");
        }
    }

    /// Returns at most `step` bytes a read, and `Interrupted` every fifth call.
    struct Trickle {
        inner: io::Cursor<Vec<u8>>,
        step: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 5 == 0 {
                return Err(ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.step);
            self.inner.read(&mut buf[..n])
        }
    }

    #[test]
    fn input_arriving_in_small_pieces_decodes() {
        for (file, step) in [(level9(), 4093), (small(), 5)] {
            let trickle =
                Trickle { inner: io::Cursor::new(file.compressed.clone()), step, calls: 0 };
            let mut out = Vec::new();
            ParallelDecoder::new(trickle, 2).read_to_end(&mut out).unwrap();
            assert!(out == file.data, "pieces of {step} bytes");
        }
    }

    #[test]
    fn input_errors_pass_through_unchanged() {
        let file = level1();
        let failing = io::Cursor::new(file.compressed[..300_000].to_vec()).chain(FailingReader);
        let mut decoder = ParallelDecoder::new(failing, 2);
        let mut out = Vec::new();
        let error = decoder.read_to_end(&mut out).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
        assert_eq!(error.to_string(), "disk says no");
        assert!(file.data.starts_with(&out));
        let again = decoder.read(&mut [0; 10]).unwrap_err();
        assert_eq!(again.kind(), ErrorKind::PermissionDenied);
    }

    struct FailingReader;

    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(ErrorKind::PermissionDenied, "disk says no"))
        }
    }

    /// Tells when the reader thread has let its input go.
    struct DropSignal {
        inner: io::Cursor<Vec<u8>>,
        dropped: mpsc::Sender<()>,
    }

    impl Read for DropSignal {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.inner.read(buf)
        }
    }

    impl Drop for DropSignal {
        fn drop(&mut self) {
            let _ = self.dropped.send(());
        }
    }

    #[test]
    fn dropping_the_decoder_early_stops_its_threads() {
        for read_first in [0, 10, 2_000_000] {
            let (dropped, signal) = mpsc::channel();
            let input = DropSignal { inner: io::Cursor::new(level1().compressed.clone()), dropped };
            let mut decoder = ParallelDecoder::new(input, 2);
            let mut head = vec![0; read_first];
            decoder.read_exact(&mut head).unwrap();
            assert!(head == level1().data[..read_first]);
            drop(decoder);
            signal.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| {
                panic!("reader thread still running after drop ({read_first})")
            });
        }
    }

    /// [`decode_job`], except for the segments from byte 100 000 on.
    fn panic_late(decoder: &mut BlockDecoder, segment: Segment) -> Outcome {
        assert!(segment.byte_offset < 100_000, "a marked segment");
        decode_job(decoder, segment)
    }

    #[test]
    fn a_worker_panic_is_an_error_not_a_hang() {
        for threads in [1, 2, 4] {
            let (decoded, result) = within_a_minute(move || {
                let input = io::Cursor::new(level1().compressed.clone());
                let mut decoder = ParallelDecoder::with_work(input, threads, panic_late);
                let mut out = Vec::new();
                let result = decoder.read_to_end(&mut out);
                (out.len(), result)
            });
            let error = result.unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains("worker thread bzip2-decode-")
                    && text.contains("panicked: a marked segment"),
                "{threads} threads: {text}"
            );
            // Not the input's fault: not reported as corrupt.
            assert_eq!(error.kind(), ErrorKind::Other, "{text}");
            assert!(decoded > 0 && decoded < level1().data.len(), "{decoded} bytes decoded");
        }
    }

    #[test]
    fn files_written_by_the_bzip2_tool_decode() {
        let data = sample(2_500_000, 11);
        let mut original = Vec::new();
        let mut compressed = Vec::new();
        for level in [9, 1] {
            original.extend_from_slice(&data);
            compressed.extend(libbzip2_compress(&data, level));
            assert_decodes(&compressed, &original, 2);
        }
    }

    /// Feeds `segments` to a decoder as the reader thread would, decoding each first.
    fn decode_segments(segments: Vec<Segment>) -> io::Result<Vec<u8>> {
        let (order_sender, order) = sync_channel(segments.len() + 1);
        let pool = Pool::new("test", 1, segments.len(), BlockDecoder::new, decode_job);
        for segment in segments {
            order_sender.send(Item::Segment(pool.submit(segment).unwrap())).unwrap();
        }
        order_sender.send(Item::End).unwrap();
        let mut out = Vec::new();
        ParallelDecoder::reading(order, Arc::new(AtomicBool::new(false))).read_to_end(&mut out)?;
        Ok(out)
    }

    /// Splits the one block of `compressed` into segments as the reader thread would if a
    /// magic occurred by chance at each of `splits` (bit offset into the block, magic).
    fn split_block(compressed: &[u8], splits: &[(u64, Magic)]) -> Vec<Segment> {
        let block = magic_positions(compressed, BLOCK_MAGIC)[0];
        let end_magic = *magic_positions(compressed, END_MAGIC).last().unwrap();
        let stored_crc = read_bits(compressed, end_magic + MAGIC_BITS, 32).unwrap() as u32;
        let mut segments = Vec::new();
        let mut start = (block, true);
        for &(offset, magic) in splits {
            let end = match magic {
                Magic::Block => SegmentEnd::NextBlock,
                Magic::EndOfStream => SegmentEnd::Stream {
                    stored_crc: 0xdead_beef,
                    then: AfterStream::Garbage { byte: 0 },
                },
            };
            segments.push(segment(compressed, start, block + offset, end));
            start = (block + offset, magic == Magic::Block);
        }
        let real_end = SegmentEnd::Stream { stored_crc, then: AfterStream::EndOfInput };
        segments.push(segment(compressed, start, end_magic, real_end));
        segments
    }

    fn segment(
        compressed: &[u8],
        (from, starts_block): (u64, bool),
        to: u64,
        end: SegmentEnd,
    ) -> Segment {
        Segment {
            bits: cut_bits(compressed, from, to),
            level: 9,
            starts_block,
            byte_offset: from / 8,
            end,
        }
    }

    #[test]
    fn a_false_block_magic_inside_a_block_is_merged_away() {
        let data = sample(400_000, 12);
        let compressed = compress(&data, 9);
        for offsets in [&[5_000][..], &[49], &[81], &[10_001, 10_046], &[3, 200_000, 600_001]] {
            let splits: Vec<_> = offsets.iter().map(|&offset| (offset, Magic::Block)).collect();
            let segments = split_block(&compressed, &splits);
            assert!(decode_segments(segments).unwrap() == data, "split at {offsets:?}");
        }
    }

    #[test]
    fn a_false_end_of_stream_magic_inside_a_block_is_merged_away() {
        let data = sample(400_000, 13);
        let compressed = compress(&data, 9);
        let splits_list: [&[(u64, Magic)]; 3] = [
            &[(70_000, Magic::EndOfStream)],
            &[(70_000, Magic::EndOfStream), (90_000, Magic::Block)],
            &[(70_000, Magic::Block), (70_090, Magic::EndOfStream), (300_000, Magic::EndOfStream)],
        ];
        for splits in splits_list {
            let segments = split_block(&compressed, splits);
            assert!(decode_segments(segments).unwrap() == data, "{splits:?}");
        }
    }

    /// `compressed` (one block) with the block's randomised flag set, as bzip2 0.9.0 and older
    /// wrote it when sorting the block took too long.
    fn randomised(compressed: &[u8]) -> Vec<u8> {
        let flag = magic_positions(compressed, BLOCK_MAGIC)[0] + MAGIC_BITS + CRC_BITS;
        let mut randomised = compressed.to_vec();
        randomised[(flag / 8) as usize] |= 0x80 >> (flag % 8);
        randomised
    }

    #[test]
    fn randomised_blocks_are_decoded_with_the_bzip2_crate() {
        // Derandomising flips bits from the block's 618th byte on, so a shorter block decodes
        // to the same bytes (and CRC) either way.
        let data = sample(400, 17);
        let compressed = randomised(&compress(&data, 9));
        let segments = split_block(&compressed, &[]);
        let bits = &segments[0].bits;
        let start = u64::from(bits.first_bit);
        let refused = BlockDecoder::new().decode(&bits.bytes, start, start + bits.len, 9);
        assert_eq!(refused.unwrap_err(), BlockError::Randomised);
        let block = decode_segment(&segments[0], &mut BlockDecoder::new()).unwrap();
        assert!(block.data == data);
        assert_decodes(&compressed, &data, 2);
        // A longer block does change: its CRC was computed before the flag was set.
        let data = sample(50_000, 18);
        let compressed = randomised(&compress(&data, 9));
        let error = assert_fails(&compressed, &data, "randomised long block");
        assert!(error.to_string().contains("corrupt: invalid block data or block CRC"), "{error}");
    }

    #[test]
    fn merging_does_not_hide_a_corrupt_block() {
        let data = sample(400_000, 14);
        let mut compressed = compress(&data, 9);
        let middle = compressed.len() / 2;
        compressed[middle] ^= 1;
        let segments = split_block(&compressed, &[(5_000, Magic::Block)]);
        let error = decode_segments(segments).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidData);
        assert!(error.to_string().starts_with("bzip2: block 1 at byte 4 is corrupt"), "{error}");
    }

    #[test]
    fn the_index_finds_every_magic_at_every_bit_shift() {
        let mut rng = XorShift::new(15);
        let mut data: Vec<u8> = (0..3_000_000).map(|_| rng.next() as u8).collect();
        let mut planted = Vec::new();
        let mut bit = 100;
        while bit + 48 < data.len() as u64 * 8 {
            let magic = if planted.len() % 3 == 2 { Magic::EndOfStream } else { Magic::Block };
            for offset in 0..48 {
                let byte = ((bit + offset) / 8) as usize;
                let mask = 0x80 >> ((bit + offset) % 8);
                if (magic.value() >> (47 - offset)) & 1 == 1 {
                    data[byte] |= mask;
                } else {
                    data[byte] &= !mask;
                }
            }
            planted.push(Candidate { bit, magic });
            bit += 48 + rng.below(if planted.len() % 4 == 0 { 40 } else { 400_000 });
        }
        let mut naive: Vec<u64> = magic_positions(&data, BLOCK_MAGIC);
        naive.extend(magic_positions(&data, END_MAGIC));
        naive.sort_unstable();
        assert_eq!(naive, planted.iter().map(|c| c.bit).collect::<Vec<_>>());
        for step in [usize::MAX, 100_003, 7] {
            let reader = Trickle { inner: io::Cursor::new(data.clone()), step, calls: 0 };
            let mut input = Input::new(reader, Arc::new(AtomicBool::new(false)));
            let mut found = Vec::new();
            let mut after = 0;
            while let Ok(Next::Found(candidate)) = input.next_candidate(after, u64::MAX) {
                found.push(candidate);
                after = candidate.bit;
                input.release_before(after / 8);
            }
            assert!(found == planted, "reads of {step} bytes");
        }
        let mut input = Input::new(io::Cursor::new(data), Arc::new(AtomicBool::new(false)));
        assert!(matches!(
            input.next_candidate(planted[0].bit, planted[1].bit - 1),
            Ok(Next::TooFar)
        ));
        let last = planted.last().unwrap().bit;
        assert!(matches!(input.next_candidate(last, u64::MAX), Ok(Next::EndOfInput)));
    }

    #[test]
    fn the_decoder_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<ParallelDecoder>();
    }

    /// Reads `reader` to the end through a 1 MiB buffer, hashing what it reads.
    fn drain(mut reader: impl Read) -> (usize, u64) {
        let mut buf = vec![0; 1 << 20];
        let (mut total, mut hash) = (0, 0u64);
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                return (total, hash);
            }
            total += n;
            hash = buf[..n]
                .iter()
                .fold(hash, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
        }
    }

    /// Run with `cargo test --release -- --ignored --nocapture throughput` on an idle machine.
    #[test]
    #[ignore = "benchmark"]
    fn throughput() {
        let data = sample(50_000_000, 16);
        let compressed = compress(&data, 9);
        let expected = drain(&data[..]);
        println!("{} MB compressed to {} MB", data.len() / 1_000_000, compressed.len() / 1_000_000);
        let mut best = [0f64; 3];
        for _round in 0..2 {
            for (index, threads) in [0, 1, 2].into_iter().enumerate() {
                let start = Instant::now();
                let result = if threads == 0 {
                    drain(bzip2::read::MultiBzDecoder::new(&compressed[..]))
                } else {
                    drain(ParallelDecoder::new(io::Cursor::new(compressed.clone()), threads))
                };
                let speed = data.len() as f64 / 1e6 / start.elapsed().as_secs_f64();
                assert_eq!(result, expected);
                best[index] = best[index].max(speed);
            }
        }
        println!("MultiBzDecoder:              {:.1} MB/s", best[0]);
        println!("ParallelDecoder, 1 thread:   {:.1} MB/s", best[1]);
        println!("ParallelDecoder, 2 threads:  {:.1} MB/s", best[2]);
    }
}
