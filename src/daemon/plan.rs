//! When jobs run: the next fire time of each, and the run missed while the daemon was down
//! that is made up at start (anacron's rule, bounded by an age). Pure: "now" is passed in.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::rules::schedule::Schedule;

/// The latest fire time of `schedule` that is due (at or before `now`), came after the job's
/// last run started, and is younger than `max_age`: the run to make up at start. A job that
/// never ran has nothing to make up.
pub fn missed(
    schedule: &Schedule,
    tz: &TimeZone,
    last_started: Option<Timestamp>,
    now: Timestamp,
    max_age: Duration,
) -> Option<Timestamp> {
    let last = last_started?;
    let oldest = now.checked_sub(jiff::SignedDuration::try_from(max_age).ok()?).ok()?;
    let mut due = schedule.next_after(last.max(oldest), tz).filter(|t| *t <= now)?;
    while let Some(next) = schedule.next_after(due, tz).filter(|t| *t <= now) {
        due = next;
    }
    Some(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn a_run_missed_while_down_is_made_up_once() {
        let nightly = Schedule::parse("0 2 * * *").unwrap();
        let tz = TimeZone::get("Europe/Paris").unwrap();
        // Last ran the night before; the host was down at 02:00 Paris (01:00 UTC) today.
        let missed_at = missed(
            &nightly,
            &tz,
            Some(at("2026-11-29T01:00:00Z")),
            at("2026-11-30T08:00:00Z"),
            DAY,
        );
        assert_eq!(missed_at, Some(at("2026-11-30T01:00:00Z")));
        // It ran today already: nothing to make up.
        let done = missed(
            &nightly,
            &tz,
            Some(at("2026-11-30T01:00:00Z")),
            at("2026-11-30T08:00:00Z"),
            DAY,
        );
        assert_eq!(done, None);
    }

    #[test]
    fn only_the_latest_missed_run_counts_and_only_when_young_enough() {
        let hourly = Schedule::parse("0 * * * *").unwrap();
        let tz = TimeZone::UTC;
        let last = Some(at("2026-11-30T01:00:00Z"));
        let now = at("2026-11-30T05:30:00Z");
        assert_eq!(missed(&hourly, &tz, last, now, DAY), Some(at("2026-11-30T05:00:00Z")));
        // Down for longer than the limit: the missed runs are too old to make up.
        assert_eq!(missed(&hourly, &tz, last, now, Duration::from_secs(20 * 60)), None);
        assert_eq!(
            missed(&hourly, &tz, last, now, Duration::from_secs(45 * 60)),
            Some(at("2026-11-30T05:00:00Z"))
        );
    }

    #[test]
    fn a_job_that_never_ran_has_nothing_to_make_up() {
        let nightly = Schedule::parse("@daily").unwrap();
        assert_eq!(missed(&nightly, &TimeZone::UTC, None, at("2026-11-30T08:00:00Z"), DAY), None);
    }
}
