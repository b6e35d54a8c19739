//! Apache and nginx logs. Access logs in the common and combined log formats
//! (`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "ref" "agent"`,
//! with an optional leading virtual host) get their level from the status (5xx ERROR, 4xx WARN,
//! else INFO) and their fields as extras; the message is the whole line. Error logs
//! (`[Sun Dec 04 04:47:44 2005] [error] ...`) are text lines with a bracketed level: the text
//! parser reads them.

use super::fields::{self, Field};
use super::{Context, Format, set_text, text, time};
use crate::record::{Level, Record};

/// Parses a line forced to the Apache format: an access log line, else an error log line.
pub fn parse(line: &[u8], context: &Context, record: &mut Record) -> Option<Format> {
    if parse_access(line, context, record) {
        return Some(Format::Apache);
    }
    text::parse(line, context, record).map(|_| Format::Apache)
}

/// Parses an access log line; false (and `record` untouched) when it is not one.
pub fn parse_access(line: &[u8], context: &Context, record: &mut Record) -> bool {
    // Client, identity and user (after an optional virtual host) come before the bracketed time.
    let Some(open) = memchr::memchr(b'[', &line[..line.len().min(300)]) else {
        return false;
    };
    if open == 0 || line[open - 1] != b' ' {
        return false;
    }
    let mut head_tokens: [&[u8]; 4] = [&[]; 4];
    let mut count = 0;
    for token in line[..open - 1].split(|&b| b == b' ') {
        if count == head_tokens.len() || token.is_empty() {
            return false;
        }
        head_tokens[count] = token;
        count += 1;
    }
    if count < 3 {
        return false;
    }
    let [client, ident, user] = [
        head_tokens[count - 3],
        head_tokens[count - 2],
        head_tokens[count - 1],
    ];
    let Some(found) = time::leading(&line[open..], &context.clock) else {
        return false;
    };
    let Some(after_time) = line[open + found.end..].strip_prefix(b" \"") else {
        return false;
    };
    let Some((request, after_request)) = quoted(after_time) else {
        return false;
    };
    let mut rest = after_request
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty());
    let Some(status) = rest.next().and_then(number) else {
        return false;
    };
    let bytes = rest.next().and_then(number);
    let after_numbers = after_request
        .iter()
        .position(|&b| b == b'"')
        .map_or(&[][..], |start| &after_request[start + 1..]);
    let (referer, agent) = match quoted(after_numbers) {
        Some((referer, after)) => {
            let agent = after
                .iter()
                .position(|&b| b == b'"')
                .and_then(|start| quoted(&after[start + 1..]))
                .map(|(agent, _)| agent);
            (Some(referer), agent)
        }
        None => (None, None),
    };
    let mut parts = request.splitn(3, |&b| b == b' ');
    let (method, path, protocol) = (parts.next(), parts.next(), parts.next());
    let vhost = (count == 4).then_some(head_tokens[0]);
    record.timestamp = found.time;
    record.log_level = match status {
        500.. => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Info,
    };
    set_text(&mut record.message, line);
    fields::set(
        &mut record.extra,
        &[
            ("vhost", vhost.map(Field::Text)),
            ("client", Some(Field::Text(client))),
            ("ident", text_or_dash(Some(ident))),
            ("user", text_or_dash(Some(user))),
            ("method", text_or_dash(method)),
            ("path", path.map(Field::Text)),
            ("protocol", protocol.map(Field::Text)),
            ("status", Some(Field::Int(status))),
            ("bytes", bytes.map(Field::Int)),
            ("referer", text_or_dash(referer)),
            ("user_agent", text_or_dash(agent)),
        ],
    );
    true
}

/// The text up to the closing quote (skipping `\"`), and what follows the quote.
fn quoted(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some((&s[..i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// A field written `-` when absent.
fn text_or_dash(value: Option<&[u8]>) -> Option<Field<'_>> {
    value.filter(|v| *v != b"-").map(Field::Text)
}

fn number(token: &[u8]) -> Option<i64> {
    if token.is_empty() || token.len() > 18 || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}
