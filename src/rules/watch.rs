//! The ls-watch stream loop: records in, alerts out, on time even when the input is idle.
//!
//! **Live** (a pipe, a terminal): a thread reads and parses the input and hands records over in
//! batches; the main loop waits for a batch at most one tick long, so the wall clock keeps
//! closing windows and noticing absences while nothing arrives.
//! **Backtest** (`--backtest`, or stdin is a regular file): one thread reads at full speed, on
//! event time alone, and at the end of the input decides everything up to the last record.
//! **Kafka** (`--topic`, the shared [`Input`]): like live; a batch's offsets are committed once
//! the alerts it raised are written out (and, with `--alerts-topic`, delivered or given up on).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::Shutdown;
use crate::cli::diag::BadInputReporter;
use crate::input::{Input, InputArgs};
use crate::kafka::args::BrokerArgs;
use crate::record::{BadLine, Record, RecordReader};

use super::alert::Alert;
use super::config::RuleSet;
use super::engine::{Engine, EngineOptions};
use super::exec::{Exec, ExecConfig};
use super::stats::{Stats, StatsFormat};
use super::topic::AlertTopic;

/// Everything ls-watch was asked to do.
pub struct WatchConfig {
    pub rules: RuleSet,
    pub engine: EngineOptions,
    /// Read at full speed on event time alone (see the module doc).
    pub backtest: bool,
    /// Pass the records through to stdout; alerts then go to `alerts` or stderr.
    pub tee: bool,
    /// Append alerts to this file instead of stdout (or stderr with `tee`).
    pub alerts: Option<PathBuf>,
    pub exec: Option<ExecConfig>,
    /// `--alerts-topic`: also produce each alert to this Kafka topic, on these brokers.
    pub alerts_topic: Option<(String, BrokerArgs)>,
    /// Write statistics to stderr every interval.
    pub stats: Option<(Duration, StatsFormat)>,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub bad: u64,
    pub late: u64,
    /// Copies of lines of tailed files taken in already (same file identity and LSN), not
    /// counted again.
    pub duplicates: u64,
    pub alerts: u64,
    /// Alerts `--alerts-topic` could not deliver.
    pub undelivered: u64,
}

/// How often the wall clock is looked at while live.
const TICK: Duration = Duration::from_millis(100);
/// Records per batch from the reading thread (a batch also goes out whenever the input has
/// nothing more buffered, so a slow input is not held back).
const BATCH: usize = 1024;
/// Input buffer size.
const INPUT_BUFFER: usize = 256 * 1024;

/// Wall-clock time in nanoseconds since the Unix epoch.
fn wall_now() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

struct Batch {
    items: Vec<Result<Record, BadLine>>,
    /// The good records' lines, newline-terminated, for `--tee`.
    raw: Vec<u8>,
}

/// Where results go, and the counts that the summary reports.
struct Outputs {
    /// `--tee`: the input's good lines, as they came.
    records: Option<BufWriter<io::Stdout>>,
    alerts: Box<dyn Write>,
    exec: Option<Exec>,
    topic: Option<AlertTopic>,
    stats: Option<(Duration, StatsFormat, Stats, Instant)>,
    bad: BadInputReporter,
    summary: Summary,
    pending: Vec<Alert>,
}

impl Outputs {
    fn open(config: &WatchConfig) -> anyhow::Result<Outputs> {
        let alerts: Box<dyn Write> = match &config.alerts {
            Some(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open the alerts file {}", path.display()))?,
            ),
            None if config.tee => Box::new(io::stderr()),
            None => Box::new(io::stdout()),
        };
        Ok(Outputs {
            records: config
                .tee
                .then(|| BufWriter::with_capacity(INPUT_BUFFER, io::stdout())),
            alerts,
            exec: config.exec.clone().map(Exec::start),
            topic: match &config.alerts_topic {
                Some((topic, broker)) => Some(AlertTopic::open(broker, topic)?),
                None => None,
            },
            stats: config
                .stats
                .map(|(every, format)| (every, format, Stats::default(), Instant::now())),
            bad: BadInputReporter::default(),
            summary: Summary::default(),
            pending: Vec::new(),
        })
    }

    /// Runs one input item through the engine.
    fn take(&mut self, engine: &mut Engine, item: Result<Record, BadLine>, wall: i64) {
        match item {
            Ok(record) => {
                self.summary.records += 1;
                if let Some((_, _, stats, _)) = &mut self.stats {
                    stats.count(&record);
                }
                engine.feed(&record, wall, &mut self.pending);
            }
            Err(bad) => self.bad.report(&bad),
        }
    }

    /// Writes out the alerts the engine produced, and statistics when due.
    fn emit(&mut self, engine: &Engine) -> anyhow::Result<()> {
        if !self.pending.is_empty() {
            for alert in self.pending.drain(..) {
                let line = alert.to_line();
                self.alerts
                    .write_all(line.as_bytes())
                    .context("cannot write an alert")?;
                if let Some(topic) = &mut self.topic {
                    topic.send(&alert, &line)?;
                }
                if let Some(exec) = &self.exec {
                    exec.submit(line);
                }
                self.summary.alerts += 1;
            }
            self.alerts.flush().context("cannot write an alert")?;
        }
        if let Some((every, format, stats, since)) = &mut self.stats
            && since.elapsed() >= *every
        {
            let report = stats.report(
                since.elapsed().as_secs_f64(),
                engine.late(),
                self.bad.count(),
                *format,
            );
            *since = Instant::now();
            // Statistics are diagnostics: a closed stderr is no reason to stop.
            let _ = io::stderr().write_all(report.as_bytes());
        }
        Ok(())
    }

    fn flush_records(&mut self) -> anyhow::Result<()> {
        if let Some(records) = &mut self.records {
            records.flush().context("cannot write records to stdout")?;
        }
        Ok(())
    }

    fn close(mut self, engine: &Engine) -> anyhow::Result<Summary> {
        self.flush_records()?;
        if let Some(exec) = self.exec.take() {
            exec.finish();
        }
        if let Some(topic) = &self.topic {
            topic.wait_delivered();
            self.summary.undelivered = topic.failed();
        }
        self.summary.bad = self.bad.count();
        self.summary.late = engine.late();
        self.summary.duplicates = engine.duplicates();
        Ok(self.summary)
    }
}

/// Runs ls-watch over `input` until its end or a stop request.
pub fn run(config: WatchConfig, input: File, shutdown: &Shutdown) -> anyhow::Result<Summary> {
    let mut outputs = Outputs::open(&config)?;
    let mut engine = Engine::new(config.rules.clone(), config.engine);
    let input = BufReader::with_capacity(INPUT_BUFFER, input);
    let finished = if config.backtest {
        backtest(&mut engine, &mut outputs, input, shutdown)?
    } else {
        live(&mut engine, &mut outputs, input, config.tee, shutdown)?
    };
    if finished {
        engine.finish(&mut outputs.pending);
    }
    outputs.emit(&engine)?;
    outputs.close(&engine)
}

/// Runs ls-watch over a Kafka consumer group until a stop request (or the topic's end with
/// `--exit-at-end`).
pub fn run_kafka(
    config: WatchConfig,
    input: &InputArgs,
    broker: &BrokerArgs,
    shutdown: &Shutdown,
) -> anyhow::Result<Summary> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut outputs = Outputs::open(&config)?;
    let mut engine = Engine::new(config.rules.clone(), config.engine);
    // The consumer spawns its tasks on the current runtime.
    let _runtime_context = runtime.enter();
    let mut input = Input::open(input, broker)?;
    let mut last_tick = Instant::now();
    let mut line = Vec::new();
    let finished = loop {
        if shutdown.requested() {
            break false;
        }
        let Some(batch) = runtime.block_on(input.next_batch(BATCH, TICK))? else {
            break true;
        };
        let wall = wall_now();
        for record in batch.records {
            if let Some(records) = &mut outputs.records {
                line.clear();
                crate::record::write_record(&record, &mut line);
                records
                    .write_all(&line)
                    .context("cannot write records to stdout")?;
            }
            outputs.take(&mut engine, Ok(record), wall);
        }
        outputs.flush_records()?;
        if last_tick.elapsed() >= TICK {
            engine.tick(wall, &mut outputs.pending);
            last_tick = Instant::now();
        }
        outputs.emit(&engine)?;
        if let Some(topic) = &outputs.topic {
            topic.wait_delivered();
        }
        // The batch's alerts are out: its records need not be read again.
        input.commit(&batch.token)?;
    };
    if finished {
        engine.finish(&mut outputs.pending);
    }
    outputs.emit(&engine)?;
    for _ in 0..input.bad_records() {
        outputs.bad.report(&"a Kafka message that is not a record");
    }
    input.close();
    outputs.close(&engine)
}

/// Reads everything on this thread; returns whether the input was read to its end.
fn backtest(
    engine: &mut Engine,
    outputs: &mut Outputs,
    input: impl BufRead,
    shutdown: &Shutdown,
) -> anyhow::Result<bool> {
    let mut reader = RecordReader::new(input);
    let mut since_check = 0u32;
    while let Some(item) = reader.next_record().context("cannot read the input")? {
        if item.is_ok()
            && let Some(records) = &mut outputs.records
        {
            records
                .write_all(reader.raw_line())
                .and_then(|()| records.write_all(b"\n"))
                .context("cannot write records to stdout")?;
        }
        // Event time alone decides: the wall clock passed in is never used to move time on.
        outputs.take(engine, item, 0);
        since_check += 1;
        if since_check == BATCH as u32 {
            since_check = 0;
            outputs.emit(engine)?;
            if shutdown.requested() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Reads on a thread and ticks the clock here; returns whether the input was read to its end.
fn live(
    engine: &mut Engine,
    outputs: &mut Outputs,
    input: BufReader<File>,
    tee: bool,
    shutdown: &Shutdown,
) -> anyhow::Result<bool> {
    let (sender, batches) = sync_channel::<io::Result<Batch>>(16);
    // The thread is not joined: after a stop request it may sit in a read that never returns.
    std::thread::spawn(move || read_batches(input, tee, &sender));
    let mut last_tick = Instant::now();
    loop {
        if shutdown.requested() {
            return Ok(false);
        }
        let received = recv(&batches);
        let wall = wall_now();
        match received {
            Ok(Some(batch)) => {
                for item in batch.items {
                    outputs.take(engine, item, wall);
                }
                if let Some(records) = &mut outputs.records {
                    records
                        .write_all(&batch.raw)
                        .context("cannot write records to stdout")?;
                }
                outputs.flush_records()?;
            }
            Ok(None) => {}
            Err(()) => {
                outputs.flush_records()?;
                return Ok(true);
            }
        }
        if last_tick.elapsed() >= TICK {
            engine.tick(wall, &mut outputs.pending);
            last_tick = Instant::now();
        }
        outputs.emit(engine)?;
    }
}

fn recv(batches: &Receiver<io::Result<Batch>>) -> Result<Option<Batch>, ()> {
    match batches.recv_timeout(TICK) {
        Ok(Ok(batch)) => Ok(Some(batch)),
        Ok(Err(e)) => {
            log::error!("cannot read the input: {e}");
            Err(())
        }
        Err(RecvTimeoutError::Timeout) => Ok(None),
        Err(RecvTimeoutError::Disconnected) => Err(()),
    }
}

/// The reading thread: parses lines into batches until the end of input or a read error.
fn read_batches(input: BufReader<File>, tee: bool, sender: &SyncSender<io::Result<Batch>>) {
    let mut reader = RecordReader::new(input);
    let new_batch = || Batch {
        items: Vec::with_capacity(BATCH),
        raw: Vec::new(),
    };
    let mut batch = new_batch();
    loop {
        let item = match reader.next_record() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        };
        if tee && item.is_ok() {
            batch.raw.extend_from_slice(reader.raw_line());
            batch.raw.push(b'\n');
        }
        batch.items.push(item);
        // Hand over when full, or when the next read would wait for more input.
        if (batch.items.len() >= BATCH || reader.get_ref().buffer().is_empty())
            && sender
                .send(Ok(std::mem::replace(&mut batch, new_batch())))
                .is_err()
        {
            return;
        }
    }
    if !batch.items.is_empty() {
        let _ = sender.send(Ok(batch));
    }
}
