//! `save-db`: a database to a dump file, compressed on every core, written atomically.
//!
//! pg_dump streams into the compressor, the compressor into `<file>.<pid>.partial`; the
//! partial file is fsynced and renamed over the target only after pg_dump exited 0 and the
//! compressor finished. On any failure (pg_dump dying, disk full, a signal) nothing appears
//! at the target path and an existing file there is left as it was.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::atomic::Output;
use crate::exit::{ExitCode, ExitStatus};
use crate::pg::tools::DumpKind;
use crate::pg::{self, ConnParams, Tools};
use crate::pipeline::encode::Encoder;
use crate::pipeline::meter::Meter;
use crate::pipeline::{Codec, CopyError, DumpFormat, Payload, copy};
use crate::stop;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("dumping {database} to {}", path.display())]
    Dump { database: String, path: PathBuf, source: pg::Error },
    #[error(
        "{}: cannot tell the dump format from the name; use .sql or .dump, optionally followed by .gz, .bz2 or .zst",
        .0.display()
    )]
    UnknownName(PathBuf),
    #[error("writing {}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("reading pg_dump's output")]
    Read(#[source] io::Error),
    #[error("interrupted by {}; nothing was written to {}", stop::signal_name(*signal), path.display())]
    Interrupted { signal: i32, path: PathBuf },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) | Error::Dump { source: e, .. } => e.exit_code(),
            Error::UnknownName(_) => ExitCode::Usage,
            Error::Write { source, .. } => source.exit_code(),
            Error::Read(_) => ExitCode::Failure,
            Error::Interrupted { signal, .. } => ExitCode::from_signal(*signal),
        }
    }
}

/// What to dump, where to.
pub struct DumpRequest {
    pub conn: ConnParams,
    pub database: String,
    /// A file path, or `-` for standard output.
    pub output: PathBuf,
    pub threads: usize,
    pub progress: ProgressBar,
}

#[derive(Debug, Serialize)]
pub struct DumpSummary {
    pub database: String,
    pub output: PathBuf,
    pub format: String,
    /// Bytes pg_dump produced.
    pub dumped_bytes: u64,
    /// Bytes written to the output.
    pub written_bytes: u64,
    pub seconds: f64,
}

pub async fn save_db(request: DumpRequest) -> Result<DumpSummary, Error> {
    let started = Instant::now();
    let format = DumpFormat::from_name(&request.output)
        .ok_or_else(|| Error::UnknownName(request.output.clone()))?;
    let tools = Tools::for_dump(&request.conn, &request.database).await?;
    let DumpRequest { database, output, threads, progress, .. } = request;
    let job = {
        let (database, output) = (database.clone(), output.clone());
        tokio::task::spawn_blocking(move || {
            dump(&tools, &database, format, &output, threads, progress)
        })
    };
    let (dumped_bytes, written_bytes) =
        job.await.map_err(|e| Error::Read(io::Error::other(e)))?.map_err(|e| match e {
            Error::Pg(source) => {
                Error::Dump { database: database.clone(), path: output.clone(), source }
            }
            e => e,
        })?;
    Ok(DumpSummary {
        database,
        output,
        format: format.to_string(),
        dumped_bytes,
        written_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The data step: pg_dump → compressor → output. Returns (bytes dumped, bytes written).
fn dump(
    tools: &Tools,
    db: &str,
    format: DumpFormat,
    path: &Path,
    threads: usize,
    progress: ProgressBar,
) -> Result<(u64, u64), Error> {
    let kind = match (format.payload, format.codec) {
        (Payload::Custom, Codec::None) => DumpKind::Custom,
        (Payload::Custom, _) => DumpKind::CustomUncompressed,
        _ => DumpKind::PlainSql,
    };
    let write_error = |source| match stop::signal() {
        Some(signal) => Error::Interrupted { signal, path: path.to_path_buf() },
        None => Error::Write { path: path.to_path_buf(), source },
    };
    let output = Output::create(path).map_err(write_error)?;
    let mut pg_dump = tools.dump(db, kind).map_err(Error::Pg)?;
    let mut encoder =
        Encoder::new(format.codec, Meter::new(output, ProgressBar::hidden()), threads)
            .map_err(write_error)?;
    let copied = copy(&mut Meter::new(&mut pg_dump, progress.clone()), &mut encoder);
    progress.finish_and_clear();
    let dumped = match copied {
        Ok(n) => n,
        Err(CopyError::Read(e)) => return Err(failure(pg_dump, Error::Read(e), path)),
        Err(CopyError::Write(e)) => return Err(failure(pg_dump, write_error(e), path)),
    };
    let output = match encoder.finish() {
        Ok(output) => output,
        Err(e) => return Err(failure(pg_dump, write_error(e), path)),
    };
    // pg_dump's verdict comes before anything is put in place.
    pg_dump.close().map_err(|e| interrupted_or(pg::Error::from(e).into(), path))?;
    let written = output.total();
    output.into_inner().commit().map_err(write_error)?;
    Ok((dumped, written))
}

/// The error to report when the copy failed: pg_dump's own failure explains more than the
/// broken pipe it caused, and a signal explains both.
fn failure(pg_dump: crate::process::ChildReader, error: Error, path: &Path) -> Error {
    match pg_dump.close() {
        Err(e) if matches!(error, Error::Read(_)) => {
            interrupted_or(pg::Error::from(e).into(), path)
        }
        _ => interrupted_or(error, path),
    }
}

fn interrupted_or(error: Error, path: &Path) -> Error {
    match stop::signal() {
        Some(signal) => Error::Interrupted { signal, path: path.to_path_buf() },
        None => error,
    }
}
