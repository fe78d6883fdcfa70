//! Repository locks: readers share, writers are alone.
//!
//! Taking a lock writes a lock object (`locks/<host>-<pid>-<n>`: host, pid, mode, time), then
//! lists the others: a conflicting one (an exclusive lock, or any lock when asking for an
//! exclusive one) makes the call remove its own object and fail, naming the holder. Two
//! callers racing both see each other and both fail; neither proceeds on a false belief.
//!
//! A lock is stale, and removed by whoever finds it, when its process is gone (same host,
//! the pid no longer exists) or when it was not refreshed for [`STALE_AFTER`] (another host,
//! or a hung process): a holder rewrites its lock every [`REFRESH_EVERY`] from a background
//! thread. Dropping the guard stops that thread and removes the lock.
//!
//! A backup server holds its clients' locks itself ([`Storage::lock`]): `oe serve` takes
//! them here, on its own disk, for the session that asks, naming that session's client in
//! `by`, and drops them when the session ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Error;
use super::storage::{ObjectKind, Storage};

pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Readers: `ls`, `restore`, `check`, `snapshots`.
    Shared,
    /// Writers: `run`, `forget`, `prune`.
    Exclusive,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LockInfo {
    host: String,
    pid: u32,
    mode: LockMode,
    /// Seconds since the Unix epoch when written (or last refreshed).
    time: u64,
    /// For whom, when not for this process itself: the client of a backup server's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
}

/// A lock held until dropped.
pub struct LockGuard {
    _held: Box<dyn Send + Sync>,
}

impl LockGuard {
    /// A lock held by something else than a lock object (a backup server's session), released
    /// when `held` is dropped.
    pub fn holding(held: Box<dyn Send + Sync>) -> LockGuard {
        LockGuard { _held: held }
    }
}

/// A lock object, refreshed by a thread, removed when dropped.
struct ObjectLock {
    storage: Arc<dyn Storage>,
    name: String,
    stop: Option<Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.refresher.take() {
            let _ = thread.join();
        }
        if let Err(e) = self.storage.delete(ObjectKind::Lock, &self.name) {
            tracing::warn!("cannot remove the lock {}: {e}", self.name);
        }
    }
}

/// Takes a lock of `mode` on the repository in `storage` (whose path `repo` is for messages),
/// for this process, or `by` a backup server's client.
pub fn acquire(
    storage: Arc<dyn Storage>,
    repo: &std::path::Path,
    mode: LockMode,
    by: Option<&str>,
) -> Result<LockGuard, Error> {
    if let Some(held) = storage.lock(mode, by) {
        return held;
    }
    let host = hostname();
    let pid = std::process::id();
    static TAKEN: AtomicU64 = AtomicU64::new(0);
    let n = TAKEN.fetch_add(1, Ordering::Relaxed);
    let name = format!("{}-{pid}-{n}", sanitize(&host));
    let info = LockInfo { host: host.clone(), pid, mode, time: unix_now(), by: by.map(Into::into) };
    let encode = |info: &LockInfo| serde_json::to_vec(info).expect("a lock encodes");
    storage.put(ObjectKind::Lock, &name, &encode(&info)).map_err(Error::io("writing a lock"))?;

    let others = storage.list(ObjectKind::Lock).map_err(Error::io("listing locks"))?;
    for other in others.iter().filter(|n| **n != name) {
        let Ok(bytes) = storage.get(ObjectKind::Lock, other) else { continue };
        let Ok(held) = serde_json::from_slice::<LockInfo>(&bytes) else {
            tracing::warn!("ignoring the unreadable lock {other}");
            continue;
        };
        if is_stale(&held, &host) {
            tracing::warn!("removing the stale lock of pid {} on {}", held.pid, held.host);
            let _ = storage.delete(ObjectKind::Lock, other);
            continue;
        }
        if mode == LockMode::Exclusive || held.mode == LockMode::Exclusive {
            let _ = storage.delete(ObjectKind::Lock, &name);
            let whom = match &held.by {
                Some(by) => format!("{by} (through pid {} on {})", held.pid, held.host),
                None => format!("pid {} on {}", held.pid, held.host),
            };
            return Err(Error::Locked {
                holder: format!(
                    "{whom} ({:?}, since {}s)",
                    held.mode,
                    unix_now().saturating_sub(held.time)
                ),
                path: repo.join("locks").join(other),
            });
        }
    }

    let (stop, stopped) = channel::<()>();
    let refresher = {
        let storage = Arc::clone(&storage);
        let name = name.clone();
        std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(REFRESH_EVERY)
            {
                let info = LockInfo { time: unix_now(), ..info.clone() };
                if let Err(e) = storage.put(ObjectKind::Lock, &name, &encode(&info)) {
                    tracing::warn!("cannot refresh the lock {name}: {e}");
                }
            }
        })
    };
    let held = ObjectLock { storage, name, stop: Some(stop), refresher: Some(refresher) };
    Ok(LockGuard { _held: Box::new(held) })
}

fn is_stale(held: &LockInfo, host: &str) -> bool {
    if held.host == host && !process_exists(held.pid) {
        return true;
    }
    unix_now().saturating_sub(held.time) > STALE_AFTER.as_secs()
}

fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn sanitize(host: &str) -> String {
    host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// This machine's name, for locks and snapshots.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::storage::LocalStorage;

    fn storage() -> (tempfile::TempDir, Arc<dyn Storage>) {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path());
        s.create_layout().unwrap();
        (dir, Arc::new(s))
    }

    #[test]
    fn shared_locks_coexist_and_exclude_an_exclusive_one() {
        let (dir, s) = storage();
        let a = acquire(Arc::clone(&s), dir.path(), LockMode::Shared, None).unwrap();
        let b = acquire(Arc::clone(&s), dir.path(), LockMode::Shared, None).unwrap();
        let err = acquire(Arc::clone(&s), dir.path(), LockMode::Exclusive, None).err().unwrap();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        drop((a, b));
        let x = acquire(Arc::clone(&s), dir.path(), LockMode::Exclusive, None).unwrap();
        assert!(acquire(Arc::clone(&s), dir.path(), LockMode::Shared, None).is_err());
        drop(x);
        assert!(s.list(ObjectKind::Lock).unwrap().is_empty(), "locks left behind");
    }

    #[test]
    fn the_lock_of_a_dead_process_or_an_old_one_is_taken_over() {
        let (dir, s) = storage();
        let host = hostname();
        let dead = LockInfo {
            host: host.clone(),
            pid: 999_999_999,
            mode: LockMode::Exclusive,
            time: unix_now(),
            by: None,
        };
        s.put(ObjectKind::Lock, "dead", &serde_json::to_vec(&dead).unwrap()).unwrap();
        let old = LockInfo {
            host: "elsewhere".into(),
            pid: 1,
            mode: LockMode::Exclusive,
            time: 1000,
            by: None,
        };
        s.put(ObjectKind::Lock, "old", &serde_json::to_vec(&old).unwrap()).unwrap();
        drop(acquire(Arc::clone(&s), dir.path(), LockMode::Exclusive, None).unwrap());
        let live = LockInfo {
            host,
            pid: std::process::id(),
            mode: LockMode::Exclusive,
            time: unix_now(),
            by: Some("acme.example.com pid 7".into()),
        };
        s.put(ObjectKind::Lock, "live", &serde_json::to_vec(&live).unwrap()).unwrap();
        let err = acquire(Arc::clone(&s), dir.path(), LockMode::Shared, None).err().unwrap();
        assert!(err.to_string().contains("acme.example.com pid 7 (through pid"), "{err}");
    }
}
