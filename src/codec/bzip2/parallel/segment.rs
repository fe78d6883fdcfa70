//! Segments: the bits between two magics of the input, as the reader thread cuts them and
//! the workers decode them ([`decode_segment`]), with what each ends at. Randomised blocks,
//! which the block decoder refuses, are re-aligned into a standalone stream and decoded with
//! the `bzip2` crate here.
//!
//! Pure: no threads, no reading. What it must not do: give bytes for a segment that is not
//! exactly one valid block (that is an error, with its reason in words).

use std::iter;

use bzip2::{Decompress, Status};

use crate::codec::bzip2::bits::{push_bits, read_bits};
use crate::codec::bzip2::decode::{Block, BlockDecoder, BlockError};
use crate::codec::bzip2::format::{CRC_BITS, END_MAGIC, MAGIC_BITS, stream_header};

/// A segment and what decoding it gave: its block, or why it failed.
pub(super) struct Outcome {
    pub(super) segment: Segment,
    pub(super) decoded: Result<Block, String>,
}

/// The input between two consecutive magics (candidates, which may be false).
pub(super) struct Segment {
    pub(super) bits: Bits,
    /// Level digit of the stream it belongs to.
    pub(super) level: u8,
    /// False when it starts at an end-of-stream candidate, so it can only continue a block.
    pub(super) starts_block: bool,
    /// Where it starts in the input, for messages.
    pub(super) byte_offset: u64,
    pub(super) end: SegmentEnd,
}

impl Segment {
    /// Appends `next`, which starts where `self` ends.
    pub(super) fn absorb(&mut self, next: &Segment) {
        self.bits.append(&next.bits);
        self.end = next.end;
    }
}

/// What a segment ends at.
#[derive(Clone, Copy)]
pub(super) enum SegmentEnd {
    /// A block magic.
    NextBlock,
    /// An end-of-stream magic with the stream CRC stored after it.
    Stream { stored_crc: u32, then: AfterStream },
}

impl SegmentEnd {
    /// Whether the magic at the end may have occurred by chance inside a block. An
    /// end-of-stream followed by the end of the input or by another stream's header is taken
    /// as real: for it to be false, 80 more bits would have to match by chance.
    pub(super) fn could_be_false(self) -> bool {
        matches!(
            self,
            SegmentEnd::NextBlock | SegmentEnd::Stream { then: AfterStream::Garbage { .. }, .. }
        )
    }
}

/// What follows an end-of-stream trailer (after its padding).
#[derive(Clone, Copy)]
pub(super) enum AfterStream {
    EndOfInput,
    NextStream,
    /// Neither: trailing garbage, or the end-of-stream magic was false.
    Garbage {
        byte: u64,
    },
}

/// Decodes one segment; fails unless it is exactly one valid block.
pub(super) fn decode_segment(
    segment: &Segment,
    decoder: &mut BlockDecoder,
) -> Result<Block, String> {
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
pub(super) fn find_block_end(
    segment: &Segment,
    decoder: &mut BlockDecoder,
) -> Result<u64, BlockError> {
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
pub(super) struct Bits {
    pub(super) bytes: Vec<u8>,
    pub(super) first_bit: u8,
    pub(super) len: u64,
}

impl Bits {
    /// The CRC stored after the block magic.
    fn block_crc(&self) -> Option<u32> {
        if self.len < MAGIC_BITS + CRC_BITS {
            return None;
        }
        let crc = read_bits(&self.bytes, u64::from(self.first_bit) + MAGIC_BITS, CRC_BITS as u32)?;
        Some(crc as u32)
    }

    /// Appends `next`, cut from the input right where `self` ends (so a byte they share is
    /// the same in both).
    pub(super) fn append(&mut self, next: &Bits) {
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
        out.extend_from_slice(&stream_header(level));
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
