//! The key files of an encrypted repository: listing, adding (the master key wrapped by a
//! new passphrase) and removing them. The master key never changes, so no object is
//! rewritten; removing a key file takes away that passphrase's access from now on, not from
//! whoever copied the file (or the master key) before.

use serde::Serialize;

use super::Repository;
use super::write::put_key_file;
use crate::repo::crypto::KeyFile;
use crate::repo::{Error, ObjectKind};

/// A key file, as `oe mirror key list` shows it.
#[derive(Debug, Serialize)]
pub struct KeyInfo {
    pub id: String,
    pub created: String,
    pub host: String,
    /// The one this repository was opened with.
    pub current: bool,
}

impl Repository {
    pub fn encrypted(&self) -> bool {
        self.keys.encrypted()
    }

    /// The seed of the chunker's gear table (see [`Keys::chunker_seed`](crate::repo::crypto::Keys::chunker_seed)).
    pub fn chunker_seed(&self) -> u64 {
        self.keys.chunker_seed()
    }

    /// The key files, oldest first.
    pub fn key_files(&self) -> Result<Vec<KeyInfo>, Error> {
        self.require_encrypted()?;
        let names = self.storage.list(ObjectKind::Key).map_err(Error::io("listing key files"))?;
        let mut keys = Vec::with_capacity(names.len());
        for name in names {
            let bytes = self
                .storage
                .get(ObjectKind::Key, &name)
                .map_err(Error::io(format!("reading key {name}")))?;
            let file = KeyFile::decode(&bytes, &name)?;
            let current = self.key_file.as_deref() == Some(name.as_str());
            keys.push(KeyInfo { id: name, created: file.created, host: file.host, current });
        }
        keys.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(keys)
    }

    /// Adds a key file for `passphrase`; returns its id.
    pub fn add_key(&self, passphrase: &str) -> Result<String, Error> {
        self.require_encrypted()?;
        let master = self.keys.master().expect("an encrypted repository's keys have a master");
        put_key_file(&*self.storage, &KeyFile::wrap(master, passphrase))
    }

    /// Removes the key file whose id starts with `prefix`; never the last one.
    pub fn remove_key(&self, prefix: &str) -> Result<String, Error> {
        let keys = self.key_files()?;
        let matching: Vec<&KeyInfo> = keys.iter().filter(|k| k.id.starts_with(prefix)).collect();
        let key = match matching.as_slice() {
            [key] => *key,
            [] => return Err(Error::NoSuchKey { prefix: prefix.into() }),
            _ => return Err(Error::NoSuchKey { prefix: format!("{prefix} (ambiguous)") }),
        };
        if keys.len() == 1 {
            return Err(Error::LastKey);
        }
        self.storage
            .delete(ObjectKind::Key, &key.id)
            .map_err(Error::io(format!("removing key {}", key.id)))?;
        Ok(key.id.clone())
    }

    /// Replaces the key file this repository was opened with by one for `passphrase`;
    /// returns the new id.
    pub fn change_passphrase(&self, passphrase: &str) -> Result<String, Error> {
        let added = self.add_key(passphrase)?;
        let old = self.key_file.as_deref().expect("opened with a key file");
        self.storage
            .delete(ObjectKind::Key, old)
            .map_err(Error::io(format!("removing the old key {old}")))?;
        Ok(added)
    }

    fn require_encrypted(&self) -> Result<(), Error> {
        match self.keys.encrypted() {
            true => Ok(()),
            false => Err(Error::NotEncrypted { path: self.path.clone() }),
        }
    }
}
