//! The rule kinds and the record matchers they share.
//!
//! A rule says which records it looks at ([`Matcher`]), how they are grouped ([`GroupKey`]s),
//! what raises an alert ([`RuleKind`]) and how often the same alert may repeat (`realert`).

use std::fmt;
use std::time::Duration;

use regex::Regex;

use crate::record::{Level, Record};

use super::alert::Severity;

/// One alert rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The name alerts carry as `"alert"`.
    pub name: String,
    pub severity: Severity,
    pub kind: RuleKind,
    pub matcher: Matcher,
    /// Counted and alerted on separately per distinct value of these keys; empty: one group.
    pub group_by: Vec<GroupKey>,
    /// The same rule and group does not alert again within this interval.
    pub realert: Duration,
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Every matching record is an alert.
    Immediate,
    /// More than `more_than` matching records within `window`.
    Threshold {
        more_than: u64,
        window: Duration,
        kind: WindowKind,
    },
    /// No matching record from a group for `after`; clears when the group is heard from again.
    Absence { after: Duration },
}

impl RuleKind {
    /// The name alerts carry as `"rule"`.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Immediate => "immediate",
            RuleKind::Threshold { .. } => "threshold",
            RuleKind::Absence { .. } => "absence",
        }
    }
}

/// How a threshold's window moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Any span shorter than the window: the count at a record is of the records in
    /// `(t - window, t]`.
    Sliding,
    /// Fixed windows `[k·window, (k+1)·window)` aligned to the Unix epoch.
    Tumbling,
}

impl WindowKind {
    pub fn name(self) -> &'static str {
        match self {
            WindowKind::Sliding => "sliding",
            WindowKind::Tumbling => "tumbling",
        }
    }
}

/// Which levels a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelMatch {
    Any,
    Exactly(Level),
    AtLeast(Level),
}

impl LevelMatch {
    /// Parses `*`, `ERROR` (exactly) or `ERROR+` (at or above).
    pub fn parse(text: &str) -> Result<LevelMatch, String> {
        if text == "*" {
            return Ok(LevelMatch::Any);
        }
        let (name, at_least) = match text.strip_suffix('+') {
            Some(name) => (name, true),
            None => (text, false),
        };
        let level: Level = name.parse().map_err(|e| format!("{e}"))?;
        Ok(if at_least {
            LevelMatch::AtLeast(level)
        } else {
            LevelMatch::Exactly(level)
        })
    }

    pub fn matches(self, level: Level) -> bool {
        match self {
            LevelMatch::Any => true,
            LevelMatch::Exactly(l) => level == l,
            LevelMatch::AtLeast(l) => level >= l,
        }
    }
}

impl fmt::Display for LevelMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LevelMatch::Any => f.write_str("*"),
            LevelMatch::Exactly(l) => write!(f, "{l}"),
            LevelMatch::AtLeast(l) => write!(f, "{l}+"),
        }
    }
}

/// Which records a rule counts: all conditions must hold.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub level: LevelMatch,
    /// Any of these categories; empty: any.
    pub categories: Vec<String>,
    /// Any of these sources; empty: any.
    pub sources: Vec<String>,
    pub message: Option<Regex>,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher {
            level: LevelMatch::Any,
            categories: Vec::new(),
            sources: Vec::new(),
            message: None,
        }
    }
}

impl Matcher {
    pub fn matches(&self, record: &Record) -> bool {
        // Cheapest tests first: the regex runs only on records that pass the rest.
        self.level.matches(record.log_level)
            && (self.categories.is_empty()
                || self
                    .categories
                    .iter()
                    .any(|c| c == record.category.as_str()))
            && (self.sources.is_empty() || self.sources.contains(&record.source))
            && self
                .message
                .as_ref()
                .is_none_or(|re| re.is_match(&record.message))
    }
}

/// A record property that splits a rule's counts into groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    Source,
    Category,
    Level,
    /// An extra field of the record, by name; a missing field groups as `null`.
    Field(String),
}

impl GroupKey {
    /// Parses `source`, `category`, `level` or `field:NAME`.
    pub fn parse(text: &str) -> Result<GroupKey, String> {
        match text {
            "source" => Ok(GroupKey::Source),
            "category" => Ok(GroupKey::Category),
            "level" | "log_level" => Ok(GroupKey::Level),
            _ => match text.strip_prefix("field:") {
                Some(name) if !name.is_empty() => Ok(GroupKey::Field(name.to_string())),
                _ => Err(format!(
                    "unknown group key {text:?} (expected source, category, level or field:NAME)"
                )),
            },
        }
    }

    /// The key's name in an alert's `"group"` object.
    pub fn name(&self) -> &str {
        match self {
            GroupKey::Source => "source",
            GroupKey::Category => "category",
            GroupKey::Level => "log_level",
            GroupKey::Field(name) => name,
        }
    }

    /// Appends this key's value for `record` to `out`.
    pub fn push_value(&self, record: &Record, out: &mut String) {
        match self {
            GroupKey::Source => out.push_str(&record.source),
            GroupKey::Category => out.push_str(record.category.as_str()),
            GroupKey::Level => out.push_str(record.log_level.as_str()),
            GroupKey::Field(name) => match record.extra.get(name) {
                Some(serde_json::Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => out.push_str("null"),
            },
        }
    }
}

/// Separates the values of a multi-key group in its map key; a control character that record
/// fields practically never contain, and a collision would only merge two groups' counts.
pub const GROUP_SEPARATOR: char = '\u{1f}';

impl Rule {
    /// Writes the group key of `record` into `out` (cleared first): the key values joined by
    /// [`GROUP_SEPARATOR`].
    pub fn group_of(&self, record: &Record, out: &mut String) {
        out.clear();
        for (i, key) in self.group_by.iter().enumerate() {
            if i > 0 {
                out.push(GROUP_SEPARATOR);
            }
            key.push_value(record, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: Level, source: &str, message: &str) -> Record {
        Record {
            timestamp: chrono::Utc::now(),
            log_level: level,
            message: message.to_string(),
            source: source.to_string(),
            category: crate::record::Category::new("app").unwrap(),
            id: "id".to_string(),
            origin: None,
            extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn level_matches_exactly_or_at_least() {
        assert_eq!(
            LevelMatch::parse("ERROR+"),
            Ok(LevelMatch::AtLeast(Level::Error))
        );
        assert!(
            LevelMatch::parse("error+")
                .unwrap()
                .matches(Level::Critical)
        );
        assert!(!LevelMatch::parse("ERROR").unwrap().matches(Level::Critical));
        assert!(LevelMatch::parse("*").unwrap().matches(Level::Trace));
        assert!(LevelMatch::parse("LOUD+").is_err());
    }

    #[test]
    fn matcher_needs_every_condition() {
        let matcher = Matcher {
            level: LevelMatch::AtLeast(Level::Warn),
            categories: vec!["app".into()],
            sources: vec!["web-1".into(), "web-2".into()],
            message: Some(Regex::new("time(d )?out").unwrap()),
        };
        assert!(matcher.matches(&record(Level::Error, "web-2", "timed out")));
        assert!(!matcher.matches(&record(Level::Info, "web-2", "timeout")));
        assert!(!matcher.matches(&record(Level::Error, "db-1", "timeout")));
        assert!(!matcher.matches(&record(Level::Error, "web-1", "ok")));
    }

    #[test]
    fn groups_join_key_values() {
        let mut rec = record(Level::Error, "web-1", "m");
        rec.extra.insert("user".into(), serde_json::json!("ann"));
        let rule = Rule {
            name: "r".into(),
            severity: Severity::Warning,
            kind: RuleKind::Immediate,
            matcher: Matcher::default(),
            group_by: vec![GroupKey::Source, GroupKey::parse("field:user").unwrap()],
            realert: Duration::ZERO,
        };
        let mut key = String::new();
        rule.group_of(&rec, &mut key);
        assert_eq!(key, "web-1\u{1f}ann");
        assert!(GroupKey::parse("host").is_err());
    }
}
