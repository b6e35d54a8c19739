//! The ls-roll loop: records in from the shared [`Input`] (stdin or a Kafka consumer group), into
//! the roller, with the time trigger driven by the roller's deadlines; LSN positions advance and
//! Kafka offsets are committed only for records synced in archive files, and a closed file gets
//! its final name only once the offsets of all its records are committed (and the broker said
//! so): until then a crash leaves it to the start-up recovery, which drops the records sent again.
//!
//! The input reads on its own thread (stdin) or in librdkafka's (Kafka), and waits at most until
//! the roller's next deadline, so that a quiet input never delays a roll or a sync. The roller
//! itself runs outside the async runtime: its HDFS client is blocking.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::runtime::Runtime;

use super::roller::{Closed, RollStats, Roller};
use crate::ack::{AckTracker, Ticket};
use crate::cli::Shutdown;
use crate::input::{self, CommitToken, Input};
use crate::lsn::LsnStore;
use crate::record::RecordLine;

/// Most records taken from the input at a time: one chunk of the stdin reader's, so that
/// records are written while they are still in the cache. Batches of 4096, merged from the
/// chunks that had arrived, took about 10 % more CPU.
const BATCH: usize = input::CHUNK;
/// Longest wait before looking at the shutdown flag again.
const POLL: Duration = Duration::from_millis(200);

/// What the roller hands back once a record is synced: its LSN ticket (records of tailed files)
/// and the sequence number of the input batch it came in.
pub type Durable = (Option<Ticket>, u64);

/// Input batches whose records are not all durable yet, oldest first: a batch's offsets are
/// committed only once it and every earlier batch are wholly durable, so that a commit never
/// skips an unsynced record.
#[derive(Default)]
struct PendingBatches {
    /// Sequence number of the front batch.
    first: u64,
    /// Per batch: records not yet durable, and the batch's commit token.
    batches: VecDeque<(usize, CommitToken)>,
}

impl PendingBatches {
    /// Registers a batch of `records` records; returns its sequence number.
    fn push(&mut self, records: usize, token: CommitToken) -> u64 {
        self.batches.push_back((records, token));
        self.first + self.batches.len() as u64 - 1
    }

    /// The sequence number the next batch gets.
    fn next(&self) -> u64 {
        self.first + self.batches.len() as u64
    }

    /// Notes that one record of batch `seq` is durable.
    fn durable(&mut self, seq: u64) {
        let (left, _) = &mut self.batches[(seq - self.first) as usize];
        *left -= 1;
    }

    /// The merged tokens of the wholly durable batches at the front, removed.
    fn take_ready(&mut self) -> CommitToken {
        let mut ready = CommitToken::default();
        while self.batches.front().is_some_and(|(left, _)| *left == 0) {
            let (_, token) = self.batches.pop_front().expect("front exists");
            ready.merge(token);
            self.first += 1;
        }
        ready
    }
}

/// The bookkeeping of what became durable: LSN positions and Kafka offsets.
struct Progress {
    tracker: AckTracker,
    lsn: Option<LsnStore>,
    pending: PendingBatches,
    /// Closed files not yet named, each with the sequence number of the first batch after
    /// every batch whose records it may hold.
    unnamed: VecDeque<(u64, Vec<Closed>)>,
    /// Offsets committed since the last commit the broker confirmed.
    unconfirmed: CommitToken,
}

impl Progress {
    /// Advances the LSN store over the records that became durable, and returns the offsets
    /// that may now be committed.
    fn advance(&mut self, roller: &mut Roller<Durable>) -> Result<CommitToken> {
        for (ticket, seq) in roller.take_durable() {
            if let Some(ticket) = ticket {
                self.tracker.ack(ticket);
            }
            self.pending.durable(seq);
        }
        if let Some(lsn) = &mut self.lsn {
            lsn.advance(self.tracker.take_advanced())
                .context("cannot advance the LSN store")?;
        }
        Ok(self.pending.take_ready())
    }

    /// Takes the roller's durable records and closed files, commits what became durable, and
    /// names the closed files whose records are all committed, once the broker confirmed it.
    fn commit(
        &mut self,
        input: &Input<RecordLine>,
        roller: &mut Roller<Durable>,
        wait: bool,
    ) -> Result<()> {
        let closed = roller.take_closed();
        if !closed.is_empty() {
            self.unnamed.push_back((self.pending.next(), closed));
        }
        let ready = self.advance(roller)?;
        let due = |unnamed: &VecDeque<(u64, Vec<Closed>)>, first: u64| {
            unnamed.front().is_some_and(|(after, _)| *after <= first)
        };
        if wait || due(&self.unnamed, self.pending.first) {
            self.unconfirmed.merge(ready);
            match input.commit_and_wait(&self.unconfirmed) {
                Ok(()) => self.unconfirmed = CommitToken::default(),
                // A rebalance can refuse a commit: the files wait for the next one.
                Err(err) if !wait => {
                    log::warn!("{err:#}; closed files keep their in-progress names meanwhile");
                    return Ok(());
                }
                Err(err) => return Err(err),
            }
            let mut files = Vec::new();
            while due(&self.unnamed, self.pending.first) {
                files.extend(self.unnamed.pop_front().expect("due").1);
            }
            // At the end, every close is waited for; before, a file still closing is named by
            // a later tick.
            roller.name(files, Utc::now(), wait)?;
        } else if !ready.is_empty() {
            input.commit(&ready)?;
            self.unconfirmed.merge(ready);
        }
        Ok(())
    }
}

/// Rolls the records of `input` until it ends or a stop is requested; then closes every file
/// and commits. Returns the counts, with the bad input records.
pub fn roll_stream(
    runtime: &Runtime,
    mut input: Input<RecordLine>,
    mut roller: Roller<Durable>,
    lsn: Option<LsnStore>,
    shutdown: &Shutdown,
) -> Result<(RollStats, u64)> {
    let mut progress = Progress {
        tracker: AckTracker::new(),
        lsn,
        pending: PendingBatches::default(),
        unnamed: VecDeque::new(),
        unconfirmed: CommitToken::default(),
    };
    let mut input_error = None;
    while !shutdown.requested() {
        let wait = roller.next_deadline().map_or(POLL, |t| {
            (t - Utc::now()).to_std().unwrap_or_default().min(POLL)
        });
        match runtime.block_on(input.next_batch(BATCH, wait)) {
            Ok(Some(batch)) if !batch.records.is_empty() => {
                let seq = progress.pending.push(batch.records.len(), batch.token);
                // The batch arrived at once: one clock reading for all its records.
                let now = Utc::now();
                for record in &batch.records {
                    // Positions are tracked only for an LSN store to advance.
                    let ticket = match (&progress.lsn, record.origin()) {
                        (Some(_), Some(origin)) => Some(progress.tracker.track(origin)),
                        _ => None,
                    };
                    roller.write(record, (ticket, seq), now)?;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(err) => {
                input_error = Some(err);
                break;
            }
        }
        roller.tick(Utc::now())?;
        progress.commit(&input, &mut roller, false)?;
    }
    roller.close_all(Utc::now())?;
    progress.commit(&input, &mut roller, true)?;
    if let Some(lsn) = &mut progress.lsn {
        lsn.sync()?;
    }
    let bad = input.bad_records();
    input.close();
    if let Some(err) = input_error {
        return Err(err);
    }
    Ok((roller.stats().clone(), bad))
}
