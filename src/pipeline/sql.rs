//! Plain SQL dumps: telling a complete `pg_dump` output from one cut short.
//!
//! `pg_dump` starts plain dumps with `-- PostgreSQL database dump` and ends them with
//! `-- PostgreSQL database dump complete`; recent versions also open with `\restrict KEY` and
//! close with `\unrestrict KEY`, which must be there whole.
//! A dump cut at a statement boundary is valid SQL, so `psql` alone would load it without
//! complaint: [`Completeness`] watches the stream pass and tells. Pure: no I/O of its own.

use std::io::{self, Read};

const HEADER: &[u8] = b"--\n-- PostgreSQL database dump\n";
const TRAILER: &[u8] = b"-- PostgreSQL database dump complete";
const RESTRICT: &[u8] = b"\n\\restrict ";
/// How much of the start is kept: the header and the `\restrict <key>` line.
const HEAD: usize = 1024;
/// How much of the end is kept: the trailer plus `\unrestrict <key>` and blank lines.
const TAIL: usize = 512;

/// A reader that remembers whether the stream is a pg_dump and keeps its last bytes.
pub struct Completeness<R> {
    inner: R,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl<R: Read> Completeness<R> {
    pub fn new(inner: R) -> Completeness<R> {
        Completeness { inner, head: Vec::new(), tail: Vec::new() }
    }

    /// After the end of the stream: `false` only for a pg_dump output without its trailer.
    /// SQL not written by pg_dump cannot be checked and counts as complete.
    pub fn is_complete(&self) -> bool {
        let from_pg_dump = self.head.starts_with(HEADER) || self.head.starts_with(&HEADER[1..]);
        if !from_pg_dump {
            return true;
        }
        let has = |needle: &[u8]| memchr::memmem::find(&self.tail, needle).is_some();
        has(TRAILER)
            && self.restrict_key().is_none_or(|key| has(&[b"\\unrestrict ", key, b"\n"].concat()))
    }

    /// The key of the `\restrict` line near the start, if there is one.
    fn restrict_key(&self) -> Option<&[u8]> {
        let start = memchr::memmem::find(&self.head, RESTRICT)? + RESTRICT.len();
        let len = memchr::memchr(b'\n', &self.head[start..])?;
        Some(&self.head[start..start + len])
    }
}

impl<R: Read> Read for Completeness<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(n);
            self.head.extend_from_slice(&data[..take]);
        }
        if n >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&data[n - TAIL..]);
        } else {
            self.tail.extend_from_slice(data);
            if self.tail.len() > TAIL {
                self.tail.drain(..self.tail.len() - TAIL);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &[u8], chunk: usize) -> bool {
        let mut c = Completeness::new(text);
        let mut buf = vec![0u8; chunk];
        while c.read(&mut buf).unwrap() > 0 {}
        c.is_complete()
    }

    #[test]
    fn tells_complete_from_truncated() {
        let body = "SET x = 1;\n".repeat(200);
        let complete = format!(
            "--\n-- PostgreSQL database dump\n--\n\n\\restrict k\n{body}--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k\n\n"
        );
        for chunk in [1, 7, 100, 1 << 16] {
            assert!(check(complete.as_bytes(), chunk), "chunk {chunk}");
            for cut in [3, 60, 1000] {
                let cut = &complete.as_bytes()[..complete.len() - cut];
                assert!(!check(cut, chunk), "chunk {chunk}, cut {}", cut.len());
            }
        }
        // Without \restrict (older pg_dump), the trailer alone decides.
        let old = complete.replace("\\restrict k\n", "").replace("\\unrestrict k\n", "");
        assert!(check(old.as_bytes(), 5));
        // SQL that pg_dump did not write cannot be judged.
        assert!(check(b"CREATE TABLE t (x int);\n", 4));
    }
}
