//! A repository in a bucket of S3-compatible object storage (AWS, SeaweedFS, Ceph, MinIO,
//! rclone, …): the [`Storage`] calls on the objects `PREFIX/config`, `PREFIX/data/ab/…`,
//! `PREFIX/index/…`, the same layout as a repository in a directory
//! ([`object_key`](crate::repo::object_key)), so a directory copied into a bucket is a
//! repository there.
//!
//! It speaks S3 through `object_store` (Apache Arrow's): a focused crate for exactly these
//! calls (put, ranged get, list, delete), with multipart uploads, request signing, retries
//! with backoff on 5xx, throttling and timeouts, and conditional creates by `If-None-Match`.
//! `opendal` would do too, but brings a layer over dozens of services we do not use; the
//! AWS SDK sends checksums several S3-compatible servers refuse.
//!
//! - **Create-only.** Packs, index files and snapshots are named by the BLAKE3 of their
//!   bytes: they are written with `If-None-Match: *`, and "already exists" is success (the
//!   same name holds the same bytes). A server that ignores the header overwrites an object
//!   with identical bytes, which is harmless. Packs over [`MULTIPART_OVER`] are sent in
//!   parts, concurrently, after a `HEAD` finds them absent (a resumed run does not send
//!   them again). Only the config and lock objects are ever overwritten.
//! - **Retries.** `object_store` retries what it knows is safe (5xx, 429, timeouts of
//!   idempotent requests, connection failures before a request was sent); on top of that,
//!   every call is tried [`ATTEMPTS`] times in all, with backoff, when it fails otherwise
//!   than by a definite answer (absent, refused, denied): a create cut off by a reset is
//!   retried, which the content-addressed names make harmless.
//! - **Consistency.** Nothing here reads back or lists what it just wrote: a run writes
//!   packs, then index files naming them, then its snapshot, and opening a repository lists
//!   what earlier runs wrote.
//! - **Reads** of a range past an object's end get what there is in one request, which
//!   [`read_ahead`](super::read_ahead) asks for.
//! - **Locks** are the repository's lock objects (`locks/…`, refreshed every 5 minutes,
//!   stale after 30, see `repo::lock`): there is no server process to hold them.
//!
//! The calls are synchronous, as [`Storage`]'s are: each runs on a small runtime of its own
//! and the caller's thread waits for it, from any thread (also one of another runtime's
//! blocking pool).

use std::fs;
use std::future::Future;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig,
};

use crate::config::{S3Options, S3Url};
use crate::exit::{ExitCode, ExitStatus};
use crate::repo::{ObjectKind, Storage, object_key};

/// Objects larger than this (packs: 16 MiB and a blob) are uploaded in parts of this size.
pub const MULTIPART_OVER: usize = 8 << 20;
/// How many times a call is tried in all, when it fails without a definite answer.
const ATTEMPTS: u32 = 3;
/// The runtime every S3 call runs on: two threads, for the process's life.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("oe-s3")
        .enable_all()
        .build()
        .expect("a runtime for S3 requests")
});

pub struct S3Storage {
    store: AmazonS3,
    url: S3Url,
}

impl S3Storage {
    /// A client of the bucket of `url`, with the credentials `options` say where to find.
    /// Sends no request.
    pub fn connect(url: &S3Url, options: &S3Options) -> io::Result<S3Storage> {
        let credentials = Credentials::find(options)?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&url.bucket)
            .with_region(options.region.as_deref().unwrap_or("us-east-1"))
            .with_access_key_id(credentials.key_id)
            .with_secret_access_key(credentials.secret)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                max_retries: 8,
                retry_timeout: Duration::from_secs(60),
            });
        if let Some(token) = credentials.token {
            builder = builder.with_token(token);
        }
        let mut client = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(10))
            .with_timeout(Duration::from_secs(120));
        match &options.endpoint {
            Some(endpoint) => {
                let http = endpoint.starts_with("http://");
                if !http && !endpoint.starts_with("https://") {
                    return Err(invalid(format!(
                        "mirror.s3.endpoint {endpoint:?} is not an http:// or https:// URL"
                    )));
                }
                client = client.with_allow_http(http);
                builder = builder
                    .with_endpoint(endpoint.trim_end_matches('/'))
                    .with_virtual_hosted_style_request(!options.path_style.unwrap_or(true));
            }
            None => {
                builder =
                    builder.with_virtual_hosted_style_request(!options.path_style.unwrap_or(false));
            }
        }
        let store = builder
            .with_client_options(client)
            .build()
            .map_err(|e| invalid(format!("{url}: {e}")))?;
        Ok(S3Storage { store, url: url.clone() })
    }

    fn key(&self, kind: ObjectKind, name: &str) -> io::Result<Key> {
        let key = object_key(kind, name)?;
        Ok(Key::from(match self.url.prefix.as_str() {
            "" => key,
            prefix => format!("{prefix}/{key}"),
        }))
    }

    /// Runs `call` (made again for each attempt) on the S3 runtime until it succeeds, fails
    /// definitely, or has been tried [`ATTEMPTS`] times; waits for it on this thread.
    fn call<T, F>(&self, what: &str, call: impl Fn(AmazonS3) -> F + Send + 'static) -> io::Result<T>
    where
        T: Send + 'static,
        F: Future<Output = object_store::Result<T>> + Send,
    {
        let store = self.store.clone();
        let result = block_on(async move {
            let mut attempt = 1;
            loop {
                match call(store.clone()).await {
                    Err(e) if attempt < ATTEMPTS && !definite(&e) => {
                        let pause = Duration::from_millis(500) * 2u32.pow(attempt - 1);
                        tracing::warn!("{e}; trying again in {pause:?}");
                        tokio::time::sleep(pause).await;
                        attempt += 1;
                    }
                    result => return result,
                }
            }
        });
        result.map_err(|e| to_io(&self.url, what, e))
    }

    fn exists(&self, key: &Key, what: &str) -> io::Result<bool> {
        let key = key.clone();
        match self.call(what, move |store| {
            let key = key.clone();
            async move { store.head(&key).await }
        }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn put_multipart(&self, key: &Key, data: &[u8], what: &str) -> io::Result<()> {
        let parts: Vec<PutPayload> =
            data.chunks(MULTIPART_OVER).map(|c| PutPayload::from(c.to_vec())).collect();
        let key = key.clone();
        self.call(what, move |store| {
            let (key, parts) = (key.clone(), parts.clone());
            async move {
                // Asked again on each attempt: a completion whose answer was lost (the server
                // restarted) stored the object, and the server no longer knows the upload.
                match store.head(&key).await {
                    Ok(_) => return Ok(()),
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
                let mut upload = store.put_multipart(&key).await?;
                let sent = futures_util::future::try_join_all(
                    parts.into_iter().map(|part| upload.put_part(part)),
                )
                .await;
                match sent {
                    Ok(_) => upload.complete().await.map(drop).map_err(upload_lost),
                    Err(e) => {
                        if let Err(abort) = upload.abort().await {
                            tracing::warn!("cannot abort the upload of {key}: {abort}");
                        }
                        Err(upload_lost(e))
                    }
                }
            }
        })
    }
}

impl Storage for S3Storage {
    fn put(&self, kind: ObjectKind, name: &str, data: &[u8]) -> io::Result<()> {
        let key = self.key(kind, name)?;
        let what = format!("writing {key}");
        let overwrite = matches!(kind, ObjectKind::Config | ObjectKind::Lock);
        if !overwrite && data.len() > MULTIPART_OVER {
            return self.put_multipart(&key, data, &what);
        }
        let payload = PutPayload::from(data.to_vec());
        let mode = if overwrite { PutMode::Overwrite } else { PutMode::Create };
        let written = self.call(&what, move |store| {
            let (key, payload, mode) = (key.clone(), payload.clone(), mode.clone());
            async move { store.put_opts(&key, payload, PutOptions::from(mode)).await }
        });
        match written {
            // The name is the hash of the bytes: the object there holds these bytes.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            result => result.map(drop),
        }
    }

    fn get(&self, kind: ObjectKind, name: &str) -> io::Result<Vec<u8>> {
        let key = self.key(kind, name)?;
        self.call(&format!("reading {key}"), move |store| {
            let key = key.clone();
            async move { Ok(store.get(&key).await?.bytes().await?.to_vec()) }
        })
    }

    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        let fetched = self.get_range_within(kind, name, offset, len)?;
        if (fetched.len() as u64) < len {
            let key = self.key(kind, name)?;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("reading {len} bytes at {offset} of {key}: got {} bytes", fetched.len()),
            ));
        }
        Ok(fetched)
    }

    /// One request: the store answers with what there is up to the end of the object.
    fn get_range_within(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<u8>> {
        let key = self.key(kind, name)?;
        let end = offset.saturating_add(len);
        let fetched =
            self.call(&format!("reading {len} bytes at {offset} of {key}"), move |store| {
                let key = key.clone();
                async move { store.get_range(&key, offset..end).await }
            })?;
        Ok(fetched.to_vec())
    }

    fn list(&self, kind: ObjectKind) -> io::Result<Vec<String>> {
        if kind == ObjectKind::Config {
            let key = self.key(kind, "config")?;
            let found = self.exists(&key, &format!("looking for {key}"))?;
            return Ok(if found { vec!["config".into()] } else { Vec::new() });
        }
        let dir = match self.url.prefix.as_str() {
            "" => Key::from(kind.dir()),
            prefix => Key::from(format!("{prefix}/{}", kind.dir())),
        };
        let what = format!("listing {dir}/");
        let keys = self.call(&what, move |store| {
            let dir = dir.clone();
            async move {
                store.list(Some(&dir)).map_ok(|meta| meta.location).try_collect::<Vec<_>>().await
            }
        })?;
        // Only the names this layout puts there: a stray object is not the repository's.
        let names = keys.iter().filter_map(|key| {
            let name = key.filename()?;
            let expected = self.key(kind, name).ok()?;
            (&expected == key).then(|| name.to_owned())
        });
        Ok(names.collect())
    }

    fn delete(&self, kind: ObjectKind, name: &str) -> io::Result<()> {
        let key = self.key(kind, name)?;
        match self.call(&format!("deleting {key}"), move |store| {
            let key = key.clone();
            async move { store.delete(&key).await }
        }) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            result => result,
        }
    }

    fn size(&self, kind: ObjectKind, name: &str) -> io::Result<u64> {
        let key = self.key(kind, name)?;
        self.call(&format!("looking for {key}"), move |store| {
            let key = key.clone();
            async move { Ok(store.head(&key).await?.size) }
        })
    }
}

/// Runs `future` on the S3 runtime and waits for its result on this thread.
fn block_on<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    RUNTIME.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().expect("a task of the S3 runtime runs to its end")
}

/// A part or the completion of a multipart upload failed: another attempt looks for the
/// object and starts a new upload, so even an answer that is definite for a single call is
/// worth it. When a server restarts mid-upload, object_store's own retry of the completion
/// can find the upload gone (completed before the restart, or lost with it), which servers
/// answer with 404 (`NoSuchUpload`) or, as s3s-fs does, 403; CI saw the run fail on that.
fn upload_lost(e: object_store::Error) -> object_store::Error {
    match definite(&e) {
        true => object_store::Error::Generic { store: UPLOAD_LOST, source: Box::new(e) },
        false => e,
    }
}

/// The `store` of an error [`upload_lost`] made worth another attempt; [`to_io`] judges it by
/// the server's own answer once no attempt is left.
const UPLOAD_LOST: &str = "S3 multipart upload";

/// Whether `e` is the server's definite answer, which trying again would not change.
fn definite(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    matches!(
        e,
        E::NotFound { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::NotImplemented { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::InvalidPath { .. }
    )
}

/// A failed S3 call, with the exit code it means; carried inside the `io::Error`s of
/// [`S3Storage`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    code: ExitCode,
    message: String,
}

impl Error {
    /// The S3 error inside `error`, if `error` came from [`S3Storage`].
    pub fn of_io(error: &io::Error) -> Option<&Error> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        self.code
    }
}

fn to_io(url: &S3Url, what: &str, e: object_store::Error) -> io::Error {
    use object_store::Error as E;
    let e = match e {
        E::Generic { store: UPLOAD_LOST, source } => match source.downcast::<E>() {
            Ok(answer) => *answer,
            Err(source) => E::Generic { store: UPLOAD_LOST, source },
        },
        e => e,
    };
    let (kind, code) = match &e {
        E::NotFound { .. } => (io::ErrorKind::NotFound, ExitCode::Usage),
        E::AlreadyExists { .. } => (io::ErrorKind::AlreadyExists, ExitCode::Exists),
        // Credentials refused: the storage is out of reach as an SSH login refused is.
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            (io::ErrorKind::PermissionDenied, ExitCode::Unreachable)
        }
        _ if never_connected(&e) => (io::ErrorKind::ConnectionRefused, ExitCode::Unreachable),
        _ => (io::ErrorKind::Other, ExitCode::Io),
    };
    io::Error::new(kind, Error { code, message: format!("{url}: {what}: {e}") })
}

/// Whether `e` comes of a connection that could not be made (refused, no route, DNS).
fn never_connected(e: &object_store::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(http) = error.downcast_ref::<object_store::client::HttpError>() {
            return http.kind() == object_store::client::HttpErrorKind::Connect;
        }
        source = error.source();
    }
    false
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, Error { code: ExitCode::Usage, message })
}

/// An access key, from (in this order) `mirror.s3.credentials_file`, the environment's
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), or the shared
/// credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`); a file's
/// profile is `AWS_PROFILE`, else `default`.
struct Credentials {
    key_id: String,
    secret: String,
    token: Option<String>,
}

impl Credentials {
    fn find(options: &S3Options) -> io::Result<Credentials> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        if let Some(file) = &options.credentials_file {
            return Credentials::from_file(file, &profile);
        }
        if let (Some(key_id), Some(secret)) =
            (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
        {
            return Ok(Credentials { key_id, secret, token: env("AWS_SESSION_TOKEN") });
        }
        let shared = env("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from(env("HOME")?).join(".aws/credentials")));
        match shared {
            Some(file) if file.exists() => Credentials::from_file(&file, &profile),
            _ => Err(invalid(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                 AWS_PROFILE of ~/.aws/credentials, or mirror.s3.credentials_file"
                    .into(),
            )),
        }
    }

    /// The `[profile]` of an AWS shared-credentials file, which only its owner may read.
    fn from_file(file: &Path, profile: &str) -> io::Result<Credentials> {
        let context = |e: io::Error| invalid(format!("{}: {e}", file.display()));
        let mode = fs::metadata(file).map_err(context)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(invalid(format!(
                "{} holds secrets but others may read it (mode {:o}): chmod 600 it",
                file.display(),
                mode & 0o777
            )));
        }
        let text = fs::read_to_string(file).map_err(context)?;
        let values = ini_section(&text, profile);
        let value = |key: &str| values.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        match (value("aws_access_key_id"), value("aws_secret_access_key")) {
            (Some(key_id), Some(secret)) => {
                Ok(Credentials { key_id, secret, token: value("aws_session_token") })
            }
            _ => Err(invalid(format!(
                "{}: no aws_access_key_id and aws_secret_access_key in [{profile}]",
                file.display()
            ))),
        }
    }
}

/// The `key = value` lines of `[section]` of an INI file (`#` and `;` start comments).
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = None;
    let mut values = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_owned());
        } else if current.as_deref() == Some(section) {
            if let Some((key, value)) = line.split_once('=') {
                values.push((key.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_profile_of_a_credentials_file_only_its_owner_may_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        fs::write(
            &file,
            "# comment\n[default]\naws_access_key_id = AKIA1\naws_secret_access_key=s1\n\n\
             [backup]\n; other\naws_access_key_id = AKIA2\naws_secret_access_key = s2\n\
             aws_session_token = t2\n[empty]\n",
        )
        .unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let c = Credentials::from_file(&file, "default").unwrap();
        assert_eq!((c.key_id.as_str(), c.secret.as_str(), c.token), ("AKIA1", "s1", None));
        let c = Credentials::from_file(&file, "backup").unwrap();
        assert_eq!((c.key_id.as_str(), c.token.as_deref()), ("AKIA2", Some("t2")));
        let e = Credentials::from_file(&file, "empty").err().unwrap();
        assert!(e.to_string().contains("no aws_access_key_id"), "{e}");

        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let e = Credentials::from_file(&file, "default").err().unwrap();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn keys_follow_the_directory_layout_under_the_prefix() {
        let options = S3Options {
            endpoint: Some("http://127.0.0.1:1".into()),
            credentials_file: None,
            ..S3Options::default()
        };
        let url = S3Url { bucket: "backups".into(), prefix: "hosting/acme".into() };
        let storage = storage_for(&url, &options);
        assert_eq!(
            storage.key(ObjectKind::Pack, "abcdef").unwrap().as_ref(),
            "hosting/acme/data/ab/abcdef"
        );
        assert_eq!(
            storage.key(ObjectKind::Config, "config").unwrap().as_ref(),
            "hosting/acme/config"
        );
        assert!(storage.key(ObjectKind::Snapshot, "../x").is_err());
        let root = S3Url { bucket: "backups".into(), prefix: String::new() };
        let storage = storage_for(&root, &options);
        assert_eq!(storage.key(ObjectKind::Index, "i").unwrap().as_ref(), "index/i");

        let bad = S3Options { endpoint: Some("ftp://x".into()), ..options };
        assert!(S3Storage::connect(&url, &bad).is_err());
    }

    /// A storage with credentials from a file written for it.
    fn storage_for(url: &S3Url, options: &S3Options) -> S3Storage {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        fs::write(&file, "[default]\naws_access_key_id=a\naws_secret_access_key=b\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let options = S3Options { credentials_file: Some(file), ..options.clone() };
        S3Storage::connect(url, &options).unwrap()
    }
}
