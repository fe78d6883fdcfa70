//! Snapshots: one complete, restorable picture of one configured directory at one time.
//!
//! A snapshot is a small JSON object stored in the repository (its id is the BLAKE3 of its
//! bytes): the directory, the time, the host, the root [`Tree`](super::tree::Tree) and the
//! run's statistics. It is written last, after every blob it references is durable and
//! indexed, so a snapshot that exists is complete; a run that could not read some files still
//! writes one, marked `partial` with the errors.
//!
//! Pure: the type, its encoding and the selection of snapshots by id, `latest` and directory.

use serde::{Deserialize, Serialize};

use super::BlobId;
use crate::exit::{ExitCode, ExitStatus};
use crate::rules::retention::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The configured directory, as configured (absolute).
    pub dir: String,
    /// When the run started, seconds since the Unix epoch (UTC).
    pub time: i64,
    pub host: String,
    /// The root tree: the directory itself.
    pub tree: BlobId,
    /// The snapshot whose unchanged files this one reused without reading them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub stats: Stats,
    /// Some files could not be read (`errors` says which): they are missing from it.
    #[serde(default)]
    pub partial: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The version of `oe` that wrote it.
    pub oe: String,
}

/// What a run stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub files: u64,
    pub dirs: u64,
    /// Bytes of file content in the snapshot.
    pub bytes: u64,
    /// Files read (the others were unchanged since the parent snapshot).
    pub files_read: u64,
    /// Bytes of content the repository did not have before this run, uncompressed.
    pub new_bytes: u64,
    /// Blobs the repository did not have before this run (data and trees).
    pub new_blobs: u64,
}

/// A snapshot as listed: its id and its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub snapshot: Snapshot,
}

impl Listed {
    /// The first 8 hex digits of the id, as listings show it.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(8)]
    }

    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.snapshot.time)
            .unwrap_or(Timestamp::from_unix_seconds(0).unwrap())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("snapshot {id} does not decode: {reason}")]
    Decode { id: String, reason: String },
    #[error("no snapshot of {dir} in the repository")]
    NoSnapshot { dir: String },
    #[error("no snapshot {id} of {dir} (see `oe mirror snapshots --dir {dir}`)")]
    NotFound { id: String, dir: String },
    #[error("snapshot id {id} is ambiguous: give more digits")]
    Ambiguous { id: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Decode { .. } => ExitCode::BadInput,
            _ => ExitCode::Usage,
        }
    }
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a snapshot always encodes")
    }

    pub fn decode(id: &str, bytes: &[u8]) -> Result<Snapshot, Error> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Decode { id: id.into(), reason: e.to_string() })
    }
}

/// Sorts snapshots oldest first (by time, then id), as listings show them.
pub fn sort(snapshots: &mut [Listed]) {
    snapshots.sort_by(|a, b| (a.snapshot.time, &a.id).cmp(&(b.snapshot.time, &b.id)));
}

/// The snapshot of `dir` named by `wanted`: `latest`, or an id or a unique prefix of one.
pub fn select<'a>(snapshots: &'a [Listed], dir: &str, wanted: &str) -> Result<&'a Listed, Error> {
    let of_dir = snapshots.iter().filter(|s| s.snapshot.dir == dir);
    if wanted == "latest" {
        return of_dir
            .max_by(|a, b| (a.snapshot.time, &a.id).cmp(&(b.snapshot.time, &b.id)))
            .ok_or_else(|| Error::NoSnapshot { dir: dir.into() });
    }
    let mut matches = of_dir.filter(|s| s.id.starts_with(wanted));
    match (matches.next(), matches.next()) {
        (Some(one), None) if !wanted.is_empty() => Ok(one),
        (Some(_), _) => Err(Error::Ambiguous { id: wanted.into() }),
        (None, _) => Err(Error::NotFound { id: wanted.into(), dir: dir.into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, dir: &str, time: i64) -> Listed {
        Listed {
            id: id.into(),
            snapshot: Snapshot {
                dir: dir.into(),
                time,
                host: "h".into(),
                tree: BlobId([0; 32]),
                parent: None,
                stats: Stats::default(),
                partial: false,
                errors: vec![],
                oe: "0".into(),
            },
        }
    }

    #[test]
    fn selects_latest_of_the_directory() {
        let all = [listed("aa", "/home", 10), listed("bb", "/home", 30), listed("cc", "/srv", 40)];
        assert_eq!(select(&all, "/home", "latest").unwrap().id, "bb");
        assert_eq!(select(&all, "/srv", "latest").unwrap().id, "cc");
        assert!(matches!(select(&all, "/etc", "latest"), Err(Error::NoSnapshot { .. })));
    }

    #[test]
    fn selects_by_unique_prefix_within_the_directory() {
        let all =
            [listed("ab12", "/home", 1), listed("ab34", "/home", 2), listed("ab56", "/srv", 3)];
        assert_eq!(select(&all, "/home", "ab1").unwrap().id, "ab12");
        assert!(matches!(select(&all, "/home", "ab"), Err(Error::Ambiguous { .. })));
        assert!(matches!(select(&all, "/home", "ab5"), Err(Error::NotFound { .. })));
        assert!(matches!(select(&all, "/home", ""), Err(Error::Ambiguous { .. })));
    }

    #[test]
    fn encodes_and_decodes() {
        let s = listed("x", "/home", 5).snapshot;
        assert_eq!(Snapshot::decode("x", &s.encode()).unwrap(), s);
        assert!(matches!(Snapshot::decode("x", b"{"), Err(Error::Decode { .. })));
    }
}
