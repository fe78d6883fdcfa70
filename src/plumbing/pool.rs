//! The one pool of worker threads behind every parallel stage: the zip writer's compression,
//! the gzip and bzip2 block encoders, the parallel bzip2 decoder and the mirror's chunk
//! storing.
//!
//! [`Pool::submit`] hands a job to the workers and returns a [`Ticket`] for its result; a
//! caller that waits on its tickets in the order it submitted the jobs gets the results in that
//! order, whichever worker finished first. That is how every user writes its output in input
//! order; a ticket can also travel to another thread (the bzip2 decoder's reader thread submits,
//! the reading side waits) or be waited on out of order (the mirror's walk waits for a
//! subdirectory's chunks before those of files listed earlier).
//!
//! - Memory: at most `queue` jobs wait for a worker; `submit` blocks beyond that. Finished
//!   results wait in their ticket, so the caller bounds them by the tickets it keeps (every
//!   user keeps a bounded queue of them).
//! - State: each worker builds its own state (a zlib compressor, a bzip2 decoder's tables) with
//!   the `state` function, once, and keeps it from job to job.
//! - Panics: a job that panics is answered with [`Error::Panicked`], carrying the panic's
//!   message, in its place in the order; the worker drops its state (it may be half updated),
//!   builds a new one for its next job and carries on. A ticket is always answered: by its
//!   result, by `Panicked`, or by [`Error::Stopped`] if its job was dropped unrun, so no wait
//!   can hang.
//! - Stopping: dropping the pool closes the queue and joins the workers. Jobs whose ticket was
//!   dropped are skipped unrun, so dropping the tickets and then the pool stops quickly; a job
//!   whose ticket is still held is run, so that the ticket gets its result.
//!
//! Must not: lose or reorder a result, block a worker on its caller, or leave a thread behind.

use std::any::Any;
use std::io;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle, Scope, ScopedJoinHandle};

use crate::exit::{ExitCode, ExitStatus};

/// Why a job has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The job panicked on a worker thread: a bug in `oe`, not in the input.
    #[error("worker thread {thread} panicked: {message}")]
    Panicked { thread: String, message: String },
    /// The job was dropped without being run: the workers could not be started or stopped.
    #[error("the worker threads stopped: {0}")]
    Stopped(String),
}

impl From<Error> for io::Error {
    /// An I/O error of kind `Other` that keeps the pool's error as its inner error, so that
    /// [`Error::of_io`] finds it again (exit codes tell a panic from a broken disk).
    fn from(error: Error) -> io::Error {
        io::Error::other(error)
    }
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Failure
    }
}

/// The code of an I/O error: a worker's panic, however a job wraps it, is a failure of `oe`
/// itself (1); broken input is the user's file (4); anything else from the file system is an
/// I/O failure (7).
impl ExitStatus for io::Error {
    fn exit_code(&self) -> ExitCode {
        if let Some(error) = Error::of_io(self) {
            return error.exit_code();
        }
        if let Some(error) = crate::remote::client::Error::of_io(self) {
            return error.exit_code();
        }
        if let Some(error) = crate::remote::s3::Error::of_io(self) {
            return error.exit_code();
        }
        match self.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => ExitCode::BadInput,
            _ => ExitCode::Io,
        }
    }
}

impl Error {
    /// The pool's error inside `error`, if `error` came from one.
    pub fn of_io(error: &io::Error) -> Option<&Error> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }
}

/// Worker threads running one kind of job; see the module documentation.
pub struct Pool<'scope, In, Out> {
    queue: Option<SyncSender<Task<In, Out>>>,
    workers: Vec<Worker<'scope>>,
    /// Why no worker could be started, if none could.
    unstarted: Option<String>,
}

/// What a worker thread runs.
type Body<'scope> = Box<dyn FnOnce() + Send + 'scope>;

enum Worker<'scope> {
    Owned(JoinHandle<()>),
    Scoped(ScopedJoinHandle<'scope, ()>),
}

/// A job and where its result goes.
struct Task<In, Out> {
    input: In,
    reply: Reply<Out>,
}

impl<In: Send + 'static, Out: Send + 'static> Pool<'static, In, Out> {
    /// Starts `threads` workers (at least one) named `name-N`, with at most `queue` jobs
    /// waiting for them. Each worker calls `state` once before its first job, then `work` for
    /// each job.
    pub fn new<S, F, W>(name: &str, threads: usize, queue: usize, state: F, work: W) -> Self
    where
        F: Fn() -> S + Send + Sync + 'static,
        W: Fn(&mut S, In) -> Out + Send + Sync + 'static,
    {
        Pool::start(name, threads, queue, state, work, |builder, body| {
            builder.spawn(body).map(Worker::Owned)
        })
    }
}

impl<'scope, In: Send + 'scope, Out: Send + 'scope> Pool<'scope, In, Out> {
    /// Like [`Pool::new`], with workers in `scope`, so that `state` and `work` may borrow
    /// from outside it. The pool must be dropped before the scope ends.
    pub fn scoped<'env, S, F, W>(
        scope: &'scope Scope<'scope, 'env>,
        name: &str,
        threads: usize,
        queue: usize,
        state: F,
        work: W,
    ) -> Self
    where
        F: Fn() -> S + Send + Sync + 'scope,
        W: Fn(&mut S, In) -> Out + Send + Sync + 'scope,
    {
        Pool::start(name, threads, queue, state, work, |builder, body| {
            builder.spawn_scoped(scope, body).map(Worker::Scoped)
        })
    }

    fn start<S, F, W>(
        name: &str,
        threads: usize,
        queue: usize,
        state: F,
        work: W,
        spawn: impl Fn(thread::Builder, Body<'scope>) -> io::Result<Worker<'scope>>,
    ) -> Self
    where
        F: Fn() -> S + Send + Sync + 'scope,
        W: Fn(&mut S, In) -> Out + Send + Sync + 'scope,
    {
        let (sender, receiver) = sync_channel(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let job = Arc::new((state, work));
        let mut workers = Vec::with_capacity(threads.max(1));
        let mut unstarted = None;
        for number in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let job = Arc::clone(&job);
            let builder = thread::Builder::new().name(format!("{name}-{number}"));
            let body = Box::new(move || run_worker(&receiver, &job.0, &job.1));
            match spawn(builder, body) {
                Ok(worker) => workers.push(worker),
                // Fewer workers are slower, not wrong.
                Err(e) => {
                    tracing::debug!("cannot start a {name} worker thread: {e}");
                    unstarted.get_or_insert_with(|| format!("cannot start a thread: {e}"));
                }
            }
        }
        // Without any worker the queue's receiver is gone with the closures: `submit` fails.
        let unstarted = workers.is_empty().then(|| unstarted.unwrap_or_default());
        Pool { queue: Some(sender), workers, unstarted }
    }

    /// Queues `input` for a worker, waiting while `queue` jobs already wait; its result comes
    /// through the ticket.
    pub fn submit(&self, input: In) -> Result<Ticket<Out>, Error> {
        let slot = Arc::new(Slot { answer: Mutex::new(None), answered: Condvar::new() });
        let task = Task { input, reply: Reply { slot: Some(Arc::clone(&slot)) } };
        let queue = self.queue.as_ref().ok_or_else(|| Error::Stopped("pool closed".into()))?;
        queue.send(task).map_err(|_| {
            Error::Stopped(self.unstarted.clone().unwrap_or_else(|| "no worker is left".into()))
        })?;
        Ok(Ticket { slot })
    }
}

impl<In, Out> Drop for Pool<'_, In, Out> {
    fn drop(&mut self) {
        // Workers finish the queued jobs whose ticket is held, skip the others, then see the
        // queue closed.
        self.queue = None;
        for worker in self.workers.drain(..) {
            // A worker catches every panic of a job; one of its own would be reported by the
            // panic hook already, and nothing is left to answer.
            let _ = match worker {
                Worker::Owned(handle) => handle.join(),
                Worker::Scoped(handle) => handle.join(),
            };
        }
    }
}

/// A worker's life: jobs until the queue closes, each in `catch_unwind`.
fn run_worker<In, Out, S>(
    queue: &Mutex<Receiver<Task<In, Out>>>,
    state: &(impl Fn() -> S + ?Sized),
    work: &(impl Fn(&mut S, In) -> Out + ?Sized),
) {
    let mut kept: Option<S> = None;
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Task { input, reply }) = next else { return };
        if !reply.wanted() {
            continue;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let state = kept.get_or_insert_with(state);
            work(state, input)
        }));
        match outcome {
            Ok(out) => reply.send(Ok(out)),
            Err(payload) => {
                kept = None;
                let thread = thread::current().name().unwrap_or("unnamed").to_owned();
                reply.send(Err(Error::Panicked { thread, message: panic_message(&*payload) }));
            }
        }
    }
}

/// The text a panic was raised with, when it has one (it does for `panic!`, `expect`, …).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Where one job's result is put, once.
struct Slot<Out> {
    answer: Mutex<Option<Result<Out, Error>>>,
    answered: Condvar,
}

/// The worker's side of a slot. Dropped unanswered (its job dropped unrun), it answers
/// [`Error::Stopped`], so that the ticket's wait ends.
struct Reply<Out> {
    slot: Option<Arc<Slot<Out>>>,
}

impl<Out> Reply<Out> {
    /// Whether the ticket still exists (a ticket dropped meanwhile only costs a wasted job).
    fn wanted(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| Arc::strong_count(slot) > 1)
    }

    fn send(mut self, answer: Result<Out, Error>) {
        if let Some(slot) = self.slot.take() {
            *slot.answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
            slot.answered.notify_one();
        }
    }
}

impl<Out> Drop for Reply<Out> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let mut answer = slot.answer.lock().unwrap_or_else(PoisonError::into_inner);
            if answer.is_none() {
                *answer = Some(Err(Error::Stopped("a job was dropped before it ran".into())));
            }
            slot.answered.notify_one();
        }
    }
}

/// The promise of one job's result. Dropping it tells the workers the result is not wanted.
pub struct Ticket<Out> {
    slot: Arc<Slot<Out>>,
}

impl<Out> Ticket<Out> {
    /// Waits for the job's result.
    pub fn wait(self) -> Result<Out, Error> {
        let mut answer = self.slot.answer.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = answer.take() {
                return result;
            }
            answer = self.slot.answered.wait(answer).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Runs `test` on a thread and fails if it does not end within a minute: a regression
/// must fail the test, not hang the suite.
#[cfg(test)]
pub(crate) fn within_a_minute<T: Send + 'static>(test: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = std::sync::mpsc::channel();
    let runner = thread::spawn(move || {
        let _ = done.send(test());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(value) => {
            runner.join().unwrap();
            value
        }
        // The test panicked: show its panic.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match runner.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the test sent nothing and did not panic"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("hung for a minute"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use crate::plumbing::pool::within_a_minute;

    /// Squares, slower for small numbers so that results finish out of order.
    fn slow_square(_: &mut (), n: u64) -> u64 {
        thread::sleep(Duration::from_millis(if n % 3 == 0 { 5 } else { 0 }));
        n * n
    }

    #[test]
    fn results_come_back_in_submission_order() {
        within_a_minute(|| {
            for threads in [1, 2, 5] {
                let pool = Pool::new("test", threads, 2, || (), slow_square);
                let mut tickets = VecDeque::new();
                let mut results = Vec::new();
                for n in 0..200 {
                    if tickets.len() >= 2 * threads {
                        let ticket: Ticket<u64> = tickets.pop_front().unwrap();
                        results.push(ticket.wait().unwrap());
                    }
                    tickets.push_back(pool.submit(n).unwrap());
                }
                results.extend(tickets.into_iter().map(|t| t.wait().unwrap()));
                let expected: Vec<u64> = (0..200).map(|n| n * n).collect();
                assert_eq!(results, expected, "{threads} threads");
            }
        });
    }

    #[test]
    fn each_worker_keeps_its_state() {
        within_a_minute(|| {
            let built = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&built);
            let state = move || {
                counter.fetch_add(1, Ordering::SeqCst);
                0u64
            };
            let pool = Pool::new("test", 3, 3, state, |jobs_seen: &mut u64, n: u64| {
                *jobs_seen += 1;
                (n, *jobs_seen)
            });
            let tickets: Vec<_> = (0..100).map(|n| pool.submit(n).unwrap()).collect();
            let results: Vec<(u64, u64)> = tickets.into_iter().map(|t| t.wait().unwrap()).collect();
            drop(pool);
            let states = built.load(Ordering::SeqCst);
            assert!((1..=3).contains(&states), "{states} states for 3 workers");
            // Every state saw a run of jobs, 1, 2, 3…: the counts sum to the job count only
            // if no state was built per job.
            let firsts = results.iter().filter(|(_, seen)| *seen == 1).count();
            assert_eq!(firsts, states);
            assert_eq!(
                results.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                (0..100).collect::<Vec<_>>()
            );
        });
    }

    #[test]
    fn a_panic_is_an_error_in_its_place_and_the_pool_carries_on() {
        within_a_minute(|| {
            let pool = Pool::new(
                "test",
                2,
                2,
                || 0u32,
                |uses: &mut u32, n: u64| {
                    *uses += 1;
                    assert!(n != 7, "job {n} refuses");
                    (n, *uses)
                },
            );
            let tickets: Vec<_> = (0..20).map(|n| pool.submit(n).unwrap()).collect();
            for (n, ticket) in (0..20).zip(tickets) {
                match ticket.wait() {
                    Ok((m, _)) => assert_eq!(m, n),
                    Err(Error::Panicked { thread, message }) => {
                        assert_eq!(n, 7);
                        assert_eq!(message, "job 7 refuses");
                        assert!(thread.starts_with("test-"), "{thread}");
                    }
                    Err(other) => panic!("job {n}: {other}"),
                }
            }
            // The panicking worker started again from a new state; with one worker that shows.
            let single = Pool::new(
                "test",
                1,
                1,
                || 0u32,
                |uses: &mut u32, n: u64| {
                    *uses += 1;
                    assert!(n != 1, "boom");
                    *uses
                },
            );
            let tickets: Vec<_> = (0..3).map(|n| single.submit(n).unwrap()).collect();
            let results: Vec<_> = tickets.into_iter().map(Ticket::wait).collect();
            assert_eq!(results[0], Ok(1));
            assert!(
                matches!(&results[1], Err(Error::Panicked { message, .. }) if message == "boom")
            );
            assert_eq!(results[2], Ok(1));
        });
    }

    #[test]
    fn a_panic_reads_as_a_panic_through_io_errors() {
        within_a_minute(|| {
            let pool = Pool::new(
                "zip",
                1,
                1,
                || (),
                |_: &mut (), _: ()| -> u8 { panic!("{}", String::from("formatted message")) },
            );
            let error = io::Error::from(pool.submit(()).unwrap().wait().unwrap_err());
            let text = error.to_string();
            assert!(text.contains("worker thread zip-0 panicked: formatted message"), "{text}");
            assert!(matches!(Error::of_io(&error), Some(Error::Panicked { .. })));
            assert!(Error::of_io(&io::Error::other("disk")).is_none());
        });
    }

    #[test]
    fn dropping_tickets_then_the_pool_skips_their_jobs() {
        within_a_minute(|| {
            let ran = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&ran);
            let (gate, opened) = std::sync::mpsc::channel::<()>();
            let opened = Mutex::new(opened);
            let pool = Pool::new(
                "test",
                1,
                10,
                || (),
                move |_: &mut (), first: bool| {
                    if first {
                        // Holds the only worker until the other tickets are dropped.
                        opened.lock().unwrap().recv().unwrap();
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                },
            );
            let first = pool.submit(true).unwrap();
            let rest: Vec<_> = (0..10).map(|_| pool.submit(false).unwrap()).collect();
            drop(rest);
            gate.send(()).unwrap();
            first.wait().unwrap();
            drop(pool);
            assert_eq!(ran.load(Ordering::SeqCst), 1, "jobs without a ticket ran");
        });
    }

    #[test]
    fn dropping_the_pool_answers_every_held_ticket() {
        within_a_minute(|| {
            let pool = Pool::new("test", 2, 8, || (), slow_square);
            let tickets: Vec<_> = (0..8).map(|n| pool.submit(n).unwrap()).collect();
            drop(pool);
            let results: Vec<u64> = tickets.into_iter().map(|t| t.wait().unwrap()).collect();
            assert_eq!(results, (0..8).map(|n| n * n).collect::<Vec<_>>());
        });
    }

    #[test]
    fn a_job_dropped_unrun_answers_stopped() {
        let slot = Arc::new(Slot { answer: Mutex::new(None), answered: Condvar::new() });
        let reply: Reply<u8> = Reply { slot: Some(Arc::clone(&slot)) };
        drop(reply);
        assert!(matches!(Ticket { slot }.wait(), Err(Error::Stopped(_))));
    }

    /// The mirror's walk: workers borrow from the caller's stack, and tickets are waited on in
    /// nested order (a subdirectory's before its parent's earlier files).
    #[test]
    fn scoped_workers_borrow_and_tickets_wait_in_any_order() {
        within_a_minute(|| {
            let offset = 1000u64;
            let borrowed = &offset;
            thread::scope(|scope| {
                let pool =
                    Pool::scoped(scope, "test", 2, 4, || (), |_: &mut (), n: u64| n + borrowed);
                let parent: Vec<_> = (0..3).map(|n| pool.submit(n).unwrap()).collect();
                let child: Vec<_> = (10..13).map(|n| pool.submit(n).unwrap()).collect();
                let child: Vec<u64> = child.into_iter().map(|t| t.wait().unwrap()).collect();
                let parent: Vec<u64> = parent.into_iter().map(|t| t.wait().unwrap()).collect();
                assert_eq!(child, [1010, 1011, 1012]);
                assert_eq!(parent, [1000, 1001, 1002]);
                drop(pool);
            });
        });
    }
}
