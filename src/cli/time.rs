//! Time values in flags shared by the tools: lengths of time (`15m`) and time bounds for
//! `--since` / `--until` (an age back from now, RFC 3339, or a date).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses a length of time: a number and a unit, `ms`, `s`, `m`, `h`, `d` or `w` (`500ms`,
/// `90s`, `15m`, `30d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const UNITS: &str = "ms, s, m, h, d or w";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} lacks a unit: use {UNITS}, as in 15m"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a number followed by {UNITS}"))?;
    let millis: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}: use {UNITS}")),
    };
    number
        .checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long a duration"))
}

/// Parses a time bound: a duration back from `now` (`15m`), or a time: RFC 3339, the same
/// without seconds (`2026-11-22T10:00Z`), with a space for the `T`, or a bare date; a time
/// without a zone is UTC.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(ago) = parse_duration(text) {
        return Ok(now - chrono::Duration::from_std(ago).map_err(|e| e.to_string())?);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    let naive = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    Err(format!(
        "{text:?} is neither a duration back from now (15m, 2h, 7d) nor a time (2026-11-22T10:00Z, RFC 3339)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn durations_and_times_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5").unwrap_err().contains("unit"));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-1s").is_err());
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap();
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(
            parse_time("15m", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 22, 10, 15, 0).unwrap()
        );
        let ten = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        for text in [
            "2026-11-22T10:00Z",
            "2026-11-22T10:00:00Z",
            "2026-11-22T11:00:00+01:00",
            "2026-11-22T11:00+01:00",
            "2026-11-22 10:00",
            "2026-11-22T10:00:00.000",
        ] {
            assert_eq!(parse_time(text, now).unwrap(), ten, "{text}");
        }
        assert_eq!(
            parse_time("2026-11-22", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
        );
        for bad in ["15", "15x", "yesterday", "2026-13-01"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
