//! The snapshot repository: content-addressed blobs in pack files, an index, snapshots and
//! locks, on a [`Storage`] of immutable named objects.
//!
//! # Format (version 2; 3 when encrypted)
//!
//! ```text
//! REPO/config                    JSON: {"format": 2, "id": "<64 hex>"}
//!                                (encrypted: {"format": 3, "id": …, "encryption": "…"})
//! REPO/keys/<64 hex>             key files of an encrypted repository (see `crypto`)
//! REPO/data/<2 hex>/<64 hex>     packs, named by the BLAKE3 of their bytes
//! REPO/index/<64 hex>            index files, named by the BLAKE3 of their bytes
//! REPO/snapshots/<64 hex>        snapshots (JSON, see `mirror::snapshot`), named likewise
//! REPO/locks/<host>-<pid>-<n>    locks held (JSON: host, pid, mode, time)
//! REPO/tmp/                      files being written, renamed into place when complete
//! ```
//!
//! A **blob** is a chunk of file content or a tree, named by the BLAKE3 of its uncompressed
//! bytes ([`BlobId`]). It is stored zstd-compressed (level 3), or raw when that does not save
//! at least 1/32 of it, or as a delta.
//!
//! A **delta** is a blob stored as one zstd frame (level 3, window log 24, long-distance
//! matching) compressed with the bytes of other blobs, its **bases**, concatenated in
//! order, as a raw-content prefix (`ZSTD_CCtx_refPrefix`, as `zstd --patch-from`): reading
//! it reads its bases first (themselves possibly deltas), then decompresses with the same
//! prefix (`ZSTD_DCtx_refPrefix`, window log max 24), and checks the BLAKE3 of the result
//! like any blob's. A run stores a new chunk of a file as a delta against the chunks of the
//! same path in the previous snapshot that cover the same offsets, when that is smaller
//! than storing it plainly (or under 1/64 of the chunk, without comparing). A delta's
//! **depth** is 1 + the largest depth of its bases (0 for a plain blob); writers keep it at
//! most 16, readers refuse chains deeper than 64 (corruption). The id stays the hash of the
//! uncompressed bytes, so deduplication does not depend on how a blob is stored. A blob is
//! used as long as a delta of a used blob has it as a base: `prune` keeps bases; `check`
//! reports a delta whose chain reaches a damaged or missing blob as damaged too.
//!
//! Reading a delta decodes its chain: restoring the newest of a file's nightly snapshots
//! decodes, chunk by chunk, the versions before it down to the last plain one. Decoded bases
//! are kept in a 64 MiB cache (least recently used out), which holds the few chunks per
//! level that consecutive chunks share, so each version is decoded about once per restore,
//! run (for its references) or `check --read-data`.
//!
//! A **pack** holds blobs back to back, then a header describing them, then the header's
//! length and a magic:
//!
//! ```text
//! blob bytes … |
//! header (CBOR: [{id, kind, offset, length, raw_length, compressed, base?}, …]) |
//! header length (u32 LE) | "OEPACK01"
//! ```
//!
//! `base` (a list of blob ids) is present only in the entry of a delta: a plain blob's entry
//! is encoded exactly as in format 1. A delta's `compressed` is true.
//!
//! An **index file** (CBOR: `[{pack, blobs: [header entry, …]}, …]`) copies the headers of the
//! packs a run wrote, so that opening the repository reads a few index files instead of
//! every pack. It is only a cache: a pack no index lists (its run was killed before writing
//! the index) is found by listing `data/` and read from its own header, and its blobs are
//! reused like any other.
//!
//! # Encryption
//!
//! A repository may be encrypted at `init` (format 3, see [`crypto`]): every blob is sealed
//! before it goes into its pack (a pack entry's `length` counts the 40 bytes of nonce and
//! tag), and so are each pack's header, index files and snapshots; blob ids are keyed
//! BLAKE3. Names stay the BLAKE3 of the stored (sealed) bytes.
//!
//! # Versions
//!
//! Format 1 had no deltas. This code reads formats 1, 2 and 3 and creates repositories of
//! format 2 (3 when encrypted: older oe refuses it as unknown). A repository of format 1 stays 1 (readable by older oe) until a run is about to
//! store its first delta: it then rewrites `config` with format 2 first, so an older oe,
//! which ignores the unknown `base` field and would misread deltas as damage, refuses the
//! repository cleanly as of an unknown format instead.
//!
//! # Crash safety
//!
//! Every object is written to `tmp/`, fsynced, renamed into place and its directory fsynced:
//! it is either absent or complete. A run writes its packs, then their index, then the
//! snapshot, so a snapshot that exists refers only to durable, indexed blobs, and a run killed
//! at any point leaves packs that the next run recovers. `prune` writes the packs it repacks,
//! then an index of every pack it keeps, then deletes the old index files, then the old packs:
//! killed anywhere, every blob a snapshot uses is still in a pack that some index lists or
//! that recovery finds. The bases of a delta are blobs of earlier snapshots, already durable
//! and indexed when the delta is written; `prune` keeps them with the deltas that use them.
//! One writer at a time (run, forget, prune): see [`lock`].
//!
//! # Modules
//!
//! - [`blob`]: blob ids and kinds; [`error`]: the repository's error;
//! - [`crypto`]: sealing objects, keyed ids, key files;
//! - [`storage`]: immutable named objects on a disk; [`lock`]: readers and writers;
//! - [`pack`]: the pack and index formats, compression and deltas;
//! - [`repository`]: the [`Repository`] (opening and reading, writing, check, prune);
//! - [`tree`], [`snapshot`]: the objects a snapshot is made of.

mod blob;
#[cfg(test)]
pub mod counted;
pub mod crypto;
mod error;
mod id_map;
mod lock;
mod pack;
mod repository;
pub mod snapshot;
mod storage;
pub mod tree;

pub use blob::{BlobId, BlobKind};
pub use error::Error;
pub use id_map::IdMap;
pub use lock::{LockGuard, LockMode, acquire as lock_storage, hostname};
pub use pack::Compressor;
pub use repository::{
    CheckReport, DamagedPack, FullPack, KeyInfo, PrunePlan, PruneStats, Repository, Stats,
};
pub use storage::{LocalStorage, ObjectKind, Storage, object_key};
