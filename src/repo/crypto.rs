//! Encryption at rest: what an encrypted repository's objects are sealed with, and the key
//! files that hold its master key.
//!
//! # Keys
//!
//! A repository encrypted at `init` has one random **master key** of 72 bytes: 32 for the
//! AEAD (XChaCha20-Poly1305), 32 for blob ids (keyed BLAKE3), 8 for the chunker's seed
//! (FastCDC's gear table). It is stored only wrapped, in **key files** (`keys/<BLAKE3 of the
//! file>`, JSON): the master key sealed by a key derived from a passphrase by Argon2id (64 MiB,
//! 3 passes, a random 16-byte salt; the parameters are in the file). Any key file opens the
//! repository; `oe mirror key add/remove/passwd` add and remove them, never changing the
//! master key (so no object is rewritten).
//!
//! # Objects
//!
//! Every blob in a pack, every pack header, index file and snapshot is sealed on its own:
//! a random 24-byte nonce, then the ciphertext and its 16-byte tag. The associated data binds
//! it to what it is: `oe blob <kind> <id>` for a blob (so a blob moved to another id, or a
//! tree offered as data, does not open), `oe pack header`, `oe index`, `oe snapshot`. An
//! index file or a snapshot is named by the BLAKE3 of its sealed bytes, which every read
//! checks, so one cannot be served under another's name; a pack is named likewise, and its
//! blobs are found by the ids its sealed header gives.
//!
//! Blob ids are BLAKE3 keyed with the id key: whoever holds the storage cannot confirm that
//! a known file is in it by hashing that file. What the storage still learns: the number and
//! sizes of objects and blobs (a blob's sealed size is its compressed size + 40 bytes), when
//! they are written, and which blobs later snapshots reuse (deduplication is visible as the
//! absence of new writes).

use std::borrow::Cow;
use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::{BlobId, BlobKind, Error};

/// What `config` says of an encrypted repository.
pub const SCHEME: &str = "xchacha20poly1305+blake3-keyed+argon2id";

const NONCE: usize = 24;
const TAG: usize = 16;
/// Bytes a sealed object has more than its plaintext.
pub const OVERHEAD: usize = NONCE + TAG;
const MASTER: usize = 72;

/// Argon2id's cost for new key files: 64 MiB, 3 passes, 1 lane (about half a second).
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_ITERATIONS: u32 = 3;

/// How objects are sealed and blobs named: in the clear, or with a repository's master key.
#[derive(Default)]
pub struct Keys {
    secret: Option<Box<Secret>>,
}

struct Secret {
    cipher: XChaCha20Poly1305,
    id_key: [u8; 32],
    chunker_seed: u64,
    /// The key these come from (none for a key file's wrapping key).
    master: Option<MasterKey>,
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.id_key.zeroize();
        self.chunker_seed.zeroize();
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.secret.is_some() { "Keys(encrypted)" } else { "Keys(plain)" })
    }
}

/// A repository's master key, in the clear (zeroed when dropped).
pub struct MasterKey(Zeroizing<[u8; MASTER]>);

impl MasterKey {
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; MASTER]);
        random(&mut *bytes);
        MasterKey(bytes)
    }

    pub fn keys(&self) -> Keys {
        let m = &*self.0;
        let cipher = XChaCha20Poly1305::new_from_slice(&m[..32]).expect("a 32-byte key");
        let id_key: [u8; 32] = m[32..64].try_into().expect("32 bytes");
        // Never 0: FastCDC's seed 0 is its public table.
        let chunker_seed = u64::from_le_bytes(m[64..72].try_into().expect("8 bytes")) | 1;
        let master = Some(MasterKey(self.0.clone()));
        Keys { secret: Some(Box::new(Secret { cipher, id_key, chunker_seed, master })) }
    }
}

impl Keys {
    /// No encryption: blobs named by plain BLAKE3, objects stored as they are.
    pub fn plain() -> Keys {
        Keys::default()
    }

    pub fn encrypted(&self) -> bool {
        self.secret.is_some()
    }

    /// A blob's id: BLAKE3 of its bytes, keyed in an encrypted repository.
    pub fn blob_id(&self, data: &[u8]) -> BlobId {
        match &self.secret {
            Some(s) => BlobId(*blake3::keyed_hash(&s.id_key, data).as_bytes()),
            None => BlobId::of(data),
        }
    }

    /// The seed of the chunker's gear table: 0 (FastCDC's own) when not encrypted.
    pub fn chunker_seed(&self) -> u64 {
        self.secret.as_ref().map_or(0, |s| s.chunker_seed)
    }

    /// `data` sealed with `context` as associated data; `data` itself when not encrypted.
    pub fn seal(&self, context: &[u8], data: Vec<u8>) -> Vec<u8> {
        let Some(s) = &self.secret else { return data };
        let mut nonce = [0u8; NONCE];
        random(&mut nonce);
        // One copy of the bytes, encrypted where they lie: blobs are up to 4 MiB, and every
        // one of a run is sealed.
        let mut out = Vec::with_capacity(OVERHEAD + data.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        let tag = s
            .cipher
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), context, &mut out[NONCE..])
            .expect("XChaCha20-Poly1305 seals any length we store");
        out.extend_from_slice(&tag);
        out
    }

    /// What [`seal`](Self::seal) sealed with `context` (`data` itself when not encrypted); a
    /// wrong key, a changed byte or another context is [`Error::Corrupt`] naming `what`.
    pub fn open<'a>(
        &self,
        context: &[u8],
        data: &'a [u8],
        what: &str,
    ) -> Result<Cow<'a, [u8]>, Error> {
        let Some(s) = &self.secret else { return Ok(Cow::Borrowed(data)) };
        let corrupt = || Error::Corrupt {
            what: format!("{what} does not decrypt: damaged, or not this repository's"),
        };
        if data.len() < OVERHEAD {
            return Err(corrupt());
        }
        let (nonce, sealed) = data.split_at(NONCE);
        let opened = s
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context })
            .map_err(|_| corrupt())?;
        Ok(Cow::Owned(opened))
    }

    /// The master key these keys come from, when encrypted (to wrap in a new key file).
    pub fn master(&self) -> Option<&MasterKey> {
        self.secret.as_ref().and_then(|s| s.master.as_ref())
    }

    /// The associated data of a blob: its kind and id.
    pub fn blob_context(id: &BlobId, kind: BlobKind) -> Vec<u8> {
        let kind = match kind {
            BlobKind::Data => "data",
            BlobKind::Tree => "tree",
        };
        format!("oe blob {kind} {id}").into_bytes()
    }
}

/// A key file: the master key sealed by a passphrase's Argon2id key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    pub created: String,
    pub host: String,
    kdf: Kdf,
    /// Base64 of nonce, ciphertext and tag.
    sealed: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    /// Base64 of 16 random bytes.
    salt: String,
}

const KEY_FILE_CONTEXT: &[u8] = b"oe key file";

impl KeyFile {
    /// `master` wrapped by `passphrase`.
    pub fn wrap(master: &MasterKey, passphrase: &str) -> KeyFile {
        let mut salt = [0u8; 16];
        random(&mut salt);
        let kdf = Kdf {
            algorithm: "argon2id".into(),
            memory_kib: KDF_MEMORY_KIB,
            iterations: KDF_ITERATIONS,
            parallelism: 1,
            salt: BASE64.encode(salt),
        };
        let wrapping = kdf.derive(passphrase).expect("our own parameters are valid");
        let sealed = wrapping.seal(KEY_FILE_CONTEXT, master.0.to_vec());
        let created = jiff::Timestamp::now().to_string();
        KeyFile { created, host: super::hostname(), kdf, sealed: BASE64.encode(sealed) }
    }

    /// The master key, if `passphrase` is this file's; `None` if it is not.
    pub fn unwrap(&self, passphrase: &str) -> Result<Option<MasterKey>, Error> {
        let bad = |why: String| Error::Corrupt { what: format!("a key file {why}") };
        let wrapping = self.kdf.derive(passphrase).map_err(bad)?;
        let sealed = BASE64.decode(&self.sealed).map_err(|e| bad(e.to_string()))?;
        match wrapping.open(KEY_FILE_CONTEXT, &sealed, "the key file") {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes.into_owned());
                let master: [u8; MASTER] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| bad("holds a key of the wrong length".into()))?;
                Ok(Some(MasterKey(Zeroizing::new(master))))
            }
            Err(_) => Ok(None),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a key file encodes")
    }

    pub fn decode(bytes: &[u8], name: &str) -> Result<KeyFile, Error> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Corrupt { what: format!("key file {name} does not decode: {e}") })
    }
}

impl Kdf {
    /// The key `passphrase` gives with these parameters (bounded: a key file cannot make us
    /// spend more than 1 GiB or 100 passes).
    fn derive(&self, passphrase: &str) -> Result<Keys, String> {
        if self.algorithm != "argon2id" {
            return Err(format!("uses the unknown algorithm {:?}", self.algorithm));
        }
        if self.memory_kib > 1 << 20 || self.iterations > 100 || self.parallelism > 16 {
            return Err("asks for an unreasonable cost".into());
        }
        let salt = BASE64.decode(&self.salt).map_err(|e| format!("has a bad salt: {e}"))?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| format!("has bad parameters: {e}"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), &salt, &mut *key)
            .map_err(|e| format!("cannot derive a key: {e}"))?;
        let cipher = XChaCha20Poly1305::new_from_slice(&*key).expect("a 32-byte key");
        let secret = Secret { cipher, id_key: [0; 32], chunker_seed: 0, master: None };
        Ok(Keys { secret: Some(Box::new(secret)) })
    }
}

/// Fills `buf` from the kernel's random source.
pub fn random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the kernel's random source");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_objects_open_only_with_their_key_and_context() {
        let keys = MasterKey::generate().keys();
        let sealed = keys.seal(b"oe index", b"hello".to_vec());
        assert_eq!(sealed.len(), 5 + OVERHEAD);
        assert_ne!(keys.seal(b"oe index", b"hello".to_vec()), sealed, "a fresh nonce each time");
        assert_eq!(&*keys.open(b"oe index", &sealed, "x").unwrap(), b"hello");
        assert!(keys.open(b"oe snapshot", &sealed, "x").is_err(), "another context");
        let other = MasterKey::generate().keys();
        assert!(other.open(b"oe index", &sealed, "x").is_err(), "another key");
        for at in [0, NONCE, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[at] ^= 1;
            assert!(keys.open(b"oe index", &flipped, "x").is_err(), "byte {at} flipped");
        }
        assert!(keys.open(b"oe index", &sealed[..OVERHEAD - 1], "x").is_err());

        let plain = Keys::plain();
        assert_eq!(plain.seal(b"oe index", b"hello".to_vec()), b"hello");
        assert_eq!(plain.blob_id(b"hello"), BlobId::of(b"hello"));
        assert_ne!(keys.blob_id(b"hello"), BlobId::of(b"hello"), "ids are keyed");
        assert_ne!(keys.blob_id(b"hello"), other.blob_id(b"hello"));
        assert_ne!(keys.chunker_seed(), 0);
        assert_eq!(plain.chunker_seed(), 0);
    }

    #[test]
    fn a_key_file_opens_with_its_passphrase_only() {
        let master = MasterKey::generate();
        let file = KeyFile::wrap(&master, "correct horse");
        let decoded = KeyFile::decode(&file.encode(), "k").unwrap();
        let opened = decoded.unwrap("correct horse").unwrap().expect("the right passphrase");
        assert_eq!(*opened.0, *master.0);
        assert!(decoded.unwrap("wrong horse").unwrap().is_none());
        let mut costly = decoded.clone();
        costly.kdf.memory_kib = 1 << 30;
        assert!(costly.unwrap("correct horse").is_err(), "a hostile cost is refused");
    }
}
