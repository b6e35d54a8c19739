//! The tolerant JSON-lines reader: every stage's input.
//!
//! It never stops on bad input. A line that is too long, not UTF-8, not a JSON object, or lacks
//! one of the four core fields (`timestamp`, `log_level`, `message`, `source`) comes back as a
//! [`BadLine`] that says what is wrong, is counted in [`ReadStats`], and the next line is read.
//! Only an I/O error on the underlying reader ends the stream.
//!
//! A line is read as a whole [`Record`], or as a [`RecordLine`]: the record kept as its JSON
//! text with only the fields that route it taken out, for the stages that pass records on
//! without looking into them (ls-roll, ls-ship). Both check a line the same way ([`FromLine`]).
//! A [`RecordLine`] is first tried by the fast path of [`scan`](super::scan), which reads the
//! common simple line faster than serde_json does and leaves every other line to it.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};
use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::scan::{self, Scanned};
use super::{
    Category, Level, Origin, OriginRef, Record, format_timestamp, parse_normal_millis,
    parse_timestamp, write_record,
};

/// Longest line accepted by default: 8 MiB. Longer lines are skipped and counted, never buffered.
/// It is well above the longest record ls-tail writes with its default `--max-line-bytes` (a
/// message cut at 1 MiB, which JSON escaping of control bytes can make up to 6 MiB), so that no
/// record one stage wrote is refused by the next.
pub const DEFAULT_MAX_LINE: usize = 8 << 20;

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
        self.next_as()
    }

    /// Like [`next_record`](Self::next_record), reading the line as a `T` (a [`RecordLine`]).
    pub fn next_as<T: FromLine>(&mut self) -> io::Result<Option<Result<T, BadLine>>> {
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
                None => T::from_line(&self.line),
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

/// What an input line can be read as: a whole [`Record`], or a [`RecordLine`]. Both accept and
/// reject exactly the same lines.
pub trait FromLine: Sized + Send + 'static {
    /// Reads one line (no newline).
    fn from_line(line: &[u8]) -> Result<Self, BadLineKind>;
}

impl FromLine for Record {
    fn from_line(line: &[u8]) -> Result<Record, BadLineKind> {
        parse_record(line)
    }
}

impl FromLine for RecordLine {
    fn from_line(line: &[u8]) -> Result<RecordLine, BadLineKind> {
        RecordLine::parse(line)
    }
}

/// Parses one line (no newline) into a record.
pub fn parse_record(line: &[u8]) -> Result<Record, BadLineKind> {
    let checked = check::<CowStr, Map<String, Value>>(line)?;
    Ok(Record {
        timestamp: checked.timestamp,
        log_level: checked.log_level,
        message: checked.message.0.into_owned(),
        source: checked.source.into_owned(),
        category: Category::new(&checked.category).expect("checked"),
        id: checked.id.into_owned(),
        origin: checked.origin.map(WireOrigin::into_owned),
        extra: checked.extra,
    })
}

/// A record kept as its JSON text, with the fields that route it taken out: what ls-roll and
/// ls-ship read, since they pass records on without looking into them. Reading one costs a
/// fraction of a [`Record`]: the message and the extra fields are only checked, not copied; a
/// line already in normal form is kept as it came instead of being written again; and the
/// routing fields point into that text, so that a record is one allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordLine {
    /// The JSON text, then the routing fields that are not plain slices of it (escaped ones).
    buf: String,
    json_len: usize,
    id: Range<usize>,
    source: Range<usize>,
    category: Range<usize>,
    pub timestamp: DateTime<Utc>,
    origin: Option<OriginSpans>,
}

/// Where a [`RecordLine`]'s origin is: its strings as spans of the line's text, like the other
/// routing fields.
#[derive(Debug, Clone, PartialEq)]
struct OriginSpans {
    file: Range<usize>,
    fid: Range<usize>,
    lsn: u64,
    offset: u64,
    crc: Option<u32>,
}

impl RecordLine {
    /// Checks one line (no newline) as [`parse_record`] does.
    pub fn parse(line: &[u8]) -> Result<RecordLine, BadLineKind> {
        let text = std::str::from_utf8(line).map_err(|_| BadLineKind::InvalidUtf8)?;
        let wire = match scan::scan(text) {
            Some(scanned) => WireRecord::from(scanned),
            None => deserialize(text)?,
        };
        let checked = validate(line, text, wire)?;
        if !checked.normal {
            return parse_record(line).map(|record| RecordLine::from(&record));
        }
        let mut buf = String::with_capacity(line.len());
        buf.push_str(checked.text);
        // Where a field is a slice of the line, point at it; else keep its text after the JSON.
        let mut span = |text: &Cow<str>| match text {
            Cow::Borrowed(s) => {
                let start = s.as_ptr() as usize - line.as_ptr() as usize;
                start..start + s.len()
            }
            Cow::Owned(s) => {
                buf.push_str(s);
                buf.len() - s.len()..buf.len()
            }
        };
        let (id, source, category) = (
            span(&checked.id),
            span(&checked.source),
            span(&checked.category),
        );
        let origin = checked.origin.map(|origin| OriginSpans {
            file: span(&origin.file),
            fid: span(&origin.fid),
            lsn: origin.lsn,
            offset: origin.offset,
            crc: origin.crc,
        });
        Ok(RecordLine {
            buf,
            json_len: line.len(),
            id,
            source,
            category,
            timestamp: checked.timestamp,
            origin,
        })
    }

    /// The record as one JSON object, without a newline. It is the input line itself when that
    /// already says what [`write_record`] would write (its `id` and `category` given, its level
    /// and timestamp in normal form; key order, spacing and escapes aside), and the record
    /// written again otherwise.
    pub fn json(&self) -> &[u8] {
        &self.buf.as_bytes()[..self.json_len]
    }

    pub fn id(&self) -> &str {
        self.text(&self.id)
    }

    pub fn source(&self) -> &str {
        self.text(&self.source)
    }

    /// The category, valid (see [`Category`]).
    pub fn category(&self) -> &str {
        self.text(&self.category)
    }

    /// Where the record was read, for a record of a tailed file.
    pub fn origin(&self) -> Option<OriginRef<'_>> {
        self.origin.as_ref().map(|origin| OriginRef {
            file: self.text(&origin.file),
            fid: self.text(&origin.fid),
            lsn: origin.lsn,
            offset: origin.offset,
            crc: origin.crc,
        })
    }

    /// The whole record, parsed again from the JSON: for the fields not taken out (the
    /// message, the extras).
    pub fn record(&self) -> Record {
        parse_record(self.json()).expect("a RecordLine holds a record that parses")
    }

    fn text(&self, span: &Range<usize>) -> &str {
        &self.buf[span.clone()]
    }
}

impl From<&Record> for RecordLine {
    fn from(record: &Record) -> RecordLine {
        let mut json = Vec::with_capacity(256);
        write_record(record, &mut json);
        json.pop(); // the newline
        let mut buf = String::from_utf8(json).expect("the writer writes UTF-8");
        let json_len = buf.len();
        let mut append = |text: &str| {
            buf.push_str(text);
            buf.len() - text.len()..buf.len()
        };
        let (id, source, category) = (
            append(&record.id),
            append(&record.source),
            append(record.category.as_str()),
        );
        let origin = record.origin.as_ref().map(|origin| OriginSpans {
            file: append(&origin.file),
            fid: append(&origin.fid),
            lsn: origin.lsn,
            offset: origin.offset,
            crc: origin.crc,
        });
        RecordLine {
            buf,
            json_len,
            id,
            source,
            category,
            timestamp: record.timestamp,
            origin,
        }
    }
}

/// A line's fields, validated. `M` holds the message and `X` the extra fields: their values
/// for a [`Record`], only the check that they are well-formed for a [`RecordLine`].
struct Checked<'a, M, X> {
    /// The whole line, valid UTF-8.
    text: &'a str,
    timestamp: DateTime<Utc>,
    log_level: Level,
    message: M,
    source: Cow<'a, str>,
    /// A valid category name.
    category: Cow<'a, str>,
    id: Cow<'a, str>,
    origin: Option<WireOrigin<'a>>,
    extra: X,
    /// Whether [`write_record`] would write the same fields and values as the line holds.
    normal: bool,
}

/// Parses and validates a line: the checks and error kinds every reader shares.
fn check<'a, M, X>(line: &'a [u8]) -> Result<Checked<'a, M, X>, BadLineKind>
where
    M: de::Deserialize<'a>,
    X: Extras<'a>,
{
    let text = std::str::from_utf8(line).map_err(|_| BadLineKind::InvalidUtf8)?;
    validate(line, text, deserialize(text)?)
}

/// Parses a line with serde_json.
fn deserialize<'a, M, X>(text: &'a str) -> Result<WireRecord<'a, M, X>, BadLineKind>
where
    M: de::Deserialize<'a>,
    X: Extras<'a>,
{
    serde_json::from_str::<WireRecord<M, X>>(text).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data && !text.trim_start().starts_with('{')
        {
            BadLineKind::NotObject
        } else {
            BadLineKind::NotJson(e.to_string())
        }
    })
}

/// Checks a parsed line's fields.
fn validate<'a, M, X>(
    line: &'a [u8],
    text: &'a str,
    wire: WireRecord<'a, M, X>,
) -> Result<Checked<'a, M, X>, BadLineKind> {
    let timestamp_text = wire
        .timestamp
        .ok_or(BadLineKind::MissingField("timestamp"))?;
    let level_text = wire
        .log_level
        .ok_or(BadLineKind::MissingField("log_level"))?;
    let message = wire.message.ok_or(BadLineKind::MissingField("message"))?;
    let source = wire.source.ok_or(BadLineKind::MissingField("source"))?;
    // The normal form is read without chrono, and is normal without writing it again.
    let (timestamp, normal_timestamp) = match parse_normal_millis(&timestamp_text) {
        Some(timestamp) => (timestamp, true),
        None => {
            let timestamp =
                parse_timestamp(&timestamp_text).ok_or_else(|| BadLineKind::InvalidField {
                    field: "timestamp",
                    reason: format!("{timestamp_text:?} is not an RFC 3339 time"),
                })?;
            (timestamp, is_normal_timestamp(&timestamp, &timestamp_text))
        }
    };
    let log_level =
        Level::from_name(level_text.as_bytes()).ok_or_else(|| BadLineKind::InvalidField {
            field: "log_level",
            reason: format!("{level_text:?} is not a known level"),
        })?;
    if let Some(name) = &wire.category {
        Category::check(name).map_err(|e| BadLineKind::InvalidField {
            field: "category",
            reason: e.to_string(),
        })?;
    }
    let normal = wire.category.is_some()
        && wire.id.as_ref().is_some_and(|id| !id.is_empty())
        && level_text == log_level.as_str()
        && normal_timestamp;
    // A record without an id (hand-written input) gets one from its content, so feeding the
    // same line twice still dedupes.
    let id = match wire.id {
        Some(id) if !id.is_empty() => id,
        _ => Cow::Owned(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(line))),
    };
    Ok(Checked {
        text,
        timestamp,
        log_level,
        message,
        source,
        category: wire.category.unwrap_or(Cow::Borrowed(Category::DEFAULT)),
        id,
        origin: wire.origin,
        extra: wire.extra,
        normal,
    })
}

/// Whether `text` is how [`format_timestamp`] writes `timestamp`.
fn is_normal_timestamp(timestamp: &DateTime<Utc>, text: &str) -> bool {
    let mut normal = Vec::with_capacity(40);
    format_timestamp(timestamp, &mut normal);
    normal == text.as_bytes()
}

/// The record's fields as they come off the wire, before validation.
struct WireRecord<'a, M, X> {
    timestamp: Option<Cow<'a, str>>,
    log_level: Option<Cow<'a, str>>,
    message: Option<M>,
    source: Option<Cow<'a, str>>,
    category: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    origin: Option<WireOrigin<'a>>,
    extra: X,
}

/// An [`Origin`] as it comes off the wire: read as `Origin` is, its strings borrowed from the
/// line where they have no escapes.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct WireOrigin<'a> {
    #[serde(borrow)]
    file: Cow<'a, str>,
    #[serde(borrow)]
    fid: Cow<'a, str>,
    lsn: u64,
    offset: u64,
    #[serde(default)]
    crc: Option<u32>,
}

impl WireOrigin<'_> {
    fn into_owned(self) -> Origin {
        Origin {
            file: self.file.into_owned(),
            fid: self.fid.into_owned(),
            lsn: self.lsn,
            offset: self.offset,
            crc: self.crc,
        }
    }
}

impl<'a> From<OriginRef<'a>> for WireOrigin<'a> {
    fn from(origin: OriginRef<'a>) -> Self {
        WireOrigin {
            file: Cow::Borrowed(origin.file),
            fid: Cow::Borrowed(origin.fid),
            lsn: origin.lsn,
            offset: origin.offset,
            crc: origin.crc,
        }
    }
}

impl<'a> From<Scanned<'a>> for WireRecord<'a, AnyStr, SkipExtras> {
    fn from(scanned: Scanned<'a>) -> Self {
        WireRecord {
            timestamp: scanned.timestamp.map(Cow::Borrowed),
            log_level: scanned.log_level.map(Cow::Borrowed),
            message: scanned.message.then_some(AnyStr),
            source: scanned.source.map(Cow::Borrowed),
            category: scanned.category.map(Cow::Borrowed),
            id: scanned.id.map(Cow::Borrowed),
            origin: scanned.origin.map(WireOrigin::from),
            extra: SkipExtras,
        }
    }
}

/// Where the fields other than the core ones go.
trait Extras<'de>: Default {
    /// Takes the value of `key` from `map`.
    fn take<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error>;
}

impl<'de> Extras<'de> for Map<String, Value> {
    fn take<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
        self.insert(key.into_owned(), map.next_value()?);
        Ok(())
    }
}

/// Extra fields checked for well-formed JSON and not kept.
#[derive(Default)]
struct SkipExtras;

impl<'de> Extras<'de> for SkipExtras {
    fn take<A: MapAccess<'de>>(&mut self, _: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
        map.next_value::<IgnoredAny>().map(drop)
    }
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

/// A string checked and not kept (the message of a [`RecordLine`]).
struct AnyStr;

impl<'de> de::Deserialize<'de> for AnyStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyStr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(AnyStr)
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de, M: de::Deserialize<'de>, X: Extras<'de>> de::Deserialize<'de> for WireRecord<'de, M, X> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<M, X>(std::marker::PhantomData<(M, X)>);
        impl<'de, M: de::Deserialize<'de>, X: Extras<'de>> Visitor<'de> for V<M, X> {
            type Value = WireRecord<'de, M, X>;
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
                    extra: X::default(),
                };
                while let Some(key) = map.next_key::<CowStr<'de>>()? {
                    let slot = match key.0.as_ref() {
                        "timestamp" => &mut wire.timestamp,
                        "log_level" => &mut wire.log_level,
                        "message" => {
                            wire.message = Some(map.next_value()?);
                            continue;
                        }
                        "source" => &mut wire.source,
                        "category" => &mut wire.category,
                        "id" => &mut wire.id,
                        "origin" => {
                            wire.origin = map.next_value()?;
                            continue;
                        }
                        _ => {
                            wire.extra.take(key.0, &mut map)?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<CowStr<'de>>()?.0);
                }
                Ok(wire)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
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

    #[test]
    fn record_lines_keep_normal_lines_and_rewrite_the_others() {
        // Normal form: kept byte for byte, whatever the key order or escapes.
        let line = r#"{"id":"a\u0062c","category":"error","timestamp":"2026-11-22T10:00:00.000Z","log_level":"ERROR","message":"m","source":"w\"1","user":"ann"}"#;
        let kept = RecordLine::parse(line.as_bytes()).unwrap();
        assert_eq!(kept.json(), line.as_bytes());
        assert_eq!(
            (kept.id(), kept.source(), kept.category()),
            ("abc", "w\"1", "error")
        );
        assert_eq!(kept.record(), parse_record(line.as_bytes()).unwrap());
        // Not normal (no id, a level alias, a timestamp with an offset): written again.
        for line in [
            r#"{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"ERROR","message":"m","source":"s","category":"error"}"#,
            r#"{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"warning","message":"m","source":"s","category":"error","id":"i"}"#,
            r#"{"timestamp":"2026-11-22T12:00:00+02:00","log_level":"INFO","message":"m","source":"s","category":"error","id":"i"}"#,
            r#"{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"INFO","message":"m","source":"s","id":"i"}"#,
        ] {
            let record = parse_record(line.as_bytes()).unwrap();
            let mut written = Vec::new();
            write_record(&record, &mut written);
            let rewritten = RecordLine::parse(line.as_bytes()).unwrap();
            assert_eq!(rewritten.json(), &written[..written.len() - 1], "{line}");
            assert_eq!(rewritten.id(), record.id);
            assert_eq!(rewritten.category(), record.category.as_str());
        }
        // Bad lines are bad in the same way.
        for line in [
            "not json",
            "[1]",
            r#"{"timestamp":"x","log_level":"INFO","message":"m","source":"s"}"#,
        ] {
            assert_eq!(
                RecordLine::parse(line.as_bytes()).unwrap_err(),
                parse_record(line.as_bytes()).unwrap_err()
            );
        }
    }

    #[test]
    fn a_record_line_hands_out_the_origin_its_record_has() {
        // The last one has escapes in its origin's strings: read by serde_json, not borrowed.
        for line in [
            SIMPLE[0],
            GOOD,
            r#"{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"INFO","message":"m","source":"s","category":"access","id":"i","origin":{"file":"/var/log/a\"b\".log","fid":"f\u0031","lsn":3,"offset":120,"crc":null}}"#,
        ] {
            let record = parse_record(line.as_bytes()).unwrap();
            let origin = record.origin.as_ref().map(Origin::borrowed);
            assert!(origin.is_some());
            assert_eq!(RecordLine::parse(line.as_bytes()).unwrap().origin(), origin);
            assert_eq!(RecordLine::from(&record).origin(), origin);
        }
        assert_eq!(
            RecordLine::parse(br#"{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"INFO","message":"m","source":"s"}"#)
                .unwrap()
                .origin(),
            None
        );
    }

    /// Lines as stages hand them to each other, and less usual ones the fast path still reads.
    const SIMPLE: [&str; 4] = [
        r#"{"timestamp":"2005-12-04T04:47:44.000Z","log_level":"NOTICE","message":"workerEnv.init() ok /etc/httpd/conf/workers2.properties","source":"bench-host","category":"default","id":"822f5d2035c8e3a43b3e625405b2169b","origin":{"file":"/var/log/httpd/error_log","fid":"4e0af588dc301013","lsn":1,"offset":93,"crc":1869192756}}"#,
        GOOD,
        r#" { "id" : "x1" , "message" : "tab\tand \\ and \/" , "timestamp":"2026-11-22T10:00:00+02:00", "log_level":"warn", "source":"s", "n": -12.50, "ok": true, "no": false, "none": null, "origin": {"crc": null, "offset": 0, "lsn": 18446744073709551615, "fid": "f", "file": ""} } "#,
        r#"{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"INFO","message":"","source":"","category":"access","id":"i","origin":{"file":"a","fid":"b","lsn":0,"offset":7}}"#,
    ];

    /// What the fast path read from `text`, if it read it, against serde_json's reading.
    fn fast_path_agrees(text: &str) -> Result<(), String> {
        let Some(scanned) = scan::scan(text) else {
            return Ok(());
        };
        let fast = WireRecord::from(scanned);
        let slow = deserialize::<AnyStr, SkipExtras>(text)
            .map_err(|e| format!("the fast path reads what serde_json refuses ({e}): {text}"))?;
        let same = fast.timestamp == slow.timestamp
            && fast.log_level == slow.log_level
            && fast.message.is_some() == slow.message.is_some()
            && fast.source == slow.source
            && fast.category == slow.category
            && fast.id == slow.id
            && fast.origin == slow.origin;
        same.then_some(())
            .ok_or_else(|| format!("the fast path reads differently from serde_json: {text}"))
    }

    #[test]
    fn the_fast_path_reads_simple_lines_as_serde_json_does() {
        for line in SIMPLE {
            assert!(
                scan::scan(line).is_some(),
                "not read by the fast path: {line}"
            );
            fast_path_agrees(line).unwrap();
        }
        // Left to serde_json, which refuses them or reads them its own way.
        for line in [
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s","x":{"nested":1}}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s","x":1e5}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"\u00e9","source":"s"}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s\"q"}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s","source":"t"}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s","origin":{"file":"a","fid":"b","lsn":-1,"offset":7}}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s","origin":{"file":"a","fid":"b","lsn":1,"offset":7,"extra":1}}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s","origin":{"file":"a","fid":"b","lsn":1,"offset":7,"crc":4294967296}}"#,
            "{\"timestamp\":\"t\",\t\"log_level\":\"INFO\",\"message\":\"m\",\"source\":\"s\"}",
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s","n":01}"#,
            r#"{"timestamp":"t","log_level":"INFO","message":"m","source":"s"} x"#,
            r#"{"timestamp":"t","log_level":"INFO","message":5,"source":"s"}"#,
        ] {
            assert!(scan::scan(line).is_none(), "read by the fast path: {line}");
        }
    }

    proptest::proptest! {
        // Edits that matter (a digit before a digit, a quote in a key) are rare among random ones.
        #![proptest_config(proptest::test_runner::Config::with_cases(20_000))]
        #[test]
        fn the_fast_path_never_reads_a_line_otherwise_than_serde_json(
            base in 0..SIMPLE.len(),
            edits in proptest::collection::vec((0..2000usize, 0..3u8, proptest::sample::select(
                b"{}[]:,\"\\ -.0123456789eEtrufalsn/bx\t\x01".to_vec())), 1..4),
        ) {
            let mut line = SIMPLE[base].as_bytes().to_vec();
            for (at, op, byte) in edits {
                let at = at % (line.len() + 1);
                match op {
                    0 => line.insert(at, byte),
                    1 if at < line.len() => { line.remove(at); }
                    _ if at < line.len() => line[at] = byte,
                    _ => {}
                }
            }
            let text = std::str::from_utf8(&line).unwrap();
            proptest::prop_assert_eq!(fast_path_agrees(text), Ok(()));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(input in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let (items, stats) = read_all(&input);
            proptest::prop_assert_eq!(items.len() as u64, stats.records + stats.bad);
        }
    }
}
