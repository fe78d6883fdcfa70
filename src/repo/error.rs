//! The repository's [`Error`]: what the repository modules return, with its exit code.
//!
//! Only the type and its constructor helper: no I/O, no messages printed here.

use std::io;
use std::path::PathBuf;

use super::BlobId;

use crate::exit::{ExitCode, ExitStatus};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} is not an oe mirror repository (no config): create one with `oe mirror init`", path.display())]
    NotARepository { path: PathBuf },
    #[error("{} is a repository of format {format}, which this oe does not know", path.display())]
    UnknownFormat { path: PathBuf, format: u64 },
    #[error("{} exists and is not empty: not creating a repository there", path.display())]
    NotEmpty { path: PathBuf },
    #[error(
        "{} holds key files but no config: an `oe mirror init` was cut short; remove its \
         keys/ (on a backup server, the administrator removes clients/IDENT/repo/keys/) and \
         init again",
        path.display()
    )]
    InitCutShort { path: PathBuf },
    #[error("{what}")]
    Io { what: String, source: io::Error },
    #[error("{what}")]
    Corrupt { what: String },
    #[error("blob {id} is not in the repository")]
    MissingBlob { id: BlobId },
    #[error("the repository is locked by {holder}; if that run is gone, its lock expires (or remove {})", path.display())]
    Locked { holder: String, path: PathBuf },
    #[error("the repository {url} is locked by {holder}; the lock ends with that session")]
    LockedRemote { holder: String, url: String },
    #[error(
        "{} is encrypted: give its passphrase (OE_PASSPHRASE, mirror.passphrase_file, \
         --passphrase-file, or on a terminal)",
        path.display()
    )]
    NeedsPassphrase { path: PathBuf },
    #[error("{}: the passphrase opens none of its key files", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("{} is not encrypted: it has no keys", path.display())]
    NotEncrypted { path: PathBuf },
    #[error("no key file {prefix}: see `oe mirror key list`")]
    NoSuchKey { prefix: String },
    #[error("not removing the last key file: nothing could open the repository any more")]
    LastKey,
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::NotARepository { .. }
            | Error::UnknownFormat { .. }
            | Error::NotEmpty { .. }
            | Error::InitCutShort { .. }
            | Error::NeedsPassphrase { .. }
            | Error::NotEncrypted { .. }
            | Error::NoSuchKey { .. }
            | Error::LastKey => ExitCode::Usage,
            Error::WrongPassphrase { .. } => ExitCode::BadInput,
            Error::Io { source, .. } => source.exit_code(),
            Error::Corrupt { .. } | Error::MissingBlob { .. } => ExitCode::BadInput,
            Error::Locked { .. } | Error::LockedRemote { .. } => ExitCode::Locked,
        }
    }
}
