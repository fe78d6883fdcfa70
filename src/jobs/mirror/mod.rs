//! Deduplicated mirror: snapshots of configured directories (filestores, backup directories,
//! home directories) in a repository where every snapshot is complete and restorable, but
//! storage grows only with what changed, down to the changed parts of large files.
//!
//! - [`filter`]: rsync's exclude rules (pure);
//! - [`walk`]: a directory's entries that the rules let through, never following symlinks;
//! - [`repo`]: the repository (storage of immutable objects, packs, index, locks, check,
//!   prune) — its docs describe the on-disk format;
//! - [`tree`]: what a snapshot records of one directory, [`snapshot`]: the snapshot object;
//! - [`run`]: taking one snapshot (chunking, incremental reuse), [`restore`]: writing one
//!   back;
//! - [`job`]: the `oe mirror` commands over a whole repository.
//!
//! # Format of a snapshot
//!
//! A file's content is cut into chunks by FastCDC (256 KiB to 4 MiB, about 1 MiB on
//! average; a smaller file is one chunk); each chunk is a data blob named by the BLAKE3 of its
//! bytes. A directory is a tree blob ([`tree::Tree`], CBOR) listing its entries with their
//! metadata and, for files, their chunk ids, for subdirectories their tree id. A snapshot
//! ([`snapshot::Snapshot`], JSON) names the root tree of its directory. Equal content is
//! stored once, whichever file, directory or snapshot it belongs to. A new chunk of a file
//! that changed in place (a nightly dump with some rows changed) is stored as a delta against
//! the chunks at the same offsets of its previous version (see [`repo`]).

pub mod job;
pub mod restore;
pub mod run;
pub mod walk;

use crate::repo::snapshot;

use crate::exit::{ExitCode, ExitStatus};

impl ExitStatus for job::Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            job::Error::NoKeepRule => ExitCode::Usage,
            job::Error::Failed { .. } | job::Error::Clock => ExitCode::Failure,
            job::Error::Partial { .. } => ExitCode::Partial,
            job::Error::Damaged(_) => ExitCode::BadInput,
            job::Error::Repo(e) => e.exit_code(),
            job::Error::Snapshot(e) => e.exit_code(),
            job::Error::Run(e) => e.exit_code(),
            job::Error::Restore(e) => e.exit_code(),
        }
    }
}

impl ExitStatus for snapshot::Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            snapshot::Error::Decode { .. } => ExitCode::BadInput,
            _ => ExitCode::Usage,
        }
    }
}

impl ExitStatus for run::Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            run::Error::Root { source, .. } => source.exit_code(),
            run::Error::Repo(e) => e.exit_code(),
            run::Error::Tree(_) => ExitCode::BadInput,
            run::Error::Interrupted | run::Error::WriterStopped | run::Error::Worker(_) => {
                ExitCode::Failure
            }
        }
    }
}

impl ExitStatus for restore::Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            restore::Error::NoSuchPath { .. } => ExitCode::Usage,
            restore::Error::NotADirectory { .. } => ExitCode::Io,
            restore::Error::Write { source, .. } => source.exit_code(),
            restore::Error::Repo { source, .. } => source.exit_code(),
            restore::Error::Tree(e) => e.exit_code(),
            restore::Error::Interrupted => ExitCode::Failure,
        }
    }
}

impl ExitStatus for crate::repo::Error {
    fn exit_code(&self) -> ExitCode {
        crate::repo::Error::exit_code(self)
    }
}
