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
//! previous UTC day.

use std::cmp::Reverse;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

const SECONDS_PER_DAY: i64 = 86_400;
/// Length of the time part of a name: `yyyy-mm-dd_HH-MM-SS`.
const TIME_LEN: usize = 19;
const EXTENSION: &str = ".zip";

/// A UTC time to the second, between 0000-01-01 and 9999-12-31: the range the names can
/// express, so that every `Timestamp` formats and parses back to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    const MIN: i64 = -62_167_219_200; // 0000-01-01_00-00-00
    const MAX: i64 = 253_402_300_799; // 9999-12-31_23-59-59

    /// Seconds since 1970-01-01 UTC; `None` outside years 0000 to 9999.
    pub fn from_unix_seconds(seconds: i64) -> Option<Timestamp> {
        (Self::MIN..=Self::MAX).contains(&seconds).then_some(Timestamp(seconds))
    }

    /// Truncated to the second; `None` outside years 0000 to 9999.
    pub fn from_system_time(time: SystemTime) -> Option<Timestamp> {
        let seconds = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).ok()?,
            Err(before) => {
                let before = before.duration();
                let whole = i64::try_from(before.as_secs()).ok()?;
                -whole - i64::from(before.subsec_nanos() > 0)
            }
        };
        Timestamp::from_unix_seconds(seconds)
    }

    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// Parses `yyyy-mm-dd_HH-MM-SS` (UTC), exactly: ASCII digits, a real date, hours 00-23,
    /// minutes and seconds 00-59.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        if b.len() != TIME_LEN || [b[4], b[7], b[13], b[16]] != [b'-'; 4] || b[10] != b'_' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            b[range]
                .iter()
                .try_fold(0, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
        };
        let year = number(0..4)?;
        let month = number(5..7)?;
        let day = number(8..10)?;
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(i64::from(year), month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        let seconds = i64::from(hour * 3600 + minute * 60 + second);
        Timestamp::from_unix_seconds(days * SECONDS_PER_DAY + seconds)
    }

    /// The UTC day.
    pub fn date(self) -> Date {
        let (year, month, day) = civil_from_days(self.days());
        // The casts cannot truncate: a Timestamp lies in years 0000 to 9999.
        Date { year: year as i32, month: month as u8, day: day as u8 }
    }

    /// The ISO 8601 week, whose year differs from the calendar year around New Year:
    /// 2027-01-01 is in 2026-W53, 2024-12-30 in 2025-W01.
    pub fn iso_week(self) -> IsoWeek {
        let days = self.days();
        // 1970-01-01 was a Thursday; 0 = Monday.
        let weekday = (days + 3).rem_euclid(7);
        // A week belongs to the year of its Thursday.
        let thursday = days - weekday + 3;
        let (year, _, _) = civil_from_days(thursday);
        let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
        IsoWeek { year: year as i32, week: week as u8 }
    }

    /// The UTC calendar month.
    pub fn year_month(self) -> YearMonth {
        let Date { year, month, .. } = self.date();
        YearMonth { year, month }
    }

    fn days(self) -> i64 {
        self.0.div_euclid(SECONDS_PER_DAY)
    }
}

/// `yyyy-mm-dd_HH-MM-SS`, as in backup names.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Date { year, month, day } = self.date();
        let second = self.0.rem_euclid(SECONDS_PER_DAY);
        let (hour, minute, second) = (second / 3600, second / 60 % 60, second % 60);
        write!(f, "{year:04}-{month:02}-{day:02}_{hour:02}-{minute:02}-{second:02}")
    }
}

/// A UTC calendar day. Shown as `2026-11-22`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
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
        let (database, time) = stem.split_at_checked(stem.len().checked_sub(TIME_LEN)?)?;
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
    /// The newest backup of this day, one of the `daily` newest days.
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
    keep_periods(&times, policy.yearly, |t| Reason::Yearly(t.date().year), &mut reasons);
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

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`:
/// years start in March, so the leap day ends the year).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400; // 0..=399
    let month_from_march = i64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1; // 0..=365
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097; // 0..=146096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // March = 0
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`select`] at a time when no backup of these tests is young.
    fn plan_of<T: Clone>(backups: &[(T, Timestamp)], policy: Policy) -> Plan<T> {
        select(backups, policy, t("9999-12-31_00-00-00"))
    }

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap_or_else(|| panic!("bad test time {text}"))
    }

    fn date(text: &str) -> Date {
        t(&format!("{text}_00-00-00")).date()
    }

    fn week(year: i32, week: u8) -> IsoWeek {
        IsoWeek { year, week }
    }

    fn month(year: i32, month: u8) -> YearMonth {
        YearMonth { year, month }
    }

    fn policy(daily: u32, weekly: u32, monthly: u32) -> Policy {
        Policy { daily, weekly, monthly, ..Policy::NONE }
    }

    /// Backups named by their time, so plans read as times.
    fn backups(times: &[&str]) -> Vec<(String, Timestamp)> {
        times.iter().map(|&s| (s.to_owned(), t(s))).collect()
    }

    fn kept(plan: &Plan<String>) -> Vec<&str> {
        plan.keep.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// One backup a day at 02:00:05 from `first` for `count` days, oldest first.
    fn daily_backups(first: &str, count: i64) -> Vec<(String, Timestamp)> {
        let start = t(&format!("{first}_02-00-05")).unix_seconds();
        (0..count)
            .map(|i| {
                let time = Timestamp::from_unix_seconds(start + i * SECONDS_PER_DAY).unwrap();
                (time.to_string(), time)
            })
            .collect()
    }

    #[test]
    fn timestamp_matches_unix_time() {
        // Oracle: `date -u -d '…' +%s`.
        let cases = [
            ("1970-01-01_00-00-00", 0),
            ("2026-11-22_02-00-05", 1_795_312_805),
            ("0000-01-01_00-00-00", -62_167_219_200),
            ("9999-12-31_23-59-59", 253_402_300_799),
            ("1969-12-31_23-59-59", -1),
            ("2000-02-29_12-00-00", 951_825_600),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                Timestamp::parse(text).map(Timestamp::unix_seconds),
                Some(seconds),
                "{text}"
            );
            assert_eq!(Timestamp::from_unix_seconds(seconds).unwrap().to_string(), text);
        }
        assert_eq!(Timestamp::from_unix_seconds(-62_167_219_201), None);
        assert_eq!(Timestamp::from_unix_seconds(253_402_300_800), None);
    }

    #[test]
    fn timestamp_from_system_time_truncates_to_the_second() {
        use std::time::Duration;
        let at = |seconds: i64, nanos: u32| {
            let offset = Duration::new(seconds.unsigned_abs(), 0);
            let base = if seconds < 0 { UNIX_EPOCH - offset } else { UNIX_EPOCH + offset };
            Timestamp::from_system_time(base + Duration::from_nanos(nanos.into()))
                .map(Timestamp::unix_seconds)
        };
        assert_eq!(at(1_795_312_805, 999_999_999), Some(1_795_312_805));
        assert_eq!(at(0, 0), Some(0));
        assert_eq!(at(-2, 500_000_000), Some(-2)); // 1.5 s before the epoch
        assert_eq!(at(-2, 0), Some(-2));
        assert_eq!(at(300_000_000_000, 0), None);
    }

    #[test]
    fn timestamp_rejects_malformed_times() {
        let cases = [
            "2026-13-01_00-00-00",
            "2026-00-01_00-00-00",
            "2026-01-00_00-00-00",
            "2026-02-29_00-00-00", // 2026 is not a leap year
            "2100-02-29_00-00-00", // nor is 2100
            "2026-04-31_00-00-00",
            "2026-11-22_24-00-00",
            "2026-11-22_02-60-00",
            "2026-11-22_02-00-60", // no leap seconds
            "2026-11-22 02-00-05",
            "2026-11-22_02:00:05",
            "2026/11/22_02-00-05",
            "2026-11-2_02-00-05",
            "2026-11-22_02-00-055",
            "+026-11-22_02-00-05",
            "2026-1a-22_02-00-05",
            "2026-11-22_02-00-0\u{e9}",
            "",
        ];
        for text in cases {
            assert_eq!(Timestamp::parse(text), None, "{text}");
        }
        for text in ["2028-02-29_00-00-00", "2000-02-29_23-59-59", "2026-12-31_23-59-59"] {
            assert_eq!(t(text).to_string(), text);
        }
    }

    #[test]
    fn calendar_accessors() {
        // Oracle: `date -u -d DAY +%G-W%V`.
        let cases = [
            ("2026-11-22", week(2026, 47)),
            ("2026-11-23", week(2026, 48)),
            ("2026-01-01", week(2026, 1)),
            ("2025-12-29", week(2026, 1)),
            ("2026-12-31", week(2026, 53)),
            ("2027-01-01", week(2026, 53)),
            ("2027-01-03", week(2026, 53)),
            ("2027-01-04", week(2027, 1)),
            ("2027-12-31", week(2027, 52)),
            ("2020-12-31", week(2020, 53)),
            ("2021-01-03", week(2020, 53)),
            ("2021-01-04", week(2021, 1)),
            ("2024-12-30", week(2025, 1)),
            ("2015-12-31", week(2015, 53)),
            ("2010-01-03", week(2009, 53)),
            ("2000-01-01", week(1999, 52)),
            ("2028-02-29", week(2028, 9)),
        ];
        for (day, expected) in cases {
            let time = t(&format!("{day}_12-34-56"));
            assert_eq!(time.iso_week(), expected, "{day}");
            assert_eq!(time.date().to_string(), day);
            assert_eq!(time.year_month().to_string(), day[..7]);
        }
        assert_eq!(week(2026, 3).to_string(), "2026-W03");
        // The last second of a day is still that day; the first of a month starts it.
        assert_eq!(t("2028-02-29_23-59-59").date(), Date { year: 2028, month: 2, day: 29 });
        assert_eq!(t("2028-03-01_00-00-00").year_month(), month(2028, 3));
        assert_eq!(t("1969-12-31_23-59-59").date(), Date { year: 1969, month: 12, day: 31 });
    }

    /// Every day from 0000-01-01 to 9999-12-31: dates advance by one day, weeks by one on
    /// Mondays, and the conversions invert each other.
    #[test]
    fn calendar_is_consistent_over_the_whole_range() {
        let first = days_from_civil(0, 1, 1);
        let last = days_from_civil(9999, 12, 31);
        assert_eq!(first * SECONDS_PER_DAY, Timestamp::MIN);
        let mut previous = (-1, 12, 31);
        let mut previous_week = week(-1, 52); // 0000-01-01 is a Saturday of -0001-W52
        for days in first..=last {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            let (py, pm, pd) = previous;
            let next = if pd < days_in_month(py, pm) {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), next);
            previous = (y, m, d);

            let iso = Timestamp(days * SECONDS_PER_DAY).iso_week();
            let monday = (days + 3).rem_euclid(7) == 0;
            if monday {
                assert!(
                    iso == week(previous_week.year, previous_week.week + 1)
                        || (iso == week(previous_week.year + 1, 1) && previous_week.week >= 52),
                    "{iso} after {previous_week}"
                );
            } else {
                assert_eq!(iso, previous_week);
            }
            previous_week = iso;
        }
    }

    #[test]
    fn backup_names_parse_and_format_back() {
        let cases = [
            ("acme_prod_2026-11-22_02-00-05.zip", "acme_prod", "2026-11-22_02-00-05"),
            ("acme_2026-11-22_02-00-05.zip", "acme", "2026-11-22_02-00-05"),
            ("my-db_2028-02-29_23-59-59.zip", "my-db", "2028-02-29_23-59-59"),
            (
                "a_2026-01-01_00-00-00_2026-01-02_00-00-00.zip",
                "a_2026-01-01_00-00-00",
                "2026-01-02_00-00-00",
            ),
            ("_x_2026-11-22_02-00-05.zip", "_x", "2026-11-22_02-00-05"),
            (
                "soci\u{e9}t\u{e9}_2026-11-22_02-00-05.zip",
                "soci\u{e9}t\u{e9}",
                "2026-11-22_02-00-05",
            ),
        ];
        for (file_name, database, time) in cases {
            let name = BackupName::parse(file_name).unwrap_or_else(|| panic!("{file_name}"));
            assert_eq!(name, BackupName { database: database.to_owned(), time: t(time) });
            assert_eq!(name.file_name(), file_name);
            assert_eq!(BackupName::parse(&name.file_name()), Some(name));
        }
    }

    #[test]
    fn backup_names_reject_what_is_not_a_complete_backup() {
        let cases = [
            "x.zip.partial",
            "acme_2026-11-22_02-00-05.zip.4242.partial",
            "acme_2026-11-22_02-00-05.zip.partial",
            "acme_2026-11-22_02-00-05.dump",
            "acme_2026-11-22_02-00-05.ZIP",
            "acme_2026-11-22_02-00-05",
            "acme_2026-11-22_02-00-05.zip.zip",
            "x_2026-13-01_00-00-00.zip",
            "x_2026-02-29_00-00-00.zip",
            "_2026-11-22_02-00-05.zip",
            "2026-11-22_02-00-05.zip",
            "acme-2026-11-22_02-00-05.zip",
            "acme2026-11-22_02-00-05.zip",
            "acme_2026-11-22_02-00.zip",
            "backups/acme_2026-11-22_02-00-05.zip",
            "ac\0me_2026-11-22_02-00-05.zip",
            // The cut 19 bytes before the end falls inside the '€'.
            "\u{20ac}123456789012345678.zip",
            ".zip",
            "",
        ];
        for file_name in cases {
            assert_eq!(BackupName::parse(file_name), None, "{file_name:?}");
        }
    }

    #[test]
    fn policy_defaults_and_config_keys() {
        use serde::de::value::{Error, MapDeserializer};
        let from = |pairs: &[(&'static str, u32)]| {
            Policy::deserialize(MapDeserializer::<_, Error>::new(pairs.iter().copied()))
        };
        let day = SignedDuration::from_hours(24);
        let policy = |d, w, m| Policy { within: day, ..policy(d, w, m) };
        assert_eq!(Policy::default(), policy(7, 4, 3));
        assert_eq!(from(&[]).unwrap(), policy(7, 4, 3));
        assert_eq!(from(&[("weekly", 0)]).unwrap(), policy(7, 0, 3));
        assert_eq!(
            from(&[("daily", 1), ("weekly", 2), ("monthly", 12)]).unwrap(),
            policy(1, 2, 12)
        );
        let unknown = from(&[("hourly", 1)]).unwrap_err().to_string();
        assert!(unknown.contains("hourly"), "{unknown}");
    }

    /// 120 daily backups, 2026-08-01 to 2026-11-28 (a Saturday), with the default policy.
    #[test]
    fn default_policy_over_120_days() {
        let all = daily_backups("2026-08-01", 120);
        assert_eq!(all.last().unwrap().0, "2026-11-28_02-00-05");
        let plan = plan_of(&all, Policy::default());
        let daily = |d: &str| Reason::Daily(date(d));
        let expected = vec![
            // W48 is Mon 23 to Sun 29 November; November's newest is the 28th.
            (
                "2026-11-28_02-00-05",
                vec![
                    daily("2026-11-28"),
                    Reason::Weekly(week(2026, 48)),
                    Reason::Monthly(month(2026, 11)),
                ],
            ),
            ("2026-11-27_02-00-05", vec![daily("2026-11-27")]),
            ("2026-11-26_02-00-05", vec![daily("2026-11-26")]),
            ("2026-11-25_02-00-05", vec![daily("2026-11-25")]),
            ("2026-11-24_02-00-05", vec![daily("2026-11-24")]),
            ("2026-11-23_02-00-05", vec![daily("2026-11-23")]),
            // A Sunday: the newest of W47.
            ("2026-11-22_02-00-05", vec![daily("2026-11-22"), Reason::Weekly(week(2026, 47))]),
            ("2026-11-15_02-00-05", vec![Reason::Weekly(week(2026, 46))]),
            ("2026-11-08_02-00-05", vec![Reason::Weekly(week(2026, 45))]),
            ("2026-10-31_02-00-05", vec![Reason::Monthly(month(2026, 10))]),
            ("2026-09-30_02-00-05", vec![Reason::Monthly(month(2026, 9))]),
        ];
        let keep: Vec<_> = plan.keep.iter().map(|(n, r)| (n.as_str(), r.clone())).collect();
        assert_eq!(keep, expected);
        assert_eq!(plan.delete.len(), 120 - 11);
        // Newest first, and everything accounted for once.
        assert_eq!(plan.delete.first().unwrap(), "2026-11-21_02-00-05");
        assert_eq!(plan.delete.last().unwrap(), "2026-08-01_02-00-05");
        let mut seen: Vec<&str> =
            kept(&plan).into_iter().chain(plan.delete.iter().map(|s| s.as_str())).collect();
        seen.sort();
        let mut all_names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        all_names.sort();
        assert_eq!(seen, all_names);
    }

    #[test]
    fn input_order_does_not_matter() {
        let mut all = daily_backups("2026-08-01", 120);
        let sorted = plan_of(&all, Policy::default());
        all.reverse();
        assert_eq!(plan_of(&all, Policy::default()), sorted);
        all.swap(3, 77);
        all.swap(10, 50);
        assert_eq!(plan_of(&all, Policy::default()), sorted);
    }

    struct Case {
        name: &'static str,
        backups: &'static [&'static str],
        policy: Policy,
        keep: &'static [&'static str],
    }

    #[test]
    fn rules_table() {
        let cases = [
            Case {
                name: "several a day: the daily rule keeps the last of each day",
                backups: &[
                    "2026-11-20_02-00-00",
                    "2026-11-20_14-00-00",
                    "2026-11-20_23-59-59",
                    "2026-11-21_00-00-00",
                    "2026-11-21_14-00-00",
                    "2026-11-22_02-00-00",
                    "2026-11-22_20-00-00",
                ],
                policy: policy(2, 0, 0),
                keep: &["2026-11-22_20-00-00", "2026-11-21_14-00-00"],
            },
            Case {
                name: "days without backups do not use up the daily count",
                backups: &["2026-11-01_02-00-00", "2026-11-05_02-00-00", "2026-11-22_02-00-00"],
                policy: policy(3, 0, 0),
                keep: &["2026-11-22_02-00-00", "2026-11-05_02-00-00", "2026-11-01_02-00-00"],
            },
            Case {
                name: "a missing week does not count as a kept week",
                // W45 (Nov 2-8), W46, no W47, W48, W49.
                backups: &[
                    "2026-11-04_02-00-00",
                    "2026-11-11_02-00-00",
                    "2026-11-13_02-00-00",
                    "2026-11-25_02-00-00",
                    "2026-12-02_02-00-00",
                ],
                policy: policy(0, 3, 0),
                keep: &["2026-12-02_02-00-00", "2026-11-25_02-00-00", "2026-11-13_02-00-00"],
            },
            Case {
                name: "a missing month does not count as a kept month",
                backups: &["2026-06-30_02-00-00", "2026-07-15_02-00-00", "2026-09-01_02-00-00"],
                policy: policy(0, 0, 2),
                keep: &["2026-09-01_02-00-00", "2026-07-15_02-00-00"],
            },
            Case {
                name: "2026-12-31 and 2027-01-01 share week 2026-W53",
                backups: &["2026-12-31_02-00-00", "2027-01-01_02-00-00", "2027-01-04_02-00-00"],
                policy: policy(0, 3, 0),
                keep: &["2027-01-04_02-00-00", "2027-01-01_02-00-00"],
            },
            Case {
                name: "but not a month",
                backups: &["2026-12-31_02-00-00", "2027-01-01_02-00-00", "2027-01-04_02-00-00"],
                policy: policy(0, 0, 3),
                keep: &["2027-01-04_02-00-00", "2026-12-31_02-00-00"],
            },
            Case {
                name: "2020-W53 runs to Sunday 2021-01-03",
                backups: &[
                    "2020-12-24_02-00-00",
                    "2020-12-28_02-00-00",
                    "2021-01-03_02-00-00",
                    "2021-01-04_02-00-00",
                ],
                policy: policy(0, 2, 0),
                keep: &["2021-01-04_02-00-00", "2021-01-03_02-00-00"],
            },
            Case {
                name: "2024-12-30 is in 2025-W01 with 2025-01-05",
                backups: &["2024-12-29_02-00-00", "2024-12-30_02-00-00", "2025-01-05_02-00-00"],
                policy: policy(0, 2, 0),
                keep: &["2025-01-05_02-00-00", "2024-12-29_02-00-00"],
            },
            Case {
                name: "month ends are UTC: the last second of January is January",
                backups: &["2026-01-31_00-00-00", "2026-01-31_23-59-59", "2026-02-01_00-00-00"],
                policy: policy(0, 0, 2),
                keep: &["2026-02-01_00-00-00", "2026-01-31_23-59-59"],
            },
            Case {
                name: "leap day: 2028-02-29 is February's newest",
                backups: &[
                    "2028-01-31_02-00-00",
                    "2028-02-28_02-00-00",
                    "2028-02-29_02-00-00",
                    "2028-03-01_02-00-00",
                ],
                policy: policy(0, 0, 3),
                keep: &["2028-03-01_02-00-00", "2028-02-29_02-00-00", "2028-01-31_02-00-00"],
            },
            Case {
                name: "all counts 0 keep the newest only",
                backups: &["2026-11-20_02-00-00", "2026-11-22_02-00-00", "2026-11-21_02-00-00"],
                policy: policy(0, 0, 0),
                keep: &["2026-11-22_02-00-00"],
            },
            Case {
                name: "counts larger than the history keep one per period",
                backups: &["2026-11-21_02-00-00", "2026-11-21_03-00-00", "2026-11-22_02-00-00"],
                policy: policy(100, 100, 100),
                keep: &["2026-11-22_02-00-00", "2026-11-21_03-00-00"],
            },
            Case { name: "nothing to select", backups: &[], policy: policy(7, 4, 3), keep: &[] },
        ];
        for case in cases {
            let all = backups(case.backups);
            let plan = plan_of(&all, case.policy);
            assert_eq!(kept(&plan), case.keep, "{}", case.name);
            let mut expected_delete: Vec<&str> =
                case.backups.iter().copied().filter(|b| !case.keep.contains(b)).collect();
            expected_delete.sort_by(|a, b| b.cmp(a));
            assert_eq!(plan.delete, expected_delete, "{}", case.name);
        }
    }

    #[test]
    fn newest_is_kept_with_its_own_reason_only_when_no_rule_keeps_it() {
        let all = backups(&["2026-11-20_02-00-00", "2026-11-22_02-00-00"]);
        let plan = plan_of(&all, policy(0, 0, 0));
        assert_eq!(plan.keep, vec![("2026-11-22_02-00-00".to_owned(), vec![Reason::Newest])]);
        assert_eq!(plan.delete, vec!["2026-11-20_02-00-00".to_owned()]);

        let plan = plan_of(&all, policy(0, 1, 0));
        assert_eq!(
            plan.keep,
            vec![("2026-11-22_02-00-00".to_owned(), vec![Reason::Weekly(week(2026, 47))])]
        );

        assert_eq!(
            plan_of::<String>(&[], Policy::default()),
            Plan { keep: vec![], delete: vec![] }
        );
        assert_eq!(newest::<String>(&[]), None);
        assert_eq!(newest(&all).unwrap(), "2026-11-22_02-00-00");
    }

    #[test]
    fn within_keeps_every_young_backup_whatever_the_other_rules_say() {
        // A manual backup at 10:00 the same day as the nightly 02:00 one: daily 1 keeps only
        // the newest of the day, within keeps both.
        let all = backups(&[
            "2026-11-20_02-00-00",
            "2026-11-21_02-00-00",
            "2026-11-22_02-00-00",
            "2026-11-22_10-00-00",
        ]);
        let now = t("2026-11-22_10-05-00");
        let within =
            |hours| Policy { within: SignedDuration::from_hours(hours), ..policy(1, 0, 0) };
        let plan = select(&all, within(24), now);
        assert_eq!(
            plan.keep,
            vec![
                (
                    "2026-11-22_10-00-00".to_owned(),
                    vec![Reason::Within, Reason::Daily(date("2026-11-22"))]
                ),
                ("2026-11-22_02-00-00".to_owned(), vec![Reason::Within]),
            ]
        );
        assert_eq!(plan.delete, vec!["2026-11-21_02-00-00", "2026-11-20_02-00-00"]);
        // 32h 5m old is not younger than 32h, but younger than 33h.
        let plan = select(&all, within(32), now);
        assert_eq!(plan.delete, vec!["2026-11-21_02-00-00", "2026-11-20_02-00-00"]);
        let plan = select(&all, within(33), now);
        assert_eq!(plan.delete, vec!["2026-11-20_02-00-00"]);
        // Zero turns the rule off.
        let plan = select(&all, within(0), now);
        assert_eq!(kept(&plan), vec!["2026-11-22_10-00-00"]);
        // A time after now (a clock set back) is young.
        let plan =
            select(&backups(&["2026-11-23_02-00-00", "2026-11-01_02-00-00"]), within(24), now);
        assert_eq!(plan.keep[0].1, vec![Reason::Within, Reason::Daily(date("2026-11-23"))]);
    }

    #[test]
    fn within_is_a_duration_in_the_config() {
        let parse = |text: &str| serde_yaml_ng::from_str::<Policy>(text);
        assert_eq!(parse("{}").unwrap().within, SignedDuration::from_hours(24));
        assert_eq!(parse("within: 36h").unwrap().within, SignedDuration::from_hours(36));
        assert_eq!(parse("within: 1h 30m").unwrap().within, SignedDuration::from_mins(90));
        assert_eq!(parse("within: 0s").unwrap().within, SignedDuration::ZERO);
        assert_eq!(parse("within: 7d").unwrap().within, SignedDuration::from_hours(168));
        assert_eq!(parse("within: 2w").unwrap().within, SignedDuration::from_hours(336));
        for bad in ["within: soon", "within: -1h"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("accepted: a duration like 24h"), "{bad}: {err}");
        }
        assert!(parse("within: 3").is_err());
        let text = serde_yaml_ng::to_string(&Policy::default()).unwrap();
        assert!(text.contains("within: 24h"), "{text}");
    }

    #[test]
    fn equal_times_are_ordered_by_input_position() {
        let time = t("2026-11-22_02-00-00");
        let older = t("2026-11-21_02-00-00");
        let plan = plan_of(&[("a", time), ("old", older), ("b", time)], policy(1, 0, 0));
        assert_eq!(plan.keep, vec![("a", vec![Reason::Daily(time.date())])]);
        assert_eq!(plan.delete, vec!["b", "old"]);
        let input = [("b", time), ("a", time)];
        let plan = plan_of(&input, policy(0, 0, 0));
        assert_eq!(plan.keep, vec![("b", vec![Reason::Newest])]);
        assert_eq!(newest(&input), Some(&"b"));
    }

    #[test]
    fn reasons_display() {
        let cases = [
            (Reason::Daily(date("2026-11-22")), "daily 2026-11-22"),
            (Reason::Weekly(week(2026, 7)), "weekly 2026-W07"),
            (Reason::Monthly(month(2026, 1)), "monthly 2026-01"),
            (Reason::Last(2), "last 2"),
            (Reason::Yearly(2026), "yearly 2026"),
            (Reason::Newest, "newest"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn keeps_the_last_n_and_the_newest_of_each_year() {
        let all = backups(&[
            "2026-11-22_02-00-00",
            "2026-11-21_02-00-00",
            "2026-01-01_02-00-00",
            "2025-12-31_23-00-00",
            "2025-06-01_02-00-00",
            "2024-02-29_02-00-00",
            "2023-01-01_02-00-00",
        ]);
        let policy = Policy { last: 2, yearly: 3, ..Policy::NONE };
        let plan = plan_of(&all, policy);
        let kept: Vec<(&str, Vec<String>)> = plan
            .keep
            .iter()
            .map(|(name, reasons)| (name.as_str(), reasons.iter().map(|r| r.to_string()).collect()))
            .collect();
        assert_eq!(
            kept,
            [
                ("2026-11-22_02-00-00", vec!["last 1".to_string(), "yearly 2026".into()]),
                ("2026-11-21_02-00-00", vec!["last 2".into()]),
                ("2025-12-31_23-00-00", vec!["yearly 2025".into()]),
                ("2024-02-29_02-00-00", vec!["yearly 2024".into()]),
            ]
        );
        assert_eq!(
            plan.delete,
            ["2026-01-01_02-00-00", "2025-06-01_02-00-00", "2023-01-01_02-00-00"]
        );
    }

    /// Random histories against a second, set-based reading of the rules: for each rule, the
    /// `count` newest periods that have backups, each kept through its newest backup.
    #[test]
    fn select_matches_a_set_based_model() {
        use std::collections::{BTreeMap, BTreeSet};
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let start = t("2025-10-01_00-00-00").unix_seconds();
        for _ in 0..500 {
            let len = random(40) as usize;
            let span = 1 + random(400 * SECONDS_PER_DAY as u64) as i64;
            let all: Vec<(usize, Timestamp)> = (0..len)
                .map(|i| {
                    (i, Timestamp::from_unix_seconds(start + random(span as u64) as i64).unwrap())
                })
                .collect();
            let policy = policy(random(10) as u32, random(6) as u32, random(5) as u32);
            let plan = plan_of(&all, policy);

            let mut model: BTreeMap<usize, Vec<Reason>> = BTreeMap::new();
            let rules: [(u32, &dyn Fn(Timestamp) -> Reason); 3] = [
                (policy.daily, &|t| Reason::Daily(t.date())),
                (policy.weekly, &|t| Reason::Weekly(t.iso_week())),
                (policy.monthly, &|t| Reason::Monthly(t.year_month())),
            ];
            // Newest first, ties by position: the key (time, Reverse(index)), largest first.
            let newest_of = |items: &mut dyn Iterator<Item = &(usize, Timestamp)>| {
                items.max_by_key(|(i, time)| (*time, Reverse(*i))).map(|(i, _)| *i)
            };
            for (count, period) in rules {
                let periods: BTreeSet<(Timestamp, usize)> = all
                    .iter()
                    .filter_map(|(i, time)| {
                        let p = period(*time);
                        let newest = newest_of(&mut all.iter().filter(|(_, u)| period(*u) == p))?;
                        (newest == *i).then_some((*time, *i))
                    })
                    .collect();
                let mut picks: Vec<_> = periods.into_iter().collect();
                picks.sort_by_key(|&(time, i)| Reverse((time, Reverse(i))));
                for (time, i) in picks.into_iter().take(count as usize) {
                    model.entry(i).or_default().push(period(time));
                }
            }
            if let Some(newest) = newest_of(&mut all.iter()) {
                model.entry(newest).or_insert_with(|| vec![Reason::Newest]);
            }

            let keep: BTreeMap<usize, Vec<Reason>> = plan.keep.iter().cloned().collect();
            assert_eq!(keep, model, "{all:?} {policy:?}");
            assert_eq!(plan.keep.len() + plan.delete.len(), all.len());
            assert!(plan.delete.iter().all(|i| !keep.contains_key(i)));
            let times: Vec<_> = plan
                .keep
                .iter()
                .map(|(i, _)| all[*i].1)
                .chain(plan.delete.iter().map(|&i| all[i].1))
                .collect();
            let (kept_times, deleted_times) = times.split_at(plan.keep.len());
            assert!(kept_times.is_sorted_by(|a, b| a >= b));
            assert!(deleted_times.is_sorted_by(|a, b| a >= b));
        }
    }
}
