//! Reading a zip archive as a stream (from stdin, an ssh pipe), entry after entry, without
//! its central directory.
//!
//! Handles what streaming writers produce and the `zip` crate's stream reader refuses:
//! entries with data descriptors (flag bit 3) whose sizes come after the data. Deflated
//! entries end by themselves, so their data descriptor is read after the deflate stream;
//! a stored entry with a data descriptor has no knowable end and is refused. Every entry's
//! CRC-32 and size are checked. Stops at the central directory, which is left unread.

use std::io::{self, BufRead, Read};

use super::format::{
    CENTRAL_HEADER, DATA_DESCRIPTOR, DEFLATED, END_OF_CENTRAL_DIRECTORY, FLAG_DESCRIPTOR,
    FLAG_ENCRYPTED, IN_ZIP64, LOCAL_HEADER, LOCAL_HEADER_LEN, STORED, ZIP64_EXTRA,
};

/// One entry's header, as its local header says.
#[derive(Debug, Clone)]
pub struct EntryHeader {
    pub name: String,
    method: u16,
    has_descriptor: bool,
    zip64: bool,
    crc32: u32,
    compressed_size: u64,
    size: u64,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Why walking the entries stopped.
#[derive(Debug)]
pub enum StreamError<E> {
    /// The archive is not a readable zip, or is corrupt or truncated.
    Zip(io::Error),
    /// The visitor failed.
    Visit(E),
}

impl<E> From<io::Error> for StreamError<E> {
    fn from(e: io::Error) -> StreamError<E> {
        StreamError::Zip(e)
    }
}

/// Calls `visit` with the name and content of every entry, in archive order. `visit` may
/// read part of the content or none: the rest is read and checked before the next entry.
/// A read error inside `visit` is the visitor's to report.
pub fn for_each_entry<R: BufRead, E>(
    mut reader: R,
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<(), E>,
) -> Result<(), StreamError<E>> {
    while let Some(header) = next_header(&mut reader)? {
        let (crc32, size) = {
            let hasher = crc32fast::Hasher::new();
            let mut checked = Checked { inner: content(&mut reader, &header), hasher, size: 0 };
            let visited = visit(&header.name, &mut checked);
            visited.map_err(StreamError::Visit)?;
            io::copy(&mut checked, &mut io::sink())?;
            (checked.hasher.clone().finalize(), checked.size)
        };
        let (expected_crc, expected_size) = if header.has_descriptor {
            read_descriptor(&mut reader, header.zip64)?
        } else {
            (header.crc32, header.size)
        };
        if crc32 != expected_crc || size != expected_size {
            return Err(StreamError::Zip(invalid(format!(
                "entry '{}' is corrupt: CRC {crc32:08x} and size {size}, expected \
                 {expected_crc:08x} and {expected_size}",
                header.name
            ))));
        }
    }
    Ok(())
}

/// The decoded content of the entry whose header was just read.
fn content<'a, R: BufRead>(reader: &'a mut R, header: &EntryHeader) -> Box<dyn Read + 'a> {
    match (header.method, header.has_descriptor) {
        (DEFLATED, true) => Box::new(flate2::bufread::DeflateDecoder::new(reader)),
        (DEFLATED, false) => {
            Box::new(flate2::read::DeflateDecoder::new(reader.take(header.compressed_size)))
        }
        _ => Box::new(reader.take(header.compressed_size)),
    }
}

/// The next local header, or `None` at the central directory (or a clean end).
fn next_header(reader: &mut impl BufRead) -> io::Result<Option<EntryHeader>> {
    if reader.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let signature = read_u32(reader)?;
    match signature {
        LOCAL_HEADER => {}
        CENTRAL_HEADER | END_OF_CENTRAL_DIRECTORY => return Ok(None),
        other => return Err(invalid(format!("not a zip entry (signature {other:08x})"))),
    }
    let mut fixed = [0u8; LOCAL_HEADER_LEN - 4];
    reader.read_exact(&mut fixed)?;
    let u16_at = |i: usize| u16::from_le_bytes([fixed[i], fixed[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
    let flags = u16_at(2);
    let method = u16_at(4);
    let (name_len, extra_len) = (u16_at(22) as usize, u16_at(24) as usize);
    let mut name = vec![0u8; name_len];
    reader.read_exact(&mut name)?;
    let mut extra = vec![0u8; extra_len];
    reader.read_exact(&mut extra)?;
    let name = String::from_utf8(name).map_err(|_| invalid("entry name is not UTF-8"))?;
    if flags & FLAG_ENCRYPTED != 0 {
        return Err(invalid(format!("entry '{name}' is encrypted")));
    }
    let mut header = EntryHeader {
        name,
        method,
        has_descriptor: flags & FLAG_DESCRIPTOR != 0,
        zip64: false,
        crc32: u32_at(10),
        compressed_size: u64::from(u32_at(14)),
        size: u64::from(u32_at(18)),
    };
    apply_zip64_extra(&mut header, &extra);
    match (method, header.has_descriptor) {
        (STORED | DEFLATED, false) | (DEFLATED, true) => Ok(Some(header)),
        (STORED, true) => Err(invalid(format!(
            "entry '{}' is stored with a data descriptor: its end cannot be found in a stream; \
             load the archive from a file",
            header.name
        ))),
        (other, _) => Err(invalid(format!(
            "entry '{}' uses compression method {other}; only stored and deflated are supported",
            header.name
        ))),
    }
}

/// Reads 8-byte sizes from a zip64 extra field where the header has 0xFFFFFFFF.
fn apply_zip64_extra(header: &mut EntryHeader, mut extra: &[u8]) {
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = u16::from_le_bytes([extra[2], extra[3]]) as usize;
        let data = &extra[4..(4 + len).min(extra.len())];
        if id == ZIP64_EXTRA {
            header.zip64 = true;
            let mut values =
                data.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
            if header.size == u64::from(IN_ZIP64) {
                header.size = values.next().unwrap_or(0);
            }
            if header.compressed_size == u64::from(IN_ZIP64) {
                header.compressed_size = values.next().unwrap_or(0);
            }
        }
        extra = &extra[(4 + len).min(extra.len())..];
    }
}

/// A data descriptor: optional signature, CRC-32, then sizes of 4 or (zip64) 8 bytes.
fn read_descriptor(reader: &mut impl BufRead, zip64: bool) -> io::Result<(u32, u64)> {
    let mut crc32 = read_u32(reader)?;
    if crc32 == DATA_DESCRIPTOR {
        crc32 = read_u32(reader)?;
    }
    let size = if zip64 {
        let _compressed = read_u64(reader)?;
        read_u64(reader)?
    } else {
        let _compressed = read_u32(reader)?;
        u64::from(read_u32(reader)?)
    };
    Ok((crc32, size))
}

fn read_u32(reader: &mut impl Read) -> io::Result<u32> {
    let mut bytes = [0u8; 4];
    reader.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(reader: &mut impl Read) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    reader.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// An entry's content, hashed and counted as it is read.
struct Checked<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    size: u64,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
