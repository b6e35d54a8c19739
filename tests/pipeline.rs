//! The six tools as one platform, end to end over the real services: simulated servers' logs
//! (the loghub samples and a burst of errors) go `ls-tail | ls-ship` into Kafka topics by
//! category; ls-store, ls-roll (to HDFS) and ls-watch consume them in consumer groups; ls-recover
//! replays the archive. Every input line must be in MongoDB exactly once and in the HDFS archive
//! exactly once, as the same record ls-tail made of it, and exactly the expected alerts fire.

mod common;
#[path = "common/loghub.rs"]
mod loghub;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::private::KillOnDrop;
use mongodb::Client;
use mongodb::bson::{Document, doc};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;

/// What a test compares of a record: timestamp (milliseconds), level, source and category.
type Fields = (i64, String, String, String);

/// The servers: their sources and the loghub systems each one logs.
const SERVERS: [(&str, &[&str]); 3] = [
    ("web-1", &["Apache", "OpenSSH", "Linux"]),
    ("data-1", &["HDFS", "Hadoop", "Spark"]),
    ("coord-1", &["Zookeeper"]),
];

/// The errors a burst server writes within one minute: more than the threshold of 100.
const BURST_ERRORS: usize = 150;

/// Flags ls-tail runs with in the pipeline and in the reference run.
const TAIL_FLAGS: [&str; 4] = [
    "--category-rule",
    "error:level>=ERROR",
    "--category-rule",
    "access:file=*Apache*",
];

fn output(command: &mut Command) -> Output {
    let output = command.stderr(Stdio::piped()).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Writes the servers' log directories under `root`, returning them with their sources.
fn write_servers(root: &Path, corpus: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut servers = Vec::new();
    for (source, systems) in SERVERS {
        let logs = root.join(source).join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        for system in systems {
            std::fs::copy(
                loghub::log_path(corpus, system),
                logs.join(format!("{system}.log")),
            )
            .unwrap();
        }
        servers.push((source.to_string(), logs));
    }
    let logs = root.join("burst-1").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut burst = String::new();
    for i in 0..BURST_ERRORS {
        burst.push_str(&format!(
            "2026-11-22 10:00:{:02},{:03} ERROR payment failed for order {i}\n",
            i * 59 / BURST_ERRORS,
            i
        ));
    }
    burst.push_str("2026-11-22 10:01:30,000 FATAL ledger unreachable; stopping\n");
    burst.push_str("2026-11-22 10:02:00,000 INFO restarted\n");
    std::fs::write(logs.join("payments.log"), burst).unwrap();
    servers.push(("burst-1".to_string(), logs));
    servers
}

/// The records ls-tail makes of the servers' logs, by id: what every later stage must hold.
fn reference(servers: &[(String, std::path::PathBuf)], scratch: &Path) -> BTreeMap<String, Fields> {
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
            let fields = fields_of_json(&record);
            assert!(records.insert(id, fields).is_none(), "ids are unique");
        }
    }
    records
}

fn fields_of_json(record: &Value) -> Fields {
    let timestamp = chrono::DateTime::parse_from_rfc3339(record["timestamp"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let text = |field: &str| record[field].as_str().unwrap().to_string();
    (
        timestamp,
        text("log_level"),
        text("source"),
        text("category"),
    )
}

/// `ls-tail --once | ls-ship` for one server, as a shell pipeline would run it.
fn ship_server(brokers: &str, prefix: &str, source: &str, logs: &Path, lsn: &Path) {
    let mut tail = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ls-tail"))
            .args(["--once", "--source", source, "--lsn-commit", "downstream"])
            .arg("--lsn-dir")
            .arg(lsn)
            .args(TAIL_FLAGS)
            .arg(logs)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let ship = output(
        Command::new(env!("CARGO_BIN_EXE_ls-ship"))
            .args(["--brokers", brokers])
            .args(["--topic-template", &format!("{prefix}.{{category}}")])
            .arg("--lsn-dir")
            .arg(lsn)
            .stdin(tail.stdout.take().unwrap()),
    );
    drop(ship);
    assert!(tail.wait().unwrap().success());
}

/// The topics ls-ship created for `prefix`.
fn topics(brokers: &str, prefix: &str) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let mut topics: Vec<String> = metadata
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|name| name.starts_with(&format!("{prefix}.")))
        .collect();
    topics.sort();
    topics
}

/// Runs a consuming stage over `topics` in its own consumer group until the topics' end.
fn consume(bin: &str, brokers: &str, topics: &[String], group: &str, args: &[&str]) -> Output {
    output(
        Command::new(bin)
            .args(["--brokers", brokers, "--topic", &topics.join(",")])
            .args(["--group", group, "--exit-at-end"])
            .args(args)
            .stdin(Stdio::null()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_is_stored_and_archived_once_and_the_expected_alerts_fire() {
    let (Some(brokers), Some(mongo), Some(hdfs), Some(corpus)) = (
        common::brokers(),
        common::mongo_uri(),
        common::hdfs_uri(),
        loghub::dir(),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let servers = write_servers(dir.path(), &corpus);
    let expected = reference(&servers, dir.path());
    // A line is whole once its newline is written: five samples end in a line without one,
    // which a tailer must leave (it may still be being written).
    let lines: usize = servers
        .iter()
        .flat_map(|(_, logs)| std::fs::read_dir(logs).unwrap())
        .map(|f| std::fs::read(f.unwrap().path()).unwrap())
        .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
        .sum();
    assert_eq!(expected.len(), lines, "one record per input line");

    let prefix = common::unique_name("pipeline");
    for (source, logs) in &servers {
        let lsn = dir.path().join(format!("lsn-{source}"));
        ship_server(&brokers, &prefix, source, logs, &lsn);
    }
    let topics = topics(&brokers, &prefix);
    assert_eq!(
        topics,
        ["access", "default", "error"].map(|c| format!("{prefix}.{c}")),
    );

    // MongoDB: every record once, as ls-tail made it.
    let db = prefix.replace('.', "-");
    consume(
        env!("CARGO_BIN_EXE_ls-store"),
        &brokers,
        &topics,
        &format!("{prefix}-store"),
        &["--mongo", &mongo, "--db", &db],
    );
    let logs = Client::with_uri_str(&mongo)
        .await
        .unwrap()
        .database(&db)
        .collection::<Document>("logs");
    let mut cursor = logs.find(doc! {}).await.unwrap();
    let mut stored = BTreeMap::new();
    while cursor.advance().await.unwrap() {
        let d = cursor.deserialize_current().unwrap();
        let text = |field: &str| d.get_str(field).unwrap().to_string();
        let fields = (
            d.get_datetime("timestamp").unwrap().timestamp_millis(),
            text("log_level"),
            text("source"),
            text("category"),
        );
        stored.insert(text("_id"), fields);
    }
    assert_eq!(stored.len(), expected.len(), "documents in MongoDB");
    assert!(
        stored == expected,
        "MongoDB holds exactly ls-tail's records"
    );

    // HDFS: every record once in the archive, read back by ls-recover.
    let root = format!("{hdfs}/{prefix}");
    consume(
        env!("CARGO_BIN_EXE_ls-roll"),
        &brokers,
        &topics,
        &format!("{prefix}-roll"),
        &["--out", &root],
    );
    let replay = output(Command::new(env!("CARGO_BIN_EXE_ls-recover")).args(["replay", &root]));
    let mut archived = BTreeMap::new();
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
    assert_eq!(archived.len(), expected.len(), "records in the archive");
    assert!(
        archived == expected,
        "the archive holds exactly ls-tail's records"
    );

    // Alerts, from the error topic (where each source's errors arrive in order): the burst's
    // errors cross the threshold, every CRITICAL record alerts at once with its own id, and
    // nothing else fires.
    let error_topic = [format!("{prefix}.error")];
    let watch = consume(
        env!("CARGO_BIN_EXE_ls-watch"),
        &brokers,
        &error_topic,
        &format!("{prefix}-watch"),
        &[
            "--threshold",
            "ERROR+ >100 in 1m by source",
            "--critical-at",
            "CRITICAL",
        ],
    );
    let alerts: Vec<Value> = String::from_utf8(watch.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (critical, threshold): (Vec<&Value>, Vec<&Value>) =
        alerts.iter().partition(|a| a["rule"] == "immediate");
    let alerted: BTreeSet<&str> = critical
        .iter()
        .map(|a| match a["samples"].as_array().unwrap().as_slice() {
            [id] => id.as_str().unwrap(),
            samples => panic!("a critical alert names its one record: {samples:?}"),
        })
        .collect();
    let critical_ids: BTreeSet<&str> = expected
        .iter()
        .filter(|(_, fields)| fields.1 == "CRITICAL")
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(!critical_ids.is_empty(), "the burst's FATAL line at least");
    assert_eq!(critical.len(), critical_ids.len(), "{critical:?}");
    assert_eq!(alerted, critical_ids);
    assert!(
        threshold.iter().any(|a| a["state"] == "firing"),
        "the burst crossed the threshold: {alerts:?}"
    );
    for alert in threshold {
        assert_eq!(alert["group"]["source"], "burst-1", "{alert}");
    }
}
