//! Smoke tests of the servers `scripts/services` starts: each talks to the real server over a
//! real connection through the client the tools use (rdkafka, mongodb, hdfs-native), so a
//! broken install, a wrong setting or a missing feature (consumer groups, transactions,
//! HDFS block handling) shows up here before it shows up in a tool's tests.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use hdfs_native::{ClientBuilder, WriteOptions};
use mongodb::bson::{Document, doc};
use rdkafka::Offset;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// How long a step may wait on a server before the test fails instead of hanging.
const STEP_LIMIT: Duration = Duration::from_secs(60);

fn kafka_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config
}

fn group_consumer(brokers: &str, group: &str, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = kafka_config(brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // An idle consumer polls the broker this often; the default wait is far longer.
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("create a Kafka consumer");
    consumer
        .subscribe(&[topic])
        .expect("subscribe to the topic");
    consumer
}

/// Receives `count` messages as (key, payload, `seq` header), failing after `STEP_LIMIT`.
async fn receive(consumer: &StreamConsumer, count: usize) -> Vec<(String, String, String)> {
    let mut received = Vec::new();
    tokio::time::timeout(STEP_LIMIT, async {
        while received.len() < count {
            let message = consumer.recv().await.expect("receive a message");
            let text = |bytes: Option<&[u8]>| String::from_utf8(bytes.unwrap().to_vec()).unwrap();
            let seq = message
                .headers()
                .and_then(|headers| headers.iter().find(|h| h.key == "seq"))
                .map(|h| text(h.value))
                .expect("the seq header survives the round trip");
            received.push((text(message.key()), text(message.payload()), seq));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {count} messages arrived", received.len()));
    received
}

#[tokio::test]
async fn kafka_round_trip_through_a_consumer_group() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let topic = common::unique_name("services-smoke");
    let group = common::unique_name("services-smoke-group");

    let admin: AdminClient<DefaultClientContext> = kafka_config(&brokers)
        .create()
        .expect("create a Kafka admin client");
    let options = AdminOptions::new().operation_timeout(Some(STEP_LIMIT));
    for result in admin
        .create_topics(
            &[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .expect("create the topic")
    {
        result.expect("the broker created the topic");
    }

    let producer: FutureProducer = kafka_config(&brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .expect("create a Kafka producer");
    let mut sent = Vec::new();
    let mut next_offsets = BTreeMap::new();
    for seq in 0..30 {
        let (key, payload, seq) = (
            format!("key-{seq}"),
            format!("payload-{seq}"),
            seq.to_string(),
        );
        let headers = OwnedHeaders::new().insert(Header {
            key: "seq",
            value: Some(&seq),
        });
        let record = FutureRecord::to(&topic)
            .key(&key)
            .payload(&payload)
            .headers(headers);
        let delivery = producer
            .send(record, STEP_LIMIT)
            .await
            .map_err(|(e, _)| e)
            .expect("acked");
        next_offsets.insert(delivery.partition, delivery.offset + 1);
        sent.push((key, payload, seq));
    }
    assert!(
        next_offsets.len() > 1,
        "30 keyed messages should spread over the 3 partitions"
    );

    let consumer = group_consumer(&brokers, &group, &topic);
    let mut received = receive(&consumer, sent.len()).await;
    received.sort();
    sent.sort();
    assert_eq!(received, sent);

    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit the group's offsets");
    let committed: BTreeMap<i32, i64> = consumer
        .committed(STEP_LIMIT)
        .expect("read the committed offsets")
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some((e.partition(), offset)),
            _ => None,
        })
        .collect();
    assert_eq!(committed, next_offsets);
    drop(consumer);

    // A new member of the same group resumes after the committed offsets: it sees only the
    // message produced since.
    let record = FutureRecord::to(&topic)
        .key("key-late")
        .payload("payload-late")
        .headers(OwnedHeaders::new().insert(Header {
            key: "seq",
            value: Some("late"),
        }));
    producer
        .send(record, STEP_LIMIT)
        .await
        .map_err(|(e, _)| e)
        .expect("acked");
    let consumer = group_consumer(&brokers, &group, &topic);
    let late = receive(&consumer, 1).await;
    assert_eq!(
        late,
        [("key-late".into(), "payload-late".into(), "late".into())]
    );
    drop(consumer);

    for result in admin
        .delete_topics(&[&topic], &options)
        .await
        .expect("delete the topic")
    {
        result.expect("the broker deleted the topic");
    }
}

#[tokio::test]
async fn mongo_transactions_commit_and_abort_on_the_replica_set() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let client = mongodb::Client::with_uri_str(&uri)
        .await
        .expect("parse the MongoDB URI");
    let db = client.database(&common::unique_name("services_smoke"));
    let records = db.collection::<Document>("records");

    let mut session = client.start_session().await.expect("start a session");
    session
        .start_transaction()
        .await
        .expect("start a transaction");
    records
        .insert_many([doc! { "_id": "a", "n": 1 }, doc! { "_id": "b", "n": 2 }])
        .session(&mut session)
        .await
        .expect("insert inside the transaction");
    assert_eq!(
        records.count_documents(doc! {}).await.expect("count"),
        0,
        "an open transaction's writes are invisible outside it"
    );
    session.commit_transaction().await.expect("commit");

    session
        .start_transaction()
        .await
        .expect("start a second transaction");
    records
        .insert_one(doc! { "_id": "c", "n": 3 })
        .session(&mut session)
        .await
        .expect("insert inside the second transaction");
    session.abort_transaction().await.expect("abort");

    let mut cursor = records
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .expect("find");
    let mut found = Vec::new();
    while cursor.advance().await.expect("read the next document") {
        found.push(cursor.deserialize_current().expect("decode a document"));
    }
    assert_eq!(
        found,
        [doc! { "_id": "a", "n": 1 }, doc! { "_id": "b", "n": 2 }]
    );

    db.drop().await.expect("drop the test database");
}

#[tokio::test]
async fn hdfs_write_sync_append_rename_list_read() {
    let Some(uri) = common::hdfs_uri() else {
        return;
    };
    let client = ClientBuilder::new()
        .with_url(&uri)
        .build()
        .expect("create an HDFS client");
    let dir = format!("/{}", common::unique_name("services-smoke"));
    let (open, closed) = (format!("{dir}/_part.0"), format!("{dir}/part.0"));
    client.mkdirs(&dir, 0o755, true).await.expect("mkdirs");

    // 1 KiB blocks and 2 KiB of 64-byte lines: the file spans two blocks, the second one
    // finished by the append. (Not more: hdfs-native 0.14 does not retry a block allocation the
    // NameNode refuses while the block before last is still unconfirmed, which tiny blocks
    // written back to back can hit.)
    let line = |i: usize| format!("{{\"n\":{i:04},\"message\":\"{}\"}}\n", "x".repeat(40));
    let first: String = (0..24).map(line).collect();
    let second: String = (24..32).map(line).collect();
    assert_eq!((first.len(), second.len()), (1536, 512));
    let options = WriteOptions::default().block_size(1024).replication(1);
    let mut writer = client.create(&open, options).await.expect("create");
    writer
        .write_bytes(first.clone().into_bytes().into())
        .await
        .expect("write");
    writer.hsync().await.expect("hsync");
    writer.close().await.expect("close");
    let mut writer = client.append(&open).await.expect("append");
    writer
        .write_bytes(second.clone().into_bytes().into())
        .await
        .expect("write appended");
    writer.close().await.expect("close appended");

    client.rename(&open, &closed, false).await.expect("rename");
    let listing = client.list_status(&dir, false).await.expect("list");
    let expected = format!("{first}{second}");
    let names: Vec<_> = listing
        .iter()
        .map(|s| (s.path.as_str(), s.length))
        .collect();
    assert_eq!(names, [(closed.as_str(), expected.len())]);

    let reader = client.read(&closed).await.expect("open for reading");
    let content = reader
        .read_range(0, reader.file_length())
        .await
        .expect("read");
    assert_eq!(String::from_utf8(content.to_vec()).unwrap(), expected);

    assert!(
        client.delete(&dir, true).await.expect("delete"),
        "the test dir is removed"
    );
}
