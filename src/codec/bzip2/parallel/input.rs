//! The reader thread's window on the input: bytes addressed by absolute position, read
//! [`CHUNK`] at a time, with an index of every block and end-of-stream magic at any bit
//! offset (a `memmem` search for the bytes each magic fully covers at each of the 8 bit
//! shifts, then a check of all 48 bits).
//!
//! It finds candidates only: it parses no stream and does not tell false magics from real
//! ones. What it must not do: keep the bytes before what the scanner released (beyond one
//! chunk), or read on once told to stop.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use memchr::memmem::Finder;

use crate::codec::bzip2::bits::read_bits;
use crate::codec::bzip2::format::{BLOCK_MAGIC, END_MAGIC, MAGIC_BITS};

/// Bytes asked of the input per read.
const CHUNK: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Magic {
    Block,
    EndOfStream,
}

impl Magic {
    pub(super) fn value(self) -> u64 {
        match self {
            Magic::Block => BLOCK_MAGIC,
            Magic::EndOfStream => END_MAGIC,
        }
    }

    pub(super) fn identify(bits: u64) -> Option<Magic> {
        [Magic::Block, Magic::EndOfStream].into_iter().find(|magic| magic.value() == bits)
    }
}

/// A magic found in the input at an absolute bit position.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    pub(super) bit: u64,
    pub(super) magic: Magic,
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
pub(super) enum Next {
    Found(Candidate),
    /// No magic up to the limit.
    TooFar,
    /// No magic before the input ends.
    EndOfInput,
}

/// Why the reader thread stops early.
pub(super) enum Halt {
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
pub(super) struct Input<R> {
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
    pub(super) fn new(reader: R, stop: Arc<AtomicBool>) -> Self {
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
    pub(super) fn bytes(&self, from: u64, to: u64) -> &[u8] {
        let end = self.end();
        let start = (from.min(end) - self.base) as usize;
        let stop = (to.min(end) - self.base) as usize;
        &self.buf[start..stop.max(start)]
    }

    /// `count` bits at absolute bit `bit`, if read already.
    pub(super) fn bits(&self, bit: u64, count: u32) -> Option<u64> {
        let offset = bit.checked_sub(self.base * 8)?;
        read_bits(&self.buf[..self.filled], offset, count)
    }

    /// Lets the bytes before `byte` go.
    pub(super) fn release_before(&mut self, byte: u64) {
        self.keep_from = self.keep_from.max(byte);
    }

    /// Reads until the input read so far reaches `byte`; false if it ends before.
    pub(super) fn fill_to(&mut self, byte: u64) -> Result<bool, Halt> {
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
    pub(super) fn next_candidate(&mut self, after: u64, limit: u64) -> Result<Next, Halt> {
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
