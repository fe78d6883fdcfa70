//! The bzip2 format's constants and layout, defined once for the encoder, the decoders,
//! their tests and the benchmarks: the stream header, the two 48-bit magics, the sizes a
//! stream's level allows, the limits on Huffman codes and the grouping of symbols under
//! selectors.
//!
//! A file is one or more streams, each:
//!
//! | field                | bits | value                                                   |
//! | -------------------- | ---- | ------------------------------------------------------- |
//! | header               | 32   | `BZh` and the level digit `1` to `9`                    |
//! | blocks               |      | any number, each starting with [`BLOCK_MAGIC`]          |
//! | end-of-stream magic  | 48   | [`END_MAGIC`]                                           |
//! | stream CRC           | 32   | the block CRCs combined ([`super::crc::combine`])       |
//! | padding              | 0-7  | zeros, to the next byte                                 |
//!
//! and a block, on no byte boundary (blocks follow each other bit after bit):
//!
//! | field                | bits | value                                                   |
//! | -------------------- | ---- | ------------------------------------------------------- |
//! | block magic          | 48   | [`BLOCK_MAGIC`]                                         |
//! | block CRC            | 32   | CRC of the block's bytes ([`super::crc::crc`])          |
//! | randomised           | 1    | 0 (1 only from bzip2 0.9.0 and older)                   |
//! | origin pointer       | 24   | the row of the block among its sorted rotations         |
//! | map of bytes used    | 16+  | groups of 16 bytes used, then 16 bits per group used    |
//! | table count          | 3    | 2 to [`MAX_TABLES`] Huffman tables                      |
//! | selector count       | 15   | one selector per [`GROUP_SIZE`] symbols                 |
//! | selectors            |      | move-to-front indexes of the tables, in unary           |
//! | code lengths         |      | per table: 5 bits, then a delta per symbol              |
//! | symbols              |      | Huffman codes, up to the end-of-block symbol            |
//!
//! Constants and small pure functions of them only: no I/O, no decoding or encoding (that is
//! `encode`, `decode` and `parallel`).

/// Starts every stream; the level digit follows.
pub const HEADER_MAGIC: [u8; 3] = *b"BZh";
/// Starts every block (the BCD digits of pi).
pub const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
/// Starts the trailer of every stream (the BCD digits of the square root of pi).
pub const END_MAGIC: u64 = 0x1772_4538_5090;
/// Bits of either magic.
pub const MAGIC_BITS: u64 = 48;
/// Bits of a stored CRC (a block's, after its magic; a stream's, after the end magic).
pub const CRC_BITS: u64 = 32;

/// Bytes of a block (before the final run-length decoding) per level: a stream of level `n`
/// holds blocks of at most `n` × 100 000 bytes.
pub const BLOCK_SIZE_UNIT: usize = 100_000;
/// The longest Huffman code the format allows.
pub const MAX_CODE_LEN: u32 = 20;
/// Symbols coded with one Huffman table, between two selectors.
pub const GROUP_SIZE: usize = 50;
/// Most Huffman tables a block may have.
pub const MAX_TABLES: usize = 6;
/// Most symbols a block's alphabet may have: RUNA, RUNB, move-to-front indexes 1 to 255
/// and the end-of-block symbol.
pub const MAX_ALPHABET: usize = 258;

/// The header of a stream of `level` (1 to 9).
pub const fn stream_header(level: u8) -> [u8; 4] {
    let [b, z, h] = HEADER_MAGIC;
    [b, z, h, b'0' + level]
}

/// The level a stream header gives, if `head` is one (`BZh` and a digit 1 to 9).
pub fn header_level(head: &[u8]) -> Option<u8> {
    match head {
        [b, z, h, digit @ b'1'..=b'9'] if [*b, *z, *h] == HEADER_MAGIC => Some(*digit - b'0'),
        _ => None,
    }
}

/// The most bytes a block of a stream of `level` holds before the final run-length decoding.
pub const fn max_block_len(level: u8) -> usize {
    level as usize * BLOCK_SIZE_UNIT
}

/// The most bits a valid block of a stream of `level` can take, magic and CRC included: each
/// of at most `level` × 100 000 symbols (plus end-of-block) in at most 20 bits, plus at most
/// about 260 000 bits of header, symbol map, selectors and code tables.
pub fn max_block_bits(level: u8) -> u64 {
    (max_block_len(level) as u64 + 1) * u64::from(MAX_CODE_LEN) + 300_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_back_their_level() {
        for level in 1..=9 {
            assert_eq!(header_level(&stream_header(level)), Some(level));
        }
        assert_eq!(&stream_header(9), b"BZh9");
        for head in [&b"BZh0"[..], b"BZh:", b"BZH9", b"bZh9", b"BZh", b"", b"BZh91"] {
            assert_eq!(header_level(head), None, "{head:?}");
        }
    }
}
