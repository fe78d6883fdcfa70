//! Property tests of `oe`'s own bzip2 codec: the encoder ([`compress`]), the block decoder
//! ([`decode_blocks`] over [`super::decode::BlockDecoder`]) and the parallel decoder
//! ([`ParallelDecoder`]), against each other and against libbzip2 (`/usr/bin/bzip2`, the C
//! library; a missing tool fails the tests, `contrib/test.sh` installs it).
//!
//! - Round trips: our encoder to both our decoders and to `bzip2 -dc`; `bzip2 -c -1` to `-9`
//!   to both our decoders; on random bytes, long runs, all-equal blocks, periodic data, text,
//!   at the block-size edges (exactly `100 000 × level`, the most bytes libbzip2 puts in a
//!   block, each ± 1, and input that run-length encoding expands past a block), and on
//!   concatenated streams from both encoders.
//! - Corruption: bit flips in the stream header, block headers, Huffman tables, block CRC,
//!   stream CRC and anywhere, false magics written over the data, truncation at every byte of
//!   small files: an error, never a panic, a hang or wrong bytes (whatever a decoder returns
//!   as success must equal the original).
//! - False magics: blocks whose data is the 48-bit magics repeated, inside and outside real
//!   streams; the parallel decoder's recovery (which re-decodes merged segments) examines at
//!   most a small constant times the input, counted by [`ParallelDecoder::recovery_work`].
//!
//! They run in the normal suite with a fixed seed and few cases. To run them longer, or with
//! another seed, set proptest's variables, e.g.
//! `PROPTEST_CASES=10000 PROPTEST_RNG_SEED=7 cargo test --release --lib codec::bzip2::props`.
//! A failing input that a property finds is kept as a plain regression test.

use std::env;
use std::io::{self, Cursor, ErrorKind, Read};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::encode::compress;
use super::format::{BLOCK_MAGIC, END_MAGIC};
use super::parallel::ParallelDecoder;
use super::samples::{
    XorShift, block_of_symbols, decode_blocks, libbzip2_compress, libbzip2_decompress,
    magic_positions, random_bytes, try_blocks,
};

/// The seed of every property unless `PROPTEST_RNG_SEED` says otherwise.
const SEED: u64 = 0x0e_b2_1b;

/// `cases` cases from a fixed seed, unless `PROPTEST_CASES` / `PROPTEST_RNG_SEED` are set;
/// no failure files written into the source tree.
fn config(cases: u32) -> Config {
    let from_env = Config::default();
    Config {
        cases: if env::var_os("PROPTEST_CASES").is_some() { from_env.cases } else { cases },
        rng_seed: if env::var_os("PROPTEST_RNG_SEED").is_some() {
            from_env.rng_seed
        } else {
            RngSeed::Fixed(SEED)
        },
        failure_persistence: None,
        ..from_env
    }
}

/// What the parallel decoder makes of `input` (on 2 threads): its output and how it ended.
/// A decoder that gives no answer within a minute has hung, and fails the test.
fn decode_parallel(input: &[u8]) -> (Vec<u8>, io::Result<usize>) {
    let (sender, answer) = mpsc::channel();
    let input = input.to_vec();
    thread::spawn(move || {
        let mut decoder = ParallelDecoder::new(Cursor::new(input), 2);
        let mut out = Vec::new();
        let result = decoder.read_to_end(&mut out);
        let _ = sender.send((out, result));
    });
    answer.recv_timeout(Duration::from_secs(60)).expect("the parallel decoder hung")
}

/// Both our decoders read `compressed` (one stream of `level`) back as `data`.
fn assert_ours_decode(compressed: &[u8], level: u8, data: &[u8]) -> Result<(), TestCaseError> {
    let blocks = decode_blocks(compressed, level).map_err(TestCaseError::fail)?;
    prop_assert!(blocks == data, "block decoder: other bytes");
    let (out, result) = decode_parallel(compressed);
    prop_assert!(result.is_ok(), "parallel decoder: {result:?}");
    prop_assert!(out == data, "parallel decoder: other bytes");
    Ok(())
}

/// Neither decoder returns wrong bytes: an error, or the original. `level` is the level of
/// the (uncorrupted) stream. Returns whether the parallel decoder failed.
fn assert_no_wrong_bytes(input: &[u8], level: u8, data: &[u8]) -> Result<bool, TestCaseError> {
    if let Ok(out) = decode_blocks(input, level) {
        prop_assert!(out == data, "block decoder: wrong bytes without an error");
    }
    let (out, result) = decode_parallel(input);
    match result {
        Ok(_) => {
            prop_assert!(out == data, "parallel decoder: wrong bytes without an error");
            Ok(false)
        }
        Err(error) => {
            prop_assert!(
                matches!(error.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof),
                "{error:?}"
            );
            prop_assert!(data.starts_with(&out), "parallel decoder: wrong bytes before {error}");
            Ok(true)
        }
    }
}

/// Inputs of the kinds that stress the format's stages: random bytes (no runs, Huffman codes
/// of nearly equal length), runs of all lengths (RLE1 and RUNA/RUNB), one byte repeated,
/// periodic data (equal rotations in the transform), and text (skewed codes).
fn data(max_len: usize) -> BoxedStrategy<Vec<u8>> {
    let random = vec(any::<u8>(), 0..=max_len.min(30_000));
    let runs = vec((0u8..6, 1usize..1_200), 0..(max_len / 600).max(2)).prop_map(|runs| {
        runs.into_iter().flat_map(|(byte, len)| std::iter::repeat_n(byte, len)).collect()
    });
    let equal = (any::<u8>(), 0..=max_len).prop_map(|(byte, len)| vec![byte; len]);
    let periodic = (vec(0u8..3, 1..40), 1..=max_len)
        .prop_map(|(unit, len)| unit.iter().copied().cycle().take(len).collect());
    let text = (any::<u64>(), 0..=max_len).prop_map(|(seed, len)| text(len, seed));
    prop_oneof![random, runs, equal, periodic, text].boxed()
}

/// Lines of SQL `COPY` data.
fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 8] = ["partner", "invoice", "créé", "\\N", "EUR", "draft", "42.50", "é"];
    let mut rng = XorShift::new(seed);
    let mut out = Vec::with_capacity(len + 100);
    while out.len() < len {
        let word = WORDS[rng.below(WORDS.len() as u64) as usize];
        let line = format!("{}\t{word}\t{}\n", rng.below(100_000), rng.below(1 << 40));
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn our_streams_decode_with_ours_and_libbzip2(data in data(100_000)) {
        let compressed = compress(&data).unwrap();
        assert_ours_decode(&compressed, 9, &data)?;
        let theirs = libbzip2_decompress(&compressed).map_err(TestCaseError::fail)?;
        prop_assert!(theirs == data, "bzip2 -dc: other bytes");
    }

    #[test]
    fn libbzip2_streams_decode_with_ours(data in data(100_000), level in 1u32..=9) {
        let compressed = libbzip2_compress(&data, level);
        assert_ours_decode(&compressed, level as u8, &data)?;
    }

    #[test]
    fn concatenated_streams_decode(
        parts in vec((data(30_000), 0u32..=9), 1..5),
    ) {
        // Level 0 stands for our encoder.
        let mut original = Vec::new();
        let mut compressed = Vec::new();
        for (data, level) in &parts {
            original.extend_from_slice(data);
            compressed.extend(match level {
                0 => compress(data).unwrap(),
                level => libbzip2_compress(data, *level),
            });
        }
        let (out, result) = decode_parallel(&compressed);
        prop_assert!(result.is_ok(), "{result:?}");
        prop_assert!(out == original, "parallel decoder: other bytes");
        let theirs = libbzip2_decompress(&compressed).map_err(TestCaseError::fail)?;
        prop_assert!(theirs == original, "bzip2 -dc: other bytes");
    }
}

/// An input length at a block-size edge of `level`, and whether the input is runs of exactly
/// 4 equal bytes (which RLE1 turns into 5), else random bytes.
fn edge(level: u32) -> impl Strategy<Value = (usize, bool)> {
    let block = level as usize * 100_000;
    // libbzip2 fills a block with at most 19 bytes less than its size.
    let libbzip2_block = block - 19;
    prop_oneof![
        (-1i64..=1).prop_map(move |d| ((block as i64 + d) as usize, false)),
        (-1i64..=1).prop_map(move |d| ((libbzip2_block as i64 + d) as usize, false)),
        // RLE1 writes 5 bytes for every 4: the block fills at 4/5 of its size.
        (-5i64..=5).prop_map(move |d| ((libbzip2_block as i64 * 4 / 5 + d) as usize, true)),
    ]
}

fn edge_input(len: usize, runs_of_4: bool, seed: u64) -> Vec<u8> {
    if runs_of_4 {
        let mut rng = XorShift::new(seed);
        let mut out = Vec::with_capacity(len + 4);
        while out.len() < len {
            // A different byte each time, so no run is longer than 4.
            let byte =
                out.last().map_or(0, |&last: &u8| last.wrapping_add(1 + rng.below(200) as u8));
            out.extend_from_slice(&[byte; 4]);
        }
        out.truncate(len);
        out
    } else {
        random_bytes(len, seed)
    }
}

proptest! {
    #![proptest_config(config(4))]

    #[test]
    fn libbzip2_streams_at_block_size_edges_decode_with_ours(
        (level, (len, runs_of_4)) in (1u32..=9).prop_flat_map(|level| (Just(level), edge(level))),
        seed in any::<u64>(),
    ) {
        let data = edge_input(len, runs_of_4, seed);
        let compressed = libbzip2_compress(&data, level);
        assert_ours_decode(&compressed, level as u8, &data)?;
    }

    #[test]
    fn our_streams_at_block_size_edges_decode(
        (len, runs_of_4) in edge(9),
        seed in any::<u64>(),
    ) {
        let data = edge_input(len, runs_of_4, seed);
        let compressed = compress(&data).unwrap();
        assert_ours_decode(&compressed, 9, &data)?;
        let theirs = libbzip2_decompress(&compressed).map_err(TestCaseError::fail)?;
        prop_assert!(theirs == data, "bzip2 -dc: other bytes");
    }
}

/// A change to a compressed file.
#[derive(Clone, Debug)]
enum Corruption {
    /// A bit of `BZh` and the level digit.
    StreamHeader(u64),
    /// A bit of the block magic, CRC, randomised flag or origin pointer of a block.
    BlockHeader { block: usize, bit: u64 },
    /// A bit among the first 3 000 after a block's origin pointer: the map of bytes used,
    /// the selectors and the Huffman code lengths (and, in short blocks, some data).
    Tables { block: usize, bit: u64 },
    /// A bit of a block's stored CRC.
    BlockCrc { block: usize, bit: u64 },
    /// A bit of the end-of-stream magic or the stream CRC.
    StreamTrailer(u64),
    /// Any bit.
    Anywhere(u64),
    /// A block or end-of-stream magic written over the bits at each of these places.
    FalseMagics { end: bool, at: Vec<u64> },
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let block = 0usize..3;
    prop_oneof![
        (0u64..32).prop_map(Corruption::StreamHeader),
        (block.clone(), 0u64..105).prop_map(|(block, bit)| Corruption::BlockHeader { block, bit }),
        (block.clone(), 0u64..3000).prop_map(|(block, bit)| Corruption::Tables { block, bit }),
        (block, 0u64..32).prop_map(|(block, bit)| Corruption::BlockCrc { block, bit }),
        (0u64..80).prop_map(Corruption::StreamTrailer),
        any::<u64>().prop_map(Corruption::Anywhere),
        (any::<bool>(), vec(any::<u64>(), 1..20))
            .prop_map(|(end, at)| Corruption::FalseMagics { end, at }),
    ]
}

fn flip(bytes: &mut [u8], bit: u64) {
    bytes[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
}

/// `compressed` changed by `corruption`, and whether every decoder must then fail.
fn corrupt(compressed: &[u8], corruption: &Corruption) -> (Vec<u8>, bool) {
    let mut out = compressed.to_vec();
    let bits = compressed.len() as u64 * 8;
    let (ranges, _) = try_blocks(compressed).expect("an uncorrupted stream");
    let block = |index: usize| ranges.get(index % ranges.len().max(1)).copied();
    let end_magic = *magic_positions(compressed, END_MAGIC).last().expect("an end of stream");
    let must_fail = match *corruption {
        Corruption::StreamHeader(bit) => {
            flip(&mut out, bit);
            // Another level digit decodes small blocks all the same.
            bit < 24 || !(b'1'..=b'9').contains(&out[3])
        }
        Corruption::BlockHeader { block: index, bit } => match block(index) {
            Some((start, _)) => {
                flip(&mut out, start + bit);
                // The magic and the CRC; the randomised flag can be set without changing a
                // short block's bytes, and a periodic block reads the same from other origins.
                bit < 80
            }
            None => return corrupt(compressed, &Corruption::StreamTrailer(bit % 80)),
        },
        Corruption::Tables { block: index, bit } => match block(index) {
            Some((start, end)) => {
                flip(&mut out, start + 105 + bit % (end - start - 105));
                false
            }
            None => return corrupt(compressed, &Corruption::StreamTrailer(bit % 80)),
        },
        Corruption::BlockCrc { block: index, bit } => match block(index) {
            Some((start, _)) => {
                flip(&mut out, start + 48 + bit);
                true
            }
            None => return corrupt(compressed, &Corruption::StreamTrailer(48 + bit)),
        },
        Corruption::StreamTrailer(bit) => {
            flip(&mut out, end_magic + bit);
            true
        }
        Corruption::Anywhere(bit) => {
            flip(&mut out, bit % bits);
            false
        }
        Corruption::FalseMagics { end, ref at } => {
            let magic = if end { END_MAGIC } else { BLOCK_MAGIC };
            for &at in at {
                let at = 32 + at % (bits - 32 - 48);
                for offset in 0..48 {
                    let mask = 0x80 >> ((at + offset) % 8);
                    let byte = &mut out[((at + offset) / 8) as usize];
                    if (magic >> (47 - offset)) & 1 == 1 {
                        *byte |= mask;
                    } else {
                        *byte &= !mask;
                    }
                }
            }
            false
        }
    };
    (out, must_fail)
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn corrupt_streams_are_errors_never_wrong_bytes(
        data in data(30_000),
        level in 0u32..=9,
        corruption in corruption(),
    ) {
        // Level 0 stands for our encoder, which writes level 9.
        let (compressed, level) = match level {
            0 => (compress(&data).unwrap(), 9),
            level => (libbzip2_compress(&data, level), level as u8),
        };
        let (input, must_fail) = corrupt(&compressed, &corruption);
        prop_assume!(input != compressed);
        let failed = assert_no_wrong_bytes(&input, level, &data)?;
        if must_fail {
            prop_assert!(failed, "the parallel decoder accepted it");
            // The block decoder is given the level; it does not read the stream header.
            if !matches!(corruption, Corruption::StreamHeader(_)) {
                prop_assert!(decode_blocks(&input, level).is_err(), "the block decoder accepted it");
            }
            prop_assert!(libbzip2_decompress(&input).is_err(), "libbzip2 accepted it");
        }
    }
}

/// Small single-stream files: text with a run and random bytes, from our encoder (level 9)
/// and from libbzip2 (level 1).
fn small_files() -> Vec<(String, Vec<u8>, Vec<u8>, u8)> {
    let mut data = text(700, 1);
    data.extend([b'x'; 300]);
    data.extend(random_bytes(60, 2));
    let mut files = vec![("ours".to_string(), data.clone(), compress(&data).unwrap(), 9)];
    files.push(("bzip2 -1".to_string(), data.clone(), libbzip2_compress(&data, 1), 1));
    files
}

#[test]
fn truncation_at_every_byte_is_an_error() {
    for (name, data, compressed, level) in small_files() {
        for cut in 0..compressed.len() {
            let input = &compressed[..cut];
            let what = format!("{name}, cut at byte {cut} of {}", compressed.len());
            let (out, result) = decode_parallel(input);
            let error = result.expect_err(&what);
            assert!(
                matches!(error.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof),
                "{what}: {error}"
            );
            assert!(data.starts_with(&out), "{what}: wrong bytes before the error");
            assert!(decode_blocks(input, level).is_err(), "{what}: the block decoder accepted it");
        }
    }
}

/// The magics' 12 bytes, `count` times: a block's data that is one false magic after another.
fn magics(count: usize) -> Vec<u8> {
    let mut both = BLOCK_MAGIC.to_be_bytes()[2..].to_vec();
    both.extend_from_slice(&END_MAGIC.to_be_bytes()[2..]);
    both.repeat(count)
}

#[test]
fn a_block_full_of_false_magics_decodes_in_linear_work() {
    for count in [1_000, 8_000] {
        let (stream, data) = block_of_symbols(&magics(count));
        assert!(magic_positions(&stream, BLOCK_MAGIC).len() > count, "false magics in the data");
        let theirs = libbzip2_decompress(&stream).expect("libbzip2 decodes the block");
        assert!(theirs == data, "{count} magics: libbzip2 reads other bytes");
        let mut decoder = ParallelDecoder::new(Cursor::new(stream.clone()), 2);
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).expect("the parallel decoder decodes the block");
        assert!(out == data, "{count} magics: other bytes");
        let work = decoder.recovery_work();
        let input_bits = stream.len() as u64 * 8;
        assert!(work.attempts >= 1, "{count} magics: the block was recovered: {work:?}");
        assert!(
            work.bits <= 8 * input_bits,
            "{count} magics: recovery examined {} bits for {input_bits} bits of input",
            work.bits
        );
    }
}

#[test]
fn false_magics_outside_a_stream_are_errors_in_linear_work() {
    let stream = compress(&text(20_000, 3)).unwrap();
    let magics = magics(10_000);
    let header_then_magics = [b"BZh9".as_slice(), &magics].concat();
    let inputs: [(&str, Vec<u8>); 4] = [
        ("a header, then magics", header_then_magics.clone()),
        ("magics, then a stream", [magics.as_slice(), &stream].concat()),
        ("a stream, then magics", [stream.as_slice(), &magics].concat()),
        ("a stream, magics, a stream", [stream.as_slice(), &magics, &stream].concat()),
    ];
    for (what, input) in inputs {
        let mut decoder = ParallelDecoder::new(Cursor::new(input.clone()), 2);
        let mut out = Vec::new();
        let error = decoder.read_to_end(&mut out).expect_err(what);
        assert!(error.to_string().starts_with("bzip2: "), "{what}: {error}");
        let work = decoder.recovery_work();
        let input_bits = input.len() as u64 * 8;
        assert!(work.bits <= 8 * input_bits, "{what}: {work:?} for {input_bits} bits");
    }
}
