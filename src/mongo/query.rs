//! The queries of `ls-store query`, for incident investigation: records in a time range,
//! filtered by level, source, category and a regular expression on the message, printed as JSON
//! lines (or a compact table), counted, or counted per level, source or minute.
//!
//! Every filter is built so the indexes of [`super::indexes`] serve it: the time range is on
//! `timestamp`, alone or after `log_level` / `source`; a time-bounded query is an index scan,
//! never a collection scan ([`Query::explain`] shows the plan). Results come oldest first.

use std::io::Write;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use mongodb::Collection;
use mongodb::bson::{self, Bson, Document, doc};

use super::doc::from_document;
use crate::record::{Level, format_timestamp, write_record};

/// Parses a level selection: `ERROR+` (that level and above), `ERROR` (that level only), or a
/// comma-separated list (`WARN,ERROR`).
pub fn parse_levels(text: &str) -> Result<Vec<Level>, String> {
    if let Some(lowest) = text.trim().strip_suffix('+') {
        let lowest: Level = lowest.parse().map_err(|e| format!("{e}"))?;
        return Ok(Level::ALL.into_iter().filter(|l| *l >= lowest).collect());
    }
    text.split(',')
        .map(|name| name.parse::<Level>().map_err(|e| format!("{e}")))
        .collect()
}

/// A level selection as `--level` takes it (see [`parse_levels`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels(pub Vec<Level>);

impl std::str::FromStr for Levels {
    type Err = String;
    fn from_str(text: &str) -> Result<Levels, String> {
        parse_levels(text).map(Levels)
    }
}

/// What to count records by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsBy {
    Level,
    Source,
    Minute,
}

impl StatsBy {
    fn key(self) -> &'static str {
        match self {
            StatsBy::Level => "level",
            StatsBy::Source => "source",
            StatsBy::Minute => "minute",
        }
    }

    fn group_key(self) -> Bson {
        match self {
            StatsBy::Level => Bson::String("$log_level".into()),
            StatsBy::Source => Bson::String("$source".into()),
            StatsBy::Minute => Bson::Document(doc! {
                "$dateToString": {"format": "%Y-%m-%dT%H:%MZ", "date": "$timestamp"}
            }),
        }
    }
}

/// A selection of records.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub levels: Option<Vec<Level>>,
    pub source: Option<String>,
    pub category: Option<String>,
    /// A regular expression the message must match (MongoDB's PCRE syntax).
    pub grep: Option<String>,
    pub limit: Option<u64>,
}

impl Query {
    /// The MongoDB filter.
    pub fn filter(&self) -> Document {
        let mut filter = Document::new();
        let mut range = Document::new();
        if let Some(since) = self.since {
            range.insert(
                "$gte",
                bson::DateTime::from_millis(since.timestamp_millis()),
            );
        }
        if let Some(until) = self.until {
            range.insert("$lt", bson::DateTime::from_millis(until.timestamp_millis()));
        }
        if !range.is_empty() {
            filter.insert("timestamp", range);
        }
        if let Some(levels) = &self.levels {
            let names: Vec<&str> = levels.iter().map(|l| l.as_str()).collect();
            filter.insert("log_level", doc! {"$in": names});
        }
        if let Some(source) = &self.source {
            filter.insert("source", source.as_str());
        }
        if let Some(category) = &self.category {
            filter.insert("category", category.as_str());
        }
        if let Some(grep) = &self.grep {
            filter.insert("message", doc! {"$regex": grep.as_str()});
        }
        filter
    }

    /// Calls `each` with the matching records, oldest first; returns how many.
    pub async fn find(
        &self,
        coll: &Collection<Document>,
        mut each: impl FnMut(crate::record::Record) -> Result<()>,
    ) -> Result<u64> {
        let mut find = coll.find(self.filter()).sort(doc! {"timestamp": 1});
        if let Some(limit) = self.limit {
            find = find.limit(limit as i64);
        }
        let mut cursor = find.await.map_err(mongo_error)?;
        let mut count = 0;
        while cursor.advance().await.map_err(mongo_error)? {
            let document = cursor.deserialize_current().map_err(mongo_error)?;
            let record = from_document(&document).map_err(|e| {
                anyhow::anyhow!(
                    "document {} is not a LogSphere record: {e}",
                    document.get("_id").map(Bson::to_string).unwrap_or_default()
                )
            })?;
            each(record)?;
            count += 1;
        }
        Ok(count)
    }

    /// How many records match (up to the limit, if any).
    pub async fn count(&self, coll: &Collection<Document>) -> Result<u64> {
        let mut count = coll.count_documents(self.filter());
        if let Some(limit) = self.limit {
            count = count.limit(limit);
        }
        count.await.map_err(mongo_error)
    }

    /// Matching records counted per level, source or minute, in key order.
    pub async fn stats(
        &self,
        coll: &Collection<Document>,
        by: StatsBy,
    ) -> Result<Vec<(String, u64)>> {
        let pipeline = vec![
            doc! {"$match": self.filter()},
            doc! {"$group": {"_id": by.group_key(), "count": {"$sum": 1}}},
            doc! {"$sort": {"_id": 1}},
        ];
        let mut cursor = coll.aggregate(pipeline).await.map_err(mongo_error)?;
        let mut rows = Vec::new();
        while cursor.advance().await.map_err(mongo_error)? {
            let row = cursor.deserialize_current().map_err(mongo_error)?;
            let key = match row.get("_id") {
                Some(Bson::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let count = match row.get("count") {
                Some(Bson::Int32(n)) => *n as u64,
                Some(Bson::Int64(n)) => *n as u64,
                _ => 0,
            };
            rows.push((key, count));
        }
        Ok(rows)
    }

    /// The server's query plan for [`Query::find`] (`explain`, queryPlanner verbosity).
    pub async fn explain(&self, coll: &Collection<Document>) -> Result<Document> {
        let mut find = doc! {
            "find": coll.name(),
            "filter": self.filter(),
            "sort": {"timestamp": 1},
        };
        if let Some(limit) = self.limit {
            find.insert("limit", limit as i64);
        }
        coll.client()
            .database(&coll.namespace().db)
            .run_command(doc! {"explain": find, "verbosity": "queryPlanner"})
            .await
            .map_err(mongo_error)
    }
}

fn mongo_error(error: mongodb::error::Error) -> anyhow::Error {
    anyhow::anyhow!("MongoDB query failed: {}", super::redact_error(&error))
}

/// The stages of a plan (`stage` fields, depth first), to see whether it scans an index or the
/// whole collection.
pub fn plan_stages(explain: &Document) -> Vec<String> {
    fn walk(value: &Bson, stages: &mut Vec<String>) {
        match value {
            Bson::Document(d) => {
                for (key, v) in d {
                    if key == "rejectedPlans" {
                        continue;
                    }
                    if key == "stage"
                        && let Bson::String(s) = v
                    {
                        stages.push(s.clone());
                    }
                    walk(v, stages);
                }
            }
            Bson::Array(items) => items.iter().for_each(|v| walk(v, stages)),
            _ => {}
        }
    }
    let mut stages = Vec::new();
    if let Ok(planner) = explain.get_document("queryPlanner") {
        walk(&Bson::Document(planner.clone()), &mut stages);
    }
    stages
}

/// What `ls-store query` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Records,
    Count,
    Stats(StatsBy),
}

/// Runs `query` against `coll` and prints the result to `out`: JSON lines, or a compact table.
pub async fn print(
    coll: &Collection<Document>,
    query: &Query,
    output: Output,
    table: bool,
    out: &mut impl Write,
) -> Result<()> {
    match output {
        Output::Records => {
            let mut line = Vec::new();
            query
                .find(coll, |record| {
                    line.clear();
                    if table {
                        table_row(&record, &mut line);
                    } else {
                        write_record(&record, &mut line);
                    }
                    out.write_all(&line).context("cannot write to stdout")
                })
                .await?;
        }
        Output::Count => {
            let count = query.count(coll).await?;
            if table {
                writeln!(out, "{count}")?;
            } else {
                writeln!(out, "{}", serde_json::json!({"count": count}))?;
            }
        }
        Output::Stats(by) => {
            let rows = query.stats(coll, by).await?;
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, count) in rows {
                if table {
                    writeln!(out, "{key:<width$}  {count:>10}")?;
                } else {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({by.key(): key, "count": count})
                    )?;
                }
            }
        }
    }
    out.flush().context("cannot write to stdout")
}

/// One record as a table row: time, level, source, category, message on one line.
fn table_row(record: &crate::record::Record, out: &mut Vec<u8>) {
    format_timestamp(&record.timestamp, out);
    let message = record.message.replace('\n', "\\n");
    let row = format!(
        "  {:<8} {:<16} {:<10} {}\n",
        record.log_level.as_str(),
        record.source,
        record.category.as_str(),
        message
    );
    out.extend_from_slice(row.as_bytes());
}

/// Checks a `--grep` pattern before sending it, so a typo is a usage error, not a server error.
pub fn check_regex(pattern: &str) -> Result<()> {
    if let Err(e) = regex::Regex::new(pattern) {
        // The regex crate's message spans several lines; its last one says what is wrong.
        let why = e.to_string();
        bail!(
            "invalid --grep pattern {pattern:?}: {}",
            why.lines().last().unwrap_or_default()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_selections_parse() {
        assert_eq!(
            parse_levels("ERROR+").unwrap(),
            vec![Level::Error, Level::Critical]
        );
        assert_eq!(parse_levels("warn").unwrap(), vec![Level::Warn]);
        assert_eq!(
            parse_levels("WARN,fatal").unwrap(),
            vec![Level::Warn, Level::Critical]
        );
        assert!(parse_levels("LOUD+").is_err());
    }
}
