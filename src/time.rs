//! Times, in UTC, as seconds since 1970: the only user of `jiff`.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Now, in seconds since 1970.
pub fn now() -> i64 {
    Timestamp::now().as_second()
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]]Z` (UTC; `t` or a space may stand for `T`),
/// or a bare date `YYYY-MM-DD` (midnight UTC), in seconds since 1970
/// (fractions of a second dropped). A time with another offset, or none,
/// is refused: the caller names UTC.
pub fn parse(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let bad = || {
        format!(
            "`{}`: expected a UTC time such as 2026-11-20T14:00:00Z",
            crate::render::one_line(s)
        )
    };
    if !t.contains(['T', 't', ' ']) {
        let date: Date = t.parse().ok().filter(|_| t.len() == 10).ok_or_else(bad)?;
        return TimeZone::UTC
            .to_timestamp(date.to_datetime(Time::midnight()))
            .map(Timestamp::as_second)
            .map_err(|_| bad());
    }
    if !t.ends_with(['Z', 'z']) {
        return Err(format!("{}: give the time in UTC, ending in Z", bad()));
    }
    t.parse::<Timestamp>()
        .map(Timestamp::as_second)
        .map_err(|_| bad())
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format(secs: i64) -> String {
    match Timestamp::from_second(secs) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        // Out of jiff's range (years -9999..=9999): clamp, never panic.
        Err(_) if secs < 0 => "-009999-01-01T00:00:00Z".into(),
        Err(_) => "9999-12-31T23:59:59Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_and_round_trip() {
        let t = parse("2026-11-20T14:05:09Z").unwrap();
        assert_eq!(format(t), "2026-11-20T14:05:09Z");
        assert_eq!(parse("2026-11-20").unwrap(), t - (14 * 3600 + 5 * 60 + 9));
        assert_eq!(parse("2026-11-20T14:05Z").unwrap(), t - 9);
        assert_eq!(parse("2026-11-20t14:05:09z").unwrap(), t);
        assert_eq!(parse("2026-11-20T14:05:09.1234567Z").unwrap(), t);
        assert_eq!(
            format(parse("2024-02-29T00:00:00Z").unwrap()),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(parse("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(format(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format(i64::MAX), "9999-12-31T23:59:59Z");
        for bad in [
            "2026-11-20T14:05:09",
            "2026-11-20T14:05:09+01:00",
            "2026-13-01",
            "2026-02-29",
            "2026-11-20T24:00:00Z",
            "20261120",
            "2026-1-2",
            "yesterday",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(
            parse("2026-11-20T14:05:09")
                .unwrap_err()
                .contains("ending in Z")
        );
    }

    #[test]
    fn now_is_after_this_was_written() {
        assert!(now() > parse("2026-01-01").unwrap());
        assert!(format(now()).ends_with('Z'));
    }
}
