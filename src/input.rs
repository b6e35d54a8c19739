//! The record input every consumer stage shares (ls-store, ls-watch, ls-roll, `ls-ship
//! --consume`): JSON lines from stdin, or a Kafka consumer group (DESIGN.md §4).
//!
//! The API is async (the stores behind the stages, MongoDB and HDFS, are tokio clients):
//! [`Input::next_batch`] waits at most the given time, so a stage's own timers (flushes, time
//! triggers, SIGTERM checks) keep running while no record arrives. Records come as whole
//! [`Record`]s (`Input`, the default) or, for stages that pass them on without looking into
//! them, as [`RecordLine`](crate::record::RecordLine)s (`Input<RecordLine>`: the JSON kept, only
//! the routing fields parsed).
//! Stdin is read and parsed by a thread, which hands records over in chunks (a channel
//! operation per record costs as much as parsing it), so a blocking read never holds the
//! runtime; bad lines and bad messages are reported on stderr
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
//! let mut input: Input = Input::open(&args, &broker)?;
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

use std::io::{self, Read};
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
use crate::record::{FromLine, Record, RecordReader};

/// Records per chunk handed from the stdin thread to the stage, at most.
pub const CHUNK: usize = 512;
/// Chunks a stdin reader may hold ahead of the stage: bounds memory, and stops reading stdin
/// (backpressure up the pipe) while the stage is busy.
const CHUNK_QUEUE: usize = 32;
/// Read buffer of the stdin thread.
const READ_BUFFER: usize = 256 * 1024;

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
#[derive(Debug)]
pub struct Batch<T = Record> {
    pub records: Vec<T>,
    /// Where each record was read, parallel to `records`; empty for stdin.
    pub offsets: Vec<KafkaOffset>,
    pub token: CommitToken,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Batch {
            records: Vec::new(),
            offsets: Vec::new(),
            token: CommitToken::default(),
        }
    }
}

/// Records (or [`RecordLine`](crate::record::RecordLine)s) from stdin or Kafka.
pub enum Input<T = Record> {
    Lines(LineInput<T>),
    Kafka(KafkaConsumer),
}

impl<T: FromLine> Input<T> {
    /// Kafka when `--topic` is given, stdin otherwise.
    pub fn open(args: &InputArgs, broker: &BrokerArgs) -> Result<Input<T>> {
        Self::open_with_start_offsets(args, broker, None)
    }

    /// Like [`open`](Self::open), with the stage's own stored offsets deciding where assigned
    /// partitions start.
    pub fn open_with_start_offsets(
        args: &InputArgs,
        broker: &BrokerArgs,
        start_offsets: Option<StartOffsets>,
    ) -> Result<Input<T>> {
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
    pub fn stdin() -> Input<T> {
        Input::from_reader(io::stdin())
    }

    /// JSON lines from any reader (a file, a test's bytes).
    pub fn from_reader<R: Read + Send + 'static>(reader: R) -> Input<T> {
        Input::Lines(LineInput::spawn(reader))
    }

    /// Records from the caller's own source (`ls-recover replay --to-kafka` feeds ls-ship's
    /// loop this way): send them from another thread ([`RecordSender::blocking_send`]); the
    /// input ends when the sender is dropped.
    pub fn channel() -> (RecordSender<T>, Input<T>) {
        // One record per chunk here: as many records held as the stdin reader may hold.
        let (sender, queue) = mpsc::channel(CHUNK * CHUNK_QUEUE);
        let input = LineInput {
            queue,
            received: Vec::new(),
            bad: Arc::default(),
            failure: Arc::default(),
        };
        (RecordSender(sender), Input::Lines(input))
    }

    /// Up to `max` records, waiting at most `wait` for the first: an empty batch when none came
    /// in time, `None` at the end of the input.
    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Option<Batch<T>>> {
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

/// The sending end of [`Input::channel`].
pub struct RecordSender<T>(mpsc::Sender<Vec<T>>);

impl<T> RecordSender<T> {
    /// Sends one record, waiting while the input holds as many as it may; fails once the input
    /// was dropped. Not for use inside the async runtime.
    pub fn blocking_send(&self, record: T) -> Result<(), mpsc::error::SendError<Vec<T>>> {
        self.0.blocking_send(vec![record])
    }
}

/// Records in a bounded queue of chunks: JSON lines read by a thread, or sent by the caller.
pub struct LineInput<T> {
    queue: mpsc::Receiver<Vec<T>>,
    /// Records received and not handed out yet (a chunk can straddle two batches).
    received: Vec<T>,
    bad: Arc<AtomicU64>,
    /// The read error that ended the input, if one did.
    failure: Arc<Mutex<Option<io::Error>>>,
}

impl<T: FromLine> LineInput<T> {
    fn spawn<R: Read + Send + 'static>(reader: R) -> LineInput<T> {
        let (sender, queue) = mpsc::channel(CHUNK_QUEUE);
        let bad = Arc::new(AtomicU64::new(0));
        let failure = Arc::new(Mutex::new(None));
        let (bad_count, failure_slot) = (bad.clone(), failure.clone());
        // Detached: a thread blocked in read() on a quiet pipe must not keep the tool alive.
        std::thread::spawn(move || {
            let mut reader = RecordReader::new(io::BufReader::with_capacity(READ_BUFFER, reader));
            let mut reporter = BadInputReporter::default();
            let mut chunk = Vec::with_capacity(CHUNK);
            loop {
                let end = match reader.next_as::<T>() {
                    Ok(Some(Ok(record))) => {
                        chunk.push(record);
                        false
                    }
                    Ok(Some(Err(bad))) => {
                        reporter.report(&bad);
                        bad_count.store(reporter.count(), Ordering::Relaxed);
                        false
                    }
                    Ok(None) => true,
                    Err(e) => {
                        *failure_slot.lock().expect("failure lock") = Some(e);
                        true
                    }
                };
                // Hand over when full, at the end, or when the next read would wait for more
                // input: a quiet pipe never holds records back.
                let hand_over = chunk.len() >= CHUNK || end || reader.get_ref().buffer().is_empty();
                if hand_over
                    && !chunk.is_empty()
                    && sender
                        .blocking_send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                        .is_err()
                {
                    return; // the input was dropped
                }
                if end {
                    return;
                }
            }
        });
        LineInput {
            queue,
            received: Vec::new(),
            bad,
            failure,
        }
    }

    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Option<Batch<T>>> {
        if self.received.is_empty() {
            match tokio::time::timeout(wait, self.queue.recv()).await {
                Err(_elapsed) => return Ok(Some(Batch::default())),
                Ok(None) => {
                    return match self.failure.lock().expect("failure lock").take() {
                        Some(e) => Err(anyhow::Error::new(e).context("cannot read the input")),
                        None => Ok(None),
                    };
                }
                Ok(Some(chunk)) => self.received = chunk,
            }
        }
        // Take what has already arrived too, up to `max`.
        while self.received.len() < max {
            match self.queue.try_recv() {
                Ok(mut chunk) => self.received.append(&mut chunk),
                Err(_) => break,
            }
        }
        let rest = if self.received.len() > max {
            self.received.split_off(max)
        } else {
            Vec::new()
        };
        Ok(Some(Batch {
            records: std::mem::replace(&mut self.received, rest),
            ..Batch::default()
        }))
    }
}
