//! Restoring an opened input: its dump into a database and, for an Odoo archive, its
//! filestore into a staged directory.
//!
//! From a seekable zip (a file, or a file of a snapshot), the dump and the filestore are
//! restored at the same time from two readers of the archive (psql keeps the server busy while the files are written); from a
//! stream, entries are restored in archive order, whether the dump comes first (Odoo) or
//! last (click-odoo-contrib). The rows an archive's manifest recorded per table (`oe save`)
//! come back with the bytes read, for the job to compare after the load.

use std::io::{self, Read};
use std::path::Path;

use super::Error;
use super::feed::{feed, load_sql, spool};
use super::input::{Input, SeekRead, Seekable, Source};
use crate::codec::zip::reader::{self, StreamError};
use crate::odoo::filestore::Staged;
use crate::odoo::layout::{self, DUMP_ENTRY, Entry, MANIFEST_ENTRY};
use crate::odoo::manifest::Manifest;
use crate::pg::Tools;
use crate::pipeline::meter::Meter;
use crate::pipeline::sql::TableRows;
use crate::pipeline::{DumpFormat, Payload};
use crate::stop;

/// A manifest bigger than this is not one Odoo or `oe` wrote: its row counts are ignored.
const MAX_MANIFEST: u64 = 64 << 20;

/// Streams the payload into `db` and an archive's filestore into `filestore` (ignored when
/// `None`); returns the bytes of input read and the rows per table an archive's manifest
/// recorded, if it did.
pub(super) fn unpack(
    input: Input,
    tools: &Tools,
    db: &str,
    jobs: usize,
    filestore: Option<&mut Staged>,
) -> Result<(u64, Option<TableRows>), Error> {
    let Input { name, format, source, progress } = input;
    let mut recorded = None;
    match (format.payload, source) {
        (Payload::PlainSql, Source::Stream(stream)) => load_sql(tools, db, stream, &name, format)?,
        (Payload::Custom, Source::CustomFile(path, _)) if jobs > 1 => {
            tools.restore_file(db, &path, jobs)?;
            progress.set_position(progress.length().unwrap_or(0));
        }
        (Payload::Custom, Source::Stream(stream) | Source::CustomFile(_, stream)) => {
            if jobs > 1 {
                let spooled = spool(stream, &name, format)?;
                tools.restore_file(db, spooled.path(), jobs)?;
            } else {
                feed(tools.restorer(db)?, stream, &name, format)?;
            }
        }
        (Payload::Zip, Source::Zip(input)) => {
            let archive = Archive { input: input.as_ref(), name: &name, format };
            std::thread::scope(|scope| {
                let files = filestore.map(|staged| scope.spawn(|| archive.extract(staged)));
                let dump = archive.load_dump(tools, db, &progress);
                let files = files.map_or(Ok(()), |t| t.join().unwrap_or_else(|_| Err(panicked())));
                dump.and(files)
            })?;
            recorded = archive.recorded_rows();
        }
        (Payload::Zip, Source::Stream(stream)) => {
            recorded = restore_stream(stream, tools, db, filestore, &name, format)?;
        }
        (_, _) => unreachable!("sources are built to match their payload"),
    }
    Ok((progress.position(), recorded))
}

/// The rows per table the manifest read from `content` recorded; `None` for a manifest
/// without them (Odoo's, older `oe`'s) or one that cannot be read, which `verify` reports.
fn recorded_rows(content: &mut dyn Read) -> Option<TableRows> {
    let mut bytes = Vec::new();
    content.take(MAX_MANIFEST).read_to_end(&mut bytes).ok()?;
    Manifest::parse(&bytes).ok()?.oe?.rows
}

/// A seekable zip whose entries were checked when it was opened.
struct Archive<'a> {
    input: &'a dyn Seekable,
    name: &'a str,
    format: DumpFormat,
}

impl Archive<'_> {
    /// A reader of its own, for one thread.
    fn open(&self) -> Result<zip::ZipArchive<Box<dyn SeekRead>>, Error> {
        let reader = self
            .input
            .open()
            .map_err(|source| Error::Open { input: self.name.to_owned(), source })?;
        zip::ZipArchive::new(reader).map_err(|source| self.zip_error(source))
    }

    fn zip_error(&self, source: zip::result::ZipError) -> Error {
        Error::Zip { input: self.name.to_owned(), source }
    }

    fn load_dump(
        &self,
        tools: &Tools,
        db: &str,
        progress: &indicatif::ProgressBar,
    ) -> Result<(), Error> {
        let mut archive = self.open()?;
        let entry = archive.by_name(DUMP_ENTRY).map_err(|source| self.zip_error(source))?;
        progress.set_length(entry.size());
        progress.set_position(0);
        load_sql(tools, db, Meter::new(entry, progress.clone()), self.name, self.format)
    }

    fn recorded_rows(&self) -> Option<TableRows> {
        let mut archive = self.open().ok()?;
        let mut entry = archive.by_name(MANIFEST_ENTRY).ok()?;
        recorded_rows(&mut entry)
    }

    fn extract(&self, staged: &mut Staged) -> Result<(), Error> {
        let mut archive = self.open()?;
        for i in 0..archive.len() {
            stop::check().map_err(|e| self.corrupt(e))?;
            let mut entry = archive.by_index(i).map_err(|source| self.zip_error(source))?;
            let entry_name = entry.name().map_err(|source| self.zip_error(source))?.into_owned();
            let kind = layout::classify(&entry_name, entry.unix_mode())
                .map_err(|source| Error::UnsafeEntry { input: self.name.to_owned(), source })?;
            if let Entry::Filestore(relative) = kind {
                write_file(staged, &relative, &mut entry, self.name, self.format)?;
            }
        }
        Ok(())
    }

    fn corrupt(&self, source: io::Error) -> Error {
        match stop::signal() {
            Some(signal) => Error::Interrupted(signal),
            None => Error::Corrupt { input: self.name.to_owned(), format: self.format, source },
        }
    }
}

/// A zip read from a stream, entry after entry (see `odoo::zip_stream`); returns the rows its
/// manifest recorded.
fn restore_stream(
    stream: impl Read,
    tools: &Tools,
    db: &str,
    mut filestore: Option<&mut Staged>,
    name: &str,
    format: DumpFormat,
) -> Result<Option<TableRows>, Error> {
    let mut stream = io::BufReader::with_capacity(1 << 20, stream);
    let mut loaded = false;
    let mut recorded = None;
    let walked = reader::for_each_entry(&mut stream, |entry_name, content| {
        // Link and device modes are only in the central directory, which comes last: an
        // entry is always written as a plain file, inside the staged directory.
        let kind = layout::classify(entry_name, None)
            .map_err(|source| Error::UnsafeEntry { input: name.to_owned(), source })?;
        match (kind, filestore.as_deref_mut()) {
            (Entry::Dump, _) => {
                load_sql(tools, db, content, name, format)?;
                loaded = true;
            }
            (Entry::Manifest, _) => recorded = recorded_rows(content),
            (Entry::Filestore(relative), Some(staged)) => {
                write_file(staged, &relative, content, name, format)?;
            }
            _ => {}
        }
        Ok(())
    });
    match walked {
        Ok(()) => {}
        Err(StreamError::Visit(e)) => return Err(e),
        Err(StreamError::Zip(source)) => {
            return Err(match stop::signal() {
                Some(signal) => Error::Interrupted(signal),
                None => Error::Corrupt { input: name.to_owned(), format, source },
            });
        }
    }
    // Read the central directory too, so a writer on the other end of a pipe finishes.
    io::copy(&mut stream, &mut io::sink()).map_err(|source| Error::Corrupt {
        input: name.to_owned(),
        format,
        source,
    })?;
    if loaded { Ok(recorded) } else { Err(Error::NoDumpInZip { input: name.to_owned() }) }
}

/// One filestore file; a read error is the archive's fault, a write error the disk's.
fn write_file(
    staged: &mut Staged,
    relative: &Path,
    content: &mut (impl Read + ?Sized),
    name: &str,
    format: DumpFormat,
) -> Result<(), Error> {
    let mut reading = ReadErrors { inner: content, error: None };
    match staged.write(relative, &mut reading) {
        Ok(_) => Ok(()),
        Err(_) if reading.error.is_some() => {
            let source = reading.error.take().unwrap_or_else(|| io::Error::other("read error"));
            Err(match stop::signal() {
                Some(signal) => Error::Interrupted(signal),
                None => Error::Corrupt { input: name.to_owned(), format, source },
            })
        }
        Err(source) => Err(Error::Filestore { path: relative.to_path_buf(), source }),
    }
}

/// Remembers a read error, to tell it from a write error after a copy failed.
struct ReadErrors<'a, R: ?Sized> {
    inner: &'a mut R,
    error: Option<io::Error>,
}

impl<R: Read + ?Sized> Read for ReadErrors<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.error = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

fn panicked() -> Error {
    Error::Filestore { path: "filestore".into(), source: io::Error::other("extraction panicked") }
}
