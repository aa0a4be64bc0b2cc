//! The request time: reading `X-Amz-Date` (or `Date`), and the skew rule.
//!
//! A signature is only as fresh as the time inside it. The client signs the
//! time it sends in `X-Amz-Date` (ISO-8601 basic format, UTC:
//! `20150830T123600Z`), and the server refuses a request whose time is more
//! than [`CLOCK_SKEW_SECONDS_MAX`] away from its own clock, in either
//! direction. That bounds how long a captured request can be replayed, and
//! SDKs recognise the two skew errors and correct their clock.
//!
//! The server's clock is a parameter (`now`), never read here, so tests can
//! stand at any instant. Dates are converted to seconds since the Unix epoch
//! by calendar arithmetic written out below: no date crate is needed for one
//! fixed format.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::error::AuthError;

/// How far the request time may be from the server's clock: 15 minutes.
pub const CLOCK_SKEW_SECONDS_MAX: i64 = 15 * 60;

const SECONDS_PER_DAY: i64 = 86_400;
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An instant with one-second resolution, in UTC, as SigV4 uses it.
///
/// Invariant: the calendar year is within 0..=9999, so the basic format
/// always has exactly four year digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmzDate {
    unix_seconds: i64,
}

/// A calendar date and time of day, fields as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl AmzDate {
    /// Parses the ISO-8601 basic format `YYYYMMDDTHHMMSSZ`, exactly.
    pub fn parse_basic(text: &str) -> Option<AmzDate> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
            return None;
        }
        let civil = Civil {
            year: digits(&bytes[0..4])?,
            month: digits(&bytes[4..6])?,
            day: digits(&bytes[6..8])?,
            hour: digits(&bytes[9..11])?,
            minute: digits(&bytes[11..13])?,
            second: digits(&bytes[13..15])?,
        };
        AmzDate::from_civil(civil)
    }

    /// Parses an HTTP `Date` header in its one modern form (RFC 9110's
    /// IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`. The day name is not
    /// checked against the date.
    pub fn parse_http_date(text: &str) -> Option<AmzDate> {
        let bytes = text.as_bytes();
        if bytes.len() != 29
            || &bytes[3..5] != b", "
            || bytes[7] != b' '
            || bytes[11] != b' '
            || bytes[16] != b' '
            || bytes[19] != b':'
            || bytes[22] != b':'
            || &bytes[25..] != b" GMT"
        {
            return None;
        }
        let month_name = text.get(8..11)?;
        let month = MONTH_NAMES.iter().position(|name| *name == month_name)?;
        let civil = Civil {
            year: digits(&bytes[12..16])?,
            month: i64::try_from(month).ok()? + 1,
            day: digits(&bytes[5..7])?,
            hour: digits(&bytes[17..19])?,
            minute: digits(&bytes[20..22])?,
            second: digits(&bytes[23..25])?,
        };
        AmzDate::from_civil(civil)
    }

    /// The instant `now`, truncated to the second.
    pub fn from_system_time(now: SystemTime) -> AmzDate {
        let unix_seconds = match now.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            // Before 1970: round towards the past, like `floor`.
            Err(before) => {
                let before = before.duration();
                let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                let partial = i64::from(before.subsec_nanos() > 0);
                whole.saturating_add(partial).saturating_neg()
            }
        };
        AmzDate::from_unix_seconds(unix_seconds)
    }

    /// The instant `unix_seconds` after 1970-01-01T00:00:00Z, clamped into
    /// the years 0..=9999.
    pub fn from_unix_seconds(unix_seconds: i64) -> AmzDate {
        let lowest = days_from_civil(0, 1, 1) * SECONDS_PER_DAY;
        let highest = days_from_civil(10_000, 1, 1) * SECONDS_PER_DAY - 1;
        AmzDate {
            unix_seconds: unix_seconds.clamp(lowest, highest),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.unix_seconds
    }

    /// `YYYYMMDDTHHMMSSZ`: the request time as it appears in the string to sign.
    pub fn to_basic(self) -> String {
        let c = self.civil();
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// `YYYYMMDD`: the date that must open the credential scope.
    pub fn date_stamp(self) -> String {
        let c = self.civil();
        format!("{:04}{:02}{:02}", c.year, c.month, c.day)
    }

    /// This instant moved by `seconds` (clamped into the years 0..=9999).
    pub fn plus_seconds(self, seconds: i64) -> AmzDate {
        AmzDate::from_unix_seconds(self.unix_seconds.saturating_add(seconds))
    }

    fn from_civil(c: Civil) -> Option<AmzDate> {
        let valid = (1..=12).contains(&c.month)
            && (1..=days_in_month(c.year, c.month)).contains(&c.day)
            && (0..24).contains(&c.hour)
            && (0..60).contains(&c.minute)
            && (0..60).contains(&c.second);
        if !valid {
            return None;
        }
        let days = days_from_civil(c.year, c.month, c.day);
        Some(AmzDate {
            unix_seconds: days * SECONDS_PER_DAY + c.hour * 3600 + c.minute * 60 + c.second,
        })
    }

    fn civil(self) -> Civil {
        let days = self.unix_seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = self.unix_seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day % 3600 / 60,
            second: second_of_day % 60,
        }
    }
}

// ANCHOR: skew
/// Refuses a request time more than [`CLOCK_SKEW_SECONDS_MAX`] from `now`,
/// with AWS's two messages (the bound is inclusive: exactly 15 minutes off
/// is still accepted).
pub fn check_skew(request_time: AmzDate, now: SystemTime) -> Result<(), AuthError> {
    let now = AmzDate::from_system_time(now);
    let earliest = now.plus_seconds(-CLOCK_SKEW_SECONDS_MAX);
    let latest = now.plus_seconds(CLOCK_SKEW_SECONDS_MAX);
    if request_time < earliest {
        return Err(AuthError::InvalidSignature(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            request_time.to_basic(),
            earliest.to_basic(),
            now.to_basic()
        )));
    }
    if request_time > latest {
        return Err(AuthError::InvalidSignature(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            request_time.to_basic(),
            latest.to_basic(),
            now.to_basic()
        )));
    }
    Ok(())
}
// ANCHOR_END: skew

/// ASCII digits as a number; `None` for anything else.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0_i64, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian calendar).
///
/// The calendar repeats every 400 years (146,097 days). Counting years from
/// March makes February, with its leap day, the *last* month of a year, so
/// the day of the year depends on the month alone: five months of 153 days
/// every 5 months, which is what `(153 * m + 2) / 5` counts.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let cycle = year.div_euclid(400);
    let year_of_cycle = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    // 719,468 days separate 0000-03-01 from 1970-01-01.
    cycle * 146_097 + day_of_cycle - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let cycle = days.div_euclid(146_097);
    let day_of_cycle = days.rem_euclid(146_097);
    // Remove the leap days (one every 4 years, none every 100, one every
    // 400) to count whole years of 365 days.
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(basic: &str) -> SystemTime {
        let date = AmzDate::parse_basic(basic).unwrap();
        UNIX_EPOCH + Duration::from_secs(u64::try_from(date.unix_seconds()).unwrap())
    }

    #[test]
    fn basic_format_round_trips() {
        let date = AmzDate::parse_basic("20150830T123600Z").unwrap();
        assert_eq!(date.unix_seconds(), 1_440_938_160);
        assert_eq!(date.to_basic(), "20150830T123600Z");
        assert_eq!(date.date_stamp(), "20150830");
        for text in [
            "19700101T000000Z",
            "20000229T235959Z",
            "99991231T235959Z",
            "00000101T000000Z",
        ] {
            assert_eq!(AmzDate::parse_basic(text).unwrap().to_basic(), text);
        }
    }

    #[test]
    fn every_day_converts_both_ways() {
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn malformed_dates_are_refused() {
        for text in [
            "",
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20150830 123600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "2015083aT123600Z",
            "20150830T12360éZ",
            "+0150830T123600Z",
        ] {
            assert_eq!(AmzDate::parse_basic(text), None, "{text}");
        }
    }

    #[test]
    fn http_date_is_accepted() {
        let date = AmzDate::parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").unwrap();
        assert_eq!(date.to_basic(), "20150830T123600Z");
        assert_eq!(
            AmzDate::parse_http_date("Sun, 30 Aug 2015 12:36:00 UTC"),
            None
        );
        assert_eq!(
            AmzDate::parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT"),
            None
        );
        assert_eq!(
            AmzDate::parse_http_date("Sunday, 30-Aug-15 12:36:00 GMT"),
            None
        );
    }

    #[test]
    fn skew_of_fifteen_minutes_is_the_limit() {
        let request = AmzDate::parse_basic("20261123T100000Z").unwrap();
        assert_eq!(check_skew(request, at("20261123T101500Z")), Ok(()));
        assert_eq!(check_skew(request, at("20261123T094500Z")), Ok(()));
        assert_eq!(
            check_skew(request, at("20261123T103000Z")),
            Err(AuthError::InvalidSignature(
                "Signature expired: 20261123T100000Z is now earlier than 20261123T101500Z (20261123T103000Z - 15 min.)"
                    .into()
            ))
        );
        assert_eq!(
            check_skew(request, at("20261123T094459Z")),
            Err(AuthError::InvalidSignature(
                "Signature not yet current: 20261123T100000Z is still later than 20261123T095959Z (20261123T094459Z + 15 min.)"
                    .into()
            ))
        );
    }

    #[test]
    fn a_fraction_of_a_second_does_not_count() {
        let request = AmzDate::parse_basic("20261123T100000Z").unwrap();
        let now = at("20261123T101500Z") + Duration::from_millis(999);
        assert_eq!(check_skew(request, now), Ok(()));
    }

    #[test]
    fn extreme_clocks_do_not_panic() {
        let early = UNIX_EPOCH - Duration::from_secs(1 << 40);
        assert_eq!(
            AmzDate::from_system_time(early).to_basic(),
            "00000101T000000Z"
        );
        let late = UNIX_EPOCH + Duration::from_secs(1 << 50);
        assert_eq!(
            AmzDate::from_system_time(late).to_basic(),
            "99991231T235959Z"
        );
    }
}
