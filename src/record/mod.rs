//! The log record: the one JSON object per line that every stage reads and writes
//! (DESIGN.md §1), with its deterministic id and its validated category.
//!
//! [`write`] turns records into JSON lines quickly; [`read`] is the tolerant reader that counts and
//! reports bad lines instead of stopping.

mod classify;
pub mod level;
pub mod read;
mod scan;
pub mod write;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use level::Level;
pub use read::{BadLine, BadLineKind, FromLine, ReadStats, RecordLine, RecordReader};
pub use write::{RecordWriter, write_record};

/// One log event.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When the event happened (from the line), or when it was read if the line had no time.
    pub timestamp: DateTime<Utc>,
    pub log_level: Level,
    pub message: String,
    /// Where it came from: the host name by default.
    pub source: String,
    /// Routing key: the Kafka topic and the archive folder.
    pub category: Category,
    /// Deterministic: the same line read twice gets the same id; stores and archives dedupe on it.
    pub id: String,
    /// Where in which file the line was read; `None` for records that did not come from a file.
    pub origin: Option<Origin>,
    /// Extra fields parsed from structured lines (JSON logs, logfmt, named pattern groups).
    pub extra: Map<String, Value>,
}

impl Record {
    /// A record with only its time, level and source: what a parser starts from and fills in.
    pub fn empty(timestamp: DateTime<Utc>, log_level: Level, source: &str) -> Record {
        Record {
            timestamp,
            log_level,
            message: String::new(),
            source: source.to_string(),
            category: Category::default_category(),
            id: String::new(),
            origin: None,
            extra: Map::new(),
        }
    }
}

/// The position of a record's line in the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The file's path when it was read.
    pub file: String,
    /// The file identity (see the tail module's fingerprinter); survives renames.
    pub fid: String,
    /// Line sequence number within the identity, from 1. A multi-line record has its last line's.
    pub lsn: u64,
    /// Byte offset just past the record's last line.
    pub offset: u64,
    /// CRC-32 of the last line's bytes (without line ending), so that a resume point can be
    /// verified against the file's content (see the LSN store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc: Option<u32>,
}

impl Origin {
    /// The same origin, its strings borrowed.
    pub fn borrowed(&self) -> OriginRef<'_> {
        OriginRef {
            file: &self.file,
            fid: &self.fid,
            lsn: self.lsn,
            offset: self.offset,
            crc: self.crc,
        }
    }
}

/// An [`Origin`] whose strings are borrowed: what a [`RecordLine`] hands out without copying
/// them out of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginRef<'a> {
    pub file: &'a str,
    pub fid: &'a str,
    pub lsn: u64,
    pub offset: u64,
    pub crc: Option<u32>,
}

/// The names of the fields every record has; all other keys of a record object are extras.
pub const CORE_FIELDS: [&str; 7] = [
    "timestamp",
    "log_level",
    "message",
    "source",
    "category",
    "id",
    "origin",
];

/// A category: `[a-z0-9_-]{1,64}`. Validated on construction, so it is always safe to use as a
/// path component or in a topic name. Shared, not copied, when cloned: stages clone one per record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Category(Arc<str>);

impl Category {
    /// The category of records that no rule routed anywhere else.
    pub const DEFAULT: &'static str = "default";

    pub fn new(name: &str) -> Result<Category, InvalidCategory> {
        Self::check(name)?;
        Ok(Category(name.into()))
    }

    /// Checks a category name without making a `Category` of it.
    pub fn check(name: &str) -> Result<(), InvalidCategory> {
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid {
            Ok(())
        } else {
            Err(InvalidCategory(name.chars().take(80).collect()))
        }
    }

    pub fn default_category() -> Category {
        Category(Self::DEFAULT.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Category {
    type Err = InvalidCategory;

    fn from_str(s: &str) -> Result<Category, InvalidCategory> {
        Category::new(s)
    }
}

/// Error for a category name outside `[a-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCategory(pub String);

impl fmt::Display for InvalidCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid category {:?}: a category is 1 to 64 of [a-z0-9_-]",
            self.0
        )
    }
}

impl std::error::Error for InvalidCategory {}

/// The id of the line numbered `lsn` in the file identity `fid`: the same line read twice,
/// under any path, gets the same id.
pub fn line_id(fid: &str, lsn: u64) -> String {
    String::from_utf8(LineId::new(fid, lsn).as_bytes().to_vec()).expect("hex digits")
}

/// A [`line_id`] as its 32 hex digits, made without allocating (ls-tail makes one per line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineId([u8; 32]);

impl LineId {
    pub fn new(fid: &str, lsn: u64) -> LineId {
        // The hashed bytes are `fid`, 0, `lsn` (little-endian). Hashing them in one call from a
        // stack buffer is several times faster than the streaming hasher, with the same digest.
        let mut bytes = [0u8; 128];
        let len = fid.len() + 9;
        let digest = if len <= bytes.len() {
            bytes[..fid.len()].copy_from_slice(fid.as_bytes());
            bytes[fid.len() + 1..len].copy_from_slice(&lsn.to_le_bytes());
            xxhash_rust::xxh3::xxh3_128(&bytes[..len])
        } else {
            let mut hasher = xxhash_rust::xxh3::Xxh3::new();
            hasher.update(fid.as_bytes());
            hasher.update(&[0]);
            hasher.update(&lsn.to_le_bytes());
            hasher.digest128()
        };
        LineId(hex128(digest))
    }

    /// The hex digits (ASCII, nothing to escape in JSON).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// `format!("{:032x}")`, without the formatting machinery.
fn hex128(value: u128) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (digits, byte) in out.chunks_exact_mut(2).zip(value.to_be_bytes()) {
        digits[0] = HEX[usize::from(byte >> 4)];
        digits[1] = HEX[usize::from(byte & 0xf)];
    }
    out
}

/// The id of a line that did not come from a tailed file (stdin, a pipe): derived from the
/// source, the line's position in its stream and its bytes, so that feeding the same stream
/// again gives the same ids.
pub fn stream_line_id(source: &str, seq: u64, line: &[u8]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(source.as_bytes());
    hasher.update(&[0]);
    hasher.update(&seq.to_le_bytes());
    hasher.update(line);
    format!("{:032x}", hasher.digest128())
}

/// Formats a timestamp as RFC 3339 in UTC with milliseconds, or with micro/nanoseconds when the
/// time has them: `2026-11-22T10:00:00.123Z`.
pub fn format_timestamp(ts: &DateTime<Utc>, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let date = ts.date_naive();
    let year = date.year();
    if !(0..=9999).contains(&year) {
        // Outside RFC 3339's four-digit years; chrono's own formatting is rare and slow here.
        out.extend_from_slice(
            ts.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                .as_bytes(),
        );
        return;
    }
    let time = ts.time();
    let mut buf = *b"0000-00-00T00:00:00.000000000Z";
    put_digits(&mut buf[0..4], year as u32);
    put_digits(&mut buf[5..7], date.month());
    put_digits(&mut buf[8..10], date.day());
    put_digits(&mut buf[11..13], time.hour());
    put_digits(&mut buf[14..16], time.minute());
    put_digits(&mut buf[17..19], time.second());
    // A leap second shows as nanosecond >= 1e9; RFC 3339 writes it as second 60.
    let nanos = time.nanosecond() % 1_000_000_000;
    if time.nanosecond() >= 1_000_000_000 {
        put_digits(&mut buf[17..19], 60);
    }
    put_digits(&mut buf[20..29], nanos);
    let frac_digits = if nanos.is_multiple_of(1_000_000) {
        3
    } else if nanos.is_multiple_of(1_000) {
        6
    } else {
        9
    };
    out.extend_from_slice(&buf[..20 + frac_digits]);
    out.push(b'Z');
}

fn put_digits(dst: &mut [u8], mut value: u32) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Parses an RFC 3339 timestamp as records carry it.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    parse_normal_millis(s).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Parses a timestamp exactly as [`format_timestamp`] writes one with milliseconds
/// (`2026-11-22T10:00:00.123Z`), the form of nearly every record, without chrono's general
/// parser; `None` for any other form, a leap second included.
pub fn parse_normal_millis(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let shape = b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z';
    if !shape {
        return None;
    }
    let number = |at: std::ops::Range<usize>| {
        b[at].iter().try_fold(0u32, |n, &digit| {
            digit
                .is_ascii_digit()
                .then(|| n * 10 + u32::from(digit - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_milli_opt(
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..23)?,
    )?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn formatted(ts: DateTime<Utc>) -> String {
        let mut out = Vec::new();
        format_timestamp(&ts, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_keep_milliseconds_or_finer() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap();
        assert_eq!(formatted(t), "2026-11-22T03:04:05.000Z");
        let t = t + chrono::Duration::microseconds(123_456);
        assert_eq!(formatted(t), "2026-11-22T03:04:05.123456Z");
        let t = t + chrono::Duration::nanoseconds(7);
        assert_eq!(formatted(t), "2026-11-22T03:04:05.123456007Z");
        assert_eq!(parse_timestamp(&formatted(t)), Some(t));
    }

    #[test]
    fn the_normal_form_is_read_as_chrono_reads_it() {
        for text in [
            "2026-11-22T10:00:00.000Z",
            "0000-01-01T00:00:00.999Z",
            "2024-02-29T23:59:59.123Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(parse_normal_millis(text), Some(chrono), "{text}");
        }
        for other in [
            "2016-12-31T23:59:60.000Z", // a leap second: chrono's
            "2026-11-22T10:00:00Z",
            "2026-11-22T10:00:00.000+00:00",
            "2026-11-22 10:00:00.000Z",
            "2025-02-29T10:00:00.000Z",
            "2026-11-22T24:00:00.000Z",
            "2026-11-2xT10:00:00.000Z",
            "+026-11-22T10:00:00.000Z",
        ] {
            assert_eq!(parse_normal_millis(other), None, "{other}");
        }
        assert!(parse_timestamp("2016-12-31T23:59:60.000Z").is_some());
    }

    #[test]
    fn categories_are_safe_names() {
        assert!(Category::new("error").is_ok());
        assert!(Category::new("web_access-2").is_ok());
        for bad in ["", "../../etc", "Error", "a/b", "a b", &"x".repeat(65)] {
            assert!(Category::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        assert_eq!(line_id("f1", 7), line_id("f1", 7));
        assert_ne!(line_id("f1", 7), line_id("f1", 8));
        assert_ne!(line_id("f1", 7), line_id("f2", 7));
        assert_eq!(line_id("f1", 7).len(), 32);
        // Short and long identities hash the same bytes: `fid`, 0, `lsn` little-endian.
        for fid in ["f1", &"x".repeat(200)] {
            let mut bytes = fid.as_bytes().to_vec();
            bytes.push(0);
            bytes.extend_from_slice(&7u64.to_le_bytes());
            let expected = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes));
            assert_eq!(line_id(fid, 7), expected);
        }
        assert_eq!(
            hex128(0xab << 120 | 0x1f),
            format!("{:032x}", 0xab_u128 << 120 | 0x1f).as_bytes()
        );
        assert_ne!(stream_line_id("h", 1, b"x"), stream_line_id("h", 2, b"x"));
    }
}
