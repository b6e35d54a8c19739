//! The shared record input: stdin lines, and Kafka consumer groups against the real broker.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use logsphere::input::{Input, InputArgs, StartFrom};
use logsphere::kafka::args::BrokerArgs;

fn record_line(id: &str, source: &str) -> String {
    format!(
        r#"{{"timestamp":"2026-11-22T10:00:00.000Z","log_level":"INFO","message":"m {id}","source":"{source}","category":"test","id":"{id}"}}"#
    )
}

/// Produces the records `ids` round-robin over `partitions`, acknowledged.
async fn produce(brokers: &str, topic: &str, partitions: i32, ids: &[String]) {
    let lines: Vec<String> = ids.iter().map(|id| record_line(id, "s")).collect();
    common::kafka::produce(brokers, topic, partitions, &lines).await;
}

fn group_args(topic: &str, group: &str) -> InputArgs {
    InputArgs {
        topic: vec![topic.to_string()],
        group: Some(group.to_string()),
        ..InputArgs::default()
    }
}

#[tokio::test]
async fn stdin_lines_come_in_batches_and_bad_lines_are_counted() {
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&record_line(&format!("r{i}"), "s"));
        text.push('\n');
        if i % 100 == 0 {
            text.push_str("not a record\n");
        }
    }
    let mut input: Input = Input::from_reader(std::io::Cursor::new(text.into_bytes()));
    let mut ids = Vec::new();
    while let Some(batch) = input.next_batch(64, Duration::from_secs(5)).await.unwrap() {
        assert!(batch.records.len() <= 64);
        assert!(batch.token.is_empty());
        ids.extend(batch.records.into_iter().map(|r| r.id));
    }
    let expected: Vec<String> = (0..1000).map(|i| format!("r{i}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(input.bad_records(), 10);
}

#[tokio::test]
async fn without_a_group_the_whole_topic_is_read_to_its_end() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let topic = common::unique_name("input-end");
    common::kafka::create_topic(&brokers, &topic, 3).await;
    let ids: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    produce(&brokers, &topic, 3, &ids).await;
    let args = InputArgs {
        topic: vec![topic.clone()],
        exit_at_end: true,
        ..InputArgs::default()
    };
    assert_eq!(args.start_from(), StartFrom::Beginning);
    let mut input: Input = Input::open(&args, &BrokerArgs::new(&brokers)).unwrap();
    let mut seen = HashSet::new();
    let started = Instant::now();
    while let Some(batch) = input
        .next_batch(100, Duration::from_millis(500))
        .await
        .unwrap()
    {
        assert_eq!(batch.records.len(), batch.offsets.len());
        seen.extend(batch.records.into_iter().map(|r| r.id));
        assert!(started.elapsed() < Duration::from_secs(60), "never ended");
    }
    assert_eq!(seen, ids.into_iter().collect::<HashSet<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_splits_partitions_and_a_survivor_takes_over_uncommitted_records() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let broker = BrokerArgs::new(&brokers);
    let topic = common::unique_name("input-group");
    let group = common::unique_name("group");
    common::kafka::create_topic(&brokers, &topic, 4).await;
    let mut a: Input = Input::open(&group_args(&topic, &group), &broker).unwrap();
    let mut b: Input = Input::open(&group_args(&topic, &group), &broker).unwrap();

    // Both members poll until the group has split the four partitions between them.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        a.next_batch(10, Duration::from_millis(200)).await.unwrap();
        b.next_batch(10, Duration::from_millis(200)).await.unwrap();
        let (pa, pb) = (
            a.kafka().unwrap().assignment(),
            b.kafka().unwrap().assignment(),
        );
        if !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == 4 {
            assert!(pa.iter().all(|p| !pb.contains(p)));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group never split: {pa:?} {pb:?}"
        );
    }

    let ids: Vec<String> = (0..400).map(|i| format!("g{i}")).collect();
    produce(&brokers, &topic, 4, &ids).await;

    // A commits its first batch only, and reads more that it never commits.
    let mut a_committed = HashSet::new();
    let mut a_uncommitted = HashSet::new();
    while a_uncommitted.len() + a_committed.len() < 200 {
        let batch = a
            .next_batch(30, Duration::from_secs(2))
            .await
            .unwrap()
            .unwrap();
        assert!(
            !batch.records.is_empty(),
            "A ran dry before reading its partitions"
        );
        let batch_ids = batch.records.iter().map(|r| r.id.clone());
        if a_committed.is_empty() {
            a.commit_and_wait(&batch.token).unwrap();
            a_committed.extend(batch_ids);
        } else {
            a_uncommitted.extend(batch_ids);
        }
    }
    // B reads and commits its half (waiting for the commit: an asynchronous one still in flight
    // at the rebalance would be refused, and its records read again).
    let mut b_before = HashSet::new();
    while b_before.len() < 200 {
        let batch = b
            .next_batch(100, Duration::from_secs(2))
            .await
            .unwrap()
            .unwrap();
        assert!(
            !batch.records.is_empty(),
            "B ran dry before reading its partitions"
        );
        b.commit_and_wait(&batch.token).unwrap();
        b_before.extend(batch.records.into_iter().map(|r| r.id));
    }
    a.close();

    // B takes A's partitions over and gets exactly what A did not commit.
    let mut b_after = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while b_after.len() < a_uncommitted.len() {
        let batch = b
            .next_batch(100, Duration::from_millis(500))
            .await
            .unwrap()
            .unwrap();
        b.commit(&batch.token).unwrap();
        b_after.extend(batch.records.into_iter().map(|r| r.id));
        assert!(
            Instant::now() < deadline,
            "B never took over A's partitions"
        );
    }
    assert_eq!(b.kafka().unwrap().assignment().len(), 4);
    assert_eq!(
        b_after, a_uncommitted,
        "B re-reads exactly A's uncommitted records"
    );
    let all: HashSet<String> = a_committed
        .iter()
        .chain(&b_before)
        .chain(&b_after)
        .cloned()
        .collect();
    assert_eq!(all, ids.into_iter().collect::<HashSet<_>>(), "nothing lost");
}
