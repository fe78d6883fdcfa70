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

use crate::repo::{self, snapshot};

use crate::exit::ExitCode;

/// The exit code of `cause` if it is an error of the mirror.
pub fn exit_code(cause: &(dyn std::error::Error + 'static)) -> Option<ExitCode> {
    if let Some(e) = cause.downcast_ref::<repo::Error>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<job::Error>() {
        return Some(match e {
            job::Error::NoKeepRule => ExitCode::Usage,
            job::Error::Failed { .. } | job::Error::Clock => ExitCode::Failure,
            job::Error::Partial { .. } => ExitCode::Partial,
            job::Error::Damaged(_) => ExitCode::BadInput,
            job::Error::Repo(e) => e.exit_code(),
            job::Error::Snapshot(e) => snapshot_code(e),
            job::Error::Run(e) => run_code(e),
            job::Error::Restore(e) => restore_code(e),
        });
    }
    if let Some(e) = cause.downcast_ref::<run::Error>() {
        return Some(run_code(e));
    }
    if let Some(e) = cause.downcast_ref::<restore::Error>() {
        return Some(restore_code(e));
    }
    None
}

fn snapshot_code(e: &snapshot::Error) -> ExitCode {
    match e {
        snapshot::Error::Decode { .. } => ExitCode::BadInput,
        _ => ExitCode::Usage,
    }
}

fn run_code(e: &run::Error) -> ExitCode {
    match e {
        run::Error::Root { source, .. } => crate::exit::io_exit_code(source),
        run::Error::Repo(e) => e.exit_code(),
        run::Error::Tree(_) => ExitCode::BadInput,
        run::Error::Interrupted | run::Error::WriterStopped | run::Error::Worker(_) => {
            ExitCode::Failure
        }
    }
}

fn restore_code(e: &restore::Error) -> ExitCode {
    match e {
        restore::Error::NoSuchPath { .. } => ExitCode::Usage,
        restore::Error::NotADirectory { .. } => ExitCode::Io,
        restore::Error::Write { source, .. } => crate::exit::io_exit_code(source),
        restore::Error::Repo { source, .. } => source.exit_code(),
        restore::Error::Tree(e) => run_code(e),
        restore::Error::Interrupted => ExitCode::Failure,
    }
}
