//! Files that appear whole or not at all: written to `<name>.<pid>.partial` beside the
//! target with mode 0600, fsynced, and renamed into place only by [`AtomicFile::commit`],
//! which callers reach only after every producer succeeded. Dropped uncommitted, the partial
//! file is removed. [`Output`] is the same, or standard output for `-`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Stdout, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct AtomicFile {
    file: Option<File>,
    partial: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Starts writing `target`: creates its partial file (mode 0600) in the same directory.
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut partial_name = name.to_os_string();
        partial_name.push(format!(".{}.partial", std::process::id()));
        let partial = target.with_file_name(partial_name);
        let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial)?;
        Ok(AtomicFile { file: Some(file), partial, target: target.to_path_buf() })
    }

    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    /// Makes the file durable and puts it in place of the target. When either step fails
    /// the partial file is removed and the target left as it was.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().ok_or_else(|| io::Error::other("already committed"))?;
        let placed = file.sync_all().and_then(|()| fs::rename(&self.partial, &self.target));
        drop(file);
        if let Err(err) = placed {
            let _ = fs::remove_file(&self.partial);
            return Err(err);
        }
        let dir = match self.target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// Where a job's output goes: an atomic file, or standard output (`-`).
pub enum Output {
    File(AtomicFile),
    Stdout(Stdout),
}

impl Output {
    pub fn create(path: &Path) -> io::Result<Output> {
        if path == Path::new("-") {
            Ok(Output::Stdout(io::stdout()))
        } else {
            AtomicFile::create(path).map(Output::File)
        }
    }

    /// Puts the file in place, or flushes standard output.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Output::File(file) => file.commit(),
            Output::Stdout(mut out) => out.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(f) => f.write(buf),
            Output::Stdout(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(f) => f.flush(),
            Output::Stdout(out) => out.flush(),
        }
    }
}

/// Creates the directory of `path` if it is missing, private (mode 0700) like the files
/// written there.
pub fn create_private_parent(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => fs::DirBuilder::new().recursive(true).mode(0o700).create(dir),
        None => Ok(()),
    }
}

/// Makes everything written to the file system holding `dir` durable: one `syncfs`, which
/// for tens of thousands of small files is many times faster than an fsync per file.
pub fn sync_file_system(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let handle = std::fs::File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `handle` keeps open for the call.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn appears_only_on_commit_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.sql.gz");
        fs::write(&target, b"old").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"old");
        let partial = f.partial_path().to_path_buf();
        assert!(partial.exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!partial.exists());
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_failed_commit_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        // A rename of a file over a non-empty directory fails (EISDIR).
        let target = dir.path().join("out.zip");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("kept"), b"kept").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new").unwrap();
        let partial = f.partial_path().to_path_buf();
        assert!(f.commit().is_err());
        assert!(!partial.exists(), "partial file left behind");
        assert_eq!(fs::read(target.join("kept")).unwrap(), b"kept");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_uncommitted_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.dump");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"partial").unwrap();
        drop(f);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
