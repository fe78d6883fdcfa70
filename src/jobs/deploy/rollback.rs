//! The rollback points of `oe update`, and the journal that lets a killed update be undone.
//!
//! An update never writes to the production database: it copies the database (`CREATE
//! DATABASE … TEMPLATE`, PostgreSQL's own file-level copy) and hard-links its filestore
//! under the name [`Names::copy`], updates the copy, and only then swaps the names: the
//! database and its filestore become [`Names::kept`] (the rollback point) and the copy takes
//! their place. Renames, so both the swap and a rollback take the same time at any size.
//!
//! The journal, `update/journal.json` in the installation, says what is under way
//! ([`Attempt`], written before each step) and which rollback points exist ([`Point`]);
//! written atomically. [`undo`] brings back the state before an attempt from whatever step
//! it stopped at, judging by what exists: when the kept database exists, the swap began, so
//! the database under the production name (if any) is the updated copy. It can run again
//! after being killed itself.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use crate::atomic::AtomicFile;
use crate::odoo::filestore::Aside;
use crate::odoo::layout::filestore_dir;
use crate::pg::{ConnParams, Server};

/// The journal's place in the installation.
pub const JOURNAL: &str = "update/journal.json";

/// The names one update works with: the production database, the copy it updates, and the
/// name the previous database keeps as the rollback point. PostgreSQL's 63-byte limit is
/// kept by shortening the database's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub database: String,
    pub copy: String,
    pub kept: String,
}

impl Names {
    /// The names for an update started at `stamp` (`20261202T223000`).
    pub fn new(database: &str, stamp: &str) -> Names {
        let name = |what: &str| {
            let suffix = format!("-{what}-{stamp}");
            let mut keep = 63usize.saturating_sub(suffix.len()).min(database.len());
            while !database.is_char_boundary(keep) {
                keep -= 1;
            }
            format!("{}{suffix}", &database[..keep])
        };
        Names { database: database.to_owned(), copy: name("update"), kept: name("before") }
    }
}

/// `20261202T223000`: when an update started, in UTC, as its names carry it (never 8 hex
/// digits, so never taken for a killed run's helper by `oe clean`).
pub fn stamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%S").to_string()
}

/// Where an update is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Odoo is being stopped and the copy made.
    Copying,
    /// Odoo runs the update on the copy.
    Updating,
    /// The names are being swapped, or were: production runs the updated copy.
    Swapping,
    /// Everything is being started on the updated database.
    Starting,
}

/// An update under way (or killed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub stamp: String,
    pub names: Names,
    pub phase: Phase,
    /// Whether the production database did not exist (a new installation): nothing to keep.
    pub new_database: bool,
    /// `oe.lock` before the update, saved beside the journal.
    pub lock: Option<PathBuf>,
    /// The repositories' commits before the update: checkout directory → commit.
    pub commits: Vec<(String, String)>,
    pub modules: Vec<String>,
}

/// What a completed update left to go back to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub stamp: String,
    pub names: Names,
    pub lock: Option<PathBuf>,
    pub commits: Vec<(String, String)>,
    /// The modules the update updated or installed.
    pub modules: Vec<String>,
    /// When it completed (RFC 3339).
    pub finished: String,
}

impl From<Attempt> for Point {
    fn from(a: Attempt) -> Point {
        Point {
            stamp: a.stamp,
            names: a.names,
            lock: a.lock,
            commits: a.commits,
            modules: a.modules,
            finished: jiff::Timestamp::now().to_string(),
        }
    }
}

/// What the production database was last updated with: the code that goes back with it
/// when a later update is undone (sources pulled since by hand must not run on it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Installed {
    /// A copy of `oe.lock` beside the journal.
    pub lock: Option<PathBuf>,
    /// Checkout directory → commit.
    pub commits: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Journal {
    /// The update under way, or the one a killed `oe` left.
    pub running: Option<Attempt>,
    /// Rollback points, oldest first.
    pub points: Vec<Point>,
    /// Unknown before the first update `oe` made.
    #[serde(default)]
    pub installed: Option<Installed>,
}

impl Journal {
    /// The journal of the installation at `root` (empty when there is none).
    pub fn read(root: &Path) -> io::Result<Journal> {
        let path = root.join(JOURNAL);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Journal::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes it durably, whole or not at all.
    pub fn write(&self, root: &Path) -> io::Result<()> {
        let path = root.join(JOURNAL);
        crate::atomic::create_private_parent(&path)?;
        let mut file = AtomicFile::create(&path)?;
        serde_json::to_writer_pretty(&mut file, self).map_err(io::Error::other)?;
        file.commit()
    }
}

/// What [`undo`] did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Undone {
    /// The production database got its previous state back.
    pub restored: bool,
    /// Where the database that was replaced went: dropped (`None`) or kept under a name.
    pub set_aside: Option<String>,
}

/// Gives the production name back to the kept database and filestore of `names`, from
/// whatever step an update stopped at; see the module's docs. The database under the
/// production name, when it is the updated one, is dropped, or renamed to `set_aside` when
/// given (a rollback of a completed update keeps what users did since). Odoo must be
/// stopped. With `new_database` (the update created the database), the database under the
/// production name is the new one, dropped too. Directories to delete are renamed away first and returned, for the caller to
/// remove once Odoo serves again (removing 100 000 links takes time).
pub async fn undo(
    conn: &ConnParams,
    data_dir: &Path,
    names: &Names,
    set_aside: Option<&str>,
    new_database: bool,
) -> Result<(Undone, Vec<PathBuf>), Error> {
    let server = Server::connect(conn).await?;
    let mut undone = Undone::default();
    let mut trash = Vec::new();
    let (database, kept, copy) = (&names.database, &names.kept, &names.copy);
    let dir = |name: &str| filestore_dir(data_dir, name);
    let swapped = server.exists(kept).await?;
    if swapped {
        // The filestore first: a second undo judges by the kept database, renamed last.
        if dir(kept).exists() {
            let current = dir(database);
            move_away(&current, set_aside.map(dir), &mut trash)
                .map_err(super::io("moving away the filestore", &current))?;
            std::fs::rename(dir(kept), &current)
                .map_err(super::io("giving its name back to the filestore", dir(kept)))?;
        }
        if server.exists(database).await? {
            match set_aside {
                Some(aside) => server.rename(database, aside).await?,
                None => server.drop(database).await?,
            }
            undone.set_aside = set_aside.map(str::to_owned);
        }
        server.rename(kept, database).await?;
        undone.restored = true;
    }
    if new_database && server.exists(database).await? {
        server.drop(database).await?;
        move_away(&dir(database), None, &mut trash)
            .map_err(super::io("moving away the filestore", dir(database)))?;
    }
    if server.exists(copy).await? {
        server.drop(copy).await?;
    }
    move_away(&dir(copy), None, &mut trash)
        .map_err(super::io("moving away the filestore", dir(copy)))?;
    Ok((undone, trash))
}

/// Renames the directory `path` (if there) to `to`, or beside itself under a name `oe clean`
/// knows as a removal in progress, which goes to `trash`.
fn move_away(path: &Path, to: Option<PathBuf>, trash: &mut Vec<PathBuf>) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let target = match to {
        Some(to) => to,
        None => {
            let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            let aside = Aside { database: &name, tag: "rm", run: None, pid: std::process::id() };
            let target = path.with_file_name(aside.with_tag("rm"));
            trash.push(target.clone());
            target
        }
    };
    std::fs::rename(path, target)
}

/// Removes what [`undo`] and the pruning of old points set aside; failures are warnings.
pub fn empty_trash(trash: &[PathBuf]) {
    for dir in trash {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            tracing::warn!("could not remove {}: {e}", dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_postgres_and_say_what_they_are() {
        let n = Names::new("acme_prod", "20261202T223000");
        assert_eq!(n.copy, "acme_prod-update-20261202T223000");
        assert_eq!(n.kept, "acme_prod-before-20261202T223000");
        let long = "é".repeat(40);
        let n = Names::new(&long, "20261202T223000");
        assert!(n.copy.len() <= 63 && n.kept.len() <= 63, "{n:?}");
        assert!(n.kept.ends_with("-before-20261202T223000"));
        // Not a helper name `oe clean` would take for a killed run's leftover.
        assert!(!crate::pg::server::is_derived(&n.kept));
        assert!(!crate::pg::server::is_derived(
            &Names::new("a-oe", &stamp(jiff::Timestamp::now())).kept
        ));
    }

    #[test]
    fn the_journal_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Journal::read(dir.path()).unwrap().running.is_none());
        let attempt = Attempt {
            stamp: "20261202T223000".into(),
            names: Names::new("acme_prod", "20261202T223000"),
            phase: Phase::Updating,
            new_database: false,
            lock: None,
            commits: vec![("defapp".into(), "abc".into())],
            modules: vec!["sale".into()],
        };
        let journal = Journal { running: Some(attempt), points: Vec::new(), installed: None };
        journal.write(dir.path()).unwrap();
        let back = Journal::read(dir.path()).unwrap();
        assert_eq!(back.running.unwrap().phase, Phase::Updating);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(JOURNAL)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
