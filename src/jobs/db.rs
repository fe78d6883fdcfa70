//! `oe db`: what Odoo's web database manager does, for operators whose production closes it
//! (`list_db = False`): list the databases of a service, copy, rename and remove a database
//! together with its filestore. Works on any service, managed or not.
//!
//! Databases are never replaced and sessions never ended: a target that exists is refused
//! ([`Error::Exists`]), and a database other sessions use is refused with their names
//! ([`Error::InUse`]), where Odoo's manager would end them. The one exception is `oe stage`'s
//! copy, which asks to replace its staging database ([`CopyRequest::replace`]): the previous
//! one goes only once the copy has its name. The caller holds the advisory
//! locks of the databases named (`pg::lock_database`), so no other run of `oe` works on them
//! meanwhile.
//!
//! A copy reuses the load's pieces: the database is created under a helper name
//! (`<dst>-oe-tmp-<run>`, claimed for the life of the run) `WITH TEMPLATE` the source, made a
//! copy as Odoo's Duplicate makes it (`odoo::database::DUPLICATE_SQL`), while the filestore is
//! hard-linked into a staged directory beside its target (`odoo::filestore::Staged`); both
//! are renamed into place only once both are complete. On any failure both are removed; what
//! a SIGKILL leaves, `oe clean` (or the next copy to the same target) removes.
//!
//! A removal is planned ([`plan_remove`]: the checks, what would go), then applied
//! ([`remove`]: the backup of `jobs::backup`, `DROP DATABASE`, the filestore).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::exit::{ExitCode, ExitStatus};
use crate::jobs::backup::{self, BackupFile, BackupRequest};
use crate::jobs::swap::{Retired, SwapError, discard, swap_in};
use crate::jobs::{clean, neutralize};
use crate::odoo::filestore::{self, Staged};
use crate::odoo::layout::filestore_dir;
use crate::pg::odoo::{OdooDb, Redirect, Redirected};
use crate::pg::server::derived_name;
use crate::pg::{self, Claims, ConnParams, Server, SqlState};
use crate::rules::retention::Policy;
use crate::stop;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("'{0}' is both the source and the target")]
    Same(String),
    #[error(
        "database '{0}' exists: `oe db` never replaces a database; pick another name, or remove \
         it first (oe db rm)"
    )]
    Exists(String),
    #[error(
        "the filestore {} exists, without a database '{database}': move it away or remove it first",
        path.display()
    )]
    FilestoreExists { database: String, path: PathBuf },
    #[error(
        "cannot {doing} '{database}': it is being accessed by other users ({}); stop what uses it \
         (Odoo's workers, a psql) and try again: oe never ends sessions",
        if sessions.is_empty() { "a prepared transaction, or a session just ending".to_owned() } else { sessions.join(", ") }
    )]
    InUse { doing: &'static str, database: String, sessions: Vec<String> },
    #[error("{what} {}", path.display())]
    Filestore {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "refusing to remove '{0}': it is this installation's production database (see `oe config`); \
         pass --force if it really must go"
    )]
    Production(String),
    #[error(
        "no backup directory to back up '{0}' into before removing it: set one with \
         'oe config --backup-dir DIR', or pass --no-backup"
    )]
    NoBackupDir(String),
    #[error("backing up '{database}' before removing it; nothing was removed")]
    Backup { database: String, source: backup::Error },
    #[error("finishing what a killed run on the database left")]
    Settle(#[source] clean::Error),
    #[error(transparent)]
    Neutralize(#[from] neutralize::Error),
    #[error("interrupted by {}; {left}", stop::signal_name(*signal))]
    Interrupted { signal: i32, left: &'static str },
    #[error("streaming pg_dump into pg_restore")]
    Stream(#[source] io::Error),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) => e.exit_code(),
            Error::Same(_) | Error::Production(_) | Error::NoBackupDir(_) => ExitCode::Usage,
            Error::Exists(_) | Error::FilestoreExists { .. } => ExitCode::Exists,
            Error::InUse { .. } => ExitCode::Failure,
            Error::Filestore { source, .. } => source.exit_code(),
            Error::Backup { source, .. } => source.exit_code(),
            Error::Settle(e) => e.exit_code(),
            Error::Neutralize(e) => e.exit_code(),
            Error::Interrupted { signal, .. } => ExitCode::from_signal(*signal),
            Error::Stream(_) => ExitCode::Failure,
        }
    }
}

/// `source` copied into a new `target` while it is in use: `pg_dump` (custom format,
/// uncompressed) streamed into `pg_restore`, neither touching the disk in between. The copy
/// stands only when both exited 0; the error named is the one that stopped the stream.
async fn stream_copy(
    conn: &ConnParams,
    server: &Server,
    source: &str,
    target: &str,
) -> Result<(), Error> {
    server.create(target).await?;
    let tools = pg::Tools::new(conn, server.major());
    let (source, target) = (source.to_owned(), target.to_owned());
    let streamed = tokio::task::spawn_blocking(move || -> Result<(), Box<Error>> {
        let pg = |e: crate::process::Error| Box::new(Error::Pg(e.into()));
        let started = |e: pg::Error| Box::new(Error::Pg(e));
        let mut dump =
            tools.dump(&source, pg::tools::DumpKind::CustomUncompressed).map_err(started)?;
        let mut restore = tools.restorer(&target).map_err(started)?;
        let copied = io::copy(&mut dump, &mut restore);
        let restored = restore.close();
        let dumped = dump.close();
        match copied {
            // Its input gone (a broken pipe): pg_restore stopped first, and says why.
            Err(e) => Err(restored.err().map_or_else(|| Box::new(Error::Stream(e)), pg)),
            Ok(_) => dumped.and(restored).map_err(pg),
        }
    })
    .await;
    streamed.unwrap_or_else(|e| Err(Box::new(Error::Stream(io::Error::other(e))))).map_err(|e| *e)
}

/// What an interrupted copy leaves.
const COPY_REMOVED: &str = "the copy (database and filestore) was removed";

/// One line of `oe db ls`: `None` where it is unknown (not an Odoo database, no filestore,
/// no backup, or a database the user may not connect to).
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseInfo {
    pub name: String,
    /// Bytes on disk (`pg_database_size`).
    pub size: Option<u64>,
    /// `latest_version` of the module `base`.
    pub version: Option<String>,
    /// Installed modules that are applications.
    pub applications: Option<u64>,
    pub filestore_files: Option<u64>,
    pub filestore_bytes: Option<u64>,
    /// The newest complete backup in the backup directory.
    pub newest_backup: Option<BackupFile>,
}

/// Every database of the server (not templates, `postgres` or oe's helper databases), by
/// name. A database that cannot be read is listed with what could be read.
pub async fn list(
    conn: &ConnParams,
    data_dir: &Path,
    backup_dir: Option<&Path>,
) -> Result<Vec<DatabaseInfo>, Error> {
    let server = Server::connect(conn).await?;
    let mut infos = Vec::new();
    for name in server.databases().await? {
        let size = server.size(&name).await.map_err(|e| unreadable(&name, &e)).ok();
        let installed = match OdooDb::connect(conn, &name).await {
            Ok(db) => db.installed().await.map_err(|e| unreadable(&name, &e)).ok().flatten(),
            Err(e) => {
                unreadable(&name, &e);
                None
            }
        };
        infos.push(DatabaseInfo {
            size,
            version: installed.as_ref().and_then(|i| i.version.clone()),
            applications: installed.map(|i| i.applications),
            filestore_files: None,
            filestore_bytes: None,
            newest_backup: None,
            name,
        });
    }
    let (data_dir, backup_dir) = (data_dir.to_path_buf(), backup_dir.map(Path::to_path_buf));
    let infos = tokio::task::spawn_blocking(move || {
        for info in &mut infos {
            let dir = filestore_dir(&data_dir, &info.name);
            if dir.is_dir() {
                match filestore::list(&dir, &std::env::temp_dir()) {
                    Ok(listing) => {
                        info.filestore_files = Some(listing.files());
                        info.filestore_bytes = Some(listing.bytes());
                    }
                    Err(e) => tracing::warn!("cannot list the filestore {}: {e}", dir.display()),
                }
            }
            if let Some(backup_dir) = &backup_dir {
                match backup::list(backup_dir, Some(&info.name)) {
                    Ok(backups) => info.newest_backup = backups.into_iter().next(),
                    Err(e) => tracing::warn!("{}", crate::exit::message(&e)),
                }
            }
        }
        infos
    })
    .await
    .map_err(|e| Error::Filestore {
        what: "listing the filestores in",
        path: PathBuf::new(),
        source: io::Error::other(e),
    })?;
    Ok(infos)
}

/// Says why a database's details are missing from the listing: quietly when the user may
/// not connect to it (a normal case on a shared server).
fn unreadable(name: &str, e: &pg::Error) {
    if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        tracing::info!("'{name}' is listed without details: {e}");
    } else {
        tracing::warn!("'{name}' is listed without details: {e}");
    }
}

/// What to copy where.
pub struct CopyRequest {
    pub conn: ConnParams,
    /// Odoo's data directory (filestores are in `<data_dir>/filestore/`).
    pub data_dir: PathBuf,
    pub source: String,
    pub target: String,
    /// Neutralize the copy before it gets its name (Odoo's "Neutralize" box).
    pub neutralize: bool,
    pub addons_path: Option<Vec<PathBuf>>,
    /// Give an Odoo database a new identity, as Odoo's Duplicate does (`oe db cp`); not for
    /// a copy that is to take the source's place (`oe update`).
    pub duplicate: bool,
    /// Copy a database in use (`oe db cp --live`): `pg_dump` streamed into `pg_restore`, a
    /// consistent snapshot while its sessions go on, instead of `CREATE DATABASE … TEMPLATE`,
    /// which needs the source free of sessions but copies files.
    pub live: bool,
    /// Replace the target if it exists (`oe stage`), once the copy is complete.
    pub replace: bool,
    /// Point the copy's mail at a catcher and set its base URL (`oe stage`), last.
    pub redirect: Option<Redirect>,
    /// Leave the replaced database and filestore set aside, in [`CopySummary::retired`], for
    /// the caller to remove during its next step (`oe stage`: while Odoo starts on the copy).
    pub keep_replaced: bool,
}

#[derive(Debug, Serialize)]
pub struct CopySummary {
    pub source: String,
    pub target: String,
    /// Files of the filestore, each hard-linked or, where that failed, copied; `None`
    /// without a source filestore.
    pub filestore_files: Option<u64>,
    pub filestore_bytes: Option<u64>,
    pub linked_files: u64,
    /// Whether the copy got a new identity (an Odoo database: it has `ir_config_parameter`).
    pub new_identity: bool,
    /// Rows the neutralization changed, when asked.
    pub neutralized_rows: Option<u64>,
    /// Where the copy's mail and links were pointed, when asked.
    pub redirected: Option<Redirected>,
    /// Whether an existing target was replaced.
    pub replaced: bool,
    pub seconds: f64,
    /// What the copy replaced, with `keep_replaced`: the caller removes it.
    #[serde(skip)]
    pub retired: Retired,
}

/// Copies a database and its filestore; see the module's documentation.
pub async fn copy(request: CopyRequest) -> Result<CopySummary, Error> {
    let started = Instant::now();
    let CopyRequest {
        conn,
        data_dir,
        source,
        target,
        neutralize,
        addons_path,
        duplicate,
        live,
        replace,
        redirect,
        keep_replaced,
    } = request;
    if source == target {
        return Err(Error::Same(source));
    }
    let server = Server::connect(&conn).await?;
    let root = data_dir.join("filestore");
    // A killed copy to the same target left something: removed first (we hold its lock).
    clean::settle(&conn, Some(&root), &target).await.map_err(Error::Settle)?;
    let (source_dir, target_dir) =
        (filestore_dir(&data_dir, &source), filestore_dir(&data_dir, &target));
    let replaced = refuse_targets(&server, &source, &target, &target_dir, replace).await?;
    if !live {
        refuse_sessions(&server, &source, "copy").await?;
    }
    let temporary = derived_name(&target, "tmp");
    // The helpers' names are this run's while it lives: `oe clean` leaves them alone.
    let claims = Claims::open(&conn, &format!("oe db cp {target}")).await?;
    for name in [&temporary, &derived_name(&target, "old")] {
        if !claims.claim(name).await? {
            let holder = "another run".to_owned();
            return Err(pg::Error::Busy { database: name.clone(), holder }.into());
        }
    }
    let filestore_error = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Filestore { what, path, source }
    };
    // A replaced target's filestore goes too, even when the source has none.
    let staged = if source_dir.is_dir() || replace {
        Some(Staged::create(&target_dir).map_err(filestore_error("creating beside", &target_dir))?)
    } else {
        None
    };
    // The database and the filestore are copied at the same time.
    let linking = {
        let (source_dir, root) = (source_dir.clone(), root.clone());
        tokio::task::spawn_blocking(move || match staged {
            Some(staged) => link_all(staged, &source_dir, &root).map(Some),
            None => Ok(None),
        })
    };
    let created = match live {
        true => stream_copy(&conn, &server, &source, &temporary).await,
        false => match server.create_from(&temporary, &source).await {
            Err(e) => Err(in_use(&server, &source, "copy", e).await),
            Ok(()) => Ok(()),
        },
    };
    let linked = linking
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
        .map_err(filestore_error("copying the filestore", &source_dir));
    let created = match created {
        Err(e) => {
            discard(&server, &temporary).await;
            return Err(e);
        }
        Ok(()) => linked,
    };
    let finished = match created {
        Ok(staged) => match stop::signal() {
            Some(signal) => Err(Error::Interrupted { signal, left: COPY_REMOVED }),
            None => {
                let finishing = (duplicate, neutralize, addons_path.as_deref(), redirect.as_ref());
                finish(&conn, &temporary, finishing).await.map(|finished| (staged, finished))
            }
        },
        Err(e) => Err(e),
    };
    let swapped = match finished {
        Ok((staged, finished)) => swap(&server, &temporary, &target, staged, replaced)
            .await
            .map(|files| (files, finished)),
        Err(e) => Err(e),
    };
    let ((filestore, linked_files, retired), (new_identity, neutralized_rows, redirected)) =
        match swapped {
            Ok(done) => done,
            Err(e) => {
                discard(&server, &temporary).await;
                return Err(match stop::signal() {
                    Some(signal) => Error::Interrupted { signal, left: COPY_REMOVED },
                    None => e,
                });
            }
        };
    let retired = retired.kept_or_removed(keep_replaced, &server).await;
    Ok(CopySummary {
        source,
        target,
        filestore_files: filestore.map(|(files, _)| files),
        filestore_bytes: filestore.map(|(_, bytes)| bytes),
        linked_files,
        new_identity,
        neutralized_rows,
        redirected,
        replaced,
        seconds: started.elapsed().as_secs_f64(),
        retired,
    })
}

/// Every file of the filestore `source_dir` into `staged`, hard-linked where possible.
/// Returns the staged filestore and how many files were linked (the others were copied);
/// on an error or a signal, the staged directory is removed.
fn link_all(mut staged: Staged, source_dir: &Path, spill: &Path) -> io::Result<(Staged, u64)> {
    let mut listing = filestore::list(source_dir, spill)?;
    let mut linked = 0;
    for entry in listing.entries()? {
        stop::check()?;
        let entry = entry?;
        if staged.link(&entry.relative, &entry.path(source_dir))? {
            linked += 1;
        }
    }
    Ok((staged, linked))
}

/// Makes the copy `db` a new database as Odoo's Duplicate does, where it is an Odoo
/// database and `duplicate` asks it, neutralizes it and points its mail and links elsewhere
/// when asked. Returns (new identity, rows neutralized, where it was pointed).
async fn finish(
    conn: &ConnParams,
    db: &str,
    (duplicate, neutralize, addons_path, redirect): (
        bool,
        bool,
        Option<&[PathBuf]>,
        Option<&Redirect>,
    ),
) -> Result<(bool, Option<u64>, Option<Redirected>), Error> {
    let mut odoo = OdooDb::connect(conn, db).await?;
    let odoo_db = duplicate && odoo.has_config_parameters().await?;
    if odoo_db {
        odoo.execute_batch(crate::odoo::database::DUPLICATE_SQL, "giving the copy a new identity")
            .await?;
    }
    let rows = match neutralize {
        true => {
            let plan = neutralize::plan(conn, db, addons_path).await?;
            Some(neutralize::apply(conn, db, plan).await?.rows)
        }
        false => None,
    };
    let redirected = match redirect {
        Some(redirect) => Some(odoo.redirect(redirect).await?),
        None => None,
    };
    Ok((odoo_db, rows, redirected))
}

/// Puts the staged filestore, then the database, in place; the filestore is removed again if
/// the database cannot take its name. Returns the filestore's (files, bytes) and how many
/// were linked.
async fn swap(
    server: &Server,
    temporary: &str,
    target: &str,
    staged: Option<(Staged, u64)>,
    replace: bool,
) -> Result<(Option<(u64, u64)>, u64, Retired), Error> {
    let (staged, counts, linked) = match staged {
        Some((staged, linked)) => {
            let counts = (staged.files(), staged.bytes());
            (Some(staged), Some(counts), linked)
        }
        None => (None, None, 0),
    };
    let retired =
        swap_in(server, temporary, target, staged, replace).await.map_err(|e| match e {
            SwapError::Filestore(source) => Error::Filestore {
                what: "putting in place the filestore of",
                path: PathBuf::from(target),
                source,
            },
            SwapError::Database(e) => e.into(),
        })?;
    Ok((counts, linked, retired))
}

/// Refuses a missing source, and an existing target database or filestore unless `replace`;
/// returns whether the target database exists (and is to be replaced).
async fn refuse_targets(
    server: &Server,
    source: &str,
    target: &str,
    target_dir: &Path,
    replace: bool,
) -> Result<bool, Error> {
    if !server.exists(source).await? {
        return Err(pg::Error::NoSuchDatabase(source.to_owned()).into());
    }
    let exists = server.exists(target).await?;
    if replace {
        return Ok(exists);
    }
    if exists {
        return Err(Error::Exists(target.to_owned()));
    }
    if target_dir.exists() {
        return Err(Error::FilestoreExists {
            database: target.to_owned(),
            path: target_dir.to_path_buf(),
        });
    }
    Ok(false)
}

/// Refuses a database other sessions are connected to, naming them, before the server
/// would (after waiting 5 s).
async fn refuse_sessions(server: &Server, db: &str, doing: &'static str) -> Result<(), Error> {
    let sessions = server.sessions(db).await?;
    if sessions.is_empty() {
        return Ok(());
    }
    Err(Error::InUse { doing, database: db.to_owned(), sessions })
}

/// The server's refusal of a database in use (a session connected since we looked) as
/// [`Error::InUse`]; any other error as it is.
async fn in_use(server: &Server, db: &str, doing: &'static str, e: pg::Error) -> Error {
    if e.code() != Some(&SqlState::OBJECT_IN_USE) {
        return e.into();
    }
    let sessions = server.sessions(db).await.unwrap_or_default();
    Error::InUse { doing, database: db.to_owned(), sessions }
}

#[derive(Debug, Serialize)]
pub struct RenameSummary {
    pub database: String,
    pub renamed_to: String,
    /// Whether a filestore was renamed with it.
    pub filestore: bool,
}

/// Renames a database and its filestore; if the filestore cannot be renamed, the database
/// gets its name back.
pub async fn rename(
    conn: &ConnParams,
    data_dir: &Path,
    old: &str,
    new: &str,
) -> Result<RenameSummary, Error> {
    if old == new {
        return Err(Error::Same(old.to_owned()));
    }
    let server = Server::connect(conn).await?;
    let (old_dir, new_dir) = (filestore_dir(data_dir, old), filestore_dir(data_dir, new));
    refuse_targets(&server, old, new, &new_dir, false).await?;
    refuse_sessions(&server, old, "rename").await?;
    if let Err(e) = server.rename(old, new).await {
        return Err(in_use(&server, old, "rename", e).await);
    }
    let moved = match std::fs::rename(&old_dir, &new_dir) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !old_dir.exists() => false,
        Err(source) => {
            if let Err(back) = server.rename(new, old).await {
                tracing::error!("could not give database '{new}' its name '{old}' back: {back}");
            }
            let what = "renaming the filestore (the database kept its name)";
            return Err(Error::Filestore { what, path: old_dir, source });
        }
    };
    Ok(RenameSummary { database: old.to_owned(), renamed_to: new.to_owned(), filestore: moved })
}

/// What `oe db rm` does, found before anything is touched (`--dry-run` shows it).
#[derive(Debug, Serialize)]
pub struct RemovePlan {
    pub database: String,
    /// The backup directory (`backup_dir`) the database is backed up into first, as
    /// `oe backup` does; `None` with `--no-backup`.
    pub backup_dir: Option<PathBuf>,
    /// The filestore removed with it, when there is one.
    pub filestore: Option<PathBuf>,
    /// Odoo's data directory, which the backup reads the filestore from.
    #[serde(skip)]
    data_dir: PathBuf,
}

/// Plans the removal of `database`: it must exist and have no other session, and a backup
/// (unless `backup` is false) needs `backup_dir`.
pub async fn plan_remove(
    conn: &ConnParams,
    database: &str,
    data_dir: &Path,
    backup: bool,
    backup_dir: Option<&Path>,
) -> Result<RemovePlan, Error> {
    let server = Server::connect(conn).await?;
    if !server.exists(database).await? {
        return Err(pg::Error::NoSuchDatabase(database.to_owned()).into());
    }
    refuse_sessions(&server, database, "remove").await?;
    let backup_dir = match (backup, backup_dir) {
        (false, _) => None,
        (true, Some(dir)) => Some(dir.to_path_buf()),
        (true, None) => return Err(Error::NoBackupDir(database.to_owned())),
    };
    let dir = filestore_dir(data_dir, database);
    Ok(RemovePlan {
        database: database.to_owned(),
        backup_dir,
        filestore: dir.is_dir().then_some(dir),
        data_dir: data_dir.to_path_buf(),
    })
}

/// How `oe db rm` backs up first: as `oe backup -d DB` does.
pub struct BackupFirst {
    pub policy: Policy,
    pub threads: usize,
    pub progress: ProgressBar,
}

#[derive(Debug, Serialize)]
pub struct RemoveSummary {
    pub database: String,
    /// The backup taken first.
    pub backup: Option<PathBuf>,
    /// Whether a filestore was removed with it.
    pub filestore: bool,
}

/// Carries out `plan`: backs up (into the plan's backup directory), drops the database
/// (never ending its sessions), then removes its filestore.
pub async fn remove(
    conn: &ConnParams,
    plan: RemovePlan,
    first: BackupFirst,
) -> Result<RemoveSummary, Error> {
    let RemovePlan { database, backup_dir, data_dir, .. } = plan;
    let server = Server::connect(conn).await?;
    let backup = match backup_dir.as_deref() {
        None => None,
        Some(backup_dir) => {
            let request = BackupRequest {
                conn: conn.clone(),
                database: database.clone(),
                data_dir: data_dir.clone(),
                threads: first.threads,
                progress: first.progress,
            };
            let summary = backup::backup(request, Some(backup_dir), first.policy)
                .await
                .map_err(|source| Error::Backup { database: database.clone(), source })?;
            Some(summary.saved.output)
        }
    };
    if let Some(signal) = stop::signal() {
        return Err(Error::Interrupted { signal, left: "nothing was removed" });
    }
    if let Err(e) = server.drop_idle(&database).await {
        return Err(in_use(&server, &database, "remove", e).await);
    }
    let dir = filestore_dir(&data_dir, &database);
    let filestore = filestore::remove(&dir).map_err(|source| Error::Filestore {
        what: "removing (the database is dropped) the filestore",
        path: dir,
        source,
    })?;
    Ok(RemoveSummary { database, backup, filestore })
}
