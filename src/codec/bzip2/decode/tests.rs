//! Tests of the block decoder: Huffman tables at every code length, round trips of blocks
//! the `bzip2` crate writes at levels 1 and 9, the exact block end, blocks too large for their
//! level, randomised blocks, corrupt and cut blocks (errors, never wrong bytes, in agreement
//! with the `bzip2` crate), links that are not one cycle (read as libbzip2 reads them) and
//! files of many blocks.

use std::iter;

use super::*;
use crate::codec::bzip2::samples::{
    XorShift, block_of_symbols, blocks, crate_compress, crate_decompress, decode_blocks, dump_like,
    libbzip2_decompress, random_bytes, randomised,
};

/// Decodes every block of `compressed` with [`BlockDecoder`], checking the stream CRC.
fn decode_file(compressed: &[u8], level: u8) -> Vec<u8> {
    decode_blocks(compressed, level).unwrap()
}

/// `lengths`' canonical codes, left-aligned in 20 bits, as the bzip2 encoder assigns them.
fn canonical_codes(lengths: &[u8]) -> Vec<Option<u32>> {
    let mut codes = vec![None; lengths.len()];
    let mut code = 0u32;
    for len in 1..=20 {
        for (symbol, _) in lengths.iter().enumerate().filter(|&(_, &l)| l == len) {
            if code < 1 << len {
                codes[symbol] = Some(code << (20 - len));
            }
            code += 1;
        }
        code <<= 1;
    }
    codes
}

#[test]
fn huffman_tables_decode_every_code_length() {
    let complete: Vec<u8> = (1..=20).chain([20]).collect();
    let short: Vec<u8> = vec![3; 8];
    let mixed: Vec<u8> = [vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], vec![17; 8]].concat();
    let incomplete: Vec<u8> = vec![2, 2, 2, 12, 12];
    let oversubscribed: Vec<u8> = vec![1, 1, 1, 2, 11];
    for lengths in [complete, short, mixed, incomplete, oversubscribed] {
        let table = HuffmanTable::new(&lengths);
        let codes = canonical_codes(&lengths);
        let mut covered = vec![false; 1 << 20];
        for (symbol, code) in codes.iter().enumerate() {
            let Some(code) = *code else { continue };
            let len = u32::from(lengths[symbol]);
            let size = 1u32 << (20 - len);
            // The code followed by any bits: the first, last and a middle value.
            for next in [code, code + size - 1, code + size / 2] {
                assert_eq!(table.decode(next), Ok((symbol as u32, len)), "{lengths:?}");
            }
            covered[code as usize..(code + size) as usize].fill(true);
        }
        for next in (0..1u32 << 20).step_by(97).filter(|&next| !covered[next as usize]) {
            assert!(table.decode(next).is_err(), "{lengths:?}: {next:020b}");
        }
    }
    assert_eq!(canonical_codes(&[1, 1, 1]), [Some(0), Some(1 << 19), None]);
}

/// Inputs with their names, for round trips at `level`.
fn inputs(level: u32) -> Vec<(String, Vec<u8>)> {
    // The most bytes bzip2 puts in a block, when none are runs.
    let block = level as usize * 100_000 - 19;
    let mut inputs = vec![
        ("one byte".to_string(), b"x".to_vec()),
        ("two bytes".to_string(), b"ab".to_vec()),
        ("all byte values".to_string(), (0..=255).collect()),
        ("all byte values 100 times".to_string(), (0..=255).cycle().take(25_600).collect()),
        ("random".to_string(), random_bytes(300_000, 2)),
        ("SQL".to_string(), dump_like(1_500_000, 3)),
        ("random, block size".to_string(), random_bytes(block, 4)),
        ("random, block size + 1".to_string(), random_bytes(block + 1, 5)),
        ("random, block size - 1".to_string(), random_bytes(block - 1, 6)),
    ];
    for len in [1, 3, 4, 5, 8, 9, 258, 259, 260, 1000, 2_000_000] {
        inputs.push((format!("run of {len}"), vec![b'a'; len]));
    }
    let mut runs = Vec::new();
    let mut rng = XorShift::new(7);
    while runs.len() < 400_000 {
        runs.extend(iter::repeat_n(rng.below(3) as u8, rng.below(300) as usize));
    }
    inputs.push(("runs of 3 bytes".to_string(), runs));
    inputs
}

#[test]
fn blocks_from_the_bzip2_crate_round_trip_at_levels_1_and_9() {
    for level in [1, 9] {
        for (name, data) in inputs(level) {
            let compressed = crate_compress(&data, level);
            let decoded = decode_file(&compressed, level as u8);
            assert!(decoded == data, "level {level}, {name}: output differs");
        }
    }
    let block = 100_000 - 19;
    assert_eq!(blocks(&crate_compress(&random_bytes(block, 4), 1)).0.len(), 1);
    assert_eq!(blocks(&crate_compress(&random_bytes(block + 1, 5), 1)).0.len(), 2);
    assert_eq!(blocks(&crate_compress(b"", 1)).0.len(), 0);
}

/// `data` compressed by the `bzip2` crate at `level`, and the bit range of its first block.
fn first_block(data: &[u8], level: u32) -> (Vec<u8>, (u64, u64)) {
    let compressed = crate_compress(data, level);
    let (ranges, _) = blocks(&compressed);
    let range = ranges[0];
    (compressed, range)
}

#[test]
fn a_block_must_end_exactly_where_it_is_said_to() {
    let data = dump_like(50_000, 8);
    let (compressed, (start, end)) = first_block(&data, 1);
    let mut decoder = BlockDecoder::new();
    assert!(decoder.decode(&compressed, start, end, 1).unwrap().data == data);
    for shorter in [1, 7, 8, 9, 100, (end - start) / 2, end - start - 100] {
        let result = decoder.decode(&compressed, start, end - shorter, 1);
        assert_eq!(result.unwrap_err(), BlockError::Truncated, "{shorter} bits shorter");
    }
    for longer in [1, 8, 48, 1000] {
        let result = decoder.decode(&compressed, start, end + longer, 1);
        assert_eq!(result.unwrap_err(), BlockError::EndsEarly, "{longer} bits longer");
    }
    assert_eq!(decoder.decode(&compressed, start + 1, end, 1).unwrap_err(), BlockError::NoMagic);
    assert_eq!(decoder.decode(&compressed, start, end, 0).unwrap_err(), BlockError::Level(0));
}

#[test]
fn a_block_too_large_for_the_level_is_an_error() {
    let data = random_bytes(150_000, 9);
    let (compressed, (start, end)) = first_block(&data, 2);
    let mut decoder = BlockDecoder::new();
    assert!(decoder.decode(&compressed, start, end, 2).unwrap().data == data);
    let error = decoder.decode(&compressed, start, end, 1).unwrap_err();
    assert!(matches!(error, BlockError::Invalid(_)), "{error}");
}

#[test]
fn a_randomised_block_is_refused_as_such() {
    let (compressed, (start, end)) = first_block(b"hello", 9);
    let result = BlockDecoder::new().decode(&randomised(&compressed), start, end, 9);
    assert_eq!(result.unwrap_err(), BlockError::Randomised);
}

/// Single-block files of several kinds: text at levels 1 and 9, runs, random bytes, all
/// byte values.
fn mutation_samples() -> Vec<(Vec<u8>, u8)> {
    let mut runs = Vec::new();
    let mut rng = XorShift::new(10);
    while runs.len() < 30_000 {
        runs.extend(iter::repeat_n(rng.below(200) as u8, rng.below(40) as usize));
    }
    vec![
        (dump_like(30_000, 11), 1),
        (dump_like(20_000, 12), 9),
        (runs, 1),
        (random_bytes(5_000, 13), 3),
        ((0..=255).cycle().take(10_000).collect(), 1),
    ]
}

/// Flips bits and changes bytes all over single blocks, cuts them short: the decoder
/// fails, or (when the change does not matter) gives the right bytes; and it agrees with
/// the bzip2 crate on which blocks decode.
#[test]
fn corrupt_blocks_are_errors_never_wrong_bytes() {
    let mut rng = XorShift::new(14);
    let mut decoder = BlockDecoder::new();
    let (mut mutations, mut decoded) = (0, 0);
    for (data, level) in mutation_samples() {
        let compressed = crate_compress(&data, u32::from(level));
        let (ranges, _) = blocks(&compressed);
        assert_eq!(ranges.len(), 1);
        let (start, end) = ranges[0];
        for round in 0..700 {
            let mut corrupt = compressed.clone();
            // Half the changes in the header and code tables, where the counts are.
            let span = if round % 2 == 0 { (end - start).min(3000) } else { end - start };
            let at = start + 48 + rng.below(span - 48);
            match round % 4 {
                0 | 1 => corrupt[(at / 8) as usize] ^= 0x80 >> (at % 8),
                2 => corrupt[(at / 8) as usize] = rng.next() as u8,
                _ => {
                    let other = start + 48 + rng.below(end - start - 48);
                    corrupt[(at / 8) as usize] ^= 0x80 >> (at % 8);
                    corrupt[(other / 8) as usize] ^= 0x80 >> (other % 8);
                }
            }
            if corrupt == compressed {
                continue;
            }
            mutations += 1;
            let ours = decoder.decode(&corrupt, start, end, level);
            let theirs = crate_decompress(&corrupt);
            if let Ok(block) = &ours {
                decoded += 1;
                assert!(block.data == data, "bit {at} changed: wrong bytes without error");
            }
            assert_eq!(ours.is_ok(), theirs.is_ok(), "bit {at} changed: {ours:?}");
        }
        for _ in 0..100 {
            let cut = start + rng.below(end - start);
            let bytes = &compressed[..cut.div_ceil(8) as usize];
            assert!(decoder.decode(bytes, start, cut, level).is_err(), "cut at bit {cut}");
            let whole_bytes = &compressed[..(cut / 8) as usize];
            assert!(decoder.decode(whole_bytes, start, end, level).is_err(), "cut at bit {cut}");
        }
    }
    assert!(mutations > 3000, "{mutations} mutations");
    assert!(decoded < mutations / 100, "{decoded} of {mutations} mutations decoded");
}

/// Links that do not form one cycle (no encoder writes them): walking forwards and
/// backwards at once gave other bytes than libbzip2's forward walk.
#[test]
fn a_block_whose_links_are_not_one_cycle_decodes_as_libbzip2_does() {
    let symbols: Vec<u8> = (0..600u32).map(|i| 2 + (i * 7 % 11) as u8).collect();
    let (stream, data) = block_of_symbols(&symbols);
    let theirs = libbzip2_decompress(&stream).expect("libbzip2 decodes the block");
    assert!(theirs == data, "libbzip2 reads other bytes");
}

#[test]
fn the_decoder_agrees_with_the_bzip2_crate_on_files_of_many_blocks() {
    let data = [dump_like(700_000, 15), random_bytes(100_000, 16), vec![0; 300_000]].concat();
    for level in [1, 5] {
        let compressed = crate_compress(&data, level);
        let theirs = crate_decompress(&compressed).unwrap();
        assert!(decode_file(&compressed, level as u8) == theirs, "level {level}");
        assert!(theirs == data);
    }
}
