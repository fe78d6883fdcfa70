//! `neutralize`: makes a staging copy of a production database safe to run, the way Odoo's
//! `odoo-bin neutralize` does (no mail out, no scheduled actions, no live payments, webhooks,
//! OAuth, IAP, website domains...), and cancels queued outgoing mail on top.
//!
//! Two steps, so `--dry-run` shows exactly what would run: [`plan`] checks the database
//! exists, reads its catalog, finds Odoo's own `data/neutralize.sql` files when the service
//! names Odoo's addons path, and builds the plan (`odoo::neutralize`); [`apply`] runs it in
//! one transaction and counts the rows each step changed. Any failure, or a signal, rolls
//! everything back.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::exit::{ExitCode, ExitStatus};
use crate::odoo::neutralization::{self as rules, Plan, Rules, Script, Skipped};
use crate::pg::catalog::{self, Batch};
use crate::pg::{self, ConnParams, Server};
use crate::stop;

/// Where each module keeps its neutralization, inside its directory (Odoo 16.0 and later).
const SCRIPT: &str = "data/neutralize.sql";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pg(#[from] pg::Error),
    #[error("database '{0}' is not an Odoo database: it has no ir_module_module table")]
    NotOdoo(String),
    #[error(
        "addons_path entry {} (list the directories of Odoo's addons, as for \
         odoo-bin --addons-path)",
        path.display()
    )]
    AddonsDir { path: PathBuf, source: io::Error },
    #[error(
        "module base is not in addons_path ({}) nor in an odoo/addons beside its entries; \
         list the directories of Odoo's addons, as for odoo-bin --addons-path",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoBase { searched: Vec<PathBuf> },
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("neutralizing '{database}' failed and was rolled back, nothing changed")]
    Apply { database: String, source: pg::Error },
    #[error(
        "refusing to neutralize '{0}': this installation's environment is production (see \
         `oe config`); pass --force if '{0}' is a copy that must never send mail or run crons"
    )]
    Production(String),
    #[error(
        "interrupted by {}; the transaction was rolled back, nothing changed",
        stop::signal_name(*.0)
    )]
    Interrupted(i32),
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Pg(e) => e.exit_code(),
            Error::Apply { source, .. } => match source {
                pg::Error::Query { .. } => ExitCode::Failure,
                e => e.exit_code(),
            },
            Error::NotOdoo(_) => ExitCode::BadInput,
            Error::AddonsDir { .. } | Error::NoBase { .. } | Error::Production(_) => {
                ExitCode::Usage
            }
            Error::Read { source, .. } => source.exit_code(),
            Error::Interrupted(signal) => ExitCode::from_signal(*signal),
        }
    }
}

/// What a neutralization changed.
#[derive(Debug, Serialize)]
pub struct NeutralizeSummary {
    pub database: String,
    pub rules: Rules,
    pub version: Option<String>,
    /// Rows changed per table (per script for Odoo's files), over all steps.
    pub tables: BTreeMap<String, u64>,
    pub steps: Vec<StepResult>,
    pub skipped: Vec<Skipped>,
    /// Rows changed in all.
    pub rows: u64,
    pub seconds: f64,
}

/// One step that ran, and the rows it changed.
#[derive(Debug, Serialize)]
pub struct StepResult {
    pub module: String,
    pub table: Option<String>,
    pub description: String,
    pub rows: u64,
}

/// Plans the neutralization of `database`: Odoo's own files when `addons_path` is given and
/// holds them (Odoo 16.0 and later), else the built-in rules. Changes nothing.
pub async fn plan(
    conn: &ConnParams,
    database: &str,
    addons_path: Option<&[PathBuf]>,
) -> Result<Plan, Error> {
    let server = Server::connect(conn).await?;
    if !server.exists(database).await? {
        return Err(pg::Error::NoSuchDatabase(database.to_owned()).into());
    }
    let catalog = catalog::catalog(conn, database, &rules::tables()).await?;
    if !catalog.has_table("ir_module_module") {
        return Err(Error::NotOdoo(database.to_owned()));
    }
    let scripts = match addons_path {
        Some(dirs) => {
            let (dirs, modules) = (dirs.to_vec(), catalog.modules.clone());
            let job = tokio::task::spawn_blocking(move || find_scripts(&dirs, &modules));
            job.await.unwrap_or_else(|e| {
                Err(Error::Read { path: "addons_path".into(), source: io::Error::other(e) })
            })?
        }
        None => None,
    };
    Ok(rules::plan(&catalog, scripts))
}

/// Runs `plan` on `database` in one transaction; on any error or signal nothing changes.
pub async fn apply(
    conn: &ConnParams,
    database: &str,
    plan: Plan,
) -> Result<NeutralizeSummary, Error> {
    let started = Instant::now();
    let total = plan.steps.len();
    let labels: Vec<String> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| format!("step {} of {total}, {}", i + 1, step.label()))
        .collect();
    let batches: Vec<Batch> = plan
        .steps
        .iter()
        .zip(&labels)
        .map(|(step, label)| Batch { label, sql: &step.sql })
        .collect();
    let counts = tokio::select! {
        counts = catalog::run_in_transaction(conn, database, &batches) => {
            counts.map_err(|source| Error::Apply { database: database.to_owned(), source })?
        }
        // Dropping the connection mid-transaction makes the server roll it back.
        signal = stop::raised() => return Err(Error::Interrupted(signal)),
    };
    let mut tables = BTreeMap::new();
    let mut steps = Vec::with_capacity(total);
    for (step, rows) in plan.steps.into_iter().zip(counts) {
        *tables.entry(step.target()).or_insert(0) += rows;
        tracing::info!("{}: {rows} rows", step.label());
        steps.push(StepResult {
            module: step.module,
            table: step.table,
            description: step.description,
            rows,
        });
    }
    Ok(NeutralizeSummary {
        database: database.to_owned(),
        rules: plan.rules,
        version: plan.version,
        rows: tables.values().sum(),
        tables,
        steps,
        skipped: plan.skipped,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Odoo's `data/neutralize.sql` of every module in `modules` (base first, then by name),
/// each from the first directory of `addons_path` that has the module, as Odoo looks them
/// up. Odoo adds its own `odoo/addons` (where base lives) to any addons path: so does this,
/// as `../odoo/addons` beside each entry. `None` when base has no such file (Odoo before
/// 16.0): the built-in rules apply.
fn find_scripts(
    addons_path: &[PathBuf],
    modules: &BTreeSet<String>,
) -> Result<Option<Vec<Script>>, Error> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in addons_path {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => dirs.push(dir.clone()),
            Ok(_) => {
                let source = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
                return Err(Error::AddonsDir { path: dir.clone(), source });
            }
            Err(source) => return Err(Error::AddonsDir { path: dir.clone(), source }),
        }
    }
    for dir in addons_path {
        let Ok(implied) = dir.join("../odoo/addons").canonicalize() else { continue };
        if implied.is_dir() && !dirs.iter().any(|d| same_dir(d, &implied)) {
            dirs.push(implied);
        }
    }
    let locate = |module: &str| dirs.iter().map(|d| d.join(module)).find(|m| m.is_dir());
    let Some(base) = locate("base") else {
        return Err(Error::NoBase { searched: dirs });
    };
    if !base.join(SCRIPT).is_file() {
        tracing::info!(
            "{} has no {SCRIPT} (Odoo before 16.0): using oe's built-in rules",
            base.display()
        );
        return Ok(None);
    }
    let ordered =
        modules.iter().filter(|m| *m == "base").chain(modules.iter().filter(|m| *m != "base"));
    let mut scripts = Vec::new();
    for module in ordered {
        let Some(dir) = locate(module) else {
            tracing::warn!("module {module} is installed but not in addons_path: not neutralized");
            continue;
        };
        let path = dir.join(SCRIPT);
        match std::fs::read_to_string(&path) {
            Ok(sql) => scripts.push(Script { module: module.clone(), path, sql }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Read { path, source }),
        }
    }
    Ok(Some(scripts))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn modules(names: &str) -> BTreeSet<String> {
        names.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn scripts_are_found_like_odoo_finds_them() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        // An Odoo source tree: base under odoo/addons, the rest under addons; a custom
        // directory listed first overrides web (without a script) and adds its own module.
        write(r, "odoo/odoo/addons/base/data/neutralize.sql", "-- base");
        write(r, "odoo/addons/web/data/neutralize.sql", "-- web from odoo");
        write(r, "odoo/addons/mail/data/neutralize.sql", "-- mail");
        write(r, "odoo/addons/sale/__manifest__.py", "{}");
        write(r, "custom/web/__manifest__.py", "{}");
        write(r, "custom/acme/data/neutralize.sql", "-- acme");
        let path = [r.join("custom"), r.join("odoo/addons")];
        let scripts = find_scripts(&path, &modules("acme mail sale web base missing")).unwrap();
        let found: Vec<(String, String)> =
            scripts.unwrap().into_iter().map(|s| (s.module, s.sql)).collect();
        let expected = [("base", "-- base"), ("acme", "-- acme"), ("mail", "-- mail")];
        assert_eq!(found, expected.map(|(m, s)| (m.to_owned(), s.to_owned())));
    }

    #[test]
    fn before_odoo_16_there_are_no_scripts_and_a_wrong_path_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(r, "odoo12/odoo/addons/base/__manifest__.py", "{}");
        std::fs::create_dir_all(r.join("odoo12/addons")).unwrap();
        assert_eq!(find_scripts(&[r.join("odoo12/addons")], &modules("base")).unwrap(), None);

        let e = find_scripts(&[r.join("nowhere")], &modules("base")).unwrap_err();
        assert!(matches!(e, Error::AddonsDir { .. }), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Usage);
        let e = find_scripts(&[r.to_path_buf()], &modules("base")).unwrap_err();
        assert!(e.to_string().starts_with("module base is not in addons_path"), "{e}");
    }
}
