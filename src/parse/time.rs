//! Timestamps: fast recognizers for the forms logs start with, the rule for times without a
//! year, and user `--time-format`s.
//!
//! The recognizers are hand-written byte matchers rather than regexes or chrono format strings:
//! they run on every line of the auto path, and a miss must cost a few comparisons.
//!
//! **Times without a year** (syslog `Jun 14 15:16:01`, logcat `06-14 15:16:01.000`) get the current
//! year in the configured zone, unless that puts them more than [`FUTURE_SLACK_DAYS`] days ahead of
//! now: then the previous year (a December line read in January is from last year). Times
//! without a zone are in the configured zone. Times without a date (`15:16:01.123`) are today in
//! the configured zone.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};
use chrono_tz::Tz;

/// How far ahead of now a year-less time may be before it is taken to be from the previous year.
pub const FUTURE_SLACK_DAYS: i64 = 7;

/// The first and last epoch seconds taken as a bare-number timestamp (2000-01-01 to 2100-01-01):
/// outside them a leading number is more likely a count or an id than a time.
const EPOCH_RANGE: std::ops::Range<i64> = 946_684_800..4_102_444_800;

/// What the line context needs to turn a wall-clock reading into an instant.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub zone: Tz,
    pub now: DateTime<Utc>,
}

/// The shape of a recognized timestamp, which tells the dispatcher about the line's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// ISO 8601-like, and every other numeric date with a year.
    Numeric,
    /// `Jun 14 15:16:01`: the BSD syslog form.
    SyslogMonthDay,
    /// `Sun Dec 04 04:47:44 2005`: ctime, as Apache error logs write it.
    Ctime,
    /// `03-17 16:13:38.811`: Android logcat.
    Logcat,
}

/// A timestamp found at the start of a line.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub time: DateTime<Utc>,
    /// Bytes of the line the timestamp (and its brackets) took.
    pub end: usize,
    pub shape: Shape,
    pub bracketed: bool,
}

/// A date and time read from text, before zone resolution.
struct Reading {
    date: Option<NaiveDate>,
    /// Month and day of a date without a year.
    month_day: Option<(u32, u32)>,
    time: NaiveTime,
    /// Seconds east of UTC when the text had a zone.
    offset: Option<i32>,
    end: usize,
    shape: Shape,
}

/// Finds a timestamp at the very start of `line` (optionally in `[...]`).
pub fn leading(line: &[u8], clock: &Clock) -> Option<Found> {
    let (start, bracketed) = if line.first() == Some(&b'[') {
        (1, true)
    } else {
        (0, false)
    };
    let reading = read_at(line, start)?;
    let mut end = reading.end;
    if bracketed {
        if line.get(end) != Some(&b']') {
            return None;
        }
        end += 1;
    }
    let time = resolve(&reading, clock)?;
    Some(Found {
        time,
        end,
        shape: reading.shape,
        bracketed,
    })
}

/// Parses `text` when it is a timestamp and nothing else (a JSON value, a pattern group).
pub fn whole(text: &[u8], clock: &Clock) -> Option<DateTime<Utc>> {
    let text = text.trim_ascii();
    let reading = read_at(text, 0)?;
    if reading.end != text.len() {
        return None;
    }
    resolve(&reading, clock)
}

/// Interprets an integer as epoch seconds, milliseconds, microseconds or nanoseconds, by
/// magnitude.
pub fn from_epoch_integer(value: i64) -> Option<DateTime<Utc>> {
    match value.unsigned_abs() {
        0..100_000_000_000 => DateTime::from_timestamp(value, 0),
        100_000_000_000..100_000_000_000_000 => DateTime::from_timestamp_millis(value),
        100_000_000_000_000..100_000_000_000_000_000 => DateTime::from_timestamp_micros(value),
        _ => Some(DateTime::from_timestamp_nanos(value)),
    }
}

/// Like [`from_epoch_integer`] for a number with a fraction, kept to the microsecond (all a
/// double holds for today's epoch seconds).
pub fn from_epoch_float(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() {
        return None;
    }
    let micros = match value.abs() {
        v if v < 1e11 => value * 1e6,
        v if v < 1e14 => value * 1e3,
        v if v < 1e17 => value,
        _ => value / 1e3,
    };
    if micros.abs() >= 9e18 {
        return None;
    }
    DateTime::from_timestamp_micros(micros.round() as i64)
}

fn read_at(s: &[u8], at: usize) -> Option<Reading> {
    let first = *s.get(at)?;
    if first.is_ascii_digit() {
        read_numeric(s, at)
    } else if first.is_ascii_alphabetic() {
        read_named_month(s, at)
    } else {
        None
    }
}

fn read_numeric(s: &[u8], at: usize) -> Option<Reading> {
    let run = digit_run(s, at);
    let sep = s.get(at + run).copied();
    match (run, sep) {
        // 2015-10-18 18:01:47,978 / 2015-10-18T18:01:47Z / 2019/03/05 10:57:51
        (4, Some(b'-' | b'/' | b'.')) => {
            let sep = sep?;
            let year = digits(s, at, 4)? as i32;
            expect(s, at + 4, sep)?;
            let month = digits(s, at + 5, 2)?;
            expect(s, at + 7, sep)?;
            let day = digits(s, at + 8, 2)?;
            let date = NaiveDate::from_ymd_opt(year, month, day)?;
            expect_any(s, at + 10, b"T ")?;
            let (time, end) = read_time(s, at + 11)?;
            let (offset, end) = read_zone(s, end);
            Some(dated(date, time, offset, end))
        }
        (2, Some(b'/')) => {
            let a = digits(s, at, 2)?;
            expect(s, at + 2, b'/')?;
            if let Some(month_name) = month_from_name(s, at + 3) {
                // 10/Oct/2000:13:55:36 -0700 (common log format)
                expect(s, at + 6, b'/')?;
                let year = digits(s, at + 7, 4)? as i32;
                let date = NaiveDate::from_ymd_opt(year, month_name, a)?;
                expect_any(s, at + 11, b": ")?;
                let (time, end) = read_time(s, at + 12)?;
                let (offset, end) = read_zone(s, end);
                return Some(dated(date, time, offset, end));
            }
            let b = digits(s, at + 3, 2)?;
            expect(s, at + 5, b'/')?;
            let (date, next) = match digit_run(s, at + 6) {
                // 17/06/09 20:10:40 (Spark: yy/MM/dd)
                2 => (
                    NaiveDate::from_ymd_opt(2000 + a as i32, b, digits(s, at + 6, 2)?)?,
                    at + 8,
                ),
                // 03/05/2019 10:57:51 (MM/dd/yyyy)
                4 => (
                    NaiveDate::from_ymd_opt(digits(s, at + 6, 4)? as i32, a, b)?,
                    at + 10,
                ),
                _ => return None,
            };
            expect_any(s, next, b" T")?;
            let (time, end) = read_time(s, next + 1)?;
            let (offset, end) = read_zone(s, end);
            Some(dated(date, time, offset, end))
        }
        (2, Some(b'-')) => {
            let a = digits(s, at, 2)?;
            if let Some(month) = month_from_name(s, at + 3) {
                // 05-Mar-2019 10:57:51.112 (Tomcat)
                expect(s, at + 6, b'-')?;
                let year = digits(s, at + 7, 4)? as i32;
                let date = NaiveDate::from_ymd_opt(year, month, a)?;
                expect_any(s, at + 11, b" :")?;
                let (time, end) = read_time(s, at + 12)?;
                let (offset, end) = read_zone(s, end);
                return Some(dated(date, time, offset, end));
            }
            // 03-17 16:13:38.811 (logcat: MM-dd, no year)
            let day = digits(s, at + 3, 2)?;
            expect(s, at + 5, b' ')?;
            let (time, end) = read_time(s, at + 6)?;
            Some(Reading {
                date: None,
                month_day: Some((a, day)),
                time,
                offset: None,
                end,
                shape: Shape::Logcat,
            })
        }
        (2, Some(b'.')) => {
            // 05.03.2019 10:57:51 (dd.MM.yyyy)
            let day = digits(s, at, 2)?;
            let month = digits(s, at + 3, 2)?;
            expect(s, at + 5, b'.')?;
            let date = NaiveDate::from_ymd_opt(digits(s, at + 6, 4)? as i32, month, day)?;
            expect(s, at + 10, b' ')?;
            let (time, end) = read_time(s, at + 11)?;
            let (offset, end) = read_zone(s, end);
            Some(dated(date, time, offset, end))
        }
        (2, Some(b':')) => {
            // 15:16:01.123: time of day only
            let (time, end) = read_time(s, at)?;
            let (offset, end) = read_zone(s, end);
            Some(Reading {
                date: None,
                month_day: None,
                time,
                offset,
                end,
                shape: Shape::Numeric,
            })
        }
        (6, Some(b' ')) => {
            // 081109 203615 (HDFS: yyMMdd HHmmss)
            if digit_run(s, at + 7) != 6 {
                return None;
            }
            let date = NaiveDate::from_ymd_opt(
                2000 + digits(s, at, 2)? as i32,
                digits(s, at + 2, 2)?,
                digits(s, at + 4, 2)?,
            )?;
            let time = NaiveTime::from_hms_opt(
                digits(s, at + 7, 2)?,
                digits(s, at + 9, 2)?,
                digits(s, at + 11, 2)?,
            )?;
            Some(dated(date, time, None, at + 13))
        }
        // 1445144423 / 1445144423.722 (epoch seconds) and 1445144423722 (epoch milliseconds)
        (10 | 13, _) => {
            let value = digits_u64(s, at, run)? as i64;
            let (seconds, mut nanos, mut end) = if run == 10 {
                (value, 0, at + 10)
            } else {
                (value / 1000, (value % 1000) as u32 * 1_000_000, at + 13)
            };
            if !EPOCH_RANGE.contains(&seconds) {
                return None;
            }
            if run == 10 && sep == Some(b'.') {
                let (fraction, frac_end) = read_fraction(s, at + 11)?;
                nanos = fraction;
                end = frac_end;
            }
            if s.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            let time = DateTime::from_timestamp(seconds, nanos)?.naive_utc();
            Some(dated(time.date(), time.time(), Some(0), end))
        }
        _ => None,
    }
}

fn read_named_month(s: &[u8], at: usize) -> Option<Reading> {
    if let Some(month) = month_from_name(s, at) {
        // Jun 14 15:16:01 / Jun  4 15:16:01 (BSD syslog: no year)
        expect(s, at + 3, b' ')?;
        let (day, next) = read_padded_day(s, at + 4)?;
        expect(s, next, b' ')?;
        let (time, end) = read_time(s, next + 1)?;
        return Some(Reading {
            date: None,
            month_day: Some((month, day)),
            time,
            offset: None,
            end,
            shape: Shape::SyslogMonthDay,
        });
    }
    // Sun Dec 04 04:47:44 2005 / Wed Oct 11 14:32:52.123456 2000 (ctime, Apache error logs)
    if !is_weekday(s, at) {
        return None;
    }
    expect(s, at + 3, b' ')?;
    let month = month_from_name(s, at + 4)?;
    expect(s, at + 7, b' ')?;
    let (day, next) = read_padded_day(s, at + 8)?;
    expect(s, next, b' ')?;
    let (time, next) = read_time(s, next + 1)?;
    expect(s, next, b' ')?;
    let year = digits(s, next + 1, 4)? as i32;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    Some(Reading {
        shape: Shape::Ctime,
        ..dated(date, time, None, next + 5)
    })
}

fn dated(date: NaiveDate, time: NaiveTime, offset: Option<i32>, end: usize) -> Reading {
    Reading {
        date: Some(date),
        month_day: None,
        time,
        offset,
        end,
        shape: Shape::Numeric,
    }
}

/// `HH:MM`, `HH:MM:SS`, with an optional `.fff` or `,fff` fraction.
fn read_time(s: &[u8], at: usize) -> Option<(NaiveTime, usize)> {
    let hour = digits(s, at, 2)?;
    expect(s, at + 2, b':')?;
    let minute = digits(s, at + 3, 2)?;
    let (second, mut end) = if s.get(at + 5) == Some(&b':') {
        (digits(s, at + 6, 2)?, at + 8)
    } else {
        (0, at + 5)
    };
    let mut nanos = 0;
    if matches!(s.get(end), Some(b'.' | b',')) && s.get(end + 1).is_some_and(u8::is_ascii_digit) {
        (nanos, end) = read_fraction(s, end + 1)?;
    }
    if s.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    // Second 60 is a leap second: chrono takes it as nanosecond overflow.
    let (second, nanos) = if second == 60 {
        (59, nanos + 1_000_000_000)
    } else {
        (second, nanos)
    };
    Some((
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?,
        end,
    ))
}

/// Fraction digits after the separator, as nanoseconds; digits past the ninth are skipped.
fn read_fraction(s: &[u8], at: usize) -> Option<(u32, usize)> {
    let run = digit_run(s, at);
    if run == 0 {
        return None;
    }
    let used = run.min(9);
    let mut nanos = digits(s, at, used)?;
    for _ in used..9 {
        nanos *= 10;
    }
    Some((nanos, at + run))
}

/// An optional zone after a time: `Z`, `+01:00`, `+0100`, `+01`, or ` +0100`/` -0700` (a
/// space then exactly four digits, as the common log format writes it).
fn read_zone(s: &[u8], at: usize) -> (Option<i32>, usize) {
    match s.get(at) {
        Some(b'Z') => (Some(0), at + 1),
        Some(b'+' | b'-') => read_numeric_zone(s, at).unwrap_or((None, at)),
        Some(b' ') if matches!(s.get(at + 1), Some(b'+' | b'-')) && digit_run(s, at + 2) == 4 => {
            read_numeric_zone(s, at + 1).unwrap_or((None, at))
        }
        _ => (None, at),
    }
}

fn read_numeric_zone(s: &[u8], at: usize) -> Option<(Option<i32>, usize)> {
    let sign = if s[at] == b'-' { -1 } else { 1 };
    let hours = digits(s, at + 1, 2)? as i32;
    let (minutes, end) = if s.get(at + 3) == Some(&b':') {
        (digits(s, at + 4, 2)? as i32, at + 6)
    } else if digit_run(s, at + 3) == 2 {
        (digits(s, at + 3, 2)? as i32, at + 5)
    } else {
        (0, at + 3)
    };
    if hours > 23 || minutes > 59 || s.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((Some(sign * (hours * 3600 + minutes * 60)), end))
}

/// A day of month written `04`, ` 4` or `4`.
fn read_padded_day(s: &[u8], at: usize) -> Option<(u32, usize)> {
    let at = if s.get(at) == Some(&b' ') { at + 1 } else { at };
    match digit_run(s, at) {
        1 => Some((digits(s, at, 1)?, at + 1)),
        2 => Some((digits(s, at, 2)?, at + 2)),
        _ => None,
    }
}

fn resolve(reading: &Reading, clock: &Clock) -> Option<DateTime<Utc>> {
    let naive = match (reading.date, reading.month_day) {
        (Some(date), _) => date.and_time(reading.time),
        (None, Some((month, day))) => return year_less(month, day, reading.time, clock),
        (None, None) => today(clock).and_time(reading.time),
    };
    Some(match reading.offset {
        Some(offset) => FixedOffset::east_opt(offset)?
            .from_local_datetime(&naive)
            .single()?
            .with_timezone(&Utc),
        None => in_zone(naive, clock.zone),
    })
}

/// The instant of a wall-clock reading in `zone`. In a DST overlap the earlier instant is taken;
/// a reading inside a DST gap is read with the offset in force just before the gap.
pub fn in_zone(naive: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    if zone == Tz::UTC {
        return naive.and_utc();
    }
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let before = naive - Duration::hours(3);
            let offset = zone.offset_from_utc_datetime(&before);
            zone.from_utc_datetime(&(naive - Duration::seconds(offset_seconds(&offset))))
                .with_timezone(&Utc)
        }
    }
}

fn offset_seconds(offset: &<Tz as TimeZone>::Offset) -> i64 {
    use chrono::Offset;
    offset.fix().local_minus_utc().into()
}

fn today(clock: &Clock) -> NaiveDate {
    clock.now.with_timezone(&clock.zone).date_naive()
}

/// The year rule of the module docs.
pub fn year_less(month: u32, day: u32, time: NaiveTime, clock: &Clock) -> Option<DateTime<Utc>> {
    let this_year = today(clock).year();
    let limit = clock.now + Duration::days(FUTURE_SLACK_DAYS);
    // Feb 29 goes back to the last leap year.
    (0..8).find_map(|back| {
        let date = NaiveDate::from_ymd_opt(this_year - back, month, day)?;
        let time = in_zone(date.and_time(time), clock.zone);
        (time <= limit).then_some(time)
    })
}

/// A user time format (`--time-format`, strftime-like, as chrono reads it).
#[derive(Debug, Clone)]
pub struct UserFormat {
    items: Vec<Item<'static>>,
}

impl UserFormat {
    pub fn new(format: &str) -> anyhow::Result<UserFormat> {
        let items = StrftimeItems::new(format).parse_to_owned().map_err(|e| {
            anyhow::anyhow!("invalid --time-format {format:?} ({e}): use strftime fields such as %Y-%m-%d %H:%M:%S")
        })?;
        Ok(UserFormat { items })
    }

    /// Reads a timestamp of this format at the start of `text`; returns it and the bytes taken.
    pub fn leading(&self, text: &str, clock: &Clock) -> Option<(DateTime<Utc>, usize)> {
        let mut parsed = Parsed::new();
        let rest =
            chrono::format::parse_and_remainder(&mut parsed, text, self.items.iter()).ok()?;
        let taken = text.len() - rest.len();
        if parsed.timestamp().is_some() || parsed.offset().is_some() {
            if let Ok(time) = parsed.to_datetime() {
                return Some((time.with_timezone(&Utc), taken));
            }
            if parsed.offset().is_none() {
                let time = parsed.to_naive_datetime_with_offset(0).ok()?;
                return Some((time.and_utc(), taken));
            }
        }
        let time = parsed.to_naive_time().ok()?;
        let instant = if parsed.year().is_some() || parsed.isoyear().is_some() {
            in_zone(parsed.to_naive_date().ok()?.and_time(time), clock.zone)
        } else if let (Some(month), Some(day)) = (parsed.month(), parsed.day()) {
            year_less(month, day, time, clock)?
        } else {
            in_zone(today(clock).and_time(time), clock.zone)
        };
        Some((instant, taken))
    }
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let bytes = s.get(at..at + n)?;
    let mut value = 0u32;
    for &b in bytes {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + d as u32;
    }
    Some(value)
}

fn digits_u64(s: &[u8], at: usize, n: usize) -> Option<u64> {
    let bytes = s.get(at..at + n)?;
    bytes.iter().try_fold(0u64, |value, &b| {
        let d = b.wrapping_sub(b'0');
        (d <= 9).then(|| value * 10 + d as u64)
    })
}

fn digit_run(s: &[u8], at: usize) -> usize {
    s.get(at..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

fn expect(s: &[u8], at: usize, byte: u8) -> Option<()> {
    (s.get(at) == Some(&byte)).then_some(())
}

fn expect_any(s: &[u8], at: usize, bytes: &[u8]) -> Option<()> {
    s.get(at).is_some_and(|b| bytes.contains(b)).then_some(())
}

/// A three-letter English month name at `at`, in any case.
pub fn month_from_name(s: &[u8], at: usize) -> Option<u32> {
    let name = s.get(at..at + 3)?;
    let key = [
        name[0].to_ascii_lowercase(),
        name[1].to_ascii_lowercase(),
        name[2].to_ascii_lowercase(),
    ];
    let month = match &key {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    };
    // "Mayday" is not a month.
    if s.get(at + 3).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    Some(month)
}

fn is_weekday(s: &[u8], at: usize) -> bool {
    let Some(name) = s.get(at..at + 3) else {
        return false;
    };
    let key = [
        name[0].to_ascii_lowercase(),
        name[1].to_ascii_lowercase(),
        name[2].to_ascii_lowercase(),
    ];
    matches!(
        &key,
        b"mon" | b"tue" | b"wed" | b"thu" | b"fri" | b"sat" | b"sun"
    )
}
