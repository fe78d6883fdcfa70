//! Remote repositories. On a backup server, over SSH: the client's side ([`client`]: a
//! [`Storage`] that speaks to `oe serve` through the system's `ssh`), the server's side
//! ([`serve`]), and the framed protocol between them ([`protocol`]). In a bucket of
//! S3-compatible object storage: [`s3`]. Both keep a local cache of the index ([`cache`]).
//!
//! [`open`] opens a repository wherever its [`Location`] says it is; [`init`] creates one.

mod cache;
pub mod client;
pub mod protocol;
pub mod s3;
pub mod serve;

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::config::{Access, Location};
use crate::repo::{Error, Repository, Storage};

/// Opens the repository at `location`: a directory, a client's repository on a backup
/// server (reached with `ssh`), or a bucket's prefix.
pub fn open(location: &Location, access: &Access) -> Result<Repository, Error> {
    match location {
        Location::Local(path) => Repository::open(path),
        _ => {
            let storage = connect(location, access)?;
            let cached = cache::Cached::new(Arc::clone(&storage), &access.ssh.cache_dir);
            let storage: Arc<dyn Storage> = match cached {
                Some(cached) => Arc::new(cached),
                None => storage,
            };
            Repository::open_on(storage, Path::new(&location.to_string()))
        }
    }
}

/// Creates an empty repository at `location`, a directory or a bucket's prefix (a backup
/// server creates its clients' repositories itself).
pub fn init(location: &Location, access: &Access) -> Result<Repository, Error> {
    match location {
        Location::Local(path) => Repository::init(path),
        _ => Repository::init_on(connect(location, access)?, Path::new(&location.to_string())),
    }
}

fn connect(location: &Location, access: &Access) -> Result<Arc<dyn Storage>, Error> {
    let opening = |e| Error::io(format!("opening {location}"))(e);
    Ok(match location {
        Location::Local(path) => Arc::new(crate::repo::LocalStorage::new(path)),
        Location::Ssh(url) => Arc::new(
            client::RemoteStorage::connect(url, &access.ssh)
                .map_err(|e| opening(io::Error::other(e)))?,
        ),
        Location::S3(url) => Arc::new(s3::S3Storage::connect(url, &access.s3).map_err(opening)?),
    })
}
