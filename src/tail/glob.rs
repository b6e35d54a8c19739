//! Shell-style wildcards (`*`, `?`, `[abc]`, `[!a-z]`) for file names, compiled to a regex.
//!
//! A few lines over `regex` (already a dependency) instead of another crate: only file-name
//! matching is needed, never directory walking.

use anyhow::{Context, Result};
use regex::Regex;

/// A compiled wildcard pattern matching a whole string.
#[derive(Debug, Clone)]
pub struct Glob {
    text: String,
    regex: Regex,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob> {
        let mut re = String::from("^");
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                '[' => {
                    re.push('[');
                    if matches!(chars.peek(), Some('!') | Some('^')) {
                        chars.next();
                        re.push('^');
                    }
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        if c == '\\' || c == '[' || c == '&' || c == '~' {
                            re.push('\\');
                        }
                        re.push(c);
                    }
                    anyhow::ensure!(closed, "unclosed '[' in the pattern {pattern:?}");
                    re.push(']');
                }
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        re.push('$');
        let regex = Regex::new(&re).with_context(|| format!("invalid pattern {pattern:?}"))?;
        Ok(Glob {
            text: pattern.to_string(),
            regex,
        })
    }

    pub fn matches(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::str::FromStr for Glob {
    type Err = anyhow::Error;

    fn from_str(pattern: &str) -> Result<Glob> {
        Glob::new(pattern)
    }
}

/// True if `s` contains wildcard characters.
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_names() {
        let g = Glob::new("*.log").unwrap();
        assert!(g.matches("app.log"));
        assert!(!g.matches("app.log.1"));
        let g = Glob::new("app-?.[0-9]").unwrap();
        assert!(g.matches("app-a.7"));
        assert!(!g.matches("app-ab.7"));
        let g = Glob::new("[!.]*").unwrap();
        assert!(!g.matches(".hidden"));
        assert!(g.matches("x.y"));
        assert!(Glob::new("a[b").is_err());
    }
}
