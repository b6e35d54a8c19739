//! Shipping records into Kafka topics with delivery-acknowledged checkpoints (ls-ship).
//!
//! Each record goes to the topic its category selects (`logs.{category}`), keyed by its source
//! so that one source's records stay in order in one partition, with its id and origin as
//! headers. The value is the record's JSON as it came in when it is already in normal form
//! ([`RecordLine`]): shipping does not parse and write every record again. The producer defaults are chosen for no loss ([`PRODUCER_DEFAULTS`]): every replica
//! acknowledges, idempotence keeps retries from duplicating or reordering, and delivery is
//! retried without a time limit, so a broker that is down only makes ls-ship wait.
//!
//! Memory stays bounded: at most `max_in_flight` records are unacknowledged; beyond that
//! ls-ship stops reading its input (the pipe fills and ls-tail waits). A record Kafka refuses
//! for good (too large, topic denied or missing) is written to the dead-letter file and counted;
//! without one it is counted as failed and its file position never advances past it.
//!
//! With an LSN store, each file's position advances only to the highest line whose delivery was
//! confirmed and all lines before it too ([`AckTracker`]), so a crash of ls-ship or the broker
//! re-sends at most what was in flight, under the same ids.

use std::borrow::Cow;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext, PurgeConfig};

use super::args::BrokerArgs;
use crate::ack::{AckTracker, Ticket};
use crate::cli::Shutdown;
use crate::input::Input;
use crate::lsn::LsnStore;
use crate::record::RecordLine;
use crate::record::write::write_origin;

/// librdkafka settings for no loss and throughput; `-X` overrides any of them.
pub const PRODUCER_DEFAULTS: [(&str, &str); 11] = [
    ("acks", "all"),
    ("enable.idempotence", "true"),
    // Retry until delivered: an outage makes ls-ship wait, never drop.
    ("message.timeout.ms", "0"),
    ("retry.backoff.ms", "100"),
    ("retry.backoff.max.ms", "2000"),
    // lz4 is built into librdkafka and cheap on CPU: the input side needs the cores.
    ("compression.codec", "lz4"),
    ("linger.ms", "20"),
    ("batch.size", "1048576"),
    ("batch.num.messages", "100000"),
    // librdkafka's own queue: room for ls-ship's in-flight bound (DEFAULT_MAX_IN_FLIGHT) of
    // records up to ~640 bytes; larger records wait on the queue, which bounds memory by bytes.
    ("queue.buffering.max.messages", "200000"),
    ("queue.buffering.max.kbytes", "65536"),
];

/// Records sent and not yet acknowledged, at most, by default. About 0.1 s of a fast stream:
/// plenty to keep the broker busy, while a bigger bound only grows memory (ls-ship read faster
/// than the broker acknowledges, so the bound fills) and the time spent on fresh pages.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 100_000;

/// How often the LSN store advances and the progress line updates.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);
/// Records taken from the input at a time.
const BATCH: usize = 8192;

/// A topic name with `{category}` in it.
#[derive(Debug, Clone)]
pub struct TopicTemplate {
    template: String,
    /// Topic per category name. Categories are few: a list is faster to search than a map.
    topics: Vec<(String, String)>,
}

impl TopicTemplate {
    const PLACEHOLDER: &'static str = "{category}";

    /// Checks that every topic the template can give is a legal Kafka topic name.
    pub fn new(template: &str) -> Result<TopicTemplate, String> {
        let fixed = template.replace(Self::PLACEHOLDER, "");
        let legal = fixed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !legal || template.len() + 64 - Self::PLACEHOLDER.len() > 249 {
            return Err(format!(
                "topic template {template:?}: a topic name is up to 249 of [a-zA-Z0-9._-], with {{category}} where the category goes"
            ));
        }
        if fixed.is_empty() && !template.contains(Self::PLACEHOLDER) {
            return Err("the topic template is empty".into());
        }
        Ok(TopicTemplate {
            template: template.to_string(),
            topics: Vec::new(),
        })
    }

    /// The topic for a (valid) category.
    pub fn topic(&mut self, category: &str) -> &str {
        let index = match self.topics.iter().position(|(c, _)| c == category) {
            Some(index) => index,
            None => {
                let topic = self.template.replace(Self::PLACEHOLDER, category);
                self.topics.push((category.to_string(), topic));
                self.topics.len() - 1
            }
        };
        &self.topics[index].1
    }
}

/// What to ship where.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    pub topics: TopicTemplate,
    /// The record field whose value is the message key: `source`, `id`, `category` or an extra.
    pub key_field: String,
    pub lsn_dir: Option<PathBuf>,
    pub dead_letter: Option<PathBuf>,
    /// Records sent and not yet acknowledged, at most.
    pub max_in_flight: usize,
    /// Show a live progress line on stderr (only when it is a terminal).
    pub progress: bool,
}

/// What happened to the records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipReport {
    pub sent: u64,
    pub delivered: u64,
    /// Refused for good and written to the dead-letter file.
    pub dead_lettered: u64,
    /// Refused for good with nowhere to keep them.
    pub failed: u64,
    /// Input lines that were not records.
    pub bad_input: u64,
    pub bytes: u64,
}

impl ShipReport {
    /// True when every record read reached Kafka.
    pub fn all_delivered(&self) -> bool {
        self.dead_lettered == 0 && self.failed == 0
    }
}

/// A delivery the producer reported: the slot of the record, and on failure the message.
struct Delivery {
    slot: usize,
    failed: Option<(KafkaError, FailedMessage)>,
}

/// A message that was not delivered, kept to be re-sent or dead-lettered.
struct FailedMessage {
    topic: String,
    key: Option<Vec<u8>>,
    headers: Option<OwnedHeaders>,
    payload: Vec<u8>,
}

/// Collects the producer's delivery reports for the shipping loop; shared by a producer and
/// its replacement after a fatal error.
#[derive(Default, Clone)]
struct ShipContext {
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl ClientContext for ShipContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let detail = format!("{reason} (retrying; nothing is dropped)");
        super::log_client_error(log::Level::Warn, &error, &detail);
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        super::log_librdkafka(level, facility, message);
    }
}

impl ProducerContext for ShipContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: usize) {
        let failed = match result {
            Ok(_) => None,
            Err((error, message)) => Some((
                error.clone(),
                FailedMessage {
                    topic: message.topic().to_string(),
                    key: message.key().map(<[u8]>::to_vec),
                    headers: message.headers().map(|h| h.detach()),
                    payload: message.payload().unwrap_or_default().to_vec(),
                },
            )),
        };
        self.deliveries
            .lock()
            .expect("deliveries lock")
            .push(Delivery { slot, failed });
    }
}

/// Records in flight: the producer's opaque is an index here, holding the record's ticket.
#[derive(Default)]
struct Slots {
    tickets: Vec<Option<Ticket>>,
    free: Vec<usize>,
}

impl Slots {
    fn take(&mut self, ticket: Option<Ticket>) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.tickets[slot] = ticket;
                slot
            }
            None => {
                self.tickets.push(ticket);
                self.tickets.len() - 1
            }
        }
    }

    fn release(&mut self, slot: usize) -> Option<Ticket> {
        self.free.push(slot);
        self.tickets[slot].take()
    }

    fn in_use(&self) -> usize {
        self.tickets.len() - self.free.len()
    }
}

/// The shipping loop's state.
struct Shipper {
    producer: BaseProducer<ShipContext>,
    /// How the producer is made, to replace it after a fatal error.
    config: rdkafka::ClientConfig,
    context: ShipContext,
    options: ShipOptions,
    tracker: AckTracker,
    lsn: Option<LsnStore>,
    dead_letter: Option<File>,
    slots: Slots,
    report: ShipReport,
    /// The origin header being built (reused: one per record).
    origin_header: Vec<u8>,
    progress: Option<indicatif::ProgressBar>,
    last_checkpoint: Instant,
    started: Instant,
}

/// Ships every record of `input` until it ends or a stop is asked for, then drains: waits until
/// everything sent is acknowledged (or refused) and checkpoints.
pub async fn ship(
    input: &mut Input<RecordLine>,
    broker: &BrokerArgs,
    options: ShipOptions,
    shutdown: &Shutdown,
) -> Result<ShipReport> {
    let mut shipper = Shipper::new(broker, options)?;
    while !shutdown.requested() {
        shipper.wait_below_bound()?;
        let Some(batch) = input.next_batch(BATCH, CHECKPOINT_INTERVAL).await? else {
            break;
        };
        for record in &batch.records {
            shipper.send(record)?;
        }
        shipper.poll(Duration::ZERO)?;
    }
    shipper.drain()?;
    shipper.report.bad_input = input.bad_records();
    Ok(shipper.report)
}

impl Shipper {
    fn new(broker: &BrokerArgs, options: ShipOptions) -> Result<Shipper> {
        let config = broker.client_config(&PRODUCER_DEFAULTS)?;
        let context = ShipContext::default();
        let producer = create_producer(&config, &context)?;
        broker.ensure_reachable(producer.client(), &config)?;
        let lsn = match &options.lsn_dir {
            Some(dir) => Some(LsnStore::open(dir)?),
            None => None,
        };
        let dead_letter = match &options.dead_letter {
            Some(path) => Some(open_dead_letter(path)?),
            None => None,
        };
        let progress = (options.progress && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar
        });
        Ok(Shipper {
            producer,
            config,
            context,
            options,
            tracker: AckTracker::new(),
            lsn,
            dead_letter,
            slots: Slots::default(),
            report: ShipReport::default(),
            origin_header: Vec::with_capacity(256),
            progress,
            last_checkpoint: Instant::now(),
            started: Instant::now(),
        })
    }

    /// Hands one record to the producer, waiting while its queue is full.
    fn send(&mut self, record: &RecordLine) -> Result<()> {
        let ticket = match (&self.lsn, record.origin()) {
            (Some(_), Some(origin)) => Some(self.tracker.track(origin)),
            _ => None,
        };
        let slot = self.slots.take(ticket);
        let mut headers = OwnedHeaders::new_with_capacity(2).insert(Header {
            key: "id",
            value: Some(record.id().as_bytes()),
        });
        if let Some(origin) = record.origin() {
            self.origin_header.clear();
            write_origin(origin, &mut self.origin_header);
            headers = headers.insert(Header {
                key: "origin",
                value: Some(self.origin_header.as_slice()),
            });
        }
        let key = record_key(record, &self.options.key_field);
        let topic = self.options.topics.topic(record.category());
        let value = record.json();
        let mut message = BaseRecord::with_opaque_to(topic, slot)
            .payload(value)
            .headers(headers);
        if let Some(key) = &key {
            message = message.key(key.as_bytes());
        }
        self.report.sent += 1;
        self.report.bytes += value.len() as u64 + 1;
        match produce(&self.producer, message) {
            Ok(()) => Ok(()),
            Err((error, failed)) if self.producer.client().fatal_error().is_some() => {
                // Refused by a failed producer, not for itself: re-sent after the restart.
                let delivery = Delivery {
                    slot,
                    failed: Some((error, *failed)),
                };
                self.context
                    .deliveries
                    .lock()
                    .expect("deliveries lock")
                    .push(delivery);
                Ok(())
            }
            Err((error, failed)) => self.refused(slot, error, *failed),
        }
    }

    /// Replaces a producer that failed for good (a broker that lost the idempotence state
    /// across a restart fences it): what it still held is re-sent by a new one.
    fn restart_producer(&mut self, code: RDKafkaErrorCode, reason: &str) -> Result<()> {
        log::warn!(
            "the Kafka producer failed ({code}: {reason}); re-sending its {} records in flight with a new one",
            self.slots.in_use()
        );
        self.producer
            .purge(PurgeConfig::default().queue().inflight());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            self.producer.poll(Duration::from_millis(50));
        }
        self.producer = create_producer(&self.config, &self.context)?;
        let deliveries =
            std::mem::take(&mut *self.context.deliveries.lock().expect("deliveries lock"));
        for delivery in deliveries {
            match delivery.failed {
                None => self.delivered(delivery.slot),
                Some((_, message)) => {
                    let mut record = BaseRecord::with_opaque_to(&message.topic, delivery.slot)
                        .payload(message.payload.as_slice());
                    if let Some(key) = &message.key {
                        record = record.key(key.as_slice());
                    }
                    if let Some(headers) = message.headers.clone() {
                        record = record.headers(headers);
                    }
                    if let Err((error, failed)) = produce(&self.producer, record) {
                        self.refused(delivery.slot, error, *failed)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn delivered(&mut self, slot: usize) {
        self.report.delivered += 1;
        if let Some(ticket) = self.slots.release(slot) {
            self.tracker.ack(ticket);
        }
    }

    /// Serves delivery reports for up to `timeout`, and checkpoints when it is time.
    fn poll(&mut self, timeout: Duration) -> Result<()> {
        self.producer.poll(timeout);
        if let Some((code, reason)) = self.producer.client().fatal_error() {
            self.restart_producer(code, &reason)?;
        }
        self.take_deliveries()?;
        if self.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Stops reading input while too many records are unacknowledged.
    fn wait_below_bound(&mut self) -> Result<()> {
        self.poll(Duration::ZERO)?;
        while self.slots.in_use() >= self.options.max_in_flight {
            self.poll(Duration::from_millis(50))?;
        }
        Ok(())
    }

    /// Waits for every record in flight, then checkpoints and syncs.
    fn drain(&mut self) -> Result<()> {
        while self.slots.in_use() > 0 {
            self.poll(Duration::from_millis(50))?;
        }
        self.checkpoint()?;
        if let Some(lsn) = &mut self.lsn {
            lsn.sync()?;
        }
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        Ok(())
    }

    fn take_deliveries(&mut self) -> Result<()> {
        if self.producer.client().fatal_error().is_some() {
            // Its failures are the producer's, not the records': restart_producer re-sends them.
            return Ok(());
        }
        let deliveries =
            std::mem::take(&mut *self.context.deliveries.lock().expect("deliveries lock"));
        for delivery in deliveries {
            match delivery.failed {
                None => self.delivered(delivery.slot),
                Some((error, message)) => self.refused(delivery.slot, error, message)?,
            }
        }
        Ok(())
    }

    /// A record Kafka will never take: into the dead-letter file (synced, so that its line may
    /// count as done), or counted as failed and never checkpointed past.
    fn refused(&mut self, slot: usize, error: KafkaError, message: FailedMessage) -> Result<()> {
        let (topic, payload) = (&message.topic, &message.payload);
        let ticket = self.slots.release(slot);
        let Some(file) = &mut self.dead_letter else {
            self.report.failed += 1;
            log::error!(
                "a record for topic {topic} cannot be delivered: {error} (no --dead-letter file: its line is not checkpointed)"
            );
            return Ok(());
        };
        self.report.dead_lettered += 1;
        if self.report.dead_lettered <= 10 || self.report.dead_lettered.is_multiple_of(1000) {
            log::error!(
                "a record for topic {topic} cannot be delivered: {error}; written to the dead-letter file ({} so far)",
                self.report.dead_lettered
            );
        }
        let path = self.options.dead_letter.as_deref().unwrap_or(Path::new(""));
        file.write_all(payload)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot write the dead-letter file {}", path.display()))?;
        if let Some(ticket) = ticket {
            self.tracker.ack(ticket);
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.last_checkpoint = Instant::now();
        if let Some(lsn) = &mut self.lsn {
            lsn.advance(self.tracker.take_advanced())?;
        }
        if let Some(bar) = &self.progress {
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{:.0} records/s, {:.1} MiB/s, {} in flight, {} acknowledged",
                self.report.sent as f64 / secs,
                self.report.bytes as f64 / secs / (1 << 20) as f64,
                self.slots.in_use(),
                self.report.delivered
            ));
            bar.tick();
        }
        Ok(())
    }
}

fn create_producer(
    config: &rdkafka::ClientConfig,
    context: &ShipContext,
) -> Result<BaseProducer<ShipContext>> {
    config
        .create_with_context(context.clone())
        .context("cannot create the Kafka producer")
}

/// Hands a message to the producer, serving its delivery reports (queued for
/// `take_deliveries`) while its queue is full. A refusal comes back with the message.
fn produce(
    producer: &BaseProducer<ShipContext>,
    mut record: BaseRecord<'_, [u8], [u8], usize>,
) -> Result<(), (KafkaError, Box<FailedMessage>)> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(10));
            }
            Err((error, back)) => {
                let message = FailedMessage {
                    topic: back.topic.to_string(),
                    key: back.key.map(<[u8]>::to_vec),
                    headers: back.headers,
                    payload: back.payload.unwrap_or_default().to_vec(),
                };
                return Err((error, Box::new(message)));
            }
        }
    }
}

/// The message key: the named field's value, `None` when the record lacks it.
fn record_key<'a>(record: &'a RecordLine, field: &str) -> Option<Cow<'a, str>> {
    match field {
        "source" => Some(Cow::Borrowed(record.source())),
        "id" => Some(Cow::Borrowed(record.id())),
        "category" => Some(Cow::Borrowed(record.category())),
        // Extra fields are not taken out of the line: parse it again (a rarer choice of key).
        _ => record.record().extra.get(field).map(|value| match value {
            serde_json::Value::String(s) => Cow::Owned(s.clone()),
            other => Cow::Owned(other.to_string()),
        }),
    }
}

fn open_dead_letter(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the dead-letter file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_templates_give_legal_names_only() {
        let mut template = TopicTemplate::new("logs.{category}").unwrap();
        assert_eq!(template.topic("error"), "logs.error");
        assert!(TopicTemplate::new("logs/{category}").is_err());
        assert!(TopicTemplate::new("").is_err());
        assert!(TopicTemplate::new(&"x".repeat(200)).is_err());
        assert!(TopicTemplate::new("all-logs").is_ok());
    }

    #[test]
    fn slots_are_reused() {
        let mut slots = Slots::default();
        let a = slots.take(None);
        let b = slots.take(None);
        assert_ne!(a, b);
        slots.release(a);
        assert_eq!(slots.in_use(), 1);
        assert_eq!(slots.take(None), a);
    }
}
