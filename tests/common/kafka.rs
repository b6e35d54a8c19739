//! Reading a topic back as raw messages (key, headers, payload): for outputs that are not
//! records (alerts), and to check the keys and headers a tool gave.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

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
