//! Counting the bytes that pass, for progress bars and summaries, and stopping when a signal
//! arrived.

use std::io::{self, Read, Write};

use indicatif::ProgressBar;

use crate::stop;

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
        stop::check()?;
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }
}

impl<W: Write> Write for Meter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        stop::check()?;
        let n = self.inner.write(buf)?;
        self.count(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A byte count for people: `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
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

    #[test]
    fn bytes_for_people() {
        assert_eq!(super::bytes(12), "12 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(3 << 30), "3.0 GiB");
    }
}
