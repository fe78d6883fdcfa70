//! bzip2's CRC-32 (polynomial 0x04c11db7, most significant bit first), computed 8 bytes at a
//! time with slicing tables built at compile time. Each block carries the CRC of its
//! uncompressed bytes, and each stream the CRCs of its blocks combined ([`combine`]); the
//! encoder writes them and the decoders check them.
//!
//! Pure: no I/O.

/// `CRC_TABLES[k][byte]`: the CRC of `byte` followed by `k` zero bytes (bzip2's CRC-32: MSB
/// first, polynomial 0x04c11db7).
static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut byte = 0;
        while byte < 256 {
            let previous = tables[k - 1][byte];
            tables[k][byte] = (previous << 8) ^ tables[0][(previous >> 24) as usize];
            byte += 1;
        }
        k += 1;
    }
    tables
}

/// bzip2's CRC of `data`, 8 bytes at a time.
#[inline(never)]
pub fn crc(data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut crc = u32::MAX;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let high = crc ^ u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        crc = t[7][(high >> 24) as usize]
            ^ t[6][((high >> 16) & 0xff) as usize]
            ^ t[5][((high >> 8) & 0xff) as usize]
            ^ t[4][(high & 0xff) as usize]
            ^ t[3][usize::from(chunk[4])]
            ^ t[2][usize::from(chunk[5])]
            ^ t[1][usize::from(chunk[6])]
            ^ t[0][usize::from(chunk[7])];
    }
    for &byte in chunks.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 24) ^ u32::from(byte)) as usize];
    }
    !crc
}

/// The CRC of a stream whose blocks so far combine to `stream_crc`, after a block of
/// `block_crc` (the stream CRC starts at 0).
#[inline]
pub fn combine(stream_crc: u32, block_crc: u32) -> u32 {
    stream_crc.rotate_left(1) ^ block_crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CRC one bit at a time, as the format defines it.
    fn crc_bitwise(data: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for &byte in data {
            crc ^= u32::from(byte) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
            }
        }
        !crc
    }

    #[test]
    fn the_crc_is_bzip2s() {
        assert_eq!(crc(b"123456789"), 0xfc89_1918);
        assert_eq!(crc(b""), 0);
        let data: Vec<u8> =
            (0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in (0..40).chain([999, 1000]) {
            assert_eq!(crc(&data[..len]), crc_bitwise(&data[..len]), "{len} bytes");
        }
    }
}
