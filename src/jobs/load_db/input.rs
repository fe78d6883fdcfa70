//! Opening an input and telling what it is from its first bytes: compression, then payload.
//!
//! An input is a path of this host (a file, a pipe, `-` for standard input) or any
//! [`Seekable`] (a file of a repository's snapshot, read in place). A regular file is one
//! `Seekable` among others: an uncompressed zip in either is read through its central
//! directory, by as many readers as the load needs; everything else is read as a stream.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::ProgressBar;

use super::Error;
use crate::odoo::layout;
use crate::pipeline::decode::{Peekable, Stream, decoder};
use crate::pipeline::format::SNIFF_LEN;
use crate::pipeline::meter::Meter;
use crate::pipeline::{Codec, DumpFormat, Payload};

/// A seekable input that several readers may read at once, each from its own position (the
/// dump and the filestore of an archive are restored at the same time).
pub trait Seekable: Send + Sync {
    /// A new reader, at the start.
    fn open(&self) -> io::Result<Box<dyn SeekRead>>;
    /// Bytes in the input.
    fn size(&self) -> u64;
    /// The file on this host, for a tool that must open it itself (`pg_restore --jobs`).
    fn path(&self) -> Option<&Path> {
        None
    }
}

/// What a [`Seekable`] opens: any `Read + Seek` that can move to another thread.
pub trait SeekRead: Read + Seek + Send {}

impl<T: Read + Seek + Send> SeekRead for T {}

/// Where a load reads from.
#[derive(Clone)]
pub enum Origin {
    /// A path of this host: a file, a pipe, or `-` for standard input.
    Path(PathBuf),
    /// Any seekable input, `name` saying what it is in messages and the summary.
    Seekable { name: String, input: Arc<dyn Seekable> },
}

impl Origin {
    /// The input in messages: `standard input`, a path, or the seekable input's name.
    pub fn name(&self) -> String {
        match self {
            Origin::Path(path) if path == Path::new("-") => "standard input".into(),
            Origin::Path(path) => path.display().to_string(),
            Origin::Seekable { name, .. } => name.clone(),
        }
    }

    /// The input in a summary: as given (`-` for standard input).
    pub fn given(&self) -> String {
        match self {
            Origin::Path(path) => path.display().to_string(),
            Origin::Seekable { name, .. } => name.clone(),
        }
    }
}

impl From<PathBuf> for Origin {
    fn from(path: PathBuf) -> Origin {
        Origin::Path(path)
    }
}

/// A regular file of this host.
struct LocalFile {
    path: PathBuf,
    size: u64,
}

impl Seekable for LocalFile {
    fn open(&self) -> io::Result<Box<dyn SeekRead>> {
        Ok(Box::new(File::open(&self.path)?))
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }
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
    /// An uncompressed zip in a seekable input, its entries checked: read through its
    /// central directory.
    Zip(Arc<dyn Seekable>),
    /// An uncompressed custom-format dump in a file, usable by `pg_restore --jobs` directly.
    CustomFile(PathBuf, Peekable),
}

impl Input {
    pub fn open(origin: &Origin, threads: usize, progress: ProgressBar) -> Result<Input, Error> {
        let name = origin.name();
        let open_error = |source| Error::Open { input: name.clone(), source };
        let seekable = seekable(origin).map_err(open_error)?;
        let raw: Stream = match &seekable {
            Some(input) => {
                progress.set_length(input.size());
                Box::new(input.open().map_err(open_error)?)
            }
            None => match origin {
                Origin::Path(path) if path == Path::new("-") => Box::new(io::stdin()),
                Origin::Path(path) => Box::new(File::open(path).map_err(open_error)?),
                Origin::Seekable { .. } => unreachable!("a seekable origin is seekable"),
            },
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
        let source = match (payload, codec, seekable) {
            (Payload::Zip, Codec::None, Some(input)) => {
                check_archive(input.as_ref(), &name)?;
                Source::Zip(input)
            }
            (Payload::Custom, Codec::None, Some(input)) if input.path().is_some() => {
                let path = input.path().map(Path::to_path_buf).unwrap_or_default();
                Source::CustomFile(path, decoded)
            }
            _ => Source::Stream(decoded),
        };
        Ok(Input { name, format, source, progress })
    }
}

/// The origin as a seekable input, when it is one: a regular file is; standard input, a
/// pipe or a device is read as a stream.
fn seekable(origin: &Origin) -> io::Result<Option<Arc<dyn Seekable>>> {
    let path = match origin {
        Origin::Seekable { input, .. } => return Ok(Some(Arc::clone(input))),
        Origin::Path(path) if path == Path::new("-") => return Ok(None),
        Origin::Path(path) => path,
    };
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    Ok(meta
        .is_file()
        .then(|| Arc::new(LocalFile { path: path.clone(), size: meta.len() }) as Arc<dyn Seekable>))
}

pub(super) fn hex_head(head: &[u8]) -> String {
    let bytes: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if bytes.is_empty() { "nothing: the input is empty".into() } else { bytes.join(" ") }
}

/// Refuses an archive with an unsafe entry (absolute, `..`, link, device) or without a
/// dump, before anything is written. Reads the central directory only: looking at every
/// entry's local header read all of an archive in a repository, a chunk per entry.
fn check_archive(input: &dyn Seekable, name: &str) -> Result<(), Error> {
    let zip_error = |source| Error::Zip { input: name.to_owned(), source };
    let reader = input.open().map_err(|source| Error::Open { input: name.to_owned(), source })?;
    let archive = zip::ZipArchive::new(reader).map_err(zip_error)?;
    let mut has_dump = false;
    for i in 0..archive.len() {
        let entry = archive.by_index_data(i).map_err(zip_error)?;
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

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};
    use std::sync::Mutex;

    use super::*;

    /// An archive in memory that remembers the offsets its readers read at.
    struct Watched {
        bytes: Arc<[u8]>,
        reads: Arc<Mutex<Vec<u64>>>,
    }

    struct WatchedReader {
        inner: Cursor<Arc<[u8]>>,
        reads: Arc<Mutex<Vec<u64>>>,
    }

    impl Seekable for Watched {
        fn open(&self) -> io::Result<Box<dyn SeekRead>> {
            let inner = Cursor::new(Arc::clone(&self.bytes));
            Ok(Box::new(WatchedReader { inner, reads: Arc::clone(&self.reads) }))
        }

        fn size(&self) -> u64 {
            self.bytes.len() as u64
        }
    }

    impl Read for WatchedReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let at = self.inner.position();
            let n = self.inner.read(buf)?;
            if n > 0 {
                self.reads.lock().unwrap().push(at);
            }
            Ok(n)
        }
    }

    impl Seek for WatchedReader {
        fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
            self.inner.seek(to)
        }
    }

    fn archive(entries: &[&str]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for name in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(&b"SELECT 1;\n".repeat(1000)).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn an_archive_is_checked_from_its_central_directory_alone() {
        // In a repository, reading an entry's local header fetches the chunk around it: a
        // check that read them read the whole archive.
        let bytes = archive(&["dump.sql", "filestore/ab/one", "filestore/cd/two"]);
        let directory =
            zip::ZipArchive::new(Cursor::new(&bytes)).unwrap().central_directory_start();
        let reads = Arc::default();
        let watched = Watched { bytes: Arc::from(bytes), reads: Arc::clone(&reads) };
        check_archive(&watched, "a.zip").unwrap();
        // The zip crate looks at the archive's first bytes, which a load has read already.
        let reads = reads.lock().unwrap();
        assert!(reads.iter().all(|&at| at == 0 || at >= directory), "{reads:?}, {directory}");

        // What the check is for still holds.
        let check = |entries: &[&str]| {
            let watched = Watched { bytes: Arc::from(archive(entries)), reads: Arc::default() };
            check_archive(&watched, "a.zip")
        };
        assert!(matches!(check(&["filestore/ab/one"]), Err(Error::NoDumpInZip { .. })));
        let outside = check(&["dump.sql", "filestore/../../evil"]);
        assert!(matches!(outside, Err(Error::UnsafeEntry { .. })), "{outside:?}");
    }
}
