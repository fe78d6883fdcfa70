//! pg_dump, psql and pg_restore as streams, of the server's major version: a pg_dump older
//! than the server refuses to dump, and psql must understand what pg_dump of the same
//! generation writes (`\restrict` since 15.14/16.10/17.6).
//!
//! The tools' own messages are in English whatever the user's locale (`LC_MESSAGES=C`, see
//! `message_locale`): `load` reads pg_restore's stderr to tell a truncated dump from a
//! failed restore. What a tool relays from the server stays in the server's `lc_messages`.

use std::path::{Path, PathBuf};

use super::conn::dbname_conninfo;
use super::{ConnParams, Error};
use crate::process::{ChildReader, ChildWriter, Tool};

/// The client tools for one server.
#[derive(Debug, Clone)]
pub struct Tools {
    params: ConnParams,
    major: u32,
}

/// What `pg_dump` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// Plain SQL, as Odoo's backups hold.
    PlainSql,
    /// Custom format with pg_dump's own (single-threaded) compression.
    Custom,
    /// Custom format uncompressed, for `oe` to compress on every core.
    CustomUncompressed,
}

impl Tools {
    pub fn new(params: &ConnParams, major: u32) -> Tools {
        Tools { params: params.clone(), major }
    }

    /// The tools for dumping `database`: connects to its server, checks that the database
    /// exists and that pg_dump of the server's major version is installed, before anything
    /// is written.
    pub async fn for_dump(params: &ConnParams, database: &str) -> Result<Tools, Error> {
        let server = super::Server::connect(params).await?;
        if !server.exists(database).await? {
            return Err(Error::NoSuchDatabase(database.to_owned()));
        }
        let tools = Tools::new(params, server.major());
        tools.locate("pg_dump")?;
        Ok(tools)
    }

    /// Where a tool is looked for: the configured `bindir` only, else Debian's directory for
    /// the server's major version, else `PATH`.
    fn search_path(&self) -> Vec<PathBuf> {
        if let Some(bindir) = &self.params.bindir {
            return vec![bindir.clone()];
        }
        let mut dirs = vec![PathBuf::from(format!("/usr/lib/postgresql/{}/bin", self.major))];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        dirs
    }

    /// The path of `tool`, checked to exist.
    pub fn locate(&self, tool: &'static str) -> Result<PathBuf, Error> {
        let dirs = self.search_path();
        dirs.iter().map(|d| d.join(tool)).find(|p| is_executable(p)).ok_or(Error::ToolMissing {
            tool,
            major: self.major,
            searched: dirs,
        })
    }

    fn tool(&self, name: &'static str) -> Result<Tool, Error> {
        let mut tool = Tool::new(self.locate(name)?);
        let locale = message_locale(|key| std::env::var(key).ok());
        for (key, value) in self.params.tool_env().into_iter().chain(locale) {
            tool = match value {
                Some(value) => tool.env(key, value),
                None => tool.env_remove(key),
            };
        }
        Ok(tool)
    }

    /// `pg_dump` of `db` to its stdout.
    pub fn dump(&self, db: &str, kind: DumpKind) -> Result<ChildReader, Error> {
        let format: &[&str] = match kind {
            DumpKind::PlainSql => &[],
            DumpKind::Custom => &["--format=custom"],
            DumpKind::CustomUncompressed => &["--format=custom", "--compress=0"],
        };
        Ok(self
            .tool("pg_dump")?
            .arg("--no-owner")
            .args(format)
            .arg(format!("--dbname={}", dbname_conninfo(db)))
            .spawn_reader()?)
    }

    /// `psql` running the SQL written to its stdin in `db`, in one transaction, stopping at
    /// the first error. Its errors carry their SQLSTATE (`VERBOSITY=verbose`), by which the
    /// one that stopped it is found in any language of the server.
    pub fn sql_loader(&self, db: &str) -> Result<ChildWriter, Error> {
        Ok(self
            .tool("psql")?
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"])
            .args(["--single-transaction", "--file=-"])
            .arg(format!("--dbname={}", dbname_conninfo(db)))
            .spawn_writer()?)
    }

    /// `pg_restore` of the custom-format dump written to its stdin into `db`.
    pub fn restorer(&self, db: &str) -> Result<ChildWriter, Error> {
        Ok(self.restore_command(db)?.spawn_writer()?)
    }

    /// `pg_restore` of a custom-format dump file into `db` with `jobs` parallel jobs.
    pub fn restore_file(&self, db: &str, file: &Path, jobs: usize) -> Result<(), Error> {
        Ok(self.restore_command(db)?.arg(format!("--jobs={jobs}")).arg(file).run()?)
    }

    fn restore_command(&self, db: &str) -> Result<Tool, Error> {
        Ok(self
            .tool("pg_restore")?
            .args(["--no-owner", "--exit-on-error"])
            .arg(format!("--dbname={}", dbname_conninfo(db))))
    }
}

/// The locale variables of a tool, from `env` (this process's environment): messages in
/// English (`LC_MESSAGES=C`; GNU's `LANGUAGE` removed, since it would win over it), every
/// other category as the user has it. An `LC_ALL` would override `LC_MESSAGES`, so it is
/// replaced by the categories it stood for.
fn message_locale(env: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, Option<String>)> {
    const CATEGORIES: [&str; 5] =
        ["LC_CTYPE", "LC_COLLATE", "LC_NUMERIC", "LC_TIME", "LC_MONETARY"];
    let mut vars = vec![("LC_MESSAGES", Some("C".to_owned())), ("LANGUAGE", None)];
    if let Some(all) = env("LC_ALL").filter(|v| !v.is_empty()) {
        vars.push(("LC_ALL", None));
        vars.extend(CATEGORIES.map(|category| (category, Some(all.clone()))));
    }
    vars
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_speak_english_and_keep_the_other_categories() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |key: &str| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
        };
        let german = message_locale(env(&[("LANG", "de_DE.UTF-8"), ("LANGUAGE", "de:en")]));
        assert_eq!(
            german,
            [("LC_MESSAGES", Some("C".to_owned())), ("LANGUAGE", None)],
            "LANG stays: LC_MESSAGES wins over it"
        );
        let all = message_locale(env(&[("LC_ALL", "fr_FR.UTF-8"), ("LC_MESSAGES", "fr_FR")]));
        assert_eq!(
            all[..3],
            [("LC_MESSAGES", Some("C".to_owned())), ("LANGUAGE", None), ("LC_ALL", None)]
        );
        assert_eq!(all.len(), 8, "{all:?}");
        assert!(
            all[3..]
                .iter()
                .all(|(k, v)| k.starts_with("LC_") && v.as_deref() == Some("fr_FR.UTF-8"))
        );
        assert_eq!(message_locale(env(&[("LC_ALL", "")])).len(), 2);
    }
}
