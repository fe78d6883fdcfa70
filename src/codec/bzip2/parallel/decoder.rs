//! [`ParallelDecoder`], the reading side: it starts the workers and the reader thread, takes
//! the segments' results in input order, checks each stream's combined CRC and recovers from
//! false magics by merging segments (the parent module tells the whole design).
//!
//! What it must not do: hand out bytes no block CRC checked, or end without an error on
//! input that is truncated, corrupt or followed by anything. It reads no input itself (that
//! is the reader thread, [`super::scanner`]) and cuts no segments.

use std::collections::VecDeque;
use std::fmt::Display;
use std::io::{self, ErrorKind, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use super::input::Input;
use super::scanner::{Item, Scanner};
use super::segment::{AfterStream, Outcome, Segment, SegmentEnd, decode_segment, find_block_end};
use crate::codec::bzip2::crc;
use crate::codec::bzip2::decode::{Block, BlockDecoder, BlockError};
use crate::codec::bzip2::format::max_block_bits;
use crate::plumbing::pool::{Pool, Ticket};

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
    pub(super) fn with_work<R: Read + Send + 'static>(
        inner: R,
        threads: usize,
        work: Work,
    ) -> Self {
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
    pub(super) fn reading(order: Receiver<Item>, stop: Arc<AtomicBool>) -> Self {
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
    pub(in crate::codec::bzip2) fn recovery_work(&self) -> RecoveryWork {
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
        self.stream_crc = crc::combine(self.stream_crc, block.crc);
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
pub(super) type Work = fn(&mut BlockDecoder, Segment) -> Outcome;

/// A worker's job: decodes one segment.
pub(super) fn decode_job(decoder: &mut BlockDecoder, segment: Segment) -> Outcome {
    let decoded = decode_segment(&segment, decoder);
    Outcome { segment, decoded }
}

/// A segment's outcome, in its turn; a worker's panic is an error (not the input's fault).
fn receive(ticket: Ticket<Outcome>) -> io::Result<Outcome> {
    Ok(ticket.wait()?)
}

/// An error of the input's data, as every error of this decoder is worded.
pub(super) fn invalid(message: impl Display) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("bzip2: {message}"))
}

/// The error of an input that ends early, saying where it was cut.
pub(super) fn truncated(where_cut: &str) -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, format!("bzip2: data is truncated ({where_cut})"))
}
