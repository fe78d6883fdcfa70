//! Child processes: the only module that spawns programs.
//!
//! A child is a stream with a `close()`: [`ChildReader`] reads its stdout, [`ChildWriter`]
//! writes its stdin. `close()` waits for the child, checks its exit status and returns an
//! error carrying the tail of its stderr, which is drained on a thread of its own so a chatty
//! child never blocks. Every child runs in a process group of its own and is registered in
//! [`interrupt`], so a signal received by `oe` stops all of them (and so unblocks the threads
//! that pump their pipes) before the jobs clean up.
//!
//! Programs are started with an argument vector, never through a shell. [`owner`] tells
//! whether the process that left a file behind is still running.

pub mod child;
pub mod interrupt;
pub mod owner;

pub use child::{ChildReader, ChildWriter, Error, Tool};
