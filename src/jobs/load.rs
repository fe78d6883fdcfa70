//! `oe load`: an Odoo backup (or custom-format dump) into a service's database and filestore,
//! under the installation's staging rules: outside production the loaded database is always
//! made a copy and neutralized before it gets its name, and keeping production's behaviour
//! (`no_neutralize`) is refused. The loading itself is [`load_db`](super::load_db)'s.

use indicatif::ProgressBar;

use super::load_db::{Error, Finishing, LoadRequest, LoadSummary, Origin, load_db};
use crate::config::{Environment, Service};
use crate::odoo::layout::filestore_dir;
use crate::pg::ConnParams;
use crate::pg::odoo::Redirect;

/// What to load, where, and what the user asked of the copy.
pub struct ArchiveRequest {
    pub service: Service,
    pub environment: Environment,
    /// A path (`-` for standard input), or a seekable input such as a file of a snapshot.
    pub input: Origin,
    pub database: String,
    pub choices: Choices,
    /// Where the copy's mail and links go (`oe stage`).
    pub redirect: Option<Redirect>,
    /// Leave what the load replaced for the caller to remove (`LoadRequest::keep_replaced`).
    pub keep_replaced: bool,
    pub threads: usize,
    pub progress: ProgressBar,
}

/// What the user asked of the load (`oe load`'s flags; `oe restore` asks only `force`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Choices {
    /// Replace an existing database and filestore, once the new ones are complete.
    pub force: bool,
    /// Make the database a copy (new identity); always so outside production.
    pub copy: bool,
    /// Neutralize the copy; always so outside production.
    pub neutralize: bool,
    /// Keep production's behaviour: refused outside production.
    pub no_neutralize: bool,
}

pub async fn load(request: ArchiveRequest) -> Result<LoadSummary, Error> {
    let ArchiveRequest {
        service,
        environment,
        input,
        database,
        choices,
        redirect,
        keep_replaced,
        threads,
        progress,
    } = request;
    let staging = environment != Environment::Production;
    if staging && choices.no_neutralize {
        return Err(Error::Unneutralized { environment });
    }
    let request = LoadRequest {
        conn: ConnParams::from_env(&service.postgres),
        filestore: Some(filestore_dir(&service.data_dir, &database)),
        database,
        input,
        force: choices.force,
        check_rows: false,
        finishing: Finishing {
            odoo: true,
            copy: choices.copy || staging,
            neutralize: choices.neutralize || staging,
            addons_path: service.addons_path,
            redirect,
        },
        keep_replaced,
        jobs: 1,
        threads,
        progress,
    };
    load_db(request).await
}
