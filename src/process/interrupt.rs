//! What a signal does to the children in progress.
//!
//! The driver listens for SIGINT and SIGTERM and calls [`raise`]. That records the signal
//! (in [`crate::stop`], which every layer reads) and sends SIGTERM to the process group of
//! every running child, so pipes close, the threads pumping them fail, and each job runs its
//! ordinary error path (dropping its temporary database, removing its partial file). Pure
//! bookkeeping: no signal handler is installed here.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::stop;

static CHILDREN: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

/// Records `signal` and stops every registered child.
pub fn raise(signal: i32) {
    stop::set(signal);
    signal_children(libc::SIGTERM);
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

/// Tracks a child that leads its own process group; stops it at once if a signal came first.
pub(crate) fn register(pid: i32) {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    children.get_or_insert_with(HashSet::new).insert(pid);
    if stop::signal().is_some() {
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
