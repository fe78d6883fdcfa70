//! Connection parameters: the service's settings, else the standard PG* environment
//! variables, else libpq's defaults, the way `psql` would connect.

use std::path::{Path, PathBuf};

use crate::config::PgSettings;
use crate::config::file::SslMode;

/// libpq's default socket directory on Debian.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/run/postgresql"];

/// How to reach a server: resolved, nothing left to guess.
#[derive(Clone)]
pub struct ConnParams {
    /// Host name, address, or unix socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    password: Option<String>,
    /// Password file for the tools, when configured.
    pub passfile: Option<PathBuf>,
    pub sslmode: Option<SslMode>,
    /// Root certificates that verify the server's: a PEM file, or `system`; when unset,
    /// libpq's `~/.postgresql/root.crt` (see `tls`).
    pub sslrootcert: Option<PathBuf>,
    pub bindir: Option<PathBuf>,
}

impl std::fmt::Debug for ConnParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("passfile", &self.passfile)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .finish()
    }
}

impl ConnParams {
    /// Resolves `settings` with `env` (the process environment in production).
    pub fn resolve(settings: &PgSettings, env: impl Fn(&str) -> Option<String>) -> ConnParams {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let host = settings.host.clone().or_else(|| env("PGHOST")).unwrap_or_else(|| {
            DEFAULT_SOCKET_DIRS
                .iter()
                .find(|d| Path::new(d).is_dir())
                .map_or_else(|| "localhost".to_owned(), |d| d.to_string())
        });
        let port =
            settings.port.or_else(|| env("PGPORT").and_then(|p| p.parse().ok())).unwrap_or(5432);
        let user = settings
            .user
            .clone()
            .or_else(|| env("PGUSER"))
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".to_owned());
        let passfile = settings.passfile.clone().or_else(|| env("PGPASSFILE").map(PathBuf::from));
        let sslmode = settings
            .sslmode
            .or_else(|| env("PGSSLMODE").and_then(|m| serde_yaml_ng::from_str::<SslMode>(&m).ok()));
        let sslrootcert =
            settings.sslrootcert.clone().or_else(|| env("PGSSLROOTCERT").map(PathBuf::from));
        ConnParams {
            host,
            port,
            user,
            password: settings.password.clone().or_else(|| env("PGPASSWORD")),
            passfile,
            sslmode,
            sslrootcert,
            bindir: settings.bindir.clone(),
        }
    }

    /// From the settings and this process's environment.
    pub fn from_env(settings: &PgSettings) -> ConnParams {
        ConnParams::resolve(settings, |k| std::env::var(k).ok())
    }

    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `host:port`, or the socket path, for messages.
    pub fn target(&self) -> String {
        if self.is_socket() {
            format!("{}/.s.PGSQL.{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The password for the control connection: configured, else from the password file.
    pub fn password(&self, dbname: &str) -> Option<String> {
        if self.password.is_some() {
            return self.password.clone();
        }
        let file = self
            .passfile
            .clone()
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
        let text = std::fs::read_to_string(&file).ok()?;
        let host = if DEFAULT_SOCKET_DIRS.contains(&self.host.as_str()) {
            "localhost"
        } else {
            self.host.as_str()
        };
        passfile_lookup(&text, host, self.port, dbname, &self.user)
    }

    /// Environment for child tools: who to connect to, and the password when one is known.
    /// The database is always given explicitly, so `PGDATABASE` is removed.
    pub fn tool_env(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("PGHOST", Some(self.host.clone())),
            ("PGPORT", Some(self.port.to_string())),
            ("PGUSER", Some(self.user.clone())),
            ("PGPASSWORD", self.password.clone()),
            ("PGPASSFILE", self.passfile.as_ref().map(|p| p.display().to_string())),
            ("PGSSLMODE", self.sslmode.map(|m| m.as_str().to_owned())),
            ("PGSSLROOTCERT", self.sslrootcert.as_ref().map(|p| p.display().to_string())),
            ("PGDATABASE", None),
        ]
    }
}

/// A conninfo string naming only the database: safe for any name, since the value is quoted
/// (libpq treats a `-d` argument containing `=` as a conninfo string).
pub fn dbname_conninfo(db: &str) -> String {
    format!("dbname='{}'", db.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The password for `host:port:db:user` from a `.pgpass` text, as libpq reads it.
fn passfile_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let fields = split_pgpass(line);
            (fields.len() == 5).then_some(fields)
        })
        .find(|f| {
            let matches = |field: &str, value: &str| field == "*" || field == value;
            matches(&f[0], host)
                && matches(&f[1], &port)
                && matches(&f[2], db)
                && matches(&f[3], user)
        })
        .map(|f| f[4].clone())
}

/// Splits a `.pgpass` line at unescaped `:` (the last field keeps any `:`).
fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_win_over_environment_over_defaults() {
        let env = |k: &str| match k {
            "PGHOST" => Some("envhost".to_owned()),
            "PGPORT" => Some("6000".to_owned()),
            "PGUSER" => Some("envuser".to_owned()),
            "PGPASSWORD" => Some("envpw".to_owned()),
            _ => None,
        };
        let settings = PgSettings { port: Some(5433), ..Default::default() };
        let p = ConnParams::resolve(&settings, env);
        assert_eq!((p.host.as_str(), p.port, p.user.as_str()), ("envhost", 5433, "envuser"));
        assert_eq!(p.password("x").as_deref(), Some("envpw"));
        assert!(!format!("{p:?}").contains("envpw"), "Debug must redact the password");
        let p = ConnParams::resolve(&PgSettings::default(), |_| None);
        assert_eq!(p.port, 5432);
    }

    #[test]
    fn pgpass_lines_match_like_libpq() {
        let text = "# comment\nother:5432:*:bob:nope\n*:5433:*:bob:first\\:pw\nlocalhost:*:db\\:x:*:second\n";
        assert_eq!(passfile_lookup(text, "h", 5433, "d", "bob").as_deref(), Some("first:pw"));
        assert_eq!(passfile_lookup(text, "localhost", 1, "db:x", "al").as_deref(), Some("second"));
        assert_eq!(passfile_lookup(text, "h", 5432, "d", "bob"), None);
    }

    #[test]
    fn conninfo_quotes_any_name() {
        assert_eq!(dbname_conninfo("a b"), "dbname='a b'");
        assert_eq!(dbname_conninfo(r"it's\x"), r"dbname='it\'s\\x'");
    }
}
