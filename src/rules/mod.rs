//! Pure rules, decided without touching the system: which backups and snapshots to keep
//! ([`retention`]), when a job runs ([`schedule`]), which paths a mirror skips (rsync's
//! exclude rules, [`filter`]).

pub mod filter;
pub mod retention;
pub mod schedule;
