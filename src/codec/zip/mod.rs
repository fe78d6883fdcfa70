//! zip (PKWARE APPNOTE) for Odoo's backup archives: written in parallel, read as a stream.
//!
//! - [`format`]: the format's numbers (signatures, record lengths, flags, limits), and only
//!   there;
//! - `records`: the byte layout of each record (local header, data descriptor, central
//!   directory header, zip64 and end records) and an entry's name check and DOS time; pure;
//! - `compress`: the compression stage on the worker pool: whole entries and blocks of large
//!   ones, stored or deflated;
//! - [`writer`]: [`writer::ZipWriter`], which queues entries for the workers, writes their
//!   records and data in order, and keeps the central directory (spilled past a size);
//! - [`reader`]: walks the entries of an archive read as a stream, without its central
//!   directory.
//!
//! Must not: walk directories or choose what goes into an archive (the jobs do), nor know
//! Odoo's layout beyond the docs' examples.

mod compress;
pub mod format;
pub mod reader;
mod records;
pub mod writer;
