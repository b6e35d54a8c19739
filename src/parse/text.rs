//! Plain-text log lines: a leading timestamp, a level token near the start, and the message.
//!
//! This is the path that generalizes: it assumes no particular format, only the habit nearly
//! all text logs share (time first, then a short header with the level, then the text). Tokens
//! of the header before the level (a pid, a thread) stay in the message; the level token and
//! the separators around it (`-`, `|`, `:`) do not.

use super::time::Shape;
use super::{Context, Format, apache, level, logfmt, push_text, set_text, syslog};
use crate::record::{Level, Record};

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
        // "host app[pid]: message" after any timestamp (rsyslog writes ISO ones).
        if syslog::parse_body(rest, None, context, record) {
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
    if let Some(format) = glog(line, context, record) {
        return Some(format);
    }
    if let Some((level, skip)) = level::message_prefix(line) {
        // "WARNING:root:message", "ERROR: message".
        record.log_level = level;
        set_text(&mut record.message, trim_separators(&line[skip..]));
        record.extra.clear();
        return Some(Format::Log4j);
    }
    if let Some(format) = time_after_prefix(line, context, record) {
        return Some(format);
    }
    if let Some(token) = level::find(line, false) {
        record.log_level = token.level;
        let after = trim_separators(&line[token.end..]);
        compose_message(&mut record.message, &line[..token.start], after);
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

/// A line whose timestamp comes after a short prefix: "host1 2024-01-15 10:30:00 ERROR ...",
/// "1234:M 15 Jan 2024 10:30:00.123 * Ready", "[INFO] 2019-03-05 10:57:51 message",
/// "INFO  [main] 2019-03-05 10:57:51,123 message". The level is looked for in the prefix, then
/// after the time.
fn time_after_prefix(line: &[u8], context: &Context, record: &mut Record) -> Option<Format> {
    let (at, found) = dated_time_near_start(line, context).filter(|(at, _)| *at > 0)?;
    record.timestamp = found.time;
    let prefix = &line[..at];
    let rest = &line[at + found.end..];
    let mut letter = false;
    if let Some(token) = level::find(prefix, false) {
        record.log_level = token.level;
        letter = token.letter;
        join_parts(
            &mut record.message,
            &[
                trim_around(&prefix[..token.start]),
                trim_around(&prefix[token.end..]),
                trim_separators(rest),
            ],
        );
    } else if let Some(token) = level::find(rest, true) {
        record.log_level = token.level;
        letter = token.letter;
        join_parts(
            &mut record.message,
            &[
                trim_around(prefix),
                trim_around(&rest[..token.start]),
                trim_separators(&rest[token.end..]),
            ],
        );
    } else {
        join_parts(
            &mut record.message,
            &[trim_around(prefix), trim_separators(rest)],
        );
    }
    record.extra.clear();
    Some(if letter {
        Format::Logcat
    } else {
        Format::Log4j
    })
}

/// How many tokens into a line a timestamp is still looked for when the line does not start
/// with one.
const TIME_SEARCH_TOKENS: usize = 3;

/// A timestamp with a date at the start of one of the first [`TIME_SEARCH_TOKENS`] tokens of
/// `s`, and where it starts. A time of day alone does not count here: inside a line it is as
/// likely a duration or a message value as the event's time.
fn dated_time_near_start(s: &[u8], context: &Context) -> Option<(usize, super::time::Found)> {
    let mut at = 0;
    for _ in 0..TIME_SEARCH_TOKENS {
        at += s[at..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        if at >= s.len() {
            return None;
        }
        if let Some(found) = context.leading_time(&s[at..])
            && found.shape != Shape::TimeOfDay
        {
            return Some((at, found));
        }
        at += s[at..]
            .iter()
            .take_while(|b| !b.is_ascii_whitespace())
            .count();
    }
    None
}

/// glog/klog: `I0115 10:30:00.123456    1234 main.go:42] message` (level letter, then MMDD).
fn glog(line: &[u8], context: &Context, record: &mut Record) -> Option<Format> {
    let letter = *line.first()?;
    if !matches!(letter, b'I' | b'W' | b'E' | b'F') || line.get(5) != Some(&b' ') {
        return None;
    }
    let month_day = std::str::from_utf8(line.get(1..5)?).ok()?;
    if !month_day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month: u32 = month_day[..2].parse().ok()?;
    let day: u32 = month_day[2..].parse().ok()?;
    let found = context.leading_time(&line[6..])?;
    if found.shape != Shape::TimeOfDay {
        return None;
    }
    let time = found.time.with_timezone(&context.clock.zone).time();
    record.timestamp = super::time::year_less(month, day, time, &context.clock)?;
    record.log_level = Level::from_name(&[letter])?;
    set_text(&mut record.message, trim_separators(&line[6 + found.end..]));
    record.extra.clear();
    Some(Format::Log4j)
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
    join_parts(message, &[trim_around(before), trim_separators(after)]);
}

/// Replaces `message` with the non-empty `parts` joined by a space.
fn join_parts(message: &mut String, parts: &[&[u8]]) {
    message.clear();
    for part in parts.iter().filter(|part| !part.is_empty()) {
        if !message.is_empty() {
            message.push(' ');
        }
        push_text(message, part);
    }
}

fn trim_around(s: &[u8]) -> &[u8] {
    trim_separators_end(trim_separators(s))
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
