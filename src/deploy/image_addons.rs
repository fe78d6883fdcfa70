//! The addons inside an Odoo Docker image: the directories its `odoo.conf` lists
//! ([`conf_addons_dirs`]), where Odoo's own `odoo/addons` package is ([`odoo_addons_dir`]),
//! and click-odoo-update's checksum of every addon of some of its directories
//! ([`image_checksums`]), which `oe update` compares with those a database stores.
//!
//! Files are read from the image without running it: the engine archives a directory of a
//! container created (never started) from the image, the tar stream is unpacked as it comes
//! into a private temporary directory under the cache directory, hashed there
//! ([`addon_hash::dir_checksums`]) and deleted; memory stays bounded whatever the size.
//!
//! Symbolic links: the unpacked tree is on the host, so a link whose target leaves it
//! would be hashed as a file of the host. Such a link (an absolute target, or `..` beyond the
//! directory read, checked name by name and once more as the kernel resolves it) is removed
//! when an exclude pattern covers it (click-odoo-update would not read it: a Debian-style
//! `static/lib/x -> /usr/share/javascript/x` under the default `static/*`), and otherwise
//! refused ([`Error::EscapingLink`]) rather than resolved inside the image: Odoo's trees carry
//! no such link, and the refusal names the link to exclude or replace. Links that stay inside
//! the directory are kept and hashed as click-odoo-update hashes them in the image. The
//! directory itself being a link is refused the same way: name its target instead.
//!
//! Cache: the answers depend only on the image's content, so they are kept in the cache
//! directory (mode 0700; files 0600, written to a temporary name, fsynced and renamed) keyed
//! by the image's digest (a `repo@sha256:…` reference), else its image ID, and for
//! checksums also by the directory, the exclude patterns' text and the languages:
//! `odoo-addons-dir-<sha256>.json` and `image-checksums-<sha256>.json`, the SHA-256 of the
//! key, which the file repeats and which is checked on reading. A warm call with a digest
//! reference does not touch Docker. Nothing removes old entries; they are small (one per
//! image and directory).
//!
//! It must not talk to Docker but through [`Engine`], nor run the image's Odoo.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::engine::{self, Engine};
use super::lock;
use crate::atomic::AtomicFile;
use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::addon_hash::{self, ExcludePatterns};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error("image {image} has no {path}")]
    NoPath { image: String, path: String },
    #[error(
        "image {image}: {dir} holds the link {link} -> {target}, which leaves {dir}; oe does \
         not read files outside it: exclude the link with a pattern relative to its addon \
         ({}) or make it point inside {dir}",
        addon_hash::EXCLUDE_PATTERNS_KEY
    )]
    EscapingLink { image: String, dir: String, link: String, target: String },
    #[error("image {image}: cannot unpack {dir} into {}", into.display())]
    Unpack { image: String, dir: String, into: PathBuf, source: io::Error },
    #[error("image {image}: the addons of {dir}")]
    Checksum { image: String, dir: String, source: addon_hash::Error },
    #[error("image {image}: cannot find Odoo's odoo/addons package ({message})")]
    NoOdoo { image: String, message: String },
    #[error("{what} the cache {}", path.display())]
    Cache { what: &'static str, path: PathBuf, source: io::Error },
    #[error("{path}: a directory of an image must be an absolute path")]
    NotAbsolute { path: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Engine(e) => e.exit_code(),
            Error::NoPath { .. } | Error::EscapingLink { .. } | Error::NoOdoo { .. } => {
                ExitCode::BadInput
            }
            Error::NotAbsolute { .. } => ExitCode::Usage,
            Error::Unpack { source, .. } | Error::Cache { source, .. } => source.exit_code(),
            Error::Checksum { source, .. } => source.exit_code(),
        }
    }
}

/// The image's own addons directories: those its default `odoo.conf` lists (the official
/// image lists only `/mnt/extra-addons`, its modules being in Odoo's built-in path; an image
/// running a source tree lists the tree's `addons`), but the installation's sources mount.
pub async fn conf_addons_dirs(engine: &Engine, image: &str) -> Result<Vec<String>, Error> {
    let text = engine.run_once(image, &["cat", "/etc/odoo/odoo.conf"]).await?;
    let line = text.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        (key.trim() == "addons_path").then(|| value.trim().to_owned())
    });
    Ok(line
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.starts_with(super::layout::MOUNT_SOURCES))
        .map(str::to_owned)
        .collect())
}

/// Finds the `odoo` package without importing it (`find_spec` of a top-level package runs
/// none of its code): installed (the official image), else the source tree a launcher on
/// `PATH` runs (`exec python3 /opt/odoo/odoo-bin`). Prints the real path of its `addons`.
const FIND_ODOO: &str = r#"
import importlib.util, os, re, shutil, sys
spec = importlib.util.find_spec("odoo")
if spec is None:
    trees = []
    for command in ("odoo", "odoo-bin"):
        exe = shutil.which(command)
        if not exe:
            continue
        exe = os.path.realpath(exe)
        trees.append(os.path.dirname(exe))
        try:
            with open(exe, errors="replace") as f:
                text = f.read(65536)
        except OSError:
            continue
        trees += [m for m in re.findall(r"(/[^\s'\"]*)/odoo-bin\b", text)]
    sys.path[:0] = trees
    spec = importlib.util.find_spec("odoo")
if spec is None:
    sys.exit("no odoo package importable, nor an odoo-bin on PATH")
if spec.origin:
    package = os.path.dirname(spec.origin)
else:
    package = list(spec.submodule_search_locations)[0]
addons = os.path.realpath(os.path.join(package, "addons"))
if not os.path.isdir(os.path.join(addons, "base")):
    sys.exit("no base addon in " + addons)
print("ODOO_ADDONS=" + addons)
"#;

#[derive(Serialize, Deserialize)]
struct AddonsDirEntry {
    image: String,
    dir: String,
}

/// The directory of Odoo's own `odoo/addons` package inside `image` (where `base` lives),
/// found by Python in a throwaway container of the image, cached per image under
/// `cache_dir`.
pub async fn odoo_addons_dir(
    engine: &Engine,
    image: &str,
    cache_dir: &Path,
) -> Result<String, Error> {
    let key = image_key(engine, image).await?;
    let path = cache_dir.join(format!("odoo-addons-dir-{}.json", sha256_hex(key.as_bytes())));
    if let Some(entry) = read_cache::<AddonsDirEntry>(&path)?.filter(|e| e.image == key) {
        return Ok(entry.dir);
    }
    let output =
        engine.run_once(image, &["python3", "-c", FIND_ODOO]).await.map_err(|e| match e {
            engine::Error::Container { message, action: "probe", .. } => {
                Error::NoOdoo { image: image.to_owned(), message }
            }
            other => Error::Engine(other),
        })?;
    let dir = output
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("ODOO_ADDONS="))
        .filter(|d| d.starts_with('/'))
        .ok_or_else(|| Error::NoOdoo { image: image.to_owned(), message: output.clone() })?
        .to_owned();
    write_cache(cache_dir, &path, &AddonsDirEntry { image: key, dir: dir.clone() })?;
    Ok(dir)
}

/// What a cache entry of checksums is the answer for.
#[derive(Serialize, Deserialize, PartialEq, Eq, Debug, Clone)]
struct ChecksumsKey {
    /// The layout of entries and the meaning of checksums; a change starts a new cache.
    version: u32,
    image: String,
    dir: String,
    exclude: String,
    /// Sorted, without duplicates.
    langs: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct ChecksumsEntry {
    key: ChecksumsKey,
    checksums: BTreeMap<String, String>,
}

/// For each of `dirs` (absolute paths inside `image`), the checksum of each of its addons as
/// [`addon_hash::dir_checksums`] computes it, in the order of `dirs`; a directory the image
/// lacks gives an empty map. Cached under `cache_dir`; only the directories not in the cache
/// are read, from one container.
pub async fn image_checksums(
    engine: &Engine,
    image: &str,
    dirs: &[String],
    exclude: &ExcludePatterns,
    langs: &[String],
    cache_dir: &Path,
) -> Result<Vec<(String, BTreeMap<String, String>)>, Error> {
    if let Some(dir) = dirs.iter().find(|d| !d.starts_with('/')) {
        return Err(Error::NotAbsolute { path: dir.clone() });
    }
    let image_key = image_key(engine, image).await?;
    let mut sorted_langs = langs.to_vec();
    sorted_langs.sort();
    sorted_langs.dedup();
    let mut found: Vec<Option<BTreeMap<String, String>>> = Vec::with_capacity(dirs.len());
    let mut entries = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let key = ChecksumsKey {
            version: 1,
            image: image_key.clone(),
            dir: dir.clone(),
            exclude: exclude.text().to_owned(),
            langs: sorted_langs.clone(),
        };
        let text = serde_json::to_string(&key).expect("a key serializes");
        let path = cache_dir.join(format!("image-checksums-{}.json", sha256_hex(text.as_bytes())));
        let cached = read_cache::<ChecksumsEntry>(&path)?.filter(|e| e.key == key);
        found.push(cached.map(|e| e.checksums));
        entries.push((path, key));
    }
    let missing: Vec<String> =
        dirs.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(d, _)| d.clone()).collect();
    if !missing.is_empty() {
        create_cache_dir(cache_dir)?;
        let (image_name, exclude, langs) = (image.to_owned(), exclude.clone(), langs.to_vec());
        let scratch = cache_dir.to_path_buf();
        let read = move |dir: &str, archive: Option<&mut dyn Read>| match archive {
            None => Err(Error::NoPath { image: image_name.clone(), path: dir.to_owned() }),
            Some(archive) => {
                archive_checksums(archive, &image_name, dir, &scratch, &exclude, &langs)
            }
        };
        let mut computed = engine.read_paths(image, &missing, read).await?.into_iter();
        for (index, slot) in found.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let checksums = match computed.next().expect("one answer per missing directory") {
                Ok(checksums) => checksums,
                Err(Error::NoPath { .. }) => BTreeMap::new(),
                Err(e) => return Err(e),
            };
            let (path, key) = &entries[index];
            let entry = ChecksumsEntry { key: key.clone(), checksums };
            write_cache(cache_dir, path, &entry)?;
            *slot = Some(entry.checksums);
        }
    }
    Ok(dirs.iter().cloned().zip(found.into_iter().map(Option::unwrap_or_default)).collect())
}

/// What identifies the image's content: the digest of a `repo@sha256:…` reference (no
/// Docker asked), else the image ID the engine gives.
async fn image_key(engine: &Engine, image: &str) -> Result<String, Error> {
    if lock::is_digest_reference(image) {
        let (_, digest) = image.split_once('@').expect("a digest reference has an @");
        return Ok(digest.to_owned());
    }
    Ok(engine.image_id(image).await?)
}

/// Unpacks the archive of the image's `dir` into a temporary directory under `scratch`,
/// hashes its addons, and removes it.
fn archive_checksums(
    archive: &mut dyn Read,
    image: &str,
    dir: &str,
    scratch: &Path,
    exclude: &ExcludePatterns,
    langs: &[String],
) -> Result<BTreeMap<String, String>, Error> {
    let temp =
        tempfile::Builder::new().prefix("image-addons-").tempdir_in(scratch).map_err(|source| {
            Error::Cache { what: "cannot create a directory in", path: scratch.into(), source }
        })?;
    let unpacked = unpack(archive, image, dir, temp.path())?;
    let root = settle(unpacked, image, dir, exclude)?;
    let checksums = addon_hash::dir_checksums(&root, exclude, langs).map_err(|source| {
        Error::Checksum { image: image.to_owned(), dir: dir.to_owned(), source }
    })?;
    let removed = fs::remove_dir_all(temp.path());
    removed.map_err(|source| Error::Cache {
        what: "cannot remove a directory in",
        path: scratch.into(),
        source,
    })?;
    Ok(checksums)
}

/// An image's directory unpacked on the host.
#[derive(Debug)]
pub(crate) struct Unpacked {
    /// Where the directory is (`into/<its last name>`).
    pub(crate) root: PathBuf,
    /// The links that leave it: path relative to `root`, target.
    pub(crate) escaping: Vec<(PathBuf, PathBuf)>,
}

/// Unpacks the engine's archive of the image's `dir` (its last name first) into `into`, an
/// empty directory, and finds the links that leave the unpacked directory. Entries are
/// refused by the `tar` crate when they would be written through a link out of `into`, or
/// over an entry already there; it skips those whose path has `..` and unpacks an absolute
/// path under `into`; hard links must name an entry inside `into`. The directory itself
/// being a link is refused.
pub(crate) fn unpack(
    archive: &mut dyn Read,
    image: &str,
    dir: &str,
    into: &Path,
) -> Result<Unpacked, Error> {
    let unpack_error = |source| Error::Unpack {
        image: image.to_owned(),
        dir: dir.to_owned(),
        into: into.to_path_buf(),
        source,
    };
    let mut tar = tar::Archive::new(archive);
    tar.set_preserve_permissions(false);
    tar.set_preserve_mtime(false);
    tar.set_overwrite(false);
    tar.unpack(into).map_err(unpack_error)?;
    let name = Path::new(dir).file_name().unwrap_or(std::ffi::OsStr::new(""));
    let root = into.join(name);
    let mut escaping = Vec::new();
    match fs::symlink_metadata(&root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Unpacked { root, escaping }),
        Err(e) => return Err(unpack_error(e)),
        Ok(m) if m.file_type().is_symlink() => {
            let target = fs::read_link(&root).map_err(unpack_error)?;
            return Err(Error::EscapingLink {
                image: image.to_owned(),
                dir: dir.to_owned(),
                link: dir.to_owned(),
                target: target.display().to_string(),
            });
        }
        Ok(_) => {}
    }
    let canonical_root = fs::canonicalize(&root).map_err(unpack_error)?;
    let mut pending = vec![root.clone()];
    while let Some(directory) = pending.pop() {
        make_owner_usable(&directory, 0o700).map_err(unpack_error)?;
        for entry in fs::read_dir(&directory).map_err(unpack_error)? {
            let entry = entry.map_err(unpack_error)?;
            let file_type = entry.file_type().map_err(unpack_error)?;
            let path = entry.path();
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_symlink() {
                let target = fs::read_link(&path).map_err(unpack_error)?;
                let relative = path.strip_prefix(&root).expect("walked from the root");
                let relative_dir = relative.parent().unwrap_or(Path::new(""));
                let leaves = !stays_inside(relative_dir, &target)
                    || fs::canonicalize(&path)
                        .is_ok_and(|resolved| !resolved.starts_with(&canonical_root));
                if leaves {
                    escaping.push((relative.to_path_buf(), target));
                }
            } else if file_type.is_file() {
                make_owner_usable(&path, 0o600).map_err(unpack_error)?;
            }
        }
    }
    escaping.sort();
    Ok(Unpacked { root, escaping })
}

/// Removes the links that leave the unpacked directory where click-odoo-update would not
/// read them anyway (excluded by a pattern, relative to their addon); any other is refused
/// ([`Error::EscapingLink`]): its content is in the image, outside what was read, and
/// whether it is a file or a directory there is unknown. The directory's path.
pub(crate) fn settle(
    unpacked: Unpacked,
    image: &str,
    dir: &str,
    exclude: &ExcludePatterns,
) -> Result<PathBuf, Error> {
    for (link, target) in &unpacked.escaping {
        // Directly under the directory, it may be an addon; deeper, its addon's pattern
        // applies to the rest of its path.
        let mut names = link.iter();
        names.next();
        let within_addon = names.as_path().to_str().filter(|p| !p.is_empty());
        if within_addon.is_some_and(|p| exclude.matches(p)) {
            let path = unpacked.root.join(link);
            fs::remove_file(&path).map_err(|source| Error::Unpack {
                image: image.to_owned(),
                dir: dir.to_owned(),
                into: path.clone(),
                source,
            })?;
            continue;
        }
        return Err(Error::EscapingLink {
            image: image.to_owned(),
            dir: dir.to_owned(),
            link: Path::new(dir).join(link).display().to_string(),
            target: target.display().to_string(),
        });
    }
    Ok(unpacked.root)
}

/// Whether the link `target`, in the directory `relative_dir` of the unpacked tree, stays in
/// the tree at every step, read name by name: not absolute, no `..` above the root.
fn stays_inside(relative_dir: &Path, target: &Path) -> bool {
    let mut depth = relative_dir.components().count();
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Gives the owner the `bits` (read, write, and for a directory enter): an image may hold
/// files only root reads, or read-only directories that could not be removed afterwards.
fn make_owner_usable(path: &Path, bits: u32) -> io::Result<()> {
    let mode = fs::symlink_metadata(path)?.permissions().mode();
    if mode & bits != bits {
        fs::set_permissions(path, fs::Permissions::from_mode(mode | bits))?;
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn create_cache_dir(dir: &Path) -> Result<(), Error> {
    let created = fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
    created.map_err(|source| Error::Cache { what: "cannot create", path: dir.into(), source })
}

/// The entry at `path`; `None` when there is none, or one that does not read (a partial
/// write of another version, say): it is computed again.
fn read_cache<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Cache { what: "cannot read", path: path.into(), source }),
    }
}

fn write_cache<T: Serialize>(dir: &Path, path: &Path, entry: &T) -> Result<(), Error> {
    create_cache_dir(dir)?;
    let text = serde_json::to_vec(entry).expect("an entry serializes");
    let write = || -> io::Result<()> {
        let mut out = AtomicFile::create(path)?;
        out.write_all(&text)?;
        out.commit()
    };
    write().map_err(|source| Error::Cache { what: "cannot write", path: path.into(), source })
}

#[cfg(test)]
mod tests;
