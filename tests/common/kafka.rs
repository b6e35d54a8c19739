//! Kafka fixtures for tests: creating topics, producing known input, and reading a topic back
//! as raw messages (key, headers, payload): for outputs that are not records (alerts), and to
//! check the keys and headers a tool gave.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// The broker's topics whose names start with `prefix`, sorted.
pub fn topics_named(brokers: &str, prefix: &str) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let mut names: Vec<String> = metadata
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Creates `topic` with `partitions` partitions (one replica each).
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    for result in results {
        result.unwrap();
    }
}

/// Produces `payloads` into `topic`, payload `i` to partition `i % partitions`, in order, and
/// waits until every one is acknowledged: the message at offset `o` of partition `p` is then
/// payload `o * partitions + p`.
pub async fn produce<P: AsRef<[u8]>>(brokers: &str, topic: &str, partitions: i32, payloads: &[P]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("linger.ms", "20")
        // One request at a time: a retry cannot reorder a partition.
        .set("max.in.flight.requests.per.connection", "1")
        .create()
        .unwrap();
    let mut deliveries = Vec::with_capacity(payloads.len());
    for (i, payload) in payloads.iter().enumerate() {
        let message = FutureRecord::<(), _>::to(topic)
            .payload(payload.as_ref())
            .partition(i as i32 % partitions);
        deliveries.push(producer.send_result(message).map_err(|(e, _)| e).unwrap());
    }
    for delivery in deliveries {
        delivery.await.unwrap().unwrap();
    }
}

/// One message as read back.
#[derive(Debug)]
pub struct Message {
    pub key: Option<String>,
    pub headers: HashMap<String, String>,
    pub payload: String,
}

/// Every message of `topic`, each partition from its beginning up to the end it has now: call
/// it once the producer is done.
pub fn read_topic(brokers: &str, topic: &str) -> Vec<Message> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // librdkafka wants a group to consume; partitions are assigned and nothing is committed.
        .set("group.id", "logsphere-tests-read-topic")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout).unwrap();
    let mut ends = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), timeout)
            .unwrap();
        if high > low {
            ends.insert(partition.id(), high);
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .unwrap();
        }
    }
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut messages = Vec::new();
    while !ends.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{topic}: partitions {ends:?} not read to their end in 30 s"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
        let headers = message.headers().map_or_else(HashMap::new, |headers| {
            headers
                .iter()
                .map(|h| (h.key.to_string(), text(h.value.unwrap_or_default())))
                .collect()
        });
        messages.push(Message {
            key: message.key().map(text),
            headers,
            payload: text(message.payload().unwrap_or_default()),
        });
        if ends
            .get(&message.partition())
            .is_some_and(|end| message.offset() + 1 >= *end)
        {
            ends.remove(&message.partition());
        }
    }
    messages
}
