//! Decompression: a reader of compressed bytes in, a reader of the original bytes out.
//!
//! Every decoder checks its format's integrity (gzip CRC and length, bzip2 block and stream
//! CRCs, zstd frame checksums where present) and fails on truncated input instead of
//! returning what it decoded so far. Concatenated gzip members (pigz) and bzip2 streams
//! (pbzip2, lbzip2) are read to the end.

use std::io::{self, Read};

use super::Codec;
use crate::codec::bzip2::parallel::ParallelDecoder;

/// A boxed stream of bytes that can move to another thread.
pub type Stream = Box<dyn Read + Send>;

/// Reads `input` compressed with `codec`, decoding on up to `threads` threads.
pub fn decoder(codec: Codec, input: Stream, threads: usize) -> io::Result<Stream> {
    Ok(match codec {
        Codec::None => input,
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Codec::Bzip2 => Box::new(ParallelDecoder::new(input, threads)),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
    })
}

/// A stream whose first bytes can be looked at before anything consumes them.
pub struct Peekable {
    head: Vec<u8>,
    pos: usize,
    inner: Stream,
}

impl Peekable {
    pub fn new(inner: Stream) -> Peekable {
        Peekable { head: Vec::new(), pos: 0, inner }
    }

    /// Up to `len` first bytes, without consuming them (fewer only at the end of the stream).
    pub fn peek(&mut self, len: usize) -> io::Result<&[u8]> {
        debug_assert_eq!(self.pos, 0, "peek before reading");
        let mut buf = [0u8; 8192];
        while self.head.len() < len {
            let want = (len - self.head.len()).min(buf.len());
            match self.inner.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => self.head.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(&self.head[..self.head.len().min(len)])
    }
}

impl Read for Peekable {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most 3 bytes a call, as pipes may.
    struct Trickle(io::Cursor<Vec<u8>>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn peek_then_read_returns_everything() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut p = Peekable::new(Box::new(Trickle(io::Cursor::new(data.clone()))));
        assert_eq!(p.peek(10).unwrap(), &data[..10]);
        assert_eq!(p.peek(20).unwrap(), &data[..20]);
        let mut out = Vec::new();
        p.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn peek_past_end_is_short() {
        let mut p = Peekable::new(Box::new(io::Cursor::new(b"abc".to_vec())));
        assert_eq!(p.peek(10).unwrap(), b"abc");
        let mut out = Vec::new();
        p.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
    }

    fn roundtrip(codec: Codec, compressed: Vec<u8>, original: &[u8]) {
        let mut out = Vec::new();
        decoder(codec, Box::new(io::Cursor::new(compressed)), 2)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, original, "{codec:?}");
    }

    fn truncated_fails(codec: Codec, compressed: &[u8]) {
        for cut in [compressed.len() - 1, compressed.len() / 2, 11] {
            let mut out = Vec::new();
            let result = decoder(codec, Box::new(io::Cursor::new(compressed[..cut].to_vec())), 2)
                .and_then(|mut d| d.read_to_end(&mut out));
            assert!(result.is_err(), "{codec:?} cut at {cut} decoded without error");
        }
    }

    fn sample() -> Vec<u8> {
        (0..200_000u32).flat_map(|i| format!("{i}\tname {}\n", i % 97).into_bytes()).collect()
    }

    #[test]
    fn gzip_concatenated_members_and_truncation() {
        let data = sample();
        let (a, b) = data.split_at(data.len() / 3);
        let mut compressed = Vec::new();
        for part in [a, b] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            io::Write::write_all(&mut e, part).unwrap();
            compressed.extend(e.finish().unwrap());
        }
        roundtrip(Codec::Gzip, compressed.clone(), &data);
        truncated_fails(Codec::Gzip, &compressed);
    }

    #[test]
    fn zstd_frames_and_truncation() {
        let data = sample();
        let (a, b) = data.split_at(data.len() / 3);
        let mut compressed = zstd::encode_all(a, 3).unwrap();
        compressed.extend(zstd::encode_all(b, 3).unwrap());
        roundtrip(Codec::Zstd, compressed.clone(), &data);
        truncated_fails(Codec::Zstd, &compressed);
    }
}
