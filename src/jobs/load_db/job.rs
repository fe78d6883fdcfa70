//! The load job: input → temporary database (and filestore) → row counts checked against
//! those the archive recorded, when asked → finishing SQL → swap.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use super::Error;
use super::input::{Input, Origin};
use super::unpack::unpack;
use crate::jobs::neutralize;
use crate::jobs::swap::{Retired, SwapError, discard, swap_in};
use crate::odoo::filestore::Staged;
use crate::pg::catalog;
use crate::pg::odoo::{OdooDb, Redirect, Redirected};
use crate::pg::server::derived_name;
use crate::pg::{Claims, ConnParams, Server, Tools};
use crate::pipeline::Payload;
use crate::pipeline::sql::{TableRows, differences};
use crate::stop;

/// What to load, where to.
pub struct LoadRequest {
    pub conn: ConnParams,
    pub database: String,
    /// A path (a file, a pipe, `-` for standard input) or a seekable input.
    pub input: Origin,
    /// The filestore directory to restore an archive's filestore into; `None` ignores it.
    pub filestore: Option<PathBuf>,
    pub force: bool,
    /// Compare the rows of every table, once loaded and before any finishing SQL changes
    /// them, with those the archive's manifest recorded (`oe save`); a difference fails the
    /// load. Archives without counts load as usual (`LoadSummary::rows_checked` is `None`).
    pub check_rows: bool,
    /// What to run on the loaded database before it gets its name.
    pub finishing: Finishing,
    /// Leave the replaced database and filestore set aside, in [`LoadSummary::retired`], for
    /// the caller to remove during its next step (`oe stage`: while Odoo starts on the copy).
    pub keep_replaced: bool,
    /// pg_restore jobs for custom-format dumps (1 = stream, no temporary file).
    pub jobs: usize,
    pub threads: usize,
    pub progress: ProgressBar,
}

/// SQL run on the temporary database before it is swapped in, so nothing (no Odoo worker,
/// no cron) ever sees the database without it.
#[derive(Debug, Clone, Default)]
pub struct Finishing {
    /// Prepare the empty database as Odoo does before loading (`pg_trgm`, and `CREATE` on
    /// schema `public` for everyone, as Odoo 17+ grants).
    pub odoo: bool,
    /// Regenerate the database's identity (`odoo::database::COPY_SQL`).
    pub copy: bool,
    /// Neutralize it (see `neutralize`), with Odoo's own files when the addons are given.
    pub neutralize: bool,
    pub addons_path: Option<Vec<PathBuf>>,
    /// Point the copy's mail at a catcher and set its base URL (`oe stage`), last.
    pub redirect: Option<Redirect>,
}

#[derive(Debug, Serialize)]
pub struct LoadSummary {
    pub database: String,
    /// The input as given: a path (`-` for standard input), or what a seekable input is.
    pub input: String,
    pub format: String,
    /// Bytes of the input read.
    pub read_bytes: u64,
    /// Files restored into the filestore, when one was restored.
    pub filestore_files: Option<u64>,
    /// Whether an existing database was replaced.
    pub replaced: bool,
    pub copied: bool,
    /// Rows the neutralization changed, when it ran.
    pub neutralized_rows: Option<u64>,
    /// Where the copy's mail and links were pointed, when asked.
    pub redirected: Option<Redirected>,
    /// With `check_rows`, when the archive recorded its rows: every table has them.
    pub rows_checked: Option<RowsChecked>,
    pub seconds: f64,
    /// What the load replaced, with `keep_replaced`: the caller removes it.
    #[serde(skip)]
    pub retired: Retired,
}

/// The tables and rows found as the archive recorded them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RowsChecked {
    pub tables: u64,
    pub rows: u64,
}

pub async fn load_db(request: LoadRequest) -> Result<LoadSummary, Error> {
    let started = Instant::now();
    let LoadRequest {
        conn,
        database,
        input,
        filestore,
        force,
        check_rows,
        finishing,
        keep_replaced,
        jobs,
        threads,
        progress,
    } = request;
    let name = input.name();
    let opened = {
        let (origin, progress) = (input.clone(), progress.clone());
        let job = tokio::task::spawn_blocking(move || Input::open(&origin, threads, progress));
        until_interrupted(job, &name).await?
    };
    let format = opened.format;
    tracing::info!("{name}: {format}");

    let server = Server::connect(&conn).await?;
    // A killed run on this database (the caller holds its lock) left something: finished or
    // undone now, before this run changes the target.
    let root = filestore.as_deref().and_then(Path::parent);
    crate::jobs::clean::settle(&conn, root, &database).await.map_err(Error::Settle)?;
    let tools = Tools::new(&conn, server.major());
    tools.locate(if format.payload == Payload::Custom { "pg_restore" } else { "psql" })?;
    let replaced = server.exists(&database).await?;
    if replaced && !force {
        return Err(Error::Exists(database));
    }
    // The helper databases' names are this run's while it lives: `oe clean` leaves them alone.
    let temporary = derived_name(&database, "tmp");
    let claims = Claims::open(&conn, &format!("oe load {database}")).await?;
    for name in [&temporary, &derived_name(&database, "old")] {
        if !claims.claim(name).await? {
            let holder = "another run".to_owned();
            return Err(crate::pg::Error::Busy { database: name.clone(), holder }.into());
        }
    }
    // An archive's filestore is staged; a bare dump leaves the filestore alone.
    let staged = match (&filestore, format.payload) {
        (Some(dir), Payload::Zip) => Some(
            Staged::create(dir).map_err(|source| Error::Filestore { path: dir.clone(), source })?,
        ),
        _ => None,
    };

    server.create(&temporary).await?;
    if finishing.odoo {
        prepare_odoo(&conn, &temporary).await;
    }
    let job = {
        let temporary = temporary.clone();
        tokio::task::spawn_blocking(move || {
            let mut staged = staged;
            let read = unpack(opened, &tools, &temporary, jobs, staged.as_mut())?;
            Ok((read, staged))
        })
    };
    let loaded = until_interrupted(job, &name).await.map_err(|e| match e {
        Error::Pg(source) => Error::Load { input: name.clone(), source },
        e => e,
    });
    progress.finish_and_clear();
    let checked = match loaded {
        Ok(((read, recorded), staged)) if check_rows => {
            let checked = compare_rows(&conn, &temporary, recorded.as_ref(), &name).await;
            checked.map(|checked| (read, staged, checked))
        }
        Ok(((read, _), staged)) => Ok((read, staged, None)),
        Err(e) => Err(e),
    };
    let finished = match checked {
        Ok((read, staged, checked)) => {
            finish(&conn, &temporary, &finishing).await.map(|rows| (read, staged, checked, rows))
        }
        Err(e) => Err(e),
    };
    let swapped = match finished {
        Ok((read, staged, checked, rows)) => {
            swap(&server, &temporary, &database, staged).await.map(|n| (read, n, checked, rows))
        }
        Err(e) => Err(e),
    };
    let (read_bytes, (filestore_files, retired), rows_checked, (neutralized_rows, redirected)) =
        match swapped {
            Ok(done) => done,
            Err(e) => {
                discard(&server, &temporary).await;
                return Err(match stop::signal() {
                    Some(signal) => Error::Interrupted(signal),
                    None => e,
                });
            }
        };
    let retired = retired.kept_or_removed(keep_replaced, &server).await;
    Ok(LoadSummary {
        database,
        input: input.given(),
        format: format.to_string(),
        read_bytes,
        filestore_files,
        replaced,
        copied: finishing.copy,
        neutralized_rows,
        redirected,
        rows_checked,
        seconds: started.elapsed().as_secs_f64(),
        retired,
    })
}

/// Counts the rows of every table `recorded` names in the loaded database `db`: an error
/// naming each table whose count differs or that is missing; `None` without counts.
async fn compare_rows(
    conn: &ConnParams,
    db: &str,
    recorded: Option<&TableRows>,
    input: &str,
) -> Result<Option<RowsChecked>, Error> {
    let Some(recorded) = recorded else {
        return Ok(None);
    };
    let counted = catalog::count_rows(conn, db, recorded).await?;
    let problems = differences(recorded, &counted);
    if !problems.is_empty() {
        return Err(Error::RowsDiffer { input: input.to_owned(), problems });
    }
    let tables = recorded.values().map(|t| t.len() as u64).sum();
    let rows = recorded.values().flat_map(|t| t.values()).sum();
    Ok(Some(RowsChecked { tables, rows }))
}

/// What Odoo runs in a database it creates; best effort, as in Odoo, where a server without
/// the extension still restores.
async fn prepare_odoo(conn: &ConnParams, db: &str) {
    let prepared = async {
        let mut odoo = OdooDb::connect(conn, db).await?;
        odoo.execute_batch(
            crate::odoo::database::PREPARE_SQL,
            "preparing the database as Odoo does",
        )
        .await
    };
    if let Err(e) = prepared.await {
        tracing::warn!("{e}");
    }
}

/// Runs the finishing SQL on the loaded temporary database; returns the rows the
/// neutralization changed, when it ran, and where the copy was pointed, when asked.
async fn finish(
    conn: &ConnParams,
    db: &str,
    finishing: &Finishing,
) -> Result<(Option<u64>, Option<Redirected>), Error> {
    let mut odoo = OdooDb::connect(conn, db).await?;
    if finishing.copy {
        odoo.execute_batch(crate::odoo::database::COPY_SQL, "making the database a copy").await?;
    }
    let rows = match finishing.neutralize {
        true => {
            let plan = neutralize::plan(conn, db, finishing.addons_path.as_deref()).await?;
            let summary = neutralize::apply(conn, db, plan).await?;
            tracing::info!("neutralized: {} rows changed", summary.rows);
            Some(summary.rows)
        }
        false => None,
    };
    let redirected = match &finishing.redirect {
        Some(redirect) => Some(odoo.redirect(redirect).await?),
        None => None,
    };
    Ok((rows, redirected))
}

/// Puts the staged filestore, then the database, in place; if the database cannot be
/// swapped, the previous filestore comes back. Returns the files restored and what the load
/// replaced.
async fn swap(
    server: &Server,
    temporary: &str,
    database: &str,
    staged: Option<Staged>,
) -> Result<(Option<u64>, Retired), Error> {
    let files = staged.as_ref().map(Staged::files);
    let retired =
        swap_in(server, temporary, database, staged, true).await.map_err(|e| match e {
            SwapError::Filestore(source) => Error::Filestore { path: database.into(), source },
            SwapError::Database(e) => e.into(),
        })?;
    Ok((files, retired))
}

/// The result of a blocking step, or `Interrupted` once a signal arrived. The signal stopped
/// the step's children, so it normally returns at once and its guards (a staged filestore, a
/// spooled dump) clean up: that is waited for, a bounded time, since the step may instead be
/// blocked reading a pipe that stays silent, and cleaning up must not wait for it.
async fn until_interrupted<T>(
    mut job: tokio::task::JoinHandle<Result<T, Error>>,
    input: &str,
) -> Result<T, Error> {
    tokio::select! {
        joined = &mut job => joined.unwrap_or_else(|e| {
            Err(Error::Open { input: input.to_owned(), source: io::Error::other(e) })
        }),
        signal = stop::raised() => {
            let _ = tokio::time::timeout(STEP_CLEAN_UP, job).await;
            Err(Error::Interrupted(signal))
        }
    }
}

/// How long an interrupted step gets to return and clean up after itself.
const STEP_CLEAN_UP: std::time::Duration = std::time::Duration::from_secs(10);
