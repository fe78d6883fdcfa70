//! The zip format's numbers (PKWARE APPNOTE 6.3): record signatures and lengths, versions,
//! flags, compression methods, the zip64 limits and the DOS date range. The only place they
//! are written down: the records, the writer and the stream reader take them from here.
//!
//! Data only: no code, no decisions.

pub const LOCAL_HEADER: u32 = 0x0403_4b50;
pub const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
pub const CENTRAL_HEADER: u32 = 0x0201_4b50;
pub const ZIP64_END: u32 = 0x0606_4b50;
pub const ZIP64_LOCATOR: u32 = 0x0706_4b50;
pub const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;

/// Bytes of each record without its name and extra field: the local header, the central
/// directory header, the zip64 end record, its locator and the end of central directory.
pub const LOCAL_HEADER_LEN: usize = 30;
pub const CENTRAL_HEADER_LEN: usize = 46;
pub const ZIP64_END_LEN: usize = 56;
pub const ZIP64_LOCATOR_LEN: usize = 20;
pub const END_OF_CENTRAL_DIRECTORY_LEN: usize = 22;

/// Extra field holding 8-byte sizes and offsets.
pub const ZIP64_EXTRA: u16 = 0x0001;
/// A 32-bit size or offset field holding this has its value in the zip64 extra field (or, for
/// the end record's offset and size, in the zip64 end record).
pub const IN_ZIP64: u32 = 0xFFFF_FFFF;
/// Sizes and offsets from which zip64 fields are needed.
pub const ZIP64_LIMIT: u64 = IN_ZIP64 as u64;
/// Entry count from which the zip64 end records are needed (the 16-bit count holds this).
pub const ZIP64_ENTRIES: u16 = 0xFFFF;

/// Compression methods.
pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;

/// Version needed to extract: 2.0 (deflate), 4.5 with zip64 fields.
pub const VERSION_DEFLATE: u16 = 20;
pub const VERSION_ZIP64: u16 = 45;
/// Version made by: Unix, specification 4.5.
pub const MADE_BY: u16 = 3 << 8 | VERSION_ZIP64;
/// Regular file, `rw-r--r--`, in the high half of the external attributes.
pub const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// General purpose flags: encrypted, sizes in a data descriptor, UTF-8 name.
pub const FLAG_ENCRYPTED: u16 = 1;
pub const FLAG_DESCRIPTOR: u16 = 1 << 3;
pub const FLAG_UTF8: u16 = 1 << 11;

/// The years a DOS date can hold.
pub const DOS_FIRST_YEAR: i16 = 1980;
pub const DOS_LAST_YEAR: i16 = 1980 + 127;
