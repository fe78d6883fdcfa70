//! Byte streams: what a dump is (detected by content), how it is compressed and decompressed,
//! how its progress is metered, and where what grows with the number of files spills
//! (`spill`, the one place here that makes a file: an unlinked temporary one).
//!
//! Pure data plane: synchronous `Read`/`Write` on threads, no PostgreSQL and no child
//! processes here. Compression uses every core: blocks are compressed in parallel and
//! written in order (gzip and bzip2), or by zstd's own worker threads; bzip2 is also decoded
//! in parallel, because its blocks are independent. These stages, and the zip writer's, run on
//! [`pool`]'s workers, which turn a worker's panic into an error of the command.

pub mod background;
pub mod codec;
pub mod copy;
pub mod decode;
pub mod encode;
pub mod meter;
pub mod pool;
pub mod spill;
pub mod sql;

pub use codec::{Codec, DumpFormat, Payload};
pub use copy::{CopyError, copy};
