//! Where rules come from: a JSON rules file for many, flags for the common cases, and the two
//! default rules of the seed design when none are given.
//!
//! The rules file:
//! ```json
//! {"rules": [
//!   {"name": "critical", "type": "immediate", "level": "CRITICAL+"},
//!   {"name": "db-errors", "type": "threshold", "level": "ERROR+", "more_than": 100,
//!    "window": "1m", "window_type": "sliding", "by": ["source"], "category": "db",
//!    "source": ["db-1", "db-2"], "message": "timeout|refused", "realert": "10m"},
//!   {"name": "silent", "type": "absence", "after": "5m", "by": "source"}
//! ]}
//! ```
//! `severity` (`critical` / `warning`) may be given for any rule; immediate rules default to
//! critical, the others to warning. Levels are `NAME` (exactly), `NAME+` (at or above) or `*`.
//! Group keys are `source`, `category`, `level` or `field:NAME` (an extra field).
//!
//! The flags: `--threshold 'ERROR+ >100 in 1m [sliding|tumbling] [by source,category]
//! [category=NAME] [source=NAME]'`, `--absent '5m [by source] [LEVEL] [category=..] [source=..]'`,
//! `--critical-at LEVEL`.

use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use crate::cli::time::parse_duration;
use crate::record::Level;

use super::alert::Severity;
use super::rule::{GroupKey, LevelMatch, Matcher, Rule, RuleKind, WindowKind};

/// The re-alert interval of threshold and absence rules when none is given. Immediate rules
/// alert on every matching record unless one is given.
pub const DEFAULT_REALERT: Duration = Duration::from_secs(5 * 60);

/// A list of rules, as ls-watch runs them.
pub type RuleSet = Vec<Rule>;

/// The seed design's rules: a critical alert at once for any CRITICAL record, and a warning when
/// more than 100 records at ERROR or above arrive within one minute, all sources together.
pub fn default_rules(realert: Option<Duration>) -> RuleSet {
    vec![
        critical_at(Level::Critical, realert),
        Rule {
            name: "errors".into(),
            severity: Severity::Warning,
            kind: RuleKind::Threshold {
                more_than: 100,
                window: Duration::from_secs(60),
                kind: WindowKind::Sliding,
            },
            matcher: Matcher {
                level: LevelMatch::AtLeast(Level::Error),
                ..Matcher::default()
            },
            group_by: Vec::new(),
            realert: realert.unwrap_or(DEFAULT_REALERT),
        },
    ]
}

/// `--critical-at LEVEL`: a critical alert for every record at or above `level`.
pub fn critical_at(level: Level, realert: Option<Duration>) -> Rule {
    Rule {
        name: "critical".into(),
        severity: Severity::Critical,
        kind: RuleKind::Immediate,
        matcher: Matcher {
            level: LevelMatch::AtLeast(level),
            ..Matcher::default()
        },
        group_by: Vec::new(),
        realert: realert.unwrap_or(Duration::ZERO),
    }
}

/// The words of a flag value with the columns (1-based) they start at.
fn words(spec: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in spec.char_indices().chain([(spec.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push((s + 1, &spec[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    words
}

/// An error in a flag value, pointing at the column where it is.
fn at(flag: &str, spec: &str, column: usize, what: impl std::fmt::Display) -> String {
    format!("{flag} {spec:?}: at column {column}: {what}")
}

/// The optional parts that threshold and absence flags share.
struct Common {
    level: Option<LevelMatch>,
    group_by: Vec<GroupKey>,
    categories: Vec<String>,
    sources: Vec<String>,
}

/// Words with the columns they start at.
type Words<'a> = Vec<(usize, &'a str)>;

/// Takes `by K,K`, `category=`, `source=` and a level from `words`; returns the words it did
/// not recognize, with their columns.
fn common_parts<'a>(
    flag: &str,
    spec: &str,
    words: &[(usize, &'a str)],
) -> Result<(Common, Words<'a>), String> {
    let mut common = Common {
        level: None,
        group_by: Vec::new(),
        categories: Vec::new(),
        sources: Vec::new(),
    };
    let mut rest = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (column, word) = words[i];
        if word == "by" {
            let Some(&(keys_column, keys)) = words.get(i + 1) else {
                return Err(at(flag, spec, column, "`by` needs keys, e.g. `by source`"));
            };
            for key in keys.split(',') {
                common
                    .group_by
                    .push(GroupKey::parse(key).map_err(|e| at(flag, spec, keys_column, e))?);
            }
            i += 2;
            continue;
        }
        if let Some(category) = word.strip_prefix("category=") {
            common.categories.push(category.to_string());
        } else if let Some(source) = word.strip_prefix("source=") {
            common.sources.push(source.to_string());
        } else if word == "*"
            || word.as_bytes()[0].is_ascii_alphabetic() && LevelMatch::parse(word).is_ok()
        {
            if common.level.is_some() {
                return Err(at(flag, spec, column, format!("a second level {word:?}")));
            }
            common.level = LevelMatch::parse(word).ok();
        } else {
            rest.push((column, word));
        }
        i += 1;
    }
    Ok((common, rest))
}

fn matcher(common: &Common, default_level: LevelMatch) -> Matcher {
    Matcher {
        level: common.level.unwrap_or(default_level),
        categories: common.categories.clone(),
        sources: common.sources.clone(),
        message: None,
    }
}

/// `--threshold 'ERROR+ >100 in 1m [sliding|tumbling] [by source] [category=C] [source=S]'`.
/// The level defaults to any; the window to sliding. The rule is named after the flag value.
pub fn threshold_flag(spec: &str, realert: Option<Duration>) -> Result<Rule, String> {
    const FLAG: &str = "--threshold";
    let words = words(spec);
    let (common, rest) = common_parts(FLAG, spec, &words)?;
    let mut more_than = None;
    let mut window = None;
    let mut kind = WindowKind::Sliding;
    let mut i = 0;
    while i < rest.len() {
        let (column, word) = rest[i];
        if let Some(count) = word.strip_prefix('>') {
            let (count_column, count) = if count.is_empty() {
                i += 1;
                *rest
                    .get(i)
                    .ok_or_else(|| at(FLAG, spec, column, "`>` needs a count, e.g. >100"))?
            } else {
                (column + 1, count)
            };
            more_than = Some(count.parse::<u64>().map_err(|_| {
                at(
                    FLAG,
                    spec,
                    count_column,
                    format!("{count:?} is not a count, e.g. >100"),
                )
            })?);
        } else if word == "in" {
            i += 1;
            let &(window_column, text) = rest
                .get(i)
                .ok_or_else(|| at(FLAG, spec, column, "`in` needs a window, e.g. in 1m"))?;
            let length = parse_duration(text).map_err(|e| at(FLAG, spec, window_column, e))?;
            if length.is_zero() {
                return Err(at(
                    FLAG,
                    spec,
                    window_column,
                    "the window must be longer than 0",
                ));
            }
            window = Some(length);
        } else if word == "sliding" || word == "tumbling" {
            kind = if word == "sliding" {
                WindowKind::Sliding
            } else {
                WindowKind::Tumbling
            };
        } else {
            return Err(at(
                FLAG,
                spec,
                column,
                format!("unexpected {word:?} (expected e.g. 'ERROR+ >100 in 1m by source')"),
            ));
        }
        i += 1;
    }
    let end = spec.chars().count() + 1;
    let more_than = more_than.ok_or_else(|| at(FLAG, spec, end, "missing the count, e.g. >100"))?;
    let window = window.ok_or_else(|| at(FLAG, spec, end, "missing the window, e.g. in 1m"))?;
    Ok(Rule {
        name: spec.split_whitespace().collect::<Vec<_>>().join(" "),
        severity: Severity::Warning,
        kind: RuleKind::Threshold {
            more_than,
            window,
            kind,
        },
        matcher: matcher(&common, LevelMatch::Any),
        group_by: common.group_by,
        realert: realert.unwrap_or(DEFAULT_REALERT),
    })
}

/// `--absent '5m [by source] [LEVEL] [category=C] [source=S]'`: no matching record from a
/// group for that long. The rule is named `absent <flag value>`.
pub fn absent_flag(spec: &str, realert: Option<Duration>) -> Result<Rule, String> {
    const FLAG: &str = "--absent";
    let words = words(spec);
    let (common, rest) = common_parts(FLAG, spec, &words)?;
    let (after, extra) = match rest.split_first() {
        Some((&(column, text), extra)) => (
            parse_duration(text).map_err(|e| at(FLAG, spec, column, e))?,
            extra,
        ),
        None => {
            return Err(at(
                FLAG,
                spec,
                1,
                "missing the duration, e.g. '5m by source'",
            ));
        }
    };
    if let Some(&(column, word)) = extra.first() {
        return Err(at(FLAG, spec, column, format!("unexpected {word:?}")));
    }
    Ok(Rule {
        name: format!(
            "absent {}",
            spec.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
        severity: Severity::Warning,
        kind: RuleKind::Absence { after },
        matcher: matcher(&common, LevelMatch::Any),
        group_by: common.group_by,
        realert: realert.unwrap_or(DEFAULT_REALERT),
    })
}

/// One string or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    level: Option<String>,
    category: Option<OneOrMany>,
    source: Option<OneOrMany>,
    message: Option<String>,
    more_than: Option<u64>,
    window: Option<String>,
    window_type: Option<String>,
    after: Option<String>,
    by: Option<OneOrMany>,
    realert: Option<String>,
    severity: Option<String>,
}

impl RuleSpec {
    fn into_rule(self, realert: Option<Duration>) -> Result<Rule, String> {
        let level_default = if self.kind == "immediate" {
            LevelMatch::AtLeast(Level::Critical)
        } else {
            LevelMatch::Any
        };
        let level = match &self.level {
            Some(text) => LevelMatch::parse(text)?,
            None => level_default,
        };
        let message = match &self.message {
            Some(pattern) => Some(
                Regex::new(pattern)
                    .map_err(|e| format!("\"message\" is not a valid regex: {e}"))?,
            ),
            None => None,
        };
        let duration = |field: &str, value: &Option<String>| -> Result<Duration, String> {
            let text = value
                .as_deref()
                .ok_or_else(|| format!("a {} rule needs {field:?}", self.kind))?;
            let d = parse_duration(text).map_err(|e| format!("{field:?}: {e}"))?;
            if d.is_zero() {
                return Err(format!("{field:?} must be longer than 0"));
            }
            Ok(d)
        };
        let kind = match self.kind.as_str() {
            "immediate" => RuleKind::Immediate,
            "threshold" => RuleKind::Threshold {
                more_than: self
                    .more_than
                    .ok_or("a threshold rule needs \"more_than\"")?,
                window: duration("window", &self.window)?,
                kind: match self.window_type.as_deref() {
                    None | Some("sliding") => WindowKind::Sliding,
                    Some("tumbling") => WindowKind::Tumbling,
                    Some(other) => {
                        return Err(format!(
                            "\"window_type\" {other:?} is neither sliding nor tumbling"
                        ));
                    }
                },
            },
            "absence" => RuleKind::Absence {
                after: duration("after", &self.after)?,
            },
            other => {
                return Err(format!(
                    "\"type\" {other:?} is not a rule kind (expected immediate, threshold or absence)"
                ));
            }
        };
        let severity = match &self.severity {
            Some(text) => Severity::parse(text)?,
            None if kind == RuleKind::Immediate => Severity::Critical,
            None => Severity::Warning,
        };
        let realert = match &self.realert {
            Some(text) => parse_duration(text).map_err(|e| format!("\"realert\": {e}"))?,
            None if kind == RuleKind::Immediate => realert.unwrap_or(Duration::ZERO),
            None => realert.unwrap_or(DEFAULT_REALERT),
        };
        let group_by = self
            .by
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|key| GroupKey::parse(key))
            .collect::<Result<_, _>>()?;
        Ok(Rule {
            name: self.name,
            severity,
            kind,
            matcher: Matcher {
                level,
                categories: self.category.map(OneOrMany::into_vec).unwrap_or_default(),
                sources: self.source.map(OneOrMany::into_vec).unwrap_or_default(),
                message,
            },
            group_by,
            realert,
        })
    }
}

/// Parses a rules file. Errors name the line and column (syntax) or the rule (meaning).
pub fn rules_from_json(text: &str, realert: Option<Duration>) -> Result<RuleSet, String> {
    let file: RuleFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.rules.is_empty() {
        return Err("the file has no rules".into());
    }
    let mut names = std::collections::HashSet::new();
    file.rules
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let name = spec.name.clone();
            if !names.insert(name.clone()) {
                return Err(format!("rule {} ({name:?}): the name is used twice", i + 1));
            }
            spec.into_rule(realert)
                .map_err(|e| format!("rule {} ({name:?}): {e}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_flag_reads_the_common_case() {
        let rule = threshold_flag("ERROR+ >100 in 1m by source", None).unwrap();
        assert_eq!(
            rule.kind,
            RuleKind::Threshold {
                more_than: 100,
                window: Duration::from_secs(60),
                kind: WindowKind::Sliding
            }
        );
        assert_eq!(rule.matcher.level, LevelMatch::AtLeast(Level::Error));
        assert_eq!(rule.group_by, vec![GroupKey::Source]);
        assert_eq!(rule.name, "ERROR+ >100 in 1m by source");
        assert_eq!(rule.realert, DEFAULT_REALERT);

        let rule = threshold_flag(
            "> 5 in 10s tumbling by source,category category=db WARN",
            Some(Duration::from_secs(1)),
        )
        .unwrap();
        assert!(matches!(
            rule.kind,
            RuleKind::Threshold {
                more_than: 5,
                kind: WindowKind::Tumbling,
                ..
            }
        ));
        assert_eq!(rule.matcher.level, LevelMatch::Exactly(Level::Warn));
        assert_eq!(rule.matcher.categories, vec!["db".to_string()]);
        assert_eq!(rule.group_by.len(), 2);
        assert_eq!(rule.realert, Duration::from_secs(1));
    }

    #[test]
    fn bad_flags_say_where() {
        let err = threshold_flag("ERROR+ >1x0 in 1m", None).unwrap_err();
        assert!(
            err.contains("at column 9") && err.contains("not a count"),
            "{err}"
        );
        let err = threshold_flag("ERROR+ >100 in 1y", None).unwrap_err();
        assert!(
            err.contains("at column 16") && err.contains("unit"),
            "{err}"
        );
        let err = threshold_flag("ERROR+ >100 in 1m by host", None).unwrap_err();
        assert!(
            err.contains("at column 22") && err.contains("group key"),
            "{err}"
        );
        let err = threshold_flag("ERROR+ in 1m", None).unwrap_err();
        assert!(err.contains("missing the count"), "{err}");
        let err = threshold_flag("ERROR+ >100 in 1m lots", None).unwrap_err();
        assert!(
            err.contains("at column 19") && err.contains("\"lots\""),
            "{err}"
        );
        let err = absent_flag("by source", None).unwrap_err();
        assert!(err.contains("missing the duration"), "{err}");
    }

    #[test]
    fn absent_flag_reads_duration_and_group() {
        let rule = absent_flag("5m by source", None).unwrap();
        assert_eq!(
            rule.kind,
            RuleKind::Absence {
                after: Duration::from_secs(300)
            }
        );
        assert_eq!(rule.group_by, vec![GroupKey::Source]);
    }

    #[test]
    fn defaults_are_the_seed_rules() {
        let rules = default_rules(None);
        assert_eq!(rules[0].kind, RuleKind::Immediate);
        assert_eq!(rules[0].severity, Severity::Critical);
        assert_eq!(rules[0].matcher.level, LevelMatch::AtLeast(Level::Critical));
        assert!(matches!(
            rules[1].kind,
            RuleKind::Threshold { more_than: 100, window, .. } if window == Duration::from_secs(60)
        ));
        assert_eq!(rules[1].matcher.level, LevelMatch::AtLeast(Level::Error));
        assert!(rules[1].group_by.is_empty());
    }

    #[test]
    fn rules_file_reads_every_kind() {
        let text = r#"{"rules": [
            {"name": "crit", "type": "immediate"},
            {"name": "db", "type": "threshold", "level": "ERROR+", "more_than": 3, "window": "10s",
             "window_type": "tumbling", "by": ["source"], "category": "db", "message": "time(d )?out",
             "realert": "1m", "severity": "critical"},
            {"name": "silent", "type": "absence", "after": "5m", "by": "source"}
        ]}"#;
        let rules = rules_from_json(text, None).unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].severity, Severity::Critical);
        assert_eq!(rules[1].severity, Severity::Critical);
        assert_eq!(rules[1].realert, Duration::from_secs(60));
        assert!(
            rules[1]
                .matcher
                .message
                .as_ref()
                .unwrap()
                .is_match("timed out")
        );
        assert_eq!(rules[2].group_by, vec![GroupKey::Source]);
    }

    #[test]
    fn bad_rules_files_say_where() {
        let err =
            rules_from_json("{\"rules\": [\n {\"name\": \"a\", \"type\": }]}", None).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = rules_from_json(
            r#"{"rules": [{"name": "a", "type": "immediate"}, {"name": "b", "type": "threshold", "window": "1m"}]}"#,
            None,
        )
        .unwrap_err();
        assert!(
            err.contains("rule 2 (\"b\")") && err.contains("more_than"),
            "{err}"
        );
        let err = rules_from_json(
            r#"{"rules": [{"name": "a", "type": "immediate", "mesage": "x"}]}"#,
            None,
        )
        .unwrap_err();
        assert!(err.contains("mesage"), "{err}");
        let err = rules_from_json(
            r#"{"rules": [{"name": "a", "type": "threshold", "more_than": 1, "window": "1m", "message": "("}]}"#,
            None,
        )
        .unwrap_err();
        assert!(err.contains("regex"), "{err}");
    }
}
