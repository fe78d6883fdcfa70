//! Whether the process that left a file behind still runs on this host: its pid exists, is
//! not a zombie, and started before the file was last changed (a pid reused by a later
//! process, as happens after a reboot or in a container, is not the owner). Reads `/proc`;
//! spawns nothing.

use std::time::{Duration, SystemTime};

/// Whether process `pid` may still own something it last changed at `changed`.
pub fn alive(pid: u32, changed: SystemTime) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(signed) = i32::try_from(pid) else { return false };
    if signed <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    if unsafe { libc::kill(signed, 0) } != 0
        && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM)
    {
        return false;
    }
    match started(pid) {
        // Clock ticks and file times are coarse: a second of slack, in favour of the owner.
        Some(Started::At(start)) => start <= changed + Duration::from_secs(2),
        Some(Started::Zombie) => false,
        None => true,
    }
}

enum Started {
    At(SystemTime),
    Zombie,
}

/// When `pid` started (from `/proc/<pid>/stat` and the boot time), or that it is a zombie.
fn started(pid: u32) -> Option<Started> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return Some(Started::Zombie);
    }
    let ticks: u64 = fields.get(19)?.parse().ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())?;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|&h| h > 0)?;
    let since_boot = Duration::from_millis(ticks * 1000 / hz);
    Some(Started::At(SystemTime::UNIX_EPOCH + Duration::from_secs(boot) + since_boot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_owns_what_it_changed_but_not_what_predates_it() {
        let now = SystemTime::now();
        assert!(alive(std::process::id(), now));
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(alive(pid, SystemTime::now()));
        // Changed long before the process started: a reused pid.
        assert!(!alive(pid, now - Duration::from_secs(3600)));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!alive(pid, SystemTime::now()));
        assert!(!alive(0, now));
        assert!(!alive(u32::MAX, now));
    }
}
