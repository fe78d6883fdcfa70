//! The command line: clap types (one file per subcommand) and the glue that runs a command
//! with signals handled. Turns arguments into resolved settings, calls the jobs, shows what
//! they return ([`output`]) and turns any error into an exit code and a message at the `?`
//! ([`failure`]); holds no business logic. Nothing imports `cli`.

pub mod args;
pub mod backup;
pub mod clean;
pub mod config;
pub mod cutoff;
pub mod daemon;
pub mod db;
pub mod deploy;
pub mod failure;
pub mod load;
pub mod load_db;
pub mod mail;
pub mod mirror;
pub mod neutralize;
pub mod output;
pub mod qa;
pub mod run;
pub mod save;
pub mod save_db;
pub mod serve;
pub mod server;
pub mod stage;
pub mod update;
pub mod verify;

pub use args::Cli;
pub use failure::{Failure, Result};
pub use run::run;
