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
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::diagnostic::invalid;
use crate::rules::retention::Policy;
use crate::rules::schedule::Schedule;

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
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "RawJob")]
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

impl<'de> Deserialize<'de> for JobFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JobFile, D::Error> {
        const ACCEPTED: &str = "exactly one of backup, mirror, restore_test";
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = JobFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping with a schedule and one of backup, mirror, restore_test")
            }
            // Checked here rather than after the mapping, so that the error has its line.
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<JobFile, A::Error> {
                let raw = RawJob::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let action = match (raw.backup, raw.mirror, raw.restore_test) {
                    (Some(b), None, None) => Action::Backup(b),
                    (None, Some(m), None) => Action::Mirror(m),
                    (None, None, Some(r)) => Action::RestoreTest(r),
                    (None, None, None) => return Err(invalid("no action", ACCEPTED)),
                    _ => return Err(invalid("more than one action", ACCEPTED)),
                };
                Ok(JobFile { schedule: raw.schedule, action })
            }
        }
        d.deserialize_map(Visitor)
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
    /// What the key accepts, as error messages say it.
    const ACCEPTED: &'static str;
    /// The value, or why `text` is not one.
    fn from_config(text: &str) -> Result<Self, String>;
}

impl FromConfig for Schedule {
    const ACCEPTED: &'static str = "a 5-field crontab expression (minute hour day month \
        weekday, e.g. \"0 2 * * *\") or @hourly, @daily, @weekly, @monthly, @yearly";
    fn from_config(text: &str) -> Result<Self, String> {
        Schedule::parse(text).map_err(|e| e.reason)
    }
}

impl FromConfig for regex::Regex {
    const ACCEPTED: &'static str = "a regular expression";
    fn from_config(text: &str) -> Result<Self, String> {
        // The last line of regex's message says what is wrong; the others draw a caret.
        regex::Regex::new(text).map_err(|e| {
            let message = e.to_string();
            message.lines().last().unwrap_or_default().trim().to_owned()
        })
    }
}

impl FromConfig for TimeZone {
    const ACCEPTED: &'static str = "a time zone of the IANA database, like Europe/Paris or UTC";
    fn from_config(text: &str) -> Result<Self, String> {
        TimeZone::get(text).map_err(|_| "unknown time zone".into())
    }
}

/// A positive length of time: `30s`, `10m`, `24h`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl FromConfig for Duration {
    const ACCEPTED: &'static str = "a length of time like 30s, 10m, 24h or 1h 30m";
    fn from_config(text: &str) -> Result<Self, String> {
        let parsed: SignedDuration = text.parse().map_err(|_| "not a duration".to_owned())?;
        let duration = std::time::Duration::try_from(parsed).map_err(|_| "negative".to_owned())?;
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
        struct Visitor<T>(PhantomData<T>);
        impl<T: FromConfig> de::Visitor<'_> for Visitor<T> {
            type Value = Parsed<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(T::ACCEPTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Parsed<T>, E> {
                Parsed::parse(text)
                    .map_err(|reason| invalid(format_args!("{text:?} ({reason})"), T::ACCEPTED))
            }
        }
        d.deserialize_str(Visitor(PhantomData))
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
        const ACCEPTED: &str = "all, or a list of database names";
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Databases;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(ACCEPTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Databases, E> {
                match text {
                    "all" => Ok(Databases::All),
                    _ => Err(invalid(format_args!("{text:?}"), ACCEPTED)),
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Databases, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                if names.is_empty() {
                    return Err(invalid("an empty list", ACCEPTED));
                }
                Ok(Databases::Named(names))
            }
        }
        d.deserialize_any(Visitor)
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
        let job = |body: &str| {
            format!("jobs:\n  ok:\n    schedule: '@daily'\n    mirror: {{}}\n  x:\n{body}")
        };
        let cases = [
            (
                job("    schedule: '0 25 * * *'\n    backup: {}\n"),
                "/etc/oe.yml:6: jobs.x.schedule: found \"0 25 * * *\" (hour",
            ),
            (
                job("    schedule: '@daily'\n"),
                "/etc/oe.yml:6: jobs.x: found no action; accepted: exactly one of backup, mirror, \
                 restore_test",
            ),
            (
                job("    schedule: '@daily'\n    backup: {}\n    mirror: {}\n"),
                "/etc/oe.yml:6: jobs.x: found more than one action; accepted: exactly one of",
            ),
            (job("    backup: {}\n"), "/etc/oe.yml:6: jobs.x: found no `schedule`; accepted:"),
            (
                job("    schedule: '@daily'\n    backup: {databases: some}\n"),
                "/etc/oe.yml:7: jobs.x.backup.databases: found \"some\"; accepted: all, or a list",
            ),
            (
                job("    schedule: '@daily'\n    backup: {databases: []}\n"),
                "/etc/oe.yml:7: jobs.x.backup.databases: found an empty list; accepted: all",
            ),
            (
                job(
                    "    schedule: '@daily'\n    backup:\n      exclude:\n        - a\n        - '('\n",
                ),
                "/etc/oe.yml:10: jobs.x.backup.exclude[1]: found \"(\" (error: unclosed group); \
                 accepted: a regular expression",
            ),
            (
                job(
                    "    schedule: '@daily'\n    backup: {}\n  ok:\n    schedule: '@daily'\n    mirror: {}\n",
                ),
                "/etc/oe.yml:8: jobs.ok: found \"ok\" a second time; accepted: each name once",
            ),
            (
                "timezone: Europe/Pariss\n".into(),
                "/etc/oe.yml:1: timezone: found \"Europe/Pariss\" (unknown time zone); accepted:",
            ),
            (
                "daemon:\n  catch_up: soon\n".into(),
                "/etc/oe.yml:2: daemon.catch_up: found \"soon\" (not a duration); accepted: a \
                 length of time like 30s",
            ),
            (
                "daemon: {grace_period: -5s}\n".into(),
                "/etc/oe.yml:1: daemon.grace_period: found \"-5s\" (negative); accepted:",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(&text).unwrap_err();
            assert!(e.starts_with(expected), "{text}\n{e}\nwanted:\n{expected}");
        }
    }
}
