//! The streaming loop of `ls-store`: records from the shared [`Input`] (stdin JSON lines or a
//! Kafka consumer group), in batches, into the [`Store`].
//!
//! Batches close when full or when their first record has waited `linger`; up to `in_flight`
//! batches are written at once, because MongoDB keeps several cores busy only with several
//! writes outstanding. While all of them are busy the loop reads nothing: that is the
//! backpressure upstream (a full pipe for stdin, a consumer that stops fetching for Kafka).
//!
//! With a consumer group, each batch's offsets are its progress, written in the transaction of
//! its critical records (see [`super::resume`]). Bulk inserts run concurrently, but that
//! transaction waits until every earlier batch is stored, so stored progress always means that
//! everything before it is stored; the group's offsets are then committed to Kafka in batch
//! order. For records read from tailed files, the [`AckTracker`] advances each file's LSN
//! position only over lines that are all stored, whatever order batches finish in.
//!
//! On a stop request (SIGTERM) reading stops, batches in flight are finished, their offsets
//! committed, the LSN store advanced and synced, and the loop returns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::doc::to_document;
use super::resume::progress_key;
use super::writer::{Batch, Outcome, Progress, Store};
use crate::ack::{AckTracker, Ticket};
use crate::cli::Shutdown;
use crate::input::{CommitToken, Input};
use crate::lsn::LsnStore;
use crate::record::{Level, Record};

/// How the loop batches and what it advances.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Documents per batch (one unordered insert_many, plus the critical transactions).
    pub batch_docs: usize,
    /// Batches written at the same time.
    pub in_flight: usize,
    /// Longest wait for a batch to fill before it is written anyway.
    pub linger: Duration,
    /// Records at this level and above are written in transactions.
    pub critical_level: Level,
    /// The LSN store to advance after commit.
    pub lsn_dir: Option<PathBuf>,
    /// The Kafka consumer group whose progress is stored with the critical records; `None`
    /// (stdin, or Kafka without a group) stores no progress.
    pub group: Option<String>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            batch_docs: 10_000,
            in_flight: 4,
            linger: Duration::from_millis(200),
            critical_level: Level::Error,
            lsn_dir: None,
            group: None,
        }
    }
}

/// What the loop did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestStats {
    pub records: u64,
    /// Input lines or messages skipped because they were not records.
    pub bad_records: u64,
    pub stored: Outcome,
}

/// A batch written: its sequence number, its LSN tickets, its offsets, what it stored.
type Written = (u64, Vec<Ticket>, CommitToken, Outcome);

/// Reads records from `input` until its end or a stop request, and stores them.
pub async fn run(
    store: Store,
    mut input: Input,
    options: IngestOptions,
    shutdown: Shutdown,
) -> Result<IngestStats> {
    let lsn = match &options.lsn_dir {
        Some(dir) => Some(LsnStore::open(dir)?),
        None => None,
    };
    let mut books = Books {
        tracker: AckTracker::new(),
        lsn,
        durable: BTreeMap::new(),
        next_to_commit: 0,
        committed: CommitToken::default(),
        stats: IngestStats::default(),
    };
    let mut tasks: JoinSet<Result<Written>> = JoinSet::new();
    let mut pending: Vec<Record> = Vec::with_capacity(options.batch_docs);
    let mut pending_token = CommitToken::default();
    let mut first_pending_at = Instant::now();
    let mut next_seq = 0u64;
    // Resolved once the previous batch is stored: orders the transactions that record progress.
    let mut previous_stored: Option<oneshot::Receiver<()>> = None;
    let mut input_done = false;
    loop {
        while let Some(done) = tasks.try_join_next() {
            books.finish(done, &input)?;
        }
        if !input_done {
            let wait = if pending.is_empty() {
                Duration::from_millis(100)
            } else {
                (first_pending_at + options.linger).saturating_duration_since(Instant::now())
            };
            let room = options.batch_docs - pending.len();
            match input.next_batch(room, wait).await? {
                None => input_done = true,
                Some(batch) => {
                    if pending.is_empty() && !batch.records.is_empty() {
                        first_pending_at = Instant::now();
                    }
                    books.stats.records += batch.records.len() as u64;
                    pending.extend(batch.records);
                    pending_token.merge(batch.token);
                }
            }
            if shutdown.requested() && !input_done {
                log::info!("stop requested: finishing the batches in flight");
                input_done = true;
            }
        }
        // Offsets alone (bad messages only) are committed in their turn too.
        let has_work = !pending.is_empty() || !pending_token.is_empty();
        let lingered = Instant::now() >= first_pending_at + options.linger;
        if has_work && (input_done || lingered || pending.len() >= options.batch_docs) {
            while tasks.len() >= options.in_flight {
                let done = tasks.join_next().await.expect("tasks is not empty");
                books.finish(done, &input)?;
            }
            let records = std::mem::take(&mut pending);
            let tickets = records
                .iter()
                .filter_map(|r| r.origin.as_ref())
                .map(|origin| books.tracker.track(origin.borrowed()))
                .collect();
            let token = std::mem::take(&mut pending_token);
            let progress: Vec<Progress> = match &options.group {
                Some(group) => token
                    .offsets()
                    .map(|(topic, partition, offset)| Progress {
                        key: progress_key(group, topic, partition),
                        offset,
                    })
                    .collect(),
                None => Vec::new(),
            };
            let (stored, next_previous) = oneshot::channel();
            let before = previous_stored.replace(next_previous);
            let store = store.clone();
            let critical_level = options.critical_level;
            let seq = next_seq;
            next_seq += 1;
            tasks.spawn(async move {
                let mut batch = to_batch(&records, critical_level);
                let mut outcome = store.insert_bulk(std::mem::take(&mut batch.bulk)).await?;
                if !progress.is_empty()
                    && let Some(before) = before
                {
                    before
                        .await
                        .map_err(|_| anyhow!("an earlier batch was not stored"))?;
                }
                batch.progress = progress;
                outcome += store.write(batch).await?;
                let _ = stored.send(()); // nobody waits after the last batch
                Ok((seq, tickets, token, outcome))
            });
        }
        if input_done && !has_work {
            match tasks.join_next().await {
                Some(done) => books.finish(done, &input)?,
                None => break,
            }
        }
    }
    books.stats.bad_records = input.bad_records();
    input.commit_and_wait(&books.committed)?;
    input.close();
    if let Some(lsn) = books.lsn.as_mut() {
        lsn.sync()?;
    }
    Ok(books.stats)
}

/// The records as documents, split into bulk and critical ones.
fn to_batch(records: &[Record], critical_level: Level) -> Batch {
    let mut batch = Batch::default();
    for record in records {
        let doc = to_document(record);
        if record.log_level >= critical_level {
            batch.critical.push(doc);
        } else {
            batch.bulk.push(doc);
        }
    }
    batch
}

/// What is stored, and how far progress has been passed upstream.
struct Books {
    tracker: AckTracker,
    lsn: Option<LsnStore>,
    /// Offsets of stored batches waiting for an earlier batch, by sequence number.
    durable: BTreeMap<u64, CommitToken>,
    next_to_commit: u64,
    /// Every offset committed so far, for the last commit that waits for the broker's answer.
    committed: CommitToken,
    stats: IngestStats,
}

impl Books {
    /// Books a finished batch: acknowledges its lines, advances the LSN store over them, and
    /// commits the offsets of every stored batch up to the first one still in flight
    /// (committing a later batch first would let a crash skip the earlier one).
    fn finish(
        &mut self,
        done: Result<Result<Written>, tokio::task::JoinError>,
        input: &Input,
    ) -> Result<()> {
        let (seq, tickets, token, outcome) =
            done.map_err(|e| anyhow!("a writer task failed: {e}"))??;
        self.stats.stored += outcome;
        for ticket in tickets {
            self.tracker.ack(ticket);
        }
        if let Some(lsn) = self.lsn.as_mut() {
            lsn.advance(self.tracker.take_advanced())?;
        }
        self.durable.insert(seq, token);
        let mut commit = CommitToken::default();
        while let Some(token) = self.durable.remove(&self.next_to_commit) {
            commit.merge(token);
            self.next_to_commit += 1;
        }
        if !commit.is_empty() {
            input.commit(&commit)?;
            self.committed.merge(commit);
        }
        Ok(())
    }
}
