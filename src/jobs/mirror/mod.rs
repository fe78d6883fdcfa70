//! Deduplicated mirror: snapshots of configured directories (filestores, backup directories,
//! home directories) in a repository where every snapshot is complete and restorable, but
//! storage grows only with what changed, down to the changed parts of large files.
//!
//! - [`walk`]: a directory's entries that the rules ([`crate::rules::filter`], rsync's exclude
//!   rules) let through, never following symlinks;
//! - [`run`]: taking one snapshot (chunking, incremental reuse), [`restore`]: writing one
//!   back;
//! - [`file`]: one file of a snapshot read in place (`Read + Seek`, a chunk at a time);
//! - [`job`]: the `oe mirror` commands over a whole repository.
//!
//! The repository itself (storage of immutable objects, packs, index, locks, check, prune,
//! and the tree and snapshot objects) is the adapter [`crate::repo`], whose docs describe the
//! on-disk format.
//!
//! # Format of a snapshot
//!
//! A file's content is cut into chunks by FastCDC (256 KiB to 4 MiB, about 1 MiB on
//! average; a smaller file is one chunk); each chunk is a data blob named by the BLAKE3 of its
//! bytes. A directory is a tree blob ([`Tree`](crate::repo::tree::Tree), CBOR) listing its entries with their
//! metadata and, for files, their chunk ids, for subdirectories their tree id. A snapshot
//! ([`Snapshot`](crate::repo::snapshot::Snapshot), JSON) names the root tree of its directory. Equal content is
//! stored once, whichever file, directory or snapshot it belongs to. A new chunk of a file
//! that changed in place (a nightly dump with some rows changed) is stored as a delta against
//! the chunks at the same offsets of its previous version (see [`crate::repo`]).

pub mod file;
pub mod job;
pub mod restore;
pub mod run;
pub mod walk;
