//! ls-watch as a program: default rules over a file, --tee, idle-input closing on a live pipe,
//! --exec with hostile log contents, usage errors, SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ls-watch");

fn record(ts: &str, level: &str, source: &str, message: &str) -> String {
    json!({"timestamp": ts, "log_level": level, "message": message, "source": source}).to_string()
}

/// Runs ls-watch with `args` over `input` written to a file (so a backtest by default).
fn run_over_file(args: &[&str], input: &str) -> (Vec<Value>, String, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, input).unwrap();
    let output = Command::new(BIN)
        .args(args)
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let values = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        values,
        String::from_utf8(output.stderr).unwrap(),
        output.status.code(),
    )
}

fn errors(n: usize, source: &str) -> String {
    (0..n)
        .map(|i| {
            let ts = format!("2026-11-22T10:00:{:02}.{:03}Z", i * 59 / n.max(1), i % 1000);
            record(&ts, "ERROR", source, "failed") + "\n"
        })
        .collect()
}

#[test]
fn default_rules_fire_on_101_errors_and_critical_records_but_not_on_100() {
    let (alerts, _, code) = run_over_file(&[], &errors(100, "web"));
    assert_eq!(code, Some(0));
    assert!(alerts.is_empty(), "{alerts:?}");

    let mut input = errors(101, "web");
    input.push_str("not json\n");
    input.push_str(&record(
        "2026-11-22T10:00:59.500Z",
        "FATAL",
        "db",
        "disk gone",
    ));
    input.push('\n');
    let (alerts, stderr, code) = run_over_file(&[], &input);
    assert_eq!(code, Some(0));
    assert!(stderr.contains("input line 102"), "{stderr}");
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["errors", "critical"]);
    assert_eq!(alerts[0]["count"], 101);
    assert_eq!(alerts[0]["threshold"], 100);
    assert_eq!(alerts[0]["severity"], "warning");
    assert_eq!(alerts[1]["severity"], "critical");
}

#[test]
fn lines_sent_again_are_counted_once() {
    // 60 error lines and a critical one of a tailed file, then the same lines again, as ls-ship
    // re-sends what Kafka had not acknowledged: 120 errors in a minute if the copies counted.
    let line = |lsn: usize, ts: &str, level: &str| {
        let origin =
            json!({"file": "/var/log/app.log", "fid": "f1", "lsn": lsn, "offset": lsn * 80});
        json!({"timestamp": ts, "log_level": level, "message": "failed", "source": "web",
               "origin": origin})
        .to_string()
            + "\n"
    };
    let mut sent: String = (0..60)
        .map(|i| line(i + 1, &format!("2026-11-22T10:00:{i:02}.000Z"), "ERROR"))
        .collect();
    sent.push_str(&line(61, "2026-11-22T10:00:59.500Z", "CRITICAL"));
    let input = sent.repeat(2);

    let (alerts, stderr, code) = run_over_file(&["-v", "--lateness", "2m"], &input);
    assert_eq!(code, Some(0), "{stderr}");
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["critical"], "{stderr}");
    assert!(stderr.contains("61 duplicates"), "{stderr}");
}

#[test]
fn groups_and_rules_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"rules": [{"name": "per-source", "type": "threshold", "level": "ERROR+",
            "more_than": 50, "window": "1m", "by": "source"}]}"#,
    )
    .unwrap();
    let input = errors(60, "a") + &errors(40, "b");
    let (alerts, _, _) = run_over_file(&["--rules", rules.to_str().unwrap()], &input);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["group"]["source"], "a");

    std::fs::write(&rules, r#"{"rules": [{"name": "x", "type": "sometimes"}]}"#).unwrap();
    let (_, stderr, code) = run_over_file(&["--rules", rules.to_str().unwrap()], "");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("rule 1 (\"x\")") && stderr.contains("sometimes"),
        "{stderr}"
    );
}

#[test]
fn tee_passes_records_through_and_sends_alerts_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let alerts_path = dir.path().join("alerts.jsonl");
    let input = errors(101, "web");
    let (records, _, code) = run_over_file(
        &["--tee", "--alerts", alerts_path.to_str().unwrap()],
        &input,
    );
    assert_eq!(code, Some(0));
    assert_eq!(records.len(), 101);
    assert_eq!(records[0]["message"], "failed");
    let alerts = std::fs::read_to_string(&alerts_path).unwrap();
    assert_eq!(alerts.lines().count(), 1);
}

#[test]
fn idle_pipe_closes_windows_on_the_wall_clock() {
    // Processing time, a 1 s window: three errors fire at once; with the pipe kept open and
    // silent, the recovery notice must come from the wall clock.
    let mut child = Command::new(BIN)
        .args([
            "--live",
            "--processing-time",
            "--threshold",
            "ERROR+ >2 in 1s",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    for _ in 0..3 {
        writeln!(stdin, "{}", record(&now, "ERROR", "web", "x")).unwrap();
    }
    stdin.flush().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["state"], "firing");
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(second["state"], "resolved");
    assert_eq!(second["alert"], "ERROR+ >2 in 1s");
    // Still running: stdin is open.
    assert!(child.try_wait().unwrap().is_none());
    unsafe_free_sigterm(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean stop");
    drop(stdin);
}

/// Sends SIGTERM through the `kill` command (no libc dependency in the tests).
fn unsafe_free_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn exec_gets_the_alert_on_stdin_and_nothing_from_the_log_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let received = dir.path().join("received");
    let hostile = [
        format!("$(touch {})", marker.display()),
        format!("`touch {}`", marker.display()),
        format!("'; touch {}; echo '", marker.display()),
        format!("\"\n; touch {} #\n", marker.display()),
        "$(rm -rf /)".to_string(),
    ];
    let mut input = String::new();
    for (i, message) in hostile.iter().enumerate() {
        let ts = format!("2026-11-22T10:00:0{i}Z");
        input.push_str(&record(&ts, "CRITICAL", &format!("$(id){i}"), message));
        input.push('\n');
    }
    // The command appends its stdin to a file; its argv holds only what we wrote here.
    let script = "cat >> \"$0\"; printf '\\n--\\n' >> \"$0\"";
    let (alerts, stderr, code) = run_over_file(
        &[
            "--exec-concurrency",
            "1",
            "--exec",
            "sh",
            "-c",
            script,
            received.to_str().unwrap(),
        ],
        &input,
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(alerts.len(), hostile.len());
    assert!(!marker.exists(), "a log message was executed");
    let got = std::fs::read_to_string(&received).unwrap();
    let chunks: Vec<&str> = got.split("\n--\n").filter(|c| !c.is_empty()).collect();
    assert_eq!(chunks.len(), hostile.len());
    for (chunk, alert) in chunks.iter().zip(&alerts) {
        // Exactly the alert line ls-watch printed, newline-terminated JSON, nothing more.
        let value: Value = serde_json::from_str(chunk).unwrap();
        assert_eq!(&value, alert);
        assert!(chunk.ends_with('\n') && chunk.matches('\n').count() == 1);
    }
}

#[test]
fn usage_errors_exit_2_with_the_position() {
    let output = Command::new(BIN)
        .args(["--absent", "5x by source"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("at column 1") && stderr.contains("unit"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn stats_are_written_to_stderr_as_json() {
    let mut child = Command::new(BIN)
        .args(["--live", "--stats", "200ms", "--stats-format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(errors(10, "web").as_bytes()).unwrap();
    stdin.flush().unwrap();
    let started = Instant::now();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut counted = 0;
    while counted < 10 && started.elapsed() < Duration::from_secs(20) {
        let line = lines.next().unwrap().unwrap();
        let value: Value = serde_json::from_str(&line).unwrap();
        counted += value["stats"]["levels"]["ERROR"]["count"]
            .as_u64()
            .unwrap_or(0);
        assert!(value["stats"]["sources"].is_object());
    }
    assert_eq!(counted, 10);
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

mod common;

/// Records produced into a topic raise the expected alerts from an ls-watch in a consumer group,
/// on stdout and, with --alerts-topic, in a topic too.
#[test]
fn alerts_from_a_kafka_consumer_group() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let topic = common::unique_name("watch");
    let group = common::unique_name("watch-group");
    let alerts_topic = common::unique_name("watch-alerts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lines = errors(101, "web-1")
        + &record("2026-11-22T10:00:59.900Z", "CRITICAL", "db-1", "disk gone")
        + "\n";
    let lines: Vec<&str> = lines.lines().collect();
    runtime.block_on(async {
        common::kafka::create_topic(&brokers, &topic, 1).await;
        common::kafka::produce(&brokers, &topic, 1, &lines).await;
    });
    let output = Command::new(BIN)
        .args([
            "--brokers",
            &brokers,
            "--topic",
            &topic,
            "--group",
            &group,
            "--from",
            "beginning",
            "--exit-at-end",
            "--threshold",
            "ERROR+ >100 in 1m by source",
            "--critical-at",
            "CRITICAL",
            "--alerts-topic",
            &alerts_topic,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let alerts: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ERROR+ >100 in 1m by source", "critical"],
        "{stderr}"
    );
    assert_eq!(alerts[0]["group"]["source"], "web-1");
    assert_eq!(alerts[0]["count"], 101);

    // The topic got the same alerts, each once, keyed by the alert name.
    let mut published: Vec<(String, String)> = common::kafka::read_topic(&brokers, &alerts_topic)
        .into_iter()
        .map(|m| (m.key.unwrap(), m.payload))
        .collect();
    let mut expected: Vec<(String, String)> = alerts
        .iter()
        .zip(stdout.lines())
        .map(|(alert, line)| {
            (
                alert["alert"].as_str().unwrap().to_string(),
                line.to_string(),
            )
        })
        .collect();
    published.sort();
    expected.sort();
    assert_eq!(published, expected);
}

/// An alert Kafka refuses (larger than -X message.max.bytes) still reaches stdout, is reported
/// with a count, and makes the exit status 1; the others reach the topic. Brokers that do not
/// answer at start are one clear error.
#[test]
fn undeliverable_alerts_are_counted_and_exit_1() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let topic = common::unique_name("watch-refused");
    let huge_id = "x".repeat(20_000);
    let input = [
        json!({"timestamp": "2026-11-22T10:00:00.000Z", "log_level": "FATAL", "message": "disk gone",
               "source": "db", "id": "small"}),
        // Its alert carries its id among the samples: too large for the broker.
        json!({"timestamp": "2026-11-22T10:00:01.000Z", "log_level": "CRITICAL", "message": "still gone",
               "source": "db", "id": huge_id}),
    ]
    .map(|r| r.to_string() + "\n")
    .concat();
    let args = [
        "--alerts-topic",
        &topic,
        "--brokers",
        &brokers,
        "-X",
        "message.max.bytes=10000",
    ];
    let (alerts, stderr, code) = run_over_file(&args, &input);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(alerts.len(), 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "alert \"critical\" could not be delivered to Kafka topic {topic}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "1 of 2 alerts could not be delivered to Kafka topic {topic}"
        )),
        "{stderr}"
    );
    let published = common::kafka::read_topic(&brokers, &topic);
    assert_eq!(published.len(), 1);
    assert!(published[0].payload.contains(r#""samples":["small"]"#));

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("127.0.0.1:{closed_port}");
    let (_, stderr, code) = run_over_file(
        &[
            "--alerts-topic",
            "alerts",
            "--brokers",
            &unreachable,
            "--connect-timeout",
            "1s",
        ],
        &input,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach the Kafka brokers"),
        "{stderr}"
    );
}
