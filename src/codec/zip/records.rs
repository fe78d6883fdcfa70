//! The byte layout of the records a zip archive is made of: local header, data descriptor,
//! central directory header, zip64 end record and locator, end of central directory record;
//! and what they share about an entry: its checked name, its flags and its DOS time.
//!
//! Pure: each function lays out one record from the values it is given, with the numbers of
//! [`super::format`]. Must not decide anything about the archive (whether an entry is stored,
//! streamed or needs zip64 fields: the writer does), keep state, or do I/O.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use jiff::{Timestamp, civil};

use super::format::{
    CENTRAL_HEADER, DATA_DESCRIPTOR, DEFLATED, DOS_FIRST_YEAR, DOS_LAST_YEAR,
    END_OF_CENTRAL_DIRECTORY, END_OF_CENTRAL_DIRECTORY_LEN, EXTERNAL_ATTRIBUTES, FLAG_UTF8,
    IN_ZIP64, LOCAL_HEADER, LOCAL_HEADER_LEN, MADE_BY, STORED, VERSION_DEFLATE, VERSION_ZIP64,
    ZIP64_END, ZIP64_END_LEN, ZIP64_ENTRIES, ZIP64_EXTRA, ZIP64_LOCATOR, ZIP64_LOCATOR_LEN,
};

/// How an entry's data is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflate,
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Method::Stored => STORED,
            Method::Deflate => DEFLATED,
        }
    }
}

/// An entry's CRC-32, size and compressed size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sizes {
    pub crc: u32,
    pub size: u64,
    pub compressed: u64,
}

impl Sizes {
    /// Whether either size needs a zip64 field, from `limit` (`ZIP64_LIMIT` but in tests).
    pub fn reach(&self, limit: u64) -> bool {
        self.size >= limit || self.compressed >= limit
    }
}

/// An entry's name, flags and DOS time, checked.
pub struct Meta {
    pub name: String,
    pub flags: u16,
    time: u16,
    date: u16,
}

impl Meta {
    pub fn new(name: &str, mtime: SystemTime) -> io::Result<Meta> {
        validate(name)?;
        let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
        let (time, date) = dos_time(mtime);
        Ok(Meta { name: name.to_owned(), flags, time, date })
    }
}

/// Refuses names that are not a plain relative path: extracting them could write elsewhere.
pub fn validate(name: &str) -> io::Result<()> {
    let bad = name.is_empty()
        || name.len() > usize::from(u16::MAX)
        || name.contains(['\\', '\0'])
        || name.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        let message = format!(
            "invalid zip entry name {name:?}: it must be a relative path without '.', '..' or \
             empty components, backslashes or NUL"
        );
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    Ok(())
}

/// DOS (time, date) of `mtime` in UTC, clamped to 1980-01-01 00:00:00 .. 2107-12-31 23:59:58.
pub fn dos_time(mtime: SystemTime) -> (u16, u16) {
    let first = civil::datetime(DOS_FIRST_YEAR, 1, 1, 0, 0, 0, 0);
    let last = civil::datetime(DOS_LAST_YEAR, 12, 31, 23, 59, 59, 0);
    let time = match Timestamp::try_from(mtime) {
        Ok(at) => TimeZone::UTC.to_datetime(at).clamp(first, last),
        // Beyond the years jiff knows (-9999 to 9999).
        Err(_) if mtime < UNIX_EPOCH => first,
        Err(_) => last,
    };
    let field = |value: i8| value as u16;
    let years = (time.year() - DOS_FIRST_YEAR) as u16;
    let date = (years << 9) | (field(time.month()) << 5) | field(time.day());
    let time =
        (field(time.hour()) << 11) | (field(time.minute()) << 5) | (field(time.second()) / 2);
    (time, date)
}

/// An entry's local header: exact `sizes`, or (flag bit 3 in `meta`) zeros to be followed
/// by a data descriptor. With `zip64`, the header's sizes are 0xFFFFFFFF and a zip64 extra
/// field holds them.
pub fn local_header(meta: &Meta, method: Method, sizes: Sizes, zip64: bool) -> Vec<u8> {
    let extra = if zip64 { 4 + 16 } else { 0 };
    let mut header = Vec::with_capacity(LOCAL_HEADER_LEN + meta.name.len() + extra);
    put32(&mut header, LOCAL_HEADER);
    put16(&mut header, if zip64 { VERSION_ZIP64 } else { VERSION_DEFLATE });
    put16(&mut header, meta.flags);
    put16(&mut header, method.code());
    put16(&mut header, meta.time);
    put16(&mut header, meta.date);
    put32(&mut header, sizes.crc);
    if zip64 {
        put32(&mut header, IN_ZIP64);
        put32(&mut header, IN_ZIP64);
    } else {
        put32(&mut header, sizes.compressed as u32);
        put32(&mut header, sizes.size as u32);
    }
    put16(&mut header, meta.name.len() as u16);
    put16(&mut header, extra as u16);
    header.extend_from_slice(meta.name.as_bytes());
    if zip64 {
        put16(&mut header, ZIP64_EXTRA);
        put16(&mut header, 16);
        put64(&mut header, sizes.size);
        put64(&mut header, sizes.compressed);
    }
    header
}

/// The data descriptor after a streamed entry's data, with its signature: 8-byte sizes when
/// its local header had a zip64 extra field, else 4-byte ones (which the caller checked fit).
pub fn data_descriptor(sizes: Sizes, zip64: bool) -> Vec<u8> {
    let mut descriptor = Vec::with_capacity(24);
    put32(&mut descriptor, DATA_DESCRIPTOR);
    put32(&mut descriptor, sizes.crc);
    if zip64 {
        put64(&mut descriptor, sizes.compressed);
        put64(&mut descriptor, sizes.size);
    } else {
        put32(&mut descriptor, sizes.compressed as u32);
        put32(&mut descriptor, sizes.size as u32);
    }
    descriptor
}

/// What the central directory needs of a written entry.
pub struct Record {
    name: String,
    method: Method,
    size: u64,
    compressed_size: u64,
    crc32: u32,
    flags: u16,
    time: u16,
    date: u16,
    offset: u64,
    /// Whether the local header had a zip64 extra field (then version 4.5 is needed).
    local_zip64: bool,
}

impl Record {
    pub fn new(meta: Meta, method: Method, sizes: Sizes, offset: u64, local_zip64: bool) -> Record {
        Record {
            name: meta.name,
            method,
            size: sizes.size,
            compressed_size: sizes.compressed,
            crc32: sizes.crc,
            flags: meta.flags,
            time: meta.time,
            date: meta.date,
            offset,
            local_zip64,
        }
    }

    /// Appends the entry's central directory header, with a zip64 extra field for the sizes
    /// and offset from `limit` (`ZIP64_LIMIT` but in tests).
    pub fn write_central(&self, buffer: &mut Vec<u8>, limit: u64) {
        // Both sizes go to the zip64 field together, as Python's zipfile writes them.
        let sizes64 = self.size >= limit || self.compressed_size >= limit;
        let offset64 = self.offset >= limit;
        let extra = 8 * (2 * u16::from(sizes64) + u16::from(offset64));
        let version =
            if sizes64 || offset64 || self.local_zip64 { VERSION_ZIP64 } else { VERSION_DEFLATE };
        put32(buffer, CENTRAL_HEADER);
        put16(buffer, MADE_BY);
        put16(buffer, version);
        put16(buffer, self.flags);
        put16(buffer, self.method.code());
        put16(buffer, self.time);
        put16(buffer, self.date);
        put32(buffer, self.crc32);
        put32(buffer, if sizes64 { IN_ZIP64 } else { self.compressed_size as u32 });
        put32(buffer, if sizes64 { IN_ZIP64 } else { self.size as u32 });
        put16(buffer, self.name.len() as u16);
        put16(buffer, if extra > 0 { extra + 4 } else { 0 });
        put16(buffer, 0); // comment
        put16(buffer, 0); // disk
        put16(buffer, 0); // internal attributes
        put32(buffer, EXTERNAL_ATTRIBUTES);
        put32(buffer, clamp32(self.offset, limit));
        buffer.extend_from_slice(self.name.as_bytes());
        if extra > 0 {
            put16(buffer, ZIP64_EXTRA);
            put16(buffer, extra);
            if sizes64 {
                put64(buffer, self.size);
                put64(buffer, self.compressed_size);
            }
            if offset64 {
                put64(buffer, self.offset);
            }
        }
    }
}

/// The records after a central directory of `count` entries and `size` bytes starting at
/// offset `start`: the zip64 end record and its locator when the count, start or size needs
/// them (from `limit`, `ZIP64_LIMIT` but in tests), then the end of central directory record.
pub fn end_records(count: usize, start: u64, size: u64, limit: u64) -> Vec<u8> {
    let zip64 = count >= usize::from(ZIP64_ENTRIES) || start >= limit || size >= limit;
    let mut buffer =
        Vec::with_capacity(ZIP64_END_LEN + ZIP64_LOCATOR_LEN + END_OF_CENTRAL_DIRECTORY_LEN);
    if zip64 {
        let end64 = start + size;
        put32(&mut buffer, ZIP64_END);
        put64(&mut buffer, ZIP64_END_LEN as u64 - 12);
        put16(&mut buffer, MADE_BY);
        put16(&mut buffer, VERSION_ZIP64);
        put32(&mut buffer, 0);
        put32(&mut buffer, 0);
        put64(&mut buffer, count as u64);
        put64(&mut buffer, count as u64);
        put64(&mut buffer, size);
        put64(&mut buffer, start);
        put32(&mut buffer, ZIP64_LOCATOR);
        put32(&mut buffer, 0);
        put64(&mut buffer, end64);
        put32(&mut buffer, 1);
    }
    let count16 = count.min(usize::from(ZIP64_ENTRIES)) as u16;
    put32(&mut buffer, END_OF_CENTRAL_DIRECTORY);
    put16(&mut buffer, 0);
    put16(&mut buffer, 0);
    put16(&mut buffer, count16);
    put16(&mut buffer, count16);
    put32(&mut buffer, clamp32(size, limit));
    put32(&mut buffer, clamp32(start, limit));
    put16(&mut buffer, 0);
    buffer
}

/// The value of a 32-bit field, or 0xFFFFFFFF when the zip64 field holds it.
fn clamp32(value: u64, limit: u64) -> u32 {
    if value >= limit { IN_ZIP64 } else { value as u32 }
}

fn put16(buffer: &mut Vec<u8>, value: u16) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

fn put32(buffer: &mut Vec<u8>, value: u32) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

fn put64(buffer: &mut Vec<u8>, value: u64) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests;
