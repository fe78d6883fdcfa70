//! The daemon's part of the configuration file: `timezone`, `jobs`, `notify` and `daemon`.
//!
//! Schedules, time zones, durations and patterns are parsed while the file is read, so an
//! invalid one is reported like any other bad value: with the file, line and key (which names
//! the job). Each keeps its text, so `oe config` writes back what the user wrote. Pure: no
//! I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::retention::Policy;
use crate::schedule::Schedule;

/// `daemon:` settings of the service itself.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonFile {
    /// Where the last runs are recorded [default: $XDG_STATE_HOME/oe/state.json].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// A run missed while the host was down is made up at start when younger than this
    /// [default: 24h].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<Parsed<Duration>>,
    /// How many databases (or directories) are worked on at once, over every job [default: 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// How long children get to stop after SIGTERM before they are killed [default: 30s].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<Parsed<Duration>>,
    /// How long a job waits for a database or repository another run holds [default: 1h].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait: Option<Parsed<Duration>>,
}

/// One entry of `jobs:`: a schedule and exactly one action (`backup`, `mirror` or
/// `restore_test`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawJob", into = "RawJob")]
pub struct JobFile {
    pub schedule: Parsed<Schedule>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Back up each database into the backup directory, then apply retention.
    Backup(DatabasesFile),
    /// Snapshot every directory of `mirror.dirs`.
    Mirror(MirrorJobFile),
    /// Restore the newest backup of each database into a scratch database, check it, drop it.
    RestoreTest(DatabasesFile),
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Backup(_) => "backup",
            Action::Mirror(_) => "mirror",
            Action::RestoreTest(_) => "restore_test",
        }
    }
}

/// A job as written.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    schedule: Parsed<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup: Option<DatabasesFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mirror: Option<MirrorJobFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restore_test: Option<DatabasesFile>,
}

impl TryFrom<RawJob> for JobFile {
    type Error = String;
    fn try_from(raw: RawJob) -> Result<JobFile, String> {
        let action = match (raw.backup, raw.mirror, raw.restore_test) {
            (Some(b), None, None) => Action::Backup(b),
            (None, Some(m), None) => Action::Mirror(m),
            (None, None, Some(r)) => Action::RestoreTest(r),
            _ => return Err("a job has exactly one of backup, mirror, restore_test".into()),
        };
        Ok(JobFile { schedule: raw.schedule, action })
    }
}

impl From<JobFile> for RawJob {
    fn from(job: JobFile) -> RawJob {
        let mut raw =
            RawJob { schedule: job.schedule, backup: None, mirror: None, restore_test: None };
        match job.action {
            Action::Backup(b) => raw.backup = Some(b),
            Action::Mirror(m) => raw.mirror = Some(m),
            Action::RestoreTest(r) => raw.restore_test = Some(r),
        }
        raw
    }
}

/// The databases a `backup` or `restore_test` job works on.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabasesFile {
    /// [default: odoo]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `all` (every database of the server but templates, `postgres` and oe's temporary
    /// ones) or a list of names [default: all].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<Databases>,
    /// Regular expressions: databases matching any are left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Parsed<regex::Regex>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Databases {
    All,
    Named(Vec<String>),
}

/// `mirror:` job: snapshots every directory of `mirror.dirs`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorJobFile {
    /// When given, snapshots these rules do not keep are forgotten and pruned after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Policy>,
}

/// `notify:`: who hears about runs.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<NotifyTargetFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<NotifyTargetFile>,
    /// healthchecks.io style: `<url>/start` when a job starts, `<url>` on success,
    /// `<url>/fail` on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_url: Option<String>,
    /// A Prometheus textfile-collector file, rewritten after every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTargetFile {
    /// Receives the run's summary as a JSON POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// Program and arguments (no shell), run with the summary as JSON on stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// A value parsed from text, keeping the text to write it back.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub text: String,
    pub value: T,
}

impl<T> PartialEq for Parsed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// Parsing from the configuration's text.
pub trait FromConfig: Sized {
    fn from_config(text: &str) -> Result<Self, String>;
}

impl FromConfig for Schedule {
    fn from_config(text: &str) -> Result<Self, String> {
        Schedule::parse(text).map_err(|e| e.to_string())
    }
}

impl FromConfig for regex::Regex {
    fn from_config(text: &str) -> Result<Self, String> {
        regex::Regex::new(text).map_err(|e| format!("invalid regular expression: {e}"))
    }
}

impl FromConfig for TimeZone {
    fn from_config(text: &str) -> Result<Self, String> {
        TimeZone::get(text).map_err(|_| format!("unknown time zone {text:?} (try Europe/Paris)"))
    }
}

/// A positive length of time: `30s`, `10m`, `24h`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl FromConfig for Duration {
    fn from_config(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid duration {text:?}: write it like 30s, 10m or 24h");
        let parsed: SignedDuration = text.parse().map_err(|_| invalid())?;
        let duration = std::time::Duration::try_from(parsed).map_err(|_| invalid())?;
        Ok(Duration(duration))
    }
}

impl<T: FromConfig> Parsed<T> {
    pub fn parse(text: &str) -> Result<Parsed<T>, String> {
        Ok(Parsed { text: text.to_owned(), value: T::from_config(text)? })
    }
}

impl<'de, T: FromConfig> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Parsed<T>, D::Error> {
        let text = String::deserialize(d)?;
        Parsed::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl<T> Serialize for Parsed<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<T> fmt::Display for Parsed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Databases {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Databases::All => s.serialize_str("all"),
            Databases::Named(names) => names.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Databases {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Databases, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            List(Vec<String>),
        }
        let invalid = || serde::de::Error::custom("expected `all` or a list of database names");
        match Raw::deserialize(d).map_err(|_: D::Error| invalid())? {
            Raw::Text(text) if text == "all" => Ok(Databases::All),
            Raw::Text(_) => Err(invalid()),
            Raw::List(names) if names.is_empty() => Err(invalid()),
            Raw::List(names) => Ok(Databases::Named(names)),
        }
    }
}

/// The jobs, by name.
pub type JobsFile = BTreeMap<String, JobFile>;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::ConfigFile;

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(text, Path::new("/etc/oe.yml")).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_daemon_keys_and_writes_them_back() {
        let text = "timezone: Europe/Paris\n\
            daemon: {catch_up: 12h, concurrency: 2, grace_period: 45s, lock_wait: 1h 30m}\n\
            jobs:\n  nightly:\n    schedule: '0 2 * * *'\n    backup: {service: odoo, databases: all, exclude: ['^test_']}\n\
            \x20 some:\n    schedule: '@weekly'\n    restore_test: {databases: [acme_prod]}\n\
            \x20 files:\n    schedule: '30 3 * * *'\n    mirror: {retention: {daily: 7}}\n\
            notify:\n  on_failure: {webhook: 'http://127.0.0.1:9/hook', command: [/bin/true, x]}\n\
            \x20 ping_url: https://hc.example.org/ping/abc\n  metrics_file: /var/lib/oe.prom\n";
        let c = parse(text).unwrap();
        let d = c.daemon.as_ref().unwrap();
        assert_eq!(d.catch_up.as_ref().unwrap().value.0.as_secs(), 12 * 3600);
        assert_eq!(d.lock_wait.as_ref().unwrap().value.0.as_secs(), 5400);
        let Action::Backup(spec) = &c.jobs["nightly"].action else { panic!("not a backup") };
        assert_eq!(spec.databases, Some(Databases::All));
        assert!(
            spec.exclude[0].value.is_match("test_x") && !spec.exclude[0].value.is_match("acme")
        );
        let Action::RestoreTest(spec) = &c.jobs["some"].action else { panic!("not a test") };
        assert_eq!(spec.databases, Some(Databases::Named(vec!["acme_prod".into()])));
        assert_eq!(c.jobs["files"].action.kind(), "mirror");
        assert_eq!(parse(&c.to_yaml()).unwrap(), c);
    }

    #[test]
    fn bad_values_name_the_job_and_the_line() {
        let e =
            parse("jobs:\n  nightly:\n    schedule: '0 25 * * *'\n    backup: {}\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("jobs.nightly"), "{e}");
        assert!(e.contains("hour"), "{e}");

        let e = parse("jobs:\n  x:\n    schedule: '@daily'\n").unwrap_err();
        assert!(e.contains("exactly one of backup, mirror, restore_test"), "{e}");
        let e = parse("jobs:\n  x:\n    schedule: '@daily'\n    backup: {}\n    mirror: {}\n")
            .unwrap_err();
        assert!(e.contains("exactly one"), "{e}");

        let e = parse("timezone: Europe/Pariss\n").unwrap_err();
        assert!(e.contains("unknown time zone"), "{e}");
        let e = parse("daemon: {catch_up: soon}\n").unwrap_err();
        assert!(e.contains("invalid duration"), "{e}");
        let e = parse("jobs:\n  x:\n    schedule: '@daily'\n    backup: {databases: some}\n")
            .unwrap_err();
        assert!(e.contains("expected `all` or a list"), "{e}");
        let e = parse("jobs:\n  x:\n    schedule: '@daily'\n    backup: {exclude: ['(']}\n")
            .unwrap_err();
        assert!(e.contains("invalid regular expression"), "{e}");
    }
}
