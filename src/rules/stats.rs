//! Stream statistics for `--stats`: records per second by level, source and category over each
//! interval, as a text line, a JSON line, or a live view redrawn in place on a terminal.

use std::collections::HashMap;
use std::fmt::Write;

use clap::ValueEnum;
use serde_json::{Map, Value, json};

use crate::record::{Level, Record};

/// How statistics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// One line of text per interval.
    Text,
    /// One JSON object per line.
    Json,
    /// A table redrawn in place (for a terminal).
    Live,
}

/// Counts over the current interval.
#[derive(Debug, Default)]
pub struct Stats {
    records: u64,
    levels: [u64; Level::ALL.len()],
    sources: HashMap<String, u64>,
    categories: HashMap<String, u64>,
}

/// Sources and categories shown per report, the busiest first.
const TOP: usize = 10;

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

fn top(map: &HashMap<String, u64>) -> Vec<(&str, u64)> {
    let mut entries: Vec<(&str, u64)> = map.iter().map(|(k, &v)| (k.as_str(), v)).collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    entries.truncate(TOP);
    entries
}

impl Stats {
    pub fn count(&mut self, record: &Record) {
        self.records += 1;
        self.levels[record.log_level as usize] += 1;
        bump(&mut self.sources, &record.source);
        bump(&mut self.categories, record.category.as_str());
    }

    /// The report for an interval of `seconds`, and a fresh start for the next one. `late` and
    /// `bad` are the totals so far of late records and unreadable lines.
    pub fn report(&mut self, seconds: f64, late: u64, bad: u64, format: StatsFormat) -> String {
        let rate = |n: u64| n as f64 / seconds.max(1e-9);
        let levels: Vec<(&str, u64)> = Level::ALL
            .iter()
            .rev()
            .map(|l| (l.as_str(), self.levels[*l as usize]))
            .filter(|(_, n)| *n > 0)
            .collect();
        let sources = top(&self.sources);
        let categories = top(&self.categories);
        let mut out = String::new();
        match format {
            StatsFormat::Json => {
                let rates = |entries: &[(&str, u64)]| -> Value {
                    let map: Map<String, Value> = entries
                        .iter()
                        .map(|(k, n)| (k.to_string(), json!({"count": n, "per_s": rate(*n)})))
                        .collect();
                    Value::Object(map)
                };
                let value = json!({"stats": {
                    "interval_s": seconds,
                    "records": self.records,
                    "per_s": rate(self.records),
                    "levels": rates(&levels),
                    "sources": rates(&sources),
                    "categories": rates(&categories),
                    "late_total": late,
                    "bad_total": bad,
                }});
                let _ = writeln!(out, "{value}");
            }
            StatsFormat::Text => {
                let list = |entries: &[(&str, u64)]| -> String {
                    entries
                        .iter()
                        .map(|(k, n)| format!("{k} {:.1}/s", rate(*n)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = writeln!(
                    out,
                    "ls-watch: stats: {} records in {seconds:.1}s ({:.1}/s); levels: {}; sources: {}; categories: {}; late {late}, bad {bad} so far",
                    self.records,
                    rate(self.records),
                    list(&levels),
                    list(&sources),
                    list(&categories),
                );
            }
            StatsFormat::Live => {
                // Clear the screen and home the cursor, then redraw.
                out.push_str("\x1b[2J\x1b[H");
                let _ = writeln!(
                    out,
                    "ls-watch  {:>10.1} records/s   late {late}   bad {bad}",
                    rate(self.records)
                );
                for (title, entries) in [
                    ("level", &levels),
                    ("source", &sources),
                    ("category", &categories),
                ] {
                    let _ = writeln!(out, "\n{title:<24} {:>12}", "per second");
                    for (k, n) in entries.iter() {
                        let _ = writeln!(out, "{k:<24} {:>12.1}", rate(*n));
                    }
                }
            }
        }
        *self = Stats::default();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Category;

    fn record(level: Level, source: &str) -> Record {
        Record {
            category: Category::new("web").unwrap(),
            ..Record::empty(chrono::Utc::now(), level, source)
        }
    }

    #[test]
    fn reports_rates_per_level_source_and_category() {
        let mut stats = Stats::default();
        for _ in 0..20 {
            stats.count(&record(Level::Error, "a"));
        }
        for _ in 0..10 {
            stats.count(&record(Level::Info, "b"));
        }
        let line = stats.report(10.0, 1, 2, StatsFormat::Json);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["stats"]["records"], 30);
        assert_eq!(v["stats"]["per_s"], 3.0);
        assert_eq!(v["stats"]["levels"]["ERROR"]["per_s"], 2.0);
        assert_eq!(v["stats"]["sources"]["b"]["count"], 10);
        assert_eq!(v["stats"]["categories"]["web"]["count"], 30);
        assert_eq!(v["stats"]["bad_total"], 2);
        // The interval starts afresh.
        let text = stats.report(10.0, 1, 2, StatsFormat::Text);
        assert!(text.starts_with("ls-watch: stats: 0 records"), "{text}");
    }
}
