//! Line parsing: a raw log line into the parts of a record.
//!
//! Minimal stand-in with the interface fixed in HELPERS.md (raw format only: the whole line is the
//! message, at the default level) until the parser of issue 2 lands.

use chrono::{DateTime, Utc};

use crate::record::{Level, Record};

/// The line formats the parser knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Detect the format of each line.
    Auto,
    /// The whole line is the message.
    Raw,
}

/// How lines are parsed.
#[derive(Debug, Clone)]
pub struct ParserConfig {
    pub format: Format,
    pub pattern: Option<String>,
    pub time_format: Option<String>,
    pub default_level: Level,
    pub timezone: chrono_tz::Tz,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            format: Format::Auto,
            pattern: None,
            time_format: None,
            default_level: Level::Info,
            timezone: chrono_tz::UTC,
        }
    }
}

/// Parses raw lines into records.
#[derive(Debug)]
pub struct Parser {
    config: ParserConfig,
}

impl Parser {
    pub fn new(config: ParserConfig) -> anyhow::Result<Parser> {
        Ok(Parser { config })
    }

    /// Sets timestamp, level, message and extra fields of `record` from one line.
    pub fn parse_into(&mut self, line: &[u8], now: DateTime<Utc>, record: &mut Record) {
        record.timestamp = now;
        record.log_level = self.config.default_level;
        record.message.clear();
        match std::str::from_utf8(line) {
            Ok(text) => record.message.push_str(text),
            Err(_) => record.message.push_str(&String::from_utf8_lossy(line)),
        }
        record.extra.clear();
    }

    /// The format of the last line parsed.
    pub fn detected(&self) -> Format {
        Format::Raw
    }
}
