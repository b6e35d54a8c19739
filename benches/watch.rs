//! ls-watch throughput: records/s from a 1M-record JSON-lines file through 10 threshold rules
//! plus the critical rule, reading and evaluating on one thread (one core), as a backtest does.
//!
//! Run: `cargo bench --bench watch`. Prints the reader alone and reader + rules, per second of
//! this thread's own CPU time (`/proc/thread-self/schedstat`: what "one core" means, unaffected
//! by other processes competing for the cores) and per wall-clock second.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use logsphere::record::{Category, Level, Record, RecordReader, RecordWriter};
use logsphere::rules::{
    Engine, EngineOptions, RuleSet, TimeMode, critical_at, rules_from_json, threshold_flag,
};

const RECORDS: u64 = 1_000_000;
const RUNS: usize = 3;

fn generate(path: &std::path::Path) {
    let mut writer = RecordWriter::new(BufWriter::new(File::create(path).unwrap()));
    let start = DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let categories: Vec<Category> = ["web", "db", "auth", "queue", "cache"]
        .iter()
        .map(|c| Category::new(c).unwrap())
        .collect();
    for i in 0..RECORDS {
        // A cheap deterministic scramble for the level mix: 10% ERROR, 10% WARN, 1 in 100 000
        // CRITICAL, the rest INFO.
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        let level = match h % 100_000 {
            0 => Level::Critical,
            n if n % 10 == 1 => Level::Error,
            n if n % 10 == 2 => Level::Warn,
            _ => Level::Info,
        };
        let record = Record {
            timestamp: start + chrono::Duration::microseconds(i as i64 * 500),
            log_level: level,
            message: format!(
                "GET /api/v1/items/{} completed in {} ms for user {}",
                h % 10_000,
                h % 700,
                h % 977
            ),
            source: format!("web-{:02}", h % 50),
            category: categories[(h % 5) as usize].clone(),
            id: logsphere::record::line_id("bench", i),
            origin: None,
            extra: serde_json::Map::new(),
        };
        writer.write(&record).unwrap();
    }
    writer.flush().unwrap();
}

fn rules() -> RuleSet {
    let mut rules: RuleSet = [
        "ERROR+ >100 in 1m",
        "ERROR+ >100 in 1m by source",
        "WARN+ >500 in 1m by source",
        "ERROR >50 in 10s tumbling by category",
        "WARN >2000 in 5m by source,category",
        "ERROR+ >20 in 10s category=db by source",
        "* >200000 in 1m",
        "INFO >5000 in 1m tumbling by category",
        "ERROR+ >10 in 1s source=web-07",
    ]
    .iter()
    .map(|spec| threshold_flag(spec, None).unwrap())
    .collect();
    rules.extend(
        rules_from_json(
            r#"{"rules": [{"name": "slow", "type": "threshold", "level": "WARN+",
                "message": "in 6[0-9]{2} ms", "more_than": 100, "window": "1m", "by": "source"}]}"#,
            None,
        )
        .unwrap(),
    );
    rules.push(critical_at(Level::Critical, None));
    assert_eq!(rules.len(), 11);
    rules
}

/// CPU time this thread has run, from the scheduler's statistics.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    Duration::from_nanos(stat.split_whitespace().next().unwrap().parse().unwrap())
}

/// Reads the file, optionally through the rules; returns (records, alerts, CPU time, wall time).
fn pass(path: &std::path::Path, with_rules: bool) -> (u64, usize, Duration, Duration) {
    let started = Instant::now();
    let cpu_started = thread_cpu();
    let mut reader = RecordReader::new(BufReader::with_capacity(
        256 * 1024,
        File::open(path).unwrap(),
    ));
    let mut engine = Engine::new(
        if with_rules { rules() } else { Vec::new() },
        EngineOptions {
            mode: TimeMode::Event {
                allowance: Duration::from_secs(5),
            },
            idle_close: false,
        },
    );
    let mut alerts = Vec::new();
    let mut alert_count = 0;
    let mut records = 0;
    while let Some(item) = reader.next_record().unwrap() {
        let record = item.unwrap();
        records += 1;
        if with_rules {
            engine.feed(&record, 0, &mut alerts);
            alert_count += alerts.len();
            alerts.clear();
        }
    }
    engine.finish(&mut alerts);
    (
        records,
        alert_count + alerts.len(),
        thread_cpu() - cpu_started,
        started.elapsed(),
    )
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.jsonl");
    generate(&path);
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "watch: {RECORDS} records, {:.1} MB, {:.0} bytes/record",
        size as f64 / 1e6,
        size as f64 / RECORDS as f64
    );
    for (label, with_rules) in [("reader only", false), ("reader + 11 rules", true)] {
        let best = (0..RUNS)
            .map(|_| pass(&path, with_rules))
            .min_by_key(|r| r.2)
            .unwrap();
        assert_eq!(best.0, RECORDS);
        println!(
            "watch: {label}: {:.2} M records/s per CPU second ({:.3} s CPU, {:.2} M/s wall), {} alerts, best of {RUNS}",
            best.0 as f64 / best.2.as_secs_f64() / 1e6,
            best.2.as_secs_f64(),
            best.0 as f64 / best.3.as_secs_f64() / 1e6,
            best.1
        );
    }
}
