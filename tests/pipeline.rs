//! The six tools as one platform, end to end over the real services: simulated servers' logs
//! (the loghub samples and a burst of errors) go `ls-tail | ls-ship` into Kafka topics by
//! category; ls-store, ls-roll (to HDFS) and ls-watch consume them in consumer groups; ls-recover
//! replays the archive. Every input line must be in MongoDB exactly once and in the HDFS archive
//! exactly once, as the same record ls-tail made of it, and exactly the expected alerts fire.

mod common;
#[path = "common/loghub.rs"]
mod loghub;
#[path = "common/pipeline.rs"]
mod pipeline;

use std::path::Path;
use std::process::{Command, Stdio};

use common::private::KillOnDrop;
use pipeline::{Fields, TAIL_FLAGS, consume, output};

/// The servers: their sources and the loghub systems each one logs.
const SERVERS: [(&str, &[&str]); 3] = [
    ("web-1", &["Apache", "OpenSSH", "Linux"]),
    ("data-1", &["HDFS", "Hadoop", "Spark"]),
    ("coord-1", &["Zookeeper"]),
];

/// The errors a burst server writes within one minute: more than the threshold of 100.
const BURST_ERRORS: usize = 150;

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
    let expected = pipeline::reference(&servers, dir.path());
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
    let topics = common::kafka::topics_named(&brokers, &format!("{prefix}."));
    assert_eq!(
        topics,
        ["access", "default", "error"].map(|c| format!("{prefix}.{c}")),
    );

    // MongoDB, and the HDFS archive read back by ls-recover: every record once, as ls-tail
    // made it, under the id ls-tail gave it.
    let db = prefix.replace('.', "-");
    consume(
        env!("CARGO_BIN_EXE_ls-store"),
        &brokers,
        &topics,
        &format!("{prefix}-store"),
        &["--mongo", &mongo, "--db", &db],
    );
    let root = format!("{hdfs}/{prefix}");
    consume(
        env!("CARGO_BIN_EXE_ls-roll"),
        &brokers,
        &topics,
        &format!("{prefix}-roll"),
        &["--out", &root],
    );
    let stored = pipeline::stored(&mongo, &db).await;
    let archived = pipeline::archived(&[&root]);
    pipeline::assert_exactly_once(
        &expected.values().cloned().collect::<Vec<Fields>>(),
        &stored,
        &archived,
    );
    assert!(
        stored.keys().eq(expected.keys()),
        "MongoDB holds ls-tail's ids"
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
            pipeline::THRESHOLD,
            "--critical-at",
            "CRITICAL",
        ],
    );
    let alerts = pipeline::parse_alerts(&String::from_utf8(watch.stdout).unwrap());
    let critical = pipeline::critical_alerts(&alerts);
    let critical_ids = pipeline::critical_ids(&expected);
    assert!(!critical_ids.is_empty(), "the burst's FATAL line at least");
    assert!(
        critical.values().all(|&n| n == 1),
        "one alert per critical record: {critical:?}"
    );
    assert!(critical.keys().eq(critical_ids.iter()), "{critical:?}");
    let firings = pipeline::threshold_firings(&alerts);
    assert!(
        !firings.is_empty(),
        "the burst crossed the threshold: {alerts:?}"
    );
    assert!(firings.iter().all(|s| s == "burst-1"), "{alerts:?}");
}
