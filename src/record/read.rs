//! The tolerant JSON-lines reader: every stage's input.
//!
//! It never stops on bad input. A line that is too long, not UTF-8, not a JSON object, or lacks
//! one of the four core fields (`timestamp`, `log_level`, `message`, `source`) comes back as a
//! [`BadLine`] that says what is wrong, is counted in [`ReadStats`], and the next line is read.
//! Only an I/O error on the underlying reader ends the stream.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{Category, Level, Origin, Record, parse_timestamp};

/// Longest line accepted by default: 1 MiB. Longer lines are skipped and counted, never buffered.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// What is wrong with a line that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadLineKind {
    TooLong {
        len: usize,
        max: usize,
    },
    InvalidUtf8,
    /// Not JSON, or JSON with a field of the wrong type.
    NotJson(String),
    NotObject,
    MissingField(&'static str),
    InvalidField {
        field: &'static str,
        reason: String,
    },
}

impl BadLineKind {
    /// A short stable name for counting and for JSON diagnostics.
    pub fn name(&self) -> &'static str {
        match self {
            BadLineKind::TooLong { .. } => "too_long",
            BadLineKind::InvalidUtf8 => "invalid_utf8",
            BadLineKind::NotJson(_) => "not_json",
            BadLineKind::NotObject => "not_object",
            BadLineKind::MissingField(_) => "missing_field",
            BadLineKind::InvalidField { .. } => "invalid_field",
        }
    }
}

/// A line that could not be read as a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the input.
    pub line_no: u64,
    pub kind: BadLineKind,
}

impl fmt::Display for BadLineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadLineKind::TooLong { len, max } => {
                write!(
                    f,
                    "line of {len}+ bytes is longer than the limit of {max} bytes"
                )
            }
            BadLineKind::InvalidUtf8 => f.write_str("not valid UTF-8"),
            BadLineKind::NotJson(e) => write!(f, "not a JSON record: {e}"),
            BadLineKind::NotObject => f.write_str("JSON value is not an object"),
            BadLineKind::MissingField(field) => write!(f, "record lacks the field {field:?}"),
            BadLineKind::InvalidField { field, reason } => {
                write!(f, "invalid {field:?}: {reason}")
            }
        }
    }
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input line {}: {}", self.line_no, self.kind)
    }
}

impl std::error::Error for BadLine {}

/// Counts of what a reader has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub records: u64,
    pub bad: u64,
    /// Bytes consumed from the input, newlines included.
    pub bytes: u64,
}

/// Reads records from JSON lines, tolerating and counting bad lines.
pub struct RecordReader<R> {
    inner: R,
    line: Vec<u8>,
    line_no: u64,
    max_line: usize,
    stats: ReadStats,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_max_line(inner, DEFAULT_MAX_LINE)
    }

    pub fn with_max_line(inner: R, max_line: usize) -> Self {
        RecordReader {
            inner,
            line: Vec::new(),
            line_no: 0,
            max_line,
            stats: ReadStats::default(),
        }
    }

    /// The next record or bad line; `Ok(None)` at the end of the input. Empty lines are skipped.
    pub fn next_record(&mut self) -> io::Result<Option<Result<Record, BadLine>>> {
        loop {
            let Some(too_long) = self.read_line()? else {
                return Ok(None);
            };
            let result = match too_long {
                Some(len) => Err(BadLineKind::TooLong {
                    len,
                    max: self.max_line,
                }),
                None if self.line.iter().all(u8::is_ascii_whitespace) => continue,
                None => parse_record(&self.line),
            };
            return Ok(Some(match result {
                Ok(record) => {
                    self.stats.records += 1;
                    Ok(record)
                }
                Err(kind) => {
                    self.stats.bad += 1;
                    Err(BadLine {
                        line_no: self.line_no,
                        kind,
                    })
                }
            }));
        }
    }

    /// The bytes of the line last returned (without its line ending). Empty after a too-long line.
    pub fn raw_line(&self) -> &[u8] {
        &self.line
    }

    /// The underlying reader (to see, say, whether its buffer is empty).
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Reads one line into `self.line`, without its `\n` or `\r\n`. Returns `None` at the end of
    /// input, `Some(Some(len))` when the line was longer than the limit (it is skipped, not kept),
    /// `Some(None)` otherwise.
    fn read_line(&mut self) -> io::Result<Option<Option<usize>>> {
        self.line.clear();
        let mut len = 0usize;
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            len += chunk.len();
            if !too_long && len > self.max_line {
                too_long = true;
                self.line.clear();
            }
            if !too_long {
                self.line.extend_from_slice(chunk);
            }
            self.inner.consume(consumed);
            self.stats.bytes += consumed as u64;
            if done {
                break;
            }
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some(Some(len)));
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        Ok(Some(None))
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = io::Result<Result<Record, BadLine>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Parses one line (no newline) into a record.
pub fn parse_record(line: &[u8]) -> Result<Record, BadLineKind> {
    let text = std::str::from_utf8(line).map_err(|_| BadLineKind::InvalidUtf8)?;
    let wire = match serde_json::from_str::<WireRecord>(text) {
        Ok(wire) => wire,
        Err(e)
            if e.classify() == serde_json::error::Category::Data
                && !text.trim_start().starts_with('{') =>
        {
            return Err(BadLineKind::NotObject);
        }
        Err(e) => return Err(BadLineKind::NotJson(e.to_string())),
    };
    let timestamp = wire
        .timestamp
        .ok_or(BadLineKind::MissingField("timestamp"))?;
    let log_level = wire
        .log_level
        .ok_or(BadLineKind::MissingField("log_level"))?;
    let message = wire.message.ok_or(BadLineKind::MissingField("message"))?;
    let source = wire.source.ok_or(BadLineKind::MissingField("source"))?;
    let timestamp = parse_timestamp(&timestamp).ok_or_else(|| BadLineKind::InvalidField {
        field: "timestamp",
        reason: format!("{timestamp:?} is not an RFC 3339 time"),
    })?;
    let log_level =
        Level::from_name(log_level.as_bytes()).ok_or_else(|| BadLineKind::InvalidField {
            field: "log_level",
            reason: format!("{log_level:?} is not a known level"),
        })?;
    let category = match wire.category {
        Some(name) => Category::new(&name).map_err(|e| BadLineKind::InvalidField {
            field: "category",
            reason: e.to_string(),
        })?,
        None => Category::default_category(),
    };
    // A record without an id (hand-written input) gets one from its content, so feeding the
    // same line twice still dedupes.
    let id = match wire.id {
        Some(id) if !id.is_empty() => id.into_owned(),
        _ => format!("{:032x}", xxhash_rust::xxh3::xxh3_128(line)),
    };
    Ok(Record {
        timestamp,
        log_level,
        message: message.into_owned(),
        source: source.into_owned(),
        category,
        id,
        origin: wire.origin,
        extra: wire.extra,
    })
}

/// The record's fields as they come off the wire, before validation.
struct WireRecord<'a> {
    timestamp: Option<Cow<'a, str>>,
    log_level: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    source: Option<Cow<'a, str>>,
    category: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    origin: Option<Origin>,
    extra: Map<String, Value>,
}

/// Borrows a string from the input where it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> de::Deserialize<'de> for WireRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireRecord<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut wire = WireRecord {
                    timestamp: None,
                    log_level: None,
                    message: None,
                    source: None,
                    category: None,
                    id: None,
                    origin: None,
                    extra: Map::new(),
                };
                while let Some(key) = map.next_key::<CowStr<'de>>()? {
                    let slot = match key.0.as_ref() {
                        "timestamp" => &mut wire.timestamp,
                        "log_level" => &mut wire.log_level,
                        "message" => &mut wire.message,
                        "source" => &mut wire.source,
                        "category" => &mut wire.category,
                        "id" => &mut wire.id,
                        "origin" => {
                            wire.origin = map.next_value()?;
                            continue;
                        }
                        _ => {
                            wire.extra.insert(key.0.into_owned(), map.next_value()?);
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<CowStr<'de>>()?.0);
                }
                Ok(wire)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::write_record;

    const GOOD: &str = r#"{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"ERROR","message":"disk \"full\"","source":"web-1","category":"error","id":"abc","origin":{"file":"/var/log/a.log","fid":"f1","lsn":3,"offset":120},"user":"ann"}"#;

    fn read_all(input: &[u8]) -> (Vec<Result<Record, BadLine>>, ReadStats) {
        let mut reader = RecordReader::with_max_line(input, 4096);
        let items = reader.by_ref().map(|r| r.unwrap()).collect();
        (items, reader.stats().clone())
    }

    #[test]
    fn round_trips_through_the_writer() {
        let record = parse_record(GOOD.as_bytes()).unwrap();
        assert_eq!(record.extra["user"], "ann");
        let mut out = Vec::new();
        write_record(&record, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let again = parse_record(&out[..out.len() - 1]).unwrap();
        assert_eq!(again, record);
    }

    #[test]
    fn bad_lines_are_counted_and_the_stream_goes_on() {
        let long = format!("{{\"message\":\"{}\"}}", "x".repeat(5000));
        let input = [
            GOOD,
            "not json",
            "[1,2]",
            r#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"INFO","message":"m"}"#,
            r#"{"timestamp":"yesterday","log_level":"INFO","message":"m","source":"s"}"#,
            r#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"LOUD","message":"m","source":"s"}"#,
            r#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"INFO","message":"m","source":"s","category":"../../etc"}"#,
            r#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"INFO","message":7,"source":"s"}"#,
            &long,
            "",
            GOOD,
        ]
        .join("\r\n");
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"\n\xff\xfe\x00\n");
        bytes.extend_from_slice(GOOD.as_bytes()); // no final newline
        let (items, stats) = read_all(&bytes);
        let kinds: Vec<_> = items
            .iter()
            .map(|r| match r {
                Ok(_) => "ok",
                Err(bad) => bad.kind.name(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "ok",
                "not_json",
                "not_object",
                "missing_field",
                "invalid_field",
                "invalid_field",
                "invalid_field",
                "not_json",
                "too_long",
                "ok",
                "invalid_utf8",
                "ok"
            ]
        );
        assert_eq!(stats.records, 3);
        assert_eq!(stats.bad, 9);
        assert_eq!(stats.bytes, bytes.len() as u64);
        let Err(bad) = &items[3] else { panic!() };
        assert_eq!(
            bad.to_string(),
            "input line 4: record lacks the field \"source\""
        );
    }

    #[test]
    fn a_record_without_id_or_category_gets_stable_defaults() {
        let line = br#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"warning","message":"m","source":"s"}"#;
        let a = parse_record(line).unwrap();
        let b = parse_record(line).unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.category.as_str(), "default");
        assert_eq!(a.log_level, Level::Warn);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(input in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let (items, stats) = read_all(&input);
            proptest::prop_assert_eq!(items.len() as u64, stats.records + stats.bad);
        }
    }
}
