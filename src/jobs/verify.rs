//! `verify`: is a filestore what its database says, is an archive whole, and does it restore?
//!
//! For a database: every distinct non-empty `ir_attachment.store_fname` must exist in the
//! filestore with `file_size` bytes and SHA-1 `checksum`; files no row references are
//! reported as orphans (normal in Odoo, informational). For an archive: every entry's CRC,
//! `dump.sql` complete (pg_dump's completion line), the manifest valid, and every
//! `filestore/xx/<sha1>` entry's SHA-1 equal to its name.
//!
//! A restore test ([`restore_archive`], for `oe verify FILE.zip --restore` and the daemon's
//! `restore_test`) loads an archive into a scratch database and filestore (a neutralized copy,
//! so no Odoo worker runs its crons or mail), compares the rows of every table with those the
//! manifest recorded (or, for archives without counts, checks that Odoo's core tables have
//! rows), verifies the filestore against the attachments, and always drops both.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha1::{Digest, Sha1};

use indicatif::ProgressBar;

use crate::exit::{ExitCode, ExitStatus};
use crate::jobs::load_db::{self, Finishing, LoadRequest, RowsChecked, load_db};
use crate::odoo::filestore;
use crate::odoo::layout::{self, Entry, filestore_dir};
use crate::odoo::manifest::Manifest;
use crate::pg::odoo::{OdooDb, StoredFile};
use crate::pg::{self, ConnParams, Server};
use crate::pipeline::sql::Completeness;
use crate::stop;

/// How many names a report quotes per kind of problem.
const QUOTED: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("reading {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: not a readable zip archive", path.display())]
    Zip { path: PathBuf, source: zip::result::ZipError },
    #[error("{subject}: {missing} missing, {corrupt} corrupt ({names})")]
    Problems { subject: String, missing: usize, corrupt: usize, names: String },
    #[error(transparent)]
    Load(#[from] load_db::Error),
    #[error("the restored database is not whole: {0}")]
    CoreRows(String),
    #[error("removing the scratch filestore {}", path.display())]
    Cleanup { path: PathBuf, source: io::Error },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) => e.exit_code(),
            Error::Read { source, .. } => source.exit_code(),
            Error::Zip { .. } => ExitCode::BadInput,
            Error::Problems { .. } | Error::CoreRows(_) => ExitCode::Failure,
            Error::Load(e) => e.exit_code(),
            Error::Cleanup { source, .. } => source.exit_code(),
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

/// Odoo's tables a restore test without recorded counts checks: every real database has
/// rows in each.
const CORE_TABLES: &[&str] =
    &["res_company", "res_users", "res_partner", "ir_module_module", "ir_model", "ir_ui_view"];

/// An archive to restore into a scratch database and check.
pub struct RestoreRequest {
    pub conn: ConnParams,
    /// Odoo's data directory: the scratch filestore is made there, beside the real ones.
    pub data_dir: PathBuf,
    pub addons_path: Option<Vec<PathBuf>>,
    pub archive: PathBuf,
    /// The scratch database (a name no one uses: `pg::server::derived_name`).
    pub scratch: String,
    /// The database the archive is a backup of, when it is on this server: files its
    /// filestore lacks too are gaps of the source, and without recorded counts the core
    /// tables are compared with it.
    pub source: Option<String>,
    pub threads: usize,
}

/// What a restore test found (it passed).
#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub archive: PathBuf,
    pub read_bytes: u64,
    /// Every table had the rows the manifest recorded; `None`: the archive recorded none.
    pub rows_checked: Option<RowsChecked>,
    /// Without recorded counts: the rows of Odoo's core tables (and the source's).
    pub core_rows: Option<String>,
    /// Attachment files verified in the restored filestore.
    pub files_checked: u64,
    /// Files missing from the restored filestore and from the source's as well.
    pub source_gaps: Vec<String>,
}

impl RestoreReport {
    /// One line on the rows, for people.
    pub fn rows_line(&self) -> String {
        match (&self.rows_checked, &self.core_rows) {
            (Some(c), _) => format!("{} rows in {} tables, as recorded", c.rows, c.tables),
            (None, core) => format!(
                "no row counts recorded in the archive (not written by oe save): only Odoo's \
                 core tables checked: {}",
                core.as_deref().unwrap_or("")
            ),
        }
    }

    /// One line on the filestore, for people.
    pub fn files_line(&self) -> String {
        format!(
            "{} attachment files verified{}",
            self.files_checked,
            match self.source_gaps.len() {
                0 => String::new(),
                n => format!(" ({n} missing from the source's filestore as well)"),
            }
        )
    }
}

/// Restores `request.archive` into a scratch database and filestore, checks it, and drops
/// both whatever happened (a failure, a signal). The scratch name is locked meanwhile.
pub async fn restore_archive(request: RestoreRequest) -> Result<RestoreReport, Error> {
    // Held until the scratch copy is gone: `oe clean` leaves it alone meanwhile. The name is
    // this process's own (`derived_name`), so nobody else waits for it.
    let wait = std::time::Duration::from_secs(5);
    let _lock = pg::lock_database(&request.conn, &request.scratch, wait, "oe restore test").await?;
    let store = filestore_dir(&request.data_dir, &request.scratch);
    let tested = restore_and_check(&request).await;
    // Whatever happened, nothing of the scratch copy stays.
    let dropped = match Server::connect(&request.conn).await {
        Ok(server) => server.drop(&request.scratch).await,
        Err(e) => Err(e),
    };
    let removed = match std::fs::remove_dir_all(&store) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    if let Some(signal) = stop::signal() {
        return Err(load_db::Error::Interrupted(signal).into());
    }
    let tested = tested?;
    dropped?;
    removed.map_err(|source| Error::Cleanup { path: store, source })?;
    Ok(tested)
}

async fn restore_and_check(request: &RestoreRequest) -> Result<RestoreReport, Error> {
    let RestoreRequest { conn, data_dir, addons_path, archive, scratch, source, threads } = request;
    let loaded = load_db(LoadRequest {
        conn: conn.clone(),
        database: scratch.clone(),
        input: archive.clone().into(),
        filestore: Some(filestore_dir(data_dir, scratch)),
        force: false,
        check_rows: true,
        finishing: Finishing {
            odoo: true,
            copy: true,
            neutralize: true,
            addons_path: addons_path.clone(),
            redirect: None,
        },
        keep_replaced: false,
        jobs: 1,
        threads: *threads,
        progress: ProgressBar::hidden(),
    })
    .await?;
    let mut report = verify_database(conn, data_dir, scratch).await?;
    // Files the source's filestore lacks too were already missing when the backup was made
    // (`save` warned then): a gap of the source, not a defect of the backup.
    let mut source_gaps = Vec::new();
    if let Some(source) = source {
        let source_store = filestore_dir(data_dir, source);
        let (gaps, lost): (Vec<String>, Vec<String>) =
            report.missing.drain(..).partition(|name| !source_store.join(name).exists());
        report.missing = lost;
        source_gaps = gaps;
    }
    report.check()?;
    let core_rows = match loaded.rows_checked {
        Some(_) => None,
        None => Some(core_rows(conn, scratch, source.as_deref()).await?),
    };
    Ok(RestoreReport {
        archive: archive.clone(),
        read_bytes: loaded.read_bytes,
        rows_checked: loaded.rows_checked,
        core_rows,
        files_checked: report.checked,
        source_gaps,
    })
}

/// The check of archives that recorded no counts: the core tables of the restored database
/// have rows (and, with the source at hand, are not empty where it has rows).
async fn core_rows(
    conn: &ConnParams,
    scratch: &str,
    source: Option<&str>,
) -> Result<String, Error> {
    let restored = OdooDb::connect(conn, scratch).await?.row_counts(CORE_TABLES).await?;
    let server = Server::connect(conn).await?;
    let original = match source {
        Some(source) if server.exists(source).await? => {
            Some(OdooDb::connect(conn, source).await?.row_counts(CORE_TABLES).await?)
        }
        _ => None,
    };
    compare_core_rows(&restored, original.as_deref()).map_err(Error::CoreRows)
}

type RowCounts = [(String, Option<i64>)];

/// The row counts of the core tables of a restored database, against those of its source
/// when it exists (same tables, same order): a line of counts, or the problems. With the
/// source at hand, a table it lacks too is no problem and only emptiness where the source has
/// rows counts (the source moved on since the backup); without it, every table must be there
/// and have rows. Pure.
fn compare_core_rows(restored: &RowCounts, source: Option<&RowCounts>) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut counts = Vec::new();
    for (i, (table, rows)) in restored.iter().enumerate() {
        match (rows, source.map(|s| s[i].1)) {
            (_, Some(None)) => {}
            (None, _) => problems.push(format!("table {table} is missing")),
            (Some(0), Some(Some(n))) if n > 0 => {
                problems.push(format!("table {table} is empty (the source has {n} rows)"))
            }
            (Some(0), None) => problems.push(format!("table {table} is empty")),
            (Some(n), Some(Some(s))) => counts.push(format!("{table} {n} (source {s})")),
            (Some(n), None) => counts.push(format!("{table} {n}")),
        }
    }
    if problems.is_empty() { Ok(counts.join(", ")) } else { Err(problems.join("; ")) }
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

#[cfg(test)]
mod tests {
    use super::compare_core_rows;

    fn counts(rows: &[(&str, Option<i64>)]) -> Vec<(String, Option<i64>)> {
        rows.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn restored_rows_are_judged_against_the_source() {
        let source =
            counts(&[("res_partner", Some(40)), ("ir_model", None), ("res_users", Some(3))]);
        let good = counts(&[("res_partner", Some(38)), ("ir_model", None), ("res_users", Some(3))]);
        assert_eq!(
            compare_core_rows(&good, Some(&source)).unwrap(),
            "res_partner 38 (source 40), res_users 3 (source 3)"
        );
        let emptied = counts(&[("res_partner", Some(0)), ("ir_model", None), ("res_users", None)]);
        assert_eq!(
            compare_core_rows(&emptied, Some(&source)).unwrap_err(),
            "table res_partner is empty (the source has 40 rows); table res_users is missing"
        );
        // Without a source, every core table must be there with rows.
        assert_eq!(compare_core_rows(&good, None).unwrap_err(), "table ir_model is missing");
        let whole = counts(&[("res_partner", Some(1))]);
        assert_eq!(compare_core_rows(&whole, None).unwrap(), "res_partner 1");
        assert!(compare_core_rows(&counts(&[("res_partner", Some(0))]), None).is_err());
    }
}
