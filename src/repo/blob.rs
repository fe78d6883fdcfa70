//! [`BlobId`], the name of a blob (the BLAKE3 of its uncompressed bytes), and [`BlobKind`].
//!
//! Pure: no I/O. How blobs are stored is [`pack`](super::pack)'s business.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The BLAKE3 of a blob's uncompressed bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    pub fn of(data: &[u8]) -> BlobId {
        BlobId(*blake3::hash(data).as_bytes())
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl FromStr for BlobId {
    type Err = ();
    fn from_str(s: &str) -> Result<BlobId, ()> {
        let hash = blake3::Hash::from_hex(s).map_err(|_| ())?;
        Ok(BlobId(*hash.as_bytes()))
    }
}

/// As a CBOR/JSON byte string of 32 bytes.
impl Serialize for BlobId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for BlobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BlobId, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("a blob id has 32 bytes"))?;
        Ok(BlobId(array))
    }
}

/// What a blob holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    Data,
    Tree,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_print_and_parse_as_hex() {
        let id = BlobId::of(b"hello");
        let text = id.to_string();
        assert_eq!(text, blake3::hash(b"hello").to_hex().as_str());
        assert_eq!(text.parse::<BlobId>().unwrap(), id);
        assert!("xyz".parse::<BlobId>().is_err());
    }
}
