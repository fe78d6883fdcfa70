//! What can go wrong while loading, and the exit code of each.

use std::io;

use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::layout::{DUMP_ENTRY, UnsafeEntry};
use crate::pg;
use crate::pipeline::DumpFormat;
use crate::plumbing::pool;
use crate::stop;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("finishing what a killed run on the database left")]
    Settle(#[source] crate::jobs::clean::Error),
    #[error(transparent)]
    Neutralize(#[from] crate::jobs::neutralize::Error),
    #[error("loading {input}")]
    Load { input: String, source: pg::Error },
    #[error(
        "database '{0}' exists; pass --force to replace it (it is replaced only once the load succeeded)"
    )]
    Exists(String),
    #[error("cannot read {input}")]
    Open { input: String, source: io::Error },
    #[error(
        "{input}: unknown format (starts with {head}); expected plain SQL, a pg_dump custom-format \
         dump or an Odoo backup zip, optionally compressed with gzip, bzip2 or zstd"
    )]
    UnknownFormat { input: String, head: String },
    /// Reading the input failed: it is corrupt or truncated, or (a bug) a decoding worker
    /// thread panicked, which the message and the exit code tell apart.
    #[error("{input} ({format}) {}", what_failed(.source))]
    Corrupt { input: String, format: DumpFormat, source: io::Error },
    #[error("{input} is truncated: the SQL dump ends without pg_dump's completion line")]
    Incomplete { input: String },
    #[error("{input}: no {DUMP_ENTRY} in the zip archive; not an Odoo backup")]
    NoDumpInZip { input: String },
    #[error("{input}")]
    Zip { input: String, source: zip::result::ZipError },
    #[error("{input}: refused, nothing was written")]
    UnsafeEntry { input: String, source: UnsafeEntry },
    #[error("writing the filestore {}", path.display())]
    Filestore { path: std::path::PathBuf, source: io::Error },
    #[error("spooling {input} for pg_restore --jobs")]
    Spool { input: String, source: io::Error },
    #[error(
        "{input}: the loaded database does not hold the rows its dump recorded: {}",
        quoted(problems)
    )]
    RowsDiffer { input: String, problems: Vec<String> },
    #[error("interrupted by {}; the temporary database was dropped", stop::signal_name(*.0))]
    Interrupted(i32),
    #[error(
        "--no-neutralize is refused: environment is {environment}; a copy of production must \
         never run unneutralized here"
    )]
    Unneutralized { environment: crate::config::Environment },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) | Error::Load { source: e, .. } => e.exit_code(),
            Error::Neutralize(e) => e.exit_code(),
            Error::Settle(e) => e.exit_code(),
            Error::Exists(_) => ExitCode::Exists,
            Error::Unneutralized { .. } => ExitCode::Usage,
            Error::RowsDiffer { .. } => ExitCode::Failure,
            Error::Open { .. } | Error::Spool { .. } | Error::Filestore { .. } => ExitCode::Io,
            Error::UnsafeEntry { .. } => ExitCode::BadInput,
            Error::Corrupt { source, .. } if pool::Error::of_io(source).is_some() => {
                ExitCode::Failure
            }
            Error::UnknownFormat { .. }
            | Error::Corrupt { .. }
            | Error::Incomplete { .. }
            | Error::NoDumpInZip { .. }
            | Error::Zip { .. } => ExitCode::BadInput,
            Error::Interrupted(signal) => ExitCode::from_signal(*signal),
        }
    }
}

/// The first few problems, and how many more there are.
fn quoted(problems: &[String]) -> String {
    const QUOTED: usize = 10;
    let mut text = problems.iter().take(QUOTED).cloned().collect::<Vec<_>>().join("; ");
    if problems.len() > QUOTED {
        text.push_str(&format!("; … ({} more)", problems.len() - QUOTED));
    }
    text
}

/// What a read error says about the input: nothing when a worker panicked.
fn what_failed(source: &io::Error) -> &'static str {
    match pool::Error::of_io(source) {
        Some(_) => "could not be decoded",
        None => "is corrupt or truncated",
    }
}
