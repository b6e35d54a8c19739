//! The Kafka side of the shared record input ([`crate::input`]): a consumer that hands out
//! records in batches and commits offsets only when the stage says its output is durable.
//!
//! Auto-commit and the automatic offset store are off: the only offsets ever committed are those
//! of a [`CommitToken`] passed to [`KafkaConsumer::commit`]. A crash therefore re-reads what was
//! not committed (the records carry their ids, so stores dedupe) and never skips anything.
//!
//! With a group the consumer subscribes and the group splits the partitions; without one it
//! assigns itself every partition of the topics and commits nothing (a read-only view).
//! Where each newly assigned partition starts: a stage that keeps offsets itself (in the same
//! transaction as its output) gives a [`StartOffsets`] hook; otherwise `--from` decides on the
//! first assignment (`beginning`, `end`, or `stored`: the group's committed offset, the earliest
//! offset when there is none) and later reassignments resume from the committed offsets.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::args::BrokerArgs;
use crate::cli::diag::BadInputReporter;
use crate::record::{FromLine, Record};

/// How long metadata and offset lookups may take before the broker counts as unreachable.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a newly assigned partition starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartFrom {
    /// The oldest record still in the topic.
    Beginning,
    /// Only records produced from now on.
    End,
    /// Where the group last committed (the oldest record when it never did).
    Stored,
}

/// A stage's own stored offsets: given the partitions just assigned, returns the next offset
/// to read for those it knows; the others start as `--from` says.
///
/// It runs inside the rebalance callback, on the thread that awaits
/// [`KafkaConsumer::next_batch`]: an async store can be queried with
/// `tokio::task::block_in_place(|| handle.block_on(...))` on a multi-threaded runtime.
pub type StartOffsets = Box<dyn Fn(&[(String, i32)]) -> Vec<(String, i32, i64)> + Send + Sync>;

/// What to consume and how to start.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    pub topics: Vec<String>,
    /// The consumer group; `None` reads every partition and commits nothing.
    pub group: Option<String>,
    pub from: StartFrom,
    /// End the input (`next_batch` returns `None`) once every assigned partition is read to its end.
    pub exit_at_end: bool,
}

/// Where one record was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaOffset {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
}

/// The offsets to commit once a batch's output is durable: per partition, the next offset to
/// read. Tokens of consecutive batches can be [`merge`](CommitToken::merge)d and committed once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitToken {
    next: BTreeMap<(Arc<str>, i32), i64>,
}

impl CommitToken {
    /// Notes that the record at `offset` was handed out.
    pub fn include(&mut self, topic: &Arc<str>, partition: i32, offset: i64) {
        let next = self.next.entry((topic.clone(), partition)).or_insert(0);
        *next = (*next).max(offset + 1);
    }

    /// Adds a later batch's offsets.
    pub fn merge(&mut self, later: CommitToken) {
        for ((topic, partition), next) in later.next {
            self.include(&topic, partition, next - 1);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    /// `(topic, partition, next offset to read)` for each partition: what a stage that keeps
    /// offsets itself stores.
    pub fn offsets(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.next.iter().map(|((t, p), n)| (t.as_ref(), *p, *n))
    }
}

/// Records read from Kafka, with where each came from.
#[derive(Debug)]
pub struct KafkaBatch<T = Record> {
    pub records: Vec<T>,
    /// Parallel to `records`.
    pub offsets: Vec<KafkaOffset>,
    /// Covers the records and the bad messages skipped among them.
    pub token: CommitToken,
}

/// The rebalance handling: start positions, and which partitions are ours.
struct InputContext {
    from: StartFrom,
    start_offsets: Option<StartOffsets>,
    /// Partitions assigned before: `--from beginning|end` applies to a first assignment only,
    /// so that a rebalance does not re-read or skip.
    seen: Mutex<HashSet<(String, i32)>>,
    assigned: Mutex<BTreeSet<(String, i32)>>,
    /// The offsets the start-offsets hook set at the last assignment: where a partition starts
    /// until its first record is read.
    hook_starts: Mutex<HashMap<(String, i32), i64>>,
}

impl InputContext {
    /// Sets the start offset of each partition in `tpl`.
    fn set_start_positions(&self, tpl: &mut TopicPartitionList) {
        let partitions: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        let mut starts: HashMap<(String, i32), Offset> = HashMap::new();
        let mut seen = self.seen.lock().expect("seen lock");
        for tp in &partitions {
            if seen.insert(tp.clone()) {
                match self.from {
                    StartFrom::Beginning => starts.insert(tp.clone(), Offset::Beginning),
                    StartFrom::End => starts.insert(tp.clone(), Offset::End),
                    StartFrom::Stored => None,
                };
            }
        }
        if let Some(hook) = &self.start_offsets {
            let mut hook_starts = self.hook_starts.lock().expect("hook starts lock");
            for tp in &partitions {
                hook_starts.remove(tp);
            }
            for (topic, partition, offset) in hook(&partitions) {
                hook_starts.insert((topic.clone(), partition), offset);
                starts.insert((topic, partition), Offset::Offset(offset));
            }
        }
        for ((topic, partition), offset) in starts {
            if let Err(e) = tpl.set_partition_offset(&topic, partition, offset) {
                log::warn!("cannot set the start of {topic}/{partition}: {e}");
            }
        }
    }
}

impl ClientContext for InputContext {
    fn error(&self, error: KafkaError, reason: &str) {
        // The end of a partition is how `exit_at_end` notices it is done, not an error.
        let end_of_partition = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end_of_partition {
            super::log_client_error(log::Level::Warn, &error, reason);
        }
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        super::log_librdkafka(level, facility, message);
    }
}

impl ConsumerContext for InputContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let partitions = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect::<Vec<_>>();
        let mut assigned = self.assigned.lock().expect("assigned lock");
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.set_start_positions(tpl);
                if !cooperative {
                    assigned.clear();
                }
                assigned.extend(partitions.iter().cloned());
                log::info!("assigned partitions {partitions:?}");
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                log::info!("partitions revoked: {partitions:?}");
                if cooperative {
                    for tp in &partitions {
                        assigned.remove(tp);
                    }
                    consumer.incremental_unassign(tpl)
                } else {
                    assigned.clear();
                    consumer.unassign()
                }
            }
            other => {
                log::warn!(
                    "consumer group rebalance failed: {}",
                    RDKafkaErrorCode::from(other)
                );
                assigned.clear();
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            log::error!("cannot apply the partition assignment: {e}");
        }
    }

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _: &TopicPartitionList) {
        if let Err(e) = result {
            log::warn!("offset commit failed (those records will be read again): {e}");
        }
    }
}

/// A consumer-group member (or a whole-topic reader) handing out record batches.
pub struct KafkaConsumer {
    consumer: StreamConsumer<InputContext>,
    grouped: bool,
    exit_at_end: bool,
    bad: BadInputReporter,
    topic_names: HashMap<String, Arc<str>>,
}

impl KafkaConsumer {
    /// Connects, and subscribes (with a group) or assigns itself every partition (without).
    pub fn new(
        broker: &BrokerArgs,
        options: &ConsumerOptions,
        start_offsets: Option<StartOffsets>,
    ) -> Result<KafkaConsumer> {
        if options.topics.is_empty() {
            bail!("no topic to read: pass --topic");
        }
        let defaults = [
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            // End-of-partition events trigger the check for `exit_at_end`.
            (
                "enable.partition.eof",
                if options.exit_at_end { "true" } else { "false" },
            ),
        ];
        let mut config = broker.client_config(&defaults)?;
        // librdkafka assigns partitions only within a group; a group-less reader gets a group of
        // its own that never subscribes or commits.
        let group = match &options.group {
            Some(group) => group.clone(),
            None => format!("ls-reader-{}-{}", std::process::id(), unique_suffix()),
        };
        config.set("group.id", group);
        let context = InputContext {
            from: options.from,
            start_offsets,
            seen: Mutex::default(),
            assigned: Mutex::default(),
            hook_starts: Mutex::default(),
        };
        let consumer: StreamConsumer<InputContext> = config
            .create_with_context(context)
            .context("cannot create the Kafka consumer")?;
        broker.ensure_reachable(consumer.client(), &config)?;
        if options.group.is_some() {
            let topics: Vec<&str> = options.topics.iter().map(String::as_str).collect();
            consumer
                .subscribe(&topics)
                .context("cannot subscribe to the topics")?;
        } else {
            let mut tpl = TopicPartitionList::new();
            for topic in &options.topics {
                let metadata = consumer
                    .fetch_metadata(Some(topic), LOOKUP_TIMEOUT)
                    .with_context(|| format!("cannot read the partitions of topic {topic}"))?;
                let partitions = metadata
                    .topics()
                    .first()
                    .filter(|t| t.error().is_none())
                    .map(|t| t.partitions().len())
                    .unwrap_or(0);
                if partitions == 0 {
                    bail!("topic {topic} does not exist");
                }
                for partition in 0..partitions as i32 {
                    tpl.add_partition(topic, partition);
                }
            }
            consumer.context().set_start_positions(&mut tpl);
            *consumer.context().assigned.lock().expect("assigned lock") = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            consumer
                .assign(&tpl)
                .context("cannot assign the partitions")?;
        }
        Ok(KafkaConsumer {
            consumer,
            grouped: options.group.is_some(),
            exit_at_end: options.exit_at_end,
            bad: BadInputReporter::default(),
            topic_names: HashMap::new(),
        })
    }

    /// Up to `max` records, waiting at most `wait` for the first one: an empty batch when none
    /// came, `None` once the end is reached under `exit_at_end`.
    pub async fn next_batch<T: FromLine>(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Option<KafkaBatch<T>>> {
        let mut batch = KafkaBatch {
            records: Vec::new(),
            offsets: Vec::new(),
            token: CommitToken::default(),
        };
        let mut deadline = tokio::time::Instant::now() + wait;
        while batch.records.len() < max {
            let received = tokio::time::timeout_at(deadline, self.consumer.recv()).await;
            let message = match received {
                Err(_elapsed) => {
                    if batch.token.is_empty() && self.exit_at_end && self.at_end()? {
                        return Ok(None);
                    }
                    break;
                }
                Ok(Err(KafkaError::PartitionEOF(_))) => {
                    if batch.token.is_empty() && self.exit_at_end && self.at_end()? {
                        return Ok(None);
                    }
                    continue;
                }
                Ok(Err(e)) => {
                    if let Some(code) = e.rdkafka_error_code()
                        && is_permanent(code)
                    {
                        return Err(e).context("cannot consume");
                    }
                    super::log_client_error(log::Level::Warn, &e, "");
                    continue;
                }
                Ok(Ok(message)) => message,
            };
            let topic = match self.topic_names.get(message.topic()) {
                Some(name) => name.clone(),
                None => {
                    let name: Arc<str> = message.topic().into();
                    self.topic_names
                        .insert(message.topic().to_string(), name.clone());
                    name
                }
            };
            let (partition, offset) = (message.partition(), message.offset());
            batch.token.include(&topic, partition, offset);
            match T::from_line(message.payload().unwrap_or_default()) {
                Ok(record) => {
                    batch.records.push(record);
                    batch.offsets.push(KafkaOffset {
                        topic,
                        partition,
                        offset,
                    });
                }
                Err(kind) => self.bad.report(&format_args!(
                    "message {topic}/{partition}@{offset}: {kind}"
                )),
            }
            // Once something came, take what is already there without waiting long.
            deadline = deadline.min(tokio::time::Instant::now() + Duration::from_millis(5));
        }
        Ok(Some(batch))
    }

    /// Commits the token's offsets (the next offsets to read), for the partitions still ours.
    /// Asynchronous: a failure is reported on stderr and only means those records are read again.
    pub fn commit(&self, token: &CommitToken) -> Result<()> {
        self.commit_in(token, CommitMode::Async)
    }

    /// Like [`commit`](Self::commit), but waits for the broker's answer: for the last commit
    /// before exiting.
    pub fn commit_and_wait(&self, token: &CommitToken) -> Result<()> {
        self.commit_in(token, CommitMode::Sync)
    }

    fn commit_in(&self, token: &CommitToken, mode: CommitMode) -> Result<()> {
        if !self.grouped || token.is_empty() {
            return Ok(());
        }
        let tpl = self.owned_offsets(token)?;
        if tpl.count() > 0 {
            self.consumer
                .commit(&tpl, mode)
                .context("cannot commit the consumer offsets")?;
        }
        Ok(())
    }

    /// The partitions assigned to this consumer now.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        let assigned = self
            .consumer
            .context()
            .assigned
            .lock()
            .expect("assigned lock");
        assigned.iter().cloned().collect()
    }

    /// Moves the reading position of an assigned partition.
    pub fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<()> {
        self.consumer
            .seek(topic, partition, Offset::Offset(offset), LOOKUP_TIMEOUT)
            .with_context(|| format!("cannot seek {topic}/{partition} to offset {offset}"))
    }

    /// Messages skipped because they were not records.
    pub fn bad_records(&self) -> u64 {
        self.bad.count()
    }

    /// The token's offsets for the partitions this consumer owns now: committing a partition
    /// that moved to another member could rewind its progress.
    fn owned_offsets(&self, token: &CommitToken) -> Result<TopicPartitionList> {
        let assigned = self
            .consumer
            .context()
            .assigned
            .lock()
            .expect("assigned lock");
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, next) in token.offsets() {
            if assigned.contains(&(topic.to_string(), partition)) {
                tpl.add_partition_offset(topic, partition, Offset::Offset(next))?;
            }
        }
        Ok(tpl)
    }

    /// True when every assigned partition has been read up to its high watermark.
    fn at_end(&self) -> Result<bool> {
        let positions = self.consumer.position().context("cannot read positions")?;
        if positions.count() == 0 {
            return Ok(false);
        }
        let committed = if self.grouped {
            Some(
                self.consumer
                    .committed(LOOKUP_TIMEOUT)
                    .context("cannot read the committed offsets")?,
            )
        } else {
            None
        };
        for elem in positions.elements() {
            let (low, high) = self
                .consumer
                .fetch_watermarks(elem.topic(), elem.partition(), LOOKUP_TIMEOUT)
                .with_context(|| {
                    format!(
                        "cannot read the end of {}/{}",
                        elem.topic(),
                        elem.partition()
                    )
                })?;
            let hook_start = self
                .consumer
                .context()
                .hook_starts
                .lock()
                .expect("hook starts lock")
                .get(&(elem.topic().to_string(), elem.partition()))
                .copied();
            let position = match elem.offset() {
                Offset::Offset(o) => o,
                // Nothing read yet: the partition starts where the hook said, else at the
                // committed offset, if any.
                _ => hook_start
                    .or_else(|| {
                        committed
                            .as_ref()
                            .and_then(|c| c.find_partition(elem.topic(), elem.partition()))
                            .and_then(|e| e.offset().to_raw())
                            .filter(|o| *o >= 0)
                    })
                    .unwrap_or(low),
            };
            if position < high {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Nanoseconds of the clock: tells apart readers started by one process.
fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Errors that retrying cannot fix: the user has to change a setting or a permission.
fn is_permanent(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::GroupAuthorizationFailed
            | RDKafkaErrorCode::SaslAuthenticationFailed
            | RDKafkaErrorCode::Authentication
            | RDKafkaErrorCode::Fatal
    )
}
