//! `--alerts-topic T`: produces each alert to a Kafka topic, for whatever consumes alerts
//! elsewhere (a pager bridge, a dashboard, another ls-watch).
//!
//! The producer is configured like ls-ship's ([`PRODUCER_DEFAULTS`]: every replica acknowledges,
//! idempotent retries) with two differences for alerts ([`ALERT_SETTINGS`]; `-X` overrides
//! both): an alert is sent at once instead of lingering for a batch, and librdkafka retries its
//! delivery for a bounded time instead of for ever, so a broker that stays down costs alerts
//! that are reported on stderr and counted (ls-watch then exits 1) rather than a stalled watch:
//! stdout and `--exec` keep getting every alert meanwhile.
//!
//! As with every Kafka client of the project, brokers that do not answer at start are a usage
//! mistake reported at once (`--connect-timeout`); an outage later on is what the bounded
//! retries are for.
//!
//! Each message is one alert's JSON object, keyed by the alert's name, so that the alerts of one
//! rule (firing, then resolved) stay in order in one partition.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;

use super::alert::Alert;
use crate::kafka::args::BrokerArgs;
use crate::kafka::producer::PRODUCER_DEFAULTS;

/// Where alerts differ from ls-ship's records (see the module doc).
pub const ALERT_SETTINGS: [(&str, &str); 2] = [("linger.ms", "0"), ("message.timeout.ms", "30000")];

/// Counts and reports the alerts Kafka did not take; shared by a producer and its replacement.
#[derive(Clone)]
struct AlertContext {
    topic: Arc<str>,
    failed: Arc<AtomicU64>,
}

impl AlertContext {
    fn failed(&self, alert: &str, error: &KafkaError) {
        let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
        if failed <= 10 || failed.is_multiple_of(1000) {
            log::error!(
                "alert {alert:?} could not be delivered to Kafka topic {}: {error} ({failed} so far)",
                self.topic
            );
        }
    }
}

impl ClientContext for AlertContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let detail = format!("{reason} (--alerts-topic; retrying)");
        crate::kafka::log_client_error(log::Level::Warn, &error, &detail);
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        crate::kafka::log_librdkafka(level, facility, message);
    }
}

impl ProducerContext for AlertContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, message)) = result {
            let name = String::from_utf8_lossy(message.key().unwrap_or_default());
            self.failed(&name, error);
        }
    }
}

/// The alerts topic's producer.
pub struct AlertTopic {
    producer: ThreadedProducer<AlertContext>,
    /// How the producer is made, to replace it after a fatal error.
    config: rdkafka::ClientConfig,
    context: AlertContext,
}

impl AlertTopic {
    pub fn open(broker: &BrokerArgs, topic: &str) -> Result<AlertTopic> {
        let settings: Vec<(&str, &str)> = PRODUCER_DEFAULTS
            .iter()
            .chain(&ALERT_SETTINGS)
            .copied()
            .collect();
        let config = broker.client_config(&settings)?;
        let context = AlertContext {
            topic: topic.into(),
            failed: Arc::default(),
        };
        let producer = create_producer(&config, &context)?;
        broker.ensure_reachable(producer.client(), &config)?;
        Ok(AlertTopic {
            producer,
            config,
            context,
        })
    }

    /// Hands one alert (its JSON line) to the producer; a refusal is reported and counted.
    pub fn send(&mut self, alert: &Alert, line: &str) -> Result<()> {
        if let Some((code, reason)) = self.producer.client().fatal_error() {
            // Fenced by the broker (it lost the idempotence state): the alerts the old producer
            // still held are reported as failed when it is dropped; later ones go to a new one.
            log::warn!(
                "the Kafka producer of --alerts-topic failed ({code}: {reason}); starting a new one"
            );
            self.producer = create_producer(&self.config, &self.context)?;
        }
        let mut message = BaseRecord::to(&self.context.topic)
            .key(alert.name.as_str())
            .payload(line.trim_end());
        loop {
            match self.producer.send(message) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((error, _)) => {
                    self.context.failed(&alert.name, &error);
                    return Ok(());
                }
            }
        }
    }

    /// Waits until every alert sent so far is delivered or has failed for good.
    pub fn wait_delivered(&self) {
        if let Err(e) = self.producer.flush(Timeout::Never) {
            log::warn!("cannot wait for the alerts sent to Kafka: {e}");
        }
    }

    /// Alerts that could not be delivered so far.
    pub fn failed(&self) -> u64 {
        self.context.failed.load(Ordering::Relaxed)
    }
}

fn create_producer(
    config: &rdkafka::ClientConfig,
    context: &AlertContext,
) -> Result<ThreadedProducer<AlertContext>> {
    config
        .create_with_context(context.clone())
        .context("cannot create the Kafka producer for --alerts-topic")
}
