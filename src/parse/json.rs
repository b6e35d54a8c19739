//! JSON log lines: one object per line, as structured loggers write them (bunyan, pino, zap,
//! logrus, logstash, Docker's json-file...).
//!
//! The first key present of [`TIME_KEYS`], [`LEVEL_KEYS`] and [`MESSAGE_KEYS`] gives the
//! timestamp (a string in any recognized form, or epoch seconds/millis/micros/nanos by
//! magnitude), the level (a name, a bunyan/pino number 10..60, or a syslog severity 0..7) and the
//! message; every other key is kept as an extra field, as are the time and level keys whose value
//! could not be read. A line without a message key keeps its whole text as the message.

use serde_json::{Map, Value};

use super::{Context, LEVEL_KEYS, MESSAGE_KEYS, TIME_KEYS, set_text, time};
use crate::record::{Level, Record};

/// Parses a JSON object line; false when the line is not one.
pub fn parse(line: &[u8], context: &Context, record: &mut Record) -> bool {
    let Ok(mut object) = serde_json::from_slice::<Map<String, Value>>(line) else {
        return false;
    };
    if let Some(time) = take_first(&mut object, &TIME_KEYS, |value| time_of(value, context)) {
        record.timestamp = time;
    }
    if let Some(level) = take_first(&mut object, &LEVEL_KEYS, level_of) {
        record.log_level = level;
    }
    match MESSAGE_KEYS.iter().find_map(|key| object.remove(*key)) {
        Some(Value::String(message)) => record.message = message,
        Some(other) => record.message = other.to_string(),
        None => set_text(&mut record.message, line),
    }
    record.extra = object;
    true
}

/// Removes and reads the first of `keys` whose value `read` understands.
fn take_first<T>(
    object: &mut Map<String, Value>,
    keys: &[&str],
    read: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    let key = keys
        .iter()
        .find(|key| object.get(**key).is_some_and(|value| read(value).is_some()))?;
    read(&object.remove(*key)?)
}

fn time_of(value: &Value, context: &Context) -> Option<chrono::DateTime<chrono::Utc>> {
    match value {
        Value::String(text) => {
            context
                .whole_time(text.as_bytes())
                .or_else(|| match text.parse::<i64>() {
                    Ok(integer) => time::from_epoch_integer(integer),
                    Err(_) => text.parse::<f64>().ok().and_then(time::from_epoch_float),
                })
        }
        Value::Number(n) => match n.as_i64() {
            Some(integer) => time::from_epoch_integer(integer),
            None => time::from_epoch_float(n.as_f64()?),
        },
        // Logstash/MongoDB extended JSON: {"$date": ...}.
        Value::Object(inner) => time_of(inner.get("$date")?, context),
        _ => None,
    }
}

fn level_of(value: &Value) -> Option<Level> {
    match value {
        Value::String(name) => Level::from_name(name.trim().as_bytes()),
        Value::Number(n) => match n.as_u64()? {
            severity @ 0..=7 => Some(Level::from_syslog_severity(severity as u8)),
            10 => Some(Level::Trace),
            20 => Some(Level::Debug),
            30 => Some(Level::Info),
            40 => Some(Level::Warn),
            50 => Some(Level::Error),
            60 => Some(Level::Critical),
            _ => None,
        },
        _ => None,
    }
}
