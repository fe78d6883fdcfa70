//! `oe`: the operations tool for people who host Odoo.
//!
//! The map, from the top down; dependencies only point downward:
//!
//! - drivers: [`cli`] (clap types, one file per command, `output`: the only writer to
//!   stdout) and [`daemon`] (the nightly service); nothing imports `cli`, only `cli` imports
//!   `daemon`;
//! - [`jobs`]: one module per user-level operation (save, save_db, load, load_db, backup,
//!   restore, verify, neutralize, clean, db, mirror, deploy: install, start, update, test),
//!   each a request in and a summary or a typed error out;
//! - adapters, the only code touching the system: [`pg`] (PostgreSQL and its tools),
//!   [`process`] (children and signals), [`odoo`] (archive layout, manifest, filestore,
//!   neutralization, client manifests, addon checksums, Odoo's log), [`repo`] (the snapshot repository and its storage),
//!   [`remote`] (repositories on a backup server: `oe serve`, the ssh client, their protocol),
//!   [`mail`] (the mail catcher: its SMTP server and Maildir),
//!   [`server`] (the backup server's root, clients and keys), [`deploy`] (Docker, the
//!   client's repositories through `git`, the layout, containers and nginx site of an
//!   installation, the addons inside an image, the mail-port cutoff through iptables or
//!   nftables), [`atomic`] (files that appear whole);
//! - pure: [`codec`] (bzip2, zip), [`pipeline`] (format detection, compression stages,
//!   meters), [`plumbing`] (the one worker pool, the background writer, spill files),
//!   [`config`] (settings), [`rules`] (retention, schedules, rsync's exclude rules);
//! - leaves every layer reads: [`exit`] (exit codes and the `ExitStatus` trait every error
//!   implements) and [`stop`] (whether a signal asked the work to stop).

pub mod atomic;
pub mod cli;
pub mod codec;
pub mod config;
pub mod daemon;
pub mod deploy;
pub mod exit;
pub mod jobs;
pub mod mail;
pub mod odoo;
pub mod pg;
pub mod pipeline;
pub mod plumbing;
pub mod process;
pub mod remote;
pub mod repo;
pub mod rules;
pub mod server;
pub mod stop;
#[cfg(test)]
mod testing;
