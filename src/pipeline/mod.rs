//! Byte streams of dumps: what a dump is (detected by content, [`format`]), how it is
//! compressed and decompressed ([`encode`], [`decode`], over the codecs of `crate::codec`,
//! `flate2` and `zstd`), how its progress is metered ([`meter`]), copied ([`copy`]) and
//! counted ([`sql`]: the rows of each table a plain dump holds).
//!
//! Pure data plane: synchronous `Read`/`Write` on threads, no PostgreSQL and no child
//! processes here. Compression uses every core: blocks are compressed in parallel and
//! written in order (gzip and bzip2), or by zstd's own worker threads; bzip2 is also decoded
//! in parallel, because its blocks are independent. The parallel stages run on
//! `crate::plumbing::pool`'s workers, which turn a worker's panic into an error of the command.

pub mod copy;
pub mod decode;
pub mod encode;
pub mod format;
pub mod meter;
pub mod sql;

pub use copy::{CopyError, copy};
pub use format::{Codec, DumpFormat, Payload};
