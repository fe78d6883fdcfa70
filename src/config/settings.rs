//! Resolved settings: the config file plus every default, in one place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Error;
use super::daemon::{Action, NotifyFile};
use super::file::{ConfigFile, DirsFile, Environment, PostgresFile, Switch, read_dirs_file};
use super::location::{Access, Location, S3Options, SshOptions};
use crate::atomic::AtomicFile;
use crate::rules::filter::Filter;

/// Connection settings of a service as configured; `pg` fills the rest from PG* variables
/// and libpq's defaults.
pub type PgSettings = PostgresFile;

/// The service every command may name without configuring it.
pub const DEFAULT_SERVICE: &str = "odoo";

/// Where installations live when `deploy.base_dir` is not set.
pub const DEFAULT_BASE_DIR: &str = "/srv/oe";

/// The managed PostgreSQL of an installation, relative to its directory (written by
/// `oe install`, read as the default service).
pub const INSTALLATION_POSTGRES: &str = "config/postgres.yml";

/// `deploy`, resolved.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    pub base_dir: PathBuf,
    /// The host port nginx publishes.
    pub http_port: u16,
    /// The host port of the managed PostgreSQL, when configured.
    pub db_port: Option<u16>,
}

/// The mail catcher (`oe mail`).
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub dir: PathBuf,
    pub listen: Vec<std::net::SocketAddr>,
    pub web: Option<std::net::SocketAddr>,
    pub max_messages: usize,
    pub max_age: std::time::Duration,
    pub max_size: u64,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub path: PathBuf,
    pub file: ConfigFile,
}

/// A named service: its PostgreSQL server and Odoo's data directory.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub postgres: PgSettings,
    pub data_dir: PathBuf,
    /// Odoo's addons directories, when configured: `neutralize` then runs Odoo's own files.
    pub addons_path: Option<Vec<PathBuf>>,
}

/// A directory `oe mirror` mirrors, with its exclusion rules parsed.
#[derive(Debug, Clone)]
pub struct MirrorDir {
    /// Absolute, without a trailing `/` (but `/` itself).
    pub dir: String,
    pub filter: Filter,
}

/// What `oe daemon` and `oe status` work with.
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    pub timezone: jiff::tz::TimeZone,
    /// In name order.
    pub jobs: Vec<Job>,
    pub notify: NotifyFile,
    pub state_file: PathBuf,
    pub catch_up: Duration,
    pub concurrency: usize,
    pub grace_period: Duration,
    pub lock_wait: Duration,
}

/// A job of the daemon.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub schedule: crate::rules::schedule::Schedule,
    pub action: Action,
}

/// Where a shown value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    Default,
    Unset,
}

/// One line of `oe config`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub source: Source,
}

impl Settings {
    /// `--config PATH`, else `$OE_CONFIG`, else `$XDG_CONFIG_HOME/oe/config.yml`.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(path) = explicit {
            return path.to_path_buf();
        }
        if let Some(path) = std::env::var_os("OE_CONFIG").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| home_dir().map(|h| h.join(".config")))
            .unwrap_or_else(|| PathBuf::from("/etc"));
        config_home.join("oe").join("config.yml")
    }

    pub fn load(explicit: Option<&Path>) -> Result<Settings, Error> {
        let path = Settings::locate(explicit);
        let file = ConfigFile::read(&path)?;
        Ok(Settings { path, file })
    }

    /// Writes the file atomically with mode 0600, creating its directory (0700) if needed.
    pub fn save(&self) -> Result<(), Error> {
        let write = || -> std::io::Result<()> {
            crate::atomic::create_private_parent(&self.path)?;
            let mut out = AtomicFile::create(&self.path)?;
            std::io::Write::write_all(&mut out, self.file.to_yaml().as_bytes())?;
            out.commit()
        };
        write().map_err(|source| Error::Write { path: self.path.clone(), source })
    }

    pub fn environment(&self) -> Environment {
        self.file.environment.unwrap_or(Environment::Production)
    }

    /// The database a command works on: `-d`, else `database`, else `<client>_prod`.
    pub fn database(&self, flag: Option<&str>) -> Result<String, Error> {
        let name = flag
            .map(str::to_owned)
            .or_else(|| self.file.database.clone())
            .or_else(|| self.file.client.as_ref().map(|c| format!("{c}_prod")))
            .ok_or(Error::NoDatabase)?;
        validate_database_name(&name)?;
        Ok(name)
    }

    /// The service called `name`; `odoo` exists even when not configured.
    pub fn service(&self, name: &str) -> Result<Service, Error> {
        let configured = self.file.services.get(name);
        if configured.is_none() && name != DEFAULT_SERVICE {
            let known: Vec<&str> = self.file.services.keys().map(String::as_str).collect();
            return Err(Error::UnknownService {
                name: name.to_owned(),
                path: self.path.clone(),
                known: if known.is_empty() { "none".into() } else { known.join(", ") },
            });
        }
        if configured.is_none()
            && let Some(service) = self.installation_service()?
        {
            return Ok(service);
        }
        let configured = configured.cloned().unwrap_or_default();
        Ok(Service {
            name: name.to_owned(),
            postgres: configured.postgres.unwrap_or_default(),
            data_dir: configured.data_dir.unwrap_or_else(default_data_dir),
            addons_path: configured.addons_path,
        })
    }

    /// The deploy settings with their defaults.
    pub fn deploy(&self) -> DeploySettings {
        let d = self.file.deploy.clone().unwrap_or_default();
        DeploySettings {
            base_dir: d.base_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_BASE_DIR)),
            http_port: d.http_port.unwrap_or(80),
            db_port: d.db_port,
        }
    }

    /// The mail catcher's settings with their defaults.
    pub fn mail(&self) -> Result<MailSettings, Error> {
        let m = self.file.mail.clone().unwrap_or_default();
        let max_age = match &m.max_age {
            None => std::time::Duration::from_secs(7 * 24 * 3600),
            Some(text) => crate::rules::retention::parse_age(text)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| Error::Invalid {
                    path: self.path.clone(),
                    line: None,
                    key: "mail.max_age".into(),
                    message: format!("found {text:?}; accepted: a duration like 7d or 36h"),
                })?,
        };
        let dir = match m.dir {
            Some(dir) => dir,
            None => self.daemon()?.state_file.with_file_name("mail"),
        };
        Ok(MailSettings {
            dir,
            listen: m.listen,
            web: m.web,
            max_messages: m.max_messages.unwrap_or(1000),
            max_age,
            max_size: m.max_size.unwrap_or(25 * 1024 * 1024),
        })
    }

    /// How many rollback points `oe update` keeps after a success.
    pub fn keep_rollback(&self) -> usize {
        self.file.update.as_ref().and_then(|u| u.keep_rollback).unwrap_or(1)
    }

    /// Where `oe backup` writes: `backup_dir`, else the `backup_dir/` of the installation
    /// `oe install` made here.
    pub fn backup_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.file.backup_dir {
            return Some(dir.clone());
        }
        let root = self.installation_dir().ok()?;
        root.join(INSTALLATION_POSTGRES).exists().then(|| root.join("backup_dir"))
    }

    /// The directory of this host's installation: `deploy.base_dir/<client>`.
    pub fn installation_dir(&self) -> Result<PathBuf, Error> {
        let client = self.file.client.as_deref().ok_or(Error::NoClient)?;
        validate_client_name(client)?;
        Ok(self.deploy().base_dir.join(client))
    }

    /// The service of the installation `oe install` made here, when there is one: its
    /// PostgreSQL as `oe install` recorded it (a 0600 file, password included) and its
    /// `data_dir`. What makes `oe save`, `oe backup` and the daemon work on a managed
    /// installation without configuring a service.
    fn installation_service(&self) -> Result<Option<Service>, Error> {
        if self.file.client.is_none() {
            return Ok(None);
        }
        let root = self.installation_dir()?;
        let Some(postgres) = read_installation_postgres(&root.join(INSTALLATION_POSTGRES))? else {
            return Ok(None);
        };
        Ok(Some(Service {
            name: DEFAULT_SERVICE.to_owned(),
            postgres,
            data_dir: root.join("data_dir"),
            addons_path: None,
        }))
    }

    /// The mirror repository: `flag`, else `mirror.repository`.
    pub fn mirror_repository(&self, flag: Option<&Location>) -> Result<Location, Error> {
        flag.cloned()
            .or_else(|| Some(self.file.mirror.as_ref()?.repository.as_ref()?.value.clone()))
            .ok_or_else(|| Error::NoRepository { path: self.path.clone() })
    }

    /// How to reach a remote repository: `mirror.ssh`, `mirror.s3` and `mirror.cache_dir`.
    pub fn mirror_access(&self) -> Access {
        let mirror = self.file.mirror.clone().unwrap_or_default();
        let ssh = mirror.ssh.unwrap_or_default();
        let s3 = mirror.s3.unwrap_or_default();
        Access {
            ssh: SshOptions {
                identity_file: ssh.identity_file,
                known_hosts: ssh.known_hosts,
                cache_dir: mirror.cache_dir.unwrap_or_else(default_cache_dir),
            },
            s3: S3Options {
                endpoint: s3.endpoint,
                region: s3.region,
                path_style: s3.path_style,
                credentials_file: s3.credentials_file,
            },
            passphrase_file: mirror.passphrase_file,
        }
    }

    /// The directories to mirror: those of `dirs_file` (a mirror-dir file) when given, else
    /// `mirror.dirs`; each with its rules checked.
    pub fn mirror_dirs(&self, dirs_file: Option<&Path>) -> Result<Vec<MirrorDir>, Error> {
        let (source, dirs) = match dirs_file {
            Some(file) => (file.to_path_buf(), read_dirs_file(file)?),
            None => {
                let dirs = self.file.mirror.as_ref().map(|m| m.dirs.clone()).unwrap_or_default();
                (self.path.clone(), dirs)
            }
        };
        if dirs.is_empty() {
            return Err(Error::NoMirrorDirs { path: source });
        }
        resolve_mirror_dirs(&source, dirs)
    }

    /// The configured directory `dir` (trailing `/` ignored).
    pub fn mirror_dir(&self, dirs_file: Option<&Path>, dir: &str) -> Result<MirrorDir, Error> {
        let dirs = self.mirror_dirs(dirs_file)?;
        let wanted = normalize_dir(dir);
        let known = dirs.iter().map(|d| d.dir.as_str()).collect::<Vec<_>>().join(", ");
        dirs.into_iter()
            .find(|d| d.dir == wanted)
            .ok_or(Error::UnknownMirrorDir { dir: dir.to_owned(), known })
    }

    /// The daemon's settings, with their defaults; an error names a job that cannot run.
    pub fn daemon(&self) -> Result<DaemonSettings, Error> {
        let f = &self.file;
        let d = f.daemon.clone().unwrap_or_default();
        let invalid = |job: &str, message: String| Error::Invalid {
            path: self.path.clone(),
            line: None,
            key: format!("jobs.{job}"),
            message,
        };
        let mut jobs = Vec::with_capacity(f.jobs.len());
        for (name, job) in &f.jobs {
            match &job.action {
                Action::Backup(_) | Action::RestoreTest(_) if self.backup_dir().is_none() => {
                    return Err(invalid(
                        name,
                        "needs backup_dir (oe config --backup-dir DIR)".into(),
                    ));
                }
                Action::Backup(spec) | Action::RestoreTest(spec) => {
                    self.service(spec.service.as_deref().unwrap_or(DEFAULT_SERVICE))?;
                }
                Action::Mirror(spec) => {
                    let location = self.mirror_repository(None)?;
                    self.mirror_dirs(None)?;
                    if spec.retention.is_some() && matches!(location, Location::Ssh(_)) {
                        return Err(invalid(
                            &format!("{name}.mirror.retention"),
                            format!(
                                "{location} is on a backup server, which alone forgets and \
                                 prunes (oe server forget): remove the retention here"
                            ),
                        ));
                    }
                }
            }
            jobs.push(Job {
                name: name.clone(),
                schedule: job.schedule.value.clone(),
                action: job.action.clone(),
            });
        }
        let duration = |v: &Option<super::daemon::Parsed<super::daemon::Duration>>, default| {
            v.as_ref().map_or(default, |p| p.value.0)
        };
        Ok(DaemonSettings {
            timezone: f
                .timezone
                .as_ref()
                .map_or_else(jiff::tz::TimeZone::system, |tz| tz.value.clone()),
            jobs,
            notify: f.notify.clone().unwrap_or_default(),
            state_file: d.state_file.unwrap_or_else(default_state_file),
            catch_up: duration(&d.catch_up, Duration::from_secs(24 * 3600)),
            concurrency: d.concurrency.unwrap_or(1).max(1) as usize,
            grace_period: duration(&d.grace_period, Duration::from_secs(30)),
            lock_wait: duration(&d.lock_wait, Duration::from_secs(3600)),
        })
    }

    /// Every setting with its value (secrets redacted) and where it comes from.
    pub fn entries(&self) -> Vec<Entry> {
        let f = &self.file;
        let mut entries = Vec::new();
        let mut push = |key: &str, file: Option<String>, default: Option<String>| {
            let (value, source) = match (file, default) {
                (Some(v), _) => (v, Source::File),
                (None, Some(d)) => (d, Source::Default),
                (None, None) => (String::new(), Source::Unset),
            };
            entries.push(Entry { key: key.to_owned(), value, source });
        };
        let text = |v: &Option<String>| v.clone();
        let path = |v: &Option<PathBuf>| v.as_ref().map(|p| p.display().to_string());
        let switch = |v: &Option<Switch>| v.map(|s| s.to_string());
        push("client", text(&f.client), None);
        push(
            "environment",
            f.environment.map(|e| e.to_string()),
            Some(Environment::Production.to_string()),
        );
        push("nginx", switch(&f.nginx), Some("off".into()));
        push("verbose", switch(&f.verbose), Some("off".into()));
        push("database", text(&f.database), f.client.as_ref().map(|c| format!("{c}_prod")));
        push("defapp", text(&f.defapp), None);
        push("odoo_image", text(&f.odoo_image), None);
        push("backup_dir", path(&f.backup_dir), None);
        let deploy = f.deploy.clone().unwrap_or_default();
        push("deploy.base_dir", path(&deploy.base_dir), Some(DEFAULT_BASE_DIR.into()));
        push("deploy.http_port", deploy.http_port.map(|p| p.to_string()), Some("80".into()));
        push(
            "deploy.db_port",
            deploy.db_port.map(|p| p.to_string()),
            Some("(5432 in development, else chosen by oe install)".into()),
        );
        let keep = f.update.as_ref().and_then(|u| u.keep_rollback);
        push("update.keep_rollback", keep.map(|k| k.to_string()), Some("1".into()));
        let mail = f.mail.clone().unwrap_or_default();
        push("mail.dir", path(&mail.dir), Some("mail/ beside daemon.state_file".into()));
        let listen: Vec<String> = mail.listen.iter().map(|a| a.to_string()).collect();
        push(
            "mail.listen",
            (!listen.is_empty()).then(|| listen.join(", ")),
            Some("(none: the daemon runs no catcher)".into()),
        );
        push("mail.web", mail.web.map(|a| a.to_string()), Some("(none)".into()));
        push("mail.max_messages", mail.max_messages.map(|n| n.to_string()), Some("1000".into()));
        push("mail.max_age", mail.max_age.clone(), Some("7d".into()));
        push("mail.max_size", mail.max_size.map(|n| n.to_string()), Some("26214400".into()));
        let policy = f.retention.unwrap_or_default();
        let source = |v: u32| if f.retention.is_some() { Some(v.to_string()) } else { None };
        let default = crate::rules::retention::Policy::default();
        let within = |d: jiff::SignedDuration| format!("{d:#}");
        push(
            "retention.within",
            f.retention.map(|p| within(p.within)),
            Some(within(default.within)),
        );
        push("retention.daily", source(policy.daily), Some(default.daily.to_string()));
        push("retention.weekly", source(policy.weekly), Some(default.weekly.to_string()));
        push("retention.monthly", source(policy.monthly), Some(default.monthly.to_string()));
        push("retention.last", source(policy.last), Some(default.last.to_string()));
        push("retention.yearly", source(policy.yearly), Some(default.yearly.to_string()));
        let mirror = f.mirror.clone().unwrap_or_default();
        push("mirror.repository", mirror.repository.as_ref().map(|r| r.text.clone()), None);
        let Access { ssh, s3, passphrase_file } = self.mirror_access();
        push(
            "mirror.passphrase_file",
            path(&passphrase_file),
            Some("(OE_PASSPHRASE, else the terminal)".into()),
        );
        push("mirror.ssh.identity_file", path(&ssh.identity_file), Some("(ssh's)".into()));
        push("mirror.ssh.known_hosts", path(&ssh.known_hosts), Some("(ssh's)".into()));
        push("mirror.s3.endpoint", s3.endpoint.clone(), Some("(AWS's)".into()));
        push("mirror.s3.region", s3.region.clone(), Some("us-east-1".into()));
        let path_style = s3.path_style.map(|p| p.to_string());
        push("mirror.s3.path_style", path_style, Some("(true with an endpoint)".into()));
        push(
            "mirror.s3.credentials_file",
            path(&s3.credentials_file),
            Some("(AWS_* environment, ~/.aws/credentials)".into()),
        );
        push("mirror.cache_dir", Some(ssh.cache_dir.display().to_string()), None);
        for (dir, settings) in &mirror.dirs {
            let patterns = serde_json::to_string(&settings.exclude).unwrap_or_default();
            push(&format!("mirror.dirs.{dir}.exclude"), Some(patterns), None);
        }
        let d = f.daemon.clone().unwrap_or_default();
        let parsed = |v: &Option<super::daemon::Parsed<super::daemon::Duration>>| {
            v.as_ref().map(|p| p.text.clone())
        };
        push(
            "timezone",
            f.timezone.as_ref().map(|t| t.text.clone()),
            Some("(the system's)".into()),
        );
        push(
            "daemon.state_file",
            path(&d.state_file),
            Some(default_state_file().display().to_string()),
        );
        push("daemon.catch_up", parsed(&d.catch_up), Some("24h".into()));
        push("daemon.concurrency", d.concurrency.map(|c| c.to_string()), Some("1".into()));
        push("daemon.grace_period", parsed(&d.grace_period), Some("30s".into()));
        push("daemon.lock_wait", parsed(&d.lock_wait), Some("1h".into()));
        for (name, job) in &f.jobs {
            push(&format!("jobs.{name}.schedule"), Some(job.schedule.text.clone()), None);
            let spec = match &job.action {
                Action::Backup(spec) | Action::RestoreTest(spec) => serde_json::to_string(spec),
                Action::Mirror(spec) => serde_json::to_string(spec),
            };
            push(&format!("jobs.{name}.{}", job.action.kind()), spec.ok(), None);
        }
        let notify = f.notify.clone().unwrap_or_default();
        let target = |t: &Option<super::daemon::NotifyTargetFile>| {
            // Webhook URLs (Slack's, say) are secrets too.
            let t = t.as_ref()?;
            let webhook = t.webhook.as_ref().map(|_| "********");
            Some(serde_json::json!({"webhook": webhook, "command": t.command}).to_string())
        };
        push("notify.on_failure", target(&notify.on_failure), None);
        push("notify.on_success", target(&notify.on_success), None);
        // Ping URLs carry their secret in the path.
        push("notify.ping_url", notify.ping_url.as_ref().map(|_| "********".into()), None);
        push("notify.metrics_file", path(&notify.metrics_file), None);
        let mut names: Vec<&str> = f.services.keys().map(String::as_str).collect();
        if !f.services.contains_key(DEFAULT_SERVICE) {
            names.insert(0, DEFAULT_SERVICE);
        }
        for name in names {
            let service = f.services.get(name).cloned().unwrap_or_default();
            let pg = service.postgres.unwrap_or_default();
            let libpq = || Some("(PG* environment, else libpq default)".to_owned());
            let key = |k: &str| format!("services.{name}.{k}");
            push(&key("postgres.host"), text(&pg.host), libpq());
            push(&key("postgres.port"), pg.port.map(|p| p.to_string()), libpq());
            push(&key("postgres.user"), text(&pg.user), libpq());
            push(&key("postgres.password"), pg.password.map(|_| "********".into()), libpq());
            push(&key("postgres.passfile"), path(&pg.passfile), libpq());
            push(&key("postgres.sslmode"), pg.sslmode.map(|m| m.as_str().into()), libpq());
            push(&key("postgres.sslrootcert"), path(&pg.sslrootcert), libpq());
            push(
                &key("postgres.bindir"),
                path(&pg.bindir),
                Some("/usr/lib/postgresql/<server major>/bin, else PATH".into()),
            );
            push(
                &key("data_dir"),
                path(&service.data_dir),
                Some(default_data_dir().display().to_string()),
            );
            push(
                &key("addons_path"),
                service.addons_path.as_ref().map(|dirs| {
                    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(",")
                }),
                Some("(none: oe's built-in neutralization)".into()),
            );
        }
        entries
    }
}

fn resolve_mirror_dirs(source: &Path, dirs: DirsFile) -> Result<Vec<MirrorDir>, Error> {
    let mut resolved: Vec<MirrorDir> = Vec::with_capacity(dirs.len());
    for (dir, settings) in dirs {
        let invalid =
            |message: String| Error::MirrorDir { path: source.into(), dir: dir.clone(), message };
        if !dir.starts_with('/') {
            return Err(invalid("not an absolute path".into()));
        }
        let filter = Filter::parse(&settings.exclude).map_err(|e| invalid(e.to_string()))?;
        let normalized = normalize_dir(&dir);
        if resolved.iter().any(|d| d.dir == normalized) {
            return Err(invalid("configured twice".into()));
        }
        resolved.push(MirrorDir { dir: normalized, filter });
    }
    Ok(resolved)
}

/// A directory without trailing slashes (`/` stays `/`).
pub fn normalize_dir(dir: &str) -> String {
    let trimmed = dir.trim_end_matches('/');
    if trimmed.is_empty() { "/".into() } else { trimmed.into() }
}

/// `$XDG_STATE_HOME/oe/state.json`, else `~/.local/state/oe/state.json`, else
/// `/var/lib/oe/state.json`.
fn default_state_file() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"))
        .join("oe/state.json")
}

/// `$XDG_CACHE_HOME/oe`, else `~/.cache/oe`, else `/var/cache/oe`.
fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"))
        .join("oe")
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// Odoo's own default: `~/.local/share/Odoo`, or `/var/lib/odoo` without a home directory.
fn default_data_dir() -> PathBuf {
    home_dir()
        .map(|h| h.join(".local/share/Odoo"))
        .unwrap_or_else(|| PathBuf::from("/var/lib/odoo"))
}

/// The managed PostgreSQL `oe install` recorded in `path` (its `config/postgres.yml`);
/// `None` when there is no such file.
pub fn read_installation_postgres(path: &Path) -> Result<Option<PgSettings>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Read { path: path.to_owned(), source }),
    };
    let postgres = serde_yaml_ng::from_str(&text).map_err(|e| Error::Invalid {
        path: path.to_owned(),
        line: None,
        key: "postgres".into(),
        message: e.to_string(),
    })?;
    Ok(Some(postgres))
}

/// A client's name: it names a directory, containers and a network, so 1 to 32 of
/// `a-z 0-9 _ -`, starting with a letter or digit.
pub fn validate_client_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok { Ok(()) } else { Err(Error::BadClientName(name.to_owned())) }
}

/// PostgreSQL identifiers: 1 to 63 bytes, no NUL.
pub fn validate_database_name(name: &str) -> Result<(), Error> {
    let bad = |reason| Err(Error::BadDatabaseName { name: name.to_owned(), reason });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 63 {
        return bad("PostgreSQL names are at most 63 bytes");
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    Ok(())
}
