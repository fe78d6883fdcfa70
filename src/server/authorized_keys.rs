//! The backup user's `authorized_keys`: the lines `oe server add-key` writes (one per key,
//! `command="<oe> serve --root <ROOT> --client <IDENT>[ --read-only]",restrict <key>`), read
//! back by `list`, removed by `remove-key`.
//!
//! Every change is made under an `flock` of a sibling lock file (`.authorized_keys.oe-lock`),
//! so that two `add-key`s at once do not lose each other's line, and written whole: a
//! temporary file in the same directory (mode 0600), fsynced, renamed over the file. Every
//! line the change is not about (comments, blank lines, other keys, a missing final newline)
//! is kept byte for byte. sshd uses the first line matching a key, so a key has one line: the
//! same key for another client, or in a line oe did not write (which may open a shell), is
//! refused rather than shadowed.
//!
//! sshd runs the `command=` through the user's shell: the paths in it are checked to hold
//! only characters no shell interprets ([`Grant::line`]), never quoted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::keys::{KeyLine, PublicKey};
use crate::atomic::AtomicFile;
use crate::exit::{ExitCode, ExitStatus};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "key {fingerprint} is already given to client {client} (line {line} of {}); sshd would \
         use that line: remove it first (`oe server remove-key {client} {fingerprint}`)",
        path.display()
    )]
    OtherClient { fingerprint: String, client: String, line: usize, path: PathBuf },
    #[error(
        "key {fingerprint} is already in {} (line {line}) without oe's restrictions, where it \
         may open a shell: remove that line by hand first",
        path.display()
    )]
    Unrestricted { fingerprint: String, line: usize, path: PathBuf },
    #[error(
        "{what} {} cannot go into a command sshd runs through the shell: it must be absolute \
         and hold only letters, digits and / . _ + -; install or move it to such a path",
        path.display()
    )]
    UnsafePath { what: &'static str, path: PathBuf },
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
            Error::OtherClient { .. } | Error::Unrestricted { .. } | Error::UnsafePath { .. } => {
                ExitCode::Usage
            }
            Error::Io { source, .. } => source.exit_code(),
        }
    }
}

/// A key given to a client: what `add-key` writes.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The `oe` binary sshd runs (absolute).
    pub oe: PathBuf,
    /// The server root (absolute).
    pub root: PathBuf,
    /// A valid client name ([`super::layout::valid_ident`]).
    pub client: String,
    pub read_only: bool,
    pub key: PublicKey,
}

impl Grant {
    /// The `authorized_keys` line; an error when a path holds a character the shell would
    /// interpret.
    pub fn line(&self) -> Result<String, Error> {
        let oe = shell_safe("oe's path", &self.oe)?;
        let root = shell_safe("the server root", &self.root)?;
        debug_assert!(super::layout::valid_ident(&self.client));
        let read_only = if self.read_only { " --read-only" } else { "" };
        let mut line = format!(
            "command=\"{oe} serve --root {root} --client {}{read_only}\",restrict {} {}",
            self.client, self.key.kind, self.key.data
        );
        if !self.key.comment.is_empty() {
            line.push(' ');
            line.push_str(&self.key.comment);
        }
        Ok(line)
    }
}

/// `path` as text, when it is absolute and every character is one of `[A-Za-z0-9/._+-]`.
fn shell_safe<'a>(what: &'static str, path: &'a Path) -> Result<&'a str, Error> {
    let unsafe_path = || Error::UnsafePath { what, path: path.into() };
    let text = path.to_str().ok_or_else(unsafe_path)?;
    let safe = path.is_absolute()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'+' | b'-'));
    if safe { Ok(text) } else { Err(unsafe_path()) }
}

/// What adding a key did to the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Added {
    /// A line was appended.
    New,
    /// The key's line for this client was rewritten in place (another comment, read-only
    /// changed, another root or oe path).
    Replaced,
    /// The line was already there as it should be: the file was not written.
    Unchanged,
}

/// A key line `add-key` wrote, as found in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Granted {
    pub client: String,
    pub fingerprint: String,
    pub kind: String,
    pub comment: String,
    pub read_only: bool,
    /// The root the line's `oe serve` works in.
    pub root: Option<String>,
    /// Its line number, from 1.
    pub line: usize,
}

/// An `authorized_keys` file.
#[derive(Clone, Debug)]
pub struct AuthorizedKeys {
    path: PathBuf,
}

impl AuthorizedKeys {
    pub fn new(path: &Path) -> AuthorizedKeys {
        AuthorizedKeys { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `grant`'s line: appended, or in place of that key's line for the same client.
    pub fn add(&self, grant: &Grant) -> Result<Added, Error> {
        let line = grant.line()?;
        self.edit(|content| with_grant(content, &line, grant, &self.path))
    }

    /// Whether [`add`](Self::add) would accept `grant` now (its paths, no other line with its
    /// key), without writing: checked before anything else is created for it.
    pub fn check(&self, grant: &Grant) -> Result<(), Error> {
        let line = grant.line()?;
        with_grant(&self.read()?, &line, grant, &self.path).map(drop)
    }

    /// Removes the lines of `client` (only that of the key `fingerprint` when given); how
    /// many.
    pub fn remove(&self, client: &str, fingerprint: Option<&str>) -> Result<usize, Error> {
        self.edit(|content| Ok(without_client(content, client, fingerprint)))
    }

    /// Every line `add-key` wrote, in file order.
    pub fn grants(&self) -> Result<Vec<Granted>, Error> {
        Ok(grants(&self.read()?))
    }

    /// Reads the file under the lock, applies `change`, writes the result when it differs.
    fn edit<T>(
        &self,
        change: impl FnOnce(&[u8]) -> Result<(Vec<u8>, T), Error>,
    ) -> Result<T, Error> {
        let _lock = self.lock()?;
        let content = self.read()?;
        let (changed, outcome) = change(&content)?;
        if changed != content {
            self.write(&changed)?;
        }
        Ok(outcome)
    }

    fn read(&self) -> Result<Vec<u8>, Error> {
        match fs::read(&self.path) {
            Ok(content) => Ok(content),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(format!("reading {}", self.path.display()))(e)),
        }
    }

    fn write(&self, content: &[u8]) -> Result<(), Error> {
        let written = AtomicFile::create(&self.path).and_then(|mut file| {
            file.write_all(content)?;
            file.commit()
        });
        written.map_err(Error::io(format!("writing {}", self.path.display())))
    }

    /// Creates the directory (0700) when missing and takes the exclusive `flock` of
    /// `.<name>.oe-lock` beside the file, held until the returned file is closed.
    fn lock(&self) -> Result<File, Error> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(Error::io(format!("creating {}", dir.display())))?;
        let name = self.path.file_name().map_or("authorized_keys".into(), |n| n.to_string_lossy());
        let lock_path = dir.join(format!(".{name}.oe-lock"));
        let what = || format!("locking {}", lock_path.display());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(Error::io(what()))?;
        loop {
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(file);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(Error::io(what())(e));
            }
        }
    }
}

/// The lines of `content` without their `\n`, and whether the last one had one.
fn split_lines(content: &[u8]) -> (Vec<&[u8]>, bool) {
    if content.is_empty() {
        return (Vec::new(), false);
    }
    let mut lines: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    let ends_with_newline = content.ends_with(b"\n");
    if ends_with_newline {
        lines.pop();
    }
    (lines, ends_with_newline)
}

fn join_lines(lines: &[&[u8]], ends_with_newline: bool) -> Vec<u8> {
    let mut content = lines.join(&b'\n');
    if ends_with_newline && !lines.is_empty() {
        content.push(b'\n');
    }
    content
}

fn parse(raw: &[u8]) -> Option<KeyLine> {
    KeyLine::parse(&String::from_utf8_lossy(raw))
}

/// `content` with `line` for `grant`'s key: in place of the key's line for the same client
/// (later duplicates of it dropped), else appended.
fn with_grant(
    content: &[u8],
    line: &str,
    grant: &Grant,
    path: &Path,
) -> Result<(Vec<u8>, Added), Error> {
    let (mut lines, mut ends_with_newline) = split_lines(content);
    let mut same: Vec<usize> = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let Some(parsed) = parse(raw).filter(|p| p.blob() == grant.key.blob) else { continue };
        let fingerprint = grant.key.fingerprint();
        match parsed.serve() {
            Some(serve) if serve.client == grant.client => same.push(i),
            Some(serve) => {
                return Err(Error::OtherClient {
                    fingerprint,
                    client: serve.client,
                    line: i + 1,
                    path: path.into(),
                });
            }
            None => {
                return Err(Error::Unrestricted { fingerprint, line: i + 1, path: path.into() });
            }
        }
    }
    let added = match same.split_first() {
        None => {
            lines.push(line.as_bytes());
            ends_with_newline = true;
            Added::New
        }
        Some((&first, later)) => {
            let unchanged = lines[first] == line.as_bytes() && later.is_empty();
            lines[first] = line.as_bytes();
            for &i in later.iter().rev() {
                lines.remove(i);
            }
            if unchanged { Added::Unchanged } else { Added::Replaced }
        }
    };
    Ok((join_lines(&lines, ends_with_newline), added))
}

/// `content` without the lines of `client` (of its key `fingerprint` only, when given), and
/// how many were removed.
fn without_client(content: &[u8], client: &str, fingerprint: Option<&str>) -> (Vec<u8>, usize) {
    let (mut lines, ends_with_newline) = split_lines(content);
    let before = lines.len();
    lines.retain(|raw| {
        let Some(parsed) = parse(raw) else { return true };
        let of_client = parsed.serve().is_some_and(|s| s.client == client);
        !(of_client && fingerprint.is_none_or(|f| parsed.fingerprint() == f))
    });
    let removed = before - lines.len();
    (join_lines(&lines, ends_with_newline), removed)
}

fn grants(content: &[u8]) -> Vec<Granted> {
    let (lines, _) = split_lines(content);
    let mut found = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let Some(parsed) = parse(raw) else { continue };
        let Some(serve) = parsed.serve() else { continue };
        found.push(Granted {
            client: serve.client,
            fingerprint: parsed.fingerprint(),
            kind: parsed.kind.clone(),
            comment: parsed.comment.clone(),
            read_only: serve.read_only,
            root: serve.root,
            line: i + 1,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    /// A distinct, well-formed ed25519 key for each `n`.
    fn key(n: u8, comment: &str) -> PublicKey {
        let mut blob = b"\0\0\0\x0bssh-ed25519\0\0\0\x20".to_vec();
        blob.extend([n; 32]);
        PublicKey::parse(&format!("ssh-ed25519 {} {comment}", STANDARD.encode(blob))).unwrap()
    }

    fn grant(client: &str, key: PublicKey, read_only: bool) -> Grant {
        Grant {
            oe: "/usr/local/bin/oe".into(),
            root: "/srv/oe-backups".into(),
            client: client.into(),
            read_only,
            key,
        }
    }

    const OTHER: &[u8] = b"# keys of the admins\n\nssh-rsa AAAAB3NzaC1yc2E= admin@x  \r\n\
                           from=\"10.0.0.0/8\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 ops\n";

    #[test]
    fn the_line_names_oe_the_root_and_the_client_and_refuses_shell_characters() {
        let g = grant("acme.example.com", key(1, "root@acme"), true);
        let line = g.line().unwrap();
        assert_eq!(
            line,
            format!(
                "command=\"/usr/local/bin/oe serve --root /srv/oe-backups --client \
                 acme.example.com --read-only\",restrict ssh-ed25519 {} root@acme",
                g.key.data
            )
        );
        let parsed = KeyLine::parse(&line).unwrap();
        assert_eq!(parsed.serve().unwrap().client, "acme.example.com");
        assert_eq!(parsed.fingerprint(), g.key.fingerprint());
        assert!(!grant("a", key(1, ""), false).line().unwrap().ends_with(' '));
        for bad in
            ["/srv/oe backups", "/srv/$(reboot)", "/srv/a;b", "srv/rel", "/srv/\"x", "/srv/é"]
        {
            let g = Grant { root: bad.into(), ..grant("a", key(1, ""), false) };
            assert!(matches!(g.line(), Err(Error::UnsafePath { .. })), "{bad}");
        }
        let g = Grant { oe: "/opt/my oe/oe".into(), ..grant("a", key(1, ""), false) };
        assert!(matches!(g.line(), Err(Error::UnsafePath { what: "oe's path", .. })));
    }

    #[test]
    fn adding_keeps_other_lines_byte_for_byte_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh/authorized_keys");
        let file = AuthorizedKeys::new(&path);
        assert_eq!(file.add(&grant("acme", key(1, "a"), false)).unwrap(), Added::New);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777,
            0o700
        );

        // Other lines, the last without a newline.
        let mut content = OTHER.to_vec();
        content.extend_from_slice(&fs::read(&path).unwrap());
        content.extend_from_slice(b"# last, no newline");
        fs::write(&path, &content).unwrap();

        assert_eq!(file.add(&grant("acme", key(1, "a"), false)).unwrap(), Added::Unchanged);
        assert_eq!(fs::read(&path).unwrap(), content, "an unchanged add rewrote the file");

        assert_eq!(file.add(&grant("beta", key(2, "b"), false)).unwrap(), Added::New);
        let after = fs::read(&path).unwrap();
        assert!(after.starts_with(&content), "the existing bytes changed");
        let appended = grant("beta", key(2, "b"), false).line().unwrap();
        assert_eq!(&after[content.len()..], format!("\n{appended}\n").as_bytes());
        assert_eq!(file.add(&grant("beta", key(2, "b"), false)).unwrap(), Added::Unchanged);
        assert_eq!(fs::read(&path).unwrap(), after, "a second add changed the file");

        // Read-only: the line is replaced where it was.
        assert_eq!(file.add(&grant("acme", key(1, "a2"), true)).unwrap(), Added::Replaced);
        let replaced = fs::read(&path).unwrap();
        let (old_lines, _) = split_lines(&after);
        let (new_lines, _) = split_lines(&replaced);
        assert_eq!(old_lines.len(), new_lines.len());
        let acme_at = old_lines
            .iter()
            .position(|l| l.starts_with(b"command=") && l.ends_with(b" a"))
            .unwrap();
        for (i, (old, new)) in old_lines.iter().zip(&new_lines).enumerate() {
            if i == acme_at {
                assert_eq!(*new, grant("acme", key(1, "a2"), true).line().unwrap().as_bytes());
            } else {
                assert_eq!(old, new, "line {i} changed");
            }
        }
        let granted = file.grants().unwrap();
        let summary: Vec<(&str, bool, &str)> =
            granted.iter().map(|g| (g.client.as_str(), g.read_only, g.comment.as_str())).collect();
        assert_eq!(summary, [("acme", true, "a2"), ("beta", false, "b")]);
        assert_eq!(granted[0].fingerprint, key(1, "").fingerprint());
    }

    #[test]
    fn a_key_of_another_client_or_an_unrestricted_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authorized_keys");
        let file = AuthorizedKeys::new(&path);
        file.add(&grant("acme", key(1, "a"), false)).unwrap();
        let before = fs::read(&path).unwrap();
        let err = file.add(&grant("beta", key(1, "a"), false)).unwrap_err();
        assert!(matches!(&err, Error::OtherClient { client, line: 1, .. } if client == "acme"));
        assert!(err.to_string().contains("client acme"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);

        let plain = key(3, "me@laptop");
        let mut content = before.clone();
        content.extend_from_slice(format!("ssh-ed25519 {} me@laptop\n", plain.data).as_bytes());
        fs::write(&path, &content).unwrap();
        let err = file.add(&grant("acme", plain, false)).unwrap_err();
        assert!(matches!(err, Error::Unrestricted { line: 2, .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), content);
    }

    #[test]
    fn removing_takes_a_client_s_lines_or_one_key_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authorized_keys");
        fs::write(&path, OTHER).unwrap();
        let file = AuthorizedKeys::new(&path);
        for (client, n) in [("acme", 1), ("beta", 2), ("acme", 3)] {
            file.add(&grant(client, key(n, ""), false)).unwrap();
        }
        assert_eq!(file.remove("gamma", None).unwrap(), 0);
        assert_eq!(file.remove("acme", Some(&key(2, "").fingerprint())).unwrap(), 0);
        assert_eq!(file.remove("acme", Some(&key(3, "").fingerprint())).unwrap(), 1);
        let clients: Vec<String> = file.grants().unwrap().into_iter().map(|g| g.client).collect();
        assert_eq!(clients, ["acme", "beta"]);
        assert_eq!(file.remove("acme", None).unwrap(), 1);
        assert_eq!(file.remove("beta", None).unwrap(), 1);
        assert_eq!(fs::read(&path).unwrap(), OTHER, "the other lines changed");
    }

    #[test]
    fn concurrent_adds_lose_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authorized_keys");
        fs::write(&path, OTHER).unwrap();
        let threads: Vec<_> = (0..16u8)
            .map(|n| {
                let file = AuthorizedKeys::new(&path);
                std::thread::spawn(move || {
                    let client = format!("client{n}");
                    file.add(&grant(&client, key(n, "k"), false)).unwrap();
                    file.add(&grant(&client, key(n, "k"), true)).unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let file = AuthorizedKeys::new(&path);
        let mut clients: Vec<String> =
            file.grants().unwrap().into_iter().map(|g| g.client).collect();
        clients.sort();
        let mut expected: Vec<String> = (0..16).map(|n| format!("client{n}")).collect();
        expected.sort();
        assert_eq!(clients, expected);
        assert!(file.grants().unwrap().iter().all(|g| g.read_only));
        assert!(fs::read(&path).unwrap().starts_with(OTHER));
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
