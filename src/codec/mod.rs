//! Pure codecs of the formats `oe` writes and reads by itself: [`bzip2`] (a block codec
//! with a parallel decoder) and [`zip`] (a parallel writer and a stream reader of Odoo's
//! backup archives). Synchronous `Read`/`Write` over bytes: no files named, no processes.

pub mod bzip2;
pub mod zip;
