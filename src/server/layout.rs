//! The backup server's root directory and what it holds per client:
//!
//! ```text
//! ROOT/oe-server.json                 {"format": 1}: marks an oe server root
//! ROOT/clients/<IDENT>/repo/          the client's snapshot repository (format 2)
//! ROOT/clients/<IDENT>/client.json    {"quota": bytes or null}
//! ROOT/clients/<IDENT>/serve.log      sessions and refused requests, appended by `oe serve`
//! ```
//!
//! A client's identity (`acme.example.com`) names its directory: it is validated, never
//! sanitised (see [`valid_ident`]). Everything is created mode 0700/0600: only the backup
//! user reads it.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::AtomicFile;
use crate::exit::{ExitCode, ExitStatus};

const MARKER: &str = "oe-server.json";
const FORMAT: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} is not an oe server root (no {MARKER}): create it with `oe server init`", path.display())]
    NotARoot { path: PathBuf },
    #[error("{} exists and is not empty: not making it a server root", path.display())]
    NotEmpty { path: PathBuf },
    #[error(
        "invalid client name {ident:?}: use letters, digits, '.', '-' and '_', starting with a \
         letter or digit, at most 253 characters"
    )]
    InvalidIdent { ident: String },
    #[error("no client {ident} on this server: add it with `oe server add-key {ident} KEY`")]
    UnknownClient { ident: String },
    #[error("{what}")]
    Io { what: String, source: io::Error },
    #[error("{} does not decode: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
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
            Error::NotARoot { .. }
            | Error::NotEmpty { .. }
            | Error::InvalidIdent { .. }
            | Error::UnknownClient { .. } => ExitCode::Usage,
            Error::Io { source, .. } => source.exit_code(),
            Error::Corrupt { .. } => ExitCode::BadInput,
        }
    }
}

pub use crate::config::location::valid_ident;

/// A server root.
#[derive(Clone, Debug)]
pub struct Root {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Marker {
    format: u64,
}

/// A client's settings on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSettings {
    /// Bytes the client's repository may hold; `None`: no limit.
    #[serde(default)]
    pub quota: Option<u64>,
}

impl Root {
    /// Makes `path` (missing or empty, or a root already) a server root.
    pub fn init(path: &Path) -> Result<Root, Error> {
        if path.join(MARKER).is_file() {
            return Root::open(path);
        }
        match fs::read_dir(path).map(|mut entries| entries.next().is_some()) {
            Ok(true) => return Err(Error::NotEmpty { path: path.into() }),
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("reading {}", path.display()))(e)),
        }
        let root = Root { path: path.into() };
        private_dir(&root.clients_dir())?;
        // An empty directory made beforehand (`mkdir`, 0755) becomes private as a new one.
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(Error::io(format!("making {} private (mode 0700)", path.display())))?;
        write_json(&path.join(MARKER), &Marker { format: FORMAT })?;
        Ok(root)
    }

    pub fn open(path: &Path) -> Result<Root, Error> {
        let marker = path.join(MARKER);
        let bytes = match fs::read(&marker) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotARoot { path: path.into() });
            }
            Err(e) => return Err(Error::io(format!("reading {}", marker.display()))(e)),
        };
        let decoded: Marker = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Corrupt { path: marker.clone(), message: e.to_string() })?;
        if decoded.format != FORMAT {
            return Err(Error::Corrupt {
                path: marker,
                message: format!("format {} is not {FORMAT}", decoded.format),
            });
        }
        Ok(Root { path: path.into() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn clients_dir(&self) -> PathBuf {
        self.path.join("clients")
    }

    /// The client `ident`'s directory, which may not exist yet.
    pub fn client(&self, ident: &str) -> Result<Client, Error> {
        if !valid_ident(ident) {
            return Err(Error::InvalidIdent { ident: ident.into() });
        }
        Ok(Client { ident: ident.into(), dir: self.clients_dir().join(ident) })
    }

    /// The client `ident`, which must exist: its repository, or the empty directory where
    /// the client is to create it (`add-key --encrypted`).
    pub fn existing_client(&self, ident: &str) -> Result<Client, Error> {
        let client = self.client(ident)?;
        if !client.repo().is_dir() {
            return Err(Error::UnknownClient { ident: ident.into() });
        }
        Ok(client)
    }

    /// Every client with a repository (or a directory awaiting it), by name.
    pub fn clients(&self) -> Result<Vec<Client>, Error> {
        let dir = self.clients_dir();
        let mut clients = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::io(format!("reading {}", dir.display())))? {
            let entry = entry.map_err(Error::io(format!("reading {}", dir.display())))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if let Ok(client) = self.existing_client(&name) {
                clients.push(client);
            }
        }
        clients.sort_by(|a, b| a.ident.cmp(&b.ident));
        Ok(clients)
    }
}

/// A client's directory on the server.
#[derive(Clone, Debug)]
pub struct Client {
    ident: String,
    dir: PathBuf,
}

impl Client {
    pub fn ident(&self) -> &str {
        &self.ident
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The client's snapshot repository.
    pub fn repo(&self) -> PathBuf {
        self.dir.join("repo")
    }

    /// Where `oe serve` appends the client's sessions and refused requests.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("serve.log")
    }

    fn settings_path(&self) -> PathBuf {
        self.dir.join("client.json")
    }

    /// The client's settings (defaults when none were written).
    pub fn settings(&self) -> Result<ClientSettings, Error> {
        let path = self.settings_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::Corrupt { path, message: e.to_string() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ClientSettings::default()),
            Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
        }
    }

    pub fn write_settings(&self, settings: &ClientSettings) -> Result<(), Error> {
        private_dir(&self.dir)?;
        write_json(&self.settings_path(), settings)
    }
}

/// Creates `dir` and its missing parents, mode 0700.
fn private_dir(dir: &Path) -> Result<(), Error> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io(format!("creating {}", dir.display())))
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(value).expect("settings encode");
    let written = (|| {
        use std::io::Write;
        let mut file = AtomicFile::create(path)?;
        file.write_all(&bytes)?;
        file.commit()
    })();
    written.map_err(Error::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_are_validated_not_sanitised() {
        for good in ["acme.example.com", "a", "host-1_b", "9lives"] {
            assert!(valid_ident(good), "{good}");
        }
        let long = "a".repeat(254);
        for bad in ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "-x", "a b", "é", &long] {
            assert!(!valid_ident(bad), "{bad}");
        }
    }

    #[test]
    fn a_root_is_made_once_and_keeps_its_clients_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backups");
        let root = Root::init(&path).unwrap();
        Root::init(&path).unwrap();
        assert!(matches!(Root::open(dir.path()), Err(Error::NotARoot { .. })));
        assert!(matches!(Root::init(dir.path()), Err(Error::NotEmpty { .. })));
        let client = root.client("acme.example.com").unwrap();
        assert_eq!(client.settings().unwrap(), ClientSettings::default());
        client.write_settings(&ClientSettings { quota: Some(10) }).unwrap();
        assert_eq!(client.settings().unwrap().quota, Some(10));
        assert!(matches!(root.client("../etc"), Err(Error::InvalidIdent { .. })));
        assert!(matches!(
            root.existing_client("acme.example.com"),
            Err(Error::UnknownClient { .. })
        ));
        assert!(root.clients().unwrap().is_empty());
    }

    #[test]
    fn a_root_made_in_an_empty_directory_becomes_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backups");
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        Root::init(&path).unwrap();
        for private in [&path, &path.join("clients")] {
            let mode = fs::metadata(private).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", private.display());
        }
    }
}
