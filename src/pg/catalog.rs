//! Work on the rows of one database, for plans that must fit the schema they run on: a
//! snapshot of its catalog (which tables and columns exist, which Odoo modules are
//! installed), and a list of SQL batches run in one transaction, counting the rows each
//! changed.
//!
//! Knows no rule about what to change: callers say which tables to look at and what to run.
//! Names asked about travel as query parameters, never inside the SQL text; only the tables
//! whose rows are counted are named in it, quoted as identifiers and only once the catalog
//! says they exist.

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::SimpleQueryMessage;

use super::server::{connect_to, ident, query};
use super::{ConnParams, Error};
use crate::pipeline::sql::TableRows;

/// What a database holds, as far as the caller asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Each table asked about that exists, with its columns.
    pub tables: BTreeMap<String, BTreeSet<String>>,
    /// Odoo modules whose state is installed, to upgrade or to remove (Odoo's own test).
    pub modules: BTreeSet<String>,
    /// `latest_version` of the module `base` (`18.0.1.3`), when known.
    pub version: Option<String>,
    /// Whether `ir_config_parameter` says `database.is_neutralized` = true.
    pub neutralized: bool,
}

impl Catalog {
    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.tables.get(table).is_some_and(|columns| columns.contains(column))
    }

    pub fn is_installed(&self, module: &str) -> bool {
        self.modules.contains(module)
    }
}

/// SQL to run as one batch (one or more statements), with a label for messages.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub label: &'a str,
    pub sql: &'a str,
}

/// The columns of those of `tables` that exist in `db`'s current schema (plus
/// `ir_module_module` and `ir_config_parameter`), and Odoo's installed modules, version and
/// neutralization flag where its tables exist.
pub async fn catalog(params: &ConnParams, db: &str, tables: &[&str]) -> Result<Catalog, Error> {
    let client = connect_to(params, db).await?;
    let what = format!("reading the catalog of '{db}'");
    let mut wanted: Vec<&str> = tables.to_vec();
    wanted.extend(["ir_module_module", "ir_config_parameter"]);
    let rows = client
        .query(
            "SELECT c.relname::text, a.attname::text
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid
              WHERE n.nspname = current_schema()
                AND c.relkind IN ('r', 'p')
                AND c.relname = ANY($1)
                AND a.attnum > 0
                AND NOT a.attisdropped",
            &[&wanted],
        )
        .await
        .map_err(|e| query(&what, &e))?;
    let mut catalog = Catalog::default();
    for row in rows {
        catalog.tables.entry(row.get(0)).or_default().insert(row.get(1));
    }
    if catalog.has_column("ir_module_module", "state") {
        let rows = client
            .query(
                "SELECT name, latest_version FROM ir_module_module
                  WHERE state IN ('installed', 'to upgrade', 'to remove')",
                &[],
            )
            .await
            .map_err(|e| query(&what, &e))?;
        for row in rows {
            let name: String = row.get(0);
            if name == "base" {
                catalog.version = row.get(1);
            }
            catalog.modules.insert(name);
        }
    }
    if catalog.has_column("ir_config_parameter", "value") {
        let row = client
            .query_opt(
                "SELECT 1 FROM ir_config_parameter
                  WHERE key = 'database.is_neutralized' AND lower(value) = 'true'",
                &[],
            )
            .await
            .map_err(|e| query(&what, &e))?;
        catalog.neutralized = row.is_some();
    }
    Ok(catalog)
}

/// The exact number of rows of each of `tables` that exists in `db` (the counts asked about
/// are ignored), each table without its inheritance children, as pg_dump dumps it.
pub async fn count_rows(
    params: &ConnParams,
    db: &str,
    tables: &TableRows,
) -> Result<TableRows, Error> {
    let client = connect_to(params, db).await?;
    let what = format!("counting the rows of the tables of '{db}'");
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p')",
            &[],
        )
        .await
        .map_err(|e| query(&what, &e))?;
    let existing: BTreeSet<(String, String)> =
        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let mut counted = TableRows::new();
    for (schema, names) in tables {
        for name in names.keys() {
            if !existing.contains(&(schema.clone(), name.clone())) {
                continue;
            }
            let sql = format!("SELECT count(*) FROM ONLY {}.{}", ident(schema), ident(name));
            let rows: i64 = client.query_one(&sql, &[]).await.map_err(|e| query(&what, &e))?.get(0);
            counted.entry(schema.clone()).or_default().insert(name.clone(), rows as u64);
        }
    }
    Ok(counted)
}

/// Runs `batches` in order in one transaction on `db` and commits. Returns the rows each
/// batch affected (summed over its statements). On the first error the transaction is rolled
/// back, so nothing changed, and the error names the batch and carries the server's message.
pub async fn run_in_transaction(
    params: &ConnParams,
    db: &str,
    batches: &[Batch<'_>],
) -> Result<Vec<u64>, Error> {
    let mut client = connect_to(params, db).await?;
    let begin = format!("starting a transaction in '{db}'");
    let transaction = client.transaction().await.map_err(|e| query(&begin, &e))?;
    let mut counts = Vec::with_capacity(batches.len());
    for batch in batches {
        tracing::debug!("{}:\n{}", batch.label, batch.sql);
        match transaction.simple_query(batch.sql).await {
            Ok(messages) => counts.push(affected(&messages)),
            Err(e) => {
                let error = query(batch.label, &e);
                if let Err(e) = transaction.rollback().await {
                    tracing::debug!("rollback: {e}");
                }
                return Err(error);
            }
        }
    }
    let commit = format!("committing in '{db}'");
    transaction.commit().await.map_err(|e| query(&commit, &e))?;
    Ok(counts)
}

/// The rows the statements of one simple query affected.
fn affected(messages: &[SimpleQueryMessage]) -> u64 {
    messages
        .iter()
        .map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => *n,
            _ => 0,
        })
        .sum()
}
