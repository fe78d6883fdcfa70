//! The jobs: one module per user-level operation, each a short function chaining the steps
//! of the adapters (`pg`, `process`, `odoo`, `repo`, `atomic`) over the pure codecs and rules.
//! A job takes a request value and returns a summary value or a typed error; it never
//! prints (the drivers do) and never decides an exit code (its error type does, through
//! [`crate::exit::ExitStatus`]).

pub mod backup;
pub mod clean;
pub mod db;
pub mod deploy;
pub mod load;
pub mod load_db;
pub mod mirror;
pub mod neutralize;
pub mod restore;
pub mod save;
pub mod save_db;
pub mod swap;
pub mod verify;
