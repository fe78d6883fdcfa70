//! The backup server's administration, `oe server …`: giving a client a key (and its
//! repository and quota), taking keys away, listing the clients with their usage, telling
//! which clients' backups are late, and forgetting snapshots by the time the server received
//! them.
//!
//! Each is a short function over the [`Root`], the [`AuthorizedKeys`] and the client's
//! [`Repository`]; the CLI prints what they return. A snapshot's arrival is the mtime of its
//! file `repo/snapshots/<id>`, which `oe serve` creates when the snapshot arrives and which
//! the client cannot set: never the time written inside the snapshot, which a compromised
//! client may forge.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jiff::SignedDuration;
use serde::Serialize;

use super::authorized_keys::{self, Added, AuthorizedKeys, Grant};
use super::keys::{self, PublicKey};
use super::layout::{self, Client, ClientSettings, Root};
use crate::config::{Access, Location};
use crate::exit::{ExitCode, ExitStatus};
use crate::jobs::mirror::job::{self as mirror, ForgetPlan};
use crate::remote;
use crate::repo::{self, Repository};
use crate::rules::retention::{Policy, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Layout(#[from] layout::Error),
    #[error(transparent)]
    Key(#[from] keys::Error),
    #[error(transparent)]
    AuthorizedKeys(#[from] authorized_keys::Error),
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Mirror(#[from] mirror::Error),
    #[error("no key{} of client {client} in {}: see `oe server list`",
        fingerprint.as_ref().map_or(String::new(), |f| format!(" {f}")), path.display())]
    NoKey { client: String, fingerprint: Option<String>, path: PathBuf },
    #[error("{} client(s) have no snapshot that arrived within {max_age}: {names}", late.len())]
    Late { late: Vec<String>, max_age: String, names: String },
    #[error("HOME is not set: pass --authorized-keys FILE")]
    NoHome,
    #[error("cannot find the path of the running oe, which the key's command must name")]
    CurrentExe(#[source] io::Error),
    #[error("{what}")]
    Io { what: String, source: io::Error },
}

impl Error {
    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Layout(e) => e.exit_code(),
            Error::Key(e) => e.exit_code(),
            Error::AuthorizedKeys(e) => e.exit_code(),
            Error::Repo(e) => e.exit_code(),
            Error::Mirror(e) => e.exit_code(),
            Error::NoKey { .. } | Error::NoHome => ExitCode::Usage,
            Error::Late { .. } => ExitCode::Failure,
            Error::CurrentExe(_) => ExitCode::Failure,
            Error::Io { source, .. } => source.exit_code(),
        }
    }
}

/// A client's quota as `--quota` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// At most this many bytes.
    Bytes(u64),
    /// No limit (`none`).
    Unlimited,
}

/// `500M`, `200G`, `1T`, `64K` (binary units: `G` is 2^30 bytes; `GiB` and `GB` read the
/// same), plain bytes (`1000000`), or `none`.
pub fn parse_quota(text: &str) -> Result<Quota, String> {
    let invalid = || format!("invalid quota {text:?}: write it like 500M, 200G, 1T, or none");
    if text.eq_ignore_ascii_case("none") {
        return Ok(Quota::Unlimited);
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit.strip_suffix("IB").or_else(|| unit.strip_suffix('B')).unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        _ => return Err(invalid()),
    };
    number.checked_mul(1 << shift).map(Quota::Bytes).ok_or_else(invalid)
}

/// The `authorized_keys` of the user running oe: `$HOME/.ssh/authorized_keys`.
pub fn default_authorized_keys() -> Result<PathBuf, Error> {
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Ok(Path::new(&home).join(".ssh/authorized_keys")),
        _ => Err(Error::NoHome),
    }
}

/// What `add-key` is asked.
pub struct AddKey<'a> {
    pub root: &'a Root,
    pub client: &'a str,
    pub key: &'a PublicKey,
    pub read_only: bool,
    /// `None`: the quota stays as it is.
    pub quota: Option<Quota>,
    pub authorized_keys: &'a AuthorizedKeys,
    /// A missing repository is left for the client to create, encrypted (`oe mirror init
    /// --encrypt`): only its empty directory is made, and the server never holds the key.
    pub encrypted: bool,
}

/// What `add-key` did.
#[derive(Debug, Serialize)]
pub struct KeyAdded {
    pub client: String,
    pub fingerprint: String,
    pub read_only: bool,
    /// `new`, `replaced` or `unchanged`.
    pub line: Added,
    pub authorized_keys: PathBuf,
    pub repository: PathBuf,
    pub repository_created: bool,
    /// The repository's directory is empty, for the client to create it encrypted.
    pub awaiting_init: bool,
    pub quota: Option<u64>,
}

/// Gives `request.key` to the client: its repository created when missing (or, `encrypted`,
/// its empty directory), its quota written when given, then its line in `authorized_keys`.
/// The line is checked (the paths it names, no other line with that key) before anything is
/// created.
pub fn add_key(request: &AddKey) -> Result<KeyAdded, Error> {
    let client = request.root.client(request.client)?;
    let root = request.root.path();
    let grant = Grant {
        oe: std::env::current_exe().map_err(Error::CurrentExe)?,
        root: fs::canonicalize(root).map_err(Error::io(format!("resolving {}", root.display())))?,
        client: client.ident().into(),
        read_only: request.read_only,
        key: request.key.clone(),
    };
    request.authorized_keys.check(&grant)?;
    let repo = client.repo();
    let missing = !repo.join("config").is_file();
    let repository_created = missing && !request.encrypted;
    if repository_created {
        Repository::init(&repo)?;
    } else if missing {
        let what = format!("creating {}", repo.display());
        repo::LocalStorage::new(&repo).create_layout().map_err(Error::io(what))?;
    }
    let mut settings = client.settings()?;
    if let Some(quota) = request.quota {
        settings = ClientSettings {
            quota: match quota {
                Quota::Bytes(n) => Some(n),
                Quota::Unlimited => None,
            },
        };
        client.write_settings(&settings)?;
    }
    let line = request.authorized_keys.add(&grant)?;
    Ok(KeyAdded {
        client: client.ident().into(),
        fingerprint: request.key.fingerprint(),
        read_only: request.read_only,
        line,
        authorized_keys: request.authorized_keys.path().into(),
        repository: client.repo(),
        repository_created,
        awaiting_init: missing && request.encrypted,
        quota: settings.quota,
    })
}

/// What `remove-key` did.
#[derive(Debug, Serialize)]
pub struct KeysRemoved {
    pub client: String,
    pub removed: usize,
    pub authorized_keys: PathBuf,
}

/// Removes the client's lines (the one of key `fingerprint` only, when given); an error when
/// there was none. The repository stays.
pub fn remove_key(
    authorized_keys: &AuthorizedKeys,
    client: &str,
    fingerprint: Option<&str>,
) -> Result<KeysRemoved, Error> {
    if !layout::valid_ident(client) {
        return Err(layout::Error::InvalidIdent { ident: client.into() }.into());
    }
    let removed = authorized_keys.remove(client, fingerprint)?;
    if removed == 0 {
        return Err(Error::NoKey {
            client: client.into(),
            fingerprint: fingerprint.map(Into::into),
            path: authorized_keys.path().into(),
        });
    }
    Ok(KeysRemoved {
        client: client.into(),
        removed,
        authorized_keys: authorized_keys.path().into(),
    })
}

/// A key of a client, as `list` shows it.
#[derive(Debug, Serialize)]
pub struct KeyReport {
    pub fingerprint: String,
    pub comment: String,
    pub read_only: bool,
}

/// A client, as `list` shows it.
#[derive(Debug, Serialize)]
pub struct ClientReport {
    pub client: String,
    /// Whether the client has a repository (a key without one was written by hand, or for
    /// another root).
    pub repository: bool,
    pub keys: Vec<KeyReport>,
    /// Bytes of every file below its repository.
    pub bytes: u64,
    pub quota: Option<u64>,
    pub snapshots: usize,
    /// When the newest snapshot arrived.
    pub last_arrival: Option<jiff::Timestamp>,
    /// Lines saying `REFUSED` in its `serve.log`: requests `oe serve` refused.
    pub refused: usize,
}

/// Every client of the root and every client the file gives a key for this root, by name.
pub fn list(root: &Root, authorized_keys: &AuthorizedKeys) -> Result<Vec<ClientReport>, Error> {
    let root_path = fs::canonicalize(root.path()).unwrap_or_else(|_| root.path().into());
    let mut grants = authorized_keys.grants()?;
    grants.retain(|g| g.root.as_deref().is_none_or(|r| Path::new(r) == root_path));
    let mut clients: Vec<Client> = root.clients()?;
    for grant in &grants {
        if !clients.iter().any(|c| c.ident() == grant.client) {
            if let Ok(client) = root.client(&grant.client) {
                clients.push(client);
            }
        }
    }
    clients.sort_by(|a, b| a.ident().cmp(b.ident()));
    let mut reports = Vec::new();
    for client in clients {
        let repository = client.repo().join("config").is_file();
        let arrivals = arrivals(&client)?;
        reports.push(ClientReport {
            client: client.ident().into(),
            repository,
            keys: grants
                .iter()
                .filter(|g| g.client == client.ident())
                .map(|g| KeyReport {
                    fingerprint: g.fingerprint.clone(),
                    comment: g.comment.clone(),
                    read_only: g.read_only,
                })
                .collect(),
            bytes: if repository { bytes_below(&client.repo())? } else { 0 },
            quota: client.settings()?.quota,
            snapshots: arrivals.count,
            last_arrival: arrivals.newest.and_then(timestamp),
            refused: refused(&client)?,
        });
    }
    Ok(reports)
}

/// A client's newest arrival, as `status` shows it.
#[derive(Debug, Serialize)]
pub struct Arrival {
    pub client: String,
    pub last_arrival: Option<jiff::Timestamp>,
    /// Seconds since then.
    pub age_seconds: Option<i64>,
    /// No snapshot, or the newest is older than the limit.
    pub late: bool,
}

/// Every client's newest arrival, judged against `max_age`.
pub fn status(root: &Root, max_age: SignedDuration) -> Result<Vec<Arrival>, Error> {
    let now = SystemTime::now();
    let mut found = Vec::new();
    for client in root.clients()? {
        let newest = arrivals(&client)?.newest;
        let age =
            newest.map(|t| SignedDuration::system_until(t, now).unwrap_or(SignedDuration::ZERO));
        found.push(Arrival {
            client: client.ident().into(),
            last_arrival: newest.and_then(timestamp),
            age_seconds: age.map(|a| a.as_secs()),
            late: age.is_none_or(|a| a > max_age),
        });
    }
    Ok(found)
}

/// An error naming every late client with the age of its newest snapshot.
pub fn check_arrivals(arrivals: &[Arrival], max_age: &str) -> Result<(), Error> {
    let late: Vec<&Arrival> = arrivals.iter().filter(|a| a.late).collect();
    if late.is_empty() {
        return Ok(());
    }
    let names = late
        .iter()
        .map(|a| match a.age_seconds {
            Some(age) => format!("{} (newest {} ago)", a.client, age_text(age)),
            None => format!("{} (no snapshot)", a.client),
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::Late {
        late: late.iter().map(|a| a.client.clone()).collect(),
        max_age: max_age.into(),
        names,
    })
}

/// `3d 4h`, `5h 12m`, `40m`, `12s`.
pub fn age_text(seconds: i64) -> String {
    let (d, h, m) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The client's repository, opened; an encrypted one with the passphrase of one of its keys
/// (`OE_PASSPHRASE`, `passphrase_file`, else the terminal).
pub fn open_repository(
    root: &Root,
    client: &str,
    passphrase_file: Option<&Path>,
) -> Result<(Client, Repository), Error> {
    let client = root.existing_client(client)?;
    let access =
        Access { passphrase_file: passphrase_file.map(Path::to_path_buf), ..Access::default() };
    let repo = remote::open(&Location::Local(client.repo()), &access)?;
    Ok((client, repo))
}

/// `policy` applied to the client's snapshots, directory by directory, each judged by when
/// it arrived ([`arrival`]), never by the time it claims.
pub fn forget_plan(
    client: &Client,
    repo: &Repository,
    policy: Policy,
) -> Result<ForgetPlan, Error> {
    Ok(mirror::forget_plan_by(repo, None, policy, |listed| arrival(client, &listed.id))?)
}

/// When snapshot `id` of the client arrived: the mtime of its file.
pub fn arrival(client: &Client, id: &str) -> Result<Timestamp, mirror::Error> {
    let path = client.repo().join("snapshots").join(id);
    let modified = fs::metadata(&path).and_then(|m| m.modified()).map_err(|e| repo::Error::Io {
        what: format!("reading the arrival time of {}", path.display()),
        source: e,
    })?;
    Timestamp::from_system_time(modified).ok_or(mirror::Error::Clock)
}

/// How many snapshots the client has and when the newest arrived.
struct Arrivals {
    count: usize,
    newest: Option<SystemTime>,
}

fn arrivals(client: &Client) -> Result<Arrivals, Error> {
    let dir = client.repo().join("snapshots");
    let mut found = Arrivals { count: 0, newest: None };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()))(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(format!("reading {}", dir.display())))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = entry.metadata().map_err(Error::io(format!("reading {}", dir.display())))?;
        if !meta.is_file() {
            continue;
        }
        found.count += 1;
        let modified = meta.modified().map_err(Error::io(format!("reading {}", dir.display())))?;
        found.newest = found.newest.max(Some(modified));
    }
    Ok(found)
}

/// The sum of the sizes of the files below `dir` (symlinks not followed).
fn bytes_below(dir: &Path) -> Result<u64, Error> {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let what = || format!("reading {}", dir.display());
        for entry in fs::read_dir(&dir).map_err(Error::io(what()))? {
            let entry = entry.map_err(Error::io(what()))?;
            let meta = entry.path().symlink_metadata().map_err(Error::io(what()))?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

/// Lines of the client's log saying `REFUSED`.
fn refused(client: &Client) -> Result<usize, Error> {
    let path = client.log_path();
    match fs::read(&path) {
        Ok(log) => Ok(log.split(|&b| b == b'\n').filter(|l| contains(l, b"REFUSED")).count()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// To the second.
fn timestamp(time: SystemTime) -> Option<jiff::Timestamp> {
    let t = jiff::Timestamp::try_from(time).ok()?;
    t.round(jiff::Unit::Second).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_read_binary_units_plain_bytes_and_none() {
        let ok = |text: &str| parse_quota(text).unwrap();
        assert_eq!(ok("500M"), Quota::Bytes(500 << 20));
        assert_eq!(ok("200G"), Quota::Bytes(200 << 30));
        assert_eq!(ok("200GiB"), Quota::Bytes(200 << 30));
        assert_eq!(ok("1t"), Quota::Bytes(1 << 40));
        assert_eq!(ok("64K"), Quota::Bytes(64 << 10));
        assert_eq!(ok("1000000"), Quota::Bytes(1_000_000));
        assert_eq!(ok("none"), Quota::Unlimited);
        for bad in ["", "G", "12X", "1.5G", "-1G", "99999999999P", " 1G"] {
            assert!(parse_quota(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_read_like_people_write_them() {
        assert_eq!(age_text(12), "12s");
        assert_eq!(age_text(40 * 60 + 5), "40m");
        assert_eq!(age_text(5 * 3600 + 12 * 60), "5h 12m");
        assert_eq!(age_text(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
    }

    #[test]
    fn late_clients_are_all_named() {
        let arrival = |client: &str, age: Option<i64>, late| Arrival {
            client: client.into(),
            last_arrival: None,
            age_seconds: age,
            late,
        };
        assert!(check_arrivals(&[arrival("a", Some(10), false)], "26h").is_ok());
        let err = check_arrivals(
            &[
                arrival("a", Some(10), false),
                arrival("b", Some(3 * 86_400), true),
                arrival("c", None, true),
            ],
            "26h",
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::Failure);
        assert_eq!(
            err.to_string(),
            "2 client(s) have no snapshot that arrived within 26h: b (newest 3d 0h ago), c (no \
             snapshot)"
        );
    }
}
