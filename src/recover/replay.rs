//! `ls-recover replay`: archived files (local or HDFS, plain or gzip, spool files too) back into
//! JSON-lines records, filtered, in time order per file — to backtest alert rules
//! (`| ls-watch`) or answer questions during an incident (`| jq`).
//!
//! A SOURCE is an archive root, a category folder, one file, or a wildcard in the last path
//! segment (`hdfs://nn:9000/logs/error/2026-11-2*`). Files whose names are not archive files
//! (including in-progress `_` and `.` files) are skipped. Only JSON-lines archives (`.jsonl`,
//! `.jsonl.gz`) hold whole records; `--format raw` archives hold messages only and are skipped
//! with a warning.
//!
//! `--to-kafka` re-publishes the records instead, through ls-ship's own shipping loop
//! ([`replay_to_kafka`]).

use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use regex::Regex;

use crate::archive::naming::{Entry, relative_path};
use crate::archive::target::{Target, open_target_with_deadline};
use crate::cli::Shutdown;
use crate::cli::diag::BadInputReporter;
use crate::input::Input;
use crate::kafka::args::BrokerArgs;
use crate::kafka::producer::{ShipOptions, ShipReport, ship};
use crate::record::{Category, Level, Record, RecordLine, RecordReader, RecordWriter};
use crate::tail::glob::{Glob, is_pattern};

/// Which records come out.
#[derive(Debug, Clone, Default)]
pub struct ReplayFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// At or above this level.
    pub level: Option<Level>,
    pub source: Option<String>,
    pub category: Option<Category>,
    pub grep: Option<Regex>,
}

impl ReplayFilter {
    pub fn matches(&self, record: &Record) -> bool {
        self.since.is_none_or(|t| record.timestamp >= t)
            && self.until.is_none_or(|t| record.timestamp < t)
            && self.level.is_none_or(|l| record.log_level >= l)
            && self.source.as_ref().is_none_or(|s| &record.source == s)
            && self.category.as_ref().is_none_or(|c| &record.category == c)
            && self
                .grep
                .as_ref()
                .is_none_or(|re| re.is_match(&record.message))
    }
}

/// What a replay read and wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayStats {
    pub files: u64,
    pub records: u64,
    pub written: u64,
    pub bad_lines: u64,
    pub skipped_files: u64,
}

/// What to replay: the SOURCE arguments, and how long an HDFS call may take (`--hdfs-timeout`).
#[derive(Debug, Clone)]
pub struct Sources {
    pub names: Vec<String>,
    pub hdfs_deadline: Duration,
}

/// Opens a location to read from: unlike a writer, a reader never creates a missing directory.
fn open_for_reading(location: &str, hdfs_deadline: Duration) -> Result<Box<dyn Target>> {
    if !location.contains("://") {
        let path = Path::new(location);
        if !path.exists() {
            anyhow::bail!("{location}: no such file or directory");
        }
        if !path.is_dir() {
            anyhow::bail!(
                "{location} is not an archive file (named YYYY-MM-DD.SERIAL.jsonl, maybe .gz) \
                 nor a directory of them"
            );
        }
    }
    open_target_with_deadline(location, hdfs_deadline)
}

/// The archive files one SOURCE names: the target holding them and their paths under it.
pub fn resolve(source: &str, hdfs_deadline: Duration) -> Result<(Box<dyn Target>, Vec<String>)> {
    let trimmed = source.trim_end_matches('/');
    let (parent, last) = match trimmed.rsplit_once('/') {
        Some((parent, last)) if !parent.ends_with('/') && !parent.is_empty() => (parent, last),
        _ => (trimmed, ""),
    };
    if is_pattern(last) {
        let glob = Glob::new(last)?;
        let target = open_for_reading(parent, hdfs_deadline)?;
        let mut files = Vec::new();
        for name in target.list("")?.into_iter().filter(|n| glob.matches(n)) {
            files.extend(files_under(target.as_ref(), &name)?);
        }
        return Ok((target, files));
    }
    if matches!(Entry::parse(last), Some(Entry::Final(_))) {
        let target = open_for_reading(parent, hdfs_deadline)?;
        return Ok((target, vec![last.to_string()]));
    }
    let target = open_for_reading(trimmed, hdfs_deadline)?;
    let files = files_under(target.as_ref(), "")?;
    Ok((target, files))
}

/// `name` itself if it is a final archive file; else, as a folder, its final archive files and
/// those of its category sub-folders.
fn files_under(target: &dyn Target, name: &str) -> Result<Vec<String>> {
    let last = name.rsplit('/').next().unwrap_or(name);
    if matches!(Entry::parse(last), Some(Entry::Final(_))) {
        return Ok(vec![name.to_string()]);
    }
    let mut files = Vec::new();
    let mut entries = target.list(name)?;
    entries.sort();
    for entry in entries {
        let path = if name.is_empty() {
            entry.clone()
        } else {
            relative_path(name, &entry)
        };
        match Entry::parse(&entry) {
            Some(Entry::Final(_)) => files.push(path),
            Some(_) => {}
            // One level of category folders below a root.
            None if name.is_empty() && Category::new(&entry).is_ok() => {
                files.extend(files_under(target, &path)?);
            }
            None => {}
        }
    }
    Ok(files)
}

/// Replays every SOURCE into `out`.
pub fn replay<W: Write>(
    sources: &Sources,
    filter: &ReplayFilter,
    out: &mut RecordWriter<W>,
) -> Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    replay_each(
        sources,
        filter,
        &mut stats,
        |record| Ok(out.write(&record)?),
    )?;
    out.flush()?;
    Ok(stats)
}

/// Replays every SOURCE, handing each record that passes the filter to `emit`; an error from
/// `emit` ends the replay. `stats` counts what was done, also when an error ends it.
pub fn replay_each(
    sources: &Sources,
    filter: &ReplayFilter,
    stats: &mut ReplayStats,
    mut emit: impl FnMut(Record) -> Result<()>,
) -> Result<()> {
    let mut reporter = BadInputReporter::default();
    let result = sources.names.iter().try_for_each(|source| {
        let (target, files) = resolve(source, sources.hdfs_deadline)
            .with_context(|| format!("cannot read {source}"))?;
        if files.is_empty() {
            log::warn!("{source}: no archive files there");
        }
        for path in files {
            if !(path.ends_with(".jsonl") || path.ends_with(".jsonl.gz")) {
                log::warn!("{path}: not a JSON-lines archive (raw messages only); skipped");
                stats.skipped_files += 1;
                continue;
            }
            let bytes = target
                .read(&path)
                .with_context(|| format!("cannot read {path} in {}", target.describe()))?;
            let mut records =
                read_records(&bytes, path.ends_with(".gz"), &path, &mut reporter, stats)?;
            // Time order within a file; records of equal time keep their archive order.
            records.sort_by_key(|r| r.timestamp);
            for record in records.into_iter().filter(|r| filter.matches(r)) {
                emit(record)?;
                stats.written += 1;
            }
            stats.files += 1;
        }
        Ok(())
    });
    stats.bad_lines = reporter.count();
    result
}

/// Replays every SOURCE into Kafka through ls-ship's shipping loop ([`ship`]): the same topics,
/// keys and headers as ls-ship gives them. Everything handed to the producer is drained before
/// this returns, also when the replay fails half-way or a stop is asked for.
pub async fn replay_to_kafka(
    sources: Sources,
    filter: ReplayFilter,
    broker: &BrokerArgs,
    options: ShipOptions,
    shutdown: &Shutdown,
) -> Result<(ReplayStats, ShipReport)> {
    let (sender, mut input) = Input::channel();
    // The archive is read on a thread of its own: the HDFS client blocks, the shipping loop is
    // async.
    let replaying = std::thread::spawn(move || {
        let mut stats = ReplayStats::default();
        let result = replay_each(&sources, &filter, &mut stats, |record| {
            sender
                .blocking_send(RecordLine::from(&record))
                .map_err(|_| anyhow!("the Kafka output stopped"))
        });
        (stats, result)
    });
    let shipped = ship(&mut input, broker, options, shutdown).await;
    // Unblocks a replay still sending after the shipping loop stopped.
    drop(input);
    let (stats, replayed) = replaying
        .join()
        .map_err(|_| anyhow!("the replay thread failed"))?;
    let report = shipped?;
    match replayed {
        Err(_) if shutdown.requested() => {
            log::warn!(
                "stopped before the end of the replay: {} records published",
                report.delivered
            );
        }
        Err(e) => {
            log::warn!(
                "{} records were published before the replay failed",
                report.delivered
            );
            return Err(e);
        }
        Ok(()) => {}
    }
    Ok((stats, report))
}

fn read_records(
    bytes: &[u8],
    gzip: bool,
    path: &str,
    reporter: &mut BadInputReporter,
    stats: &mut ReplayStats,
) -> Result<Vec<Record>> {
    let input: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let mut reader = RecordReader::new(BufReader::new(input));
    let mut records = Vec::new();
    while let Some(item) = reader
        .next_record()
        .with_context(|| format!("cannot decompress {path}"))?
    {
        match item {
            Ok(record) => {
                stats.records += 1;
                records.push(record);
            }
            Err(bad) => reporter.report(&format_args!("{path}: {bad}")),
        }
    }
    Ok(records)
}
