//! What talking to PostgreSQL or running its tools can fail with, and the exit code of each.

use std::path::PathBuf;

use crate::exit::{ExitCode, ExitStatus};

pub use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `code` is the server's SQLSTATE when the server refused (not when it was unreachable);
    /// boxed, as every error of `oe` carries a `pg::Error` and should stay small.
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String, code: Option<Box<SqlState>> },
    /// `code` is the server's SQLSTATE when the server reported the error.
    #[error("{what}: {reason}")]
    Query { what: String, reason: String, code: Option<Box<SqlState>> },
    #[error("database '{0}' does not exist")]
    NoSuchDatabase(String),
    #[error(
        "{tool} not found (looked in {}); install the PostgreSQL {major} client tools \
         (Debian: apt-get install postgresql-client-{major}) or set services.<name>.postgres.bindir",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    ToolMissing { tool: &'static str, major: u32, searched: Vec<PathBuf> },
    #[error(transparent)]
    Tool(#[from] crate::process::Error),
    #[error("database '{database}' is busy: {holder} is working on it; try again when it is done")]
    Busy { database: String, holder: String },
    #[error("cannot connect to PostgreSQL at {target} with sslmode={mode}: {reason}")]
    Tls { target: String, mode: &'static str, reason: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Connect { .. } | Error::Tls { .. } => ExitCode::Unreachable,
            Error::ToolMissing { .. } => ExitCode::MissingTool,
            Error::Tool(e) => e.exit_code(),
            Error::Query { .. } | Error::NoSuchDatabase(_) => ExitCode::Failure,
            Error::Busy { .. } => ExitCode::Locked,
        }
    }
}

impl Error {
    /// The SQLSTATE of the server's error, whatever the language of its message.
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            Error::Connect { code, .. } | Error::Query { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// The text of a tokio-postgres error, including the server's message when there is one.
pub(crate) fn reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}
