//! Trees: what a snapshot records of one directory, stored as a [`BlobKind::Tree`] blob.
//!
//! A tree lists the entries of one directory, sorted by name bytes. Each [`Node`] carries the
//! entry's type and metadata (mode, owner, times, inode, link count) and, by type, the ids of
//! its content chunks (files), of its own tree (directories), its target (symlinks) or its
//! device number (devices). Names and symlink targets are raw bytes: Unix names need not be
//! UTF-8.
//!
//! Encoding: CBOR (RFC 8949) of `{"nodes": [node, ...]}`, each node a map with the field names
//! below; byte strings for names, targets and blob ids. The encoding of equal trees is equal,
//! so unchanged directories deduplicate like any other blob.
//!
//! Pure: encoding, decoding and name checks; no I/O.
//!
//! [`BlobKind::Tree`]: super::BlobKind::Tree

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::BlobId;

/// The type of a directory entry, as `lstat` says (symlinks are never followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// A time as seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

/// One entry of a directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: ByteBuf,
    pub kind: Kind,
    /// Permission bits, with setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Time,
    /// Change time, inode and device: only to tell whether a file changed since the previous
    /// snapshot (never restored).
    pub ctime: Time,
    pub inode: u64,
    pub device: u64,
    /// Hard links: files of a snapshot with the same `device` and `inode` and `links > 1` are
    /// restored as links to one file.
    pub links: u64,
    /// Bytes of a file's content (of a symlink: of its target).
    pub size: u64,
    /// A file's content, chunk by chunk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<BlobId>,
    /// A directory's tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<BlobId>,
    /// A symlink's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ByteBuf>,
    /// A device's number (`st_rdev`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rdev: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The entries of one directory, sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// A tree blob that does not decode, or holds a name that could escape its directory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tree {id} does not decode: {reason}")]
    Decode { id: BlobId, reason: String },
    #[error("tree {id} holds an unsafe name {name:?} (empty, `.`, `..` or with a `/`)")]
    UnsafeName { id: BlobId, name: String },
    #[error("tree {id} is not sorted by name or repeats {name:?}")]
    Unsorted { id: BlobId, name: String },
}

impl Tree {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("a tree always encodes into memory");
        out
    }

    /// Decodes the tree blob `id`, checking that every name is a safe single component and
    /// that names are sorted and unique (restore relies on both).
    pub fn decode(id: BlobId, bytes: &[u8]) -> Result<Tree, Error> {
        let tree: Tree = ciborium::from_reader(bytes)
            .map_err(|e| Error::Decode { id, reason: e.to_string() })?;
        for node in &tree.nodes {
            if !is_safe_name(&node.name) {
                return Err(Error::UnsafeName { id, name: lossy(&node.name) });
            }
        }
        if let Some(pair) = tree.nodes.windows(2).find(|w| w[0].name >= w[1].name) {
            return Err(Error::Unsorted { id, name: lossy(&pair[1].name) });
        }
        Ok(tree)
    }

    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.binary_search_by(|n| n.name.as_slice().cmp(name)).ok().map(|i| &self.nodes[i])
    }
}

/// A name that stays inside its directory: not empty, not `.` or `..`, no `/`, no NUL.
pub fn is_safe_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// A name for messages (non-UTF-8 bytes replaced).
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &[u8], kind: Kind) -> Node {
        Node {
            name: ByteBuf::from(name.to_vec()),
            kind,
            mode: 0o644,
            uid: 1000,
            gid: 1000,
            mtime: Time { sec: 1_700_000_000, nsec: 5 },
            ctime: Time { sec: 1_700_000_001, nsec: 6 },
            inode: 42,
            device: 7,
            links: 1,
            size: 3,
            content: vec![BlobId([9; 32])],
            subtree: None,
            target: None,
            rdev: 0,
        }
    }

    fn id() -> BlobId {
        BlobId([1; 32])
    }

    #[test]
    fn round_trips_raw_names_and_every_field() {
        let mut link = node(b"l\xff\xfe", Kind::Symlink);
        link.target = Some(ByteBuf::from(b"../t\x80".to_vec()));
        link.content.clear();
        let mut dir = node(b"d", Kind::Dir);
        dir.subtree = Some(BlobId([3; 32]));
        dir.content.clear();
        let tree = Tree { nodes: vec![dir, node(b"f", Kind::File), link] };
        assert_eq!(Tree::decode(id(), &tree.encode()).unwrap(), tree);
    }

    #[test]
    fn equal_trees_encode_equally() {
        let a = Tree { nodes: vec![node(b"a", Kind::File)] };
        assert_eq!(a.encode(), a.clone().encode());
        let mut b = a.clone();
        b.nodes[0].mode = 0o600;
        assert_ne!(a.encode(), b.encode());
    }

    #[test]
    fn rejects_names_that_escape() {
        for bad in [&b".."[..], b".", b"", b"a/b", b"/", b"a\0"] {
            let tree = Tree { nodes: vec![node(bad, Kind::File)] };
            let err = Tree::decode(id(), &tree.encode()).unwrap_err();
            assert!(matches!(err, Error::UnsafeName { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn rejects_unsorted_or_repeated_names() {
        for names in [[&b"b"[..], b"a"], [b"a", b"a"]] {
            let tree = Tree { nodes: names.iter().map(|n| node(n, Kind::File)).collect() };
            assert!(matches!(Tree::decode(id(), &tree.encode()), Err(Error::Unsorted { .. })));
        }
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(Tree::decode(id(), b"\xff\x00garbage"), Err(Error::Decode { .. })));
    }

    #[test]
    fn finds_by_name() {
        let tree = Tree {
            nodes: vec![node(b"a", Kind::File), node(b"b", Kind::File), node(b"c", Kind::File)],
        };
        assert_eq!(tree.find(b"b").unwrap().name.as_slice(), b"b");
        assert!(tree.find(b"bb").is_none());
    }
}
