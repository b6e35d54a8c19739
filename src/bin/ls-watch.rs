//! ls-watch: raise alerts from a record stream: at once for critical records, on thresholds
//! over time windows, and when a source falls silent.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use logsphere::cli::time::parse_duration;
use logsphere::cli::{self, CommonArgs, EXIT_USAGE, Shutdown};
use logsphere::input::InputArgs;
use logsphere::kafka::args::BrokerArgs;
use logsphere::kafka::producer::TopicTemplate;
use logsphere::record::Level;
use logsphere::rules::exec::ExecConfig;
use logsphere::rules::stats::StatsFormat;
use logsphere::rules::watch::{self, WatchConfig};
use logsphere::rules::{
    EngineOptions, RuleSet, TimeMode, absent_flag, critical_at, default_rules, rules_from_json,
    threshold_flag,
};

const EXAMPLES: &str = "\
Without rules, ls-watch runs two: a critical alert for every CRITICAL record, and a warning when
more than 100 records at ERROR or above arrive within one minute. Any rule flag replaces both.

Examples:
  ls-tail /var/log/app | ls-watch --tee | ls-roll --out ./archive
  ls-watch --threshold 'ERROR+ >100 in 1m by source' --critical-at CRITICAL --absent '5m by source'
  ls-watch --rules rules.json --exec /usr/local/bin/page-oncall --team ops
  ls-watch --backtest --threshold 'ERROR+ >50 in 5m' < history.jsonl
  ls-watch --brokers kafka:9092 --topic logs.error --group watch --alerts alerts.jsonl
  ls-watch --brokers kafka:9092 --topic logs.error --group watch --alerts-topic alerts";

/// Raise alerts from JSON-line records on stdin: alerts are JSON lines on stdout.
#[derive(Debug, Parser)]
#[command(name = "ls-watch", version, after_help = EXAMPLES)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    broker: BrokerArgs,

    /// JSON rules file (see the rules module docs for the format).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,

    /// A threshold rule: 'ERROR+ >100 in 1m [sliding|tumbling] [by source,category]
    /// [category=NAME] [source=NAME]'. Repeatable.
    #[arg(long, value_name = "SPEC")]
    threshold: Vec<String>,

    /// An immediate critical alert for every record at or above this level.
    #[arg(long, value_name = "LEVEL")]
    critical_at: Option<Level>,

    /// An absence rule: '5m [by source] [LEVEL] [category=NAME] [source=NAME]'. Repeatable.
    #[arg(long, value_name = "SPEC")]
    absent: Vec<String>,

    /// Do not repeat an alert for the same rule and group within this interval [default: 5m for
    /// threshold and absence rules, 0 for immediate ones].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    realert: Option<Duration>,

    /// How far out of order records may arrive; older ones are counted as late.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    lateness: Duration,

    /// Count records at the time they are read, not at their timestamps.
    #[arg(long)]
    processing_time: bool,

    /// Run over history at full speed on event time only, then decide what is open at the end.
    /// The default when stdin is a regular file.
    #[arg(long, conflicts_with = "live")]
    backtest: bool,

    /// Run live (the wall clock closes windows on an idle input) even when stdin is a file.
    #[arg(long)]
    live: bool,

    /// Pass the records through to stdout; alerts go to --alerts or stderr.
    #[arg(long)]
    tee: bool,

    /// Append alerts to this file.
    #[arg(long, value_name = "FILE")]
    alerts: Option<PathBuf>,

    /// Also produce each alert to this Kafka topic (acks=all, keyed by the alert name), on
    /// --brokers; an alert not delivered within -X message.timeout.ms (30 s) is reported and
    /// ls-watch exits 1 at the end.
    #[arg(long, value_name = "TOPIC", value_parser = alerts_topic)]
    alerts_topic: Option<String>,

    /// Commands running at once for --exec.
    #[arg(long, value_name = "N", default_value_t = 4)]
    exec_concurrency: usize,

    /// Kill an --exec command still running after this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    exec_timeout: Duration,

    /// Write per-level / source / category rates to stderr at this interval.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    stats: Option<Duration>,

    /// Form of --stats [default: live on a terminal, text otherwise].
    #[arg(long, value_enum)]
    stats_format: Option<StatsFormat>,

    /// Run this command for every alert, with the alert JSON on its stdin; never through a
    /// shell. Takes the rest of the command line: put it last.
    #[arg(long, value_name = "CMD", num_args = 1.., allow_hyphen_values = true)]
    exec: Vec<String>,
}

/// A legal Kafka topic name, without the {category} of a topic template.
fn alerts_topic(name: &str) -> Result<String, String> {
    if name.contains('{') {
        return Err(format!("{name:?} is not a Kafka topic name"));
    }
    TopicTemplate::new(name).map(|_| name.to_string())
}

/// The rules the flags ask for; the seed's defaults when none are given.
fn rules(args: &Args) -> Result<RuleSet, String> {
    let mut rules = Vec::new();
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the rules file {}: {e}", path.display()))?;
        rules = rules_from_json(&text, args.realert)
            .map_err(|e| format!("rules file {}: {e}", path.display()))?;
    }
    if let Some(level) = args.critical_at {
        rules.push(critical_at(level, args.realert));
    }
    for spec in &args.threshold {
        rules.push(threshold_flag(spec, args.realert)?);
    }
    for spec in &args.absent {
        rules.push(absent_flag(spec, args.realert)?);
    }
    if rules.is_empty() {
        rules = default_rules(args.realert);
    }
    Ok(rules)
}

fn main() -> ExitCode {
    let args: Args = cli::parse();
    cli::run("ls-watch", &args.common, || {
        let rules = match rules(&args) {
            Ok(rules) => rules,
            Err(message) => {
                log::error!("{message}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        };
        let stdin = File::from(
            std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .context("cannot open stdin")?,
        );
        let stdin_is_file = stdin.metadata().is_ok_and(|m| m.is_file());
        let backtest =
            args.backtest || (stdin_is_file && !args.live && args.input.topic.is_empty());
        let stats_format = args.stats_format.unwrap_or_else(|| {
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                StatsFormat::Live
            } else {
                StatsFormat::Text
            }
        });
        let config = WatchConfig {
            rules,
            engine: EngineOptions {
                mode: if args.processing_time {
                    TimeMode::Processing
                } else {
                    TimeMode::Event {
                        allowance: args.lateness,
                    }
                },
                idle_close: !backtest,
            },
            backtest,
            tee: args.tee,
            alerts: args.alerts.clone(),
            exec: (!args.exec.is_empty()).then(|| ExecConfig {
                argv: args.exec.clone(),
                concurrency: args.exec_concurrency,
                timeout: args.exec_timeout,
            }),
            alerts_topic: args
                .alerts_topic
                .clone()
                .map(|topic| (topic, args.broker.clone())),
            stats: args.stats.map(|every| (every, stats_format)),
        };
        let shutdown = Shutdown::install().context("cannot install the signal handlers")?;
        let summary = if args.input.topic.is_empty() {
            watch::run(config, stdin, &shutdown)?
        } else {
            if let Err(message) = args.input.validate() {
                log::error!("{message}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            watch::run_kafka(config, &args.input, &args.broker, &shutdown)?
        };
        log::info!(
            "{} records, {} alerts, {} late, {} bad lines, {} duplicates",
            summary.records,
            summary.alerts,
            summary.late,
            summary.bad,
            summary.duplicates
        );
        if summary.bad > 0 {
            log::warn!("skipped {} bad input lines in all", summary.bad);
        }
        if summary.late > 0 {
            log::warn!(
                "{} records arrived more than --lateness {:?} out of order and were not counted in windows",
                summary.late,
                args.lateness
            );
        }
        if summary.undelivered > 0 {
            anyhow::bail!(
                "{} of {} alerts could not be delivered to Kafka topic {} (the other outputs got every alert)",
                summary.undelivered,
                summary.alerts,
                args.alerts_topic.as_deref().unwrap_or_default()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
