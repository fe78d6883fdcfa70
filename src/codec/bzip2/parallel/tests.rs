//! Tests of the parallel decoder: single and concatenated streams on 1 to 4 threads,
//! truncation, corruption and trailing data (errors, never wrong bytes), input errors and
//! slow input, early drop and worker panics (no hang), false magics merged away, randomised
//! blocks, and the index of magics at every bit shift; `throughput` is an ignored benchmark.

use std::io::{self, ErrorKind, Read};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::decoder::{ParallelDecoder, decode_job};
use super::input::{Candidate, Input, Magic, Next};
use super::scanner::Item;
use super::segment::{AfterStream, Bits, Outcome, Segment, SegmentEnd, decode_segment};
use crate::codec::bzip2::bits::read_bits;
use crate::codec::bzip2::decode::{BlockDecoder, BlockError};
use crate::codec::bzip2::format::{BLOCK_MAGIC, END_MAGIC, MAGIC_BITS};
use crate::codec::bzip2::samples::{
    XorShift, crate_compress, dump_like, libbzip2_compress, magic_positions, randomised,
};
use crate::plumbing::pool::{Pool, within_a_minute};

/// Original and compressed bytes of a test file.
struct Sample {
    data: Vec<u8>,
    compressed: Vec<u8>,
}

fn sample_file(
    cell: &'static OnceLock<Sample>,
    len: usize,
    seed: u64,
    level: u32,
) -> &'static Sample {
    cell.get_or_init(|| {
        let data = dump_like(len, seed);
        let compressed = crate_compress(&data, level);
        Sample { data, compressed }
    })
}

/// Many blocks of 100 kB.
fn level1() -> &'static Sample {
    static FILE: OnceLock<Sample> = OnceLock::new();
    sample_file(&FILE, 3_000_000, 1, 1)
}

/// Several blocks of 900 kB.
fn level9() -> &'static Sample {
    static FILE: OnceLock<Sample> = OnceLock::new();
    sample_file(&FILE, 5_000_000, 2, 9)
}

/// A few blocks, small enough to cut at many points.
fn small() -> &'static Sample {
    static FILE: OnceLock<Sample> = OnceLock::new();
    sample_file(&FILE, 500_000, 3, 1)
}

fn decode_with(compressed: &[u8], threads: usize) -> (Vec<u8>, io::Result<usize>) {
    let mut decoder = ParallelDecoder::new(io::Cursor::new(compressed.to_vec()), threads);
    let mut out = Vec::new();
    let result = decoder.read_to_end(&mut out);
    (out, result)
}

fn assert_decodes(compressed: &[u8], original: &[u8], threads: usize) {
    let (out, result) = decode_with(compressed, threads);
    result.unwrap_or_else(|error| panic!("threads={threads}: {error}"));
    assert!(out == original, "threads={threads}: output differs");
}

/// Decoding fails as bzip2 data must, after output that is a prefix of `original`.
fn assert_fails(compressed: &[u8], original: &[u8], what: &str) -> io::Error {
    let (out, result) = decode_with(compressed, 2);
    let Err(error) = result else {
        panic!("{what}: decoded without error");
    };
    assert!(
        matches!(error.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof),
        "{what}: {error:?}"
    );
    assert!(error.to_string().starts_with("bzip2: "), "{what}: {error}");
    assert!(original.starts_with(&out), "{what}: wrong output before the error");
    error
}

/// Bits `from..to` of `data`.
fn cut_bits(data: &[u8], from: u64, to: u64) -> Bits {
    Bits {
        bytes: data[(from / 8) as usize..to.div_ceil(8) as usize].to_vec(),
        first_bit: (from % 8) as u8,
        len: to - from,
    }
}

#[test]
fn single_stream_files_decode_at_levels_1_and_9() {
    for (file, blocks) in [(level1(), 20), (level9(), 4), (small(), 4)] {
        assert!(magic_positions(&file.compressed, BLOCK_MAGIC).len() >= blocks);
    }
    for file in [level1(), level9()] {
        for threads in [1, 2, 4] {
            assert_decodes(&file.compressed, &file.data, threads);
        }
    }
}

#[test]
fn concatenated_streams_decode_including_an_empty_one() {
    let parts = [
        (dump_like(700_000, 4), 9),
        (Vec::new(), 9),
        (dump_like(1_200_000, 5), 1),
        (b"tiny".to_vec(), 5),
        (Vec::new(), 1),
        (dump_like(300_000, 6), 3),
    ];
    let mut original = Vec::new();
    let mut compressed = Vec::new();
    for (data, level) in &parts {
        original.extend_from_slice(data);
        compressed.extend(crate_compress(data, *level));
    }
    for threads in [1, 2, 4] {
        assert_decodes(&compressed, &original, threads);
    }
}

#[test]
fn a_file_of_one_empty_stream_decodes_to_nothing() {
    let empty = crate_compress(&[], 9);
    assert_decodes(&empty, &[], 2);
    for cut in 1..empty.len() {
        assert_fails(&empty[..cut], &[], &format!("empty stream cut at {cut}"));
    }
}

#[test]
fn truncation_anywhere_is_an_error() {
    let file = small();
    let compressed = &file.compressed;
    let len = compressed.len();
    let mut cuts: Vec<usize> = (1..len).step_by(len / 40).collect();
    for bit in magic_positions(compressed, BLOCK_MAGIC) {
        let byte = (bit / 8) as usize;
        cuts.extend([byte, byte + 1, byte + 6, byte + 7, byte + 10, byte + 11, byte + 200]);
    }
    let end_magic = *magic_positions(compressed, END_MAGIC).last().unwrap();
    let last_block = *magic_positions(compressed, BLOCK_MAGIC).last().unwrap();
    cuts.push(((last_block + end_magic) / 16) as usize);
    cuts.extend((end_magic / 8) as usize..len);
    for cut in cuts {
        let error = assert_fails(&compressed[..cut], &file.data, &format!("cut at {cut}"));
        assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "cut at {cut}: {error}");
    }
}

#[test]
fn truncated_multi_stream_file_is_an_error() {
    let first = crate_compress(&dump_like(250_000, 7), 1);
    let second = crate_compress(&dump_like(250_000, 8), 1);
    let original = [dump_like(250_000, 7), dump_like(250_000, 8)].concat();
    let whole = [first.clone(), second.clone()].concat();
    let boundary = first.len();
    for cut in [
        10,
        boundary / 2,
        boundary - 1,
        boundary + 1,
        boundary + 3,
        boundary + 4,
        boundary + 10,
        boundary + second.len() / 2,
        whole.len() - 5,
        whole.len() - 1,
    ] {
        assert_fails(&whole[..cut], &original, &format!("cut at {cut}"));
    }
}

#[test]
fn a_changed_byte_is_an_error_never_wrong_output() {
    let file = small();
    let len = file.compressed.len();
    for index in 0..40 {
        let at = len / 10 + index * (len * 8 / 10) / 40;
        let mut corrupt = file.compressed.clone();
        corrupt[at] ^= 0x10;
        assert_fails(&corrupt, &file.data, &format!("byte {at} changed"));
    }
}

#[test]
fn a_wrong_stream_crc_is_reported() {
    let file = small();
    let end_magic = *magic_positions(&file.compressed, END_MAGIC).last().unwrap();
    let mut corrupt = file.compressed.clone();
    let bit = end_magic + MAGIC_BITS + 5;
    corrupt[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
    let error = assert_fails(&corrupt, &file.data, "stream CRC changed");
    assert!(error.to_string().starts_with("bzip2: stream CRC mismatch"), "{error}");
}

#[test]
fn anything_after_the_last_stream_is_an_error() {
    let file = small();
    let tails: [&[u8]; 5] = [b"\0", &[0; 100], b"garbage!", b"BZ", b"BZh9"];
    for tail in tails {
        let input = [&file.compressed[..], tail].concat();
        assert_fails(&input, &file.data, &format!("followed by {tail:?}"));
    }
    let mut noise = Vec::new();
    let mut rng = XorShift::new(9);
    noise.extend((0..3_000_000).map(|_| rng.next() as u8));
    let input = [&file.compressed[..], &noise].concat();
    let error = assert_fails(&input, &file.data, "followed by noise");
    assert!(error.to_string().contains("trailing garbage"), "{error}");
}

#[test]
fn empty_and_non_bzip2_input_are_errors() {
    let error = assert_fails(&[], &[], "empty input");
    assert_eq!(error.kind(), ErrorKind::InvalidData);
    assert_eq!(error.to_string(), "bzip2: empty input");
    let text = b"-- PostgreSQL database dump\nSET statement_timeout = 0;\n".repeat(100);
    let mut random_after_header = b"BZh9".to_vec();
    let mut rng = XorShift::new(10);
    random_after_header.extend((0..1000).map(|_| rng.next() as u8));
    let inputs: [&[u8]; 4] =
        [&text, b"BZh0\x31\x41\x59\x26\x53\x59", &random_after_header, &[0; 64]];
    for input in inputs {
        let error = assert_fails(input, &[], &format!("{:?}", &input[..8]));
        assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
    }
    let error = assert_fails(b"BZh9", &[], "header only");
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "{error}");
}

#[test]
fn reading_with_tiny_buffers_works() {
    for (file, size) in [(small(), 1), (level1(), 7)] {
        let mut decoder = ParallelDecoder::new(io::Cursor::new(file.compressed.clone()), 2);
        let mut out = Vec::new();
        let mut buf = vec![0; size];
        loop {
            match decoder.read(&mut buf).unwrap() {
                0 => break,
                n => out.extend_from_slice(&buf[..n]),
            }
        }
        assert!(out == file.data, "reads of {size} bytes");
    }
}

/// Returns at most `step` bytes a read, and `Interrupted` every fifth call.
struct Trickle {
    inner: io::Cursor<Vec<u8>>,
    step: usize,
    calls: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 5 == 0 {
            return Err(ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.step);
        self.inner.read(&mut buf[..n])
    }
}

#[test]
fn input_arriving_in_small_pieces_decodes() {
    for (file, step) in [(level9(), 4093), (small(), 5)] {
        let trickle = Trickle { inner: io::Cursor::new(file.compressed.clone()), step, calls: 0 };
        let mut out = Vec::new();
        ParallelDecoder::new(trickle, 2).read_to_end(&mut out).unwrap();
        assert!(out == file.data, "pieces of {step} bytes");
    }
}

#[test]
fn input_errors_pass_through_unchanged() {
    let file = level1();
    let failing = io::Cursor::new(file.compressed[..300_000].to_vec()).chain(FailingReader);
    let mut decoder = ParallelDecoder::new(failing, 2);
    let mut out = Vec::new();
    let error = decoder.read_to_end(&mut out).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert_eq!(error.to_string(), "disk says no");
    assert!(file.data.starts_with(&out));
    let again = decoder.read(&mut [0; 10]).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::PermissionDenied);
}

struct FailingReader;

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(ErrorKind::PermissionDenied, "disk says no"))
    }
}

/// Tells when the reader thread has let its input go.
struct DropSignal {
    inner: io::Cursor<Vec<u8>>,
    dropped: mpsc::Sender<()>,
}

impl Read for DropSignal {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

#[test]
fn dropping_the_decoder_early_stops_its_threads() {
    for read_first in [0, 10, 2_000_000] {
        let (dropped, signal) = mpsc::channel();
        let input = DropSignal { inner: io::Cursor::new(level1().compressed.clone()), dropped };
        let mut decoder = ParallelDecoder::new(input, 2);
        let mut head = vec![0; read_first];
        decoder.read_exact(&mut head).unwrap();
        assert!(head == level1().data[..read_first]);
        drop(decoder);
        signal
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("reader thread still running after drop ({read_first})"));
    }
}

/// [`decode_job`], except for the segments from byte 100 000 on.
fn panic_late(decoder: &mut BlockDecoder, segment: Segment) -> Outcome {
    assert!(segment.byte_offset < 100_000, "a marked segment");
    decode_job(decoder, segment)
}

#[test]
fn a_worker_panic_is_an_error_not_a_hang() {
    for threads in [1, 2, 4] {
        let (decoded, result) = within_a_minute(move || {
            let input = io::Cursor::new(level1().compressed.clone());
            let mut decoder = ParallelDecoder::with_work(input, threads, panic_late);
            let mut out = Vec::new();
            let result = decoder.read_to_end(&mut out);
            (out.len(), result)
        });
        let error = result.unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("worker thread bzip2-decode-")
                && text.contains("panicked: a marked segment"),
            "{threads} threads: {text}"
        );
        // Not the input's fault: not reported as corrupt.
        assert_eq!(error.kind(), ErrorKind::Other, "{text}");
        assert!(decoded > 0 && decoded < level1().data.len(), "{decoded} bytes decoded");
    }
}

#[test]
fn files_written_by_the_bzip2_tool_decode() {
    let data = dump_like(2_500_000, 11);
    let mut original = Vec::new();
    let mut compressed = Vec::new();
    for level in [9, 1] {
        original.extend_from_slice(&data);
        compressed.extend(libbzip2_compress(&data, level));
        assert_decodes(&compressed, &original, 2);
    }
}

/// Feeds `segments` to a decoder as the reader thread would, decoding each first.
fn decode_segments(segments: Vec<Segment>) -> io::Result<Vec<u8>> {
    let (order_sender, order) = sync_channel(segments.len() + 1);
    let pool = Pool::new("test", 1, segments.len(), BlockDecoder::new, decode_job);
    for segment in segments {
        order_sender.send(Item::Segment(pool.submit(segment).unwrap())).unwrap();
    }
    order_sender.send(Item::End).unwrap();
    let mut out = Vec::new();
    ParallelDecoder::reading(order, Arc::new(AtomicBool::new(false))).read_to_end(&mut out)?;
    Ok(out)
}

/// Splits the one block of `compressed` into segments as the reader thread would if a
/// magic occurred by chance at each of `splits` (bit offset into the block, magic).
fn split_block(compressed: &[u8], splits: &[(u64, Magic)]) -> Vec<Segment> {
    let block = magic_positions(compressed, BLOCK_MAGIC)[0];
    let end_magic = *magic_positions(compressed, END_MAGIC).last().unwrap();
    let stored_crc = read_bits(compressed, end_magic + MAGIC_BITS, 32).unwrap() as u32;
    let mut segments = Vec::new();
    let mut start = (block, true);
    for &(offset, magic) in splits {
        let end = match magic {
            Magic::Block => SegmentEnd::NextBlock,
            Magic::EndOfStream => SegmentEnd::Stream {
                stored_crc: 0xdead_beef,
                then: AfterStream::Garbage { byte: 0 },
            },
        };
        segments.push(segment(compressed, start, block + offset, end));
        start = (block + offset, magic == Magic::Block);
    }
    let real_end = SegmentEnd::Stream { stored_crc, then: AfterStream::EndOfInput };
    segments.push(segment(compressed, start, end_magic, real_end));
    segments
}

fn segment(
    compressed: &[u8],
    (from, starts_block): (u64, bool),
    to: u64,
    end: SegmentEnd,
) -> Segment {
    Segment {
        bits: cut_bits(compressed, from, to),
        level: 9,
        starts_block,
        byte_offset: from / 8,
        end,
    }
}

#[test]
fn a_false_block_magic_inside_a_block_is_merged_away() {
    let data = dump_like(400_000, 12);
    let compressed = crate_compress(&data, 9);
    for offsets in [&[5_000][..], &[49], &[81], &[10_001, 10_046], &[3, 200_000, 600_001]] {
        let splits: Vec<_> = offsets.iter().map(|&offset| (offset, Magic::Block)).collect();
        let segments = split_block(&compressed, &splits);
        assert!(decode_segments(segments).unwrap() == data, "split at {offsets:?}");
    }
}

#[test]
fn a_false_end_of_stream_magic_inside_a_block_is_merged_away() {
    let data = dump_like(400_000, 13);
    let compressed = crate_compress(&data, 9);
    let splits_list: [&[(u64, Magic)]; 3] = [
        &[(70_000, Magic::EndOfStream)],
        &[(70_000, Magic::EndOfStream), (90_000, Magic::Block)],
        &[(70_000, Magic::Block), (70_090, Magic::EndOfStream), (300_000, Magic::EndOfStream)],
    ];
    for splits in splits_list {
        let segments = split_block(&compressed, splits);
        assert!(decode_segments(segments).unwrap() == data, "{splits:?}");
    }
}

#[test]
fn randomised_blocks_are_decoded_with_the_bzip2_crate() {
    // Derandomising flips bits from the block's 618th byte on, so a shorter block decodes
    // to the same bytes (and CRC) either way.
    let data = dump_like(400, 17);
    let compressed = randomised(&crate_compress(&data, 9));
    let segments = split_block(&compressed, &[]);
    let bits = &segments[0].bits;
    let start = u64::from(bits.first_bit);
    let refused = BlockDecoder::new().decode(&bits.bytes, start, start + bits.len, 9);
    assert_eq!(refused.unwrap_err(), BlockError::Randomised);
    let block = decode_segment(&segments[0], &mut BlockDecoder::new()).unwrap();
    assert!(block.data == data);
    assert_decodes(&compressed, &data, 2);
    // A longer block does change: its CRC was computed before the flag was set.
    let data = dump_like(50_000, 18);
    let compressed = randomised(&crate_compress(&data, 9));
    let error = assert_fails(&compressed, &data, "randomised long block");
    assert!(error.to_string().contains("corrupt: invalid block data or block CRC"), "{error}");
}

#[test]
fn merging_does_not_hide_a_corrupt_block() {
    let data = dump_like(400_000, 14);
    let mut compressed = crate_compress(&data, 9);
    let middle = compressed.len() / 2;
    compressed[middle] ^= 1;
    let segments = split_block(&compressed, &[(5_000, Magic::Block)]);
    let error = decode_segments(segments).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidData);
    assert!(error.to_string().starts_with("bzip2: block 1 at byte 4 is corrupt"), "{error}");
}

#[test]
fn the_index_finds_every_magic_at_every_bit_shift() {
    let mut rng = XorShift::new(15);
    let mut data: Vec<u8> = (0..3_000_000).map(|_| rng.next() as u8).collect();
    let mut planted = Vec::new();
    let mut bit = 100;
    while bit + 48 < data.len() as u64 * 8 {
        let magic = if planted.len() % 3 == 2 { Magic::EndOfStream } else { Magic::Block };
        for offset in 0..48 {
            let byte = ((bit + offset) / 8) as usize;
            let mask = 0x80 >> ((bit + offset) % 8);
            if (magic.value() >> (47 - offset)) & 1 == 1 {
                data[byte] |= mask;
            } else {
                data[byte] &= !mask;
            }
        }
        planted.push(Candidate { bit, magic });
        bit += 48 + rng.below(if planted.len() % 4 == 0 { 40 } else { 400_000 });
    }
    let mut naive: Vec<u64> = magic_positions(&data, BLOCK_MAGIC);
    naive.extend(magic_positions(&data, END_MAGIC));
    naive.sort_unstable();
    assert_eq!(naive, planted.iter().map(|c| c.bit).collect::<Vec<_>>());
    for step in [usize::MAX, 100_003, 7] {
        let reader = Trickle { inner: io::Cursor::new(data.clone()), step, calls: 0 };
        let mut input = Input::new(reader, Arc::new(AtomicBool::new(false)));
        let mut found = Vec::new();
        let mut after = 0;
        while let Ok(Next::Found(candidate)) = input.next_candidate(after, u64::MAX) {
            found.push(candidate);
            after = candidate.bit;
            input.release_before(after / 8);
        }
        assert!(found == planted, "reads of {step} bytes");
    }
    let mut input = Input::new(io::Cursor::new(data), Arc::new(AtomicBool::new(false)));
    assert!(matches!(input.next_candidate(planted[0].bit, planted[1].bit - 1), Ok(Next::TooFar)));
    let last = planted.last().unwrap().bit;
    assert!(matches!(input.next_candidate(last, u64::MAX), Ok(Next::EndOfInput)));
}

#[test]
fn the_decoder_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<ParallelDecoder>();
}

/// Reads `reader` to the end through a 1 MiB buffer, hashing what it reads.
fn drain(mut reader: impl Read) -> (usize, u64) {
    let mut buf = vec![0; 1 << 20];
    let (mut total, mut hash) = (0, 0u64);
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            return (total, hash);
        }
        total += n;
        hash = buf[..n]
            .iter()
            .fold(hash, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
    }
}

/// Run with `cargo test --release -- --ignored --nocapture throughput` on an idle machine.
#[test]
#[ignore = "benchmark"]
fn throughput() {
    let data = dump_like(50_000_000, 16);
    let compressed = crate_compress(&data, 9);
    let expected = drain(&data[..]);
    println!("{} MB compressed to {} MB", data.len() / 1_000_000, compressed.len() / 1_000_000);
    let mut best = [0f64; 3];
    for _round in 0..2 {
        for (index, threads) in [0, 1, 2].into_iter().enumerate() {
            let start = Instant::now();
            let result = if threads == 0 {
                drain(bzip2::read::MultiBzDecoder::new(&compressed[..]))
            } else {
                drain(ParallelDecoder::new(io::Cursor::new(compressed.clone()), threads))
            };
            let speed = data.len() as f64 / 1e6 / start.elapsed().as_secs_f64();
            assert_eq!(result, expected);
            best[index] = best[index].max(speed);
        }
    }
    println!("MultiBzDecoder:              {:.1} MB/s", best[0]);
    println!("ParallelDecoder, 1 thread:   {:.1} MB/s", best[1]);
    println!("ParallelDecoder, 2 threads:  {:.1} MB/s", best[2]);
}
