//! Errors of reading, writing and resolving the settings.

use std::path::PathBuf;

use crate::exit::{ExitCode, ExitStatus};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// A key of the file has a bad value, a wrong type, or is unknown.
    #[error("{}", located(path, *line, key, message))]
    Invalid {
        path: PathBuf,
        /// 1-based; `None` when the YAML parser gave no position.
        line: Option<usize>,
        /// The full dotted path, `services.odoo.postgres.port`; empty for the whole file.
        key: String,
        /// `found …; accepted: …`.
        message: String,
    },
    /// A command line the settings refuse.
    #[error("{0}")]
    Usage(String),
    #[error("cannot write config {}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "service '{name}' is not configured in {} (configured: {known}); add it under 'services:'",
        path.display()
    )]
    UnknownService { name: String, path: PathBuf, known: String },
    #[error(
        "no database given: pass -d DB, or set one with 'oe config --database DB' (or --client)"
    )]
    NoDatabase,
    #[error("no client: set one with 'oe config --client NAME'")]
    NoClient,
    #[error(
        "invalid client name '{0}': 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter or digit"
    )]
    BadClientName(String),
    #[error("invalid database name '{name}': {reason}")]
    BadDatabaseName { name: String, reason: &'static str },
    #[error("{}: mirror directory '{dir}': {message}", path.display())]
    MirrorDir { path: PathBuf, dir: String, message: String },
    #[error(
        "no mirror repository: pass one, or set 'mirror: {{repository: PATH}}' in {}",
        path.display()
    )]
    NoRepository { path: PathBuf },
    #[error("no directory to mirror: add 'mirror: {{dirs: {{/path: {{}}}}}}' to {} or pass --dirs-file", path.display())]
    NoMirrorDirs { path: PathBuf },
    #[error("'{dir}' is not a configured mirror directory (configured: {known})")]
    UnknownMirrorDir { dir: String, known: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => source.exit_code(),
            _ => ExitCode::Usage,
        }
    }
}

/// `FILE:LINE: KEY: message`, the way compilers and editors write a position.
fn located(path: &std::path::Path, line: Option<usize>, key: &str, message: &str) -> String {
    let mut text = path.display().to_string();
    if let Some(line) = line {
        text.push_str(&format!(":{line}"));
    }
    if !key.is_empty() {
        text.push_str(&format!(": {key}"));
    }
    format!("{text}: {message}")
}
