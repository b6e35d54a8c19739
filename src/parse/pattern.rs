//! The user pattern (`--pattern`): a regex with named groups `timestamp`, `level` and `message`;
//! any other named group becomes an extra field.
//!
//! The timestamp group is read with `--time-format` when given, else by the built-in
//! recognizers; a level the normalizer does not know, or a missing group, leaves the default.
//! Without a `message` group the whole line is the message.

use regex::bytes::{CaptureLocations, Regex};
use serde_json::Value;

use super::{Context, push_text, set_text};
use crate::record::{Level, Record};

#[derive(Debug)]
pub struct Pattern {
    regex: Regex,
    locations: CaptureLocations,
    timestamp: Option<usize>,
    level: Option<usize>,
    message: Option<usize>,
    /// The other named groups: (index, name).
    others: Vec<(usize, String)>,
}

impl Pattern {
    pub fn new(source: &str) -> anyhow::Result<Pattern> {
        let regex = Regex::new(source).map_err(|e| {
            anyhow::anyhow!("invalid --pattern: {e}\nuse a regex with named groups such as (?P<timestamp>...) (?P<level>...) (?P<message>.*)")
        })?;
        let mut pattern = Pattern {
            locations: regex.capture_locations(),
            timestamp: None,
            level: None,
            message: None,
            others: Vec::new(),
            regex,
        };
        for (index, name) in pattern.regex.capture_names().enumerate() {
            match name {
                Some("timestamp") => pattern.timestamp = Some(index),
                Some("level") => pattern.level = Some(index),
                Some("message") => pattern.message = Some(index),
                Some(other) => pattern.others.push((index, other.to_string())),
                None => {}
            }
        }
        if pattern.timestamp.is_none()
            && pattern.level.is_none()
            && pattern.message.is_none()
            && pattern.others.is_empty()
        {
            anyhow::bail!(
                "--pattern {source:?} has no named group: name them, e.g. (?P<level>\\w+) (?P<message>.*)"
            );
        }
        Ok(pattern)
    }

    /// Parses `line` when the pattern matches it; false (and `record` untouched) otherwise.
    pub fn parse(&mut self, line: &[u8], context: &Context, record: &mut Record) -> bool {
        if self
            .regex
            .captures_read(&mut self.locations, line)
            .is_none()
        {
            return false;
        }
        let group = |index: Option<usize>| {
            index
                .and_then(|i| self.locations.get(i))
                .map(|(start, end)| &line[start..end])
        };
        if let Some(time) = group(self.timestamp).and_then(|text| context.whole_time(text)) {
            record.timestamp = time;
        }
        if let Some(level) = group(self.level).and_then(|name| Level::from_name(name.trim_ascii()))
        {
            record.log_level = level;
        }
        set_text(&mut record.message, group(self.message).unwrap_or(line));
        record.extra.clear();
        for (index, name) in &self.others {
            if let Some(value) = group(Some(*index)) {
                let mut text = String::new();
                push_text(&mut text, value);
                record.extra.insert(name.clone(), Value::String(text));
            }
        }
        true
    }
}
