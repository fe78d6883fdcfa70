//! The state file: per job, the run in progress, the last run with its result database by
//! database, and when each last succeeded. JSON, rewritten atomically (mode 0600) whenever a
//! run starts or ends, so `oe status` can read it at any time, and a restarted daemon knows
//! what it missed.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::atomic::{AtomicFile, create_private_parent};
use crate::exit::{ExitCode, ExitStatus};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub jobs: BTreeMap<String, JobState>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct JobState {
    /// Set while a run is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<Running>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    /// When each database (or directory) was last done without error, and its bytes then.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, ItemSuccess>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub started: Timestamp,
    pub pid: u32,
}

/// One finished run of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub job: String,
    /// `backup`, `mirror` or `restore_test`.
    pub kind: String,
    pub host: String,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub seconds: f64,
    pub result: Outcome,
    /// What failed, in one line (the job's own error, or the failed items named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each database (or directory) the job worked on.
    #[serde(default)]
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    /// Stopped by a signal before it finished.
    Interrupted,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Interrupted => "interrupted",
        })
    }
}

/// A database or directory of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub name: String,
    pub ok: bool,
    pub seconds: f64,
    /// Bytes written (backup), restored (restore test) or new in the repository (mirror).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// What was made or checked: the backup file, the snapshot, the checks passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemSuccess {
    pub time: Timestamp,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the state file {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("the state file {} is not valid: {message}; move it away to start afresh", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the state file {}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => source.exit_code(),
            Error::Invalid { .. } => ExitCode::BadInput,
        }
    }
}

impl State {
    /// Reads `path`; a missing file is an empty state.
    pub fn read(path: &Path) -> Result<State, Error> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => return Err(Error::Read { path: path.into(), source }),
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid { path: path.into(), message: e.to_string() })
    }

    /// Writes `path` atomically, creating its directory (0700) if needed.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let write = || -> io::Result<()> {
            create_private_parent(path)?;
            let mut out = AtomicFile::create(path)?;
            out.write_all(&serde_json::to_vec_pretty(self).map_err(io::Error::other)?)?;
            out.write_all(b"\n")?;
            out.commit()
        };
        write().map_err(|source| Error::Write { path: path.into(), source })
    }

    /// Records that `job` started.
    pub fn start(&mut self, job: &str, started: Timestamp) {
        let entry = self.jobs.entry(job.to_owned()).or_default();
        entry.running = Some(Running { started, pid: std::process::id() });
    }

    /// Records a finished run.
    pub fn finish(&mut self, run: &Run) {
        let entry = self.jobs.entry(run.job.clone()).or_default();
        entry.running = None;
        if run.result == Outcome::Success {
            entry.last_success = Some(run.finished);
        }
        for item in run.items.iter().filter(|i| i.ok) {
            let success =
                ItemSuccess { time: run.finished, seconds: item.seconds, bytes: item.bytes };
            entry.items.insert(item.name.clone(), success);
        }
        entry.last = Some(run.clone());
    }

    /// Forgets the runs in progress of processes that are gone.
    pub fn clear_dead(&mut self) {
        for job in self.jobs.values_mut() {
            if job.running.as_ref().is_some_and(|r| !alive(r.pid)) {
                job.running = None;
            }
        }
    }
}

/// Whether process `pid` exists.
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Holds `<state file>.lock` (flock) until dropped: one writer of the state file at a time.
pub fn lock(path: &Path) -> Result<std::fs::File, Error> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let fail = |source| Error::Write { path: lock_path.clone(), source };
    create_private_parent(path).map_err(fail)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(fail)?;
    // SAFETY: flock on a descriptor we own; blocking is fine, writers hold it for milliseconds.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(result: Outcome, items: Vec<Item>) -> Run {
        Run {
            job: "nightly".into(),
            kind: "backup".into(),
            host: "h".into(),
            started: "2026-11-30T02:00:00Z".parse().unwrap(),
            finished: "2026-11-30T02:10:00Z".parse().unwrap(),
            seconds: 600.0,
            result,
            error: None,
            items,
        }
    }

    fn item(name: &str, ok: bool) -> Item {
        Item { name: name.into(), ok, seconds: 1.0, bytes: Some(10), detail: None, error: None }
    }

    #[test]
    fn finishing_records_successes_item_by_item() {
        let mut state = State::default();
        state.start("nightly", "2026-11-30T02:00:00Z".parse().unwrap());
        assert!(state.jobs["nightly"].running.is_some());
        state.finish(&run(Outcome::Failure, vec![item("a", true), item("b", false)]));
        let job = &state.jobs["nightly"];
        assert!(job.running.is_none());
        assert!(job.last_success.is_none(), "a failed run is no success");
        assert!(job.items.contains_key("a") && !job.items.contains_key("b"));
        state.finish(&run(Outcome::Success, vec![item("b", true)]));
        assert!(state.jobs["nightly"].last_success.is_some());
        assert_eq!(state.jobs["nightly"].items.len(), 2);
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert!(State::read(&path).unwrap().jobs.is_empty());
        let mut state = State::default();
        state.finish(&run(Outcome::Success, vec![item("a", true)]));
        state.write(&path).unwrap();
        let read = State::read(&path).unwrap();
        assert_eq!(read.jobs["nightly"].last.as_ref().unwrap().result, Outcome::Success);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, "{not json").unwrap();
        assert!(State::read(&path).unwrap_err().to_string().contains("move it away"));
    }
}
