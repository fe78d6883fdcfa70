//! Exit codes: one documented table (README "Exit codes"), the trait by which each error
//! says its code, and the one-line message of an error and its causes. A leaf: it imports
//! nothing of `oe`.

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
    /// The PostgreSQL server or a backup server cannot be reached or refused the connection.
    Unreachable = 6,
    /// Reading or writing a file failed (disk full, permission denied).
    Io = 7,
    /// A mirror snapshot was written, but some files could not be read: it lacks them.
    Partial = 8,
    /// Another run holds the lock of the mirror repository or of the database.
    Locked = 9,
    /// The backup server refused: over the client's quota, or not allowed with its key.
    Refused = 10,
    /// Stopped by SIGINT (128 + 2); partial results were removed.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15); partial results were removed.
    Terminated = 143,
}

impl ExitCode {
    pub fn from_signal(signal: i32) -> ExitCode {
        if signal == libc::SIGINT { ExitCode::Interrupted } else { ExitCode::Terminated }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> std::process::ExitCode {
        std::process::ExitCode::from(code as u8)
    }
}

/// An error that knows which exit code it stands for. Every error type a job returns
/// implements it (an error wrapping another asks the inner one), so the command line turns
/// any of them into `(code, message)` at the `?`, and a new error type cannot be forgotten:
/// without an implementation it does not compile there. `std::io::Error`'s implementation is
/// in `plumbing::pool`, which knows how a worker's panic travels inside one.
pub trait ExitStatus: std::error::Error + Send + Sync + 'static {
    fn exit_code(&self) -> ExitCode;
}

/// A blocking step that panicked: a bug in `oe`.
impl ExitStatus for tokio::task::JoinError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Failure
    }
}

/// The one-line message of an error: its own text and each of its causes', joined by `: `.
/// Each of `oe`'s errors says what it adds; its cause is not repeated in its text but comes
/// from `source()`. Some other crates' errors end their text with their cause and return it
/// too (the `zip` crate's `i/o error: …`): a cause the text before it already ends with is
/// not said again.
pub fn message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut said = String::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !said.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        said = text;
        next = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::message;

    #[derive(Debug, thiserror::Error)]
    #[error("reading acme.zip")]
    struct Reading(#[source] zip::result::ZipError);

    #[test]
    fn each_cause_is_said_once() {
        let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
        let error = Reading(zip::result::ZipError::Io(denied()));
        assert_eq!(message(&error), format!("reading acme.zip: i/o error: {}", denied()));
        let error = Reading(zip::result::ZipError::FileNotFound);
        assert_eq!(message(&error), "reading acme.zip: specified file not found in archive");
    }
}
