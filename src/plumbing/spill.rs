//! A spill buffer: bytes appended in memory up to a threshold, past it to an anonymous
//! temporary file, then read back from the start, as often as needed.
//!
//! For what grows with the number of files of a save (the zip's central directory, the
//! filestore's listing), so that memory stays bounded at any number of files while small
//! saves never touch the disk for it. The file is made by `tempfile::tempfile_in`: unlinked as
//! soon as it is opened, so it disappears with its last descriptor, whatever ends the process
//! (success, error, panic, signal, SIGKILL); nothing is left to clean up. Written through a
//! buffer, read back with positioned reads, so readers never disturb each other or the writer.
//!
//! Must not: keep more than `threshold` bytes (plus a write buffer) in memory; name the file.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Write buffer of a spilled buffer.
const WRITE_BUFFER: usize = 256 << 10;

/// Bytes appended in memory, or in a temporary file once past the threshold.
pub struct Spill {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    /// Where the temporary file is made.
    dir: PathBuf,
    threshold: usize,
    len: u64,
}

impl Spill {
    /// An empty buffer that moves to a temporary file in `dir` once it would hold more than
    /// `threshold` bytes.
    pub fn new(dir: &Path, threshold: usize) -> Spill {
        Spill { memory: Vec::new(), file: None, dir: dir.to_path_buf(), threshold, len: 0 }
    }

    /// Makes room in memory for `additional` bytes, up to the threshold: one allocation
    /// instead of growing by doubling (which copies it all and can hold twice its size).
    pub fn reserve(&mut self, additional: usize) {
        if self.file.is_none() {
            let room = self.threshold.saturating_sub(self.memory.len());
            self.memory.reserve_exact(additional.min(room));
        }
    }

    /// Bytes appended so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the bytes went to a temporary file.
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Appends `bytes`; the first append past the threshold moves everything to the file.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(bytes)?,
            None if self.memory.len() + bytes.len() <= self.threshold => {
                self.memory.extend_from_slice(bytes);
            }
            None => {
                let file = tempfile::tempfile_in(&self.dir).map_err(|e| {
                    let message =
                        format!("creating a temporary file in {}: {e}", self.dir.display());
                    io::Error::new(e.kind(), message)
                })?;
                let mut file = BufWriter::with_capacity(WRITE_BUFFER, file);
                file.write_all(&std::mem::take(&mut self.memory))?;
                file.write_all(bytes)?;
                self.file = Some(file);
            }
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// A reader of everything appended so far, from the start. Flushes the write buffer.
    pub fn reader(&mut self) -> io::Result<SpillReader<'_>> {
        let source = match &mut self.file {
            Some(file) => {
                file.flush()?;
                Source::File { file: file.get_ref(), position: 0, end: self.len }
            }
            None => Source::Memory(&self.memory),
        };
        Ok(SpillReader(source))
    }

    /// The bytes, when they stayed in memory (no copy).
    pub fn into_memory(self) -> Option<Vec<u8>> {
        match self.file {
            Some(_) => None,
            None => Some(self.memory),
        }
    }
}

/// Reads a [`Spill`] from its start; independent of other readers.
pub struct SpillReader<'a>(Source<'a>);

enum Source<'a> {
    Memory(&'a [u8]),
    File { file: &'a File, position: u64, end: u64 },
}

impl Read for SpillReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Source::Memory(bytes) => bytes.read(buf),
            Source::File { file, position, end } => {
                let want = (buf.len() as u64).min(*end - *position) as usize;
                if want == 0 {
                    return Ok(0);
                }
                let n = file.read_at(&mut buf[..want], *position)?;
                if n == 0 {
                    let message = "the temporary spill file is shorter than what was written";
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, message));
                }
                *position += n as u64;
                Ok(n)
            }
        }
    }
}

/// The descriptors of this process open on deleted files in `dir`: the spill files alive.
#[cfg(test)]
pub(crate) fn open_deleted_in(dir: &Path) -> usize {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| {
            let text = target.to_string_lossy();
            target.starts_with(&dir) && text.ends_with(" (deleted)")
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(spill: &mut Spill) -> Vec<u8> {
        let mut out = Vec::new();
        spill.reader().unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn small_stays_in_memory_large_spills_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path(), 10);
        spill.append(b"0123456789").unwrap();
        assert!(!spill.spilled());
        assert_eq!(read_all(&mut spill), b"0123456789");
        spill.append(b"abc").unwrap();
        assert!(spill.spilled());
        assert_eq!(open_deleted_in(dir.path()), 1, "one unlinked temporary file");
        let big: Vec<u8> = (0..3 * WRITE_BUFFER).map(|i| (i % 251) as u8).collect();
        spill.append(&big).unwrap();
        let mut expected = b"0123456789abc".to_vec();
        expected.extend(&big);
        assert_eq!(spill.len(), expected.len() as u64);
        // Twice: readers start over and do not disturb each other.
        assert_eq!(read_all(&mut spill), expected);
        assert_eq!(read_all(&mut spill), expected);
        spill.append(b"more").unwrap();
        expected.extend(b"more");
        assert_eq!(read_all(&mut spill), expected);
        assert!(spill.into_memory().is_none());
        // Nothing in the directory, ever, and nothing open once dropped.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(open_deleted_in(dir.path()), 0);
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_it() {
        let mut spill = Spill::new(Path::new("/nonexistent/oe-spill"), 4);
        spill.append(b"1234").unwrap();
        let error = spill.append(b"5").unwrap_err();
        assert!(error.to_string().contains("/nonexistent/oe-spill"), "{error}");
    }
}
