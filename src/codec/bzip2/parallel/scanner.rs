//! The reader thread: it reads stream headers and trailers through [`Input`], cuts each
//! stream's blocks into segments at the magics [`Input`] finds, submits the segments to the
//! worker pool and sends their tickets to the decoder, in input order.
//!
//! What it must not do: decode or check a CRC (only decoding tells a false magic from a real
//! one, and that is the decoder's side), keep input the segments sent no longer need, or go
//! on reading once the decoder is gone.

use std::io::{self, Read};
use std::sync::mpsc::SyncSender;

use super::decoder::{invalid, truncated};
use super::input::{Halt, Input, Magic, Next};
use super::segment::{AfterStream, Bits, Outcome, Segment, SegmentEnd};
use crate::codec::bzip2::format::{
    CRC_BITS, HEADER_MAGIC, MAGIC_BITS, header_level, max_block_bits,
};
use crate::plumbing::pool::{Pool, Ticket};

/// What the reader thread sends to the decoder, in input order.
pub(super) enum Item {
    /// A segment, whose result a worker will put in the ticket.
    Segment(Ticket<Outcome>),
    /// Reading stopped with this error (after the segments sent before it).
    Failed(io::Error),
    /// The input ended after a complete stream.
    End,
}

/// The reader thread: parses stream headers and trailers and cuts blocks into segments.
pub(super) struct Scanner<R> {
    pub(super) input: Input<R>,
    pub(super) order: SyncSender<Item>,
    /// Dropped last, when the reader thread ends: the workers finish the segments whose
    /// tickets are still wanted.
    pub(super) pool: Pool<'static, Segment, Outcome>,
}

impl<R: Read> Scanner<R> {
    pub(super) fn run(mut self) {
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
            let head = self.input.bytes(stream_start, stream_start + 4);
            let level = match (head, header_level(head)) {
                (_, Some(level)) => level,
                ([], _) if stream_start == 0 => return Err(invalid("empty input").into()),
                ([], _) => return Ok(()),
                (head, _) if HEADER_MAGIC.starts_with(head) => {
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
        let head = self.input.bytes(byte, byte + 4);
        Ok(match (head, header_level(head)) {
            ([], _) => AfterStream::EndOfInput,
            (_, Some(_)) => AfterStream::NextStream,
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
