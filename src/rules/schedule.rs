//! Cron schedules: classic 5-field crontab expressions evaluated in a time zone, with Vixie
//! cron's semantics across daylight saving changes.
//!
//! Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or `jan`-`dec`), day of
//! week (0-7 or `sun`-`sat`, 0 and 7 both Sunday); each `*`, a value, a range `a-b`, a step
//! `*/n`, `a-b/n` or `a/n` (from `a` to the end), or a comma-separated list of those; names
//! are case-insensitive. `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
//! (`@midnight`) and `@hourly` stand for their usual expressions. When both day fields are
//! restricted, a day matching either runs the job (as cron does); otherwise both must match.
//!
//! Times are wall-clock times in the schedule's zone ([`jiff`] and its bundled time zone
//! database), so that DST changes neither skip nor repeat a run:
//!
//! - a time the clocks jump over (02:30 on a spring-forward night) runs once, at the first
//!   minute after the jump;
//! - a time the clocks repeat (02:30 on a fall-back night) runs once, at its first occurrence
//!   (this holds for every field: an hourly job runs once in the repeated hour too).
//!
//! Pure: no clock is read here; callers pass "now".

use std::fmt;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, Zoned};

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Both day fields restricted: either matches.
    either_day: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schedule {text:?}: {reason}")]
pub struct Error {
    pub text: String,
    pub reason: String,
}

/// How far ahead [`Schedule::next_after`] looks: more than any valid expression needs (a
/// 29 February on a given weekday comes back within 28 years), so `None` means never.
const HORIZON_DAYS: i64 = 366 * 29;

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, Error> {
        let invalid = |reason: String| Error { text: text.to_owned(), reason };
        let expanded = match text.trim().to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            other if other.starts_with('@') => {
                return Err(invalid(format!("unknown shorthand {other}")));
            }
            other => other.to_owned(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(invalid(format!(
                "{} fields; a schedule has 5: minute hour day month weekday",
                fields.len()
            )));
        };
        const MONTHS: &[&str] =
            &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
        const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let minutes = field(minute, 0, 59, &[]).map_err(|e| invalid(format!("minute: {e}")))?;
        let hours = field(hour, 0, 23, &[]).map_err(|e| invalid(format!("hour: {e}")))?;
        let days = field(day, 1, 31, &[]).map_err(|e| invalid(format!("day of month: {e}")))?;
        let months = field(month, 1, 12, MONTHS).map_err(|e| invalid(format!("month: {e}")))?;
        let mut weekdays =
            field(weekday, 0, 7, WEEKDAYS).map_err(|e| invalid(format!("day of week: {e}")))?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & 0x7f;
        }
        let schedule = Schedule {
            text: text.trim().to_owned(),
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: weekdays as u8,
            either_day: !day.starts_with('*') && !weekday.starts_with('*'),
        };
        let start = Timestamp::UNIX_EPOCH;
        if schedule.next_after(start, &TimeZone::UTC).is_none() {
            return Err(invalid("it never runs (no such day)".into()));
        }
        Ok(schedule)
    }

    fn runs_on(&self, date: Date) -> bool {
        let month = self.months & (1 << date.month()) != 0;
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        month && if self.either_day { day || weekday } else { day && weekday }
    }

    /// The first run strictly after `after`, in `tz`; `None` if it never runs.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = tz.to_datetime(after);
        let mut date = local.date();
        for _ in 0..HORIZON_DAYS {
            if self.runs_on(date) {
                for hour in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                    for minute in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                        let at = date.at(hour as i8, minute as i8, 0, 0);
                        if at < local.date().at(local.hour(), local.minute(), 0, 0) {
                            continue;
                        }
                        if let Some(instant) = instant_of(at, tz).filter(|t| *t > after) {
                            return Some(instant);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The next `n` runs after `after`.
    pub fn upcoming(&self, after: Timestamp, tz: &TimeZone, n: usize) -> Vec<Zoned> {
        let mut out = Vec::with_capacity(n);
        let mut at = after;
        while out.len() < n {
            let Some(next) = self.next_after(at, tz) else { break };
            out.push(next.to_zoned(tz.clone()));
            at = next;
        }
        out
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// When the wall-clock time `at` happens in `tz`: its first occurrence if the clocks repeat
/// it, the end of the jump if they skip it.
fn instant_of(at: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(at).offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset.to_timestamp(at).ok()
        }
        AmbiguousOffset::Gap { .. } => {
            // The first wall-clock minute after `at` that exists again: the end of the jump.
            let mut probe = at;
            for _ in 0..(24 * 60) {
                probe = probe.checked_add(jiff::Span::new().minutes(1)).ok()?;
                if let AmbiguousOffset::Unambiguous { offset } =
                    tz.to_ambiguous_timestamp(probe).offset()
                {
                    return offset.to_timestamp(probe).ok();
                }
            }
            None
        }
    }
}

/// A field as a bit set of its allowed values `min..=max`.
fn field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| *n == s) {
            return Ok(i as u32 + if min == 1 { 1 } else { 0 });
        }
        let n: u32 = s.parse().map_err(|_| {
            format!("{s:?} is not a number{}", if names.is_empty() { "" } else { " or a name" })
        })?;
        if n < min || n > max {
            return Err(format!("{n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().map_err(|_| format!("step {step:?} is not a number"))?;
                if step == 0 {
                    return Err("a step of 0".into());
                }
                (range, step)
            }
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            (a, if part.contains('/') { max } else { a })
        };
        for v in (from..=to).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    /// The next `n` runs after the local time `from` in Paris, as local times with offsets.
    fn runs(expr: &str, from: &str, n: usize) -> Vec<String> {
        let tz = paris();
        let start: DateTime = from.parse().unwrap();
        let after = start.to_zoned(tz.clone()).unwrap().timestamp();
        Schedule::parse(expr)
            .unwrap()
            .upcoming(after, &tz, n)
            .iter()
            .map(|z| z.strftime("%Y-%m-%d %H:%M %:z").to_string())
            .collect()
    }

    #[test]
    fn daily_and_steps() {
        assert_eq!(
            runs("0 2 * * *", "2026-11-28T10:00", 2),
            ["2026-11-29 02:00 +01:00", "2026-11-30 02:00 +01:00"]
        );
        assert_eq!(
            runs("*/20 9-10 * * *", "2026-11-28T09:30", 3),
            ["2026-11-28 09:40 +01:00", "2026-11-28 10:00 +01:00", "2026-11-28 10:20 +01:00"]
        );
        assert_eq!(runs("@hourly", "2026-11-28T09:30", 1), ["2026-11-28 10:00 +01:00"]);
        assert_eq!(
            runs("5/30 * * * *", "2026-11-28T09:30", 2),
            ["2026-11-28 09:35 +01:00", "2026-11-28 10:05 +01:00"]
        );
    }

    #[test]
    fn month_ends_and_leap_days() {
        assert_eq!(
            runs("0 0 31 * *", "2026-01-31T12:00", 3),
            ["2026-03-31 00:00 +02:00", "2026-05-31 00:00 +02:00", "2026-07-31 00:00 +02:00"]
        );
        assert_eq!(
            runs("0 0 29 feb *", "2026-01-01T00:00", 2),
            ["2028-02-29 00:00 +01:00", "2032-02-29 00:00 +01:00"]
        );
        assert!(Schedule::parse("0 0 30 2 *").is_err(), "30 February never comes");
    }

    #[test]
    fn sunday_is_0_and_7_and_day_fields_combine_like_cron() {
        // 2026-11-29 is a Sunday.
        for expr in ["0 3 * * 0", "0 3 * * 7", "0 3 * * SUN", "0 3 * * 6-7"] {
            let sunday = runs(expr, "2026-11-28T12:00", 1);
            assert_eq!(sunday, ["2026-11-29 03:00 +01:00"], "{expr}");
        }
        assert_eq!(runs("@weekly", "2026-11-28T12:00", 1), ["2026-11-29 00:00 +01:00"]);
        // Day 1 or Mondays.
        assert_eq!(
            runs("0 0 1 * mon", "2026-11-28T12:00", 3),
            ["2026-11-30 00:00 +01:00", "2026-12-01 00:00 +01:00", "2026-12-07 00:00 +01:00"]
        );
        // Day 1 and any weekday: only day 1.
        assert_eq!(runs("0 0 1 * *", "2026-11-28T12:00", 1), ["2026-12-01 00:00 +01:00"]);
    }

    #[test]
    fn spring_forward_runs_a_skipped_time_once_after_the_jump() {
        // 2026-03-29: 02:00 CET -> 03:00 CEST in Paris.
        assert_eq!(
            runs("30 2 * * *", "2026-03-28T12:00", 3),
            ["2026-03-29 03:00 +02:00", "2026-03-30 02:30 +02:00", "2026-03-31 02:30 +02:00"]
        );
        assert_eq!(
            runs("*/15 2 * * *", "2026-03-29T01:00", 2),
            ["2026-03-29 03:00 +02:00", "2026-03-30 02:00 +02:00"]
        );
    }

    #[test]
    fn fall_back_runs_a_repeated_time_once() {
        // 2026-10-25: 03:00 CEST -> 02:00 CET in Paris; 02:30 happens twice.
        assert_eq!(
            runs("30 2 * * *", "2026-10-24T12:00", 2),
            ["2026-10-25 02:30 +02:00", "2026-10-26 02:30 +01:00"]
        );
        // Wall-clock times, also for an hourly job: the repeated 02:00 runs once.
        assert_eq!(
            runs("0 * * * *", "2026-10-25T01:30", 3),
            ["2026-10-25 02:00 +02:00", "2026-10-25 03:00 +01:00", "2026-10-25 04:00 +01:00"]
        );
    }

    #[test]
    fn invalid_expressions_say_why() {
        for (expr, needle) in [
            ("0 2 * *", "5"),
            ("61 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day of week"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("@reboot", "shorthand"),
            ("* * * foo *", "month"),
        ] {
            let err = Schedule::parse(expr).unwrap_err().to_string();
            assert!(err.contains(needle), "{expr}: {err}");
        }
    }
}
