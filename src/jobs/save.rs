//! `save`: an Odoo backup archive (database and filestore) in Odoo's own layout, which
//! Odoo's database manager restores, written far faster than Odoo writes it.
//!
//! `dump.sql` streams from `pg_dump --no-owner` straight into the zip entry (no temporary
//! dump), then `manifest.json` with Odoo's keys in Odoo's order (and, in its `oe` key, the rows
//! of every table, counted as the dump streamed past), then the filestore files read in
//! place. Entries are compressed on every core; those that do not compress are stored.
//! The archive is written to `<file>.<pid>.partial`, fsynced, and renamed into place only
//! after pg_dump exited 0 and every entry was written.
//!
//! Memory stays bounded at any number of filestore files: the listing and the zip's central
//! directory, the only things that grow with it, spill to unlinked temporary files beside the
//! archive (in the temporary directory for standard output) past a few MiB, and the check
//! for missing attachment files merges the database's names with the listing in order.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use indicatif::ProgressBar;
use serde::Serialize;

use crate::atomic::Output;
use crate::codec::zip::writer::ZipWriter;
use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::filestore::{self, Listing};
use crate::odoo::layout::{DUMP_ENTRY, FILESTORE_PREFIX, MANIFEST_ENTRY, filestore_dir};
use crate::odoo::manifest::{Manifest, OeInfo};
use crate::pg::odoo::OdooDb;
use crate::pg::tools::DumpKind;
use crate::pg::{self, ConnParams, Tools};
use crate::pipeline::meter::Meter;
use crate::pipeline::sql::CountRows;
use crate::stop;

/// How many missing attachment names a warning or error quotes.
const QUOTED_MISSING: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("saving {database} to {}", path.display())]
    Dump { database: String, path: PathBuf, source: pg::Error },
    #[error("writing {}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("reading the filestore {}", path.display())]
    Filestore { path: PathBuf, source: io::Error },
    #[error(
        "{count} attachment file(s) referenced by the database are missing from {} (e.g. {}); \
         drop --strict to save anyway",
        dir.display(), first.join(", ")
    )]
    Missing { count: usize, first: Vec<String>, dir: PathBuf },
    #[error("interrupted by {}; nothing was written to {}", stop::signal_name(*signal), path.display())]
    Interrupted { signal: i32, path: PathBuf },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) | Error::Dump { source: e, .. } => e.exit_code(),
            Error::Write { source, .. } | Error::Filestore { source, .. } => source.exit_code(),
            Error::Missing { .. } => ExitCode::BadInput,
            Error::Interrupted { signal, .. } => ExitCode::from_signal(*signal),
        }
    }
}

pub struct SaveRequest {
    pub conn: ConnParams,
    pub database: String,
    /// Odoo's data directory (the filestore is `<data_dir>/filestore/<database>`).
    pub data_dir: PathBuf,
    /// A file path, or `-` for standard output.
    pub output: PathBuf,
    pub with_filestore: bool,
    /// Missing attachment files are an error rather than a warning.
    pub strict: bool,
    pub threads: usize,
    pub progress: ProgressBar,
}

#[derive(Debug, Serialize)]
pub struct SaveSummary {
    pub database: String,
    pub output: PathBuf,
    pub dump_bytes: u64,
    pub filestore_files: u64,
    pub filestore_bytes: u64,
    pub written_bytes: u64,
    /// Attachment files the database references that the filestore lacks.
    pub missing_files: usize,
    pub seconds: f64,
}

pub async fn save(request: SaveRequest) -> Result<SaveSummary, Error> {
    let started = Instant::now();
    let SaveRequest { conn, database, data_dir, output, with_filestore, strict, threads, progress } =
        request;
    let tools = Tools::for_dump(&conn, &database).await?;
    let odoo = OdooDb::connect(&conn, &database).await?;
    let facts = odoo.manifest_facts().await?;
    let store = filestore_dir(&data_dir, &database);
    let (mut filestore, missing) = if with_filestore {
        let filestore_error = |source| Error::Filestore { path: store.clone(), source };
        let (store, spill) = (store.clone(), spill_dir(&output));
        let listed = tokio::task::spawn_blocking(move || filestore::list(&store, &spill))
            .await
            .map_err(|e| filestore_error(io::Error::other(e)))?;
        let mut listed = listed.map_err(filestore_error)?;
        let missing = missing_files(&odoo, &mut listed).await?.map_err(filestore_error)?;
        (listed, missing)
    } else {
        (Listing::empty(&store), Missing::default())
    };
    if missing.count > 0 {
        let first = missing.first;
        if strict {
            return Err(Error::Missing { count: missing.count, first, dir: store });
        }
        tracing::warn!(
            "{} attachment file(s) referenced by {database} are missing from {} (e.g. {})",
            missing.count,
            store.display(),
            first.join(", ")
        );
    }
    let mut manifest =
        Manifest::new(&database, &facts.base_version, facts.server_version_num, facts.modules);
    manifest.oe = Some(OeInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        filestore_files: filestore.files(),
        filestore_bytes: filestore.bytes(),
        rows: None,
    });
    let job = {
        let (database, output) = (database.clone(), output.clone());
        tokio::task::spawn_blocking(move || {
            write_archive(&tools, &database, manifest, &mut filestore, &output, threads, progress)
        })
    };
    let written = job
        .await
        .map_err(|e| Error::Write { path: output.clone(), source: io::Error::other(e) })?;
    let written = written.map_err(|e| match e {
        Error::Pg(source) => {
            Error::Dump { database: database.clone(), path: output.clone(), source }
        }
        e => e,
    })?;
    Ok(SaveSummary {
        database,
        output,
        dump_bytes: written.dump_bytes,
        filestore_files: written.files,
        filestore_bytes: written.file_bytes,
        written_bytes: written.written_bytes,
        missing_files: missing.count,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Where what grows with the number of files spills (see `pipeline::spill`): beside the
/// archive, on the file system that must have room for it anyway; for standard output, the
/// system's temporary directory (`TMPDIR`, else `/tmp`).
fn spill_dir(output: &Path) -> PathBuf {
    if output == Path::new("-") {
        return std::env::temp_dir();
    }
    match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Attachment files the database references that the filestore lacks: how many, and the
/// first few names.
#[derive(Debug, Default)]
struct Missing {
    count: usize,
    first: Vec<String>,
}

/// Compares the database's attachment files with the listing, both in bytewise order, one
/// name at a time: nothing of either is held whole in memory. The outer error is the
/// database's, the inner one reading the listing back.
async fn missing_files(
    odoo: &OdooDb,
    listing: &mut Listing,
) -> Result<io::Result<Missing>, pg::Error> {
    let mut entries = match listing.entries() {
        Ok(entries) => entries.peekable(),
        Err(e) => return Ok(Err(e)),
    };
    let mut missing = Missing::default();
    let mut failed = None;
    odoo.each_stored_name(|name| {
        if failed.is_some() {
            return;
        }
        loop {
            match entries.peek() {
                Some(Ok(file)) if file.relative.as_str() < name => {
                    entries.next();
                }
                Some(Ok(file)) if file.relative == name => return,
                Some(Err(_)) => {
                    failed = entries.next().and_then(Result::err);
                    return;
                }
                _ => break,
            }
        }
        missing.count += 1;
        if missing.first.len() < QUOTED_MISSING {
            missing.first.push(name.to_owned());
        }
    })
    .await?;
    Ok(match failed {
        Some(e) => Err(e),
        None => Ok(missing),
    })
}

struct Written {
    dump_bytes: u64,
    files: u64,
    file_bytes: u64,
    written_bytes: u64,
}

/// The data step: pg_dump → `dump.sql`, the manifest (with the rows counted in the dump),
/// the filestore → the archive.
fn write_archive(
    tools: &Tools,
    db: &str,
    mut manifest: Manifest,
    filestore: &mut Listing,
    path: &Path,
    threads: usize,
    progress: ProgressBar,
) -> Result<Written, Error> {
    let write_error = |source: io::Error| match stop::signal() {
        Some(signal) => Error::Interrupted { signal, path: path.to_path_buf() },
        None => Error::Write { path: path.to_path_buf(), source },
    };
    let output = Output::create(path).map_err(write_error)?;
    let mut zip = ZipWriter::new(Meter::new(output, ProgressBar::hidden()), threads);
    zip.spill_in(&spill_dir(path));
    let now = SystemTime::now();
    let mut pg_dump = tools.dump(db, DumpKind::PlainSql)?;
    let mut dump = CountRows::new(Meter::new(&mut pg_dump, progress.clone()));
    let streamed = zip.add_stream(DUMP_ENTRY, &mut dump, now);
    let rows = dump.finish();
    // pg_dump's verdict first: a dump cut short must never become an archive.
    let closed = pg_dump.close();
    if let Some(signal) = stop::signal() {
        return Err(Error::Interrupted { signal, path: path.to_path_buf() });
    }
    closed.map_err(pg::Error::from)?;
    let dump_bytes = streamed.map_err(write_error)?;
    if let Some(oe) = manifest.oe.as_mut() {
        oe.rows = Some(rows);
    }
    zip.add_bytes(MANIFEST_ENTRY, &manifest.to_json(), now).map_err(write_error)?;
    let mut file_bytes = 0;
    let count = filestore.files() as usize;
    // Names of Odoo's files: `filestore/` and `ab/<40 hex digits>`.
    zip.reserve(count, count * (FILESTORE_PREFIX.len() + 43));
    let dir = filestore.dir.clone();
    let listing_error = |source| Error::Filestore { path: dir.clone(), source };
    let entries = filestore.entries().map_err(listing_error)?;
    for file in filestore::Readahead::new(&dir, entries) {
        let file = file.map_err(listing_error)?;
        let name = format!("{FILESTORE_PREFIX}{}", file.relative);
        let file_path = file.path(&dir);
        zip.add_file(&name, &file_path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
                Error::Filestore { path: file_path.clone(), source }
            }
            _ => write_error(source),
        })?;
        file_bytes += file.size;
        progress.inc(file.size);
    }
    progress.finish_and_clear();
    let output = zip.finish().map_err(write_error)?;
    let written_bytes = output.total();
    output.into_inner().commit().map_err(write_error)?;
    let files = filestore.files();
    Ok(Written { dump_bytes, files, file_bytes, written_bytes })
}
