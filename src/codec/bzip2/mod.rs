//! bzip2, `oe`'s own codec: a block encoder, a block decoder and a parallel decoder of whole
//! streams, all reading and writing the standard format (any bzip2 tool reads what it writes,
//! and it reads what they write).
//!
//! The format, in brief (the field by field layout is in [`format`]): a stream is `BZh` and a
//! level digit `n`, then blocks, each of at most `n` × 100 000 bytes, each starting with a
//! 48-bit magic on no byte boundary, then a 48-bit end-of-stream magic and the stream CRC. A
//! block stacks, from its bytes to its bits: run-length coding of runs of 4 to 255 equal
//! bytes, the Burrows-Wheeler transform, move-to-front with runs of zeros coded as RUNA/RUNB,
//! and Huffman codes from 2 to 6 tables chosen per 50 symbols. Blocks are independent, which
//! is what lets the encoder's callers and the parallel decoder use several threads.
//!
//! The map:
//! - [`format`]: the constants and the header layout (magics, header, sizes, code limits);
//! - `bits`: reading and writing bits, most significant first;
//! - [`crc`]: the block CRC and its combination into the stream CRC;
//! - [`encode`]: bytes to one stream at level 9 (`compress`);
//! - [`decode`]: one block's bits to its bytes, checked (`BlockDecoder`);
//! - [`parallel`]: a whole file, its blocks decoded on several threads (`ParallelDecoder`);
//! - `props`, `samples` (tests only): property tests against libbzip2, and what the tests
//!   share.
//!
//! Pure codecs over byte slices and `Read`: no files, no processes (only the tests run
//! `/usr/bin/bzip2` as a reference).
//!
//! [`format`]: mod@format

mod bits;
pub mod crc;
pub mod decode;
pub mod encode;
pub mod format;
pub mod parallel;
#[cfg(test)]
mod props;
#[cfg(test)]
mod samples;
