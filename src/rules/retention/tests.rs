//! Unit tests of [`super`]: times and names parse and format back (fixed dates: leap days,
//! ISO week 53, year boundaries), and [`select`]'s plans, against fixed cases and a
//! set-based model of the rules.

use std::time::UNIX_EPOCH;

use jiff::civil::date as ymd;

use super::*;
use crate::testing::XorShift;

/// Seconds in a UTC day.
const DAY: i64 = 86_400;

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
            let time = Timestamp::from_unix_seconds(start + i * DAY).unwrap();
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
        assert_eq!(Timestamp::parse(text).map(Timestamp::unix_seconds), Some(seconds), "{text}");
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
    assert_eq!(t("2028-02-29_23-59-59").date(), ymd(2028, 2, 29));
    assert_eq!(t("2028-03-01_00-00-00").year_month(), month(2028, 3));
    assert_eq!(t("1969-12-31_23-59-59").date(), ymd(1969, 12, 31));
}

/// Every day from 0000-01-01 to 9999-12-31: dates advance by one day, weeks by one on
/// Mondays, months with the dates, and every time formats and parses back to itself.
#[test]
fn calendar_is_consistent_over_the_whole_range() {
    let first = t("0000-01-01_00-00-00").unix_seconds().div_euclid(DAY);
    let last = t("9999-12-31_23-59-59").unix_seconds().div_euclid(DAY);
    let mut previous = ymd(-1, 12, 31);
    let mut previous_week = week(-1, 52); // 0000-01-01 is a Saturday of -0001-W52
    for days in first..=last {
        let time = Timestamp::from_unix_seconds(days * DAY).unwrap();
        assert_eq!(Timestamp::parse(&time.to_string()), Some(time));
        let date = time.date();
        assert_eq!(Some(date), previous.tomorrow().ok());
        assert_eq!(time.year_month(), month(date.year().into(), date.month() as u8));
        previous = date;

        let iso = time.iso_week();
        // 1970-01-01 was a Thursday.
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
    assert_eq!(previous, ymd(9999, 12, 31));
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
        ("soci\u{e9}t\u{e9}_2026-11-22_02-00-05.zip", "soci\u{e9}t\u{e9}", "2026-11-22_02-00-05"),
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
    assert_eq!(from(&[("daily", 1), ("weekly", 2), ("monthly", 12)]).unwrap(), policy(1, 2, 12));
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

    assert_eq!(plan_of::<String>(&[], Policy::default()), Plan { keep: vec![], delete: vec![] });
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
    let within = |hours| Policy { within: SignedDuration::from_hours(hours), ..policy(1, 0, 0) };
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
    let plan = select(&backups(&["2026-11-23_02-00-00", "2026-11-01_02-00-00"]), within(24), now);
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
    assert_eq!(plan.delete, ["2026-01-01_02-00-00", "2025-06-01_02-00-00", "2023-01-01_02-00-00"]);
}

/// Random histories against a second, set-based reading of the rules: for each rule, the
/// `count` newest periods that have backups, each kept through its newest backup.
#[test]
fn select_matches_a_set_based_model() {
    use std::collections::{BTreeMap, BTreeSet};
    let mut rng = XorShift::new(1);
    let mut random = |bound: u64| rng.below(bound);
    let start = t("2025-10-01_00-00-00").unix_seconds();
    for _ in 0..500 {
        let len = random(40) as usize;
        let span = 1 + random(400 * DAY as u64) as i64;
        let all: Vec<(usize, Timestamp)> = (0..len)
            .map(|i| (i, Timestamp::from_unix_seconds(start + random(span as u64) as i64).unwrap()))
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
