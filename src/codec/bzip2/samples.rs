//! Test-only: what the tests of the bzip2 codec share. A seeded generator, random bytes and
//! dump-like data;
//! the references they are checked against, libbzip2 through `/usr/bin/bzip2` (a missing tool
//! fails the test: `contrib/test.sh` installs it) and through the `bzip2` crate; the two
//! magics, found at any bit offset; a block's randomised flag set;
//! decoding a single-stream file block by block with [`BlockDecoder`]; and a hand-written
//! block whose coded data is any bytes, so that it can be full of false magics.
//!
//! No production code uses it; it is compiled only for tests.

use std::io::{self, Read, Write};
use std::iter;
use std::process::{Command, Stdio};
use std::thread;

use super::bits::BitWriter;
use super::crc;
use super::decode::{BlockDecoder, BlockError};
use super::format::{BLOCK_MAGIC, CRC_BITS, END_MAGIC, MAGIC_BITS, stream_header};
pub use crate::testing::{XorShift, random_bytes};

/// The bzip2 tool of Debian's `bzip2` package, built on libbzip2.
pub const TOOL: &str = "/usr/bin/bzip2";

/// Dump-like data: text rows with numbers, runs of one byte, repeated lines, random bytes,
/// and a skewed spread of all byte values (whose rare bytes get Huffman codes longer than the
/// block decoder's lookup table).
pub fn dump_like(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 10] = [
        "partner",
        "invoice",
        "stock.move",
        "draft",
        "posted",
        "EUR",
        "res.users",
        "NULL",
        "sale.order",
        "Brussels",
    ];
    let mut rng = XorShift::new(seed);
    let mut out = Vec::with_capacity(len + 8192);
    while out.len() < len {
        match rng.below(17) {
            0..=10 => {
                let row = format!(
                    "{}\t{} {}\t{}.{:02}\t2024-{:02}-{:02}\t{}\n",
                    rng.below(1_000_000),
                    WORDS[rng.below(10) as usize],
                    rng.below(5000),
                    rng.below(100_000),
                    rng.below(100),
                    1 + rng.below(12),
                    1 + rng.below(28),
                    WORDS[rng.below(10) as usize],
                );
                out.extend_from_slice(row.as_bytes());
            }
            11 | 12 => {
                let byte = rng.next() as u8;
                out.extend(iter::repeat_n(byte, rng.below(700) as usize));
            }
            13 => {
                for _ in 0..rng.below(600) {
                    out.push(rng.next() as u8);
                }
            }
            14 => {
                for _ in 0..rng.below(300) {
                    // Skewed: low values often, high ones rarely.
                    let byte = (rng.next() % 256) * (rng.next() % 256) / 255;
                    out.push(byte as u8);
                }
            }
            _ => {
                for _ in 0..rng.below(12) {
                    out.extend_from_slice(
                        b"COPY public.ir_translation (id, lang, value) FROM stdin;\n",
                    );
                }
            }
        }
    }
    out.truncate(len);
    out
}

/// Runs [`TOOL`] with `args`, `input` on its stdin; its stdout, or its stderr as the error.
fn run_tool(args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    assert!(
        std::path::Path::new(TOOL).exists(),
        "{TOOL} is not installed: run contrib/test.sh, which installs it"
    );
    let mut child = Command::new(TOOL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{TOOL} does not start: {error}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // The tool may stop reading early (corrupt input): a broken pipe is its answer, not ours.
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("the tool's output can be read");
    feeder.join().expect("the feeding thread does not panic");
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// `bzip2 -c -<level>`: one stream, as libbzip2 writes it.
pub fn libbzip2_compress(data: &[u8], level: u32) -> Vec<u8> {
    assert!((1..=9).contains(&level));
    run_tool(&["-c", &format!("-{level}")], data)
        .unwrap_or_else(|stderr| panic!("bzip2 -c -{level} failed: {stderr}"))
}

/// `bzip2 -dc`: the bytes libbzip2 reads from `stream`, or its complaint.
pub fn libbzip2_decompress(stream: &[u8]) -> Result<Vec<u8>, String> {
    run_tool(&["-dc"], stream)
}

/// One stream of `level` (1 to 9), as the `bzip2` crate (libbzip2 linked in) writes it.
pub fn crate_compress(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// What the `bzip2` crate reads from the single stream `stream`.
pub fn crate_decompress(stream: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    bzip2::read::BzDecoder::new(stream).read_to_end(&mut out)?;
    Ok(out)
}

fn bit(data: &[u8], at: u64) -> u64 {
    u64::from((data[(at / 8) as usize] >> (7 - at % 8)) & 1)
}

/// Bit positions of `magic` in `data`, found one bit at a time.
pub fn magic_positions(data: &[u8], magic: u64) -> Vec<u64> {
    let mut positions = Vec::new();
    let mut window = 0u64;
    for at in 0..data.len() as u64 * 8 {
        window = ((window << 1) | bit(data, at)) & ((1 << 48) - 1);
        if at >= 47 && window == magic {
            positions.push(at - 47);
        }
    }
    positions
}

/// Bit ranges of the blocks of a single-stream file (from each block magic to the next
/// magic), found one bit at a time, and the stored stream CRC; `None` without an end of
/// stream.
pub fn try_blocks(compressed: &[u8]) -> Option<(Vec<(u64, u64)>, u32)> {
    let mut starts = Vec::new();
    let mut window = 0u64;
    let bits = compressed.len() as u64 * 8;
    for at in 32..bits {
        window = ((window << 1) | bit(compressed, at)) & ((1 << 48) - 1);
        if window == BLOCK_MAGIC || window == END_MAGIC {
            starts.push(at - 47);
            if window == END_MAGIC {
                if at + 33 > bits {
                    return None;
                }
                let crc = (at + 1..at + 33).fold(0, |crc, at| (crc << 1) | bit(compressed, at));
                let ranges = starts.windows(2).map(|pair| (pair[0], pair[1])).collect();
                return Some((ranges, crc as u32));
            }
        }
    }
    None
}

/// [`try_blocks`] of a file that has an end of stream.
pub fn blocks(compressed: &[u8]) -> (Vec<(u64, u64)>, u32) {
    try_blocks(compressed).expect("an end-of-stream magic")
}

/// `compressed` with its first block's randomised flag set, as bzip2 0.9.0 and older wrote
/// it when sorting the block took too long.
pub fn randomised(compressed: &[u8]) -> Vec<u8> {
    let flag = magic_positions(compressed, BLOCK_MAGIC)[0] + MAGIC_BITS + CRC_BITS;
    let mut randomised = compressed.to_vec();
    randomised[(flag / 8) as usize] |= 0x80 >> (flag % 8);
    randomised
}

/// Decodes every block of the single-stream file `compressed` with [`BlockDecoder`] (cutting
/// it at its magics) and checks the stream CRC.
pub fn decode_blocks(compressed: &[u8], level: u8) -> Result<Vec<u8>, String> {
    let mut decoder = BlockDecoder::new();
    let (ranges, stored_crc) = try_blocks(compressed).ok_or("no end of stream")?;
    let mut out = Vec::new();
    let mut stream_crc = 0u32;
    for (start, end) in ranges {
        let block = decoder.decode(compressed, start, end, level).map_err(|e| e.to_string())?;
        stream_crc = crc::combine(stream_crc, block.crc);
        out.extend(block.data);
    }
    if stream_crc != stored_crc {
        return Err(format!("stream CRC {stored_crc:08x}, computed {stream_crc:08x}"));
    }
    Ok(out)
}

/// A valid single-block stream at level 9 whose coded data is `symbols`, one byte a symbol,
/// then the end-of-block symbol; and the bytes it decodes to.
///
/// The block uses bytes 0 to 253, so its alphabet has 256 symbols, and both its Huffman tables
/// give every symbol 8 bits: the code of a symbol is the symbol itself, and the coded data is
/// `symbols` verbatim. Symbols 0 and 1 are RUNA and RUNB, 2 to 254 move-to-front indexes,
/// 255 the end of block (so `symbols` must not hold 255). Any such bytes, up to about 900 000
/// of them, make a block that libbzip2 decodes: the magics' bytes, for instance, repeated.
pub fn block_of_symbols(symbols: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert!(!symbols.contains(&255), "255 is the end-of-block symbol");
    let write = |crc: u32, orig_ptr: u32| {
        let mut out = BitWriter::with_capacity(symbols.len() + 200);
        out.put(32, u32::from_be_bytes(stream_header(9)));
        out.put48(BLOCK_MAGIC);
        out.put(32, crc);
        out.put(1, 0);
        out.put(24, orig_ptr);
        out.put(16, 0xffff);
        for group in 0..16 {
            out.put(16, if group == 15 { 0xfffc } else { 0xffff });
        }
        out.put(3, 2);
        out.put(15, (symbols.len() + 1).div_ceil(50) as u32);
        for _ in 0..(symbols.len() + 1).div_ceil(50) {
            out.put(1, 0);
        }
        for _table in 0..2 {
            out.put(5, 8);
            for _symbol in 0..256 {
                out.put(1, 0);
            }
        }
        for &symbol in symbols.iter().chain(&[255]) {
            out.put(8, u32::from(symbol));
        }
        out.put48(END_MAGIC);
        out.put(32, crc);
        out.finish()
    };
    // The bytes depend on the origin pointer; some make a block that ends inside a run.
    for orig_ptr in 0..symbols.len() as u32 + 1 {
        let unchecked = write(0, orig_ptr);
        // The block runs from the header to the trailer (its data holds any false magics).
        let end = *magic_positions(&unchecked, END_MAGIC).last().expect("a trailer");
        let crc = match BlockDecoder::new().decode(&unchecked, 32, end, 9) {
            Err(BlockError::Crc { computed, .. }) => computed,
            Ok(block) => block.crc,
            Err(_) => continue,
        };
        let stream = write(crc, orig_ptr);
        let block = BlockDecoder::new().decode(&stream, 32, end, 9).expect("the block is valid");
        return (stream, block.data);
    }
    panic!("no origin pointer makes a valid block of {} symbols", symbols.len());
}
