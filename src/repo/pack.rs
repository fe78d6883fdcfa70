//! Pack files and index files: their encoding and decoding (see the format in the module
//! docs of `repo`). Pure: bytes in, bytes out.

use serde::{Deserialize, Serialize};

use super::crypto::Keys;
use super::{BlobId, BlobKind, Error};

/// The associated data of a sealed pack header.
pub const HEADER_CONTEXT: &[u8] = b"oe pack header";

pub const MAGIC: &[u8; 8] = b"OEPACK01";
/// Header length (u32 LE) and magic.
pub const TRAILER: usize = 12;
/// A pack is written once it holds this much.
pub const TARGET_SIZE: usize = 16 << 20;

/// The window a delta is compressed with: its bases and the blob together (at most two 4 MiB
/// chunks and a third) fit in 16 MiB.
pub const DELTA_WINDOW_LOG: u32 = 24;

/// Where a blob is in its pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: BlobId,
    pub kind: BlobKind,
    pub offset: u64,
    /// Bytes stored.
    pub length: u64,
    /// Bytes of the blob, uncompressed.
    pub raw_length: u64,
    pub compressed: bool,
    /// A delta: the blobs whose bytes, concatenated in this order, are the zstd prefix the
    /// stored bytes were compressed against. Empty (and absent from the encoding) for a plain
    /// blob.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base: Vec<BlobId>,
}

/// One pack of an index file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedPack {
    pub pack: String,
    pub blobs: Vec<Entry>,
}

/// A pack being filled.
#[derive(Default)]
pub struct Builder {
    pub data: Vec<u8>,
    pub entries: Vec<Entry>,
}

impl Builder {
    pub fn push(
        &mut self,
        id: BlobId,
        kind: BlobKind,
        stored: &[u8],
        raw_length: usize,
        compressed: bool,
        base: Vec<BlobId>,
    ) -> Entry {
        let entry = Entry {
            id,
            kind,
            offset: self.data.len() as u64,
            length: stored.len() as u64,
            raw_length: raw_length as u64,
            compressed,
            base,
        };
        self.data.extend_from_slice(stored);
        self.entries.push(entry.clone());
        entry
    }

    /// The finished pack's bytes and name (the BLAKE3 of the bytes); its header sealed by
    /// `keys` (the blobs were sealed as they were pushed).
    pub fn finish(mut self, keys: &Keys) -> (String, Vec<u8>, Vec<Entry>) {
        let mut header = Vec::new();
        ciborium::into_writer(&self.entries, &mut header).expect("a header encodes into memory");
        let header = keys.seal(HEADER_CONTEXT, header);
        self.data.extend_from_slice(&header);
        self.data.extend_from_slice(&(header.len() as u32).to_le_bytes());
        self.data.extend_from_slice(MAGIC);
        let name = blake3::hash(&self.data).to_hex().to_string();
        (name, self.data, self.entries)
    }
}

/// The header length from the last [`TRAILER`] bytes of a pack.
pub fn header_length(trailer: &[u8], pack: &str) -> Result<u64, Error> {
    if trailer.len() != TRAILER || &trailer[4..] != MAGIC {
        return Err(Error::Corrupt {
            what: format!("pack {pack} does not end with a pack trailer"),
        });
    }
    Ok(u64::from(u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"))))
}

/// Decodes a pack header, checking that its entries lie inside `data_length` bytes.
pub fn decode_header(bytes: &[u8], data_length: u64, pack: &str) -> Result<Vec<Entry>, Error> {
    let entries: Vec<Entry> = ciborium::from_reader(bytes).map_err(|e| Error::Corrupt {
        what: format!("pack {pack}: header does not decode: {e}"),
    })?;
    if let Some(bad) =
        entries.iter().find(|e| e.offset.checked_add(e.length).is_none_or(|end| end > data_length))
    {
        return Err(Error::Corrupt {
            what: format!("pack {pack}: blob {} lies outside the pack", bad.id),
        });
    }
    Ok(entries)
}

pub fn encode_index(packs: &[IndexedPack]) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(packs, &mut out).expect("an index encodes into memory");
    out
}

pub fn decode_index(bytes: &[u8], name: &str) -> Result<Vec<IndexedPack>, Error> {
    ciborium::from_reader(bytes)
        .map_err(|e| Error::Corrupt { what: format!("index {name} does not decode: {e}") })
}

/// A blob's bytes from what was stored (opened by `keys`, decompressed), checked against its
/// id. `prefix` is the bytes of the entry's bases, concatenated (empty for a plain blob).
pub fn unpack(
    entry: &Entry,
    stored: &[u8],
    prefix: &[u8],
    pack: &str,
    keys: &Keys,
) -> Result<Vec<u8>, Error> {
    let context = Keys::blob_context(&entry.id, entry.kind);
    let stored = keys.open(&context, stored, &format!("pack {pack}: blob {}", entry.id))?;
    let stored = &*stored;
    let data = if !entry.base.is_empty() {
        decompress_delta(stored, prefix, entry.raw_length as usize).map_err(|e| Error::Corrupt {
            what: format!("pack {pack}: delta blob {} does not decompress: {e}", entry.id),
        })?
    } else if entry.compressed {
        zstd::bulk::decompress(stored, entry.raw_length as usize).map_err(|e| Error::Corrupt {
            what: format!("pack {pack}: blob {} does not decompress: {e}", entry.id),
        })?
    } else {
        stored.to_vec()
    };
    if data.len() as u64 != entry.raw_length || keys.blob_id(&data) != entry.id {
        return Err(Error::Corrupt {
            what: format!("pack {pack}: blob {} does not match its hash", entry.id),
        });
    }
    Ok(data)
}

/// A zstd context (level 3) kept from one blob to the next by a thread that stores many:
/// creating and initialising a context for each blob cost as much again as compressing a
/// small file (most filestore files are one chunk of 10-100 KiB). About 3 MiB.
pub struct Compressor(zstd::bulk::Compressor<'static>);

impl Compressor {
    pub fn new() -> Compressor {
        Compressor(zstd::bulk::Compressor::new(3).expect("level 3 is a valid level"))
    }

    /// What to store for `data`: zstd level 3, or the bytes themselves when compression
    /// saves less than 1/32.
    pub fn compress(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        match self.0.compress(data) {
            Ok(c) if c.len() < data.len() - data.len() / 32 => (c, true),
            _ => (data.to_vec(), false),
        }
    }
}

impl Default for Compressor {
    fn default() -> Compressor {
        Compressor::new()
    }
}

/// `data` compressed by zstd (level 3) against `prefix` (the bases' bytes), when that is
/// smaller than `plain` bytes.
pub fn compress_delta(data: &[u8], prefix: &[u8], plain: usize) -> Option<Vec<u8>> {
    use zstd::zstd_safe::{CCtx, CParameter};
    let mut cctx = CCtx::try_create()?;
    cctx.set_parameter(CParameter::CompressionLevel(3)).ok()?;
    cctx.set_parameter(CParameter::WindowLog(DELTA_WINDOW_LOG)).ok()?;
    // Long-distance matching finds the long matches against the whole prefix that level 3's
    // small hash tables lose on repetitive text (rows of a dump), as `zstd --patch-from`.
    cctx.set_parameter(CParameter::EnableLongDistanceMatching(true)).ok()?;
    cctx.ref_prefix(prefix).ok()?;
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
    cctx.compress2(&mut out, data).ok()?;
    (out.len() < plain).then_some(out)
}

fn decompress_delta(stored: &[u8], prefix: &[u8], raw_length: usize) -> Result<Vec<u8>, String> {
    use zstd::zstd_safe::{DCtx, DParameter};
    let mut dctx = DCtx::try_create().ok_or("no memory for a decompression context")?;
    let fail = |code| zstd::zstd_safe::get_error_name(code).to_string();
    dctx.set_parameter(DParameter::WindowLogMax(DELTA_WINDOW_LOG)).map_err(fail)?;
    dctx.ref_prefix(prefix).map_err(fail)?;
    let mut out = Vec::with_capacity(raw_length);
    dctx.decompress(&mut out, stored).map_err(fail)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::random_bytes;

    fn compress(data: &[u8]) -> (Vec<u8>, bool) {
        Compressor::new().compress(data)
    }

    #[test]
    fn a_pack_round_trips() {
        let mut b = Builder::default();
        let text = b"compressible ".repeat(1000);
        let (stored, compressed) = compress(&text);
        assert!(compressed && stored.len() < text.len() / 10);
        let e1 =
            b.push(BlobId::of(&text), BlobKind::Data, &stored, text.len(), compressed, Vec::new());
        let noise: Vec<u8> =
            (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let (stored2, c2) = compress(&noise);
        let e2 = b.push(BlobId::of(&noise), BlobKind::Tree, &stored2, noise.len(), c2, Vec::new());
        let (name, bytes, entries) = b.finish(&Keys::plain());
        assert_eq!(name, blake3::hash(&bytes).to_hex().as_str());
        let header = read_header(&bytes, &name);
        assert_eq!(header, entries);
        assert_eq!(header, [e1.clone(), e2]);
        for e in &header {
            let stored = &bytes[e.offset as usize..(e.offset + e.length) as usize];
            let data = unpack(e, stored, &[], &name, &Keys::plain()).unwrap();
            assert_eq!(BlobId::of(&data), e.id);
        }
        let mut flipped = bytes[..e1.length as usize].to_vec();
        flipped[5] ^= 1;
        assert!(unpack(&e1, &flipped, &[], &name, &Keys::plain()).is_err());
    }

    /// The header of the pack `bytes`, read back as a reader does.
    fn read_header(bytes: &[u8], name: &str) -> Vec<Entry> {
        let len = header_length(&bytes[bytes.len() - TRAILER..], name).unwrap() as usize;
        let data_len = (bytes.len() - TRAILER - len) as u64;
        decode_header(&bytes[data_len as usize..bytes.len() - TRAILER], data_len, name).unwrap()
    }

    /// Lines of SQL-like text, line `i` of seed `seed`.
    fn rows(seed: u64, lines: std::ops::Range<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        for i in lines {
            let n = (i ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            out.extend_from_slice(
                format!(
                    "{i}\t{}\tcustomer {}\t{}\n",
                    n >> 44,
                    n % 9973,
                    "x".repeat((n % 40) as usize)
                )
                .as_bytes(),
            );
        }
        out
    }

    #[test]
    fn a_delta_round_trips_only_with_its_bases() {
        let old = rows(1, 0..20_000);
        let mut new = old.clone();
        // A few rows change length, spread over the chunk.
        for at in (1000..new.len()).step_by(50_000) {
            new.splice(at..at + 3, b"changed row".iter().copied());
        }
        let plain = compress(&new).0.len();
        let delta = compress_delta(&new, &old, plain).expect("a delta is smaller");
        assert!(delta.len() * 20 < plain, "delta {} against plain {plain}", delta.len());
        let mut b = Builder::default();
        let base = vec![BlobId::of(&old)];
        let e = b.push(BlobId::of(&new), BlobKind::Data, &delta, new.len(), true, base.clone());
        let (name, bytes, entries) = b.finish(&Keys::plain());
        let header = read_header(&bytes, &name);
        assert_eq!(header, entries);
        assert_eq!(header[0].base, base, "the base list is in the header");
        assert_eq!(unpack(&e, &delta, &old, &name, &Keys::plain()).unwrap(), new);
        assert!(
            unpack(&e, &delta, &[], &name, &Keys::plain()).is_err(),
            "decoded without its base"
        );
        let other = rows(2, 0..20_000);
        assert!(
            unpack(&e, &delta, &other, &name, &Keys::plain()).is_err(),
            "decoded against another base"
        );
        // Unrelated data makes no delta worth storing.
        let noise = random_bytes(100_000, 0x9e37_79b9_7f4a_7c15);
        assert!(compress_delta(&noise, &old, compress(&noise).0.len()).is_none());
    }

    #[test]
    fn a_compressor_reused_from_blob_to_blob_stores_each_as_a_fresh_one_would() {
        let noise = random_bytes(300_000, 0x2545_f491_4f6c_dd1d);
        let blobs = [rows(3, 0..40_000), b"x".to_vec(), noise, rows(4, 0..100), vec![0; 70_000]];
        let mut reused = Compressor::new();
        for (n, data) in blobs.iter().enumerate() {
            let (stored, compressed) = reused.compress(data);
            assert_eq!((&stored, compressed), (&Compressor::new().compress(data).0, compressed));
            assert_eq!(compressed, n != 1 && n != 2, "blob {n}");
            let e = Entry {
                id: BlobId::of(data),
                kind: BlobKind::Data,
                offset: 0,
                length: stored.len() as u64,
                raw_length: data.len() as u64,
                compressed,
                base: Vec::new(),
            };
            assert_eq!(&unpack(&e, &stored, &[], "p", &Keys::plain()).unwrap(), data, "blob {n}");
        }
    }

    #[test]
    fn a_plain_entry_encodes_without_a_base_field() {
        let mut b = Builder::default();
        b.push(BlobId::of(b"x"), BlobKind::Data, b"x", 1, false, Vec::new());
        let (_, _, entries) = b.finish(&Keys::plain());
        let mut bytes = Vec::new();
        ciborium::into_writer(&entries, &mut bytes).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"base"), "format-1 readers see the same entry");
    }

    #[test]
    fn a_truncated_pack_is_refused() {
        let (name, bytes, _) = Builder::default().finish(&Keys::plain());
        assert!(header_length(&bytes[..TRAILER - 1], &name).is_err());
        assert!(header_length(b"xxxxOEPACK02", &name).is_err());
    }
}
