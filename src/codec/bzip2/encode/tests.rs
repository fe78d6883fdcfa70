//! Tests of the encoder: round trips through the `bzip2` crate and `bzip2 -dc`, the empty
//! stream as libbzip2 writes it, periodic blocks, RLE1 past a block, the transform against
//! sorting rotations (and the claim it rests on), code lengths within their limit, and a
//! compression ratio within 2 % of libbzip2's.

use std::io::Write;

use super::*;
use crate::codec::bzip2::samples::{
    XorShift, crate_compress, crate_decompress, libbzip2_decompress, random_bytes,
};

/// Rows of SQL `COPY` data, as in a plain dump.
fn sql_like(len: usize) -> Vec<u8> {
    let words = ["Odoo", "invoice", "Paris", "créé", "order", "partner", "42.50", "\\N", "SO042"];
    let mut rng = XorShift::new(0x9e37_79b9);
    let mut out = Vec::with_capacity(len + 100);
    let mut row = 0u64;
    while out.len() < len {
        row += 1;
        let x = rng.next();
        let w = |k: u64| words[((x >> k) % words.len() as u64) as usize];
        let (a, b, c) = (w(3), w(11), w(23));
        writeln!(
            out,
            "{row}\t{a} {b}\t{}\t{c}\t2024-0{}-1{}\t{:x}",
            x % 9973,
            x % 9 + 1,
            x % 10,
            x >> 40
        )
        .unwrap();
    }
    out.truncate(len);
    out
}

fn round_trip(what: &str, data: &[u8]) {
    let stream = compress(data).unwrap();
    assert!(
        crate_decompress(&stream).unwrap() == data,
        "{what}: the bzip2 crate read back other bytes"
    );
    let theirs = libbzip2_decompress(&stream).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(theirs == data, "{what}: bzip2 -dc read back other bytes");
}

#[test]
fn empty_input_is_the_empty_stream_libbzip2_writes() {
    let ours = compress(b"").unwrap();
    assert_eq!(ours, crate_compress(b"", 9));
    round_trip("empty", b"");
}

#[test]
fn round_trips_through_standard_decoders() {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let all_bytes_often: Vec<u8> = (0..50_000).map(|i| (i * 7 % 256) as u8).collect();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("one byte".into(), b"x".to_vec()),
        ("all 256 bytes once".into(), all_bytes),
        ("all 256 bytes often".into(), all_bytes_often),
        ("random bytes".into(), random_bytes(BLOCK_MAX + 100_000, 7)),
        ("sql-like text".into(), sql_like(2 * BLOCK_MAX + 12_345)),
    ];
    for len in [1, 2, 3, 4, 5, 6, 254, 255, 256, 257, 258, 259, 260, 1000, BLOCK_MAX] {
        cases.push((format!("a run of {len}"), vec![0xab; len]));
    }
    for len in [3, 4, 5, 255, 256, 1000] {
        let mut data = b"head".to_vec();
        data.extend(std::iter::repeat_n(b'z', len));
        data.extend_from_slice(b"tail");
        cases.push((format!("a run of {len} inside text"), data));
    }
    for (what, data) in &cases {
        round_trip(what, data);
    }
}

#[test]
fn periodic_blocks_round_trip() {
    let mut rng = XorShift::new(11);
    let unit: Vec<u8> = (0..1000).map(|_| (rng.next() % 3) as u8).collect();
    let cases: [(&str, &[u8], usize); 6] = [
        ("ab", b"ab", 10_000),
        ("ba", b"ba", 7),
        ("aab", b"aab", 5_000),
        ("abcabd", b"abcabd", 3_001),
        ("a 1000-byte unit", &unit, 850),
        ("aaaab (RLE1 makes it periodic)", b"aaaab", 100_000),
    ];
    for (what, unit, copies) in cases {
        let data = unit.repeat(copies);
        round_trip(what, &data);
    }
}

#[test]
fn input_that_rle1_expands_past_a_block_continues_in_a_second_block() {
    let data = b"aaaabbbb".repeat(BLOCK_MAX / 8);
    let mut coded = Vec::new();
    let consumed = rle1(&data, BLOCK_MAX, &mut coded);
    assert!(consumed < data.len(), "the test needs RLE1 to overflow one block");
    assert_eq!(coded.len(), BLOCK_MAX);
    round_trip("runs of exactly 4", &data);
}

#[test]
fn many_small_inputs_round_trip() {
    let mut rng = XorShift::new(3);
    for case in 0..3000 {
        let len = (rng.next() % 300) as usize;
        let alphabet = 1 + rng.next() % 4;
        let mut data = Vec::with_capacity(len);
        while data.len() < len {
            let byte = b'a' + (rng.next() % alphabet) as u8;
            let run = if rng.next() % 4 == 0 { 1 + rng.next() % 9 } else { 1 } as usize;
            data.extend(std::iter::repeat_n(byte, run.min(len - data.len())));
        }
        let stream = compress(&data).unwrap();
        assert_eq!(crate_decompress(&stream).unwrap(), data, "case {case}: {data:?}");
    }
}

/// Sorts the rotations of `block` one by one.
fn naive_bwt(block: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let n = block.len();
    let mut rows: Vec<Vec<u8>> =
        (0..n).map(|i| block[i..].iter().chain(&block[..i]).copied().collect()).collect();
    rows.sort();
    (rows.iter().map(|r| r[n - 1]).collect(), rows)
}

#[test]
fn bwt_matches_sorting_the_rotations() {
    let mut rng = XorShift::new(5);
    let mut scratch = Scratch::default();
    let mut periodic = 0;
    for case in 0..5000 {
        let alphabet = 1 + rng.next() % 3;
        let unit: Vec<u8> =
            (0..1 + rng.next() % 12).map(|_| (rng.next() % alphabet) as u8).collect();
        let copies = if case % 2 == 0 { 1 } else { 1 + rng.next() % 5 } as usize;
        let block = unit.repeat(copies);
        scratch.doubled = block.clone();
        let row = bwt(&mut scratch).unwrap();
        let (last, rows) = naive_bwt(&block);
        assert_eq!(scratch.bwt, last, "block {block:?}");
        assert_eq!(rows[row], block, "row of the block itself, block {block:?}");
        assert_eq!(scratch.doubled, block, "the block is left as it was");
        if is_periodic(&block) {
            periodic += 1;
        }
    }
    assert!(periodic > 500, "too few periodic blocks tested: {periodic}");
}

fn rotation(s: &[u8], i: usize) -> Vec<u8> {
    s[i..].iter().chain(&s[..i]).copied().collect()
}

/// Whether `s` is `u^k` for some k > 1.
fn is_periodic(s: &[u8]) -> bool {
    (1..s.len()).any(|p| rotation(s, p) == s)
}

fn rotate_least(s: &[u8]) -> Vec<u8> {
    let doubled = s.repeat(2);
    let start = least_rotation(&doubled);
    let least = doubled[start..start + s.len()].to_vec();
    assert!((0..s.len()).all(|i| least <= rotation(s, i)), "least rotation of {s:?}");
    least
}

/// The claim the transform rests on: rotated to its least rotation, a word's suffixes (a
/// prefix before the longer word) sort in an order of its rotations. For a power `u^k` this
/// holds too, with equal rotations side by side.
#[test]
fn suffixes_of_a_least_rotation_sort_as_its_rotations() {
    let mut words: Vec<Vec<u8>> = Vec::new();
    for (alphabet, max_len) in [(2u32, 12u32), (3, 7), (4, 5)] {
        for len in 1..=max_len {
            for mut k in 0..alphabet.pow(len) {
                let mut w = Vec::new();
                for _ in 0..len {
                    w.push((k % alphabet) as u8);
                    k /= alphabet;
                }
                words.push(w);
            }
        }
    }
    let mut rng = XorShift::new(13);
    for _ in 0..2000 {
        let unit: Vec<u8> = (0..1 + rng.next() % 40).map(|_| (rng.next() % 3) as u8).collect();
        words.push(unit.repeat(1 + (rng.next() % 3) as usize));
    }
    let suffix_order_sorts_rotations = |t: &[u8]| {
        let mut by_suffix: Vec<usize> = (0..t.len()).collect();
        by_suffix.sort_by(|&a, &b| t[a..].cmp(&t[b..]));
        by_suffix.windows(2).all(|w| rotation(t, w[0]) <= rotation(t, w[1]))
    };
    let (mut periodic, mut unrotated_differ) = (0, 0);
    for word in &words {
        let least = rotate_least(word);
        assert!(suffix_order_sorts_rotations(&least), "orders differ for {least:?}");
        periodic += is_periodic(word) as u32;
        unrotated_differ += !suffix_order_sorts_rotations(word) as u32;
    }
    assert!(periodic > 1000, "periodic words checked: {periodic}");
    // Without the rotation the claim fails, so the assertion above can fail.
    assert!(unrotated_differ > 1000, "unrotated words that differ: {unrotated_differ}");
}

#[test]
fn code_lengths_are_complete_and_limited() {
    // Fibonacci frequencies make an unlimited Huffman code 39 bits deep.
    let mut freq = vec![1u32, 1];
    while freq.len() < 40 {
        freq.push(freq[freq.len() - 1] + freq[freq.len() - 2]);
    }
    freq.extend([0, 0, 5]);
    let mut lengths = vec![0u8; freq.len()];
    code_lengths(&freq, &mut lengths);
    assert!(lengths.iter().all(|&l| (1..=MAX_WRITTEN_CODE_LEN as u8).contains(&l)), "{lengths:?}");
    let kraft: u64 = lengths.iter().map(|&l| 1u64 << (MAX_WRITTEN_CODE_LEN as u8 - l)).sum();
    assert_eq!(kraft, 1 << MAX_WRITTEN_CODE_LEN, "{lengths:?}");
    // Without a limit, the code is Huffman's: 1 bit for the most frequent symbol.
    let mut lengths = [0u8; 4];
    code_lengths(&[10, 1, 1, 2], &mut lengths);
    assert_eq!(lengths, [1, 3, 3, 2]);
}

#[test]
fn compresses_sql_like_text_as_well_as_libbzip2() {
    let data = sql_like(3 * BLOCK_MAX);
    let ours = compress(&data).unwrap();
    let theirs = crate_compress(&data, 9);
    let ratio = ours.len() as f64 / theirs.len() as f64;
    assert!(ratio < 1.02, "ours {} bytes, libbzip2 {} bytes", ours.len(), theirs.len());
    assert_eq!(crate_decompress(&ours).unwrap(), data);
}
