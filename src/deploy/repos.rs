//! The client's git repositories, each checked out under `sources/<dir>` (the `git-repos` of
//! the client manifest): [`clone`] one, [`pull`] one, and the [`addons_path`] they make.
//!
//! Everything goes through the system `git`, run by [`crate::process`] with an argument
//! vector (`--` before URLs and paths), its stdin closed and `GIT_TERMINAL_PROMPT=0`: a
//! repository that wants a password fails instead of waiting for an answer nobody gives.
//! Only the usual transports are allowed (no `ext::`, which runs a command of the URL's).
//! Clones are shallow (`--depth` [`DEPTH`]). A clone is made in a temporary sibling directory
//! (`.<dir>.oe-clone-<pid>`) and renamed into place only once git exited 0, so a failed or
//! interrupted clone never leaves a half-made checkout where the next run would take it for a
//! whole one (what a killed process left behind is removed by the next clone). A pull only
//! ever fast-forwards, and refuses a checkout with local changes: it never throws away what
//! someone did by hand on the server.
//!
//! Must not: touch anything outside `sources/`, run a shell, or write to stdout.

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::client_manifest::GitRepo;
use crate::process::{self, Tool};

/// How many commits of history a clone gets.
pub const DEPTH: u32 = 50;

/// How many changed paths a refused pull names.
const CHANGES_SHOWN: usize = 5;

/// Files Odoo leaves in a checkout it runs from (Python's bytecode), which are not local
/// changes: `git status` is asked to overlook them.
const NOT_CHANGES: [&str; 2] = [":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/*.py[co]"];

/// The files that make a directory an Odoo module.
const MODULE_MANIFESTS: [&str; 2] = ["__manifest__.py", "__openerp__.py"];

/// How deep under a checkout directories of modules are looked for: the checkout itself (0),
/// `addons/` (1), `odoo/addons/` (2).
const ADDONS_DEPTH: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("git not found; install it (Debian: apt-get install git)")]
    GitMissing,
    #[error("cannot run git for {url}")]
    Run { url: String, source: process::Error },
    /// `stderr` is git's, trimmed; the message puts its lines on one.
    #[error("git {command} of {url} failed ({status}): {}", one_line(stderr))]
    Git { url: String, command: &'static str, status: String, stderr: String },
    #[error("reading the output of git {command} for {url}")]
    Output { url: String, command: &'static str, source: io::Error },
    #[error("'{0}' is not a plain directory name: a checkout must stay inside sources/")]
    BadDir(String),
    #[error("{what} {}", path.display())]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    #[error(
        "{} exists and is not a clone of {url} ({found}); move it away or fix the manifest",
        path.display()
    )]
    Occupied { path: PathBuf, url: String, found: String },
    #[error("{} is not cloned yet (from {url})", path.display())]
    NotCloned { path: PathBuf, url: String },
    #[error(
        "{} has local changes ({}{}); commit, stash or remove them, then pull again",
        path.display(),
        changed.join(", "),
        if *more > 0 { format!(" and {more} more") } else { String::new() }
    )]
    LocalChanges { path: PathBuf, changed: Vec<String>, more: usize },
    #[error(
        "{} is on branch '{current}', the manifest asks for '{wanted}'; check out '{wanted}' \
         or fix the manifest",
        path.display()
    )]
    OtherBranch { path: PathBuf, current: String, wanted: String },
    #[error("{} has no branch checked out (a detached HEAD); check out its branch", path.display())]
    Detached { path: PathBuf },
    #[error(
        "{} has commits that branch '{branch}' of {url} does not have (it diverged): it cannot \
         be fast-forwarded; rebase or reset it by hand",
        path.display()
    )]
    Diverged { path: PathBuf, url: String, branch: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::GitMissing => ExitCode::MissingTool,
            Error::Run { source, .. } => source.exit_code(),
            Error::Git { .. } | Error::NotCloned { .. } => ExitCode::Failure,
            Error::Output { .. } | Error::Io { .. } => ExitCode::Io,
            Error::BadDir(_) => ExitCode::Usage,
            // Something of the operator's is where the checkout should be, or a pull would
            // lose work done by hand (uncommitted changes, another branch, local commits):
            // nothing was touched, and it takes the operator's decision, as a target that
            // exists without `--force` does; a script can tell it from a failed git command.
            Error::Occupied { .. }
            | Error::LocalChanges { .. }
            | Error::OtherBranch { .. }
            | Error::Detached { .. }
            | Error::Diverged { .. } => ExitCode::Exists,
        }
    }
}

/// What [`clone`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloned {
    /// Cloned now; `head` is the commit checked out.
    Fresh { head: String },
    /// Already a clone of the same URL: left as it is.
    Present { head: String },
}

/// What [`pull`] did: the commit checked out before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub before: String,
    pub after: String,
}

impl Pulled {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// Clones `repo` into `sources/<repo.dir>`: shallow, on its branch when it names one. A
/// checkout of the same URL already there is left alone ([`Cloned::Present`]); anything
/// else there is an error, except an empty directory, which the clone replaces.
pub fn clone(repo: &GitRepo, sources: &Path) -> Result<Cloned, Error> {
    let target = checkout_dir(repo, sources)?;
    match target.symlink_metadata() {
        Ok(meta) if meta.is_dir() && is_empty_dir(&target)? => {}
        Ok(_) => {
            check_clone_of(repo, &target)?;
            return Ok(Cloned::Present { head: head(repo, &target)? });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::Io { what: "looking at", path: target, source }),
    }
    remove_stale_clones(repo, sources)?;
    let temp = sources.join(format!("{}{}", temp_prefix(repo), std::process::id()));
    remove_temp(&temp)?;
    let mut git = git().args(["clone", "--quiet", "--depth"]).arg(DEPTH.to_string());
    if let Some(branch) = &repo.branch {
        git = git.args(["--branch", branch]);
    }
    let cloned = run(git.arg("--").arg(&repo.url).arg(&temp), repo, "clone")
        .and_then(|()| head(repo, &temp))
        .and_then(|head| {
            // Over an empty directory, rename(2) replaces it.
            std::fs::rename(&temp, &target)
                .map_err(|source| Error::Io { what: "moving the clone to", path: target, source })
                .map(|()| head)
        });
    match cloned {
        Ok(head) => Ok(Cloned::Fresh { head }),
        Err(error) => {
            if let Err(e) = remove_temp(&temp) {
                tracing::warn!("{}", crate::exit::message(&e));
            }
            Err(error)
        }
    }
}

/// Brings the checkout of `repo` up to date with its branch (the manifest's, else the one
/// checked out): `git fetch`, then a fast-forward only. Refused, with nothing touched, when
/// the checkout has local changes (untracked files included, Python bytecode not), is on
/// another branch than the manifest's, or has commits of its own (it diverged).
pub fn pull(repo: &GitRepo, sources: &Path) -> Result<Pulled, Error> {
    let path = checkout_dir(repo, sources)?;
    if !path.join(".git").exists() {
        if path.exists() {
            check_clone_of(repo, &path)?;
        }
        return Err(Error::NotCloned { path, url: repo.url.clone() });
    }
    check_clone_of(repo, &path)?;
    let status = in_dir(&path).args(["status", "--porcelain", "-z", "--", "."]).args(NOT_CHANGES);
    let changed = changed_paths(&output(status, repo, "status")?);
    if !changed.is_empty() {
        let more = changed.len().saturating_sub(CHANGES_SHOWN);
        let changed = changed.into_iter().take(CHANGES_SHOWN).collect();
        return Err(Error::LocalChanges { path, changed, more });
    }
    // Fails on a detached HEAD.
    let current = in_dir(&path).args(["symbolic-ref", "--quiet", "--short", "HEAD"]);
    let current = output(current, repo, "symbolic-ref").ok().map(|b| b.trim().to_owned());
    let branch = match (&repo.branch, current) {
        (Some(wanted), Some(current)) if *wanted == current => current,
        (Some(wanted), Some(current)) => {
            return Err(Error::OtherBranch { path, current, wanted: wanted.clone() });
        }
        (None, Some(current)) => current,
        (_, None) => return Err(Error::Detached { path }),
    };
    let before = head(repo, &path)?;
    run(in_dir(&path).args(["fetch", "--quiet", "origin", "--", &branch]), repo, "fetch")?;
    let fetched = in_dir(&path).args(["rev-parse", "--verify", "FETCH_HEAD^{commit}"]);
    let fetched = output(fetched, repo, "rev-parse")?.trim().to_owned();
    if fetched != before {
        // A fast-forward needs HEAD to be where the two histories meet.
        let base = in_dir(&path).args(["merge-base", &before, &fetched]);
        if output(base, repo, "merge-base")?.trim() != before {
            return Err(Error::Diverged { path, url: repo.url.clone(), branch });
        }
        run(in_dir(&path).args(["merge", "--quiet", "--ff-only", &fetched]), repo, "merge")?;
    }
    let after = head(repo, &path)?;
    Ok(Pulled { before, after })
}

/// The commit checked out in the checkout of `repo`.
pub fn checked_out(repo: &GitRepo, sources: &Path) -> Result<String, Error> {
    head(repo, &checkout_dir(repo, sources)?)
}

/// Moves the checkout of `repo` (its branch) back to `commit`, one it had checked out before
/// a [`pull`]: `oe update`'s rollback. `git reset --keep` refuses rather than lose a local
/// change.
pub fn reset(repo: &GitRepo, sources: &Path, commit: &str) -> Result<(), Error> {
    let path = checkout_dir(repo, sources)?;
    run(in_dir(&path).args(["reset", "--quiet", "--keep", commit]), repo, "reset")
}

/// The directories holding Odoo modules (a direct subdirectory with a `__manifest__.py` or
/// `__openerp__.py`) in the checkouts of `repos`: in the manifest's order, each checkout's
/// own directory first, then its subdirectories by name, [`ADDONS_DEPTH`] levels down.
/// Hidden directories and the insides of modules are not looked into; a checkout that is not
/// there (or not readable) adds nothing. The image's own addons are the caller's.
pub fn addons_path(sources: &Path, repos: &[GitRepo]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for repo in repos {
        match checkout_dir(repo, sources) {
            Ok(dir) => collect_addons(&dir, 0, &mut found),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    found
}

fn collect_addons(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut children: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    children.sort();
    let (modules, others): (Vec<&PathBuf>, Vec<&PathBuf>) =
        children.iter().partition(|c| MODULE_MANIFESTS.iter().any(|m| c.join(m).is_file()));
    if !modules.is_empty() {
        found.push(dir.to_path_buf());
    }
    if depth < ADDONS_DEPTH {
        for child in others {
            collect_addons(child, depth + 1, found);
        }
    }
}

/// `sources/<repo.dir>`, once more checked to be a single plain name (the client manifest
/// already refuses others).
fn checkout_dir(repo: &GitRepo, sources: &Path) -> Result<PathBuf, Error> {
    let mut components = Path::new(&repo.dir).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) if !repo.dir.starts_with('-') => {
            Ok(sources.join(&repo.dir))
        }
        _ => Err(Error::BadDir(repo.dir.clone())),
    }
}

/// Fails unless `path` is a git checkout whose `origin` is `repo.url`.
fn check_clone_of(repo: &GitRepo, path: &Path) -> Result<(), Error> {
    let occupied =
        |found: String| Error::Occupied { path: path.to_path_buf(), url: repo.url.clone(), found };
    if !path.is_dir() {
        return Err(occupied("not a directory".into()));
    }
    if !path.join(".git").exists() {
        return Err(occupied("not a git checkout".into()));
    }
    let origin = in_dir(path).args(["config", "--get", "remote.origin.url"]);
    let origin = output(origin, repo, "config").map_err(|_| occupied("no origin".into()))?;
    let origin = origin.trim();
    if same_url(origin, &repo.url) { Ok(()) } else { Err(occupied(format!("a clone of {origin}"))) }
}

/// Whether two spellings name the same repository: a trailing `/` or `.git` does not count.
fn same_url(a: &str, b: &str) -> bool {
    let plain = |url: &str| {
        let url = url.trim_end_matches('/');
        url.strip_suffix(".git").unwrap_or(url).to_owned()
    };
    plain(a) == plain(b)
}

/// The commit checked out in `path`.
fn head(repo: &GitRepo, path: &Path) -> Result<String, Error> {
    let git = in_dir(path).args(["rev-parse", "--verify", "HEAD^{commit}"]);
    Ok(output(git, repo, "rev-parse")?.trim().to_owned())
}

/// The paths `git status --porcelain -z` lists (a rename's source not repeated).
fn changed_paths(status: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut entries = status.split('\0').filter(|e| !e.is_empty());
    while let Some(entry) = entries.next() {
        let (code, path) = entry.split_at(entry.len().min(3));
        paths.push(path.to_owned());
        if code.starts_with(['R', 'C']) {
            entries.next();
        }
    }
    paths
}

fn is_empty_dir(path: &Path) -> Result<bool, Error> {
    let mut entries = std::fs::read_dir(path).map_err(|source| Error::Io {
        what: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(entries.next().is_none())
}

/// The name of a clone of `repo` being made, but for the pid of the process making it.
fn temp_prefix(repo: &GitRepo) -> String {
    format!(".{}.oe-clone-", repo.dir)
}

/// Removes the unfinished clones of `repo` that a process no longer running left behind
/// (killed before it could clean up).
fn remove_stale_clones(repo: &GitRepo, sources: &Path) -> Result<(), Error> {
    let prefix = temp_prefix(repo);
    let entries = match std::fs::read_dir(sources) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io { what: "reading", path: sources.to_path_buf(), source });
        }
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let changed = entry.metadata().and_then(|m| m.modified());
        if changed.is_ok_and(|changed| !process::owner::alive(pid, changed)) {
            tracing::info!("removing {}, a clone left unfinished", entry.path().display());
            remove_temp(&entry.path())?;
        }
    }
    Ok(())
}

fn remove_temp(temp: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::Io {
            what: "removing the unfinished clone",
            path: temp.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The transports a URL of the manifest may use. The manifest comes with the client's code:
/// a transport that runs a command of the URL's choosing (`ext::`) is never allowed, whatever
/// git's configuration says.
const PROTOCOLS: &str = "file:git:http:https:ssh";

/// `git`, never prompting, with only [`PROTOCOLS`].
fn git() -> Tool {
    Tool::new("git").env("GIT_TERMINAL_PROMPT", "0").env("GIT_ALLOW_PROTOCOL", PROTOCOLS)
}

/// `git -C path`.
fn in_dir(path: &Path) -> Tool {
    git().arg("-C").arg(path)
}

/// Runs `git` to completion.
fn run(git: Tool, repo: &GitRepo, command: &'static str) -> Result<(), Error> {
    git.run().map_err(|e| failed(e, repo, command))
}

/// Runs `git` to completion and returns its stdout.
fn output(git: Tool, repo: &GitRepo, command: &'static str) -> Result<String, Error> {
    let mut child = git.spawn_reader().map_err(|e| failed(e, repo, command))?;
    let mut out = Vec::new();
    let read = child.read_to_end(&mut out);
    // Close even after a failed read: it reaps the child; its error, if any, explains more.
    child.close().map_err(|e| failed(e, repo, command))?;
    read.map_err(|source| Error::Output { url: repo.url.clone(), command, source })?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The non-empty lines of `text`, joined by `; `.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

fn failed(error: process::Error, repo: &GitRepo, command: &'static str) -> Error {
    let url = repo.url.clone();
    match error {
        process::Error::NotFound { .. } => Error::GitMissing,
        process::Error::Failed { status, stderr, .. } => {
            let stderr = stderr.trim();
            let stderr = if stderr.is_empty() { "no error output" } else { stderr };
            Error::Git { url, command, status, stderr: stderr.to_owned() }
        }
        source => Error::Run { url, source },
    }
}

#[cfg(test)]
mod tests;
