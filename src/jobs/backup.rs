//! `backup`, `backups` and the backup half of `restore`: timestamped archives of a database
//! in `<backup_dir>/<db>/<db>_<UTC yyyy-mm-dd_HH-MM-SS>.zip` (Odoo's download naming), and
//! retention.
//!
//! Retention runs only after a backup succeeded, considers only complete backups of the same
//! database (never `.partial` files of other runs), and never deletes the newest one.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::exit::{ExitCode, ExitStatus};
use crate::jobs::save::{self, SaveRequest, SaveSummary};
use crate::pg::ConnParams;
use crate::rules::retention::{self, BackupName, Policy, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no backup directory: set one with 'oe config --backup-dir DIR'")]
    NoBackupDir,
    #[error("backup directory {}", path.display())]
    Dir { path: PathBuf, source: io::Error },
    #[error("no complete backup of '{database}' in {}", dir.display())]
    NoBackup { database: String, dir: PathBuf },
    #[error(transparent)]
    Save(#[from] save::Error),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::NoBackupDir => ExitCode::Usage,
            Error::Dir { source, .. } => source.exit_code(),
            Error::NoBackup { .. } => ExitCode::BadInput,
            Error::Save(e) => e.exit_code(),
        }
    }
}

/// A complete backup found in the backup directory.
#[derive(Debug, Clone, Serialize)]
pub struct BackupFile {
    pub path: PathBuf,
    pub database: String,
    /// UTC, as in the name: `yyyy-mm-dd_HH-MM-SS`.
    pub time: String,
    pub size: u64,
    #[serde(skip)]
    timestamp: Timestamp,
    /// The older of the name's time and the file's mtime: what retention judges the age by,
    /// so a file copied in with a future name does not stay young.
    #[serde(skip)]
    age_from: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct BackupSummary {
    #[serde(flatten)]
    pub saved: SaveSummary,
    /// Older backups removed by retention.
    pub deleted: Vec<PathBuf>,
    /// Backups of the database kept by retention, this one included.
    pub kept: usize,
}

/// What to back up: a database and its filestore.
pub struct BackupRequest {
    pub conn: ConnParams,
    pub database: String,
    /// Odoo's data directory (the filestore is `<data_dir>/filestore/<database>`).
    pub data_dir: PathBuf,
    pub threads: usize,
    pub progress: ProgressBar,
}

/// Saves into the backup directory, then applies retention.
pub async fn backup(
    request: BackupRequest,
    backup_dir: Option<&Path>,
    policy: Policy,
) -> Result<BackupSummary, Error> {
    let backup_dir = backup_dir.ok_or(Error::NoBackupDir)?;
    let dir = backup_dir.join(&request.database);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|source| Error::Dir { path: dir.clone(), source })?;
    let name = BackupName { database: request.database.clone(), time: now(&dir)? };
    let database = request.database.clone();
    let saved = save::save(SaveRequest {
        conn: request.conn,
        database: request.database,
        data_dir: request.data_dir,
        output: dir.join(name.file_name()),
        with_filestore: true,
        strict: false,
        threads: request.threads,
        progress: request.progress,
    })
    .await?;
    let (deleted, kept) = apply_retention(backup_dir, &database, policy)?;
    Ok(BackupSummary { saved, deleted, kept })
}

/// Complete backups in `backup_dir`, of `database` or of every database, newest first.
pub fn list(backup_dir: &Path, database: Option<&str>) -> Result<Vec<BackupFile>, Error> {
    let dir_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Dir { path, source }
    };
    let dirs: Vec<PathBuf> = match database {
        Some(db) => vec![backup_dir.join(db)],
        None => match fs::read_dir(backup_dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(dir_error(backup_dir)(e)),
        },
    };
    let mut backups = Vec::new();
    for dir in dirs {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(dir_error(&dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(dir_error(&dir))?;
            let Some(name) = entry.file_name().to_str().and_then(BackupName::parse) else {
                continue;
            };
            if database.is_some_and(|db| db != name.database) {
                continue;
            }
            let metadata = entry.metadata().map_err(dir_error(&dir))?;
            let modified = metadata.modified().ok().and_then(Timestamp::from_system_time);
            backups.push(BackupFile {
                path: entry.path(),
                database: name.database,
                time: name.time.to_string(),
                size: metadata.len(),
                timestamp: name.time,
                age_from: modified.map_or(name.time, |m| m.min(name.time)),
            });
        }
    }
    backups.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then_with(|| a.path.cmp(&b.path)));
    Ok(backups)
}

/// The newest complete backup of `database`.
pub fn newest(backup_dir: &Path, database: &str) -> Result<PathBuf, Error> {
    let backups = list(backup_dir, Some(database))?;
    let dated: Vec<(PathBuf, Timestamp)> =
        backups.into_iter().map(|b| (b.path, b.timestamp)).collect();
    retention::newest(&dated).cloned().ok_or_else(|| Error::NoBackup {
        database: database.to_owned(),
        dir: backup_dir.join(database),
    })
}

/// The clock, as backup names write it (`dir` names the backups' directory in the error).
fn now(dir: &Path) -> Result<Timestamp, Error> {
    Timestamp::from_system_time(SystemTime::now()).ok_or_else(|| Error::Dir {
        path: dir.to_path_buf(),
        source: io::Error::other("the clock is outside years 0000-9999"),
    })
}

/// Deletes the backups of `database` that `policy` does not keep; returns (deleted, kept).
fn apply_retention(
    backup_dir: &Path,
    database: &str,
    policy: Policy,
) -> Result<(Vec<PathBuf>, usize), Error> {
    let backups = list(backup_dir, Some(database))?;
    let dated: Vec<(PathBuf, Timestamp)> =
        backups.into_iter().map(|b| (b.path, b.age_from)).collect();
    let plan = retention::select(&dated, policy, now(&backup_dir.join(database))?);
    for path in &plan.delete {
        fs::remove_file(path).map_err(|source| Error::Dir { path: path.clone(), source })?;
        tracing::info!("retention: deleted {}", path.display());
    }
    Ok((plan.delete, plan.keep.len()))
}
