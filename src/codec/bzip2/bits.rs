//! Bits most significant first, as bzip2 stores them: [`BitReader`], the block decoder's
//! reader through a 64-bit buffer; [`BitWriter`], the encoder's writer through a 64-bit
//! accumulator; and [`read_bits`] and [`push_bits`], single reads and appends at any bit
//! offset (for the parallel decoder, which cuts blocks out of the input where they lie).
//!
//! Bits only: they know nothing of the format's fields, and do no I/O. The methods the
//! decoder's and encoder's loops call are marked `#[inline]`, so that they stay inlined now
//! that they live in another module than their callers.

/// Reads bits most significant first from a 64-bit buffer, refilled 8 bytes at a time. Past
/// the end of its bytes it reads zeros (callers check the position against the block end).
#[derive(Clone)]
pub(super) struct BitReader<'a> {
    bytes: &'a [u8],
    /// The next byte to load.
    next: usize,
    /// The unread bits, left-aligned: `count` of them, then possibly the first bits of
    /// `bytes[next..]` again (loading them twice is harmless, as both loads agree).
    buf: u64,
    count: u32,
}

impl<'a> BitReader<'a> {
    #[inline]
    pub(super) fn new(bytes: &'a [u8], start_bit: u64) -> Self {
        let mut reader = BitReader { bytes, next: (start_bit / 8) as usize, buf: 0, count: 0 };
        reader.refill();
        reader.consume((start_bit % 8) as u32);
        reader
    }

    /// Bits read so far, counted from the start of `bytes`.
    #[inline]
    pub(super) fn position(&self) -> u64 {
        self.next as u64 * 8 - u64::from(self.count)
    }

    /// Bits that can be peeked or consumed without a refill.
    #[inline(always)]
    pub(super) fn available(&self) -> u32 {
        self.count
    }

    /// Makes at least 56 bits available.
    #[inline(always)]
    pub(super) fn refill(&mut self) {
        if let Some(word) = self.bytes.get(self.next..self.next.saturating_add(8)) {
            let word = u64::from_be_bytes(word.try_into().unwrap_or_default());
            // `count` is at most 63 here, so the shift is in range.
            self.buf |= word >> self.count;
            let loaded = (63 - self.count) / 8;
            self.next += loaded as usize;
            self.count += loaded * 8;
        } else {
            self.refill_near_end();
        }
    }

    #[cold]
    fn refill_near_end(&mut self) {
        while self.count < 56 {
            let byte = self.bytes.get(self.next).copied().unwrap_or(0);
            self.buf |= u64::from(byte) << (56 - self.count);
            self.next = self.next.saturating_add(1);
            self.count += 8;
        }
    }

    /// The next `count` bits (1 to 32), without reading them; needs `count` bits available.
    #[inline(always)]
    pub(super) fn peek(&self, count: u32) -> u32 {
        (self.buf >> (64 - count)) as u32
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, count: u32) {
        self.buf <<= count;
        self.count -= count;
    }

    /// Reads `count` bits (1 to 32).
    pub(super) fn bits(&mut self, count: u32) -> u32 {
        if self.count < count {
            self.refill();
        }
        let value = self.peek(count);
        self.consume(count);
        value
    }

    pub(super) fn bit(&mut self) -> bool {
        self.bits(1) == 1
    }
}

/// Bits, most significant first, through a 64-bit accumulator.
pub(super) struct BitWriter {
    out: Vec<u8>,
    bits: u64,
    count: u32,
}

impl BitWriter {
    pub(super) fn with_capacity(capacity: usize) -> BitWriter {
        BitWriter { out: Vec::with_capacity(capacity), bits: 0, count: 0 }
    }

    /// Writes the low `count` bits of `value` (`count <= 32`).
    #[inline]
    pub(super) fn put(&mut self, count: u32, value: u32) {
        self.bits = self.bits << count | value as u64;
        self.count += count;
        if self.count >= 32 {
            self.count -= 32;
            self.out.extend_from_slice(&((self.bits >> self.count) as u32).to_be_bytes());
        }
    }

    /// Writes the low 48 bits of `value` (a magic), in two 24-bit halves.
    #[inline]
    pub(super) fn put48(&mut self, value: u64) {
        self.put(24, (value >> 24) as u32 & 0xff_ffff);
        self.put(24, value as u32 & 0xff_ffff);
    }

    /// Pads the last byte with zeros and returns the bytes.
    pub(super) fn finish(mut self) -> Vec<u8> {
        let pad = (8 - self.count % 8) % 8;
        self.bits <<= pad;
        self.count += pad;
        while self.count > 0 {
            self.count -= 8;
            self.out.push((self.bits >> self.count) as u8);
        }
        self.out
    }
}

/// Appends the low `count` bits of `value` to `out`, which holds `bit_len` bits.
pub(super) fn push_bits(out: &mut Vec<u8>, bit_len: &mut u64, value: u64, count: u32) {
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
pub(super) fn read_bits(bytes: &[u8], bit: u64, count: u32) -> Option<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::XorShift;

    /// Fields of 1 to 32 bits, written by [`BitWriter`] and [`push_bits`], read back by
    /// [`BitReader`] and [`read_bits`] from every starting bit.
    #[test]
    fn what_is_written_reads_back() {
        let mut rng = XorShift::new(1);
        let fields: Vec<(u32, u32)> = (0..2000)
            .map(|_| {
                let count = 1 + rng.below(32) as u32;
                (count, (rng.next() as u32) >> (32 - count))
            })
            .collect();
        let mut writer = BitWriter::with_capacity(0);
        let (mut pushed, mut pushed_len) = (Vec::new(), 0);
        for &(count, value) in &fields {
            writer.put(count, value);
            push_bits(&mut pushed, &mut pushed_len, u64::from(value), count);
        }
        writer.put48(0x3141_5926_5359);
        push_bits(&mut pushed, &mut pushed_len, 0x3141_5926_5359, 48);
        let written = writer.finish();
        assert_eq!(written, pushed);
        let mut reader = BitReader::new(&written, 0);
        let mut at = 0;
        for &(count, value) in &fields {
            assert_eq!(reader.position(), at);
            assert_eq!(reader.bits(count), value, "{count} bits at bit {at}");
            assert_eq!(read_bits(&written, at, count), Some(u64::from(value)));
            at += u64::from(count);
        }
        assert_eq!(read_bits(&written, at, 48), Some(0x3141_5926_5359));
        assert_eq!(read_bits(&written, written.len() as u64 * 8 - 47, 48), None);
        // Past the end the reader sees zeros.
        let mut reader = BitReader::new(&written, pushed_len);
        assert_eq!(reader.bits(32), 0);
    }
}
