//! Decoding of one bzip2 block, fast: the bits of a block (from its magic to the end of its
//! end-of-block symbol) in, its bytes and CRC out.
//!
//! The stages, as the format stacks them, each its own function (kept out of line, so that
//! profiles show where the time goes):
//! - the block header: stored CRC, origin pointer, map of the bytes used, Huffman table
//!   selectors and code lengths (`read_header`);
//! - Huffman decoding from a 64-bit bit buffer (`bits::BitReader`) through a lookup table on
//!   the next `FAST_BITS` bits, with a slower path for longer codes; RUNA/RUNB run lengths
//!   and move-to-front decoding (the front of the list kept in a register), into a byte
//!   array (`decode_symbols`);
//! - the links of the inverse Burrows-Wheeler transform, each a `u32` with the index of the
//!   next entry in its high 24 bits and that entry's byte in its low 8 (libbzip2's "fast"
//!   mode), built both forwards and backwards (`link`);
//! - the walk of the links, forwards from the start and backwards from the end at the same
//!   time: it is one cache miss after another, and two walks wait for two at once (`walk`;
//!   links no encoder writes, where the two walks do not meet, are walked again forwards
//!   only, as libbzip2 walks them);
//! - the undoing of the initial run-length encoding, finding runs 6 bytes at a time
//!   (`expand_runs`), and the CRC, 8 bytes at a time ([`crc`]).
//!
//! [`BlockDecoder::block_end`] runs only the first two stages, to find where a block ends.
//!
//! What it must not do: hand out bytes whose CRC does not match the stored one; accept a block
//! that does not end exactly at the end it is given; index out of bounds, loop forever or
//! allocate without bound on corrupt input (every count read from the input is checked
//! against the block size the stream's level allows before it is used). It accepts exactly
//! the blocks libbzip2 accepts, with the bytes it gives, except randomised blocks (written
//! only by bzip2 0.9.0 and older), which it refuses with [`BlockError::Randomised`] so the
//! caller can decode them another way. Pure: no I/O, no threads, no `unsafe`.

use thiserror::Error;

use super::bits::BitReader;
use super::crc::crc;
use super::format::{BLOCK_MAGIC, GROUP_SIZE, MAX_ALPHABET, MAX_CODE_LEN, max_block_len};

/// Bits the Huffman lookup table is indexed by; longer codes take the slow path.
const FAST_BITS: u32 = 10;
/// Most selectors kept (libbzip2's `BZ_MAX_SELECTORS`); a block may announce more, up to
/// 32 767, and the extra ones are read and ignored, as libbzip2 does.
const MAX_SELECTORS: usize = 18_002;
/// Longest RUNA/RUNB sequence, as a power of two (libbzip2 refuses runs of 2^21 or more).
const MAX_RUN_SHIFT: u32 = 21;

/// Why a block does not decode.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BlockError {
    #[error("the block is randomised (written by bzip2 0.9.0 or older)")]
    Randomised,
    #[error("no block magic where the block should start")]
    NoMagic,
    #[error("invalid stream level {0} (must be 1 to 9)")]
    Level(u8),
    #[error("invalid block data: {0}")]
    Invalid(&'static str),
    #[error("block data ends before its end-of-block symbol")]
    Truncated,
    #[error("block ends before the next block boundary")]
    EndsEarly,
    #[error("block CRC mismatch (stored {stored:08x}, computed {computed:08x})")]
    Crc { stored: u32, computed: u32 },
}

/// A decoded block: its bytes and their CRC (checked against the stored one).
#[derive(Debug)]
pub struct Block {
    pub data: Vec<u8>,
    pub crc: u32,
}

/// Decodes blocks, keeping its large buffers (9 bytes per symbol of the largest block seen)
/// from one block to the next.
#[derive(Default)]
pub struct BlockDecoder {
    /// The bytes of the Burrows-Wheeler transform, then of its inverse (the output before
    /// the final run-length decoding).
    bytes: Vec<u8>,
    /// The links of the inverse transform, forwards and backwards (see [`link`]).
    forward: Vec<u32>,
    backward: Vec<u32>,
}

/// One Huffman table, canonical as bzip2 assigns codes: by length, then by symbol.
///
/// Codes are seen left-aligned in a 20-bit space: the code of a symbol of length `len` covers
/// 2^(20 - len) consecutive values, and the codes of each length follow those of the shorter
/// ones. Codes that do not fit (lengths whose Kraft sum exceeds 1) cannot be decoded, as in
/// libbzip2; values no code covers (a sum below 1) are an error when met.
struct HuffmanTable {
    /// By the next `FAST_BITS` bits: `symbol << 5 | length` for codes of at most
    /// `FAST_BITS` bits, 0 for longer codes and values no code covers.
    fast: [u16; 1 << FAST_BITS],
    /// By length: the end (exclusive) of the values covered by codes of that length or less.
    limit: [u32; MAX_CODE_LEN as usize + 1],
    /// By length: the index in `symbols` of the first code of that length.
    first: [u16; MAX_CODE_LEN as usize + 1],
    /// Symbols in code order.
    symbols: [u16; MAX_ALPHABET],
}

impl HuffmanTable {
    fn new(lengths: &[u8]) -> HuffmanTable {
        let mut table = HuffmanTable {
            fast: [0; 1 << FAST_BITS],
            limit: [0; MAX_CODE_LEN as usize + 1],
            first: [0; MAX_CODE_LEN as usize + 1],
            symbols: [0; MAX_ALPHABET],
        };
        let mut value = 0u32;
        let mut index = 0usize;
        let mut full = false;
        for len in 1..=MAX_CODE_LEN {
            table.first[len as usize] = index as u16;
            let size = 1 << (MAX_CODE_LEN - len);
            for (symbol, _) in lengths.iter().enumerate().filter(|&(_, &l)| u32::from(l) == len) {
                if full || value + size > 1 << MAX_CODE_LEN {
                    full = true;
                    break;
                }
                if len <= FAST_BITS {
                    let shift = MAX_CODE_LEN - FAST_BITS;
                    let entry = ((symbol as u16) << 5) | len as u16;
                    table.fast[(value >> shift) as usize..((value + size) >> shift) as usize]
                        .fill(entry);
                }
                table.symbols[index] = symbol as u16;
                index += 1;
                value += size;
            }
            table.limit[len as usize] = value;
        }
        table
    }

    /// The symbol whose code starts the 20 bits `next` (left-aligned), and its length.
    #[inline(always)]
    fn decode(&self, next: u32) -> Result<(u32, u32), BlockError> {
        let entry = self.fast[(next >> (MAX_CODE_LEN - FAST_BITS)) as usize];
        if entry != 0 {
            Ok((u32::from(entry >> 5), u32::from(entry & 31)))
        } else {
            self.decode_long(next)
        }
    }

    /// [`HuffmanTable::decode`] for codes longer than `FAST_BITS`.
    #[cold]
    fn decode_long(&self, next: u32) -> Result<(u32, u32), BlockError> {
        for len in FAST_BITS + 1..=MAX_CODE_LEN {
            if next < self.limit[len as usize] {
                // `next` is at or above the codes of length `len - 1` or less (the loop went
                // past them, or the lookup table holds no entry for it).
                let offset = next.checked_sub(self.limit[len as usize - 1]).map(|offset| {
                    usize::from(self.first[len as usize])
                        + (offset >> (MAX_CODE_LEN - len)) as usize
                });
                if let Some(&symbol) = offset.and_then(|index| self.symbols.get(index)) {
                    return Ok((u32::from(symbol), len));
                }
                break;
            }
        }
        Err(BlockError::Invalid("bits that are no Huffman code"))
    }
}

/// What the block header says.
struct Header {
    stored_crc: u32,
    orig_ptr: usize,
    /// The bytes the block uses, in order; move-to-front indexes into them.
    used: Vec<u8>,
    selectors: Vec<u8>,
    tables: Vec<HuffmanTable>,
}

impl BlockDecoder {
    pub fn new() -> Self {
        BlockDecoder::default()
    }

    /// Decodes the block in bits `start..end` of `bytes` (bit 0 being the most significant
    /// bit of `bytes[0]`), from its 48-bit magic to the end of its end-of-block symbol, in a
    /// stream of `level` (1 to 9: blocks of at most `level` × 100 000 bytes before the final
    /// run-length decoding). Fails unless it is exactly one block whose CRC matches.
    pub fn decode(
        &mut self,
        bytes: &[u8],
        start: u64,
        end: u64,
        level: u8,
    ) -> Result<Block, BlockError> {
        let (header, len, counts, position) = self.symbols(bytes, start, end, level)?;
        if position < end {
            return Err(BlockError::EndsEarly);
        }
        if header.orig_ptr >= len {
            return Err(BlockError::Invalid("origin pointer beyond the block"));
        }
        let (forward, backward) = (&mut self.forward[..len], &mut self.backward[..len]);
        let bytes = &mut self.bytes[..len];
        link(bytes, forward, backward, &counts);
        if !walk(forward, backward, header.orig_ptr, bytes) {
            walk_forwards(forward, header.orig_ptr, bytes);
        }
        let data = expand_runs(bytes)?;
        let computed = crc(&data);
        if computed != header.stored_crc {
            return Err(BlockError::Crc { stored: header.stored_crc, computed });
        }
        Ok(Block { data, crc: computed })
    }

    /// Where the block that starts at bit `start` ends: the bit after its end-of-block
    /// symbol, if that is at `limit` at most; else [`BlockError::Truncated`]. One pass over
    /// its header and coded symbols, without the inverse transform or the CRC (so a block
    /// it finds may still fail [`BlockDecoder::decode`]).
    pub fn block_end(
        &mut self,
        bytes: &[u8],
        start: u64,
        limit: u64,
        level: u8,
    ) -> Result<u64, BlockError> {
        self.symbols(bytes, start, limit, level).map(|(.., position)| position)
    }

    /// Reads the header and the coded symbols of the block at bit `start`, which must end by
    /// bit `end`: the header, the length and byte counts of the transformed block, and the
    /// bit after the end-of-block symbol.
    ///
    /// Past `end` the reader sees zeros, so invalid data found there, or so near it that a
    /// code may reach past it, is [`BlockError::Truncated`]: more bits might make it valid.
    fn symbols(
        &mut self,
        bytes: &[u8],
        start: u64,
        end: u64,
        level: u8,
    ) -> Result<(Header, usize, [u32; 256], u64), BlockError> {
        if !(1..=9).contains(&level) {
            return Err(BlockError::Level(level));
        }
        let max_len = max_block_len(level);
        let mut reader = BitReader::new(bytes, start);
        let cut = |reader: &BitReader, error| match error {
            BlockError::Invalid(_) if reader.position() + u64::from(MAX_CODE_LEN) > end => {
                BlockError::Truncated
            }
            error => error,
        };
        let header = read_header(&mut reader, max_len, end).map_err(|e| cut(&reader, e))?;
        if reader.position() > end {
            return Err(BlockError::Truncated);
        }
        if self.bytes.len() < max_len {
            self.bytes.resize(max_len, 0);
            self.forward.resize(max_len, 0);
            self.backward.resize(max_len, 0);
        }
        let (len, counts) = decode_symbols(&mut reader, &header, &mut self.bytes[..max_len], end)
            .map_err(|e| cut(&reader, e))?;
        let position = reader.position();
        if position > end {
            return Err(BlockError::Truncated);
        }
        Ok((header, len, counts, position))
    }
}

#[inline(never)]
fn read_header(reader: &mut BitReader, max_len: usize, end: u64) -> Result<Header, BlockError> {
    let magic = (u64::from(reader.bits(24)) << 24) | u64::from(reader.bits(24));
    if magic != BLOCK_MAGIC {
        return Err(BlockError::NoMagic);
    }
    let stored_crc = reader.bits(32);
    if reader.bit() {
        return Err(BlockError::Randomised);
    }
    let orig_ptr = reader.bits(24) as usize;
    if orig_ptr > max_len + 10 {
        return Err(BlockError::Invalid("origin pointer beyond the block size"));
    }
    let groups = reader.bits(16);
    let mut used = Vec::with_capacity(256);
    for group in 0..16 {
        if groups & (0x8000 >> group) != 0 {
            let map = reader.bits(16);
            for bit in 0..16 {
                if map & (0x8000 >> bit) != 0 {
                    used.push((group * 16 + bit) as u8);
                }
            }
        }
    }
    if used.is_empty() {
        return Err(BlockError::Invalid("no byte is used"));
    }
    let table_count = reader.bits(3) as usize;
    if !(2..=6).contains(&table_count) {
        return Err(BlockError::Invalid("number of Huffman tables"));
    }
    let selector_count = reader.bits(15) as usize;
    if selector_count == 0 {
        return Err(BlockError::Invalid("no selectors"));
    }
    let mut order: [u8; 6] = [0, 1, 2, 3, 4, 5];
    let mut selectors = Vec::with_capacity(selector_count.min(MAX_SELECTORS));
    for _ in 0..selector_count {
        // Past the end the reader sees zeros, each a selector: stop there, not 32 767 later.
        if reader.position() > end {
            return Err(BlockError::Truncated);
        }
        let mut index = 0;
        while reader.bit() {
            index += 1;
            if index >= table_count {
                return Err(BlockError::Invalid("selector beyond the Huffman tables"));
            }
        }
        if selectors.len() < MAX_SELECTORS {
            order[..=index].rotate_right(1);
            selectors.push(order[0]);
        }
    }
    let alphabet = used.len() + 2;
    let mut tables = Vec::with_capacity(table_count);
    let mut lengths = [0u8; MAX_ALPHABET];
    for _ in 0..table_count {
        let mut len = reader.bits(5);
        for length in &mut lengths[..alphabet] {
            loop {
                if !(1..=MAX_CODE_LEN).contains(&len) {
                    return Err(BlockError::Invalid("Huffman code length"));
                }
                if !reader.bit() {
                    break;
                }
                if reader.bit() {
                    len -= 1;
                } else {
                    len += 1;
                }
            }
            *length = len as u8;
        }
        tables.push(HuffmanTable::new(&lengths[..alphabet]));
    }
    Ok(Header { stored_crc, orig_ptr, used, selectors, tables })
}

/// Decodes the Huffman-coded symbols, their runs and move-to-front indexes, into `bytes`, up
/// to the end-of-block symbol. Returns how many bytes that makes and how many times each byte
/// value occurs.
#[inline(never)]
fn decode_symbols(
    reader: &mut BitReader,
    header: &Header,
    bytes: &mut [u8],
    end: u64,
) -> Result<(usize, [u32; 256]), BlockError> {
    // A copy the compiler can keep in registers.
    let mut bits = reader.clone();
    let result = decode_symbols_from(&mut bits, header, bytes, end);
    *reader = bits;
    result
}

#[inline(always)]
fn decode_symbols_from(
    reader: &mut BitReader,
    header: &Header,
    bytes: &mut [u8],
    end: u64,
) -> Result<(usize, [u32; 256]), BlockError> {
    let end_of_block = header.used.len() as u32 + 1;
    let mut mtf = MoveToFront::new(&header.used);
    let mut counts = [0u32; 256];
    let mut len = 0usize;
    let mut run = 0usize;
    let mut run_shift = 0u32;
    let mut selectors = header.selectors.iter();
    let mut table = &header.tables[0];
    let mut group_left = 0;
    loop {
        if group_left == 0 {
            let Some(&selector) = selectors.next() else {
                return Err(BlockError::Invalid("more symbols than selectors"));
            };
            if reader.position() > end {
                return Err(BlockError::Truncated);
            }
            table = &header.tables[usize::from(selector)];
            group_left = GROUP_SIZE as u32;
        }
        group_left -= 1;
        if reader.available() < MAX_CODE_LEN {
            reader.refill();
        }
        let (symbol, code_len) = table.decode(reader.peek(MAX_CODE_LEN))?;
        reader.consume(code_len);
        if symbol <= 1 {
            // RUNA (1) or RUNB (2) times the current power of two.
            if run_shift >= MAX_RUN_SHIFT {
                return Err(BlockError::Invalid("run too long"));
            }
            run += ((symbol + 1) as usize) << run_shift;
            run_shift += 1;
            continue;
        }
        if run_shift != 0 {
            let byte = mtf.front();
            let Some(slots) = bytes.get_mut(len..len + run) else {
                return Err(BlockError::Invalid("more bytes than the block size"));
            };
            slots.fill(byte);
            counts[usize::from(byte)] += run as u32;
            len += run;
            run = 0;
            run_shift = 0;
        }
        if symbol == end_of_block {
            return Ok((len, counts));
        }
        let Some(slot) = bytes.get_mut(len) else {
            return Err(BlockError::Invalid("more bytes than the block size"));
        };
        let byte = mtf.pick((symbol - 1) as usize);
        *slot = byte;
        counts[usize::from(byte)] += 1;
        len += 1;
    }
}

/// The move-to-front list of the bytes: its first 16 in a number (where moving one to the
/// front takes a few register operations), the rest in an array.
struct MoveToFront {
    /// Byte `i` of the list in bits `8 * i..8 * i + 8`.
    head: u128,
    tail: [u8; 240],
}

impl MoveToFront {
    fn new(bytes: &[u8]) -> Self {
        let mut list = [0u8; 256];
        list[..bytes.len()].copy_from_slice(bytes);
        let mut head = [0u8; 16];
        head.copy_from_slice(&list[..16]);
        let mut tail = [0u8; 240];
        tail.copy_from_slice(&list[16..]);
        MoveToFront { head: u128::from_le_bytes(head), tail }
    }

    fn front(&self) -> u8 {
        self.head as u8
    }

    /// Moves the byte at `index` (below 256) to the front and returns it.
    #[inline(always)]
    fn pick(&mut self, index: usize) -> u8 {
        if index < 16 {
            let shift = 8 * index as u32;
            let byte = (self.head >> shift) as u8;
            let below = (1u128 << shift) - 1;
            let through = below | (0xff << shift);
            self.head = (self.head & !through) | ((self.head & below) << 8) | u128::from(byte);
            byte
        } else {
            let at = index - 16;
            let byte = self.tail[at];
            self.tail.copy_within(0..at, 1);
            self.tail[0] = (self.head >> 120) as u8;
            self.head = (self.head << 8) | u128::from(byte);
            byte
        }
    }
}

/// Builds the links of the inverse Burrows-Wheeler transform of `bytes` (its last column),
/// both ways, each link with the byte it leads to in its low 8 bits: `forward[i] >> 8` is the
/// entry whose byte follows the byte of entry `i` in the output, `backward[i] >> 8` the entry
/// whose byte precedes it, `backward[i] & 0xff` the byte of entry `i`. `counts` must be the
/// counts of the bytes in `bytes`; all three slices have the same length.
#[inline(never)]
fn link(bytes: &[u8], forward: &mut [u32], backward: &mut [u32], counts: &[u32; 256]) {
    let mut next = [0u32; 256];
    let mut sum = 0;
    for (next, &count) in next.iter_mut().zip(counts) {
        *next = sum;
        sum += count;
    }
    for ((index, &byte), backward) in bytes.iter().enumerate().zip(backward) {
        let target = next[usize::from(byte)];
        next[usize::from(byte)] += 1;
        // `target` is one of the `counts[byte]` slots of `byte`, in `0..bytes.len()`; each
        // slot is written once, so every entry gets an index below `bytes.len()`.
        forward[target as usize] = ((index as u32) << 8) | u32::from(byte);
        *backward = (target << 8) | u32::from(byte);
    }
}

/// Walks the links from `orig_ptr` into `out`, as long as the links: forwards from the start
/// and backwards from the end at the same time, so that two cache misses are waited for at
/// once (each walk is one load after another, each at an unpredictable place).
///
/// Both walks give the bytes of libbzip2's forward walk only if `len` steps forwards lead
/// back to `orig_ptr`, as they do in every block an encoder wrote (whose links form one cycle,
/// or cycles of a length that divides `len`). Returns whether they do, by checking that the
/// two walks meet; if not (a crafted block), [`walk_forwards`] must redo it.
#[inline(never)]
fn walk(forward: &[u32], backward: &[u32], orig_ptr: usize, out: &mut [u8]) -> bool {
    // Entry `orig_ptr` holds the original text: its forward link leads to the first byte,
    // its own byte is the last.
    let (mut ahead, mut behind) = (orig_ptr, orig_ptr);
    let (front, end) = out.split_at_mut(forward.len().div_ceil(2));
    for (first, last) in front.iter_mut().zip(end.iter_mut().rev()) {
        let (next, previous) = (forward[ahead], backward[behind]);
        *first = next as u8;
        *last = previous as u8;
        ahead = (next >> 8) as usize;
        behind = (previous >> 8) as usize;
    }
    if front.len() > end.len() {
        front[end.len()] = forward[ahead] as u8;
        // `len` is odd: one more step backwards reaches where the forward walk is.
        behind = (backward[behind] >> 8) as usize;
    }
    ahead == behind
}

/// Walks the links forwards only from `orig_ptr`, `out.len()` steps, as libbzip2 does.
#[cold]
fn walk_forwards(forward: &[u32], orig_ptr: usize, out: &mut [u8]) {
    let mut at = orig_ptr;
    for byte in out {
        let next = forward[at];
        *byte = next as u8;
        at = (next >> 8) as usize;
    }
}

/// Undoes the initial run-length encoding of `bytes`: 4 equal bytes are followed by a count
/// of further copies (and the byte after the count starts afresh).
#[inline(never)]
fn expand_runs(bytes: &[u8]) -> Result<Vec<u8>, BlockError> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8);
    // `bytes[from..]` is still to copy; no run starts before it.
    let mut from = 0;
    while let Some(run) = find_run(bytes, from) {
        let Some(&count) = bytes.get(run + 4) else {
            return Err(BlockError::Invalid("block ends without the count of a run"));
        };
        out.extend_from_slice(&bytes[from..run + 4]);
        out.resize(out.len() + usize::from(count), bytes[run]);
        from = run + 5;
    }
    out.extend_from_slice(&bytes[from..]);
    Ok(out)
}

/// Where the first 4 equal bytes in `bytes[from..]` start; 6 bytes at a time.
#[inline(always)]
fn find_run(bytes: &[u8], mut from: usize) -> Option<usize> {
    const LOW_7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    while let Some(window) = bytes.get(from..from + 9) {
        let (mut here, mut next) = ([0u8; 8], [0u8; 8]);
        here.copy_from_slice(&window[..8]);
        next.copy_from_slice(&window[1..]);
        // Byte `i` of `differ` is 0 where bytes `from + i` and `from + i + 1` are equal.
        let differ = u64::from_le_bytes(here) ^ u64::from_le_bytes(next);
        // The top bit of byte `i` set where byte `i` of `differ` is 0 (adding 0x7f to the low
        // 7 bits of a byte carries into its top bit unless they are 0; no carry crosses bytes).
        let equal = !(((differ & LOW_7) + LOW_7) | differ | LOW_7);
        // Set in byte `i` (0 to 5) where bytes `from + i` to `from + i + 3` are equal.
        let runs = equal & (equal >> 8) & (equal >> 16);
        if runs != 0 {
            return Some(from + runs.trailing_zeros() as usize / 8);
        }
        from += 6;
    }
    let rest = bytes.get(from..)?;
    let at = rest.windows(4).position(|four| four.iter().all(|&byte| byte == four[0]))?;
    Some(from + at)
}

#[cfg(test)]
mod tests;
