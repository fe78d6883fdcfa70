//! Streaming a dump into a database: plain SQL into psql, custom format into pg_restore
//! (or a spooled file for `pg_restore --jobs`). A loader that fails is stopped before it can
//! commit, and the error that explains most is reported.

use std::io::{self, Read};

use super::Error;

/// How far past a loader's failure the input is read for a checksum error: beyond a gzip
/// member, a bzip2 block or a zstd block of what `oe` and the usual tools write.
const CORRUPTION_LOOKAHEAD: u64 = 64 << 20;
use crate::pg::{self, Tools};
use crate::pipeline::sql::Completeness;
use crate::pipeline::{CopyError, DumpFormat, copy};
use crate::process::ChildWriter;
use crate::stop;

/// Plain SQL into psql; a pg_dump output must end with its completion line, else psql is
/// stopped before it can commit.
pub(super) fn load_sql(
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
pub(super) fn feed(
    restorer: ChildWriter,
    mut stream: impl Read,
    name: &str,
    format: DumpFormat,
) -> Result<(), Error> {
    let restorer = pump(restorer, &mut stream, name, format)?;
    // pg_restore's own message, in English: the tools run with LC_MESSAGES=C (see `Tools`).
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
            Err(match stop::signal() {
                Some(signal) => Error::Interrupted(signal),
                None => Error::Corrupt { input: name.to_owned(), format, source },
            })
        }
        Err(CopyError::Write(_)) => {
            // The child stopped reading: it failed. Corrupt input may be why (a flipped byte
            // decodes to garbage before the checksum at the end of its block catches it), so
            // read on a little: a checksum error there is the better explanation.
            if let Err(source) = io::copy(&mut stream.take(CORRUPTION_LOOKAHEAD), &mut io::sink()) {
                child.abort();
                return Err(Error::Corrupt { input: name.to_owned(), format, source });
            }
            // Else its stderr says why.
            Err(match child.close() {
                Err(e) => Error::Pg(e.into()),
                Ok(()) => Error::Pg(pg::Error::Query {
                    what: "loading the dump".into(),
                    reason: "the loader exited before reading all its input".into(),
                    code: None,
                }),
            })
        }
    }
}

/// Writes the decoded custom-format dump to a temporary file, for pg_restore --jobs, which
/// needs to seek.
pub(super) fn spool(
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
        Err(CopyError::Read(source)) => Err(match stop::signal() {
            Some(signal) => Error::Interrupted(signal),
            None => Error::Corrupt { input: name.to_owned(), format, source },
        }),
        Err(CopyError::Write(source)) => Err(spool_error(source)),
    }
}
