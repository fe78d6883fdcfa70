//! What the unit tests of several modules share: seeded generators of test data, and an
//! output that fills up like a disk.

/// A small, fast, seeded generator (xorshift64).
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `len` incompressible bytes, the same for the same seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = XorShift::new(seed);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// SQL-like rows of `len` bytes: text and numbers, compressing like real dumps (about 4:1),
/// the same every time.
pub fn sql(len: usize) -> Vec<u8> {
    sql_of(&["Odoo", "invoice", "Paris", "créé", "order", "partner", "42.50", "NULL"], len)
}

/// [`sql`]'s rows made of other `words` (the benchmarks keep the list their published figures
/// were measured with).
pub fn sql_of(words: &[&str], len: usize) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(len + 100);
    let mut x = 0x9e37_79b9_u64;
    let mut row = 0u64;
    while out.len() < len {
        row += 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = |k: u64| words[((x >> k) % words.len() as u64) as usize];
        writeln!(out, "{row}\t{} {}\t{}\t{}\t{:x}", w(3), w(11), x % 100_000, w(23), x).unwrap();
    }
    out.truncate(len);
    out
}

/// A disk that fills up: accepts `room` bytes, then fails with ENOSPC.
#[derive(Debug)]
pub struct Full {
    pub room: usize,
}

impl std::io::Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
