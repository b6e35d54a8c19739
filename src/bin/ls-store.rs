//! ls-store: stores records in MongoDB (the default mode, reading JSON lines from stdin or a
//! Kafka consumer group) and queries them back (`ls-store query`).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand};
use logsphere::cli::{self, CommonArgs, Shutdown};
use logsphere::input::InputArgs;
use logsphere::kafka::args::BrokerArgs;
use logsphere::mongo::Target;
use logsphere::mongo::indexes::{self, IndexPlan};
use logsphere::mongo::ingest::{self, IngestOptions};
use logsphere::mongo::query::{self, Output, Query, StatsBy};
use logsphere::mongo::resume;
use logsphere::mongo::writer::{Store, WriterOptions};
use logsphere::record::Level;
use mongodb::options::Acknowledgment;

const EXAMPLES: &str = "\
Examples:
  ls-tail --lsn-dir /var/lib/logsphere/lsn /var/log/app | ls-store --lsn-dir /var/lib/logsphere/lsn
  ls-store --brokers kafka:9092 --topic logs.error,logs.app --group ls-store -X group.instance.id=store-1
  ls-store query --since 15m --level ERROR+ --source web-1 --table";

const GUARANTEE: &str = "\
Exactly once: each record id is stored at most once (it is the document's _id; a duplicate-key
result counts as already stored), and nothing moves past a record (Kafka offsets, the LSN store
with --lsn-dir) before MongoDB acknowledged it with the write concern (majority by default). A
crash, kill -9 or an outage only makes records be read and written again, which stores nothing
twice. Records at or above --critical-level are written in multi-document transactions; with
--group, each batch's offsets go into the collection `progress` (_id GROUP/TOPIC/PARTITION, the
next offset to read) in the same transaction, once every earlier batch is stored, and are
committed to Kafka after it. A partition resumes at that stored progress when it is ahead of the
group's committed offset, so the critical records of every committed transaction are never read
again. After a kill -9, give members static membership (-X group.instance.id=NAME) so that a
restart gets its partitions at once; transactions a killed ls-store left open in MongoDB are
aborted when ls-store starts and at each partition assignment. MongoDB down or failing over: ls-store waits and
retries with backoff, reading stops (backpressure) and nothing advances; nothing is dropped. A
document MongoDB refuses for good goes to --dead-letter FILE with the reason (without it,
ls-store stops with exit 1). With --time-series, MongoDB does not enforce unique ids: at least
once.";

/// Stores log records in MongoDB, exactly once, and queries them for incident investigation.
///
/// Without a subcommand, reads JSON-line records from stdin (or from Kafka with --topic) and
/// stores them.
#[derive(Parser)]
#[command(name = "ls-store", version, after_help = EXAMPLES, after_long_help = GUARANTEE)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Prints stored records (JSON lines, oldest first), their count, or counts per level,
    /// source or minute.
    Query(QueryArgs),
}

#[derive(Args)]
struct ConnectArgs {
    /// MongoDB connection string; credentials in it are never printed.
    #[arg(
        long = "mongo",
        value_name = "URI",
        env = "LOGSPHERE_MONGO_URI",
        hide_env_values = true,
        global = true
    )]
    uri: Option<String>,
    /// Read the connection string from this file (keeps credentials out of argv).
    #[arg(long, value_name = "FILE", conflicts_with = "uri", global = true)]
    mongo_uri_file: Option<PathBuf>,
    /// Database.
    #[arg(long, default_value = "logsphere", global = true)]
    db: String,
    /// Collection of the records.
    #[arg(long, default_value = "logs", global = true)]
    collection: String,
}

impl ConnectArgs {
    fn target(&self) -> Result<Target> {
        let uri = match (&self.uri, &self.mongo_uri_file) {
            (_, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the MongoDB URI from {}", file.display()))?
                .trim()
                .to_string(),
            (Some(uri), None) => uri.clone(),
            (None, None) => bail!(
                "no MongoDB to talk to: give --mongo URI, set LOGSPHERE_MONGO_URI, or give --mongo-uri-file FILE"
            ),
        };
        Ok(Target {
            uri,
            db: self.db.clone(),
            collection: self.collection.clone(),
        })
    }
}

#[derive(Args)]
struct StoreArgs {
    /// Records at this level and above are written in transactions with the consumer's progress.
    #[arg(long, default_value = "ERROR", value_name = "LEVEL")]
    critical_level: Level,
    /// Write concern: `majority`, or a number of members.
    #[arg(long, default_value = "majority", value_parser = parse_write_concern)]
    write_concern: Acknowledgment,
    /// Append documents MongoDB refuses for good here, one JSON line each with the reason.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Advance this LSN store after each commit (for `ls-tail | ls-store`).
    #[arg(long, value_name = "DIR")]
    lsn_dir: Option<PathBuf>,
    /// Delete records older than this (a TTL index on timestamp): 30d, 12h, 2w.
    #[arg(long, value_name = "DURATION", value_parser = logsphere::cli::time::parse_duration)]
    retain: Option<Duration>,
    /// Create the collection as a time-series collection (MongoDB 5.0+) if it does not exist.
    #[arg(long)]
    time_series: bool,
    /// Documents per bulk write.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Bulk writes in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    in_flight: u32,
    /// Longest wait, in milliseconds, for a batch to fill before writing it.
    #[arg(long, default_value_t = 200)]
    linger_ms: u64,
}

#[derive(Args)]
struct QueryArgs {
    /// Only records at or after this time: a duration back from now (15m, 2h) or a time
    /// (2026-11-22T10:00Z, RFC 3339).
    #[arg(long, value_parser = parse_time)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only records before this time (same forms as --since).
    #[arg(long, value_parser = parse_time)]
    until: Option<chrono::DateTime<chrono::Utc>>,
    /// Levels: ERROR+ (ERROR and above), ERROR (only), or WARN,ERROR.
    #[arg(long)]
    level: Option<query::Levels>,
    /// Only records from this source.
    #[arg(long)]
    source: Option<String>,
    /// Only records of this category.
    #[arg(long)]
    category: Option<String>,
    /// Only records whose message matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    grep: Option<String>,
    /// At most this many records.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Print the number of matching records.
    #[arg(long, conflicts_with = "stats_by")]
    count: bool,
    /// Print the number of matching records per level, source or minute.
    #[arg(long, value_enum)]
    stats_by: Option<StatsBy>,
    /// Print a compact table instead of JSON lines.
    #[arg(long)]
    table: bool,
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    logsphere::cli::time::parse_time(text, chrono::Utc::now())
}

fn parse_write_concern(text: &str) -> Result<Acknowledgment, String> {
    match text {
        "majority" => Ok(Acknowledgment::Majority),
        n => n
            .parse::<u32>()
            .map(Acknowledgment::Nodes)
            .map_err(|_| format!("{n:?} is neither `majority` nor a number of members")),
    }
}

fn main() -> ExitCode {
    let cli: Cli = logsphere::cli::parse();
    if let Err(message) = cli.input.validate() {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    cli::run("ls-store", &cli.common, || {
        let target = cli.connect.target()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        match cli.command {
            Some(Command::Query(args)) => runtime.block_on(run_query(&target, args)),
            None => runtime.block_on(run_store(&target, cli.store, &cli.input, &cli.broker)),
        }
    })
}

async fn run_store(
    target: &Target,
    args: StoreArgs,
    input: &InputArgs,
    broker: &BrokerArgs,
) -> Result<ExitCode> {
    let shutdown = Shutdown::install().context("cannot install the signal handlers")?;
    let writer_options = WriterOptions {
        write_concern: args.write_concern,
        dead_letter: args.dead_letter,
    };
    let store = Store::open(target, &writer_options).await?;
    let plan = IndexPlan {
        retain: args.retain,
        time_series: args.time_series,
    };
    indexes::ensure(&store.logs(), &plan).await?;
    if let Err(e) = store.abort_abandoned_transactions().await {
        log::warn!(
            "cannot abort the transactions other writers left open ({e:#}): MongoDB ends them after its transaction lifetime limit"
        );
    }
    let options = IngestOptions {
        batch_docs: args.batch as usize,
        in_flight: args.in_flight as usize,
        linger: Duration::from_millis(args.linger_ms),
        critical_level: args.critical_level,
        lsn_dir: args.lsn_dir,
        group: input.group.clone(),
    };
    let source = resume::open_input(&store, input, broker)?;
    let stats = ingest::run(store, source, options, shutdown).await?;
    log::info!(
        "read {} records ({} bad records skipped): {} stored, {} already stored, {} dead-lettered, into {}",
        stats.records,
        stats.bad_records,
        stats.stored.inserted,
        stats.stored.duplicates,
        stats.stored.rejected,
        target.display()
    );
    if stats.bad_records > 0 {
        log::warn!(
            "skipped {} input lines or messages that were not records",
            stats.bad_records
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_query(target: &Target, args: QueryArgs) -> Result<ExitCode> {
    if let Some(pattern) = &args.grep
        && let Err(e) = query::check_regex(pattern)
    {
        eprintln!("ls-store: error: {e}");
        return Ok(ExitCode::from(cli::EXIT_USAGE));
    }
    let query = Query {
        since: args.since,
        until: args.until,
        levels: args.level.map(|l| l.0),
        source: args.source,
        category: args.category,
        grep: args.grep,
        limit: args.limit,
    };
    let output = match (args.count, args.stats_by) {
        (true, _) => Output::Count,
        (false, Some(by)) => Output::Stats(by),
        (false, None) => Output::Records,
    };
    let client = target.client().await?;
    let coll = client
        .database(&target.db)
        .collection::<mongodb::bson::Document>(&target.collection);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    query::print(&coll, &query, output, args.table, &mut out).await?;
    Ok(ExitCode::SUCCESS)
}
