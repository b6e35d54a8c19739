//! Syslog lines: RFC 5424 (`<34>1 2003-10-11T22:14:15.003Z host app 123 ID47 [sd] msg`) and
//! RFC 3164/BSD (`<34>Oct 11 22:14:15 host app[123]: msg`, also without the `<34>`).
//!
//! The priority gives the level (severity = priority % 8). Without one (files written by a
//! local syslog daemon), a level word opening the message (`error: ...`) gives it, else the
//! default level. Host, app, pid (and RFC 5424's msgid and structured data) become extra fields.

use super::fields::{self, Field};
use super::{Context, Format, level, set_text};
use crate::record::{Level, Record};

/// Parses a line starting with a `<priority>`; `None` when it is not syslog.
pub fn parse(line: &[u8], context: &Context, record: &mut Record) -> Option<Format> {
    let Some((priority, rest)) = priority(line) else {
        // Forced syslog on a line without a priority: BSD syslog as files hold it.
        let found = context.leading_time(line)?;
        record.timestamp = found.time;
        return parse_body(&line[found.end..], None, context, record).then_some(Format::Syslog);
    };
    let severity_level = Level::from_syslog_severity(priority % 8);
    let facility = i64::from(priority / 8);
    if let Some(rest) = rest.strip_prefix(b"1 ") {
        parse_5424(rest, context, record, facility)?;
    } else {
        let body = match context.leading_time(rest) {
            Some(found) => {
                record.timestamp = found.time;
                &rest[found.end..]
            }
            None => rest,
        };
        if !parse_body(body, Some(facility), context, record) {
            set_text(&mut record.message, body.trim_ascii());
            fields::set(
                &mut record.extra,
                &[("facility", Some(Field::Int(facility)))],
            );
        }
    }
    record.log_level = severity_level;
    Some(Format::Syslog)
}

/// `<N>` with N in 0..=191.
fn priority(line: &[u8]) -> Option<(u8, &[u8])> {
    let rest = line.strip_prefix(b"<")?;
    let close = rest.iter().take(4).position(|&b| b == b'>')?;
    if close == 0 || !rest[..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u32 = std::str::from_utf8(&rest[..close]).ok()?.parse().ok()?;
    (value <= 191).then_some((value as u8, &rest[close + 1..]))
}

/// RFC 5424 after the version: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG.
fn parse_5424(rest: &[u8], context: &Context, record: &mut Record, facility: i64) -> Option<()> {
    let (stamp, rest) = split_token(rest);
    if stamp != b"-" {
        record.timestamp = context.whole_time(stamp)?;
    }
    let (host, rest) = split_token(rest);
    let (app, rest) = split_token(rest);
    let (pid, rest) = split_token(rest);
    let (msgid, rest) = split_token(rest);
    let (data, rest) = structured_data(rest);
    let message = rest.strip_prefix(b" ").unwrap_or(rest);
    let message = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
    set_text(&mut record.message, message);
    fields::set(
        &mut record.extra,
        &[
            ("facility", Some(Field::Int(facility))),
            ("host", nil_or_text(host)),
            ("app", nil_or_text(app)),
            ("pid", nil_or_text(pid)),
            ("msgid", nil_or_text(msgid)),
            ("structured_data", nil_or_text(data)),
        ],
    );
    Some(())
}

/// RFC 5424 structured data: `-` or one or more `[id key="value" ...]` elements (values may hold
/// `\]` and `\"`).
fn structured_data(rest: &[u8]) -> (&[u8], &[u8]) {
    if rest.first() != Some(&b'[') {
        return split_token(rest);
    }
    let mut i = 0;
    let mut in_quotes = false;
    while i < rest.len() {
        match rest[i] {
            b'\\' if in_quotes => i += 1,
            b'"' => in_quotes = !in_quotes,
            b']' if !in_quotes && rest.get(i + 1) != Some(&b'[') => {
                return (&rest[..=i], &rest[i + 1..]);
            }
            _ => {}
        }
        i += 1;
    }
    (rest, &[])
}

/// An RFC 5424 field, `-` meaning absent.
fn nil_or_text(value: &[u8]) -> Option<Field<'_>> {
    (!value.is_empty() && value != b"-").then_some(Field::Text(value))
}

fn split_token(s: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', s) {
        Some(space) => (&s[..space], &s[space + 1..]),
        None => (s, &[]),
    }
}

/// The BSD syslog body after the timestamp: `host tag[pid]: message` or `host tag: message`.
/// Returns false (and changes nothing) when the body does not have that shape.
pub fn parse_body(
    body: &[u8],
    facility: Option<i64>,
    context: &Context,
    record: &mut Record,
) -> bool {
    let body = body.strip_prefix(b" ").unwrap_or(body);
    let (host, rest) = split_token(body);
    if host.is_empty() {
        return false;
    }
    let tag_len = rest
        .iter()
        .take(64)
        .take_while(|&&b| !matches!(b, b'[' | b':' | b' '))
        .count();
    if tag_len == 0 {
        return false;
    }
    let (tag, mut after) = rest.split_at(tag_len);
    let mut pid = None;
    if after.first() == Some(&b'[') {
        let Some(close) = memchr::memchr(b']', after) else {
            return false;
        };
        pid = Some(&after[1..close]);
        after = &after[close + 1..];
    }
    let Some(message) = after.strip_prefix(b":") else {
        return false;
    };
    let message = message.strip_prefix(b" ").unwrap_or(message);
    let (level, message) = match level::message_prefix(message) {
        Some((level, skip)) => (level, message[skip..].trim_ascii_start()),
        None => (context.default_level, message),
    };
    record.log_level = level;
    set_text(&mut record.message, message);
    fields::set(
        &mut record.extra,
        &[
            ("facility", facility.map(Field::Int)),
            ("host", Some(Field::Text(host))),
            ("app", Some(Field::Text(tag))),
            ("pid", pid.map(Field::Text)),
        ],
    );
    true
}
