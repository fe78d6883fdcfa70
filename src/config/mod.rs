//! The installation's settings: the YAML file (`file`), and the resolved values jobs use
//! (`settings`), with every default applied in one place.
//!
//! The file is found at `--config PATH`, else `$OE_CONFIG`, else
//! `$XDG_CONFIG_HOME/oe/config.yml` (`~/.config/oe/config.yml`). It is written atomically with
//! mode 0600, since it may hold passwords. No I/O beyond reading and writing that file, and
//! reading the PostgreSQL settings `oe install` recorded for this host's installation.
//!
//! A bad file is reported as `FILE:LINE: KEY: found …; accepted: …` (`diagnostic`).

pub mod daemon;
pub mod diagnostic;
mod error;
pub mod file;
pub mod location;
pub mod settings;
pub use error::Error;
pub use file::{ConfigFile, Environment, Switch};
pub use location::{Access, Location, S3Options, S3Url, SshOptions, SshUrl};
pub use settings::{PgSettings, Service, Settings};
