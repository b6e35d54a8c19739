//! What the end-to-end tests share (tests/pipeline.rs: one pass over known files; tests/chaos.rs:
//! live servers under kill -9, rotation and scale): the flags ls-tail runs with, the reference
//! records ls-tail makes of the servers' logs, reading back MongoDB, the archive and the alerts,
//! and the exactly-once check every one of those tests ends with.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mongodb::Client;
use mongodb::bson::{Document, doc};
use serde_json::Value;

/// What a test compares of a record: the fields every stage must keep as ls-tail made them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fields {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub level: String,
    pub source: String,
    pub category: String,
    pub message: String,
}

/// Flags ls-tail runs with in the pipelines and in the reference runs.
pub const TAIL_FLAGS: [&str; 4] = [
    "--category-rule",
    "error:level>=ERROR",
    "--category-rule",
    "access:file=*Apache*",
];

/// The threshold rule the pipelines watch: one source's errors, more than 100 within a minute.
pub const THRESHOLD: &str = "ERROR+ >100 in 1m by source";

/// Runs `command` to its end, which must be a success.
pub fn output(command: &mut Command) -> Output {
    let output = command.stderr(Stdio::piped()).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn fields_of_json(record: &Value) -> Fields {
    let timestamp = chrono::DateTime::parse_from_rfc3339(record["timestamp"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let text = |field: &str| record[field].as_str().unwrap().to_string();
    Fields {
        timestamp,
        level: text("log_level"),
        source: text("source"),
        category: text("category"),
        message: text("message"),
    }
}

/// The records ls-tail makes of the servers' log directories (source, directory), by id: what
/// every later stage must hold.
pub fn reference(servers: &[(String, PathBuf)], scratch: &Path) -> BTreeMap<String, Fields> {
    let mut records = BTreeMap::new();
    for (source, logs) in servers {
        let out = output(
            Command::new(env!("CARGO_BIN_EXE_ls-tail"))
                .args(["--once", "--source", source, "--lsn-dir"])
                .arg(scratch.join(format!("reference-{source}")))
                .args(TAIL_FLAGS)
                .arg(logs),
        );
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            let id = record["id"].as_str().unwrap().to_string();
            assert!(
                records.insert(id, fields_of_json(&record)).is_none(),
                "ids are unique"
            );
        }
    }
    records
}

/// Runs a consuming stage over `topics` in the consumer group `group` until the topics' end.
pub fn consume(bin: &str, brokers: &str, topics: &[String], group: &str, args: &[&str]) -> Output {
    output(
        Command::new(bin)
            .args(["--brokers", brokers, "--topic", &topics.join(",")])
            .args(["--group", group, "--exit-at-end"])
            .args(args)
            .stdin(Stdio::null()),
    )
}

/// The records of the `logs` collection of database `db`, by id.
pub async fn stored(mongo: &str, db: &str) -> BTreeMap<String, Fields> {
    let logs = Client::with_uri_str(mongo)
        .await
        .unwrap()
        .database(db)
        .collection::<Document>("logs");
    let mut cursor = logs.find(doc! {}).await.unwrap();
    let mut stored = BTreeMap::new();
    while cursor.advance().await.unwrap() {
        let d = cursor.deserialize_current().unwrap();
        let text = |field: &str| d.get_str(field).unwrap().to_string();
        let fields = Fields {
            timestamp: d.get_datetime("timestamp").unwrap().timestamp_millis(),
            level: text("log_level"),
            source: text("source"),
            category: text("category"),
            message: text("message"),
        };
        stored.insert(text("_id"), fields);
    }
    stored
}

/// The records of the archives under `roots` (HDFS URIs or local directories), read back by
/// ls-recover, by id; an id archived twice fails the test.
pub fn archived(roots: &[&str]) -> BTreeMap<String, Fields> {
    let mut archived = BTreeMap::new();
    for root in roots {
        let replay = output(Command::new(env!("CARGO_BIN_EXE_ls-recover")).args(["replay", root]));
        for line in String::from_utf8(replay.stdout).unwrap().lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            let id = record["id"].as_str().unwrap().to_string();
            assert!(
                archived
                    .insert(id.clone(), fields_of_json(&record))
                    .is_none(),
                "{id} archived twice"
            );
        }
    }
    archived
}

/// The exactly-once check: MongoDB and the archive hold the same ids with the same records, and
/// those records are the input lines, each exactly once, as ls-tail makes them (`expected`, in
/// any order: a line read twice under two ids would show as its fields twice).
pub fn assert_exactly_once(
    expected: &[Fields],
    stored: &BTreeMap<String, Fields>,
    archived: &BTreeMap<String, Fields>,
) {
    let mut expected = expected.to_vec();
    expected.sort();
    let mut got: Vec<Fields> = stored.values().cloned().collect();
    got.sort();
    if got != expected {
        // Per record, how many more MongoDB holds than the input has (a multiset difference:
        // identical lines are several records).
        let mut surplus = BTreeMap::<&Fields, i64>::new();
        for fields in &got {
            *surplus.entry(fields).or_default() += 1;
        }
        for fields in &expected {
            *surplus.entry(fields).or_default() -= 1;
        }
        let missing: Vec<_> = surplus.iter().filter(|(_, n)| **n < 0).take(5).collect();
        let extra: Vec<_> = surplus.iter().filter(|(_, n)| **n > 0).take(5).collect();
        panic!(
            "MongoDB holds {} records for {} input lines; missing (first 5): {missing:#?}; \
             more than once (first 5): {extra:#?}",
            got.len(),
            expected.len()
        );
    }
    assert_eq!(archived.len(), stored.len(), "records in the archive");
    assert!(
        archived == stored,
        "the archive holds exactly MongoDB's records, under the same ids"
    );
}

/// Alerts as ls-watch writes them, one JSON object per line.
pub fn parse_alerts(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The ids critical (`immediate`) alerts name, each with how many alerts named it.
pub fn critical_alerts(alerts: &[Value]) -> BTreeMap<String, usize> {
    let mut alerted = BTreeMap::new();
    for alert in alerts.iter().filter(|a| a["rule"] == "immediate") {
        match alert["samples"].as_array().unwrap().as_slice() {
            [id] => *alerted.entry(id.as_str().unwrap().to_string()).or_default() += 1,
            samples => panic!("a critical alert names its one record: {samples:?}"),
        }
    }
    alerted
}

/// The sources that threshold alerts fired for, once per firing.
pub fn threshold_firings(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .filter(|a| a["rule"] != "immediate" && a["state"] == "firing")
        .map(|a| a["group"]["source"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of the CRITICAL records of `records`.
pub fn critical_ids(records: &BTreeMap<String, Fields>) -> BTreeSet<String> {
    records
        .iter()
        .filter(|(_, fields)| fields.level == "CRITICAL")
        .map(|(id, _)| id.clone())
        .collect()
}
