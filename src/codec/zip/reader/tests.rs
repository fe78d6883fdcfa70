use super::*;
use std::io::{Cursor, Write};

fn read_all(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, StreamError<io::Error>> {
    let mut entries = Vec::new();
    for_each_entry(Cursor::new(bytes), |name, content: &mut dyn Read| {
        let mut data = Vec::new();
        content.read_to_end(&mut data)?;
        entries.push((name.to_owned(), data));
        Ok(())
    })?;
    Ok(entries)
}

fn archive() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("dump.sql", deflated).unwrap();
        zip.write_all(&b"SELECT 1;\n".repeat(10_000)).unwrap();
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("filestore/ab/abc", stored).unwrap();
        zip.write_all(b"attachment").unwrap();
        zip.finish().unwrap();
    }
    out.into_inner()
}

#[test]
fn reads_entries_with_and_without_descriptors() {
    let entries = read_all(&archive()).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].0, "dump.sql");
    assert_eq!(entries[0].1.len(), 100_000);
    assert_eq!(entries[1], ("filestore/ab/abc".to_owned(), b"attachment".to_vec()));
}

#[test]
fn corruption_and_truncation_are_errors() {
    let bytes = archive();
    for cut in [10, 40, bytes.len() / 2] {
        assert!(read_all(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    let at = flipped.len() / 3;
    flipped[at] ^= 0x40;
    assert!(read_all(&flipped).is_err());
}

#[test]
fn reads_what_oe_streams_with_data_descriptors() {
    let mut zip = crate::codec::zip::writer::ZipWriter::new(Vec::new(), 2);
    let dump = b"INSERT INTO t VALUES (1);\n".repeat(200_000);
    let now = std::time::SystemTime::now();
    zip.add_stream("dump.sql", &mut &dump[..], now).unwrap();
    zip.add_bytes("manifest.json", b"{}", now).unwrap();
    let bytes = zip.finish().unwrap();
    let entries = read_all(&bytes).unwrap();
    assert_eq!(entries[0], ("dump.sql".to_owned(), dump));
    assert_eq!(entries[1], ("manifest.json".to_owned(), b"{}".to_vec()));
    assert!(read_all(&bytes[..bytes.len() / 2]).is_err());
}

#[test]
fn skipped_content_is_still_checked() {
    let bytes = archive();
    let mut names = Vec::new();
    for_each_entry(Cursor::new(&bytes[..]), |name, _: &mut dyn Read| {
        names.push(name.to_owned());
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(names, ["dump.sql", "filestore/ab/abc"]);
}
