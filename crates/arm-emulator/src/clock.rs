//! The emulator's deterministic fake clock and etags.

/// 2026-01-01T00:00:00Z in seconds since the Unix epoch.
const EPOCH_2026: u64 = 1_767_225_600;

/// The fake time of the `k`-th state-changing write: 2026-01-01T00:00:00Z
/// plus `k` seconds, formatted like ARM (`2026-01-01T00:00:05Z`).
pub(super) fn timestamp(k: u64) -> String {
    let secs = EPOCH_2026 + k;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The `n`-th etag of an emulator (n >= 1): a quoted GUID-like string like
/// the real ones (`"0300bf09-0000-0000-0000-5c37296e0000"` with its quotes),
/// unique per `n`.
pub(super) fn etag(n: u64) -> String {
    let mixed = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32;
    format!(
        "\"{mixed:08x}-0000-0100-0000-{:012x}\"",
        n & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_count_seconds_from_2026() {
        assert_eq!(timestamp(0), "2026-01-01T00:00:00Z");
        assert_eq!(timestamp(1), "2026-01-01T00:00:01Z");
        assert_eq!(timestamp(3661), "2026-01-01T01:01:01Z");
        assert_eq!(timestamp(86_400 * 59), "2026-03-01T00:00:00Z");
        assert_eq!(timestamp(86_400 * 365), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn etags_are_quoted_and_unique() {
        let a = etag(1);
        let b = etag(2);
        assert_ne!(a, b);
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert_eq!(a.len(), 38);
        assert!(a.ends_with("-000000000001\""));
    }
}
