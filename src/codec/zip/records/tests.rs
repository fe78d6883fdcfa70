use std::time::Duration;

use super::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// (year, month, day) and (hour, minute, second) of a DOS (time, date).
fn fields((time, date): (u16, u16)) -> ((u16, u16, u16), (u16, u16, u16)) {
    ((1980 + (date >> 9), date >> 5 & 15, date & 31), (time >> 11, time >> 5 & 63, 2 * (time & 31)))
}

#[test]
fn dos_times() {
    // 2024-02-29 13:45:58 UTC, a leap day.
    assert_eq!(fields(dos_time(at(1_709_214_358))), ((2024, 2, 29), (13, 45, 58)));
    // Odd seconds round down, as DOS counts in pairs.
    assert_eq!(fields(dos_time(at(1_709_214_359))), ((2024, 2, 29), (13, 45, 58)));
    // The first and last days of the range.
    assert_eq!(dos_time(at(315_532_800)), (0, 1 << 5 | 1));
    assert_eq!(fields(dos_time(at(4_354_819_199))), ((2107, 12, 31), (23, 59, 58)));
    // Before 1980 (and before 1970): the first DOS time.
    assert_eq!(dos_time(at(0)), (0, 1 << 5 | 1));
    assert_eq!(dos_time(at(315_532_799)), (0, 1 << 5 | 1));
    assert_eq!(dos_time(UNIX_EPOCH - Duration::from_secs(86_400)), (0, 1 << 5 | 1));
    // After 2107, and past the years a calendar knows: the last one.
    let last = dos_time(at(4_354_819_199));
    assert_eq!(dos_time(at(4_354_819_200)), last);
    assert_eq!(dos_time(at(5_000_000_000)).1 >> 9, 127);
    assert_eq!(dos_time(at(1 << 40)), last);
}
