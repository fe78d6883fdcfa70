//! `oe daemon`: the nightly service. It runs the configured jobs (`backup`, `mirror`,
//! `restore_test`) on their cron schedules in the configured time zone, never a job twice at
//! once nor beside another run on the same database or repository (their locks), records every
//! run in a state file that `oe status` reads, and tells webhooks, commands, ping URLs and a
//! Prometheus textfile how it went.
//!
//! - `plan`: when jobs run, and which missed run is made up at start (pure);
//! - `job`: one run of a job, database by database (the work itself is the ordinary jobs:
//!   `backup`, `load`, `verify`, `mirror`);
//! - `state`: the state file;
//! - `notify`: webhook, command, pings, metrics;
//! - `service`: the loop, its signals and the configuration reload;
//! - `cutoff`: the mail-port cutoffs of staging installations, kept in place.

pub mod cutoff;
mod error;
pub mod job;
pub mod notify;
pub mod plan;
pub mod service;
pub mod state;

pub use error::Error;
