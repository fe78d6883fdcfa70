//! Remote repositories. On a backup server, over SSH: the client's side ([`client`]: a
//! [`Storage`] that speaks to `oe serve` through the system's `ssh`), the server's side
//! ([`serve`]), and the framed protocol between them ([`protocol`]). In a bucket of
//! S3-compatible object storage: [`s3`]. Both keep a local cache of the index ([`cache`]), and
//! read ahead in packs read in order ([`read_ahead`]).
//!
//! [`open`] opens a repository wherever its [`Location`] says it is; [`init`] creates one.

mod cache;
pub mod client;
pub mod passphrase;
pub mod protocol;
mod read_ahead;
pub mod s3;
pub mod serve;

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::config::{Access, Location};
use crate::repo::{Error, Repository, Storage};

/// Opens the repository at `location`: a directory, a client's repository on a backup
/// server (reached with `ssh`), or a bucket's prefix; an encrypted one with the passphrase
/// [`passphrase::current`] finds.
pub fn open(location: &Location, access: &Access) -> Result<Repository, Error> {
    open_cached(location, access, true)
}

/// [`open`], reading the index files and snapshots of a remote repository from its local
/// cache when `cached` (`check` reads them from the storage itself: a cached copy is faithful
/// to what was stored, not to what is stored now).
pub fn open_cached(
    location: &Location,
    access: &Access,
    cached: bool,
) -> Result<Repository, Error> {
    let name = location.to_string();
    let file = access.passphrase_file.as_deref();
    let unlock = || passphrase::current(file, &name);
    let storage = connect(location, access)?;
    let storage: Arc<dyn Storage> = match location {
        Location::Local(_) => storage,
        _ if !cached => storage,
        _ => match cache::Cached::new(Arc::clone(&storage), &access.ssh.cache_dir) {
            Some(cached) => Arc::new(cached),
            None => storage,
        },
    };
    Repository::open_unlocking(storage, Path::new(&name), &unlock)
}

/// Creates an empty repository at `location`: a directory, a bucket's prefix, or the empty
/// directory a backup server left for it (`oe server add-key --encrypted`); `encrypt`ed with
/// a new passphrase.
pub fn init(location: &Location, access: &Access, encrypt: bool) -> Result<Repository, Error> {
    let name = location.to_string();
    let passphrase = match encrypt {
        true => Some(passphrase::new("OE_PASSPHRASE", access.passphrase_file.as_deref(), &name)?),
        false => None,
    };
    let passphrase = passphrase.as_ref().map(|p| p.as_str());
    match location {
        Location::Local(path) => Repository::init_encrypted(path, passphrase),
        _ => Repository::init_on(connect(location, access)?, Path::new(&name), passphrase),
    }
}

fn connect(location: &Location, access: &Access) -> Result<Arc<dyn Storage>, Error> {
    let opening = |e| Error::io(format!("opening {location}"))(e);
    let remote: Arc<dyn Storage> = match location {
        Location::Local(path) => return Ok(Arc::new(crate::repo::LocalStorage::new(path))),
        Location::Ssh(url) => Arc::new(
            client::RemoteStorage::connect(url, &access.ssh)
                .map_err(|e| opening(io::Error::other(e)))?,
        ),
        Location::S3(url) => Arc::new(s3::S3Storage::connect(url, &access.s3).map_err(opening)?),
    };
    Ok(Arc::new(read_ahead::ReadAhead::new(remote)))
}
