//! The loghub sample corpus: real logs of seven systems with ground-truth CSVs, from
//! https://github.com/logpai/loghub (Zhu et al., "Loghub: A Large Collection of System Log
//! Datasets for AI-driven Log Analytics", ISSRE 2023; free for research and academic work, see
//! the LICENSE file next to the samples). The samples are read in place, never copied into the
//! repository.
//!
//! Shared by the accuracy test and the parse benchmark. The corpus root (the directory holding
//! `loghub/`) is `$LOGSPHERE_CORPUS`, else `../shared/corpus` next to the crate.
#![allow(dead_code)]

use std::path::PathBuf;

/// The seven systems, each in `loghub/<name>/<name>_2k.log` (+ `_structured.csv`).
pub const SYSTEMS: [&str; 7] = [
    "Apache",
    "HDFS",
    "Hadoop",
    "Linux",
    "OpenSSH",
    "Spark",
    "Zookeeper",
];

/// The `loghub` directory, or `None` (after saying so) when it is missing outside CI. Under
/// `CI=true` a missing corpus is a failure: the accuracy bar must never pass unmeasured.
pub fn dir() -> Option<PathBuf> {
    let root = std::env::var_os("LOGSPHERE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let dir = root.join("loghub");
    if dir.join("LICENSE").is_file() {
        return Some(dir);
    }
    let msg = format!(
        "the loghub corpus is not at {}: set LOGSPHERE_CORPUS to the directory holding loghub/",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// The log sample of `system`.
pub fn log_path(dir: &std::path::Path, system: &str) -> PathBuf {
    dir.join(system).join(format!("{system}_2k.log"))
}

/// The ground-truth CSV of `system`.
pub fn csv_path(dir: &std::path::Path, system: &str) -> PathBuf {
    dir.join(system)
        .join(format!("{system}_2k.log_structured.csv"))
}
