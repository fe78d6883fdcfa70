//! Counting the bytes that pass, for progress bars and summaries, and stopping when a signal
//! arrived.

use std::io::{self, Read, Write};

use indicatif::ProgressBar;

use crate::process::interrupt;

/// A reader or writer that counts bytes, advances a progress bar (hidden unless on a
/// terminal) and fails once a signal was received.
pub struct Meter<T> {
    inner: T,
    bytes: u64,
    progress: ProgressBar,
}

impl<T> Meter<T> {
    pub fn new(inner: T, progress: ProgressBar) -> Meter<T> {
        Meter { inner, bytes: 0, progress }
    }

    pub fn total(&self) -> u64 {
        self.bytes
    }

    pub fn into_inner(self) -> T {
        self.inner
    }

    fn count(&mut self, n: usize) {
        self.bytes += n as u64;
        self.progress.inc(n as u64);
    }
}

impl<R: Read> Read for Meter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        interrupt::check()?;
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }
}

impl<W: Write> Write for Meter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        interrupt::check()?;
        let n = self.inner.write(buf)?;
        self.count(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_both_ways() {
        let mut r = Meter::new(&b"hello world"[..], ProgressBar::hidden());
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(r.total(), 11);
        let mut w = Meter::new(Vec::new(), ProgressBar::hidden());
        w.write_all(b"abc").unwrap();
        assert_eq!(w.total(), 3);
        assert_eq!(w.into_inner(), b"abc");
    }
}
