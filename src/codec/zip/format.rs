//! Constants of the zip format (PKWARE APPNOTE) shared by the writer and the stream reader.

pub const LOCAL_HEADER: u32 = 0x0403_4b50;
pub const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
pub const CENTRAL_HEADER: u32 = 0x0201_4b50;
pub const ZIP64_END: u32 = 0x0606_4b50;
pub const ZIP64_LOCATOR: u32 = 0x0706_4b50;
pub const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// Extra field holding 8-byte sizes and offsets.
pub const ZIP64_EXTRA: u16 = 0x0001;
/// Compression methods.
pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;
