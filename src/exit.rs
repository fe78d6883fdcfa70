//! Exit codes: one documented table (README "Exit codes"), and the mapping from an error
//! chain to its code.

use crate::process::interrupt;

/// What `oe` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything worked.
    Success = 0,
    /// The work failed: a tool or an SQL statement failed (its message says which).
    Failure = 1,
    /// Bad command line or configuration.
    Usage = 2,
    /// The target exists and `--force` was not given: nothing was touched.
    Exists = 3,
    /// The input is not what it should be: unknown format, truncated or corrupt.
    BadInput = 4,
    /// A required program (pg_dump, psql, pg_restore) is not installed.
    MissingTool = 5,
    /// The PostgreSQL server cannot be reached or refused the connection.
    Unreachable = 6,
    /// Reading or writing a file failed (disk full, permission denied).
    Io = 7,
    /// A mirror snapshot was written, but some files could not be read: it lacks them.
    Partial = 8,
    /// Another run holds the lock of the mirror repository or of the database.
    Locked = 9,
    /// Stopped by SIGINT (128 + 2); partial results were removed.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15); partial results were removed.
    Terminated = 143,
}

impl ExitCode {
    /// The code for a failed command: a signal first, else the first error in the chain
    /// that knows its code.
    pub fn of(error: &anyhow::Error) -> ExitCode {
        if let Some(signal) = interrupt::signal() {
            return ExitCode::from_signal(signal);
        }
        for cause in error.chain() {
            if let Some(code) = classify(cause) {
                return code;
            }
        }
        ExitCode::Failure
    }
}

impl ExitCode {
    pub fn from_signal(signal: i32) -> ExitCode {
        if signal == libc::SIGINT { ExitCode::Interrupted } else { ExitCode::Terminated }
    }
}

/// The one-line message for a failed command: the error and those of its causes that its
/// message does not already include.
pub fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> std::process::ExitCode {
        std::process::ExitCode::from(code as u8)
    }
}

fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<ExitCode> {
    use crate::jobs::{backup, load, mirror, neutralize, save, save_db as dump, verify};
    use crate::{config, daemon, pg, process};
    if let Some(e) = cause.downcast_ref::<config::Error>() {
        return Some(match e {
            config::Error::Read { .. } | config::Error::Write { .. } => ExitCode::Io,
            _ => ExitCode::Usage,
        });
    }
    if let Some(e) = cause.downcast_ref::<pg::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<process::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<load::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<dump::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<backup::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<neutralize::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<verify::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<daemon::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<daemon::state::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<crate::jobs::clean::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<save::Error>() {
        return Some(e.exit_code());
    }
    if let Some(code) = mirror::exit_code(cause) {
        return Some(code);
    }
    if let Some(e) = cause.downcast_ref::<std::io::Error>() {
        return Some(io_exit_code(e));
    }
    None
}

/// Broken input is the user's file; a worker thread's panic is a failure of `oe` itself;
/// anything else from the file system is an I/O failure.
pub fn io_exit_code(e: &std::io::Error) -> ExitCode {
    if crate::pipeline::pool::Error::of_io(e).is_some() {
        return ExitCode::Failure;
    }
    match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => ExitCode::BadInput,
        _ => ExitCode::Io,
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::PathBuf;

    use super::*;
    use crate::pipeline::pool;

    fn panicked() -> io::Error {
        let thread = "compress-1".to_owned();
        pool::Error::Panicked { thread, message: "index out of bounds".into() }.into()
    }

    /// A worker's panic, however a job wraps it, exits 1 and says so.
    #[test]
    fn a_worker_panic_exits_1_and_says_so() {
        let path = PathBuf::from("acme.dump.gz");
        let format = crate::pipeline::DumpFormat::from_name(&path).unwrap();
        let input = "acme.sql.bz2".to_owned();
        let errors: [anyhow::Error; 4] = [
            crate::jobs::save_db::Error::Write { path: path.clone(), source: panicked() }.into(),
            crate::jobs::save::Error::Write { path: path.clone(), source: panicked() }.into(),
            crate::jobs::load::Error::Corrupt { input, format, source: panicked() }.into(),
            anyhow::Error::from(panicked()).context("saving acme"),
        ];
        for error in errors {
            assert_eq!(ExitCode::of(&error), ExitCode::Failure, "{error:#}");
            let message = describe(&error);
            assert!(
                message.contains("worker thread compress-1 panicked: index out of bounds"),
                "{message}"
            );
            assert!(!message.contains("corrupt"), "{message}");
        }
        // Other I/O errors keep their codes.
        assert_eq!(io_exit_code(&io::Error::from_raw_os_error(libc::ENOSPC)), ExitCode::Io);
        assert_eq!(io_exit_code(&io::ErrorKind::InvalidData.into()), ExitCode::BadInput);
    }
}
