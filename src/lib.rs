//! `oe`: the operations tool for people who host Odoo.
//!
//! Layout, from the top down (dependencies only point downward; nothing imports `cli`):
//!
//! - drivers: [`cli`] (clap types, one file per subcommand, signals), [`daemon`] (the
//!   nightly service: schedules, state, notifications) and `main.rs`;
//! - jobs: [`dump`] (`save-db`), [`load`] (`load-db`, `load`, `restore`), [`save`],
//!   [`backup`], [`verify`], [`neutralize`], [`clean`] (what killed runs left),
//!   [`mirror`] (`mirror::job`, `mirror::run`, `mirror::restore`): short functions chaining
//!   steps;
//! - adapters: [`pg`] (the only module talking to PostgreSQL or running its tools),
//!   [`process`] (the only module spawning children), [`atomic`] (files that appear whole),
//!   [`odoo`] (archive layout, manifest, filestore, neutralization), `mirror::repo` (the
//!   snapshot repository and its storage);
//! - pure: [`pipeline`] (format detection, codecs, meters, spill buffers), [`config`] (settings),
//!   [`retention`] (keep rules), [`schedule`] (cron schedules), `mirror::filter` (rsync's
//!   rules), [`exit`] (exit codes), [`output`] (the only module writing to stdout).

pub mod atomic;
pub mod backup;
pub mod clean;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dump;
pub mod exit;
pub mod load;
pub mod mirror;
pub mod neutralize;
pub mod odoo;
pub mod output;
pub mod pg;
pub mod pipeline;
pub mod process;
pub mod retention;
pub mod save;
pub mod schedule;
pub mod verify;
