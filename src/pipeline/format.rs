//! Dump formats: the compression (`Codec`) and the content (`Payload`) of a dump, detected from
//! its first bytes, and the format a file name asks for.
//!
//! Pure: no I/O.

use std::fmt;
use std::path::Path;

/// How a stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Bzip2,
    Zstd,
}

/// What a (decompressed) stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Plain SQL, as `pg_dump` writes by default; loaded with `psql`.
    PlainSql,
    /// PostgreSQL's custom archive format (`pg_dump -Fc`); loaded with `pg_restore`.
    Custom,
    /// A zip archive (an Odoo backup): its `dump.sql` is the dump.
    Zip,
}

/// A dump file's format: its content and how it is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpFormat {
    pub payload: Payload,
    pub codec: Codec,
}

/// How many leading bytes detection looks at.
pub const SNIFF_LEN: usize = 4096;

impl Codec {
    /// The compression of a stream starting with `head`.
    pub fn detect(head: &[u8]) -> Codec {
        if head.starts_with(&[0x1f, 0x8b]) {
            Codec::Gzip
        } else if is_bzip2(head) {
            Codec::Bzip2
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Codec::Zstd
        } else {
            Codec::None
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Codec::None => "",
            Codec::Gzip => ".gz",
            Codec::Bzip2 => ".bz2",
            Codec::Zstd => ".zst",
        }
    }
}

/// `BZh` and a block size digit, then a block or the end-of-stream marker (an empty file).
fn is_bzip2(head: &[u8]) -> bool {
    use crate::codec::bzip2::format::{BLOCK_MAGIC, END_MAGIC, header_level};
    let (Some(header), Some(magic)) = (head.get(..4), head.get(4..10)) else {
        return false;
    };
    let magic = magic.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
    header_level(header).is_some() && (magic == BLOCK_MAGIC || magic == END_MAGIC)
}

impl Payload {
    /// The content of a decompressed stream starting with `head`, or `None` when it is
    /// neither a PostgreSQL dump nor a zip nor text.
    pub fn detect(head: &[u8]) -> Option<Payload> {
        if head.starts_with(b"PGDMP") {
            Some(Payload::Custom)
        } else if head.starts_with(b"PK\x03\x04") {
            Some(Payload::Zip)
        } else if looks_like_text(head) {
            Some(Payload::PlainSql)
        } else {
            None
        }
    }
}

/// SQL is text: no NUL bytes and almost no control characters (any encoding PostgreSQL
/// dumps in is ASCII-compatible).
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    let control =
        head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)).count();
    control * 100 <= head.len()
}

impl DumpFormat {
    /// The format a file name asks for: `.sql` or `.dump`, optionally followed by `.gz`,
    /// `.bz2` or `.zst`. `-` is plain SQL (standard output).
    pub fn from_name(path: &Path) -> Option<DumpFormat> {
        if path == Path::new("-") {
            return Some(DumpFormat { payload: Payload::PlainSql, codec: Codec::None });
        }
        let name = path.file_name()?.to_str()?;
        let (stem, codec) = [Codec::Gzip, Codec::Bzip2, Codec::Zstd]
            .into_iter()
            .find_map(|codec| name.strip_suffix(codec.suffix()).map(|stem| (stem, codec)))
            .unwrap_or((name, Codec::None));
        let payload = if stem.ends_with(".sql") {
            Payload::PlainSql
        } else if stem.ends_with(".dump") {
            Payload::Custom
        } else {
            return None;
        };
        Some(DumpFormat { payload, codec })
    }
}

impl fmt::Display for DumpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let payload = match self.payload {
            Payload::PlainSql => "plain SQL",
            Payload::Custom => "custom-format dump",
            Payload::Zip => "zip archive",
        };
        let codec = match self.codec {
            Codec::None => "",
            Codec::Gzip => ", gzip",
            Codec::Bzip2 => ", bzip2",
            Codec::Zstd => ", zstd",
        };
        write!(f, "{payload}{codec}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_codecs_by_magic() {
        let cases: &[(&[u8], Codec)] = &[
            (b"\x1f\x8b\x08\x00rest", Codec::Gzip),
            (b"BZh91AY&SYrest", Codec::Bzip2),
            (b"BZh9\x17\x72\x45\x38\x50\x90\0\0\0\0", Codec::Bzip2),
            (b"(\xb5/\xfd\x04\x00", Codec::Zstd),
            (b"BZh is how this SQL comment starts", Codec::None),
            (b"--\n-- PostgreSQL database dump\n", Codec::None),
            (b"PGDMP\x01\x0e", Codec::None),
            (b"", Codec::None),
        ];
        for (head, codec) in cases {
            assert_eq!(Codec::detect(head), *codec, "{head:?}");
        }
    }

    #[test]
    fn detects_payloads() {
        let cases: &[(&[u8], Option<Payload>)] = &[
            (b"PGDMP\x01\x0e\x00", Some(Payload::Custom)),
            (b"PK\x03\x04\x14\x00", Some(Payload::Zip)),
            (b"--\n-- PostgreSQL database dump\n--\n", Some(Payload::PlainSql)),
            ("CREATE TABLE caf\u{e9} (x text);\r\n".as_bytes(), Some(Payload::PlainSql)),
            (b"\x7fELF\x02\x01\x01\x00\x00\x00", None),
            (b"\x01\x02\x03\x04\x05\x06\x07 text", None),
            (b"", None),
        ];
        for (head, payload) in cases {
            assert_eq!(Payload::detect(head), *payload, "{head:?}");
        }
    }

    #[test]
    fn format_from_name() {
        let f = |name: &str| DumpFormat::from_name(Path::new(name));
        let plain = Payload::PlainSql;
        let custom = Payload::Custom;
        assert_eq!(f("a.sql"), Some(DumpFormat { payload: plain, codec: Codec::None }));
        assert_eq!(f("/x/a.sql.gz"), Some(DumpFormat { payload: plain, codec: Codec::Gzip }));
        assert_eq!(f("a.dump.bz2"), Some(DumpFormat { payload: custom, codec: Codec::Bzip2 }));
        assert_eq!(f("a.b.dump.zst"), Some(DumpFormat { payload: custom, codec: Codec::Zstd }));
        assert_eq!(f("a.dump"), Some(DumpFormat { payload: custom, codec: Codec::None }));
        assert_eq!(f("-"), Some(DumpFormat { payload: plain, codec: Codec::None }));
        assert_eq!(f("a.zip"), None);
        assert_eq!(f("a.gz"), None);
        assert_eq!(f("a.sql.xz"), None);
        assert_eq!(f("dump"), None);
    }
}
