//! ls-ship: JSON-lines records from stdin into Kafka topics by category, with
//! delivery-acknowledged checkpoints; `--consume` reads a topic back as JSON lines.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, error::ErrorKind};
use logsphere::cli::{self, CommonArgs, Shutdown};
use logsphere::input::{Input, InputArgs};
use logsphere::kafka::args::BrokerArgs;
use logsphere::kafka::producer::{DEFAULT_MAX_IN_FLIGHT, ShipOptions, TopicTemplate, ship};

const EXAMPLES: &str = "\
Examples:
  ls-tail --lsn-dir /var/lib/logsphere/lsn --lsn-commit downstream /var/log/app \\
    | ls-ship --brokers kafka:9092 --lsn-dir /var/lib/logsphere/lsn --dead-letter /var/lib/logsphere/dead.jsonl
  LOGSPHERE_KAFKA_SASL_PASSWORD=... ls-ship --brokers kafka:9093 -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=shipper < records.jsonl
  ls-ship --consume --brokers kafka:9092 --topic logs.error --from beginning --exit-at-end | jq .message";

/// Ship JSON-lines records from stdin into Kafka topics by category (or, with --consume, print a topic's records).
#[derive(Debug, Parser)]
#[command(name = "ls-ship", version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    broker: BrokerArgs,

    /// Topic for each record; {category} is replaced by the record's category.
    #[arg(long, default_value = "logs.{category}", value_parser = TopicTemplate::new)]
    topic_template: TopicTemplate,

    /// Record field used as the message key (records with one key stay in order): source, id, category or an extra field.
    #[arg(long, default_value = "source")]
    key_field: String,

    /// LSN store to advance to the last line of each file whose delivery Kafka confirmed (with ls-tail --lsn-commit downstream).
    #[arg(long, value_name = "DIR")]
    lsn_dir: Option<PathBuf>,

    /// File that receives, as JSON lines, the records Kafka refuses for good (too large, topic denied).
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,

    /// Records sent and not yet acknowledged, at most: beyond it ls-ship stops reading stdin.
    #[arg(long, default_value_t = DEFAULT_MAX_IN_FLIGHT as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight: u64,

    /// Print the records of --topic as JSON lines instead of shipping.
    #[arg(long, requires = "topic")]
    consume: bool,

    #[command(flatten)]
    input: InputArgs,
}

fn main() -> ExitCode {
    let args: Cli = cli::parse();
    if let Err(message) = args.input.validate() {
        Cli::command()
            .error(ErrorKind::ArgumentConflict, message)
            .exit();
    }
    if !args.consume && !args.input.topic.is_empty() {
        let message = "--topic is for --consume; records to ship come from stdin";
        Cli::command()
            .error(ErrorKind::ArgumentConflict, message)
            .exit();
    }
    cli::run("ls-ship", &args.common, || {
        let shutdown = Shutdown::install()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            if args.consume {
                let mut input = Input::open(&args.input, &args.broker)?;
                logsphere::kafka::read_back(&mut input, std::io::stdout().lock(), &shutdown)
                    .await?;
                return Ok(ExitCode::SUCCESS);
            }
            let options = ShipOptions {
                topics: args.topic_template.clone(),
                key_field: args.key_field.clone(),
                lsn_dir: args.lsn_dir.clone(),
                dead_letter: args.dead_letter.clone(),
                max_in_flight: args.max_in_flight as usize,
                progress: true,
            };
            let mut input = Input::stdin();
            let report = ship(&mut input, &args.broker, options, &shutdown).await?;
            log::info!(
                "{} records delivered, {} dead-lettered, {} failed, {} bad input lines",
                report.delivered,
                report.dead_lettered,
                report.failed,
                report.bad_input
            );
            if report.bad_input > 0 {
                log::warn!(
                    "skipped {} input lines that were not records",
                    report.bad_input
                );
            }
            if report.all_delivered() {
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!(
                    "{} of {} records could not be delivered ({} written to the dead-letter file)",
                    report.dead_lettered + report.failed,
                    report.sent,
                    report.dead_lettered
                )
            }
        })
    })
}
