//! Queries of an Odoo database's own tables: what its manifest says, which attachments it
//! references.

use tokio_postgres::Client;

use super::server::{connect_to, query};
use super::{ConnParams, Error};

/// Rows fetched at a time by [`OdooDb::each_stored_name`].
const NAMES_BATCH: usize = 10_000;

/// Odoo's `set_param`: the row updated, or created by the superuser (uid 1).
const SET_PARAMETER: &str = "INSERT INTO ir_config_parameter \
     (key, value, create_uid, create_date, write_uid, write_date) \
     VALUES ($1, $2, 1, now() at time zone 'UTC', 1, now() at time zone 'UTC') \
     ON CONFLICT (key) DO UPDATE \
     SET value = EXCLUDED.value, write_uid = 1, write_date = EXCLUDED.write_date";

/// The name of the mail server [`OdooDb::redirect`] adds when a copy has no active one.
pub const CATCHER_SERVER: &str = "oe mail catcher";

/// Where a staging copy's mail and links go ([`OdooDb::redirect`]).
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The mail catcher, as the copy's Odoo reaches it.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// The staging installation's URL.
    pub base_url: String,
}

/// What [`OdooDb::redirect`] changed.
#[derive(Debug, serde::Serialize)]
pub struct Redirected {
    /// `host:port` every mail server now points at.
    pub catcher: String,
    /// Mail servers pointed at the catcher.
    pub mail_servers: u64,
    /// Whether a server was added (none was active).
    pub added_server: bool,
    pub base_url: String,
}

/// A connection to one Odoo database.
pub struct OdooDb {
    client: Client,
    name: String,
}

/// What Odoo's manifest is made of.
#[derive(Debug, Clone)]
pub struct ManifestFacts {
    pub base_version: String,
    pub server_version_num: u32,
    /// Installed modules and their `latest_version`, in the database's order.
    pub modules: Vec<(String, String)>,
}

/// A file the database references in its filestore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Path relative to the filestore (`ab/ab12…`).
    pub store_fname: String,
    pub file_size: Option<i64>,
    /// SHA-1 of the content, hex.
    pub checksum: Option<String>,
}

/// What `oe db ls` says of an Odoo database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `latest_version` of the module `base` (`18.0.1.3`), when known.
    pub version: Option<String>,
    /// Installed modules that are applications.
    pub applications: u64,
}

impl OdooDb {
    pub async fn connect(params: &ConnParams, db: &str) -> Result<OdooDb, Error> {
        Ok(OdooDb { client: connect_to(params, db).await?, name: db.to_owned() })
    }

    pub async fn manifest_facts(&self) -> Result<ManifestFacts, Error> {
        let what = format!("reading the modules of '{}' (is it an Odoo database?)", self.name);
        let version: i32 = self
            .client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| query(&what, &e))?
            .get(0);
        let rows = self
            .client
            .query(
                "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'",
                &[],
            )
            .await
            .map_err(|e| query(&what, &e))?;
        let modules: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1).unwrap_or_default()))
            .collect();
        let base_version =
            modules.iter().find(|(name, _)| name == "base").map(|(_, v)| v.clone()).ok_or_else(
                || Error::Query {
                    what,
                    reason: "module 'base' is not installed".into(),
                    code: None,
                },
            )?;
        Ok(ManifestFacts { base_version, server_version_num: version as u32, modules })
    }

    /// The version of `base` and the number of installed applications; `None` when the
    /// database has no `ir_module_module` table (not an Odoo database).
    pub async fn installed(&self) -> Result<Option<Installed>, Error> {
        let what = format!("reading the modules of '{}'", self.name);
        let fail = |e: tokio_postgres::Error| query(&what, &e);
        let table = self
            .client
            .query_one("SELECT to_regclass('ir_module_module') IS NOT NULL", &[])
            .await
            .map_err(fail)?;
        if !table.get::<_, bool>(0) {
            return Ok(None);
        }
        let row = self
            .client
            .query_one(
                "SELECT (SELECT latest_version FROM ir_module_module WHERE name = 'base'), \
                 (SELECT count(*) FROM ir_module_module WHERE state = 'installed' AND application)",
                &[],
            )
            .await
            .map_err(fail)?;
        let applications: i64 = row.get(1);
        Ok(Some(Installed { version: row.get(0), applications: applications.max(0) as u64 }))
    }

    /// Whether the database has the table `ir_config_parameter` (an Odoo database's
    /// settings).
    pub async fn has_config_parameters(&self) -> Result<bool, Error> {
        let what = format!("looking for ir_config_parameter in '{}'", self.name);
        let row = self
            .client
            .query_one("SELECT to_regclass('ir_config_parameter') IS NOT NULL", &[])
            .await
            .map_err(|e| query(&what, &e))?;
        Ok(row.get(0))
    }

    /// Every distinct non-empty `store_fname` of `ir_attachment`, in bytewise order (as
    /// `filestore::list` lists files), given to `each` one at a time: read through a cursor,
    /// `NAMES_BATCH` rows at a time, so that memory stays bounded at any number of
    /// attachments.
    pub async fn each_stored_name(&self, mut each: impl FnMut(&str)) -> Result<(), Error> {
        let what = format!("reading the attachments of '{}'", self.name);
        let fail = |e: tokio_postgres::Error| query(&what, &e);
        let declared = self
            .client
            .batch_execute(
                "BEGIN READ ONLY; \
                 DECLARE oe_stored_names NO SCROLL CURSOR FOR \
                 SELECT DISTINCT store_fname COLLATE \"C\" FROM ir_attachment \
                 WHERE store_fname IS NOT NULL AND store_fname <> '' ORDER BY 1",
            )
            .await
            .map_err(|e| (self.client.batch_execute("ROLLBACK"), fail(e)));
        if let Err((rollback, e)) = declared {
            let _ = rollback.await;
            return Err(e);
        }
        let fetch = format!("FETCH {NAMES_BATCH} FROM oe_stored_names");
        loop {
            let rows = match self.client.query(&fetch, &[]).await {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    return Err(fail(e));
                }
            };
            for row in &rows {
                each(row.get(0));
            }
            if rows.len() < NAMES_BATCH {
                break;
            }
        }
        self.client.batch_execute("COMMIT").await.map_err(fail)
    }

    /// Every distinct non-empty `store_fname` of `ir_attachment`, with the size and checksum
    /// of one of its rows.
    pub async fn stored_files(&self) -> Result<Vec<StoredFile>, Error> {
        let rows = self
            .client
            .query(
                "SELECT DISTINCT ON (store_fname) store_fname, file_size::bigint, checksum \
                 FROM ir_attachment WHERE store_fname IS NOT NULL AND store_fname <> '' \
                 ORDER BY store_fname, id",
                &[],
            )
            .await
            .map_err(|e| query(&format!("reading the attachments of '{}'", self.name), &e))?;
        Ok(rows
            .iter()
            .map(|r| StoredFile { store_fname: r.get(0), file_size: r.get(1), checksum: r.get(2) })
            .collect())
    }

    /// The exact number of rows of each of `tables` (of schema `public`), `None` for a table
    /// that does not exist.
    pub async fn row_counts(&self, tables: &[&str]) -> Result<Vec<(String, Option<i64>)>, Error> {
        let what = format!("counting the rows of '{}'", self.name);
        let mut counts = Vec::with_capacity(tables.len());
        for &table in tables {
            let exists = self
                .client
                .query_opt(
                    "SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = $1",
                    &[&table],
                )
                .await
                .map_err(|e| query(&what, &e))?
                .is_some();
            let count = if exists {
                let sql = format!("SELECT count(*) FROM public.{}", super::server::ident(table));
                let row = self.client.query_one(&sql, &[]).await.map_err(|e| query(&what, &e))?;
                Some(row.get::<_, i64>(0))
            } else {
                None
            };
            counts.push((table.to_owned(), count));
        }
        Ok(counts)
    }

    /// Every module Odoo knows of and its state (`installed`, `uninstalled`, `to upgrade`,
    /// `to install`, `to remove`, `uninstallable`), by name.
    pub async fn module_states(&self) -> Result<Vec<(String, String)>, Error> {
        let what = format!("reading the modules of '{}'", self.name);
        let rows = self
            .client
            .query("SELECT name, state FROM ir_module_module ORDER BY name", &[])
            .await
            .map_err(|e| query(&what, &e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, Option<String>>(1).unwrap_or_default()))
            .collect())
    }

    /// The value of the system parameter `key` (`ir_config_parameter`), if set.
    pub async fn config_parameter(&self, key: &str) -> Result<Option<String>, Error> {
        let what = format!("reading '{key}' in '{}'", self.name);
        let row = self
            .client
            .query_opt("SELECT value FROM ir_config_parameter WHERE key = $1", &[&key])
            .await
            .map_err(|e| query(&what, &e))?;
        Ok(row.and_then(|r| r.get(0)))
    }

    /// Sets the system parameter `key` as Odoo's `set_param` does: the row is updated, or
    /// created by the superuser (uid 1).
    pub async fn set_config_parameter(&self, key: &str, value: &str) -> Result<(), Error> {
        let what = format!("writing '{key}' in '{}'", self.name);
        self.client.execute(SET_PARAMETER, &[&key, &value]).await.map_err(|e| query(&what, &e))?;
        Ok(())
    }

    /// The codes of the active languages (`fr_BE`, …): the translations an addon's checksum
    /// keeps.
    pub async fn active_languages(&self) -> Result<Vec<String>, Error> {
        let what = format!("reading the languages of '{}'", self.name);
        let rows = self
            .client
            .query("SELECT code FROM res_lang WHERE active ORDER BY code", &[])
            .await
            .map_err(|e| query(&what, &e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Points the copy's outgoing mail at the catcher and sets its base URL, in one
    /// transaction: every `ir_mail_server` row gets the catcher's host and port, no
    /// encryption, no credentials, no sender filter; a server named `oe mail catcher` is
    /// added when none is active (Odoo would otherwise use `odoo.conf`'s `smtp_server`);
    /// `web.base.url` is set and frozen (an administrator's login does not move it back).
    pub async fn redirect(&mut self, redirect: &Redirect) -> Result<Redirected, Error> {
        let what = format!("pointing the mail of '{}' at the catcher", self.name);
        let fail = |e: tokio_postgres::Error| query(&what, &e);
        let tx = self.client.transaction().await.map_err(fail)?;
        let columns: Vec<String> = tx
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'ir_mail_server'",
                &[],
            )
            .await
            .map_err(fail)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let has = |column: &str| columns.iter().any(|c| c == column);
        // Versions differ in what authenticates and filters a server: whichever it has.
        let mut set = vec![
            "smtp_host = $1".to_owned(),
            "smtp_port = $2".to_owned(),
            "smtp_encryption = 'none'".to_owned(),
            "smtp_user = NULL".to_owned(),
            "smtp_pass = NULL".to_owned(),
        ];
        let login = has("smtp_authentication");
        if login {
            set.push("smtp_authentication = 'login'".into());
        }
        for column in ["from_filter", "smtp_ssl_certificate", "smtp_ssl_private_key"] {
            if has(column) {
                set.push(format!("{column} = NULL"));
            }
        }
        let port = i32::from(redirect.smtp_port);
        let sql = format!("UPDATE ir_mail_server SET {}", set.join(", "));
        let mail_servers = tx.execute(&sql, &[&redirect.smtp_host, &port]).await.map_err(fail)?;
        let active: i64 = tx
            .query_one("SELECT count(*) FROM ir_mail_server WHERE active", &[])
            .await
            .map_err(fail)?
            .get(0);
        let added_server = active == 0;
        if added_server {
            let (column, value) =
                if login { (", smtp_authentication", ", 'login'") } else { ("", "") };
            let sql = format!(
                "INSERT INTO ir_mail_server \
                 (name, smtp_host, smtp_port, smtp_encryption, active, sequence{column}) \
                 VALUES ('{CATCHER_SERVER}', $1, $2, 'none', true, 1{value})"
            );
            tx.execute(&sql, &[&redirect.smtp_host, &port]).await.map_err(fail)?;
        }
        for (key, value) in
            [("web.base.url", redirect.base_url.as_str()), ("web.base.url.freeze", "True")]
        {
            tx.execute(SET_PARAMETER, &[&key, &value]).await.map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok(Redirected {
            catcher: format!("{}:{}", redirect.smtp_host, redirect.smtp_port),
            mail_servers,
            added_server,
            base_url: redirect.base_url.clone(),
        })
    }

    /// Runs `sql` (several statements) in one transaction.
    pub async fn execute_batch(&mut self, sql: &str, what: &str) -> Result<(), Error> {
        let tx = self.client.transaction().await.map_err(|e| query(what, &e))?;
        tx.batch_execute(sql).await.map_err(|e| query(what, &e))?;
        tx.commit().await.map_err(|e| query(what, &e))
    }
}
