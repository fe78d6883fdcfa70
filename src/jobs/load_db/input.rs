//! Opening an input and telling what it is from its first bytes: compression, then payload.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use super::Error;
use crate::odoo::layout;
use crate::pipeline::decode::{Peekable, Stream, decoder};
use crate::pipeline::format::SNIFF_LEN;
use crate::pipeline::meter::Meter;
use crate::pipeline::{Codec, DumpFormat, Payload};

pub(super) fn input_name(input: &Path) -> String {
    if input == Path::new("-") { "standard input".into() } else { input.display().to_string() }
}

/// An input whose format is known, positioned at its start.
pub(super) struct Input {
    pub name: String,
    pub format: DumpFormat,
    pub source: Source,
    /// Counts raw input bytes; shared with the progress bar.
    pub progress: ProgressBar,
}

pub(super) enum Source {
    /// A decoded stream of the payload.
    Stream(Peekable),
    /// An uncompressed zip in a file, its entries checked: read through its central directory.
    ZipFile(PathBuf),
    /// An uncompressed custom-format dump in a file, usable by `pg_restore --jobs` directly.
    CustomFile(PathBuf, Peekable),
}

impl Input {
    pub fn open(path: &Path, threads: usize, progress: ProgressBar) -> Result<Input, Error> {
        let name = input_name(path);
        let open_error = |source| Error::Open { input: name.clone(), source };
        let (raw, is_file): (Stream, bool) = if path == Path::new("-") {
            (Box::new(io::stdin()), false)
        } else {
            let file = File::open(path).map_err(open_error)?;
            let meta = file.metadata().map_err(open_error)?;
            if meta.is_dir() {
                return Err(open_error(io::Error::other("is a directory")));
            }
            progress.set_length(meta.len());
            (Box::new(file), meta.is_file())
        };
        let mut raw = Peekable::new(Box::new(Meter::new(raw, progress.clone())));
        let codec = Codec::detect(raw.peek(SNIFF_LEN).map_err(open_error)?);
        let mut decoded =
            Peekable::new(decoder(codec, Box::new(raw), threads).map_err(open_error)?);
        let head = decoded.peek(SNIFF_LEN);
        let head = match head {
            Ok(head) => head,
            Err(source) => {
                let format = DumpFormat { payload: Payload::PlainSql, codec };
                return Err(Error::Corrupt { input: name, format, source });
            }
        };
        let payload = Payload::detect(head)
            .ok_or_else(|| Error::UnknownFormat { input: name.clone(), head: hex_head(head) })?;
        let format = DumpFormat { payload, codec };
        let source = match (payload, codec, is_file) {
            (Payload::Zip, Codec::None, true) => {
                check_archive(path, &name)?;
                Source::ZipFile(path.to_path_buf())
            }
            (Payload::Custom, Codec::None, true) => Source::CustomFile(path.to_path_buf(), decoded),
            _ => Source::Stream(decoded),
        };
        Ok(Input { name, format, source, progress })
    }
}

pub(super) fn hex_head(head: &[u8]) -> String {
    let bytes: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if bytes.is_empty() { "nothing: the input is empty".into() } else { bytes.join(" ") }
}

/// Refuses an archive with an unsafe entry (absolute, `..`, link, device) or without a
/// dump, before anything is written.
fn check_archive(path: &Path, name: &str) -> Result<(), Error> {
    let zip_error = |source| Error::Zip { input: name.to_owned(), source };
    let file = File::open(path).map_err(|source| Error::Open { input: name.to_owned(), source })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
    let mut has_dump = false;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(zip_error)?;
        let entry_name = entry.name().map_err(zip_error)?.into_owned();
        let kind = layout::classify(&entry_name, entry.unix_mode())
            .map_err(|source| Error::UnsafeEntry { input: name.to_owned(), source })?;
        has_dump |= kind == layout::Entry::Dump;
    }
    if !has_dump {
        return Err(Error::NoDumpInZip { input: name.to_owned() });
    }
    Ok(())
}
