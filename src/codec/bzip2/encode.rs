//! A fast bzip2 compressor: turns bytes into one standard bzip2 stream at level 9 (blocks of
//! up to 900 000 bytes after the first run-length step), readable by any bzip2 decoder.
//!
//! The format's steps, in order: run-length coding of runs of 4 to 255 equal bytes (RLE1), the
//! block CRC, the Burrows–Wheeler transform, move-to-front with zero runs coded as RUNA/RUNB,
//! and 2 to 6 Huffman tables chosen per 50 symbols, refined 4 times as libbzip2 does, so the
//! output is about as small as `bzip2 -9`'s.
//!
//! What makes it fast is the transform. bzip2 sorts the cyclic rotations of the block; we rotate
//! the block to start at its least rotation (Duval's algorithm, linear). A primitive word so
//! rotated is a Lyndon word, and the order of a Lyndon word's suffixes is the order of its
//! rotations, so a suffix array (libsais, linear time whatever the data) gives the rotation
//! order. A power `u^k` (`u` a Lyndon word) needs nothing more: its suffixes sort in an order
//! of its rotations with equal ones side by side, and decoders take any row of the block.
//!
//! Pure and single-threaded: no I/O, no threads (callers compress independent streams in
//! parallel). Must not panic on any input.

use std::cell::RefCell;
use std::io;

use libsais::context::Context;
use libsais::typestate::SingleThreaded;

use super::bits::BitWriter;
use super::crc::{self, crc};
use super::format::{
    BLOCK_MAGIC, END_MAGIC, GROUP_SIZE, MAX_ALPHABET, MAX_TABLES, max_block_len, stream_header,
};

/// The level of the streams written: the largest blocks.
const LEVEL: u8 = 9;
/// Largest block after RLE1, at [`LEVEL`] (decoders reject larger ones).
const BLOCK_MAX: usize = max_block_len(LEVEL);
/// Longest Huffman code we write (the format allows 20; libbzip2 writes at most 17).
const MAX_WRITTEN_CODE_LEN: u32 = 17;
/// Rounds of choosing tables and recomputing their codes, as libbzip2.
const ITERATIONS: usize = 4;
/// Longest run RLE1 codes at once: 4 bytes and a count of up to 251.
const RUN_MAX: usize = 255;

/// Compresses `input` into one bzip2 stream (`BZh9`, its blocks, the end-of-stream trailer).
pub fn compress(input: &[u8]) -> io::Result<Vec<u8>> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        compress_with(input, &mut scratch)
    })
}

thread_local! {
    /// Buffers and libsais's context, kept between the blocks a worker thread compresses:
    /// about 8 MB for a full block, freed when the thread ends.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    /// The block after RLE1, written twice in a row (for its least rotation).
    doubled: Vec<u8>,
    suffixes: Vec<i32>,
    bwt: Vec<u8>,
    mtf: Vec<u16>,
    context: Option<Context<u8, i32, SingleThreaded>>,
}

fn compress_with(input: &[u8], scratch: &mut Scratch) -> io::Result<Vec<u8>> {
    let mut out = BitWriter::with_capacity(input.len() / 4 + 64);
    out.put(32, u32::from_be_bytes(stream_header(LEVEL)));
    let mut combined_crc = 0u32;
    let mut rest = input;
    while !rest.is_empty() {
        let consumed = rle1(rest, BLOCK_MAX, &mut scratch.doubled);
        if consumed == 0 {
            return Err(io::Error::other("bzip2: a block took no input"));
        }
        let (block_input, tail) = rest.split_at(consumed);
        rest = tail;
        let crc = crc(block_input);
        combined_crc = crc::combine(combined_crc, crc);
        write_block(&mut out, crc, scratch)?;
    }
    out.put48(END_MAGIC);
    out.put(32, combined_crc);
    Ok(out.finish())
}

/// Writes the RLE1 coding of a prefix of `input` to `out` (cleared first), at most `limit`
/// bytes, and returns how many input bytes it covers (at least one when `limit >= 5`).
fn rle1(input: &[u8], limit: usize, out: &mut Vec<u8>) -> usize {
    out.clear();
    out.reserve(2 * limit.min(input.len()));
    let mut i = 0;
    let mut literal_start = 0;
    loop {
        let room = limit - out.len();
        // Literals up to here fit; look no further than where they would fill the block.
        let scan_end = input.len().min(literal_start + room);
        while i < scan_end && !run_starts(input, i) {
            i += 1;
        }
        if i >= scan_end {
            out.extend_from_slice(&input[literal_start..scan_end]);
            return scan_end;
        }
        // A run of at least 4 starts at i: the literals before it, then 4 bytes and a count.
        out.extend_from_slice(&input[literal_start..i]);
        if i - literal_start + 5 > room {
            return i;
        }
        let b = input[i];
        let end = (i + RUN_MAX).min(input.len());
        let run = 4 + input[i + 4..end].iter().take_while(|&&c| c == b).count();
        out.extend_from_slice(&[b, b, b, b, (run - 4) as u8]);
        i += run;
        literal_start = i;
    }
}

/// Whether 4 equal bytes start at `i`.
#[inline]
fn run_starts(input: &[u8], i: usize) -> bool {
    match input.get(i..i + 4) {
        Some(&[a, b, c, d]) => a == b && a == c && a == d,
        _ => false,
    }
}

/// Writes one block (header, tables, coded symbols) for the RLE1 output in `scratch.doubled`.
fn write_block(out: &mut BitWriter, crc: u32, scratch: &mut Scratch) -> io::Result<()> {
    let n = scratch.doubled.len();
    let orig_ptr = bwt(scratch)?;

    let mut in_use = [false; 256];
    for &b in &scratch.doubled[..n] {
        in_use[b as usize] = true;
    }
    let mut seq = [0u8; 256];
    let mut n_in_use = 0usize;
    for (b, used) in in_use.iter().enumerate() {
        if *used {
            seq[b] = n_in_use as u8;
            n_in_use += 1;
        }
    }
    let alpha_size = n_in_use + 2;
    let mut freq = [0u32; MAX_ALPHABET];
    mtf(&scratch.bwt, &seq, n_in_use, &mut scratch.mtf, &mut freq);
    let symbols = &scratch.mtf;

    out.put48(BLOCK_MAGIC);
    out.put(32, crc);
    out.put(1, 0); // not randomised
    out.put(24, orig_ptr as u32);

    let mut ranges = 0u32;
    for (r, bytes) in in_use.chunks(16).enumerate() {
        if bytes.iter().any(|&u| u) {
            ranges |= 1 << (15 - r);
        }
    }
    out.put(16, ranges);
    for bytes in in_use.chunks(16) {
        if bytes.iter().any(|&u| u) {
            let bits = bytes.iter().fold(0u32, |acc, &u| acc << 1 | u as u32);
            out.put(16, bits);
        }
    }

    let tables = Tables::choose(symbols, &freq[..alpha_size]);
    out.put(3, tables.count as u32);
    out.put(15, tables.selectors.len() as u32);
    let mut order = [0u8, 1, 2, 3, 4, 5];
    for &selector in &tables.selectors {
        let position = order.iter().position(|&t| t == selector).unwrap_or(0);
        order.copy_within(0..position, 1);
        order[0] = selector;
        // Unary: `position` ones and a zero.
        out.put(position as u32 + 1, ((1u32 << position) - 1) << 1);
    }
    for lengths in &tables.lengths[..tables.count] {
        let mut current = lengths[0] as u32;
        out.put(5, current);
        for &length in &lengths[..alpha_size] {
            let length = length as u32;
            while current < length {
                out.put(2, 0b10);
                current += 1;
            }
            while current > length {
                out.put(2, 0b11);
                current -= 1;
            }
            out.put(1, 0);
        }
    }

    let codes = tables.codes(alpha_size);
    for (group, &selector) in symbols.chunks(GROUP_SIZE).zip(&tables.selectors) {
        let codes = &codes[selector as usize];
        for &symbol in group {
            let code = codes[symbol as usize];
            out.put(code & 31, code >> 5);
        }
    }
    Ok(())
}

/// Replaces `scratch.bwt` by the Burrows–Wheeler transform of the block in `scratch.doubled`
/// (which it doubles) and returns the row of the block itself among its sorted rotations.
fn bwt(scratch: &mut Scratch) -> io::Result<usize> {
    let n = scratch.doubled.len();
    scratch.bwt.clear();
    if n == 0 {
        return Ok(0);
    }
    scratch.doubled.extend_from_within(..n);
    let start = least_rotation(&scratch.doubled);
    let text = &scratch.doubled[start..start + n];
    // Rotation `start` of the block is `text`, so the block is rotation `from` of `text`.
    let from = (n - start) % n;

    if scratch.suffixes.len() < n {
        scratch.suffixes.resize(n, 0);
    }
    let context = scratch.context.get_or_insert_with(Context::new_single_threaded);
    let sorted = libsais::SuffixArrayConstruction::for_text(text)
        .in_borrowed_buffer(&mut scratch.suffixes[..n])
        .single_threaded()
        .with_context(context)
        .run()
        .map_err(|e| io::Error::other(format!("suffix sorting failed: {e}")))?;

    let mut row = 0;
    scratch.bwt.reserve(n);
    for (rank, &suffix) in sorted.suffix_array().iter().enumerate() {
        let suffix = suffix as usize;
        if suffix == from {
            row = rank;
        }
        scratch.bwt.push(text[if suffix == 0 { n } else { suffix } - 1]);
    }
    scratch.doubled.truncate(n);
    Ok(row)
}

/// Where the least rotation of `s` starts (the first of equal ones), given `doubled` = `s`
/// twice: Duval's algorithm, the start of the last Lyndon factor of `s s` that starts in `s`.
fn least_rotation(doubled: &[u8]) -> usize {
    let n = doubled.len() / 2;
    let mut i = 0;
    let mut answer = 0;
    while i < n {
        answer = i;
        let mut j = i + 1;
        let mut k = i;
        while j < doubled.len() && doubled[k] <= doubled[j] {
            k = if doubled[k] < doubled[j] { i } else { k + 1 };
            j += 1;
        }
        while i <= k {
            i += j - k;
        }
    }
    answer
}

/// Move-to-front over the used bytes, with zero runs coded in bijective base 2 (RUNA = 0,
/// RUNB = 1), other positions `p` as `p + 1`, and the end-of-block symbol last.
fn mtf(
    bwt: &[u8],
    seq: &[u8; 256],
    n_in_use: usize,
    out: &mut Vec<u16>,
    freq: &mut [u32; MAX_ALPHABET],
) {
    out.clear();
    out.reserve(bwt.len() + 1);
    let mut order = [0u8; 256];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u8;
    }
    let mut zeros = 0u32;
    for &b in bwt {
        let c = seq[b as usize];
        if order[0] == c {
            zeros += 1;
            continue;
        }
        if zeros > 0 {
            zero_run(zeros, out, freq);
            zeros = 0;
        }
        let j = move_to_front(&mut order, c);
        out.push(j as u16 + 1);
        freq[j + 1] += 1;
    }
    if zeros > 0 {
        zero_run(zeros, out, freq);
    }
    let end = n_in_use + 1;
    out.push(end as u16);
    freq[end] += 1;
}

/// Moves `c` (not at the front) to the front of `order` and returns where it was. The first
/// 16 entries, where it nearly always is, are searched and shifted in one 128-bit word.
#[inline]
fn move_to_front(order: &mut [u8; 256], c: u8) -> usize {
    const ONES: u128 = u128::MAX / 255;
    let mut head_bytes = [0u8; 16];
    head_bytes.copy_from_slice(&order[..16]);
    let head = u128::from_le_bytes(head_bytes);
    let x = head ^ (ONES * c as u128);
    // The lowest byte of `x` that is zero, found without a branch per byte.
    let zeros = x.wrapping_sub(ONES) & !x & (ONES << 7);
    if zeros != 0 {
        let j = (zeros.trailing_zeros() / 8) as usize;
        let moved = if j == 15 { u128::MAX } else { (1u128 << (8 * (j + 1))) - 1 };
        let head = (head & !moved) | ((head << 8 | c as u128) & moved);
        order[..16].copy_from_slice(&head.to_le_bytes());
        return j;
    }
    let mut previous = order[0];
    let mut j = 1;
    while j < 256 {
        let current = order[j];
        order[j] = previous;
        if current == c {
            break;
        }
        previous = current;
        j += 1;
    }
    order[0] = c;
    j
}

fn zero_run(mut zeros: u32, out: &mut Vec<u16>, freq: &mut [u32; MAX_ALPHABET]) {
    zeros -= 1;
    loop {
        let symbol = (zeros & 1) as usize;
        out.push(symbol as u16);
        freq[symbol] += 1;
        if zeros < 2 {
            break;
        }
        zeros = (zeros - 2) / 2;
    }
}

/// Huffman tables for one block and which table codes each group of 50 symbols.
struct Tables {
    count: usize,
    lengths: [[u8; MAX_ALPHABET]; MAX_TABLES],
    selectors: Vec<u8>,
}

impl Tables {
    /// Chooses tables as libbzip2 does: start from tables that each favour a slice of the
    /// symbols, then repeatedly give each group the cheapest table and recompute the codes.
    fn choose(symbols: &[u16], freq: &[u32]) -> Tables {
        let alpha_size = freq.len();
        let count = match symbols.len() {
            0..200 => 2,
            200..600 => 3,
            600..1200 => 4,
            1200..2400 => 5,
            _ => 6,
        };
        let mut lengths = [[0u8; MAX_ALPHABET]; MAX_TABLES];
        let mut remaining = symbols.len() as u32;
        let mut start = 0;
        for part in (1..=count).rev() {
            let target = remaining / part as u32;
            let mut end = start;
            let mut sum = 0;
            while sum < target && end < alpha_size {
                sum += freq[end];
                end += 1;
            }
            if end > start + 1 && part != count && part != 1 && (count - part) % 2 == 1 {
                end -= 1;
                sum -= freq[end];
            }
            for (v, length) in lengths[part - 1][..alpha_size].iter_mut().enumerate() {
                *length = if (start..end).contains(&v) { 0 } else { 15 };
            }
            start = end;
            remaining -= sum;
        }

        let mut selectors = Vec::with_capacity(symbols.len().div_ceil(GROUP_SIZE));
        // Per symbol, its code length in each table, side by side for a vector add.
        let mut lanes = vec![[0u16; 8]; alpha_size];
        for _ in 0..ITERATIONS {
            for (v, lane) in lanes.iter_mut().enumerate() {
                for (t, cost) in lane.iter_mut().enumerate().take(count) {
                    *cost = lengths[t][v] as u16;
                }
            }
            // Four counters per symbol and table, so that repeats of a symbol do not wait
            // on each other's increments.
            let mut table_freq = [[[0u32; MAX_ALPHABET]; 4]; MAX_TABLES];
            selectors.clear();
            for group in symbols.chunks(GROUP_SIZE) {
                let mut cost = [0u16; 8];
                for &s in group {
                    let lane = &lanes[s as usize];
                    for t in 0..8 {
                        cost[t] += lane[t];
                    }
                }
                let mut best = 0;
                for t in 1..count {
                    if cost[t] < cost[best] {
                        best = t;
                    }
                }
                selectors.push(best as u8);
                let counts = &mut table_freq[best];
                let mut quads = group.chunks_exact(4);
                for quad in &mut quads {
                    for (counts, &s) in counts.iter_mut().zip(quad) {
                        counts[s as usize] += 1;
                    }
                }
                for (counts, &s) in counts.iter_mut().zip(quads.remainder()) {
                    counts[s as usize] += 1;
                }
            }
            for t in 0..count {
                let [a, b, c, d] = &table_freq[t];
                let mut freq = [0u32; MAX_ALPHABET];
                for (v, f) in freq.iter_mut().enumerate().take(alpha_size) {
                    *f = a[v] + b[v] + c[v] + d[v];
                }
                code_lengths(&freq[..alpha_size], &mut lengths[t][..alpha_size]);
            }
        }
        Tables { count, lengths, selectors }
    }

    /// Canonical codes, as `code << 5 | length`, for each table.
    fn codes(&self, alpha_size: usize) -> Vec<[u32; MAX_ALPHABET]> {
        self.lengths[..self.count]
            .iter()
            .map(|lengths| {
                let mut codes = [0u32; MAX_ALPHABET];
                let mut next = 0u32;
                for length in 1..=MAX_WRITTEN_CODE_LEN {
                    for v in 0..alpha_size {
                        if lengths[v] as u32 == length {
                            codes[v] = next << 5 | length;
                            next += 1;
                        }
                    }
                    next <<= 1;
                }
                codes
            })
            .collect()
    }
}

/// Huffman code lengths of at most [`MAX_WRITTEN_CODE_LEN`] bits for `freq`, every symbol coded (a
/// zero frequency counts as one); frequencies are halved until the longest code fits, as
/// libbzip2 does.
fn code_lengths(freq: &[u32], lengths: &mut [u8]) {
    let mut weights: Vec<u32> = freq.iter().map(|&f| f.max(1)).collect();
    let mut order: Vec<usize> = (0..freq.len()).collect();
    let mut sorted = vec![0u32; freq.len()];
    loop {
        order.sort_unstable_by_key(|&v| (weights[v], v));
        for (s, &v) in sorted.iter_mut().zip(&order) {
            *s = weights[v];
        }
        minimum_redundancy(&mut sorted);
        if sorted.first().is_none_or(|&l| l <= MAX_WRITTEN_CODE_LEN) {
            for (&v, &l) in order.iter().zip(&sorted) {
                lengths[v] = l as u8;
            }
            return;
        }
        for w in &mut weights {
            *w = 1 + *w / 2;
        }
    }
}

/// Replaces ascending weights by their Huffman code lengths (Moffat and Katajainen's in-place
/// algorithm), so the first is the longest. A single symbol gets length 1.
fn minimum_redundancy(a: &mut [u32]) {
    let n = a.len();
    if n <= 1 {
        a.fill(1);
        return;
    }
    // Left to right: combine the two lightest, leaving parent pointers behind.
    a[0] += a[1];
    let mut root = 0;
    let mut leaf = 2;
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] += a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] += a[leaf];
            leaf += 1;
        }
    }
    // Right to left: depths of internal nodes.
    a[n - 2] = 0;
    for next in (0..n - 2).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    // Right to left: depths of leaves.
    let mut available = 1usize;
    let mut used = 0usize;
    let mut depth = 0u32;
    let mut root = n as isize - 2;
    let mut next = n as isize - 1;
    while available > 0 {
        while root >= 0 && a[root as usize] == depth {
            used += 1;
            root -= 1;
        }
        while available > used {
            a[next as usize] = depth;
            next -= 1;
            available -= 1;
        }
        available = 2 * used;
        depth += 1;
        used = 0;
    }
}

#[cfg(test)]
mod tests;
