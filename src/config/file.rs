//! The configuration file as written by people: every key optional, unknown keys rejected,
//! every value checked while it is read, so that an error is located by file, line and key
//! (`diagnostic`): types with their own rules reject a value from inside their visitor.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::Error;
use super::daemon::{DaemonFile, JobsFile, NotifyFile, Parsed};
use super::diagnostic::{from_yaml, invalid};
use super::location::Location;
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
    pub retention: Option<crate::rules::retention::Policy>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_names"
    )]
    pub services: BTreeMap<String, ServiceFile>,
    /// `oe mirror`: the snapshot repository and the directories mirrored into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorFile>,
    /// The zone schedules are computed in [default: the system's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Parsed<TimeZone>>,
    /// `oe daemon`'s jobs, by name.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_names"
    )]
    pub jobs: JobsFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<DaemonFile>,
    /// `oe install`, `oe start`: where installations live and the host ports they publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployFile>,
    /// `oe update`: what it keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateFile>,
    /// The mail catcher of staging copies (`oe mail`, and `oe daemon` when `listen` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<MailFile>,
}

/// `mail`: the mail catcher.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailFile {
    /// The Maildir the caught messages go to [default: `mail/` beside the daemon's state].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Addresses the SMTP server listens on (`127.0.0.1:2525`); `oe daemon` runs the catcher
    /// when there are some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<std::net::SocketAddr>,
    /// Where the web page of the caught messages is served (`127.0.0.1:8025`) [default: none].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<std::net::SocketAddr>,
    /// Messages kept, the oldest removed first [default: 1000].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_messages: Option<usize>,
    /// How long a message is kept (`7d`, `36h`) [default: 7d].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// The largest message accepted, in bytes [default: 26214400, 25 MiB].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
}

/// `update`: how `oe update` works.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFile {
    /// Rollback points (the database and filestore before an update) kept after a
    /// successful update [default: 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_rollback: Option<usize>,
}

/// `deploy`: the dockerized installations on this host.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployFile {
    /// The directory holding one directory per client [default: `/srv/oe`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<PathBuf>,
    /// The host port nginx publishes [default: 80].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// The host port the managed PostgreSQL publishes, on loopback outside development
    /// [default: 5432 in development, else a free port chosen by `oe install`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_port: Option<u16>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorFile {
    /// A directory, `ssh://[USER@]HOST[:PORT]/CLIENT` (a backup server) or
    /// `s3://BUCKET[/PREFIX]` (object storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Parsed<Location>>,
    /// How to reach a backup server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshFile>,
    /// How to reach object storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3File>,
    /// The file holding an encrypted repository's passphrase, mode 0600 [default:
    /// `OE_PASSPHRASE`, else the terminal].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_file: Option<PathBuf>,
    /// Where the index of a remote repository is cached [default: `$XDG_CACHE_HOME/oe`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// Absolute directory -> its settings; the format of the original mirror-dir
    /// `/etc/mirror-dir/config.yml`, which `--dirs-file` reads as a whole.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_dirs"
    )]
    pub dirs: DirsFile,
}

/// `mirror.ssh`: how `oe` logs in to a backup server.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SshFile {
    /// The private key [default: ssh's own choice: `~/.ssh/config`, the agent, `~/.ssh/id_*`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_file: Option<PathBuf>,
    /// The file with the server's host key [default: `~/.ssh/known_hosts`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
}

/// `mirror.s3`: how `oe` reaches S3-compatible object storage.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3File {
    /// The service's URL [default: AWS's, from the region].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// [default: `us-east-1`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The bucket in the URL's path rather than its host name [default: true with an
    /// `endpoint`, false on AWS].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// An AWS shared-credentials file, mode 0600 [default: `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`, else `AWS_PROFILE` of `~/.aws/credentials`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<PathBuf>,
}

/// The directories to mirror, as in a mirror-dir file.
pub type DirsFile = BTreeMap<String, MirrorDirFile>;

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorDirFile {
    /// rsync exclude patterns, tried in order (`+ `/`- ` prefixes, `!` clears).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "deserialize_rules"
    )]
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

impl Switch {
    const ACCEPTED: &str = "on or off (also true/false, yes/no)";
}

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Switch, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Switch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(Switch::ACCEPTED)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Switch, E> {
                Ok(Switch(b))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Switch, E> {
                Switch::parse(s).ok_or_else(|| invalid(format_args!("{s:?}"), Switch::ACCEPTED))
            }
        }
        d.deserialize_any(Visitor)
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
        from_yaml(text, path)
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
    /// The map alone, its keys checked as in `mirror.dirs`.
    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Dirs(#[serde(deserialize_with = "deserialize_dirs")] DirsFile);
    Ok(from_yaml::<Dirs>(&text, path)?.0)
}

/// `mirror.dirs` (or a `--dirs-file`): every directory absolute and configured once.
fn deserialize_dirs<'de, D: Deserializer<'de>>(d: D) -> Result<DirsFile, D::Error> {
    const ACCEPTED: &str = "an absolute directory (starting with /), each once";
    deserialize_unique(d, |dir, before| {
        if !dir.starts_with('/') {
            return Err((format!("{dir:?}"), ACCEPTED));
        }
        let normalized = super::settings::normalize_dir(dir);
        match before.keys().find(|b| super::settings::normalize_dir(b) == normalized) {
            Some(b) => Err((format!("{dir:?}, the same directory as {b:?}"), ACCEPTED)),
            None => Ok(()),
        }
    })
}

/// `services` and `jobs`: each name once.
fn deserialize_names<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    deserialize_unique(d, |name, before| match before.contains_key(name) {
        true => Err((format!("{name:?} a second time"), "each name once")),
        false => Ok(()),
    })
}

/// Checks a key of a map given the keys before it: `Err((found, accepted))`.
type KeyCheck<V> = fn(&str, &BTreeMap<String, V>) -> Result<(), (String, &'static str)>;

/// A map whose every key passes `check`. YAML lets a repeated key replace the first one
/// silently; the keys are checked in their own visitor, so an error has the key's line.
fn deserialize_unique<'de, D, V>(d: D, check: KeyCheck<V>) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Key<'a, V> {
        before: &'a BTreeMap<String, V>,
        check: KeyCheck<V>,
    }
    impl<'de, V> de::DeserializeSeed<'de> for Key<'_, V> {
        type Value = String;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<V> de::Visitor<'_> for Key<'_, V> {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a name")
        }
        fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
            (self.check)(key, self.before).map_err(|(found, accepted)| invalid(found, accepted))?;
            Ok(key.to_owned())
        }
    }
    struct Visitor<V>(KeyCheck<V>);
    impl<'de, V: Deserialize<'de>> de::Visitor<'de> for Visitor<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a mapping of names")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key_seed(Key { before: &out, check: self.0 })? {
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visitor(check))
}

/// `exclude:` rules, each checked as `oe mirror` will parse it.
fn deserialize_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Rule(String);
    impl<'de> Deserialize<'de> for Rule {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
            struct Visitor;
            impl de::Visitor<'_> for Visitor {
                type Value = Rule;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str(RULE_ACCEPTED)
                }
                fn visit_str<E: de::Error>(self, rule: &str) -> Result<Rule, E> {
                    crate::rules::filter::Filter::parse(&[rule.to_owned()]).map_err(|e| {
                        invalid(format_args!("{rule:?} ({})", e.reason), RULE_ACCEPTED)
                    })?;
                    Ok(Rule(rule.to_owned()))
                }
            }
            d.deserialize_str(Visitor)
        }
    }
    const RULE_ACCEPTED: &str = "an rsync exclude rule (PATTERN, `- PATTERN`, `+ PATTERN` or `!`)";
    let rules = Vec::<Rule>::deserialize(d)?;
    Ok(rules.into_iter().map(|Rule(rule)| rule).collect())
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
    fn errors_name_line_key_value_and_what_is_accepted() {
        let cases = [
            (
                "client: acme\nservices:\n  odoo:\n    postgres:\n      hots: x\n",
                "/etc/oe.yml:5: services.odoo.postgres.hots: found the unknown key `hots`; \
                 accepted: the keys host, port,",
            ),
            (
                "environment: prod\n",
                "/etc/oe.yml:1: environment: found \"prod\"; accepted: production,",
            ),
            ("\nnginx: maybe\n", "/etc/oe.yml:2: nginx: found \"maybe\"; accepted: on or off"),
            ("verbose: 3\n", "/etc/oe.yml:1: verbose: found 3; accepted: on or off"),
            (
                "services:\n  odoo:\n    postgres: {port: 99999}\n",
                "/etc/oe.yml:3: services.odoo.postgres.port: found 99999; accepted: a whole number \
                 from 0 to 65535",
            ),
            (
                "retention:\n  last: 1\n  daily: -1\n",
                "/etc/oe.yml:3: retention.daily: found -1; accepted: a whole number",
            ),
            (
                "mirror:\n  dirs:\n    /srv: {}\n    srv/x: {}\n",
                "/etc/oe.yml:4: mirror.dirs.srv/x: found \"srv/x\"; accepted: an absolute directory",
            ),
            (
                "mirror:\n  dirs:\n    /srv:\n      exclude:\n        - a\n        - ''\n",
                "/etc/oe.yml:6: mirror.dirs./srv.exclude[1]: found \"\" (empty pattern); \
                 accepted: an rsync exclude rule",
            ),
            ("client: [a]\n", "/etc/oe.yml:1: client: found a list; accepted: a string"),
            (
                "mirror:\n  dirs:\n    /srv: {}\n    /srv/: {}\n",
                "/etc/oe.yml:4: mirror.dirs./srv/: found \"/srv/\", the same directory as \"/srv\"",
            ),
            (
                "services:\n  odoo: {}\n  erp: {}\n  odoo: {data_dir: /x}\n",
                "/etc/oe.yml:4: services.odoo: found \"odoo\" a second time; accepted: each name once",
            ),
            ("[a]\n", "/etc/oe.yml:1: found a list; accepted: a mapping of keys"),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(expected), "{text:?}:\n{e}\nwanted:\n{expected}");
        }
    }

    #[test]
    fn a_dirs_file_is_checked_like_mirror_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dirs.yml");
        std::fs::write(&path, "/srv: {}\nrelative: {}\n").unwrap();
        let e = read_dirs_file(&path).unwrap_err().to_string();
        let expected = format!("{}:2: relative: found \"relative\"; accepted:", path.display());
        assert!(e.starts_with(&expected), "{e}");
    }
}
