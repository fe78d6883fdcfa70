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
//!
//! The parts: `decoder` (the reading side, [`ParallelDecoder`], and recovery from false
//! magics), `scanner` (the reader thread: stream headers and trailers, segments),
//! `input` (the window on the input and its index of magics), `segment` (what a segment
//! is and how a worker decodes it).
//!
//! [`BlockDecoder`]: super::decode::BlockDecoder
//! [`Pool`]: crate::plumbing::pool::Pool

mod decoder;
mod input;
mod scanner;
mod segment;
#[cfg(test)]
mod tests;

pub use decoder::{ParallelDecoder, RecoveryWork};
