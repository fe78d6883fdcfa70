//! Whether a signal asked the work to stop: the flag the drivers raise (through
//! `process::interrupt::raise`, which also stops the children) and every layer reads. Loops
//! that move bytes call [`check`]; jobs name the signal in their errors. A leaf: it imports
//! nothing of `oe`, so pure code may read it.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static RAISED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Records `signal` and wakes whoever waits in [`raised`].
pub fn set(signal: i32) {
    SIGNAL.store(signal, Ordering::SeqCst);
    RAISED.notify_waiters();
}

/// The signal received, if any.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Forgets the signal received and returns it: for a job whose clean-up must itself run
/// children and steps to completion (putting back what an update changed); it calls [`set`]
/// again once done, so the exit code still says which signal stopped it. A second signal
/// meanwhile exits at once (the driver's rule).
pub fn take() -> Option<i32> {
    match SIGNAL.swap(0, Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
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
