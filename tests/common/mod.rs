//! Shared helpers for integration tests.
//!
//! Tests that need a real Kafka broker, MongoDB replica set or HDFS read their connection
//! settings from the environment that `scripts/services env` prints. When a setting is
//! missing they skip with a message, except under CI (`CI=true`), where they fail loudly:
//! a service test must never pass without having talked to the service.
#![allow(dead_code)]

pub mod kafka;
pub mod private;

/// Returns the value of the service variable `var`, or `None` (after saying so on stderr)
/// when it is unset outside CI. Under `CI=true` a missing variable is a test failure.
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            let msg = format!(
                "{var} is not set: start the services with `scripts/services up` and load \
                 their settings with `eval \"$(scripts/services env)\"`"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}");
            }
            eprintln!("SKIPPED: {msg}");
            None
        }
    }
}

/// Kafka bootstrap servers (`LOGSPHERE_BROKERS`).
pub fn brokers() -> Option<String> {
    service("LOGSPHERE_BROKERS")
}

/// MongoDB connection string (`LOGSPHERE_MONGO_URI`).
pub fn mongo_uri() -> Option<String> {
    service("LOGSPHERE_MONGO_URI")
}

/// HDFS NameNode URI (`LOGSPHERE_HDFS_URI`).
pub fn hdfs_uri() -> Option<String> {
    service("LOGSPHERE_HDFS_URI")
}

/// The tools: every `src/bin/ls-*.rs` (tests/docs.rs checks it), as `scripts/gen-docs` finds them.
pub const TOOLS: [&str; 6] = [
    "ls-tail",
    "ls-ship",
    "ls-store",
    "ls-watch",
    "ls-roll",
    "ls-recover",
];

/// The path of a tool's binary, built for the integration tests.
pub fn bin(tool: &str) -> &'static str {
    match tool {
        "ls-tail" => env!("CARGO_BIN_EXE_ls-tail"),
        "ls-ship" => env!("CARGO_BIN_EXE_ls-ship"),
        "ls-store" => env!("CARGO_BIN_EXE_ls-store"),
        "ls-watch" => env!("CARGO_BIN_EXE_ls-watch"),
        "ls-roll" => env!("CARGO_BIN_EXE_ls-roll"),
        "ls-recover" => env!("CARGO_BIN_EXE_ls-recover"),
        other => panic!("no tool {other}"),
    }
}

/// A name unique to this test run, for topics, databases and HDFS paths, so tests running
/// side by side against the same services never see each other's data.
pub fn unique_name(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}
