//! zip (PKWARE APPNOTE): the records, a parallel writer and a stream reader.

pub mod format;
pub mod reader;
pub mod writer;
