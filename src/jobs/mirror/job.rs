//! The `oe mirror` jobs over a whole repository: run every directory (a failing one does not
//! stop the others), list, look into and restore snapshots, check, forget and prune.
//!
//! Each is a short function chaining the steps of [`run`](mod@super::run), [`restore`](mod@super::restore),
//! [`crate::repo::tree`] and the [`crate::repo`]; the CLI prints what they return.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use indicatif::ProgressBar;
use serde::Serialize;

use super::restore::{self, Outcome as Restored};
use super::run::{self, Outcome, load_tree};
use super::walk::Listings;
use crate::config::settings::MirrorDir;
use crate::exit::{ExitCode, ExitStatus};
use crate::repo::snapshot::{self, Listed, Snapshot};
use crate::repo::tree::{Kind, Node, Tree};
use crate::repo::{self, BlobId, Repository};
use crate::rules::retention::{self, Policy, Reason};

pub use crate::config::settings::normalize_dir;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Snapshot(#[from] snapshot::Error),
    #[error(transparent)]
    Run(#[from] run::Error),
    #[error(transparent)]
    Restore(#[from] restore::Error),
    #[error("no keep rule given: pass at least one --keep-* above 0")]
    NoKeepRule,
    #[error("the clock is outside years 0000-9999: cannot judge the snapshots' ages")]
    Clock,
    #[error("{failed} of {total} directories failed: {names}")]
    Failed { failed: usize, total: usize, names: String, code: ExitCode },
    #[error("{partial} snapshot(s) are partial (some files could not be read): {names}")]
    Partial { partial: usize, names: String },
    #[error("the repository has {0} problem(s): see the report above")]
    Damaged(usize),
    #[error(
        "{location} already holds a repository: the backup server made it (`oe server add-key` \
         without --encrypted); a client creates only the empty one `add-key --encrypted` leaves"
    )]
    RemoteInit { location: crate::config::Location },
    #[error(
        "{location} is on a backup server: its snapshots are forgotten and pruned there, by \
         `oe server forget`, never by a client"
    )]
    RemoteForget { location: crate::config::Location },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::NoKeepRule | Error::RemoteInit { .. } | Error::RemoteForget { .. } => {
                ExitCode::Usage
            }
            Error::Failed { code, .. } => *code,
            Error::Clock => ExitCode::Failure,
            Error::Partial { .. } => ExitCode::Partial,
            Error::Damaged(_) => ExitCode::BadInput,
            Error::Repo(e) => e.exit_code(),
            Error::Snapshot(e) => e.exit_code(),
            Error::Run(e) => e.exit_code(),
            Error::Restore(e) => e.exit_code(),
        }
    }
}

pub struct RunOptions {
    pub dry_run: bool,
    pub threads: usize,
    pub progress: ProgressBar,
}

/// What `run` did, directory by directory.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub dry_run: bool,
    pub dirs: Vec<DirReport>,
}

#[derive(Debug, Serialize)]
pub struct DirReport {
    pub dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<snapshot::Stats>,
    pub seconds: f64,
    /// Files that could not be read (the snapshot is partial).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Why no snapshot was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The exit code of that failure.
    #[serde(skip)]
    pub failed_code: Option<ExitCode>,
}

impl RunReport {
    /// An error when a directory failed or a snapshot is partial.
    pub fn check(&self) -> Result<(), Error> {
        let failed: Vec<&DirReport> = self.dirs.iter().filter(|d| d.failed.is_some()).collect();
        if !failed.is_empty() {
            // The failures' own code when they agree (a backup server's quota, a full disk).
            let mut codes = failed.iter().map(|d| d.failed_code.unwrap_or(ExitCode::Failure));
            let first = codes.next().unwrap_or(ExitCode::Failure);
            let code = if codes.all(|c| c == first) { first } else { ExitCode::Failure };
            return Err(Error::Failed {
                failed: failed.len(),
                total: self.dirs.len(),
                names: failed.iter().map(|d| d.dir.as_str()).collect::<Vec<_>>().join(", "),
                code,
            });
        }
        let partial: Vec<&str> =
            self.dirs.iter().filter(|d| !d.errors.is_empty()).map(|d| d.dir.as_str()).collect();
        if !partial.is_empty() {
            return Err(Error::Partial { partial: partial.len(), names: partial.join(", ") });
        }
        Ok(())
    }
}

/// Snapshots every directory of `dirs`, each from its latest snapshot, their directories
/// listed by `listings` (of the same `dirs`); goes on after a failure.
pub fn run(
    repo: &Repository,
    dirs: &[MirrorDir],
    mut listings: Listings,
    options: &RunOptions,
) -> Result<RunReport, Error> {
    let all = list(repo)?;
    let mut report = RunReport { dry_run: options.dry_run, dirs: Vec::new() };
    for (index, dir) in dirs.iter().enumerate() {
        let listing = listings.take(index);
        let started = std::time::Instant::now();
        let parent = snapshot::select(&all, &dir.dir, "latest").ok();
        let request = run::Request {
            repo,
            dir: &dir.dir,
            filter: &dir.filter,
            parent,
            threads: options.threads,
            host: crate::repo::hostname(),
            // Times have whole seconds: a run in the same second as its parent (or after the
            // clock went back) is dated a second later, so that it is the latest.
            time: parent.map_or(now(), |p| now().max(p.snapshot.time + 1)),
            progress: options.progress.clone(),
        };
        let result = match options.dry_run {
            true => run::plan(&request, listing),
            false => run::run(&request, listing),
        };
        let seconds = started.elapsed().as_secs_f64();
        let entry = match result {
            Ok(Outcome { id, snapshot }) => DirReport {
                dir: dir.dir.clone(),
                snapshot: (!options.dry_run).then_some(id),
                errors: snapshot.errors,
                stats: Some(snapshot.stats),
                seconds,
                failed: None,
                failed_code: None,
            },
            Err(run::Error::Interrupted) => return Err(run::Error::Interrupted.into()),
            Err(e) => {
                tracing::error!("mirroring {}: {}", dir.dir, crate::exit::message(&e));
                DirReport {
                    dir: dir.dir.clone(),
                    snapshot: None,
                    stats: None,
                    seconds,
                    errors: Vec::new(),
                    failed: Some(crate::exit::message(&e)),
                    failed_code: Some(e.exit_code()),
                }
            }
        };
        report.dirs.push(entry);
    }
    options.progress.finish_and_clear();
    Ok(report)
}

/// Every snapshot of the repository, oldest first.
pub fn list(repo: &Repository) -> Result<Vec<Listed>, Error> {
    let mut all = Vec::new();
    for (id, bytes) in repo.snapshots()? {
        let snapshot = Snapshot::decode(&id, &bytes)?;
        all.push(Listed { id, snapshot });
    }
    snapshot::sort(&mut all);
    Ok(all)
}

/// The snapshots of `dir` (all when `None`), oldest first.
pub fn snapshots(repo: &Repository, dir: Option<&str>) -> Result<Vec<Listed>, Error> {
    let mut all = list(repo)?;
    all.retain(|s| dir.is_none_or(|d| s.snapshot.dir == d));
    Ok(all)
}

/// One line of `ls`: a path of the snapshot and its node.
pub struct LsLine<'a> {
    pub path: &'a [u8],
    pub node: &'a Node,
}

/// Every path of snapshot `wanted` of `dir` below `path` (all when `None`), depth first in
/// name order, each given to `emit`.
pub fn ls(
    repo: &Repository,
    dir: &str,
    wanted: &str,
    path: Option<&str>,
    emit: &mut dyn FnMut(LsLine) -> std::io::Result<()>,
) -> Result<(), Error> {
    let all = list(repo)?;
    let listed = snapshot::select(&all, dir, wanted)?;
    let mut tree = load_tree(repo, listed.snapshot.tree)?;
    let mut prefix = Vec::new();
    let wanted_path = path.unwrap_or("").trim_matches('/');
    if !wanted_path.is_empty() {
        let components: Vec<&str> = wanted_path.split('/').filter(|c| !c.is_empty()).collect();
        let (last, dirs) = components.split_last().expect("a non-empty path has a component");
        let not_found =
            || restore::Error::NoSuchPath { path: wanted_path.into(), snapshot: listed.id.clone() };
        for component in dirs {
            let node = tree
                .find(component.as_bytes())
                .filter(|n| n.kind == Kind::Dir)
                .ok_or_else(not_found)?;
            tree = load_tree(repo, node.subtree.ok_or_else(not_found)?)?;
            prefix.extend_from_slice(component.as_bytes());
            prefix.push(b'/');
        }
        let node = tree.find(last.as_bytes()).ok_or_else(not_found)?.clone();
        prefix.extend_from_slice(last.as_bytes());
        emit(LsLine { path: &prefix, node: &node }).map_err(write_error)?;
        return match (node.kind, node.subtree) {
            (Kind::Dir, Some(id)) => {
                prefix.push(b'/');
                ls_tree(repo, &load_tree(repo, id)?, &mut prefix, emit)
            }
            _ => Ok(()),
        };
    }
    ls_tree(repo, &tree, &mut prefix, emit)
}

fn ls_tree(
    repo: &Repository,
    tree: &Tree,
    prefix: &mut Vec<u8>,
    emit: &mut dyn FnMut(LsLine) -> std::io::Result<()>,
) -> Result<(), Error> {
    for node in &tree.nodes {
        let len = prefix.len();
        prefix.extend_from_slice(&node.name);
        emit(LsLine { path: prefix, node }).map_err(write_error)?;
        if let (Kind::Dir, Some(id)) = (node.kind, node.subtree) {
            prefix.push(b'/');
            ls_tree(repo, &load_tree(repo, id)?, prefix, emit)?;
        }
        prefix.truncate(len);
    }
    Ok(())
}

fn write_error(e: std::io::Error) -> Error {
    Error::Restore(restore::Error::Write { path: "stdout".into(), source: e })
}

/// Restores snapshot `wanted` of `dir` (or its `path`) into `target`.
pub fn restore(
    repo: &Repository,
    dir: &str,
    wanted: &str,
    target: &Path,
    path: Option<&str>,
    progress: ProgressBar,
) -> Result<Restored, Error> {
    let all = list(repo)?;
    let listed = snapshot::select(&all, dir, wanted)?;
    let request = restore::Request {
        repo,
        snapshot: listed,
        target,
        path: path.map(str::as_bytes),
        progress,
    };
    let outcome = restore::restore(&request)?;
    request.progress.finish_and_clear();
    Ok(outcome)
}

/// What `check` found: the repository's own findings ([`repo::CheckReport`]: problems and
/// damaged packs), with what the snapshots add: their own problems, and the files each
/// damaged pack affects.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub read_data: bool,
    pub snapshots: usize,
    /// Distinct trees walked.
    pub trees: usize,
    #[serde(flatten)]
    pub found: repo::CheckReport,
}

impl CheckReport {
    pub fn result(&self) -> Result<(), Error> {
        match self.found.problems.len() + self.found.damaged.len() {
            0 => Ok(()),
            n => Err(Error::Damaged(n)),
        }
    }
}

/// Checks the repository ([`Repository::check`]) and that every snapshot's trees decode and
/// every blob they refer to is indexed; maps damaged blobs to the snapshots and files using
/// them.
pub fn check(repo: &Repository, read_data: bool) -> Result<CheckReport, Error> {
    let found = repo.check(read_data)?;
    let damaged: HashMap<BlobId, usize> = found
        .damaged
        .iter()
        .enumerate()
        .flat_map(|(i, pack)| pack.blobs.iter().map(move |id| (*id, i)))
        .collect();
    let mut report = CheckReport { read_data, snapshots: 0, trees: 0, found };
    let mut scanner = Scanner { repo, damaged: &damaged, memo: HashMap::new() };
    for (id, bytes) in repo.snapshots()? {
        report.snapshots += 1;
        let snapshot = match Snapshot::decode(&id, &bytes) {
            Ok(s) => s,
            Err(e) => {
                report.found.problems.push(e.to_string());
                continue;
            }
        };
        for finding in scanner.tree(snapshot.tree).iter() {
            let path = String::from_utf8_lossy(&finding.path).into_owned();
            let short = id[..id.len().min(8)].to_owned();
            let found = &mut report.found;
            match finding.what {
                Finding::Damaged(pack) => {
                    found.damaged[pack].affected.push((short, snapshot.dir.clone(), path))
                }
                Finding::Missing(blob) => found.problems.push(format!(
                    "snapshot {short} of {}: {} refers to blob {blob}, which the repository does not have",
                    snapshot.dir,
                    if path.is_empty() { "." } else { &path }
                )),
                Finding::BadTree(ref reason) => {
                    found.problems.push(format!("snapshot {short} of {}: {reason}", snapshot.dir))
                }
            }
        }
    }
    report.trees = scanner.memo.len();
    Ok(report)
}

/// A problem below a tree, at a path relative to it.
struct Found {
    path: Vec<u8>,
    what: Finding,
}

#[derive(Clone)]
enum Finding {
    /// A blob in the damaged pack with this index.
    Damaged(usize),
    Missing(BlobId),
    BadTree(String),
}

/// Walks trees once each, remembering what was found below each.
struct Scanner<'a> {
    repo: &'a Repository,
    damaged: &'a HashMap<BlobId, usize>,
    memo: HashMap<BlobId, Rc<Vec<Found>>>,
}

impl Scanner<'_> {
    fn tree(&mut self, id: BlobId) -> Rc<Vec<Found>> {
        if let Some(found) = self.memo.get(&id) {
            return Rc::clone(found);
        }
        let mut found = Vec::new();
        let here = |what| Found { path: Vec::new(), what };
        if let Some(&pack) = self.damaged.get(&id) {
            found.push(here(Finding::Damaged(pack)));
        } else if !self.repo.has_blob(&id) {
            found.push(here(Finding::Missing(id)));
        } else {
            match load_tree(self.repo, id) {
                Err(e) => found.push(here(Finding::BadTree(e.to_string()))),
                Ok(tree) => {
                    for node in &tree.nodes {
                        let at = |what| Found { path: node.name.to_vec(), what };
                        for blob in &node.content {
                            if let Some(&pack) = self.damaged.get(blob) {
                                found.push(at(Finding::Damaged(pack)));
                            } else if !self.repo.has_blob(blob) {
                                found.push(at(Finding::Missing(*blob)));
                            }
                        }
                        if let Some(subtree) = node.subtree {
                            for below in self.tree(subtree).iter() {
                                let mut path = node.name.to_vec();
                                if !below.path.is_empty() {
                                    path.push(b'/');
                                    path.extend_from_slice(&below.path);
                                }
                                found.push(Found { path, what: below.what.clone() });
                            }
                        }
                    }
                }
            }
        }
        let found = Rc::new(found);
        self.memo.insert(id, Rc::clone(&found));
        found
    }
}

/// What `forget` deletes and keeps, directory by directory.
#[derive(Debug, Serialize)]
pub struct ForgetPlan {
    pub dirs: BTreeMap<String, DirPlan>,
}

#[derive(Debug, Serialize)]
pub struct DirPlan {
    /// Kept snapshots (id, time judged by, in Unix seconds), newest first, with why.
    pub keep: Vec<(String, i64, Vec<String>)>,
    /// Deleted snapshots (id, time judged by), newest first.
    pub delete: Vec<(String, i64)>,
}

impl ForgetPlan {
    pub fn deleted_ids(&self) -> impl Iterator<Item = &str> {
        self.dirs.values().flat_map(|d| d.delete.iter().map(|(id, _)| id.as_str()))
    }
}

/// Applies `policy` to the snapshots of each directory (of `dir` only when given), each
/// judged by the time it says it was taken.
pub fn forget_plan(
    repo: &Repository,
    dir: Option<&str>,
    policy: Policy,
) -> Result<ForgetPlan, Error> {
    forget_plan_by(repo, dir, policy, |listed| Ok(listed.timestamp()))
}

/// [`forget_plan`] with each snapshot's time given by `time_of` (a backup server judges a
/// snapshot by when it arrived, not by the time a client wrote into it); the plan shows
/// those times.
pub fn forget_plan_by(
    repo: &Repository,
    dir: Option<&str>,
    policy: Policy,
    time_of: impl Fn(&Listed) -> Result<retention::Timestamp, Error>,
) -> Result<ForgetPlan, Error> {
    let now =
        retention::Timestamp::from_system_time(std::time::SystemTime::now()).ok_or(Error::Clock)?;
    let mut by_dir: BTreeMap<String, Vec<(Dated, retention::Timestamp)>> = BTreeMap::new();
    // Newest first by the time each claims: among equal `time_of` (two arrivals in one
    // second), retention counts the earlier as the newer.
    for listed in snapshots(repo, dir)?.into_iter().rev() {
        let time = time_of(&listed)?;
        let Listed { id, snapshot } = listed;
        by_dir.entry(snapshot.dir).or_default().push(((id, time.unix_seconds()), time));
    }
    let mut plan = ForgetPlan { dirs: BTreeMap::new() };
    for (dir, snapshots) in by_dir {
        let selected = retention::select(&snapshots, policy, now);
        let keep = selected
            .keep
            .into_iter()
            .map(|((id, time), reasons)| {
                (id, time, reasons.iter().map(Reason::to_string).collect())
            })
            .collect();
        plan.dirs.insert(dir, DirPlan { keep, delete: selected.delete });
    }
    Ok(plan)
}

/// A snapshot's id and the time it is judged by, in Unix seconds.
type Dated = (String, i64);

/// Deletes the snapshots `plan` says to delete (their data stays until `prune`).
pub fn forget(repo: &Repository, plan: &ForgetPlan) -> Result<(), Error> {
    for id in plan.deleted_ids() {
        repo.delete_snapshot(id)?;
    }
    Ok(())
}

/// What `prune` would remove once the snapshots `forgotten` are gone too.
pub fn prune_plan(repo: &Repository, forgotten: &[&str]) -> Result<repo::PrunePlan, Error> {
    let forgotten: HashSet<&str> = forgotten.iter().copied().collect();
    let mut used = HashSet::new();
    for listed in list(repo)? {
        if !forgotten.contains(listed.id.as_str()) {
            mark_used(repo, listed.snapshot.tree, &mut used)?;
        }
    }
    Ok(repo.prune_plan(&used)?)
}

/// Adds the tree `id` and every blob below it to `used`; a tree already there was walked.
fn mark_used(repo: &Repository, id: BlobId, used: &mut HashSet<BlobId>) -> Result<(), Error> {
    if !used.insert(id) {
        return Ok(());
    }
    for node in load_tree(repo, id)?.nodes {
        used.extend(node.content.iter().copied());
        if let Some(subtree) = node.subtree {
            mark_used(repo, subtree, used)?;
        }
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
