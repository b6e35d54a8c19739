//! The ls-roll loop: records in from a JSON-lines stream, into the roller, with the time
//! trigger driven by the roller's deadlines, and LSN positions advanced only for synced records.
//!
//! Reading and parsing run on their own thread, so that a quiet input never delays a roll or
//! a sync, and so that parsing and writing use two cores.

use std::io::{BufReader, Read};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;

use super::roller::{RollStats, Roller};
use crate::ack::{AckTracker, Ticket};
use crate::cli::Shutdown;
use crate::cli::diag::BadInputReporter;
use crate::lsn::LsnStore;
use crate::record::{Record, RecordReader};

/// Records handed from the reading thread at a time.
const BATCH: usize = 1024;
/// Longest wait before looking at the shutdown flag again.
const POLL: Duration = Duration::from_millis(200);

/// What the reading thread sends: a batch, or the end of input (with an I/O error, if any).
enum Input {
    Batch(Vec<Record>),
    End(Option<std::io::Error>, u64),
}

/// Rolls the records of `input` until it ends or a stop is requested; then closes every file
/// and commits. Returns the counts, with the bad input lines.
pub fn roll_stream<R: Read + Send + 'static>(
    input: R,
    mut roller: Roller<Option<Ticket>>,
    mut lsn: Option<LsnStore>,
    shutdown: &Shutdown,
) -> Result<(RollStats, u64)> {
    let (sender, receiver) = mpsc::sync_channel(16);
    std::thread::spawn(move || read_batches(input, sender));
    let mut tracker = AckTracker::new();
    let mut bad = 0;
    let mut input_error = None;
    while !shutdown.requested() {
        let wait = roller
            .next_deadline()
            .map_or(POLL, |t| (t - Utc::now()).to_std().unwrap_or_default().min(POLL));
        match receiver.recv_timeout(wait) {
            Ok(Input::Batch(records)) => {
                for record in &records {
                    let ticket = record.origin.as_ref().map(|o| tracker.track(o));
                    roller.write(record, ticket, Utc::now())?;
                }
            }
            Ok(Input::End(err, bad_lines)) => {
                bad = bad_lines;
                input_error = err;
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        roller.tick(Utc::now())?;
        commit(&mut roller, &mut tracker, lsn.as_mut())?;
    }
    roller.close_all(Utc::now())?;
    commit(&mut roller, &mut tracker, lsn.as_mut())?;
    if let Some(lsn) = &mut lsn {
        lsn.sync()?;
    }
    if let Some(err) = input_error {
        return Err(anyhow::Error::new(err).context("cannot read the input"));
    }
    Ok((roller.stats().clone(), bad))
}

/// Advances the LSN store over the records that became durable.
fn commit(
    roller: &mut Roller<Option<Ticket>>,
    tracker: &mut AckTracker,
    lsn: Option<&mut LsnStore>,
) -> Result<()> {
    for ticket in roller.take_durable().into_iter().flatten() {
        tracker.ack(ticket);
    }
    if let Some(lsn) = lsn {
        lsn.advance(tracker.take_advanced())
            .context("cannot advance the LSN store")?;
    }
    Ok(())
}

fn read_batches<R: Read>(input: R, sender: mpsc::SyncSender<Input>) {
    let mut reader = RecordReader::new(BufReader::with_capacity(1 << 20, input));
    let mut reporter = BadInputReporter::default();
    let mut batch = Vec::with_capacity(BATCH);
    let end = loop {
        match reader.next_record() {
            Ok(Some(Ok(record))) => {
                batch.push(record);
                // A full batch goes at once; a partial one when the next read would wait for
                // input, so that a slow stream is not held back.
                let input_drained = reader.get_ref().buffer().is_empty();
                if (batch.len() == BATCH || input_drained)
                    && sender
                        .send(Input::Batch(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                        .is_err()
                {
                    return;
                }
            }
            Ok(Some(Err(bad))) => reporter.report(&bad),
            Ok(None) => break None,
            Err(err) => break Some(err),
        }
    };
    if !batch.is_empty() && sender.send(Input::Batch(batch)).is_err() {
        return;
    }
    let _ = sender.send(Input::End(end, reporter.count()));
}
