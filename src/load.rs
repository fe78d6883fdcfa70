//! `load-db`: a dump of any format into a database, which appears only when complete.
//!
//! Steps: detect the input's format by content (compression, then payload), connect, refuse
//! an existing target without `--force`, create a temporary database beside the target the way
//! Odoo creates databases, stream the dump into it (psql in one transaction stopping at the
//! first error, or pg_restore stopping at the first error), then swap it into place
//! (`Server::replace`). Any failure, including a signal, drops the temporary database and
//! leaves an existing target untouched.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::exit::ExitCode;
use crate::pg::server::derived_name;
use crate::pg::{self, ConnParams, Server, Tools};
use crate::pipeline::codec::SNIFF_LEN;
use crate::pipeline::decode::{Peekable, Stream, decoder};
use crate::pipeline::meter::Meter;
use crate::pipeline::sql::Completeness;
use crate::pipeline::{Codec, CopyError, DumpFormat, Payload, copy};
use crate::process::{ChildWriter, interrupt};

/// The entry of an Odoo backup zip that holds the database.
const ZIP_DUMP_ENTRY: &str = "dump.sql";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("loading {input}: {source}")]
    Load { input: String, source: pg::Error },
    #[error(
        "database '{0}' exists; pass --force to replace it (it is replaced only once the load succeeded)"
    )]
    Exists(String),
    #[error("cannot read {input}: {source}")]
    Open { input: String, source: io::Error },
    #[error(
        "{input}: unknown format (starts with {head}); expected plain SQL, a pg_dump custom-format \
         dump or an Odoo backup zip, optionally compressed with gzip, bzip2 or zstd"
    )]
    UnknownFormat { input: String, head: String },
    #[error("{input} ({format}) is corrupt or truncated: {source}")]
    Corrupt { input: String, format: DumpFormat, source: io::Error },
    #[error("{input} is truncated: the SQL dump ends without pg_dump's completion line")]
    Incomplete { input: String },
    #[error("{input}: no {ZIP_DUMP_ENTRY} in the zip archive; not an Odoo backup")]
    NoDumpInZip { input: String },
    #[error("{input}: {source}")]
    Zip { input: String, source: zip::result::ZipError },
    #[error("spooling {input} for pg_restore --jobs: {source}")]
    Spool { input: String, source: io::Error },
    #[error("interrupted by {}; the temporary database was dropped", interrupt::signal_name(*.0))]
    Interrupted(i32),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) | Error::Load { source: e, .. } => e.exit_code(),
            Error::Exists(_) => ExitCode::Exists,
            Error::Open { .. } | Error::Spool { .. } => ExitCode::Io,
            Error::UnknownFormat { .. }
            | Error::Corrupt { .. }
            | Error::Incomplete { .. }
            | Error::NoDumpInZip { .. }
            | Error::Zip { .. } => ExitCode::BadInput,
            Error::Interrupted(signal) => ExitCode::from_signal(*signal),
        }
    }
}

/// What to load, where to.
pub struct LoadRequest {
    pub conn: ConnParams,
    pub database: String,
    /// A file path, or `-` for standard input.
    pub input: PathBuf,
    pub force: bool,
    /// pg_restore jobs for custom-format dumps (1 = stream, no temporary file).
    pub jobs: usize,
    pub threads: usize,
    pub progress: ProgressBar,
}

#[derive(Debug, Serialize)]
pub struct LoadSummary {
    pub database: String,
    pub input: PathBuf,
    pub format: String,
    /// Bytes of the input read.
    pub read_bytes: u64,
    /// Whether an existing database was replaced.
    pub replaced: bool,
    pub seconds: f64,
}

pub async fn load_db(request: LoadRequest) -> Result<LoadSummary, Error> {
    let started = Instant::now();
    let LoadRequest { conn, database, input, force, jobs, threads, progress } = request;
    let opened = {
        let (path, progress) = (input.clone(), progress.clone());
        let job = tokio::task::spawn_blocking(move || Input::open(&path, threads, progress));
        until_interrupted(job, &input).await?
    };
    let format = opened.format;
    tracing::info!("{}: {format}", input_name(&input));

    let server = Server::connect(&conn).await?;
    let tools = Tools::new(&conn, server.major());
    tools.locate(if format.payload == Payload::Custom { "pg_restore" } else { "psql" })?;
    let replaced = server.exists(&database).await?;
    if replaced && !force {
        return Err(Error::Exists(database));
    }

    let temporary = derived_name(&database, "tmp");
    server.create(&temporary).await?;
    let job = {
        let temporary = temporary.clone();
        tokio::task::spawn_blocking(move || opened.restore(&tools, &temporary, jobs))
    };
    let loaded = until_interrupted(job, &input).await.map_err(|e| match e {
        Error::Pg(source) => Error::Load { input: input_name(&input), source },
        e => e,
    });
    progress.finish_and_clear();
    let swapped = match loaded {
        Ok(read_bytes) => server
            .replace(&temporary, &database, &derived_name(&database, "old"))
            .await
            .map(|()| read_bytes)
            .map_err(Error::from),
        Err(e) => Err(e),
    };
    let read_bytes = match swapped {
        Ok(n) => n,
        Err(e) => {
            if let Err(drop_error) = server.drop(&temporary).await {
                tracing::warn!("could not drop the temporary database '{temporary}': {drop_error}");
            }
            return Err(match interrupt::signal() {
                Some(signal) => Error::Interrupted(signal),
                None => e,
            });
        }
    };
    Ok(LoadSummary {
        database,
        input,
        format: format.to_string(),
        read_bytes,
        replaced,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The result of a blocking step, or `Interrupted` as soon as a signal arrives: the step may
/// be blocked reading a pipe that stays silent, and cleaning up must not wait for it.
async fn until_interrupted<T>(
    job: tokio::task::JoinHandle<Result<T, Error>>,
    input: &Path,
) -> Result<T, Error> {
    tokio::select! {
        joined = job => joined.unwrap_or_else(|e| {
            Err(Error::Open { input: input_name(input), source: io::Error::other(e) })
        }),
        signal = interrupt::raised() => Err(Error::Interrupted(signal)),
    }
}

fn input_name(input: &Path) -> String {
    if input == Path::new("-") { "standard input".into() } else { input.display().to_string() }
}

/// An input whose format is known, positioned at its start.
struct Input {
    name: String,
    format: DumpFormat,
    source: Source,
    /// Counts raw input bytes; shared with the progress bar.
    meter_total: ProgressBar,
}

enum Source {
    /// A decoded stream of the payload.
    Stream(Peekable),
    /// An uncompressed zip in a file: read through its central directory.
    ZipFile(File),
    /// An uncompressed custom-format dump in a file, usable by `pg_restore --jobs` directly.
    CustomFile(PathBuf, Peekable),
}

impl Input {
    fn open(path: &Path, threads: usize, progress: ProgressBar) -> Result<Input, Error> {
        let name = input_name(path);
        let open_error = |source| Error::Open { input: name.clone(), source };
        let (raw, is_file): (Stream, bool) = if path == Path::new("-") {
            (Box::new(io::stdin()), false)
        } else {
            let file = File::open(path).map_err(open_error)?;
            let meta = file.metadata().map_err(open_error)?;
            if meta.is_dir() {
                return Err(open_error(io::Error::other("is a directory")));
            }
            progress.set_length(meta.len());
            (Box::new(file), meta.is_file())
        };
        let mut raw = Peekable::new(Box::new(Meter::new(raw, progress.clone())));
        let codec = Codec::detect(raw.peek(SNIFF_LEN).map_err(open_error)?);
        let mut decoded =
            Peekable::new(decoder(codec, Box::new(raw), threads).map_err(open_error)?);
        let head = decoded.peek(SNIFF_LEN);
        let head = match head {
            Ok(head) => head,
            Err(source) => {
                let format = DumpFormat { payload: Payload::PlainSql, codec };
                return Err(Error::Corrupt { input: name, format, source });
            }
        };
        let payload = Payload::detect(head)
            .ok_or_else(|| Error::UnknownFormat { input: name.clone(), head: hex_head(head) })?;
        let format = DumpFormat { payload, codec };
        let source = match (payload, codec, is_file) {
            (Payload::Zip, Codec::None, true) => {
                Source::ZipFile(File::open(path).map_err(open_error)?)
            }
            (Payload::Custom, Codec::None, true) => Source::CustomFile(path.to_path_buf(), decoded),
            _ => Source::Stream(decoded),
        };
        Ok(Input { name, format, source, meter_total: progress })
    }

    /// Streams the payload into `db`; returns the bytes of input read.
    fn restore(self, tools: &Tools, db: &str, jobs: usize) -> Result<u64, Error> {
        let Input { name, format, source, meter_total } = self;
        let corrupt = |source| Error::Corrupt { input: name.clone(), format, source };
        match (format.payload, source) {
            (Payload::PlainSql, Source::Stream(stream)) => {
                load_sql(tools, db, stream, &name, format)?;
            }
            (Payload::Custom, Source::CustomFile(path, _)) if jobs > 1 => {
                tools.restore_file(db, &path, jobs)?;
                meter_total.set_position(meter_total.length().unwrap_or(0));
            }
            (Payload::Custom, Source::Stream(stream) | Source::CustomFile(_, stream)) => {
                if jobs > 1 {
                    let spool = spool(stream, &name, format)?;
                    tools.restore_file(db, spool.path(), jobs)?;
                } else {
                    let restorer = tools.restorer(db)?;
                    feed(restorer, stream, &name, format)?;
                }
            }
            (Payload::Zip, Source::ZipFile(file)) => {
                let mut archive = zip::ZipArchive::new(file)
                    .map_err(|source| Error::Zip { input: name.clone(), source })?;
                let entry = archive.by_name(ZIP_DUMP_ENTRY).map_err(|e| match e {
                    zip::result::ZipError::FileNotFound => {
                        Error::NoDumpInZip { input: name.clone() }
                    }
                    source => Error::Zip { input: name.clone(), source },
                })?;
                meter_total.set_length(entry.size());
                let entry = Meter::new(entry, meter_total.clone());
                load_sql(tools, db, entry, &name, format)?;
            }
            (Payload::Zip, Source::Stream(mut stream)) => loop {
                let entry = zip::read::read_zipfile_from_stream(&mut stream)
                    .map_err(|source| Error::Zip { input: name.clone(), source })?;
                let Some(mut entry) = entry else {
                    return Err(Error::NoDumpInZip { input: name.clone() });
                };
                if entry.name().is_ok_and(|n| n == ZIP_DUMP_ENTRY) {
                    load_sql(tools, db, &mut entry, &name, format)?;
                    break;
                }
                io::copy(&mut entry, &mut io::sink()).map_err(corrupt)?;
            },
            (_, _) => unreachable!("sources are built to match their payload"),
        }
        Ok(meter_total.position())
    }
}

/// Plain SQL into psql; a pg_dump output must end with its completion line, else psql is
/// stopped before it can commit.
fn load_sql(
    tools: &Tools,
    db: &str,
    stream: impl Read,
    name: &str,
    format: DumpFormat,
) -> Result<(), Error> {
    let psql = tools.sql_loader(db)?;
    let mut checked = Completeness::new(stream);
    let psql = pump(psql, &mut checked, name, format)?;
    if !checked.is_complete() {
        psql.abort();
        return Err(Error::Incomplete { input: name.to_owned() });
    }
    psql.close().map_err(|e| Error::Pg(e.into()))
}

/// A custom-format dump into pg_restore; a dump cut short is the input's fault, not the
/// server's.
fn feed(
    restorer: ChildWriter,
    mut stream: impl Read,
    name: &str,
    format: DumpFormat,
) -> Result<(), Error> {
    let restorer = pump(restorer, &mut stream, name, format)?;
    restorer.close().map_err(|e| match e.stderr() {
        Some(stderr) if stderr.contains("could not read from input file: end of file") => {
            Error::Corrupt {
                input: name.to_owned(),
                format,
                source: io::Error::new(io::ErrorKind::UnexpectedEof, "the dump ends too early"),
            }
        }
        _ => Error::Pg(e.into()),
    })
}

/// Copies `stream` into `child`. On failure the child is stopped (so it commits nothing) and
/// the error that explains most is returned: the child's own if it failed first.
fn pump(
    mut child: ChildWriter,
    stream: &mut impl Read,
    name: &str,
    format: DumpFormat,
) -> Result<ChildWriter, Error> {
    match copy(stream, &mut child) {
        Ok(_) => Ok(child),
        Err(CopyError::Read(source)) => {
            child.abort();
            Err(match interrupt::signal() {
                Some(signal) => Error::Interrupted(signal),
                None => Error::Corrupt { input: name.to_owned(), format, source },
            })
        }
        Err(CopyError::Write(_)) => {
            // The child stopped reading: it failed, and its stderr says why.
            Err(match child.close() {
                Err(e) => Error::Pg(e.into()),
                Ok(()) => Error::Pg(pg::Error::Query {
                    what: "loading the dump".into(),
                    reason: "the loader exited before reading all its input".into(),
                }),
            })
        }
    }
}

/// Writes the decoded custom-format dump to a temporary file, for pg_restore --jobs, which
/// needs to seek.
fn spool(
    mut stream: impl Read,
    name: &str,
    format: DumpFormat,
) -> Result<tempfile::NamedTempFile, Error> {
    let spool_error = |source| Error::Spool { input: name.to_owned(), source };
    let mut file = tempfile::Builder::new()
        .prefix("oe-load-")
        .suffix(".dump")
        .tempfile()
        .map_err(spool_error)?;
    tracing::info!(
        "pg_restore --jobs needs a seekable file: spooling the decompressed dump to {}",
        file.path().display()
    );
    match copy(&mut stream, file.as_file_mut()) {
        Ok(_) => Ok(file),
        Err(CopyError::Read(source)) => Err(match interrupt::signal() {
            Some(signal) => Error::Interrupted(signal),
            None => Error::Corrupt { input: name.to_owned(), format, source },
        }),
        Err(CopyError::Write(source)) => Err(spool_error(source)),
    }
}

fn hex_head(head: &[u8]) -> String {
    let bytes: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if bytes.is_empty() { "nothing: the input is empty".into() } else { bytes.join(" ") }
}
