//! Finding the level token near the start of a line.
//!
//! Logs put the level in a short header before the message: right after the timestamp
//! (`INFO`), behind a thread or a pid (`148 INFO`, `[main] INFO`), between separators
//! (`- INFO  [`), in brackets (`[error]`, `[core:error]`), or as Android's single letter after the
//! pid and tid (`1702  2395 D Tag: ...`). Only the first few tokens are looked at and the first
//! level found wins, so that a word like "Error" later in the message never overrides the real
//! level. Which tokens count is deliberately strict, because a message word taken for a level is
//! worse than a missing level:
//! - in brackets (`[warn]`, `<ERROR>`): any case;
//! - bare and all upper case (`WARN`): anywhere in the header;
//! - bare in another case (`Error`, `info`): only as the first token of the header;
//! - single letters (`V D I W E F`): upper case, bracketed or after numeric tokens only (logcat),
//!   or as `D/Tag` (logcat's brief form).
//!
//! The header ends at a token ending in `:` (a logger or tag name: the message follows) or
//! holding `=` (a key=value field), or after [`MAX_HEADER_TOKENS`] tokens.

use crate::record::Level;

/// How many tokens of a line's header are looked at for a level.
pub const MAX_HEADER_TOKENS: usize = 6;

/// A level token found in a header: its level and its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub level: Level,
    pub start: usize,
    pub end: usize,
    /// An Android single letter (`D`, `D/Tag`).
    pub letter: bool,
}

/// Looks for the level among the first tokens of `header`. With `lenient_first`, a bare first
/// token in any case counts (right after a timestamp, `Error` is a level); without it, only when
/// it ends in `:` (`Error: ...` at the start of a line without a timestamp).
pub fn find(header: &[u8], lenient_first: bool) -> Option<Found> {
    let mut pos = 0;
    let mut words = 0;
    let mut all_numeric_so_far = true;
    for _ in 0..MAX_HEADER_TOKENS {
        while pos < header.len() && header[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= header.len() {
            return None;
        }
        let start = pos;
        while pos < header.len() && !header[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let token = &header[start..pos];
        // Separators (`-`, `|`, `---`) do not make the level stop being the first word.
        if token.iter().all(|b| matches!(b, b'-' | b'|' | b':')) {
            continue;
        }
        let first = words == 0 && (lenient_first || token.ends_with(b":"));
        if let Some(found) = classify(token, first, all_numeric_so_far && words > 0) {
            return Some(Found {
                start: start + found.start,
                end: closing_bracket(header, token, start + found.end),
                ..found
            });
        }
        if token.ends_with(b":") || token.contains(&b'=') {
            return None;
        }
        words += 1;
        all_numeric_so_far &= token.iter().all(u8::is_ascii_digit);
    }
    None
}

/// The end of a level token, past the `]` of a padded `[WARN ]` when the token opened a bracket
/// it did not close.
fn closing_bracket(header: &[u8], token: &[u8], end: usize) -> usize {
    if token.first() != Some(&b'[') || token.contains(&b']') {
        return end;
    }
    let blanks = header[end..].iter().take_while(|b| **b == b' ').count();
    if header.get(end + blanks) == Some(&b']') {
        end + blanks + 1
    } else {
        end
    }
}

/// Decides whether one header token is a level (see the module docs for the rules).
fn classify(token: &[u8], first: bool, after_numbers: bool) -> Option<Found> {
    // Logcat brief form: "D/Tag(  123):". The level is the letter and the slash.
    if token.len() > 2 && token[1] == b'/' && is_level_letter(token[0]) {
        return Some(Found {
            level: Level::from_name(&token[..1])?,
            start: 0,
            end: 2,
            letter: true,
        });
    }
    let open = token
        .iter()
        .take_while(|b| matches!(b, b'[' | b'(' | b'<' | b'{' | b'|'))
        .count();
    let bracketed = open > 0 && !matches!(token[0], b'|');
    let mut core = &token[open..];
    while let [
        rest @ ..,
        b']' | b')' | b'>' | b'}' | b'|' | b':' | b',' | b';',
    ] = core
    {
        core = rest;
    }
    if bracketed {
        // Apache 2.4: "[core:error]", "[mpm_event:notice]".
        if let Some(colon) = core.iter().rposition(|&b| b == b':') {
            core = &core[colon + 1..];
        }
    }
    if core.is_empty() || !core.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let letter = core.len() == 1;
    let accepted = if letter {
        is_level_letter(core[0]) && (bracketed || after_numbers)
    } else {
        bracketed || first || core.iter().all(u8::is_ascii_uppercase)
    };
    if !accepted {
        return None;
    }
    Some(Found {
        level: Level::from_name(core)?,
        start: 0,
        end: token.len(),
        letter,
    })
}

/// Android's level letters; `A` (assert), `N` and `C` are left out: as bare words they are far
/// more often an article or an initial than a level.
fn is_level_letter(b: u8) -> bool {
    matches!(b, b'V' | b'D' | b'I' | b'W' | b'E' | b'F')
}

/// A level word opening a message, as in syslog's `error: ...` or Python's `WARNING:root:...`:
/// a known level name directly followed by `:`. Returns the level and the bytes to skip.
pub fn message_prefix(message: &[u8]) -> Option<(Level, usize)> {
    let word = message
        .iter()
        .take(12)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if word < 3 || message.get(word) != Some(&b':') {
        return None;
    }
    Some((Level::from_name(&message[..word])?, word + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level_of(header: &str) -> Option<Level> {
        find(header.as_bytes(), true).map(|f| f.level)
    }

    #[test]
    fn the_first_level_token_wins_over_message_words() {
        assert_eq!(
            level_of("INFO [main] Foo: Error while reading, retrying"),
            Some(Level::Info)
        );
        assert_eq!(
            level_of("148 WARN dfs.DataNode: ERROR later"),
            Some(Level::Warn)
        );
        assert_eq!(
            level_of("- INFO  [Quorum] - Error state"),
            Some(Level::Info)
        );
        // A tag or logger ends the header: words after it are message.
        assert_eq!(level_of("combo sshd[12]: Error opening"), None);
        assert_eq!(level_of("worker: ERROR opening"), None);
    }

    #[test]
    fn case_rules_keep_message_words_out() {
        assert_eq!(level_of("Error opening file"), Some(Level::Error));
        assert_eq!(level_of("[error] mod_jk child"), Some(Level::Error));
        assert_eq!(level_of("[core:warn] [pid 12]"), Some(Level::Warn));
        assert_eq!(level_of("request handled, error none"), None);
        assert_eq!(level_of("the job Error count"), None);
        assert_eq!(level_of("the job ERROR count"), Some(Level::Error));
        assert_eq!(level_of("level=error msg=x"), None);
    }

    #[test]
    fn without_a_timestamp_a_bare_first_word_needs_a_colon() {
        assert_eq!(
            find(b"Error: disk full", false).map(|f| f.level),
            Some(Level::Error)
        );
        assert_eq!(find(b"Notice how it fails", false), None);
        assert_eq!(
            find(b"[notice] ok", false).map(|f| f.level),
            Some(Level::Notice)
        );
    }

    #[test]
    fn single_letters_only_where_logcat_puts_them() {
        assert_eq!(
            level_of(" 1702  2395 D WindowManager: x"),
            Some(Level::Debug)
        );
        assert_eq!(level_of("E/AndroidRuntime( 123): boom"), Some(Level::Error));
        assert_eq!(level_of("A connection was reset"), None);
        assert_eq!(level_of("I think so"), None);
        assert_eq!(level_of("[W] low disk"), Some(Level::Warn));
    }

    #[test]
    fn message_prefixes() {
        assert_eq!(message_prefix(b"error: bad"), Some((Level::Error, 6)));
        assert_eq!(message_prefix(b"WARNING:root:x"), Some((Level::Warn, 8)));
        assert_eq!(message_prefix(b"Accepted password"), None);
        assert_eq!(message_prefix(b"pam: x"), None);
    }
}
