//! ls-recover: inspect and repair checkpoints, import the spool, replay the archive.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use logsphere::archive;
use logsphere::archive::units::parse_timeout;
use logsphere::cli::{self, CommonArgs, Shutdown};
use logsphere::kafka::args::BrokerArgs;
use logsphere::kafka::producer::{DEFAULT_MAX_IN_FLIGHT, ShipOptions, TopicTemplate};
use logsphere::record::{Category, Level, RecordWriter};
use logsphere::recover::{
    self,
    replay::{ReplayFilter, Sources},
};
use regex::Regex;

const EXAMPLES: &str = "\
Examples:
  ls-recover spool --spool /var/spool/logsphere --to hdfs://namenode:9000/logs     # from cron, every 5 minutes
  ls-recover replay hdfs://namenode:9000/logs/error/2026-11-2* | ls-watch --rules rules.json
  ls-recover replay ./archive --since 2026-11-22T10:00Z --until 2026-11-22T11:00Z --level ERROR | jq .message
  ls-recover replay ./archive --since 2026-11-22T10:00Z --until 2026-11-22T11:00Z --to-kafka --brokers kafka:9092
  ls-recover lsn show --lsn-dir /var/lib/logsphere/lsn
  ls-recover lsn verify --lsn-dir /var/lib/logsphere/lsn || echo 'some positions need attention'
  ls-recover lsn set --lsn-dir /var/lib/logsphere/lsn 3f2a...e1 --lsn 1200
  ls-recover lsn forget --lsn-dir /var/lib/logsphere/lsn --missing";

/// Inspect and repair LSN checkpoints, import the spool, replay the archive.
#[derive(Debug, Parser)]
#[command(name = "ls-recover", version, after_help = EXAMPLES)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout).
    #[arg(long, global = true, default_value = "30s", value_parser = parse_timeout)]
    hdfs_timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import the files ls-roll spooled while the archive was down; exit 1 if any are left.
    Spool {
        /// The spool directory (ls-roll's --spool).
        #[arg(long, env = "LOGSPHERE_SPOOL")]
        spool: PathBuf,
        /// The archive: hdfs://namenode:port/path, file:///dir or a directory.
        #[arg(long, value_name = "ARCHIVE")]
        to: String,
        /// List what would be imported (path and bytes) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Read archived files back as JSON-lines records on stdout (or into Kafka with --to-kafka), in time order per file.
    Replay(Box<ReplayArgs>),
    /// Inspect and repair an LSN store.
    Lsn {
        /// The LSN store directory.
        #[arg(long, env = "LOGSPHERE_LSN_DIR", global = true)]
        lsn_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: LsnCommand,
    },
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// Archive roots, category folders, files, or a wildcard in the last segment.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// Only records at or after this time (RFC 3339, a date, or an age like 15m, 2h, 7d).
    #[arg(long, value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// Only records before this time.
    #[arg(long, value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
    /// Only records at or above this level.
    #[arg(long)]
    level: Option<Level>,
    /// Only records from this source.
    #[arg(long)]
    source: Option<String>,
    /// Only records of this category.
    #[arg(long)]
    category: Option<Category>,
    /// Only records whose message matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    grep: Option<Regex>,
    /// Publish the records to Kafka as ls-ship does (topic by category, key, id and origin headers) instead of printing them; exit 1 if any is not delivered.
    #[arg(long)]
    to_kafka: bool,
    /// With --to-kafka: the topic for each record; {category} is replaced by the record's category.
    #[arg(long, default_value = "logs.{category}", value_parser = TopicTemplate::new, requires = "to_kafka")]
    topic_template: TopicTemplate,
    /// With --to-kafka: the record field used as the message key: source, id, category or an extra field.
    #[arg(long, default_value = "source", requires = "to_kafka")]
    key_field: String,
    #[command(flatten)]
    broker: BrokerArgs,
}

#[derive(Debug, Subcommand)]
enum LsnCommand {
    /// Show every tracked file: identity, line, offset, last update, path.
    Show {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check each position against its file on disk; exit 1 if any cannot be resumed.
    Verify {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compact the buffer into the LSN file (drops torn and corrupt entries).
    Compact,
    /// Move a file's position to a given line, forwards or backwards.
    Set {
        /// The file identity (see `lsn show`).
        fid: String,
        /// The last line to count as done: reading resumes at the line after it (0: from the start).
        #[arg(long)]
        lsn: u64,
        /// The file to locate the line in, when not the path the store recorded.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Stop tracking files.
    Forget {
        /// File identities to forget.
        fids: Vec<String>,
        /// Also forget every file that no longer exists at its recorded path.
        #[arg(long)]
        missing: bool,
    },
}

fn main() -> ExitCode {
    let args: Args = cli::parse();
    cli::run("ls-recover", &args.common, || match args.command {
        Command::Spool { spool, to, dry_run } => run_spool(&spool, &to, dry_run, args.hdfs_timeout),
        Command::Replay(replay) => run_replay(*replay, args.hdfs_timeout),
        Command::Lsn { lsn_dir, command } => {
            let Some(dir) = lsn_dir else {
                anyhow::bail!("no LSN store given: pass --lsn-dir DIR or set LOGSPHERE_LSN_DIR");
            };
            run_lsn(&dir, command)
        }
    })
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    cli::time::parse_time(text, Utc::now())
}

fn run_replay(args: ReplayArgs, hdfs_deadline: Duration) -> anyhow::Result<ExitCode> {
    let sources = Sources {
        names: args.sources,
        hdfs_deadline,
    };
    let filter = ReplayFilter {
        since: args.since,
        until: args.until,
        level: args.level,
        source: args.source,
        category: args.category,
        grep: args.grep,
    };
    if !args.to_kafka {
        let mut out = RecordWriter::new(std::io::stdout().lock());
        let stats = recover::replay::replay(&sources, &filter, &mut out)?;
        log::info!(
            "replayed {} of {} records from {} files ({} bad lines, {} files skipped)",
            stats.written,
            stats.records,
            stats.files,
            stats.bad_lines,
            stats.skipped_files
        );
        return Ok(ExitCode::SUCCESS);
    }
    let options = ShipOptions {
        topics: args.topic_template,
        key_field: args.key_field,
        lsn_dir: None,
        dead_letter: None,
        max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        progress: true,
    };
    let shutdown = Shutdown::install()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stats, report) = runtime.block_on(recover::replay::replay_to_kafka(
        sources,
        filter,
        &args.broker,
        options,
        &shutdown,
    ))?;
    log::info!(
        "published {} of {} replayed records to Kafka ({} read from {} files, {} bad lines, {} files skipped)",
        report.delivered,
        stats.written,
        stats.records,
        stats.files,
        stats.bad_lines,
        stats.skipped_files
    );
    if !report.all_delivered() {
        anyhow::bail!(
            "{} of {} replayed records could not be delivered to Kafka",
            report.failed,
            report.sent
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_spool(
    spool: &std::path::Path,
    to: &str,
    dry_run: bool,
    hdfs_deadline: Duration,
) -> anyhow::Result<ExitCode> {
    if !spool.is_dir() {
        anyhow::bail!("no spool at {}: check --spool", spool.display());
    }
    let spool_target = archive::open_target(&spool.to_string_lossy())?;
    if dry_run {
        let files = recover::spool::dry_run(spool_target.as_ref(), &mut std::io::stdout().lock())?;
        log::info!("{files} file(s) would be imported");
        return Ok(ExitCode::SUCCESS);
    }
    let archive = archive::open_target_with_deadline(to, hdfs_deadline)?;
    let summary = recover::spool::import_all(spool_target.as_ref(), archive.as_ref())?;
    eprintln!(
        "ls-recover: imported {} file(s), {} bytes into {} ({} under a new serial, {} already there), {} left in the spool",
        summary.imported,
        summary.bytes,
        archive.describe(),
        summary.renamed,
        summary.already_there,
        summary.left.len()
    );
    for (path, why) in &summary.left {
        log::error!("left in the spool: {path}: {why}");
    }
    Ok(if summary.left.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(cli::EXIT_FAILURE)
    })
}

fn run_lsn(dir: &std::path::Path, command: LsnCommand) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match command {
        LsnCommand::Show { json } => recover::lsn::show(dir, json, &mut stdout)?,
        LsnCommand::Verify { json } => {
            let bad = recover::lsn::verify_all(dir, json, &mut stdout)?;
            if bad > 0 {
                log::error!(
                    "{bad} position(s) cannot be resumed as recorded; ls-tail will log them and read the new content from its start"
                );
                return Ok(ExitCode::from(cli::EXIT_FAILURE));
            }
        }
        LsnCommand::Compact => {
            recover::lsn::compact(dir)?;
            log::info!("compacted {}", dir.display());
        }
        LsnCommand::Set { fid, lsn, file } => {
            let position = recover::lsn::set(dir, &fid, lsn, file.as_deref())?;
            writeln!(stdout, "{}", serde_json::to_string(&position)?)?;
        }
        LsnCommand::Forget { fids, missing } => {
            if fids.is_empty() && !missing {
                anyhow::bail!("name the file identities to forget, or pass --missing");
            }
            for fid in recover::lsn::forget(dir, &fids, missing)? {
                writeln!(stdout, "{fid}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
