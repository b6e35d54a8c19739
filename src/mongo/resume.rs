//! Where a Kafka consumer group member of ls-store resumes: the progress stored in MongoDB in
//! the same transactions as the critical records, or the group's committed offsets when those
//! are further on.
//!
//! Each batch's offsets are written as progress (`{_id: "<group>/<topic>/<partition>", offset}`,
//! the next offset to read) in the transaction of its critical records, once every earlier batch
//! is stored; the group's offsets are committed to Kafka only after that. So after a crash the
//! stored progress is usually ahead of the committed offsets, and starting there means the
//! critical records of the batches that committed their transaction are not even read again.
//! Both only ever name records that are stored, so starting at the further of the two skips
//! nothing. A partition known to neither starts at its beginning.
//!
//! A member killed in the middle of a transaction leaves it open on the server, holding the
//! progress documents, until MongoDB's transaction lifetime limit (60 s by default) aborts it.
//! So that the member taking its partitions over does not wait for that, each assignment first
//! aborts the idle transactions of the collection's other writers
//! ([`Store::abort_abandoned_transactions`]).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::writer::Store;
use crate::input::{Input, InputArgs, StartFrom, StartOffsets};
use crate::kafka::args::BrokerArgs;

/// How long the lookup of the group's committed offsets may take at an assignment.
const COMMITTED_LOOKUP: Duration = Duration::from_secs(10);

/// The key of one partition's progress in the progress collection.
pub fn progress_key(group: &str, topic: &str, partition: i32) -> String {
    format!("{group}/{topic}/{partition}")
}

/// The start-offsets hook of the consumer of `group`: for each assigned partition, the progress
/// stored in MongoDB when it is ahead of the group's committed offset (or the group has none).
///
/// The hook runs inside the consumer's poll, on the thread awaiting the next batch, which must
/// belong to a multi-threaded runtime (MongoDB is queried with `block_in_place`).
fn start_offsets(store: &Store, group: &str, broker: &BrokerArgs) -> Result<StartOffsets> {
    // The consumer's own handle is not available inside the hook; a second client of the same
    // group (which never joins it) reads the committed offsets.
    let mut config = broker.client_config(&[("enable.auto.commit", "false")])?;
    config.set("group.id", group);
    let committed_lookup: BaseConsumer = config
        .create()
        .context("cannot create the Kafka client that reads the committed offsets")?;
    let store = store.clone();
    let group = group.to_string();
    let runtime = tokio::runtime::Handle::current();
    Ok(Box::new(move |partitions: &[(String, i32)]| {
        let aborted =
            tokio::task::block_in_place(|| runtime.block_on(store.abort_abandoned_transactions()));
        if let Err(e) = aborted {
            log::warn!(
                "cannot abort the transactions left open by other writers ({e:#}): MongoDB ends them after its transaction lifetime limit"
            );
        }
        let committed = committed_offsets(&committed_lookup, partitions);
        partitions
            .iter()
            .filter_map(|(topic, partition)| {
                let key = progress_key(&group, topic, *partition);
                let stored = tokio::task::block_in_place(|| {
                    runtime.block_on(store.stored_progress(&key))
                });
                let stored = match stored {
                    Ok(stored) => stored?,
                    Err(e) => {
                        log::warn!(
                            "cannot read the progress of {key} from MongoDB ({e:#}): starting at the group's committed offset"
                        );
                        return None;
                    }
                };
                let kafka = committed.get(&(topic.clone(), *partition)).copied();
                log::info!(
                    "{key}: progress stored in MongoDB {stored}, committed in Kafka {}",
                    kafka.map_or("none".to_string(), |k| k.to_string())
                );
                (kafka.is_none_or(|k| stored > k)).then(|| (topic.clone(), *partition, stored))
            })
            .collect()
    }))
}

/// The group's committed offsets of `partitions`, for those that have one. A failed lookup
/// counts as none: the stored progress then decides, which is safe as it only names stored
/// records.
fn committed_offsets(
    lookup: &BaseConsumer,
    partitions: &[(String, i32)],
) -> HashMap<(String, i32), i64> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    match lookup.committed_offsets(tpl, COMMITTED_LOOKUP) {
        Ok(tpl) => tpl
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect(),
        Err(e) => {
            log::warn!(
                "cannot read the group's committed offsets ({e}): using the stored progress"
            );
            HashMap::new()
        }
    }
}

/// Opens the input `args` describe; a consumer group starting from stored positions (the
/// default with `--group`) resumes each assigned partition as the module docs say.
pub fn open_input(store: &Store, args: &InputArgs, broker: &BrokerArgs) -> Result<Input> {
    match &args.group {
        Some(group) if !args.topic.is_empty() && args.start_from() == StartFrom::Stored => {
            let hook = start_offsets(store, group, broker)?;
            Input::open_with_start_offsets(args, broker, Some(hook))
        }
        _ => Input::open(args, broker),
    }
}
