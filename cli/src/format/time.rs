//! Times as `zpool` prints them, in the local time zone of the command.

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// Year (2026).
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second (60 on a leap second).
    pub second: u32,
    /// Day of the week, 0 = Sunday.
    pub weekday: u32,
}

/// `secs` since the epoch in the local time zone (UTC when the zone is
/// unknown or the value out of range).
pub fn local(secs: u64) -> LocalTime {
    let t = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: localtime_r reads the time_t we pass and writes only into the
    // tm we own; it returns null on failure, which we check.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            None
        } else {
            Some(tm)
        }
    };
    match tm {
        Some(tm) => LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1).clamp(1, 12) as u32,
            day: tm.tm_mday.clamp(1, 31) as u32,
            hour: tm.tm_hour.clamp(0, 23) as u32,
            minute: tm.tm_min.clamp(0, 59) as u32,
            second: tm.tm_sec.clamp(0, 60) as u32,
            weekday: tm.tm_wday.clamp(0, 6) as u32,
        },
        None => utc(secs),
    }
}

/// `secs` since the epoch in UTC.
pub fn utc(secs: u64) -> LocalTime {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    LocalTime {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        weekday: ((days + 4) % 7) as u32,
    }
}

impl LocalTime {
    /// `2026-11-22.10:00:00`, as `zpool history` prints times.
    pub fn history_stamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}.{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `Sun Nov 22  9:05 2026`, as `zfs get creation` and `zfs holds`
    /// print times (`%a %b %e %k:%M %Y`).
    pub fn zfs_date(&self) -> String {
        format!(
            "{} {} {:2} {:2}:{:02} {}",
            DAYS[self.weekday as usize % 7],
            MONTHS[(self.month as usize + 11) % 12],
            self.day,
            self.hour,
            self.minute,
            self.year
        )
    }

    /// `Sun Nov 22 10:00:00 2026`, as `zpool status` prints scan times.
    pub fn ctime(&self) -> String {
        format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            DAYS[self.weekday as usize % 7],
            MONTHS[(self.month as usize + 11) % 12],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }
}

/// A duration as `hh:mm:ss` (days first when longer: `1 days 02:03:04`).
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d} days {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        let t = utc(0);
        assert_eq!(t.history_stamp(), "1970-01-01.00:00:00");
        assert_eq!(t.ctime(), "Thu Jan  1 00:00:00 1970");
        // 2026-11-22 10:00:00 UTC, a Sunday.
        let t = utc(1_795_341_600);
        assert_eq!(t.history_stamp(), "2026-11-22.10:00:00");
        assert_eq!(t.ctime(), "Sun Nov 22 10:00:00 2026");
        assert_eq!(t.zfs_date(), "Sun Nov 22 10:00 2026");
        assert_eq!(utc(1_795_251_900).zfs_date(), "Sat Nov 21  9:05 2026");
        // A leap day.
        assert_eq!(utc(951_782_400).history_stamp(), "2000-02-29.00:00:00");
    }

    #[test]
    fn local_time_is_sane() {
        let t = local(1_795_341_600);
        assert_eq!(t.year, 2026);
        assert!(t.history_stamp().starts_with("2026-11-2"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "00:00:00");
        assert_eq!(duration(3725), "01:02:05");
        assert_eq!(duration(90_061), "1 days 01:01:01");
    }
}
