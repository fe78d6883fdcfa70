//! What a signal does to the work in progress.
//!
//! The driver listens for SIGINT and SIGTERM and calls [`raise`]. That records the signal and
//! sends SIGTERM to the process group of every running child, so pipes close, the threads
//! pumping them fail, and each job runs its ordinary error path (dropping its temporary
//! database, removing its partial file). Loops that move bytes without a child call
//! [`check`] to stop as well. Pure bookkeeping: no signal handler is installed here.

use std::collections::HashSet;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static CHILDREN: Mutex<Option<HashSet<i32>>> = Mutex::new(None);
static RAISED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Records `signal` and stops every registered child.
pub fn raise(signal: i32) {
    SIGNAL.store(signal, Ordering::SeqCst);
    signal_children(libc::SIGTERM);
    RAISED.notify_waiters();
}

/// Kills every registered child's process group outright: for children still running when
/// the grace period after a signal is over.
pub fn kill_children() {
    signal_children(libc::SIGKILL);
}

fn signal_children(signal: i32) {
    let children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    for &pid in children.iter().flatten() {
        signal_group(pid, signal);
    }
}

/// Resolves once a signal was received: for jobs that must clean up without waiting for a
/// thread blocked on input that may never come (a silent pipe on stdin).
pub async fn raised() -> i32 {
    loop {
        // Registered before the check, so a signal in between still wakes it.
        let notified = RAISED.notified();
        if let Some(signal) = signal() {
            return signal;
        }
        notified.await;
    }
}

/// The signal received, if any.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// An error if a signal was received: for loops that move bytes on their own.
///
/// Its kind is deliberately not `Interrupted`: `read_to_end`, `read_exact`, `io::copy` and
/// every well-behaved read loop retry on `Interrupted` (it means EINTR), so such an error
/// would make them spin forever instead of stopping.
pub fn check() -> io::Result<()> {
    match signal() {
        None => Ok(()),
        Some(signal) => Err(io::Error::other(format!("interrupted by {}", signal_name(signal)))),
    }
}

/// The conventional name of a signal number.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Tracks a child that leads its own process group; stops it at once if a signal came first.
pub(crate) fn register(pid: i32) {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    children.get_or_insert_with(HashSet::new).insert(pid);
    if signal().is_some() {
        signal_group(pid, libc::SIGTERM);
    }
}

/// Forgets a child that has been waited for (its pid may be reused from now on).
pub(crate) fn unregister(pid: i32) {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(children) = children.as_mut() {
        children.remove(&pid);
    }
}

fn signal_group(pid: i32, signal: i32) {
    // SAFETY: killpg has no memory-safety preconditions; the group is one we created and
    // have not reaped yet, so its id cannot have been reused.
    unsafe {
        libc::killpg(pid, signal);
    }
}
