//! One file of a snapshot, read in place: [`FileReader`] is a `Read + Seek` view over the
//! file's chunks that fetches a chunk from the repository only when the position reaches it.
//!
//! Memory stays bounded whatever the file's size: a reader holds its current chunk and the
//! next one (at most 4 MiB each, the largest chunk a run cuts), and nothing is copied to
//! disk. The next chunk is fetched by a thread while the current one is read, so that a
//! repository on a backup server sends it while the reader works. A seek only moves the
//! position; the chunk under it is read by the next `read`. Every chunk comes through
//! [`Repository::get_blob`], which checks it against its id (the BLAKE3 of its bytes), so a
//! damaged or missing chunk is a read error (`InvalidData`, naming the blob), never wrong
//! bytes. Blocking: call it from a blocking thread.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::repo::tree::{Kind, Node};
use crate::repo::{self, BlobId, Repository};

/// Where each chunk of a file starts: the file's layout, from its node and the sizes the
/// repository's index records.
#[derive(Debug)]
pub struct ChunkMap {
    ids: Vec<BlobId>,
    /// Offset of each chunk in the file, increasing; `starts[0] == 0`.
    starts: Vec<u64>,
    size: u64,
}

impl ChunkMap {
    /// The layout of the file `node` (of a snapshot of `repo`): an error when a chunk is not
    /// in the repository, or when the chunks do not add up to the size the snapshot recorded.
    pub fn of(repo: &Repository, node: &Node) -> Result<ChunkMap, repo::Error> {
        if node.kind != Kind::File {
            return Err(repo::Error::Corrupt {
                what: format!("{} is not a regular file", repo::tree::lossy(&node.name)),
            });
        }
        let mut starts = Vec::with_capacity(node.content.len());
        let mut size = 0u64;
        for id in &node.content {
            starts.push(size);
            let chunk = repo.blob_size(id).ok_or(repo::Error::MissingBlob { id: *id })?;
            size += chunk;
        }
        if size != node.size {
            return Err(repo::Error::Corrupt {
                what: format!(
                    "{}: its chunks hold {size} bytes, its snapshot recorded {}",
                    repo::tree::lossy(&node.name),
                    node.size
                ),
            });
        }
        Ok(ChunkMap { ids: node.content.clone(), starts, size })
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The chunk holding byte `offset` (which must be below the size).
    fn chunk_at(&self, offset: u64) -> usize {
        self.starts.partition_point(|&start| start <= offset) - 1
    }

    /// Bytes of chunk `index`.
    fn chunk_len(&self, index: usize) -> u64 {
        let end = self.starts.get(index + 1).copied().unwrap_or(self.size);
        end - self.starts[index]
    }
}

/// A file of a snapshot that readers can be opened on, each with its own position: several
/// threads may read one file at once (the dump and the filestore of an archive, say).
#[derive(Clone)]
pub struct SnapshotFile {
    repo: Arc<Repository>,
    chunks: Arc<ChunkMap>,
}

impl SnapshotFile {
    pub fn new(repo: Arc<Repository>, chunks: ChunkMap) -> SnapshotFile {
        SnapshotFile { repo, chunks: Arc::new(chunks) }
    }

    pub fn size(&self) -> u64 {
        self.chunks.size
    }

    /// A reader at the file's start.
    pub fn reader(&self) -> FileReader {
        FileReader {
            repo: Arc::clone(&self.repo),
            chunks: Arc::clone(&self.chunks),
            position: 0,
            current: None,
            ahead: None,
        }
    }
}

/// A `Read + Seek` view of a [`SnapshotFile`]; holds the chunk under its position only.
pub struct FileReader {
    repo: Arc<Repository>,
    chunks: Arc<ChunkMap>,
    position: u64,
    /// The chunk last read: its index and bytes.
    current: Option<(usize, Vec<u8>)>,
    /// The chunk after it, being fetched.
    ahead: Option<(usize, JoinHandle<io::Result<Vec<u8>>>)>,
}

impl FileReader {
    /// The bytes of the chunk holding the position, and where the position is in them;
    /// `None` at or past the end.
    fn chunk_under_position(&mut self) -> io::Result<Option<(&[u8], usize)>> {
        if self.position >= self.chunks.size {
            return Ok(None);
        }
        let index = self.chunks.chunk_at(self.position);
        if self.current.as_ref().is_none_or(|(held, _)| *held != index) {
            // The previous chunk goes before the next one is read: two held at a time.
            self.current = None;
            let bytes = match self.ahead.take() {
                Some((next, fetching)) if next == index => {
                    fetching.join().map_err(|_| io::Error::other("a chunk's reader panicked"))??
                }
                _ => fetch(&self.repo, &self.chunks, index)?,
            };
            self.current = Some((index, bytes));
            if index + 1 < self.chunks.ids.len() {
                let (repo, chunks) = (Arc::clone(&self.repo), Arc::clone(&self.chunks));
                let fetching = std::thread::spawn(move || fetch(&repo, &chunks, index + 1));
                self.ahead = Some((index + 1, fetching));
            }
        }
        let (_, bytes) = self.current.as_ref().expect("the chunk was just read");
        let within = (self.position - self.chunks.starts[index]) as usize;
        Ok(Some((bytes.as_slice(), within)))
    }
}

/// Chunk `index` from the repository, checked against its id and its expected length.
fn fetch(repo: &Repository, chunks: &ChunkMap, index: usize) -> io::Result<Vec<u8>> {
    let id = chunks.ids[index];
    let bytes = repo.get_blob(&id).map_err(read_error)?;
    let expected = chunks.chunk_len(index);
    if bytes.len() as u64 != expected {
        return Err(read_error(repo::Error::Corrupt {
            what: format!("blob {id} holds {} bytes, the index says {expected}", bytes.len()),
        }));
    }
    Ok(bytes)
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some((bytes, within)) = self.chunk_under_position()? else {
            return Ok(0);
        };
        let n = buf.len().min(bytes.len() - within);
        buf[..n].copy_from_slice(&bytes[within..within + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for FileReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, delta) = match to {
            SeekFrom::Start(offset) => {
                self.position = offset;
                return Ok(offset);
            }
            SeekFrom::End(delta) => (self.chunks.size, delta),
            SeekFrom::Current(delta) => (self.position, delta),
        };
        self.position = base.checked_add_signed(delta).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the file")
        })?;
        Ok(self.position)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position)
    }
}

/// A repository error as a read error: damage and missing blobs are invalid data, the
/// storage's own failures keep their kind.
fn read_error(e: repo::Error) -> io::Error {
    let kind = match &e {
        repo::Error::Io { source, .. } => source.kind(),
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::BlobKind;
    use crate::repo::tree::Time;
    use crate::testing::random_bytes;
    use serde_bytes::ByteBuf;

    /// A repository holding `content` cut into chunks of the given sizes, and the file.
    fn stored(sizes: &[usize], seed: u64) -> (tempfile::TempDir, SnapshotFile, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(&dir.path().join("repo")).unwrap();
        let content = random_bytes(sizes.iter().sum(), seed);
        let mut ids = Vec::new();
        let mut at = 0;
        for &size in sizes {
            ids.push(repo.put_blob(BlobKind::Data, &content[at..at + size]).unwrap().0);
            at += size;
        }
        repo.flush().unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        let chunks = ChunkMap::of(&repo, &node(ids, content.len() as u64)).unwrap();
        (dir, SnapshotFile::new(Arc::new(repo), chunks), content)
    }

    fn node(content: Vec<BlobId>, size: u64) -> Node {
        Node {
            name: ByteBuf::from(b"backup.zip".to_vec()),
            kind: Kind::File,
            mode: 0o600,
            uid: 0,
            gid: 0,
            mtime: Time::default(),
            ctime: Time::default(),
            inode: 1,
            device: 1,
            links: 1,
            size,
            content,
            subtree: None,
            target: None,
            rdev: 0,
        }
    }

    const SIZES: [usize; 4] = [300_000, 1, 700_001, 262_144];

    #[test]
    fn reads_the_whole_file_back() {
        let (_dir, file, content) = stored(&SIZES, 1);
        let mut read = Vec::new();
        file.reader().read_to_end(&mut read).unwrap();
        assert_eq!(read.len(), content.len());
        assert!(read == content, "the bytes differ");
        assert_eq!(file.size(), content.len() as u64);
    }

    #[test]
    fn random_seeks_read_the_original_bytes_across_chunk_boundaries() {
        let (_dir, file, content) = stored(&SIZES, 2);
        let size = content.len() as u64;
        let mut reader = file.reader();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        // Around every boundary, then anywhere, from every kind of seek.
        let boundaries = [299_999u64, 300_000, 300_001, 1_000_001, 1_000_002, size - 1];
        for round in 0..300u64 {
            let at = match round {
                r if (r as usize) < boundaries.len() => boundaries[r as usize],
                _ => next(size),
            };
            let len = 1 + next(900_000) as usize;
            let reached = match round % 3 {
                0 => reader.seek(SeekFrom::Start(at)).unwrap(),
                1 => reader.seek(SeekFrom::End(at as i64 - size as i64)).unwrap(),
                _ => {
                    let here = reader.stream_position().unwrap();
                    reader.seek(SeekFrom::Current(at as i64 - here as i64)).unwrap()
                }
            };
            assert_eq!(reached, at);
            let mut buf = vec![0; len];
            let n = read_up_to(&mut reader, &mut buf);
            let end = (at as usize + len).min(content.len());
            assert_eq!(n, end - at as usize, "at {at}, {len} bytes");
            assert!(buf[..n] == content[at as usize..end], "bytes differ at {at}, {len} bytes");
        }
    }

    #[test]
    fn past_the_end_reads_nothing_and_before_the_start_is_refused() {
        let (_dir, file, content) = stored(&SIZES, 3);
        let mut reader = file.reader();
        let past = content.len() as u64 + 10;
        assert_eq!(reader.seek(SeekFrom::Start(past)).unwrap(), past);
        assert_eq!(reader.read(&mut [0; 16]).unwrap(), 0);
        assert_eq!(reader.seek(SeekFrom::End(0)).unwrap(), content.len() as u64);
        assert_eq!(reader.read(&mut [0; 16]).unwrap(), 0);
        let err = reader.seek(SeekFrom::Current(-(past as i64) - 1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // Still usable, where it was.
        assert_eq!(reader.seek(SeekFrom::End(-1)).unwrap(), content.len() as u64 - 1);
        let mut last = [0; 4];
        assert_eq!(reader.read(&mut last).unwrap(), 1);
        assert_eq!(last[0], *content.last().unwrap());
    }

    #[test]
    fn readers_of_one_file_keep_their_own_positions() {
        let (_dir, file, content) = stored(&SIZES, 4);
        let (mut a, mut b) = (file.reader(), file.reader());
        a.seek(SeekFrom::Start(1_000_000)).unwrap();
        let (mut x, mut y) = ([0; 8], [0; 8]);
        a.read_exact(&mut x).unwrap();
        b.read_exact(&mut y).unwrap();
        assert_eq!(x, content[1_000_000..1_000_008]);
        assert_eq!(y, content[..8]);
    }

    #[test]
    fn a_chunk_that_fails_its_hash_is_a_read_error_naming_it() {
        let (dir, file, content) = stored(&SIZES, 5);
        let damaged_id = file.chunks.ids[2];
        // Random bytes are stored raw: chunk 2 (from 300,001) is found in the pack by its
        // first bytes. Flip a byte inside it.
        let pack = pack_files(&dir.path().join("repo/data"));
        assert_eq!(pack.len(), 1);
        let mut bytes = std::fs::read(&pack[0]).unwrap();
        let needle = &content[300_001..300_001 + 64];
        let at = bytes.windows(64).position(|w| w == needle).expect("chunk 2 stored raw");
        bytes[at + 5_000] ^= 0x40;
        std::fs::write(&pack[0], &bytes).unwrap();
        let repo = Repository::open(&dir.path().join("repo")).unwrap();
        let chunks = ChunkMap::of(&repo, &node(file.chunks.ids.clone(), file.size())).unwrap();
        let file = SnapshotFile::new(Arc::new(repo), chunks);
        let mut reader = file.reader();
        let mut head = vec![0; 300_001];
        reader.read_exact(&mut head).unwrap();
        assert!(head == content[..300_001], "the chunks before the damage read back");
        let err = reader.read(&mut [0; 10]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains(&damaged_id.to_string()), "{err}");
        // The chunk after it still reads.
        reader.seek(SeekFrom::Start(1_000_002)).unwrap();
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).unwrap();
        assert!(tail == content[1_000_002..]);
    }

    #[test]
    fn a_missing_chunk_or_a_wrong_size_is_refused_before_reading() {
        let (_dir, file, content) = stored(&SIZES, 6);
        let repo = &file.repo;
        let mut ids = file.chunks.ids.clone();
        let err = ChunkMap::of(repo, &node(ids.clone(), content.len() as u64 + 1)).unwrap_err();
        assert!(matches!(err, repo::Error::Corrupt { .. }), "{err}");
        ids.push(BlobId([7; 32]));
        let err = ChunkMap::of(repo, &node(ids, content.len() as u64)).unwrap_err();
        assert!(matches!(err, repo::Error::MissingBlob { .. }), "{err}");
    }

    #[test]
    fn an_empty_file_reads_nothing() {
        let (_dir, file, _) = stored(&[], 7);
        assert_eq!(file.size(), 0);
        let mut read = Vec::new();
        file.reader().read_to_end(&mut read).unwrap();
        assert!(read.is_empty());
    }

    fn read_up_to(reader: &mut FileReader, buf: &mut [u8]) -> usize {
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]).unwrap() {
                0 => break,
                n => filled += n,
            }
        }
        filled
    }

    fn pack_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut packs = Vec::new();
        for sub in std::fs::read_dir(data).unwrap() {
            for pack in std::fs::read_dir(sub.unwrap().path()).unwrap() {
                packs.push(pack.unwrap().path());
            }
        }
        packs
    }
}
