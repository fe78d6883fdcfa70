//! What stops the daemon, or a `--once` run, as a whole (one database's failure does not: it
//! is recorded in the run).

use std::io;

use super::state;
use crate::config;
use crate::exit::{ExitCode, ExitStatus};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no job named '{name}' (configured: {known})")]
    UnknownJob { name: String, known: String },
    #[error("{failed} of {total} job(s) failed: {names}")]
    Failed { failed: usize, total: usize, names: String },
    #[error(transparent)]
    Config(#[from] config::Error),
    #[error(transparent)]
    State(#[from] state::Error),
    #[error("cannot listen for SIGHUP")]
    Signals(#[source] io::Error),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::UnknownJob { .. } => ExitCode::Usage,
            Error::Failed { .. } => ExitCode::Failure,
            Error::Config(e) => e.exit_code(),
            Error::State(e) => e.exit_code(),
            Error::Signals(e) => e.exit_code(),
        }
    }
}
