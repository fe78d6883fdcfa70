//! `oe mirror run` for one directory: walk it through its filter, store what changed since
//! the previous snapshot, then write the new snapshot.
//!
//! The walk is depth first on the calling thread, one directory in memory at a time: it takes
//! a directory's listing (made ahead on a thread of [`walk::Listings`]), reads each changed
//! file and cuts it into content-defined chunks (FastCDC, about 1 MiB on average; a file
//! smaller than the minimum is one chunk), and hands the chunks to a pool of workers that
//! hash, compress and pack them ([`Repository::store_blob`], each worker with a zstd context
//! of its own). A pack they fill goes to a writer thread, which
//! writes and fsyncs it while they go on. Once every chunk of a directory is stored, its tree
//! is stored, and the directory above refers to it. The snapshot is written only after the
//! writer has written every full pack and [`Repository::flush`] the last one and the index:
//! an interrupted run leaves packs that the next run reuses, never a snapshot that refers to
//! missing data.
//!
//! A new chunk of a file that the previous snapshot has at the same path is stored as a delta
//! against the previous chunks covering the same offsets ([`Repository::put_blob_near`]),
//! when that is smaller: a file with scattered small changes costs the changes, not a new
//! copy of every chunk they touch. Those previous chunks are the only file content a run
//! reads from the repository, and only for new chunks; decoding one decodes its chain of
//! deltas, through the repository's cache, which consecutive new chunks share.
//!
//! A file whose size, mtime, ctime and inode equal those of the same path in the previous
//! snapshot is not read again: its chunk list is copied. Hard links (same device and inode)
//! are read once per run. A file that changes while it is read is read again once; if it
//! changes again, or cannot be read at all, the snapshot is written without a complete copy of
//! it, marked partial, with the reason.
//!
//! Memory stays bounded: the listings made ahead are limited to [`walk::AHEAD`] entries
//! (about 10 MiB); the chunks in flight to two per worker; full packs (16 MiB) to the one
//! being written, one waiting for the writer, and one per worker waiting to hand its own
//! over, besides the one being filled; each worker keeps a zstd context (about 3 MiB); deltas
//! add the repository's cache of decoded bases (64 MiB) and, per worker, a zstd context with
//! a 16 MiB window and the prefix (at most two chunks) being compressed against or decoded.

use std::collections::HashMap;
use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::mpsc::sync_channel;

use indicatif::ProgressBar;
use serde_bytes::ByteBuf;

use super::walk::{self, Entry, Listing};
use crate::exit::{ExitCode, ExitStatus};
use crate::plumbing::pool::{self, Ticket};
use crate::repo::snapshot::{Listed, Snapshot, Stats};
use crate::repo::tree::{Kind, Node, Time, Tree};
use crate::repo::{self, BlobId, BlobKind, Compressor, FullPack, Repository};
use crate::rules::filter::Filter;
use crate::stop;

/// FastCDC sizes: chunks of 256 KiB to 4 MiB, about 1 MiB on average.
pub const MIN_CHUNK: u32 = 256 * 1024;
pub const AVG_CHUNK: u32 = 1024 * 1024;
pub const MAX_CHUNK: u32 = 4 * 1024 * 1024;

/// One directory to snapshot.
pub struct Request<'a> {
    pub repo: &'a Repository,
    /// The configured directory, as configured.
    pub dir: &'a str,
    pub filter: &'a Filter,
    /// The previous snapshot of the directory, whose unchanged files are not read again.
    pub parent: Option<&'a Listed>,
    pub threads: usize,
    pub host: String,
    /// Seconds since the Unix epoch: the snapshot's time.
    pub time: i64,
    /// Advanced by the bytes read.
    pub progress: ProgressBar,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the directory {dir}")]
    Root { dir: String, source: io::Error },
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Tree(#[from] crate::repo::tree::Error),
    #[error("stopped by a signal; what was stored so far is reused by the next run")]
    Interrupted,
    /// A worker's full pack found the writer stopped: the writer's own error is reported.
    #[error("the pack writer stopped")]
    WriterStopped,
    /// A worker panicked: a bug in `oe`, reported instead of a hang.
    #[error(transparent)]
    Worker(#[from] pool::Error),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Root { source, .. } => source.exit_code(),
            Error::Repo(e) => e.exit_code(),
            Error::Tree(_) => ExitCode::BadInput,
            Error::Interrupted | Error::WriterStopped | Error::Worker(_) => ExitCode::Failure,
        }
    }
}

impl Request<'_> {
    /// The tree of the previous snapshot, if there is one.
    fn parent_tree(&self) -> Result<Option<Tree>, Error> {
        self.parent.map(|parent| load_tree(self.repo, parent.snapshot.tree)).transpose()
    }

    /// The snapshot of this request with root `tree`, and what the walk counted and met.
    fn snapshot(&self, tree: BlobId, stats: Stats, errors: Vec<String>) -> Snapshot {
        Snapshot {
            dir: self.dir.into(),
            time: self.time,
            host: self.host.clone(),
            tree,
            parent: self.parent.map(|p| p.id.clone()),
            stats,
            partial: !errors.is_empty(),
            errors,
            oe: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The snapshot written.
#[derive(Debug)]
pub struct Outcome {
    pub id: String,
    pub snapshot: Snapshot,
}

/// Takes a snapshot of `request.dir`, its directories listed by `listing`.
pub fn run(request: &Request, listing: Listing) -> Result<Outcome, Error> {
    let root = Path::new(request.dir);
    let parent_tree = request.parent_tree()?;
    let metadata = std::fs::metadata(root)
        .map_err(|source| Error::Root { dir: request.dir.into(), source })?;
    if !metadata.is_dir() {
        let source = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
        return Err(Error::Root { dir: request.dir.into(), source });
    }

    let (tree, stats, errors) = std::thread::scope(|scope| {
        let (pool, writer) = Pool::start(scope, request.repo, request.threads);
        let mut walker = Walker {
            request,
            root,
            pool: &pool,
            listing,
            stats: Stats::default(),
            errors: Vec::new(),
            links: HashMap::new(),
        };
        let tree = walker.directory(&mut Vec::new(), parent_tree.as_ref());
        let Walker { stats, errors, .. } = walker;
        // Dropping the pool ends the workers, which ends the writer once it wrote their packs.
        drop(pool);
        // A pack that could not be written is the cause of whatever the walk saw after it.
        writer.join().expect("the pack writer does not panic")?;
        tree.map(|tree| (tree, stats, errors))
    })?;
    request.repo.flush()?;
    let snapshot = request.snapshot(tree, stats, errors);
    let id = request.repo.put_snapshot(&snapshot.encode())?;
    Ok(Outcome { id, snapshot })
}

/// What [`run`] would do, reading no file and storing nothing: a snapshot (never written,
/// id empty) whose `files_read` and `new_bytes` count the files that changed since the parent
/// snapshot, which a run would read.
pub fn plan(request: &Request, mut listing: Listing) -> Result<Outcome, Error> {
    let root = Path::new(request.dir);
    let parent_tree = request.parent_tree()?;
    let mut stats = Stats::default();
    let mut errors = Vec::new();
    let rel = &mut Vec::new();
    plan_dir(request, &mut listing, root, rel, parent_tree.as_ref(), &mut stats, &mut errors)?;
    let snapshot = request.snapshot(BlobId([0; 32]), stats, errors);
    Ok(Outcome { id: String::new(), snapshot })
}

fn plan_dir(
    request: &Request,
    listing: &mut Listing,
    root: &Path,
    rel: &mut Vec<u8>,
    parent: Option<&Tree>,
    stats: &mut Stats,
    errors: &mut Vec<String>,
) -> Result<(), Error> {
    interrupted()?;
    let entries = match listing.list(root, rel, request.filter) {
        Ok(entries) => entries,
        Err(source) if rel.is_empty() => {
            return Err(Error::Root { dir: request.dir.into(), source });
        }
        Err(e) => {
            errors.push(format!("{}: cannot list: {e}", display(rel)));
            return Ok(());
        }
    };
    stats.dirs += 1;
    for entry in entries {
        let node = node_of(&entry.name, &entry.metadata);
        let previous = parent.and_then(|t| t.find(&entry.name));
        match node.kind {
            Kind::Dir => {
                let subtree = previous
                    .filter(|p| p.kind == Kind::Dir)
                    .and_then(|p| p.subtree)
                    .and_then(|id| load_tree(request.repo, id).ok());
                let len = walk::push_component(rel, &entry.name);
                let result = plan_dir(request, listing, root, rel, subtree.as_ref(), stats, errors);
                rel.truncate(len);
                result?;
            }
            Kind::File => {
                stats.files += 1;
                stats.bytes += node.size;
                if unchanged(request.repo, &node, previous).is_none() {
                    stats.files_read += 1;
                    stats.new_bytes += node.size;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The content of `previous` when the file `node` did not change since (same size, mtime,
/// ctime, inode and device) and all its chunks are still in the repository.
fn unchanged(repo: &Repository, node: &Node, previous: Option<&Node>) -> Option<Vec<BlobId>> {
    let p = previous?;
    let same = p.kind == Kind::File
        && p.size == node.size
        && p.mtime == node.mtime
        && p.ctime == node.ctime
        && p.inode == node.inode
        && p.device == node.device;
    (same && p.content.iter().all(|id| repo.has_blob(id))).then(|| p.content.clone())
}

/// Loads and decodes a tree blob.
pub fn load_tree(repo: &Repository, id: BlobId) -> Result<Tree, Error> {
    Ok(Tree::decode(id, &repo.get_blob(&id)?)?)
}

/// The state of one walk.
struct Walker<'a, 'p> {
    request: &'a Request<'a>,
    root: &'a Path,
    pool: &'p Pool<'p>,
    listing: Listing,
    stats: Stats,
    /// Why the snapshot is partial.
    errors: Vec<String>,
    /// Content of the hard-linked files read so far, by device and inode.
    links: HashMap<(u64, u64), Vec<BlobId>>,
}

/// A node whose content or subtree is still being stored.
struct PendingNode {
    node: Node,
    chunks: Chunks,
}

/// A file's chunks handed to the pool: the workers' answers, and the size of each chunk (for
/// the new-bytes count).
#[derive(Default)]
struct Chunks {
    answers: Vec<Stored>,
    sizes: Vec<u64>,
}

impl Walker<'_, '_> {
    /// Stores the directory `rel` (raw bytes, `/`-joined, empty for the root) and everything
    /// below it; returns its tree's id.
    fn directory(&mut self, rel: &mut Vec<u8>, parent: Option<&Tree>) -> Result<BlobId, Error> {
        interrupted()?;
        let entries = match self.listing.list(self.root, rel, self.request.filter) {
            Ok(entries) => entries,
            Err(source) if rel.is_empty() => {
                return Err(Error::Root { dir: self.request.dir.into(), source });
            }
            Err(e) => {
                self.errors.push(format!("{}: cannot list: {e}", display(rel)));
                Vec::new()
            }
        };
        self.stats.dirs += 1;
        let mut pending = Vec::with_capacity(entries.len());
        for entry in entries {
            let previous = parent.and_then(|t| t.find(&entry.name));
            if let Some(node) = self.entry(rel, &entry, previous)? {
                pending.push(node);
            }
        }
        let mut tree = Tree { nodes: Vec::with_capacity(pending.len()) };
        for PendingNode { mut node, chunks } in pending {
            for (chunk, size) in chunks.answers.into_iter().zip(chunks.sizes) {
                let (id, new) = chunk.wait()??;
                if new {
                    self.stats.new_bytes += size;
                    self.stats.new_blobs += 1;
                }
                node.content.push(id);
            }
            tree.nodes.push(node);
        }
        let (id, new) = self.request.repo.put_blob(BlobKind::Tree, &tree.encode())?;
        if new {
            self.stats.new_blobs += 1;
        }
        Ok(id)
    }

    /// The node of one entry of the directory `rel`; `None` when it vanished or could not be
    /// read (recorded as an error).
    fn entry(
        &mut self,
        rel: &mut Vec<u8>,
        entry: &Entry,
        previous: Option<&Node>,
    ) -> Result<Option<PendingNode>, Error> {
        let mut node = node_of(&entry.name, &entry.metadata);
        let mut pending = PendingNode { node: node.clone(), chunks: Chunks::default() };
        match node.kind {
            Kind::Dir => {
                let len = walk::push_component(rel, &entry.name);
                let subtree = match previous.filter(|p| p.kind == Kind::Dir).and_then(|p| p.subtree)
                {
                    Some(id) => self.previous_tree(id),
                    None => None,
                };
                let id = self.directory(rel, subtree.as_ref());
                rel.truncate(len);
                node.subtree = Some(id?);
            }
            Kind::File => {
                self.stats.files += 1;
                self.stats.bytes += node.size;
                let link = (node.links > 1).then_some((node.device, node.inode));
                if let Some(content) = link.and_then(|key| self.links.get(&key)) {
                    node.content = content.clone();
                } else if let Some(content) = unchanged(self.request.repo, &node, previous) {
                    node.content = content;
                } else {
                    let previous = previous.filter(|p| p.kind == Kind::File);
                    match self.read_file(rel, entry, previous, &mut node)? {
                        Some(chunks) => pending.chunks = chunks,
                        None => return Ok(None),
                    }
                }
                if let (Some(key), true) = (link, pending.chunks.answers.is_empty()) {
                    self.links.entry(key).or_insert_with(|| node.content.clone());
                }
            }
            Kind::Symlink => match std::fs::read_link(&entry.path) {
                Ok(target) => {
                    node.target = Some(ByteBuf::from(target.as_os_str().as_bytes().to_vec()))
                }
                Err(e) => {
                    self.errors.push(format!(
                        "{}: cannot read the link: {e}",
                        display_in(rel, &entry.name)
                    ));
                    return Ok(None);
                }
            },
            Kind::Fifo | Kind::Socket | Kind::CharDevice | Kind::BlockDevice => {}
        }
        pending.node = node;
        Ok(Some(pending))
    }

    /// The previous snapshot's tree `id`, if it can still be read (else every file below is
    /// simply read again).
    fn previous_tree(&self, id: BlobId) -> Option<Tree> {
        match load_tree(self.request.repo, id) {
            Ok(tree) => Some(tree),
            Err(e) => {
                tracing::warn!("previous snapshot unreadable here, reading again: {e}");
                None
            }
        }
    }

    /// Reads a changed file into chunks handed to the pool; reads once more if it changed
    /// meanwhile. `None` when it cannot be read (recorded). Updates `node` with what was read.
    fn read_file(
        &mut self,
        rel: &[u8],
        entry: &Entry,
        previous: Option<&Node>,
        node: &mut Node,
    ) -> Result<Option<Chunks>, Error> {
        let name = || display_in(rel, &entry.name);
        let mut before = entry.metadata.clone();
        let old = previous.map(|p| old_chunks(self.request.repo, &p.content)).unwrap_or_default();
        for attempt in 1..=2 {
            let read = self.chunk_file(&entry.path, &old);
            let (chunks, after) = match read {
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(_) if stop::signal().is_some() => return Err(Error::Interrupted),
                Err(e) => {
                    self.errors.push(format!("{}: cannot read: {e}", name()));
                    return Ok(None);
                }
            };
            self.stats.files_read += 1;
            let read_bytes: u64 = chunks.sizes.iter().sum();
            if same_file_state(&before, &after) && read_bytes == after.len() {
                *node = Node { content: Vec::new(), ..node_of(&entry.name, &after) };
                return Ok(Some(chunks));
            }
            if attempt == 2 {
                self.errors
                    .push(format!("{}: changed while being read; stored as last read", name()));
                *node =
                    Node { content: Vec::new(), size: read_bytes, ..node_of(&entry.name, &after) };
                return Ok(Some(chunks));
            }
            tracing::info!("{} changed while being read: reading it again", name());
            before = after;
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Cuts one file into chunks handed to the pool, each with its [`reference()`] in the
    /// `old` chunks of the file; returns them with the file's metadata after the read (fstat
    /// of the open file).
    fn chunk_file(&mut self, path: &Path, old: &[(u64, BlobId)]) -> io::Result<(Chunks, Metadata)> {
        let mut file = File::open(path)?;
        let mut chunks = Chunks::default();
        let size = file.metadata()?.len();
        if size < u64::from(MIN_CHUNK) {
            // One chunk, as FastCDC would cut it, without its 4 MiB buffer per file.
            let mut data = Vec::with_capacity(size as usize);
            file.read_to_end(&mut data)?;
            if !data.is_empty() {
                self.request.progress.inc(data.len() as u64);
                chunks.sizes.push(data.len() as u64);
                let near = reference(old, 0, data.len() as u64);
                let stored =
                    self.pool.submit(BlobKind::Data, data, near).map_err(io::Error::other)?;
                chunks.answers.push(stored);
            }
            let after = file.metadata()?;
            return Ok((chunks, after));
        }
        // Seeded by an encrypted repository's key, so that chunk sizes do not tell which
        // known file was cut (0, FastCDC's own table, otherwise).
        let cutter = fastcdc::v2020::StreamCDC::with_level_and_seed(
            &file,
            MIN_CHUNK,
            AVG_CHUNK,
            MAX_CHUNK,
            fastcdc::v2020::Normalization::Level1,
            self.request.repo.chunker_seed(),
        );
        for chunk in cutter {
            let chunk = chunk.map_err(|e| match e {
                fastcdc::v2020::Error::IoError(e) => e,
                other => io::Error::other(other.to_string()),
            })?;
            stop::check()?;
            self.request.progress.inc(chunk.length as u64);
            chunks.sizes.push(chunk.length as u64);
            let near = reference(old, chunk.offset, chunk.length as u64);
            let stored =
                self.pool.submit(BlobKind::Data, chunk.data, near).map_err(io::Error::other)?;
            chunks.answers.push(stored);
        }
        let after = file.metadata()?;
        Ok((chunks, after))
    }
}

/// The chunks of a file's previous content as `(end offset, id)`, as far as their sizes are
/// known (a chunk missing from the repository ends the list).
fn old_chunks(repo: &Repository, content: &[BlobId]) -> Vec<(u64, BlobId)> {
    let mut end = 0;
    content
        .iter()
        .map_while(|id| {
            end += repo.blob_size(id)?;
            Some((end, *id))
        })
        .collect()
}

/// What a new chunk at `start`, `length` bytes long, is stored as a delta against: the old
/// chunk (`(end offset, id)`, in order) whose range holds `start`, and its successor when the
/// new chunk reaches beyond it. Offsets drift a little as rows change length; content-defined
/// boundaries keep the two close. Empty past the old end. Pure.
fn reference(old: &[(u64, BlobId)], start: u64, length: u64) -> Vec<BlobId> {
    let at = old.partition_point(|(end, _)| *end <= start);
    let Some(&(end, id)) = old.get(at) else { return Vec::new() };
    let mut near = vec![id];
    if let (true, Some(&(_, next))) = (start + length > end, old.get(at + 1)) {
        near.push(next);
    }
    near
}

/// Size and modification time unchanged: what tells a file was not written while read.
fn same_file_state(before: &Metadata, after: &Metadata) -> bool {
    before.len() == after.len()
        && before.mtime() == after.mtime()
        && before.mtime_nsec() == after.mtime_nsec()
        && before.ino() == after.ino()
}

/// A test of a file type.
type Is = fn(&FileType) -> bool;

/// The kinds of entry other than a regular file, by the test of their file type.
const KINDS: [(Is, Kind); 6] = [
    (FileType::is_dir, Kind::Dir),
    (FileType::is_symlink, Kind::Symlink),
    (FileTypeExt::is_fifo, Kind::Fifo),
    (FileTypeExt::is_socket, Kind::Socket),
    (FileTypeExt::is_char_device, Kind::CharDevice),
    (FileTypeExt::is_block_device, Kind::BlockDevice),
];

/// The node of an entry, from its metadata; content, subtree and target are filled later.
fn node_of(name: &[u8], m: &Metadata) -> Node {
    let t = m.file_type();
    let kind = KINDS.iter().find(|(is, _)| is(&t)).map_or(Kind::File, |&(_, kind)| kind);
    let device_number = matches!(kind, Kind::CharDevice | Kind::BlockDevice);
    Node {
        name: ByteBuf::from(name.to_vec()),
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime: Time { sec: m.mtime(), nsec: m.mtime_nsec() as u32 },
        ctime: Time { sec: m.ctime(), nsec: m.ctime_nsec() as u32 },
        inode: m.ino(),
        device: m.dev(),
        links: m.nlink(),
        size: if matches!(kind, Kind::File | Kind::Symlink) { m.len() } else { 0 },
        content: Vec::new(),
        subtree: None,
        target: None,
        rdev: if device_number { m.rdev() } else { 0 },
    }
}

fn interrupted() -> Result<(), Error> {
    stop::check().map_err(|_| Error::Interrupted)
}

/// `rel/name` for messages.
fn display_in(rel: &[u8], name: &[u8]) -> String {
    if rel.is_empty() { display(name) } else { format!("{}/{}", display(rel), display(name)) }
}

fn display(bytes: &[u8]) -> String {
    if bytes.is_empty() { ".".into() } else { String::from_utf8_lossy(bytes).into_owned() }
}

/// The answer of a worker about one chunk: its id, and whether the repository did not have it.
type Stored = Ticket<Result<(BlobId, bool), Error>>;

/// [`Repository::store_blob`]'s signature.
type StoreBlob = fn(
    &Repository,
    &mut Compressor,
    BlobKind,
    &[u8],
    &[BlobId],
) -> Result<(BlobId, bool, Option<FullPack>), repo::Error>;

/// A chunk to store.
struct Job {
    kind: BlobKind,
    data: Vec<u8>,
    /// Blobs to store it as a delta against, if it is new.
    near: Vec<BlobId>,
}

/// Workers storing chunks (the shared [`pool`](crate::plumbing::pool)): hashing, compressing
/// and packing happen on them, each with a zstd context of its own; a pack they fill goes to a
/// writer thread, which writes and syncs it while they go on (on two cores, a worker waiting
/// in fsync was half the machine idle).
struct Pool<'scope> {
    workers: pool::Pool<'scope, Job, Result<(BlobId, bool), Error>>,
}

impl<'scope> Pool<'scope> {
    /// Starts `threads` workers and the writer in `scope`; they stop when the pool is
    /// dropped. The writer's handle says whether every pack was written.
    fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        repo: &'env Repository,
        threads: usize,
    ) -> (Pool<'scope>, std::thread::ScopedJoinHandle<'scope, Result<(), repo::Error>>) {
        Self::start_storing(scope, repo, threads, Repository::store_blob)
    }

    /// [`start`](Self::start) with the function that stores a chunk (tests inject faults).
    fn start_storing<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        repo: &'env Repository,
        threads: usize,
        store_blob: StoreBlob,
    ) -> (Pool<'scope>, std::thread::ScopedJoinHandle<'scope, Result<(), repo::Error>>) {
        let threads = threads.max(1);
        // One pack of slack: a worker hands its full pack over and goes on while the writer
        // still waits for the previous one's fsync (a round trip and the server's fsync, over
        // ssh); then the next worker waits (back-pressure when the storage is the slower
        // side, with at most one pack queued in memory).
        let (packs, full) = sync_channel::<Queued>(1);
        let writer = scope.spawn(move || {
            // Returning on an error drops the receiver, and with it the pack queued, if any:
            // the workers then stop storing.
            full.into_iter().try_for_each(Queued::write)
        });
        // The workers own the only sender: once they are joined, the writer ends.
        let store = move |compressor: &mut Compressor, job: Job| match store_blob(
            repo, compressor, job.kind, &job.data, &job.near,
        ) {
            Ok((id, new, None)) => Ok((id, new)),
            Ok((id, new, Some(pack))) => match packs.send(Queued { repo, pack: Some(pack) }) {
                Ok(()) => Ok((id, new)),
                // Dropped here, the unsent pack forgets its blobs.
                Err(_unsent) => Err(Error::WriterStopped),
            },
            Err(e) => Err(e.into()),
        };
        let workers =
            pool::Pool::scoped(scope, "mirror", threads, threads * 2, Compressor::new, store);
        (Pool { workers }, writer)
    }

    fn submit(&self, kind: BlobKind, data: Vec<u8>, near: Vec<BlobId>) -> Result<Stored, Error> {
        Ok(self.workers.submit(Job { kind, data, near })?)
    }
}

/// A full pack on its way to the writer. Dropped unwritten (the writer stopped on an error
/// before it took this one, which was queued or could not be sent), it forgets its blobs, so
/// that nothing stored later refers to them: a later directory of the same run would
/// otherwise find them stored and write a snapshot that refers to a pack never written.
struct Queued<'r> {
    repo: &'r Repository,
    pack: Option<FullPack>,
}

impl Queued<'_> {
    fn write(mut self) -> Result<(), repo::Error> {
        let pack = self.pack.take().expect("a queued pack is written once");
        self.repo.write_full_pack(pack)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if let Some(pack) = self.pack.take() {
            self.repo.abandon_full_pack(pack);
        }
    }
}

#[cfg(test)]
mod tests;
