//! The installation's settings: the YAML file (`file`), and the resolved values jobs use
//! (`settings`), with every default applied in one place.
//!
//! The file is found at `--config PATH`, else `$OE_CONFIG`, else
//! `$XDG_CONFIG_HOME/oe/config.yml` (`~/.config/oe/config.yml`). It is written atomically with
//! mode 0600, since it may hold passwords. No I/O beyond reading and writing that file.

pub mod daemon;
pub mod file;
pub mod settings;

pub use file::{ConfigFile, Environment, Switch};
pub use settings::{PgSettings, Service, Settings};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write config {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "service '{name}' is not configured in {} (configured: {known}); add it under 'services:'",
        path.display()
    )]
    UnknownService { name: String, path: PathBuf, known: String },
    #[error(
        "no database given: pass -d DB, or set one with 'oe config --database DB' (or --client)"
    )]
    NoDatabase,
    #[error("invalid database name '{name}': {reason}")]
    BadDatabaseName { name: String, reason: &'static str },
    #[error("invalid config {}: mirror directory '{dir}': {message}", path.display())]
    MirrorDir { path: PathBuf, dir: String, message: String },
    #[error(
        "no mirror repository: pass one, or set 'mirror: {{repository: PATH}}' in {}",
        path.display()
    )]
    NoRepository { path: PathBuf },
    #[error("no directory to mirror: add 'mirror: {{dirs: {{/path: {{}}}}}}' to {} or pass --dirs-file", path.display())]
    NoMirrorDirs { path: PathBuf },
    #[error("'{dir}' is not a configured mirror directory (configured: {known})")]
    UnknownMirrorDir { dir: String, known: String },
}
