//! The configuration file as written by people: every key optional, unknown keys rejected,
//! errors located by file, line and key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;
use super::daemon::{DaemonFile, JobsFile, NotifyFile, Parsed};
use jiff::tz::TimeZone;

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defapp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odoo_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_dir: Option<PathBuf>,
    /// How many backups `oe backup` keeps (default 7 daily, 4 weekly, 3 monthly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::retention::Policy>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceFile>,
    /// `oe mirror`: the snapshot repository and the directories mirrored into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorFile>,
    /// The zone schedules are computed in [default: the system's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Parsed<TimeZone>>,
    /// `oe daemon`'s jobs, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jobs: JobsFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<DaemonFile>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<PathBuf>,
    /// Absolute directory -> its settings; the format of the original mirror-dir
    /// `/etc/mirror-dir/config.yml`, which `--dirs-file` reads as a whole.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dirs: DirsFile,
}

/// The directories to mirror, as in a mirror-dir file.
pub type DirsFile = BTreeMap<String, MirrorDirFile>;

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorDirFile {
    /// rsync exclude patterns, tried in order (`+ `/`- ` prefixes, `!` clears).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Directories of Odoo's addons, as for `odoo-bin --addons-path`: where `neutralize`
    /// finds each installed module's `data/neutralize.sql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addons_path: Option<Vec<PathBuf>>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresFile {
    /// Host name, IP address, or directory of the unix socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passfile: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslmode: Option<SslMode>,
    /// Root certificates that verify the server's: a PEM file, or `system` for the system's
    /// store (as libpq's `sslrootcert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslrootcert: Option<PathBuf>,
    /// Directory of pg_dump, psql and pg_restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Production,
    /// `stagging` is the historical spelling of the original tool.
    #[serde(alias = "stagging")]
    #[value(alias = "stagging")]
    Staging,
    Development,
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Development => "development",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// An on/off setting: `on`/`off`, `true`/`false` or `yes`/`no` in the file, written `on`/`off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch(pub bool);

impl Switch {
    pub fn parse(s: &str) -> Option<Switch> {
        match s.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" => Some(Switch(true)),
            "off" | "false" | "no" => Some(Switch(false)),
            _ => None,
        }
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "on" } else { "off" })
    }
}

impl Serialize for Switch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0 { "on" } else { "off" })
    }
}

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Switch, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        let invalid = || serde::de::Error::custom("expected on or off");
        match Raw::deserialize(d).map_err(|_: D::Error| invalid())? {
            Raw::Bool(b) => Ok(Switch(b)),
            Raw::Text(s) => Switch::parse(&s).ok_or_else(invalid),
        }
    }
}

impl ConfigFile {
    /// Reads `path`; a missing file is an empty configuration.
    pub fn read(path: &Path) -> Result<ConfigFile, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(source) => return Err(Error::Read { path: path.to_path_buf(), source }),
        };
        ConfigFile::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, Error> {
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        serde_yaml_ng::from_str(text)
            .map_err(|e| Error::Invalid { path: path.to_path_buf(), message: describe(&e) })
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }
}

/// Reads a mirror-dir file (`--dirs-file`): a map from directory to `{exclude: [...]}`.
pub fn read_dirs_file(path: &Path) -> Result<DirsFile, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    if text.trim().is_empty() {
        return Ok(DirsFile::new());
    }
    serde_yaml_ng::from_str(&text)
        .map_err(|e| Error::Invalid { path: path.to_path_buf(), message: describe(&e) })
}

/// `line L column C: key: problem`, the way editors jump to it.
fn describe(e: &serde_yaml_ng::Error) -> String {
    let message = e.to_string();
    // serde_yaml_ng appends " at line L column C"; put the location first instead.
    match (e.location(), message.rfind(" at line ")) {
        (Some(loc), Some(at)) => {
            format!("line {} column {}: {}", loc.line(), loc.column(), &message[..at])
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(text, Path::new("/etc/oe.yml")).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_every_key() {
        let c = parse(
            "client: acme\nenvironment: stagging\nnginx: on\nverbose: false\n\
             database: acme_prod\ndefapp: git@example.org:acme/app.git\nodoo_image: odoo:18.0\n\
             backup_dir: /var/backups/oe\nservices:\n  odoo:\n    postgres: {host: db, port: 5433, \
             user: odoo, password: secret, sslmode: verify-full, sslrootcert: /etc/oe/ca.pem}\n    data_dir: /var/lib/odoo\n",
        )
        .unwrap();
        assert_eq!(c.environment, Some(Environment::Staging));
        assert_eq!(c.nginx, Some(Switch(true)));
        assert_eq!(c.verbose, Some(Switch(false)));
        let pg = c.services["odoo"].postgres.as_ref().unwrap();
        assert_eq!(pg.port, Some(5433));
        assert_eq!(pg.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(pg.sslrootcert.as_deref(), Some(Path::new("/etc/oe/ca.pem")));
        // Written back, it reads the same.
        assert_eq!(parse(&c.to_yaml()).unwrap(), c);
    }

    #[test]
    fn errors_name_line_and_key() {
        let e =
            parse("client: acme\nservices:\n  odoo:\n    postgres:\n      hots: x\n").unwrap_err();
        assert!(e.starts_with("invalid config /etc/oe.yml: line 5 column"), "{e}");
        assert!(e.contains("unknown field `hots`, expected one of `host`"), "{e}");

        let e = parse("environment: prod\n").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert!(
            e.contains("environment: unknown variant `prod`, expected one of `production`"),
            "{e}"
        );

        let e = parse("nginx: maybe\n").unwrap_err();
        assert!(e.contains("expected on or off"), "{e}");

        let e = parse("services:\n  odoo:\n    postgres: {port: 99999}\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }
}
