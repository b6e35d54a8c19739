//! The record input every consumer stage shares (ls-store, ls-watch, ls-roll, `ls-ship
//! --consume`): JSON lines from stdin, or a Kafka consumer group (DESIGN.md §4).
//!
//! The API is async (the stores behind the stages, MongoDB and HDFS, are tokio clients):
//! [`Input::next_batch`] waits at most the given time, so a stage's own timers (flushes, time
//! triggers, SIGTERM checks) keep running while no record arrives. Stdin is read by a thread,
//! so a blocking read never holds the runtime; bad lines and bad messages are reported on stderr
//! ([`BadInputReporter`](crate::cli::diag::BadInputReporter)) and counted, and never stop the stream.
//!
//! Each batch carries a [`CommitToken`]. Offsets are committed only when the stage passes the
//! token to [`Input::commit`], after its own output is durable; a crash before that re-reads
//! those records (same ids: stores dedupe). For stdin the token is empty and committing is a
//! no-op. A stage that keeps Kafka offsets itself, in the same transaction as its output, opens
//! the input with [`Input::open_with_start_offsets`] and stores [`CommitToken::offsets`].
//!
//! ```no_run
//! # async fn stage(args: logsphere::input::InputArgs, broker: logsphere::kafka::args::BrokerArgs,
//! #                shutdown: logsphere::cli::Shutdown) -> anyhow::Result<()> {
//! use std::time::Duration;
//! use logsphere::input::Input;
//!
//! let mut input = Input::open(&args, &broker)?;
//! while !shutdown.requested() {
//!     let Some(batch) = input.next_batch(10_000, Duration::from_millis(200)).await? else {
//!         break; // end of stdin, or of the topic under --exit-at-end
//!     };
//!     for record in &batch.records {
//!         // ... write the record to this stage's output ...
//!     }
//!     // ... make the output durable (commit, fsync), then:
//!     input.commit(&batch.token)?;
//! }
//! input.close(); // waits for the last offset commit
//! # Ok(()) }
//! ```

use std::io::{self, BufRead};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Args;
use tokio::sync::mpsc;

use crate::cli::diag::BadInputReporter;
use crate::kafka::args::BrokerArgs;
pub use crate::kafka::consumer::{
    CommitToken, ConsumerOptions, KafkaConsumer, KafkaOffset, StartFrom, StartOffsets,
};
use crate::record::{Record, RecordReader};

/// Records a stdin reader may hold ahead of the stage: bounds memory, and stops reading stdin
/// (backpressure up the pipe) while the stage is busy.
const LINE_QUEUE: usize = 16 * 1024;

/// The input flags of consumer stages: stdin unless `--topic` is given.
#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// Read records from these Kafka topics (comma-separated or repeated) instead of stdin.
    #[arg(long, value_delimiter = ',', value_name = "TOPIC")]
    pub topic: Vec<String>,

    /// Consumer group: members split the partitions, offsets are committed once output is durable. Without it every partition is read and nothing is committed.
    #[arg(long, requires = "topic", env = "LOGSPHERE_GROUP")]
    pub group: Option<String>,

    /// Where to start in partitions this process has not read before [default: stored with --group, beginning without].
    #[arg(long, value_enum, requires = "topic")]
    pub from: Option<StartFrom>,

    /// Stop at the end of the topic instead of waiting for more records.
    #[arg(long, requires = "topic")]
    pub exit_at_end: bool,
}

impl InputArgs {
    /// The effective start position.
    pub fn start_from(&self) -> StartFrom {
        self.from.unwrap_or(if self.group.is_some() {
            StartFrom::Stored
        } else {
            StartFrom::Beginning
        })
    }

    /// Checks the combinations clap cannot express: the message is a usage error (exit 2).
    pub fn validate(&self) -> Result<(), String> {
        if self.group.is_none() && self.from == Some(StartFrom::Stored) {
            return Err("--from stored needs --group: offsets are stored per group".into());
        }
        if self.exit_at_end && self.from == Some(StartFrom::End) {
            return Err("--exit-at-end with --from end would read nothing".into());
        }
        Ok(())
    }
}

/// A batch of records and the token that commits them.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<Record>,
    /// Where each record was read, parallel to `records`; empty for stdin.
    pub offsets: Vec<KafkaOffset>,
    pub token: CommitToken,
}

/// Records from stdin or Kafka.
pub enum Input {
    Lines(LineInput),
    Kafka(KafkaConsumer),
}

impl Input {
    /// Kafka when `--topic` is given, stdin otherwise.
    pub fn open(args: &InputArgs, broker: &BrokerArgs) -> Result<Input> {
        Self::open_with_start_offsets(args, broker, None)
    }

    /// Like [`open`](Self::open), with the stage's own stored offsets deciding where assigned
    /// partitions start.
    pub fn open_with_start_offsets(
        args: &InputArgs,
        broker: &BrokerArgs,
        start_offsets: Option<StartOffsets>,
    ) -> Result<Input> {
        if args.topic.is_empty() {
            return Ok(Input::stdin());
        }
        args.validate().map_err(|e| anyhow!(e))?;
        let options = ConsumerOptions {
            topics: args.topic.clone(),
            group: args.group.clone(),
            from: args.start_from(),
            exit_at_end: args.exit_at_end,
        };
        Ok(Input::Kafka(KafkaConsumer::new(
            broker,
            &options,
            start_offsets,
        )?))
    }

    /// JSON lines from stdin.
    pub fn stdin() -> Input {
        Input::from_reader(io::BufReader::with_capacity(256 * 1024, io::stdin()))
    }

    /// JSON lines from any reader (a file, a test's bytes).
    pub fn from_reader<R: BufRead + Send + 'static>(reader: R) -> Input {
        Input::Lines(LineInput::spawn(reader))
    }

    /// Records from the caller's own source (`ls-recover replay --to-kafka` feeds ls-ship's
    /// loop this way): send them from another thread (`blocking_send`); the input ends when
    /// the sender is dropped.
    pub fn channel() -> (mpsc::Sender<Record>, Input) {
        let (sender, queue) = mpsc::channel(LINE_QUEUE);
        let input = LineInput {
            queue,
            bad: Arc::default(),
            failure: Arc::default(),
        };
        (sender, Input::Lines(input))
    }

    /// Up to `max` records, waiting at most `wait` for the first: an empty batch when none came
    /// in time, `None` at the end of the input.
    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Option<Batch>> {
        match self {
            Input::Lines(lines) => lines.next_batch(max, wait).await,
            Input::Kafka(consumer) => Ok(consumer.next_batch(max, wait).await?.map(|b| Batch {
                records: b.records,
                offsets: b.offsets,
                token: b.token,
            })),
        }
    }

    /// Commits a batch's offsets (tokens can be merged first); a no-op for stdin.
    pub fn commit(&self, token: &CommitToken) -> Result<()> {
        match self {
            Input::Lines(_) => Ok(()),
            Input::Kafka(consumer) => consumer.commit(token),
        }
    }

    /// Commits a last token and waits for the broker's answer: the shutdown path.
    pub fn commit_and_wait(&self, token: &CommitToken) -> Result<()> {
        match self {
            Input::Lines(_) => Ok(()),
            Input::Kafka(consumer) => consumer.commit_and_wait(token),
        }
    }

    /// Leaves the consumer group cleanly (waits for pending commits) or stops reading stdin.
    pub fn close(self) {
        drop(self);
    }

    /// The Kafka consumer, for its assignment and seeking.
    pub fn kafka(&self) -> Option<&KafkaConsumer> {
        match self {
            Input::Lines(_) => None,
            Input::Kafka(consumer) => Some(consumer),
        }
    }

    /// Lines or messages skipped because they were not records.
    pub fn bad_records(&self) -> u64 {
        match self {
            Input::Lines(lines) => lines.bad.load(Ordering::Relaxed),
            Input::Kafka(consumer) => consumer.bad_records(),
        }
    }
}

/// Records in a bounded queue: JSON lines read by a thread, or sent by the caller.
pub struct LineInput {
    queue: mpsc::Receiver<Record>,
    bad: Arc<AtomicU64>,
    /// The read error that ended the input, if one did.
    failure: Arc<Mutex<Option<io::Error>>>,
}

impl LineInput {
    fn spawn<R: BufRead + Send + 'static>(reader: R) -> LineInput {
        let (sender, queue) = mpsc::channel(LINE_QUEUE);
        let bad = Arc::new(AtomicU64::new(0));
        let failure = Arc::new(Mutex::new(None));
        let (bad_count, failure_slot) = (bad.clone(), failure.clone());
        // Detached: a thread blocked in read() on a quiet pipe must not keep the tool alive.
        std::thread::spawn(move || {
            let mut reader = RecordReader::new(reader);
            let mut reporter = BadInputReporter::default();
            loop {
                match reader.next_record() {
                    Ok(Some(Ok(record))) => {
                        if sender.blocking_send(record).is_err() {
                            return; // the input was dropped
                        }
                    }
                    Ok(Some(Err(bad))) => {
                        reporter.report(&bad);
                        bad_count.store(reporter.count(), Ordering::Relaxed);
                    }
                    Ok(None) => return,
                    Err(e) => {
                        *failure_slot.lock().expect("failure lock") = Some(e);
                        return;
                    }
                }
            }
        });
        LineInput {
            queue,
            bad,
            failure,
        }
    }

    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Option<Batch>> {
        let mut records = Vec::with_capacity(max.min(LINE_QUEUE));
        match tokio::time::timeout(wait, self.queue.recv_many(&mut records, max)).await {
            Err(_elapsed) => Ok(Some(Batch::default())),
            Ok(0) => match self.failure.lock().expect("failure lock").take() {
                Some(e) => Err(anyhow::Error::new(e).context("cannot read the input")),
                None => Ok(None),
            },
            Ok(_) => Ok(Some(Batch {
                records,
                ..Batch::default()
            })),
        }
    }
}
