//! Line parsing: one raw log line into the timestamp, level, message and extra fields of a
//! [`Record`], with per-line format detection.
//!
//! Automatic detection looks at each line on its own, cheaply, by its first bytes:
//! - `{`: a JSON log line ([`json`]); `<digits>`: syslog with a priority ([`syslog`]);
//! - otherwise ([`text`]): a leading timestamp found by the recognizers of [`time`], then a level
//!   token near the start ([`level`]), the message being the rest. This one path covers
//!   log4j/logback/Python logging, Hadoop, Spark, ZooKeeper, Apache error logs, Android logcat,
//!   BSD syslog without a priority, and formats it has never seen that follow the same habit.
//!   Lines without a timestamp are tried as Apache/nginx access logs ([`apache`]) and logfmt
//!   ([`logfmt`]);
//! - a line where nothing is found is a raw line: the whole line is the message, the level is
//!   [`ParserConfig::default_level`] and the timestamp is the time it was read.
//!
//! A user `pattern` ([`pattern`]) is tried first on every line; lines it does not match are
//! detected as above. A forced `format` parses every line as that format, and lines that are not
//! in it as raw lines: nothing ever stops the stream. Lines may be invalid UTF-8: the message is
//! decoded lossily.

mod apache;
mod fields;
mod json;
mod level;
mod logfmt;
mod pattern;
mod syslog;
mod text;
pub mod time;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::record::{Level, Record};

/// A line format: what `--format` selects, and what [`Parser::detected`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// Detect the format of each line.
    Auto,
    /// JSON objects, one per line, with common keys for the time, level and message.
    Json,
    /// `key=value` pairs, values quoted when they hold spaces.
    Logfmt,
    /// Syslog, RFC 5424 or RFC 3164 (BSD), with or without a `<priority>`.
    Syslog,
    /// Apache/nginx access logs (common and combined log format) and Apache error logs.
    Apache,
    /// A leading timestamp, a level and a message: log4j, logback, Python logging, Hadoop, Spark,
    /// ZooKeeper and alike.
    Log4j,
    /// Android logcat, with single-letter levels.
    Logcat,
    /// The user `--pattern` regex.
    Pattern,
    /// No structure: the whole line is the message.
    Raw,
}

/// How lines are parsed.
#[derive(Debug, Clone)]
pub struct ParserConfig {
    pub format: Format,
    /// A regex with named groups `timestamp`, `level` and `message`; other named groups become
    /// extra fields.
    pub pattern: Option<String>,
    /// A strftime-like format (as chrono reads it, e.g. `%d.%m.%Y %H:%M:%S`) for timestamps the
    /// built-in recognizers do not know; tried before them.
    pub time_format: Option<String>,
    /// The level of lines that carry none.
    pub default_level: Level,
    /// The zone of timestamps written without one.
    pub timezone: Tz,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            format: Format::Auto,
            pattern: None,
            time_format: None,
            default_level: Level::Info,
            timezone: Tz::UTC,
        }
    }
}

/// Parses lines into records. Keeps reusable state between lines, hence `&mut self`.
#[derive(Debug)]
pub struct Parser {
    format: Format,
    default_level: Level,
    timezone: Tz,
    pattern: Option<pattern::Pattern>,
    time_format: Option<time::UserFormat>,
    detected: Format,
}

/// What every format parser needs to know about the line being parsed.
struct Context<'a> {
    clock: time::Clock,
    default_level: Level,
    time_format: Option<&'a time::UserFormat>,
}

impl Context<'_> {
    /// A timestamp at the start of `line`: the user's format first, then the recognizers.
    fn leading_time(&self, line: &[u8]) -> Option<time::Found> {
        if let Some(format) = self.time_format {
            let text = lossless_prefix(line);
            let (start, bracketed) = match text.strip_prefix('[') {
                Some(inner) => (inner, true),
                None => (text, false),
            };
            if let Some((time, taken)) = format.leading(start, &self.clock) {
                let mut end = taken + usize::from(bracketed);
                if bracketed && line.get(end) == Some(&b']') {
                    end += 1;
                }
                return Some(time::Found {
                    time,
                    end,
                    shape: time::Shape::Numeric,
                    bracketed,
                });
            }
        }
        time::leading(line, &self.clock)
    }

    /// A timestamp that is the whole of `text` (a JSON or logfmt value, a pattern group).
    fn whole_time(&self, text: &[u8]) -> Option<DateTime<Utc>> {
        if let Some(format) = self.time_format {
            let text = lossless_prefix(text).trim();
            if let Some((time, taken)) = format.leading(text, &self.clock)
                && taken == text.len()
            {
                return Some(time);
            }
        }
        time::whole(text, &self.clock)
    }
}

impl Parser {
    pub fn new(config: ParserConfig) -> anyhow::Result<Parser> {
        let pattern = config
            .pattern
            .as_deref()
            .map(pattern::Pattern::new)
            .transpose()?;
        if config.format == Format::Pattern && pattern.is_none() {
            anyhow::bail!(
                "--format pattern needs --pattern REGEX (named groups timestamp, level, message)"
            );
        }
        let time_format = config
            .time_format
            .as_deref()
            .map(time::UserFormat::new)
            .transpose()?;
        Ok(Parser {
            format: config.format,
            default_level: config.default_level,
            timezone: config.timezone,
            pattern,
            time_format,
            detected: Format::Raw,
        })
    }

    /// Sets `timestamp`, `log_level`, `message` and `extra` of `record` from one line (without its
    /// line ending; a trailing `\r` is dropped). `now` is the timestamp of lines that have none.
    pub fn parse_into(&mut self, line: &[u8], now: DateTime<Utc>, record: &mut Record) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let context = Context {
            clock: time::Clock {
                zone: self.timezone,
                now,
            },
            default_level: self.default_level,
            time_format: self.time_format.as_ref(),
        };
        record.timestamp = now;
        record.log_level = self.default_level;
        let matched_pattern = match &mut self.pattern {
            Some(pattern) => pattern.parse(line, &context, record),
            None => false,
        };
        self.detected = if matched_pattern {
            Format::Pattern
        } else {
            match self.format {
                Format::Auto | Format::Pattern => auto(line, &context, record),
                Format::Json => json::parse(line, &context, record).then_some(Format::Json),
                Format::Logfmt => logfmt::parse_line(line, &context, record),
                Format::Syslog => syslog::parse(line, &context, record),
                Format::Apache => apache::parse(line, &context, record),
                Format::Log4j | Format::Logcat => text::parse(line, &context, record),
                Format::Raw => None,
            }
            .unwrap_or_else(|| raw(line, &context, record))
        };
        if record.message.is_empty() {
            // A line of only a timestamp or a level: keep its text rather than nothing.
            set_text(&mut record.message, line);
        }
    }

    /// The format of the last line parsed.
    pub fn detected(&self) -> Format {
        self.detected
    }
}

/// Automatic detection (see the module docs); `None` for a raw line.
fn auto(line: &[u8], context: &Context, record: &mut Record) -> Option<Format> {
    match line.first() {
        Some(b'{') if json::parse(line, context, record) => return Some(Format::Json),
        Some(b'<') => {
            if let Some(format) = syslog::parse(line, context, record) {
                return Some(format);
            }
        }
        _ => {}
    }
    text::parse(line, context, record)
}

/// A line with no structure: the whole line, the default level, the time it was read.
fn raw(line: &[u8], context: &Context, record: &mut Record) -> Format {
    record.timestamp = context.clock.now;
    record.log_level = context.default_level;
    set_text(&mut record.message, line);
    record.extra.clear();
    Format::Raw
}

/// Replaces `dst` with `bytes`, decoded lossily.
fn set_text(dst: &mut String, bytes: &[u8]) {
    dst.clear();
    push_text(dst, bytes);
}

/// Appends `bytes` to `dst`, decoded lossily.
fn push_text(dst: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => dst.push_str(text),
        Err(_) => dst.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// The longest valid UTF-8 prefix of `bytes` (chrono parses `&str`).
fn lossless_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// Key names that structured lines (JSON, logfmt) use for the time, the level and the message,
/// in order of preference.
const TIME_KEYS: [&str; 6] = ["timestamp", "@timestamp", "time", "ts", "datetime", "date"];
const LEVEL_KEYS: [&str; 7] = [
    "level",
    "lvl",
    "severity",
    "loglevel",
    "log_level",
    "levelname",
    "log.level",
];
const MESSAGE_KEYS: [&str; 4] = ["message", "msg", "@message", "log"];

#[cfg(test)]
mod tests;
