//! `oe restore`: the newest complete backup of a database (or a given one) back into its
//! service, as [`load`](super::load) loads an archive, staging rules included.

use std::path::{Path, PathBuf};

use super::backup;

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
