//! `oe restore`: the newest complete backup of a database (or a given one) back into its
//! service, as [`load`](super::load) loads an archive, staging rules included. The backup
//! comes from the backup directory, or from the snapshots of a mirror repository
//! (`--from`), read in place from the repository without a local copy.
//!
//! In a repository, backups are looked for in the latest snapshot of every mirrored
//! directory (or in one given snapshot): files named as `oe backup` names its own
//! ([`BackupName`]) in a directory named after their database, as `oe backup` writes them
//! (`<backup_dir>/<db>/<db>_<time>.zip`), whichever directory of the snapshot that is.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::backup;
use super::load_db::{Origin, SeekRead, Seekable};
use super::mirror::file::{ChunkMap, SnapshotFile};
use super::mirror::job::{self as mirror_job, list};
use super::mirror::run::load_tree;
use crate::exit::{ExitCode, ExitStatus};
use crate::repo::snapshot::{self, Listed};
use crate::repo::tree::{Kind, Node, Tree};
use crate::repo::{self, Repository};
use crate::rules::retention::{self, BackupName, Timestamp};

/// The backup to restore: `file` when given, else the newest complete backup of `database`
/// in the backup directory.
pub fn backup_to_restore(
    file: Option<PathBuf>,
    backup_dir: Option<&Path>,
    database: &str,
) -> Result<PathBuf, backup::Error> {
    if let Some(file) = file {
        return Ok(file);
    }
    let dir = backup_dir.ok_or(backup::Error::NoBackupDir)?;
    let newest = backup::newest(dir, database)?;
    tracing::info!("restoring {}", newest.display());
    Ok(newest)
}

/// Why no backup of a repository could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Mirror(#[from] mirror_job::Error),
    #[error(transparent)]
    Snapshot(#[from] snapshot::Error),
    #[error("reading snapshot {snapshot} of {dir}")]
    Tree { snapshot: String, dir: String, source: super::mirror::run::Error },
    #[error("{repository} holds no snapshot: nothing to restore from (see `oe mirror snapshots`)")]
    NoSnapshot { repository: String },
    #[error("{repository} has no snapshot {id} (see `oe mirror snapshots`)")]
    UnknownSnapshot { repository: String, id: String },
    #[error("no complete backup of '{database}' in {searched} of {repository}{}", others(.found))]
    NoBackup { database: String, repository: String, searched: String, found: Vec<String> },
    #[error("no backup in {searched} of {repository}")]
    NoBackups { repository: String, searched: String },
    #[error(
        "{searched} of {repository} hold backups of several databases: {}; choose one with \
         --source-db",
        .databases.join(", ")
    )]
    SeveralDatabases { repository: String, searched: String, databases: Vec<String> },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Repo(e) => e.exit_code(),
            Error::Mirror(e) => e.exit_code(),
            Error::Snapshot(e) => e.exit_code(),
            Error::Tree { source, .. } => source.exit_code(),
            Error::UnknownSnapshot { .. } | Error::SeveralDatabases { .. } => ExitCode::Usage,
            Error::NoSnapshot { .. } | Error::NoBackup { .. } | Error::NoBackups { .. } => {
                ExitCode::BadInput
            }
        }
    }
}

/// The databases that do have backups, for a message.
fn others(found: &[String]) -> String {
    match found {
        [] => String::new(),
        _ => format!(" (backups found of: {}; choose one with --source-db)", found.join(", ")),
    }
}

/// A complete backup found in a snapshot of a repository.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotBackup {
    /// The snapshot's id.
    pub snapshot: String,
    /// The snapshot's directory.
    pub dir: String,
    /// The backup's path in the snapshot, relative to its directory.
    pub path: String,
    pub database: String,
    /// UTC, as in the name: `yyyy-mm-dd_HH-MM-SS`.
    pub time: String,
    pub size: u64,
    #[serde(skip)]
    timestamp: Timestamp,
    #[serde(skip)]
    node: Node,
}

impl SnapshotBackup {
    /// The backup in messages: `/var/backups/oe/acme/acme_….zip of snapshot 1a2b3c4d`.
    pub fn describe(&self) -> String {
        let short = &self.snapshot[..self.snapshot.len().min(8)];
        format!("{}/{} of snapshot {short}", self.dir.trim_end_matches('/'), self.path)
    }
}

/// The newest complete backup of `database` in the latest snapshot of every directory of
/// `repo` (`wanted` = `latest`) or in snapshot `wanted` (an id or a unique prefix of one).
/// Without a database, the only database with backups there; several are an error listing
/// them. `repository` names the repository in messages.
pub fn find_in_repository(
    repo: &Repository,
    repository: &str,
    wanted: &str,
    database: Option<&str>,
) -> Result<SnapshotBackup, Error> {
    let all = list(repo)?;
    let searched_snapshots = searched(&all, wanted, repository)?;
    let searched = match wanted {
        "latest" => "the latest snapshots".to_owned(),
        _ => format!("snapshot {}", searched_snapshots[0].short_id()),
    };
    let mut found = Vec::new();
    for listed in searched_snapshots {
        let tree_error = |source| Error::Tree {
            snapshot: listed.short_id().to_owned(),
            dir: listed.snapshot.dir.clone(),
            source,
        };
        let root = load_tree(repo, listed.snapshot.tree).map_err(tree_error)?;
        let root_name = Path::new(&listed.snapshot.dir)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut walk = Walk { repo, listed, found: &mut found };
        walk.tree(&root, "", &root_name).map_err(tree_error)?;
    }
    let databases: BTreeSet<&str> = found.iter().map(|b| b.database.as_str()).collect();
    let database = match (database, databases.len()) {
        (Some(db), _) => db.to_owned(),
        (None, 0) => {
            return Err(Error::NoBackups { repository: repository.into(), searched });
        }
        (None, 1) => databases.first().map(|db| db.to_string()).unwrap_or_default(),
        (None, _) => {
            let databases = databases.iter().map(|db| db.to_string()).collect();
            return Err(Error::SeveralDatabases {
                repository: repository.into(),
                searched,
                databases,
            });
        }
    };
    let names: Vec<String> = databases.iter().map(|db| db.to_string()).collect();
    let dated: Vec<(&SnapshotBackup, Timestamp)> =
        found.iter().filter(|b| b.database == database).map(|b| (b, b.timestamp)).collect();
    let newest = retention::newest(&dated).ok_or_else(|| Error::NoBackup {
        database: database.clone(),
        repository: repository.into(),
        searched,
        found: names,
    })?;
    tracing::info!("restoring {} from {repository}", newest.describe());
    Ok((*newest).clone())
}

/// The snapshots to look into: the latest of every directory, or the one `wanted` names.
fn searched<'a>(
    all: &'a [Listed],
    wanted: &str,
    repository: &str,
) -> Result<Vec<&'a Listed>, Error> {
    if all.is_empty() {
        return Err(Error::NoSnapshot { repository: repository.into() });
    }
    if wanted == "latest" {
        let dirs: BTreeSet<&str> = all.iter().map(|s| s.snapshot.dir.as_str()).collect();
        return dirs.into_iter().map(|dir| Ok(snapshot::select(all, dir, "latest")?)).collect();
    }
    let mut matches = all.iter().filter(|s| s.id.starts_with(wanted));
    match (matches.next(), matches.next()) {
        (Some(one), None) if !wanted.is_empty() => Ok(vec![one]),
        (Some(_), _) => Err(snapshot::Error::Ambiguous { id: wanted.into() }.into()),
        (None, _) => {
            Err(Error::UnknownSnapshot { repository: repository.into(), id: wanted.into() })
        }
    }
}

/// A walk of one snapshot's trees, collecting its backups.
struct Walk<'a> {
    repo: &'a Repository,
    listed: &'a Listed,
    found: &'a mut Vec<SnapshotBackup>,
}

impl Walk<'_> {
    /// `tree` is the directory at `path` (relative, empty for the root) named `name`.
    fn tree(
        &mut self,
        tree: &Tree,
        path: &str,
        name: &str,
    ) -> Result<(), super::mirror::run::Error> {
        for node in &tree.nodes {
            // Backups have UTF-8 names; anything else is not one, nor holds one of ours.
            let Ok(node_name) = std::str::from_utf8(&node.name) else { continue };
            let node_path =
                if path.is_empty() { node_name.to_owned() } else { format!("{path}/{node_name}") };
            match (node.kind, node.subtree) {
                (Kind::Dir, Some(subtree)) => {
                    let subtree = load_tree(self.repo, subtree)?;
                    self.tree(&subtree, &node_path, node_name)?;
                }
                (Kind::File, _) => {
                    let Some(backup) = BackupName::parse(node_name) else { continue };
                    if backup.database != name {
                        continue;
                    }
                    self.found.push(SnapshotBackup {
                        snapshot: self.listed.id.clone(),
                        dir: self.listed.snapshot.dir.clone(),
                        path: node_path,
                        database: backup.database,
                        time: backup.time.to_string(),
                        size: node.size,
                        timestamp: backup.time,
                        node: node.clone(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The backup `found` of `repo` (called `repository` in messages) as a load's input, read
/// in place: the zip's central directory, then its entries, a chunk at a time.
pub fn open_in_repository(
    repo: Arc<Repository>,
    found: &SnapshotBackup,
    repository: &str,
) -> Result<Origin, Error> {
    let chunks = ChunkMap::of(&repo, &found.node)?;
    let file = SnapshotFile::new(repo, chunks);
    let name = format!("{} in {repository}", found.describe());
    Ok(Origin::Seekable { name, input: Arc::new(file) })
}

impl Seekable for SnapshotFile {
    fn open(&self) -> io::Result<Box<dyn SeekRead>> {
        Ok(Box::new(self.reader()))
    }

    fn size(&self) -> u64 {
        SnapshotFile::size(self)
    }
}
