//! Plain-text log lines: a leading timestamp, a level token near the start, and the message.
//!
//! This is the path that generalizes: it assumes no particular format, only the habit nearly
//! all text logs share (time first, then a short header with the level, then the text). Tokens
//! of the header before the level (a pid, a thread) stay in the message; the level token and
//! the separators around it (`-`, `|`, `:`) do not.

use super::time::Shape;
use super::{Context, Format, apache, level, logfmt, push_text, set_text, syslog};
use crate::record::Record;

/// Parses a text line; `None` when neither a timestamp nor a level nor another structure was
/// found (a raw line).
pub fn parse(line: &[u8], context: &Context, record: &mut Record) -> Option<Format> {
    if let Some(found) = context.leading_time(line) {
        record.timestamp = found.time;
        let rest = &line[found.end..];
        if let Some(token) = level::find(rest, true) {
            record.log_level = token.level;
            compose_message(
                &mut record.message,
                &rest[..token.start],
                &rest[token.end..],
            );
            record.extra.clear();
            return Some(match found.shape {
                Shape::Ctime if found.bracketed => Format::Apache,
                Shape::Logcat => Format::Logcat,
                _ if token.letter => Format::Logcat,
                _ => Format::Log4j,
            });
        }
        if found.shape == Shape::SyslogMonthDay && syslog::parse_body(rest, None, context, record) {
            return Some(Format::Syslog);
        }
        if logfmt::looks_like(rest.trim_ascii_start()) {
            // The leading time stays unless a time key overrides it.
            logfmt::parse(rest.trim_ascii_start(), context, record);
            return Some(Format::Logfmt);
        }
        message_with_level_prefix(rest, context, record);
        return Some(Format::Log4j);
    }
    if apache::parse_access(line, context, record) {
        return Some(Format::Apache);
    }
    if let Some((level, skip)) = level::message_prefix(line) {
        // "WARNING:root:message", "ERROR: message".
        record.log_level = level;
        set_text(&mut record.message, trim_separators(&line[skip..]));
        record.extra.clear();
        return Some(Format::Log4j);
    }
    if let Some(token) = level::find(line, false) {
        record.log_level = token.level;
        let after = trim_separators(&line[token.end..]);
        // "[INFO] 2019-03-05 10:57:51 message": the level first, then the time.
        match context.leading_time(after) {
            Some(found) if token.start == 0 => {
                record.timestamp = found.time;
                set_text(&mut record.message, trim_separators(&after[found.end..]));
            }
            _ => compose_message(&mut record.message, &line[..token.start], after),
        }
        record.extra.clear();
        return Some(if token.letter {
            Format::Logcat
        } else {
            Format::Log4j
        });
    }
    if logfmt::looks_like(line) {
        logfmt::parse(line, context, record);
        return Some(Format::Logfmt);
    }
    None
}

/// A message after a timestamp with no level token: it may still open with `error:`.
fn message_with_level_prefix(rest: &[u8], context: &Context, record: &mut Record) {
    let message = trim_separators(rest);
    match level::message_prefix(message) {
        Some((level, skip)) => {
            record.log_level = level;
            set_text(&mut record.message, trim_separators(&message[skip..]));
        }
        None => {
            record.log_level = context.default_level;
            set_text(&mut record.message, message);
        }
    }
    record.extra.clear();
}

/// The message of a line whose level token sat between `before` and `after`.
fn compose_message(message: &mut String, before: &[u8], after: &[u8]) {
    let before = trim_separators_end(trim_separators(before));
    let after = trim_separators(after);
    message.clear();
    push_text(message, before);
    if !before.is_empty() && !after.is_empty() {
        message.push(' ');
    }
    push_text(message, after);
}

/// Drops leading blanks and separator runs (`-`, `--`, `:`, `|`, `]`) that stand alone.
pub fn trim_separators(mut s: &[u8]) -> &[u8] {
    loop {
        s = s.trim_ascii_start();
        let run = s
            .iter()
            .take_while(|b| matches!(b, b'-' | b':' | b'|' | b']'))
            .count();
        if run == 0 || s.get(run).is_some_and(|b| !b.is_ascii_whitespace()) {
            return s;
        }
        s = &s[run..];
    }
}

/// Drops trailing blanks and separator runs that stand alone.
fn trim_separators_end(mut s: &[u8]) -> &[u8] {
    loop {
        s = s.trim_ascii_end();
        let run = s
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'-' | b':' | b'|' | b'['))
            .count();
        if run == 0 || run == s.len() || !s[s.len() - run - 1].is_ascii_whitespace() {
            return if run == s.len() { &s[..0] } else { s };
        }
        s = &s[..s.len() - run];
    }
}
