//! Choosing each record's category: `--category-rule NAME:CONDITION` rules tried in order, the
//! first match wins, else the `--category` default (`default`).
//!
//! Conditions: `level>=LEVEL` or `level=LEVEL` (the parsed level), `file=GLOB` (the file name,
//! or the whole path when the pattern contains `/`). Example:
//! `--category-rule 'error:level>=ERROR' --category-rule 'access:file=*access*'`.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::glob::Glob;
use crate::record::{Category, Level};

/// One parsed `--category-rule`.
#[derive(Debug, Clone)]
pub struct CategoryRule {
    category: Category,
    condition: Condition,
}

#[derive(Debug, Clone)]
enum Condition {
    LevelAtLeast(Level),
    LevelIs(Level),
    File(Glob),
}

impl std::str::FromStr for CategoryRule {
    type Err = anyhow::Error;

    fn from_str(rule: &str) -> Result<CategoryRule> {
        let (name, condition) = rule
            .split_once(':')
            .with_context(|| format!("category rule {rule:?} is not NAME:CONDITION"))?;
        let category = Category::new(name)?;
        let condition = if let Some(level) = condition.strip_prefix("level>=") {
            Condition::LevelAtLeast(level.parse()?)
        } else if let Some(level) = condition.strip_prefix("level=") {
            Condition::LevelIs(level.parse()?)
        } else if let Some(glob) = condition.strip_prefix("file=") {
            Condition::File(Glob::new(glob)?)
        } else {
            bail!(
                "category rule {rule:?}: the condition must be level>=LEVEL, level=LEVEL or file=GLOB"
            )
        };
        Ok(CategoryRule {
            category,
            condition,
        })
    }
}

/// All rules and the default.
#[derive(Debug, Clone)]
pub struct CategoryRules {
    pub rules: Vec<CategoryRule>,
    pub default: Category,
}

impl CategoryRules {
    /// The rules that can still apply to records of the file at `path`: file conditions are
    /// decided once per file, so the per-record work is only the level comparisons.
    pub fn for_file(&self, path: &Path) -> FileCategories {
        let full = path.to_string_lossy();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let mut by_level = Vec::new();
        for rule in &self.rules {
            match &rule.condition {
                Condition::File(glob) => {
                    let subject = if glob.as_str().contains('/') {
                        &full
                    } else {
                        &name
                    };
                    if glob.matches(subject) {
                        return FileCategories {
                            by_level,
                            fallback: rule.category.clone(),
                        };
                    }
                }
                Condition::LevelAtLeast(level) => {
                    by_level.push((*level, true, rule.category.clone()))
                }
                Condition::LevelIs(level) => by_level.push((*level, false, rule.category.clone())),
            }
        }
        FileCategories {
            by_level,
            fallback: self.default.clone(),
        }
    }
}

/// The category rules for the records of one file.
#[derive(Debug, Clone)]
pub struct FileCategories {
    /// (level, "or above", category), in rule order.
    by_level: Vec<(Level, bool, Category)>,
    fallback: Category,
}

impl FileCategories {
    pub fn pick(&self, level: Level) -> &Category {
        self.by_level
            .iter()
            .find(|(l, or_above, _)| level == *l || (*or_above && level > *l))
            .map_or(&self.fallback, |(_, _, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let rules = CategoryRules {
            rules: [
                "error:level>=ERROR",
                "access:file=*access*",
                "warn:level=WARN",
            ]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect(),
            default: Category::default_category(),
        };
        let app = rules.for_file(Path::new("/var/log/app.log"));
        assert_eq!(app.pick(Level::Critical).as_str(), "error");
        assert_eq!(app.pick(Level::Warn).as_str(), "warn");
        assert_eq!(app.pick(Level::Info).as_str(), "default");
        let access = rules.for_file(Path::new("/var/log/access.log"));
        assert_eq!(access.pick(Level::Error).as_str(), "error");
        assert_eq!(access.pick(Level::Warn).as_str(), "access");
        for bad in ["error", "Error:level>=ERROR", "x:level>=LOUD", "x:size>3"] {
            assert!(bad.parse::<CategoryRule>().is_err(), "{bad}");
        }
    }
}
