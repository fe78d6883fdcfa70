//! `serve` driven by scripted requests on in-memory streams: what it allows, what it refuses
//! (and logs), and malformed input.

use super::*;
use crate::remote::protocol::{read_response, write_request};
use crate::repo::Repository;

struct Server {
    _dir: tempfile::TempDir,
    options: Options,
    client: Client,
}

fn server(read_only: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let root = Root::init(&dir.path().join("root")).unwrap();
    let client = root.client("acme").unwrap();
    Repository::init(&client.repo()).unwrap();
    let options = Options {
        root: root.path().into(),
        client: "acme".into(),
        read_only,
        idle_timeout: Duration::from_secs(5),
    };
    Server { _dir: dir, options, client }
}

fn hello() -> Request {
    Request::Hello { version: protocol::VERSION, client: "acme".into(), by: "test".into() }
}

fn name_of(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// A put and its data, in frames of at most a chunk.
fn put_chunked(name: &str, data: &[u8]) -> Vec<Request> {
    let put = Request::Put { kind: ObjectKind::Pack, name: name.into(), size: data.len() as u64 };
    std::iter::once(put).chain(data.chunks(CHUNK).map(|c| Request::Data(c.to_vec()))).collect()
}

/// A put and its data in one frame.
fn put(name: &str, data: &[u8]) -> [Request; 2] {
    let put = Request::Put { kind: ObjectKind::Pack, name: name.into(), size: data.len() as u64 };
    [put, Request::Data(data.to_vec())]
}

/// Runs a session on `requests`; returns its result and every response.
fn session(s: &Server, requests: &[Request]) -> (Result<(), Error>, Vec<Response>) {
    let mut input = Vec::new();
    for r in requests {
        write_request(&mut input, r).unwrap();
    }
    session_bytes(s, &input)
}

fn session_bytes(s: &Server, input: &[u8]) -> (Result<(), Error>, Vec<Response>) {
    let mut output = Vec::new();
    let result = serve(&s.options, input, &mut output);
    let mut responses = Vec::new();
    let mut out = &output[..];
    while !out.is_empty() {
        responses.push(read_response(&mut out).unwrap());
    }
    (result, responses)
}

fn refused(response: &Response, code: Code, words: &str) {
    match response {
        Response::Error { code: c, message } => {
            assert_eq!(*c, code, "{message}");
            assert!(message.contains(words), "{message:?} lacks {words:?}");
        }
        other => panic!("expected a refusal ({words}), got {other:?}"),
    }
}

fn log(s: &Server) -> String {
    fs::read_to_string(s.client.log_path()).unwrap_or_default()
}

fn packs(s: &Server) -> Vec<String> {
    LocalStorage::new(&s.client.repo()).list(ObjectKind::Pack).unwrap()
}

fn temps(s: &Server) -> usize {
    fs::read_dir(s.client.repo().join("tmp")).unwrap().count()
}

const LOCK: Request = Request::Lock { mode: LockMode::Exclusive };

#[test]
fn new_objects_are_stored_once_and_read_back() {
    let s = server(false);
    let data = b"pack bytes".repeat(300_000);
    let name = name_of(&data);
    let get = Request::Get { kind: ObjectKind::Pack, name: name.clone(), offset: 5, length: 10 };
    let list = Request::List { kind: ObjectKind::Pack };
    let mut requests = vec![hello(), LOCK];
    requests.extend(put_chunked(&name, &data));
    requests.extend([put(&name, &data)[0].clone(), get, list, Request::Unlock]);
    let (result, r) = session(&s, &requests);
    result.unwrap();
    assert!(matches!(r[0], Response::Welcome { read_only: false, .. }));
    assert_eq!(r[1..4], [Response::Ok, Response::Ok, Response::Ok], "lock, put, stored");
    assert_eq!(r[4], Response::Exists, "the same name again is not sent again");
    assert_eq!(r[5], Response::Size(10));
    assert_eq!(r[6], Response::Data(data[5..15].to_vec()));
    assert_eq!(r[7], Response::Names { more: false, names: vec![name.clone()] });
    assert_eq!(packs(&s), [name]);
    assert_eq!(temps(&s), 0);
    assert!(log(&s).contains("session of test from a local pipe (append-only key)"));
}

#[test]
fn deletes_overwrites_and_escapes_are_refused_and_logged() {
    let s = server(false);
    let data = b"x".repeat(100);
    let name = name_of(&data);
    let (result, r) = session(&s, &[hello(), LOCK, put(&name, &data)[0].clone()]);
    result.unwrap_err();
    assert_eq!(r[2], Response::Ok);
    let stored = put(&name, &data);
    let cases: Vec<(Request, Code, &str)> = vec![
        (
            Request::Delete { kind: ObjectKind::Pack, name: name.clone() },
            Code::Refused,
            "append-only",
        ),
        (
            Request::Delete { kind: ObjectKind::Lock, name: "x".into() },
            Code::Refused,
            "append-only",
        ),
        (
            Request::Put { kind: ObjectKind::Pack, name: "../../../etc/passwd".into(), size: 1 },
            Code::Refused,
            "invalid name",
        ),
        (
            Request::Put { kind: ObjectKind::Snapshot, name: "/etc/passwd".into(), size: 1 },
            Code::Refused,
            "invalid name",
        ),
        (
            Request::Get {
                kind: ObjectKind::Index,
                name: format!("../{}", "a".repeat(61)),
                offset: 0,
                length: 1,
            },
            Code::Refused,
            "invalid name",
        ),
        (
            Request::Put { kind: ObjectKind::Config, name: "config".into(), size: 1 },
            Code::Refused,
            "never rewritten",
        ),
        (
            Request::Put { kind: ObjectKind::Lock, name: "l".into(), size: 1 },
            Code::Refused,
            "the server's",
        ),
        (Request::List { kind: ObjectKind::Lock }, Code::Refused, "locks"),
    ];
    let mut requests = vec![hello(), LOCK, stored[0].clone(), stored[1].clone()];
    requests.extend(cases.iter().map(|c| c.0.clone()));
    let (result, r) = session(&s, &requests);
    result.unwrap();
    for (response, (_, code, words)) in r[4..].iter().zip(&cases) {
        refused(response, *code, words);
    }
    assert_eq!(packs(&s), std::slice::from_ref(&name));
    let log = log(&s);
    assert_eq!(log.matches("REFUSED").count(), cases.len(), "{log}");
    assert!(log.contains(&format!("REFUSED delete of pack {name}")), "{log}");
    assert!(log.contains("REFUSED invalid name \"../../../etc/passwd\""), "{log}");
}

#[test]
fn the_config_of_an_empty_repository_is_written_once_under_the_lock() {
    let s = server(false);
    let repo = s.client.repo();
    fs::remove_dir_all(&repo).unwrap();
    LocalStorage::new(&repo).create_layout().unwrap();
    let config = |bytes: &[u8]| {
        let size = bytes.len() as u64;
        [
            Request::Put { kind: ObjectKind::Config, name: "config".into(), size },
            Request::Data(bytes.to_vec()),
        ]
    };
    let [put, data] = config(b"{}");
    let (result, r) = session(&s, &[hello(), put.clone()]);
    result.unwrap();
    refused(&r[1], Code::Refused, "without the writer's lock");
    let big = Request::Put { kind: ObjectKind::Config, name: "config".into(), size: 1 << 20 };
    let (result, r) = session(&s, &[hello(), LOCK, big]);
    result.unwrap();
    refused(&r[2], Code::Refused, "over 65536 bytes");
    let (result, r) = session(&s, &[hello(), LOCK, put, data]);
    result.unwrap();
    assert_eq!(&r[2..], [Response::Ok, Response::Ok]);
    assert_eq!(fs::read(repo.join("config")).unwrap(), b"{}");
    let [put, data] = config(b"[]");
    let (result, r) = session(&s, &[hello(), LOCK, put, data]);
    assert!(result.is_err(), "the refused put's data is out of place");
    refused(&r[2], Code::Refused, "never rewritten");
    assert_eq!(fs::read(repo.join("config")).unwrap(), b"{}", "the first config stays");
    assert_eq!(temps(&s), 0);
}

#[test]
fn an_object_must_hash_to_its_name_and_a_write_needs_the_lock() {
    let s = server(false);
    let data = b"honest bytes".to_vec();
    let forged = name_of(b"other bytes");
    let (result, r) = session(&s, &[hello(), put(&name_of(&data), &data)[0].clone()]);
    result.unwrap();
    refused(&r[1], Code::Refused, "without the writer's lock");
    let [p, d] = put(&forged, &data);
    let (result, r) = session(&s, &[hello(), LOCK, p, d]);
    result.unwrap();
    assert_eq!(r[2], Response::Ok, "the data is taken");
    refused(&r[3], Code::Refused, "do not hash to its name");
    assert!(packs(&s).is_empty());
    assert_eq!(temps(&s), 0);
}

#[test]
fn a_read_only_key_only_reads() {
    let s = server(true);
    let data = b"x".to_vec();
    let requests = [
        hello(),
        LOCK,
        Request::Lock { mode: LockMode::Shared },
        put(&name_of(&data), &data)[0].clone(),
        Request::List { kind: ObjectKind::Snapshot },
    ];
    let (result, r) = session(&s, &requests);
    result.unwrap();
    assert!(matches!(r[0], Response::Welcome { read_only: true, .. }));
    refused(&r[1], Code::Refused, "read-only");
    assert_eq!(r[2], Response::Ok);
    refused(&r[3], Code::Refused, "read-only");
    assert_eq!(r[4], Response::Names { more: false, names: vec![] });
}

#[test]
fn another_clients_repository_is_refused() {
    let s = server(false);
    let other =
        Request::Hello { version: protocol::VERSION, client: "beta".into(), by: "x".into() };
    let (result, r) = session(&s, &[other, Request::List { kind: ObjectKind::Pack }]);
    result.unwrap();
    assert_eq!(r.len(), 1, "nothing after a refused hello: {r:?}");
    refused(&r[0], Code::Refused, "this key is acme's");
    assert!(log(&s).contains("REFUSED access to client \"beta\""));
}

#[test]
fn a_write_past_the_quota_is_refused_before_it_is_stored() {
    let s = server(false);
    let used = directory_size(&s.client.repo()).unwrap();
    s.client.write_settings(&layout::ClientSettings { quota: Some(used + 150) }).unwrap();
    let small = vec![1u8; 100];
    let big = vec![2u8; 100];
    let [p1, d1] = put(&name_of(&small), &small);
    let [p2, _] = put(&name_of(&big), &big);
    let (result, r) = session(&s, &[hello(), LOCK, p1, d1, p2]);
    result.unwrap();
    assert_eq!(r[2..4], [Response::Ok, Response::Ok]);
    refused(&r[4], Code::Quota, "over its quota");
    assert_eq!(packs(&s), [name_of(&small)]);
}

#[test]
fn malformed_input_ends_the_session_and_leaves_nothing() {
    let s = server(false);
    let data = vec![3u8; 5000];
    let name = name_of(&data);
    // A put cut in the middle of its data: the client died.
    let mut input = Vec::new();
    for r in [hello(), LOCK, put(&name, &data)[0].clone()] {
        write_request(&mut input, &r).unwrap();
    }
    let mut frame = Vec::new();
    write_request(&mut frame, &Request::Data(data.clone())).unwrap();
    input.extend_from_slice(&frame[..frame.len() / 2]);
    let (result, _) = session_bytes(&s, &input);
    assert!(matches!(result, Err(Error::Session(_))), "{result:?}");
    assert!(packs(&s).is_empty());
    assert_eq!(temps(&s), 0);

    // More data than announced, an absurd length, an unknown request: refused, logged.
    let mut input = Vec::new();
    for r in [hello(), LOCK, put(&name, &data[..10])[0].clone(), Request::Data(data.clone())] {
        write_request(&mut input, &r).unwrap();
    }
    let (result, _) = session_bytes(&s, &input);
    assert!(matches!(result, Err(Error::Malformed(_))), "{result:?}");
    let mut input = Vec::new();
    write_request(&mut input, &hello()).unwrap();
    input.extend_from_slice(&u32::MAX.to_be_bytes());
    let (result, r) = session_bytes(&s, &input);
    assert!(matches!(result, Err(Error::Malformed(_))), "{result:?}");
    assert_eq!(r.len(), 1);
    let mut input = Vec::new();
    write_request(&mut input, &hello()).unwrap();
    input.extend_from_slice(&[0, 0, 0, 1, 0x55]);
    let (result, _) = session_bytes(&s, &input);
    assert!(matches!(result, Err(Error::Malformed(_))), "{result:?}");
    assert!(packs(&s).is_empty());
    assert_eq!(temps(&s), 0);
    assert!(log(&s).matches("REFUSED").count() >= 3, "{}", log(&s));
}

#[test]
fn a_killed_sessions_temporary_files_go_when_the_next_writer_locks() {
    let s = server(false);
    let leftover = s.client.repo().join("tmp/12345-0-abc");
    fs::write(&leftover, b"half a pack").unwrap();
    let (result, _) = session(&s, &[hello(), Request::Lock { mode: LockMode::Shared }]);
    result.unwrap();
    assert!(leftover.exists(), "a reader leaves them");
    let (result, _) = session(&s, &[hello(), LOCK]);
    result.unwrap();
    assert!(!leftover.exists());
    assert!(log(&s).contains("removed 1 file(s) killed sessions left"));
}
