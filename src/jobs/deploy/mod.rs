//! `oe install`, `oe pull`, `oe start`, `oe stop`, `oe run`, `oe ps`, `oe test-db`, `oe test`,
//! `oe stage`: a dockerized Odoo installation from its client manifest.
//!
//! - `install` ([`install`]) lays out `deploy.base_dir/<client>`, clones the default app and the
//!   manifest's repositories, pulls the images and records their digests, writes the managed
//!   PostgreSQL's settings, `odoo.conf` (only when missing) and nginx's configuration.
//! - `pull` ([`install::pull`]) fast-forwards the repositories and pulls the images again (or
//!   another installation's exact digests), rewriting `oe.lock`.
//! - `start`/`stop`/`run`/`ps` ([`runtime`]) create, replace, start and stop the containers
//!   from `oe.lock`; a container is replaced only once its replacement serves, and the old
//!   one is started again when it does not.
//! - [`odoo_run`] runs Odoo once in a container beside the installation's (updates, tests),
//!   its log parsed as it comes; [`qa`] makes `oe test-db`'s and `oe test`'s databases with it.
//! - [`stage`] makes a staging installation's database a safe copy of production.

pub mod install;
pub mod odoo_run;
pub mod qa;
pub mod rollback;
pub mod runtime;
pub mod stage;
pub mod update;

use std::path::PathBuf;

use crate::config::{Environment, Settings};
use crate::deploy::layout::Layout;
use crate::deploy::{engine, health, image_addons, lock, nginx, repos};
use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::client_manifest;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error("no default app: set its git URL with 'oe config --defapp URL'")]
    NoDefapp,
    #[error("defapp '{url}': {message}")]
    BadDefapp { url: String, message: String },
    #[error("client manifest {}", path.display())]
    Manifest { path: PathBuf, source: client_manifest::Error },
    #[error("cannot read the client manifest {}", path.display())]
    ReadManifest { path: PathBuf, source: std::io::Error },
    #[error(
        "the client manifest lists no '{role}' image ('docker-images': ['{role} REFERENCE', …])"
    )]
    NoImage { role: &'static str },
    #[error(
        "nginx is on but the client manifest lists no 'nginx' image: add one, or 'oe config --nginx off'"
    )]
    NoNginxImage,
    #[error("container {0} does not exist: run 'oe start'")]
    NoContainer(String),
    #[error("{} is not installed: run 'oe install' first", root.display())]
    NotInstalled { root: PathBuf },
    #[error("{what} {}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Repo(#[from] repos::Error),
    #[error(transparent)]
    Nginx(#[from] nginx::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    Health(#[from] health::Error),
    #[error(transparent)]
    Lock(#[from] lock::Error),
    #[error(transparent)]
    Pg(#[from] crate::pg::Error),
    #[error(transparent)]
    Db(Box<crate::jobs::db::Error>),
    #[error(transparent)]
    AddonHash(#[from] crate::odoo::addon_hash::Error),
    #[error(transparent)]
    ImageAddons(#[from] image_addons::Error),
    #[error(transparent)]
    OdooRun(#[from] crate::jobs::deploy::odoo_run::Error),
    #[error("no database: set one with 'oe config --database NAME'")]
    NoDatabase,
    #[error("module '{0}' is not installed: --install installs it")]
    NotInstalledModule(String),
    #[error(
        "the update of {stamp} did not finish (was oe killed?): 'oe update --rollback' puts \
         back what was before it"
    )]
    Unfinished { stamp: String },
    #[error("no update to roll back: there is no rollback point")]
    NoRollbackPoint,
    #[error("interrupted by {}", crate::stop::signal_name(*signal))]
    Interrupted { signal: i32 },
    #[error(
        "the update failed (odoo exited with {exit_code}{}); its log: {}",
        first_error.as_ref().map(|e| format!("; first error: {e}")).unwrap_or_default(),
        log.display()
    )]
    UpdateFailed { exit_code: i64, first_error: Option<String>, log: PathBuf },
    #[error(
        "the update left modules unfinished: {}; its log: {}",
        modules.join(", "),
        log.display()
    )]
    ModulesLeft { modules: Vec<String>, log: PathBuf },
    #[error("{0}; everything was put back as it was before the update")]
    RolledBack(Box<Error>),
    #[error(
        "{error}; putting back what was before the update failed too: {undo}; 'oe update \
         --rollback' tries again"
    )]
    RollbackFailed { error: Box<Error>, undo: String },
}

/// Boxed: the copy's errors are large, and every deploy function returns this type.
impl From<crate::jobs::db::Error> for Error {
    fn from(e: crate::jobs::db::Error) -> Self {
        Error::Db(Box::new(e))
    }
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(e) => e.exit_code(),
            Error::NoDefapp | Error::BadDefapp { .. } | Error::NoImage { .. } => ExitCode::Usage,
            Error::NoNginxImage | Error::NotInstalled { .. } | Error::NoContainer(_) => {
                ExitCode::Usage
            }
            Error::Manifest { .. } => ExitCode::BadInput,
            Error::ReadManifest { source, .. } | Error::Io { source, .. } => source.exit_code(),
            Error::Repo(e) => e.exit_code(),
            Error::Nginx(_) => ExitCode::Usage,
            Error::Engine(e) => e.exit_code(),
            Error::Health(e) => e.exit_code(),
            Error::Lock(e) => e.exit_code(),
            Error::Pg(e) => e.exit_code(),
            Error::Db(e) => e.exit_code(),
            Error::AddonHash(e) => e.exit_code(),
            Error::ImageAddons(e) => e.exit_code(),
            Error::OdooRun(e) => e.exit_code(),
            Error::NoDatabase | Error::NotInstalledModule(_) | Error::NoRollbackPoint => {
                ExitCode::Usage
            }
            Error::Unfinished { .. } => ExitCode::Usage,
            Error::Interrupted { signal } => ExitCode::from_signal(*signal),
            Error::UpdateFailed { .. } | Error::ModulesLeft { .. } => ExitCode::Failure,
            Error::RolledBack(e) => match **e {
                Error::Interrupted { signal } => ExitCode::from_signal(signal),
                _ => ExitCode::Failure,
            },
            Error::RollbackFailed { .. } => ExitCode::Failure,
        }
    }
}

fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { what, path, source }
}

/// What every deploy command works from: the installation and the settings that shape it.
#[derive(Debug, Clone)]
pub struct Context {
    pub layout: Layout,
    /// The default app's git URL.
    pub defapp: Option<String>,
    /// Replaces the manifest's odoo image, in development only.
    pub odoo_image: Option<String>,
    pub nginx: bool,
    pub http_port: u16,
    pub db_port: Option<u16>,
    /// The configured database (`dbfilter`), if any.
    pub database: Option<String>,
}

impl Context {
    pub fn new(settings: &Settings) -> Result<Context, Error> {
        let root = settings.installation_dir()?;
        let client = settings.file.client.clone().unwrap_or_default();
        let deploy = settings.deploy();
        Ok(Context {
            layout: Layout::new(root, &client, settings.environment()),
            defapp: settings.file.defapp.clone(),
            odoo_image: settings.file.odoo_image.clone(),
            nginx: settings.file.nginx.is_some_and(|s| s.0),
            http_port: deploy.http_port,
            db_port: deploy.db_port,
            database: settings.database(None).ok(),
        })
    }

    pub fn development(&self) -> bool {
        self.layout.environment == Environment::Development
    }
}
