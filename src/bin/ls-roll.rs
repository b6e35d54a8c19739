//! ls-roll: archive records into rolling files in HDFS or a local directory, spooling locally
//! while HDFS is down.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use logsphere::archive::units::{parse_duration, parse_size, parse_timeout, parse_zone};
use logsphere::archive::{self, Alerts, Format, RollConfig, Roller, RouteBy, Spool};
use logsphere::cli::{self, CommonArgs, Shutdown};
use logsphere::input::{Input, InputArgs};
use logsphere::kafka::args::BrokerArgs;
use logsphere::lsn::LsnStore;

const EXAMPLES: &str = "\
Examples:
  ls-tail /var/log/app | ls-roll --out ./archive
  ls-roll --out hdfs://namenode:8020/logs --brokers kafka:9092 --topic logs --group ls-roll
  ls-roll --out hdfs://namenode:8020/logs --spool /var/spool/ls-roll --gzip --lsn-dir /var/lib/logsphere/lsn
  ls-roll --out file:///srv/archive --max-size 64MiB --roll-every 1h --tz Europe/Paris";

/// Archive records into <root>/<category>/<YYYY-MM-DD>.<serial>[.ext] files, in HDFS or a local
/// directory, rolling by size and by time; spool locally while HDFS is down.
#[derive(Debug, Parser)]
#[command(name = "ls-roll", version, after_help = EXAMPLES)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    broker: BrokerArgs,

    /// Where the archive goes: hdfs://namenode:port/path, file:///dir or a directory.
    #[arg(long)]
    out: String,

    /// Size trigger: close a file once it holds this many bytes.
    #[arg(long, default_value = "128MiB", value_parser = parse_size)]
    max_size: u64,

    /// Zone of the dates in file names and of the day boundary.
    #[arg(long, default_value = "UTC", value_parser = parse_zone)]
    tz: chrono_tz::Tz,

    /// Also roll every file that has been open this long (e.g. 1h).
    #[arg(long, value_parser = parse_duration)]
    roll_every: Option<chrono::Duration>,

    /// What a line of an archive file holds.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,

    /// Compress each file as one gzip member (.gz).
    #[arg(long)]
    gzip: bool,

    /// Sync (fsync / hsync) written records at least this often.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    sync_interval: chrono::Duration,

    /// Date records by their timestamp (event) or by when they arrive (arrival).
    #[arg(long, value_enum, default_value_t = RouteBy::Event)]
    by: RouteBy,

    /// Local directory that takes the records while the archive fails; import it with
    /// `ls-recover spool`.
    #[arg(long)]
    spool: Option<PathBuf>,

    /// How often to try the archive again while spooling.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    probe_every: chrono::Duration,

    /// Append alert lines (JSON) to this file instead of stderr.
    #[arg(long)]
    alerts: Option<PathBuf>,

    /// Give up on an HDFS call (write, hsync, create, rename...) after this long and treat it as
    /// an outage: the records go to the spool.
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    hdfs_timeout: std::time::Duration,

    /// Close files that received nothing for this long (frees HDFS leases).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    idle_close: chrono::Duration,

    /// LSN store to advance, for records read from tailed files, once they are synced.
    #[arg(long, env = "LOGSPHERE_LSN_DIR")]
    lsn_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Args = cli::parse();
    if let Err(message) = args.input.validate() {
        Args::command()
            .error(ErrorKind::ArgumentConflict, message)
            .exit();
    }
    cli::run("ls-roll", &args.common, || {
        let shutdown = Shutdown::install().context("cannot install the signal handlers")?;
        let config = RollConfig {
            max_size: args.max_size,
            tz: args.tz,
            roll_every: args.roll_every,
            format: args.format,
            gzip: args.gzip,
            sync_interval: args.sync_interval,
            by: args.by,
            idle_close: Some(args.idle_close),
        };
        let target = archive::open_target_with_deadline(&args.out, args.hdfs_timeout)?;
        let spool = match &args.spool {
            Some(dir) => Some(Spool::new(
                archive::open_target(&dir.to_string_lossy())?,
                Alerts {
                    file: args.alerts.clone(),
                },
                args.probe_every,
            )),
            None => None,
        };
        let lsn = match &args.lsn_dir {
            Some(dir) => Some(LsnStore::open(dir)?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let input = runtime.block_on(async { Input::open(&args.input, &args.broker) })?;
        let roller = Roller::open(config, target, spool, chrono::Utc::now())?;
        let (stats, bad) = archive::stream::roll_stream(&runtime, input, roller, lsn, &shutdown)?;
        log::info!(
            "{} records in {} files ({} duplicates dropped, {} files recovered, {bad} bad records)",
            stats.records,
            stats.files,
            stats.duplicates,
            stats.recovered
        );
        if bad > 0 {
            log::warn!("skipped {bad} input lines that were not records");
        }
        Ok(ExitCode::SUCCESS)
    })
}
