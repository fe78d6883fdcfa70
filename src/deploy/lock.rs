//! `oe.lock`: the exact images of an installation. `oe pull` writes the registry digest of
//! every image it pulled; `oe start` runs exactly those digests; `oe pull --lock FILE` pulls
//! another installation's digests, so a staging host runs byte-identical images to
//! production's. YAML, written atomically; reading it checks every digest's form.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::AtomicFile;
use crate::exit::{ExitCode, ExitStatus};

/// Role → its image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub images: BTreeMap<String, LockedImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    /// The reference the manifest names (`org/odoo:18.0`).
    pub reference: String,
    /// The image by content: `repository@sha256:<64 hex>`.
    pub digest: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the lock file {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("lock file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the lock file {}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => source.exit_code(),
            Error::Invalid { .. } => ExitCode::BadInput,
        }
    }
}

const HEADER: &str = "# Written by `oe pull`: the images `oe start` runs, by digest. \
                      `oe pull --lock THIS_FILE` elsewhere pulls the same.\n";

impl Lock {
    /// `None` when the file does not exist.
    pub fn read(path: &Path) -> Result<Option<Lock>, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Read { path: path.to_owned(), source }),
        };
        let invalid = |message: String| Error::Invalid { path: path.to_owned(), message };
        let lock: Lock = serde_yaml_ng::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for (role, image) in &lock.images {
            if !is_digest_reference(&image.digest) {
                return Err(invalid(format!(
                    "images.{role}.digest: found '{}'; accepted: REPOSITORY@sha256:<64 hex digits>",
                    image.digest
                )));
            }
        }
        Ok(Some(lock))
    }

    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let write = || -> std::io::Result<()> {
            let text = serde_yaml_ng::to_string(self).map_err(std::io::Error::other)?;
            let mut out = AtomicFile::create(path)?;
            out.write_all(HEADER.as_bytes())?;
            out.write_all(text.as_bytes())?;
            out.commit()
        };
        write().map_err(|source| Error::Write { path: path.to_owned(), source })
    }

    pub fn digest(&self, role: &str) -> Option<&str> {
        self.images.get(role).map(|i| i.digest.as_str())
    }
}

/// `repository@sha256:<64 lowercase hex>`, the repository without a tag.
pub fn is_digest_reference(text: &str) -> bool {
    let Some((repository, digest)) = text.split_once("@sha256:") else { return false };
    !repository.is_empty()
        && !repository.starts_with('-')
        && digest.len() == 64
        && digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The repository of an image reference: without its `@digest` and its `:tag` (a `:` after
/// the last `/`; one before it is a registry's port).
pub fn repository(reference: &str) -> &str {
    let name = reference.split_once('@').map_or(reference, |(name, _)| name);
    match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => &name[..colon],
        _ => name,
    }
}

/// The tag of an image reference (`18.0` of `org/odoo:18.0`), if it names one.
pub fn repository_tag(reference: &str) -> Option<&str> {
    let name = reference.split_once('@').map_or(reference, |(name, _)| name);
    name[repository(name).len()..].strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn repositories_drop_tag_and_digest_but_keep_a_registry_port() {
        assert_eq!(repository("nginx"), "nginx");
        assert_eq!(repository("org/odoo:18.0"), "org/odoo");
        assert_eq!(repository("127.0.0.1:5000/oe-test/odoo:18.0"), "127.0.0.1:5000/oe-test/odoo");
        assert_eq!(repository("127.0.0.1:5000/oe-test/odoo"), "127.0.0.1:5000/oe-test/odoo");
        assert_eq!(repository(&format!("odoo@sha256:{HEX}")), "odoo");
        assert_eq!(repository_tag("127.0.0.1:5000/org/odoo:18.0"), Some("18.0"));
        assert_eq!(repository_tag("127.0.0.1:5000/org/odoo"), None);
    }

    #[test]
    fn writes_and_reads_back_and_refuses_a_bad_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oe.lock");
        assert_eq!(Lock::read(&path).unwrap(), None);
        let mut lock = Lock::default();
        lock.images.insert(
            "odoo".into(),
            LockedImage {
                reference: "org/odoo:18.0".into(),
                digest: format!("org/odoo@sha256:{HEX}"),
            },
        );
        lock.write(&path).unwrap();
        assert_eq!(Lock::read(&path).unwrap(), Some(lock));

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(HEX, "abc")).unwrap();
        let error = Lock::read(&path).unwrap_err().to_string();
        assert!(error.contains("images.odoo.digest: found 'org/odoo@sha256:abc'"), "{error}");
    }
}
