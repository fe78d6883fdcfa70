//! `oe clean`: what killed runs left behind, found, judged and removed. A run killed with
//! SIGKILL (or by a crash of the host) cannot clean up: its helper databases
//! (`<db>-oe-tmp-<run>`, `-oe-old-`, `-oe-rtest-`), the filestores it kept beside the target
//! (`.<db>-oe-tmp-<run>-<pid>`, `.<db>-oe-old-…`, and `.<db>-oe-rm-…` of `oe db rm`) and its
//! `.partial` files stay, each as big as what it was writing.
//!
//! A leftover is touched only when its owner is gone: for a database, the advisory locks of
//! its name and of the name it was derived from are free (every run holds them while it
//! lives, on any host: `pg::lock`); for a file, the lock of its database is free and its pid
//! no longer runs on this host (`process::owner`). The locks stay taken until the plan is
//! applied, so no run starts on those names meanwhile.
//!
//! A run killed in the middle of its swap is finished or undone, never left half: when its
//! temporary database is still there, the database swap had not happened, so the previous
//! filestore (and a database renamed away) get their places back; otherwise the swap was
//! complete and what it replaced is removed. A database or directory whose target cannot be
//! told is kept and reported. Plan, then apply: [`plan`] looks, [`decide`] (pure) decides,
//! [`apply`] carries the steps out in order (filestores before databases: the temporary
//! database is how a second `clean` knows where the first stopped). A load settles its own
//! target first ([`settle`]), so a killed run's half-done swap is always judged before a
//! later run changes the target.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::filestore::Aside;
use crate::pg::server::{Derived, derived_name_of, is_derived, run_id};
use crate::pg::{self, Claims, ConnParams, Server};
use crate::process::owner;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) => e.exit_code(),
            Error::Io { source, .. } => source.exit_code(),
        }
    }
}

/// Where a service's runs leave things on disk.
#[derive(Debug, Clone)]
pub struct Places {
    /// Odoo's data directory: filestores are in `<data_dir>/filestore/`.
    pub data_dir: PathBuf,
    /// The backup tree (`<backup_dir>/<db>/…`), when configured.
    pub backup_dir: Option<PathBuf>,
}

/// One step of a clean-up, in the order it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// A directory put back in its place (a filestore a killed run had set aside).
    Move {
        from: PathBuf,
        to: PathBuf,
    },
    RemoveDir {
        path: PathBuf,
    },
    RemoveFile {
        path: PathBuf,
    },
    /// A database a killed run had renamed away gets its name back.
    RenameDatabase {
        from: String,
        to: String,
    },
    DropDatabase {
        database: String,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Move { from, to } => write!(f, "put back {} -> {}", from.display(), to.display()),
            Step::RemoveDir { path } | Step::RemoveFile { path } => {
                write!(f, "remove {}", path.display())
            }
            Step::RenameDatabase { from, to } => write!(f, "rename database {from} -> {to}"),
            Step::DropDatabase { database } => write!(f, "drop database {database}"),
        }
    }
}

/// A leftover of a dead run that is not touched, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub what: String,
    pub why: String,
}

/// What `oe clean` does, computed before anything is touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Leftovers whose run is alive: never touched.
    pub in_use: Vec<String>,
    /// Leftovers of dead runs that cannot be judged safely.
    pub kept: Vec<Kept>,
}

/// What [`plan`] saw: every leftover, and whether its owner is alive.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Every database of the server, helpers included.
    pub databases: BTreeSet<String>,
    /// Helper databases, with whether their run is alive.
    pub helpers: Vec<(String, bool)>,
    /// The filestore root (`<data_dir>/filestore`).
    pub filestore_root: PathBuf,
    /// Directories in the filestore root: names of filestores (`acme`) and of set-aside
    /// ones (`.acme-oe-tmp-…`), with whether their owner is alive.
    pub dirs: Vec<(String, bool)>,
    /// `.partial` files, with whether their owner is alive.
    pub partials: Vec<(PathBuf, bool)>,
}

/// Looks for leftovers of `conn`'s server and `places`; returns the plan and the claims on
/// the names it judged free, which the caller holds until the plan is applied.
pub async fn plan(conn: &ConnParams, places: &Places) -> Result<(Plan, Claims), Error> {
    let server = Server::connect(conn).await?;
    let claims = Claims::open(conn, "oe clean").await?;
    let mut found = Found { filestore_root: places.data_dir.join("filestore"), ..Found::default() };
    let helpers = server.helper_databases().await?;
    found.databases = server.databases().await?.into_iter().chain(helpers.clone()).collect();
    for name in helpers {
        let alive = !free(&claims, &name).await?;
        found.helpers.push((name, alive));
    }
    let root = found.filestore_root.clone();
    for entry in read_dir(&root)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            let alive = if let Some(aside) = Aside::parse(&name) {
                !claims.claim(aside.database).await? || owner::alive(aside.pid, changed(&entry))
            } else if is_derived(&name) {
                !free(&claims, &name).await?
            } else {
                false
            };
            found.dirs.push((name, alive));
        } else if let Some(pid) = partial_pid(&name) {
            found.partials.push((entry.path(), owner::alive(pid, changed(&entry))));
        }
    }
    if let Some(backup_dir) = &places.backup_dir {
        for entry in read_dir(backup_dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                for file in read_dir(&entry.path())? {
                    let Some(pid) = partial_pid(&file.file_name().to_string_lossy()) else {
                        continue;
                    };
                    // A backup of database <name> holds its lock while it writes here.
                    let alive = !claims.claim(&name).await? || owner::alive(pid, changed(&file));
                    found.partials.push((file.path(), alive));
                }
            } else if let Some(pid) = partial_pid(&name) {
                found.partials.push((entry.path(), owner::alive(pid, changed(&entry))));
            }
        }
    }
    Ok((decide(&found), claims))
}

/// Finishes or undoes what killed runs on `database` left, before a new run works on it, so
/// that a killed run's half-done swap is never judged after a later run changed the target.
/// The caller holds the database's lock: every other run on it that left something is dead.
/// `filestore_root` is where its filestore lives, when the run restores one.
pub async fn settle(
    conn: &ConnParams,
    filestore_root: Option<&Path>,
    database: &str,
) -> Result<(), Error> {
    let server = Server::connect(conn).await?;
    let claims = Claims::open(conn, &format!("oe settling {database}")).await?;
    let run = run_id();
    let mut found = Found {
        filestore_root: filestore_root.map(Path::to_path_buf).unwrap_or_default(),
        ..Found::default()
    };
    let helpers = server.helper_databases().await?;
    found.databases = server.databases().await?.into_iter().chain(helpers.clone()).collect();
    for name in helpers {
        let ours = Derived::parse(&name).is_some_and(|d| {
            d.run != run && (d.base == database || (d.maybe_cut() && database.starts_with(d.base)))
        });
        if ours {
            // A name cut to fit may be another database's: its own lock says.
            let alive = !claims.claim(&name).await?;
            found.helpers.push((name, alive));
        }
    }
    if let Some(root) = filestore_root {
        for entry in read_dir(root)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name == database
                || Aside::parse(&name)
                    .is_some_and(|a| a.database == database && a.run != Some(run));
            if ours {
                found.dirs.push((name, false));
            }
        }
    }
    let plan = decide(&found);
    for kept in &plan.kept {
        tracing::warn!("left by a killed run, kept: {}: {}", kept.what, kept.why);
    }
    if !plan.steps.is_empty() {
        tracing::warn!(
            "'{database}': finishing what a killed run left ({} steps)",
            plan.steps.len()
        );
    }
    apply(conn, &plan).await?;
    Ok(())
}

/// Whether the run that made helper database (or scratch filestore) `name` is gone: the
/// locks of the name and of the database it was derived from are free (and now ours).
async fn free(claims: &Claims, name: &str) -> Result<bool, Error> {
    let base = Derived::parse(name).map_or("", |d| d.base);
    Ok(claims.claim(name).await? && (base.is_empty() || claims.claim(base).await?))
}

/// The pid in `<file>.<pid>.partial` (`atomic`'s partial files).
fn partial_pid(name: &str) -> Option<u32> {
    let rest = name.strip_suffix(".partial")?;
    let (file, pid) = rest.rsplit_once('.')?;
    (!file.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
    pid.parse().ok()
}

fn changed(entry: &std::fs::DirEntry) -> SystemTime {
    entry.metadata().and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now())
}

/// The entries of `dir`; none when it does not exist.
fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, Error> {
    let error = |source| Error::Io { what: "listing", path: dir.to_path_buf(), source };
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut entries = entries.collect::<Result<Vec<_>, _>>().map_err(error)?;
            entries.sort_by_key(|e| e.file_name());
            Ok(entries)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(error(e)),
    }
}

/// The plan for what was found. Pure.
pub fn decide(found: &Found) -> Plan {
    let mut plan = Plan::default();
    let root = &found.filestore_root;
    let dead_helpers: BTreeSet<&str> =
        found.helpers.iter().filter(|(_, alive)| !alive).map(|(n, _)| n.as_str()).collect();
    let dirs: BTreeSet<&str> = found.dirs.iter().map(|(n, _)| n.as_str()).collect();
    plan.in_use.extend(found.helpers.iter().filter(|(_, a)| *a).map(|(n, _)| n.clone()));

    // Filestores set aside, by run: (database, run, pid) → tags.
    let mut asides: BTreeMap<(&str, Option<u32>, u32), BTreeSet<&str>> = BTreeMap::new();
    // The database each run worked on, for helper names cut to fit.
    let mut targets: BTreeMap<String, String> = BTreeMap::new();
    for (name, alive) in &found.dirs {
        if let Some(aside) = Aside::parse(name) {
            if *alive {
                plan.in_use.push(root.join(name).display().to_string());
                continue;
            }
            asides.entry((aside.database, aside.run, aside.pid)).or_default().insert(aside.tag);
            if let Some(run) = aside.run {
                for tag in ["tmp", "old"] {
                    let helper = derived_name_of(aside.database, tag, run);
                    targets.insert(helper, aside.database.to_owned());
                }
            }
        } else if is_derived(name) {
            // The filestore of a scratch database (a restore test).
            if *alive {
                plan.in_use.push(root.join(name).display().to_string());
            } else {
                plan.steps.push(Step::RemoveDir { path: root.join(name) });
            }
        }
    }
    for ((database, run, pid), tags) in &asides {
        let aside = |tag| Aside { database, tag, run: *run, pid: *pid };
        let path = |tag| root.join(aside(tag).with_tag(tag));
        let (tmp, old, target) = (path("tmp"), path("old"), root.join(database));
        let has_target = dirs.contains(database);
        let swap_undone = run
            .is_some_and(|r| dead_helpers.contains(derived_name_of(database, "tmp", r).as_str()));
        if tags.contains("old") {
            if !has_target {
                plan.steps.push(Step::Move { from: old.clone(), to: target.clone() });
            } else if swap_undone && !tags.contains("tmp") {
                // The new filestore is in place, the database swap never happened: the
                // previous filestore goes back with the previous database.
                plan.steps.push(Step::Move { from: target.clone(), to: tmp.clone() });
                plan.steps.push(Step::Move { from: old.clone(), to: target.clone() });
                plan.steps.push(Step::RemoveDir { path: tmp.clone() });
            } else if run.is_some() && !swap_undone {
                plan.steps.push(Step::RemoveDir { path: old.clone() });
            } else {
                plan.kept.push(Kept {
                    what: old.display().to_string(),
                    why: format!(
                        "cannot tell whether it or {} belongs with database '{database}'",
                        target.display()
                    ),
                });
            }
        }
        if tags.contains("tmp") {
            plan.steps.push(Step::RemoveDir { path: tmp });
        }
        for tag in tags.iter().filter(|t| !["tmp", "old"].contains(t)) {
            plan.steps.push(Step::RemoveDir { path: path(tag) });
        }
    }
    for (path, alive) in &found.partials {
        if *alive {
            plan.in_use.push(path.display().to_string());
        } else {
            plan.steps.push(Step::RemoveFile { path: path.clone() });
        }
    }

    // Helper databases, by run: (base, run) → tag → name.
    let mut runs: BTreeMap<(&str, u32), BTreeMap<&str, &str>> = BTreeMap::new();
    for name in &dead_helpers {
        if let Some(d) = Derived::parse(name) {
            runs.entry((d.base, d.run)).or_default().insert(d.tag, name);
        }
    }
    for tags in runs.values() {
        let target = |name: &str| {
            let derived = Derived::parse(name)?;
            targets
                .get(name)
                .cloned()
                .or_else(|| (!derived.maybe_cut()).then(|| derived.base.to_owned()))
        };
        if let Some(old) = tags.get("old") {
            let exists = |db: &str| found.databases.contains(db);
            match (target(old), tags.get("tmp")) {
                // Killed between the two renames: the previous database gets its name back.
                (Some(db), Some(_)) if !exists(&db) => {
                    plan.steps.push(Step::RenameDatabase { from: (*old).into(), to: db })
                }
                (Some(db), None) if exists(&db) => {
                    plan.steps.push(Step::DropDatabase { database: (*old).into() })
                }
                (Some(db), None) => {
                    plan.steps.push(Step::RenameDatabase { from: (*old).into(), to: db })
                }
                (Some(db), Some(_)) => plan.kept.push(Kept {
                    what: (*old).into(),
                    why: format!("a load into '{db}' was killed while '{db}' was being replaced"),
                }),
                (None, _) => plan.kept.push(Kept {
                    what: (*old).into(),
                    why: "cannot tell which database it was (its name was cut to fit)".into(),
                }),
            }
        }
        for (tag, name) in tags {
            if *tag != "old" {
                plan.steps.push(Step::DropDatabase { database: (*name).into() });
            }
        }
    }
    plan
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io { what, path: path.to_path_buf(), source }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub done: Vec<Step>,
}

/// Carries out `plan`, in order; stops at the first step that fails (the next `clean`
/// starts from what is there).
pub async fn apply(conn: &ConnParams, plan: &Plan) -> Result<Summary, Error> {
    let mut done = Vec::new();
    let mut server = None;
    for step in &plan.steps {
        match step {
            Step::Move { from, to } => {
                if to.exists() {
                    let exists = io::Error::from(io::ErrorKind::AlreadyExists);
                    return Err(io_error("moving back onto", to)(exists));
                }
                std::fs::rename(from, to).map_err(io_error("moving", from))?
            }
            Step::RemoveDir { path } => match std::fs::remove_dir_all(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(io_error("removing", path)(e))?
                }
                _ => {}
            },
            Step::RemoveFile { path } => match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(io_error("removing", path)(e))?
                }
                _ => {}
            },
            Step::RenameDatabase { from, to } => {
                let server = connected(&mut server, conn).await?;
                server.rename(from, to).await?
            }
            Step::DropDatabase { database } => {
                connected(&mut server, conn).await?.drop(database).await?
            }
        }
        tracing::info!("clean: {step}");
        done.push(step.clone());
    }
    Ok(Summary { done })
}

async fn connected<'a>(
    server: &'a mut Option<Server>,
    conn: &ConnParams,
) -> Result<&'a Server, Error> {
    if server.is_none() {
        *server = Some(Server::connect(conn).await?);
    }
    Ok(server.as_ref().expect("connected above"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: u32 = 0xab12cd34;

    fn found(helpers: &[&str], dirs: &[&str]) -> Found {
        let mut databases: BTreeSet<String> = ["acme", "other"].map(String::from).into();
        databases.extend(helpers.iter().map(|h| h.to_string()));
        Found {
            databases,
            helpers: helpers.iter().map(|h| (h.to_string(), false)).collect(),
            filestore_root: PathBuf::from("/fs"),
            dirs: dirs.iter().map(|d| (d.to_string(), false)).collect(),
            partials: vec![],
        }
    }

    fn tmp() -> String {
        derived_name_of("acme", "tmp", RUN)
    }
    fn old() -> String {
        derived_name_of("acme", "old", RUN)
    }
    fn aside(tag: &str) -> String {
        format!(".acme-oe-{tag}-{RUN:08x}-77")
    }
    fn p(name: &str) -> PathBuf {
        Path::new("/fs").join(name)
    }

    #[test]
    fn killed_while_loading_everything_temporary_goes() {
        let plan = decide(&found(&[&tmp()], &["acme", &aside("tmp")]));
        assert_eq!(
            plan.steps,
            [Step::RemoveDir { path: p(&aside("tmp")) }, Step::DropDatabase { database: tmp() }]
        );
    }

    #[test]
    fn killed_between_the_filestore_and_the_database_swap_goes_back() {
        let plan = decide(&found(&[&tmp()], &["acme", &aside("old")]));
        assert_eq!(
            plan.steps,
            [
                Step::Move { from: p("acme"), to: p(&aside("tmp")) },
                Step::Move { from: p(&aside("old")), to: p("acme") },
                Step::RemoveDir { path: p(&aside("tmp")) },
                Step::DropDatabase { database: tmp() },
            ]
        );
    }

    #[test]
    fn killed_between_the_database_renames_goes_back() {
        let mut f = found(&[&tmp(), &old()], &["acme", &aside("old")]);
        f.databases.remove("acme");
        let plan = decide(&f);
        assert_eq!(
            plan.steps,
            [
                Step::Move { from: p("acme"), to: p(&aside("tmp")) },
                Step::Move { from: p(&aside("old")), to: p("acme") },
                Step::RemoveDir { path: p(&aside("tmp")) },
                Step::RenameDatabase { from: old(), to: "acme".into() },
                Step::DropDatabase { database: tmp() },
            ]
        );
    }

    #[test]
    fn killed_after_the_swap_the_replaced_ones_go() {
        let plan = decide(&found(&[&old()], &["acme", &aside("old")]));
        assert_eq!(
            plan.steps,
            [Step::RemoveDir { path: p(&aside("old")) }, Step::DropDatabase { database: old() }]
        );
        // The filestore swap half done: the previous one goes back.
        let plan = decide(&found(&[&tmp()], &[&aside("old"), &aside("tmp")]));
        assert_eq!(
            plan.steps,
            [
                Step::Move { from: p(&aside("old")), to: p("acme") },
                Step::RemoveDir { path: p(&aside("tmp")) },
                Step::DropDatabase { database: tmp() },
            ]
        );
    }

    #[test]
    fn alive_and_undecidable_leftovers_are_left_alone() {
        let mut f = found(&[&tmp()], &["acme", &aside("tmp"), ".acme-oe-old-42"]);
        f.helpers[0].1 = true;
        f.dirs[1].1 = true;
        f.partials = vec![(PathBuf::from("/b/acme/x.zip.5.partial"), true)];
        let plan = decide(&f);
        assert_eq!(plan.steps, []);
        assert_eq!(plan.in_use.len(), 3);
        assert_eq!(plan.kept.len(), 1, "{plan:?}");
        let long = "x".repeat(63);
        let cut = derived_name_of(&long, "old", RUN);
        let plan = decide(&found(&[&cut], &[]));
        assert_eq!(plan.steps, []);
        assert_eq!(plan.kept[0].what, cut);
    }

    #[test]
    fn a_filestore_being_removed_goes() {
        let plan = decide(&found(&[], &[&aside("rm")]));
        assert_eq!(plan.steps, [Step::RemoveDir { path: p(&aside("rm")) }]);
    }

    #[test]
    fn partial_names() {
        assert_eq!(partial_pid("acme_2026-11-22_02-00-05.zip.4242.partial"), Some(4242));
        for other in ["x.zip", "x.partial", ".4242.partial", "x.zip.42a.partial"] {
            assert_eq!(partial_pid(other), None, "{other}");
        }
    }
}
