//! Repositories on a backup server, over SSH: the client's side ([`client`]: a [`Storage`]
//! that speaks to `oe serve` through the system's `ssh`), the server's side ([`serve`]), and
//! the framed protocol between them ([`protocol`]).
//!
//! [`open`] opens a repository wherever its [`Location`] says it is.

mod cache;
pub mod client;
pub mod protocol;
pub mod serve;

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::config::{Location, SshOptions};
use crate::repo::{Error, Repository, Storage};

/// Opens the repository at `location`: a directory, or a client's repository on a backup
/// server (reached with `ssh`).
pub fn open(location: &Location, ssh: &SshOptions) -> Result<Repository, Error> {
    match location {
        Location::Local(path) => Repository::open(path),
        Location::Ssh(url) => {
            let connected = client::RemoteStorage::connect(url, ssh)
                .map_err(|e| Error::io("opening the repository")(io::Error::other(e)))?;
            let remote: Arc<dyn Storage> = Arc::new(connected);
            let storage: Arc<dyn Storage> =
                match cache::Cached::new(Arc::clone(&remote), &ssh.cache_dir) {
                    Some(cached) => Arc::new(cached),
                    None => remote,
                };
            Repository::open_on(storage, Path::new(&url.to_string()))
        }
    }
}
