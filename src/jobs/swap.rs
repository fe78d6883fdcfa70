//! A finished copy put in place of a database and its filestore (`oe load`, `oe db cp`,
//! `oe stage`): the staged filestore first, then the database takes the name; when the
//! database cannot, the previous filestore comes back. What the copy replaced is set aside
//! under the run's helper names ([`Retired`]) and removed once the copy is in place: at
//! once, or during the caller's next step (`oe stage` removes it while Odoo starts on the
//! copy, instead of before). A run killed before the removal leaves helpers that `oe clean`,
//! and the next run on the database, remove. A copy that fails is [`discard`]ed.

use std::io;

use crate::odoo::filestore::{Staged, Swapped};
use crate::pg::server::derived_name;
use crate::pg::{self, Server};

#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error(transparent)]
    Filestore(io::Error),
    #[error(transparent)]
    Database(#[from] pg::Error),
}

/// The database and filestore a copy replaced, set aside until [`Retired::remove`].
#[derive(Debug, Default)]
#[must_use = "what a copy replaced stays until it is removed"]
pub struct Retired {
    database: Option<String>,
    filestore: Option<Swapped>,
}

impl Retired {
    /// Itself when `keep` (the caller removes it later), else removed now.
    pub async fn kept_or_removed(self, keep: bool, server: &Server) -> Retired {
        if keep {
            return self;
        }
        self.remove(server).await;
        Retired::default()
    }

    /// Drops the replaced database while the replaced filestore is removed. A failure is
    /// only warned of: the copy is in place, and what is left keeps its helper name.
    pub async fn remove(self, server: &Server) {
        let filestore = self.filestore.and_then(|swapped| {
            let previous = swapped.previous()?.to_path_buf();
            Some((previous, tokio::task::spawn_blocking(|| swapped.finish())))
        });
        if let Some(database) = &self.database
            && let Err(e) = server.drop(database).await
        {
            tracing::warn!("the replaced database is kept as '{database}': {e}");
        }
        if let Some((previous, removal)) = filestore
            && let Err(e) = removal.await.map_err(io::Error::other).and_then(|removed| removed)
        {
            tracing::warn!("could not remove the replaced filestore {}: {e}", previous.display());
        }
    }
}

/// Drops the temporary database of a copy that failed; a failure to drop it is only warned
/// of (the helper is the run's: `oe clean` removes it once the run is gone).
pub async fn discard(server: &Server, temporary: &str) {
    if let Err(e) = server.drop(temporary).await {
        tracing::warn!("could not drop the temporary database '{temporary}': {e}");
    }
}

/// Puts `temporary` and its `staged` filestore in place of `target`. With `replace`, an
/// existing `target` and its filestore are set aside; without, `target` must not exist.
pub async fn swap_in(
    server: &Server,
    temporary: &str,
    target: &str,
    staged: Option<Staged>,
    replace: bool,
) -> Result<Retired, SwapError> {
    let old = derived_name(target, "old");
    let name = async || match replace {
        true => Ok(server.replace(temporary, target, &old).await?.then(|| old.clone())),
        false => server.rename(temporary, target).await.map(|()| None),
    };
    let Some(staged) = staged else {
        return Ok(Retired { database: name().await?, filestore: None });
    };
    let swapped = staged.swap().map_err(SwapError::Filestore)?;
    match name().await {
        Ok(database) => Ok(Retired { database, filestore: Some(swapped) }),
        Err(e) => {
            if let Err(undo) = swapped.undo() {
                tracing::error!("could not put the previous filestore of '{target}' back: {undo}");
            }
            Err(e.into())
        }
    }
}
