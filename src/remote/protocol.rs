//! The protocol between a client and `oe serve`: frames over a byte stream (ssh's standard
//! input and output), one request and its response at a time.
//!
//! ```text
//! frame:  length (u32 BE, of what follows, 1..=MAX_FRAME) | type (u8) | body
//! string: length (u16 BE) | UTF-8 bytes        kind: u8        u64: BE
//! ```
//!
//! | request (client)                      | response (server)                               |
//! |---------------------------------------|-------------------------------------------------|
//! | `Hello` magic, version, client, by    | `Welcome` version, read_only                    |
//! | `List` kind                           | `Names` more, names… (until more = 0)           |
//! | `Size` kind, name                     | `Size` bytes                                    |
//! | `Get` kind, name, offset, length      | `Size` bytes, then `Data` frames carrying them  |
//! | `Put` kind, name, size                | `Ok` (send it) or `Exists` (do not); after the  |
//! |                                       | `Data` frames carrying `size` bytes: `Ok`       |
//! | `Delete` kind, name                   | always refused                                  |
//! | `Lock` mode / `Unlock`                | `Ok`                                            |
//!
//! Any request may instead get `Error` code, message. A frame's length is checked before
//! anything is allocated for it; `Data` frames carry at most [`CHUNK`] bytes.

use std::io::{self, Read, Write};

use crate::repo::{LockMode, ObjectKind};

/// What a client says first.
pub const MAGIC: &[u8; 8] = b"OE-SERVE";
pub const VERSION: u16 = 1;
/// The most bytes a `Data` frame carries.
pub const CHUNK: usize = 1 << 20;
/// The longest frame: a `Data` frame of [`CHUNK`] bytes and its type.
pub const MAX_FRAME: usize = CHUNK + 1;
/// The buffer of either end's stream: far below a `Data` frame, whose body then goes between
/// the pipe and its place without being copied through the buffer.
pub const BUFFER: usize = 64 << 10;
/// Names a `Names` frame carries at most, in bytes.
pub const NAMES_BYTES: usize = 64 << 10;

/// The capacity asked for the pipes between either end and ssh: a whole `Data` frame, instead
/// of Linux's default 64 KiB. With the default, ssh and sshd stop at every 64 KiB to wait for
/// the other side of the pipe; on two busy cores that cost a third of the time to carry 2 GB
/// (5.0 s against 3.4 s, measured with ssh carrying a file to a reader).
const PIPE_CAPACITY: libc::c_int = CHUNK as libc::c_int;

/// Asks for a [`PIPE_CAPACITY`] pipe behind `fd`, when it is one (a socket or a terminal is
/// left as it is), and when the system allows it (up to `/proc/sys/fs/pipe-max-size`, within
/// the user's share of pipe memory); the pipe works either way.
pub fn widen_pipe(fd: impl std::os::fd::AsFd) {
    use std::os::fd::AsRawFd as _;
    // SAFETY: F_SETPIPE_SZ takes an int and changes only the capacity of the pipe behind fd;
    // any other descriptor gets EBADF.
    if unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_CAPACITY) } < 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EBADF) {
            tracing::debug!("pipe kept at its size: {error}");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Hello { version: u16, client: String, by: String },
    List { kind: ObjectKind },
    Size { kind: ObjectKind, name: String },
    Get { kind: ObjectKind, name: String, offset: u64, length: u64 },
    Put { kind: ObjectKind, name: String, size: u64 },
    Data(Vec<u8>),
    Delete { kind: ObjectKind, name: String },
    Lock { mode: LockMode },
    Unlock,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Welcome { version: u16, read_only: bool },
    Ok,
    Exists,
    Names { more: bool, names: Vec<String> },
    Size(u64),
    Data(Vec<u8>),
    Error { code: Code, message: String },
}

/// Why the server did not do what it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// No such object.
    NotFound,
    /// Not allowed to this client or key: a delete, an overwrite, a write with a read-only key.
    Refused,
    /// Another session holds the repository's lock.
    Locked,
    /// The write would take the client past its quota.
    Quota,
    /// The server's disk is full.
    NoSpace,
    /// A malformed or unexpected request.
    Invalid,
    /// The server failed (its disk, its repository).
    Failed,
}

const CODES: [Code; 7] = [
    Code::NotFound,
    Code::Refused,
    Code::Locked,
    Code::Quota,
    Code::NoSpace,
    Code::Invalid,
    Code::Failed,
];
/// By their byte on the wire: new kinds are added at the end.
const KINDS: [ObjectKind; 6] = [
    ObjectKind::Config,
    ObjectKind::Pack,
    ObjectKind::Index,
    ObjectKind::Snapshot,
    ObjectKind::Lock,
    ObjectKind::Key,
];

fn kind_byte(kind: ObjectKind) -> u8 {
    KINDS.iter().position(|k| *k == kind).expect("every kind is listed") as u8
}

fn code_byte(code: Code) -> u8 {
    CODES.iter().position(|c| *c == code).expect("every code is listed") as u8
}

/// A body being encoded.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u8(mut self, v: u8) -> Body {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Body {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Body {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn str(self, s: &str) -> Body {
        let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
        let mut body = self.u16(len);
        body.0.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
        body
    }
    fn kind(self, kind: ObjectKind) -> Body {
        self.u8(kind_byte(kind))
    }
}

/// A body being decoded: every read checks what is left.
struct Cursor<'a>(&'a [u8]);

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed frame: {what}"))
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(malformed("shorter than its fields"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn str(&mut self) -> io::Result<String> {
        let len = self.u16()?;
        let bytes = self.take(usize::from(len))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| malformed("a string is not UTF-8"))
    }
    fn kind(&mut self) -> io::Result<ObjectKind> {
        KINDS.get(usize::from(self.u8()?)).copied().ok_or_else(|| malformed("unknown kind"))
    }
    fn end(&self) -> io::Result<()> {
        if self.0.is_empty() { Ok(()) } else { Err(malformed("longer than its fields")) }
    }
}

mod op {
    pub const HELLO: u8 = 1;
    pub const LIST: u8 = 2;
    pub const SIZE: u8 = 3;
    pub const GET: u8 = 4;
    pub const PUT: u8 = 5;
    pub const DATA: u8 = 6;
    pub const DELETE: u8 = 7;
    pub const LOCK: u8 = 8;
    pub const UNLOCK: u8 = 9;

    pub const WELCOME: u8 = 0x81;
    pub const OK: u8 = 0x82;
    pub const EXISTS: u8 = 0x83;
    pub const NAMES: u8 = 0x84;
    pub const SIZE_IS: u8 = 0x85;
    pub const DATA_IS: u8 = 0x86;
    pub const ERROR: u8 = 0x8f;
}

fn write_frame(w: &mut impl Write, op: u8, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len() + 1).map_err(|_| io::Error::other("frame too long"))?;
    let mut head = [0u8; 5];
    head[..4].copy_from_slice(&len.to_be_bytes());
    head[4] = op;
    w.write_all(&head)?;
    w.write_all(body)
}

/// The next frame's type and body; `None` at the end of the stream between frames.
fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(malformed(&format!("length {len} outside 1..={MAX_FRAME}")));
    }
    let mut op = [0u8; 1];
    r.read_exact(&mut op)?;
    let mut body = vec![0u8; len - 1];
    r.read_exact(&mut body)?;
    Ok(Some((op[0], body)))
}

pub fn write_request(w: &mut impl Write, request: &Request) -> io::Result<()> {
    let (op, body) = match request {
        Request::Hello { version, client, by } => {
            let mut body = Body::default();
            body.0.extend_from_slice(MAGIC);
            (op::HELLO, body.u16(*version).str(client).str(by))
        }
        Request::List { kind } => (op::LIST, Body::default().kind(*kind)),
        Request::Size { kind, name } => (op::SIZE, Body::default().kind(*kind).str(name)),
        Request::Get { kind, name, offset, length } => {
            (op::GET, Body::default().kind(*kind).str(name).u64(*offset).u64(*length))
        }
        Request::Put { kind, name, size } => {
            (op::PUT, Body::default().kind(*kind).str(name).u64(*size))
        }
        Request::Data(data) => return write_frame(w, op::DATA, data),
        Request::Delete { kind, name } => (op::DELETE, Body::default().kind(*kind).str(name)),
        Request::Lock { mode } => {
            (op::LOCK, Body::default().u8(u8::from(*mode == LockMode::Exclusive)))
        }
        Request::Unlock => (op::UNLOCK, Body::default()),
    };
    write_frame(w, op, &body.0)
}

/// The next request; `None` when the client closed the stream between requests.
pub fn read_request(r: &mut impl Read) -> io::Result<Option<Request>> {
    let Some((op, body)) = read_frame(r)? else { return Ok(None) };
    if op == op::DATA {
        return Ok(Some(Request::Data(body)));
    }
    let mut c = Cursor(&body);
    let request = match op {
        op::HELLO => {
            if c.take(MAGIC.len())? != MAGIC {
                return Err(malformed("not an oe client"));
            }
            Request::Hello { version: c.u16()?, client: c.str()?, by: c.str()? }
        }
        op::LIST => Request::List { kind: c.kind()? },
        op::SIZE => Request::Size { kind: c.kind()?, name: c.str()? },
        op::GET => {
            Request::Get { kind: c.kind()?, name: c.str()?, offset: c.u64()?, length: c.u64()? }
        }
        op::PUT => Request::Put { kind: c.kind()?, name: c.str()?, size: c.u64()? },
        op::DELETE => Request::Delete { kind: c.kind()?, name: c.str()? },
        op::LOCK => Request::Lock {
            mode: match c.u8()? {
                0 => LockMode::Shared,
                1 => LockMode::Exclusive,
                _ => return Err(malformed("unknown lock mode")),
            },
        },
        op::UNLOCK => Request::Unlock,
        other => return Err(malformed(&format!("unknown request type {other}"))),
    };
    c.end()?;
    Ok(Some(request))
}

pub fn write_response(w: &mut impl Write, response: &Response) -> io::Result<()> {
    let (op, body) = match response {
        Response::Welcome { version, read_only } => {
            (op::WELCOME, Body::default().u16(*version).u8(u8::from(*read_only)))
        }
        Response::Ok => (op::OK, Body::default()),
        Response::Exists => (op::EXISTS, Body::default()),
        Response::Names { more, names } => {
            let mut body = Body::default().u8(u8::from(*more));
            for name in names {
                body = body.str(name);
            }
            (op::NAMES, body)
        }
        Response::Size(size) => (op::SIZE_IS, Body::default().u64(*size)),
        Response::Data(data) => return write_frame(w, op::DATA_IS, data),
        Response::Error { code, message } => {
            // A message is cut to what a string holds, at a character boundary.
            let mut end = message.len().min(usize::from(u16::MAX));
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            (op::ERROR, Body::default().u8(code_byte(*code)).str(&message[..end]))
        }
    };
    write_frame(w, op, &body.0)
}

/// A `Data` response carrying `data`, without building a [`Response`].
pub fn write_data(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    write_frame(w, op::DATA_IS, data)
}

/// A `Data` request carrying `data`, without building a [`Request`].
pub fn write_request_data(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    write_frame(w, op::DATA, data)
}

/// The next response; the end of the stream is an error (the server went away).
pub fn read_response(r: &mut impl Read) -> io::Result<Response> {
    let (op, body) = read_frame(r)?.ok_or(io::ErrorKind::UnexpectedEof)?;
    if op == op::DATA_IS {
        return Ok(Response::Data(body));
    }
    let mut c = Cursor(&body);
    let response = match op {
        op::WELCOME => Response::Welcome { version: c.u16()?, read_only: c.u8()? != 0 },
        op::OK => Response::Ok,
        op::EXISTS => Response::Exists,
        op::NAMES => {
            let more = c.u8()? != 0;
            let mut names = Vec::new();
            while !c.0.is_empty() {
                names.push(c.str()?);
            }
            Response::Names { more, names }
        }
        op::SIZE_IS => Response::Size(c.u64()?),
        op::ERROR => {
            let code = CODES.get(usize::from(c.u8()?)).copied().unwrap_or(Code::Failed);
            Response::Error { code, message: c.str()? }
        }
        other => return Err(malformed(&format!("unknown response type {other}"))),
    };
    c.end()?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds() -> impl Strategy<Value = ObjectKind> {
        proptest::sample::select(KINDS.to_vec())
    }

    fn requests() -> impl Strategy<Value = Request> {
        let name = "[a-z0-9.-]{0,80}";
        prop_oneof![
            (any::<u16>(), name, ".{0,40}").prop_map(|(version, client, by)| Request::Hello {
                version,
                client,
                by
            }),
            kinds().prop_map(|kind| Request::List { kind }),
            (kinds(), name).prop_map(|(kind, name)| Request::Size { kind, name }),
            (kinds(), name, any::<u64>(), any::<u64>()).prop_map(|(kind, name, offset, length)| {
                Request::Get { kind, name, offset, length }
            }),
            (kinds(), name, any::<u64>()).prop_map(|(kind, name, size)| Request::Put {
                kind,
                name,
                size
            }),
            proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Request::Data),
            (kinds(), name).prop_map(|(kind, name)| Request::Delete { kind, name }),
            any::<bool>().prop_map(|x| Request::Lock {
                mode: if x { LockMode::Exclusive } else { LockMode::Shared }
            }),
            Just(Request::Unlock),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn requests_come_back_as_sent(sent in proptest::collection::vec(requests(), 1..8)) {
            let mut wire = Vec::new();
            for r in &sent {
                write_request(&mut wire, r).unwrap();
            }
            let mut input = &wire[..];
            for r in &sent {
                let got = read_request(&mut input).unwrap();
                prop_assert_eq!(got.as_ref(), Some(r));
            }
            prop_assert!(read_request(&mut input).unwrap().is_none());
        }

        /// Whatever the bytes, reading returns (an error or requests) and allocates no more
        /// than a frame's limit at a time.
        #[test]
        fn any_bytes_give_an_error_or_requests(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut input = &bytes[..];
            for _ in 0..100 {
                match read_request(&mut input) {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }

        #[test]
        fn a_cut_stream_is_an_error_not_a_request(r in requests(), cut in 1usize..64) {
            let mut wire = Vec::new();
            write_request(&mut wire, &r).unwrap();
            let cut = cut.min(wire.len() - 1);
            let mut input = &wire[..wire.len() - cut];
            prop_assert!(read_request(&mut input).is_err());
        }
    }

    #[test]
    fn responses_come_back_as_sent() {
        let sent = [
            Response::Welcome { version: 1, read_only: true },
            Response::Ok,
            Response::Exists,
            Response::Names { more: true, names: vec!["a".into(), "b".into()] },
            Response::Names { more: false, names: vec![] },
            Response::Size(u64::MAX),
            Response::Data(vec![7; CHUNK]),
            Response::Error { code: Code::Quota, message: "over quota".into() },
        ];
        let mut wire = Vec::new();
        for r in &sent {
            write_response(&mut wire, r).unwrap();
        }
        let mut input = &wire[..];
        for r in &sent {
            assert_eq!(&read_response(&mut input).unwrap(), r);
        }
        assert_eq!(read_response(&mut input).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn an_absurd_length_is_refused_before_allocating() {
        for len in [0u32, MAX_FRAME as u32 + 1, u32::MAX] {
            let mut wire = len.to_be_bytes().to_vec();
            wire.push(op::LIST);
            let err = read_request(&mut &wire[..]).unwrap_err();
            assert!(err.to_string().contains("outside"), "{err}");
        }
    }

    #[test]
    fn unknown_types_and_trailing_bytes_are_malformed() {
        let mut wire = Vec::new();
        write_frame(&mut wire, 0x42, b"").unwrap();
        assert!(read_request(&mut &wire[..]).unwrap_err().to_string().contains("unknown"));
        let mut wire = Vec::new();
        write_frame(&mut wire, op::UNLOCK, b"x").unwrap();
        assert!(read_request(&mut &wire[..]).unwrap_err().to_string().contains("longer"));
        let mut wire = Vec::new();
        write_frame(&mut wire, op::HELLO, b"NOT-OE!!\0\x01").unwrap();
        assert!(read_request(&mut &wire[..]).unwrap_err().to_string().contains("not an oe"));
    }

    #[test]
    fn a_pipe_is_widened_and_anything_else_left_alone() {
        use std::os::fd::AsRawFd as _;
        let (reader, writer) = std::io::pipe().unwrap();
        // SAFETY: F_GETPIPE_SZ only reads the capacity of a valid descriptor.
        let capacity = |fd: i32| unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        assert_eq!(capacity(reader.as_raw_fd()), 64 << 10, "Linux's default");
        widen_pipe(&reader);
        assert_eq!(capacity(writer.as_raw_fd()), PIPE_CAPACITY, "either end widens the pipe");
        let file = tempfile::tempfile().unwrap();
        widen_pipe(&file);
        assert_eq!(capacity(file.as_raw_fd()), -1);
    }
}
