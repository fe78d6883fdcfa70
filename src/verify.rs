//! `verify`: is a filestore what its database says, and is an archive whole?
//!
//! For a database: every distinct non-empty `ir_attachment.store_fname` must exist in the
//! filestore with `file_size` bytes and SHA-1 `checksum`; files no row references are
//! reported as orphans (normal in Odoo, informational). For an archive: every entry's CRC,
//! `dump.sql` complete (pg_dump's completion line), the manifest valid, and every
//! `filestore/xx/<sha1>` entry's SHA-1 equal to its name.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::odoo::filestore;
use crate::odoo::layout::{self, Entry, filestore_dir};
use crate::odoo::manifest::Manifest;
use crate::pg::odoo::{OdooDb, StoredFile};
use crate::pg::{self, ConnParams};
use crate::pipeline::sql::Completeness;

/// How many names a report quotes per kind of problem.
const QUOTED: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: not a readable zip archive: {source}", path.display())]
    Zip { path: PathBuf, source: zip::result::ZipError },
    #[error("{subject}: {missing} missing, {corrupt} corrupt ({names})")]
    Problems { subject: String, missing: usize, corrupt: usize, names: String },
}

impl Error {
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        use crate::exit::{ExitCode, io_exit_code};
        match self {
            Error::Pg(e) => e.exit_code(),
            Error::Read { source, .. } => io_exit_code(source),
            Error::Zip { .. } => ExitCode::BadInput,
            Error::Problems { .. } => ExitCode::Failure,
        }
    }
}

/// What was checked and what is wrong.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub subject: String,
    pub checked: u64,
    /// Referenced but absent (database), or an entry that is missing (archive).
    pub missing: Vec<String>,
    /// Wrong size or content.
    pub corrupt: Vec<String>,
    /// Present but referenced by nothing (informational).
    pub orphans: Vec<String>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty()
    }

    /// An error naming the problems, if there are any.
    pub fn check(&self) -> Result<(), Error> {
        if self.is_ok() {
            return Ok(());
        }
        let problems: Vec<String> = self.missing.iter().chain(&self.corrupt).cloned().collect();
        Err(Error::Problems {
            subject: self.subject.clone(),
            missing: self.missing.len(),
            corrupt: self.corrupt.len(),
            names: Report::quoted(&problems),
        })
    }

    /// The problems, quoted for a one-line summary.
    pub fn quoted(names: &[String]) -> String {
        let mut text = names.iter().take(QUOTED).cloned().collect::<Vec<_>>().join(", ");
        if names.len() > QUOTED {
            text.push_str(&format!(", … ({} more)", names.len() - QUOTED));
        }
        text
    }
}

/// Checks the filestore of `database` against its `ir_attachment` rows.
pub async fn verify_database(
    conn: &ConnParams,
    data_dir: &Path,
    database: &str,
) -> Result<Report, Error> {
    let odoo = OdooDb::connect(conn, database).await?;
    let stored = odoo.stored_files().await?;
    let dir = filestore_dir(data_dir, database);
    let subject = format!("{database} (filestore {})", dir.display());
    tokio::task::spawn_blocking(move || check_filestore(&dir, &stored, subject))
        .await
        .map_err(|e| Error::Read { path: PathBuf::new(), source: io::Error::other(e) })?
}

fn check_filestore(dir: &Path, stored: &[StoredFile], subject: String) -> Result<Report, Error> {
    let mut report = Report { subject, ..Report::default() };
    for file in stored {
        report.checked += 1;
        let path = dir.join(&file.store_fname);
        let content = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.missing.push(file.store_fname.clone());
                continue;
            }
            Err(source) => return Err(Error::Read { path, source }),
        };
        let (size, sha1) =
            hash(content).map_err(|source| Error::Read { path: path.clone(), source })?;
        let size_ok = file.file_size.is_none_or(|expected| expected as u64 == size);
        let sum_ok = file.checksum.as_deref().is_none_or(|expected| expected == sha1);
        if !size_ok || !sum_ok {
            report.corrupt.push(file.store_fname.clone());
        }
    }
    let referenced: HashSet<&str> = stored.iter().map(|f| f.store_fname.as_str()).collect();
    let read_error = |source| Error::Read { path: dir.to_path_buf(), source };
    let mut listed = filestore::list(dir, &std::env::temp_dir()).map_err(read_error)?;
    for file in listed.entries().map_err(read_error)? {
        let relative = file.map_err(read_error)?.relative;
        if !relative.starts_with("checklist/") && !referenced.contains(relative.as_str()) {
            report.orphans.push(relative);
        }
    }
    Ok(report)
}

/// Checks an archive: CRCs, the dump's completeness, the manifest, filestore checksums.
pub fn verify_archive(path: &Path) -> Result<Report, Error> {
    let read_error = |source| Error::Read { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(read_error)?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|source| Error::Zip { path: path.to_path_buf(), source })?;
    let mut report = Report { subject: path.display().to_string(), ..Report::default() };
    let (mut has_dump, mut has_manifest) = (false, false);
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|source| Error::Zip { path: path.to_path_buf(), source })?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        report.checked += 1;
        let kind = match layout::classify(&name, entry.unix_mode()) {
            Ok(kind) => kind,
            Err(unsafe_entry) => {
                report.corrupt.push(unsafe_entry.to_string());
                continue;
            }
        };
        // Reading to the end checks the entry's CRC.
        let verdict: io::Result<bool> = match &kind {
            Entry::Dump => {
                has_dump = true;
                let mut checked = Completeness::new(&mut entry);
                io::copy(&mut checked, &mut io::sink()).map(|_| checked.is_complete())
            }
            Entry::Manifest => {
                has_manifest = true;
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map(|_| Manifest::parse(&bytes).is_ok())
            }
            // `checklist/` holds Odoo's empty garbage-collection markers.
            Entry::Filestore(relative) if !relative.starts_with("checklist") => hash(&mut entry)
                .map(|(_, sha1)| {
                    let file_name = relative.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    !is_sha1_name(file_name) || file_name == sha1
                }),
            Entry::Filestore(_) | Entry::Directory | Entry::Other => {
                io::copy(&mut entry, &mut io::sink()).map(|_| true)
            }
        };
        match verdict {
            Ok(true) => {}
            Ok(false) => report.corrupt.push(name),
            Err(e)
                if e.kind() == io::ErrorKind::InvalidData
                    || e.kind() == io::ErrorKind::UnexpectedEof =>
            {
                report.corrupt.push(format!("{name} ({e})"));
            }
            Err(source) => return Err(Error::Read { path: path.to_path_buf(), source }),
        }
    }
    if !has_dump {
        report.missing.push(layout::DUMP_ENTRY.into());
    }
    if !has_manifest {
        report.missing.push(layout::MANIFEST_ENTRY.into());
    }
    Ok(report)
}

/// Size and hex SHA-1 of everything `reader` yields.
fn hash(mut reader: impl Read) -> io::Result<(u64, String)> {
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let digest = hasher.finalize();
    Ok((size, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

fn is_sha1_name(name: &str) -> bool {
    name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit())
}
