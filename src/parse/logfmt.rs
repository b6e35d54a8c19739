//! logfmt lines: `time=2019-03-05T10:57:51Z level=info msg="user logged in" user=bob`.
//!
//! The time, level and message keys are the same as for JSON lines; other pairs become extra
//! fields (strings: logfmt has no types), and a bare word becomes a `true` field. Values may be
//! quoted, with `\"` and `\\` escapes.

use serde_json::Value;

use super::{Context, Format, LEVEL_KEYS, MESSAGE_KEYS, TIME_KEYS, push_text, set_text};
use crate::record::{Level, Record};

/// Whether `line` opens with a `key=` pair (a key of letters, digits, `_ . - @`, starting with a
/// letter, `_` or `@`).
pub fn looks_like(line: &[u8]) -> bool {
    let key_len = line
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'))
        .count();
    key_len > 0
        && (line[0].is_ascii_alphabetic() || matches!(line[0], b'_' | b'@'))
        && line.get(key_len) == Some(&b'=')
}

/// Parses a line forced to logfmt; `None` when it is not.
pub fn parse_line(line: &[u8], context: &Context, record: &mut Record) -> Option<Format> {
    looks_like(line).then(|| {
        parse(line, context, record);
        Format::Logfmt
    })
}

/// Parses the pairs of `line` (which [`looks_like`] logfmt) into `record`.
pub fn parse(line: &[u8], context: &Context, record: &mut Record) {
    record.extra.clear();
    let mut time_rank = usize::MAX;
    let mut level_rank = usize::MAX;
    let mut message_rank = usize::MAX;
    let mut value = String::new();
    let mut rest = line;
    loop {
        rest = rest.trim_ascii_start();
        if rest.is_empty() {
            break;
        }
        let key_len = rest
            .iter()
            .take_while(|&&b| b != b'=' && !b.is_ascii_whitespace())
            .count();
        let key = String::from_utf8_lossy(&rest[..key_len]).into_owned();
        rest = &rest[key_len..];
        let Some(after) = rest.strip_prefix(b"=") else {
            record.extra.insert(key, Value::Bool(true));
            continue;
        };
        rest = read_value(after, &mut value);
        if let Some(rank) = rank(&TIME_KEYS, &key, time_rank)
            && let Some(time) = context.whole_time(value.as_bytes())
        {
            record.timestamp = time;
            time_rank = rank;
        } else if let Some(rank) = rank(&LEVEL_KEYS, &key, level_rank)
            && let Some(level) = Level::from_name(value.as_bytes())
        {
            record.log_level = level;
            level_rank = rank;
        } else if let Some(rank) = rank(&MESSAGE_KEYS, &key, message_rank) {
            record.message.clone_from(&value);
            message_rank = rank;
        } else {
            record.extra.insert(key, Value::String(value.clone()));
        }
    }
    if message_rank == usize::MAX {
        set_text(&mut record.message, line);
    }
}

/// The preference rank of `key` among `keys` when it beats the rank already taken.
fn rank(keys: &[&str], key: &str, taken: usize) -> Option<usize> {
    keys.iter()
        .position(|k| *k == key)
        .filter(|&rank| rank < taken)
}

/// Reads one value (quoted or bare) into `value`; returns what follows it.
fn read_value<'a>(s: &'a [u8], value: &mut String) -> &'a [u8] {
    value.clear();
    let Some(quoted) = s.strip_prefix(b"\"") else {
        let len = s.iter().take_while(|b| !b.is_ascii_whitespace()).count();
        push_text(value, &s[..len]);
        return &s[len..];
    };
    let mut raw = Vec::new();
    let mut i = 0;
    while i < quoted.len() {
        match quoted[i] {
            b'\\' if i + 1 < quoted.len() => {
                raw.push(match quoted[i + 1] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                });
                i += 2;
            }
            b'"' => {
                push_text(value, &raw);
                return &quoted[i + 1..];
            }
            b => {
                raw.push(b);
                i += 1;
            }
        }
    }
    // An unterminated quote runs to the end of the line.
    push_text(value, &raw);
    &[]
}
