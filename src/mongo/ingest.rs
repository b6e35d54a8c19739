//! The streaming loop of `ls-store`: records from an input, in batches, into the [`Store`].
//!
//! A reader thread parses JSON lines (bad lines are reported and counted, never fatal) and hands
//! documents over a bounded channel, so a slow or absent MongoDB blocks the reader: that is the
//! backpressure upstream. Batches close when full or when their first record has waited
//! `linger`; up to `in_flight` batches are written at once, because MongoDB keeps several
//! cores busy only with several writes outstanding. Batches complete out of order; the
//! [`AckTracker`] advances each file's LSN position only over lines that are all stored.
//!
//! On a stop request (SIGTERM) reading stops, batches in flight are finished, the LSN store is
//! advanced and synced, and the loop returns.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use mongodb::bson::RawDocumentBuf;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::doc::to_document;
use super::writer::{Batch, Outcome, Store};
use crate::ack::{AckTracker, Ticket};
use crate::cli::Shutdown;
use crate::cli::diag::BadInputReporter;
use crate::lsn::LsnStore;
use crate::record::{Level, Origin, RecordReader};

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
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            batch_docs: 10_000,
            in_flight: 4,
            linger: Duration::from_millis(200),
            critical_level: Level::Error,
            lsn_dir: None,
        }
    }
}

/// What the loop did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestStats {
    pub records: u64,
    pub bad_lines: u64,
    pub stored: Outcome,
}

/// One record on its way: its document, whether it is critical, where it was read.
struct Item {
    doc: RawDocumentBuf,
    critical: bool,
    origin: Option<Origin>,
}

/// Reads JSON-line records from `input` until its end or a stop request, and stores them.
pub async fn run(
    store: Store,
    input: impl BufRead + Send + 'static,
    options: IngestOptions,
    shutdown: Shutdown,
) -> Result<IngestStats> {
    let mut lsn = match &options.lsn_dir {
        Some(dir) => Some(LsnStore::open(dir)?),
        None => None,
    };
    let (sender, mut receiver) = mpsc::channel::<Item>(options.batch_docs * 2);
    let critical_level = options.critical_level;
    let reader_shutdown = shutdown.clone();
    // A plain thread: stdin reads block, and a blocked read must not hold up a runtime worker.
    // It is not joined: after a stop request it may sit in a read forever, and exiting ends it.
    let reader = std::thread::Builder::new()
        .name("ls-store-reader".into())
        .spawn(move || read_input(input, sender, critical_level, &reader_shutdown))
        .context("cannot start the reader thread")?;

    let mut tracker = AckTracker::new();
    let mut tasks: JoinSet<Result<(Vec<Ticket>, Outcome)>> = JoinSet::new();
    let mut pending: Vec<Item> = Vec::with_capacity(options.batch_docs);
    let mut first_pending_at = Instant::now();
    let mut stats = IngestStats::default();
    let mut input_done = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let room = options.batch_docs - pending.len();
        let deadline = first_pending_at + options.linger;
        let mut close_batch = false;
        tokio::select! {
            received = receiver.recv_many(&mut pending, room), if !input_done && room > 0 => {
                if received == 0 {
                    input_done = true;
                } else if pending.len() == received {
                    first_pending_at = Instant::now();
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                finish(done, &mut tracker, &mut stats, lsn.as_mut())?;
            }
            _ = tokio::time::sleep_until(deadline), if !pending.is_empty() => close_batch = true,
            _ = tick.tick() => {}
        }
        if shutdown.requested() && !input_done {
            log::info!("stop requested: finishing the batches in flight");
            input_done = true;
        }
        if !pending.is_empty() && (close_batch || input_done || pending.len() >= options.batch_docs)
        {
            while tasks.len() >= options.in_flight {
                let done = tasks.join_next().await.expect("tasks is not empty");
                finish(done, &mut tracker, &mut stats, lsn.as_mut())?;
            }
            let (batch, tickets) = make_batch(std::mem::take(&mut pending), &mut tracker);
            let store = store.clone();
            tasks.spawn(async move { Ok((tickets, store.write(batch).await?)) });
        }
        if input_done && pending.is_empty() && tasks.is_empty() {
            break;
        }
    }
    if reader.is_finished() {
        let read = reader
            .join()
            .map_err(|_| anyhow!("the reader thread panicked"))??;
        stats.records = read.0;
        stats.bad_lines = read.1;
    }
    if let Some(lsn) = lsn.as_mut() {
        lsn.sync()?;
    }
    Ok(stats)
}

/// Splits the items into bulk and critical documents and starts tracking their origins.
fn make_batch(items: Vec<Item>, tracker: &mut AckTracker) -> (Batch, Vec<Ticket>) {
    let mut batch = Batch::default();
    let mut tickets = Vec::new();
    for item in items {
        if let Some(origin) = &item.origin {
            tickets.push(tracker.track(origin));
        }
        if item.critical {
            batch.critical.push(item.doc);
        } else {
            batch.bulk.push(item.doc);
        }
    }
    (batch, tickets)
}

/// Books a finished batch: acknowledges its lines and advances the LSN store over them.
fn finish(
    done: Result<Result<(Vec<Ticket>, Outcome)>, tokio::task::JoinError>,
    tracker: &mut AckTracker,
    stats: &mut IngestStats,
    lsn: Option<&mut LsnStore>,
) -> Result<()> {
    let (tickets, outcome) = done.map_err(|e| anyhow!("a writer task failed: {e}"))??;
    stats.stored += outcome;
    for ticket in tickets {
        tracker.ack(ticket);
    }
    if let Some(lsn) = lsn {
        lsn.advance(tracker.take_advanced())?;
    }
    Ok(())
}

/// The reader thread: parses lines into documents until the end of input, a stop request, or
/// the writer going away. Returns the counts of records and bad lines.
fn read_input(
    input: impl BufRead,
    sender: mpsc::Sender<Item>,
    critical_level: Level,
    shutdown: &Shutdown,
) -> Result<(u64, u64)> {
    let mut reader = RecordReader::new(input);
    let mut bad = BadInputReporter::default();
    while !shutdown.requested() {
        let Some(next) = reader.next_record().context("cannot read the input")? else {
            break;
        };
        match next {
            Ok(record) => {
                let item = Item {
                    doc: to_document(&record),
                    critical: record.log_level >= critical_level,
                    origin: record.origin,
                };
                if sender.blocking_send(item).is_err() {
                    break;
                }
            }
            Err(bad_line) => bad.report(&bad_line),
        }
    }
    if bad.count() > 0 {
        log::warn!("skipped {} bad input lines in all", bad.count());
    }
    Ok((reader.stats().records, reader.stats().bad))
}
