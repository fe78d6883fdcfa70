//! Which backups to keep: the names `oe backup` writes, and the keep-last/daily/weekly/
//! monthly/yearly rules (of `oe backup`'s retention and of `oe mirror forget`).
//!
//! Pure, no I/O: callers list the directory, pass the parsed names in, print the [`Plan`] on
//! `--dry-run` and delete what it says. No clock either: "now" is the caller's business.
//!
//! # Names
//!
//! A backup of database `db` is `<db>_<yyyy-mm-dd_HH-MM-SS>.zip` (Odoo's download naming), the
//! time being UTC. The database is everything before the `_` that precedes the timestamp, so it
//! may itself contain `_` and `-`. Anything else (partial files, other extensions, impossible
//! dates) is not a backup and is never selected, so never deleted.
//!
//! # Rules
//!
//! The semantics of restic's and borg's `--keep-last/daily/weekly/monthly/yearly`, which is
//! what Odoo.sh's "7 daily, 4 weekly, 3 monthly" means:
//!
//! - backups are ordered newest first;
//! - `within` keeps every backup younger than that (default 24 hours), whatever the other
//!   rules say (restic's `--keep-within`): a manual backup taken before a risky change never
//!   pushes out that night's backup. A backup's time is the caller's: `oe backup` passes the
//!   older of the name's time and the file's mtime, so a file copied in with a future name
//!   is not young for ever;
//! - `last` keeps that many newest backups;
//! - each other rule walks that order and keeps the newest backup of each distinct period (UTC day;
//!   ISO 8601 week, Monday to Sunday, week 1 holding the year's first Thursday; UTC calendar
//!   month) until it has kept its count of periods. A period without a backup is skipped, it
//!   does not use up the count: `weekly: 4` keeps four weeks that have backups, however far
//!   back;
//! - the rules overlap: a backup kept by several rules is kept once, with every reason. With
//!   one backup a day and the default 7/4/3, that is the last 7 days, the last backup of the 3
//!   weeks before them, and the last backup of 2 earlier months;
//! - the newest backup is always kept, even with every count at 0 (reason [`Reason::Newest`]):
//!   pruning must never leave a database without its latest restore point;
//! - everything else is deleted.
//!
//! All periods are UTC, like the names: a backup taken at 01:00 in Paris belongs to the
//! previous UTC day. The calendar (dates, ISO weeks, months) is [`jiff`]'s; this module only
//! names the periods.

use std::cmp::Reverse;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::SignedDuration;
use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};

/// The time part of a name, `yyyy-mm-dd_HH-MM-SS`: `d` stands for an ASCII digit.
const TIME_SHAPE: &[u8; 19] = b"dddd-dd-dd_dd-dd-dd";
/// The time part of a name as a [`jiff::fmt::strtime`] format.
const TIME_FORMAT: &str = "%Y-%m-%d_%H-%M-%S";
const EXTENSION: &str = ".zip";
/// Where Unix time starts, in UTC.
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// A UTC time to the second, between 0000-01-01 and 9999-12-31: the range the names can
/// express, so that every `Timestamp` formats and parses back to itself.
///
/// Seconds since 1970, read as a UTC civil [`DateTime`], not a [`jiff::Timestamp`]: that one
/// ends on 9999-12-30 (it leaves room for any offset), the names a day later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Seconds since 1970-01-01 UTC; `None` outside years 0000 to 9999.
    pub fn from_unix_seconds(seconds: i64) -> Option<Timestamp> {
        let time = EPOCH.checked_add(SignedDuration::from_secs(seconds)).ok()?;
        (0..=9999).contains(&time.year()).then_some(Timestamp(seconds))
    }

    /// Truncated to the second (towards the past); `None` outside years 0000 to 9999.
    pub fn from_system_time(time: SystemTime) -> Option<Timestamp> {
        let since = SignedDuration::system_until(UNIX_EPOCH, time).ok()?;
        // 1.5 s before the epoch is in second -2.
        Timestamp::from_unix_seconds(since.as_secs() - i64::from(since.subsec_nanos() < 0))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// Parses `yyyy-mm-dd_HH-MM-SS` (UTC), exactly: ASCII digits, a real date, hours 00-23,
    /// minutes and seconds 00-59.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let shaped = text.len() == TIME_SHAPE.len()
            && text.bytes().zip(TIME_SHAPE).all(|(c, &shape)| match shape {
                b'd' => c.is_ascii_digit(),
                separator => c == separator,
            });
        if !shaped {
            return None;
        }
        // Not `strptime`, which reads a second 60 as 59: a leap second is no time of a name.
        let number = |at: usize| text[at..at + 2].parse::<i8>().ok();
        let year = text[..4].parse().ok()?;
        let (month, day) = (number(5)?, number(8)?);
        let (hour, minute, second) = (number(11)?, number(14)?, number(17)?);
        let time = DateTime::new(year, month, day, hour, minute, second, 0).ok()?;
        Timestamp::from_unix_seconds(time.duration_since(EPOCH).as_secs())
    }

    /// The UTC day and time.
    fn civil(self) -> DateTime {
        // Cannot fail: `from_unix_seconds` checked the range.
        EPOCH.checked_add(SignedDuration::from_secs(self.0)).unwrap_or(EPOCH)
    }

    /// The UTC day.
    pub fn date(self) -> Date {
        self.civil().date()
    }

    /// The ISO 8601 week, whose year differs from the calendar year around New Year:
    /// 2027-01-01 is in 2026-W53, 2024-12-30 in 2025-W01.
    pub fn iso_week(self) -> IsoWeek {
        let week = self.date().iso_week_date();
        IsoWeek { year: week.year().into(), week: week.week().unsigned_abs() }
    }

    /// The UTC calendar month.
    pub fn year_month(self) -> YearMonth {
        let date = self.date();
        YearMonth { year: date.year().into(), month: date.month().unsigned_abs() }
    }
}

/// `yyyy-mm-dd_HH-MM-SS`, as in backup names.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.civil().strftime(TIME_FORMAT))
    }
}

/// An ISO 8601 week: its year and number (1 to 53). Shown as `2026-W47`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u8,
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

/// A calendar month. Shown as `2026-11`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    /// 1 to 12.
    pub month: u8,
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The name of a backup file: `<database>_<yyyy-mm-dd_HH-MM-SS>.zip`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupName {
    pub database: String,
    pub time: Timestamp,
}

impl BackupName {
    /// Parses a file name (not a path). `None` for anything that is not a complete backup:
    /// partial files (`….zip.1234.partial`), other extensions (`.dump`, `.ZIP`), a missing
    /// database, a malformed or impossible time (`2026-02-29`), a `/` or NUL in the name.
    pub fn parse(file_name: &str) -> Option<BackupName> {
        let stem = file_name.strip_suffix(EXTENSION)?;
        let (database, time) = stem.split_at_checked(stem.len().checked_sub(TIME_SHAPE.len())?)?;
        let database = database.strip_suffix('_')?;
        if database.is_empty() || database.contains(['/', '\0']) {
            return None;
        }
        Some(BackupName { database: database.to_owned(), time: Timestamp::parse(time)? })
    }

    pub fn file_name(&self) -> String {
        format!("{}_{}{EXTENSION}", self.database, self.time)
    }
}

impl fmt::Display for BackupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// How many periods of each kind to keep a backup for. In the config file every key is
/// optional (the default fills in) and unknown keys are rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Every backup younger than this is kept (zero: none by this rule).
    #[serde(
        deserialize_with = "non_negative",
        serialize_with = "jiff::fmt::serde::duration::friendly::compact::required"
    )]
    pub within: SignedDuration,
    #[serde(skip_serializing_if = "is_zero")]
    pub last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub yearly: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An age as people write it: `24h`, `1h 30m`, `7d`, `2w` (a day is 24 hours); not negative.
pub fn parse_age(text: &str) -> Result<SignedDuration, String> {
    let invalid = || format!("invalid duration {text:?}: write it like 24h, 36h or 7d");
    let span: jiff::Span = text.parse().map_err(|_| invalid())?;
    let duration =
        span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).map_err(|_| invalid())?;
    if duration.is_negative() {
        return Err(invalid());
    }
    Ok(duration)
}

/// Reads `within` inside a visitor, so that a config error carries the value's own line.
fn non_negative<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
    struct Age;
    impl serde::de::Visitor<'_> for Age {
        type Value = SignedDuration;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration like 24h, 36h or 7d")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SignedDuration, E> {
            parse_age(text).map_err(|_| {
                E::custom(format_args!("found {text:?}; accepted: a duration like 24h, 36h or 7d"))
            })
        }
    }
    d.deserialize_str(Age)
}

/// 24 hours within, 7 daily, 4 weekly, 3 monthly, like Odoo.sh.
impl Default for Policy {
    fn default() -> Policy {
        Policy {
            within: SignedDuration::from_hours(24),
            last: 0,
            daily: 7,
            weekly: 4,
            monthly: 3,
            yearly: 0,
        }
    }
}

impl Policy {
    /// Keeps nothing by any rule (only the newest, which is always kept).
    pub const NONE: Policy = Policy {
        within: SignedDuration::ZERO,
        last: 0,
        daily: 0,
        weekly: 0,
        monthly: 0,
        yearly: 0,
    };
}

/// Why a backup is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Younger than `within`.
    Within,
    /// One of the `last` newest backups (1 = the newest).
    Last(u32),
    /// The newest backup of this UTC day, one of the `daily` newest days. Shown as `2026-11-22`.
    Daily(Date),
    /// The newest backup of this ISO week, one of the `weekly` newest weeks.
    Weekly(IsoWeek),
    /// The newest backup of this month, one of the `monthly` newest months.
    Monthly(YearMonth),
    /// The newest backup of this UTC year, one of the `yearly` newest years.
    Yearly(i32),
    /// The newest backup, which no rule kept.
    Newest,
}

/// `within`, `last 1`, `daily 2026-11-22`, `weekly 2026-W47`, `monthly 2026-11`, `yearly 2026`, `newest`.
impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Within => f.write_str("within"),
            Reason::Last(n) => write!(f, "last {n}"),
            Reason::Yearly(year) => write!(f, "yearly {year}"),
            Reason::Daily(date) => write!(f, "daily {date}"),
            Reason::Weekly(week) => write!(f, "weekly {week}"),
            Reason::Monthly(month) => write!(f, "monthly {month}"),
            Reason::Newest => f.write_str("newest"),
        }
    }
}

/// What pruning would do; both lists newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<T> {
    /// Each kept backup with its reasons, in the order within, last, daily, weekly, monthly,
    /// yearly (or `Newest`).
    pub keep: Vec<(T, Vec<Reason>)>,
    pub delete: Vec<T>,
}

/// Applies `policy` to `backups` (any order) at `now`. Equal times are ordered by position:
/// the earlier in `backups` counts as the newer, so the plan depends on the input only.
pub fn select<T: Clone>(backups: &[(T, Timestamp)], policy: Policy, now: Timestamp) -> Plan<T> {
    let order = newest_first(backups);
    let times: Vec<Timestamp> = order.iter().map(|&i| backups[i].1).collect();
    let mut reasons = vec![Vec::new(); order.len()];
    let within = policy.within.as_secs();
    for (time, reasons) in times.iter().zip(&mut reasons) {
        // Times after `now` are young too: a clock set back must not delete new backups.
        if within > 0 && now.unix_seconds() - time.unix_seconds() < within {
            reasons.push(Reason::Within);
        }
    }
    for (n, reasons) in reasons.iter_mut().take(policy.last as usize).enumerate() {
        reasons.push(Reason::Last(n as u32 + 1));
    }
    keep_periods(&times, policy.daily, |t| Reason::Daily(t.date()), &mut reasons);
    keep_periods(&times, policy.weekly, |t| Reason::Weekly(t.iso_week()), &mut reasons);
    keep_periods(&times, policy.monthly, |t| Reason::Monthly(t.year_month()), &mut reasons);
    keep_periods(&times, policy.yearly, |t| Reason::Yearly(t.date().year().into()), &mut reasons);
    if let Some(newest) = reasons.first_mut().filter(|r| r.is_empty()) {
        newest.push(Reason::Newest);
    }

    let mut plan = Plan { keep: Vec::new(), delete: Vec::new() };
    for (i, reasons) in order.into_iter().zip(reasons) {
        let item = backups[i].0.clone();
        if reasons.is_empty() {
            plan.delete.push(item);
        } else {
            plan.keep.push((item, reasons));
        }
    }
    plan
}

/// The newest backup, the one [`select`] always keeps (same order for equal times).
pub fn newest<T>(backups: &[(T, Timestamp)]) -> Option<&T> {
    newest_first(backups).first().map(|&i| &backups[i].0)
}

/// Indices of `backups`, newest first; a stable sort, so equal times keep input order.
fn newest_first<T>(backups: &[(T, Timestamp)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..backups.len()).collect();
    order.sort_by_key(|&i| Reverse(backups[i].1));
    order
}

/// One rule: along `times` (newest first), gives the first backup of each new period its
/// reason, until `count` periods are kept. `period` maps a time to the reason naming its
/// period, so that equal reasons mean the same period.
fn keep_periods(
    times: &[Timestamp],
    count: u32,
    period: impl Fn(Timestamp) -> Reason,
    reasons: &mut [Vec<Reason>],
) {
    let mut left = count;
    let mut last = None;
    for (&time, reasons) in times.iter().zip(reasons) {
        if left == 0 {
            break;
        }
        let this = period(time);
        if last != Some(this) {
            reasons.push(this);
            last = Some(this);
            left -= 1;
        }
    }
}

#[cfg(test)]
mod tests;
